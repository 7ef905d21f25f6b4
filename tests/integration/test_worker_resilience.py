#!/usr/bin/env python3
"""The worker under crashes and outages, on a PRIVATE stack (its own worker is stopped; each
test runs webhook-worker processes of its own with the stack's config plus flags):

- kill -9 of a worker under load (lease 3 s): nothing is lost, every notification ends
  delivered, and the only notifications received twice are ones whose lease the killed
  worker held when it died;
- SIGTERM: no more claims, what is in flight finishes, exit 0; past --drain-seconds the rest
  is given back to pending (no attempt counted), WH00122, exit 0; a second signal (SIGINT
  then SIGTERM) leaves at once (WH00124), exit 0, the rest left to its lease;
- a result whose lease another worker took over is dropped (WH00114), the row left alone;
- the address policy applies to a host name resolved at send time (localhost, policy Off);
- MariaDB stopped and started under the worker: it stays up, logs WH00110 once, keeps the
  result of a transfer that finished during the outage and records it afterwards, then
  carries on; told to stop while MariaDB is away with such a result, it tries once more,
  logs WH00125, exits 0, and the next worker sends the delivery again once its lease expires;
- https: TLS is verified (a self-signed receiver fails with 'tls' and gets no request),
  --ca-bundle makes it trusted; HTTP/2 is negotiated (ALPN) with a receiver that offers it,
  HTTP/1.1 with one that does not.
Every request is checked for Basic auth and a valid signature (Receiver.expect)."""
import signal
import threading
import time
import unittest

import harness as h

CODE = "management.merchant-created"
AUTH = ("res", "pw-resilience-71c4e8")


