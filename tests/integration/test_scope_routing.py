#!/usr/bin/env python3
"""An event goes to every enabled endpoint subscribed to its code whose scope is the
event's reseller or portfolio, and to no other."""
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


if __name__ == "__main__":
    h.main()
