#!/usr/bin/env python3
"""Test notifications (POST /endpoints/{id}/test, docs/registration-api.md): one
notification of a type's example to one endpoint only, through the normal path (signed,
Basic auth, recorded), marked test in the API and the admin views, one attempt and no
re-delivery, 10 per endpoint per minute, never counted for auto-disable (a private stack
whose worker disables after 8 s of failure). Needs the stack fixture's short schedule
(1s,1s,1s,1s): a re-delivery would come a second after the first failure.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CHARGEBACK = "processing.chargeback-processed"
SUBSCRIPTION = "billing.subscription-created"
ENVELOPE = {"notificationId", "eventCode", "eventDate", "dataType", "resellerId", "portfolioId", "data"}


def examples():
    status, _, body = h.api("GET", "/event-types")
    assert status == 200, body
    return {t["code"]: t["example"] for t in body["eventTypes"]}


def send_test(ep_id, code=None, **kw):
    return h.api("POST", "/endpoints/%s/test" % ep_id, json=None if code is None else {"eventCode": code}, **kw)


class SendTestEvents(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()
        cls.examples = examples()

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def endpoint(self, path, behaviour, codes, reseller=None):
        auth = (h.unique_id("hookuser"), h.new_password("hook"))
        ep = h.register_endpoint(self.receiver.set(path, behaviour), codes,
                                 reseller_id=reseller or h.unique_id("res"), username=auth[0], password=auth[1])
        self.receiver.expect(path, ep["secret"], auth)
        self.addCleanup(h.api, "DELETE", "/endpoints/" + ep["id"])
        return ep

    def delivery(self, ntf):
        status, _, body = h.api("GET", "/deliveries/" + ntf)
        self.assertEqual(status, 200, body)
        return body

    def test_every_type_has_a_realistic_example(self):
        types = h.event_types()
        self.assertEqual(set(self.examples), set(types))
        for code, data_type in types.items():
            ex = self.examples[code]
            self.assertIsInstance(ex, dict, code)
            self.assertTrue(ex, "%s: empty example" % code)
            if data_type == "transaction":
                for field in ("transactionId", "amount", "currency", "status"):
                    self.assertIn(field, ex, code)
            for key, value in ex.items():
                if key == "amount" or key.endswith("Amount"):
                    self.assertIsInstance(value, str, "%s: amounts are strings" % code)

    def test_reaches_only_that_endpoint_signed_and_marked_test(self):
        reseller = h.unique_id("res")
        ep = self.endpoint("/t-only", h.ack(), [SUBSCRIPTION, CHARGEBACK], reseller)
        other = self.endpoint("/t-other", h.ack(), [CHARGEBACK], reseller)
        started_ms = int(time.time() * 1000)
        status, _, body = send_test(ep["id"], CHARGEBACK)
        self.assertEqual(status, 202, body)
        ntf = body["notificationId"]
        self.assertEqual(set(body), {"notificationId"})
        # the delivery exists at answer time: the fan-out makes no second one
        self.assertEqual(len(h.sql("SELECT d.id FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
                                   "WHERE e.id = (SELECT event_id FROM webhook_deliveries WHERE notification_id = %s)"
                                   % h.q(ntf))), 1)
        got = self.receiver.wait_for(1, "/t-only", timeout=30)
        self.assertEqual(self.receiver.problems, [])  # signature and Basic auth checked by the receiver
        req = got[0]
        doc = req.json()
        self.assertEqual(req.notification_id, ntf)
        self.assertEqual(set(doc), ENVELOPE)  # the normal body: no test member, no merchantId
        self.assertEqual((doc["eventCode"], doc["dataType"], doc["resellerId"], doc["portfolioId"]),
                         (CHARGEBACK, "transaction", reseller, ""))
        self.assertEqual(doc["data"], self.examples[CHARGEBACK])
        self.assertGreaterEqual(doc["eventDate"], started_ms - 5000)
        h.wait_until(lambda: self.delivery(ntf)["status"] == "delivered", timeout=30)
        one = self.delivery(ntf)
        self.assertTrue(one["test"])
        self.assertEqual((one["endpointId"], one["eventCode"], one["attemptCount"]), (ep["id"], CHARGEBACK, 1))
        status, _, listing = h.api("GET", "/endpoints/%s/deliveries" % ep["id"])
        self.assertEqual(status, 200, listing)
        self.assertEqual([(d["notificationId"], d["test"]) for d in listing["deliveries"]], [(ntf, True)])
        # the other endpoint of the scope, subscribed to the same type, got nothing
        time.sleep(1.5)
        self.assertEqual(self.receiver.requests("/t-other"), [])
        status, _, listing = h.api("GET", "/endpoints/%s/deliveries" % other["id"])
        self.assertEqual((status, listing["deliveries"]), (200, []))
        # a normal event to the same scope is not a test, and reaches both
        event_id = h.post_event({"eventCode": CHARGEBACK, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                                 "data": {"transactionId": "txn_1"}})
        self.receiver.wait_for(1, "/t-other", timeout=30)
        rows = h.deliveries_for_event(event_id)
        self.assertEqual(len(rows), 2)
        status, _, listing = h.api("GET", "/endpoints/%s/deliveries" % other["id"])
        self.assertEqual([d["test"] for d in listing["deliveries"]], [False])

    def test_fan_out_sends_a_test_event_to_its_endpoint_alone(self):
        # the API makes a test's delivery itself; an unfanned test event (as a script might
        # insert) still reaches only the endpoint it names
        reseller = h.unique_id("res")
        ep = self.endpoint("/t-fence", h.ack(), [SUBSCRIPTION], reseller)
        other = self.endpoint("/t-fence-other", h.ack(), [SUBSCRIPTION], reseller)
        event_id = "evt_" + os.urandom(12).hex()
        h.sql("INSERT INTO webhook_events (public_id, event_code, reseller_id, portfolio_id, data, test_endpoint_id) "
              "SELECT %s, %s, %s, '', '{}', id FROM webhook_endpoints WHERE public_id = %s"
              % (h.q(event_id), h.q(SUBSCRIPTION), h.q(reseller), h.q(ep["id"])))
        self.receiver.wait_for(1, "/t-fence", timeout=30)
        self.assertEqual([r[1] for r in h.deliveries_for_event(event_id)], [ep["id"]])
        status, _, listing = h.api("GET", "/endpoints/%s/deliveries" % ep["id"])
        self.assertEqual([d["test"] for d in listing["deliveries"]], [True])
        self.assertEqual(h.api("GET", "/endpoints/%s/deliveries" % other["id"])[2]["deliveries"], [])
        self.assertEqual(self.receiver.requests("/t-fence-other"), [])

    def test_delivery_views_have_a_test_column(self):
        for view in ("webhook_stuck_deliveries", "webhook_exhausted_deliveries"):
            self.assertEqual(h.sql_value("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                                         "DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = 'test'" % h.q(view)),
                             "1", view)
            self.assertEqual(h.sql_value("SELECT SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_SCHEMA = "
                                         "DATABASE() AND TABLE_NAME = %s" % h.q(view)), "INVOKER", view)

    def test_default_type_and_no_body(self):
        ep = self.endpoint("/t-default", h.ack(), [SUBSCRIPTION, CHARGEBACK])
        for kw in ({}, {"body": b"", "headers": {"Content-Type": "application/json"}}, {"json": {}}):
            status, _, body = h.api("POST", "/endpoints/%s/test" % ep["id"], **kw)
            self.assertEqual(status, 202, (kw, body))
            # the first of the endpoint's types in catalogue order: billing before processing
            self.assertEqual(self.delivery(body["notificationId"])["eventCode"], SUBSCRIPTION)
        status, _, body = h.api("POST", "/endpoints/%s/test" % ep["id"], body=b"{\"eventCode\":",
                                headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, body)
        status, _, body = h.api("POST", "/endpoints/%s/test" % ep["id"], body=b"{}",
                                headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415, body)

    def test_one_attempt_when_the_receiver_fails(self):
        ep = self.endpoint("/t-fail", h.status(500), [SUBSCRIPTION])
        status, _, body = send_test(ep["id"])
        self.assertEqual(status, 202, body)
        ntf = body["notificationId"]
        h.wait_until(lambda: self.delivery(ntf)["status"] == "failed", timeout=30)
        # the schedule would retry a second later: wait well past it
        time.sleep(3.5)
        one = self.delivery(ntf)
        self.assertEqual((one["status"], one["attemptCount"], one["nextAttemptAt"], one["test"]),
                         ("failed", 1, None, True))
        self.assertEqual([a["httpStatus"] for a in one["attempts"]], [500])
        self.assertEqual(len(self.receiver.requests("/t-fail")), 1)
        # never sent again: neither on request nor by recover
        status, _, body = h.api("POST", "/deliveries/%s/redeliver" % ntf)
        self.assertEqual(status, 409, body)
        status, _, body = h.api("POST", "/endpoints/%s/recover" % ep["id"], json={"since": "2020-01-01T00:00:00Z"})
        self.assertEqual((status, body), (202, {"requeued": 0}))
        # the admin view shows it as a test, and the endpoint's breaker count is untouched
        self.assertEqual(h.sql("SELECT test, attempts FROM webhook_exhausted_deliveries WHERE notification_id = %s"
                               % h.q(ntf)), [("1", "1")])
        self.assertEqual(h.sql_value("SELECT consecutive_timeouts FROM webhook_endpoints WHERE public_id = %s"
                                     % h.q(ep["id"])), "0")

    def test_a_gone_reply_to_a_test_leaves_the_endpoint_enabled(self):
        ep = self.endpoint("/t-gone", h.gone(), [SUBSCRIPTION])
        status, _, body = send_test(ep["id"])
        self.assertEqual(status, 202, body)
        ntf = body["notificationId"]
        h.wait_until(lambda: self.delivery(ntf)["status"] == "failed", timeout=30)
        status, _, body = h.api("GET", "/endpoints/" + ep["id"])
        self.assertEqual((status, body["enabled"], body["disabledReason"]), (200, True, None))

    def test_rate_limit_of_ten_a_minute(self):
        ep = self.endpoint("/t-rate", h.ack(), [SUBSCRIPTION])
        # concurrently: the endpoint's row lock counts them one after the other
        results = h.run_together(12, lambda i: send_test(ep["id"]))
        codes = sorted(r[0] for r in results)
        self.assertEqual(codes, [202] * 10 + [429] * 2, codes)
        status, headers, body = send_test(ep["id"])
        self.assertEqual(status, 429, body)
        self.assertEqual(body["title"], "Too Many Requests")
        retry_after = int(headers.get("retry-after", "0"))
        self.assertTrue(1 <= retry_after <= 60, retry_after)
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE test_endpoint_id = "
                                     "(SELECT id FROM webhook_endpoints WHERE public_id = %s)" % h.q(ep["id"])), "10")
        # another endpoint has its own ten
        other = self.endpoint("/t-rate2", h.ack(), [SUBSCRIPTION])
        self.assertEqual(send_test(other["id"])[0], 202)

    def test_refusals(self):
        reseller = h.unique_id("res")
        ep = self.endpoint("/t-refuse", h.ack(), [SUBSCRIPTION], reseller)
        # another reseller's principal sees no such endpoint; nor does anyone see an unknown one
        user, pw = h.unique_id("utest"), h.new_password("api")
        h.add_principal(user, pw, "--reseller", h.unique_id("res"))
        status, _, body = send_test(ep["id"], user=user, password=pw)
        self.assertEqual(status, 404, body)
        self.assertEqual(send_test("ep_000000000000000000000000")[0], 404)
        # unknown code, unknown member, wrong type: 422 naming the field
        status, _, body = send_test(ep["id"], "billing.no-such-thing")
        self.assertEqual(status, 422, body)
        self.assertEqual([e["field"] for e in body["errors"]], ["eventCode"])
        status, _, body = h.api("POST", "/endpoints/%s/test" % ep["id"], json={"eventCode": 7, "extra": 1})
        self.assertEqual(status, 422, body)
        self.assertEqual(sorted(e["field"] for e in body["errors"]), ["eventCode", "extra"])
        status, _, body = h.api("POST", "/endpoints/%s/test" % ep["id"], json=[CHARGEBACK])
        self.assertEqual(status, 422, body)
        # any catalogue code, subscribed or not, is allowed
        status, _, body = send_test(ep["id"], CHARGEBACK)
        self.assertEqual(status, 202, body)
        # disabled: 409, and nothing queued
        status, _, body = h.api("PATCH", "/endpoints/" + ep["id"], json={"enabled": False})
        self.assertEqual(status, 200, body)
        status, _, body = send_test(ep["id"])
        self.assertEqual(status, 409, body)
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE test_endpoint_id = "
                                     "(SELECT id FROM webhook_endpoints WHERE public_id = %s)" % h.q(ep["id"])), "1")
        self.assertEqual(self.receiver.problems, [])


class TestsAndAutoDisable(unittest.TestCase):
    """Auto-disable (auto_disable_after 8s) neither counts a test's failure nor lets a test's
    success restart its clock. The ordinary notification's five attempts (1s,1s,1s,1s) span
    about 4 s, short of the period on their own."""
    PERIOD_S = 8

    @classmethod
    def setUpClass(cls):
        cls.stack = h.PrivateStack("send_test_events")
        cls.stack.up()
        cls.stack.activate()
        cls.stack.stop_stack_worker()
        cls.worker = cls.stack.start_worker("tests-1", "--auto-disable-after", "%ds" % cls.PERIOD_S)
        cls.rx = h.Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.rx.close()
        cls.stack.down()

    def enabled(self, ep_id):
        status, _, body = h.api("GET", "/endpoints/" + ep_id)
        self.assertEqual(status, 200, body)
        return body["enabled"]

    def failing_event(self, reseller, wait=True):
        event_id = h.post_event({"eventCode": SUBSCRIPTION, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                                 "data": {"subscriptionId": "sub_1"}})
        if wait:
            h.wait_until(lambda: [r[2] for r in h.deliveries_for_event(event_id)] == ["failed"], timeout=40,
                         message="the ordinary notification failed after its five attempts")

    def test_auto_disable_leaves_tests_out(self):
        # stale: a test failed more than a period before the ordinary failures
        stale_res, clock_res = h.unique_id("res"), h.unique_id("res")
        stale = h.register_endpoint(self.rx.set("/stale", h.status(500)), [SUBSCRIPTION], reseller_id=stale_res)
        # clock: ordinary failures, then a test that succeeds, then ordinary failures a
        # period after the first ones
        clock = h.register_endpoint(self.rx.set("/clock", h.status(500)), [SUBSCRIPTION], reseller_id=clock_res)
        status, _, body = send_test(stale["id"])
        self.assertEqual(status, 202, body)
        stale_ntf = body["notificationId"]
        h.wait_until(lambda: h.sql_value("SELECT status FROM webhook_deliveries WHERE notification_id = %s"
                                         % h.q(stale_ntf)) == "failed", timeout=30)
        started = time.monotonic()
        self.failing_event(clock_res)
        self.rx.set("/clock", h.ack())
        status, _, body = send_test(clock["id"])
        self.assertEqual(status, 202, body)
        clock_ntf = body["notificationId"]
        h.wait_until(lambda: h.sql_value("SELECT status FROM webhook_deliveries WHERE notification_id = %s"
                                         % h.q(clock_ntf)) == "delivered", timeout=30)
        self.rx.set("/clock", h.status(500))
        time.sleep(max(0.0, self.PERIOD_S + 1 - (time.monotonic() - started)))
        self.failing_event(stale_res)
        self.failing_event(clock_res, wait=False)  # held once the endpoint is disabled
        # the test's old failure did not make the stale endpoint's failures span the period
        self.assertTrue(self.enabled(stale["id"]))
        # the test's success did not restart the clock: the ordinary failures span the period
        h.wait_until(lambda: not self.enabled(clock["id"]), timeout=20,
                     message="the endpoint whose only success was a test auto-disabled")


if __name__ == "__main__":
    h.main()
