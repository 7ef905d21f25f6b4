#!/usr/bin/env python3
"""Host lists in WebhookDatabase and the worker's `database`, on a private stack: both list a
loopback port where nothing listens FIRST and the stack's MariaDB second.

- The walk: Apache and the worker skip the dead host and use the real one (a plain MariaDB,
  not a Galera node: accepted as healthy); requests answer quickly, GETs (synced reads) work,
  events are delivered.
- Unavailable is 503, never 500: mariadbd is killed (SIGKILL: connections lost mid-query)
  while events are posted; every answer is 202 or 503 with Retry-After, Apache logs one line
  per cause per 10 s per child that names the cause, no "check the schema" line; after the
  restart, the next connections walk the list again and every stored event is delivered."""
import json
import os
import re
import signal
import threading
import time
import unittest

import harness as h
import whstack

CODE = "processing.return-processed"
ANSWER_BOUND_S = 3.0  # connect_timeout=2 bounds the whole walk


def failover_spec(ps, dead_port):
    """The stack's DB spec with host=127.0.0.1:DEAD,127.0.0.1:REAL instead of its one host."""
    spec, n = re.subn(r"host=127\.0\.0\.1 port=(\d+)", r"host=127.0.0.1:%d,127.0.0.1:\1" % dead_port,
                      ps.stack.db_spec())
    if n != 1:
        raise AssertionError("unexpected stack DB spec layout")
    return spec


def point_at_host_list(ps, spec):
    """Apache and the stack's worker restarted with `spec` as their database setting."""
    ps.stack.worker.stop()
    ps.stack.httpd.stop()
    ps.stack.httpd.values["DB_SPEC"] = spec
    ps.stack.httpd.start()
    ps.stack.worker.settings = [(k, spec if k == "database" else v) for k, v in ps.stack.worker.settings]
    ps.stack.worker.start()


def log_lines(path, pattern):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line for line in f if re.search(pattern, line)]


class Poster(threading.Thread):
    """Posts events with keys seq-0, seq-1, … one after the other until stopped."""

    def __init__(self, reseller):
        super().__init__(daemon=True)
        self.reseller = reseller
        self.results = []  # (seq, status, headers, body, seconds, monotonic time)
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        seq = 0
        while not self.stop.is_set():
            event = {"eventCode": CODE, "resellerId": self.reseller, "portfolioId": "pf-1", "data": {"seq": seq},
                     "idempotencyKey": "seq-%d" % seq}
            t0 = time.monotonic()
            try:
                status, headers, body = h.post_events(event)
            except Exception as e:  # a hang past the client timeout, a reset: recorded
                status, headers, body = None, {}, repr(e)
            with self.lock:
                self.results.append((seq, status, headers, body, time.monotonic() - t0, time.monotonic()))
            seq += 1
            if status == 503:
                time.sleep(0.05)

    def snapshot(self):
        with self.lock:
            return list(self.results)

    def count(self, status, since=0.0):
        return sum(1 for r in self.snapshot() if r[1] == status and r[5] >= since)


