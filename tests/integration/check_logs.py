#!/usr/bin/env python3
"""Fails (exit 1) when the stack's logs show errors or crashes.

Apache's error log: any line at [error], [crit], [alert] or [emerg] (format
"[module:level]") and any "exit signal" line (a child crashed), unless the line carries a
tag listed in the allow-list file. The worker log: crashes (signals, aborts, uncaught
exceptions, sanitizer reports, or the stack supervisor's CRASHED/unexpected-exit lines).
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--allow-list")
    args = ap.parse_args()
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
    print("check_logs: no errors or crashes in %s and %s" % (httpd_log, worker_log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
