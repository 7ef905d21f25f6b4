#!/usr/bin/env python3
"""`scripts/stack demo`: the product end to end on the local stack.

Starts scripts/demo_receiver.py on 127.0.0.1, registers it through POST /endpoints for every
event type that GET /event-types lists for the gateway (with Basic credentials, resellerId
demo-reseller), sends one event of each type through POST /events, waits (bounded) until every one is delivered, and prints what
was delivered from webhook_deliveries/webhook_attempts and the receiver's log. Exits 1 if
any notification is missing. The endpoint is deleted and the receiver stopped at the end.
Last, it prints the integrator portal's URL and the login that opens it.
"""
import argparse
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import whstack  # noqa: E402  the stack's helpers (scripts/whstack.py)

RESELLER = "demo-reseller"
PORTFOLIO = "demo-portfolio"
MERCHANT = "demo-merchant-001"


def die(msg):
    print("[demo] error: %s" % msg, file=sys.stderr)
    sys.exit(1)


def read_env(state):
    path = os.path.join(state, "env")
    if not os.path.exists(path):
        die("%s missing: run scripts/stack up" % path)
    return whstack.read_kv(path)


def http(method, url, doc=None, auth=None, timeout=15):
    data = json.dumps(doc).encode() if doc is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        body = e.read()
        status = e.code
    try:
        return status, json.loads(body.decode()) if body else None
    except ValueError:
        return status, body.decode("utf-8", "replace")


def event_types(base, auth):
    """(code, dataType, example data) of every type the API serves (GET /event-types) that the
    gateway publishes: the system module's are the worker's own (docs/contract.md §2)."""
    status, body = http("GET", base + "/event-types", auth=auth)
    if status != 200 or not isinstance(body, dict) or not body.get("eventTypes"):
        die("GET %s/event-types answered %s: %r" % (base, status, body))
    return [(t["code"], t["dataType"], t.get("example") or {})
            for t in body["eventTypes"] if t["module"] != "system"]


def sql(env, query):
    p = whstack.query_client(env["WEBHOOK_DB_SOCKET"], env["WEBHOOK_DB_USER"], env["WEBHOOK_DB_PASSWORD"], query,
                             env["WEBHOOK_DB_NAME"])
    if p.returncode != 0:
        die("mariadb: %s" % p.stderr.strip())
    return whstack.rows_of(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("WEBHOOK_DEMO_TIMEOUT", "30")))
    args = ap.parse_args()
    rc = demo(args)
    portal_hint(read_env(args.state_dir))
    return rc


def portal_hint(env):
    """The last lines: where the integrator portal is and a login that opens it (checked)."""
    port = env["WEBHOOK_HTTP_PORT"]
    url = env.get("WEBHOOK_PORTAL_URL") or "http://127.0.0.1:%s/webhooks/portal/" % port
    user, password = env["WEBHOOK_API_USER"], env["WEBHOOK_API_PASSWORD"]
    req = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            ok = resp.status == 200
    except (urllib.error.URLError, OSError):
        ok = False
    print()
    print("[demo] the integrator portal: %s" % url)
    print("[demo]   login: %s / %s   (the stack's admin: every scope; a reseller's own login:"
          % (user, password))
    print("[demo]   scripts/stack principal add acme 'acme-secret-pw' --reseller acme)")
    if not ok:
        print("[demo] warning: the portal did not answer 200 with that login (see %s)"
              % env.get("WEBHOOK_HTTPD_ERROR_LOG"), file=sys.stderr)


