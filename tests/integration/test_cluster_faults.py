#!/usr/bin/env python3
"""The product on a 3-node Galera cluster while nodes fail (ctest label `cluster`), on a
private stack: Apache's WebhookDatabase lists nodes 1, 2, 3; two workers list 2, 3, 1 and
3, 1, 2. 5,000 events are posted at a bounded rate and, in the same run, node 3 is cut off
(gmcast.isolate) and let back, node 2 is killed with -9 and restarted (IST), and node 1 is
killed with -9. Then:
- no answer is a 500;
- every event answered 202 is delivered at least once;
- every event answered 503 was either not stored, or stored and delivered;
- notifications received twice are counted, and each is one notification (one delivery row)
  sent again only after its lease expired: its arrivals are at least the lease minus the
  request timeout apart;
- the per-endpoint cap (2 here) is never exceeded, as the receiver counts requests in flight.
A second test runs `webhook-worker migrate` on all three nodes at once against an empty
database: every run succeeds and the schema is recorded once."""
import json
import os
import re
import subprocess
import threading
import time
import unittest

import harness as h

CODE = "processing.return-processed"
EVENTS = 5000
RATE = 125           # events per second, all posters together
POSTERS = 4
ENDPOINTS = 4        # one per reseller; events go round-robin
CAP = 2              # per_endpoint_concurrency of both workers
LEASE_S = 10
REQUEST_TIMEOUT_S = 2
ANSWER_S = 0.04      # the receiver's answer time: with the rate above, the cap is reached
SETTLE_S = 90


