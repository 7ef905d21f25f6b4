#!/usr/bin/env python3
"""Edge cases of POST /events (webhook-events) against the real stack: batches are all or
nothing, body caps (Content-Length and chunked), concurrent duplicates, method/route errors.

Written for tests/integration/ (uses its harness.py; the stack sets WebhookMaxBodySize to
1048576): move it there as test_events_ingest.py.
"""
import http.client
import json
import os
import sys
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "integration"))
import harness as h  # noqa: E402

CODE = "billing.subscription-created"
CAP = 1048576


def event(reseller, **extra):
    e = {"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-1", "data": {"n": 1}}
    e.update(extra)
    return e


def count(reseller):
    return int(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE reseller_id = %s" % h.q(reseller)))


def post_chunked(body, chunk=8000):
    u = urllib.parse.urlsplit(h.events_url())
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    c.putrequest("POST", u.path)
    c.putheader("Content-Type", "application/json")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    try:
        for i in range(0, len(body), chunk):
            part = body[i:i + chunk]
            c.send(b"%x\r\n%s\r\n" % (len(part), part))
        c.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server may answer 413 and close before everything is sent
    r = c.getresponse()
    h.check_answer("POST", h.events_url(), r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    return r.status, r.getheader("Content-Type", "")


class EventsIngest(unittest.TestCase):
    def test_batch_is_all_or_nothing_and_names_the_index(self):
        reseller = h.unique_id("res")
        batch = [event(reseller), event(reseller), event(reseller, eventCode="no.such"), event(reseller, data=[])]
        status, _, body = h.post_events(batch)
        self.assertEqual(status, 422, body)
        self.assertEqual(sorted(e["field"] for e in body["errors"]), ["[2].eventCode", "[3].data"])
        self.assertEqual(count(reseller), 0)
        status, _, body = h.post_events([event(reseller)] * 1001)
        self.assertEqual(status, 422, body)
        self.assertEqual(count(reseller), 0)

    def test_defaults_and_stored_fields(self):
        reseller = h.unique_id("res")
        status, _, body = h.post_events([event(reseller, merchantId="m-1", eventDate=1700000000123),
                                         event(reseller, data={"b": 2, "a": "\u00e9"})])
        self.assertEqual(status, 202, body)
        rows = h.sql("SELECT merchant_id, event_date, data FROM webhook_events WHERE reseller_id = %s ORDER BY id"
                     % h.q(reseller))
        self.assertEqual(rows[0][:2], ("m-1", "1700000000123"))
        self.assertIsNone(rows[1][0])
        self.assertGreater(int(rows[1][1]), 1700000000123)  # the DB's now
        self.assertEqual(json.loads(rows[1][2]), {"b": 2, "a": "\u00e9"})

    def test_body_cap_413(self):
        reseller = h.unique_id("res")
        big = json.dumps(event(reseller, data={"x": "y" * CAP})).encode()
        status, headers, body = h.http_request("POST", h.events_url(), body=big,
                                               headers={"Content-Type": "application/json"})
        self.assertEqual(status, 413, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"))
        status, ctype = post_chunked(big)
        self.assertEqual(status, 413)
        small = json.dumps(event(reseller)).encode()
        self.assertEqual(post_chunked(small, chunk=7)[0], 202)
        self.assertEqual(count(reseller), 1)

    def test_concurrent_duplicates_create_one_event(self):
        reseller = h.unique_id("res")
        key = h.unique_id("idem")
        results = h.run_together(12, lambda i: h.post_events(event(reseller, idempotencyKey=key)))
        self.assertEqual({s for s, _, _ in results}, {202}, results)
        self.assertEqual(len({b["eventId"] for _, _, b in results}), 1, results)
        self.assertEqual(sum(1 for _, _, b in results if not b.get("duplicate")), 1, results)
        self.assertEqual(count(reseller), 1)

    def test_method_route_and_type_errors(self):
        status, headers, _ = h.http_request("GET", h.events_url())
        self.assertEqual((status, headers.get("allow")), (405, "POST"))
        status, _, _ = h.http_request("POST", h.events_url() + "/nope", body=b"{}",
                                      headers={"Content-Type": "application/json"})
        self.assertEqual(status, 404)
        status, _, _ = h.http_request("POST", h.events_url(), body=b'{"a":"\xff"}',
                                      headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(status, 400)


if __name__ == "__main__":
    h.main()
