#!/usr/bin/env python3
"""How the worker judges replies (docs/contract.md §5), against a receiver that misbehaves on
purpose, on the shared stack (schedule 1s,1s,1s,1s). Every request is checked for Basic auth
and a valid Standard Webhooks signature (Receiver.expect). Covered here: a wrong
notificationId, 200 with no body (failure in ackMode notification-id, success in status),
a redirect (failure, never followed), a refused connection, 429/503 with Retry-After (next
attempt pushed later, capped at 24 h), 410 Gone (endpoint disabled with a reason), a reply
over 64 KiB (read capped, 4 KiB stored), and that every attempt row is complete.
"Fails N times then acknowledges" and "never acknowledges" are in
test_redelivery_schedule.py; "answers after the timeout" in test_worker_isolation.py."""
import threading
import time
import unittest

import harness as h

CODE = "processing.return-processed"
AUTH = ("hookuser", "pw:with:colons")
RELEASE = threading.Event()  # set at the end: lets the endless replies go
# Filler for long replies: "." starts no form of a secret (base64) or of AUTH, so the worker
# never trims the cut excerpt's tail as a possible start of a credential and keeps all 4096.
FILL = b"."


def endless_reply():
    """200, Content-Length 100 MiB, 128 KiB sent, then nothing until the test ends: only a
    worker that stops reading at 64 KiB judges it before the request timeout."""
    return lambda req, n: h.Response(200, FILL * (128 * 1024), declared_length=100 * 1024 * 1024,
                                     hold=RELEASE)


# not text: bytes no encoding accepts, a NUL, and more than the 4 KiB the attempt keeps
BINARY_REPLY = b"\xff\xfe\x00bin\x80" + FILL * 70000


