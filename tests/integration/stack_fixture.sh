#!/usr/bin/env bash
# CTest fixture for the integration tests (mod_tile pattern):
#   stack_fixture.sh up   REPO BUILD_DIR STATE_DIR   fresh state, free ports, scripts/stack up
#   stack_fixture.sh down REPO BUILD_DIR STATE_DIR   scripts/stack down, then check the logs
# `up` uses the binaries already built in BUILD_DIR (no package installs, no rebuild) and a
# shortened re-delivery schedule. `down` fails on any Apache [error]/[crit]/[alert]/[emerg]
# or "exit signal" line whose tag is not in allowed_log_tags.txt, and on a worker crash.
set -euo pipefail

action=${1:?usage: stack_fixture.sh up|down REPO BUILD_DIR STATE_DIR}
REPO=${2:?repo}
BUILD=${3:?build dir}
STATE=${4:?state dir}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}

export WEBHOOK_STATE_DIR=$STATE
export WEBHOOK_BUILD_DIR=$BUILD
export WEBHOOK_SKIP_BUILD=1
export WEBHOOK_SKIP_INSTALL=1
# never let a developer's `eval $(scripts/stack env)` leak into the test stack
unset WEBHOOK_HTTP_PORT WEBHOOK_DB_PORT WEBHOOK_RETRY_SCHEDULE WEBHOOK_POLL_INTERVAL_MS WEBHOOK_ALLOW_PRIVATE_TARGETS \
      WEBHOOK_REQUEST_TIMEOUT_MS WEBHOOK_WORKER_LOG_LEVEL WEBHOOK_WAKEUP_PORT

tail_logs() {
  local f
  for f in "$STATE/mariadb/error.log" "$STATE/httpd/logs/error_log" \
           "$STATE/httpd/logs/startup.log" "$STATE/worker/worker.log"; do
    [[ -f $f ]] || continue
    echo "----- $f (last 40 lines) -----"
    tail -n 40 "$f" || true
  done
}

case $action in
  up)
    # a stack left over from an interrupted run goes first, then its state
    if [[ -f $STATE/env ]]; then
      "$REPO/scripts/stack" down || true
    fi
    rm -rf "$STATE"
    mapfile -t ports < <("$PYTHON" "$REPO/scripts/whstack.py" free-ports 2)
    export WEBHOOK_HTTP_PORT=${ports[0]}
    export WEBHOOK_DB_PORT=${ports[1]}
    export WEBHOOK_RETRY_SCHEDULE=1s,1s,1s,1s
    export WEBHOOK_POLL_INTERVAL_MS=100
    export WEBHOOK_REQUEST_TIMEOUT_MS=3000
    export WEBHOOK_WORKER_LOG_LEVEL=debug
    echo "stack_fixture: state $STATE, http port $WEBHOOK_HTTP_PORT, db port $WEBHOOK_DB_PORT"
    if ! "$REPO/scripts/stack" up; then
      tail_logs
      exit 1
    fi
    "$REPO/scripts/stack" status || { tail_logs; exit 1; }
    touch "$STATE/fixture-up-ok"
    ;;
  down)
    rc=0
    # everything that came up must still be up: a component that died during the tests
    # (and left no crash line) fails the run too
    if [[ -f $STATE/fixture-up-ok ]] && ! "$REPO/scripts/stack" status; then
      echo "stack_fixture: a component died during the tests"
      tail_logs
      rc=1
    fi
    # a dump of the database for check_logs.py: no credential in any unencrypted column
    if [[ -f $STATE/env ]] && ! "$REPO/scripts/stack" dump "$STATE/db-dump.sql"; then
      echo "stack_fixture: could not dump the database"
      rc=1
    fi
    if [[ -f $STATE/env ]]; then
      "$REPO/scripts/stack" down || rc=1
    else
      echo "stack_fixture: no stack in $STATE (did stack_up fail?)"
    fi
    "$PYTHON" "$HERE/check_logs.py" --state-dir "$STATE" \
      --allow-list "$HERE/allowed_log_tags.txt" || rc=1
    exit $rc
    ;;
  *)
    echo "usage: stack_fixture.sh up|down REPO BUILD_DIR STATE_DIR" >&2
    exit 2
    ;;
esac