class WorkerResilience(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = h.PrivateStack("worker-resilience", request_timeout_ms=1000)
        cls.stack.up()
        cls.stack.activate()
        cls.stack.stop_stack_worker()
        cls.r = h.Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.r.close()
        cls.stack.down()

    def tearDown(self):
        self.assertEqual(self.r.problems, [], "requests without a valid signature / Basic auth")

    def endpoint(self, path, behaviour):
        return h.checked_endpoint(self, self.r, path, behaviour, [CODE], AUTH)

    def hold(self):
        ev = threading.Event()
        self.addCleanup(ev.set)
        return ev

    def worker(self, worker_id, *flags):
        w = self.stack.start_worker(worker_id, *flags)
        self.addCleanup(w.stop)
        return w

    def post(self, reseller, count=1):
        events = [{"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-res", "data": {"i": i}}
                  for i in range(count)]
        status, _, body = h.post_events(events if count > 1 else events[0])
        self.assertEqual(status, 202, body)

    def deliveries(self, ep):
        """{notification_id: (status, attempts, lease_owner)} of an endpoint."""
        return {row[0]: row[1:] for row in h.sql(
            "SELECT d.notification_id, d.status, d.attempts, d.lease_owner FROM webhook_deliveries d "
            "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id WHERE ep.public_id = %s" % h.q(ep["id"]))}

    # -----------------------------------------------------------------------------------------

    def test_kill_9_under_load_loses_nothing(self):
        eps = []
        for i in range(2):
            ep, reseller = self.endpoint("/load-%d" % i, h.hang(0.3))
            eps.append((ep, reseller))
        # The other workers start once the victim is killed: started together, either may take
        # every slot (8 per endpoint) and keep them, as it claims again in the same loop turn
        # that frees them, and the victim would never hold a lease to lose.
        victim = self.worker("victim", "--lease-seconds", "3")
        for _, reseller in eps:
            self.post(reseller, 120)
        total = 240
        ids = "(%s)" % ",".join(h.q(ep["id"]) for ep, _ in eps)
        # kill it while requests it sent are at the receivers (each takes 0.3 s to answer)
        def victim_sending():
            mine = {row[0] for row in h.sql("SELECT notification_id FROM webhook_deliveries "
                                            "WHERE status = 'inflight' AND lease_owner = 'victim'")}
            arrived = set(self.r.notification_counts())
            return mine & arrived
        h.wait_until(victim_sending, timeout=15, interval=0.02, message="the victim's requests at the receivers")
        victim.signal(signal.SIGKILL)
        self.assertEqual(victim.wait(10), -signal.SIGKILL)
        # what the victim held when it died: nobody can touch these until the lease expires
        held = {row[0] for row in h.sql("SELECT notification_id FROM webhook_deliveries "
                                        "WHERE status = 'inflight' AND lease_owner = 'victim'")}
        self.assertTrue(held, "the victim held no lease when killed")
        # the restarted worker (same id) and another one finish the job
        restarted = self.worker("victim", "--lease-seconds", "3")
        survivor = self.worker("survivor", "--lease-seconds", "3")

        def all_delivered():
            return int(h.sql_value("SELECT COUNT(*) FROM webhook_deliveries d JOIN webhook_endpoints ep "
                                   "ON ep.id = d.endpoint_id WHERE ep.public_id IN %s AND d.status = 'delivered'"
                                   % ids)) == total
        h.wait_until(all_delivered, timeout=45, interval=0.5, message="all %d deliveries delivered" % total)
        received, twice = set(), set()
        for i in range(2):
            counts = self.r.notification_counts("/load-%d" % i)
            received |= set(counts)
            twice |= {k for k, v in counts.items() if v > 1}
        self.assertEqual(len(received), total, "every notification reached its receiver")
        self.assertLessEqual(twice, held, "received twice although no lease expired: %r" % (twice - held))
        self.assertTrue(twice, "the requests the victim had sent are sent again after its leases expire")
        print("kill -9: %d leases held by the killed worker, %d notifications received twice"
              % (len(held), len(twice)))
        # the expired leases were reaped (by the survivor or the restarted worker)
        logs = restarted.log() + survivor.log()
        self.assertIn("with an expired lease to pending", logs)

    def test_sigterm_finishes_in_flight_then_exits_0(self):
        release = self.hold()
        ep, reseller = self.endpoint("/drain", h.hang_until(release, 20))
        w = self.worker("drainer", "--request-timeout-ms", "8000", "--lease-seconds", "20",
                        "--drain-seconds", "10")
        self.post(reseller, 3)
        self.r.wait_for(3, "/drain", timeout=10)
        w.signal(signal.SIGTERM)
        w.wait_log("received SIGTERM: no more claims")
        self.post(reseller)  # neither fanned out nor claimed by a stopping worker
        time.sleep(0.5)  # five poll intervals: a worker still claiming would have sent it
        release.set()
        self.assertEqual(w.wait(10), 0, w.log()[-2000:])
        d = self.deliveries(ep)
        self.assertEqual(sorted(v[0] for v in d.values()), ["delivered"] * 3, d)
        self.assertEqual(len(self.r.requests("/drain")), 3, "a stopping worker claimed new work")
        self.assertIn("webhook-worker stopped: 3 delivered", w.log())
        # the next worker picks the 4th up
        self.worker("drainer-2")
        h.wait_until(lambda: sorted(v[0] for v in self.deliveries(ep).values()) == ["delivered"] * 4,
                     timeout=10, message="the 4th delivery by the next worker")

    def test_sigterm_past_the_drain_deadline_gives_work_back(self):
        release = self.hold()
        ep, reseller = self.endpoint("/drain-late", h.hang_until(release, 20))
        w = self.worker("late-drainer", "--request-timeout-ms", "8000", "--lease-seconds", "20",
                        "--drain-seconds", "1")
        self.post(reseller, 2)
        self.r.wait_for(2, "/drain-late", timeout=10)
        w.signal(signal.SIGTERM)
        self.assertEqual(w.wait(10), 0, w.log()[-2000:])
        self.assertIn("WH00122", w.log())
        d = self.deliveries(ep)
        self.assertEqual(sorted(d.values()), [("pending", "0", None)] * 2,
                         "given back: pending, no lease, the attempt not counted: %r" % d)
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d "
                                     "ON d.id = a.delivery_id JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
                                     "WHERE ep.public_id = %s" % h.q(ep["id"])), "0")

    def test_a_second_signal_leaves_at_once(self):
        release = self.hold()
        ep, reseller = self.endpoint("/second-signal", h.hang_until(release, 20))
        w = self.worker("impatient", "--request-timeout-ms", "8000", "--lease-seconds", "20",
                        "--drain-seconds", "10")
        self.post(reseller)
        self.r.wait_for(1, "/second-signal", timeout=10)
        w.signal(signal.SIGINT)
        w.wait_log("received SIGINT: no more claims")
        t0 = time.monotonic()
        w.signal(signal.SIGTERM)
        self.assertEqual(w.wait(5), 0, w.log()[-2000:])
        self.assertLess(time.monotonic() - t0, 2.0, "the second signal did not cut the drain short")
        self.assertIn("WH00124: second signal: leaving at once with 1 deliveries in flight", w.log())
        self.assertEqual(list(self.deliveries(ep).values()), [("inflight", "1", "impatient")],
                         "left to its lease, which any worker reaps once it expires")

    def test_a_lost_lease_drops_the_result(self):
        release = self.hold()
        ep, reseller = self.endpoint("/lease-lost", h.hang_until(release, 20))
        w = self.worker("loser", "--request-timeout-ms", "8000", "--lease-seconds", "20")
        self.post(reseller)
        self.r.wait_for(1, "/lease-lost", timeout=10)
        # another worker takes the delivery over while the request is out (as after an expired lease)
        h.sql("UPDATE webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
              "SET d.lease_owner = 'thief' WHERE ep.public_id = %s" % h.q(ep["id"]))
        release.set()
        w.wait_log("WH00114: lease lost for ")
        self.assertEqual(list(self.deliveries(ep).values()), [("inflight", "1", "thief")],
                         "the new owner's row is left as it is")
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d "
                                     "ON d.id = a.delivery_id JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
                                     "WHERE ep.public_id = %s" % h.q(ep["id"])), "0", "the attempt is not recorded")

    def test_a_host_name_is_checked_against_the_policy_at_send_time(self):
        ep, reseller = self.endpoint("/by-name", h.ack())
        h.sql("UPDATE webhook_endpoints SET url = %s WHERE public_id = %s"
              % (h.q("http://localhost:%d/by-name" % self.r.port), h.q(ep["id"])))
        w = self.worker("policy-off", "--allow-private-targets", "Off")
        self.post(reseller)
        rows = h.wait_until(lambda: h.sql(
            "SELECT a.error_class FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
            "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id WHERE ep.public_id = %s" % h.q(ep["id"])),
            timeout=10, message="the attempt to localhost with allow_private_targets Off")
        self.assertEqual(rows[0][0], "blocked-target", rows)
        w.wait_log("WH00120")
        self.assertEqual(self.r.requests("/by-name"), [], "localhost was dialled")

    def test_mariadb_down_then_up(self):
        release = self.hold()
        ep, reseller = self.endpoint("/outage", h.hang_until(release, 20))
        w = self.worker("outage", "--request-timeout-ms", "10000", "--lease-seconds", "30")
        self.post(reseller)
        (first,) = self.r.wait_for(1, "/outage", timeout=10)
        self.stack.expect_log_tags("MariaDB is stopped on purpose", "WH00110")
        self.stack.stop_mariadb()
        try:
            w.wait_log("WH00110", timeout=10)
            release.set()  # the transfer in flight ends while MariaDB is away: kept in memory
            # the outage lasts a few reconnect rounds (backoff 250 ms, 500 ms, 1 s, ...)
            time.sleep(2.5)
            self.assertTrue(w.alive(), "the worker must stay up while MariaDB is down")
        finally:
            self.stack.start_mariadb()
        w.wait_log("MariaDB is reachable again", timeout=15)
        self.assertEqual(w.log().count("WH00110"), 1, "one tagged line per outage:\n" + w.log()[-3000:])
        # the result that arrived during the outage is recorded: delivered, one attempt
        h.wait_until(lambda: list(self.deliveries(ep).values()) == [("delivered", "1", None)], timeout=10,
                     message="the attempt finished during the outage to be recorded")
        self.assertEqual(len(self.r.requests("/outage")), 1, "not sent twice")
        # and it carries on
        self.r.set("/outage", h.ack())
        self.post(reseller)
        h.wait_until(lambda: sorted(v[0] for v in self.deliveries(ep).values()) == ["delivered"] * 2,
                     timeout=10, message="a new event delivered after the outage")
        self.assertTrue(w.alive())

    def test_sigterm_while_mariadb_is_down_loses_nothing(self):
        # A result the recorder cannot write (MariaDB away) when the worker is told to stop:
        # one last try, WH00125 with the count, exit 0; the delivery's lease expires and the
        # next worker sends it again. Nothing is lost.
        release = self.hold()
        ep, reseller = self.endpoint("/outage-exit", h.hang_until(release, 20))
        w = self.worker("outage-exit", "--request-timeout-ms", "4000", "--lease-seconds", "5",
                        "--drain-seconds", "10")
        self.post(reseller)
        self.r.wait_for(1, "/outage-exit", timeout=10)
        self.stack.expect_log_tags("MariaDB is stopped on purpose", "WH00110")
        self.stack.stop_mariadb()
        try:
            w.wait_log("WH00110", timeout=10)
            release.set()  # the transfer ends while MariaDB is away: its result waits in memory
            w.signal(signal.SIGTERM)
            self.assertEqual(w.wait(30), 0, w.log()[-2000:])
            self.assertIn("WH00125: 1 attempt results could not be recorded", w.log())
        finally:
            self.stack.start_mariadb()
        self.assertEqual(list(self.deliveries(ep).values()), [("inflight", "1", "outage-exit")],
                         "nothing was recorded: the lease still stands")
        self.r.set("/outage-exit", h.ack())
        self.worker("outage-exit-2")
        h.wait_until(lambda: list(self.deliveries(ep).values()) == [("delivered", "1", None)], timeout=30,
                     message="the delivery sent again after its lease expired, and recorded")
        self.assertEqual(len(self.r.requests("/outage-exit")), 2, "sent once more, not lost")

    def test_tls_verification_ca_bundle_and_http2_negotiation(self):
        cert, key = h.self_signed_cert(self.stack.state)
        h1 = h.Receiver(tls=(cert, key), alpn=["http/1.1"])
        self.addCleanup(h1.close)
        h2 = h.Receiver(tls=(cert, key), alpn=["h2", "http/1.1"])
        self.addCleanup(h2.close)
        res1, res2 = h.unique_id("res"), h.unique_id("res")
        ep1 = h.register_endpoint(h1.set("/tls", h.ack()), [CODE], reseller_id=res1,
                                  username=AUTH[0], password=AUTH[1])
        h1.expect("/tls", ep1["secret"], AUTH)
        self.addCleanup(h.api, "DELETE", "/endpoints/" + ep1["id"])
        ep2 = h.register_endpoint(h2.set("/tls-h2", h.ack()), [CODE], reseller_id=res2)
        self.addCleanup(h.api, "DELETE", "/endpoints/" + ep2["id"])

        def attempts(ep):
            return h.sql("SELECT a.outcome, a.error_class, a.http_status FROM webhook_attempts a "
                         "JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN webhook_endpoints ep "
                         "ON ep.id = d.endpoint_id WHERE ep.public_id = %s ORDER BY a.id" % h.q(ep["id"]))

        # the system's CA store does not know the receiver's certificate: refused
        plain = self.worker("tls-system-store")
        self.post(res1)
        first = h.wait_until(lambda: attempts(ep1), timeout=10, message="the attempt without the CA bundle")
        self.assertEqual(first[0][:2], ("failure", "tls"), first)
        self.assertEqual(h1.requests(), [], "nothing is sent over an unverified connection")
        plain.stop()
        # --ca-bundle trusts it: delivered (the retry, 1 s later) over HTTP/1.1
        self.worker("tls-ca-bundle", "--ca-bundle", cert)
        h.wait_until(lambda: [a[0] for a in attempts(ep1)] == ["failure", "success"], timeout=10,
                     message="the retry with the CA bundle to succeed")
        self.assertIn("http/1.1", h1.handshakes)
        self.assertNotIn("h2", h1.handshakes)
        self.assertNotIn("upgrade", h1.requests("/tls")[0].headers, "no h2c upgrade")
        self.assertEqual(h1.problems, [])
        # a receiver that offers h2 in the handshake gets HTTP/2 (this test receiver then
        # cannot speak it, so that attempt fails; the negotiation is what is checked)
        self.post(res2)
        h.wait_until(lambda: "h2" in h2.handshakes, timeout=10, message="an h2 ALPN handshake")


if __name__ == "__main__":
    h.main()
