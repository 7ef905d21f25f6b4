#!/usr/bin/env python3
"""The bad-input corpus of the registration API (webhook-api): POST /endpoints,
PATCH /endpoints/{id}, POST …/rotate-secret, POST …/recover and the list query string.
Every case gets its EXACT status (and, for 422, the exact list of fields named); afterwards
webhook_endpoints holds exactly the corpus' valid endpoints (SQL-looking and CR/LF text
stored byte for byte) and the corpus' base endpoint is unchanged (no refused PATCH, rotate or
recover touched it).

Header injection: username is the only field that reaches a header verbatim (the worker's
Authorization: Basic base64(user:password)); a CR, LF or any control character in it is 422.
The password only reaches that header base64-encoded and description/url never do (url is
printable ASCII only), so CR/LF there is either 422 (url) or stored verbatim (password,
description) where it cannot break a header.
"""
import json
import unittest
import urllib.parse

import harness as h

PREFIX = h.unique_id("rcp")  # every resellerId of this corpus starts with it
R = PREFIX + "-r"
ET = ["billing.subscription-created"]
TARGET = "http://127.0.0.1:9/hook"
CAP = 1048576  # the stack's WebhookMaxBodySize
JSON = "application/json"
SQLISH = ["' OR '1'='1'; --", "Robert'); DROP TABLE webhook_endpoints;--", "\\'; SELECT SLEEP(10); #",
          "1; UPDATE webhook_endpoints SET url='x' /*", "\" OR \"\"=\"", "%27%20OR%201=1", "$(reboot)`id`"]


def js(doc):
    return json.dumps(doc).encode()


def ep(**fields):
    """A valid create document of the corpus; a value of DROP removes the field."""
    d = {"url": TARGET, "eventTypes": ET, "resellerId": R}
    for k, v in fields.items():
        if v is DROP:
            d.pop(k, None)
        else:
            d[k] = v
    return d


DROP = object()


def nest(levels, leaf=b'"billing.subscription-created"'):
    return b"[" * levels + leaf + b"]" * levels


