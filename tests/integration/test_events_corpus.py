#!/usr/bin/env python3
"""The bad-input corpus of POST /events (webhook-events): every case gets its
EXACT status (and, for 422, the exact list of fields named), and afterwards webhook_events
holds exactly the valid events of the corpus, with exactly the content that was sent.

Every event of the corpus belongs to a reseller whose ID starts with this run's prefix, so
the final count and content check sees nothing of the other tests. The rules the corpus pins
down are documented in docs/ingestion.md ("Limits" and "Status codes").
"""
import http.client
import json
import socket
import unittest
import urllib.parse

import harness as h

CODE = "billing.subscription-created"
CAP = 1048576  # the stack's WebhookMaxBodySize
PREFIX = h.unique_id("crp")  # every reseller ID of this corpus starts with it
R = PREFIX + "-r"


def ev(**fields):
    """A valid event of the corpus; keyword arguments override or add fields (a value of
    DROP removes the field)."""
    e = {"eventCode": CODE, "resellerId": R, "portfolioId": "pf-1", "data": {"n": 1}}
    for k, v in fields.items():
        if v is DROP:
            e.pop(k, None)
        else:
            e[k] = v
    return e


DROP = object()


def js(doc):
    return json.dumps(doc).encode()


def nested(levels):
    """A data object nesting `levels` levels of objects/arrays in total (data is level 1)."""
    inner = 1
    for i in range(levels - 1, 0, -1):
        inner = {"a": inner} if i % 2 else [inner]
    return {"x": inner}


def raw_nested_body(levels):
    """An event whose data nests `levels` levels, as text (too deep for json.dumps)."""
    head = js(ev(data={"x": 0}))
    opening = b'{"a":' * (levels - 1)
    closing = b"}" * (levels - 1)
    return head.replace(b'{"x": 0}', b'{"x":' + opening + b"1" + closing + b"}")


def padded_event_body(size):
    """A valid event whose JSON text is exactly `size` bytes."""
    base = js(ev(data={"pad": ""}, idempotencyKey=None))
    body = js(ev(data={"pad": "x" * (size - len(base))}, idempotencyKey=None))
    assert len(body) == size, (len(body), size)
    return body


def send_raw(head, body_parts=(), timeout=15):
    """Sends a raw HTTP/1.1 request (head: bytes without the final CRLF CRLF) and returns
    the status code; stops sending when the server has answered and closed."""
    u = urllib.parse.urlsplit(h.events_url())
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        s.sendall(head + b"\r\n\r\n")
        for part in body_parts:
            try:
                s.sendall(part)
            except OSError:
                break  # the server answered early (413) and closed
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1])
    finally:
        s.close()


def post_chunked(body, chunk=65536):
    u = urllib.parse.urlsplit(h.events_url())
    head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close" % (u.path, u.hostname, u.port)).encode()
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + chunk]), body[i:i + chunk])
             for i in range(0, len(body), chunk)] + [b"0\r\n\r\n"]
    return send_raw(head, parts)


def post(body, ctype="application/json", headers=None, method="POST"):
    hdrs = {} if ctype is None else {"Content-Type": ctype}
    hdrs.update(headers or {})
    status, rh, data = h.http_request(method, h.events_url(), body=body, headers=hdrs)
    return status, rh, h._decode(rh, data)


# ------------------------------------------------------------------------------------------
# The corpus: (name, body bytes, expected status, expected 422 fields or None, options)

