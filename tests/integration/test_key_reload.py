#!/usr/bin/env python3
"""A graceful restart with a key file that is gone, on a private stack: the configuration
check refuses it (apache2 -t and apache2 -k graceful fail with WH00002 naming the file, and
the running server is left alone); a graceful restart that gets through anyway (SIGUSR1 to
the parent, as a reload that skips the check does) keeps Apache serving: the parent stays,
events are accepted (202), the API routes that need no key answer as usual, and those that
seal credentials answer 503 problem+json with one WH00021 line each (WH00022 at the reload).
Once the key is back, a second graceful restart brings registration back."""
import os
import signal
import subprocess
import unittest

import harness as h

APACHE = os.environ.get("WEBHOOK_APACHE_BIN", "/usr/sbin/apache2")


def error_log(ps):
    with open(ps.stack.httpd.error_log, errors="replace") as f:
        return f.read()


def event(reseller):
    return {"eventCode": "billing.subscription-created", "resellerId": reseller,
            "portfolioId": h.unique_id("pf"), "data": {"subscriptionId": "sub_1"}}


def graceful(ps):
    """SIGUSR1 to the parent; waits for the restarted generation to serve."""
    before = error_log(ps).count("resuming normal operations")
    os.kill(ps.stack.httpd.pid(), signal.SIGUSR1)
    h.wait_until(lambda: error_log(ps).count("resuming normal operations") > before, timeout=20,
                 message="Apache to finish its graceful restart")


class KeyReload(unittest.TestCase):
    def test_graceful_restart_without_key_keeps_serving(self):
        reseller = h.unique_id("res")
        with h.Receiver() as r, h.PrivateStack("key-reload") as ps:
            ps.expect_log_tags("the test removes the key file and restarts Apache gracefully",
                               "WH00021", "WH00022")
            ps.activate()
            ep = h.register_endpoint(r.url("/kr"), ["billing.subscription-created"], reseller_id=reseller)
            key = ps.stack.secret_key
            pid = ps.stack.httpd.pid()
            os.rename(key, key + ".moved")
            try:
                self.check_refused(ps, key)
                self.assertNotIn("WH00022", error_log(ps), "apache2 -k graceful must not signal")
                graceful(ps)
                self.assertEqual(ps.stack.httpd.pid(), pid, "the parent keeps running")
                self.assertEqual(error_log(ps).count("WH00022"), 1, "one line at the reload")
                self.assertIn(key, [l for l in error_log(ps).splitlines() if "WH00022" in l][0])
                self.check_serving_without_key(ps, r, reseller, ep["id"])
            finally:
                os.rename(key + ".moved", key)
            graceful(ps)
            h.register_endpoint(r.url("/kr2"), ["billing.subscription-created"], reseller_id=reseller)
            self.assertEqual(ps.stack.httpd.pid(), pid)

    def check_refused(self, ps, key):
        for args in (["-t"], ["-k", "graceful"]):
            # the stack's environment: a sanitizer build's module needs its runtime preloaded
            p = subprocess.run([APACHE, "-f", ps.stack.httpd.conf] + args, capture_output=True, text=True,
                               timeout=60, env=ps.stack.httpd.environment())
            out = p.stdout + p.stderr
            self.assertNotEqual(p.returncode, 0, "apache2 %s accepted a missing key:\n%s" % (args, out))
            lines = [l for l in out.splitlines() if "WH00002" in l]
            self.assertEqual(len(lines), 1, out)
            self.assertIn(key, lines[0], "the line names the key file")
            self.assertIn("od -An -tx1 -N32 /dev/urandom", lines[0], "the line gives the recipe")

    def check_serving_without_key(self, ps, r, reseller, ep_id):
        self.assertEqual(h.post_events(event(reseller))[0], 202, "events need no key")
        self.assertEqual(h.api("GET", "/event-types")[0], 200)
        self.assertEqual(h.api("GET", "/endpoints/" + ep_id)[0], 200)
        self.assertEqual(h.api("PATCH", "/endpoints/" + ep_id, json={"description": "no key"})[0], 200,
                         "a change that seals nothing needs no key")
        calls = [("POST", "/endpoints", {"url": r.url("/kr3"), "eventTypes": ["billing.subscription-created"],
                                          "resellerId": reseller}),
                 ("POST", "/endpoints/%s/rotate-secret" % ep_id, None),
                 ("PATCH", "/endpoints/" + ep_id, {"username": "u", "password": h.new_password()})]
        for method, path, doc in calls:
            before = error_log(ps).count("WH00021")
            status, headers, body = h.api(method, path, json=doc)
            self.assertEqual(status, 503, "%s %s: %r" % (method, path, body))
            self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"))
            self.assertIn("secret key", body["detail"])
            h.wait_until(lambda: error_log(ps).count("WH00021") == before + 1, timeout=5,
                         message="one WH00021 line for %s %s" % (method, path))


if __name__ == "__main__":
    unittest.main(verbosity=2)
