#!/usr/bin/env python3
"""Fails (exit 1) when a stack's logs show errors or crashes.

Used for the shared stack (stack_fixture.sh down), for each private stack when it goes down
(harness.PrivateStack.down) and for every private stack of the run once more after ctest
(scripts/test).

Apache's error log: any line at [error], [crit], [alert] or [emerg] (format
"[module:level]") and any "exit signal" line (a child crashed), unless the line carries an
allowed tag. Worker logs (<state>/worker/*.log: the stack's worker.log and the logs of workers
a test started itself): any "[error]" line (format "[level] WH000NN: …" after a UTC time, common/log.cpp)
unless its tag is allowed, and crashes (signals, aborts, uncaught exceptions, sanitizer
reports, or the stack supervisor's CRASHED/unexpected-exit lines).
Allowed tags: those of --allow-list (allowed_log_tags.txt, for every stack) and of
<state>/allowed_log_tags.txt (same format), which a test writes for its private stack when it
provokes errors on purpose (harness.PrivateStack.expect_log_tags).
Credentials: every password and signing secret the tests recorded in secrets-used.txt
(harness.record_secret) must not appear in any log or in the database dump (db-dump.sql,
written by stack_fixture.sh / PrivateStack.down before the stack goes down), whatever their
length: the tests use distinctive values, so a match is a leak.
Sanitizer builds (docs/reliability.md): any AddressSanitizer/UndefinedBehaviorSanitizer report,
in a report file under <state-dir>/sanitizer/ (scripts/stack's log_path) or as a line in a
log, fails too.
"""
import argparse
import os
import re
import sys