def corpus():
    big_string = "s" * 500000
    cases = []

    def case(name, body, status, fields=None, **opt):
        cases.append((name, body, status, fields, opt))

    # -- malformed and truncated JSON: 400
    valid_text = js(ev())
    case("truncated in the middle", valid_text[: len(valid_text) // 2], 400)
    case("truncated by one byte", valid_text[:-1], 400)
    case("only an opening brace", b"{", 400)
    case("unterminated array", b"[" + valid_text, 400)
    case("trailing comma", valid_text[:-1] + b",}", 400)
    case("single quotes", b"{'eventCode': 'x'}", 400)
    case("two documents", valid_text + valid_text, 400)
    case("bare string", b'"hello"', 400)
    case("bare number", b"42", 400)
    case("bare null", b"null", 400)
    case("bare true", b"true", 400)
    case("empty body", b"", 400)
    case("whitespace body", b"  \r\n\t ", 400)
    case("duplicate member", b'{"eventCode":"%s","eventCode":"%s","resellerId":"%s","portfolioId":"p","data":{}}'
         % (CODE.encode(), CODE.encode(), R.encode()), 400)
    case("byte order mark", b"\xef\xbb\xbf" + valid_text, 400)
    case("comment", b"/* hi */" + valid_text, 400)
    case("NaN literal", js(ev()).replace(b'"n": 1', b'"n": NaN'), 400)

    # -- invalid UTF-8 and forbidden characters: 400
    case("invalid byte 0xff", js(ev(data={"s": "X"})).replace(b"X", b"\xff"), 400)
    case("overlong encoding", js(ev(data={"s": "X"})).replace(b"X", b"\xc0\xaf"), 400)
    case("encoded surrogate", js(ev(data={"s": "X"})).replace(b"X", b"\xed\xa0\x80"), 400)
    case("truncated sequence", js(ev(data={"s": "X"})).replace(b"X", b"\xe2\x82"), 400)
    case("lone surrogate escape", js(ev(data={"s": "X"})).replace(b"X", b"\\ud800"), 400)
    case("invalid UTF-8 in a member name", js(ev(data={"X": 1})).replace(b"X", b"\xfe"), 400)
    case("invalid UTF-8 in resellerId", js(ev(resellerId="X")).replace(b'"X"', b'"\xff"'), 400)
    case("escaped NUL in resellerId", js(ev(resellerId="X")).replace(b'"X"', b'"r\\u0000x"'), 400)
    case("escaped NUL in data", js(ev(data={"s": "X"})).replace(b"X", b"a\\u0000b"), 400)
    case("raw NUL byte in a string", js(ev(data={"s": "X"})).replace(b"X", b"a\x00b"), 400)
    case("raw control character in a string", js(ev(data={"s": "X"})).replace(b"X", b"a\x01b"), 400)

    # -- huge numbers
    case("integer beyond 64 bits in data", js(ev()).replace(b'"n": 1', b'"n": 123456789012345678901234'), 400)
    case("real overflow in data", js(ev()).replace(b'"n": 1', b'"n": 1e400'), 400)
    case("integer beyond 64 bits as eventDate", js(ev(eventDate=1)).replace(b'"eventDate": 1', b'"eventDate": 99999999999999999999'), 400)
    case("largest 64-bit integers in data", js(ev(data={"max": 9223372036854775807, "min": -9223372036854775808,
                                                        "tiny": 5e-324, "big": 1.7976931348623157e308})), 202)

    # -- wrong content type: 415 (before the body is looked at)
    case("text/plain", valid_text, 415, ctype="text/plain")
    case("no Content-Type", valid_text, 415, ctype=None)
    case("application/jsonx", valid_text, 415, ctype="application/jsonx")
    case("form encoding", b"eventCode=x", 415, ctype="application/x-www-form-urlencoded")
    case("text/json", valid_text, 415, ctype="text/json")
    case("problem+json", valid_text, 415, ctype="application/problem+json")
    case("415 wins over an empty body", b"", 415, ctype="text/plain")
    case("charset parameter is fine", js(ev(data={"ct": 1})), 202, ctype="application/json; charset=utf-8")
    case("media type is case-insensitive", js(ev(data={"ct": 2})), 202, ctype="Application/JSON")

    # -- wrong types for each field: 422 naming the field
    for name, value in [("number", 5), ("null", None), ("array", [CODE]), ("object", {}), ("bool", True)]:
        case("eventCode as %s" % name, js(ev(eventCode=value)), 422, ["eventCode"])
    for field in ("resellerId", "portfolioId"):
        for name, value in [("number", 5), ("array", ["r"]), ("object", {}), ("bool", False), ("real", 1.5)]:
            case("%s as %s" % (field, name), js(ev(**{field: value})), 422, [field])
        case("%s null" % field, js(ev(**{field: None})), 422, [field])
        case("%s missing" % field, js(ev(**{field: DROP})), 422, [field])
    for name, value in [("number", 5), ("array", []), ("object", {}), ("bool", True)]:
        case("merchantId as %s" % name, js(ev(merchantId=value)), 422, ["merchantId"])
    for name, value in [("string", "1700000000000"), ("real", 1.5), ("exponent", 1e3), ("negative", -1),
                        ("bool", True), ("after 9999", 253402300800000), ("array", [1]), ("object", {})]:
        case("eventDate as %s" % name, js(ev(eventDate=value)), 422, ["eventDate"])
    for name, value in [("array", []), ("array of objects", [{"a": 1}]), ("string", "{}"), ("null", None),
                        ("number", 5), ("bool", True)]:
        case("data as %s" % name, js(ev(data=value)), 422, ["data"])
    case("data missing", js(ev(data=DROP)), 422, ["data"])
    case("eventCode missing", js(ev(eventCode=DROP)), 422, ["eventCode"])
    for name, value in [("number", 5), ("array", ["k"]), ("object", {}), ("bool", True), ("empty", ""),
                        ("256 characters", "k" * 256), ("control character", "a\u0001b"),
                        ("newline", "a\nb"), ("DEL", "a\u007fb")]:
        case("idempotencyKey as %s" % name, js(ev(idempotencyKey=value)), 422, ["idempotencyKey"])
    case("unknown member", js(ev(colour="red")), 422, ["colour"])
    case("every field wrong at once", js({"eventCode": 1, "resellerId": "", "portfolioId": "a b",
                                          "merchantId": 7, "eventDate": "now", "data": [],
                                          "idempotencyKey": "", "extra": 1}), 422,
         ["data", "eventCode", "eventDate", "extra", "idempotencyKey", "merchantId", "portfolioId", "resellerId"])
    case("empty object", b"{}", 422, ["data", "eventCode", "portfolioId", "resellerId"])

    # -- unknown codes
    for name, value in [("unknown", "billing.no-such-thing"), ("upper case", CODE.upper()),
                        ("trailing space", CODE + " "), ("empty", ""), ("SQL", "x' OR '1'='1"),
                        ("10 KiB", "c" * 10240), ("module only", "billing")]:
        case("eventCode %s" % name, js(ev(eventCode=value)), 422, ["eventCode"])

    # -- missing or malformed scope IDs
    for field in ("resellerId", "portfolioId", "merchantId"):
        for name, value in [("empty", ""), ("65 characters", "a" * 65), ("space", "a b"), ("slash", "a/b"),
                            ("non-ASCII", "r\u00e9"), ("quote", "r'1"), ("SQL", "1; DROP TABLE x"),
                            ("escaped control character", "r\u0001"), ("tab", "r\t1"), ("percent", "r%1")]:
            case("%s %s" % (field, name), js(ev(**{field: value})), 422, [field])
    case("merchantId null is no merchant", js(ev(merchantId=None, data={"m": "null"})), 202)
    case("64-character IDs", js(ev(resellerId=(R + "-" + "x" * 64)[:64], portfolioId="P" * 64,
                                   merchantId="M" * 64, data={"ids": 64})), 202)
    case("every allowed ID character", js(ev(resellerId=R + ".A_z-9", portfolioId="pf.A_z-9",
                                             merchantId="m.A_z-9")), 202)

    # -- arrays of wrong things
    case("empty array", b"[]", 422, [""])
    case("array of numbers", b"[1, 2]", 422, ["[0]", "[1]"])
    case("nested array", js([[ev()]]), 422, ["[0]"])
    case("array of strings and null", js(["x", None]), 422, ["[0]", "[1]"])
    case("array holding an empty object", js([ev(), {}]), 422,
         ["[1].data", "[1].eventCode", "[1].portfolioId", "[1].resellerId"])
    case("batch with bad items names each index and field",
         js([ev(data={"i": 0}), ev(eventCode="no.such"), ev(data=[]), ev(data={"i": 3}),
             ev(resellerId="bad id", eventDate="x")]), 422,
         ["[1].eventCode", "[2].data", "[4].eventDate", "[4].resellerId"])
    case("1001 events", js([ev()] * 1001), 422, [""])
    case("batch with an Idempotency-Key header", js([ev()]), 422, ["Idempotency-Key"],
         headers={"Idempotency-Key": "k"})
    case("Idempotency-Key header not UTF-8", js(ev()), 422, ["Idempotency-Key"],
         headers={"Idempotency-Key": b"k\xff\xfe"})
    case("Idempotency-Key header of 256 characters", js(ev()), 422, ["Idempotency-Key"],
         headers={"Idempotency-Key": "h" * 256})
    case("header and body keys differ", js(ev(idempotencyKey="body-key")), 422, ["Idempotency-Key"],
         headers={"Idempotency-Key": "header-key"})

    # -- nesting depth: data may nest 31 levels (data itself is level 1; MariaDB JSON_VALID limit)
    case("data nesting 31 levels", js(ev(data=nested(31))), 202)
    case("data nesting 32 levels", js(ev(data=nested(32))), 422, ["data"])
    case("data nesting 3000 levels (past the parser's limit)", raw_nested_body(3000), 400)

    # -- long strings: bounded by the body size only (idempotencyKey: 255 characters)
    case("500 KB string in data", js(ev(data={"big": big_string})), 202)
    case("255-character idempotencyKey", js(ev(idempotencyKey="k" * 254 + "1")), 202)
    case("255 two-byte characters as idempotencyKey", js(ev(idempotencyKey="\u00e9" * 255)), 202)

    # -- SQL-looking strings are data: stored verbatim
    sqlish = {"q": "'; DROP TABLE webhook_events; --", "b": "\\' OR 1=1 -- \\\\",
              "c": "Robert'); DROP TABLE Students;--", "pct": "100% _wild_ \\%", "nul_text": "\\0",
              "quote": "\"double\" and `back`", "unicode": "\u00e9\u4e2d\U0001f600"}
    case("SQL-looking data", js(ev(data=sqlish)), 202)
    case("SQL-looking idempotencyKey", js(ev(idempotencyKey="' OR '1'='1'; --", data={"k": "sql"})), 202)
    case("SQL-looking key in the header", js(ev(data={"k": "header"})), 202,
         headers={"Idempotency-Key": "x'); DELETE FROM webhook_events; --"})

    # -- idempotency inside one batch: the later item answers as a duplicate of the earlier
    case("same key twice in one batch", js([ev(idempotencyKey="twice", data={"i": 0}),
                                             ev(data={"i": 1}),
                                             ev(idempotencyKey="twice", data={"i": 2})]), 202,
         expect_results=[False, False, True])
    case("same key under two resellers in one batch",
         js([ev(idempotencyKey="shared", data={"r": 1}),
             ev(idempotencyKey="shared", resellerId=R + "-2", data={"r": 2})]), 202,
         expect_results=[False, False])
    case("1000 valid events", js([ev(data={"i": i}) for i in range(1000)]), 202)
    return cases


class EventsCorpus(unittest.TestCase):
    maxDiff = None

    def test_corpus(self):
        expected_rows = {}  # public_id -> the event as sent
        failures = []
        for name, body, status, fields, opt in corpus():
            got, headers, doc = post(body, ctype=opt.get("ctype", "application/json"),
                                     headers=opt.get("headers"))
            if got != status:
                failures.append("%s: expected %d, got %d %r" % (name, status, got, str(doc)[:300]))
                continue
            if status == 202:
                sent = json.loads(body)
                items = sent if isinstance(sent, list) else [sent]
                results = doc if isinstance(sent, list) else [doc]
                self.assertEqual(len(results), len(items), name)
                dups = [bool(r.get("duplicate")) for r in results]
                if "expect_results" in opt and dups != opt["expect_results"]:
                    failures.append("%s: duplicate flags %r, expected %r" % (name, dups, opt["expect_results"]))
                for item, res in zip(items, results):
                    if "headers" in opt and "Idempotency-Key" in opt["headers"]:
                        item = dict(item, idempotencyKey=opt["headers"]["Idempotency-Key"])
                    if not res.get("duplicate"):
                        expected_rows[res["eventId"]] = item
                    elif res["eventId"] not in expected_rows:
                        failures.append("%s: duplicate of an unknown event %r" % (name, res))
                continue
            ctype = headers.get("content-type", "")
            if not ctype.startswith("application/problem+json") or doc.get("status") != status:
                failures.append("%s: not a problem document: %s %r" % (name, ctype, doc))
                continue
            if status == 422:
                got_fields = sorted(e["field"] for e in doc["errors"])
                if got_fields != sorted(fields):
                    failures.append("%s: 422 fields %r, expected %r" % (name, got_fields, sorted(fields)))
        self.assertEqual(failures, [], "\n".join(failures))
        self.check_table(expected_rows)

    def check_table(self, expected_rows):
        rows = h.sql("SELECT public_id, event_code, reseller_id, portfolio_id, merchant_id, event_date, "
                     "idempotency_key, HEX(data) FROM webhook_events WHERE reseller_id LIKE %s ORDER BY id"
                     % h.q(PREFIX + "%"))
        self.assertEqual(sorted(r[0] for r in rows), sorted(expected_rows),
                         "webhook_events must hold exactly the corpus' valid events")
        for pid, code, reseller, portfolio, merchant, date, key, data_hex in rows:
            sent = expected_rows[pid]
            data = bytes.fromhex(data_hex).decode("utf-8")
            self.assertEqual((code, reseller, portfolio, merchant, key),
                             (sent["eventCode"], sent["resellerId"], sent["portfolioId"],
                              sent.get("merchantId"), sent.get("idempotencyKey")), pid)
            self.assertEqual(json.loads(data), sent["data"], pid)
            if sent.get("eventDate") is not None:
                self.assertEqual(int(date), sent["eventDate"])
        # SQL-looking text is stored byte for byte (the compact JSON of what was sent)
        sqlish = [pid for pid, s in expected_rows.items() if "q" in s["data"]]
        self.assertEqual(len(sqlish), 1)
        stored = h.sql("SELECT HEX(data) FROM webhook_events WHERE public_id = %s" % h.q(sqlish[0]))[0][0]
        self.assertEqual(bytes.fromhex(stored).decode("utf-8"),
                         json.dumps(expected_rows[sqlish[0]]["data"], separators=(",", ":"), ensure_ascii=False))
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE idempotency_key = %s "
                                     "AND reseller_id = %s" % (h.q("' OR '1'='1'; --"), h.q(R))), "1")


