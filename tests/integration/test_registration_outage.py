#!/usr/bin/env python3
"""The registration API on a PRIVATE stack (this test stops and freezes MariaDB, and runs
Apache with WebhookAllowPrivateTargets Off):

- MariaDB stopped under requests: every answer is 503 + Retry-After (problem+json) within
  WebhookDatabaseTimeout (default 2 s), nothing is half-written, and the first request after
  MariaDB is back succeeds, with the same Apache (no restart);
- MariaDB frozen (SIGSTOP: it accepts TCP connections but never answers): 503 within the
  timeout too, and service resumes with SIGCONT;
- policy Off: loopback is refused in every notation and by name (`localhost`, and the names
  /etc/hosts maps to loopback); public addresses are accepted;
- no credential the test used appears in that stack's logs or database dump, and its logs
  show no error line but those it provokes on purpose (check_logs.py, as on every stack).
"""
import os
import re
import signal
import socket
import threading
import time
import unittest

import harness as h

ET = ["billing.subscription-created"]
PUBLIC = "http://93.184.216.34/hook"   # a public literal: nothing is ever sent (no events here)
TIMEOUT_S = 2.0                        # WebhookDatabaseTimeout default
SLACK_S = 1.5                          # scheduling on a loaded 2-core machine


def loopback_names_in_etc_hosts():
    names = []
    try:
        with open("/etc/hosts", encoding="utf-8") as f:
            for line in f:
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 2 and (parts[0].startswith("127.") or parts[0] == "::1"):
                    names += parts[1:]
    except OSError:
        pass
    return sorted(set(names) - {"localhost"})


def resolves(host):
    try:
        socket.getaddrinfo(host.strip("[]"), None)
        return True
    except OSError:
        return False


def pid_from(path):
    with open(path) as f:
        return int(f.read().strip())


