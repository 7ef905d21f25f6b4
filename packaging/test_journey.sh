#!/usr/bin/env bash
# packaging.journey: the administrator's journey of docs/operations.md "Install from the
# package", command by command, on this machine as root: the two .debs installed for real,
# the system's Apache, a throwaway MariaDB on a free loopback port, one verified delivery, an
# upgrade to a rebuilt higher version, dpkg -r (Apache keeps passing configtest and serving)
# and dpkg -P (nothing left but what the guide says is kept). Whatever happens, the trap purges
# the packages, stops what the test started, removes what the guide's commands created and
# restores what it changed, then checks that /etc/apache2 and /var/lib/apache2 are as before.
#   usage: test_journey.sh BUILD_DIR
# Skips (exit 77) when not root, or when the system has something the journey would clobber.
# Only the values of the guide's commands are adapted: the database's port and socket,
# generated passwords, htpasswd reading its password from stdin, and loopback targets allowed
# (the test's receiver is on 127.0.0.1).
set -euo pipefail
BUILD=$(cd "${1:?build dir}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
SKIP=77
MOD_PKG=libapache2-mod-webhook WORKER_PKG=webhook-worker
CONF=/etc/mod_webhook
HTPASSWD=/etc/apache2/webhook.htpasswd
APACHE_ERROR_LOG=/var/log/apache2/error.log
BASE=http://127.0.0.1/webhooks/v1
WAIT=${JOURNEY_WAIT_SECONDS:-30} # any one wait; well below the ctest TIMEOUT, so the trap runs

say() { echo "journey: $*"; }
ok() { say "ok: $*"; }
skip() {
  say "SKIP: $*"
  exit "$SKIP"
}
# fail MESSAGE [LOG…]: the message and the tail of each log, then the trap restores the system
fail() {
  local msg=$1 f
  shift
  say "FAIL: $msg" >&2
  for f in "$@"; do
    [[ -s $f ]] && { echo "--- tail of $f" >&2; tail -n 25 "$f" >&2; }
  done
  exit 1
}
# wait_for SECONDS COMMAND…: until COMMAND succeeds; 1 when the time is up
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# --- preconditions: root, and nothing of ours on the system already ----------------------------
((EUID == 0)) || skip "not root: the journey installs the packages into this system and starts its Apache"
for tool in apt dpkg dpkg-deb cpack apache2ctl a2query htpasswd mariadb mariadbd mariadb-install-db \
  mariadb-admin runuser curl python3 ss useradd; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/test installs what the suite needs)"
done
for p in $MOD_PKG $WORKER_PKG; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ -z $st || $st == not-installed ]] || skip "package $p is on this system ($st): the journey would purge it"
done
for f in "$CONF" "$HTPASSWD" /etc/apache2/mods-available/webhook.load /etc/apache2/mods-enabled/webhook.load; do
  [[ ! -e $f ]] || skip "$f exists: the journey would remove it"
done
! getent passwd webhook >/dev/null || skip "user webhook exists: the journey would delete it"
! getent group webhook >/dev/null || skip "group webhook exists: the journey would delete it"
APACHE_PID_FILE=/var/run/apache2/apache2.pid
if [[ -s $APACHE_PID_FILE ]] && kill -0 "$(cat "$APACHE_PID_FILE")" 2>/dev/null; then
  skip "the system's Apache is running (pid $(cat "$APACHE_PID_FILE")): the journey starts and stops it"
fi
[[ -z $(ss -Hltn 'sport = :80') ]] || skip "port 80 is busy: the journey starts the system's Apache on it"
[[ ! -d /run/systemd/system ]] || [[ -z $(systemctl show -P ActiveState webhook-worker 2>/dev/null | grep -v inactive) ]] ||
  skip "a webhook-worker unit is active"
apache2ctl configtest >/dev/null 2>&1 || skip "the system's Apache configuration does not pass configtest before the journey"

