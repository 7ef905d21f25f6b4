#!/usr/bin/env python3
"""docs/openapi.yaml is a sound OpenAPI 3.1 document, and the check every test's answers go
through (openapi_check.py) fails on answers the document does not describe:
- the document is JSON (what GET /openapi.json serves), names OpenAPI 3.1, every path
  parameter is declared, every operation has responses with descriptions, every security
  requirement names a scheme;
- every schema is a valid JSON Schema 2020-12, every $ref resolves, every example validates
  against its schema;
- deliberately wrong answers (a member too many or too few, a wrong format, an undocumented
  status, route, content type or header) raise, and the documented examples pass;
- against the stack: the catalogue the module serves is what EventCode describes; a
  wrong document makes the harness fail a real answer; the 409 no other test provokes.
"""
import copy
import json
import os
import re
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402
import openapi_check as oc  # noqa: E402

import jsonschema  # noqa: E402

DOC = oc.document()
STATUS_KEY = re.compile(r"^([1-5][0-9]{2}|[1-5]XX|default)$")
API = "http://127.0.0.1:1/webhooks/v1"
EVENTS = API + "/events"


def walk(node, where="#"):
    """(pointer, node) of every dict in the document."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from walk(v, where + "/" + oc._escape(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (where, i))


def operations():
    for template, item in DOC.doc["paths"].items():
        for method in oc.METHODS:
            if method in item:
                yield template, method, item, item[method]


def schema_locations():
    """Pointers of every schema the document holds outside components.schemas (parameters,
    headers, media types), plus every components.schemas entry."""
    for name in DOC.doc["components"]["schemas"]:
        yield oc.pointer("components", "schemas", name)
    for where, node in walk(DOC.doc):
        if "schema" in node and isinstance(node["schema"], dict) and "/schemas/" not in where:
            yield where + "/schema"


def problem(status, title, errors=()):
    return json.dumps({"type": "about:blank", "title": title, "status": status, "detail": "x",
                       "errors": list(errors)}).encode()


ENDPOINT = {"id": "ep_4f1c2a9b8e7d6c5b4a392817", "url": "https://hooks.example.com/x",
            "resellerId": "acme", "eventTypes": ["billing.subscription-created"], "username": None,
            "hasPassword": False, "ackMode": "notification-id", "enabled": True, "disabledReason": None,
            "description": None, "createdAt": "2026-11-26T04:12:09.123Z",
            "updatedAt": "2026-11-26T04:12:09.123Z"}
JSON = {"content-type": "application/json"}
PROBLEM = {"content-type": "application/problem+json"}


def check(method, route, status, headers, body, handler="webhook-api", request=None, query=""):
    DOC.check(handler, method, route, status, headers,
              body if isinstance(body, bytes) else json.dumps(body).encode(),
              None if request is None else json.dumps(request).encode(), query)


class DocumentStructure(unittest.TestCase):
    def test_is_json_and_openapi_3_1(self):
        json.loads(json.dumps(DOC.doc))  # no YAML-only values (dates, non-string keys)
        self.assertRegex(DOC.doc["openapi"], r"^3\.1\.\d+$")
        self.assertEqual(DOC.doc["jsonSchemaDialect"], "https://json-schema.org/draft/2020-12/schema")
        for key in ("title", "version"):
            self.assertTrue(DOC.doc["info"].get(key), key)
        self.assertEqual(set(DOC.doc) - {"openapi", "info", "jsonSchemaDialect", "servers", "paths",
                                         "webhooks", "components", "security", "tags", "externalDocs"},
                         {k for k in DOC.doc if k.startswith("x-")})

    def test_every_operation_has_responses_and_declares_its_path_parameters(self):
        ids = []
        for template, method, item, op in operations():
            where = "%s %s" % (method.upper(), template)
            self.assertTrue(template.startswith("/"), where)
            self.assertTrue(op.get("responses"), where)
            ids.append(op.get("operationId"))
            for status, response in op["responses"].items():
                self.assertRegex(status, STATUS_KEY, where)
                self.assertTrue(DOC.resolve(response).get("description"), "%s %s" % (where, status))
            params = [DOC.resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
            declared = {p["name"] for p in params if p["in"] == "path"}
            self.assertEqual(declared, set(re.findall(r"\{([^}]+)\}", template)), where)
            for p in params:
                self.assertIn(p["in"], ("path", "query", "header", "cookie"), where)
                if p["in"] == "path":
                    self.assertIs(p.get("required"), True, where)
            self.assertIn("requestBody" in op, (True, False))
        self.assertTrue(all(ids), "every operation has an operationId")
        self.assertEqual(len(ids), len(set(ids)), "operationIds are unique")

    def test_security_requirements_name_defined_schemes(self):
        schemes = DOC.doc["components"]["securitySchemes"]
        reqs = list(DOC.doc.get("security", []))
        for _, _, _, op in operations():
            reqs += op.get("security", [])
        for req in reqs:
            for name in req:
                self.assertIn(name, schemes)
        for name, scheme in schemes.items():
            self.assertIn(scheme["type"], ("apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"), name)

    def test_unmatched_responses_are_described(self):
        unmatched = DOC.doc["x-webhook-unmatched"]
        self.assertIn("404", unmatched["unknownPath"])
        self.assertIn("405", unmatched["unknownMethod"])


class DocumentSchemas(unittest.TestCase):
    def test_every_ref_resolves(self):
        refs = 0
        for where, node in walk(DOC.doc):
            if "$ref" in node and isinstance(node["$ref"], str):
                refs += 1
                try:
                    DOC.resolve({"$ref": node["$ref"]})
                except (KeyError, IndexError, ValueError) as e:
                    self.fail("%s: $ref %s does not resolve (%r)" % (where, node["$ref"], e))
        self.assertGreater(refs, 50)

    def test_every_schema_is_a_valid_2020_12_schema(self):
        count = 0
        for loc in schema_locations():
            schema = DOC.resolve({"$ref": loc})
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as e:
                self.fail("%s is not a valid 2020-12 schema: %s" % (loc, e.message))
            DOC.validator(loc)  # and its references resolve
            count += 1
        self.assertGreater(count, 40)

    def test_every_example_validates(self):
        checked = 0
        for where, node in walk(DOC.doc):
            if isinstance(node.get("schema"), dict):
                loc = where + "/schema"
                samples = [("example", node["example"])] if "example" in node else []
                samples += [(name, ex.get("value")) for name, ex in (node.get("examples") or {}).items()
                            if isinstance(ex, dict)]
                for name, value in samples:
                    self.assertEqual(DOC.errors(loc, value), [], "%s example %s" % (where, name))
                    checked += 1
            if where.startswith("#/components/schemas/") and isinstance(node.get("examples"), list):
                for i, value in enumerate(node["examples"]):
                    self.assertEqual(DOC.errors(where, value), [], "%s examples[%d]" % (where, i))
                    checked += 1
        self.assertGreater(checked, 25)

    def test_examples_of_schemas_fail_when_broken(self):
        # the example check is only worth something if a broken example fails
        loc = oc.pointer("paths", "/endpoints", "post", "responses", "201", "content",
                         "application/json", "schema")
        good = DOC.resolve({"$ref": loc[:-len("/schema")]})["examples"]["created"]["value"]
        self.assertEqual(DOC.errors(loc, good), [])
        for broken in ({k: v for k, v in good.items() if k != "secret"},
                       dict(good, secret="whsec_short"), dict(good, portfolioId="p"),
                       dict(good, ackMode="never"), dict(good, createdAt="2026-11-26 04:12:09"),
                       dict(good, eventTypes=[]), dict(good, colour="red")):
            self.assertNotEqual(DOC.errors(loc, broken), [], broken)


class CheckerFailsOnWrongAnswers(unittest.TestCase):
    def assert_fails(self, *args, **kw):
        with self.assertRaises(AssertionError) as ctx:
            check(*args, **kw)
        self.assertIn("openapi:", str(ctx.exception))
        return str(ctx.exception)

    def test_documented_answers_pass(self):
        check("GET", "/endpoints/ep_1", 200, JSON, ENDPOINT)
        check("HEAD", "/endpoints/ep_1", 200, JSON, b"")
        check("GET", "/endpoints/", 200, JSON, {"endpoints": [ENDPOINT], "next": None})
        check("DELETE", "/endpoints/ep_1", 204, {}, b"")
        check("POST", "/endpoints", 201, dict(JSON, location="/x"), dict(ENDPOINT, secret="whsec_" + "A" * 43 + "="))
        check("GET", "/nope", 404, PROBLEM, problem(404, "Not Found"))
        check("TRACE", "/endpoints", 405, dict(PROBLEM, allow="GET, HEAD, POST"), problem(405, "Method Not Allowed"))
        check("POST", "", 202, JSON, [{"eventId": "evt_" + "0" * 24}, {"eventId": "evt_" + "1" * 24, "duplicate": True}],
              handler=oc.EVENTS_HANDLER)
        check("POST", "/events", 422, PROBLEM, problem(422, "Unprocessable Content", [{"field": "", "message": "m"}]),
              handler=oc.EVENTS_HANDLER)
        check("POST", "/", 503, dict(PROBLEM, **{"retry-after": "2"}), problem(503, "Service Unavailable"),
              handler=oc.EVENTS_HANDLER)
        check("POST", "/events/", 202, JSON, {"eventId": "evt_" + "0" * 24}, handler=oc.EVENTS_HANDLER)
        check("POST", "/events//", 404, PROBLEM, problem(404, "Not Found"), handler=oc.EVENTS_HANDLER)

    def test_wrong_bodies_fail(self):
        msg = self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, dict(ENDPOINT, colour="red"))
        self.assertIn("GET /endpoints/{id} answered 200", msg)
        self.assertIn("colour", msg)
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, {k: v for k, v in ENDPOINT.items() if k != "url"})
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, dict(ENDPOINT, secret="whsec_" + "A" * 43 + "="))
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, dict(ENDPOINT, portfolioId="p"))
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, dict(ENDPOINT, id="ep_XYZ"))
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, dict(ENDPOINT, ackMode="sometimes"))
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, dict(ENDPOINT, eventTypes=["Billing Created"]))
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, dict(ENDPOINT, createdAt="2026-11-26T04:12:09Z"))
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, b"{not json")
        self.assert_fails("POST", "", 202, JSON, {"eventId": "evt_" + "0" * 24, "duplicate": False},
                          handler=oc.EVENTS_HANDLER)
        self.assert_fails("GET", "/nope", 404, PROBLEM, problem(404, "Not Found", [{"field": "x"}]))
        self.assert_fails("GET", "/nope", 404, PROBLEM, problem(404, "Gone"))
        delivery = {"notificationId": "ntf_" + "0" * 24, "endpointId": "ep_" + "0" * 24,
                    "eventId": "evt_" + "0" * 24, "eventCode": "billing.subscription-created",
                    "status": "delivered", "attemptCount": 1, "nextAttemptAt": "2026-11-26T04:12:09.123Z",
                    "lastAttemptAt": None, "lastHttpStatus": 200, "lastError": None, "deliveredAt": None,
                    "createdAt": "2026-11-26T04:12:09.123Z", "updatedAt": "2026-11-26T04:12:09.123Z",
                    "test": False}
        msg = self.assert_fails("GET", "/endpoints/ep_1/deliveries", 200, JSON, {"deliveries": [delivery], "next": None})
        self.assertIn("nextAttemptAt", msg)  # due only while pending
        delivery["status"] = "pending"
        check("GET", "/endpoints/ep_1/deliveries", 200, JSON, {"deliveries": [delivery], "next": None})
        self.assert_fails("GET", "/deliveries/ntf_1", 200, JSON, delivery)  # attempts are required here

    def test_undocumented_status_route_type_and_headers_fail(self):
        msg = self.assert_fails("GET", "/event-types", 409, PROBLEM, problem(409, "Conflict"))
        self.assertIn("lists no such status", msg)
        self.assert_fails("GET", "/nope", 200, JSON, {})
        self.assert_fails("GET", "/endpoints//x", 200, JSON, ENDPOINT)
        self.assert_fails("GET", "/endpoints/ep_1", 200, {"content-type": "text/html"}, b"<html></html>")
        self.assert_fails("GET", "/endpoints/ep_1", 404, JSON, problem(404, "Not Found"))
        self.assert_fails("DELETE", "/endpoints/ep_1", 204, JSON, {})
        self.assert_fails("GET", "/endpoints/ep_1", 200, JSON, b"")
        self.assert_fails("POST", "/endpoints", 201, JSON, dict(ENDPOINT, secret="whsec_" + "A" * 43 + "="))
        self.assert_fails("PUT", "/endpoints", 405, PROBLEM, problem(405, "Method Not Allowed"))
        self.assert_fails("POST", "", 503, PROBLEM, problem(503, "Service Unavailable"), handler=oc.EVENTS_HANDLER)
        self.assert_fails("POST", "/elsewhere", 202, JSON, {"eventId": "evt_" + "0" * 24}, handler=oc.EVENTS_HANDLER)
        self.assert_fails("POST", "", 401, PROBLEM, problem(401, "Unauthorized"), handler=oc.EVENTS_HANDLER)

    def test_accepted_requests_the_document_refuses_fail(self):
        created = dict(ENDPOINT, secret="whsec_" + "A" * 43 + "=")
        good = {"url": "https://hooks.example.com/x", "resellerId": "acme", "eventTypes": ["billing.subscription-created"]}
        check("POST", "/endpoints", 201, dict(JSON, location="/x"), created, request=good)
        for bad in (dict(good, colour="red"), dict(good, portfolioId="p"), dict(good, username="u"),
                    dict(good, eventTypes=["billing.subscription-created"] * 2)):
            msg = self.assert_fails("POST", "/endpoints", 201, dict(JSON, location="/x"), created, request=bad)
            self.assertIn("accepted a request", msg)
        check("GET", "/endpoints", 200, JSON, {"endpoints": [], "next": None}, query="limit=0050&x=1")
        self.assert_fails("GET", "/endpoints", 200, JSON, {"endpoints": [], "next": None}, query="limit=500")
        self.assert_fails("GET", "/endpoints/ep_1/deliveries", 200, JSON, {"deliveries": [], "next": None},
                          query="status=lost")
        event = {"eventCode": "billing.subscription-created", "resellerId": "r", "portfolioId": "p", "data": {}}
        check("POST", "", 202, JSON, {"eventId": "evt_" + "0" * 24}, handler=oc.EVENTS_HANDLER, request=event)
        self.assert_fails("POST", "", 202, JSON, {"eventId": "evt_" + "0" * 24}, handler=oc.EVENTS_HANDLER,
                          request=dict(event, data=[]))

    def test_urls_map_to_their_handler_and_failures_are_kept(self):
        before = list(oc.FAILURES)
        try:
            oc.check_answer("POST", EVENTS, 202, JSON, json.dumps({"eventId": "evt_" + "0" * 24}).encode(),
                            API, EVENTS)
            oc.check_answer("GET", "http://127.0.0.1:2/elsewhere", 200, {}, b"anything", API, EVENTS)
            with self.assertRaises(AssertionError):
                oc.check_answer("POST", API + "/endpoints?x=1", 202, JSON, b"{}", API, EVENTS)
            with self.assertRaises(AssertionError):  # the events location is not webhook-api's
                oc.check_answer("GET", EVENTS, 200, JSON, json.dumps({"eventTypes": []}).encode(), API, EVENTS)
            self.assertEqual(len(oc.FAILURES), len(before) + 2)
        finally:
            oc.FAILURES[:] = before


class AgainstTheStack(unittest.TestCase):
    def test_the_served_catalogue_is_what_the_document_describes(self):
        # every served code is checked against EventCode on the way (a code the pattern does not
        # allow fails the check); the document names no code the catalogue lacks
        status, _, body = h.api("GET", "/event-types")
        self.assertEqual(status, 200, body)
        served = {t["code"] for t in body["eventTypes"]}
        self.assertEqual(len(served), len(body["eventTypes"]), "a code listed twice")
        documented = set(DOC.resolve({"$ref": "#/components/schemas/EventCode"})["examples"])
        self.assertLessEqual(documented, served, "EventCode's examples in docs/openapi.yaml name "
                                                 "codes the catalogue does not have")

    def test_redeliver_while_in_flight_is_a_documented_409(self):
        release = threading.Event()
        with h.Receiver() as rx:
            rx.set("/hold", h.hang_until(release))
            reseller = h.unique_id("res")
            ep = h.register_endpoint(rx.url("/hold"), ["billing.transaction-created"], reseller_id=reseller)
            event_id = h.post_event({"eventCode": "billing.transaction-created", "resellerId": reseller,
                                     "portfolioId": h.unique_id("pf"), "data": {"n": 1}})
            try:
                h.wait_until(lambda: rx.requests("/hold"), timeout=30, message="the worker to send the event")
                ntf = h.deliveries_for_event(event_id)[0][0]
                status, headers, body = h.api("POST", "/deliveries/%s/redeliver" % ntf)
            finally:
                release.set()
        self.assertEqual(status, 409, body)
        self.assertEqual(body["title"], "Conflict")
        self.assertEqual(h.api("DELETE", "/endpoints/" + ep["id"])[0], 204)

    def test_the_harness_checks_real_answers(self):
        before = list(oc.FAILURES)
        real = oc.document

        wrong = copy.deepcopy(DOC.doc)
        wrong["components"]["schemas"]["EventTypeList"]["required"].append("total")
        path = os.path.join(h.state_dir(), "openapi-wrong.yaml")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(wrong, f)  # JSON is YAML
        wrong_document = oc.OpenApiDocument(path)
        try:
            oc.document = lambda: wrong_document
            with self.assertRaises(AssertionError) as ctx:
                h.api("GET", "/event-types")
            self.assertIn("total", str(ctx.exception))
        finally:
            oc.document = real
            oc.FAILURES[:] = before


if __name__ == "__main__":
    h.main()
