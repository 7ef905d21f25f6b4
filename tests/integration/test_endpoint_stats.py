#!/usr/bin/env python3
"""GET /endpoints/{id}/stats (docs/registration-api.md): every figure checked against the
attempts and deliveries in the database, after real deliveries to a receiver that
acknowledges, one that fails then acknowledges and one that never does. Attempts moved
out of the 24 h window (directly in SQL) no longer count; the newest failure still shows.
Needs the stack fixture's short schedule (1s,1s,1s,1s)."""
import math
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

CODE = "billing.transaction-created"
# each endpoint subscribes to a type of its own, so an event reaches one endpoint only
CODES = {"ok": CODE, "flaky": "billing.subscription-created", "down": "billing.allocation-created",
         "empty": "management.merchant-created"}
PW_A, PW_B = h.new_password("stats-a"), h.new_password("stats-b")


def nearest_rank(values, p):
    s = sorted(values)
    return s[max(1, math.ceil(p / 100.0 * len(s))) - 1]


def rfc3339(db_time):
    return db_time.replace(" ", "T") + "Z"


def internal_id(ep):
    return h.sql_value("SELECT id FROM webhook_endpoints WHERE public_id = %s" % h.q(ep["id"]))


def settled(ep, n_deliveries):
    """True when the endpoint has n deliveries and none is waiting any more."""
    rows = h.sql("SELECT status FROM webhook_deliveries WHERE endpoint_id = %s" % internal_id(ep))
    return len(rows) == n_deliveries and all(r[0] in ("delivered", "failed") for r in rows)


def expected(ep):
    """The stats as the database holds them, read through the deliveries (not through
    webhook_attempts.endpoint_id, the column the route reads)."""
    eid = internal_id(ep)
    rows = h.sql("SELECT a.outcome, a.duration_ms, a.started_at >= NOW(3) - INTERVAL 1 DAY "
                 "FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
                 "WHERE d.endpoint_id = %s" % eid)
    window = [(o, int(ms)) for o, ms, inside in rows if inside == "1"]
    ok = sum(1 for o, _ in window if o == "success")
    ms = [m for _, m in window]
    pend = h.sql("SELECT COUNT(*), MIN(created_at) FROM webhook_deliveries "
                 "WHERE endpoint_id = %s AND status IN ('pending', 'inflight')" % eid)[0]
    err = h.sql("SELECT a.started_at, a.http_status, a.error_class, a.error_message FROM webhook_attempts a "
                "JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = %s "
                "AND a.outcome = 'failure' ORDER BY a.started_at DESC LIMIT 1" % eid)
    last = None
    if err:
        at, code, cls, msg = err[0]
        last = {"at": rfc3339(at), "httpStatus": int(code) if code is not None else None,
                "errorClass": cls, "message": msg}
    return {"window": "24h", "attempts": len(window), "succeeded": ok, "failed": len(window) - ok,
            "successRate": ok / len(window) if window else None,
            "latencyMs": {p: nearest_rank(ms, n) if ms else None for p, n in (("p50", 50), ("p95", 95), ("p99", 99))},
            "pending": int(pend[0]), "oldestPendingAt": rfc3339(pend[1]) if pend[1] else None, "lastError": last}


