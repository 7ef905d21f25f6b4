#!/usr/bin/env python3
"""Idempotency under concurrency: the same key posted at the same moment by many
clients stores exactly one event, and every answer carries that event's id
("duplicate": true on all but one); the key is per reseller; batches that share keys in any
order agree on the ids too; every event has a non-NULL idempotency identity (sql/014)."""
import random
import unittest

import harness as h

CODE = "processing.chargeback-processed"


def event(reseller, key, **extra):
    e = {"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-idem",
         "data": {"chargebackId": "cb-1", "amount": 12.5}, "idempotencyKey": key}
    e.update(extra)
    return e


def rows(reseller):
    return h.sql("SELECT public_id, idempotency_key FROM webhook_events WHERE reseller_id = %s ORDER BY id"
                 % h.q(reseller))


class ConcurrentIdempotency(unittest.TestCase):
    def test_twenty_clients_same_key_store_one_event(self):
        reseller, other = h.unique_id("res"), h.unique_id("res")
        key = h.unique_id("key")
        results = h.run_together(20, lambda i: h.post_events(event(reseller, key, data={"client": i})))
        self.assertEqual([r[0] for r in results], [202] * 20, results)
        ids = {r[2]["eventId"] for r in results}
        self.assertEqual(len(ids), 1, results)
        self.assertEqual(sum(1 for r in results if not r[2].get("duplicate")), 1, results)
        stored = rows(reseller)
        self.assertEqual(stored, [(ids.pop(), key)])
        # the same key under another reseller is another event; repeating it finds that one
        status, _, first = h.post_events(event(other, key))
        self.assertEqual((status, first.get("duplicate")), (202, None))
        self.assertNotEqual(first["eventId"], stored[0][0])
        status, _, again = h.post_events(event(other, key))
        self.assertEqual((status, again), (202, {"eventId": first["eventId"], "duplicate": True}))
        self.assertEqual(len(rows(other)), 1)

    def test_header_and_body_keys_are_the_same_key(self):
        reseller = h.unique_id("res")
        key = h.unique_id("key")

        def post(i):
            e = event(reseller, key)
            if i % 2:
                del e["idempotencyKey"]
                return h.post_events(e, idempotency_key=key)
            return h.post_events(e)

        results = h.run_together(10, post)
        self.assertEqual({r[0] for r in results}, {202}, results)
        self.assertEqual(len({r[2]["eventId"] for r in results}), 1, results)
        self.assertEqual(len(rows(reseller)), 1)

    def test_concurrent_batches_sharing_keys_in_any_order(self):
        reseller = h.unique_id("res")
        keys = ["k%d" % i for i in range(5)]

        def post(i):
            order = keys[:]
            random.Random(i).shuffle(order)
            return order, h.post_events([event(reseller, k, data={"k": k}) for k in order])

        results = h.run_together(8, post)
        by_key = {}
        for res in results:
            order, (status, _, body) = res
            self.assertEqual(status, 202, body)
            for k, item in zip(order, body):
                by_key.setdefault(k, set()).add(item["eventId"])
        self.assertEqual({k: len(v) for k, v in by_key.items()}, {k: 1 for k in keys})
        stored = rows(reseller)
        self.assertEqual(sorted(k for _, k in stored), keys)
        self.assertEqual({pid for pid, _ in stored}, {next(iter(v)) for v in by_key.values()})
        new_flags = sum(1 for _, (_, _, body) in results for item in body if not item.get("duplicate"))
        self.assertEqual(new_flags, len(keys))


class IdempotencyIdentity(unittest.TestCase):
    """Every event has a non-NULL identity (sql/014): its key, or U+0001 + its eventId; the
    key itself stays NULL for an event posted without one."""

    def test_keyless_events_have_distinct_identities_and_no_key(self):
        reseller, key = h.unique_id("res"), h.unique_id("key")
        keyless = event(reseller, None)
        del keyless["idempotencyKey"]
        status, _, body = h.post_events([keyless, keyless, event(reseller, key)])
        self.assertEqual(status, 202, body)
        stored = h.sql("SELECT public_id, idempotency_key, HEX(idempotency_identity) FROM webhook_events "
                       "WHERE reseller_id = %s ORDER BY id" % h.q(reseller))
        self.assertEqual([r[0] for r in stored], [b["eventId"] for b in body])
        derived = [(pid, None, ("\x01" + pid).encode().hex().upper()) for pid, _, _ in stored[:2]]
        self.assertEqual(stored[:2], derived)
        self.assertEqual(stored[2][1:], (key, key.encode().hex().upper()))
        # the API shows no key for the keyless ones: a repeat of the posted event is a new event
        status, _, again = h.post_events(keyless)
        self.assertEqual(status, 202, again)
        self.assertNotIn("duplicate", again)


if __name__ == "__main__":
    h.main()
