#!/usr/bin/env python3
"""Identifiers compare byte for byte: a trailing space makes another identifier. With a PAD
SPACE collation (utf8mb4_bin) MariaDB compares 'K' and 'K ' as equal, which answered an event
with key 'K ' as a duplicate of the one with key 'K' (losing it), and gave the Apache user
'resA ' the scopes of 'resA'. Every identifier column is utf8mb4_nopad_bin
(sql/007_identifier_collation.sql)."""
import subprocess
import unittest

import harness as h

CODE = "processing.chargeback-processed"


def event(reseller, key, **extra):
    e = {"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-collation",
         "data": {"chargebackId": "cb-1", "amount": 1.5}, "idempotencyKey": key}
    e.update(extra)
    return e


def htpasswd_add(user, password):
    """An Apache login without a principal row (scripts/stack principal add refuses spaces)."""
    p = subprocess.run(["htpasswd", "-B", "-i", h.env()["WEBHOOK_HTPASSWD"], user], input=password + "\n",
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("htpasswd failed: %s" % p.stderr)


# Every column that holds an identifier; sql/007_identifier_collation.sql.
IDENTIFIER_COLUMNS = {
    ("webhook_event_types", "code"),
    ("webhook_principals", "username"), ("webhook_principals", "scope_id"),
    ("webhook_endpoints", "public_id"), ("webhook_endpoints", "scope_id"),
    ("webhook_endpoints", "username"), ("webhook_endpoints", "created_by"),
    ("webhook_endpoint_subscriptions", "event_code"),
    ("webhook_events", "public_id"), ("webhook_events", "event_code"), ("webhook_events", "reseller_id"),
    ("webhook_events", "portfolio_id"), ("webhook_events", "merchant_id"), ("webhook_events", "idempotency_key"),
    ("webhook_deliveries", "notification_id"), ("webhook_deliveries", "lease_owner"),
    ("webhook_attempts", "worker_id"),
}


class Schema(unittest.TestCase):
    def test_identifier_columns_and_table_defaults_are_nopad_bin(self):
        rows = h.sql("SELECT table_name, column_name, collation_name FROM information_schema.columns "
                     "WHERE table_schema = DATABASE() AND table_name LIKE 'webhook\\_%' AND collation_name IS NOT NULL")
        got = {(t, c): coll for t, c, coll in rows}
        self.assertEqual({k: got.get(k) for k in IDENTIFIER_COLUMNS},
                         {k: "utf8mb4_nopad_bin" for k in IDENTIFIER_COLUMNS})
        tables = h.sql("SELECT table_name, table_collation FROM information_schema.tables "
                       "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' "
                       "AND table_name LIKE 'webhook\\_%' AND table_name <> 'webhook_schema_version'")
        self.assertTrue(tables)
        self.assertEqual({t: c for t, c in tables}, {t: "utf8mb4_nopad_bin" for t, _ in tables})
        # the foreign keys the migration dropped to change the codes are back
        fks = h.sql("SELECT constraint_name FROM information_schema.referential_constraints "
                    "WHERE constraint_schema = DATABASE() AND referenced_table_name = 'webhook_event_types'")
        self.assertEqual(sorted(r[0] for r in fks), ["fk_event_code", "fk_subscription_code"])


class IdempotencyKeyTrailingSpace(unittest.TestCase):
    def test_key_with_a_trailing_space_is_another_event(self):
        reseller, key = h.unique_id("res"), h.unique_id("K")
        s1, _, first = h.post_events(event(reseller, key))
        s2, _, second = h.post_events(event(reseller, key + " ", data={"chargebackId": "cb-2"}))
        self.assertEqual((s1, s2), (202, 202), (first, second))
        self.assertIsNone(second.get("duplicate"), second)
        self.assertNotEqual(first["eventId"], second["eventId"])
        stored = h.sql("SELECT public_id, CONCAT('[', idempotency_key, ']') FROM webhook_events "
                       "WHERE reseller_id = %s ORDER BY id" % h.q(reseller))
        self.assertEqual(stored, [(first["eventId"], "[%s]" % key), (second["eventId"], "[%s ]" % key)])
        # each key still finds its own event again
        _, _, again = h.post_events(event(reseller, key + " "))
        self.assertEqual((again.get("duplicate"), again["eventId"]), (True, second["eventId"]))
        _, _, again = h.post_events(event(reseller, key))
        self.assertEqual((again.get("duplicate"), again["eventId"]), (True, first["eventId"]))


class PrincipalTrailingSpace(unittest.TestCase):
    def test_user_with_a_trailing_space_gets_no_scopes_of_its_namesake(self):
        user, reseller = h.unique_id("resA"), h.unique_id("res")
        pw_real, pw_spaced = h.new_password(), h.new_password()
        htpasswd_add(user, pw_real)
        h.sql("INSERT INTO webhook_principals (username, kind, scope_id) VALUES (%s, 'reseller', %s)"
              % (h.q(user), h.q(reseller)))
        htpasswd_add(user + " ", pw_spaced)
        ep = h.register_endpoint("http://127.0.0.1:9/hook", [CODE], reseller_id=reseller,
                                 user=user, api_password=pw_real)
        self.addCleanup(h.api, "DELETE", "/endpoints/" + ep["id"])
        status, _, body = h.api("GET", "/endpoints", user=user, password=pw_real)
        self.assertEqual(status, 200, body)
        self.assertEqual([e["id"] for e in body["endpoints"]], [ep["id"]])
        for method, path in (("GET", "/endpoints"), ("GET", "/endpoints/" + ep["id"])):
            status, _, body = h.api(method, path, user=user + " ", password=pw_spaced)
            self.assertEqual(status, 403, (method, path, body))
            self.assertIn("may not manage any webhook endpoints", body.get("title", "") + body.get("detail", ""))
        status, _, body = h.api("POST", "/endpoints", user=user + " ", password=pw_spaced,
                                json={"url": "http://127.0.0.1:9/x", "eventTypes": [CODE], "resellerId": reseller})
        self.assertEqual(status, 403, body)
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_endpoints WHERE scope_id = %s" % h.q(reseller)), "1")


if __name__ == "__main__":
    h.main()
