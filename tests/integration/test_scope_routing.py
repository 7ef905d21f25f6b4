#!/usr/bin/env python3
"""An event goes to every enabled endpoint subscribed to its code whose scope is the
event's reseller or portfolio, and to no other. A portfolio id is unique across the gateway:
its endpoints get the events of every reseller that names it."""
import time
import unittest

import harness as h

CODE = "management.merchant-created"
OTHER_CODE = "management.terminal-created"


class ScopeRouting(unittest.TestCase):
    def setUp(self):
        self.receiver = h.Receiver()
        self.addCleanup(self.receiver.close)

    def test_only_matching_scopes_and_types_receive(self):
        reseller, portfolio = h.unique_id("res"), h.unique_id("pf")
        other_reseller, other_portfolio = h.unique_id("res"), h.unique_id("pf")
        r = self.receiver
        match_reseller = h.register_endpoint(r.url("/reseller"), [CODE, OTHER_CODE], reseller_id=reseller)
        match_portfolio = h.register_endpoint(r.url("/portfolio"), [CODE], portfolio_id=portfolio)
        h.register_endpoint(r.url("/other-reseller"), [CODE], reseller_id=other_reseller)
        h.register_endpoint(r.url("/other-portfolio"), [CODE], portfolio_id=other_portfolio)
        h.register_endpoint(r.url("/other-type-reseller"), [OTHER_CODE], reseller_id=reseller)
        h.register_endpoint(r.url("/other-type-portfolio"), [OTHER_CODE], portfolio_id=portfolio)

        event_id = h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": portfolio,
                                 "merchantId": h.unique_id("mer"),
                                 "data": {"merchantId": "m-1", "name": "Corner Shop", "status": "active"}})

        (a,) = r.wait_for(1, "/reseller", timeout=30)
        (b,) = r.wait_for(1, "/portfolio", timeout=30)
        self.assertEqual(a.json()["eventCode"], CODE)
        self.assertEqual(b.json()["eventCode"], CODE)
        self.assertNotEqual(a.notification_id, b.notification_id, "one notification per endpoint")
        self.assertIsNone(h.check_signature(match_reseller["secret"], a))
        self.assertIsNone(h.check_signature(match_portfolio["secret"], b))

        # the database agrees: exactly the two matching endpoints got a delivery
        rows = h.deliveries_for_event(event_id)
        self.assertEqual(sorted(row[1] for row in rows),
                         sorted([match_reseller["id"], match_portfolio["id"]]), rows)
        # give a wrongly fanned-out delivery time to arrive (poll interval is 100 ms)
        time.sleep(3)
        paths = sorted(req.path for req in r.requests())
        self.assertEqual(paths, ["/portfolio", "/reseller"], r.requests())

    def test_portfolio_endpoint_gets_every_resellers_events_naming_it(self):
        # The documented rule: a portfolio id is unique across the gateway, so the portfolio
        # scope is the id alone. Two resellers whose events name the same portfolio both
        # deliver to its endpoint (and each to its own reseller endpoint only).
        reseller_a, reseller_b, portfolio = h.unique_id("res"), h.unique_id("res"), h.unique_id("pf")
        r = self.receiver
        pf = h.register_endpoint(r.url("/portfolio"), [CODE], portfolio_id=portfolio)
        h.register_endpoint(r.url("/reseller-a"), [CODE], reseller_id=reseller_a)
        h.register_endpoint(r.url("/reseller-b"), [CODE], reseller_id=reseller_b)
        ids = {}
        for reseller in (reseller_a, reseller_b):
            ids[reseller] = h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": portfolio,
                                          "data": {"merchantId": "m-1", "name": "Shop", "status": "active"}})
        got = r.wait_for(2, "/portfolio", timeout=30)
        self.assertEqual(sorted(g.json()["resellerId"] for g in got), sorted([reseller_a, reseller_b]))
        for g in got:
            self.assertIsNone(h.check_signature(pf["secret"], g))
        (a,) = r.wait_for(1, "/reseller-a", timeout=30)
        (b,) = r.wait_for(1, "/reseller-b", timeout=30)
        self.assertEqual(a.json()["resellerId"], reseller_a)
        self.assertEqual(b.json()["resellerId"], reseller_b)
        for reseller, event_id in ids.items():
            rows = h.deliveries_for_event(event_id)
            self.assertIn(pf["id"], [row[1] for row in rows], reseller)
        time.sleep(2)  # nothing else arrives
        self.assertEqual(sorted(req.path for req in r.requests()),
                         ["/portfolio", "/portfolio", "/reseller-a", "/reseller-b"])


if __name__ == "__main__":
    h.main()
