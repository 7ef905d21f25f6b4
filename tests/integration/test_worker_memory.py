#!/usr/bin/env python3
"""The worker holds one copy of an event's data, however many notifications it sends at once.

A 1 MiB event (as large as WebhookMaxBodySize lets POST /events make it) fans out to 256
endpoints of one reseller; the receiver holds every request until all 256 have arrived, so
all are in flight together. The worker's VmRSS then stays within 100 MB + 4 x the event's
size, and every notification carries the event's data, its own notificationId and a valid
signature over the exact bytes sent.

A private stack (its own worker with a long request timeout): label faults. The endpoints
past the first are copied in SQL (each secret sealed again for its own row), as scripts/bench
does, so no per-scope endpoint limit of the API is in the way."""

import json
import os
import threading
import unittest

import harness as h

ET = "billing.subscription-created"
ENDPOINTS = 256
MB = 1000 * 1000
# The worker's own settings: every notification of the event in flight at once.
# All 256 of one reseller in flight at once: the per-scope cap (a quarter of concurrency by
# default) is raised to all of them.
WORKER_FLAGS = ["--concurrency", str(ENDPOINTS), "--per-endpoint-concurrency", "1",
                "--max-in-flight-per-scope", str(ENDPOINTS)]


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for pid %d" % (key, pid))


class WorkerMemoryTest(unittest.TestCase):
    def test_1mib_event_to_256_endpoints(self):
        release = threading.Event()  # the receiver answers once all requests are in
        self.addCleanup(release.set)
        with h.PrivateStack("worker-memory", request_timeout_ms=120000) as ps, \
                h.Receiver(default=h.hang_until(release, 120)) as rcv:
            ps.activate()
            ps.stop_stack_worker()
            reseller, portfolio = h.unique_id("R-mem"), h.unique_id("P-mem")
            first = h.register_endpoint(rcv.url("/m0"), [ET], reseller_id=reseller)
            h.sql("INSERT INTO webhook_endpoints (url, scope_kind, scope_id, secret_enc, ack_mode) "
                  "SELECT CONCAT(%s, seq), scope_kind, scope_id, secret_enc, ack_mode "
                  "FROM webhook_endpoints, seq_1_to_%d WHERE public_id = %s"
                  % (h.q(rcv.url("/m")), ENDPOINTS - 1, h.q(first["id"])))
            # a sealed secret opens only in its own row: seal it again for each copy
            ids = [r[0] for r in h.sql("SELECT id FROM webhook_endpoints WHERE scope_id = %s AND public_id <> %s"
                                       % (h.q(reseller), h.q(first["id"])))]
            h.sql("".join("UPDATE webhook_endpoints SET secret_enc = %s WHERE id = %s;" % (h.q(v), i)
                          for v, i in zip(h.seal(first["secret"], "secret_enc", *ids), ids)))
            h.sql("INSERT INTO webhook_endpoint_subscriptions (endpoint_id, event_code) "
                  "SELECT id, %s FROM webhook_endpoints WHERE scope_id = %s AND public_id <> %s"
                  % (h.q(ET), h.q(reseller), h.q(first["id"])))

            # the largest event POST /events takes: its whole body at the 1 MiB cap
            event = {"eventCode": ET, "resellerId": reseller, "portfolioId": portfolio, "data": {"blob": ""}}
            room = 1024 * 1024 - len(json.dumps(event, separators=(",", ":")))
            event["data"]["blob"] = "x" * room
            status, _, body = h.http_request("POST", h.events_url(),
                                             body=json.dumps(event, separators=(",", ":")).encode(),
                                             headers={"Content-Type": "application/json"}, timeout=30)
            self.assertEqual(status, 202, body[:300])
            data = json.dumps(event["data"], separators=(",", ":"))
            size = len(data)

            w = ps.start_worker("memory", *WORKER_FLAGS)
            idle = status_kb(w.popen.pid, "VmRSS")
            rcv.wait_for(ENDPOINTS, timeout=120)
            held = status_kb(w.popen.pid, "VmRSS")
            peak = status_kb(w.popen.pid, "VmHWM")
            release.set()
            limit = 100 * MB + 4 * size
            print("worker RSS idle %.1f MB, %d x %d-byte notifications in flight %.1f MB (peak %.1f MB), "
                  "limit %.1f MB" % (idle / MB, ENDPOINTS, size, held / MB, peak / MB, limit / MB))
            if h.sanitizer_build():
                print("sanitizer build: ASan's shadow memory and quarantine count in RSS; not checked")
            else:
                self.assertLessEqual(held, limit)
                self.assertLessEqual(peak, limit)

            h.wait_until(lambda: h.sql_value(
                "SELECT COUNT(*) FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
                "WHERE ep.scope_id = %s AND d.status = 'delivered'" % h.q(reseller)) == str(ENDPOINTS),
                timeout=60, message="all %d notifications recorded as delivered" % ENDPOINTS)
            reqs = rcv.requests()
            self.assertEqual(len(reqs), ENDPOINTS)
            self.assertEqual(sorted(r.path for r in reqs), sorted("/m%d" % i for i in range(ENDPOINTS)))
            ids = set()
            for r in reqs:
                self.assertIsNone(h.check_signature(first["secret"], r), r.path)
                doc = json.loads(r.body)
                self.assertEqual(doc["notificationId"], r.headers["webhook-id"])
                self.assertEqual(r.body[-len(data) - 1:], (data + "}").encode())
                ids.add(doc["notificationId"])
            self.assertEqual(len(ids), ENDPOINTS)


if __name__ == "__main__":
    h.main()
