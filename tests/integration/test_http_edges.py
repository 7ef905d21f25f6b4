#!/usr/bin/env python3
"""Requests at the edges of HTTP inside the module's locations, against the shared stack:
- a route id of 4 KB or more gets the module's problem+json 404, not Apache's 403, and no
  AH00127 line (the module's locations are not mapped to the filesystem);
- TRACE gets problem+json 405 with Allow (never an echo of the request, never httpd's page);
- a 405 detail echoes at most 32 bytes of a very long method;
- an endpoint `description` with control characters is refused (422), on POST and PATCH.
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402

ET = ["billing.subscription-created"]


def error_log():
    with open(h.env()["WEBHOOK_HTTPD_ERROR_LOG"], encoding="utf-8", errors="replace") as f:
        return f.read()


def raw(method, path, auth=True, events=False):
    e = h.env()
    headers = {"Accept": "application/json"}
    if auth:
        headers["Authorization"] = h.basic_auth_header(e["WEBHOOK_API_USER"], e["WEBHOOK_API_PASSWORD"])
    url = (h.events_url() if events else h.base_url() + path)
    status, hdrs, data = h.http_request(method, url, headers=headers)
    return status, hdrs, data


class HttpEdges(unittest.TestCase):
    def assert_problem(self, status, hdrs, data, want):
        self.assertEqual(status, want, data[:300])
        self.assertEqual(hdrs.get("content-type"), "application/problem+json", hdrs)
        doc = h._json.loads(data.decode("utf-8"))
        self.assertEqual(doc["status"], want, doc)
        return doc

    def test_long_route_ids_get_problem_404_without_ah00127(self):
        before = len(error_log())
        long_id = "e" * 4096
        for path in ("/endpoints/" + long_id, "/endpoints/" + long_id + "/deliveries",
                     "/deliveries/" + "d" * 6000, "/" + "x" * 5000):
            status, hdrs, data = raw("GET", path)
            self.assert_problem(status, hdrs, data, 404)
        status, hdrs, data = raw("PATCH", "/endpoints/" + long_id)  # 415/404, never 403
        self.assertNotEqual(status, 403, data[:300])
        self.assertEqual(hdrs.get("content-type"), "application/problem+json")
        new_lines = error_log()[before:]
        self.assertNotIn("AH00127", new_lines)
        self.assertNotIn("Cannot map", new_lines)

    def test_trace_gets_problem_405_with_allow(self):
        status, hdrs, data = raw("TRACE", "/endpoints")
        doc = self.assert_problem(status, hdrs, data, 405)
        self.assertEqual(hdrs.get("allow"), "GET, HEAD, POST")
        self.assertNotIn(b"Authorization", data)
        self.assertNotIn(b"Basic ", data)
        self.assertIn("TRACE", doc["detail"])
        status, hdrs, data = raw("TRACE", None, auth=False, events=True)
        self.assert_problem(status, hdrs, data, 405)
        self.assertEqual(hdrs.get("allow"), "POST")

    def test_405_detail_caps_the_echoed_method(self):
        method = "M" * 3000
        status, hdrs, data = raw(method, "/event-types")
        doc = self.assert_problem(status, hdrs, data, 405)
        self.assertEqual(hdrs.get("allow"), "GET, HEAD")
        self.assertIn("M" * 32, doc["detail"])
        self.assertNotIn("M" * 33, doc["detail"])
        self.assertLess(len(data), 400, "the answer stays small")

    def test_description_refuses_control_characters(self):
        reseller = h.unique_id("res")
        for bad in ("two\nlines", "tab\there", "\x1b[31mred", "bell\x07", "del\x7f"):
            status, _, body = h.api("POST", "/endpoints", json={
                "url": "http://127.0.0.1:9/hook", "eventTypes": ET, "resellerId": reseller, "description": bad})
            self.assertEqual(status, 422, "%r: %r" % (bad, body))
            self.assertEqual([e["field"] for e in body["errors"]], ["description"], bad)
        ep = h.register_endpoint("http://127.0.0.1:9/hook", ET, reseller_id=reseller, description="Café — ok")
        status, _, body = h.api("PATCH", "/endpoints/" + ep["id"], json={"description": "a\rb"})
        self.assertEqual(status, 422, body)
        self.assertEqual([e["field"] for e in body["errors"]], ["description"])
        status, _, body = h.api("GET", "/endpoints/" + ep["id"])
        self.assertEqual(body["description"], "Café — ok")


if __name__ == "__main__":
    h.main()
