#!/usr/bin/env python3
"""GET /me (docs/contract.md §4): the caller's Apache user, whether it is an admin, and the
scopes of its webhook_principals rows by kind, then id. A user with no row is 403 as on
every route; the answer reads the rows on every request (no cache to go stale)."""
import unittest

import harness as h

PW_ADMIN, PW_RES, PW_PF, PW_NONE = ("pw-me-admin-7c41e9", "pw-me-res-2b90d4", "pw-me-pf-5e17a3",
                                    "pw-me-none-9d63f0")


class ApiMe(unittest.TestCase):
    def me(self, user, password):
        return h.api("GET", "/me", user=user, password=password)

    def test_admin(self):
        user = h.unique_id("me-adm")
        h.add_principal(user, PW_ADMIN, "--admin")
        status, _, body = self.me(user, PW_ADMIN)
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"user": user, "admin": True, "scopes": []})
        # an admin also lists the scope rows it has
        res = h.unique_id("res")
        h.add_principal(user, PW_ADMIN, "--reseller", res)
        status, _, body = self.me(user, PW_ADMIN)
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"user": user, "admin": True, "scopes": [{"kind": "reseller", "id": res}]})

    def test_reseller_with_two_scopes_sorted_by_kind_then_id(self):
        user = h.unique_id("me-res")
        res_z, res_a, pf = "zz-" + h.unique_id("res"), "aa-" + h.unique_id("res"), h.unique_id("pf")
        h.add_principal(user, PW_RES, "--reseller", res_z)
        h.add_principal(user, PW_RES, "--reseller", res_a)
        status, _, body = self.me(user, PW_RES)
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"user": user, "admin": False,
                                "scopes": [{"kind": "reseller", "id": res_a}, {"kind": "reseller", "id": res_z}]})
        # a third row, of the other kind: it comes first ("portfolio" < "reseller")
        h.add_principal(user, PW_RES, "--portfolio", pf)
        status, _, body = self.me(user, PW_RES)
        self.assertEqual(status, 200, body)
        self.assertEqual([(s["kind"], s["id"]) for s in body["scopes"]],
                         [("portfolio", pf), ("reseller", res_a), ("reseller", res_z)])

    def test_portfolio_user(self):
        user, pf = h.unique_id("me-pf"), h.unique_id("pf")
        h.add_principal(user, PW_PF, "--portfolio", pf)
        status, headers, body = self.me(user, PW_PF)
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"user": user, "admin": False, "scopes": [{"kind": "portfolio", "id": pf}]})
        self.assertEqual(headers.get("cache-control"), "no-store")

    def test_user_without_principal_row_is_403(self):
        user = h.unique_id("me-none")
        h.add_login(user, PW_NONE)
        status, headers, body = self.me(user, PW_NONE)
        self.assertEqual(status, 403, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"))
        self.assertIn("may not manage any webhook endpoints", body["detail"])

    def test_takes_no_body_and_only_get(self):
        status, headers, body = h.api("POST", "/me", json={})
        self.assertEqual(status, 405, body)
        self.assertIn("GET", headers.get("allow", ""))
        status, _, body = h.api("GET", "/me", json={"user": "someone-else"})
        self.assertEqual(status, 422, body)
        self.assertEqual([e["field"] for e in body["errors"]], ["user"])


if __name__ == "__main__":
    h.main()
