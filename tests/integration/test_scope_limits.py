#!/usr/bin/env python3
"""Endpoints per scope are limited (WebhookMaxEndpointsPerScope, default 50, the shared
stack's setting): past the limit registration gets 422 problem+json naming the limit; a
deleted endpoint frees its place; concurrent registrations for one scope never pass the
limit together (they count one after the other under the scope's lock row)."""
import threading
import unittest

import harness as h

CODE = "processing.return-processed"
LIMIT = 50


def create(scope_field, scope_id, n):
    return h.api("POST", "/endpoints", json={"url": "http://127.0.0.1:9/limit/%d" % n, "eventTypes": [CODE],
                                             scope_field: scope_id})


def live(scope_kind, scope_id):
    return int(h.sql_value("SELECT COUNT(*) FROM webhook_endpoints WHERE scope_kind = %s AND scope_id = %s "
                           "AND deleted_at IS NULL" % (h.q(scope_kind), h.q(scope_id))))


class ScopeLimits(unittest.TestCase):
    def test_registration_past_the_limit_is_422(self):
        reseller = h.unique_id("res-limit")
        ids = []
        for n in range(LIMIT):
            status, _, body = create("resellerId", reseller, n)
            self.assertEqual(status, 201, body)
            ids.append(body["id"])
        status, headers, body = create("resellerId", reseller, LIMIT)
        self.assertEqual(status, 422, body)
        self.assertTrue(headers["content-type"].startswith("application/problem+json"), headers)
        self.assertIn("already has %d endpoints" % LIMIT, body["detail"])
        self.assertIn(reseller, body["detail"])
        self.assertEqual([e["field"] for e in body.get("errors", [])], ["resellerId"], body)
        self.assertEqual(live("reseller", reseller), LIMIT)
        # Another scope is not affected; a deleted endpoint frees its place.
        other = h.unique_id("res-limit-other")
        self.assertEqual(create("resellerId", other, 0)[0], 201)
        status, _, _ = h.api("DELETE", "/endpoints/" + ids[0])
        self.assertIn(status, (200, 204))
        self.assertEqual(create("resellerId", reseller, LIMIT + 1)[0], 201)
        self.assertEqual(create("resellerId", reseller, LIMIT + 2)[0], 422)

    def test_concurrent_registrations_do_not_pass_the_limit(self):
        portfolio = h.unique_id("pf-limit")
        for n in range(LIMIT - 5):
            self.assertEqual(create("portfolioId", portfolio, n)[0], 201)
        statuses, errors = [], []
        start = threading.Barrier(20)

        def register(n):
            try:
                start.wait(timeout=30)
                statuses.append(create("portfolioId", portfolio, 100 + n)[0])
            except Exception as e:  # recorded: a thread that raises must fail the test
                errors.append(repr(e))
        threads = [threading.Thread(target=register, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(statuses), [201] * 5 + [422] * 15)
        self.assertEqual(live("portfolio", portfolio), LIMIT)


if __name__ == "__main__":
    h.main()
