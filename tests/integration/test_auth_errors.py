#!/usr/bin/env python3
"""An AuthUserFile that Apache's children cannot read, on a private stack (the file is read
on every request, so no restart is involved): every API call answers 500 as problem+json,
mod_authn_file logs AH01620 and the module adds one WH00023 line naming the request and what
to do; the events URL (no Basic auth) keeps answering 202. Readable again, the API answers
200 and no further WH00023 line is written."""
import os
import unittest

import harness as h


def error_log(ps):
    with open(ps.stack.httpd.error_log, errors="replace") as f:
        return f.read()


class AuthErrors(unittest.TestCase):
    def test_unreadable_password_file_is_explained(self):
        reseller = h.unique_id("res")
        with h.PrivateStack("auth-errors") as ps:
            ps.expect_log_tags("the test makes the AuthUserFile unreadable", "AH01620", "WH00023")
            ps.activate()
            self.assertEqual(h.api("GET", "/event-types")[0], 200)
            path = ps.stack.htpasswd
            mode = os.stat(path).st_mode & 0o777
            os.chmod(path, 0)  # Apache's children (nobody, or this user) cannot open it
            try:
                status, headers, body = h.api("GET", "/event-types")
                self.assertEqual(status, 500, body)
                self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"))
                self.assertEqual(body["status"], 500)
                h.wait_until(lambda: "WH00023" in error_log(ps), timeout=5, message="a WH00023 line")
                lines = error_log(ps).splitlines()
                ours = [l for l in lines if "WH00023" in l]
                self.assertEqual(len(ours), 1, ours)
                self.assertIn("GET /webhooks/v1/event-types", ours[0])
                self.assertIn("AuthUserFile", ours[0])
                self.assertIn("/etc/apache2/webhook.htpasswd", ours[0], "the line says where it works")
                self.assertTrue(any("AH01620" in l for l in lines[:lines.index(ours[0])]),
                                "mod_authn_file's line comes first")
                event = {"eventCode": "billing.subscription-created", "resellerId": reseller,
                         "portfolioId": h.unique_id("pf"), "data": {"subscriptionId": "sub_1"}}
                self.assertEqual(h.post_events(event)[0], 202, "the events URL needs no password file")
            finally:
                os.chmod(path, mode)
            self.assertEqual(h.api("GET", "/event-types")[0], 200)
            self.assertEqual(error_log(ps).count("WH00023"), 1, "no WH00023 for answers the handler gave")


if __name__ == "__main__":
    unittest.main(verbosity=2)
