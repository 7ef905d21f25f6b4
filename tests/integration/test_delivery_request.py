#!/usr/bin/env python3
"""GET /deliveries/{notificationId} shows the request as the worker sends it: "request":
{"body", "headers"} (docs/contract.md §4). The body is built by the worker's own code
(common/notification.hpp) and appears in the answer byte for byte as a real receiver got it;
the headers name what the worker sends, with the per-attempt values and the credentials
never shown."""
import base64
import json
import unittest

import harness as h

CODE = "billing.transaction-created"
# data with reals, a non-ASCII string and an array (the module stores data in its canonical form)
DATA_TEXT = '{"billingTransactionId": "bt_ü1", "amount": 1.50, "rate": 1e-2, "tags": ["a", "b"]}'


class DeliveryRequest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def publish(self, path, **credentials):
        reseller = h.unique_id("res")
        ep = h.register_endpoint(self.receiver.url(path), [CODE], reseller_id=reseller, **credentials)
        auth = (credentials["username"], credentials["password"]) if credentials else None
        self.receiver.expect(path, ep["secret"], auth)
        event = ('{"eventCode": "%s", "resellerId": "%s", "portfolioId": "pf-req", "merchantId": "m-1", '
                 '"data": %s}' % (CODE, reseller, DATA_TEXT)).encode()
        status, _, body = h.http_request("POST", h.events_url(), body=event,
                                         headers={"Content-Type": "application/json"})
        self.assertEqual(status, 202, body)
        got = self.receiver.wait_for(1, path, timeout=30)[0]
        self.assertEqual(self.receiver.problems, [], "signature or Basic auth wrong")
        return ep, got

    def delivery_raw(self, ntf):
        e = h.env()
        status, headers, raw = h.http_request(
            "GET", h.base_url() + "/deliveries/" + ntf,
            headers={"Authorization": h.basic_auth_header(e["WEBHOOK_API_USER"], e["WEBHOOK_API_PASSWORD"])})
        self.assertEqual(status, 200, raw)
        return raw

    def test_body_and_headers_as_the_receiver_got_them_without_credentials(self):
        user, password = "acct-req-7f3a", h.new_password("pw-req")
        ep, got = self.publish("/with-auth", username=user, password=password)
        ntf = got.headers["webhook-id"]
        raw = self.delivery_raw(ntf)
        # byte for byte: the receiver's body is the answer's "body" member as it stands
        self.assertIn(b'"request":{"body":' + got.body + b',"headers":', raw)
        answer = json.loads(raw)
        request = answer["request"]
        self.assertEqual(request["body"], json.loads(got.body))
        headers = request["headers"]
        self.assertEqual(headers["Content-Type"], got.headers["content-type"])
        self.assertEqual(headers["User-Agent"], got.headers["user-agent"])
        self.assertEqual(headers["webhook-id"], ntf)
        self.assertEqual(headers["webhook-timestamp"], "per attempt")
        self.assertEqual(headers["webhook-signature"], "per attempt")
        self.assertEqual(headers["Authorization"], "Basic [redacted]")
        self.assertTrue(got.headers["authorization"].startswith("Basic "))
        # every header the answer names was sent (names as the worker sends them)
        for name in headers:
            self.assertIn(name.lower(), got.headers, name)
        # never a credential, in any form
        text = raw.decode("utf-8")
        secret_key = ep["secret"].split("_", 1)[1]
        for leak in (password, base64.b64encode(("%s:%s" % (user, password)).encode()).decode(),
                     got.headers["authorization"].split(" ", 1)[1], ep["secret"], secret_key,
                     got.headers["webhook-signature"]):
            self.assertNotIn(leak, text)

    def test_without_credentials_no_authorization(self):
        _, got = self.publish("/no-auth")
        self.assertNotIn("authorization", got.headers)
        raw = self.delivery_raw(got.headers["webhook-id"])
        self.assertIn(b'"request":{"body":' + got.body + b',"headers":', raw)
        self.assertNotIn("Authorization", json.loads(raw)["request"]["headers"])

    def test_lists_carry_no_request(self):
        ep, got = self.publish("/listed")
        status, _, body = h.api("GET", "/endpoints/%s/deliveries" % ep["id"])
        self.assertEqual(status, 200, body)
        self.assertEqual([d["notificationId"] for d in body["deliveries"]], [got.headers["webhook-id"]])
        self.assertNotIn("request", body["deliveries"][0])


if __name__ == "__main__":
    h.main()
