# Shared helpers for scripts/stack and scripts/test (sourced, not executed).
#
# The one list of Debian 12 packages the product needs to build, test and run its local
# stack, and the one function that installs whichever of them are missing.

# shellcheck shell=bash

# (make: cmake only recommends it, and recommends are not installed; systemd: the packaging
# test verifies the unit with systemd-analyze; apache2 brings a2enmod, which it runs too;
# chromium, chromium-driver, python3-selenium: the portal's browser tests; galera-4, rsync:
# the stack's Galera cluster (WEBHOOK_DB_NODES), whose nodes copy state with rsync)
WEBHOOK_PACKAGES=(
  cmake make g++ pkg-config systemd clang-tidy
  apache2 apache2-dev apache2-utils
  mariadb-server mariadb-client libmariadb-dev galera-4 rsync
  libcurl4-openssl-dev libjansson-dev libcppunit-dev libssl-dev
  python3 python3-jsonschema python3-yaml curl lintian
  chromium chromium-driver python3-selenium
)

wh_log() { printf '%s\n' "$*" >&2; }
wh_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The repository root (the directory holding scripts/).
wh_repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
}

# Prints the packages of WEBHOOK_PACKAGES that are not installed, one per line.
wh_missing_packages() {
  local p status
  for p in "${WEBHOOK_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || printf '%s\n' "$p"
  done
}

# Installs the missing packages (apt-get update + install, non-interactive). Does nothing
# when everything is installed or when WEBHOOK_SKIP_INSTALL=1. Never starts, stops or
# configures a system service itself; apt may start the packages' own services, which the
# stack neither uses nor conflicts with (it uses its own ports and directories).
wh_install_packages() {
  if [[ ${WEBHOOK_SKIP_INSTALL:-0} == 1 ]]; then
    return 0
  fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    wh_log "warning: dpkg-query not found (not Debian?); not checking packages"
    return 0
  fi
  local missing
  mapfile -t missing < <(wh_missing_packages)
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  wh_log "installing missing packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || wh_die "packages missing (${missing[*]}) and not root and no sudo"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"
}

# The npm packages the browser tests inject into the page (tests/browser/package-lock.json:
# axe-core), installed with `npm ci` into $1/browser-deps (the build dir, git-ignored) when
# the lock file changed. Never served by the portal. npm: whatever is on PATH (a Node.js
# install brings its own), else Debian's. A failure (no npm, no registry) is a warning, not
# the end of the run: integration.portal_browser then fails and says what is missing.
wh_browser_deps() {
  local build=$1 repo
  repo=$(wh_repo_root)
  local dest=$build/browser-deps lock=$repo/tests/browser/package-lock.json
  if [[ -f $dest/package-lock.json && -d $dest/node_modules ]] && cmp -s "$lock" "$dest/package-lock.json"; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1 && [[ ${WEBHOOK_SKIP_INSTALL:-0} != 1 ]]; then
    local saved=("${WEBHOOK_PACKAGES[@]}")
    WEBHOOK_PACKAGES=(npm)
    wh_install_packages
    WEBHOOK_PACKAGES=("${saved[@]}")
  fi
  if ! command -v npm >/dev/null 2>&1; then
    wh_log "warning: npm not found: the browser tests' axe-core is not installed (apt-get install npm)"
    return 0
  fi
  mkdir -p "$dest"
  cp "$repo/tests/browser/package.json" "$lock" "$dest/"
  if (cd "$dest" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error); then
    return 0
  fi
  rm -f "$dest/package-lock.json"  # so that the next run tries again
  wh_log "warning: npm ci in $dest failed: the browser tests' axe-core is not installed"
}

# Configures and builds into $1 unless WEBHOOK_SKIP_BUILD=1.
wh_build() {
  local repo=$1 build=$2
  if [[ ${WEBHOOK_SKIP_BUILD:-0} == 1 ]]; then
    return 0
  fi
  cmake -S "$repo" -B "$build"
  cmake --build "$build" -j"${WEBHOOK_BUILD_JOBS:-2}"
}
