#!/usr/bin/env python3
"""Cross-site refusal (docs/registration-api.md, "Security"): Apache with the module refuses
POST, PATCH and DELETE below webhook-api that a browser sent for a page of another site
(Sec-Fetch-Site: cross-site, or without it an Origin that is not the request's own
scheme://host:port), with a problem+json 403 and no change; same-origin, same-site, none and
requests without these headers (curl, servers) pass; reads and webhook-events are not
concerned."""
import unittest
import urllib.parse

import harness as h

CODE = "management.terminal-modified"


def own_origin():
    u = urllib.parse.urlsplit(h.base_url())
    return "%s://%s" % (u.scheme, u.netloc)


class CrossSite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = h.Receiver()
        cls.reseller = h.unique_id("res")
        cls.ep = h.register_endpoint(cls.receiver.url("/cs"), [CODE], reseller_id=cls.reseller,
                                     description="before")

    @classmethod
    def tearDownClass(cls):
        cls.receiver.close()

    def assert_refused(self, status, headers, body, what):
        self.assertEqual(status, 403, "%s: %r" % (what, body))
        self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"), what)
        self.assertIn("is refused", body["detail"], what)

    def endpoint_count(self, url):
        return h.sql_value("SELECT COUNT(*) FROM webhook_endpoints WHERE url = %s AND deleted_at IS NULL" % h.q(url))

    def test_cross_site_changes_are_refused_and_change_nothing(self):
        foreign = {"Origin": "https://evil.example"}
        for name, hdrs in (("Sec-Fetch-Site: cross-site", {"Sec-Fetch-Site": "cross-site"}),
                           ("cross-site with our own Origin", {"Sec-Fetch-Site": "cross-site", "Origin": own_origin()}),
                           ("foreign Origin", foreign),
                           ("another port", {"Origin": own_origin().rsplit(":", 1)[0] + ":1"}),
                           ("another host name for the same address",
                            {"Origin": own_origin().replace("127.0.0.1", "localhost")}),
                           ("https instead of http", {"Origin": own_origin().replace("http:", "https:")}),
                           ("Origin: null", {"Origin": "null"})):
            url = self.receiver.url("/new-" + str(abs(hash(name))))
            status, headers, body = h.api("POST", "/endpoints", json={"url": url, "eventTypes": [CODE],
                                                                      "resellerId": self.reseller}, headers=hdrs)
            self.assert_refused(status, headers, body, "POST " + name)
            self.assertEqual(self.endpoint_count(url), "0", name)
        path = "/endpoints/" + self.ep["id"]
        status, headers, body = h.api("PATCH", path, json={"description": "after"}, headers=foreign)
        self.assert_refused(status, headers, body, "PATCH")
        status, headers, body = h.api("DELETE", path, headers={"Sec-Fetch-Site": "cross-site"})
        self.assert_refused(status, headers, body, "DELETE")
        status, headers, body = h.api("POST", path + "/rotate-secret", headers=foreign)
        self.assert_refused(status, headers, body, "rotate-secret")
        status, headers, body = h.api("POST", path + "/test", headers=foreign)
        self.assert_refused(status, headers, body, "send a test event")
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE test_endpoint_id = "
                                     "(SELECT id FROM webhook_endpoints WHERE public_id = %s)" % h.q(self.ep["id"])),
                         "0", "no test event queued")
        status, _, body = h.api("GET", path)
        self.assertEqual((status, body["description"]), (200, "before"), "nothing changed")

    def test_refused_before_the_body_is_judged(self):
        # a body that is not JSON would be 415: the refusal comes first, nothing is parsed
        status, headers, body = h.api("POST", "/endpoints", body=b"not json",
                                      headers={"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"})
        self.assert_refused(status, headers, body, "text/plain body")

    def test_same_origin_and_plain_clients_pass(self):
        for name, hdrs in (("no headers", {}), ("own Origin", {"Origin": own_origin()}),
                           ("own Origin in capitals", {"Origin": own_origin().upper()}),
                           ("same-origin", {"Sec-Fetch-Site": "same-origin", "Origin": own_origin()}),
                           ("same-site (a sibling host's page)", {"Sec-Fetch-Site": "same-site",
                                                                  "Origin": "http://portal.example"}),
                           ("none (typed by the user)", {"Sec-Fetch-Site": "none"})):
            url = self.receiver.url("/ok-" + str(abs(hash(name))))
            status, _, body = h.api("POST", "/endpoints", json={"url": url, "eventTypes": [CODE],
                                                                "resellerId": self.reseller}, headers=hdrs)
            self.assertEqual(status, 201, "%s: %r" % (name, body))
            status, _, body = h.api("DELETE", "/endpoints/" + body["id"], headers=hdrs)
            self.assertEqual(status, 204, "%s: %r" % (name, body))

    def test_reads_and_the_events_handler_are_not_concerned(self):
        hdrs = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
        for path in ("/endpoints/" + self.ep["id"], "/endpoints/%s/deliveries" % self.ep["id"], "/event-types",
                     "/openapi.json"):
            status, _, body = h.api("GET", path, headers=hdrs)
            self.assertEqual(status, 200, "%s: %r" % (path, body))
        status, _, body = h.post_events({"eventCode": CODE, "resellerId": self.reseller, "portfolioId": "pf-cs",
                                         "data": {"terminalId": "t-1", "enabled": True}}, headers=hdrs)
        self.assertEqual(status, 202, "webhook-events is server to server: %r" % (body,))


if __name__ == "__main__":
    h.main()
