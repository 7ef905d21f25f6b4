#!/usr/bin/env python3
"""The registration API's contract (docs/contract.md §4) against the real stack:
every webhook-api route and every error class — status, content type, body shape (every
field of the endpoint resource), Location, paging — plus the behaviour behind them
(validation listing every bad field, rotation signing with both secrets).

Run by hand against a stack that is up:
    WEBHOOK_STATE_DIR=.state python3 tests/integration/test_endpoints_api.py
"""
import base64
import json
import os
import socket
import sys
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "integration"))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

ET = ["billing.subscription-created", "management.merchant-created"]
TARGET = "http://127.0.0.1:9/hook"


def principal(kind, scope=None):
    """A fresh Apache login mapped to one scope (or admin); returns (user, password)."""
    user = h.unique_id("u")
    password = h.new_password()
    h.add_principal(user, password, *(["--admin"] if kind == "admin" else ["--" + kind, scope]))
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
        pw = h.new_password()
        headers, ep = self.create(self.r_user, resellerId=self.reseller, username="bob", password=pw,
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
        self.assertTrue(row[0].startswith("v2:") and row[1].startswith("v2:"), row)
        self.assertNotIn(pw, row[0])
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
        _, ep = self.create(self.r_user, resellerId=self.reseller, username="a", password=h.new_password())
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



# ------------------------------------------------------------------------------------------
# the contract, route by route

RESOURCE_KEYS = {"id", "url", "eventTypes", "username", "hasPassword", "ackMode", "enabled",
                 "disabledReason", "description", "createdAt", "updatedAt"}
PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}
TIME_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
SECRET_RE = r"^whsec_[A-Za-z0-9+/]{43}=$"
CAP = 1048576  # the stack's WebhookMaxBodySize
# every webhook-api route: path template -> the Allow header of a 405
ROUTES = {
    "/event-types": "GET, HEAD",
    "/endpoints": "GET, HEAD, POST",
    "/endpoints/{ep}": "GET, HEAD, PATCH, DELETE",
    "/endpoints/{ep}/rotate-secret": "POST",
    "/endpoints/{ep}/deliveries": "GET, HEAD",
    "/endpoints/{ep}/recover": "POST",
    "/deliveries/{ntf}": "GET, HEAD",
    "/deliveries/{ntf}/redeliver": "POST",
}


def raw_request(path, head, chunks=(), method="POST"):
    """Sends a request by hand (for bodies http.client cannot send: a Content-Length that
    lies, a chunked body over the cap); returns (status, headers, parsed body)."""
    u = urllib.parse.urlsplit(h.base_url() + path)
    e = h.env()
    lines = ["%s %s HTTP/1.1" % (method, u.path), "Host: %s:%d" % (u.hostname, u.port),
             "Authorization: " + h.basic_auth_header(e["WEBHOOK_API_USER"], e["WEBHOOK_API_PASSWORD"]),
             "Connection: close"] + head
    sock = socket.create_connection((u.hostname, u.port), timeout=20)
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for c in chunks:
                sock.sendall(c)
        except OSError:
            pass  # the server answered and stopped reading: the answer is still there to read
        data = b""
        while True:
            try:
                got = sock.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
    finally:
        sock.close()
    status, headers, body = h.openapi_check.split_reply(data)
    h.check_answer(method, h.base_url() + path, status, headers, body)
    return status, headers, (json.loads(body) if body else None)


