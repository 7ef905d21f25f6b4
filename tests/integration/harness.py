"""Integration-test harness for mod_webhook (Python standard library only).

The CTest fixture `integration.stack_up` brings up a real stack with scripts/stack and every
test gets WEBHOOK_STATE_DIR; this module reads `$WEBHOOK_STATE_DIR/env` and offers:

  api(method, path, json=None, user=…, password=…)   the integrator API, Basic auth
  post_events(events)                                 the gateway's events API
  sql(query) / sql_value(query) / q(text)             the stack's MariaDB (mariadb client)
  wait_until(predicate, timeout)                      polling with a clear failure message
  register_endpoint(url, event_types, …)              POST /endpoints, asserting 201
  Receiver                                            a recording HTTP receiver whose
                                                      behaviour is set per path
  check_signature(secret, request) / basic_auth(headers)
  main()                                              unittest runner: non-zero exit on
                                                      failure, on skips and on zero tests
"""

import base64
import hashlib
import hmac
import http.client
import json as _json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("WEBHOOK_REPO") or os.path.dirname(os.path.dirname(HERE))

REQUIRED_ENV_KEYS = (
    "WEBHOOK_BASE_URL", "WEBHOOK_API_USER", "WEBHOOK_API_PASSWORD", "WEBHOOK_DB_SOCKET",
    "WEBHOOK_DB_HOST", "WEBHOOK_DB_PORT", "WEBHOOK_DB_USER", "WEBHOOK_DB_PASSWORD",
    "WEBHOOK_DB_NAME", "WEBHOOK_STATE_DIR", "WEBHOOK_HTTPD_ERROR_LOG", "WEBHOOK_WORKER_LOG",
    "WEBHOOK_MARIADB_LOG",
)

# The catalogue of DESIGN.md section 2: code -> dataType.
EVENT_TYPES = {
    "processing.return-processed": "transaction",
    "processing.noc-processed": "transaction",
    "processing.chargeback-processed": "transaction",
    "processing.reversal-processed": "transaction",
    "billing.payment-option-created": "object",
    "billing.payment-option-modified": "object",
    "billing.subscription-created": "object",
    "billing.subscription-modified": "object",
    "billing.transaction-created": "object",
    "billing.allocation-created": "object",
    "management.merchant-created": "object",
    "management.merchant-modified": "object",
    "management.terminal-created": "object",
    "management.terminal-modified": "object",
}


class HarnessError(RuntimeError):
    pass


# ------------------------------------------------------------------------------------------
# the stack's env file

def state_dir():
    d = os.environ.get("WEBHOOK_STATE_DIR")
    if not d:
        raise HarnessError("WEBHOOK_STATE_DIR is not set: run the tests through ctest "
                           "(the integration.stack_up fixture) or export it for a running stack")
    return d


_ENV = None


def env():
    """The KEY=value pairs of $WEBHOOK_STATE_DIR/env (written by `scripts/stack up`)."""
    global _ENV
    if _ENV is None:
        path = os.path.join(state_dir(), "env")
        if not os.path.exists(path):
            raise HarnessError("%s does not exist: the stack is not up (see integration.stack_up)" % path)
        values = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    values[k] = v
        missing = [k for k in REQUIRED_ENV_KEYS if not values.get(k)]
        if missing:
            raise HarnessError("%s lacks %s" % (path, ", ".join(missing)))
        _ENV = values
    return _ENV


def base_url():
    return env()["WEBHOOK_BASE_URL"].rstrip("/")


def events_url():
    return env().get("WEBHOOK_EVENTS_URL") or base_url() + "/events"


def unique_id(prefix):
    """An ID valid as a reseller/portfolio/merchant ID, unique to this test run."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


# ------------------------------------------------------------------------------------------
# HTTP clients

def http_request(method, url, body=None, headers=None, timeout=15):
    """One request; returns (status, headers with lower-case names, raw body bytes)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, hdrs, data
    finally:
        conn.close()


