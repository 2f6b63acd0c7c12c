# lib.sh: set-up steps shared by scripts/demo.sh and scripts/test.sh.
# Sourced, not run.  Works as root on a fresh Debian 12 machine (installs
# packages) and as an ordinary user where the packages are already there
# (uses sudo for what needs root).

PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
PACKAGES="build-essential pkg-config make gcc perl python3 libipc-run-perl
  postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-pgtap
  libtap-parser-sourcehandler-pgtap-perl libcurl4-openssl-dev libjson-c-dev
  libwslay-dev curl ca-certificates python3-prometheus-client
  clang libclang-rt-dev prometheus prometheus-postgres-exporter
  libmicrohttpd-dev tmux chromium dpkg-dev debhelper fakeroot postgresql-server-dev-all"
# prometheus brings promtool, which checks sync_metrics() and an exporter
# scrape (test/tap/016_metrics.pl); on a machine run by systemd, both
# packages also start their services (ports 9090, 9187): the tests use
# neither ("systemctl disable --now prometheus prometheus-postgres-exporter").
# The Python examples (examples/listen.py, examples/dataframe.py), run by
# test/tap/028_examples.pl.
PACKAGES="$PACKAGES python3-psycopg2 python3-pandas"
# what Citus 12.1 needs to build from source (scripts/citus.sh, for the
# Citus suite test/tap/031_citus.pl; Citus is not in Debian)
PACKAGES="$PACKAGES liblz4-dev libzstd-dev libkrb5-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Install what is missing; apt-get only runs when something is.
install_packages() {
  local missing=""
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "== installing:$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  fi
}

# The dashboard's npm packages (the chart library, and ws for its tests),
# exactly as dashboard/package-lock.json pins them.  Debian's npm only when
# no npm is there: a Node.js installed otherwise brings its own, which
# Debian's would replace.
install_dashboard_deps() {
  local dir=${1:-$ROOT}
  if ! command -v npm >/dev/null; then
    echo "== installing: npm"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
  fi
  echo "== installing the dashboard's npm packages (dashboard/package-lock.json)"
  npm ci --prefix "$dir/dashboard" --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null ||
    { echo "npm ci failed in $dir/dashboard"; exit 1; }
}

# Build the tree in $1 (default: the checkout) and install it.
build_and_install() {
  local dir=${1:-$ROOT}
  install_dashboard_deps "$dir"
  echo "== building sync in $dir (warnings are errors)"
  make -C "$dir" -s clean >/dev/null
  if ! make -C "$dir" -s SYNC_WERROR=1 ${SYNC_COVERAGE:+SYNC_COVERAGE=1} ${SYNC_SANITIZE:+SYNC_SANITIZE=1} \
       PG_CONFIG=$PGBIN/pg_config; then
    echo "build failed"; exit 1
  fi
  as_root make -C "$dir" -s install PG_CONFIG=$PGBIN/pg_config >/dev/null
}

# The words of the "// KEY:" line of a C test file $1 (KEY: fuzz-sources,
# fuzz-libs, unit-sources, unit-libs...): what a test links, said by the
# test itself so one build rule serves every test file.
source_header() {
  grep -m1 "^// $2:" "$1" | sed "s|^// $2:||"
}

# Compiler, then linker, flags for library words of such a line: a
# pkg-config name (json-c), else a linker flag (-lwslay) or a bare name.
# postgres-server: the server's headers and libpgport (a unit test of a file that
# includes postgres.h stubs the few server functions that file calls).
lib_cflags() {
  local w
  for w in "$@"; do
    if [ "$w" = postgres-server ]; then echo -n " -I$($PGBIN/pg_config --includedir-server)"
    elif [[ $w != -* ]] && pkg-config --exists "$w" 2>/dev/null; then echo -n " $(pkg-config --cflags "$w")"; fi
  done
}
lib_ldflags() {
  local w
  for w in "$@"; do
    if [ "$w" = postgres-server ]; then echo -n " -L$($PGBIN/pg_config --pkglibdir) -lpgport"
    elif [[ $w == -* ]]; then echo -n " $w"
    elif pkg-config --exists "$w" 2>/dev/null; then echo -n " $(pkg-config --libs "$w")"
    else echo -n " -l$w"; fi
  done
}

# The user that runs PostgreSQL: postgres when we are root (it refuses root).
pg_user() {
  if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A scratch directory the PostgreSQL user can write.
make_workdir() {
  local d
  d=$(mktemp -d /tmp/sync-$1.XXXXXX)
  chmod 755 "$d"
  [ "$(id -u)" = 0 ] && chown postgres: "$d"
  echo "$d"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Start a scratch cluster with sync preloaded in $1/pgdata, listening only
# on a socket in $1; further postgresql.conf lines come on stdin.  Sets
# PGHOST/PGPORT/PGUSER/PGDATABASE; stop it with stop_scratch_cluster $1.
start_scratch_cluster() {
  local work=$1
  PGPORT=$(free_port)
  export PGHOST=$work PGPORT PGDATABASE=postgres PGUSER=postgres
  as_pg $PGBIN/initdb -D "$work/pgdata" -A trust -U postgres >/dev/null
  {
    echo "shared_preload_libraries = 'sync'"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$work'"
    echo "port = $PGPORT"
    echo "max_worker_processes = 32"
    cat
  } >> "$work/pgdata/postgresql.conf"
  as_pg $PGBIN/pg_ctl -D "$work/pgdata" -l "$work/postgres.log" -w start >/dev/null
}

stop_scratch_cluster() {
  as_pg $PGBIN/pg_ctl -D "$1/pgdata" -m fast stop >/dev/null 2>&1 || true
}
