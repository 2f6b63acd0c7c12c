#!/usr/bin/env bash
# package.sh: builds the Debian package postgresql-15-sync (debian/) from a
# copy of the tree, so no build artefact lands in the checkout, and tests it
# as a user would: installs it into the system PostgreSQL with apt-get,
# checks what it holds, runs the pg_regress suite against the installed
# files (debian/tests/installcheck, as autopkgtest does), creates a fresh
# cluster that preloads sync, CREATE EXTENSION sync, asks pg_sync from the
# package for the extension's health and its dashboard, then purges the
# package and puts back any file of a tree's `make install` it replaced.
#
# Prints one TAP line a check ("ok N - ..." / "not ok N - ...") and ends
# with "package: N passed, N failed"; exits non-zero on any failure.
# Needs root (apt-get, dpkg); KEEP=1 keeps the scratch directory.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "package.sh installs a package system-wide: run it as root"; exit 1; }

# What a package build needs (debian/control's Build-Depends) and the
# package test (pg_virtualenv, pg_regress from postgresql-server-dev-15).
PACKAGES="dpkg-dev debhelper fakeroot postgresql-server-dev-all postgresql-$PG_MAJOR
  postgresql-server-dev-$PG_MAJOR libcurl4-openssl-dev libjson-c-dev libwslay-dev
  libmicrohttpd-dev pkg-config make gcc curl"
install_packages

PKG=postgresql-$PG_MAJOR-sync
APT=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600)
VERSION=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT/sync.control")

