#!/usr/bin/env python3
"""The admin views of sql/004_admin_views.sql, fed through the real stack: a receiver that
always fails and one that acknowledges, events through the events API, and the numbers the
views report checked against the attempts table (the stack's schedule is 1s,1s,1s,1s: five
attempts, then `failed`)."""
import unittest

import harness as h

CODE = "billing.subscription-modified"
ATTEMPTS = 5  # the fixture's schedule 1s,1s,1s,1s


def percentile_cont(values, p):
    """SQL PERCENTILE_CONT: linear interpolation between the closest ranks."""
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def view_row(view, endpoint_id, columns):
    rows = h.sql("SELECT %s FROM %s WHERE endpoint_id = %s" % (", ".join(columns), view, h.q(endpoint_id)))
    return dict(zip(columns, rows[0])) if rows else None


class AdminViews(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rx = h.Receiver()
        cls.rx.set("/bad", h.status(500, body=b"receiver broken"))
        cls.reseller = h.unique_id("res")
        cls.bad = h.register_endpoint(cls.rx.url("/bad"), [CODE], reseller_id=cls.reseller)["id"]
        cls.good = h.register_endpoint(cls.rx.url("/good"), [CODE], reseller_id=cls.reseller)["id"]
        cls.events = [h.post_event({"eventCode": CODE, "resellerId": cls.reseller,
                                    "portfolioId": h.unique_id("pf"), "data": {"n": i}})
                      for i in range(2)]

        def settled():
            rows = h.sql("SELECT ep.public_id, d.status, COUNT(*) FROM webhook_deliveries d "
                         "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
                         "WHERE ep.public_id IN (%s, %s) GROUP BY 1, 2" % (h.q(cls.bad), h.q(cls.good)))
            got = {(r[0], r[1]): int(r[2]) for r in rows}
            return got == {(cls.bad, "failed"): 2, (cls.good, "delivered"): 2}
        h.wait_until(settled, timeout=60, message="2 failed deliveries on /bad and 2 delivered on /good")

    @classmethod
    def tearDownClass(cls):
        cls.rx.close()

    def durations(self, endpoint_id):
        return [int(r[0]) for r in h.sql(
            "SELECT a.duration_ms FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
            "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id WHERE ep.public_id = %s" % h.q(endpoint_id))]

    def test_endpoint_health_counts_rates_and_latency(self):
        cols = ["attempts_24h", "successes_24h", "failures_24h", "success_rate_24h", "latency_p50_ms",
                "latency_p95_ms", "latency_p99_ms", "last_error", "backlog", "oldest_pending_age_s",
                "last_success_at"]
        bad = view_row("webhook_endpoint_health", self.bad, cols)
        self.assertEqual((bad["attempts_24h"], bad["successes_24h"], bad["failures_24h"]),
                         (str(2 * ATTEMPTS), "0", str(2 * ATTEMPTS)))
        self.assertEqual(float(bad["success_rate_24h"]), 0.0)
        self.assertIn("HTTP 500", bad["last_error"])
        self.assertEqual(bad["backlog"], "0")
        self.assertIsNone(bad["oldest_pending_age_s"])
        self.assertIsNone(bad["last_success_at"])
        d = self.durations(self.bad)
        self.assertEqual(len(d), 2 * ATTEMPTS)
        for col, p in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95), ("latency_p99_ms", 0.99)):
            self.assertAlmostEqual(float(bad[col]), percentile_cont(d, p), places=3, msg=col)

        good = view_row("webhook_endpoint_health", self.good, cols)
        self.assertEqual((good["attempts_24h"], good["successes_24h"], good["failures_24h"]), ("2", "2", "0"))
        self.assertEqual(float(good["success_rate_24h"]), 1.0)
        self.assertIsNone(good["last_error"])
        self.assertIsNotNone(good["last_success_at"])

    def test_backlog_and_oldest_pending_age(self):
        # A disabled endpoint's deliveries are held pending: that is backlog, not "stuck".
        ep = h.register_endpoint(self.rx.url("/held"), [CODE], reseller_id=self.reseller + "-held",
                                 enabled=False)["id"]
        for i in range(3):
            h.post_event({"eventCode": CODE, "resellerId": self.reseller + "-held",
                          "portfolioId": h.unique_id("pf"), "data": {"n": i}})
        h.wait_until(lambda: view_row("webhook_endpoint_health", ep, ["backlog"])["backlog"] == "3",
                     timeout=30, message="backlog of 3 on the disabled endpoint")
        h.sql("UPDATE webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
              "SET d.created_at = NOW(3) - INTERVAL 2 HOUR WHERE ep.public_id = %s ORDER BY d.id LIMIT 1" % h.q(ep))
        age = int(view_row("webhook_endpoint_health", ep, ["oldest_pending_age_s"])["oldest_pending_age_s"])
        self.assertTrue(7200 <= age < 7200 + 60, age)
        self.assertEqual(h.sql("SELECT COUNT(*) FROM webhook_stuck_deliveries WHERE endpoint_id = %s" % h.q(ep)),
                         [("0",)])
        self.assertEqual(len(self.rx.requests("/held")), 0)

    def test_failing_endpoints_lists_the_failing_one_only(self):
        row = view_row("webhook_failing_endpoints", self.bad,
                       ["exhausted_24h", "retrying", "failing_since", "last_error", "attempts_24h"])
        self.assertIsNotNone(row, "the failing endpoint is listed")
        self.assertEqual(row["exhausted_24h"], "2")
        self.assertEqual(row["retrying"], "0")
        first = h.sql_value("SELECT MIN(a.started_at) FROM webhook_attempts a "
                            "JOIN webhook_deliveries d ON d.id = a.delivery_id "
                            "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id WHERE ep.public_id = %s"
                            % h.q(self.bad))
        self.assertEqual(row["failing_since"], first)
        self.assertIsNone(view_row("webhook_failing_endpoints", self.good, ["endpoint_id"]))

    def test_exhausted_deliveries_are_the_failed_notifications(self):
        rows = h.sql("SELECT notification_id, event_id, attempts, last_http_status "
                     "FROM webhook_exhausted_deliveries WHERE endpoint_id = %s ORDER BY event_id" % h.q(self.bad))
        self.assertEqual(len(rows), 2)
        self.assertEqual(sorted(r[1] for r in rows), sorted(self.events))
        for r in rows:
            self.assertEqual((r[2], r[3]), (str(ATTEMPTS), "500"))
        self.assertEqual(h.sql("SELECT COUNT(*) FROM webhook_exhausted_deliveries WHERE endpoint_id = %s"
                               % h.q(self.good)), [("0",)])

    def test_views_run_with_the_querying_accounts_rights(self):
        # SQL SECURITY INVOKER (sql/010): dropping the account that ran the migrations breaks
        # no view, and an account sees through a view only what its own grants allow
        rows = h.sql("SELECT TABLE_NAME, SECURITY_TYPE FROM information_schema.VIEWS "
                     "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'webhook%'")
        views = ["webhook_endpoint_health", "webhook_failing_endpoints", "webhook_stuck_deliveries",
                 "webhook_exhausted_deliveries", "webhook_throughput_hourly"]
        self.assertEqual({r[0]: r[1] for r in rows}, {v: "INVOKER" for v in views})
        for v in views:
            h.sql("SELECT COUNT(*) FROM %s" % v)  # still answers after its redefinition

    def test_throughput_hourly_matches_the_tables(self):
        # Totals over every hour equal the tables' (other tests add rows concurrently, so both
        # sides are read in one statement).
        row = h.sql("SELECT (SELECT SUM(attempts) FROM webhook_throughput_hourly), "
                    "(SELECT COUNT(*) FROM webhook_attempts), "
                    "(SELECT SUM(delivered) FROM webhook_throughput_hourly), "
                    "(SELECT COUNT(*) FROM webhook_attempts WHERE outcome = 'success'), "
                    "(SELECT SUM(events) FROM webhook_throughput_hourly), "
                    "(SELECT COUNT(*) FROM webhook_events)")[0]
        self.assertEqual(row[0], row[1])
        self.assertEqual(row[2], row[3])
        self.assertEqual(row[4], row[5])
        self.assertGreaterEqual(int(row[1]), 2 * ATTEMPTS + 2)
        # my attempts land in the hour of their started_at
        first = h.sql_value("SELECT MIN(a.started_at) FROM webhook_attempts a "
                            "JOIN webhook_deliveries d ON d.id = a.delivery_id "
                            "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id WHERE ep.public_id = %s"
                            % h.q(self.bad))
        n = h.sql_value("SELECT attempts FROM webhook_throughput_hourly WHERE hour_start = "
                        "CAST(DATE_FORMAT(%s, '%%Y-%%m-%%d %%H:00:00') AS DATETIME)" % h.q(first))
        self.assertGreaterEqual(int(n), 1)

if __name__ == "__main__":
    h.main()
