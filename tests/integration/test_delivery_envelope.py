#!/usr/bin/env python3
"""A registered endpoint receives exactly one POST per event, carrying the exact envelope of
docs/contract.md §5, the documented headers, a valid Standard Webhooks signature and the
registered Basic credentials; the database records one successful attempt. An event row's
data goes out byte for byte as stored; an endpoint without credentials gets no
Authorization header and one signature."""
import time
import unittest

import harness as h


class DeliveryEnvelope(unittest.TestCase):
    def setUp(self):
        self.receiver = h.Receiver()
        self.addCleanup(self.receiver.close)

    def test_envelope_headers_signature_and_db(self):
        reseller = h.unique_id("res")
        portfolio = h.unique_id("pf")
        merchant = h.unique_id("mer")
        code = "billing.subscription-created"
        url = self.receiver.set("/envelope", h.ack())
        endpoint = h.register_endpoint(url, [code], reseller_id=reseller,
                                       username="hookuser", password="s3cret:with:colons")
        self.assertEqual(endpoint.get("resellerId"), reseller)
        self.assertEqual(endpoint.get("eventTypes"), [code])
        self.assertNotIn("password", endpoint, "the password must be write-only")
        secret = endpoint["secret"]

        event_date = int(time.time() * 1000) - 12345
        data = {"subscriptionId": "sub_42", "status": "active", "amount": {"value": 1999, "currency": "USD"},
                "tags": ["a", "b"], "note": "caf\u00e9 \u2713"}
        event_id = h.post_event({"eventCode": code, "resellerId": reseller, "portfolioId": portfolio,
                                 "merchantId": merchant, "eventDate": event_date, "data": data})

        (req,) = self.receiver.wait_for(1, "/envelope", timeout=30)
        # nothing else arrives: the acknowledged notification is not re-sent (schedule is 1 s)
        time.sleep(3)
        self.assertEqual(len(self.receiver.requests("/envelope")), 1, self.receiver.requests("/envelope"))

        self.assertEqual(req.method, "POST")
        body = req.json()
        notification_id = body.get("notificationId")
        self.assertTrue(isinstance(notification_id, str) and notification_id, body)
        self.assertEqual(body, {
            "notificationId": notification_id,
            "eventCode": code,
            "eventDate": event_date,
            "dataType": h.EVENT_TYPES[code],
            "resellerId": reseller,
            "portfolioId": portfolio,
            "merchantId": merchant,
            "data": data,
        })

        hd = req.headers
        self.assertEqual(hd.get("content-type", "").split(";")[0].strip().lower(), "application/json")
        self.assertTrue(hd.get("user-agent", "").startswith("mod_webhook/"), hd.get("user-agent"))
        self.assertEqual(hd.get("webhook-id"), notification_id)
        self.assertLessEqual(abs(int(hd.get("webhook-timestamp", "0")) - req.time), 5,
                             "webhook-timestamp %r vs receive time %.0f" % (hd.get("webhook-timestamp"), req.time))
        self.assertIsNone(h.check_signature(secret, req, tolerance=5))
        self.assertFalse(h.verify_signature("whsec_" + "QUJD" * 8, req), "a wrong secret must not verify")
        self.assertEqual(h.basic_auth(hd), ("hookuser", "s3cret:with:colons"))

        rows = h.deliveries_for_event(event_id)
        self.assertEqual(len(rows), 1, rows)
        ntf, ep_id, status, attempts = rows[0]
        self.assertEqual(ntf, notification_id)
        self.assertEqual(ep_id, endpoint["id"])
        h.wait_until(lambda: h.deliveries_for_event(event_id)[0][2] == "delivered", timeout=10,
                     message="delivery %s to become 'delivered'" % notification_id)
        attempt_rows = h.attempts_for_notification(notification_id)
        self.assertEqual(len(attempt_rows), 1, attempt_rows)
        self.assertEqual(attempt_rows[0][0], "1")
        self.assertEqual(attempt_rows[0][1], "success")
        self.assertEqual(attempt_rows[0][2], "200")

    def test_stored_data_is_sent_as_stored_and_no_credentials_send_no_authorization(self):
        reseller = h.unique_id("res")
        code = "billing.subscription-created"
        ep = h.register_endpoint(self.receiver.set("/plain", h.ack()), [code], reseller_id=reseller)
        # a row written straight into the table (the outbox) with numbers as its writer wrote
        # them: the worker sends the stored bytes, it does not parse and print them again
        data = '{"id":"sub_1","amount":12.30,"fee":1.5e3}'
        h.sql("INSERT INTO webhook_events (event_code, reseller_id, portfolio_id, data) VALUES (%s, %s, 'pf-raw', %s)"
              % (h.q(code), h.q(reseller), h.q(data)))
        (req,) = self.receiver.wait_for(1, "/plain", timeout=30)
        self.assertTrue(req.body.endswith(b',"data":' + data.encode() + b"}"), req.body)
        self.assertNotIn("authorization", req.headers, "no credentials registered, none sent")
        self.assertEqual(len(req.headers["webhook-signature"].split(" ")), 1, "one secret, one signature")
        self.assertIsNone(h.check_signature(ep["secret"], req))

if __name__ == "__main__":
    h.main()