T0=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/webhook-journey.XXXXXX")
LOG=$TMP/journey.log
: >"$LOG"
WORKER_LOG=$TMP/worker.log
DB=$TMP/db
SOCK=$DB/mysqld.sock
# Under systemd the packages' maintainer scripts start, restart and stop the worker through it.
# Without (a container), packaging/systemd-stand-in plays systemd's part for the worker's unit
# and Apache's, where a private mount namespace can give dpkg a /run/systemd/system; failing
# that, the journey runs the worker as its unit would and says what it could not check.
SYSTEMD=false REAL_SYSTEMD=false STANDIN=false MADE_RUN_SYSTEMD=false
if [[ -d /run/systemd/system ]]; then
  SYSTEMD=true REAL_SYSTEMD=true
elif [[ -x /usr/bin/systemctl && -x /usr/bin/deb-systemd-invoke ]] && command -v setpriv >/dev/null &&
  unshare -m --propagation private true 2>/dev/null; then
  SYSTEMD=true STANDIN=true
  export STANDIN_DIR=$TMP/standin
  mkdir "$STANDIN_DIR" "$TMP/standin-bin"
  for cmd in systemctl deb-systemd-invoke; do ln -s "$SRC/packaging/systemd-stand-in" "$TMP/standin-bin/$cmd"; done
  export PATH=$TMP/standin-bin:$PATH # the journey's own systemctl calls
  : >"$STANDIN_DIR/calls"
  WORKER_LOG=$STANDIN_DIR/worker.log
  # the mount point of the namespace's /run/systemd (removed again by the restore)
  [[ -d /run/systemd ]] || { mkdir /run/systemd && MADE_RUN_SYSTEMD=true; }
fi
# What the restore is checked against (the packages and the guide's commands write there)
snapshot() {
  find /etc/apache2 /var/lib/apache2 -xdev \( -type f -printf '%p %m %u:%g ' -exec md5sum {} \; \) -o \
    \( -type l -printf '%p -> %l\n' \) -o \( -type d -printf '%p/ %m %u:%g\n' \) 2>/dev/null | sort
}
snapshot >"$TMP/before.snapshot"
cp -a /etc/apache2/ports.conf "$TMP/ports.conf.orig"
mkdir "$TMP/apache-logs"
cp -a /var/log/apache2/. "$TMP/apache-logs/"

