#!/usr/bin/env python3
"""Concurrency and connection pooling of the registration API: many
threads creating, listing, changing and deleting at once (event MPM) never see or touch each
other's endpoints, and MariaDB connections are pooled per child process, not opened per
request."""
import random
import threading
import unittest

import harness as h

THREADS = 16
OPS = 20
ET = ["billing.payment-option-created", "processing.noc-processed"]


def status_var(name):
    return int(h.sql("SHOW GLOBAL STATUS LIKE %s" % h.q(name))[0][1])


class Concurrency(unittest.TestCase):
    def test_parallel_principals_only_ever_see_their_own_endpoints(self):
        principals = []
        for n in range(THREADS):
            reseller, user, pw = h.unique_id("res%02d" % n), h.unique_id("cu%02d" % n), h.new_password("api")
            h.add_principal(user, pw, "--reseller", reseller)
            principals.append((user, pw, reseller))
        errors, expected = [], {}
        start = threading.Barrier(THREADS)

        def worker(n):
            user, pw, reseller = principals[n]
            rng = random.Random(n)
            mine = []  # ids in creation order
            call = lambda m, p, j=None: h.api(m, p, json=j, user=user, password=pw)  # noqa: E731

            def check(cond, what):
                if not cond:
                    errors.append("thread %d: %s" % (n, what))
                return cond
            try:
                start.wait(timeout=60)
                for i in range(OPS):
                    op = i % 5
                    if op in (0, 4) and (op == 0 or len(mine) < 2):
                        status, _, ep = call("POST", "/endpoints", {
                            "url": "http://127.0.0.1:9/t%d/%d" % (n, i), "eventTypes": ET,
                            "resellerId": reseller, "description": "t%d-%d" % (n, i)})
                        if check(status == 201, "create answered %s %r" % (status, ep)):
                            check(ep["resellerId"] == reseller and ep["url"].endswith("/t%d/%d" % (n, i)),
                                  "create returned another's endpoint %r" % ep)
                            mine.append(ep["id"])
                    elif op == 1:
                        status, _, body = call("GET", "/endpoints?limit=200")
                        if check(status == 200, "list answered %s" % status):
                            got = [e["id"] for e in body["endpoints"]]
                            check(got == mine, "list shows %r, expected %r" % (got, mine))
                            check(all(e["resellerId"] == reseller for e in body["endpoints"]), "foreign scope")
                    elif op == 2 and mine:
                        target = rng.choice(mine)
                        status, _, ep = call("PATCH", "/endpoints/" + target,
                                             {"description": "t%d-p%d" % (n, i), "eventTypes": [ET[i % 2]]})
                        check(status == 200 and ep["id"] == target and ep["description"] == "t%d-p%d" % (n, i)
                              and ep["eventTypes"] == [ET[i % 2]] and ep["resellerId"] == reseller,
                              "patch answered %s %r" % (status, ep))
                    elif op == 3 and mine:
                        target = rng.choice(mine)
                        status, _, ep = call("GET", "/endpoints/" + target)
                        check(status == 200 and ep["id"] == target and ep["resellerId"] == reseller
                              and "/t%d/" % n in ep["url"], "read answered %s %r" % (status, ep))
                    elif op == 4:
                        target = mine.pop(0)
                        status, _, body = call("DELETE", "/endpoints/" + target)
                        check(status == 204, "delete answered %s %r" % (status, body))
                        check(call("GET", "/endpoints/" + target)[0] == 404, "deleted endpoint still readable")
                expected[n] = list(mine)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("thread %d: %r" % (n, e))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=150)
        self.assertFalse(any(t.is_alive() for t in threads), "threads still running")
        self.assertEqual(errors, [])
        # the database agrees, endpoint by endpoint and subscription by subscription
        for n, (_, _, reseller) in enumerate(principals):
            rows = h.sql("SELECT e.public_id, e.url, COUNT(s.event_code) FROM webhook_endpoints e "
                         "LEFT JOIN webhook_endpoint_subscriptions s ON s.endpoint_id = e.id "
                         "WHERE e.scope_kind = 'reseller' AND e.scope_id = %s AND e.deleted_at IS NULL "
                         "GROUP BY e.id ORDER BY e.id" % h.q(reseller))
            self.assertEqual([r[0] for r in rows], expected[n])
            for public_id, url, subs in rows:
                self.assertIn("/t%d/" % n, url, public_id)
                self.assertIn(subs, ("1", "2"), "%s has %s subscriptions" % (public_id, subs))
            status, _, body = h.api("GET", "/endpoints?limit=200&resellerId=" + reseller)
            self.assertEqual([e["id"] for e in body["endpoints"]], expected[n], "admin view of " + reseller)


class Pooling(unittest.TestCase):
    def test_connections_do_not_grow_with_requests(self):
        h.api("GET", "/event-types")
        conns0, threads0 = status_var("Connections"), status_var("Threads_connected")
        n_threads, per_thread = 8, 40
        failures = []

        def burst():
            for _ in range(per_thread):
                status, _, _ = h.api("GET", "/endpoints?limit=1")
                if status != 200:
                    failures.append(status)
        threads = [threading.Thread(target=burst) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        conns1, threads1 = status_var("Connections"), status_var("Threads_connected")
        requests = n_threads * per_thread
        print("pooling: %d requests: Connections %d -> %d (+%d), Threads_connected %d -> %d"
              % (requests, conns0, conns1, conns1 - conns0, threads0, threads1))
        self.assertEqual(failures, [])
        # Apache may start its second child during the burst (ServerLimit 2 x 8 threads): at most
        # 16 new pooled connections, plus the two mariadb clients that read the counters.
        self.assertLessEqual(conns1 - conns0, 18, "connections are opened per request, not pooled")
        self.assertLessEqual(threads1, threads0 + 17)


if __name__ == "__main__":
    h.main()