def _decode(headers, data):
    ctype = headers.get("content-type", "")
    if data and "json" in ctype:
        try:
            return _json.loads(data.decode("utf-8"))
        except ValueError:
            return data.decode("utf-8", "replace")
    if not data:
        return None
    return data.decode("utf-8", "replace")


def basic_auth_header(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def api(method, path, json=None, user=None, password=None, headers=None, body=None, auth=True):
    """Calls the integrator API (path relative to WEBHOOK_BASE_URL) with Basic auth (the
    stack's admin unless user/password are given). Returns (status, headers, parsed body)."""
    e = env()
    hdrs = {"Accept": "application/json"}
    if auth:
        hdrs["Authorization"] = basic_auth_header(user if user is not None else e["WEBHOOK_API_USER"],
                                                  password if password is not None else e["WEBHOOK_API_PASSWORD"])
    if json is not None:
        body = _json.dumps(json).encode()
        hdrs["Content-Type"] = "application/json"
    if headers:
        hdrs.update(headers)
    status, rh, data = http_request(method, base_url() + path, body=body, headers=hdrs)
    return status, rh, _decode(rh, data)


def post_events(events, idempotency_key=None, headers=None):
    """POSTs one event (dict) or several (list) to the events API (no auth: Require ip).
    Returns (status, headers, parsed body)."""
    hdrs = {"Content-Type": "application/json", "Accept": "application/json"}
    if idempotency_key:
        hdrs["Idempotency-Key"] = idempotency_key
    if headers:
        hdrs.update(headers)
    status, rh, data = http_request("POST", events_url(), body=_json.dumps(events).encode(), headers=hdrs)
    return status, rh, _decode(rh, data)


def post_event(event):
    """POSTs one event, asserting 202; returns its eventId."""
    status, _, body = post_events(event)
    if status != 202 or not isinstance(body, dict) or not body.get("eventId"):
        raise AssertionError("POST /events answered %s %r (expected 202 with eventId)" % (status, body))
    return body["eventId"]


def register_endpoint(url, event_types, reseller_id=None, portfolio_id=None, username=None,
                      password=None, user=None, api_password=None, **extra):
    """POST /endpoints, asserting 201 and a whsec_ secret; returns the endpoint body."""
    doc = {"url": url, "eventTypes": list(event_types)}
    if reseller_id is not None:
        doc["resellerId"] = reseller_id
    if portfolio_id is not None:
        doc["portfolioId"] = portfolio_id
    if username is not None:
        doc["username"] = username
    if password is not None:
        doc["password"] = password
    doc.update(extra)
    status, headers, body = api("POST", "/endpoints", json=doc, user=user, password=api_password)
    if status != 201 or not isinstance(body, dict):
        raise AssertionError("POST /endpoints answered %s %r for %r" % (status, body, doc))
    if not str(body.get("secret", "")).startswith("whsec_") or not body.get("id"):
        raise AssertionError("POST /endpoints returned no id/whsec_ secret: %r" % (body,))
    return body


# ------------------------------------------------------------------------------------------
# MariaDB

def q(value):
    """A SQL literal for value (None -> NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return str(value)
    s = str(value).replace("\\", "\\\\").replace("'", "''")
    return "'%s'" % s


def sql(query):
    """Runs query with the mariadb client on the stack's socket as the application user;
    returns a list of rows (tuples of str, NULL -> None)."""
    e = env()
    cmd = ["mariadb", "--no-defaults", "--batch", "--skip-column-names", "--raw",
           "--socket=" + e["WEBHOOK_DB_SOCKET"], "--user=" + e["WEBHOOK_DB_USER"],
           "--database=" + e["WEBHOOK_DB_NAME"], "-e", query]
    child_env = dict(os.environ, MYSQL_PWD=e["WEBHOOK_DB_PASSWORD"])
    p = subprocess.run(cmd, capture_output=True, text=True, env=child_env, timeout=30)
    if p.returncode != 0:
        raise HarnessError("mariadb failed (%d) for %r: %s" % (p.returncode, query, p.stderr.strip()))
    rows = []
    for line in p.stdout.splitlines():
        rows.append(tuple(None if c == "NULL" else c for c in line.split("\t")))
    return rows


def sql_value(query):
    rows = sql(query)
    return rows[0][0] if rows and rows[0] else None


# ------------------------------------------------------------------------------------------
# waiting

def wait_until(predicate, timeout=30.0, interval=0.1, message=None):
    """Polls predicate() until it returns something truthy (returned) or timeout seconds
    pass (AssertionError naming message and the last value)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s (last value: %r)"
                                 % (timeout, message or getattr(predicate, "__name__", "condition"), last))
        time.sleep(interval)