APACHE_STARTED=false WORKER_PID="" RECEIVER_PID="" DB_PID="" RESULT=1
stop_pid() { # stop_pid PID SECONDS: TERM, then KILL when it does not exit in time
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  wait_for "$2" eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
worker_main_pid() { # the worker's pid, whoever started it
  if $SYSTEMD; then
    systemctl show -P MainPID webhook-worker.service | grep -v '^0$' || true
  elif [[ -n $WORKER_PID ]]; then
    # runuser waits for the command it runs (for the PAM session): the worker is its child
    pgrep -P "$WORKER_PID" -x webhook-worker || true
  fi
}
start_worker() {
  if $SYSTEMD; then
    sh_doc "systemctl enable --now webhook-worker"
  else
    # No systemd here (PID 1 is $(cat /proc/1/comm)): run the unit's ExecStart as the unit's
    # user, with its umask, as systemd would.
    local exec_start
    exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/webhook-worker.service)
    say "\$ runuser -u webhook -- $exec_start   (the unit's User= and ExecStart=; no systemd)"
    (umask 0077 && exec runuser -u webhook -- $exec_start) </dev/null >>"$WORKER_LOG" 2>&1 &
    WORKER_PID=$!
  fi
  local n_started
  n_started=$(($(grep -c ' started: ' "$WORKER_LOG" 2>/dev/null || true) + 1))
  wait_for "$WAIT" eval '(( $(grep -c " started: " "$WORKER_LOG" 2>/dev/null || true) >= n_started )) || $REAL_SYSTEMD' ||
    fail "the worker did not start within $WAIT s" "$WORKER_LOG"
  wait_for "$WAIT" eval '[[ -n $(worker_main_pid) ]]' || fail "no worker process" "$WORKER_LOG"
}
stop_worker() {
  if $SYSTEMD; then
    systemctl stop webhook-worker.service >/dev/null 2>&1 || true
  elif [[ -n $WORKER_PID ]]; then
    # the worker itself, as systemd would signal it (runuser would kill it 2 s after a TERM
    # of its own, cutting the drain short), then runuser, which exits with it
    stop_pid "$(worker_main_pid)" 30
    stop_pid "$WORKER_PID" 5
    WORKER_PID=""
  fi
}
restore() {
  set +e
  trap - ERR
  stop_worker
  if $SYSTEMD; then systemctl disable --now webhook-worker.service >/dev/null 2>&1; fi
  if $APACHE_STARTED && [[ -s $APACHE_PID_FILE ]]; then
    apache2ctl stop >>"$LOG" 2>&1
    wait_for 30 eval "[[ -z \$(ss -Hltn 'sport = :80') ]]" || say "restore: Apache still listens on port 80"
  fi
  for p in $MOD_PKG $WORKER_PKG; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
    [[ -z $st || $st == not-installed ]] || dpkg -P "$p" >>"$LOG" 2>&1 || say "restore: dpkg -P $p failed"
  done
  stop_pid "$RECEIVER_PID" 5
  [[ -s $DB/mysqld.pid ]] && stop_pid "$(cat "$DB/mysqld.pid")" 60
  stop_pid "$DB_PID" 5
  # what the guide's commands created (none of it existed: see the preconditions)
  rm -rf "$CONF" "$HTPASSWD"
  getent passwd webhook >/dev/null && userdel webhook
  getent group webhook >/dev/null && groupdel webhook
  cp -a "$TMP/ports.conf.orig" /etc/apache2/ports.conf
  find /var/log/apache2 -mindepth 1 -delete && cp -a "$TMP/apache-logs/." /var/log/apache2/
  # the state dirs apache2-maintscript-helper made (a2dismod's disabled_by_*), when empty and new
  find /var/lib/apache2 -mindepth 1 -depth -type d -empty | while read -r d; do
    grep -qxF "$d/ $(stat -c '%a %U:%G' "$d")" "$TMP/before.snapshot" || rmdir "$d"
  done
  if ! snapshot | diff "$TMP/before.snapshot" - >"$TMP/restore.diff"; then
    say "FAIL: the system is not as before the journey (/etc/apache2, /var/lib/apache2):" >&2
    cat "$TMP/restore.diff" >&2
    RESULT=1
  fi
  if $MADE_RUN_SYSTEMD; then rmdir /run/systemd; fi
  [[ -z ${JOURNEY_KEEP:-} ]] && rm -rf "$TMP" || say "logs kept in $TMP"
}
trap 'rc=$?; RESULT=$rc; restore; say "$( ((RESULT == 0)) && echo PASS || echo "ended with status $RESULT") in $((SECONDS - T0)) s"; exit $RESULT' EXIT
trap 'exit 130' INT TERM HUP

