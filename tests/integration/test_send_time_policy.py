#!/usr/bin/env python3
"""The worker checks the address policy again at send time, on every address it is about to
connect to: an endpoint whose URL was changed behind the API's back (straight in the table)
to an address the policy forbids is never contacted.

The shared stack allows 127.0.0.0/8 and ::1 only. 0.0.0.0 is "unspecified" (not allowed),
and on Linux a connection to it reaches the local host: if the send-time check were missing,
the receiver listening on 127.0.0.1 would get the notification."""
import time
import unittest

import harness as h

CODE = "billing.allocation-created"


class SendTimePolicy(unittest.TestCase):
    def setUp(self):
        self.receiver = h.Receiver()
        self.addCleanup(self.receiver.close)

    def test_forbidden_address_is_never_dialled(self):
        r = self.receiver
        reseller = h.unique_id("res")
        allowed = h.register_endpoint(r.set("/allowed", h.ack()), [CODE], reseller_id=reseller)
        sneaky = h.register_endpoint(r.set("/sneaky", h.ack()), [CODE], reseller_id=reseller)
        # the API refuses this URL, so it is written where only an admin could write it
        self.assertEqual(h.api("PATCH", "/endpoints/" + sneaky["id"],
                               json={"url": "http://0.0.0.0:%d/sneaky" % r.port})[0], 422)
        h.sql("UPDATE webhook_endpoints SET url = %s WHERE public_id = %s"
              % (h.q("http://0.0.0.0:%d/sneaky" % r.port), h.q(sneaky["id"])))

        event_id = h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                                 "data": {"allocationId": "a-1"}})
        r.wait_for(1, "/allowed", timeout=30)
        rows = {row[1]: row for row in h.deliveries_for_event(event_id)}
        ntf = rows[sneaky["id"]][0]
        # the shared stack's schedule is 1s,1s,1s,1s: five refused attempts, then failed
        h.wait_until(lambda: h.sql_value("SELECT status FROM webhook_deliveries WHERE notification_id = %s"
                                         % h.q(ntf)) == "failed", timeout=60,
                     message="the forbidden endpoint's notification to end failed")
        attempts = h.attempts_for_notification(ntf)
        self.assertEqual(len(attempts), 5, attempts)
        self.assertEqual({a[3] for a in attempts}, {"blocked-target"}, attempts)
        self.assertTrue(all(a[1] == "failure" and a[2] is None for a in attempts), attempts)
        last_error = h.sql_value("SELECT last_error FROM webhook_deliveries WHERE notification_id = %s" % h.q(ntf))
        # the integrator's view names no address (internal DNS stays private); the worker log does
        self.assertIn("not an allowed target", last_error)
        self.assertNotIn("0.0.0.0", last_error)
        status, _, body = h.api("GET", "/deliveries/" + ntf)
        self.assertEqual(status, 200, body)
        messages = [a.get("errorMessage") or "" for a in body["attempts"]]
        self.assertTrue(messages and all("0.0.0.0" not in m for m in messages), messages)
        worker_log = h.env()["WEBHOOK_WORKER_LOG"]
        h.wait_until(lambda: "WH00120: not sending to endpoint %s: its address 0.0.0.0 " % sneaky["id"]
                     in open(worker_log, errors="replace").read(), 10, message="WH00120 with the address")
        time.sleep(0.5)
        self.assertEqual(r.requests("/sneaky"), [], "the forbidden address was contacted")
        self.assertEqual(len(r.requests("/allowed")), 1)


if __name__ == "__main__":
    h.main()
