#!/usr/bin/env python3
"""A receiver that flaps, on a private stack: the endpoint's port is closed (refused
connections) for 1.5 s every 3 s while events are posted, with a short retry schedule. Every
accepted event is delivered; with normal leases (nothing expires) exactly once each, never
zero; and the flapping really made attempts fail as refused connections (error_class 'connect')."""
import json
import socket
import threading
import time
import unittest

import harness as h

CODE = "processing.return-processed"
EVENTS = 40
UP_S, DOWN_S = 1.5, 1.5


class FlappingPort:
    """A TCP forwarder on a fixed loopback port to a Receiver: while up it accepts and pipes
    each connection through; while down its listening socket is closed (connections are
    refused). Connections already accepted finish normally."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = h.whstack.free_port()
        self.stop = threading.Event()
        self.flapping = threading.Event()
        self.down_periods = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _pipe(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _serve(self, listener, until):
        listener.settimeout(0.1)
        while not self.stop.is_set() and time.monotonic() < until:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _run(self):
        while not self.stop.is_set():
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            try:
                self._serve(listener, time.monotonic() + (UP_S if self.flapping.is_set() else 3600))
            finally:
                listener.close()
            if self.flapping.is_set() and not self.stop.is_set():
                self.down_periods += 1
                self.stop.wait(DOWN_S)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def __enter__(self):
        self.flapping.set()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


class ReceiverFlaps(unittest.TestCase):
    def test_every_event_delivered_once_through_a_flapping_receiver(self):
        reseller = h.unique_id("res")
        with h.Receiver() as r, FlappingPort(r.port) as flap, \
                h.PrivateStack("receiver-flap", retry_schedule="1s,1s,1s,1s,1s,1s,1s,1s",
                               poll_interval_ms=200) as ps:
            ps.activate()
            h.register_endpoint(flap.url("/flap"), [CODE], reseller_id=reseller)
            accepted = []
            for seq in range(EVENTS):
                accepted.append(h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-1",
                                              "data": {"seq": seq}}))
                time.sleep(0.15)  # spread over several up/down periods
            self.assertEqual(len(set(accepted)), EVENTS)

            def delivered():
                return {json.loads(q.body)["data"]["seq"] for q in r.requests("/flap")} >= set(range(EVENTS))
            h.wait_until(delivered, timeout=45, message="every accepted event delivered through the flapping port")
            flap.flapping.clear()  # leave it up: late duplicates would still reach the receiver
            counts = {}
            for q in r.requests("/flap"):
                seq = json.loads(q.body)["data"]["seq"]
                counts[seq] = counts.get(seq, 0) + 1
            # normal leases (nothing expired, no worker killed): exactly once each
            self.assertEqual({s: n for s, n in counts.items() if n != 1}, {}, "events delivered more than once")
            self.assertEqual(set(counts), set(range(EVENTS)))
            states = dict(h.sql("SELECT d.status, COUNT(*) FROM webhook_deliveries d JOIN webhook_events e "
                                "ON e.id = d.event_id WHERE e.reseller_id = %s GROUP BY d.status" % h.q(reseller)))
            self.assertEqual(states, {"delivered": str(EVENTS)})
            failures = dict(h.sql(
                "SELECT COALESCE(a.error_class, '-'), COUNT(*) FROM webhook_attempts a JOIN webhook_deliveries d "
                "ON d.id = a.delivery_id JOIN webhook_events e ON e.id = d.event_id "
                "WHERE e.reseller_id = %s AND a.outcome = 'failure' GROUP BY a.error_class" % h.q(reseller)))
            self.assertGreater(flap.down_periods, 0)
            # a closed port refuses the connection: recorded as such, not as any failure
            self.assertGreater(int(failures.get("connect", 0)), 0,
                               "no refused connection recorded (error_class 'connect'): %r" % failures)
            print("%d events through %d down periods: failed attempts by class %r, each delivered exactly once"
                  % (EVENTS, flap.down_periods, failures))


if __name__ == "__main__":
    h.main()