# sh_doc COMMAND: one command of the guide (values adapted), printed, run by bash, its output logged
sh_doc() {
  say "\$ $1"
  echo "\$ $1" >>"$LOG"
  "${DOC_SHELL[@]}" "$1" >>"$LOG" 2>&1 || fail "command failed: $1" "$LOG" "$APACHE_ERROR_LOG" "$WORKER_LOG"
}
DOC_SHELL=(bash -ec)
# pkg_doc COMMAND: a package command of the guide; with the stand-in, in a mount namespace of
# its own where /run/systemd/system exists and the stand-in is /usr/bin/systemctl and
# /usr/bin/deb-systemd-invoke (dpkg runs maintainer scripts with a PATH of its own), so the
# maintainer scripts take their systemd branch and reach the stand-in
pkg_doc() {
  local DOC_SHELL=(bash -ec)
  $STANDIN && DOC_SHELL=(unshare -m --propagation private -- bash -ec
    'mount -t tmpfs -o mode=0755 systemd-stand-in /run/systemd && mkdir /run/systemd/system
     for c in systemctl deb-systemd-invoke; do mount --bind "$STANDIN_DIR/../standin-bin/$c" "/usr/bin/$c"; done
     bash -ec "$0"')
  sh_doc "$1"
}
# standin_calls PATTERN: how many calls of the maintainer scripts matched (grep -E)
standin_calls() { grep -cE "$1" "$STANDIN_DIR/calls" || true; }
# the mariadb client pointed at the throwaway server (the guide's `mariadb` uses the default one)
MARIADB="mariadb --no-defaults --socket=$SOCK"
sql() { $MARIADB --batch --skip-column-names -e "$1"; }
http_code() { # http_code OUT CURL-ARGS…: the status; the body in OUT
  local out=$1
  shift
  curl -s -o "$out" -w '%{http_code}' --max-time 10 "$@" || true
}
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get(sys.argv[2], ""))' "$1" "$2"; }
apache_answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1/ || true) == 200 ]]; }

# --- 1. the packages ------------------------------------------------------------------------
ARCH=$(dpkg --print-architecture)
build_debs() { # build_debs DIR [cpack args…]
  local out=$1
  shift
  (cd "$BUILD" && cpack -G DEB -B "$out" --config "$BUILD/CPackConfig.cmake" "$@") >"$out.cpack.log" 2>&1 ||
    fail "cpack failed" "$out.cpack.log"
  [[ -f $(echo "$out"/${MOD_PKG}_*_"$ARCH".deb) && -f $(echo "$out"/${WORKER_PKG}_*_"$ARCH".deb) ]] ||
    fail "cpack did not make the two .debs in $out" "$out.cpack.log"
}
build_debs "$TMP/v1"
VERSION=$(dpkg-deb -f "$(echo "$TMP"/v1/${MOD_PKG}_*.deb)" Version)
ok "built $MOD_PKG and $WORKER_PKG $VERSION ($((SECONDS - T0)) s)"
# apt reads local .debs as user _apt, which cannot enter the 0700 temporary dir
chmod 0755 "$TMP"
export DEBIAN_FRONTEND=noninteractive
pkg_doc "cd $TMP/v1 && apt install -y ./${MOD_PKG}_*_$ARCH.deb ./${WORKER_PKG}_*_$ARCH.deb"
a2query -m webhook >>"$LOG" 2>&1 || fail "a2query -m webhook: not enabled after the first install" "$LOG"
[[ $(stat -c '%U:%G %a' "$CONF") == "root:webhook 750" ]] || fail "$CONF is $(stat -c '%U:%G %a' "$CONF")"
[[ $(stat -c '%U:%G %a' "$CONF/worker.conf") == "root:webhook 640" ]] || fail "worker.conf is $(stat -c '%U:%G %a' "$CONF/worker.conf")"
dpkg -L $MOD_PKG $WORKER_PKG | sort -u >"$TMP/package-files"
# the guide starts the worker once it is configured: the first install must not
[[ -z $(worker_main_pid) ]] || fail "the first install started the worker before it was configured"
if $STANDIN; then
  (($(standin_calls '^(deb-systemd-invoke|systemctl) [a-z-]+ webhook-worker') == 0)) || fail "the first install acted on the worker's unit" "$STANDIN_DIR/calls"
  (($(standin_calls '^systemctl .*daemon-reload') > 0)) || fail "the postinst did not reload systemd's units" "$STANDIN_DIR/calls"
fi
ok "installed; a2query -m webhook: $(a2query -m webhook 2>&1)"

