#!/usr/bin/env python3
"""Slow clients must not hold the API's threads (a private stack, label faults):
70 connections send their headers and then one body byte every 2 s. While they are
connected, GET /event-types keeps a p99 of at most 1 s, Apache never reaches
MaxRequestWorkers (AH00484), and mod_reqtimeout (RequestReadTimeout body=10,MinRate=500 in
the stack's template) cuts every slow client off with a problem+json 408 instead of letting
it hold its thread for as long as it keeps trickling."""
import os
import socket
import threading
import time
import unittest

import harness as h

SLOW_CLIENTS = 70
TRICKLE_S = 2.0
BODY_LENGTH = 1000
P99_LIMIT_S = 1.0
BODY_TIMEOUT_S = 10      # RequestReadTimeout body=10 in conf.d/httpd-stack.conf.in
SLACK_S = 6              # scheduling on a loaded 2-core machine


class SlowClient:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(("POST /webhooks/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{"
                           % BODY_LENGTH).encode())
        self.sock.setblocking(False)
        self.sent = 1
        self.reply = b""
        self.closed_at = None

    def poll(self):
        """Reads what the server sent; True while the connection is still open."""
        if self.closed_at is not None:
            return False
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self.closed_at = time.monotonic()
                    return False
                self.reply += data
        except BlockingIOError:
            pass
        except OSError:
            self.closed_at = time.monotonic()
            return False
        return True

    def trickle(self):
        if not self.poll() or self.sent >= BODY_LENGTH - 1:
            return
        try:
            self.sock.send(b" ")
            self.sent += 1
        except OSError:
            self.closed_at = time.monotonic()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def p99(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


class SlowClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = h.PrivateStack("slow-clients")
        cls.stack.up()
        cls.stack.activate()

    @classmethod
    def tearDownClass(cls):
        cls.stack.down()

    def test_slow_clients_leave_the_api_responsive(self):
        log = os.path.join(self.stack.state, "httpd", "logs", "error_log")
        log_start = os.path.getsize(log)
        status, _, _ = h.api("GET", "/event-types")
        self.assertEqual(status, 200)
        port = int(h.env()["WEBHOOK_HTTP_PORT"])
        clients = []
        stop = threading.Event()
        self.addCleanup(lambda: [c.close() for c in clients])
        self.addCleanup(stop.set)
        started = time.monotonic()
        for _ in range(SLOW_CLIENTS):
            clients.append(SlowClient(port))

        def trickler():
            while not stop.wait(TRICKLE_S):
                for c in clients:
                    c.trickle()
        threading.Thread(target=trickler, daemon=True).start()

        # every slow client is in its body by now: Apache started the children it needed
        time.sleep(TRICKLE_S + 1)
        latencies = []
        measure_until = started + BODY_TIMEOUT_S - 2
        while time.monotonic() < measure_until or len(latencies) < 20:
            t0 = time.monotonic()
            status, _, body = h.api("GET", "/event-types")
            latencies.append(time.monotonic() - t0)
            self.assertEqual(status, 200, body)
            time.sleep(0.05)
        connected = sum(1 for c in clients if c.poll())
        print("slow clients: %d connected while measuring; GET /event-types: %d requests, p99 %.3f s, "
              "max %.3f s" % (connected, len(latencies), p99(latencies), max(latencies)))
        self.assertEqual(connected, SLOW_CLIENTS, "the slow clients were still connected while measuring")
        self.assertLessEqual(p99(latencies), P99_LIMIT_S, sorted(latencies)[-5:])

        # mod_reqtimeout cuts them off: 408 as problem+json, within the body timeout
        h.wait_until(lambda: all(not c.poll() for c in clients), timeout=BODY_TIMEOUT_S + SLACK_S + 20,
                     message="mod_reqtimeout to close every slow client")
        stop.set()
        latest = max(c.closed_at for c in clients) - started
        print("slow clients: all cut off after %.1f s at most" % latest)
        self.assertLessEqual(latest, BODY_TIMEOUT_S + TRICKLE_S + SLACK_S)
        for c in clients:
            self.assertTrue(c.reply.startswith(b"HTTP/1.1 408 "), c.reply[:200])
            self.assertIn(b"application/problem+json", c.reply)
            status, headers, body = h.openapi_check.split_reply(c.reply)
            h.check_answer("POST", h.events_url(), status, headers, body)
        with open(log, encoding="utf-8", errors="replace") as f:
            f.seek(log_start)
            self.assertNotIn("AH00484", f.read(), "Apache ran out of threads")


if __name__ == "__main__":
    h.main()
