#!/usr/bin/env python3
"""The caps hold on a Galera cluster because a claim WRITES the rows that serialize them.

A claim locks the endpoint rows and scope rows it takes work from (FOR UPDATE) and counts
their deliveries in flight. Galera replicates writes, not row locks, and certifies a
transaction only if no transaction that committed after it began wrote one of its rows (the
first to commit wins). So a claim on another node is refused, and retried, only if the two
claims write a common row: the claim must write the rows of the endpoints and scopes it takes
from (worker/README.md "Claiming and fairness").

On one server, MariaDB's snapshot isolation (innodb_snapshot_isolation, REPEATABLE READ)
applies the same rule: a transaction that began before the worker's claim committed and then
writes a row that claim wrote is refused with error 1020. Such a transaction stands for a
claim of the same endpoint on another node. Checked here:
- an endpoint the worker claimed from, and its scope: the write is refused;
- an endpoint at its cap (due work, but nothing taken from it) and an endpoint with no work,
  and their scopes: the write passes. A claim writes nothing it did not take from.
A registration counts the scope's endpoints under the scope's row (WebhookMaxEndpointsPerScope)
and writes that row too, so two registrations on two nodes cannot both pass the count."""
import os
import re
import subprocess
import threading
import unittest

import harness as h

CODE = "billing.transaction-created"
CAP = 8  # the worker's default per_endpoint_concurrency
REFUSED = 1020  # ER_CHECKREAD: the row changed after the snapshot


class SnapshotSession:
    """A transaction held open in a mariadb client of its own, from a snapshot taken at
    start, with innodb_snapshot_isolation: its write to a row that a transaction committed
    after the snapshot wrote is refused."""

    def __init__(self):
        e = h.env()
        argv = h.whstack.client_argv(e["WEBHOOK_DB_SOCKET"], e["WEBHOOK_DB_USER"], e["WEBHOOK_DB_NAME"],
                                     ["--batch", "--skip-column-names", "--unbuffered"])
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=dict(os.environ, MYSQL_PWD=e["WEBHOOK_DB_PASSWORD"]))
        self.p.stdin.write("SET SESSION innodb_snapshot_isolation = ON;\n"
                           "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ;\n"
                           "START TRANSACTION WITH CONSISTENT SNAPSHOT;\n"
                           "SELECT 'snapshot';\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()
        if line != "snapshot":
            self.p.kill()
            raise AssertionError("the snapshot session did not start: %r %s" % (line, self.p.stderr.read()))

    def write(self, statement):
        """Runs a write in the held transaction, then rolls back and ends the session; the
        MariaDB error number it got, or 0."""
        _, err = self.p.communicate(statement + ";\nROLLBACK;\n", timeout=60)
        if self.p.returncode == 0:
            return 0
        m = re.search(r"ERROR (\d+)", err)
        if not m:
            raise AssertionError("the snapshot session failed: %s" % err)
        return int(m.group(1))

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def touch_endpoint(endpoint_id):
    return "UPDATE webhook_endpoints SET updated_at = updated_at WHERE id = %d" % endpoint_id


def touch_scope(reseller):
    return "UPDATE webhook_scopes SET created_at = created_at WHERE scope_kind = 'reseller' AND scope_id = %s" % h.q(reseller)


class ClaimCertification(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.release = threading.Event()  # the receivers hold every request until the test ends
        cls.r = h.Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.release.set()
        cls.r.close()

    def endpoint(self, path):
        reseller = h.unique_id("res-cert")
        ep = h.register_endpoint(self.r.url(path), [CODE], reseller_id=reseller)
        self.r.set(path, h.hang_until(self.release, max_seconds=12))
        self.r.expect(path, ep["secret"])
        self.addCleanup(h.api, "DELETE", "/endpoints/" + ep["id"])
        internal = int(h.sql_value("SELECT id FROM webhook_endpoints WHERE public_id = %s" % h.q(ep["id"])))
        return internal, reseller

    def post(self, reseller, count):
        h.post_events([{"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-cert", "data": {"n": i}}
                       for i in range(count)])

    def test_a_claim_writes_the_rows_of_what_it_took_and_nothing_else(self):
        capped, capped_reseller = self.endpoint("/capped")
        claimed, claimed_reseller = self.endpoint("/claimed")
        idle, idle_reseller = self.endpoint("/idle")
        # `capped` holds its CAP slots (its receiver hangs) and has one more delivery due.
        self.post(capped_reseller, CAP)
        self.r.wait_for(CAP, "/capped", timeout=30)
        self.post(capped_reseller, 1)
        h.wait_until(lambda: h.sql_value(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = %d AND status = 'pending'" % capped) == "1",
            message="the capped endpoint's extra delivery is pending")

        checks = {
            "claimed endpoint": (touch_endpoint(claimed), REFUSED),
            "claimed endpoint's scope": (touch_scope(claimed_reseller), REFUSED),
            "endpoint at its cap": (touch_endpoint(capped), 0),
            "scope of the endpoint at its cap": (touch_scope(capped_reseller), 0),
            "endpoint without work": (touch_endpoint(idle), 0),
            "scope without work": (touch_scope(idle_reseller), 0),
        }
        sessions = {}
        try:
            for name in checks:
                sessions[name] = SnapshotSession()
            # Claims after the snapshots: `claimed`'s event, and passes over `capped` at its cap.
            self.post(claimed_reseller, 1)
            self.r.wait_for(1, "/claimed", timeout=30)
            self.assertEqual(len(self.r.requests("/capped")), CAP, "the capped endpoint got more than its cap")
            got = {name: sessions[name].write(statement) for name, (statement, _) in checks.items()}
        finally:
            for s in sessions.values():
                s.close()
        self.assertEqual(got, {name: want for name, (_, want) in checks.items()},
                         "which rows the claims after the snapshot wrote (%d: refused, 0: untouched)" % REFUSED)
        self.assertEqual(self.r.problems, [], "requests without a valid signature")

    def test_a_registration_writes_its_scope_row(self):
        reseller = h.unique_id("res-cert")
        first = h.register_endpoint(self.r.url("/reg-1"), [CODE], reseller_id=reseller)  # the scope row exists
        self.addCleanup(h.api, "DELETE", "/endpoints/" + first["id"])
        session = SnapshotSession()
        try:
            second = h.register_endpoint(self.r.url("/reg-2"), [CODE], reseller_id=reseller)
            self.addCleanup(h.api, "DELETE", "/endpoints/" + second["id"])
            got = session.write(touch_scope(reseller))
        finally:
            session.close()
        self.assertEqual(got, REFUSED, "a registration after the snapshot wrote its scope's row")


if __name__ == "__main__":
    h.main()