# --- 2. a throwaway MariaDB on a free loopback port, then the database and its two accounts -----
DB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$DB/data"
mariadb-install-db --no-defaults --datadir="$DB/data" --user=root --skip-test-db >"$DB/install.log" 2>&1 ||
  fail "mariadb-install-db" "$DB/install.log"
mariadbd --no-defaults --datadir="$DB/data" --user=root --socket="$SOCK" --port="$DB_PORT" \
  --bind-address=127.0.0.1 --pid-file="$DB/mysqld.pid" --log-error="$DB/error.log" \
  --innodb-buffer-pool-size=64M </dev/null >>"$DB/error.log" 2>&1 &
DB_PID=$!
wait_for 60 mariadb-admin --no-defaults --socket="$SOCK" --connect-timeout=2 ping >/dev/null 2>&1 ||
  fail "mariadbd did not answer within 60 s" "$DB/error.log"
ok "MariaDB on 127.0.0.1:$DB_PORT"
MIGRATE_PW=m-$(od -An -tx1 -N12 /dev/urandom | tr -dc 0-9a-f)
RUNTIME_PW=r-$(od -An -tx1 -N12 /dev/urandom | tr -dc 0-9a-f)
sh_doc "$MARIADB -e \"CREATE DATABASE webhook CHARACTER SET utf8mb4 COLLATE utf8mb4_bin\""
sh_doc "$MARIADB -e \"CREATE USER 'webhook_migrate'@'localhost' IDENTIFIED BY '$MIGRATE_PW';
            GRANT ALL PRIVILEGES ON webhook.* TO 'webhook_migrate'@'localhost'\""
sh_doc "$MARIADB -e \"CREATE USER 'webhook'@'localhost' IDENTIFIED BY '$RUNTIME_PW';
            GRANT SELECT, INSERT, UPDATE, DELETE ON webhook.* TO 'webhook'@'localhost'\""
ok "database webhook, accounts webhook_migrate and webhook"

# --- 3. the key file --------------------------------------------------------------------------
sh_doc "install -d -m 0750 -g webhook $CONF"
sh_doc "(umask 027; od -An -tx1 -N32 /dev/urandom | tr -dc 0-9a-f > $CONF/secret.key)"
sh_doc "chgrp webhook $CONF/secret.key"
[[ $(tr -dc 0-9a-f <"$CONF/secret.key" | wc -c) == 64 ]] || fail "the key file does not hold 64 hex digits"
[[ $(stat -c '%U:%G %a' "$CONF/secret.key") == "root:webhook 640" ]] || fail "secret.key is $(stat -c '%U:%G %a' "$CONF/secret.key")"
ok "key file root:webhook 0640"

# --- 4. the worker ----------------------------------------------------------------------------
sh_doc "sed -i 's/password=CHANGE-ME /password=$RUNTIME_PW /' $CONF/worker.conf"
grep -q "password=$RUNTIME_PW " "$CONF/worker.conf" || fail "the guide's sed did not set the password in worker.conf"
# the throwaway server's port; the test's receiver is on loopback, which the worker refuses by default
sed -i "s/ port=3306 / port=$DB_PORT /" "$CONF/worker.conf"
echo "allow_private_targets = 127.0.0.0/8" >>"$CONF/worker.conf"
sh_doc "webhook-worker migrate --config $CONF/worker.conf \\
    --database \"host=127.0.0.1 port=$DB_PORT user=webhook_migrate password=$MIGRATE_PW database=webhook\""
