#!/usr/bin/env python3
"""Receivers whose replies are not HTTP/1.x as libcurl accepts it get an error class of
their own (shared stack): a reply with no status line (HTTP/0.9) is `bad-reply` (not
`bad-url`), one 1 MiB header or 1.1 MB of headers in all is `header-too-large` (not "Out of
memory" / `network`)."""
import unittest

import harness as h

CODE = "processing.return-processed"
REPLIES = {
    "http09": b"hello, no status line here\n",
    "one-big-header": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\nContent-Length: 0\r\n\r\n",
    "many-headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 1000) for i in range(1100))
                    + b"Content-Length: 0\r\n\r\n",
}


class HostileReplies(unittest.TestCase):
    def test_each_malformed_reply_has_its_own_class(self):
        reseller = h.unique_id("res")
        endpoints = {}
        for name, reply in REPLIES.items():
            r = h.RawReceiver(reply)
            self.addCleanup(r.close)
            endpoints[name] = h.register_endpoint("http://127.0.0.1:%d/%s" % (r.port, name), [CODE],
                                                  reseller_id=reseller)["id"]
        h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                      "data": {"transactionId": "t-1"}})
        want = {"http09": "bad-reply", "one-big-header": "header-too-large", "many-headers": "header-too-large"}

        def first_attempts():
            rows = {}
            for name, ep in endpoints.items():
                got = h.sql("SELECT a.error_class, a.error_message FROM webhook_attempts a "
                            "JOIN webhook_deliveries d ON d.id = a.delivery_id "
                            "JOIN webhook_endpoints e ON e.id = d.endpoint_id "
                            "WHERE e.public_id = %s AND a.attempt_no = 1" % h.q(ep))
                if got:
                    rows[name] = got[0]
            return rows if len(rows) == len(endpoints) else None
        rows = h.wait_until(first_attempts, timeout=30, message="a first attempt for every endpoint")
        print("hostile replies: %r" % rows)
        self.assertEqual({n: r[0] for n, r in rows.items()}, want, rows)
        for name, (_, message) in rows.items():
            self.assertNotIn("Out of memory", message, name)


if __name__ == "__main__":
    h.main()
