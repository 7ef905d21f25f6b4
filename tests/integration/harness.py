"""Integration-test harness for mod_webhook (Python standard library, plus python3-jsonschema
and python3-yaml for openapi_check: every answer of the module is checked against
docs/openapi.yaml).

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
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
import unittest
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openapi_check

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("WEBHOOK_REPO") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import whstack  # noqa: E402  the stack's components (scripts/whstack.py)

REQUIRED_ENV_KEYS = (
    "WEBHOOK_BASE_URL", "WEBHOOK_API_USER", "WEBHOOK_API_PASSWORD", "WEBHOOK_DB_SOCKET",
    "WEBHOOK_DB_HOST", "WEBHOOK_DB_PORT", "WEBHOOK_DB_USER", "WEBHOOK_DB_PASSWORD",
    "WEBHOOK_DB_NAME", "WEBHOOK_STATE_DIR", "WEBHOOK_HTTPD_ERROR_LOG", "WEBHOOK_WORKER_LOG",
    "WEBHOOK_MARIADB_LOG",
)

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


_PRIVATE_ENV = None  # set by PrivateStack.activate(): every helper then talks to that stack


def env():
    """The KEY=value pairs of $WEBHOOK_STATE_DIR/env (written by `scripts/stack up`), or of
    the private stack activated with PrivateStack.activate()."""
    global _ENV
    if _PRIVATE_ENV is not None:
        return _PRIVATE_ENV
    if _ENV is None:
        path = os.path.join(state_dir(), "env")
        if not os.path.exists(path):
            raise HarnessError("%s does not exist: the stack is not up (see integration.stack_up)" % path)
        values = whstack.read_kv(path)
        missing = [k for k in REQUIRED_ENV_KEYS if not values.get(k)]
        if missing:
            raise HarnessError("%s lacks %s" % (path, ", ".join(missing)))
        _ENV = values
    return _ENV


def base_url():
    return env()["WEBHOOK_BASE_URL"].rstrip("/")


def events_url():
    return env().get("WEBHOOK_EVENTS_URL") or base_url() + "/events"


_EVENT_TYPES = {}  # base URL -> {code: dataType}


def event_types():
    """{code: dataType} of the catalogue the active stack serves (GET /event-types): a new
    event type is a migration, and the tests see it without a list of their own."""
    url = base_url()
    if url not in _EVENT_TYPES:
        status, _, body = api("GET", "/event-types")
        if status != 200 or not isinstance(body, dict):
            raise HarnessError("GET /event-types answered %s %r" % (status, body))
        _EVENT_TYPES[url] = {t["code"]: t["dataType"] for t in body["eventTypes"]}
    return dict(_EVENT_TYPES[url])


def promised_event_types():
    """{code: dataType} of the catalogue docs/contract.md §2 promises the integrators: what the
    served catalogue must contain (a migration may add more)."""
    with open(os.path.join(REPO, "docs", "contract.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## 2. Event catalogue"):text.index("## 3.")]
    rows = re.findall(r"^\| [a-z]+ \| `([a-z.-]+)` \| (object|transaction) \|", section, re.M)
    if not rows:
        raise HarnessError("docs/contract.md §2 has no catalogue table")
    return dict(rows)


def __getattr__(name):
    # EVENT_TYPES reads like the constant it was; it is the running API's catalogue
    if name == "EVENT_TYPES":
        return event_types()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


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
        check_answer(method, url, resp.status, hdrs, data, body)
        return resp.status, hdrs, data
    finally:
        conn.close()


def check_answer(method, url, status, headers, data, request=None):
    """Fails (AssertionError) when an answer of the module's handlers (or the request it
    accepted) is not what docs/openapi.yaml describes; answers from other URLs pass
    unchecked (openapi_check)."""
    try:
        api, events = base_url(), events_url()
    except HarnessError:
        return  # no stack: nothing tells which URLs are the module's
    openapi_check.check_answer(method, url, status, headers, data, api, events, request)


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


# ------------------------------------------------------------------------------------------
# credentials the tests use: stack_down checks that none appears in a log or the database

SECRETS_FILE = "secrets-used.txt"
_secrets_lock = threading.Lock()
_secrets_written = set()  # (file, kind, value): each is written once


def record_secret(value, kind="secret"):
    """Appends a password or signing secret a test sent or received to
    <state dir>/secrets-used.txt (the active stack's). check_logs.py (stack_down, and
    PrivateStack.down for a private stack) fails when any of them appears in Apache's
    error/access log, a worker log, MariaDB's log or a dump of the database, whatever its
    length: so every credential a test uses must be distinctive, 8 characters or more
    (new_password(), or a constant like "pw-iso-8c1f2e"), or the scan finds it in ordinary
    text. api(), register_endpoint() and add_principal() record what they send and receive.
    A value with line breaks is recorded as its lines (a log line can hold only one)."""
    if not isinstance(value, str):
        return
    path = os.path.join(env()["WEBHOOK_STATE_DIR"], SECRETS_FILE)
    with _secrets_lock:
        for part in value.splitlines():
            if part and (path, kind, part) not in _secrets_written:
                with open(path, "a", encoding="utf-8") as f:
                    f.write("%s %s\n" % (kind, part))
                _secrets_written.add((path, kind, part))


def new_password(prefix="pw"):
    """A fresh password for an endpoint (recorded for the end-of-suite scan)."""
    value = "%s-%s" % (prefix, uuid.uuid4().hex)
    record_secret(value, "password")
    return value


def _record_basic(user, password, kind):
    record_secret(password, kind)
    if isinstance(user, str) and isinstance(password, str):
        # as it travels: Authorization: Basic base64(user:password)
        record_secret(base64.b64encode(("%s:%s" % (user, password)).encode()).decode(), kind + "-basic")


def _record_credentials(sent, received):
    if isinstance(sent, dict) and isinstance(sent.get("password"), str):
        _record_basic(sent.get("username"), sent["password"], "password")
    if isinstance(received, dict) and isinstance(received.get("secret"), str):
        record_secret(received["secret"], "signing-secret")
        # the key bytes as base64 without the prefix, as a careless log line would show them
        record_secret(received["secret"][len("whsec_"):], "signing-key")


def add_principal(user, password, *scope):
    """An htpasswd login mapped to a scope on the active stack ("--reseller", ID /
    "--portfolio", ID / "--admin", as `scripts/stack principal add`); records the password."""
    _record_basic(user, password, "api-password")
    stack = whstack.Stack(env()["WEBHOOK_STATE_DIR"], environ=_stack_environ(), for_up=False, log=lambda m: None)
    try:
        stack.add_principal(user, password, *whstack.principal_scope(scope))
    except whstack.StackError as e:
        raise HarnessError("principal add %s failed: %s" % (user, e))


def add_login(user, password):
    """An htpasswd login with no principal row on the active stack (the API answers it 403);
    records the password."""
    _record_basic(user, password, "api-password")
    stack = whstack.Stack(env()["WEBHOOK_STATE_DIR"], environ=_stack_environ(), for_up=False, log=lambda m: None)
    try:
        stack.htpasswd_set(user, password)
    except whstack.StackError as e:
        raise HarnessError("htpasswd for %s failed: %s" % (user, e))


def _stack_environ(settings=None):
    """The environment a stack is started with from a test: the test's own, less any
    WEBHOOK_* a developer exported (`eval $(scripts/stack env)`), plus settings."""
    child = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_")}
    child.update(settings or {})
    return child


def api(method, path, json=None, user=None, password=None, headers=None, body=None, auth=True):
    """Calls the integrator API (path relative to WEBHOOK_BASE_URL) with Basic auth (the
    stack's admin unless user/password are given). Returns (status, headers, parsed body).
    Passwords sent (the Basic auth one and those in the JSON body) and secrets received are
    recorded (record_secret)."""
    e = env()
    hdrs = {"Accept": "application/json"}
    if auth:
        user = user if user is not None else e["WEBHOOK_API_USER"]
        password = password if password is not None else e["WEBHOOK_API_PASSWORD"]
        _record_basic(user, password, "api-password")
        hdrs["Authorization"] = basic_auth_header(user, password)
    if json is not None:
        body = _json.dumps(json).encode()
        hdrs["Content-Type"] = "application/json"
    if headers:
        hdrs.update(headers)
    status, rh, data = http_request(method, base_url() + path, body=body, headers=hdrs)
    parsed = _decode(rh, data)
    _record_credentials(json, parsed)
    return status, rh, parsed


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
    return whstack.sql_quote(value)


def seal(plaintext, *args):
    """webhook-worker-seal with the stack's key: seal(value, "secret_enc", id, ...) gives one
    value per endpoint id, each opening only in that row and column; seal(value, "--v1") the
    older unbound form. Returns the tool's output lines."""
    e = env()
    tool = os.path.join(e["WEBHOOK_BUILD_DIR"], "worker", "webhook-worker-seal")
    p = subprocess.run([tool, e["WEBHOOK_SECRET_KEY_FILE"]] + [str(a) for a in args], input=plaintext + "\n",
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise HarnessError("webhook-worker-seal %s failed: %s" % (args, p.stderr))
    return p.stdout.split()


def sql(query):
    """Runs query with the mariadb client on the stack's socket as the application user;
    returns a list of rows (tuples of str, NULL -> None)."""
    e = env()
    p = whstack.query_client(e["WEBHOOK_DB_SOCKET"], e["WEBHOOK_DB_USER"], e["WEBHOOK_DB_PASSWORD"], query,
                             e["WEBHOOK_DB_NAME"], timeout=30)
    if p.returncode != 0:
        raise HarnessError("mariadb failed (%d) for %r: %s" % (p.returncode, query, p.stderr.strip()))
    return whstack.rows_of(p.stdout)


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


def run_together(n, fn, timeout=60):
    """Runs fn(i) in n threads released at the same instant; returns the results in order.
    A thread that raises or does not finish within timeout seconds fails the caller
    (AssertionError naming every such thread): a concurrency test never loses a client."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, {}

    def go(i):
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - reported to the calling thread below
            errors[i] = "%s\n%s" % (e, "".join(traceback.format_exception(type(e), e, e.__traceback__)))

    threads = [threading.Thread(target=go, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    for i, t in enumerate(threads):
        if t.is_alive():
            errors.setdefault(i, "still running after %.0f s" % timeout)
    if errors:
        raise AssertionError("%d of %d concurrent clients failed:\n%s" % (
            len(errors), n, "\n".join("client %d: %s" % (i, errors[i]) for i in sorted(errors))))
    return results


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
    """An answer. declared_length (a Content-Length larger than body) with hold (a
    threading.Event) sends the body, then stalls until hold is set: an endless reply."""

    def __init__(self, status=200, body=b"", headers=None, content_type="application/json",
                 declared_length=None, hold=None):
        self.status = status
        self.declared_length = declared_length
        self.hold = hold
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


def hang_until(event, max_seconds=30):
    """Holds the request until threading.Event `event` is set (or max_seconds), then
    acknowledges: a receiver that hangs for as long as the test wants."""
    def behaviour(req, n):
        event.wait(max_seconds)
        return Response(200, {"notificationId": req.notification_id})
    return behaviour


def closed_port_url(path="/hook"):
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    return "http://127.0.0.1:%d%s" % (whstack.free_port(), path)


class RawReceiver:
    """A TCP listener on 127.0.0.1 (free port) below HTTP, for receivers no HTTP server
    plays. reply=None: it accepts every connection and never reads nor answers (each
    attempt holds a worker slot until its request timeout); reply=bytes: it reads the
    request's headers, sends exactly those bytes and closes. self.accepted counts the
    connections (with a reply: those answered)."""

    def __init__(self, reply=None):
        self.reply = reply
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.conns = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="raw-receiver", daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.reply is None:
                self.accepted += 1
                self._hold(c)
            else:
                self._answer(c)

    def _hold(self, c):
        self.conns.append(c)
        if len(self.conns) > 2000:  # closed by the worker's timeout long ago
            for old in self.conns[:1000]:
                old.close()
            del self.conns[:1000]

    def _answer(self, c):
        # The whole request is read and the peer's close awaited: closing a socket with
        # unread bytes sends a reset, which can discard a large reply before the worker
        # has read it (and the attempt would be judged `network`, not on the reply).
        try:
            c.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            want = int(length.group(1)) if length else 0
            while len(body) < want:
                chunk = c.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.accepted += 1
            c.sendall(self.reply)
            c.shutdown(socket.SHUT_WR)
            c.settimeout(2)
            while c.recv(65536):
                pass
        except OSError:
            pass
        finally:
            c.close()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _BurstServer(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a worker woken at once by the module's
    # wake-up datagram opens dozens of connections in the same millisecond, and dropped SYNs
    # would show up as connect timeouts that no real receiver (backlog 511+) produces.
    request_queue_size = 512


def self_signed_cert(directory):
    """(cert.pem, key.pem) for 127.0.0.1 in directory (openssl), valid one day."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    return cert, key


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) in a background thread that records
    every request; the answer is chosen per path (set(path, behaviour)), default ack().
    tls=(certfile, keyfile) serves https; alpn lists the protocols it offers in the TLS
    handshake (e.g. ["h2", "http/1.1"]); self.handshakes records what each connection's
    handshake selected (None: no ALPN). It speaks HTTP/1.1 only: a connection that selected
    h2 is recorded and then fails."""

    def __init__(self, default=None, tls=None, alpn=None):
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._requests = []
        self._behaviours = {}
        self._counts = {}
        self._default = default or ack()
        self._expect = {}      # path -> (secret, (user, password) or None)
        self.problems = []     # requests that failed the signature / Basic auth check
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
                    self.send_header("Content-Length", str(resp.declared_length or len(resp.body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if resp.body and self.command != "HEAD":
                        self.wfile.write(resp.body)
                    if resp.hold is not None:
                        self.wfile.flush()
                        resp.hold.wait(60)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self.handshakes = []
        server_class = _BurstServer
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            if alpn:
                ctx.set_alpn_protocols(list(alpn))

            class TLSServer(_BurstServer):
                def get_request(self):
                    sock, addr = super().get_request()
                    sock.settimeout(5)
                    try:
                        tls_sock = ctx.wrap_socket(sock, server_side=True)
                    except OSError:
                        sock.close()
                        raise  # socketserver drops this connection quietly
                    with receiver._lock:
                        receiver.handshakes.append(tls_sock.selected_alpn_protocol())
                    return tls_sock, addr
            server_class = TLSServer
        self.scheme = "https" if tls else "http"
        self.server = server_class(("127.0.0.1", 0), Handler)
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
            expected = self._expect.get(req.path)
            if expected:
                secret, auth = expected
                why = check_signature(secret, req)
                if why is None and basic_auth(req.headers) != auth:
                    why = "Authorization %r, expected Basic %r" % (req.headers.get("authorization"), auth)
                if why:
                    # answered 401 (a failure the worker retries) and kept for the test's check
                    self.problems.append((req.path, why))
                    behaviour = lambda r, k: Response(401, {"error": why})
            self._cond.notify_all()
        return behaviour, n

    def expect(self, path, secret, auth=None):
        """Every later request on path must carry a valid Standard Webhooks signature for
        `secret` and exactly Basic `auth` ((user, password), or None for no Authorization);
        one that does not is answered 401 and listed in self.problems."""
        with self._lock:
            self._expect[path] = (secret, tuple(auth) if auth else None)

    def notification_counts(self, path=None):
        """{notificationId: how many requests carried it} (on path)."""
        counts = {}
        for r in self.requests(path):
            counts[r.notification_id] = counts.get(r.notification_id, 0) + 1
        return counts

    def url(self, path="/hook"):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

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

def checked_endpoint(case, receiver, path, behaviour, event_types, auth):
    """Registers an endpoint for a fresh reseller at receiver's path with Basic auth, makes
    the receiver verify signature and credentials on every request to it, and deletes it
    when the test ends. Returns (endpoint, reseller_id)."""
    reseller = unique_id("res")
    ep = register_endpoint(receiver.set(path, behaviour), event_types, reseller_id=reseller,
                           username=auth[0], password=auth[1])
    receiver.expect(path, ep["secret"], auth)
    case.addCleanup(api, "DELETE", "/endpoints/" + ep["id"])  # cancels what is left
    return ep, reseller


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
# private stacks: for tests that stop, kill or reconfigure a component

class WorkerProcess:
    """A webhook-worker this test started itself (PrivateStack.start_worker); its stderr goes
    to <state>/worker/<worker_id>.log."""

    def __init__(self, popen, worker_id, log_path):
        self.popen = popen
        self.pid = popen.pid
        self.worker_id = worker_id
        self.log_path = log_path

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=15.0):
        return wait_until(lambda: needle in self.log(), timeout=timeout,
                          message="%r in the log of worker %s" % (needle, self.worker_id))

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout=30.0):
        """The exit status (negative: killed by that signal); AssertionError on timeout."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("worker %s (pid %d) still running after %.0f s"
                                 % (self.worker_id, self.pid, timeout))

    def stop(self):
        """SIGTERM, then SIGKILL after 20 s; never raises."""
        import signal as _signal
        try:
            self.signal(_signal.SIGTERM)
            self.popen.wait(timeout=20)
        except Exception:
            try:
                self.signal(_signal.SIGKILL)
                self.popen.wait(timeout=10)
            except Exception:
                pass


