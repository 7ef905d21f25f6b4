"""Checks HTTP answers of mod_webhook against docs/openapi.yaml (OpenAPI 3.1).

The harness passes every answer it receives from the module's two handlers through
check_answer(); an answer the document does not describe (an undocumented route, status or
content type, a body that does not match its schema, a missing required header) raises an
AssertionError naming the method, the path, the status and the validator's message.

Schemas are validated with jsonschema's Draft 2020-12 validator (the dialect of OpenAPI
3.1), with the whole document as the root for "#/components/..." references. Works with
Debian 12's python3-jsonschema (4.10, RefResolver) and with newer releases (referencing).
"""
import json
import os
import re
import threading
import urllib.parse

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DOCUMENT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "docs", "openapi.yaml")
DOC_URI = "urn:mod-webhook:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
EVENTS_HANDLER = "webhook-events"

# Every mismatch found, also those a caller caught: harness.main() fails the test file on
# any of them, so a thread or a broad `except` cannot hide one.
FAILURES = []
_failures_lock = threading.Lock()


def pointer(*parts):
    """A JSON pointer fragment ("#/paths/~1endpoints/get") from its unescaped parts."""
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class OpenApiDocument:
    """docs/openapi.yaml, loaded once, with a validator per schema location."""

    def __init__(self, path=DOCUMENT):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self._validators = {}
        self._lock = threading.Lock()
        try:  # jsonschema >= 4.18
            import referencing
            import referencing.jsonschema
            resource = referencing.Resource.from_contents(
                self.doc, default_specification=referencing.jsonschema.DRAFT202012)
            self._registry = referencing.Registry().with_resource(DOC_URI, resource)
            self._resolver = None
        except ImportError:  # Debian 12: RefResolver
            self._registry = None
            self._resolver = jsonschema.RefResolver(DOC_URI, self.doc, store={DOC_URI: self.doc})

    # ---- references and validation

    def resolve(self, node):
        """Follows $ref (of responses, parameters, headers) to the node it names."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise AssertionError("openapi: only local references are used, not %r" % ref)
            node = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                node = node[part] if isinstance(node, dict) else node[int(part)]
            seen += 1
            if seen > 20:
                raise AssertionError("openapi: reference loop at %r" % ref)
        return node

    def validator(self, location):
        """A Draft 2020-12 validator for the schema at `location` (a "#/…" pointer)."""
        with self._lock:
            v = self._validators.get(location)
            if v is None:
                schema = {"$ref": DOC_URI + location}
                cls = jsonschema.Draft202012Validator
                checker = jsonschema.FormatChecker()
                if self._registry is not None:
                    v = cls(schema, registry=self._registry, format_checker=checker)
                else:
                    v = cls(schema, resolver=self._resolver, format_checker=checker)
                self._validators[location] = v
            return v

    def errors(self, location, instance):
        """The validator's messages for instance against the schema at location (best first)."""
        v = self.validator(location)
        found = sorted(v.iter_errors(instance), key=lambda e: (len(list(e.path)), str(e.message)))
        best = jsonschema.exceptions.best_match(iter(found)) if found else None
        out = []
        for e in ([best] if best is not None else []) + found:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            msg = "at %s: %s" % (where, _short(e.message))
            if msg not in out:
                out.append(msg)
        return out[:5]

    # ---- operations

    def path_items(self, handler):
        """(template, item) of the paths one handler serves."""
        for template, item in self.doc.get("paths", {}).items():
            if (item.get("x-webhook-handler") == EVENTS_HANDLER) == (handler == EVENTS_HANDLER):
                yield template, item

    def match_path(self, handler, route):
        """The (template, path item) the module routes `route` (relative to the handler's
        location) to, or (None, None). Mirrors the module's router: empty ("//") and dot
        segments name no route; a trailing "/" is ignored."""
        segs = _segments(route)
        if segs is None:
            return None, None
        if handler == EVENTS_HANDLER:
            for template, item in self.path_items(handler):
                if any(_segments(r) == segs for r in item.get("x-webhook-routes", [template])):
                    return template, item
            return None, None
        for template, item in self.path_items(handler):
            tsegs = [s for s in template.split("/") if s]
            if len(tsegs) == len(segs) and all(
                    t == s or (t.startswith("{") and t.endswith("}")) for t, s in zip(tsegs, segs)):
                return template, item
        return None, None

    def responses_for(self, handler, method, route):
        """(label, responses map, pointer of that map) for a request; HEAD uses GET's."""
        template, item = self.match_path(handler, route)
        unmatched = self.doc.get("x-webhook-unmatched", {})
        if item is None:
            return "%s (no route)" % route, unmatched.get("unknownPath", {}), \
                pointer("x-webhook-unmatched", "unknownPath")
        m = method.lower()
        if m == "head" and "head" not in item:
            m = "get"
        if m not in item or m not in METHODS:
            return "%s (method not taken)" % template, unmatched.get("unknownMethod", {}), \
                pointer("x-webhook-unmatched", "unknownMethod")
        return template, item[m].get("responses", {}), pointer("paths", template, m, "responses")

    def check(self, handler, method, route, status, headers, body, request=None, query=""):
        """Raises AssertionError when the answer (status, headers with lower-case names, raw
        body bytes) is not what the document describes for method + route. On a 2xx answer
        the request too (its JSON body, its query parameters) must be one the document
        describes: the module accepted it, so a client that follows the document may send it."""
        label, responses, where = self.responses_for(handler, method, route)

        def fail(why):
            raise AssertionError("openapi: %s %s answered %s: %s" % (method, label, status, why))

        if 200 <= status < 300 and where.startswith("#/paths/"):
            for why in self.request_problems(where[:-len("/responses")], request, query):
                fail("the module accepted a request the document does not allow: " + why)

        key = str(status)
        if key not in responses:
            key = "default"
        if key not in responses:
            fail("the document lists no such status (it lists %s)" % ", ".join(sorted(responses)))
        response = self.resolve(responses[key])
        for name, header in (response.get("headers") or {}).items():
            header = self.resolve(header)
            if header.get("required") and name.lower() not in headers:
                fail("the required header %s is missing" % name)
        content = response.get("content") or {}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if method.upper() == "HEAD" or not body:
            if content and method.upper() != "HEAD":
                fail("no body, but the document describes one (%s)" % ", ".join(content))
            return
        if not content:
            fail("a body (%s), but the document describes none" % (ctype or "no Content-Type"))
        if ctype not in content:
            fail("Content-Type %r is not one the document lists (%s)" % (ctype, ", ".join(content)))
        media = content[ctype]
        if "schema" not in media:
            return
        try:
            instance = json.loads(body.decode("utf-8"))
        except ValueError as e:
            fail("the body is not JSON (%s): %r" % (e, body[:200]))
        # the schema's own location, so its "#/…" references resolve in the document
        ref = self.resolve_location(responses[key], where + "/" + _escape(key))
        problems = self.errors(ref + "/content/" + _escape(ctype) + "/schema", instance)
        if problems:
            fail("the body does not match the document: %s; body %s"
                 % ("; ".join(problems), _short(json.dumps(instance), 400)))

    def request_problems(self, op_location, request, query):
        """What is wrong with an accepted request (JSON body, query string) by the operation's
        requestBody and query parameters."""
        op = self.resolve({"$ref": op_location})
        out = []
        media = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
        if media and request:
            try:
                instance = json.loads(request.decode("utf-8") if isinstance(request, bytes) else request)
            except ValueError:
                instance = None
                out.append("the body is not JSON")
            if instance is not None:
                for e in self.errors(op_location + "/requestBody/content/application~1json/schema", instance):
                    out.append("body " + e)
        item_location = op_location.rsplit("/", 1)[0]
        params = {}
        for loc in (item_location, op_location):
            for i, p in enumerate(self.resolve({"$ref": loc}).get("parameters", [])):
                ploc = self.resolve_location(p, "%s/parameters/%d" % (loc, i))
                p = self.resolve(p)
                if p["in"] == "query":
                    params[p["name"]] = ploc + "/schema"
        for name, values in urllib.parse.parse_qs(query or "", keep_blank_values=True).items():
            if name in params:
                value = values[-1]
                value = int(value) if re.fullmatch("[0-9]+", value) else value
                out += ["query %s=%s %s" % (name, _short(values[-1], 40), e) for e in self.errors(params[name], value)]
        return out

    def resolve_location(self, node, location):
        """The pointer of the node a (chain of) $ref leads to, starting at location."""
        while isinstance(node, dict) and "$ref" in node:
            location = node["$ref"]
            node = self.resolve({"$ref": location})
        return location


