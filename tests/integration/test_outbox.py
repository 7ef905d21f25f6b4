#!/usr/bin/env python3
"""The outbox (docs/outbox.md): a gateway component publishes an event without HTTP
by inserting a row into webhook_events inside its own transaction, with the exact SQL of
docs/outbox.md; the worker delivers it like any other event. A rolled-back transaction
publishes nothing."""
import json
import os
import re
import time
import unittest

import harness as h

CODE = "management.merchant-created"
DOC = os.path.join(h.REPO, "docs", "outbox.md")


def documented_insert():
    """The INSERT statement of docs/outbox.md (the ```sql block marked 'outbox-insert')."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- outbox-insert -->\s*```sql\n(.*?)```", text, re.S)
    if not m:
        raise AssertionError("docs/outbox.md has no ```sql block after <!-- outbox-insert -->")
    return m.group(1).strip().rstrip(";")


def fill(template, values):
    """Replaces the :name placeholders of the documented statement with SQL literals."""
    return re.sub(r":([a-z_]+)", lambda m: h.q(values[m.group(1)]), template)


class Outbox(unittest.TestCase):
    def test_documented_insert_in_a_transaction_is_delivered(self):
        reseller, portfolio = h.unique_id("res"), h.unique_id("pf")
        with h.Receiver() as r:
            ep = h.register_endpoint(r.url("/outbox"), [CODE], portfolio_id=portfolio)
            r.expect("/outbox", ep["secret"])
            data = {"merchantId": "m-42", "name": "O'Brien & Sons; DROP TABLE x", "limits": [1, 2.5]}
            insert = fill(documented_insert(), {
                "event_code": CODE, "reseller_id": reseller, "portfolio_id": portfolio,
                "merchant_id": "m-42", "data": json.dumps(data), "idempotency_key": "merchant-m-42-created",
                "ordering_key": "merchant-m-42",
            })
            # the gateway's own transaction: its business write and the event commit together
            before_ms = int(time.time() * 1000)
            h.sql("START TRANSACTION; %s; COMMIT;" % insert)
            # a rolled-back transaction publishes nothing
            rolled_back = fill(documented_insert(), {
                "event_code": CODE, "reseller_id": reseller, "portfolio_id": portfolio,
                "merchant_id": "m-43", "data": json.dumps({"merchantId": "m-43"}), "idempotency_key": None,
                "ordering_key": None,
            })
            h.sql("START TRANSACTION; %s; ROLLBACK;" % rolled_back)

            rows = h.sql("SELECT public_id, event_date, merchant_id, ordering_key FROM webhook_events "
                         "WHERE reseller_id = %s" % h.q(reseller))
            self.assertEqual(len(rows), 1, rows)
            public_id, event_date, merchant, ordering_key = rows[0]
            self.assertEqual(ordering_key, "merchant-m-42")
            self.assertRegex(public_id, r"^evt_[0-9a-f]{24}$")  # the column default
            self.assertEqual(merchant, "m-42")
            self.assertLessEqual(abs(int(event_date) - before_ms), 60000)  # default: now, epoch ms

            req = r.wait_for(1, "/outbox", timeout=30)[0]
            body = json.loads(req.body)
            self.assertEqual(body["eventCode"], CODE)
            self.assertEqual(body["dataType"], "object")
            self.assertEqual((body["resellerId"], body["portfolioId"], body["merchantId"]),
                             (reseller, portfolio, "m-42"))
            self.assertEqual(body["eventDate"], int(event_date))
            self.assertEqual(body["data"], data)
            self.assertEqual(r.problems, [])
            h.wait_until(lambda: [d[2] for d in h.deliveries_for_event(public_id)] == ["delivered"],
                         timeout=30, message="the outbox event's delivery to be recorded as delivered")
            # the same idempotency key through the HTTP API finds the outbox row
            status, _, doc = h.post_events({"eventCode": CODE, "resellerId": reseller, "portfolioId": portfolio,
                                            "data": {}, "idempotencyKey": "merchant-m-42-created"})
            self.assertEqual((status, doc), (202, {"eventId": public_id, "duplicate": True}))
            self.assertEqual(len(h.sql("SELECT id FROM webhook_events WHERE reseller_id = %s" % h.q(reseller))), 1)


if __name__ == "__main__":
    h.main()
