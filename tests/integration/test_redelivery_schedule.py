#!/usr/bin/env python3
"""Re-delivery follows the (shortened, 1s,1s,1s,1s) schedule: a receiver that never
acknowledges gets the same notification five times, about a second apart, and the delivery
ends 'failed'; a receiver that fails twice then acknowledges ends 'delivered' after three."""
import time
import unittest

import harness as h

CODE = "processing.chargeback-processed"


def post(reseller):
    return h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                         "merchantId": h.unique_id("mer"),
                         "data": {"transactionId": "tx_1001", "amount": 2500, "reasonCode": "10.4"}})


class RedeliverySchedule(unittest.TestCase):
    def setUp(self):
        self.receiver = h.Receiver()
        self.addCleanup(self.receiver.close)

    def tearDown(self):
        # every re-delivery is signed afresh and carries the credentials (Receiver.expect)
        self.assertEqual(self.receiver.problems, [])

    def endpoint(self, path, behaviour, reseller):
        url = self.receiver.set(path, behaviour)
        ep = h.register_endpoint(url, [CODE], reseller_id=reseller, username="redeliver", password="pw-redeliver-6c2e91")
        self.receiver.expect(path, ep["secret"], ("redeliver", "pw-redeliver-6c2e91"))

    def test_never_acknowledged_is_sent_five_times_then_failed(self):
        reseller = h.unique_id("res")
        self.endpoint("/never", h.never_ack(), reseller)
        event_id = post(reseller)

        reqs = self.receiver.wait_for(5, "/never", timeout=60)
        ids = {r.notification_id for r in reqs}
        self.assertEqual(len(ids), 1, "every re-delivery must carry the same notificationId: %r" % ids)
        (notification_id,) = ids
        self.assertTrue(notification_id)
        for r in reqs:
            self.assertEqual(r.headers.get("webhook-id"), notification_id)
        times = [r.time for r in reqs]
        gaps = [b - a for a, b in zip(times, times[1:])]
        for g in gaps:
            self.assertGreaterEqual(g, 0.9, "attempts closer than the 1 s schedule: gaps %r" % gaps)
            self.assertLess(g, 10, "attempts far slower than the 1 s schedule: gaps %r" % gaps)

        h.wait_until(lambda: h.deliveries_for_event(event_id)[0][2] == "failed", timeout=15,
                     message="the delivery to end 'failed'")
        rows = h.deliveries_for_event(event_id)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], notification_id)
        self.assertEqual(rows[0][3], "5")
        attempts = h.attempts_for_notification(notification_id)
        self.assertEqual([a[0] for a in attempts], ["1", "2", "3", "4", "5"], attempts)
        self.assertTrue(all(a[1] == "failure" for a in attempts), attempts)
        # after the fifth failure nothing more is sent
        time.sleep(3)
        self.assertEqual(len(self.receiver.requests("/never")), 5)

    def test_fails_twice_then_acknowledged(self):
        reseller = h.unique_id("res")
        self.endpoint("/flaky", h.fail_then_ack(2, status=500), reseller)
        event_id = post(reseller)

        reqs = self.receiver.wait_for(3, "/flaky", timeout=40)
        ids = {r.notification_id for r in reqs}
        self.assertEqual(len(ids), 1, ids)
        (notification_id,) = ids
        gaps = [b.time - a.time for a, b in zip(reqs, reqs[1:])]
        self.assertTrue(all(g >= 0.9 for g in gaps), gaps)

        h.wait_until(lambda: h.deliveries_for_event(event_id)[0][2] == "delivered", timeout=15,
                     message="the delivery to end 'delivered'")
        rows = h.deliveries_for_event(event_id)
        self.assertEqual(rows[0][3], "3", rows)
        attempts = h.attempts_for_notification(notification_id)
        self.assertEqual([(a[0], a[1], a[2]) for a in attempts],
                         [("1", "failure", "500"), ("2", "failure", "500"), ("3", "success", "200")])
        time.sleep(3)
        self.assertEqual(len(self.receiver.requests("/flaky")), 3, "no re-delivery after the acknowledgement")


if __name__ == "__main__":
    h.main()
