#!/usr/bin/env python3
"""Apache graceful restart under ingestion load, on a private stack: while a client
posts events continuously, the Apache parent gets SIGUSR1 (graceful restart: children finish
their request, the listener stays open) twice. Every request is answered 202 (or 503) — a
connection reset or any other answer fails the test, never counted as lost — and every event
answered 202 is stored once and delivered exactly once to the (healthy) receiver."""
import json
import os
import signal
import time
import unittest

import harness as h
from test_ingest_db_restart import Poster, apache_pid

GRACEFULS = 2


def graceful_count(ps):
    with open(os.path.join(ps.state, "httpd", "logs", "error_log"), errors="replace") as f:
        return f.read().count("Doing graceful restart")


class ApacheGracefulUnderLoad(unittest.TestCase):
    def test_graceful_restarts_while_posting(self):
        reseller, portfolio = h.unique_id("res"), h.unique_id("pf")
        with h.Receiver() as r, h.PrivateStack("apache-graceful", poll_interval_ms=200) as ps:
            ps.activate()
            h.register_endpoint(r.url("/gr"), ["processing.return-processed"], reseller_id=reseller)
            pid = apache_pid(ps)
            poster = Poster(reseller, portfolio)
            poster.start()
            try:
                h.wait_until(lambda: poster.count(202) >= 20, timeout=30, message="20 events accepted")
                for i in range(GRACEFULS):
                    os.kill(pid, signal.SIGUSR1)
                    h.wait_until(lambda: graceful_count(ps) >= i + 1, timeout=15,
                                 message="Apache to log graceful restart %d" % (i + 1))
                    since = time.monotonic()
                    h.wait_until(lambda: poster.count(202, since=since) >= 20, timeout=30,
                                 message="20 events accepted after graceful restart %d" % (i + 1))
            finally:
                poster.stop.set()
                poster.join(30)
            self.assertFalse(poster.is_alive())
            results = poster.snapshot()
            self.assertEqual(apache_pid(ps), pid, "a graceful restart keeps the parent")
            with open(os.path.join(ps.state, "httpd", "logs", "error_log"), errors="replace") as f:
                errors = [l for l in f if any(t in l for t in (":error]", ":crit]", ":alert]", ":emerg]",
                                                              "exit signal"))]
            self.assertEqual(errors, [], "the graceful restarts logged errors or crashes")

            # every request answered, 202 or 503: a reset (status None) is a failure, not a loss
            bad = [(x[0], x[1], x[3]) for x in results if x[1] not in (202, 503)]
            self.assertEqual(bad, [], "requests not answered 202/503 across the graceful restarts")
            accepted = {"seq-%d" % x[0]: x[3]["eventId"] for x in results if x[1] == 202}
            rows = h.sql("SELECT idempotency_key, public_id FROM webhook_events WHERE reseller_id = %s"
                         % h.q(reseller))
            stored = dict(rows)
            self.assertEqual(len(stored), len(rows), "an idempotency key stored twice")
            for key, pid_ in accepted.items():
                self.assertEqual(stored.get(key), pid_, key)

            # each accepted event delivered exactly once (one endpoint, a healthy receiver)
            want = {int(k.split("-")[1]) for k in accepted}

            def delivered():
                return {json.loads(q.body)["data"]["seq"] for q in r.requests("/gr")} >= want
            h.wait_until(delivered, timeout=60, message="every accepted event to be delivered")
            per_seq = {}
            for q in r.requests("/gr"):
                seq = json.loads(q.body)["data"]["seq"]
                per_seq[seq] = per_seq.get(seq, 0) + 1
            twice = {s: n for s, n in per_seq.items() if n != 1}
            self.assertEqual(twice, {}, "events delivered more than once")
            self.assertEqual(set(per_seq) - {int(k.split("-")[1]) for k in stored}, set())
            print("posted %d across %d graceful restarts: %d accepted, %d answered 503; each delivered once"
                  % (len(results), GRACEFULS, len(accepted), sum(1 for x in results if x[1] == 503)))


if __name__ == "__main__":
    h.main()