class PrivateStack:
    """A stack of its own (scripts/whstack.py, in-process) with its own state dir under the
    build dir (<build>/itest-private/<name>), free loopback ports and the binaries already
    built. Settings are the WEBHOOK_* variables of scripts/stack (retry_schedule,
    request_timeout_ms, poll_interval_ms, …). Use it as a context manager (always brought
    down); activate() makes api(), sql(), post_event(), … talk to it instead of the shared
    fixture stack. down() checks its logs like stack_down checks the shared stack's
    (check_logs.py): a test that provokes error lines on purpose declares their tags with
    expect_log_tags(). self.stack is the whstack.Stack (its db, httpd and worker). With
    db_nodes > 1 its database is a local Galera cluster of that many nodes (WEBHOOK_DB_NODES):
    stop_node(), kill_node(), start_node(), node_status() and node_sql() work on one node."""

    def __init__(self, name, retry_schedule="1s,1s,1s,1s", request_timeout_ms=3000,
                 poll_interval_ms=100, log_level="debug", db_nodes=1):
        build = os.environ.get("WEBHOOK_BUILD_DIR") or env_shared().get("WEBHOOK_BUILD_DIR")
        if not build:
            raise HarnessError("WEBHOOK_BUILD_DIR is not known (not in the environment nor the shared env file)")
        self.build_dir = os.path.abspath(build)
        self.state = os.path.join(self.build_dir, "itest-private", name)
        self.settings = {"WEBHOOK_RETRY_SCHEDULE": retry_schedule,
                         "WEBHOOK_REQUEST_TIMEOUT_MS": str(request_timeout_ms),
                         "WEBHOOK_POLL_INTERVAL_MS": str(poll_interval_ms),
                         "WEBHOOK_WORKER_LOG_LEVEL": log_level,
                         "WEBHOOK_DB_NODES": str(db_nodes)}
        self.env = None
        self.stack = None
        self.workers = []
        self.expected_log_tags = {}  # tag -> why this test provokes it

    def expect_log_tags(self, reason, *tags):
        """Declares error-line tags (WH00110, AH01630, …) that this test provokes on purpose on
        this stack, with the reason; check_logs.py tolerates them on this stack only
        (<state>/allowed_log_tags.txt). Call it before up() or at any time after."""
        for tag in tags:
            if not re.fullmatch(r"(AH|WH)\d{5}", tag):
                raise HarnessError("not a log tag: %r" % (tag,))
            self.expected_log_tags[tag] = reason
        if os.path.isdir(self.state):
            self._write_allowed_tags()

    def _write_allowed_tags(self):
        with open(os.path.join(self.state, "allowed_log_tags.txt"), "w", encoding="utf-8") as f:
            f.write("# written by harness.PrivateStack.expect_log_tags: tags this stack's test provokes\n")
            for tag, reason in sorted(self.expected_log_tags.items()):
                f.write("%s  # %s\n" % (tag, reason.replace("\n", " ")))

    def _open(self, settings=None, for_up=False):
        """The whstack.Stack of this state dir; its progress lines go to <state>/stack.log."""
        log_path = os.path.join(self.state, "stack.log")

        def log(msg):
            with open(log_path, "a", encoding="utf-8") as f:
                f.write("[stack] %s\n" % msg if not msg.startswith("[") else msg + "\n")
        return whstack.Stack(self.state, self.build_dir, environ=_stack_environ(settings), for_up=for_up, log=log)

    def _failure(self, what, error):
        log = ""
        try:
            with open(os.path.join(self.state, "stack.log"), encoding="utf-8", errors="replace") as f:
                log = f.read()[-3000:]
        except OSError:
            pass
        return HarnessError("private stack %s: %s failed: %s\n%s" % (self.state, what, error, log))

    def up(self):
        import shutil
        if os.path.exists(os.path.join(self.state, "env")):
            try:
                self._open().down()
            except whstack.StackError:
                pass
        shutil.rmtree(self.state, ignore_errors=True)
        os.makedirs(self.state)
        self._write_allowed_tags()
        http_port, db_port = whstack.free_ports(2)
        settings = dict(self.settings, WEBHOOK_HTTP_PORT=str(http_port), WEBHOOK_DB_PORT=str(db_port))
        try:
            self.stack = self._open(settings, for_up=True)
            self.stack.up()
        except BaseException as e:
            self.down(check=False)
            if isinstance(e, whstack.StackError):
                raise self._failure("up", e) from e
            raise
        self.env = whstack.read_kv(os.path.join(self.state, "env"))
        return self

    def cli(self, *args, timeout=120):
        """`scripts/stack ARGS…` on this stack (the command line, for tests of its output);
        the CompletedProcess, HarnessError when it fails."""
        child = _stack_environ({"WEBHOOK_STATE_DIR": self.state, "WEBHOOK_BUILD_DIR": self.build_dir})
        p = subprocess.run([os.path.join(REPO, "scripts", "stack")] + list(args), env=child,
                           capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise HarnessError("scripts/stack %s failed (%d):\n%s%s" % (" ".join(args), p.returncode,
                                                                        p.stdout[-3000:], p.stderr[-3000:]))
        return p

    def dump(self, path):
        """mariadb-dump of the stack's database into path; HarnessError if it fails."""
        rc = self.stack.dump(path)
        if rc != 0:
            raise HarnessError("mariadb-dump of %s failed (%d)" % (self.state, rc))

    def down(self, check=True):
        """Stops the workers this test started, dumps the database, stops the stack, then checks
        its logs (check_logs()). Raises AssertionError when the check fails and `check` is
        true (with check false, as while another exception is in flight, it only prints what
        failed); never raises for anything else."""
        for w in self.workers:
            w.stop()
        self.deactivate()
        problems = []
        stack = self.stack or (self._open() if os.path.exists(os.path.join(self.state, "env")) else None)
        if self.env is not None:
            try:
                self.dump(os.path.join(self.state, "db-dump.sql"))
            except Exception as e:
                problems.append("could not dump the database for the credential scan: %s" % e)
        try:
            if stack is not None:
                stack.down()
        except Exception as e:
            print("harness: private stack %s: down failed: %s" % (self.state, e))
        ok, out = self.check_logs()
        if not ok:
            problems.append(out)
        if problems:
            text = "private stack %s:\n%s" % (self.state, "\n".join(problems))
            if check:
                raise AssertionError(text)
            print("harness: " + text)

    def check_logs(self):
        """(passed, output) of check_logs.py on this stack's state dir: Apache and worker error
        lines whose tags neither allowed_log_tags.txt nor expect_log_tags() allow, crashes,
        sanitizer reports and recorded credentials in its logs or its database dump."""
        p = subprocess.run([sys.executable, os.path.join(HERE, "check_logs.py"), "--state-dir", self.state],
                           capture_output=True, text=True, timeout=120)
        return p.returncode == 0, p.stdout + p.stderr

    def __enter__(self):
        return self.up()

    def __exit__(self, exc_type, exc, tb):
        self.down(check=exc_type is None)

    def activate(self):
        global _PRIVATE_ENV
        _PRIVATE_ENV = self.env

    def deactivate(self):
        global _PRIVATE_ENV
        if _PRIVATE_ENV is self.env:
            _PRIVATE_ENV = None

    # -- the worker ----------------------------------------------------------------------

    @property
    def worker_conf(self):
        return self.stack.worker.conf

    def stop_stack_worker(self):
        """Stops the worker the stack started (so the test runs its own)."""
        self.stack.worker.stop()

    def start_worker(self, worker_id, *flags, wait_started=True):
        """Starts webhook-worker with the stack's config file plus flags (e.g.
        "--lease-seconds", "3"); stopped by down() if still running."""
        log_path = os.path.join(self.state, "worker", "%s.log" % worker_id)
        with open(log_path, "ab") as log:
            popen = subprocess.Popen([self.stack.worker_bin, "--config", self.worker_conf, "--worker-id", worker_id]
                                     + [str(f) for f in flags],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        w = WorkerProcess(popen, worker_id, log_path)
        self.workers.append(w)
        if wait_started:
            w.wait_log("started: worker_id=" + worker_id)
        return w

    # -- MariaDB -------------------------------------------------------------------------

    def stop_mariadb(self):
        """Stops mariadbd (SIGTERM, waits); start_mariadb() starts it again the same way."""
        if not self.stack.db.pid():
            raise HarnessError("mariadbd of %s is not running" % self.state)
        self.stack.db.stop()

    def start_mariadb(self):
        try:
            self.stack.db.start()
        except whstack.StackError as e:
            raise self._failure("starting mariadbd again", e) from e


    # -- the nodes of a cluster (db_nodes > 1; the plain server is node 1) ----------------

    def stop_node(self, number):
        """Stops database node `number` (from 1) cleanly: it leaves the cluster."""
        self._node_op("stopping node %d" % number, lambda: self.stack.node(number).stop())

    def kill_node(self, number):
        """kill -9 of database node `number`, as a crash."""
        self._node_op("killing node %d" % number, lambda: self.stack.node(number).kill())

    def start_node(self, number):
        """Starts database node `number` again; a Galera node has rejoined (IST) and is Synced
        on return."""
        self._node_op("starting node %d" % number, lambda: self.stack.start_node(number))

    def _node_op(self, what, op):
        try:
            op()
        except whstack.StackError as e:
            raise self._failure(what, e) from e

    def node_status(self, number):
        """The wsrep_* status variables of a Galera node ({} when it does not answer):
        wsrep_local_state_comment (Synced, Joining, …), wsrep_cluster_status (Primary,
        non-Primary), wsrep_cluster_size, wsrep_ready, …"""
        return self.stack.node(number).wsrep_status()

    def node_log(self, number):
        """The path of database node `number`'s error log."""
        return self.stack.node(number).log_path

    def node_sql(self, number, query, root=False):
        """Runs query on database node `number` (from 1) as the application user on its
        database, or as root; rows of str (NULL -> None). HarnessError, with the server's
        error (e.g. "ERROR 1047"), when the query fails."""
        try:
            return self.stack.sql(query, node=number, root=root)
        except whstack.StackError as e:
            raise HarnessError("node %d: %s" % (number, e)) from e


def env_shared():
    """The shared fixture stack's env, whatever stack is active."""
    global _PRIVATE_ENV
    saved, _PRIVATE_ENV = _PRIVATE_ENV, None
    try:
        return env()
    finally:
        _PRIVATE_ENV = saved


def _module_so():
    build = os.environ.get("WEBHOOK_BUILD_DIR") or env_shared().get("WEBHOOK_BUILD_DIR", "")
    return os.path.join(build, "mod_webhook", "mod_webhook.so")


def sanitizer_build():
    """True on a sanitizer build (WEBHOOK_SANITIZE): resident sizes there are ASan's
    (shadow memory, quarantine of freed blocks), not the product's."""
    return "libasan" in whstack.linked_libraries(_module_so())


def sanitizer_env(report_dir, component="apache2"):
    """Environment additions for running apache2 (or the worker) by hand on a sanitizer build
    (WEBHOOK_SANITIZE), as the stack does (docs/reliability.md): LD_PRELOAD of the libasan
    and libstdc++ that mod_webhook.so links, and ASAN_OPTIONS/UBSAN_OPTIONS writing reports
    into report_dir/sanitizer/ (scripts/test fails on reports under <build>/itest-private/*/).
    {} for a normal build. Use: subprocess.Popen(..., env=dict(os.environ, **sanitizer_env(d)))."""
    return whstack.sanitizer_env(_module_so(), os.path.join(report_dir, "sanitizer"), component)


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
    if openapi_check.FAILURES:
        print("harness: %d answer(s) not described by docs/openapi.yaml:\n  %s"
              % (len(openapi_check.FAILURES), "\n  ".join(openapi_check.FAILURES[:20])))
        sys.exit(1)
    if result.skipped:
        print("harness: %d test(s) skipped; skipping counts as failure" % len(result.skipped))
        sys.exit(1)
    sys.exit(0 if result.wasSuccessful() else 1)
