#!/usr/bin/env python3
"""Wake-up datagrams: with a long poll interval (5 s) a new event still
reaches the receiver in well under the interval, because the module sends a UDP datagram to
the worker after each commit (WebhookNotifyWorker -> wakeup_listen); and with the wake-up
switched off the poll alone still delivers. Both on private stacks (they reconfigure the
worker and Apache)."""
import json
import os
import time
import unittest

import harness as h

CODE = "billing.transaction-created"
POLL_MS = 5000


def deliver_latencies(r, path, reseller, portfolio, n):
    """Posts n events one after the other; returns how long each took to reach the receiver."""
    out = []
    for i in range(n):
        t0 = time.monotonic()
        h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": portfolio,
                      "data": {"transactionId": "tx-%d" % i}})
        reqs = r.wait_for(i + 1, path, timeout=POLL_MS / 1000.0 * 3)
        arrived = [q for q in reqs if json.loads(q.body)["data"]["transactionId"] == "tx-%d" % i]
        if not arrived:
            raise AssertionError("event %d did not arrive: %r" % (i, reqs))
        out.append(time.monotonic() - t0)
    return out


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class Wakeup(unittest.TestCase):
    def test_wakeup_delivers_within_milliseconds_and_poll_is_the_safety_net(self):
        reseller, portfolio = h.unique_id("res"), h.unique_id("pf")
        with h.Receiver() as r:
            # 1. wake-ups on (the stack's default), poll every 5 s
            with h.PrivateStack("ingest-wakeup", poll_interval_ms=POLL_MS) as ps:
                ps.activate()
                port = ps.env["WEBHOOK_WAKEUP_PORT"]
                self.assertRegex(port, r"^\d+$")
                conf = read(os.path.join(ps.state, "httpd", "httpd.conf"))
                self.assertIn("\nWebhookNotifyWorker 127.0.0.1:%s\n" % port, conf)
                self.assertIn("wakeup_listen = 127.0.0.1:%s" % port, read(ps.worker_conf))
                h.wait_until(lambda: "wakeup=127.0.0.1:%s" % port in read(ps.env["WEBHOOK_WORKER_LOG"]),
                             timeout=10, message="the worker's start line naming its wake-up socket")
                h.register_endpoint(r.url("/fast"), [CODE], reseller_id=reseller)
                lat = deliver_latencies(r, "/fast", reseller, portfolio, 5)
                # Polling alone would make these uniform over 0-5 s; five under 2 s by chance
                # has a probability of 0.4^5 = 1 %, and the wake-up makes them tens of ms.
                self.assertLess(max(lat), 2.0, "latencies with wake-ups: %r" % lat)
                print("wake-up latencies (s): %s" % ", ".join("%.3f" % x for x in lat))

            # 2. wake-ups off: the module sends nothing, the worker only polls (1 s here)
            poll_only = h.PrivateStack("ingest-poll-only", poll_interval_ms=1000)
            poll_only.settings["WEBHOOK_WAKEUP_PORT"] = "off"
            with poll_only as ps:
                ps.activate()
                self.assertEqual(ps.env["WEBHOOK_WAKEUP_PORT"], "off")
                conf = read(os.path.join(ps.state, "httpd", "httpd.conf"))
                self.assertIn("\nWebhookNotifyWorker Off\n", conf)
                self.assertNotIn("wakeup_listen", read(ps.worker_conf))
                h.register_endpoint(r.url("/polled"), [CODE], reseller_id=reseller)
                lat = deliver_latencies(r, "/polled", reseller, portfolio, 2)
                self.assertLess(max(lat), 1.0 * 3 + 2, "latencies polling only: %r" % lat)
                self.assertIn("wakeup=off", read(ps.env["WEBHOOK_WORKER_LOG"]))


if __name__ == "__main__":
    h.main()