class EndpointStats(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()
        cls.res_a, cls.res_b = h.unique_id("res"), h.unique_id("res")
        cls.user_a, cls.user_b = h.unique_id("sa"), h.unique_id("sb")
        h.add_principal(cls.user_a, PW_A, "--reseller", cls.res_a)
        h.add_principal(cls.user_b, PW_B, "--reseller", cls.res_b)
        cls.receiver.set("/ok", h.ack())
        cls.receiver.set("/flaky", h.fail_then_ack(2, 503))
        cls.receiver.set("/down", h.status(500, body=b"upstream broken"))
        cls.eps = {}
        for name in ("ok", "flaky", "down", "empty"):
            cls.eps[name] = h.register_endpoint(cls.receiver.url("/" + name), [CODES[name]], reseller_id=cls.res_a,
                                                user=cls.user_a, api_password=PW_A)

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def stats(self, name, user=None, password=None):
        status, _, body = h.api("GET", "/endpoints/%s/stats" % self.eps[name]["id"],
                                user=user or self.user_a, password=password or PW_A)
        self.assertEqual(status, 200, body)
        return body

    def assert_matches_db(self, name):
        got, want = self.stats(name), expected(self.eps[name])
        if want["successRate"] is not None:
            self.assertAlmostEqual(got["successRate"], want["successRate"], places=9)
            want["successRate"] = got["successRate"]
        self.assertEqual(got, want)
        return got

    def deliver(self):
        """3 events to the acknowledging endpoint, 1 to each failing one; waits until settled."""
        n = {"ok": 3, "flaky": 1, "down": 1}
        for name, count in n.items():
            for i in range(count):
                h.post_event({"eventCode": CODES[name], "resellerId": self.res_a, "portfolioId": h.unique_id("pf"),
                              "data": {"id": "x_%d" % i}})
        for name, count in n.items():
            h.wait_until(lambda: settled(self.eps[name], count), timeout=60,
                         message="the %s endpoint's deliveries did not settle" % name)

    def test_stats_follow_the_attempts(self):
        self.deliver()
        # the recorder writes each attempt's endpoint (the route reads that column)
        self.assertEqual(h.sql_value(
            "SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
            "WHERE d.endpoint_id IN (%s) AND NOT (a.endpoint_id <=> d.endpoint_id)"
            % ",".join(internal_id(self.eps[n]) for n in ("ok", "flaky", "down"))), "0")

        # distinct durations so that the percentiles tell ranks apart
        ok_id = internal_id(self.eps["ok"])
        h.sql("UPDATE webhook_attempts SET duration_ms = 7 + 100 * (id MOD 5) WHERE endpoint_id = %s" % ok_id)
        got = self.assert_matches_db("ok")
        self.assertEqual((got["attempts"], got["succeeded"], got["failed"], got["successRate"], got["lastError"]),
                         (3, 3, 0, 1, None))
        self.assertEqual((got["pending"], got["oldestPendingAt"]), (0, None))

        got = self.assert_matches_db("flaky")
        self.assertEqual((got["attempts"], got["succeeded"], got["failed"]), (3, 1, 2))
        self.assertEqual((got["lastError"]["httpStatus"], got["lastError"]["errorClass"]), (503, "http-status"))

        got = self.assert_matches_db("down")
        self.assertEqual((got["attempts"], got["succeeded"], got["failed"], got["successRate"]), (5, 0, 5, 0))
        self.assertEqual(got["lastError"]["httpStatus"], 500)

        # attempts that started over 24 h ago leave the window; one 23 h ago stays in it; the
        # newest failure shows even when it is older than the window
        down_id = internal_id(self.eps["down"])
        ids = [r[0] for r in h.sql("SELECT id FROM webhook_attempts WHERE endpoint_id = %s ORDER BY id" % down_id)]
        h.sql("UPDATE webhook_attempts SET started_at = NOW(3) - INTERVAL 25 HOUR, duration_ms = 9000 "
              "WHERE id IN (%s)" % ",".join(ids[:2]))
        h.sql("UPDATE webhook_attempts SET started_at = NOW(3) - INTERVAL 23 HOUR, duration_ms = 1234 "
              "WHERE id = %s" % ids[2])
        got = self.assert_matches_db("down")
        self.assertEqual((got["attempts"], got["failed"]), (3, 3))
        self.assertNotEqual(got["latencyMs"]["p99"], 9000)
        self.assertEqual(got["latencyMs"]["p99"], 1234)
        h.sql("UPDATE webhook_attempts SET started_at = NOW(3) - INTERVAL 30 HOUR WHERE endpoint_id = %s" % down_id)
        h.sql("UPDATE webhook_attempts SET started_at = NOW(3) - INTERVAL 26 HOUR WHERE id = %s" % ids[3])
        got = self.assert_matches_db("down")
        self.assertEqual((got["attempts"], got["successRate"], got["latencyMs"]),
                         (0, None, {"p50": None, "p95": None, "p99": None}))
        self.assertIsNotNone(got["lastError"])
        self.assertEqual(got["lastError"]["at"], expected(self.eps["down"])["lastError"]["at"])

    def test_pending_and_oldest_pending(self):
        ep = self.eps["empty"]
        eid = internal_id(ep)
        # deliveries the worker leaves alone: due tomorrow, or leased far ahead
        events = []
        for _ in range(3):
            h.sql("INSERT INTO webhook_events (event_code, reseller_id, portfolio_id, data, fanned_out_at) "
                  "VALUES (%s, %s, 'pf', '{}', NOW(3))" % (h.q(CODE), h.q(self.res_a)))
            events.append(h.sql_value("SELECT MAX(id) FROM webhook_events"))
        h.sql("INSERT INTO webhook_deliveries (event_id, endpoint_id, status, next_attempt_at, created_at) "
              "VALUES (%s, %s, 'pending', NOW(3) + INTERVAL 1 DAY, NOW(3) - INTERVAL 3 HOUR)" % (events[0], eid))
        h.sql("INSERT INTO webhook_deliveries (event_id, endpoint_id, status, lease_owner, lease_expires_at, "
              "created_at) VALUES (%s, %s, 'inflight', 'stats-test', NOW(3) + INTERVAL 1 DAY, "
              "NOW(3) - INTERVAL 1 HOUR)" % (events[1], eid))
        h.sql("INSERT INTO webhook_deliveries (event_id, endpoint_id, status, created_at) "
              "VALUES (%s, %s, 'cancelled', NOW(3) - INTERVAL 5 HOUR)" % (events[2], eid))
        try:
            got = self.assert_matches_db("empty")
            self.assertEqual(got["pending"], 2)
            self.assertEqual(got["oldestPendingAt"], rfc3339(h.sql_value(
                "SELECT created_at FROM webhook_deliveries WHERE event_id = %s" % events[0])))
            self.assertEqual((got["attempts"], got["lastError"]), (0, None))
        finally:
            h.sql("DELETE FROM webhook_deliveries WHERE endpoint_id = %s" % eid)

    def test_empty_endpoint_is_zeros_and_nulls(self):
        ep = h.register_endpoint(self.receiver.url("/never-used"), [CODE], reseller_id=self.res_a,
                                 user=self.user_a, api_password=PW_A)
        self.eps["fresh"] = ep
        self.assertEqual(self.stats("fresh"), {
            "window": "24h", "attempts": 0, "succeeded": 0, "failed": 0, "successRate": None,
            "latencyMs": {"p50": None, "p95": None, "p99": None}, "pending": 0, "oldestPendingAt": None,
            "lastError": None})

    def test_another_resellers_endpoint_is_404_like_an_unknown_one(self):
        status, _, body = h.api("GET", "/endpoints/%s/stats" % self.eps["ok"]["id"], user=self.user_b, password=PW_B)
        status2, _, body2 = h.api("GET", "/endpoints/ep_000000000000000000000000/stats",
                                  user=self.user_b, password=PW_B)
        self.assertEqual((status, status2), (404, 404))
        self.assertEqual(body, body2)
        # a deleted endpoint too
        ep = h.register_endpoint(self.receiver.url("/gone"), [CODE], reseller_id=self.res_a,
                                 user=self.user_a, api_password=PW_A)
        self.assertEqual(h.api("DELETE", "/endpoints/" + ep["id"], user=self.user_a, password=PW_A)[0], 204)
        status, _, body = h.api("GET", "/endpoints/%s/stats" % ep["id"], user=self.user_a, password=PW_A)
        self.assertEqual((status, body), (404, body2))


if __name__ == "__main__":
    h.main()
