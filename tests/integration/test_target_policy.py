#!/usr/bin/env python3
"""Target addresses (docs/contract.md §4): a URL whose host is, or resolves to, a
private, loopback, link-local, unique-local, multicast, unspecified or cloud-metadata address
is refused with 422 in every notation, unless WebhookAllowPrivateTargets allows it.

The shared stack allows "127.0.0.0/8 ::1/128" (its receivers run on loopback): everything
else non-public is refused here, loopback is allowed — in every notation, and by name.
test_registration_outage.py runs a private stack with the policy Off (loopback refused too).
"""
import unittest

import harness as h

ET = ["billing.subscription-created"]
NOT_ALLOWED = "the URL's host is not an allowed target"

# host part of the URL -> what it is
REFUSED = {
    "10.0.0.1": "private",
    "0x0a000001": "private, hex",
    "167772161": "private, decimal",
    "012.0.0.1": "private, octal",
    "10.1": "private, short form",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "0300.0250.0001.0001": "private 192.168.1.1, octal",
    "169.254.169.254": "cloud metadata",
    "0xa9fea9fe": "cloud metadata, hex",
    "0xa9.0xfe.0xa9.0xfe": "cloud metadata, dotted hex",
    "2852039166": "cloud metadata, decimal",
    "0251.0376.0251.0376": "cloud metadata, octal",
    "169.254.1.1": "link-local",
    "100.64.0.1": "shared address space",
    "0.0.0.0": "unspecified",
    "0": "unspecified, decimal",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "255.255.255.255": "broadcast",
    "[::]": "unspecified IPv6",
    "[fc00::1]": "unique-local",
    "[fd12:3456:789a::1]": "unique-local",
    "[fe80::1]": "link-local IPv6",
    "[ff02::1]": "multicast IPv6",
    "[::ffff:10.0.0.1]": "IPv4-mapped private",
    "[::ffff:169.254.169.254]": "IPv4-mapped metadata",
    "[::ffff:a9fe:a9fe]": "IPv4-mapped metadata, hex words",
    "[64:ff9b::a9fe:a9fe]": "NAT64 of the metadata address",
    "[2002:a9fe:a9fe::1]": "6to4 of the metadata address",
    "[fd00:ec2::254]": "AWS IPv6 metadata (unique-local)",
    "168.63.129.16": "Azure host services (DNS, health probes, metadata)",
    "[3fff::1]": "IPv6 documentation 3fff::/20",
    "[3fff:fff:ffff::1]": "IPv6 documentation 3fff::/20, its last /32",
    "[2001:2::1]": "IPv6 benchmarking 2001:2::/48",
}
# allowed by the shared stack's "127.0.0.0/8 ::1/128"
LOOPBACK = ["127.0.0.1", "127.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001",
            "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost", "LOCALHOST"]


class TargetPolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reseller = h.unique_id("res")

    def post(self, url, reseller=None, **extra):
        doc = {"url": url, "eventTypes": ET, "resellerId": reseller or self.reseller}
        doc.update(extra)
        return h.api("POST", "/endpoints", json=doc)

    def assert_refused(self, resp, what, fields=("url",)):
        status, headers, body = resp
        self.assertEqual(status, 422, "%s: %r" % (what, body))
        self.assertTrue(headers["content-type"].startswith("application/problem+json"))
        self.assertEqual(sorted(e["field"] for e in body["errors"]), sorted(fields), what)
        return body

    def test_non_public_addresses_are_refused_in_every_notation(self):
        reseller = h.unique_id("res")
        for host, what in REFUSED.items():
            for url in ("http://%s/hook" % host, "https://%s:8443/x?y=1" % host):
                body = self.assert_refused(self.post(url, reseller), "%s (%s)" % (url, what))
                # the generic answer: what a name resolves to stays in the admin's log (WH00044)
                self.assertEqual(body["errors"][0]["message"], NOT_ALLOWED, url)
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_endpoints WHERE scope_id = %s"
                                     % h.q(reseller)), "0", "nothing refused was stored")

    def test_a_refused_target_is_listed_with_the_other_bad_fields(self):
        self.assert_refused(self.post("http://169.254.169.254/latest/meta-data", eventTypes=[], ackMode="x"),
                            "metadata + bad fields", ("url", "eventTypes", "ackMode"))

    def test_patch_applies_the_same_policy(self):
        ep = h.register_endpoint("http://127.0.0.1:9/ok", ET, reseller_id=self.reseller)
        for host in ("10.0.0.1", "0xa9fea9fe", "[::ffff:169.254.169.254]", "[fe80::1]"):
            self.assert_refused(h.api("PATCH", "/endpoints/" + ep["id"], json={"url": "http://%s/" % host}), host)
        status, _, body = h.api("GET", "/endpoints/" + ep["id"])
        self.assertEqual(body["url"], "http://127.0.0.1:9/ok")

    def test_allow_list_admits_loopback_in_every_notation_and_by_name(self):
        for host in LOOPBACK:
            status, _, body = self.post("http://%s:9/hook" % host)
            self.assertEqual(status, 201, "%s is inside 127.0.0.0/8 ::1/128: %r" % (host, body))
            self.assertEqual(body["url"], "http://%s:9/hook" % host, "the URL is stored as given")

    def test_names_that_do_not_resolve_are_refused(self):
        body = self.assert_refused(self.post("http://no-such-host.invalid/hook"), ".invalid")
        self.assertIn("does not resolve", body["errors"][0]["message"])


if __name__ == "__main__":
    h.main()
