#!/usr/bin/env python3
"""Smoke tests of webhook-worker against a throwaway MariaDB and loopback receivers.

    python3 worker/dev/smoke.py BUILD/worker [scenario ...]

Starts its own mariadbd (data under /tmp/worker-dev/smoke-<pid>, a free port in
24000-24999, loopback only), applies the migrations with `webhook-worker migrate`, inserts
endpoints and events directly (credentials sealed with webhook-worker-seal), runs python
receivers on 127.0.0.1 and checks what the worker did. Everything it starts is stopped and
removed at the end. Scenarios: basic special drain db_down cap multi lease transport load
(default: all but load).
"""
import atexit, base64, hashlib, hmac, http.server, json, os, shutil, signal, socket, subprocess, sys, threading, time

BIN = os.path.abspath(sys.argv[1])
SQL_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "sql"))
BASE = f"/tmp/worker-dev/smoke-{os.getpid()}"
DATA, SOCK, WORK = f"{BASE}/data", f"{BASE}/sock", f"{BASE}/run"
KEY = f"{BASE}/secret.key"
os.makedirs(WORK, exist_ok=True)

def free_port():
    for port in range(24000 + os.getpid() % 900, 25000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port)); return port
            except OSError:
                continue
    raise SystemExit("no free port in 24000-24999")

PORT = free_port()
DBSPEC = f"host=127.0.0.1 port={PORT} user=wh password=pw database=wh"
MARIADB = None

def db_start():
    global MARIADB
    MARIADB = subprocess.Popen(["mariadbd", "--no-defaults", f"--datadir={DATA}", "--user=root", f"--socket={SOCK}",
                                f"--port={PORT}", "--bind-address=127.0.0.1", f"--pid-file={BASE}/mysqld.pid",
                                f"--log-error={BASE}/error.log", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
                                "--innodb-flush-log-at-trx-commit=0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={SOCK}", "-uroot", "ping"],
                          capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit("mariadbd did not start; see " + BASE + "/error.log")

def db_stop():
    if MARIADB and MARIADB.poll() is None:
        subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={SOCK}", "-uroot", "shutdown"], capture_output=True)
        MARIADB.wait(30)

def cleanup():
    db_stop()
    shutil.rmtree(BASE, ignore_errors=True)

atexit.register(cleanup)
subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={DATA}", "--user=root",
                "--auth-root-authentication-method=normal", "--skip-test-db"], capture_output=True, check=True)
db_start()
subprocess.run(["mariadb", "--no-defaults", f"--socket={SOCK}", "-uroot", "-e",
                "CREATE DATABASE wh; CREATE USER 'wh'@'localhost' IDENTIFIED BY 'pw';"
                "CREATE USER 'wh'@'127.0.0.1' IDENTIFIED BY 'pw'; GRANT ALL ON wh.* TO 'wh'@'localhost', 'wh'@'127.0.0.1';"],
               check=True)
subprocess.run([f"{BIN}/webhook-worker", "migrate", "--database", DBSPEC, "--sql-dir", SQL_DIR], check=True)
with open(KEY, "w") as f:
    f.write(os.urandom(32).hex() + "\n")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{BASE}/tls.key", "-out",
                f"{BASE}/tls.crt", "-days", "2", "-subj", "/CN=127.0.0.1"], capture_output=True, check=True)
FAIL = []

def check(cond, what):
    print(("PASS " if cond else "FAIL ") + what, flush=True)
    if not cond: FAIL.append(what)

def sql(q):
    out = subprocess.run(["mariadb", "--no-defaults", f"--socket={SOCK}", "-uroot", "wh", "-N", "-B", "-e", q],
                         capture_output=True, text=True, check=True).stdout
    return [l.split("\t") for l in out.splitlines()]

def seal(s, column, endpoint_id):
    """s sealed for that column of that endpoint row (it opens nowhere else)."""
    return subprocess.run([f"{BIN}/webhook-worker-seal", KEY, column, str(endpoint_id)], input=s + "\n",
                          capture_output=True, text=True, check=True).stdout.strip()