def corpus():
    """(name, method, path, body bytes or None, content type or None, status, 422 fields).
    Paths use {ep} for the corpus' base endpoint."""
    c = []

    def create(name, doc_or_body, status, fields=(), ctype=JSON):
        body = doc_or_body if isinstance(doc_or_body, bytes) or doc_or_body is None else js(doc_or_body)
        c.append((name, "POST", "/endpoints", body, ctype, status, list(fields)))

    def patch(name, doc_or_body, status, fields=(), ctype=JSON):
        body = doc_or_body if isinstance(doc_or_body, bytes) or doc_or_body is None else js(doc_or_body)
        c.append((name, "PATCH", "/endpoints/{ep}", body, ctype, status, list(fields)))

    # -- header injection: CR/LF and control characters in every field that reaches a header
    for bad in ("a\r\nX-Injected: 1", "a\nb", "a\rb", "a\tb", "a\x7fb", "a\x01b", "a:b", "a\u0085b\r\n"):
        create("create username %r" % bad, ep(username=bad, password="pw-corpus-0001"), 422, ["username"])
        patch("patch username %r" % bad, {"username": bad, "password": "pw-corpus-0001"}, 422, ["username"])
    for bad in ("http://127.0.0.1:9/h\r\nX-Injected: 1", "http://127.0.0.1:9/h\nx", "http://127.0.0.1:9/\rx",
                "http://127.0.0.1:9/\tx", "http://127.0.0.1\r\n:9/x",
                "http://127.0.0.1:9/\u00e9", "http://127.0.0.1:9/\x7f"):
        create("create url %r" % bad, ep(url=bad), 422, ["url"])
        patch("patch url %r" % bad, {"url": bad}, 422, ["url"])
    # an escaped NUL anywhere is refused by the parser (jansson without JSON_ALLOW_NUL): 400
    create("create url with escaped NUL", ep(url="http://127.0.0.1:9/\x00x"), 400)
    patch("patch url with escaped NUL", {"url": "http://127.0.0.1:9/\x00x"}, 400)
    # -- overlong fields (a 10^6-character string stays under the 1 MiB body cap)
    for field, value, fields in (("username", "u" * 256, ["username"]), ("username", "u" * 10**6, ["username"]),
                                 ("password", "p" * 513, ["password"]), ("password", "p" * 10**6, ["password"]),
                                 ("description", "d" * 1025, ["description"]),
                                 ("description", "d" * 10**6, ["description"]),
                                 ("description", "\u00e9" * 1025, ["description"]),
                                 ("url", TARGET + "?" + "a" * 2048, ["url"]), ("url", "http://" + "a" * 10**6, ["url"]),
                                 ("resellerId", "r" * 65, ["resellerId"]), ("resellerId", "r" * 10**6, ["resellerId"])):
        doc = ep(**{field: value})
        if field in ("username", "password"):
            doc.update({"username": "user-ok", "password": "pw-corpus-0002"}, **{field: value})
        create("create overlong %s %d" % (field, len(value)), doc, 422, fields)
        if field != "resellerId":
            pdoc = {field: value}
            if field in ("username", "password"):
                pdoc = {"username": "user-ok", "password": "pw-corpus-0002", field: value}
            patch("patch overlong %s %d" % (field, len(value)), pdoc, 422, fields)
    # -- NUL, escaped and raw; invalid UTF-8; malformed JSON
    create("create escaped NUL in description", b'{"url":"%s","eventTypes":["%s"],"resellerId":"%s",'
           b'"description":"a\\u0000b"}' % (TARGET.encode(), ET[0].encode(), R.encode()), 400)
    create("create escaped NUL in username", b'{"url":"%s","eventTypes":["%s"],"resellerId":"%s",'
           b'"username":"a\\u0000b","password":"pw-corpus-0003"}' % (TARGET.encode(), ET[0].encode(), R.encode()), 400)
    create("create raw NUL in description", js(ep(description="x")).replace(b'"x"', b'"a\x00b"'), 400)
    create("create raw LF in a string", js(ep(description="x")).replace(b'"x"', b'"a\nb"'), 400)
    for bad in (b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82"):
        create("create invalid UTF-8 %r in description" % bad, js(ep(description="x")).replace(b'"x"', b'"' + bad + b'"'), 400)
        patch("patch invalid UTF-8 %r in username" % bad, b'{"username":"' + bad + b'","password":"pw-corpus-0004"}', 400)
    create("create lone surrogate escape", js(ep(description="x")).replace(b'"x"', b'"\\ud800"'), 400)
    for bad in (b"", b"{", b'{"url": ', b"{'url': 'x'}", b'{"url":"x",}', b"nul", b'{"a":1}{"b":2}', b"\xef\xbb\xbf{}",
                b"[1,]", b'{"a":01}', b'{"a":1e99999}', b"1", b'"str"', b"null"):
        create("create malformed %r" % bad[:20], bad, 400)
    # -- JSON bombs
    create("create eventTypes nested 30", ep(eventTypes=json.loads(nest(30))), 422, ["eventTypes[0]"])
    create("create eventTypes nested 5000", b'{"url":"%s","resellerId":"%s","eventTypes":%s}'
           % (TARGET.encode(), R.encode(), nest(5000)), 400)
    create("create description nested 100000", b'{"url":"%s","resellerId":"%s","eventTypes":["%s"],"description":%s}'
           % (TARGET.encode(), R.encode(), ET[0].encode(), nest(100000, b"1")), 400)
    # more eventTypes than the catalogue has: one error for the array; past 50 errors, their number
    create("create eventTypes 30000 duplicates (960 KB)", ep(eventTypes=ET * 30000), 422, ["eventTypes"])
    create("create eventTypes 50000 unknown", ep(eventTypes=["x.%d" % i for i in range(50000)]), 422, ["eventTypes"])
    create("create 20000 unknown members", js(dict(ep(), **{"k%d" % i: i for i in range(20000)})), 422,
           ["k%d" % i for i in range(50)] + [""])
    create("create duplicate member names", b'{"url":"%s","url":"%s","eventTypes":["%s"],"resellerId":"%s"}'
           % (TARGET.encode(), TARGET.encode(), ET[0].encode(), R.encode()), 400)
    # -- wrong types
    for field, value in (("url", 1), ("url", None), ("url", ["x"]), ("url", {"a": 1}), ("eventTypes", "x"),
                         ("eventTypes", None), ("eventTypes", {}), ("eventTypes", []), ("resellerId", 5),
                         ("resellerId", None), ("username", 1), ("password", True), ("description", 1.5),
                         ("description", {}), ("ackMode", 1), ("ackMode", "STATUS"), ("enabled", "true"),
                         ("enabled", 0), ("enabled", None)):
        doc = ep(**{field: value})
        fields = [field]
        if field in ("username", "password"):
            other = "password" if field == "username" else "username"
            doc[other] = "pw-corpus-0005" if other == "password" else "user-ok"
        if (field, value) == ("resellerId", None):
            fields = ["portfolioId", "resellerId"]  # no scope at all: "one of them is required"
        create("create %s=%r" % (field, value), doc, 422, fields)
    create("create eventTypes [1, null, true]", ep(eventTypes=[1, None, True]), 422,
           ["eventTypes[0]", "eventTypes[1]", "eventTypes[2]"])
    for doc, fields in (({"url": 1}, ["url"]), ({"eventTypes": []}, ["eventTypes"]), ({"enabled": "yes"}, ["enabled"]),
                        ({"ackMode": None}, ["ackMode"]), ({"resellerId": R}, ["resellerId"]),
                        ({"password": "pw-corpus-0006"}, ["username"]), ({"username": "only"}, ["password"]),
                        ({"secret": "whsec_x"}, ["secret"]), ({"id": "ep_000000000000000000000000"}, ["id"])):
        patch("patch %r" % doc, doc, 422, fields)
    patch("patch a list", b"[]", 422, [""])
    patch("patch a string", b'"x"', 400)
    patch("patch malformed", b'{"url":', 400)
    # -- wrong content types
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                  "application/xml", "application/jsonx", "json", None):
        create("create content type %r" % ctype, js(ep()), 415, ctype=ctype)
    patch("patch content type text/plain", js({"description": "x"}), 415, ctype="text/plain")
    # -- rotate-secret and recover
    for path in ("/endpoints/{ep}/rotate-secret", "/endpoints/{ep}/recover"):
        c.append(("%s text/plain" % path, "POST", path, b"{}", "text/plain", 415, []))
        c.append(("%s malformed" % path, "POST", path, b"{", JSON, 400, []))
        c.append(("%s invalid UTF-8" % path, "POST", path, b'{"a":"\xff"}', JSON, 400, []))
    c.append(("rotate with members", "POST", "/endpoints/{ep}/rotate-secret", js({"force": True}), JSON, 422, ["force"]))
    for since in ("yesterday", "2026-13-01T00:00:00Z", "2026-11-26T25:00:00Z", "2026-11-26 00:00:00",
                  "2026-11-26T00:00:00Z\r\nX: 1", "' OR 1=1 --", "", 1700000000, None):
        c.append(("recover since=%r" % since, "POST", "/endpoints/{ep}/recover", js({"since": since}), JSON, 422,
                  ["since"]))
    c.append(("recover without since", "POST", "/endpoints/{ep}/recover", js({}), JSON, 422, ["since"]))
    c.append(("recover extra member", "POST", "/endpoints/{ep}/recover",
              js({"since": "2026-11-26T00:00:00Z", "x": 1}), JSON, 422, ["x"]))
    # -- list query strings
    for query, fields in (("limit=0", ["limit"]), ("limit=201", ["limit"]), ("limit=1e2", ["limit"]),
                          ("limit=99999999999999999999", ["limit"]), ("limit=%00", ["limit"]),
                          ("limit=1%0d%0aX:1", ["limit"]), ("limit=", ["limit"]), ("limit=-0", ["limit"]),
                          ("after=%27%20OR%201=1", ["after"]), ("after=ep_%0d%0a", ["after"]),
                          ("resellerId=%0d%0a", ["resellerId"]), ("resellerId=" + "r" * 65, ["resellerId"]),
                          ("resellerId=a%00b", ["resellerId"]), ("portfolioId=%ff", ["portfolioId"])):
        c.append(("list ?%s" % query, "GET", "/endpoints?" + query, None, None, 422, fields))
    # -- bad methods
    for method, path in (("PUT", "/endpoints"), ("DELETE", "/endpoints"), ("PATCH", "/endpoints"),
                         ("PUT", "/endpoints/{ep}"), ("POST", "/endpoints/{ep}"), ("GET", "/endpoints/{ep}/rotate-secret"),
                         ("DELETE", "/endpoints/{ep}/recover"), ("DELETE", "/endpoints/{ep}/rotate-secret"), ("OPTIONS", "/endpoints/{ep}")):
        c.append(("%s %s" % (method, path), method, path, None, None, 405, []))
    # -- valid: SQL-looking, CR/LF where it reaches no header (description refuses control characters)
    for i, s in enumerate(SQLISH):
        create("valid SQL-looking description %d" % i, ep(description=s), 201)
        create("valid SQL-looking username/password %d" % i,
               ep(username=s.replace(":", ";"), password="pw-corpus-" + s), 201)
    create("valid CR/LF in password", ep(username="user-ok", password="pw-corpus-crlf-91\r\nX-Pw-Injected: 3b7d"), 201)
    create("refused CR/LF and tab in description", ep(description="line1\r\nX-Injected: 1\tend"), 422,
           ["description"])
    create("valid description of 1024 characters", ep(description="\u00e9" * 1024), 201)
    create("valid username of 255 characters", ep(username="u" * 255, password="p" * 512), 201)
    create("valid resellerId of 64 characters (still the prefix)", ep(resellerId=(R + "-" + "x" * 64)[:64]), 201)
    return c


