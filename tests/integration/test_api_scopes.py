#!/usr/bin/env python3
"""Principals (docs/contract.md §3): a caller manages only its own scope's endpoints and
deliveries; another scope's resources answer 404 (not 403), exactly as a missing id, so IDs
do not leak. Principals come from `scripts/stack principal add` (tested here too).

A reseller principal manages its reseller's endpoints only, not those of the reseller's
portfolios (there is no reseller -> portfolio table): a user who needs both gets both rows."""
import os
import subprocess
import unittest

import harness as h

CODE = "management.terminal-modified"


# distinctive passwords (the credential scan of check_logs.py looks for each in every log)
PW_A, PW_B, PW_PF = "pw-scopes-a-5e81c2", "pw-scopes-b-93d0f7", "pw-scopes-pf-2a6b4e"


class ApiScopes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()
        cls.res_a, cls.res_b, cls.pf_a = h.unique_id("res"), h.unique_id("res"), h.unique_id("pf")
        cls.user_a, cls.user_b, cls.user_pf = h.unique_id("ua"), h.unique_id("ub"), h.unique_id("up")
        h.add_principal(cls.user_a, PW_A, "--reseller", cls.res_a)
        h.add_principal(cls.user_b, PW_B, "--reseller", cls.res_b)
        h.add_principal(cls.user_pf, PW_PF, "--portfolio", cls.pf_a)
        cls.ep_a = h.register_endpoint(cls.receiver.url("/a"), [CODE], reseller_id=cls.res_a,
                                       user=cls.user_a, api_password=PW_A)
        cls.ep_b = h.register_endpoint(cls.receiver.url("/b"), [CODE], reseller_id=cls.res_b,
                                       user=cls.user_b, api_password=PW_B)
        cls.ep_pf = h.register_endpoint(cls.receiver.url("/pf"), [CODE], portfolio_id=cls.pf_a,
                                        user=cls.user_pf, api_password=PW_PF)

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def as_a(self, method, path, json=None):
        return h.api(method, path, json=json, user=self.user_a, password=PW_A)

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
        status, _, body = h.api("GET", other, user=self.user_b, password=PW_B)
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
        status, _, body = h.api("GET", "/deliveries/" + ntf, user=self.user_b, password=PW_B)
        self.assertEqual(status, 200, body)

    def test_admin_sees_every_scope(self):
        status, _, body = h.api("GET", "/endpoints?resellerId=" + self.res_b)
        self.assertEqual(status, 200, body)
        self.assertEqual([e["id"] for e in body["endpoints"]], [self.ep_b["id"]])
        status, _, body = h.api("GET", "/endpoints/" + self.ep_pf["id"])
        self.assertEqual(status, 200, body)
        self.assertEqual(body.get("portfolioId"), self.pf_a)


MISSING_EP = "ep_000000000000000000000000"
MISSING_NTF = "ntf_000000000000000000000000"