# ------------------------------------------------------------------------------------------
# Standard Webhooks signatures and Basic auth, as a receiver checks them

def sign(secret, msg_id, timestamp, body):
    """v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>"> with the whsec_ secret."""
    if not secret.startswith("whsec_"):
        raise ValueError("not a whsec_ secret: %r" % secret)
    key = base64.b64decode(secret[len("whsec_"):], validate=True)
    if isinstance(body, str):
        body = body.encode()
    mac = hmac.new(key, ("%s.%s." % (msg_id, timestamp)).encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def check_signature(secret, request, tolerance=300, now=None):
    """None if the request carries a valid Standard Webhooks signature for secret (any of
    its space-separated v1 signatures) and a timestamp within tolerance; else the reason."""
    h = request.headers
    msg_id, ts, sigs = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        return "missing webhook-id/-timestamp/-signature headers: %r" % ({k: v for k, v in h.items()
                                                                          if k.startswith("webhook-")},)
    try:
        ts_i = int(ts)
    except ValueError:
        return "webhook-timestamp is not an integer: %r" % ts
    now = request.time if now is None else now
    if abs(now - ts_i) > tolerance:
        return "webhook-timestamp %s is %.0f s away from now" % (ts, now - ts_i)
    expected = sign(secret, msg_id, ts, request.body)
    for s in sigs.split(" "):
        if s and hmac.compare_digest(s, expected):
            return None
    return "no signature in %r matches %r" % (sigs, expected)


def verify_signature(secret, request, tolerance=300):
    return check_signature(secret, request, tolerance) is None


def basic_auth(headers):
    """(user, password) from an Authorization: Basic header, or None."""
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
    except ValueError:
        return None
    if ":" not in raw:
        return None
    user, password = raw.split(":", 1)
    return user, password


# ------------------------------------------------------------------------------------------
# the receiver

class Request:
    """One request the receiver got."""

    def __init__(self, method, path, query, headers, body, t):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers      # lower-case names
        self.body = body            # bytes
        self.time = t               # time.time() when the body was read

    def json(self):
        return _json.loads(self.body.decode("utf-8"))

    @property
    def notification_id(self):
        try:
            doc = self.json()
        except ValueError:
            return None
        return doc.get("notificationId") if isinstance(doc, dict) else None

    def __repr__(self):
        return "<%s %s at %.3f: %r>" % (self.method, self.path, self.time, self.body[:200])


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type="application/json"):
        self.status = status
        self.body = body if isinstance(body, bytes) else _json.dumps(body).encode()
        self.headers = dict(headers or {})
        if content_type and self.body:
            self.headers.setdefault("Content-Type", content_type)


# Behaviours: callables (request, n) -> Response, n = 1 for the first request on that path.

def ack():
    """200 {"notificationId": <the notification's>}: the acknowledgement."""
    return lambda req, n: Response(200, {"notificationId": req.notification_id})


def never_ack():
    """200 {}: a 2xx without the acknowledgement (a failure in ackMode notification-id)."""
    return lambda req, n: Response(200, {})


