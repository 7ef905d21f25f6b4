#!/usr/bin/env python3
"""The events and catalogue APIs as the gateway and integrators see them through Apache:
the catalogue, batches, idempotency, validation errors and authentication."""
import unittest

import harness as h

CODE = "billing.transaction-created"


class EventsApi(unittest.TestCase):
    def test_event_types_is_the_catalogue(self):
        status, headers, body = h.api("GET", "/event-types")
        self.assertEqual(status, 200, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        got = {t["code"]: t["dataType"] for t in body["eventTypes"]}
        promised = h.promised_event_types()
        self.assertEqual(len(promised), 14)
        self.assertEqual({c: got.get(c) for c in promised}, promised, "docs/contract.md §2's catalogue")
        for t in body["eventTypes"]:
            self.assertEqual(t["module"], t["code"].split(".")[0])
            self.assertTrue(t.get("description"))

    def test_integrator_api_requires_authentication(self):
        status, _, _ = h.api("GET", "/event-types", auth=False)
        self.assertEqual(status, 401)

    def test_batch_returns_one_result_per_event_in_order(self):
        reseller = h.unique_id("res")
        events = [{"eventCode": CODE, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                   "data": {"billingTransactionId": "bt_%d" % i}} for i in range(3)]
        status, _, body = h.post_events(events)
        self.assertEqual(status, 202, body)
        self.assertIsInstance(body, list)
        self.assertEqual(len(body), 3)
        ids = [item["eventId"] for item in body]
        self.assertEqual(len(set(ids)), 3)
        rows = h.sql("SELECT public_id, portfolio_id FROM webhook_events WHERE reseller_id = %s ORDER BY id"
                     % h.q(reseller))
        self.assertEqual([r[0] for r in rows], ids)
        self.assertEqual([r[1] for r in rows], [e["portfolioId"] for e in events])

    def test_ordering_key_is_stored_per_event(self):
        reseller = h.unique_id("res")
        status, _, body = h.post_events({"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-o",
                                         "data": {}, "orderingKey": "sub_1.A-9"})
        self.assertEqual(status, 202, body)
        events = [{"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-o", "data": {"i": i}}
                  for i in range(3)]
        events[0]["orderingKey"], events[1]["orderingKey"], events[2]["orderingKey"] = "k" * 128, None, "k" * 128
        status, _, body = h.post_events(events)
        self.assertEqual(status, 202, body)
        rows = h.sql("SELECT ordering_key FROM webhook_events WHERE reseller_id = %s ORDER BY id" % h.q(reseller))
        self.assertEqual([r[0] for r in rows], ["sub_1.A-9", "k" * 128, None, "k" * 128])
        for bad in ("", "a b", "k" * 129, 7):
            status, _, body = h.post_events({"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-o",
                                             "data": {}, "orderingKey": bad})
            self.assertEqual(status, 422, body)
            self.assertIn("orderingKey", [e["field"] for e in body["errors"]])
        self.assertEqual(len(h.sql("SELECT id FROM webhook_events WHERE reseller_id = %s" % h.q(reseller))), 4)

    def test_idempotency_key_returns_the_first_event(self):
        reseller = h.unique_id("res")
        key = h.unique_id("idem")
        event = {"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-1",
                 "data": {"billingTransactionId": "bt_1"}, "idempotencyKey": key}
        s1, _, b1 = h.post_events(event)
        s2, _, b2 = h.post_events(event)
        self.assertEqual((s1, s2), (202, 202), (b1, b2))
        self.assertEqual(b2["eventId"], b1["eventId"])
        self.assertIs(b2.get("duplicate"), True, b2)
        del event["idempotencyKey"]
        s3, _, b3 = h.post_events(event, idempotency_key=key)
        self.assertEqual(s3, 202, b3)
        self.assertEqual(b3["eventId"], b1["eventId"], "the Idempotency-Key header is the same key")
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE reseller_id = %s" % h.q(reseller)), "1")

    def test_invalid_event_is_422_problem_json_listing_the_field(self):
        reseller = h.unique_id("res")
        status, headers, body = h.post_events({"eventCode": "no.such-type", "resellerId": reseller,
                                               "portfolioId": "pf-1", "data": {}})
        self.assertEqual(status, 422, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"), headers)
        self.assertEqual(body.get("status"), 422)
        self.assertIn("eventCode", [e.get("field") for e in body.get("errors", [])], body)
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE reseller_id = %s" % h.q(reseller)), "0")

    def test_malformed_json_is_400_and_wrong_type_415(self):
        status, _, body = h.http_request("POST", h.events_url(), body=b'{"eventCode": ',
                                         headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, body)
        status, _, body = h.http_request("POST", h.events_url(), body=b"eventCode=x",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 415, body)


if __name__ == "__main__":
    h.main()