def reset():
    sql("SET FOREIGN_KEY_CHECKS=0; TRUNCATE webhook_attempts; TRUNCATE webhook_deliveries; TRUNCATE webhook_events;"
        " TRUNCATE webhook_endpoint_subscriptions; TRUNCATE webhook_endpoints; SET FOREIGN_KEY_CHECKS=1;")

def add_endpoint(url, scope=("reseller", "r1"), codes=("billing.subscription-created",), user=None, pw=None,
                 ack="notification-id", enabled=1, secret="whsec_" + base64.b64encode(b"k" * 32).decode(),
                 prev=None):
    u = "NULL" if user is None else f"'{user}'"
    sql(f"INSERT INTO webhook_endpoints (url, scope_kind, scope_id, username, secret_enc, ack_mode, enabled)"
        f" VALUES ('{url}', '{scope[0]}', '{scope[1]}', {u}, '', '{ack}', {enabled})")
    eid = int(sql("SELECT MAX(id) FROM webhook_endpoints")[0][0])
    # the credentials are sealed for the row's id, known once inserted
    p = "NULL" if pw is None else f"'{seal(pw, 'password_enc', eid)}'"
    pv = ("NULL", "NULL") if prev is None else (f"'{seal(prev, 'secret_enc', eid)}'", "NOW(3) + INTERVAL 1 HOUR")
    sql(f"UPDATE webhook_endpoints SET password_enc = {p}, secret_enc = '{seal(secret, 'secret_enc', eid)}',"
        f" prev_secret_enc = {pv[0]}, prev_secret_expires_at = {pv[1]} WHERE id = {eid}")
    for c in codes:
        sql(f"INSERT INTO webhook_endpoint_subscriptions VALUES ({eid}, '{c}')")
    return eid

def add_event(code="billing.subscription-created", reseller="r1", portfolio="p1", merchant=None,
              data='{"id":"sub_1","amount":12.30}', date=1764115200123):
    m = "NULL" if merchant is None else f"'{merchant}'"
    sql(f"INSERT INTO webhook_events (event_code, reseller_id, portfolio_id, merchant_id, event_date, data)"
        f" VALUES ('{code}', '{reseller}', '{portfolio}', {m}, {date}, '{data}')")
    return int(sql("SELECT MAX(id) FROM webhook_events")[0][0])

class Receiver:
    def __init__(self, mode):
        self.mode, self.requests = mode, []
        outer = self
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append((dict(self.headers.items()), body, time.time()))
                mode = outer.mode
                code, reply, extra = 200, b"", {}
                nid = json.loads(body).get("notificationId", "")
                if mode == "ack": reply = json.dumps({"notificationId": nid}).encode()
                elif mode == "500": code, reply = 500, b"boom"
                elif mode == "410": code = 410
                elif mode == "429": code, extra = 429, {"Retry-After": "120"}
                elif mode == "noack": reply = b"OK"
                elif mode == "redirect": code, extra = 302, {"Location": "http://127.0.0.1:1/"}
                elif mode == "hang": time.sleep(30)
                elif mode == "slow": time.sleep(2); reply = json.dumps({"notificationId": nid}).encode()
                elif mode == "binary": code, reply = 502, b"\xff\xfe\x00bin\x80" + b"x" * 70000
                try:
                    self.send_response(code)
                    for k, v in extra.items(): self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers(); self.wfile.write(reply)
                except Exception: pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
    def close(self): self.srv.shutdown(); self.srv.server_close()

def start_worker(*extra, conf=None, log="worker.log"):
    if conf is None:
        conf = f"{WORK}/worker.conf"
        # written aside and renamed: a worker started a moment before must never read it half-written
        with open(conf + ".tmp", "w") as f:
            f.write(f"# smoke\ndatabase = {DBSPEC}\nsecret_key_file = {KEY}\nallow_private_targets = 127.0.0.0/8\n"
                    "retry_schedule = 1s,1s\npoll_interval_ms = 100\nlog_level = debug\nrequest_timeout_ms = 3000\n")
        os.replace(conf + ".tmp", conf)
    lf = open(f"{WORK}/{log}", "w")
    p = subprocess.Popen([f"{BIN}/webhook-worker", "--config", conf, *extra], stderr=lf, stdout=lf)
    p.logfile = f"{WORK}/{log}"
    return p