[[ $(sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='webhook'") -gt 0 ]] ||
  fail "migrate made no tables" "$LOG"
start_worker
WORKER1=$(worker_main_pid)
grep -q '^wakeup_listen = 127.0.0.1:8499$' "$CONF/worker.conf" ||
  fail "worker.conf does not set wakeup_listen = 127.0.0.1:8499, as the guide says it does"
ok "worker running as $(ps -o user= -p "$WORKER1") (pid $WORKER1): $(grep ' started: ' "$WORKER_LOG" | tail -n 1 | grep -o 'wakeup=[^ ]*' || echo "started under systemd")"

# --- 5. the module ----------------------------------------------------------------------------
sh_doc "install -m 0640 -o root -g root /dev/null $CONF/module.conf"
sh_doc "printf '%s\n' \\
  'WebhookDatabase \"host=127.0.0.1 port=$DB_PORT user=webhook password=$RUNTIME_PW database=webhook connect_timeout=2\"' \\
  'WebhookSecretKeyFile $CONF/secret.key' > $CONF/module.conf"
echo "WebhookAllowPrivateTargets 127.0.0.0/8" >>"$CONF/module.conf" # the test's receiver is on loopback
# the guide's choice: uncomment the two <Location>s of the installed mods-available/webhook.conf
sed -i '/^  # <Location \/webhooks\/v1/,/^  # <\/Location>/ s/^  # /  /' /etc/apache2/mods-available/webhook.conf
for loc in '/webhooks/v1' '/webhooks/v1/events'; do
  grep -q "^  <Location $loc>" /etc/apache2/mods-available/webhook.conf || fail "<Location $loc> not uncommented"
done
# the system's Apache listens on loopback only while the test runs (ports.conf is restored)
sed -i -E 's/^(\s*)Listen ([0-9]+)\s*$/\1Listen 127.0.0.1:\2/' /etc/apache2/ports.conf
# not running before (see the preconditions): start it where the guide reloads it
sh_doc "apache2ctl configtest && apache2ctl start"
APACHE_STARTED=true
wait_for "$WAIT" apache_answers || fail "Apache does not answer on 127.0.0.1:80" "$APACHE_ERROR_LOG"
ok "Apache serves with the module"

# --- 6. a login and its scope -------------------------------------------------------------------
API_PW=a-$(od -An -tx1 -N12 /dev/urandom | tr -dc 0-9a-f)
sh_doc "htpasswd -B -c -i $HTPASSWD acme <<<'$API_PW'"
sh_doc "chown root:www-data $HTPASSWD && chmod 0640 $HTPASSWD"
sh_doc "webhook-worker principal add acme --reseller acme --config $CONF/worker.conf"
ok "login acme, principal reseller acme"

# --- 7. one verified delivery --------------------------------------------------------------------
RCV=$TMP/receiver
mkdir "$RCV"
echo 'hookuser:hookpass' >"$RCV/creds"
python3 "$SRC/scripts/demo_receiver.py" --port 0 --port-file "$RCV/port" --secret-file "$RCV/secret" \
  --credentials-file "$RCV/creds" --log "$RCV/log" >"$RCV/out" 2>&1 &
RECEIVER_PID=$!
wait_for 10 test -s "$RCV/port" || fail "the receiver did not start" "$RCV/out"
code=$(http_code "$TMP/endpoint.json" -u "acme:$API_PW" -H 'Content-Type: application/json' "$BASE/endpoints" -d '{
  "url": "http://127.0.0.1:'"$(cat "$RCV/port")"'/hooks", "resellerId": "acme",
  "eventTypes": ["processing.chargeback-processed"], "username": "hookuser", "password": "hookpass"}')
[[ $code == 201 ]] || fail "POST $BASE/endpoints as acme: $code $(cat "$TMP/endpoint.json")" "$APACHE_ERROR_LOG"
json "$TMP/endpoint.json" secret >"$RCV/secret"
ok "endpoint $(json "$TMP/endpoint.json" id) registered as acme"
deliver() { # deliver N: one event, verified by the receiver, delivered in the API's view
  local n=$1 code ntf
  code=$(http_code "$TMP/event$n.json" -H 'Content-Type: application/json' "$BASE/events" -d '{
    "eventCode": "processing.chargeback-processed", "resellerId": "acme", "portfolioId": "P-1",
    "data": {"transactionId": "T-'"$n"'", "amount": "12.30"}}')
  [[ $code == 202 ]] || fail "POST $BASE/events: $code $(cat "$TMP/event$n.json")" "$APACHE_ERROR_LOG"
  wait_for "$WAIT" eval "(( \$(grep -c '\"verified\": true' '$RCV/log' 2>/dev/null || true) >= $n ))" ||
    fail "the receiver got no verified notification within $WAIT s" "$RCV/log" "$WORKER_LOG"
  ntf=$(grep '"verified": true' "$RCV/log" | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["notificationId"])')
  wait_for "$WAIT" eval "http_code '$TMP/delivery.json' -u 'acme:$API_PW' '$BASE/deliveries/$ntf' >/dev/null &&
    [[ \$(json '$TMP/delivery.json' status) == delivered ]]" ||
    fail "delivery $ntf is not delivered: $(cat "$TMP/delivery.json")" "$WORKER_LOG"
  ok "event $(json "$TMP/event$n.json" eventId) delivered and verified ($ntf)"
}
deliver 1

# --- 8. upgrade to a rebuilt package with a higher version ------------------------------------
NEW_VERSION=$VERSION+journey1
build_debs "$TMP/v2" -D CPACK_PACKAGE_VERSION="$NEW_VERSION"
pkg_doc "cd $TMP/v2 && apt install -y ./${MOD_PKG}_*_$ARCH.deb ./${WORKER_PKG}_*_$ARCH.deb"
for p in $MOD_PKG $WORKER_PKG; do
  v=$(dpkg-query -W -f='${Version}' "$p")
  [[ $v == "$NEW_VERSION" ]] || fail "$p is at $v after the upgrade, not $NEW_VERSION"
done
# every file of the new packages is in place (the conffiles keep the edits made above)
mkdir "$TMP/v2/root"
for deb in "$TMP"/v2/*.deb; do dpkg -x "$deb" "$TMP/v2/root"; done
while read -r f; do
  cmp -s "$TMP/v2/root/$f" "/$f" || fail "/${f#./} is not the upgraded package's"
done < <(cd "$TMP/v2/root" && find . -type f ! -path './etc/*')
grep -q "password=$RUNTIME_PW " "$CONF/worker.conf" || fail "the upgrade lost the worker.conf edits"
grep -q '^  <Location /webhooks/v1>' /etc/apache2/mods-available/webhook.conf || fail "the upgrade lost the webhook.conf edits"
a2query -m webhook >>"$LOG" 2>&1 || fail "the upgrade disabled the module" "$LOG"
ok "upgraded to $NEW_VERSION: new files in place, conffile edits kept, module still enabled"
if $SYSTEMD; then
  wait_for "$WAIT" eval '[[ -n $(worker_main_pid) && $(worker_main_pid) != "$WORKER1" ]]' ||
    fail "the worker was not restarted by the upgrade (still pid $WORKER1)" "$WORKER_LOG"
  if $STANDIN; then
    (($(standin_calls '^deb-systemd-invoke try-restart webhook-worker.service$') == 1)) ||
      fail "the upgrade's postinst did not try-restart the worker once" "$STANDIN_DIR/calls"
    grep -q 'webhook-worker stopped: ' "$WORKER_LOG" || fail "the worker did not log its drain and exit on the upgrade's restart" "$WORKER_LOG"
  fi
  ok "the upgrade restarted the worker (pid $WORKER1 -> $(worker_main_pid))$($STANDIN && echo " through the systemd stand-in")"
else
  say "skip: the worker's restart on upgrade is not checked: the postinst restarts it with" \
    "deb-systemd-invoke try-restart, which needs systemd (PID 1 here is $(cat /proc/1/comm)); restarting it as its unit would"
  stop_worker
  start_worker
fi
exe=$(readlink "/proc/$(worker_main_pid)/exe")
[[ $exe == /usr/sbin/webhook-worker ]] || fail "the worker runs $exe, not the upgraded /usr/sbin/webhook-worker"
# then, as the guide says: the new migrations, and Apache reloaded
sh_doc "webhook-worker migrate --config $CONF/worker.conf \\
    --database \"host=127.0.0.1 port=$DB_PORT user=webhook_migrate password=$MIGRATE_PW database=webhook\""
sh_doc "apache2ctl configtest && apache2ctl graceful"
deliver 2

# --- 9. dpkg -r: Apache still passes configtest, restarts and serves -----------------------------
if ! $SYSTEMD; then stop_worker; fi # the prerm stops it through systemd
pkg_doc "dpkg -r $MOD_PKG $WORKER_PKG"
[[ -z $(worker_main_pid) ]] || fail "the worker still runs after dpkg -r"
if $STANDIN; then
  (($(standin_calls '^deb-systemd-invoke stop webhook-worker.service$') == 1)) ||
    fail "dpkg -r's prerm did not stop the worker through systemd" "$STANDIN_DIR/calls"
fi
sh_doc "apache2ctl configtest"
sh_doc "apache2ctl restart"
wait_for "$WAIT" apache_answers || fail "Apache does not answer on port 80 after dpkg -r and a restart" "$APACHE_ERROR_LOG"
code=$(http_code /dev/null "$BASE/events" -d '{}')
[[ $code == 404 || $code == 405 ]] || fail "$BASE/events answers $code after dpkg -r: the module is still loaded"
if q=$(a2query -m webhook 2>&1); then fail "a2query -m webhook after dpkg -r: $q"; fi
ls /etc/apache2/mods-enabled/webhook.* >/dev/null 2>&1 && fail "mods-enabled/webhook.* left after dpkg -r"
ok "dpkg -r: configtest passes, Apache restarted and serves its default page; a2query: $q"

# --- 10. dpkg -P: nothing left but what the guide says is kept ---------------------------------
pkg_doc "dpkg -P $MOD_PKG $WORKER_PKG"
left=()
while read -r f; do
  [[ -e $f && ! -d $f ]] && left+=("$f")
done <"$TMP/package-files"
for d in /usr/share/doc/$MOD_PKG /usr/share/doc/$WORKER_PKG /usr/share/mod_webhook; do [[ -e $d ]] && left+=("$d"); done
while read -r f; do left+=("$f"); done < <(find /etc/apache2 /var/lib/apache2 /var/lib/dpkg/info -name '*webhook*' ! -path "$HTPASSWD")
kept=$(cd "$CONF" && ls -A | sort | tr '\n' ' ')
[[ $kept == "module.conf secret.key " ]] || left+=("$CONF: $kept")
((${#left[@]} == 0)) || fail "left after dpkg -P: ${left[*]}"
[[ -f $HTPASSWD ]] || fail "dpkg -P removed $HTPASSWD, which the guide says is kept"
getent passwd webhook >/dev/null && getent group webhook >/dev/null || fail "dpkg -P removed the webhook user or group, which the guide says are kept"
[[ $(sql "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='webhook'") -gt 0 ]] ||
  fail "the database is gone after dpkg -P"
for p in $MOD_PKG $WORKER_PKG; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ -z $st || $st == not-installed ]] || fail "$p is still known to dpkg: $st"
done
if q=$(a2query -m webhook 2>&1); then fail "a2query -m webhook after dpkg -P: $q"; fi
ok "dpkg -P: left only $CONF/{module.conf,secret.key}, $HTPASSWD, the webhook user and group, the database"
if $STANDIN; then
  ! grep -q '^unhandled' "$STANDIN_DIR/calls" ||
    fail "a maintainer script made a systemd call the stand-in does not know: $(grep '^unhandled' "$STANDIN_DIR/calls" | head -n 3)"
  ok "calls to the systemd stand-in (the journey's and the maintainer scripts'): $(grep -v '^systemctl .*show\|is-' "$STANDIN_DIR/calls" | sort | uniq -c | sed 's/^ *//' | paste -sd';' | sed 's/;/; /g')"
fi
