#!/usr/bin/env python3
"""`webhook-worker principal add|list|remove` against the stack's database: the rows it writes
are the ones the API maps an Apache login to (a user gets its scopes and no other), list
shows them, remove takes them away; usage errors exit 2, a database it cannot reach exits 1
with a tagged line (which carries a UTC time unless stderr is the journal). The htpasswd login itself is Apache's (the harness writes it)."""
import os
import subprocess
import sys
import tempfile
import unittest

import harness as h

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_logs  # noqa: E402  its worker-line pattern must match what the worker writes

CODE = "management.terminal-modified"


def worker_bin():
    return os.path.join(h.env()["WEBHOOK_BUILD_DIR"], "worker", "webhook-worker")


def db_spec():
    e = h.env()
    return "host=127.0.0.1 port=%s user=%s password=%s database=%s" % (
        e["WEBHOOK_DB_PORT"], e["WEBHOOK_DB_USER"], e["WEBHOOK_DB_PASSWORD"], e["WEBHOOK_DB_NAME"])


def principal(*args, database=None):
    """Runs `webhook-worker principal ARGS --database SPEC`; returns (exit status, stdout, stderr)."""
    argv = [worker_bin(), "principal"] + list(args) + ["--database", database or db_spec()]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class PrincipalCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reseller, cls.portfolio, cls.other = h.unique_id("res"), h.unique_id("pf"), h.unique_id("res")
        cls.user, cls.password = h.unique_id("cli"), h.new_password("api")
        # the Apache login and the reseller row (scripts/stack principal add runs the command too)
        h.add_principal(cls.user, cls.password, "--reseller", cls.reseller)

    def register(self, **scope):
        doc = {"url": "http://127.0.0.1:9/cli", "eventTypes": [CODE]}
        doc.update(scope)
        status, _, body = h.api("POST", "/endpoints", json=doc, user=self.user, password=self.password)
        return status, body

    def rows(self):
        rc, out, err = principal("list", self.user)
        self.assertEqual(rc, 0, err)
        return [line.split("\t")[:3] for line in out.splitlines()]

    def test_add_list_remove_and_the_api_follows(self):
        self.assertEqual(self.rows(), [[self.user, "reseller", self.reseller]])
        self.assertEqual(self.register(resellerId=self.reseller)[0], 201)
        self.assertEqual(self.register(resellerId=self.other)[0], 403)
        self.assertEqual(self.register(portfolioId=self.portfolio)[0], 403)

        rc, out, err = principal("add", self.user, "--portfolio", self.portfolio)
        self.assertEqual((rc, out.strip()), (0, "added %s (portfolio %s)" % (self.user, self.portfolio)), err)
        rc, out, _ = principal("add", self.user, "--portfolio=" + self.portfolio)
        self.assertEqual((rc, out.split(":")[0]), (0, "already there"))
        # kinds in the table's order: admin, reseller, portfolio
        self.assertEqual(self.rows(), [[self.user, "reseller", self.reseller], [self.user, "portfolio", self.portfolio]])
        self.assertEqual(self.register(portfolioId=self.portfolio)[0], 201)

        rc, out, err = principal("remove", self.user, "--reseller", self.reseller)
        self.assertEqual((rc, out.strip()), (0, "removed 1 row of %s (reseller %s)" % (self.user, self.reseller)), err)
        self.assertEqual(self.register(resellerId=self.reseller)[0], 403)
        self.assertEqual(self.register(portfolioId=self.portfolio)[0], 201)

        rc, out, err = principal("remove", self.user)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.rows(), [])
        status, _ = self.register(portfolioId=self.portfolio)
        self.assertEqual(status, 403)
        rc, _, err = principal("remove", self.user)
        self.assertEqual(rc, 1)
        self.assertIn("WH00184", err)

    def test_list_without_a_user_and_admin_rows(self):
        admin = h.unique_id("adm")
        rc, _, err = principal("add", admin, "--admin")
        self.assertEqual(rc, 0, err)
        rc, out, err = principal("list")
        self.assertEqual(rc, 0, err)
        self.assertIn([admin, "admin", "-"], [line.split("\t")[:3] for line in out.splitlines()])
        self.assertEqual(principal("remove", admin, "--admin")[0], 0)

    def test_config_file_gives_the_database(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
            # the worker's own file: keys of other subcommands are accepted and ignored
            conf.write("database = %s\nsecret_key_file = /nonexistent\nconcurrency = 4\n" % db_spec())
            conf.flush()
            p = subprocess.run([worker_bin(), "principal", "list", self.user, "--config", conf.name],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_usage_errors_exit_2(self):
        cases = [("add", self.user), ("add", self.user, "--reseller", "bad id"), ("add", "a:b", "--admin"),
                 ("add", self.user, "--admin", "--reseller", "r"), ("list", self.user, "--admin"),
                 ("remove",), ("rename", self.user), ("add", self.user, "--admin", "--concurrency", "4")]
        for args in cases:
            rc, out, err = principal(*args)
            self.assertEqual(rc, 2, "%r: %s%s" % (args, out, err))
            self.assertIn("WH00100", err, args)

    def test_database_down_exits_1_with_a_tag(self):
        port = h.whstack.free_ports(1)[0]
        rc, _, err = principal("list", database="host=127.0.0.1 port=%d user=u password=p database=d" % port)
        self.assertEqual(rc, 1)
        self.assertIn("WH00183", err)

    def test_log_lines_carry_a_time_unless_stderr_is_the_journal(self):
        bad_db = "host=127.0.0.1 port=%d user=u password=p database=d" % h.whstack.free_ports(1)[0]
        argv = [worker_bin(), "principal", "list", "--database", bad_db]
        with tempfile.TemporaryFile("w+") as err:
            env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
            subprocess.run(argv, stderr=err, env=env, timeout=60)
            st = os.fstat(err.fileno())
            # as systemd sets it when stderr is the journal's stream
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
            subprocess.run(argv, stderr=err, env=env, timeout=60)
            err.seek(0)
            stamped, plain = err.read().splitlines()
        self.assertRegex(stamped, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[error\] WH00183: ")
        self.assertTrue(plain.startswith("[error] WH00183: "), plain)
        self.assertEqual(stamped.split(" ", 1)[1], plain)
        for line in (stamped, plain):
            self.assertTrue(check_logs.WORKER_ERROR.match(line), line)
            self.assertEqual(check_logs.TAG.search(line).group(1), "WH00183")


if __name__ == "__main__":
    unittest.main()