def _segments(route):
    """The segments of a route as the module's router splits it; None when it names no
    route (an empty or dot segment)."""
    if "//" in route:
        return None
    segs = [s for s in route.split("/") if s]
    return None if any(s in (".", "..") for s in segs) else segs


def _escape(part):
    return str(part).replace("~", "~0").replace("/", "~1")


def _short(text, n=300):
    text = str(text)
    return text if len(text) <= n else text[:n] + "…"


_DOCUMENT = None
_DOCUMENT_LOCK = threading.Lock()


def document():
    """The document, loaded once per process."""
    global _DOCUMENT
    with _DOCUMENT_LOCK:
        if _DOCUMENT is None:
            _DOCUMENT = OpenApiDocument()
        return _DOCUMENT


def _below(url, base):
    """The path of url below base (same host and port), or None."""
    u, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    if (u.hostname, u.port) != (b.hostname, b.port):
        return None
    root = b.path.rstrip("/")
    if u.path == root or u.path.startswith(root + "/"):
        return u.path[len(root):]
    return None


def split_reply(data):
    """(status, headers with lower-case names, body) of a raw HTTP/1.1 reply read until the
    server closed (tests that talk to the module over a bare socket); a chunked body is
    decoded."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0], 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    elif "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return status, headers, body


def check_answer(method, url, status, headers, body, api_base, events_base, request=None):
    """Checks one answer of the module against the document. url is the URL requested;
    api_base / events_base the locations of webhook-api and webhook-events; request the
    body sent (bytes or text), when known. Answers from other URLs (receivers, metrics) are
    not checked. Raises AssertionError on a mismatch and keeps it in FAILURES."""
    handler, route = None, None
    if events_base:
        route = _below(url, events_base)
        handler = EVENTS_HANDLER if route is not None else None
    if handler is None and api_base:
        route = _below(url, api_base)
        handler = "webhook-api" if route is not None else None
    if handler is None:
        return
    try:
        document().check(handler, method, route, status, {k.lower(): v for k, v in headers.items()}, body,
                         request, urllib.parse.urlsplit(url).query)
    except AssertionError as e:
        with _failures_lock:
            FAILURES.append(str(e))
        _log(handler, method, route, status, headers, str(e))
        raise
    _log(handler, method, route, status, headers, "ok")


def _log(handler, method, route, status, headers, verdict):
    """With OPENAPI_CHECK_LOG=FILE, one line per checked answer (which routes and statuses
    the suite covers)."""
    path = os.environ.get("OPENAPI_CHECK_LOG")
    if not path:
        return
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "-")
    with _failures_lock, open(path, "a", encoding="utf-8") as f:
        f.write("%s %s %s %s %s %s\n" % (handler, method[:16], _short(route, 60), status, ctype, verdict))
