#!/usr/bin/env bash
# packaging.deb: builds the two .debs with CPack from the build dir, unpacks them into a temporary
# root with dpkg -x (never into the real system), checks the layout and the control data,
# and runs `apache2 -t` on a generated config that loads the extracted module and its
# mods-available files.   usage: test_deb.sh BUILD_DIR HTTPD_MODULE_DIR
set -euo pipefail
BUILD=${1:?build dir}
MODDIR=${2:?apache module dir}
APACHE=${WEBHOOK_APACHE_BIN:-/usr/sbin/apache2}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/webhook-deb.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() { echo "packaging.deb: FAIL: $*" >&2; exit 1; }
ok() { echo "packaging.deb: ok: $*"; }
# A check never skips because its tool is missing: scripts/test installs the package
# (WEBHOOK_PACKAGES in scripts/lib.sh).
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 not found: install the Debian package $2 (scripts/test does)"; }

# 1. the packages: the module and the worker apart (a worker host needs no Apache)
(cd "$BUILD" && cpack -G DEB -B "$TMP/out" --config "$BUILD/CPackConfig.cmake") >"$TMP/cpack.log" 2>&1 ||
  { cat "$TMP/cpack.log" >&2; fail "cpack failed"; }
shopt -s nullglob
mods=("$TMP"/out/libapache2-mod-webhook_*.deb) workers=("$TMP"/out/webhook-worker_*.deb) all=("$TMP"/out/*.deb)
((${#mods[@]} == 1 && ${#workers[@]} == 1 && ${#all[@]} == 2)) || fail "expected the two .debs in $TMP/out: ${all[*]}"
MOD_DEB=${mods[0]} WORKER_DEB=${workers[0]}
ok "built $(basename "$MOD_DEB") and $(basename "$WORKER_DEB")"

# 2. control data
depends_has() { # depends_has DEB DEP…: each DEP is in the package's Depends
  local deb=$1 depends
  shift
  depends=$(dpkg-deb -f "$deb" Depends)
  for dep in "$@"; do [[ $depends == *"$dep"* ]] || fail "$(basename "$deb"): Depends lacks $dep: $depends"; done
  echo "$depends"
}
ok "module Depends: $(depends_has "$MOD_DEB" apache2-api-20120211 adduser libjansson4 libmariadb3 libc6 libstdc++6)"
ok "worker Depends: $(depends_has "$WORKER_DEB" adduser libcurl4 libjansson4 libmariadb3 libc6 libstdc++6)"
[[ $(dpkg-deb -f "$WORKER_DEB" Depends) != *apache2* ]] || fail "webhook-worker depends on Apache"
for deb in "$MOD_DEB" "$WORKER_DEB"; do
  name=$(dpkg-deb -f "$deb" Package)
  dpkg-deb -e "$deb" "$TMP/control-$name"
  for f in postinst prerm postrm conffiles; do [[ -f $TMP/control-$name/$f ]] || fail "$name: control file $f missing"; done
done
for f in /etc/apache2/mods-available/webhook.load /etc/apache2/mods-available/webhook.conf; do
  grep -qx "$f" "$TMP/control-libapache2-mod-webhook/conffiles" || fail "$f is not a conffile"
done
grep -qx /etc/mod_webhook/worker.conf "$TMP/control-webhook-worker/conffiles" || fail "worker.conf is not a conffile"
ok "maintainer scripts and conffiles"

# 3. layout
ROOT=$TMP/root
dpkg -x "$MOD_DEB" "$ROOT"
dpkg -x "$WORKER_DEB" "$ROOT"
expect=(
  "$MODDIR/mod_webhook.so"
  /etc/apache2/mods-available/webhook.load
  /etc/apache2/mods-available/webhook.conf
  /usr/share/doc/libapache2-mod-webhook/copyright
  /usr/share/doc/libapache2-mod-webhook/webhook.conf.sample
  /usr/sbin/webhook-worker
  /usr/share/man/man8/webhook-worker.8.gz
  /lib/systemd/system/webhook-worker.service
  /etc/mod_webhook/worker.conf
  /usr/share/mod_webhook/sql/001_schema.sql
  /usr/share/mod_webhook/sql/002_event_types.sql
  /usr/share/mod_webhook/portal/index.html
  /usr/share/mod_webhook/portal/js/app.js
  /usr/share/doc/webhook-worker/copyright
)
for f in "${expect[@]}"; do [[ -f $ROOT$f ]] || fail "missing $f"; done
n_src=$(ls "$(dirname "$0")"/../sql/[0-9]*.sql | wc -l)
n_pkg=$(ls "$ROOT"/usr/share/mod_webhook/sql/*.sql | wc -l)
((n_src == n_pkg)) || fail "$n_pkg migrations packaged, $n_src in sql/"
n_src=$(find "$(dirname "$0")"/../portal -type f | wc -l)
n_pkg=$(find "$ROOT"/usr/share/mod_webhook/portal -type f -perm 0644 | wc -l)
((n_src == n_pkg)) || fail "$n_pkg portal files packaged (0644), $n_src in portal/"
[[ -x $ROOT/usr/sbin/webhook-worker ]] || fail "webhook-worker not executable"
[[ $(stat -c %a "$ROOT/etc/mod_webhook/worker.conf") == 640 ]] || fail "worker.conf is not 0640"
unexpected=$(cd "$ROOT" && find . -type f | grep -Ev '^\./(usr/lib/apache2/modules|etc/apache2/mods-available|usr/sbin|lib/systemd/system|etc/mod_webhook|usr/share/mod_webhook/(sql|portal)|usr/share/doc/(libapache2-mod-webhook|webhook-worker)|usr/share/man/man8)/' || true)
[[ -z $unexpected ]] || fail "unexpected files: $unexpected"
# (listings and outputs are read whole before grep: with pipefail, grep -q closing the pipe
# early would fail the pipeline by SIGPIPE)
worker_files=$(dpkg-deb -c "$WORKER_DEB")
if grep -q apache2 <<<"$worker_files"; then fail "webhook-worker ships Apache files"; fi
grep -q "LoadModule webhook_module $MODDIR/mod_webhook.so" "$ROOT/etc/apache2/mods-available/webhook.load" ||
  fail "webhook.load does not load $MODDIR/mod_webhook.so"
grep -q "^sql_dir = /usr/share/mod_webhook/sql" "$ROOT/etc/mod_webhook/worker.conf" || fail "worker.conf sql_dir"
grep -q "^ExecStart=/usr/sbin/webhook-worker --config /etc/mod_webhook/worker.conf" \
  "$ROOT/lib/systemd/system/webhook-worker.service" || fail "unit ExecStart"
for k in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes User=webhook CapabilityBoundingSet=; do
  grep -qx "$k" "$ROOT/lib/systemd/system/webhook-worker.service" || fail "unit lacks $k"
done
ok "layout"

# a2enmod finds the module in the unpacked root (its config dir redirected there)
need a2enmod apache2
mkdir -p "$ROOT/etc/apache2/mods-enabled" "$TMP/a2state"
APACHE_CONFDIR=$ROOT/etc/apache2 APACHE_STATE_DIRECTORY=$TMP/a2state a2enmod -q webhook >"$TMP/a2enmod.log" 2>&1 ||
  { cat "$TMP/a2enmod.log" >&2; fail "a2enmod webhook"; }
for f in webhook.load webhook.conf; do
  [[ -L $ROOT/etc/apache2/mods-enabled/$f ]] || fail "a2enmod did not link mods-enabled/$f"
done
ok "a2enmod webhook"

# the maintainer scripts go through Debian's apache2-maintscript-helper (a2query, which it
# uses, reads the real /etc/apache2 only: what they do is tested by installing the packages)
mscripts=$TMP/control-libapache2-mod-webhook
grep -q '^ *apache2_invoke enmod webhook' "$mscripts/postinst" || fail "module postinst does not enable through the helper"
grep -q '^ *apache2_invoke dismod webhook' "$mscripts/prerm" || fail "module prerm does not disable on remove"
grep -q '^ *apache2_invoke dismod webhook' "$mscripts/postrm" || fail "module postrm does not purge the module's state"
grep -q 'deb-systemd-invoke try-restart webhook-worker.service' "$TMP/control-webhook-worker/postinst" ||
  fail "worker postinst does not restart the worker on upgrade"
for f in "$mscripts"/{postinst,prerm,postrm} "$TMP"/control-webhook-worker/{postinst,prerm,postrm}; do
  sh -n "$f" || fail "$f: syntax"
done
ok "maintainer scripts use apache2-maintscript-helper and deb-systemd-invoke"

# lintian: no error, and every warning left is explained in packaging/README.md
need lintian lintian
lint=$(lintian "$MOD_DEB" "$WORKER_DEB" 2>&1 | grep -E '^[EW]: ' || true)
errors=$(grep '^E: ' <<<"$lint" || true)
[[ -z $errors ]] || fail "lintian errors:
$errors"
while IFS= read -r w; do
  [[ -z $w ]] && continue
  tag=$(sed -E 's/^W: [^:]+: ([a-z0-9-]+).*/\1/' <<<"$w")
  grep -q "\`$tag" "$(dirname "$0")/README.md" || fail "lintian warning not explained in packaging/README.md: $w"
done <<<"$lint"
ok "lintian: no errors; warnings explained: $(grep -c '^W: ' <<<"$lint" || true)"

# 4. the extracted binaries run
grep -q '^webhook-worker ' <<<"$("$ROOT/usr/sbin/webhook-worker" --version)" || fail "webhook-worker --version"
grep -q -- '--retention-days' <<<"$("$ROOT/usr/sbin/webhook-worker" --help)" || fail "webhook-worker --help"
need systemd-analyze systemd
# the unit's syntax (ExecStart's binary is looked up in the real system: point it home)
sed "s|^ExecStart=/usr/sbin/|ExecStart=$ROOT/usr/sbin/|" "$ROOT/lib/systemd/system/webhook-worker.service" \
  >"$TMP/webhook-worker.service"
if out=$(systemd-analyze verify "$TMP/webhook-worker.service" 2>&1); then
  ok "systemd-analyze verify"
elif grep -qiE 'unknown (key|section)|invalid|failed to parse' <<<"$out"; then
  echo "$out" >&2
  fail "systemd-analyze verify"
else
  echo "packaging.deb: note: systemd-analyze could not verify here: $(head -n 2 <<<"$out")"
fi

# 5. apache2 -t with the extracted module, its .load (path rewritten into the root) and .conf
mkdir -p "$TMP/httpd/logs" "$TMP/httpd/run"
sed "s|$MODDIR/|$ROOT$MODDIR/|" "$ROOT/etc/apache2/mods-available/webhook.load" >"$TMP/httpd/webhook.load"
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TMP/httpd/secret.key"
cat >"$TMP/httpd/httpd.conf" <<CONF
ServerRoot "$TMP/httpd"
ServerName localhost
Listen 127.0.0.1:9
PidFile "$TMP/httpd/run/httpd.pid"
DefaultRuntimeDir "$TMP/httpd/run"
ErrorLog "$TMP/httpd/logs/error_log"
<IfModule !mpm_event_module>
  LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
</IfModule>
<IfModule !authz_core_module>
  LoadModule authz_core_module $MODDIR/mod_authz_core.so
</IfModule>
Include "$TMP/httpd/webhook.load"
Include "$ROOT/etc/apache2/mods-available/webhook.conf"
<IfModule !webhook_module>
  Error "the packaged module did not load"
</IfModule>
WebhookDatabase "host=127.0.0.1 port=9 user=u password=p database=d"
WebhookSecretKeyFile "$TMP/httpd/secret.key"
<Location /webhooks/v1>
  SetHandler webhook-api
  Require all granted
</Location>
CONF
chmod 0644 "$TMP/httpd/httpd.conf"  # as the packaged mods-available files are
# a sanitizer build's module (scripts/test with WEBHOOK_SANITIZE) needs the ASan runtime and
# libstdc++ preloaded into apache2, as scripts/stack does
san=()
asan=$(ldd "$ROOT$MODDIR/mod_webhook.so" 2>/dev/null | awk '/libasan\.so/ && !n++ { print $3 }')
if [[ -n $asan ]]; then
  cxx=$(ldd "$ROOT$MODDIR/mod_webhook.so" | awk '/libstdc\+\+\.so/ && !n++ { print $3 }')
  san=("LD_PRELOAD=$asan${cxx:+:$cxx}" "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1")
fi
env "${san[@]}" "$APACHE" -t -f "$TMP/httpd/httpd.conf" >"$TMP/apache-t.log" 2>&1 || { cat "$TMP/apache-t.log" >&2; fail "apache2 -t"; }
grep -q "Syntax OK" "$TMP/apache-t.log" || { cat "$TMP/apache-t.log" >&2; fail "no 'Syntax OK'"; }
ok "apache2 -t loads the packaged module: $(grep -c . "$TMP/apache-t.log") lines"
# a database password in a file every local user can read gets one tagged warning
grep -q 'WH00024: WebhookDatabase in .*httpd.conf carries a password' "$TMP/apache-t.log" ||
  { cat "$TMP/apache-t.log" >&2; fail "no WH00024 for a password in a world-readable file"; }
chmod 0600 "$TMP/httpd/httpd.conf"
env "${san[@]}" "$APACHE" -t -f "$TMP/httpd/httpd.conf" >"$TMP/apache-t.log" 2>&1 || { cat "$TMP/apache-t.log" >&2; fail "apache2 -t (0600)"; }
if grep -q WH00024 "$TMP/apache-t.log"; then fail "WH00024 for a file only its owner reads"; fi
ok "WH00024 warns of a database password every local user can read, and only then"
echo "packaging.deb: PASS"