def raw_status(method, path, body, ctype):
    e = h.env()
    headers = {"Authorization": h.basic_auth_header(e["WEBHOOK_API_USER"], e["WEBHOOK_API_PASSWORD"]),
               "Accept": JSON}
    if ctype is not None:
        headers["Content-Type"] = ctype
    status, rh, data = h.http_request(method, h.base_url() + path, body=body, headers=headers, timeout=30)
    doc = None
    if data and "json" in rh.get("content-type", ""):
        doc = json.loads(data.decode("utf-8"))
    return status, rh, doc


ROW = ("SELECT public_id, url, scope_kind, scope_id, username, password_enc, secret_enc, prev_secret_enc, "
       "ack_mode, enabled, description, updated_at, deleted_at FROM webhook_endpoints")


class RegistrationCorpus(unittest.TestCase):
    def test_corpus(self):
        assert len(R) < 64
        base = h.register_endpoint(TARGET, ET, reseller_id=R, description="base")
        row_before = h.sql("%s WHERE public_id = %s" % (ROW, h.q(base["id"])))
        cases = corpus()
        bad = [x for x in cases if x[5] != 201]
        self.assertGreaterEqual(len(bad), 80)
        failures, created = [], {}
        for name, method, path, body, ctype, status, fields in cases:
            path = path.replace("{ep}", base["id"])
            got, headers, doc = raw_status(method, path, body, ctype)
            if got != status:
                failures.append("%s: %s, expected %s: %r" % (name, got, status, str(doc)[:300]))
                continue
            if status == 201:
                created[doc["id"]] = json.loads(body)
                h._record_credentials(json.loads(body), doc)
                continue
            if not headers.get("content-type", "").startswith("application/problem+json") \
                    or not isinstance(doc, dict) or doc.get("status") != status:
                failures.append("%s: not a problem document: %r" % (name, doc))
                continue
            if status == 422:
                got_fields = sorted(e["field"] for e in doc["errors"])
                if got_fields != sorted(fields):
                    failures.append("%s: 422 fields %r, expected %r" % (name, got_fields[:10], sorted(fields)[:10]))
        self.assertEqual(failures, [], "\n".join(failures))

        # exactly the valid endpoints (and the base) exist, with exactly what was sent
        ids = [r[0] for r in h.sql("SELECT public_id FROM webhook_endpoints WHERE scope_id LIKE %s"
                                   % h.q(PREFIX + "%"))]
        self.assertEqual(sorted(ids), sorted(list(created) + [base["id"]]))
        for pid, sent in created.items():
            got = h.sql("SELECT HEX(url), HEX(scope_id), HEX(IFNULL(username, '')), HEX(IFNULL(description, '')) "
                        "FROM webhook_endpoints WHERE public_id = %s" % h.q(pid))[0]
            self.assertEqual([bytes.fromhex(x).decode("utf-8") for x in got],
                             [sent["url"], sent["resellerId"], sent.get("username", ""), sent.get("description", "")],
                             pid)
            status, _, read = h.api("GET", "/endpoints/" + pid)
            self.assertEqual((status, read.get("description"), read.get("username")),
                             (200, sent.get("description"), sent.get("username")), pid)
            self.assertEqual(read["hasPassword"], "password" in sent)
        # the base endpoint: untouched by every refused PATCH, rotate and recover
        self.assertEqual(h.sql("%s WHERE public_id = %s" % (ROW, h.q(base["id"]))), row_before)
        print("%d requests: %d bad (%s), %d valid stored verbatim"
              % (len(cases), len(bad), dict(sorted(_count(bad).items())), len(created)))


def _count(cases):
    out = {}
    for x in cases:
        out[x[5]] = out.get(x[5], 0) + 1
    return out


if __name__ == "__main__":
    h.main()
