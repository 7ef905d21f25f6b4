#!/usr/bin/env python3
"""`webhook-worker migrate` and its lock (common/migrate.cpp), a row of
webhook_migration_lock taken with a write, so that it holds across the nodes of a cluster:
- three migrate runs started together on an empty database all succeed, each migration is
  applied by one of them and recorded once, and the lock is released;
- the lock of a migrator that died (a row nobody renews) is taken over once it expires;
- a migration longer than the renewal period keeps the lock: its expiry moves on.

A private stack; each case migrates a database of its own on the stack's MariaDB."""
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import harness as h

SQL_DIR = os.path.join(h.REPO, "sql")
RENEWAL_S = 15  # kLockRenewal


def migration_files(sql_dir=SQL_DIR):
    return sorted(f for f in os.listdir(sql_dir) if f.endswith(".sql") and f[:3].isdigit())


class MigrateLock(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ps = h.PrivateStack("migrate-lock")
        cls.ps.up()

    @classmethod
    def tearDownClass(cls):
        cls.ps.down()

    def database(self, name):
        """A fresh database the stack's user may migrate; its --database spec."""
        e = self.ps.env
        self.ps.stack.db.run_sql("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET utf8mb4 "
                                 "COLLATE utf8mb4_bin; GRANT ALL PRIVILEGES ON %s.* TO '%s'@'127.0.0.1'"
                                 % (name, name, name, e["WEBHOOK_DB_USER"]), user="root")
        self.addCleanup(self.ps.stack.db.run_sql, "DROP DATABASE IF EXISTS %s" % name, user="root")
        return "host=127.0.0.1 port=%s user=%s password=%s database=%s connect_timeout=2" % (
            e["WEBHOOK_DB_PORT"], e["WEBHOOK_DB_USER"], e["WEBHOOK_DB_PASSWORD"], name)

    def sql(self, database, query, check=True):
        return self.ps.stack.db.run_sql(query, database=database, user="root", check=check)

    def migrate(self, spec, sql_dir=SQL_DIR):
        return subprocess.run([self.ps.stack.worker_bin, "migrate", "--database", spec, "--sql-dir", sql_dir],
                              capture_output=True, text=True, timeout=300)

    def test_three_concurrent_runs_give_one_schema_and_no_error(self):
        spec = self.database("wh_migrate_race")
        runs = h.run_together(3, lambda i: self.migrate(spec))
        for p in runs:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        files = migration_files()
        applied = [line.split()[1] for p in runs for line in p.stdout.splitlines() if line.startswith("applied ")]
        self.assertEqual(sorted(applied), files, "each migration applied by exactly one run")
        rows = self.sql("wh_migrate_race", "SELECT version, name FROM webhook_schema_version ORDER BY version")
        self.assertEqual([r[1] for r in rows], files)
        self.assertEqual(self.sql("wh_migrate_race", "SELECT COUNT(*) FROM webhook_migration_lock"), [("0",)],
                         "the lock is released")

    def test_the_lock_of_a_dead_migrator_is_taken_once_it_expires(self):
        spec = self.database("wh_migrate_dead")
        self.assertEqual(self.migrate(spec).returncode, 0)
        self.sql("wh_migrate_dead", "INSERT INTO webhook_migration_lock (name, owner, expires_at) "
                                    "VALUES ('migrate', 'a migrator that died', NOW(3) + INTERVAL 3 SECOND)")
        started = time.monotonic()
        p = self.migrate(spec)
        waited = time.monotonic() - started
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("nothing to apply", p.stdout)
        self.assertGreaterEqual(waited, 2.0, "migrate must wait for the lock to expire")
        self.assertLess(waited, 30)
        self.assertEqual(self.sql("wh_migrate_dead", "SELECT COUNT(*) FROM webhook_migration_lock"), [("0",)])

    def test_a_long_migration_renews_its_lock(self):
        spec = self.database("wh_migrate_slow")
        slow_dir = tempfile.mkdtemp(prefix="migrate-slow-")
        self.addCleanup(shutil.rmtree, slow_dir, True)
        for name in migration_files():  # the schema (migrate's later steps read it), then a slow one
            shutil.copy(os.path.join(SQL_DIR, name), slow_dir)
        with open(os.path.join(slow_dir, "999_slow.sql"), "w", encoding="utf-8") as f:
            f.write("DO SLEEP(%d);\n" % (RENEWAL_S + 3))
        result = {}
        t = threading.Thread(target=lambda: result.update(p=self.migrate(spec, slow_dir)))
        t.start()

        def expiry():  # None before migrate made the table (check=False), and once it is released
            rows = self.sql("wh_migrate_slow", "SELECT UNIX_TIMESTAMP(expires_at) FROM webhook_migration_lock",
                            check=False)
            return float(rows[0][0]) if rows else None
        first = h.wait_until(expiry, timeout=10, message="migrate to take its lock")
        h.wait_until(lambda: (expiry() or 0) > first + RENEWAL_S / 2, timeout=RENEWAL_S + 2,
                     message="the lock's expiry to move on while the migration runs")
        t.join(60)
        self.assertEqual(result["p"].returncode, 0, result["p"].stdout + result["p"].stderr)
        self.assertIsNone(expiry(), "the lock is released")


if __name__ == "__main__":
    unittest.main()
