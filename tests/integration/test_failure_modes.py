#!/usr/bin/env python3
"""How the worker judges replies (DESIGN.md section 5): a 2xx without the right
acknowledgement, a redirect (never followed), a timeout are failures and are retried;
Retry-After on 429 pushes the next attempt later; 410 Gone disables the endpoint;
ackMode "status" accepts any 2xx."""
import time
import unittest

import harness as h

CODE = "processing.return-processed"
SCHEDULE_S = 1.0  # the fixture's WEBHOOK_RETRY_SCHEDULE=1s,1s,1s,1s


def request_timeout_s():
    return int(h.env().get("WEBHOOK_REQUEST_TIMEOUT_MS") or 15000) / 1000.0


class FailureModes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = r = h.Receiver()
        cls.hang_s = request_timeout_s() + 3
        cases = {
            "wrong-id": (h.wrong_id(), {}),
            "empty": (h.empty_200(), {}),
            "redirect": (h.redirect(r.url("/redirect-target")), {}),
            "throttled": (h.status(429, retry_after=3), {}),
            "gone": (h.gone(), {}),
            "hang": (h.hang(cls.hang_s), {}),
            "status-mode": (h.empty_200(), {"ackMode": "status"}),
        }
        cls.endpoints, cls.events = {}, {}
        r.set("/redirect-target", h.ack())
        for name, (behaviour, extra) in cases.items():
            reseller = h.unique_id("res")
            url = r.set("/" + name, behaviour)
            cls.endpoints[name] = h.register_endpoint(url, [CODE], reseller_id=reseller, **extra)
            cls.events[name] = h.post_event({"eventCode": CODE, "resellerId": reseller,
                                             "portfolioId": h.unique_id("pf"),
                                             "data": {"transactionId": "tx_" + name, "returnCode": "R01"}})

    @classmethod
    def tearDownClass(cls):
        # cancel whatever is still pending so the rest of the suite runs on a quiet worker
        for ep in cls.endpoints.values():
            h.api("DELETE", "/endpoints/" + ep["id"])
        cls.r.close()

    def first_attempt(self, name, timeout=20):
        def attempt():
            rows = h.deliveries_for_event(self.events[name])
            if not rows:
                return None
            attempts = h.attempts_for_notification(rows[0][0])
            return attempts[0] if attempts else None
        return h.wait_until(attempt, timeout=timeout, message="the first attempt of %s to be recorded" % name)

    def assert_retried(self, name, http_status):
        reqs = self.r.wait_for(2, "/" + name, timeout=20)
        self.assertEqual(reqs[0].notification_id, reqs[1].notification_id)
        self.assertGreaterEqual(reqs[1].time - reqs[0].time, 0.9 * SCHEDULE_S)
        attempt = self.first_attempt(name)
        self.assertEqual(attempt[1], "failure", attempt)
        self.assertEqual(attempt[2], http_status, attempt)

    def test_wrong_notification_id_is_a_failure(self):
        self.assert_retried("wrong-id", "200")

    def test_empty_200_is_a_failure(self):
        self.assert_retried("empty", "200")

    def test_redirect_is_a_failure_and_not_followed(self):
        self.assert_retried("redirect", "302")
        self.assertEqual(self.r.requests("/redirect-target"), [], "redirects must never be followed")

    def test_retry_after_pushes_the_next_attempt(self):
        reqs = self.r.wait_for(2, "/throttled", timeout=20)
        gap = reqs[1].time - reqs[0].time
        self.assertGreaterEqual(gap, 2.8, "Retry-After: 3 must delay the retry past the 1 s schedule (gap %.2f s)" % gap)
        attempt = self.first_attempt("throttled")
        self.assertEqual((attempt[1], attempt[2]), ("failure", "429"))

    def test_gone_disables_the_endpoint(self):
        self.r.wait_for(1, "/gone", timeout=20)
        ep_id = self.endpoints["gone"]["id"]

        def disabled():
            status, _, body = h.api("GET", "/endpoints/" + ep_id)
            self.assertEqual(status, 200, body)
            return body if body.get("enabled") is False else None
        body = h.wait_until(disabled, timeout=10, message="endpoint %s to be disabled after 410" % ep_id)
        self.assertTrue(body.get("disabledReason"), body)
        time.sleep(3 * SCHEDULE_S)
        self.assertEqual(len(self.r.requests("/gone")), 1, "a disabled endpoint gets nothing more")

    def test_timeout_is_a_failure(self):
        self.r.wait_for(1, "/hang", timeout=20)
        attempt = self.first_attempt("hang", timeout=request_timeout_s() + 15)
        self.assertEqual(attempt[1], "failure", attempt)
        self.assertIsNone(attempt[2], "a timed-out attempt has no HTTP status: %r" % (attempt,))
        self.assertTrue(attempt[3], "a timed-out attempt has an error class: %r" % (attempt,))

    def test_ack_mode_status_accepts_any_2xx(self):
        self.r.wait_for(1, "/status-mode", timeout=20)
        h.wait_until(lambda: h.deliveries_for_event(self.events["status-mode"])[0][2] == "delivered",
                     timeout=10, message="the ackMode=status delivery to be 'delivered'")
        self.assertEqual(len(self.r.requests("/status-mode")), 1)


if __name__ == "__main__":
    h.main()
