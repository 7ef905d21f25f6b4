#!/usr/bin/env python3
"""The end of a rolling upgrade (private stack, its own worker): with accept_v1_credentials
Off a worker opens no credential sealed as "v1:" (no associated data, so a copy from another
row or column, e.g. out of an old backup, would open): the attempt fails as `credentials`
(WH00158) and nothing is sent. `webhook-worker migrate --secret-key-file` re-seals the row as
v2, and the next attempt is delivered with the right signature and Basic credentials."""
import unittest

import harness as h
from test_credential_sealing import attempts, endpoint_row, event, first_notification, run_migrate, seal_tool

CODE = "billing.subscription-created"


class V1Refused(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = h.PrivateStack("credential-upgrade")
        cls.stack.expect_log_tags("a worker with accept_v1_credentials Off meets a v1 row on purpose: it must refuse it",
                                  "WH00158")
        cls.stack.up()
        cls.stack.activate()

    @classmethod
    def tearDownClass(cls):
        cls.stack.down()

    def test_v1_refused_until_resealed(self):
        self.stack.stop_stack_worker()
        worker = self.stack.start_worker("v1-off", "--accept-v1-credentials", "Off")
        password = h.new_password()
        with h.Receiver() as receiver:
            ep, reseller = h.checked_endpoint(self, receiver, "/up", h.ack(), [CODE], ("up-user", password))
            row_id = endpoint_row(ep["id"])[0]
            h.sql("UPDATE webhook_endpoints SET secret_enc = %s, password_enc = %s WHERE id = %s"
                  % (h.q(seal_tool("--v1", stdin=ep["secret"])), h.q(seal_tool("--v1", stdin=password)), row_id))
            ntf = first_notification(h.post_event(event(reseller)))
            got = h.wait_until(lambda: attempts(ntf), timeout=30, message="an attempt of " + ntf)
            self.assertEqual(got[0][1:], ("failure", None, "credentials"), got)
            worker.wait_log("WH00158")
            self.assertEqual(receiver.requests("/up"), [])
            self.assertIn("re-sealed 2 credentials", run_migrate())
            self.assertTrue(all(v.startswith("v2:") for v in endpoint_row(ep["id"])[1:]))
            h.post_event(event(reseller))
            receiver.wait_for(2, "/up")  # the retry of the first and the second notification
            self.assertEqual(receiver.problems, [])
            h.wait_until(lambda: [a for a in attempts(ntf) if a[1] == "success"], timeout=30,
                         message="the retry of " + ntf + " delivered")


if __name__ == "__main__":
    h.main()