APACHE_BAD = re.compile(r"\[(?:[A-Za-z0-9_]+:)?(error|crit|alert|emerg)\]")
APACHE_CRASH = re.compile(r"exit signal|Segmentation fault|AH00060|AH00052", re.I)
TAG = re.compile(r"\b(AH\d{5}|WH\d{5})\b")
# common/log.cpp's stderr sink: "[error] WH00118: …", after an RFC 3339 time outside journald
WORKER_ERROR = re.compile(r"^(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z )?\[error\] ")
# The stack's supervisor reports every signal death ("CRASHED: killed by signal 11 (SEGV)")
# and every exit nobody asked for; the rest are what the C++ runtime and sanitizers print.
WORKER_CRASH = re.compile(
    r"^\[stack\] \S+ webhook-worker \(pid \d+\) (CRASHED|exited unexpectedly)|^terminate called|"
    r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer")

HERE = os.path.dirname(os.path.abspath(__file__))
# a stack's own allowed tags (harness.PrivateStack.expect_log_tags writes it)
STACK_ALLOW_LIST = "allowed_log_tags.txt"

SANITIZER_REPORT = re.compile(
    r"ERROR: \w*Sanitizer|\w+Sanitizer: CHECK failed|runtime error:|SUMMARY: \w+Sanitizer")


def scan_sanitizer(state_dir):
    """Sanitizer reports: lines in the report files of <state-dir>/sanitizer/ (asan-apache2.PID,
    ubsan-worker.PID, …) and in the component logs."""
    bad = []
    sdir = os.path.join(state_dir, "sanitizer")
    paths = []
    if os.path.isdir(sdir):
        paths += [os.path.join(sdir, f) for f in sorted(os.listdir(sdir))]
    paths += [os.path.join(state_dir, "httpd", "logs", f) for f in ("error_log", "startup.log")]
    paths += worker_logs(state_dir)
    for path in paths:
        if os.path.isfile(path):
            bad += scan(path, [SANITIZER_REPORT], set())
    return bad


def load_allowed(path):
    allowed = set()
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    allowed.add(line.split()[0])
    return allowed


def scan(path, patterns, allowed):
    bad = []
    if not os.path.exists(path):
        return bad
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not any(p.search(line) for p in patterns):
                continue
            tags = set(TAG.findall(line))
            if tags & allowed:
                continue
            bad.append("%s:%d: %s" % (path, n, line.rstrip()))
    return bad


def load_secrets(path):
    """(kind, value) pairs of secrets-used.txt (written by harness.record_secret)."""
    out = []
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                kind, _, value = line.rstrip("\n").partition(" ")
                if value:
                    out.append((kind, value))
    return sorted(set(out))


def worker_logs(state_dir):
    """The stack's worker.log and the logs of the workers tests started (<id>.log)."""
    wdir = os.path.join(state_dir, "worker")
    if not os.path.isdir(wdir):
        return []
    return [os.path.join(wdir, f) for f in sorted(os.listdir(wdir)) if f.endswith(".log")]


def secret_files(state_dir, db_dump):
    """Every file a credential must never reach: the logs and the database dump."""
    files = [os.path.join(state_dir, "httpd", "logs", "error_log"),
             os.path.join(state_dir, "httpd", "logs", "access_log"),
             os.path.join(state_dir, "mariadb", "error.log"),
             db_dump or os.path.join(state_dir, "db-dump.sql")]
    # the other nodes of a Galera cluster (WEBHOOK_DB_NODES)
    nodes = sorted(d for d in os.listdir(state_dir) if d.startswith("mariadb-node")) if os.path.isdir(state_dir) else []
    return files + [os.path.join(state_dir, d, "error.log") for d in nodes] + worker_logs(state_dir)


def mask(value):
    """Enough of a credential to tell which one it is, never most of it (short ones too)."""
    return "%s… (%d characters)" % (value[:min(4, len(value) // 4)], len(value))


def scan_secrets(state_dir, secrets_path, db_dump=None):
    """Lines of the logs and the dump that contain a recorded password or signing secret
    (reported masked, never in full)."""
    secrets = load_secrets(secrets_path)
    bad = []
    if not secrets:
        return bad, 0, []
    scanned = []
    for path in secret_files(state_dir, db_dump):
        if not os.path.exists(path):
            continue
        scanned.append(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                for kind, value in secrets:
                    if value in line:
                        bad.append("%s:%d: contains a %s (%s)" % (path, n, kind, mask(value)))
    return bad, len(secrets), scanned


def scan_errors(state_dir, allowed):
    """Apache's error lines and crashes, the workers' error lines and crashes (untagged or
    with a tag not in allowed); the logs that do not exist."""
    httpd_log = os.path.join(state_dir, "httpd", "logs", "error_log")
    problems = scan(httpd_log, [APACHE_BAD, APACHE_CRASH], allowed)
    wlogs = worker_logs(state_dir)
    for path in wlogs:
        problems += scan(path, [WORKER_ERROR], allowed)
        problems += scan(path, [WORKER_CRASH], set())
    missing = [p for p in [httpd_log] + (wlogs or [os.path.join(state_dir, "worker", "worker.log")])
               if not os.path.exists(p)]
    return problems, [httpd_log] + wlogs, missing


def report(title, lines):
    if lines:
        print("check_logs: %d %s:" % (len(lines), title))
        for p in lines:
            print("  " + p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--allow-list", default=os.path.join(HERE, "allowed_log_tags.txt"),
                    help="tags allowed on every stack (default: allowed_log_tags.txt beside this script); "
                         "<state-dir>/allowed_log_tags.txt adds the stack's own")
    ap.add_argument("--secrets", help="secrets-used.txt (default: <state-dir>/secrets-used.txt)")
    ap.add_argument("--db-dump", help="dump of the database (default: <state-dir>/db-dump.sql)")
    args = ap.parse_args()
    secrets_path = args.secrets or os.path.join(args.state_dir, "secrets-used.txt")
    leaks, n_secrets, scanned = scan_secrets(args.state_dir, secrets_path, args.db_dump)
    report("line(s) contain a credential the tests used", leaks)
    if not leaks:
        print("check_logs: none of the %d recorded credentials (%s) appears in %s"
              % (n_secrets, secrets_path, ", ".join(scanned) or "any file"))
    sanitizer = scan_sanitizer(args.state_dir)
    report("sanitizer report line(s)", sanitizer)
    own_list = os.path.join(args.state_dir, STACK_ALLOW_LIST)
    allowed = load_allowed(args.allow_list) | load_allowed(own_list)
    problems, logs, missing = scan_errors(args.state_dir, allowed)
    for path in missing:
        print("check_logs: note: %s does not exist" % path)
    report("bad log line(s) (allowed tags: %s, %s)" % (args.allow_list, own_list), problems)
    if problems or leaks or sanitizer:
        return 1
    print("check_logs: no errors or crashes in %s" % ", ".join(logs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