class WorkerFailureModes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.r = r = h.Receiver()
        cases = {
            "wrong-id": (h.wrong_id(), {}),
            "empty": (h.empty_200(), {}),
            "empty-status-mode": (h.empty_200(), {"ackMode": "status"}),
            "redirect": (h.redirect(r.url("/redirect-target")), {}),
            "throttled": (h.status(429, retry_after=3), {}),
            "unavailable-long": (h.status(503, retry_after=10 * 24 * 3600), {}),
            "gone": (h.gone(), {}),
            "endless-status-mode": (endless_reply(), {"ackMode": "status"}),
            "binary": (h.status(502, body=BINARY_REPLY), {}),
        }
        r.set("/redirect-target", h.ack())
        cls.endpoints, cls.events, cls.urls = {}, {}, {}
        for name, (behaviour, extra) in cases.items():
            cls.urls[name] = r.set("/" + name, behaviour)
        cls.urls["refused"] = h.closed_port_url("/refused")
        for name, url in cls.urls.items():
            extra = cases.get(name, (None, {}))[1]
            reseller = h.unique_id("res")
            ep = h.register_endpoint(url, [CODE], reseller_id=reseller, username=AUTH[0], password=AUTH[1],
                                     **extra)
            r.expect("/" + name, ep["secret"], AUTH)
            cls.endpoints[name] = ep
            cls.events[name] = h.post_event({"eventCode": CODE, "resellerId": reseller,
                                             "portfolioId": h.unique_id("pf"),
                                             "data": {"transactionId": "tx_" + name, "returnCode": "R01"}})

    @classmethod
    def tearDownClass(cls):
        # cancel whatever is still pending so the rest of the suite runs on a quiet worker
        RELEASE.set()
        for ep in cls.endpoints.values():
            h.api("DELETE", "/endpoints/" + ep["id"])
        cls.r.close()

    def tearDown(self):
        self.assertEqual(self.r.problems, [], "requests without a valid signature / Basic auth")

    # -- helpers ---------------------------------------------------------------------------

    def delivery(self, name):
        rows = h.deliveries_for_event(self.events[name])
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def attempt_rows(self, name):
        """Full attempt rows: (attempt_no, outcome, http_status, error_class, error_message,
        excerpt length, duration_ms, started_at set, worker_id)."""
        ntf = self.delivery(name)[0]
        return h.sql("SELECT a.attempt_no, a.outcome, a.http_status, a.error_class, a.error_message, "
                     "LENGTH(a.response_excerpt), a.duration_ms, a.started_at IS NOT NULL "
                     " AND a.started_at <= NOW(3), a.worker_id "
                     "FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
                     "WHERE d.notification_id = %s ORDER BY a.attempt_no" % h.q(ntf))

    def first_attempt(self, name, timeout=20):
        return h.wait_until(lambda: (self.attempt_rows(name) or [None])[0], timeout=timeout,
                            message="the first attempt of %s to be recorded" % name)

    def assert_failure_retried(self, name, http_status, error_class):
        reqs = self.r.wait_for(2, "/" + name, timeout=20)
        self.assertEqual(reqs[0].notification_id, reqs[1].notification_id)
        self.assertGreaterEqual(reqs[1].time - reqs[0].time, 0.9, "retried before the 1 s schedule")
        a = self.first_attempt(name)
        self.assertEqual((a[0], a[1], a[2], a[3]), ("1", "failure", http_status, error_class), a)
        self.assertTrue(a[4], "a failed attempt says why: %r" % (a,))
        self.assertTrue(a[7] == "1" and a[8], "started_at and worker_id recorded: %r" % (a,))
        return a

    # -- the cases ---------------------------------------------------------------------------

    def test_wrong_notification_id_is_a_failure(self):
        a = self.assert_failure_retried("wrong-id", "200", "wrong-ack")
        self.assertIn("ntf_not_the_right_one", a[4])
        self.assertGreater(int(a[5]), 0, "the reply's first bytes are stored")

    def test_empty_200_is_a_failure_in_notification_id_mode(self):
        a = self.assert_failure_retried("empty", "200", "no-ack")
        self.assertIsNone(a[5], "no reply bytes, no excerpt")

    def test_empty_200_is_a_success_in_status_mode(self):
        self.r.wait_for(1, "/empty-status-mode", timeout=20)
        h.wait_until(lambda: self.delivery("empty-status-mode")[2] == "delivered", timeout=10,
                     message="the ackMode=status delivery to be 'delivered'")
        a = self.first_attempt("empty-status-mode")
        self.assertEqual((a[1], a[2], a[3], a[4]), ("success", "200", None, None), a)
        time.sleep(2)  # two schedule steps: nothing is sent again
        self.assertEqual(len(self.r.requests("/empty-status-mode")), 1)

    def test_redirect_is_a_failure_and_not_followed(self):
        self.assert_failure_retried("redirect", "302", "redirect")
        self.assertEqual(self.r.requests("/redirect-target"), [], "redirects must never be followed")

    def test_refused_connection_is_a_failure(self):
        a = h.wait_until(lambda: len(self.attempt_rows("refused")) >= 2 and self.attempt_rows("refused"),
                         timeout=20, message="two attempts to the closed port")
        for row in a[:2]:
            self.assertEqual((row[1], row[2], row[3]), ("failure", None, "connect"), row)
            self.assertTrue(row[4], row)
        self.assertEqual(self.delivery("refused")[2] in ("pending", "inflight", "failed"), True)

    def test_retry_after_pushes_the_next_attempt(self):
        (first,) = self.r.wait_for(1, "/throttled", timeout=20)[:1]
        self.first_attempt("throttled")
        ntf = self.delivery("throttled")[0]
        # next_attempt_at is Retry-After (3 s) after the attempt, not the schedule's 1 s
        gap = float(h.sql_value("SELECT TIMESTAMPDIFF(MICROSECOND, last_attempt_at, next_attempt_at) / 1e6 "
                                "FROM webhook_deliveries WHERE notification_id = %s" % h.q(ntf)))
        self.assertGreaterEqual(gap, 2.9, "next_attempt_at only %.2f s after a 429 with Retry-After: 3" % gap)
        self.assertLess(gap, 4)
        reqs = self.r.wait_for(2, "/throttled", timeout=20)
        self.assertGreaterEqual(reqs[1].time - reqs[0].time, 2.8)
        a = self.first_attempt("throttled")
        self.assertEqual((a[1], a[2], a[3]), ("failure", "429", "http-status"))

    def test_retry_after_is_capped_at_24_hours(self):
        self.r.wait_for(1, "/unavailable-long", timeout=20)
        a = self.first_attempt("unavailable-long")
        self.assertEqual((a[1], a[2]), ("failure", "503"))
        ntf = self.delivery("unavailable-long")[0]
        gap = float(h.sql_value("SELECT TIMESTAMPDIFF(SECOND, last_attempt_at, next_attempt_at) "
                                "FROM webhook_deliveries WHERE notification_id = %s" % h.q(ntf)))
        self.assertAlmostEqual(gap, 24 * 3600, delta=5, msg="Retry-After of 10 days is capped at 24 h")

    def test_gone_disables_the_endpoint_with_a_reason(self):
        self.r.wait_for(1, "/gone", timeout=20)
        ep_id = self.endpoints["gone"]["id"]

        def disabled():
            status, _, body = h.api("GET", "/endpoints/" + ep_id)
            self.assertEqual(status, 200, body)
            return body if body.get("enabled") is False else None
        body = h.wait_until(disabled, timeout=10, message="endpoint %s to be disabled after 410" % ep_id)
        self.assertIn("410", body.get("disabledReason") or "", body)
        a = self.first_attempt("gone")
        self.assertEqual((a[1], a[2]), ("failure", "410"))
        self.assertEqual(self.delivery("gone")[2], "pending", "held, not failed: it goes out once re-enabled")
        time.sleep(2.5)
        self.assertEqual(len(self.r.requests("/gone")), 1, "a disabled endpoint gets nothing more")

    def test_reply_read_is_capped_and_4_kib_stored(self):
        self.r.wait_for(1, "/endless-status-mode", timeout=20)
        h.wait_until(lambda: self.delivery("endless-status-mode")[2] == "delivered", timeout=10,
                     message="the endless 2xx reply (status mode) to count as delivered")
        a = self.first_attempt("endless-status-mode")
        self.assertEqual((a[1], a[2], a[5]), ("success", "200", "4096"), a)
        timeout_ms = int(h.env().get("WEBHOOK_REQUEST_TIMEOUT_MS") or 15000)
        self.assertLess(int(a[6]), timeout_ms / 2, "reading stopped at 64 KiB, not at the timeout: %r" % (a,))

    def test_binary_reply_is_kept_byte_for_byte(self):
        a = self.assert_failure_retried("binary", "502", "http-status")
        self.assertEqual(a[5], "4096", a)
        kept = h.sql_value("SELECT HEX(LEFT(a.response_excerpt, 8)) FROM webhook_attempts a "
                           "JOIN webhook_deliveries d ON d.id = a.delivery_id "
                           "WHERE d.notification_id = %s AND a.attempt_no = 1" % h.q(self.delivery("binary")[0]))
        self.assertEqual(kept, BINARY_REPLY[:8].hex().upper())


if __name__ == "__main__":
    h.main()