class CapCounter:
    """A receiver behaviour that acknowledges after ANSWER_S and records, per path, the most
    requests it had in flight at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = {}
        self.peak = {}

    def __call__(self, req, n):
        with self.lock:
            self.now[req.path] = self.now.get(req.path, 0) + 1
            self.peak[req.path] = max(self.peak.get(req.path, 0), self.now[req.path])
        try:
            time.sleep(ANSWER_S)
        finally:
            with self.lock:
                self.now[req.path] -= 1
        return h.Response(200, {"notificationId": req.notification_id})


class ClusterFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ps = h.PrivateStack("cluster_faults", db_nodes=3, retry_schedule="1s,1s,2s,2s,5s,10s,30s",
                                request_timeout_ms=REQUEST_TIMEOUT_S * 1000, log_level="info")
        cls.ps.expect_log_tags("database nodes are killed and cut off on purpose",
                               "WH00010", "WH00060", "WH00062", "WH00070", "WH00110", "WH00114", "WH00116",
                               "WH00117")
        cls.ps.up()
        cls.ps.activate()
        cls.ps.stop_stack_worker()
        cls.receiver = h.Receiver()
        cls.counter = CapCounter()

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()
        cls.ps.down()

    # -- helpers

    def wait_synced(self, number):
        def synced():
            st = self.ps.node_status(number)
            return st.get("wsrep_local_state_comment") == "Synced" and st.get("wsrep_cluster_status") == "Primary"
        h.wait_until(synced, SETTLE_S, 0.25, message="node %d never came back Synced" % number)

    def isolate(self, number, on):
        self.ps.node_sql(number, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=%d'" % (1 if on else 0),
                         root=True)

    def start_workers(self):
        workers = []
        for wid, order in (("w-node2", [2, 3, 1]), ("w-node3", [3, 1, 2])):
            w = self.ps.start_worker(wid, "--database", self.ps.stack.db_spec(order),
                                     "--per-endpoint-concurrency", str(CAP), "--lease-seconds", str(LEASE_S))
            self.addCleanup(w.stop)
            workers.append(w)
        return workers

    def check_shared(self, workers):
        """share_work (auto on Galera): each worker took a share of two, and each sent
        attempts only for the scopes of its share while both were alive."""
        for w in workers:
            with open(w.log_path, encoding="utf-8", errors="replace") as f:
                self.assertIn("work shared among 2 worker(s) alive", f.read(), "%s never shared work" % w.worker_id)
        senders = {row[0] for row in self.ps.node_sql(2, "SELECT DISTINCT worker_id FROM webhook_attempts")}
        self.assertEqual(senders, {"w-node2", "w-node3"}, "both workers delivered")

    def post_all(self, resellers, answers):
        """Posts EVENTS events round-robin over resellers at RATE, from POSTERS threads;
        answers[seq] = HTTP status (or the exception's name)."""
        start = time.monotonic()

        def poster(k):
            for seq in range(k, EVENTS, POSTERS):
                due = start + seq / RATE
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                ev = {"eventCode": CODE, "resellerId": resellers[seq % len(resellers)], "portfolioId": "pf-ha",
                      "data": {"seq": seq}}
                try:
                    status, _, _ = h.post_events(ev)
                except Exception as e:  # noqa: BLE001 - every answer is recorded and judged below
                    status = type(e).__name__
                answers[seq] = status
        threads = [threading.Thread(target=poster, args=(k,), daemon=True) for k in range(POSTERS)]
        for t in threads:
            t.start()
        return threads

    def whole_cluster(self):
        """Every node Synced in a Primary component of all three, as each node sees it."""
        for n in (1, 2, 3):
            h.wait_until(lambda: (lambda st: st.get("wsrep_local_state_comment") == "Synced"
                                  and st.get("wsrep_cluster_status") == "Primary"
                                  and st.get("wsrep_cluster_size") == "3")(self.ps.node_status(n)),
                         SETTLE_S, 0.25, message="node %d never saw the whole cluster again" % n)

    def faults(self):
        """The fault schedule, run while the events are posted (about 40 s). Each fault starts
        once the cluster has settled from the one before: a node killed while another is still
        cut off would leave no majority, which is an outage, not a failover."""
        log = []
        time.sleep(3)
        self.ps.kill_node(2)
        log.append("node 2 killed")
        time.sleep(3)
        self.ps.start_node(2)
        self.whole_cluster()
        log.append("node 2 restarted (IST, Synced)")
        self.isolate(3, True)
        h.wait_until(lambda: self.ps.node_status(3).get("wsrep_cluster_status") not in (None, "Primary"),
                     SETTLE_S, 0.25, message="node 3 never left the primary component")
        log.append("node 3 isolated (non-Primary)")
        time.sleep(2)
        self.isolate(3, False)
        self.whole_cluster()
        log.append("node 3 back")
        time.sleep(2)
        self.ps.kill_node(1)
        log.append("node 1 killed")
        return log

    def arrivals(self):
        """{seq: [(arrival time, notification id), …]} of what the receiver got."""
        seen = {}
        for r in self.receiver.requests():
            seen.setdefault(json.loads(r.body)["data"]["seq"], []).append((r.time, r.notification_id))
        return seen

    def delivered_seqs(self):
        return {seq: len(v) for seq, v in self.arrivals().items()}

    # -- the tests

    def test_events_survive_node_failures(self):
        resellers = []
        for i in range(ENDPOINTS):
            reseller = h.unique_id("res-ha")
            h.register_endpoint(self.receiver.set("/ha-%d" % i, self.counter), [CODE], reseller_id=reseller)
            resellers.append(reseller)
        workers = self.start_workers()
        answers = {}
        t0 = time.monotonic()
        threads = self.post_all(resellers, answers)
        fault_log = self.faults()
        for t in threads:
            t.join(300)
        posted_s = time.monotonic() - t0
        self.ps.start_node(1)
        for n in (1, 2, 3):
            self.wait_synced(n)
        statuses = {}
        for s in answers.values():
            statuses[s] = statuses.get(s, 0) + 1
        print("posted %d events in %.1f s: %s; faults: %s" % (len(answers), posted_s, statuses, "; ".join(fault_log)),
              flush=True)
        self.assertEqual(len(answers), EVENTS)
        self.assertNotIn(500, statuses, "no answer is a 500")
        self.assertEqual(set(statuses) - {202, 503}, set(), "answers other than 202/503: %r" % statuses)
        accepted = {seq for seq, s in answers.items() if s == 202}
        refused = {seq for seq, s in answers.items() if s == 503}
        h.wait_until(lambda: accepted <= set(self.delivered_seqs()), 180, 1,
                     message="every accepted event delivered (missing %d)" % len(accepted - set(self.delivered_seqs())))
        stored = {int(row[0]) for row in self.ps.node_sql(
            2, "SELECT JSON_VALUE(data, '$.seq') FROM webhook_events WHERE reseller_id IN (%s)"
            % ",".join(h.q(r) for r in resellers))}
        self.assertLessEqual(accepted, stored)
        # a 503 whose event was stored after all is delivered like any other
        h.wait_until(lambda: (refused & stored) <= set(self.delivered_seqs()), 120, 1,
                     message="every stored event answered 503 delivered")
        counts = self.delivered_seqs()
        self.assertEqual(set(counts) - stored, set(), "delivered events that are not stored")
        again = {seq: sorted(v) for seq, v in self.arrivals().items() if len(v) > 1}
        print("delivered %d events; %d answered 503 (%d of them stored after all, all delivered); "
              "%d received more than once; per-endpoint peak in flight %s (cap %d)"
              % (len(counts), len(refused), len(refused & stored), len(again), self.counter.peak, CAP), flush=True)
        for seq, got in again.items():
            self.assertEqual(len({nid for _, nid in got}), 1, "event %d fanned out twice: %r" % (seq, got))
            gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
            self.assertGreaterEqual(min(gaps), LEASE_S - REQUEST_TIMEOUT_S - 0.5,
                                    "event %d sent again before its lease expired: %r" % (seq, got))
        self.assertLessEqual(max(self.counter.peak.values()), CAP, "the per-endpoint cap was exceeded")
        self.check_shared(workers)

    def test_concurrent_migrate_on_every_node(self):
        db = "wh_migrate_race"
        user = self.ps.env["WEBHOOK_DB_USER"]
        self.ps.node_sql(1, "CREATE DATABASE %s; GRANT ALL ON %s.* TO '%s'@'localhost', '%s'@'127.0.0.1'"
                         % (db, db, user, user), root=True)
        procs = []
        for node in (1, 2, 3):
            spec = self.ps.stack.db_spec([node]).replace("database=" + self.ps.env["WEBHOOK_DB_NAME"], "database=" + db)
            procs.append(subprocess.Popen([self.ps.stack.worker_bin, "migrate", "--config", self.ps.worker_conf,
                                           "--database", spec, "--sql-dir", os.path.join(h.REPO, "sql")],
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outs = [(p.wait(120), p.stdout.read()) for p in procs]
        for rc, out in outs:
            self.assertEqual(rc, 0, out)
        versions = {int(v) for (v,) in self.ps.node_sql(3, "SELECT version FROM %s.webhook_schema_version" % db,
                                                         root=True)}
        files = {int(f[:3]) for f in os.listdir(os.path.join(h.REPO, "sql")) if re.match(r"\d{3}_.*\.sql$", f)}
        self.assertEqual(versions, files, "every migration recorded, on every node")


if __name__ == "__main__":
    unittest.main()
