#!/usr/bin/env python3
"""Credentials bound to their row and column, and none echoed back.

- Every credential is sealed as "v2:" with associated data naming its endpoint and column: a
  value copied into another row or column does not open, so the worker sends nothing
  (error class `credentials`, WH00126) instead of `Authorization: Basic x:whsec_…` to a URL the
  copier controls.
- Values an older release sealed as "v1:" still work, and `webhook-worker migrate` with the key
  file re-seals them as v2, once.
- A receiver that echoes the request puts no credential into what GET /deliveries/{id} shows.
"""
import base64
import json
import os
import subprocess
import unittest

import harness as h

CODE = "billing.subscription-created"


def event(reseller):
    return {"eventCode": CODE, "resellerId": reseller, "portfolioId": h.unique_id("pf"),
            "data": {"subscriptionId": "sub_1"}}


def endpoint_row(ep_id):
    rows = h.sql("SELECT id, secret_enc, password_enc FROM webhook_endpoints WHERE public_id = %s" % h.q(ep_id))
    return rows[0]


def seal_tool(*args, stdin):
    return h.seal(stdin, *args)[0]


def run_migrate():
    e = h.env()
    p = subprocess.run([os.path.join(e["WEBHOOK_BUILD_DIR"], "worker", "webhook-worker"), "migrate",
                        "--config", os.path.join(e["WEBHOOK_STATE_DIR"], "worker", "worker.conf"),
                        "--sql-dir", os.path.join(h.REPO, "sql")], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("webhook-worker migrate failed (%d): %s%s" % (p.returncode, p.stdout, p.stderr))
    return p.stdout


def attempts(ntf):
    return h.attempts_for_notification(ntf)


def first_notification(event_id):
    rows = h.wait_until(lambda: h.deliveries_for_event(event_id), timeout=30, message="the event's fan-out")
    return rows[0][0]


class Sealing(unittest.TestCase):
    def setUp(self):
        self.receiver = h.Receiver()
        self.addCleanup(self.receiver.close)

    def register(self, path, behaviour, auth=None):
        reseller = h.unique_id("res")
        kw = {"username": auth[0], "password": auth[1]} if auth else {}
        ep = h.register_endpoint(self.receiver.set(path, behaviour), [CODE], reseller_id=reseller, **kw)
        self.addCleanup(h.api, "DELETE", "/endpoints/" + ep["id"])
        return ep, reseller

    def test_new_credentials_are_sealed_as_v2(self):
        ep, _ = self.register("/new", h.ack(), auth=("u-new", h.new_password()))
        _, secret_enc, password_enc = endpoint_row(ep["id"])
        self.assertTrue(secret_enc.startswith("v2:"), secret_enc[:3])
        self.assertTrue(password_enc.startswith("v2:"), password_enc[:3])
        status, _, body = h.api("PATCH", "/endpoints/" + ep["id"],
                                json={"username": "u-new2", "password": h.new_password()})
        self.assertEqual(status, 200, body)
        status, _, body = h.api("POST", "/endpoints/%s/rotate-secret" % ep["id"])
        self.assertEqual(status, 200, body)
        _, secret_enc2, password_enc2 = endpoint_row(ep["id"])
        self.assertTrue(secret_enc2.startswith("v2:") and password_enc2.startswith("v2:"))
        self.assertNotEqual((secret_enc2, password_enc2), (secret_enc, password_enc))

    def test_a_secret_copied_into_a_password_is_not_sent(self):
        victim, _ = self.register("/victim", h.ack())
        # the copier's endpoint (another row) and one whose own secret is copied (another column)
        other_row, res_row = self.register("/other-row", h.ack(), auth=("x", h.new_password()))
        own_row, res_own = self.register("/own-row", h.ack(), auth=("x", h.new_password()))
        h.sql("UPDATE webhook_endpoints SET password_enc = (SELECT secret_enc FROM "
              "(SELECT secret_enc FROM webhook_endpoints WHERE public_id = %s) v) WHERE public_id = %s"
              % (h.q(victim["id"]), h.q(other_row["id"])))
        h.sql("UPDATE webhook_endpoints SET password_enc = secret_enc WHERE public_id = %s" % h.q(own_row["id"]))
        ntfs = [first_notification(h.post_event(event(r))) for r in (res_row, res_own)]
        for ntf in ntfs:
            got = h.wait_until(lambda: attempts(ntf), timeout=30, message="an attempt of " + ntf)
            self.assertEqual(got[0][1:], ("failure", None, "credentials"), got)
        secrets = {victim["secret"], victim["secret"][len("whsec_"):], own_row["secret"]}
        for r in self.receiver.requests():
            sent = json.dumps(r.headers) + r.body.decode("utf-8", "replace")
            self.assertFalse([s for s in secrets if s in sent], "a secret was sent to %s" % r.path)
        self.assertEqual(self.receiver.requests("/other-row") + self.receiver.requests("/own-row"), [])
        status, _, body = h.api("GET", "/deliveries/" + ntfs[0])
        self.assertEqual(status, 200, body)
        self.assertEqual(body["attempts"][0]["errorClass"], "credentials")
        self.assertIn("cannot be decrypted", body["attempts"][0]["errorMessage"])

    def test_v1_values_are_read_and_migrate_reseals_them_once(self):
        """secret_enc, password_enc and prev_secret_enc (a rotation in progress) as v1."""
        password = h.new_password()
        ep, reseller = self.register("/old", h.ack(), auth=("old-user", password))
        self.receiver.expect("/old", ep["secret"], ("old-user", password))
        row_id = endpoint_row(ep["id"])[0]
        old_secret = subprocess.run([os.path.join(h.env()["WEBHOOK_BUILD_DIR"], "worker", "webhook-worker-seal"),
                                     "--generate-secret"], capture_output=True, text=True, check=True).stdout.strip()
        h.record_secret(old_secret, "signing-secret")
        # the row as the previous release wrote it, in the middle of a secret rotation
        h.sql("UPDATE webhook_endpoints SET secret_enc = %s, password_enc = %s, prev_secret_enc = %s, "
              "prev_secret_expires_at = NOW(3) + INTERVAL 1 HOUR WHERE id = %s"
              % (h.q(seal_tool("--v1", stdin=ep["secret"])), h.q(seal_tool("--v1", stdin=password)),
                 h.q(seal_tool("--v1", stdin=old_secret)), row_id))
        self.assertTrue(all(v.startswith("v1:") for v in endpoint_row(ep["id"])[1:]))
        h.post_event(event(reseller))
        self.receiver.wait_for(1, "/old")
        out = run_migrate()
        self.assertIn("re-sealed", out)
        _, secret_enc, password_enc = endpoint_row(ep["id"])
        self.assertTrue(secret_enc.startswith("v2:") and password_enc.startswith("v2:"), (secret_enc[:3], password_enc[:3]))
        self.assertTrue(h.sql_value("SELECT prev_secret_enc FROM webhook_endpoints WHERE id = %s" % row_id)
                        .startswith("v2:"))
        self.assertEqual(h.sql_value("SELECT COUNT(*) FROM webhook_endpoints WHERE secret_enc LIKE 'v1:%%' "
                                     "OR password_enc LIKE 'v1:%%' OR prev_secret_enc LIKE 'v1:%%'"), "0")
        self.assertIn("re-sealed 0 credentials", run_migrate())  # nothing left to do
        self.assertEqual(endpoint_row(ep["id"])[1:], (secret_enc, password_enc))
        h.post_event(event(reseller))
        self.receiver.wait_for(2, "/old")
        self.assertEqual(self.receiver.problems, [])
        # both signatures, before and after the re-seal: the former secret still opens too
        for r in self.receiver.requests("/old"):
            self.assertEqual(len(r.headers["webhook-signature"].split(" ")), 2, r.headers)
            self.assertIsNone(h.check_signature(old_secret, r))
        ntfs = [r.notification_id for r in self.receiver.requests("/old")]
        for ntf in ntfs:
            h.wait_until(lambda: [a for a in attempts(ntf) if a[1] == "success"], timeout=30,
                         message="a successful attempt of " + ntf)


def echo_request():
    """200 whose body echoes the request's headers, and acknowledges the Authorization
    header's value as the notificationId (the verdict quotes it)."""
    def behaviour(req, n):
        return h.Response(200, {"notificationId": req.headers.get("authorization"), "headers": req.headers,
                                "raw": "\r\n".join("%s: %s" % kv for kv in req.headers.items())})
    return behaviour


class Redaction(unittest.TestCase):
    def test_an_echoing_receiver_gets_no_credential_into_the_delivery(self):
        password = h.new_password("pw/\"echo")
        with h.Receiver() as receiver:
            reseller = h.unique_id("res")
            ep = h.register_endpoint(receiver.set("/echo", echo_request()), [CODE], reseller_id=reseller,
                                     username="echo-user", password=password)
            self.addCleanup(h.api, "DELETE", "/endpoints/" + ep["id"])
            ntf = first_notification(h.post_event(event(reseller)))
            h.wait_until(lambda: attempts(ntf), timeout=30, message="an attempt of " + ntf)
            status, _, body = h.api("GET", "/deliveries/" + ntf)
        self.assertEqual(status, 200, body)
        basic = base64.b64encode(("echo-user:" + password).encode()).decode()
        secret = ep["secret"]
        text = json.dumps(body)
        for name, value in (("password", password), ("Basic value", basic), ("signing secret", secret),
                            ("signing key", secret[len("whsec_"):]), ("user:password", "echo-user:" + password)):
            self.assertNotIn(value, text, name)
            self.assertNotIn(json.dumps(value)[1:-1], text, name + " (JSON-escaped)")
        a = body["attempts"][0]
        self.assertEqual(a["errorClass"], "wrong-ack")
        self.assertIn("[redacted]", a["errorMessage"])
        self.assertIn("Basic [redacted]", a["responseExcerpt"])
        self.assertIn("webhook-signature", a["responseExcerpt"])  # the rest of the echo stays


if __name__ == "__main__":
    h.main()