class ScopeIsolation(unittest.TestCase):
    """Two principals of different resellers, made by `scripts/stack principal add`: neither
    can list, read, patch, delete, rotate, recover or see deliveries of the other's endpoints,
    and every refusal is byte-for-byte the answer for an id that does not exist."""

    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()
        cls.users = {}
        for name in ("a", "b"):
            reseller, user, pw = h.unique_id("res"), h.unique_id("u" + name), h.new_password("api")
            h.add_principal(user, pw, "--reseller", reseller)
            cls.users[name] = (user, pw, reseller)
        cls.eps = {}
        for name, (user, pw, reseller) in cls.users.items():
            cls.eps[name] = h.register_endpoint(cls.receiver.url("/" + name), [CODE], reseller_id=reseller,
                                                user=user, api_password=pw)
        # one delivery each
        cls.ntf = {}
        for name, (_, _, reseller) in cls.users.items():
            event_id = h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                                     "data": {"terminalId": "t-" + name}})
            cls.receiver.wait_for(1, "/" + name, timeout=30)
            cls.ntf[name] = h.wait_until(lambda: h.deliveries_for_event(event_id), timeout=30)[0][0]

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def as_(self, name, method, path, json=None):
        user, pw, _ = self.users[name]
        return h.api(method, path, json=json, user=user, password=pw)

    def requests(self, ep, ntf):
        return [("GET", "/endpoints/" + ep, None), ("PATCH", "/endpoints/" + ep, {"description": "mine now"}),
                ("PATCH", "/endpoints/" + ep, {"url": "http://127.0.0.1:9/stolen", "enabled": False}),
                ("POST", "/endpoints/%s/rotate-secret" % ep, None),
                ("GET", "/endpoints/%s/deliveries" % ep, None),
                ("GET", "/endpoints/%s/deliveries?status=delivered&limit=5" % ep, None),
                ("POST", "/endpoints/%s/recover" % ep, {"since": "2020-01-01T00:00:00Z"}),
                ("GET", "/deliveries/" + ntf, None), ("POST", "/deliveries/%s/redeliver" % ntf, None),
                ("DELETE", "/endpoints/" + ep, None)]

    def test_other_resellers_resources_answer_exactly_like_missing_ones(self):
        for me, other in (("a", "b"), ("b", "a")):
            before = h.sql("SELECT url, enabled, description, secret_enc, prev_secret_enc, deleted_at "
                           "FROM webhook_endpoints WHERE public_id = %s" % h.q(self.eps[other]["id"]))
            theirs = self.requests(self.eps[other]["id"], self.ntf[other])
            missing = self.requests(MISSING_EP, MISSING_NTF)
            for (method, path, doc), (_, mpath, mdoc) in zip(theirs, missing):
                got = self.as_(me, method, path, doc)
                ref = self.as_(me, method, mpath, mdoc)
                self.assertEqual(got[0], 404, "%s %s as %s: %r" % (method, path, me, got))
                self.assertEqual((got[1]["content-type"], got[2]), (ref[1]["content-type"], ref[2]),
                                 "%s %s as %s differs from a missing id" % (method, path, me))
            after = h.sql("SELECT url, enabled, description, secret_enc, prev_secret_enc, deleted_at "
                          "FROM webhook_endpoints WHERE public_id = %s" % h.q(self.eps[other]["id"]))
            self.assertEqual(after, before, "the refused requests changed %s's endpoint" % other)
            status, _, body = self.as_(other, "GET", "/endpoints/" + self.eps[other]["id"])
            self.assertEqual((status, body["url"], body["enabled"]), (200, self.eps[other]["url"], True))
            status, _, body = self.as_(other, "GET", "/deliveries/" + self.ntf[other])
            self.assertEqual((status, body["status"]), (200, "delivered"))

    def test_lists_never_show_the_other_reseller(self):
        for me, other in (("a", "b"), ("b", "a")):
            status, _, body = self.as_(me, "GET", "/endpoints?limit=200")
            self.assertEqual(status, 200, body)
            self.assertEqual([e["id"] for e in body["endpoints"]], [self.eps[me]["id"]])
            status, _, body = self.as_(me, "GET", "/endpoints?resellerId=" + self.users[other][2])
            self.assertEqual((status, body), (200, {"endpoints": [], "next": None}))
            # the other's id as a cursor is refused like an unknown one
            got = self.as_(me, "GET", "/endpoints?after=" + self.eps[other]["id"])
            ref = self.as_(me, "GET", "/endpoints?after=" + MISSING_EP)
            self.assertEqual((got[0], got[2]), (422, ref[2]))

    def test_cannot_register_for_the_other_reseller(self):
        other = self.users["b"][2]
        status, headers, body = self.as_("a", "POST", "/endpoints", {"url": self.receiver.url("/x"),
                                                                      "eventTypes": [CODE], "resellerId": other})
        self.assertEqual(status, 403, body)
        self.assertTrue(headers["content-type"].startswith("application/problem+json"))
        self.assertEqual([e["field"] for e in body["errors"]], ["resellerId"])
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_endpoints WHERE scope_id = %s" % h.q(other)), "1")


