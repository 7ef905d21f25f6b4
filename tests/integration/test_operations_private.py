#!/usr/bin/env python3
"""Operations features that need a worker of their own settings, on a PRIVATE stack (the
shared fixture stack is never reconfigured): retention (rows aged by UPDATE are purged, young
and unfinished ones stay), disable/enable with PATCH (held, then sent at a bounded rate),
automatic disable after sustained failure (a 3 s period) and 410 Gone with the
system.endpoint-disabled event, and the stuck-deliveries view with no worker running."""
import json
import threading
import time
import unittest

import harness as h

CODE = "billing.subscription-modified"
SYSTEM = "system.endpoint-disabled"
STACK = None


def setUpModule():
    global STACK
    STACK = h.PrivateStack("operations")
    STACK.up()
    STACK.activate()
    STACK.stop_stack_worker()  # each test class runs the worker with its own settings


def tearDownModule():
    if STACK is not None:
        STACK.down()


def endpoint_db_id(public_id):
    return h.sql_value("SELECT id FROM webhook_endpoints WHERE public_id = %s" % h.q(public_id))


def statuses(public_id):
    return sorted(r[0] for r in h.sql(
        "SELECT d.status FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
        "WHERE ep.public_id = %s" % h.q(public_id)))


def event_db_id(public_id):
    return h.sql_value("SELECT id FROM webhook_events WHERE public_id = %s" % h.q(public_id))


def event(reseller, code=CODE, **data):
    return h.post_event({"eventCode": code, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                         "data": data or {"k": "v"}})