N=0
PASS=0
FAIL=0
check() {   # $1: 0 when the check passed; $2: what it checks; more: shown when it failed
  local rc=$1 what=$2; shift 2
  N=$((N + 1))
  if [ "$rc" = 0 ]; then
    echo "ok $N - $what"; PASS=$((PASS + 1))
  else
    echo "not ok $N - $what"; FAIL=$((FAIL + 1))
    [ $# -gt 0 ] && printf '#   %s\n' "$@"
  fi
}
finish() {
  echo "== $SECONDS s in all"
  echo "package: $PASS passed, $FAIL failed"
  [ "$FAIL" = 0 ]
  exit
}

if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed"; then
  echo "$PKG is installed already: package.sh installs and purges it, so remove it first"
  exit 1
fi

WORK=$(mktemp -d /tmp/sync-package.XXXXXX)
chmod 755 "$WORK"
INSTALLED=""
cleanup() {
  if [ -n "$INSTALLED" ]; then
    "${APT[@]}" purge "$PKG" >/dev/null 2>&1
    [ -s "$WORK/replaced.tar" ] && tar -xpf "$WORK/replaced.tar" -C /
  fi
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT

# The source tree as a fresh clone has it: the checkout's files without
# .git and without what a build of the checkout left (the package's clean
# step runs make clean); the chart library comes from npm here, outside
# dpkg-buildpackage, which must not reach the network.
SRC=$WORK/postgresql-sync-$VERSION
mkdir -p "$SRC"
tar -C "$ROOT" --exclude=./.git --exclude=./dashboard/node_modules --exclude=./tmp_check \
  --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$SRC" -xf -
if ! (install_dashboard_deps "$SRC") > "$WORK/npm.log" 2>&1; then
  check 1 "npm ci fetches the dashboard's chart library (dashboard/package-lock.json)" "$(tail -5 "$WORK/npm.log")"
  finish
fi

echo "== building $PKG $VERSION (dpkg-buildpackage -us -uc -b -j2 in $WORK)"
(cd "$SRC" && dpkg-buildpackage -us -uc -b -j2) > "$WORK/build.log" 2>&1
rc=$?
DEB=$(ls "$WORK"/${PKG}_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || rc=1
check $rc "dpkg-buildpackage builds $PKG (in $SECONDS s)" "$(tail -30 "$WORK/build.log")"
[ -n "$DEB" ] || finish

deb_version=$(dpkg-deb -f "$DEB" Version)
check "$([ "$deb_version" = "$VERSION" ]; echo $?)" \
  "the package's version ($deb_version, debian/changelog) is sync.control's default_version ($VERSION)"

# Every file a user needs, by where PostgreSQL and pg_sync look for it.
dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' > "$WORK/contents"
PGLIB=/usr/lib/postgresql/$PG_MAJOR/lib
PGSHARE=/usr/share/postgresql/$PG_MAJOR
want=("$PGLIB/sync.so" "$PGSHARE/extension/sync.control" "$PGBIN/pg_sync"
      "/usr/share/doc/$PKG/copyright")
for f in "$ROOT"/sql/sync--*.sql; do want+=("$PGSHARE/extension/$(basename "$f")"); done
for f in "$ROOT"/dashboard/*.html "$ROOT"/dashboard/*.css "$ROOT"/dashboard/*.js \
         lightweight-charts.standalone.production.js; do
  want+=("$PGSHARE/sync_dashboard/$(basename "$f")")
done
missing=()
for f in "${want[@]}"; do grep -qxF "$f" "$WORK/contents" || missing+=("$f"); done
check "${#missing[@]}" "the package holds the library, control file, every SQL script, pg_sync, the dashboard with its chart library, the copyright" \
  "missing: ${missing[*]}"

# A tree's `make install` may have put files where the package's go: they
# are kept and put back after the purge, so the machine ends as it began.
files=()
while read -r f; do [ -f "$f" ] && [ ! -L "$f" ] && files+=("${f#/}"); done < "$WORK/contents"
[ ${#files[@]} -gt 0 ] && tar -cpf "$WORK/replaced.tar" -C / "${files[@]}"

echo "== installing $(basename "$DEB")"
INSTALLED=1
"${APT[@]}" install --no-install-recommends "$DEB" > "$WORK/install.log" 2>&1
rc=$?
status=$(dpkg-query -W -f='${Status} ${Version}' "$PKG" 2>/dev/null)
[ "$status" = "install ok installed $VERSION" ] || rc=1
check $rc "apt-get installs the package and its dependencies" "$(tail -20 "$WORK/install.log")"

out=$("$PGBIN/pg_sync" --version 2>&1)
check "$(grep -qF "$VERSION" <<<"$out"; echo $?)" "pg_sync --version from the package says $VERSION" "got: $out"

# The SQL suite against the installed package, as autopkgtest runs it:
# pg_buildext installcheck in a scratch cluster that preloads sync.
chown -R postgres: "$SRC"
out=$(cd "$SRC" && sh debian/tests/installcheck 2>&1)
rc=$?
echo "$out" > "$WORK/installcheck.log"
tests=$(grep -E '^(not )?ok [0-9]+ |^test [0-9a-z_]+ +\.\.\. ' <<<"$out")
while read -r line; do
  name=$(sed -E 's/^test ([0-9a-z_]+).*/\1/' <<<"$line")
  check "$(grep -qE '\.\.\. ok' <<<"$line"; echo $?)" "pg_regress $name against the installed package"
done <<<"$tests"
check "$([ "$rc" = 0 ] && [ -n "$tests" ]; echo $?)" "debian/tests/installcheck passes" \
  "$(grep -vE '^[0-9]{4}-|^\s|^SQL statement|^PL/pgSQL' <<<"$out" | tail -15)" \
  "$(head -60 "$SRC/test/regression.diffs" 2>/dev/null)"

# A user's first steps on a fresh cluster: preload, CREATE EXTENSION, the
# client against it, the dashboard from the package's share directory.
port=$(free_port)
cat > "$WORK/first-steps.sh" <<EOF
set -u
psql -XAtq -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION sync' \
  -c "SELECT 'version=' || extversion FROM pg_extension WHERE extname = 'sync'" \
  -c "SELECT 'preload=' || current_setting('shared_preload_libraries')" \
  -c "SELECT 'start=' || sync_start()" || exit 1
$PGBIN/pg_sync --json health; echo "health-exit=\$?"
$PGBIN/pg_sync serve --listen=127.0.0.1:$port > "$WORK/serve.log" 2>&1 &
pid=\$!
for i in \$(seq 50); do   # up once it answers at all (/health says 503 while sync is degraded)
  [ "\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/health)" != 000 ] && break; sleep 0.2
done
for f in / /static/lightweight-charts.standalone.production.js; do
  echo "get \$f \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port\$f)"
done
kill \$pid; wait \$pid; echo "serve-exit=\$?"
EOF
out=$(NONROOT=1 pg_virtualenv -v "$PG_MAJOR" -o shared_preload_libraries=sync sh "$WORK/first-steps.sh" 2>&1)
echo "$out" > "$WORK/first-steps.log"
check "$(grep -qx "version=$VERSION" <<<"$out"; echo $?)" "CREATE EXTENSION sync in a fresh cluster that preloads it installs $VERSION" \
  "$(grep -vE '^[0-9]{4}-' <<<"$out" | head -20)"
check "$(grep -qE '^start=' <<<"$out"; echo $?)" "sync_start() starts the workers of the installed library"
check "$(grep -qE '^health-exit=[01]$' <<<"$out" && grep -q '"status"' <<<"$out"; echo $?)" \
  "pg_sync health reads the installed extension" "$(grep -iE 'health|error' <<<"$out" | head -5)"
check "$(grep -qx 'get / 200' <<<"$out" && grep -qx 'get /static/lightweight-charts.standalone.production.js 200' <<<"$out"; echo $?)" \
  "pg_sync serve serves the packaged dashboard and its chart library" \
  "$(grep -E '^get ' <<<"$out")" "$(tail -5 "$WORK/serve.log" 2>/dev/null)"

echo "== purging $PKG"
"${APT[@]}" purge "$PKG" > "$WORK/purge.log" 2>&1
rc=$?
left=()
while read -r f; do [ ! -f "$f" ] || left+=("$f"); done < "$WORK/contents"
check "$([ $rc = 0 ] && [ ${#left[@]} = 0 ]; echo $?)" "apt-get purge removes every file of the package" \
  "left: ${left[*]}" "$(tail -5 "$WORK/purge.log")"
INSTALLED=""
if [ -s "$WORK/replaced.tar" ]; then
  tar -xpf "$WORK/replaced.tar" -C /
  check $? "the ${#files[@]} files of an earlier make install the package replaced are back"
fi
finish