class ResellerAndItsPortfolios(unittest.TestCase):
    """The documented rule: a reseller principal does not manage its portfolios' endpoints."""

    def test_reseller_principal_gets_404_on_and_403_for_a_portfolio_endpoint(self):
        reseller, portfolio = h.unique_id("res"), h.unique_id("pf")
        r_user, r_pw = h.unique_id("ur"), h.new_password("api")
        p_user, p_pw = h.unique_id("up"), h.new_password("api")
        both_user, both_pw = h.unique_id("ub"), h.new_password("api")
        h.add_principal(r_user, r_pw, "--reseller", reseller)
        h.add_principal(p_user, p_pw, "--portfolio", portfolio)
        # a user with both rows manages both
        h.add_principal(both_user, both_pw, "--reseller", reseller)
        h.add_principal(both_user, both_pw, "--portfolio", portfolio)
        ep = h.register_endpoint("http://127.0.0.1:9/pf", [CODE], portfolio_id=portfolio,
                                 user=p_user, api_password=p_pw)
        status, _, body = h.api("GET", "/endpoints/" + ep["id"], user=r_user, password=r_pw)
        self.assertEqual(status, 404, body)
        status, _, body = h.api("POST", "/endpoints", json={"url": "http://127.0.0.1:9/r", "eventTypes": [CODE],
                                                            "portfolioId": portfolio}, user=r_user, password=r_pw)
        self.assertEqual(status, 403, body)
        self.assertEqual([e["field"] for e in body["errors"]], ["portfolioId"])
        status, _, body = h.api("GET", "/endpoints/" + ep["id"], user=both_user, password=both_pw)
        self.assertEqual(status, 200, body)
        r_ep = h.register_endpoint("http://127.0.0.1:9/r", [CODE], reseller_id=reseller,
                                   user=both_user, api_password=both_pw)
        status, _, body = h.api("GET", "/endpoints", user=both_user, password=both_pw)
        self.assertEqual(sorted(e["id"] for e in body["endpoints"]), sorted([ep["id"], r_ep["id"]]))


class PrincipalCommand(unittest.TestCase):
    """scripts/stack principal add: the Apache login and its scope in one command."""

    def test_usage_errors(self):
        stack = os.path.join(h.REPO, "scripts", "stack")
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_")}
        child_env["WEBHOOK_STATE_DIR"] = h.state_dir()
        h.record_secret("pw-12345678", "api-password")
        for args in (["principal", "add", "u1"], ["principal", "add", "u1", "pw-12345678", "--reseller"],
                     ["principal", "add", "u1", "pw-12345678", "--reseller", "bad id"],
                     ["principal", "add", "u1", "pw-12345678", "--admin", "x"],
                     ["principal", "add", "u 1", "pw-12345678", "--admin"],
                     ["principal", "remove", "u1"]):
            p = subprocess.run([stack] + args, capture_output=True, text=True, env=child_env, timeout=60)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn("error", p.stderr, args)
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_principals WHERE username = 'u1'"), "0")

    def test_admin_principal_sees_every_scope(self):
        user, pw = h.unique_id("adm"), h.new_password("api")
        h.add_principal(user, pw, "--admin")
        self.assertEqual(h.sql("SELECT kind, scope_id FROM webhook_principals WHERE username = %s" % h.q(user)),
                         [("admin", "")])
        ep = h.register_endpoint("http://127.0.0.1:9/adm", [CODE], reseller_id=h.unique_id("res"))
        status, _, body = h.api("GET", "/endpoints/" + ep["id"], user=user, password=pw)
        self.assertEqual((status, body.get("id")), (200, ep["id"]))


if __name__ == "__main__":
    h.main()