def fail_then_ack(times, status=500):
    """Answers `status` the first `times` requests, then acknowledges."""
    def behaviour(req, n):
        if n <= times:
            return Response(status, {"error": "failing on purpose", "n": n})
        return Response(200, {"notificationId": req.notification_id})
    return behaviour


def wrong_id():
    return lambda req, n: Response(200, {"notificationId": "ntf_not_the_right_one"})


def empty_200():
    return lambda req, n: Response(200, b"", content_type=None)


def status(code, retry_after=None, body=b""):
    """Answers `code` (e.g. 500, 429 or 503 with Retry-After, 410 Gone)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return lambda req, n: Response(code, body, headers=headers)


def gone():
    return status(410)


def redirect(location="http://127.0.0.1:9/elsewhere", code=302):
    return lambda req, n: Response(code, b"", headers={"Location": location}, content_type=None)


def hang(seconds):
    """Sleeps `seconds` before acknowledging (past the worker's request timeout)."""
    def behaviour(req, n):
        time.sleep(seconds)
        return Response(200, {"notificationId": req.notification_id})
    return behaviour


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) in a background thread that records
    every request; the answer is chosen per path (set(path, behaviour)), default ack()."""

    def __init__(self, default=None):
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._requests = []
        self._behaviours = {}
        self._counts = {}
        self._default = default or ack()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # keep test output clean
                pass

            def _read_body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self):
                body = self._read_body()
                u = urllib.parse.urlsplit(self.path)
                req = Request(self.command, u.path, u.query,
                              {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                behaviour, n = receiver._record(req)
                try:
                    resp = behaviour(req, n)
                except Exception as e:  # a broken behaviour must not look like a product bug
                    resp = Response(599, {"harness-error": repr(e)})
                try:
                    self.send_response(resp.status)
                    for k, v in resp.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(resp.body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if resp.body and self.command != "HEAD":
                        self.wfile.write(resp.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True)
        self._thread.start()

    def _record(self, req):
        with self._cond:
            self._requests.append(req)
            n = self._counts.get(req.path, 0) + 1
            self._counts[req.path] = n
            behaviour = self._behaviours.get(req.path, self._default)
            self._cond.notify_all()
        return behaviour, n

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def set(self, path, behaviour):
        with self._lock:
            self._behaviours[path] = behaviour
        return self.url(path)

    def requests(self, path=None):
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def wait_for(self, count, path=None, timeout=30.0):
        """Waits until at least `count` requests arrived (on path); returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self._requests if path is None or r.path == path]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("receiver got %d request(s) on %s within %.0f s, expected %d: %r"
                                         % (len(got), path or "any path", timeout, count, got))
                self._cond.wait(min(left, 0.5))

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ------------------------------------------------------------------------------------------
# DB views of deliveries

def deliveries_for_event(event_public_id):
    """Rows (notification_id, endpoint public_id, status, attempts) of an event's deliveries."""
    return sql("SELECT d.notification_id, ep.public_id, d.status, d.attempts "
               "FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
               "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
               "WHERE e.public_id = %s ORDER BY d.id" % q(event_public_id))


def attempts_for_notification(notification_id):
    """Rows (attempt_no, outcome, http_status, error_class) of one notification's attempts."""
    return sql("SELECT a.attempt_no, a.outcome, a.http_status, a.error_class "
               "FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
               "WHERE d.notification_id = %s ORDER BY a.attempt_no, a.id" % q(notification_id))


# ------------------------------------------------------------------------------------------
# running a test file

def main():
    """Runs the unittest cases of __main__; exits non-zero on failure or error, when a test
    was skipped (tests never skip silently) and when no test ran at all."""
    env()  # fail fast, with the reason, when the stack is not there
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if result.testsRun == 0:
        print("harness: no tests ran")
        sys.exit(1)
    if result.skipped:
        print("harness: %d test(s) skipped; skipping counts as failure" % len(result.skipped))
        sys.exit(1)
    sys.exit(0 if result.wasSuccessful() else 1)
