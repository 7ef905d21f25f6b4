#!/usr/bin/env python3
"""The local stack's Galera cluster (WEBHOOK_DB_NODES=3), on a private stack: Apache and the
worker get every node in their database setting; a row written through node 1 (by the
events API, and by SQL) is read on nodes 2 and 3; a node killed with -9 leaves the other two
Primary and writable, and `scripts/stack node start` brings it back Synced with the rows
written meanwhile, by incremental state transfer (IST), not a full copy; a node cut off with
gmcast.isolate turns non-primary (queries fail with 1047) and rejoins when it is let back."""
import os
import re
import time
import unittest

import harness as h

CODE = "processing.return-processed"
NODES = (1, 2, 3)
# a killed node is dropped after evs.suspect_timeout (5 s); then the views settle
SETTLE_S = 60


class ClusterStack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.ps = h.PrivateStack("cluster_stack", db_nodes=3)
        cls.ps.up()
        print("3-node stack up in %.1f s" % (time.monotonic() - cls.t0), flush=True)
        cls.ps.node_sql(1, "CREATE TABLE cluster_probe (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(64) NOT NULL)")

    @classmethod
    def tearDownClass(cls):
        cls.ps.down()
        print("test_cluster_stack: %.1f s" % (time.monotonic() - cls.t0), flush=True)

    def setUp(self):
        for n in NODES:  # every test starts from a whole cluster
            self.wait_state(n, "Synced", "Primary", size=3)

    # -- helpers

    def wait_state(self, number, local, cluster, size=None):
        want = {"wsrep_local_state_comment": local, "wsrep_cluster_status": cluster}
        if size is not None:
            want["wsrep_cluster_size"] = str(size)

        def reached():
            st = self.ps.node_status(number)
            return all(st.get(k) == v for k, v in want.items())
        h.wait_until(reached, SETTLE_S, 0.25, message="node %d never reached %s (now %s)" % (
            number, want, {k: self.ps.node_status(number).get(k) for k in want}))

    def write(self, number, note):
        self.ps.node_sql(number, "INSERT INTO cluster_probe (note) VALUES (%s)" % h.q(note))

    def assert_row_on(self, number, note):
        h.wait_until(lambda: self.ps.node_sql(number, "SELECT COUNT(*) FROM cluster_probe WHERE note = %s"
                                              % h.q(note)) == [("1",)],
                     10, message="row %r never reached node %d" % (note, number))

    def log_size(self, number):
        return os.path.getsize(self.ps.node_log(number))

    def log_since(self, number, offset):
        with open(self.ps.node_log(number), errors="replace") as f:
            f.seek(offset)
            return f.read()

    # -- the tests

    def test_a_apache_and_worker_list_every_node(self):
        ports = self.ps.env["WEBHOOK_DB_PORTS"].split(",")
        self.assertEqual(len(ports), 3)
        hosts = "host=" + ",".join("127.0.0.1:%s" % p for p in ports) + " "
        with open(self.ps.worker_conf) as f:
            self.assertIn("database = " + hosts, f.read())
        with open(self.ps.stack.httpd.conf) as f:
            self.assertIn('WebhookDatabase "' + hosts, f.read())
        self.assertEqual(self.ps.stack.db_spec([2, 3, 1]).split()[0],
                         "host=127.0.0.1:%s,127.0.0.1:%s,127.0.0.1:%s" % (ports[1], ports[2], ports[0]))

    def test_b_a_write_through_node_1_is_read_on_nodes_2_and_3(self):
        key = h.unique_id("cluster")
        self.ps.activate()
        try:
            h.post_event({"eventCode": CODE, "resellerId": h.unique_id("res"), "portfolioId": h.unique_id("pf"),
                          "data": {"n": 1}, "idempotencyKey": key})
        finally:
            self.ps.deactivate()
        note = h.unique_id("row")
        self.write(1, note)
        for n in (2, 3):
            self.assert_row_on(n, note)
            self.assertEqual(self.ps.node_sql(n, "SELECT COUNT(*) FROM webhook_events WHERE idempotency_key = %s"
                                              % h.q(key)), [("1",)], "the event is not on node %d" % n)

    def test_c_a_killed_node_rejoins_by_ist(self):
        self.ps.cli("node", "kill", "2")
        for n in (1, 3):
            self.wait_state(n, "Synced", "Primary", size=2)
        during = [h.unique_id("down1"), h.unique_id("down3")]
        self.write(1, during[0])
        self.write(3, during[1])
        offset = self.log_size(2)
        t0 = time.monotonic()
        self.ps.cli("node", "start", "2")
        print("node 2 restarted to Synced in %.1f s" % (time.monotonic() - t0), flush=True)
        self.wait_state(2, "Synced", "Primary", size=3)
        for note in during:
            self.assert_row_on(2, note)
        log = self.log_since(2, offset)
        self.assertTrue("IST received" in log, "node 2 received no IST (%s)" % self.ps.node_log(2))
        self.assertFalse("rsync SST completed on joiner" in log,
                         "node 2 received a full copy (SST), not IST (%s)" % self.ps.node_log(2))
        status = self.ps.cli("status").stdout
        for n in NODES:
            self.assertRegex(status, r"(?m)^node%d\s+running\s+\d+\s+Synced \(cluster Primary, size 3\)" % n)

    def test_d_an_isolated_node_is_non_primary_until_let_back(self):
        self.ps.node_sql(3, "SET GLOBAL wsrep_provider_options='gmcast.isolate=1'", root=True)
        try:
            h.wait_until(lambda: self.ps.node_status(3).get("wsrep_cluster_status") == "non-Primary",
                         SETTLE_S, 0.25, message="node 3 stayed %s" % self.ps.node_status(3))
            with self.assertRaisesRegex(h.HarnessError, r"ERROR 1047"):
                self.ps.node_sql(3, "SELECT COUNT(*) FROM cluster_probe")
            for n in (1, 2):
                self.wait_state(n, "Synced", "Primary", size=2)
            note = h.unique_id("apart")
            self.write(2, note)
        finally:
            self.ps.node_sql(3, "SET GLOBAL wsrep_provider_options='gmcast.isolate=0'", root=True)
        self.wait_state(3, "Synced", "Primary", size=3)
        self.assert_row_on(3, note)
        status = self.ps.cli("status").stdout
        self.assertTrue(re.search(r"(?m)^node3\s+running", status), status)


if __name__ == "__main__":
    h.main()
