#!/usr/bin/env python3
"""A sample integrator receiver for mod_webhook notifications (standard library only).

It does what the gateway's integration notes ask of a receiver:
  * checks the Basic credentials registered with the endpoint (when configured);
  * verifies the Standard Webhooks signature: HMAC-SHA256 over
    "<webhook-id>.<webhook-timestamp>.<body>" keyed with the base64-decoded part of the
    endpoint's whsec_ secret, header `webhook-signature: v1,<base64>` (several,
    space-separated, while a secret is being rotated);
  * refuses timestamps more than 5 minutes away from now (replays);
  * processes each notificationId once (re-deliveries are acknowledged, not re-processed);
  * acknowledges with 200 {"notificationId": "<the same>"}.
Each verified notification is logged as one JSON line.

Settings (flags, or environment):
  --port N / DEMO_RECEIVER_PORT             0 = any free port (default)
  --port-file PATH                          where to write the chosen port
  --secret-file PATH / DEMO_RECEIVER_SECRET_FILE
                                            file holding the whsec_ secret; read per request,
                                            so it may be written after start-up
  DEMO_RECEIVER_SECRET                      the secret itself (instead of a file)
  --credentials-file PATH                   "user:password" the gateway must send
  DEMO_RECEIVER_USER, DEMO_RECEIVER_PASSWORD  the same, from the environment
  --log PATH                                JSON lines (default: stdout)

Run it:  scripts/demo_receiver.py --port 9000 --secret-file secret.txt
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60


def read_secret(args):
    if args.secret_file and os.path.exists(args.secret_file):
        with open(args.secret_file, encoding="utf-8") as f:
            return f.read().strip()
    return os.environ.get("DEMO_RECEIVER_SECRET", "").strip()


def read_credentials(args):
    if args.credentials_file:
        with open(args.credentials_file, encoding="utf-8") as f:
            user, _, password = f.read().strip().partition(":")
            return user, password
    user = os.environ.get("DEMO_RECEIVER_USER")
    if user:
        return user, os.environ.get("DEMO_RECEIVER_PASSWORD", "")
    return None


def expected_signature(secret, msg_id, timestamp, body):
    key = base64.b64decode(secret[len("whsec_"):], validate=True)
    mac = hmac.new(key, ("%s.%s." % (msg_id, timestamp)).encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret, headers, body, now):
    """Returns None when the request is authentic, else the reason."""
    if not secret.startswith("whsec_"):
        return "no whsec_ secret configured yet"
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        ts = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not an integer"
    if abs(now - ts) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than 5 minutes away from now"
    try:
        expected = expected_signature(secret, msg_id, timestamp, body)
    except ValueError:
        return "the configured secret is not valid base64"
    for sig in signatures.split(" "):
        if sig and hmac.compare_digest(sig, expected):
            return None
    return "no v1 signature matches"


class Receiver:
    def __init__(self, args):
        self.args = args
        self.seen = set()
        self.lock = threading.Lock()
        self.out = open(args.log, "a", encoding="utf-8") if args.log else sys.stdout

    def log(self, entry):
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def handle(self, method, path, headers, body):
        """Returns (status, body dict)."""
        now = time.time()
        base = {"time": round(now, 3), "path": path, "webhookId": headers.get("webhook-id")}
        if method != "POST":
            return 405, {"error": "POST only"}
        creds = read_credentials(self.args)
        if creds is not None:
            expected = "Basic " + base64.b64encode(("%s:%s" % creds).encode()).decode()
            if not hmac.compare_digest(headers.get("authorization", ""), expected):
                self.log(dict(base, verified=False, reason="bad or missing Basic credentials"))
                return 401, {"error": "unauthorized"}
        reason = verify(read_secret(self.args), headers, body, now)
        if reason:
            self.log(dict(base, verified=False, reason=reason))
            return 401, {"error": reason}
        try:
            doc = json.loads(body.decode("utf-8"))
        except ValueError:
            self.log(dict(base, verified=False, reason="body is not JSON"))
            return 400, {"error": "body is not JSON"}
        notification_id = doc.get("notificationId") if isinstance(doc, dict) else None
        if notification_id is None or str(notification_id) != headers.get("webhook-id"):
            self.log(dict(base, verified=False, reason="notificationId missing or not the webhook-id"))
            return 400, {"error": "notificationId missing or not the webhook-id"}
        with self.lock:
            duplicate = notification_id in self.seen
            self.seen.add(notification_id)
        # a real receiver would process the notification here (when not a duplicate)
        self.log(dict(base, verified=True, duplicate=duplicate, notificationId=notification_id,
                      eventCode=doc.get("eventCode"), eventDate=doc.get("eventDate"),
                      dataType=doc.get("dataType"), resellerId=doc.get("resellerId"),
                      portfolioId=doc.get("portfolioId"), merchantId=doc.get("merchantId"),
                      data=doc.get("data"), webhookTimestamp=headers.get("webhook-timestamp")))
        return 200, {"notificationId": notification_id}


def make_handler(receiver):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, doc = receiver.handle(self.command, self.path, headers, body)
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="demo receiver"')
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = _serve

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("DEMO_RECEIVER_PORT", "0")))
    ap.add_argument("--port-file")
    ap.add_argument("--secret-file", default=os.environ.get("DEMO_RECEIVER_SECRET_FILE"))
    ap.add_argument("--credentials-file")
    ap.add_argument("--log")
    args = ap.parse_args()

    receiver = Receiver(args)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(receiver))
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("demo receiver listening on http://%s:%d/" % (args.host, port), file=sys.stderr, flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