def stop_worker(p, sig=signal.SIGTERM, timeout=20):
    p.send_signal(sig)
    try: return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill(); p.wait(); return None

def wait_for(fn, timeout=15, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v: return v
        time.sleep(step)
    return fn()

def status_of(delivery_where):
    r = sql(f"SELECT status, attempts FROM webhook_deliveries WHERE {delivery_where}")
    return r[0] if r else None

def verify_sig(secret, headers, body):
    key = base64.b64decode(secret[len("whsec_"):])
    msg = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    want = "v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return want in headers["webhook-signature"].split(" ")

def scenario_basic():
    print("== delivered, failed after schedule, scopes, disabled, signatures")
    reset()
    ok, bad = Receiver("ack"), Receiver("500")
    sec = "whsec_" + base64.b64encode(b"s" * 32).decode()
    prev = "whsec_" + base64.b64encode(b"p" * 32).decode()
    e_ok = add_endpoint(ok.url, user="alice", pw="s3cr3t:pw", secret=sec, prev=prev)
    e_port = add_endpoint(ok.url, scope=("portfolio", "p1"), ack="status")
    e_other = add_endpoint(ok.url, scope=("reseller", "r2"))
    e_unsub = add_endpoint(ok.url, codes=("billing.payment-option-created",))
    e_dis = add_endpoint(ok.url, enabled=0)
    e_bad = add_endpoint(bad.url, scope=("reseller", "r9"))
    ev1 = add_event(merchant="m1")
    ev2 = add_event(reseller="r9", portfolio="p9")
    w = start_worker()
    st = wait_for(lambda: status_of(f"event_id={ev1} AND endpoint_id={e_ok} AND status='delivered'"))
    check(st == ["delivered", "1"], f"ack receiver: delivered after 1 attempt ({st})")
    st = wait_for(lambda: status_of(f"event_id={ev1} AND endpoint_id={e_port} AND status='delivered'"))
    check(st is not None, "portfolio-scoped endpoint (ack_mode status) delivered")
    check(not sql(f"SELECT 1 FROM webhook_deliveries WHERE endpoint_id IN ({e_other},{e_unsub})"),
          "other reseller / unsubscribed endpoint get no delivery")
    st = wait_for(lambda: status_of(f"event_id={ev2} AND status='failed'"), timeout=20)
    check(st == ["failed", "3"], f"500 receiver with 1s,1s: failed after 3 attempts ({st})")
    att = sql(f"SELECT attempt_no, outcome, http_status, error_class, CAST(response_excerpt AS CHAR) FROM webhook_attempts a"
              f" JOIN webhook_deliveries d ON d.id=a.delivery_id WHERE d.event_id={ev2} ORDER BY attempt_no")
    check([a[:4] for a in att] == [[str(i), "failure", "500", "http-status"] for i in (1, 2, 3)], f"3 failure rows {att}")
    check(att and att[0][4] == "boom", "reply excerpt recorded")
    times = [r[2] for r in bad.requests]
    check(len(times) == 3 and all(b - a >= 0.9 for a, b in zip(times, times[1:])), f"retries ~1 s apart {[round(t,2) for t in times]}")
    a1 = sql(f"SELECT a.outcome, a.http_status, a.error_class, a.worker_id, a.duration_ms FROM webhook_attempts a JOIN webhook_deliveries d"
             f" ON d.id=a.delivery_id WHERE d.endpoint_id={e_ok}")
    check(len(a1) == 1 and a1[0][0] == "success" and a1[0][1] == "200" and a1[0][2] == "NULL", f"success attempt row {a1}")
    dis = sql(f"SELECT status, attempts FROM webhook_deliveries WHERE endpoint_id={e_dis}")
    check(dis == [["pending", "0"]], f"disabled endpoint: delivery held pending ({dis})")
    nid = sql(f"SELECT notification_id FROM webhook_deliveries WHERE event_id={ev1} AND endpoint_id={e_ok}")[0][0]
    reqs = [r for r in ok.requests if r[0].get("webhook-id") == nid]
    check(len(reqs) == 1, "receiver saw the notification once")
    if reqs:
        h, body, _ = reqs[0]
        want = ('{"notificationId":"%s","eventCode":"billing.subscription-created","eventDate":1764115200123,'
                '"dataType":"object","resellerId":"r1","portfolioId":"p1","merchantId":"m1",'
                '"data":{"id":"sub_1","amount":12.30}}' % nid).encode()
        check(body == want, f"body exact: {body!r}")
        check(h.get("Content-Type") == "application/json", "content type")
        check(h.get("User-Agent", "").startswith("mod_webhook/"), f"user agent {h.get('User-Agent')}")
        check(h.get("Authorization") == "Basic " + base64.b64encode(b"alice:s3cr3t:pw").decode(), "basic auth")
        check(abs(int(h["webhook-timestamp"]) - time.time()) < 30, "timestamp now")
        check(len(h["webhook-signature"].split(" ")) == 2 and verify_sig(sec, h, body) and verify_sig(prev, h, body),
              "two signatures (current + previous secret) verify")
    preq = [r for r in ok.requests if r[0].get("webhook-id") != nid]
    check(preq and "Authorization" not in preq[0][0] and len(preq[0][0]["webhook-signature"].split(" ")) == 1,
          "no auth header / one signature when not configured")
    rc = stop_worker(w)
    check(rc == 0, f"SIGTERM exit code 0 ({rc})")
    log = open(w.logfile).read()
    check("s3cr3t" not in log and "password=pw" not in log, "no password in the log")
    check("started" in log and "stopped" in log, "start/stop info lines")
    ok.close(); bad.close()

def scenario_special():
    print("== 410, 429 Retry-After, no ack, blocked target")
    reset()
    gone, busy, noack = Receiver("410"), Receiver("429"), Receiver("noack")
    e_gone = add_endpoint(gone.url)
    e_busy = add_endpoint(busy.url, scope=("reseller", "r2"))
    e_noack = add_endpoint(noack.url, scope=("reseller", "r3"))
    e_blocked = add_endpoint("http://10.255.255.1:9/x", scope=("reseller", "r4"))
    ev = [add_event(reseller=r) for r in ("r1", "r2", "r3", "r4")]
    w = start_worker()
    wait_for(lambda: len(sql("SELECT 1 FROM webhook_attempts")) >= 4)
    time.sleep(0.5)
    g = sql(f"SELECT d.status, d.attempts, e.enabled, e.disabled_reason FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id=d.endpoint_id WHERE d.endpoint_id={e_gone}")
    check(g and g[0][:3] == ["pending", "1", "0"] and g[0][3].startswith("410 Gone from the receiver at "),
          f"410: endpoint disabled, delivery pending {g}")
    b = sql(f"SELECT status, TIMESTAMPDIFF(SECOND, NOW(3), next_attempt_at) FROM webhook_deliveries WHERE endpoint_id={e_busy}")
    check(b and b[0][0] == "pending" and 100 <= int(b[0][1]) <= 120, f"429 Retry-After 120 pushes next attempt ~120 s {b}")
    n = sql(f"SELECT a.error_class FROM webhook_attempts a JOIN webhook_deliveries d ON d.id=a.delivery_id WHERE d.endpoint_id={e_noack} ORDER BY a.id LIMIT 1")
    check(n == [["no-ack"]], f"200 OK without ack is no-ack {n}")
    bl = sql(f"SELECT a.error_class, a.error_message FROM webhook_attempts a JOIN webhook_deliveries d ON d.id=a.delivery_id WHERE d.endpoint_id={e_blocked} ORDER BY a.id LIMIT 1")
    check(bl and bl[0][0] == "blocked-target", f"10.255.255.1 refused by the address policy {bl}")
    rc = stop_worker(w)
    check(rc == 0, "exit 0")
    for r in (gone, busy, noack): r.close()

def scenario_drain():
    print("== SIGTERM drain with a hanging receiver, second signal")
    reset()
    hang = Receiver("hang")
    e = add_endpoint(hang.url)
    ev = add_event()
    w = start_worker("--request-timeout-ms", "25000")
    check(wait_for(lambda: status_of("1=1") == ["inflight", "1"]), "claimed: inflight, attempts 1")
    wait_for(lambda: hang.requests, timeout=5)
    t0 = time.time()
    rc = stop_worker(w, timeout=20)
    dt = time.time() - t0
    check(rc == 0 and 9 <= dt <= 13, f"exit 0 after the 10 s drain deadline ({rc}, {dt:.1f} s)")
    st = sql("SELECT status, attempts, lease_owner FROM webhook_deliveries")
    check(st == [["pending", "0", "NULL"]], f"released: pending, attempts given back {st}")
    check(not sql("SELECT 1 FROM webhook_attempts"), "no attempt row for the released delivery")
    # second signal leaves at once
    w = start_worker("--request-timeout-ms", "25000", log="worker2.log")
    wait_for(lambda: status_of("1=1") == ["inflight", "1"])
    time.sleep(0.3)
    w.send_signal(signal.SIGTERM); time.sleep(0.3)
    t0 = time.time()
    rc = stop_worker(w, timeout=5)
    check(rc == 0 and time.time() - t0 < 2, f"second signal exits at once ({rc})")
    hang.close()

def scenario_db_down():
    print("== MariaDB restart while the worker runs")
    reset()
    ok = Receiver("ack")
    add_endpoint(ok.url)
    w = start_worker()
    time.sleep(1)
    db_stop()
    time.sleep(4)
    check(w.poll() is None, "worker still running while MariaDB is down")
    db_start()
    ev = add_event()
    st = wait_for(lambda: status_of(f"event_id={ev}") == ["delivered", "1"], timeout=15)
    check(st, "delivers after MariaDB is back")
    rc = stop_worker(w)
    log = open(w.logfile).read()
    check(log.count("WH00110") == 1, f"one WH00110 line for the outage ({log.count('WH00110')})")
    check("reachable again" in log, "recovery logged")
    check(rc == 0, "exit 0")
    ok.close()

def scenario_cap():
    print("== per-endpoint cap: a hanging endpoint does not hold up another")
    reset()
    hang, ok = Receiver("hang"), Receiver("ack")
    e_hang = add_endpoint(hang.url)
    e_ok = add_endpoint(ok.url, scope=("reseller", "r2"))
    for i in range(20): add_event()
    for i in range(5): add_event(reseller="r2")
    w = start_worker("--per-endpoint-concurrency", "3", "--concurrency", "10", "--max-in-flight-per-scope", "10",
                     "--request-timeout-ms", "20000")
    st = wait_for(lambda: sql(f"SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id={e_ok} AND status='delivered'") == [["5"]], timeout=10)
    check(st, "the healthy endpoint's 5 deliveries are delivered while the other hangs")
    n = sql(f"SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id={e_hang} AND status='inflight'")
    check(n == [["3"]], f"hanging endpoint holds only 3 slots ({n})")
    rc = stop_worker(w, sig=signal.SIGINT)
    check(rc == 0, "SIGINT exit 0")
    n = sql(f"SELECT status, COUNT(*), SUM(attempts) FROM webhook_deliveries WHERE endpoint_id={e_hang} GROUP BY status")
    check(n == [["pending", "20", "0"]], f"all given back {n}")
    hang.close(); ok.close()

def scenario_multi():
    print("== two workers, 300 events x 2 endpoints: each notification delivered exactly once")
    reset()
    a, b = Receiver("slow"), Receiver("ack")
    a.mode = "ack"
    add_endpoint(a.url); add_endpoint(b.url, scope=("portfolio", "p1"))
    vals = ",".join(["('billing.subscription-created','r1','p1','{}')"] * 300)
    sql("INSERT INTO webhook_events (event_code, reseller_id, portfolio_id, data) VALUES " + vals)
    w1 = start_worker("--worker-id", "w1", log="w1.log")
    w2 = start_worker("--worker-id", "w2", log="w2.log")
    st = wait_for(lambda: sql("SELECT COUNT(*) FROM webhook_deliveries WHERE status='delivered'") == [["600"]], timeout=30)
    check(st, "600 delivered")
    check(sql("SELECT COUNT(*) FROM webhook_deliveries") == [["600"]], "600 deliveries (fan-out exactly once)")
    ids = [r[0].get("webhook-id") for r in a.requests + b.requests]
    check(len(ids) == 600 and len(set(ids)) == 600, f"receivers saw {len(ids)} requests, {len(set(ids))} distinct")
    per = sql("SELECT worker_id, COUNT(*) FROM webhook_attempts GROUP BY worker_id ORDER BY worker_id")
    print("   attempts per worker:", per)
    check(len(per) == 2, "both workers did work")
    rc1, rc2 = stop_worker(w1), stop_worker(w2)  # both stopped, whatever the first returns
    check(rc1 == 0 and rc2 == 0, "both exit 0")
    a.close(); b.close()

def scenario_lease():
    print("== expired lease reaped, lost lease fenced, binary reply, localhost blocked by name")
    reset()
    ok, slow, binr = Receiver("ack"), Receiver("slow"), Receiver("binary")
    e_ok = add_endpoint(ok.url)
    ev = add_event()
    sql("UPDATE webhook_events SET fanned_out_at=NOW(3)")
    sql(f"INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, lease_owner, lease_expires_at)"
        f" VALUES ({ev}, {e_ok}, 'inflight', 1, 'dead-worker', NOW(3) - INTERVAL 1 SECOND)")
    e_slow = add_endpoint(slow.url, scope=("reseller", "r2"))
    e_bin = add_endpoint(binr.url, scope=("reseller", "r3"))
    e_local = add_endpoint(f"http://localhost:{ok.port}/x", scope=("reseller", "r4"))
    w = start_worker()
    st = wait_for(lambda: status_of(f"endpoint_id={e_ok}") == ["delivered", "1"])
    check(st, "expired lease of a dead worker: reaped, sent again, attempts 1")
    ev2 = add_event(reseller="r2")
    wait_for(lambda: status_of(f"endpoint_id={e_slow}") == ["inflight", "1"])
    sql(f"UPDATE webhook_deliveries SET lease_owner='thief' WHERE endpoint_id={e_slow}")
    time.sleep(3)
    check(status_of(f"endpoint_id={e_slow}") == ["inflight", "1"], "lost lease: row untouched")
    check(not sql(f"SELECT 1 FROM webhook_attempts a JOIN webhook_deliveries d ON d.id=a.delivery_id WHERE d.endpoint_id={e_slow}"),
          "lost lease: attempt rolled back")
    add_event(reseller="r3")
    r = wait_for(lambda: sql(f"SELECT a.http_status, a.error_class, LENGTH(a.response_excerpt), HEX(LEFT(a.response_excerpt, 4)) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id=a.delivery_id WHERE d.endpoint_id={e_bin}"))
    check(r and r[0] == ["502", "http-status", "4096", "FFFE0062"], f"binary reply: first 4096 bytes kept as is {r}")
    rc = stop_worker(w)
    log = open(w.logfile).read()
    check("WH00114" in log, "lease loss logged")
    check(rc == 0, "exit 0")
    # the address policy applies to names too: localhost with allow_private_targets Off
    sql("UPDATE webhook_endpoints SET enabled=0 WHERE id<>%d" % e_local)
    add_event(reseller="r4")
    w = start_worker("--allow-private-targets", "Off", log="off.log")
    r = wait_for(lambda: sql(f"SELECT a.error_class FROM webhook_attempts a JOIN webhook_deliveries d ON d.id=a.delivery_id WHERE d.endpoint_id={e_local}"))
    check(r and r[0] == ["blocked-target"], f"localhost refused at send time {r}")
    check(not [q for q in ok.requests if q[0].get("Host", "").startswith("localhost")], "nothing reached the receiver")
    stop_worker(w)
    check("WH00120" in open(w.logfile).read(), "blocked target logged")
    for x in (ok, slow, binr): x.close()

def scenario_transport():
    print("== timeout, connection refused, redirect, TLS verification")
    import socket, ssl
    reset()
    hang, redir = Receiver("hang"), Receiver("redirect")
    tlsr = Receiver("ack")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(f"{BASE}/tls.crt", f"{BASE}/tls.key")
    tlsr.srv.socket = ctx.wrap_socket(tlsr.srv.socket, server_side=True)
    s0 = socket.socket(); s0.bind(("127.0.0.1", 0)); closed_port = s0.getsockname()[1]; s0.close()
    eps = {"timeout": add_endpoint(hang.url, scope=("reseller", "r1")),
           "connect": add_endpoint(f"http://127.0.0.1:{closed_port}/", scope=("reseller", "r2")),
           "redirect": add_endpoint(redir.url, scope=("reseller", "r3")),
           "tls": add_endpoint(f"https://127.0.0.1:{tlsr.port}/", scope=("reseller", "r4"))}
    for r in ("r1", "r2", "r3", "r4"): add_event(reseller=r)
    w = start_worker("--request-timeout-ms", "1500", "--retry-schedule", "1h")
    wait_for(lambda: len(sql("SELECT 1 FROM webhook_attempts")) >= 4, timeout=10)
    for cls, ep in eps.items():
        r = sql(f"SELECT a.error_class, a.error_message, a.duration_ms FROM webhook_attempts a JOIN webhook_deliveries d ON d.id=a.delivery_id WHERE d.endpoint_id={ep}")
        check(r and r[0][0] == cls, f"{cls}: {r}")
    r = sql(f"SELECT a.duration_ms FROM webhook_attempts a JOIN webhook_deliveries d ON d.id=a.delivery_id WHERE d.endpoint_id={eps['timeout']}")
    check(r and 1400 <= int(r[0][0]) <= 2500, f"timeout after ~1.5 s ({r})")
    check(len(redir.requests) == 1, "redirect not followed")
    check(stop_worker(w) == 0, "exit 0")
    for x in (hang, redir, tlsr): x.close()

def scenario_load():
    print("== load: 3000 notifications to one fast receiver")
    reset()
    ok = Receiver("ack")
    add_endpoint(ok.url)
    sql("INSERT INTO webhook_events (event_code, reseller_id, portfolio_id, data) SELECT 'billing.subscription-created','r1','p1','{}' FROM seq_1_to_3000")
    t0 = time.time()
    w = start_worker("--log-level", "info", "--per-endpoint-concurrency", "64")
    st = wait_for(lambda: sql("SELECT COUNT(*) FROM webhook_deliveries WHERE status='delivered'") == [["3000"]], timeout=120, step=0.5)
    dt = time.time() - t0
    check(st, f"3000 delivered in {dt:.1f} s ({3000/dt:.0f}/s)")
    check(stop_worker(w) == 0, "exit 0")
    ok.close()

scenarios = sys.argv[2:] or ["basic", "special", "drain", "db_down", "cap", "multi", "lease", "transport"]
for s in scenarios:
    globals()["scenario_" + s]()
print("FAILURES:", FAIL if FAIL else "none")
if FAIL:
    print("worker logs kept in", BASE + "-logs")
    shutil.copytree(WORK, BASE + "-logs", dirs_exist_ok=True)
sys.exit(1 if FAIL else 0)
