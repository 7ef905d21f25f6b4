#!/usr/bin/env python3
"""Prometheus metrics of the module (webhook-metrics handler, shared-memory counters summed
over Apache's children) and of the worker (metrics_listen), on a PRIVATE stack so that no
other test's traffic moves the counters: each counter must move by exactly the expected
amount."""
import re
import unittest
import urllib.request

import harness as h

CODE = "billing.subscription-modified"
STACK = None


def setUpModule():
    global STACK
    STACK = h.PrivateStack("metrics")
    STACK.up()
    STACK.activate()


def tearDownModule():
    if STACK is not None:
        STACK.down()


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def scrape(url):
    """{'name{labels}': float} of a text exposition; checks the content type and the format."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200, resp.status
        ctype = resp.headers.get("Content-Type", "")
        assert ctype.startswith("text/plain; version=0.0.4"), ctype
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, "not exposition format: %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def delta(before, after, key):
    return after.get(key, 0.0) - before.get(key, 0.0)


class ModuleMetrics(unittest.TestCase):
    def test_stack_env_prints_both_urls(self):
        p = STACK.cli("env")
        values = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
        self.assertRegex(values.get("WEBHOOK_METRICS_URL", ""), r"^http://127\.0\.0\.1:\d+/webhook-metrics$")
        self.assertRegex(values.get("WEBHOOK_WORKER_METRICS_URL", ""), r"^http://127\.0\.0\.1:\d+/metrics$")

    def test_counters_move_by_exactly_the_requests_made(self):
        url = h.env()["WEBHOOK_METRICS_URL"]
        before = scrape(url)
        res = h.unique_id("res")

        def ev(**extra):
            d = {"eventCode": CODE, "resellerId": res, "portfolioId": "pf-1", "data": {"x": 1}}
            d.update(extra)
            return d
        h.post_event(ev())
        status, _, body = h.post_events([ev(), ev(), ev()])
        self.assertEqual(status, 202, body)
        key = h.unique_id("idem")
        self.assertEqual(h.post_events(ev(), idempotency_key=key)[0], 202)
        status, _, body = h.post_events(ev(), idempotency_key=key)
        self.assertEqual((status, body.get("duplicate")), (202, True), body)
        self.assertEqual(h.post_events(ev(eventCode="no.such-type"))[0], 422)
        status, _, _ = h.http_request("POST", h.events_url(), body=b"{}", headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        status, _, _ = h.http_request("POST", h.events_url(), body=b"{not json",
                                      headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertEqual(h.api("GET", "/event-types")[0], 200)
        after = scrape(url)

        self.assertEqual(delta(before, after, "webhook_events_accepted_total"), 5)  # 1 + 3 + 1
        self.assertEqual(delta(before, after, "webhook_events_duplicate_total"), 1)
        self.assertEqual(delta(before, after, 'webhook_events_rejected_total{status="422"}'), 1)
        self.assertEqual(delta(before, after, 'webhook_events_rejected_total{status="415"}'), 1)
        self.assertEqual(delta(before, after, 'webhook_events_rejected_total{status="400"}'), 1)
        self.assertEqual(delta(before, after, 'webhook_events_rejected_total{status="503"}'), 0)
        self.assertEqual(delta(before, after, 'webhook_http_responses_total{handler="events",status="202"}'), 4)
        self.assertEqual(delta(before, after, 'webhook_http_responses_total{handler="api",status="200"}'), 1)
        self.assertEqual(delta(before, after, 'webhook_request_duration_seconds_count{handler="events"}'), 7)
        self.assertEqual(delta(before, after, 'webhook_request_duration_seconds_bucket{handler="events",le="+Inf"}'), 7)
        self.assertGreater(delta(before, after, 'webhook_request_duration_seconds_sum{handler="events"}'), 0)

    def test_concurrent_requests_are_all_counted(self):
        # Concurrent requests over fresh connections, counted by whichever child and thread
        # serves them: none is lost (the counters live in one shared block; the unit suite
        # api_metrics proves the sums across forked processes).
        url = h.env()["WEBHOOK_METRICS_URL"]
        before = scrape(url)
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: h.api("GET", "/event-types")[0], range(40)))
        self.assertEqual(codes, [200] * 40)
        after = scrape(url)
        self.assertEqual(delta(before, after, 'webhook_http_responses_total{handler="api",status="200"}'), 40)
        self.assertEqual(delta(before, after, 'webhook_request_duration_seconds_count{handler="api"}'), 40)

    def test_metrics_handler_is_get_only(self):
        status, headers, _ = h.http_request("POST", h.env()["WEBHOOK_METRICS_URL"], body=b"")
        self.assertEqual(status, 405)
        self.assertIn("GET", headers.get("allow", ""))


class WorkerMetrics(unittest.TestCase):
    def test_delivered_failed_retried_latency_and_backlog(self):
        url = h.env()["WEBHOOK_WORKER_METRICS_URL"]
        rx = h.Receiver()
        try:
            rx.set("/bad", h.status(500))
            res = h.unique_id("res")
            ok = h.register_endpoint(rx.url("/ok"), [CODE], reseller_id=res)["id"]
            bad = h.register_endpoint(rx.url("/bad"), [CODE], reseller_id=res)["id"]
            before = scrape(url)
            for i in range(2):
                h.post_event({"eventCode": CODE, "resellerId": res, "portfolioId": "pf", "data": {"i": i}})

            def settled():
                rows = h.sql("SELECT ep.public_id, d.status, COUNT(*) FROM webhook_deliveries d JOIN "
                              "webhook_endpoints ep ON ep.id = d.endpoint_id WHERE ep.public_id IN (%s, %s) "
                              "GROUP BY 1, 2" % (h.q(ok), h.q(bad)))
                return {(r[0], r[1]): int(r[2]) for r in rows} == {(ok, "delivered"): 2, (bad, "failed"): 2}
            h.wait_until(settled, timeout=60, message="2 delivered and 2 failed")
            after = scrape(url)
        finally:
            rx.close()
        self.assertEqual(delta(before, after, "webhook_worker_delivered_total"), 2)
        self.assertEqual(delta(before, after, 'webhook_worker_retried_total{reason="http-status"}'), 8)
        self.assertEqual(delta(before, after, 'webhook_worker_failed_total{reason="http-status"}'), 2)
        self.assertEqual(delta(before, after, "webhook_worker_attempt_duration_seconds_count"), 12)
        self.assertEqual(delta(before, after, 'webhook_worker_attempt_duration_seconds_bucket{le="+Inf"}'), 12)
        # a gauge, refreshed every database cycle of the worker
        h.wait_until(lambda: scrape(url)["webhook_worker_inflight"] == 0, timeout=10, message="inflight 0")

        # backlog: deliveries held by a disabled endpoint are pending (but not "due" for the
        # oldest-due gauge, which covers enabled endpoints only)
        res2 = h.unique_id("res")
        h.register_endpoint("http://127.0.0.1:9/held", [CODE], reseller_id=res2, enabled=False)
        for i in range(3):
            h.post_event({"eventCode": CODE, "resellerId": res2, "portfolioId": "pf", "data": {"i": i}})
        m = h.wait_until(lambda: (lambda s: s if s.get("webhook_worker_backlog") == 3 else None)(scrape(url)),
                         timeout=30, message="webhook_worker_backlog 3 (refreshed every 5 s)")
        self.assertEqual(m["webhook_worker_oldest_due_age_seconds"], 0)


if __name__ == "__main__":
    h.main()