def demo(args):
    env = read_env(args.state_dir)
    base = env["WEBHOOK_BASE_URL"].rstrip("/")
    admin = (env["WEBHOOK_API_USER"], env["WEBHOOK_API_PASSWORD"])
    types = event_types(base, admin)

    work = os.path.join(args.state_dir, "demo")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, mode=0o700)
    port_file = os.path.join(work, "port")
    secret_file = os.path.join(work, "secret")
    log_file = os.path.join(work, "receiver.log")
    user, password = "demo-receiver", secrets.token_hex(12)

    receiver = subprocess.Popen(
        [sys.executable, os.path.join(args.repo, "scripts", "demo_receiver.py"), "--port", "0",
         "--port-file", port_file, "--secret-file", secret_file, "--log", log_file],
        env=dict(os.environ, DEMO_RECEIVER_USER=user, DEMO_RECEIVER_PASSWORD=password),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(work, "receiver.stderr"), "w"))
    endpoint_id = None
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if receiver.poll() is not None or time.monotonic() > deadline:
                die("the demo receiver did not start (see %s/receiver.stderr)" % work)
            time.sleep(0.05)
        port = int(open(port_file).read())
        url = "http://127.0.0.1:%d/notifications" % port
        print("[demo] receiver %s (pid %d), log %s" % (url, receiver.pid, log_file))

        status, ep = http("POST", base + "/endpoints", {
            "url": url, "resellerId": RESELLER, "eventTypes": [t[0] for t in types],
            "username": user, "password": password, "description": "scripts/stack demo receiver"},
            auth=admin)
        if status != 201 or not isinstance(ep, dict) or "secret" not in ep:
            die("POST %s/endpoints answered %s: %r" % (base, status, ep))
        endpoint_id = ep["id"]
        tmp = secret_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(ep["secret"] + "\n")
        os.replace(tmp, secret_file)
        print("[demo] registered endpoint %s for %s (%d event types)" % (endpoint_id, RESELLER, len(types)))

        sent = []  # (code, dataType, eventId)
        now_ms = int(time.time() * 1000)
        for i, (code, data_type, example) in enumerate(types):
            status, body = http("POST", base + "/events", {
                "eventCode": code, "resellerId": RESELLER, "portfolioId": PORTFOLIO,
                "merchantId": MERCHANT, "eventDate": now_ms + i, "data": example})
            if status != 202 or not isinstance(body, dict) or "eventId" not in body:
                die("POST %s/events (%s) answered %s: %r" % (base, code, status, body))
            sent.append((code, data_type, body["eventId"]))
        print("[demo] sent %d events; waiting up to %.0f s for delivery" % (len(sent), args.timeout))

        ids = ",".join(whstack.sql_quote(e) for _, _, e in sent)
        query = ("SELECT e.public_id, d.notification_id, d.status, d.attempts, "
                 "(SELECT a.http_status FROM webhook_attempts a WHERE a.delivery_id = d.id "
                 " ORDER BY a.attempt_no DESC, a.id DESC LIMIT 1), "
                 "(SELECT COUNT(*) FROM webhook_attempts a WHERE a.delivery_id = d.id) "
                 "FROM webhook_events e JOIN webhook_deliveries d ON d.event_id = e.id "
                 "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
                 "WHERE e.public_id IN (%s) AND ep.public_id = %s" % (ids, whstack.sql_quote(endpoint_id)))
        deadline = time.monotonic() + args.timeout
        while True:
            rows = {r[0]: r for r in sql(env, query)}
            done = sum(1 for r in rows.values() if r[2] == "delivered")
            if done == len(sent) or time.monotonic() > deadline:
                break
            time.sleep(0.5)

        received = {}
        if os.path.exists(log_file):
            with open(log_file) as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("verified"):
                        received.setdefault(entry.get("notificationId"), entry)

        fmt = "%-33s %-11s %-28s %-10s %8s %6s  %s"
        print()
        print(fmt % ("EVENT TYPE", "DATA TYPE", "NOTIFICATION", "STATUS", "ATTEMPTS", "HTTP", "RECEIVER"))
        missing = 0
        for code, data_type, event_id in sent:
            r = rows.get(event_id)
            ntf, st, att, http_status = (r[1], r[2], r[5], r[4] or "-") if r else ("-", "no delivery", "0", "-")
            entry = received.get(ntf)
            if entry and entry.get("eventCode") == code and entry.get("dataType") == data_type:
                seen = "verified" + (" (signature + Basic auth)")
            elif entry:
                seen = "verified but envelope differs: %s/%s" % (entry.get("eventCode"), entry.get("dataType"))
            else:
                seen = "NOT RECEIVED"
            ok = st == "delivered" and entry is not None and entry.get("eventCode") == code
            missing += 0 if ok else 1
            print(fmt % (code, data_type, ntf, st, att, http_status, seen))
        print()
        if missing:
            print("[demo] %d of %d notifications were not delivered and verified (logs: %s, %s)"
                  % (missing, len(sent), env.get("WEBHOOK_WORKER_LOG"), log_file))
            return 1
        print("[demo] all %d notifications delivered, verified and acknowledged" % len(sent))
        return 0
    finally:
        if endpoint_id:
            status, _ = http("DELETE", base + "/endpoints/" + endpoint_id, auth=admin)
            if status != 204:
                print("[demo] warning: DELETE endpoint %s answered %s" % (endpoint_id, status), file=sys.stderr)
        receiver.terminate()
        try:
            receiver.wait(timeout=5)
        except subprocess.TimeoutExpired:
            receiver.kill()


if __name__ == "__main__":
    sys.exit(main())