class Retention(unittest.TestCase):
    def setUp(self):
        self.worker = STACK.start_worker("ret-1", "--maintenance-interval", "1s", "--auto-disable-after", "off",
                                         "--retention-days", "30")
        self.rx = h.Receiver()
        self.rx.set("/bad", h.status(500))

    def tearDown(self):
        self.worker.stop()
        self.rx.close()

    def test_old_finished_rows_are_purged_young_and_unfinished_stay(self):
        res = h.unique_id("res")
        ok = h.register_endpoint(self.rx.url("/ok"), [CODE], reseller_id=res)["id"]
        bad = h.register_endpoint(self.rx.url("/bad"), [CODE], reseller_id=res + "-bad")["id"]
        held = h.register_endpoint(self.rx.url("/held"), [CODE], reseller_id=res + "-held", enabled=False)["id"]
        gone = h.register_endpoint(self.rx.url("/gone"), [CODE], reseller_id=res + "-gone", enabled=False)["id"]
        # created first (lower ids), aged below
        old_ok = [event(res, n=i) for i in range(2)]
        old_bad = event(res + "-bad")
        old_held = event(res + "-held")
        old_lonely = event(res + "-nobody")  # no subscriber: an event without deliveries
        old_gone = event(res + "-gone")      # its endpoint is deleted: the delivery is cancelled
        h.wait_until(lambda: statuses(ok) == ["delivered", "delivered"] and statuses(bad) == ["failed"]
                     and statuses(held) == ["pending"] and statuses(gone) == ["pending"],
                     timeout=60, message="old rows settled")
        self.assertEqual(h.api("DELETE", "/endpoints/" + gone)[0], 204)
        self.assertEqual(statuses(gone), ["cancelled"])
        young = event(res, n=99)
        h.wait_until(lambda: statuses(ok) == ["delivered"] * 3, timeout=30, message="young delivered")

        old_events = old_ok + [old_bad, old_held, old_lonely, old_gone]
        ids = ",".join(event_db_id(e) for e in old_events)
        self.assertEqual(int(h.sql_value("SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d "
                                         "ON d.id = a.delivery_id WHERE d.event_id IN (%s)" % ids)), 2 + 5)
        # Everything up to the last old event goes 40 days back, as time would have done it
        # (the purge walks ids oldest first and stops at the first young row); updated_at is
        # set explicitly, or ON UPDATE would make it now.
        last_old = max(int(event_db_id(e)) for e in old_events)
        h.sql("UPDATE webhook_events SET created_at = NOW(3) - INTERVAL 40 DAY WHERE id <= %d;"
              "UPDATE webhook_deliveries SET created_at = NOW(3) - INTERVAL 40 DAY, "
              "updated_at = NOW(3) - INTERVAL 40 DAY WHERE event_id <= %d" % (last_old, last_old))

        def purged():
            left = h.sql("SELECT public_id FROM webhook_events WHERE id IN (%s)" % ids)
            return {r[0] for r in left} == {old_held}
        h.wait_until(purged, timeout=30, message="old finished events purged, the held one kept")
        self.assertEqual(int(h.sql_value("SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d "
                                         "ON d.id = a.delivery_id WHERE d.event_id IN (%s)" % ids)), 0)
        self.assertEqual(int(h.sql_value("SELECT COUNT(*) FROM webhook_attempts WHERE delivery_id NOT IN "
                                         "(SELECT id FROM webhook_deliveries)")), 0)
        self.assertEqual(statuses(ok), ["delivered"])    # the young one
        self.assertEqual(statuses(bad), [])
        self.assertEqual(statuses(gone), [])             # cancelled: history of a deleted endpoint
        self.assertEqual(statuses(held), ["pending"])    # old but unfinished: kept
        self.assertIsNotNone(event_db_id(young))
        self.assertEqual(len(h.attempts_for_notification(h.deliveries_for_event(young)[0][0])), 1)
        self.worker.wait_log("retention (30 days): purged ")


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.worker = STACK.start_worker("life-1", "--auto-disable-after", "3s", "--retention-days", "0",
                                         "--per-endpoint-concurrency", "2")
        self.rx = h.Receiver()

    def tearDown(self):
        self.worker.stop()
        self.rx.close()

    def test_disable_holds_and_enable_sends_at_a_bounded_rate(self):
        res = h.unique_id("res")
        held = h.register_endpoint(self.rx.url("/held"), [CODE], reseller_id=res)["id"]
        barrier = h.register_endpoint(self.rx.url("/barrier"), [CODE], reseller_id=res)["id"]
        status, _, body = h.api("PATCH", "/endpoints/" + held, json={"enabled": False})
        self.assertEqual((status, body["enabled"]), (200, False), body)
        for i in range(8):
            event(res, n=i)
        # the other endpoint got all eight: the worker has had every chance to send /held's
        self.rx.wait_for(8, "/barrier", timeout=30)
        h.wait_until(lambda: statuses(barrier) == ["delivered"] * 8, timeout=30)
        self.assertEqual(self.rx.requests("/held"), [])
        self.assertEqual(statuses(held), ["pending"] * 8)  # kept: not sent, not failed
        self.assertEqual(h.sql_value("SELECT MAX(d.attempts) FROM webhook_deliveries d JOIN webhook_endpoints ep "
                                     "ON ep.id = d.endpoint_id WHERE ep.public_id = %s" % h.q(held)), "0")
        status, _, body = h.api("GET", "/endpoints/%s/deliveries?status=pending" % held)
        self.assertEqual((status, len(body["deliveries"])), (200, 8), body)

        lock = threading.Lock()
        state = {"active": 0, "max": 0}

        def slow_ack(req, n):
            with lock:
                state["active"] += 1
                state["max"] = max(state["max"], state["active"])
            time.sleep(0.3)
            with lock:
                state["active"] -= 1
            return h.Response(200, {"notificationId": req.notification_id})
        self.rx.set("/held", slow_ack)
        status, _, body = h.api("PATCH", "/endpoints/" + held, json={"enabled": True})
        self.assertEqual((status, body["enabled"]), (200, True), body)
        h.wait_until(lambda: statuses(held) == ["delivered"] * 8, timeout=60, message="held deliveries sent")
        self.assertEqual(len({r.notification_id for r in self.rx.requests("/held")}), 8)
        self.assertLessEqual(state["max"], 2, "per_endpoint_concurrency bounds the catch-up")

    def _disabled_deliveries(self, event_code, endpoint_public_id):
        return h.sql("SELECT d.notification_id, d.status FROM webhook_deliveries d "
                     "JOIN webhook_events e ON e.id = d.event_id JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
                     "WHERE e.event_code = %s AND ep.public_id = %s" % (h.q(event_code), h.q(endpoint_public_id)))

    def test_sustained_failure_disables_and_notifies_the_scope(self):
        res = h.unique_id("res")
        self.rx.set("/down", h.status(500))
        down = h.register_endpoint(self.rx.url("/down"), [CODE, SYSTEM], reseller_id=res)["id"]
        watch = h.register_endpoint(self.rx.url("/watch"), [SYSTEM], reseller_id=res)
        other_scope = h.register_endpoint(self.rx.url("/other"), [SYSTEM], reseller_id=res + "-x")["id"]
        off = h.register_endpoint(self.rx.url("/off"), [SYSTEM], reseller_id=res, enabled=False)["id"]
        not_subscribed = h.register_endpoint(self.rx.url("/nosub"), [CODE], reseller_id=res + "-n")["id"]
        event(res)

        def disabled():
            _, _, body = h.api("GET", "/endpoints/" + down)
            return body if body.get("enabled") is False else None
        body = h.wait_until(disabled, timeout=30, message="the failing endpoint auto-disabled")
        self.assertEqual(body["disabledReason"], "auto-disabled: every delivery attempt failed for 3s")
        # held, not failed: the remaining attempt waits for a re-enable
        self.assertEqual(statuses(down), ["pending"])
        attempts = h.sql("SELECT MIN(a.started_at), MAX(a.started_at), COUNT(*) FROM webhook_attempts a "
                         "JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN webhook_endpoints ep "
                         "ON ep.id = d.endpoint_id WHERE ep.public_id = %s AND a.outcome = 'failure'" % h.q(down))[0]
        span = h.sql_value("SELECT TIMESTAMPDIFF(MICROSECOND, %s, %s) / 1e6" % (h.q(attempts[0]), h.q(attempts[1])))
        self.assertGreaterEqual(float(span), 3.0, "failures spanned the period before the disable")

        reqs = self.rx.wait_for(1, "/watch", timeout=30)
        self.assertEqual(len(reqs), 1)
        doc = reqs[0].json()
        self.assertEqual(doc["eventCode"], SYSTEM)
        self.assertEqual(doc["dataType"], "object")
        self.assertEqual(doc["resellerId"], res)
        self.assertEqual(set(doc["data"]), {"endpointId", "url", "reason", "disabledAt"})
        self.assertEqual(doc["data"]["endpointId"], down)
        self.assertEqual(doc["data"]["url"], self.rx.url("/down"))
        self.assertEqual(doc["data"]["reason"], body["disabledReason"])
        self.assertRegex(doc["data"]["disabledAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIsNone(h.check_signature(watch["secret"], reqs[0]))
        # its delivery carries the code for the delivery log's filter (set by the disable's INSERT)
        status, _, listing = h.api("GET", "/endpoints/%s/deliveries?eventCode=%s" % (watch["id"], SYSTEM))
        self.assertEqual(status, 200, listing)
        self.assertEqual([d["notificationId"] for d in listing["deliveries"]], [doc["notificationId"]])
        # only the other enabled, subscribed endpoints of the same scope
        self.assertEqual(self._disabled_deliveries(SYSTEM, down), [])
        self.assertEqual(self._disabled_deliveries(SYSTEM, other_scope), [])
        self.assertEqual(self._disabled_deliveries(SYSTEM, off), [])
        self.assertEqual(self._disabled_deliveries(SYSTEM, not_subscribed), [])
        # the admin view lists it
        self.assertEqual(h.sql_value("SELECT disabled_reason FROM webhook_failing_endpoints WHERE endpoint_id = %s"
                                     % h.q(down)), body["disabledReason"])
        self.worker.wait_log("WH00180: endpoint " + down)

    def test_gone_disables_and_notifies_once(self):
        res = h.unique_id("pf")
        self.rx.set("/gone", h.gone())
        gone = h.register_endpoint(self.rx.url("/gone"), [CODE], portfolio_id=res)["id"]
        watch = h.register_endpoint(self.rx.url("/watch410"), [SYSTEM], portfolio_id=res)["id"]
        for i in range(3):
            h.post_event({"eventCode": CODE, "resellerId": h.unique_id("res"), "portfolioId": res, "data": {"i": i}})

        def disabled():
            _, _, body = h.api("GET", "/endpoints/" + gone)
            return body if body.get("enabled") is False else None
        body = h.wait_until(disabled, timeout=30, message="410 disables the endpoint")
        reqs = self.rx.wait_for(1, "/watch410", timeout=30)
        doc = reqs[0].json()
        self.assertEqual((doc["eventCode"], doc["portfolioId"], doc["resellerId"]), (SYSTEM, res, ""))
        self.assertEqual((doc["data"]["endpointId"], doc["data"]["reason"]), (gone, body["disabledReason"]))
        self.assertTrue(body["disabledReason"].startswith("410"), body)
        # one disable, one system event (however many deliveries saw the 410)
        h.wait_until(lambda: statuses(watch) == ["delivered"], timeout=30)
        self.assertEqual(int(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE event_code = %s AND "
                                         "portfolio_id = %s" % (h.q(SYSTEM), h.q(res)))), 1)


class StuckView(unittest.TestCase):
    """webhook_stuck_deliveries with no worker running (every worker of this stack stopped)."""

    def test_lease_expired_and_overdue_are_listed(self):
        res = h.unique_id("res")
        rx = h.Receiver()
        try:
            ep = h.register_endpoint(rx.url("/s"), [CODE], reseller_id=res)["id"]
            held = h.register_endpoint(rx.url("/h"), [CODE], reseller_id=res, enabled=False)["id"]
        finally:
            rx.close()
        epid, heldid = endpoint_db_id(ep), endpoint_db_id(held)
        # events written straight into the outbox, already fanned out, with hand-made deliveries
        h.sql("INSERT INTO webhook_events (event_code, reseller_id, portfolio_id, data, fanned_out_at) VALUES "
              "(%s, %s, 'p', '{}', NOW(3)), (%s, %s, 'p', '{}', NOW(3)), (%s, %s, 'p', '{}', NOW(3))"
              % (h.q(CODE), h.q(res), h.q(CODE), h.q(res), h.q(CODE), h.q(res)))
        evs = [r[0] for r in h.sql("SELECT id FROM webhook_events WHERE reseller_id = %s ORDER BY id" % h.q(res))]
        h.sql("INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, next_attempt_at, "
              "lease_owner, lease_expires_at) VALUES "
              "(%s, %s, 'inflight', 1, NOW(3), 'ghost', NOW(3) - INTERVAL 90 SECOND), "
              "(%s, %s, 'pending', 0, NOW(3) - INTERVAL 10 MINUTE, NULL, NULL), "
              "(%s, %s, 'pending', 0, NOW(3) - INTERVAL 10 MINUTE, NULL, NULL)"
              % (evs[0], epid, evs[1], epid, evs[2], heldid))
        rows = h.sql("SELECT reason, status, lease_owner, overdue_s FROM webhook_stuck_deliveries "
                     "WHERE endpoint_id IN (%s, %s) ORDER BY reason" % (h.q(ep), h.q(held)))
        self.assertEqual([r[:3] for r in rows], [("lease expired", "inflight", "ghost"),
                                                 ("overdue", "pending", None)])
        self.assertTrue(90 <= int(rows[0][3]) < 150, rows)
        self.assertTrue(600 <= int(rows[1][3]) < 660, rows)
        # a worker reaps the lease and sends both: nothing is stuck any more
        w = STACK.start_worker("stuck-1", "--retention-days", "0")
        try:
            h.wait_until(lambda: h.sql("SELECT COUNT(*) FROM webhook_stuck_deliveries WHERE endpoint_id = %s"
                                       % h.q(ep)) == [("0",)], timeout=30, message="stuck rows recovered")
        finally:
            w.stop()


if __name__ == "__main__":
    h.main()
