#!/usr/bin/env python3
"""Fails (exit 1) when the stack's logs show errors or crashes.

Apache's error log: any line at [error], [crit], [alert] or [emerg] (format
"[module:level]") and any "exit signal" line (a child crashed), unless the line carries a
tag listed in the allow-list file. The worker log: crashes (signals, aborts, uncaught
exceptions, sanitizer reports, or the stack supervisor's CRASHED/unexpected-exit lines).
Credentials: every password and signing secret the tests recorded in secrets-used.txt
(harness.record_secret) must not appear in any log or in the database dump (db-dump.sql,
written by stack_fixture.sh before the stack goes down).
Sanitizer builds (docs/reliability.md): any AddressSanitizer/UndefinedBehaviorSanitizer report,
in a report file under <state-dir>/sanitizer/ (scripts/stack's log_path) or as a line in a
log, fails in every mode, --secrets-only included.
"""
import argparse
import os
import re
import sys

APACHE_BAD = re.compile(r"\[(?:[A-Za-z0-9_]+:)?(error|crit|alert|emerg)\]")
APACHE_CRASH = re.compile(r"exit signal|Segmentation fault|AH00060|AH00052", re.I)
TAG = re.compile(r"\b(AH\d{5}|WH\d{5})\b")
# The stack's supervisor reports every signal death ("CRASHED: killed by signal 11 (SEGV)")
# and every exit nobody asked for; the rest are what the C++ runtime and sanitizers print.
WORKER_CRASH = re.compile(
    r"^\[stack\] \S+ webhook-worker \(pid \d+\) (CRASHED|exited unexpectedly)|^terminate called|"
    r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer")


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
    wdir = os.path.join(state_dir, "worker")
    if os.path.isdir(wdir):
        paths += [os.path.join(wdir, f) for f in sorted(os.listdir(wdir)) if f.endswith(".log")]
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
                if len(value) >= 8:
                    out.append((kind, value))
    return sorted(set(out))


def secret_files(state_dir, db_dump):
    """Every file a credential must never reach: the logs and the database dump."""
    files = [os.path.join(state_dir, "httpd", "logs", "error_log"),
             os.path.join(state_dir, "httpd", "logs", "access_log"),
             os.path.join(state_dir, "mariadb", "error.log"),
             db_dump or os.path.join(state_dir, "db-dump.sql")]
    wdir = os.path.join(state_dir, "worker")
    if os.path.isdir(wdir):
        files += [os.path.join(wdir, f) for f in sorted(os.listdir(wdir)) if f.endswith(".log")]
    return files


def mask(value):
    return value[:4] + "…" + value[-2:]


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--allow-list")
    ap.add_argument("--secrets", help="secrets-used.txt (default: <state-dir>/secrets-used.txt)")
    ap.add_argument("--db-dump", help="dump of the database (default: <state-dir>/db-dump.sql)")
    ap.add_argument("--secrets-only", action="store_true",
                    help="only look for credentials (a private stack whose errors are expected)")
    ap.add_argument("--sanitizer-only", action="store_true",
                    help="only look for sanitizer reports; silent when there are none")
    args = ap.parse_args()
    if args.sanitizer_only:
        reports = scan_sanitizer(args.state_dir)
        if reports:
            print("check_logs: %d sanitizer report line(s) in %s:" % (len(reports), args.state_dir))
            for p in reports:
                print("  " + p)
        return 1 if reports else 0
    secrets_path = args.secrets or os.path.join(args.state_dir, "secrets-used.txt")
    leaks, n_secrets, scanned = scan_secrets(args.state_dir, secrets_path, args.db_dump)
    if leaks:
        print("check_logs: %d line(s) contain a credential the tests used:" % len(leaks))
        for p in leaks:
            print("  " + p)
    else:
        print("check_logs: none of the %d recorded credentials (%s) appears in %s"
              % (n_secrets, secrets_path, ", ".join(scanned) or "any file"))
    sanitizer = scan_sanitizer(args.state_dir)
    if sanitizer:
        print("check_logs: %d sanitizer report line(s):" % len(sanitizer))
        for p in sanitizer:
            print("  " + p)
    if args.secrets_only:
        return 1 if leaks or sanitizer else 0
    allowed = load_allowed(args.allow_list)
    httpd_log = os.path.join(args.state_dir, "httpd", "logs", "error_log")
    worker_log = os.path.join(args.state_dir, "worker", "worker.log")
    problems = scan(httpd_log, [APACHE_BAD, APACHE_CRASH], allowed)
    problems += scan(worker_log, [WORKER_CRASH], set())
    for path in (httpd_log, worker_log):
        if not os.path.exists(path):
            print("check_logs: note: %s does not exist" % path)
    if problems:
        print("check_logs: %d bad log line(s) (allow-list: %s):" % (len(problems), args.allow_list))
        for p in problems:
            print("  " + p)
        return 1
    if leaks or sanitizer:
        return 1
    print("check_logs: no errors or crashes in %s and %s" % (httpd_log, worker_log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
