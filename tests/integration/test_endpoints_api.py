#!/usr/bin/env python3
"""The integrator API of mod_webhook (Issues 2 and 3) against the real stack.

Written for tests/integration/ (it uses that folder's harness.py): move it there as
test_endpoints_api.py. Run by hand against a stack that is up:
    WEBHOOK_STATE_DIR=.state PYTHONPATH=tests/integration python3 mod_webhook/tests/test_endpoints_api.py
"""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "integration"))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

ET = ["billing.subscription-created", "management.merchant-created"]
TARGET = "http://127.0.0.1:9/hook"


def principal(kind, scope=None):
    """A fresh Apache login mapped to one scope (or admin); returns (user, password)."""
    user = h.unique_id("u")
    password = h.unique_id("pw")
    args = [os.path.join(h.REPO, "scripts", "stack"), "principal", "add", user, password]
    args += ["--admin"] if kind == "admin" else ["--" + kind, scope]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise h.HarnessError("stack principal add failed: %s" % p.stderr)
    return user, password


def fields(body):
    return sorted(e.get("field") for e in (body or {}).get("errors", []))


class EndpointsApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reseller = h.unique_id("res")
        cls.portfolio = h.unique_id("pf")
        cls.r_user = principal("reseller", cls.reseller)
        cls.p_user = principal("portfolio", cls.portfolio)

    def call(self, who, method, path, json=None, **kw):
        return h.api(method, path, json=json, user=who[0], password=who[1], **kw)

    def create(self, who, **doc):
        doc.setdefault("url", TARGET)
        doc.setdefault("eventTypes", ET)
        status, headers, body = self.call(who, "POST", "/endpoints", doc)
        self.assertEqual(status, 201, body)
        return headers, body

    def test_create_returns_resource_secret_and_location(self):
        headers, ep = self.create(self.r_user, resellerId=self.reseller, username="bob", password="hunter2",
                                  description="d")
        self.assertTrue(ep["id"].startswith("ep_"))
        self.assertTrue(headers.get("location", "").endswith("/endpoints/" + ep["id"]), headers)
        self.assertTrue(ep["secret"].startswith("whsec_"))
        self.assertEqual(ep["resellerId"], self.reseller)
        self.assertNotIn("portfolioId", ep)
        self.assertEqual(sorted(ep["eventTypes"]), sorted(ET))
        self.assertEqual((ep["username"], ep["hasPassword"], ep["ackMode"], ep["enabled"]),
                         ("bob", True, "notification-id", True))
        self.assertNotIn("password", ep)
        self.assertRegex(ep["createdAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        row = h.sql("SELECT password_enc, secret_enc FROM webhook_endpoints WHERE public_id = %s" % h.q(ep["id"]))[0]
        self.assertTrue(row[0].startswith("v1:") and row[1].startswith("v1:"), row)
        self.assertNotIn("hunter2", row[0])
        status, _, got = self.call(self.r_user, "GET", "/endpoints/" + ep["id"])
        self.assertEqual(status, 200, got)
        self.assertNotIn("secret", got)

    def test_other_scope_is_403_on_create_and_404_after(self):
        status, _, body = self.call(self.r_user, "POST", "/endpoints",
                                    {"url": TARGET, "eventTypes": ET, "portfolioId": self.portfolio})
        self.assertEqual(status, 403, body)
        _, ep = self.create(self.p_user, portfolioId=self.portfolio)
        for method, path, doc in (("GET", "", None), ("PATCH", "", {"enabled": False}), ("DELETE", "", None),
                                  ("POST", "/rotate-secret", None)):
            status, _, body = self.call(self.r_user, method, "/endpoints/" + ep["id"] + path, doc)
            self.assertEqual(status, 404, (method, path, body))
        status, _, body = self.call(self.r_user, "GET", "/endpoints")
        self.assertNotIn(ep["id"], [e["id"] for e in body["endpoints"]])

    def test_422_lists_every_bad_field(self):
        status, headers, body = self.call(self.r_user, "POST", "/endpoints", {
            "url": "ftp://x", "resellerId": "bad id", "eventTypes": ["no.such", ET[0], ET[0]], "username": "u",
            "ackMode": "sometimes", "enabled": "yes"})
        self.assertEqual(status, 422, body)
        self.assertTrue(headers["content-type"].startswith("application/problem+json"))
        self.assertEqual(fields(body), sorted(["url", "resellerId", "eventTypes[0]", "eventTypes[2]",
                                               "password", "ackMode", "enabled"]))

    def test_private_target_policy_applies(self):
        status, _, body = self.call(self.r_user, "POST", "/endpoints",
                                    {"url": "http://169.254.169.254/latest", "eventTypes": ET,
                                     "resellerId": self.reseller})
        self.assertEqual(status, 422, body)
        self.assertEqual(fields(body), ["url"])

    def test_list_pages_in_a_stable_order(self):
        reseller = h.unique_id("res")
        who = principal("reseller", reseller)
        ids = [self.create(who, resellerId=reseller)[1]["id"] for _ in range(5)]
        seen, after = [], None
        while True:
            status, _, body = self.call(who, "GET", "/endpoints?limit=2" + ("&after=" + after if after else ""))
            self.assertEqual(status, 200, body)
            seen += [e["id"] for e in body["endpoints"]]
            after = body["next"]
            if after is None:
                break
        self.assertEqual(seen, ids)
        status, _, body = self.call(who, "GET", "/endpoints?limit=201")
        self.assertEqual((status, fields(body)), (422, ["limit"]))

    def test_patch_changes_and_removes(self):
        _, ep = self.create(self.r_user, resellerId=self.reseller, username="a", password="b")
        status, _, body = self.call(self.r_user, "PATCH", "/endpoints/" + ep["id"], {
            "url": TARGET + "2", "eventTypes": [ET[1]], "ackMode": "status", "enabled": False,
            "username": None, "password": None})
        self.assertEqual(status, 200, body)
        self.assertEqual((body["url"], body["eventTypes"], body["ackMode"], body["enabled"], body["username"],
                          body["hasPassword"]), (TARGET + "2", [ET[1]], "status", False, None, False))
        status, _, body = self.call(self.r_user, "PATCH", "/endpoints/" + ep["id"],
                                    {"url": 1, "eventTypes": [], "resellerId": "x"})
        self.assertEqual((status, fields(body)), (422, ["eventTypes", "resellerId", "url"]))

    def test_delete_cancels_pending_deliveries(self):
        _, ep = self.create(self.r_user, resellerId=self.reseller)
        h.sql("INSERT INTO webhook_events (event_code, reseller_id, portfolio_id, data) VALUES (%s, %s, 'x', '{}')"
              % (h.q(ET[0]), h.q(h.unique_id("nobody"))))
        event_id = h.sql_value("SELECT MAX(id) FROM webhook_events")
        endpoint_id = h.sql_value("SELECT id FROM webhook_endpoints WHERE public_id = %s" % h.q(ep["id"]))
        # due in an hour, so the stack's worker does not claim it first
        h.sql("INSERT INTO webhook_deliveries (event_id, endpoint_id, next_attempt_at) "
              "VALUES (%s, %s, NOW(3) + INTERVAL 1 HOUR)" % (event_id, endpoint_id))
        status, _, body = self.call(self.r_user, "DELETE", "/endpoints/" + ep["id"])
        self.assertEqual(status, 204, body)
        self.assertEqual(h.sql_value("SELECT status FROM webhook_deliveries WHERE endpoint_id = %s" % endpoint_id),
                         "cancelled")
        self.assertEqual(self.call(self.r_user, "GET", "/endpoints/" + ep["id"])[0], 404)

    def test_rotate_keeps_the_old_secret_for_a_day(self):
        _, ep = self.create(self.r_user, resellerId=self.reseller)
        old = h.sql_value("SELECT secret_enc FROM webhook_endpoints WHERE public_id = %s" % h.q(ep["id"]))
        status, _, body = self.call(self.r_user, "POST", "/endpoints/" + ep["id"] + "/rotate-secret")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["secret"].startswith("whsec_") and body["secret"] != ep["secret"])
        prev, minutes = h.sql("SELECT prev_secret_enc, TIMESTAMPDIFF(MINUTE, NOW(3), prev_secret_expires_at) "
                              "FROM webhook_endpoints WHERE public_id = %s" % h.q(ep["id"]))[0]
        self.assertEqual(prev, old)
        self.assertIn(int(minutes), (1439, 1440))

    def test_method_and_type_errors(self):
        status, headers, _ = self.call(self.r_user, "PUT", "/endpoints")
        self.assertEqual((status, headers.get("allow")), (405, "GET, HEAD, POST"))
        status, _, _ = self.call(self.r_user, "POST", "/endpoints", body=b"url=x",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 415)
        status, _, _ = self.call(self.r_user, "POST", "/endpoints", body=b"{",
                                 headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertEqual(self.call(self.r_user, "GET", "/no-such-route")[0], 404)


if __name__ == "__main__":
    h.main()