class DbFailover(unittest.TestCase):
    def test_dead_first_host_then_a_killed_server(self):
        reseller = h.unique_id("res")
        with h.Receiver() as r, h.PrivateStack("db-failover", poll_interval_ms=200) as ps:
            dead_port = whstack.free_ports(1, avoid=[ps.stack.db_port])[0]
            spec = failover_spec(ps, dead_port)
            point_at_host_list(ps, spec)
            ps.activate()
            self.walk_skips_the_dead_host(ps, r, reseller, dead_port)
            self.killed_server_answers_503(ps, r, reseller)

    def walk_skips_the_dead_host(self, ps, r, reseller, dead_port):
        started = log_lines(ps.stack.worker.log_path, r"started: .*database=127\.0\.0\.1:%d,127\.0\.0\.1:%d/"
                            % (dead_port, ps.stack.db_port))
        self.assertEqual(len(started), 1, "the worker names its host list when it starts")
        t0 = time.monotonic()
        ep = h.register_endpoint(r.url("/walk"), [CODE], reseller_id=reseller)
        status, _, body = h.api("GET", "/endpoints/" + ep["id"])  # a synced read: a no-op on plain MariaDB
        self.assertEqual(status, 200, body)
        for i in range(5):
            status, _, body = h.post_events({"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-1",
                                                "data": {"walk": i}})
            self.assertEqual(status, 202, body)
        self.assertLess(time.monotonic() - t0, 10 * ANSWER_BOUND_S)
        h.wait_until(lambda: len(r.requests("/walk")) >= 5, timeout=30, message="5 deliveries through the host list")
        # the dead host refuses at once: no request waited for a timeout
        slow = []
        for _ in range(10):
            t1 = time.monotonic()
            status, _, _ = h.api("GET", "/endpoints")
            self.assertEqual(status, 200)
            slow.append(time.monotonic() - t1)
        self.assertLess(max(slow), 1.0, slow)

    def killed_server_answers_503(self, ps, r, reseller):
        h.register_endpoint(r.url("/kill"), [CODE], reseller_id=reseller)
        ps.expect_log_tags("mariadbd is killed on purpose: Apache answers 503, the worker waits",
                           "WH00010", "WH00110")
        poster = Poster(reseller)
        poster.start()
        try:
            h.wait_until(lambda: poster.count(202) >= 20, timeout=30, message="20 events accepted")
            os.kill(ps.stack.db.pid(), signal.SIGKILL)
            killed_at = time.monotonic()
            h.wait_until(lambda: not ps.stack.db.pid(), timeout=10, message="mariadbd gone")
            h.wait_until(lambda: poster.count(503, since=killed_at) >= 10, timeout=20,
                         message="10 answers 503 with mariadbd killed")
            time.sleep(max(0.0, 4 - (time.monotonic() - killed_at)))
            ps.start_mariadb()
            restarted_at = time.monotonic()
            h.wait_until(lambda: poster.count(202, since=restarted_at) >= 20, timeout=60,
                         message="ingestion to recover through the host list")
        finally:
            poster.stop.set()
            poster.join(30)
        results = poster.snapshot()
        bad = [(x[0], x[1], x[3][:200] if isinstance(x[3], str) else x[3]) for x in results if x[1] not in (202, 503)]
        self.assertEqual(bad, [], "answers other than 202/503 (a lost connection must never be 500)")
        slow = [(x[0], x[1], round(x[4], 2)) for x in results if x[4] > ANSWER_BOUND_S]
        self.assertEqual(slow, [], "answers slower than %.1f s" % ANSWER_BOUND_S)
        n503 = 0
        for seq, status, headers, _, _, _ in results:
            if status == 503:
                n503 += 1
                self.assertTrue(headers.get("retry-after", "").isdigit(), (seq, headers))
        self.check_apache_log(ps, n503, time.monotonic() - killed_at)
        self.check_delivered(r, reseller, results)

    def check_apache_log(self, ps, n503, seconds):
        error_log = ps.stack.httpd.error_log
        self.assertEqual(log_lines(error_log, r"WH00012"), [], "no 'check the schema' line for a lost server")
        lines = log_lines(error_log, r"WH000(10|62):")
        self.assertGreaterEqual(len(lines), 1)
        for line in lines:
            self.assertRegex(line, r"(unreachable|lost during a query|gone away|shutting down|killed) \(error \d+\)")
            self.assertIn("answering 503", line)
        # one line per cause per 10 s per child (ServerLimit 4), not one per request
        causes = {re.search(r"\(error (\d+)\)", line).group(1) for line in lines}
        bound = 4 * len(causes) * (int(seconds // 10) + 1)
        self.assertLessEqual(len(lines), bound, "%d lines for %d answers 503" % (len(lines), n503))
        self.assertLess(len(lines), n503)

    def check_delivered(self, r, reseller, results):
        accepted = {"seq-%d" % x[0] for x in results if x[1] == 202}
        rows = h.sql("SELECT idempotency_key FROM webhook_events WHERE reseller_id = %s AND idempotency_key LIKE 'seq-%%'"
                     % h.q(reseller))
        stored = {row[0] for row in rows}
        self.assertLessEqual(accepted, stored, "every 202 is stored")

        def delivered():
            got = {"seq-%d" % json.loads(q.body)["data"]["seq"] for q in r.requests("/kill")}
            return got >= stored
        h.wait_until(delivered, timeout=90, message="every stored event delivered by the worker (host list)")
        print("posted %d: %d accepted, %d stored"
              % (len(results), len(accepted), len(stored)))


if __name__ == "__main__":
    h.main()