class RegistrationOutage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = h.PrivateStack("registration-outage")
        cls.stack.settings["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "Off"
        cls.stack.expect_log_tags("MariaDB is stopped and frozen on purpose", "WH00010", "WH00110")
        cls.stack.expect_log_tags("a login that does not exist, on purpose", "AH01618")
        cls.stack.up()
        try:
            cls.stack.activate()
            cls.state = cls.stack.state
            cls.frozen = None
        except BaseException:
            cls.stack.down()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.frozen:
                os.kill(cls.frozen, signal.SIGCONT)
        finally:
            cls.stack.down()

    def apache_pid(self):
        return pid_from(os.path.join(self.state, "httpd", "run", "httpd.pid"))

    def mariadb_pid(self):
        return pid_from(os.path.join(self.state, "mariadb", "mysqld.pid"))

    def assert_503(self, status, headers, body, elapsed, what):
        self.assertEqual(status, 503, "%s: %r" % (what, body))
        self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"), what)
        self.assertEqual(body["status"], 503)
        self.assertGreaterEqual(int(headers.get("retry-after", "0")), 1, "%s: no Retry-After" % what)
        self.assertLessEqual(elapsed, TIMEOUT_S + SLACK_S, "%s: 503 after %.2f s" % (what, elapsed))

    # -- address policy Off ------------------------------------------------------------------

    def test_a_policy_off_refuses_loopback_everywhere(self):
        reseller = h.unique_id("res")
        hosts = ["127.0.0.1", "127.0.0.53", "127.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001",
                 "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:0:0:1]", "localhost",
                 "localhost.", "10.0.0.1", "169.254.169.254", "[fe80::1]"] + loopback_names_in_etc_hosts()
        for host in hosts:
            status, _, body = h.api("POST", "/endpoints", json={"url": "http://%s:8080/x" % host,
                                                                "eventTypes": ET, "resellerId": reseller})
            self.assertEqual(status, 422, "%s with the policy Off: %r" % (host, body))
            self.assertEqual([e["field"] for e in body["errors"]], ["url"], host)
            # a caller never learns what a name resolves to (internal DNS): the admin's log does
            want = "the URL's host is not an allowed target"
            if not resolves(host):  # e.g. "localhost." where no resolver answers for it
                want = "host '%s' does not resolve" % host
            self.assertEqual(body["errors"][0]["message"], want, host)
        log = os.path.join(self.state, "httpd", "logs", "error_log")
        admin_line = re.compile(r":warn\].*WH00044: an endpoint URL was refused \(422\): "
                                r"host 'localhost' has address (127\.0\.0\.1|::1),")
        h.wait_until(lambda: admin_line.search(open(log, errors="replace").read()), 10, message="WH00044")
        for url in (PUBLIC, "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/hook"):
            status, _, body = h.api("POST", "/endpoints", json={"url": url, "eventTypes": ET, "resellerId": reseller})
            self.assertEqual(status, 201, "%s is public: %r" % (url, body))

    # -- MariaDB stopped ----------------------------------------------------------------------

    def test_b_mariadb_stopped_and_started_under_requests(self):
        apache = self.apache_pid()
        reseller = h.unique_id("res")
        results, lock, stop = [], threading.Lock(), threading.Event()

        def load(n):
            i = 0
            while not stop.is_set():
                i += 1
                t0 = time.monotonic()
                try:
                    if i % 2:
                        resp = h.api("POST", "/endpoints", json={"url": PUBLIC, "eventTypes": ET,
                                                                 "resellerId": reseller,
                                                                 "description": "load %d-%d" % (n, i)})
                    else:
                        resp = h.api("GET", "/endpoints?limit=5&resellerId=" + reseller)
                    with lock:
                        results.append((t0, time.monotonic() - t0) + resp)
                except Exception as e:  # noqa: BLE001 - a transport error is a failure too
                    with lock:
                        results.append((t0, time.monotonic() - t0, "error", {}, repr(e)))
                time.sleep(0.02)

        def count(pred):
            with lock:
                return sum(1 for r in results if pred(r))
        threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        stopped_at = None
        try:
            h.wait_until(lambda: count(lambda r: r[2] in (200, 201)) >= 10, timeout=30,
                         message="the load to succeed before the outage")
            self.stack.stop_mariadb()
            stopped_at = time.monotonic()  # mariadbd has exited
            h.wait_until(lambda: count(lambda r: r[0] > stopped_at and r[2] == 503) >= 12, timeout=30,
                         message="requests to get 503 while MariaDB is down")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        try:
            down = [r for r in results if r[0] > stopped_at]
            for t0, elapsed, status, headers, body in results:
                self.assertIn(status, (200, 201, 503), "only success or 503, never %r %r" % (status, body))
                if status == 503:
                    self.assert_503(status, headers, body, elapsed, "during the outage")
            self.assertTrue(down and all(r[2] == 503 for r in down), "requests while MariaDB is down: %r"
                            % [r[2] for r in down])
            print("outage: %d requests while down, slowest 503 after %.3f s"
                  % (len(down), max(r[1] for r in down)))
        finally:
            self.stack.start_mariadb()
        # the very next request succeeds, and so does every one after it (pooled connections
        # that died with the old server are replaced)
        t0 = time.monotonic()
        status, _, body = h.api("GET", "/endpoints?limit=5&resellerId=" + reseller)
        self.assertEqual(status, 200, "first request after MariaDB is back: %r" % (body,))
        print("recovery: first request after restart answered 200 in %.3f s" % (time.monotonic() - t0))
        statuses = []
        burst = [threading.Thread(target=lambda: statuses.append(h.api("GET", "/event-types")[0]))
                 for _ in range(24)]
        for t in burst:
            t.start()
        for t in burst:
            t.join(timeout=60)
        self.assertEqual(statuses, [200] * 24)
        self.assertEqual(self.apache_pid(), apache, "Apache was not restarted")

        # nothing half-written: every 201 is stored, every stored endpoint has its subscription
        created = {r[4]["id"] for r in results if r[2] == 201}
        rows = h.sql("SELECT e.public_id, COUNT(s.event_code) FROM webhook_endpoints e LEFT JOIN "
                     "webhook_endpoint_subscriptions s ON s.endpoint_id = e.id WHERE e.scope_id = %s "
                     "GROUP BY e.id" % h.q(reseller))
        stored = {r[0] for r in rows}
        self.assertLessEqual(created, stored)
        self.assertEqual([r for r in rows if r[1] != "1"], [], "an endpoint without its subscription")
        self.assertLessEqual(len(stored - created), 2, "endpoints stored although the answer was 503")

    # -- MariaDB frozen -----------------------------------------------------------------------

    def test_c_mariadb_frozen_gets_503_within_the_timeout(self):
        reseller = h.unique_id("res")
        for _ in range(3):  # pooled connections exist
            self.assertEqual(h.api("GET", "/endpoints?resellerId=" + reseller)[0], 200)
        pid = self.mariadb_pid()
        os.kill(pid, signal.SIGSTOP)
        type(self).frozen = pid
        try:
            times = []
            for i in range(3):
                t0 = time.monotonic()
                status, headers, body = h.api("POST", "/endpoints", json={
                    "url": PUBLIC, "eventTypes": ET, "resellerId": reseller})
                elapsed = time.monotonic() - t0
                times.append(elapsed)
                self.assert_503(status, headers, body, elapsed, "frozen MariaDB, request %d" % i)
        finally:
            os.kill(pid, signal.SIGCONT)
            type(self).frozen = None
        print("frozen MariaDB: 503 after %s s" % ", ".join("%.2f" % t for t in times))
        h.wait_until(lambda: h.api("GET", "/endpoints?resellerId=" + reseller)[0] == 200, timeout=15,
                     message="service after SIGCONT")
        status, _, body = h.api("POST", "/endpoints", json={"url": PUBLIC, "eventTypes": ET, "resellerId": reseller})
        self.assertEqual(status, 201, body)

    # -- credentials ----------------------------------------------------------------------------

    def test_z_no_credential_in_this_stacks_logs_or_database(self):
        password = h.new_password()
        ep = h.register_endpoint(PUBLIC, ET, reseller_id=h.unique_id("res"), username="svc", password=password)
        status, _, body = h.api("POST", "/endpoints/%s/rotate-secret" % ep["id"])
        self.assertEqual(status, 200, body)
        # a short Basic-auth password sent through api() (refused: AH01618, expected here)
        short = "Zq7#"
        self.assertEqual(h.api("GET", "/endpoints", user=h.unique_id("nobody"), password=short)[0], 401)
        dump = os.path.join(self.state, "db-dump.sql")
        self.stack.dump(dump)
        self.assertGreater(os.path.getsize(dump), 0)
        with open(os.path.join(self.state, h.SECRETS_FILE), encoding="utf-8") as f:
            recorded = f.read().splitlines()
        for kind, value in (("signing-secret", body["secret"]), ("password", password),
                            ("api-password", h.env()["WEBHOOK_API_PASSWORD"]), ("api-password", short)):
            self.assertIn("%s %s" % (kind, value), recorded, "api() records what it sends and receives")
        ok, out = self.stack.check_logs()
        self.assertTrue(ok, out)
        self.assertIn("none of the", out)
        # and the check does catch a leak however short the credential, and a worker's error
        # line unless this stack declared its tag (lines of a worker's log)
        probes = [("[debug] sending with password=%s" % password, False),
                  ("[debug] sending with password=%s" % short, False),
                  ("[error] WH00118: a notification cannot be built", False),
                  ("[error] WH00110: cannot use MariaDB", True)]
        probe = os.path.join(self.state, "worker", "probe.log")
        for line, passes in probes:
            with open(probe, "w", encoding="utf-8") as f:
                f.write(line + "\n")
            try:
                ok, out = self.stack.check_logs()
                self.assertEqual(ok, passes, "%r: %s" % (line, out))
                if not passes:
                    self.assertIn("probe.log:1", out)
            finally:
                os.remove(probe)


if __name__ == "__main__":
    h.main()