class BodyLimits(unittest.TestCase):
    """WebhookMaxBodySize: 413 above it (Content-Length or chunked), accepted at it."""

    def count(self, reseller):
        return int(h.sql_value("SELECT COUNT(*) FROM webhook_events WHERE reseller_id = %s" % h.q(reseller)))

    def test_content_length_over_the_cap_is_413_before_the_body(self):
        u = urllib.parse.urlsplit(h.events_url())
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d"
                % (u.path, CAP + 1)).encode()
        self.assertEqual(send_raw(head), 413)  # no body sent at all: decided on the header

    def test_exactly_at_the_cap_is_accepted_and_one_more_byte_is_413(self):
        global R
        saved, R = R, h.unique_id("cap")  # not below PREFIX: the corpus' count stays its own
        try:
            body = padded_event_body(CAP)
            self.assertEqual(post(body)[0], 202)
            self.assertEqual(post(body + b" ")[0], 413)
            self.assertEqual(post_chunked(body), 202)
            self.assertEqual(post_chunked(body + b" "), 413)
            self.assertEqual(post_chunked(padded_event_body(4 * CAP)), 413)
            self.assertEqual(self.count(R), 2)
        finally:
            R = saved

    def test_wrong_methods(self):
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            status, headers, _ = post(None if method in ("GET", "DELETE") else b"{}", method=method)
            self.assertEqual((status, headers.get("allow")), (405, "POST"), method)


if __name__ == "__main__":
    h.main()
