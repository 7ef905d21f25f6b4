#!/usr/bin/env python3
"""A commit whose answer is lost: the module looks the event up by its public id on a fresh
connection, answers 202 if it is stored and 503 if it is not (mod_webhook/core/store.cpp,
insert_events; one WH00070 line either way).

A private stack whose Apache reaches MariaDB through a small TCP proxy in this test (an extra
httpd conf overrides WebhookDatabase; the worker and the test talk to MariaDB directly). The
proxy is armed with a marker that the event's data carries; on the connection that sends it:
- "after": the commit (the single event's INSERT in autocommit, a batch's COMMIT) reaches
  MariaDB, which answers, then the proxy closes both sides without passing the answer on:
  the event is stored, the module hears nothing (error 2013) -> 202, stored exactly once;
- "before": the proxy closes both sides instead of passing the statement on: the event is
  not stored -> 503, nothing stored.
Armed with refuse_s, the proxy also closes every new connection for that long after the
drop (a stalled cluster): the lookup is tried again until it gets through. Armed with down_s,
it stops listening for that long instead (no server running): the lookup gives up at once."""
import json
import os
import select
import signal
import socket
import threading
import time
import unittest

import harness as h
from test_ingest_db_restart import apache_pid

CODE = "processing.chargeback-processed"
COMMIT = b"\x03COMMIT"  # COM_QUERY "COMMIT" as the client library sends it


class CommitProxy(threading.Thread):
    """127.0.0.1:port -> MariaDB, one thread for all connections; arm() drops one commit."""

    def __init__(self, db_port):
        super().__init__(daemon=True)
        self.db_port = db_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.plan = None       # (marker bytes, "after" | "before", at COMMIT?, refuse s, down s)
        self.refuse_until = 0  # monotonic time until which new connections are closed at once
        self.down_until = 0    # monotonic time until which nothing listens on self.port
        self.dropped = threading.Event()
        self.stop = threading.Event()
        self.pairs = {}        # socket -> [peer, is_client_side, marker seen]

    def arm(self, marker, when, at_commit, refuse_s=0, down_s=0):
        with self.lock:
            self.dropped.clear()
            self.plan = (marker.encode(), when, at_commit, refuse_s, down_s)

    def run(self):
        while not self.stop.is_set():
            if self.listener is None and time.monotonic() >= self.down_until:
                self.listener = socket.create_server(("127.0.0.1", self.port))
            listening = [self.listener] if self.listener else []
            ready, _, _ = select.select(listening + list(self.pairs), [], [], 0.1)
            for s in ready:
                if s is self.listener:
                    self.accept()
                elif s in self.pairs:
                    self.pump(s)

    def accept(self):
        client, _ = self.listener.accept()
        if time.monotonic() < self.refuse_until:  # a stalled database: the handshake never comes
            client.close()
            return
        server = socket.create_connection(("127.0.0.1", self.db_port))
        self.pairs[client] = [server, True, False]
        self.pairs[server] = [client, False, False]

    def close(self, s):
        peer = self.pairs.pop(s)[0]
        self.pairs.pop(peer, None)
        for x in (s, peer):
            x.close()

    def pump(self, s):
        data = s.recv(1 << 16)
        if not data:
            self.close(s)
            return
        peer, from_client, _ = self.pairs[s]
        if from_client and self.trigger(s, data):
            return
        peer.sendall(data)

    def trigger(self, s, data):
        """True if this chunk is the armed commit; then it is handled (and the pair closed)."""
        with self.lock:
            if self.plan is None:
                return False
            marker, when, at_commit, refuse_s, down_s = self.plan
            state = self.pairs[s]
            state[2] = state[2] or marker in data
            if not state[2] or (at_commit and COMMIT not in data):
                return False
            self.plan = None
            self.refuse_until = time.monotonic() + refuse_s
            if down_s:  # connections are refused by the kernel until run() listens again
                self.down_until = time.monotonic() + down_s
                self.listener.close()
                self.listener = None
        server = state[0]
        if when == "after":
            server.sendall(data)
            server.settimeout(10)
            server.recv(1 << 16)  # MariaDB's answer: the commit is done; it goes nowhere
        self.close(s)
        self.dropped.set()
        return True

    def shutdown(self):
        self.stop.set()
        self.join(5)
        for s in list(self.pairs):
            s.close()
        if self.listener:
            self.listener.close()


