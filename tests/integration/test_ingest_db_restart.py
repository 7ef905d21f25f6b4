#!/usr/bin/env python3
"""MariaDB stopped and restarted under ingestion load, on a private stack: while a
client posts events continuously, mariadbd is stopped (SIGTERM, waited for), the client keeps
posting for 10 seconds — every answer is 202 or 503 with Retry-After, quickly, never a
hang or a 500 — then mariadbd starts again and ingestion recovers without restarting Apache.
Every event answered 202 is in webhook_events exactly once and is delivered."""
import json
import os
import threading
import time
import unittest

import harness as h

CODE = "processing.return-processed"
ANSWER_BOUND_S = 3.0  # no answer may take longer than this (WebhookDatabase connect_timeout=2)


class Poster(threading.Thread):
    """Posts events with keys seq-0, seq-1, … one after the other until stopped."""

    def __init__(self, reseller, portfolio):
        super().__init__(daemon=True)
        self.reseller, self.portfolio = reseller, portfolio
        self.results = []  # (seq, status, headers, body, seconds, wall time)
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        seq = 0
        while not self.stop.is_set():
            event = {"eventCode": CODE, "resellerId": self.reseller, "portfolioId": self.portfolio,
                     "data": {"seq": seq}, "idempotencyKey": "seq-%d" % seq}
            t0 = time.monotonic()
            try:
                status, headers, body = h.post_events(event)
            except Exception as e:  # a hang past the client timeout, a reset: recorded
                status, headers, body = None, {}, repr(e)
            with self.lock:
                self.results.append((seq, status, headers, body, time.monotonic() - t0, time.monotonic()))
            seq += 1
            if status == 503:
                time.sleep(0.05)  # a real client would honour Retry-After; keep the log small

    def snapshot(self):
        with self.lock:
            return list(self.results)

    def count(self, status, since=0.0):
        return sum(1 for r in self.snapshot() if r[1] == status and r[5] >= since)


def apache_pid(ps):
    with open(os.path.join(ps.state, "httpd", "run", "httpd.pid")) as f:
        return int(f.read().strip())


class DbRestartUnderLoad(unittest.TestCase):
    def test_stop_and_restart_mariadb_while_posting(self):
        reseller, portfolio = h.unique_id("res"), h.unique_id("pf")
        with h.Receiver() as r, h.PrivateStack("ingest-db-restart", poll_interval_ms=200) as ps:
            ps.activate()
            h.register_endpoint(r.url("/dbr"), [CODE], reseller_id=reseller)
            pid_before = apache_pid(ps)
            poster = Poster(reseller, portfolio)
            poster.start()
            try:
                h.wait_until(lambda: poster.count(202) >= 20, timeout=30, message="20 events accepted")
                ps.expect_log_tags("MariaDB is stopped on purpose: Apache answers 503, the worker waits",
                                   "WH00010", "WH00110")
                ps.stop_mariadb()
                stopped_at = time.monotonic()
                h.wait_until(lambda: poster.count(503, since=stopped_at) >= 10, timeout=20,
                             message="10 answers 503 with MariaDB stopped")
                # MariaDB stays down for 10 s in all, while posting goes on and the
                # worker holds the results of deliveries that were in flight
                time.sleep(max(0.0, 10 - (time.monotonic() - stopped_at)))
                down_503 = poster.count(503, since=stopped_at)
                ps.start_mariadb()
                restarted_at = time.monotonic()
                h.wait_until(lambda: poster.count(202, since=restarted_at) >= 20, timeout=30,
                             message="ingestion to recover (20 events accepted after the restart)")
            finally:
                poster.stop.set()
                poster.join(30)
            self.assertFalse(poster.is_alive())
            results = poster.snapshot()

            # every answer: 202 or 503 (+ Retry-After, problem+json), within the bound
            bad = [x for x in results if x[1] not in (202, 503)]
            self.assertEqual(bad, [], "answers other than 202/503")
            slow = [(x[0], x[1], round(x[4], 2)) for x in results if x[4] > ANSWER_BOUND_S]
            self.assertEqual(slow, [], "answers slower than %.1f s" % ANSWER_BOUND_S)
            for seq, status, headers, body, _, _ in results:
                if status == 503:
                    self.assertTrue(headers.get("retry-after", "").isdigit(), (seq, headers))
                    self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"))
            self.assertGreaterEqual(down_503, 10)
            self.assertEqual(apache_pid(ps), pid_before, "Apache must not have been restarted")

            # every 202 is in the table exactly once, with the id it was answered with
            accepted = {"seq-%d" % x[0]: x[3]["eventId"] for x in results if x[1] == 202}
            rows = h.sql("SELECT idempotency_key, public_id FROM webhook_events WHERE reseller_id = %s"
                         % h.q(reseller))
            stored = {}
            for key, pid in rows:
                self.assertNotIn(key, stored, "key %s stored twice" % key)
                stored[key] = pid
            for key, pid in accepted.items():
                self.assertEqual(stored.get(key), pid, key)
            # a 503 whose COMMIT reached the server before it stopped may still have stored
            # its event (the client retries with the same key and gets it back); nothing else
            extra = set(stored) - set(accepted)
            rejected = {"seq-%d" % x[0] for x in results if x[1] == 503}
            self.assertLessEqual(extra, rejected)

            # ... and every stored event is delivered (exactly once: one endpoint)
            def delivered():
                got = {json.loads(q.body)["data"]["seq"] for q in r.requests("/dbr")}
                return got >= {int(k.split("-")[1]) for k in stored}
            h.wait_until(delivered, timeout=60, message="every stored event to be delivered")
            counts = r.notification_counts("/dbr")
            self.assertEqual(len(counts), len(stored))
            print("posted %d: %d accepted, %d answered 503 (%d while MariaDB was down); %d stored"
                  % (len(results), len(accepted), len(rejected), down_503, len(stored)))


if __name__ == "__main__":
    h.main()
