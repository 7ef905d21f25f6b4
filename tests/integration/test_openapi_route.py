#!/usr/bin/env python3
"""GET /openapi.json below the registration API: the OpenAPI document (docs/openapi.yaml,
embedded in the module as JSON at build time) as application/json, cacheable, and public once
Apache's authorization lets it through (the module asks for no user on this route). Runs on a
PRIVATE stack whose httpd config adds that authorization, as conf.d/webhook.conf shows it."""
import json
import os
import shutil
import sys
import tempfile
import unittest
import urllib.parse

import harness as h

sys.path.insert(0, os.path.join(h.REPO, "mod_webhook"))
import openapi_embed  # noqa: E402  (the YAML -> JSON conversion the build uses)

STACK = None
CONF_DIR = None
API_LOCATION = "/webhooks/v1"  # the stack's webhook-api <Location> (conf.d/httpd-stack.conf.in)

# As in conf.d/webhook.conf: everyone may read the API's description, other paths still need
# a valid user. This section comes after the stack's, so it replaces the authorization of
# every path below it: the events API's own one is stated again after it.
PUBLIC_DOCUMENT_CONF = """
<Location %(loc)s>
  <RequireAny>
    Require valid-user
    Require expr %%{REQUEST_URI} == "%(loc)s/openapi.json"
  </RequireAny>
</Location>
<Location %(loc)s/events>
  AuthType None
  Require ip 127.0.0.1 ::1
</Location>
""" % {"loc": API_LOCATION}


def setUpModule():
    global STACK, CONF_DIR
    CONF_DIR = tempfile.mkdtemp(prefix="openapi-route-")
    conf = os.path.join(CONF_DIR, "public-openapi.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(PUBLIC_DOCUMENT_CONF)
    STACK = h.PrivateStack("openapi_route")
    STACK.settings["WEBHOOK_HTTPD_EXTRA_CONF"] = conf
    STACK.up()
    STACK.activate()


def tearDownModule():
    try:
        if STACK is not None:
            STACK.down()
    finally:
        if CONF_DIR:
            shutil.rmtree(CONF_DIR, ignore_errors=True)


def document_url():
    return h.base_url() + "/openapi.json"


def expected_document():
    return openapi_embed.load(os.path.join(h.REPO, "docs", "openapi.yaml"))


class OpenApiRoute(unittest.TestCase):
    def test_stack_maps_the_api_where_the_extra_conf_expects(self):
        self.assertEqual(urllib.parse.urlsplit(h.base_url()).path.rstrip("/"), API_LOCATION)

    def test_served_document_is_the_yaml_as_json(self):
        status, headers, body = h.http_request("GET", document_url())
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(json.loads(body.decode("utf-8")), expected_document())

    def test_no_credentials_needed_and_other_routes_still_need_them(self):
        status, _, _ = h.http_request("GET", document_url())
        self.assertEqual(status, 200)
        status, headers, _ = h.http_request("GET", h.base_url() + "/event-types")
        self.assertEqual(status, 401)
        self.assertIn("www-authenticate", headers)

    def test_with_credentials_too(self):
        status, headers, body = h.api("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(body, expected_document())

    def test_cacheable(self):
        _, headers, _ = h.http_request("GET", document_url())
        cache = headers.get("cache-control", "")
        self.assertIn("max-age=", cache)
        self.assertNotIn("no-store", cache)
        # other answers stay uncacheable
        _, headers, _ = h.api("GET", "/event-types")
        self.assertEqual(headers.get("cache-control"), "no-store")

    def test_head(self):
        status, headers, body = h.http_request("HEAD", document_url())
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers.get("content-type"), "application/json")

    def test_wrong_method_gets_405_with_allow(self):
        for method in ("POST", "PUT", "PATCH", "DELETE", "TRACE"):
            with self.subTest(method=method):
                status, headers, body = h.http_request(method, document_url())
                self.assertEqual(status, 405, body[:300])
                self.assertEqual(headers.get("allow"), "GET, HEAD")
                self.assertEqual(headers.get("content-type"), "application/problem+json")
                problem = json.loads(body.decode("utf-8"))
                self.assertEqual(problem.get("status"), 405)

    def test_only_below_the_registration_api(self):
        status, _, _ = h.http_request("GET", h.events_url() + "/openapi.json")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