def event(reseller, marker, i=0):
    return {"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-lost",
            "data": {"chargebackId": "cb-%d" % i, "marker": marker}}


def stored(reseller):
    return h.sql("SELECT public_id, data FROM webhook_events WHERE reseller_id = %s ORDER BY id" % h.q(reseller))


def error_log(ps):
    with open(os.path.join(ps.state, "httpd", "logs", "error_log"), errors="replace") as f:
        return f.read()


class CommitOutcome(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ps = h.PrivateStack("commit-outcome")
        cls.ps.expect_log_tags("the proxy drops commits on purpose: a commit known not to be stored is "
                               "answered 503 as the database being unavailable", "WH00010")
        cls.extra = os.path.join(cls.ps.build_dir, "itest-private", "commit-outcome.conf")
        os.makedirs(os.path.dirname(cls.extra), exist_ok=True)  # the first private stack of a new build
        with open(cls.extra, "w", encoding="utf-8") as f:
            f.write("# WebhookDatabase through the test's proxy: written once the stack is up\n")
        cls.ps.settings["WEBHOOK_HTTPD_EXTRA_CONF"] = cls.extra
        cls.ps.up()
        try:
            cls.ps.activate()
            cls.proxy = CommitProxy(int(cls.ps.env["WEBHOOK_DB_PORT"]))
            cls.proxy.start()
            cls.route_apache_through_proxy()
        except BaseException:
            cls.ps.down(check=False)
            raise

    @classmethod
    def route_apache_through_proxy(cls):
        e = cls.ps.env
        os.chmod(cls.extra, 0o600)  # it holds the database password
        with open(cls.extra, "w", encoding="utf-8") as f:
            f.write('WebhookDatabase "host=127.0.0.1 port=%d user=%s password=%s database=%s connect_timeout=2"\n'
                    % (cls.proxy.port, e["WEBHOOK_DB_USER"], e["WEBHOOK_DB_PASSWORD"], e["WEBHOOK_DB_NAME"]))
        before = error_log(cls.ps).count("resuming normal operations")
        os.kill(apache_pid(cls.ps), signal.SIGUSR1)
        h.wait_until(lambda: error_log(cls.ps).count("resuming normal operations") > before, timeout=30,
                     message="Apache to restart gracefully with the proxy as its database")
        # the new children's connections go through the proxy
        h.wait_until(lambda: h.post_events(event(h.unique_id("res"), "warm-up"))[0] == 202, timeout=15)
        h.wait_until(lambda: len(cls.proxy.pairs) > 0, timeout=5, message="a connection through the proxy")

    @classmethod
    def tearDownClass(cls):
        cls.proxy.shutdown()
        cls.ps.down()
        os.remove(cls.extra)

    def lose(self, events, when, at_commit, refuse_s=0, down_s=0):
        """Posts events (a dict or a list) with the proxy armed (closing new connections for
        refuse_s, or not listening for down_s, after the drop); returns (status, body, rows)."""
        reseller = (events if isinstance(events, dict) else events[0])["resellerId"]
        marker = (events if isinstance(events, dict) else events[0])["data"]["marker"]
        self.proxy.arm(marker, when, at_commit, refuse_s, down_s)
        status, _, body = h.post_events(events)
        self.assertTrue(self.proxy.dropped.is_set(), "the proxy saw no commit to drop: %s %r" % (status, body))
        return status, body, stored(reseller)

    def test_single_event_stored_although_its_answer_was_lost(self):
        reseller, marker = h.unique_id("res"), h.unique_id("lost")
        status, body, rows = self.lose(event(reseller, marker), "after", at_commit=False)
        self.assertEqual(status, 202, body)
        self.assertEqual([r[0] for r in rows], [body["eventId"]], "stored exactly once, under the answered id")
        self.assertNotIn("duplicate", body)
        h.wait_until(lambda: "WH00070" in error_log(self.ps) and "found it stored: answering 202" in error_log(self.ps),
                     timeout=5, message="the WH00070 line of a stored event")

    def test_lookup_tried_again_while_the_database_stalls(self):
        """The first lookups after the lost answer fail (no new connection gets through for
        1.5 s, as in a stalled cluster); a later one finds the event: 202, not a 503."""
        reseller, marker = h.unique_id("res"), h.unique_id("lost")
        t0 = time.monotonic()
        status, body, rows = self.lose(event(reseller, marker), "after", at_commit=False, refuse_s=1.5)
        self.assertEqual(status, 202, body)
        self.assertGreaterEqual(time.monotonic() - t0, 1.5, "answered before any lookup could get through")
        self.assertEqual([r[0] for r in rows], [body["eventId"]], "stored exactly once, under the answered id")

    def test_no_server_running_answers_503_at_once(self):
        """After the lost answer nothing listens for 4 s (a killed server): waiting would not
        tell sooner than the gateway's retry, so the answer is 503 within the connect, and the
        log line says why; the stored event is found again under its idempotency key."""
        reseller, marker = h.unique_id("res"), h.unique_id("lost")
        ev = dict(event(reseller, marker), idempotencyKey=h.unique_id("key"))
        t0 = time.monotonic()
        status, body, rows = self.lose(ev, "after", at_commit=False, down_s=4)
        self.assertEqual(status, 503, body)
        self.assertLess(time.monotonic() - t0, 3.0, "waited for the server to come back")
        self.assertIn("a lookup found no server running", error_log(self.ps))
        self.assertEqual(len(rows), 1, "the commit itself went through")
        time.sleep(max(0.0, 4.5 - (time.monotonic() - t0)))  # the proxy listens again
        status, _, body = h.post_events(ev)
        self.assertEqual(status, 202, body)
        self.assertEqual(body["eventId"], rows[0][0], "the retry with the same key finds the stored event")
        self.assertTrue(body.get("duplicate"), body)

    def test_batch_stored_although_its_commit_answer_was_lost(self):
        reseller, marker = h.unique_id("res"), h.unique_id("lost")
        batch = [event(reseller, marker, i) for i in range(3)]
        status, body, rows = self.lose(batch, "after", at_commit=True)
        self.assertEqual(status, 202, body)
        self.assertEqual([r[0] for r in rows], [b["eventId"] for b in body], "each stored exactly once, in order")
        self.assertEqual([json.loads(r[1])["chargebackId"] for r in rows], ["cb-0", "cb-1", "cb-2"])
        self.assertIn("and the 2 others of its batch", error_log(self.ps))

    def test_single_event_never_sent_is_503_and_not_stored(self):
        reseller, marker = h.unique_id("res"), h.unique_id("lost")
        status, body, rows = self.lose(event(reseller, marker), "before", at_commit=False)
        self.assertEqual(status, 503, body)
        self.assertEqual(rows, [])
        self.assertIn("found it not stored: answering 503", error_log(self.ps))

    def test_batch_commit_never_sent_is_503_and_nothing_stored(self):
        reseller, marker = h.unique_id("res"), h.unique_id("lost")
        status, body, rows = self.lose([event(reseller, marker, i) for i in range(3)], "before", at_commit=True)
        self.assertEqual(status, 503, body)
        self.assertEqual(rows, [])

    def test_after_a_lost_commit_the_module_works_on(self):
        reseller, marker = h.unique_id("res"), h.unique_id("lost")
        self.lose(event(reseller, marker), "after", at_commit=False)
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline and status != 202:
            status = h.post_events(event(reseller, "next"))[0]
        self.assertEqual(status, 202)
        self.assertEqual(len(stored(reseller)), 2)


if __name__ == "__main__":
    unittest.main()
