#!/usr/bin/env python3
"""Deliveries in the integrator API (docs/contract.md §4): list, one with its
attempts, redeliver, recover. Needs the stack fixture's short schedule (1s,1s,1s,1s).

Written for tests/integration/ (uses its harness.py): move it there as
test_deliveries_api.py.
"""
import datetime
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "integration"))
import harness as h  # noqa: E402

CODE = "billing.transaction-created"


def wait_status(ntf, status, timeout=40):
    h.wait_until(lambda: h.sql_value("SELECT status FROM webhook_deliveries WHERE notification_id = %s"
                                     % h.q(ntf)) == status,
                 timeout=timeout, message="delivery %s never became %s" % (ntf, status))


class DeliveriesApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def failed_delivery(self, path):
        """An endpoint whose receiver never acknowledges, and its delivery once failed."""
        reseller = h.unique_id("res")
        self.receiver.set(path, h.never_ack())
        ep = h.register_endpoint(self.receiver.url(path), [CODE], reseller_id=reseller)
        event_id = h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                                 "data": {"billingTransactionId": "bt_1"}})
        h.wait_until(lambda: h.deliveries_for_event(event_id), timeout=30, message="no delivery created")
        ntf = h.deliveries_for_event(event_id)[0][0]
        wait_status(ntf, "failed")
        return ep, event_id, ntf

    def test_failed_delivery_shows_every_attempt_and_can_be_redelivered(self):
        ep, event_id, ntf = self.failed_delivery("/never")
        status, _, body = h.api("GET", "/deliveries/" + ntf)
        self.assertEqual(status, 200, body)
        self.assertEqual((body["notificationId"], body["endpointId"], body["eventId"], body["eventCode"],
                          body["status"], body["attemptCount"]), (ntf, ep["id"], event_id, CODE, "failed", 5))
        self.assertEqual([a["attemptNo"] for a in body["attempts"]], [1, 2, 3, 4, 5])
        self.assertTrue(all(a["outcome"] == "failure" and a["httpStatus"] == 200 for a in body["attempts"]), body)
        status, _, listing = h.api("GET", "/endpoints/%s/deliveries?status=failed" % ep["id"])
        self.assertEqual(status, 200, listing)
        self.assertEqual([d["notificationId"] for d in listing["deliveries"]], [ntf])
        self.assertNotIn("attempts", listing["deliveries"][0])
        status, _, listing = h.api("GET", "/endpoints/%s/deliveries?status=delivered" % ep["id"])
        self.assertEqual((status, listing["deliveries"]), (200, []))

        self.receiver.set("/never", h.ack())
        before = len(self.receiver.requests("/never"))
        status, _, body = h.api("POST", "/deliveries/%s/redeliver" % ntf)
        self.assertEqual(status, 202, body)
        self.receiver.wait_for(before + 1, "/never", timeout=30)
        wait_status(ntf, "delivered")
        self.assertEqual(len(h.attempts_for_notification(ntf)), 6)

    def test_recover_requeues_failed_deliveries_since(self):
        ep, _, ntf = self.failed_delivery("/never2")
        future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
        status, _, body = h.api("POST", "/endpoints/%s/recover" % ep["id"],
                                json={"since": future.strftime("%Y-%m-%dT%H:%M:%SZ")})
        self.assertEqual((status, body), (202, {"requeued": 0}))
        self.receiver.set("/never2", h.ack())
        status, _, body = h.api("POST", "/endpoints/%s/recover" % ep["id"], json={"since": "2020-01-01T00:00:00Z"})
        self.assertEqual((status, body), (202, {"requeued": 1}))
        wait_status(ntf, "delivered")
        status, _, body = h.api("POST", "/endpoints/%s/recover" % ep["id"], json={"since": "last week"})
        self.assertEqual(status, 422, body)
        self.assertEqual([e["field"] for e in body["errors"]], ["since"])

    def test_unknown_delivery_is_404(self):
        self.assertEqual(h.api("GET", "/deliveries/ntf_000000000000000000000000")[0], 404)
        self.assertEqual(h.api("POST", "/deliveries/ntf_000000000000000000000000/redeliver")[0], 404)


if __name__ == "__main__":
    h.main()
