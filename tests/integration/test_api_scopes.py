#!/usr/bin/env python3
"""Principals (DESIGN.md section 3): a caller manages only its own scope's endpoints and
deliveries; another scope's resources answer 404 (not 403), so IDs do not leak."""
import os
import subprocess
import unittest

import harness as h

CODE = "management.terminal-modified"


def add_principal(user, password, *scope):
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_")}
    child_env["WEBHOOK_STATE_DIR"] = h.state_dir()
    p = subprocess.run([os.path.join(h.REPO, "scripts", "stack"), "principal", "add", user, password] + list(scope),
                       capture_output=True, text=True, env=child_env, timeout=60)
    if p.returncode != 0:
        raise AssertionError("scripts/stack principal add failed: %s" % p.stderr)


class ApiScopes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()
        cls.res_a, cls.res_b, cls.pf_a = h.unique_id("res"), h.unique_id("res"), h.unique_id("pf")
        cls.user_a, cls.user_b, cls.user_pf = h.unique_id("ua"), h.unique_id("ub"), h.unique_id("up")
        add_principal(cls.user_a, "pw-a", "--reseller", cls.res_a)
        add_principal(cls.user_b, "pw-b", "--reseller", cls.res_b)
        add_principal(cls.user_pf, "pw-pf", "--portfolio", cls.pf_a)
        cls.ep_a = h.register_endpoint(cls.receiver.url("/a"), [CODE], reseller_id=cls.res_a,
                                       user=cls.user_a, api_password="pw-a")
        cls.ep_b = h.register_endpoint(cls.receiver.url("/b"), [CODE], reseller_id=cls.res_b,
                                       user=cls.user_b, api_password="pw-b")
        cls.ep_pf = h.register_endpoint(cls.receiver.url("/pf"), [CODE], portfolio_id=cls.pf_a,
                                        user=cls.user_pf, api_password="pw-pf")

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def as_a(self, method, path, json=None):
        return h.api(method, path, json=json, user=self.user_a, password="pw-a")

    def test_list_shows_only_own_endpoints(self):
        status, _, body = self.as_a("GET", "/endpoints")
        self.assertEqual(status, 200, body)
        ids = {e["id"] for e in body["endpoints"]}
        self.assertIn(self.ep_a["id"], ids)
        self.assertNotIn(self.ep_b["id"], ids)
        self.assertNotIn(self.ep_pf["id"], ids)
        for e in body["endpoints"]:
            self.assertNotIn("secret", e, "the secret is shown only at creation and rotation")
            self.assertNotIn("password", e)

    def test_other_scopes_endpoint_is_404_for_every_method(self):
        other = "/endpoints/" + self.ep_b["id"]
        for method, path, doc in (("GET", other, None), ("PATCH", other, {"description": "x"}),
                                  ("DELETE", other, None), ("GET", other + "/deliveries", None),
                                  ("POST", other + "/rotate-secret", None)):
            status, _, body = self.as_a(method, path, doc)
            self.assertEqual(status, 404, "%s %s as another reseller: %s %r" % (method, path, status, body))
        # and it is still there for its owner
        status, _, body = h.api("GET", other, user=self.user_b, password="pw-b")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["id"], self.ep_b["id"])

    def test_cannot_register_for_another_scope(self):
        status, _, body = self.as_a("POST", "/endpoints", {"url": self.receiver.url("/x"), "eventTypes": [CODE],
                                                           "resellerId": self.res_b})
        self.assertIn(status, (403, 404, 422), body)
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_endpoints WHERE scope_id = %s AND url = %s"
                                     % (h.q(self.res_b), h.q(self.receiver.url("/x")))), "0")

    def test_other_scopes_delivery_is_404(self):
        event_id = h.post_event({"eventCode": CODE, "resellerId": self.res_b, "portfolioId": h.unique_id("pf"),
                                 "data": {"terminalId": "t-1", "enabled": True}})
        self.receiver.wait_for(1, "/b", timeout=30)
        ntf = h.deliveries_for_event(event_id)[0][0]
        status, _, body = self.as_a("GET", "/deliveries/" + ntf)
        self.assertEqual(status, 404, body)
        status, _, body = self.as_a("POST", "/deliveries/%s/redeliver" % ntf)
        self.assertEqual(status, 404, body)
        status, _, body = h.api("GET", "/deliveries/" + ntf, user=self.user_b, password="pw-b")
        self.assertEqual(status, 200, body)

    def test_admin_sees_every_scope(self):
        status, _, body = h.api("GET", "/endpoints?resellerId=" + self.res_b)
        self.assertEqual(status, 200, body)
        self.assertEqual([e["id"] for e in body["endpoints"]], [self.ep_b["id"]])
        status, _, body = h.api("GET", "/endpoints/" + self.ep_pf["id"])
        self.assertEqual(status, 200, body)
        self.assertEqual(body.get("portfolioId"), self.pf_a)


if __name__ == "__main__":
    h.main()