class RegistrationContract(unittest.TestCase):
    """Status, content type, body shape, Location and paging of every route."""

    @classmethod
    def setUpClass(cls):
        cls.reseller = h.unique_id("res")
        cls.portfolio = h.unique_id("pf")
        cls.who = principal("reseller", cls.reseller)

    def call(self, method, path, json=None, **kw):
        return h.api(method, path, json=json, user=self.who[0], password=self.who[1], **kw)

    def assert_problem(self, resp, status, fields_=None, msg=None):
        got, headers, body = resp
        self.assertEqual(got, status, msg or body)
        self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"), (msg, headers))
        self.assertIsInstance(body, dict, msg)
        self.assertEqual(set(body), PROBLEM_KEYS, (msg, body))
        self.assertEqual(body["status"], status, msg)
        self.assertEqual(body["type"], "about:blank")
        self.assertTrue(body["title"] and body["detail"], (msg, body))
        for e in body["errors"]:
            self.assertEqual(set(e), {"field", "message"}, (msg, body))
            self.assertTrue(e["message"], (msg, body))
        if fields_ is not None:
            self.assertEqual(sorted(e["field"] for e in body["errors"]), sorted(fields_), (msg, body))
        return body

    def assert_resource(self, ep, scope_key, with_secret=False):
        keys = RESOURCE_KEYS | {scope_key} | ({"secret"} if with_secret else set())
        self.assertEqual(set(ep), keys, ep)
        self.assertRegex(ep["id"], r"^ep_[0-9a-f]{24}$")
        self.assertIsInstance(ep["eventTypes"], list)
        self.assertEqual(ep["eventTypes"], sorted(ep["eventTypes"]), "eventTypes come sorted")
        self.assertIn(ep["ackMode"], ("notification-id", "status"))
        self.assertIsInstance(ep["enabled"], bool)
        self.assertIsInstance(ep["hasPassword"], bool)
        self.assertRegex(ep["createdAt"], TIME_RE)
        self.assertRegex(ep["updatedAt"], TIME_RE)
        self.assertGreaterEqual(ep["updatedAt"], ep["createdAt"])
        self.assertNotIn("password", ep)
        if with_secret:
            self.assertRegex(ep["secret"], SECRET_RE)
            self.assertEqual(len(base64.b64decode(ep["secret"][len("whsec_"):])), 32)

    def new(self, **doc):
        doc.setdefault("url", TARGET)
        doc.setdefault("eventTypes", ET)
        doc.setdefault("resellerId", self.reseller)
        resp = self.call("POST", "/endpoints", doc)
        self.assertEqual(resp[0], 201, resp[2])
        return resp

    # -- success answers ------------------------------------------------------------------

    def test_event_types(self):
        status, headers, body = self.call("GET", "/event-types")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers.get("cache-control"), "no-store")
        self.assertEqual(set(body), {"eventTypes"})
        for t in body["eventTypes"]:
            self.assertEqual(set(t), {"code", "module", "dataType", "description", "example"}, t)
            self.assertIsInstance(t["example"], dict, t)
            self.assertIn(t["dataType"], ("object", "transaction"), t)
            self.assertEqual(t["module"], t["code"].split(".")[0])
            self.assertTrue(t["description"])
        got = {t["code"]: t["dataType"] for t in body["eventTypes"]}
        # docs/contract.md §2's fourteen, with their dataType (rows added later may follow)
        promised = h.promised_event_types()
        self.assertEqual({c: got.get(c) for c in promised}, promised)
        self.assertEqual([(t["module"], t["code"]) for t in body["eventTypes"]],
                         sorted((t["module"], t["code"]) for t in body["eventTypes"]), "ordered by module, code")
        status, headers, body = self.call("HEAD", "/event-types")
        self.assertEqual((status, body), (200, None))

    def test_create_defaults_shape_and_location(self):
        status, headers, ep = self.new()
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers.get("cache-control"), "no-store", "a body with a secret is never cached")
        self.assert_resource(ep, "resellerId", with_secret=True)
        self.assertEqual((ep["url"], ep["resellerId"], ep["eventTypes"], ep["username"], ep["hasPassword"],
                          ep["ackMode"], ep["enabled"], ep["disabledReason"], ep["description"]),
                         (TARGET, self.reseller, sorted(ET), None, False, "notification-id", True, None, None))
        base = urllib.parse.urlsplit(h.base_url()).path
        self.assertEqual(headers["location"], base + "/endpoints/" + ep["id"])
        status, _, got = self.call("GET", headers["location"][len(base):])
        self.assertEqual(status, 200, got)
        self.assert_resource(got, "resellerId")
        self.assertEqual(got, {k: v for k, v in ep.items() if k != "secret"})

    def test_create_every_field_and_portfolio_scope(self):
        who = principal("portfolio", self.portfolio)
        pw = h.new_password()
        doc = {"url": TARGET + "?a=1", "portfolioId": self.portfolio, "eventTypes": sorted(h.EVENT_TYPES),
               "username": "user-1", "password": pw, "description": "Ünïcode ok", "ackMode": "status",
               "enabled": False}
        status, _, ep = h.api("POST", "/endpoints", json=doc, user=who[0], password=who[1])
        self.assertEqual(status, 201, ep)
        self.assert_resource(ep, "portfolioId", with_secret=True)
        self.assertEqual((ep["url"], ep["portfolioId"], ep["eventTypes"], ep["username"], ep["hasPassword"],
                          ep["ackMode"], ep["enabled"], ep["description"]),
                         (doc["url"], self.portfolio, sorted(h.EVENT_TYPES), "user-1", True, "status", False,
                          "Ünïcode ok"))
        self.assertNotIn(pw, json.dumps(ep))

    def test_read_list_patch_delete_shapes(self):
        _, _, ep = self.new(description="before")
        status, headers, got = self.call("GET", "/endpoints/" + ep["id"])
        self.assertEqual((status, headers["content-type"]), (200, "application/json"))
        self.assertNotIn("secret", got)
        status, headers, listing = self.call("GET", "/endpoints?resellerId=" + self.reseller)
        self.assertEqual((status, headers["content-type"]), (200, "application/json"))
        self.assertEqual(set(listing), {"endpoints", "next"})
        mine = [e for e in listing["endpoints"] if e["id"] == ep["id"]]
        self.assertEqual(mine, [got])
        for e in listing["endpoints"]:
            self.assert_resource(e, "resellerId")
        pw = h.new_password()
        status, headers, patched = self.call("PATCH", "/endpoints/" + ep["id"], {
            "url": TARGET + "/new", "eventTypes": [ET[0]], "username": "u2", "password": pw,
            "enabled": False, "description": None, "ackMode": "status"})
        self.assertEqual((status, headers["content-type"]), (200, "application/json"), patched)
        self.assert_resource(patched, "resellerId")
        self.assertEqual((patched["url"], patched["eventTypes"], patched["username"], patched["hasPassword"],
                          patched["enabled"], patched["description"], patched["ackMode"], patched["createdAt"]),
                         (TARGET + "/new", [ET[0]], "u2", True, False, None, "status", ep["createdAt"]))
        self.assertGreater(patched["updatedAt"], ep["updatedAt"])
        # re-enabling clears disabledReason (set by the worker after a 410)
        h.sql("UPDATE webhook_endpoints SET disabled_reason = 'receiver answered 410 Gone' WHERE public_id = %s"
              % h.q(ep["id"]))
        self.assertEqual(self.call("GET", "/endpoints/" + ep["id"])[2]["disabledReason"], "receiver answered 410 Gone")
        status, _, patched = self.call("PATCH", "/endpoints/" + ep["id"], {"enabled": True})
        self.assertEqual((status, patched["enabled"], patched["disabledReason"]), (200, True, None))
        # an empty patch changes nothing but is valid
        status, _, same = self.call("PATCH", "/endpoints/" + ep["id"], {})
        self.assertEqual(status, 200, same)
        self.assertEqual({k: v for k, v in same.items() if k != "updatedAt"},
                         {k: v for k, v in patched.items() if k != "updatedAt"})
        status, headers, body = self.call("DELETE", "/endpoints/" + ep["id"])
        self.assertEqual((status, body, headers.get("content-type")), (204, None, None))
        self.assert_problem(self.call("DELETE", "/endpoints/" + ep["id"]), 404)
        self.assert_problem(self.call("GET", "/endpoints/" + ep["id"]), 404)

    def test_rotate_shape(self):
        _, _, ep = self.new()
        status, headers, body = self.call("POST", "/endpoints/%s/rotate-secret" % ep["id"])
        self.assertEqual((status, headers["content-type"], headers.get("cache-control")),
                         (200, "application/json", "no-store"), body)
        self.assert_resource(body, "resellerId", with_secret=True)
        self.assertNotEqual(body["secret"], ep["secret"])
        self.assertEqual(body["id"], ep["id"])
        # "{}" counts as no body
        status, _, again = self.call("POST", "/endpoints/%s/rotate-secret" % ep["id"], {})
        self.assertEqual(status, 200, again)
        self.assertNotIn(again["secret"], (ep["secret"], body["secret"]))

    def test_paging_is_stable_and_ends_with_next_null(self):
        reseller = h.unique_id("res")
        who = principal("reseller", reseller)
        ids = []
        for _ in range(5):
            status, _, ep = h.api("POST", "/endpoints", json={"url": TARGET, "eventTypes": ET, "resellerId": reseller},
                                  user=who[0], password=who[1])
            self.assertEqual(status, 201, ep)
            ids.append(ep["id"])

        def pages(limit):
            out, after = [], None
            for _ in range(10):
                q = "/endpoints?limit=%d" % limit + ("&after=" + after if after else "")
                status, _, body = h.api("GET", q, user=who[0], password=who[1])
                self.assertEqual(status, 200, body)
                page = [e["id"] for e in body["endpoints"]]
                out.append(page)
                if body["next"] is None:
                    return out
                self.assertEqual(body["next"], page[-1], "next is the last id of the page")
                after = body["next"]
            self.fail("paging never ended")
        self.assertEqual(pages(2), [ids[0:2], ids[2:4], ids[4:5]])
        self.assertEqual(pages(5), [ids])            # exactly one full page: next is null
        self.assertEqual(pages(200), [ids])
        self.assertEqual(pages(1), [[i] for i in ids])
        # a deleted cursor still works (the order is by creation, not by what is left)
        h.api("DELETE", "/endpoints/" + ids[1], user=who[0], password=who[1])
        status, _, body = h.api("GET", "/endpoints?limit=2&after=" + ids[1], user=who[0], password=who[1])
        self.assertEqual([e["id"] for e in body["endpoints"]], ids[2:4])
        # default limit 50, and the filters
        status, _, body = h.api("GET", "/endpoints?resellerId=" + reseller, user=who[0], password=who[1])
        self.assertEqual(([e["id"] for e in body["endpoints"]], body["next"]), ([ids[0]] + ids[2:], None))
        status, _, body = h.api("GET", "/endpoints?portfolioId=" + h.unique_id("pf"), user=who[0], password=who[1])
        self.assertEqual((status, body), (200, {"endpoints": [], "next": None}))

    # -- error classes --------------------------------------------------------------------

    def test_list_query_errors(self):
        for query, fields_ in (("limit=0", ["limit"]), ("limit=201", ["limit"]), ("limit=abc", ["limit"]),
                               ("limit=-1", ["limit"]), ("after=nope%20x", ["after"]),
                               ("after=ep_000000000000000000000000", ["after"]),
                               ("resellerId=bad%20id&portfolioId=a&limit=0",
                                ["resellerId", "portfolioId", "limit"]),
                               ("resellerId=a&portfolioId=b", ["portfolioId"])):
            self.assert_problem(self.call("GET", "/endpoints?" + query), 422, fields_, query)

    def test_422_on_create_lists_every_bad_field(self):
        self.assert_problem(self.call("POST", "/endpoints", {
            "url": "http://user:pw@127.0.0.1/x", "resellerId": "r", "portfolioId": "p", "eventTypes": [],
            "password": h.new_password(), "description": 7, "ackMode": None, "enabled": 1, "extra": True}), 422,
            ["url", "resellerId", "portfolioId", "eventTypes", "username", "description", "ackMode", "enabled",
             "extra"])
        self.assert_problem(self.call("POST", "/endpoints", {}), 422,
                            ["url", "resellerId", "portfolioId", "eventTypes"])
        self.assert_problem(self.call("POST", "/endpoints", []), 422, [""])
        self.assert_problem(self.call("POST", "/endpoints", 1), 400, [])  # a bare scalar is not a document
        for url, why in (("http://127.0.0.1/x#frag", "fragment"), ("ftp://127.0.0.1/", "scheme"),
                         ("/relative", "absolute"), ("http://" + "a" * 2050, "2048"), ("http:///x", "host"),
                         ("http://127.0.0.1:99999/", "port"), ("http://127.0.0.1/ x", "spaces"),
                         ("http://@127.0.0.1/", "username"), (42, "string")):
            body = self.assert_problem(self.call("POST", "/endpoints", {"url": url, "eventTypes": ET,
                                                                         "resellerId": self.reseller}),
                                       422, ["url"], url)
            self.assertIn(why, body["errors"][0]["message"], url)
        # 2048 bytes is allowed, 2049 is not
        long_ok = TARGET + "?" + "a" * (2048 - len(TARGET) - 1)
        self.assertEqual(len(long_ok), 2048)
        self.new(url=long_ok)
        self.assert_problem(self.call("POST", "/endpoints", {"url": long_ok + "a", "eventTypes": ET,
                                                             "resellerId": self.reseller}), 422, ["url"])

    def test_422_on_patch_lists_every_bad_field(self):
        _, _, ep = self.new()
        path = "/endpoints/" + ep["id"]
        self.assert_problem(self.call("PATCH", path, {
            "url": "gopher://x", "eventTypes": ["billing.nope", ET[0], ET[0], 3], "username": "only-user",
            "ackMode": "x", "enabled": "no", "description": ["x"], "portfolioId": "p", "foo": 1}), 422,
            ["url", "eventTypes[0]", "eventTypes[2]", "eventTypes[3]", "password", "ackMode", "enabled",
             "description", "portfolioId", "foo"])
        self.assert_problem(self.call("PATCH", path, {"username": None, "password": h.new_password()}), 422,
                            ["username"])
        self.assert_problem(self.call("PATCH", path, {"eventTypes": "billing.allocation-created"}), 422,
                            ["eventTypes"])
        self.assert_problem(self.call("PATCH", path, [1]), 422, [""])
        status, _, still = self.call("GET", path)
        self.assertEqual({k: v for k, v in still.items()},
                         {k: v for k, v in ep.items() if k != "secret"}, "a refused PATCH changes nothing")

    def test_every_route_answers_405_415_400_413_as_problem_json(self):
        _, _, ep = self.new()
        ntf = "ntf_000000000000000000000000"
        for template, allow in ROUTES.items():
            path = template.format(ep=ep["id"], ntf=ntf)
            body = self.assert_problem(self.call("PUT", path), 405, [], path)
            self.assertIn("PUT", body["detail"])
            self.assertEqual(self.call("PUT", path)[1].get("allow"), allow, path)
            for method in [m for m in allow.split(", ") if m != "HEAD"]:
                what = "%s %s" % (method, path)
                self.assert_problem(self.call(method, path, body=b"url=x",
                                              headers={"Content-Type": "application/x-www-form-urlencoded"}),
                                    415, [], what)
                self.assert_problem(self.call(method, path, body=b'{"url": "x"',
                                              headers={"Content-Type": "application/json"}), 400, [], what)
                self.assert_problem(self.call(method, path, body=b'{"a": "\xff"}',
                                              headers={"Content-Type": "application/json"}), 400, [], what)
                self.assert_problem(raw_request(path, ["Content-Type: application/json",
                                                       "Content-Length: %d" % (CAP + 1)], method=method),
                                    413, [], what)
        # a body streamed (chunked, no Content-Length) past the cap is cut off with 413 too
        chunk = b"[" + b"1," * 32767 + b"1]"
        body = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (CAP // len(chunk) + 2) + [b"0\r\n\r\n"]
        self.assert_problem(raw_request("/endpoints", ["Content-Type: application/json",
                                                       "Transfer-Encoding: chunked"], body), 413)
        # a body of exactly the cap is read (and judged on its content)
        exact = b'{"url": "' + b"a" * (CAP - 11) + b'"}'
        self.assertEqual(len(exact), CAP)
        self.assert_problem(self.call("POST", "/endpoints", body=exact, headers={"Content-Type": "application/json"}),
                            422)
        # bodies where none is expected: members are listed, "{}" and nothing are fine
        self.assert_problem(self.call("DELETE", "/endpoints/" + ep["id"], {"force": True}), 422, ["force"])
        self.assert_problem(self.call("GET", "/event-types", [1]), 422, [""])
        self.assertEqual(self.call("GET", "/endpoints/" + ep["id"], {})[0], 200)
        # none of it touched the endpoint
        status, _, still = self.call("GET", "/endpoints/" + ep["id"])
        self.assertEqual(status, 200, "415/400/413/422 on DELETE must not delete")
        self.assertEqual(still["url"], ep["url"])
        # unknown routes and ids
        for path in ("/no-such-route", "/endpoints/%s/nothing" % ep["id"], "/endpoints//x", "/endpoints/../x"):
            self.assert_problem(self.call("GET", path), 404, [], path)
        for template in ROUTES:
            if "{" in template:
                path = template.format(ep="ep_000000000000000000000000", ntf=ntf)
                method = ROUTES[template].split(", ")[0]
                doc = {"since": "2026-01-01T00:00:00Z"} if path.endswith("/recover") else None
                self.assert_problem(self.call(method, path, doc), 404, [], path)

    def test_unauthenticated_is_401_problem_json(self):
        # Apache's auth answers before the handler; the module turns its page into problem+json
        for method, path in (("GET", "/endpoints"), ("POST", "/endpoints"), ("GET", "/event-types"),
                             ("DELETE", "/endpoints/ep_000000000000000000000000")):
            resp = h.api(method, path, auth=False)
            body = self.assert_problem(resp, 401, [], "%s %s" % (method, path))
            self.assertTrue(resp[1].get("www-authenticate", "").startswith("Basic"), resp[1])
            self.assertIn("authentication", body["detail"])

    def test_charset_parameter_is_json_too(self):
        status, _, ep = self.call("POST", "/endpoints", body=json.dumps({
            "url": TARGET, "eventTypes": ET, "resellerId": self.reseller}).encode(),
            headers={"Content-Type": "Application/JSON; charset=utf-8"})
        self.assertEqual(status, 201, ep)


class SecretRotation(unittest.TestCase):
    """After rotate-secret the worker signs with the old and the new secret for 24 h, then
    with the new one only (docs/contract.md §5)."""

    CODE = "management.merchant-modified"

    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def deliver_one(self, reseller, path, n):
        h.post_event({"eventCode": self.CODE, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
                      "data": {"merchantId": "m-%d" % n}})
        return self.receiver.wait_for(n, path, timeout=30)[n - 1]

    def test_rotation_signs_with_both_secrets_for_a_day(self):
        reseller = h.unique_id("res")
        path = "/rotating"
        ep = h.register_endpoint(self.receiver.url(path), [self.CODE], reseller_id=reseller)
        old = ep["secret"]
        req = self.deliver_one(reseller, path, 1)
        sigs = req.headers["webhook-signature"].split(" ")
        self.assertEqual(len(sigs), 1, sigs)
        self.assertIsNone(h.check_signature(old, req))

        status, _, body = h.api("POST", "/endpoints/%s/rotate-secret" % ep["id"])
        self.assertEqual(status, 200, body)
        new = body["secret"]
        req = self.deliver_one(reseller, path, 2)
        sigs = req.headers["webhook-signature"].split(" ")
        self.assertEqual(len(sigs), 2, "during rotation the header carries two signatures: %r" % sigs)
        ts, msg_id = req.headers["webhook-timestamp"], req.headers["webhook-id"]
        self.assertEqual(sorted(sigs), sorted([h.sign(old, msg_id, ts, req.body), h.sign(new, msg_id, ts, req.body)]),
                         "one signature verifies with the old secret, the other with the new one")

        # 24 h later (moved in the database): the new secret only
        h.sql("UPDATE webhook_endpoints SET prev_secret_expires_at = NOW(3) - INTERVAL 1 SECOND "
              "WHERE public_id = %s" % h.q(ep["id"]))
        req = self.deliver_one(reseller, path, 3)
        sigs = req.headers["webhook-signature"].split(" ")
        ts, msg_id = req.headers["webhook-timestamp"], req.headers["webhook-id"]
        self.assertEqual(sigs, [h.sign(new, msg_id, ts, req.body)])


if __name__ == "__main__":
    h.main()
