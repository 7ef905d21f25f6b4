#!/usr/bin/env python3
"""scripts/stack status/env/sql/principal work against the running test stack."""
import os
import socket
import subprocess
import unittest

import harness as h

STACK = os.path.join(h.REPO, "scripts", "stack")


def run_stack(*args):
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_")}
    child_env["WEBHOOK_STATE_DIR"] = h.state_dir()
    return subprocess.run([STACK] + list(args), capture_output=True, text=True, env=child_env, timeout=60)


class StackScripts(unittest.TestCase):
    def test_status_lists_every_component_running(self):
        p = run_stack("status")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for component in ("mariadb", "apache", "worker"):
            line = [ln for ln in p.stdout.splitlines() if ln.startswith(component)]
            self.assertEqual(len(line), 1, p.stdout)
            self.assertIn("running", line[0])
            self.assertRegex(line[0], r"\b\d+\b", "a pid")

    def test_env_prints_every_required_key(self):
        p = run_stack("env")
        self.assertEqual(p.returncode, 0, p.stderr)
        values = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
        for key in h.REQUIRED_ENV_KEYS:
            self.assertTrue(values.get(key), "%s missing or empty in:\n%s" % (key, p.stdout))
        self.assertRegex(values["WEBHOOK_BASE_URL"], r"^http://127\.0\.0\.1:\d+/webhooks/v1$")
        self.assertEqual(values["WEBHOOK_DB_HOST"], "127.0.0.1")
        self.assertEqual(os.path.realpath(values["WEBHOOK_STATE_DIR"]), os.path.realpath(h.state_dir()))
        # MariaDB answers on the advertised TCP port as well as on the socket
        with socket.create_connection(("127.0.0.1", int(values["WEBHOOK_DB_PORT"])), timeout=5) as s:
            self.assertTrue(s.recv(16), "MariaDB sends a greeting")
        self.assertTrue(os.path.exists(values["WEBHOOK_DB_SOCKET"]))
        for key in ("WEBHOOK_HTTPD_ERROR_LOG", "WEBHOOK_WORKER_LOG", "WEBHOOK_MARIADB_LOG"):
            self.assertTrue(os.path.exists(values[key]), "%s=%s does not exist" % (key, values[key]))
        key_file = os.path.join(h.state_dir(), "secret.key")
        self.assertRegex(open(key_file).read().strip(), r"^[0-9a-f]{64}$")
        self.assertEqual(os.stat(key_file).st_mode & 0o777, 0o640)

    def test_sql_passes_arguments_to_the_client(self):
        p = run_stack("sql", "--batch", "--skip-column-names", "-e", "SELECT COUNT(*) FROM webhook_event_types")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "15")  # the 14 of docs/contract.md §2 + system.endpoint-disabled

    def test_principal_add_creates_a_working_scoped_login(self):
        reseller = h.unique_id("res")
        user = h.unique_id("user")
        h.record_secret("pw-" + user, "api-password")
        p = run_stack("principal", "add", user, "pw-" + user, "--reseller", reseller)
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = h.sql("SELECT kind, scope_id FROM webhook_principals WHERE username = %s" % h.q(user))
        self.assertEqual(rows, [("reseller", reseller)])
        # Apache accepts the login and the module scopes it to its reseller
        status, _, body = h.api("GET", "/endpoints", user=user, password="pw-" + user)
        self.assertEqual(status, 200, body)
        # (no wrong-password probe: Apache logs those at [error], which stack_down rejects)
        receiver = h.Receiver()
        self.addCleanup(receiver.close)
        h.register_endpoint(receiver.url(), ["billing.allocation-created"], reseller_id=reseller,
                            user=user, api_password="pw-" + user)
        status, _, body = h.api("POST", "/endpoints", user=user, password="pw-" + user,
                                json={"url": receiver.url(), "eventTypes": ["billing.allocation-created"],
                                      "resellerId": h.unique_id("res")})
        self.assertIn(status, (403, 404, 422), "another reseller's endpoint must be refused: %s %r" % (status, body))

    def test_principal_add_rejects_bad_arguments(self):
        h.record_secret("pw-refused-4f0d2b", "api-password")
        p = run_stack("principal", "add", "someone", "pw-refused-4f0d2b", "--reseller", "bad id!")
        self.assertNotEqual(p.returncode, 0)
        p = run_stack("principal", "add", "someone", "pw-refused-4f0d2b")
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    h.main()
