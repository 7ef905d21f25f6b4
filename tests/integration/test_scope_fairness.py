#!/usr/bin/env python3
"""One scope must not starve the others, on a private stack (worker concurrency 256, request
timeout 3 s). Scope A registers 40 endpoints on a receiver that accepts connections and never
answers, and gets 8 events (320 notifications that each hold a slot until the timeout).
Scope B has one endpoint on a normal receiver. B's delivery latency p99 with A's traffic
running stays within 2x of its p99 without it (measured in the same run; at least 0.5 s of
slack, the baseline being a few ms), because A gets at
most max_in_flight_per_scope (a quarter of concurrency: 64) notifications in flight, all
workers together. Without the per-scope cap A takes every slot and B waits for a request
timeout.

And the timeout breaker: an endpoint of A whose attempts timed out 5 times in a row gets one
notification in flight from then on (its attempts no longer overlap) and the shorter
breaker_request_timeout_ms (1 s here, with a worker of the test's own)."""
import threading
import time
import unittest

import harness as h

CODE = "processing.return-processed"
NOISY_ENDPOINTS = 40
NOISY_EVENTS = 8
PROBES = 30
SCOPE_CAP = 64          # worker concurrency 256 / 4 (the default)
BREAKER_AFTER = 5       # the worker's default breaker_after_timeouts
BREAKER_TIMEOUT_MS = 1000


def p99(values):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]


def probe(receiver, reseller, tag):
    """Posts PROBES events for `reseller` one after the other; returns each one's delivery
    latency in seconds (POST sent to the receiver reading the notification)."""
    path = "/quiet"
    out = []
    for seq in range(PROBES):
        before = len(receiver.requests(path))
        t0 = time.time()
        h.post_event({"eventCode": CODE, "resellerId": reseller, "portfolioId": "pf-fair",
                      "data": {"probe": tag, "seq": seq}})
        receiver.wait_for(before + 1, path=path, timeout=30)
        out.append(receiver.requests(path)[before].time - t0)
        time.sleep(0.05)
    return out


class InflightSampler:
    """Samples the noisy scope's notifications in flight (all workers) every 0.2 s."""

    def __init__(self, reseller):
        self.reseller = reseller
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(0.2):
            try:
                n = int(h.sql_value(
                    "SELECT COUNT(*) FROM webhook_deliveries d JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
                    "WHERE d.status = 'inflight' AND ep.scope_kind = 'reseller' AND ep.scope_id = %s"
                    % h.q(self.reseller)))
            except Exception:
                continue
            self.peak = max(self.peak, n)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


class ScopeFairness(unittest.TestCase):
    def test_noisy_scope_does_not_starve_another(self):
        quiet, noisy = h.unique_id("res-quiet"), h.unique_id("res-noisy")
        with h.RawReceiver() as silent, h.Receiver() as r, \
                h.PrivateStack("scope-fairness", request_timeout_ms=3000, retry_schedule="1s,1s,1s,1s,1s,1s") as ps:
            ps.activate()
            h.register_endpoint(r.url("/quiet"), [CODE], reseller_id=quiet)
            noisy_eps = [h.register_endpoint(silent.url("/n%d" % i), [CODE], reseller_id=noisy)["id"]
                         for i in range(NOISY_ENDPOINTS)]
            baseline = probe(r, quiet, "baseline")

            with InflightSampler(noisy) as sampler:
                for seq in range(NOISY_EVENTS):
                    h.post_event({"eventCode": CODE, "resellerId": noisy, "portfolioId": "pf-fair",
                                  "data": {"noise": seq}})
                h.wait_until(lambda: silent.accepted >= SCOPE_CAP, timeout=20,
                             message="the noisy scope's notifications to hold worker slots")
                noisy_lat = probe(r, quiet, "noisy")

            base_p99, noisy_p99 = p99(baseline), p99(noisy_lat)
            print("other-scope delivery latency p99: %.3f s without the noisy scope, %.3f s with it "
                  "(median %.3f / %.3f s); noisy scope in flight at most %d; %d connections to the silent receiver"
                  % (base_p99, noisy_p99, sorted(baseline)[PROBES // 2], sorted(noisy_lat)[PROBES // 2],
                     sampler.peak, silent.accepted))
            # 2x, with a floor of 0.5 s: the baseline is a few ms, so on a shared test machine one
            # scheduling hiccup of a few tens of ms decides a p99 of 30 samples. Without the cap
            # the noisy scope costs a request timeout (3 s here).
            self.assertLessEqual(noisy_p99, max(2 * base_p99, base_p99 + 0.5),
                                 "another scope's p99 latency grew more than 2x with the noisy scope running")
            self.assertLessEqual(sampler.peak, SCOPE_CAP, "the noisy scope had more in flight than its cap")
            # The breaker, with a worker whose breaker timeout (1 s) is shorter than the
            # request timeout (3 s): once an endpoint's attempts timed out 5 times in a row, its
            # later attempts run one at a time and end after about 1 s.
            ps.stop_stack_worker()
            restarted = time.time()
            ps.start_worker("fair-breaker", "--breaker-request-timeout-ms", BREAKER_TIMEOUT_MS)
            seen = {}
            h.wait_until(lambda: self.breaker_spans(noisy_eps, restarted, seen) > 0, timeout=60, interval=1.0,
                         message="two attempts of an endpoint of the noisy scope after its breaker opened")
            for ep, later in seen.items():
                for s1, e1 in later:
                    self.assertLess(e1 - s1, BREAKER_TIMEOUT_MS / 1000.0 + 0.5,
                                    "endpoint %s: an attempt with the breaker open took the full timeout" % ep)
                for (s1, e1), (s2, _) in zip(later, later[1:]):
                    self.assertGreaterEqual(s2, e1 - 0.05, "endpoint %s: attempts overlap after %d timeouts in a "
                                            "row: %r" % (ep, BREAKER_AFTER, later))

    def breaker_spans(self, endpoint_ids, since, seen):
        """Fills seen[endpoint] with the (start, end) of its attempts that began after `since`
        and after its attempts had timed out BREAKER_AFTER times in a row (the breaker open);
        returns how many endpoints have two or more such attempts."""
        seen.clear()
        for ep in endpoint_ids:
            rows = h.sql(
                "SELECT UNIX_TIMESTAMP(a.started_at), a.duration_ms, a.error_class FROM webhook_attempts a "
                "JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
                "WHERE ep.public_id = %s ORDER BY a.started_at, a.id" % h.q(ep))
            spans = [(float(s), float(s) + int(ms) / 1000.0, cls) for s, ms, cls in rows]
            ended = sorted(end for _, end, cls in spans if cls == "timeout")
            if len(ended) < BREAKER_AFTER:
                continue
            opened = ended[BREAKER_AFTER - 1]  # the count reached the threshold here
            later = [(s, e) for s, e, _ in spans if s > max(since, opened + 0.5)]  # claimed once it was recorded
            if len(later) >= 2:
                seen[ep] = later
        return len(seen)


if __name__ == "__main__":
    h.main()
