# bench/bench_lib.sh: set-up shared by the bench scripts (backfill, profile, realtime, pool).
# Sourced after scripts/lib.sh, not run.
#
# bench_build builds the checkout and installs it:
#   - by default system-wide, as every bench script does (build_and_install);
#   - PGI=/tmp/pgi-NAME: into a private copy of PostgreSQL 15 there instead
#     (the server finds its lib and share directories relative to its
#     binary, as /work/wt/run-tap.sh does), so a benchmark on a shared
#     machine does not swap sync.so under someone else's cluster; PGBIN
#     then points into the copy;
#   - NO_BUILD=1: neither (the caller built and installed already; PGI
#     still chooses the binaries).

bench_build() {
  if [ -n "${PGI:-}" ]; then
    if [ ! -x "$PGI/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ]; then
      mkdir -p "$PGI/usr/lib/postgresql" "$PGI/usr/share/postgresql"
      cp -a "/usr/lib/postgresql/$PG_MAJOR" "$PGI/usr/lib/postgresql/"
      cp -a "/usr/share/postgresql/$PG_MAJOR" "$PGI/usr/share/postgresql/"
    fi
    PGBIN=$PGI/usr/lib/postgresql/$PG_MAJOR/bin
    [ -n "${NO_BUILD:-}" ] && return 0
    echo "== building sync (warnings are errors), installing into $PGI"
    make -C "$ROOT" -s clean PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config >/dev/null
    make -C "$ROOT" -s SYNC_WERROR=1 PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config || { echo "build failed"; exit 1; }
    make -C "$ROOT" -s install DESTDIR="$PGI" PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config >/dev/null ||
      { echo "install failed"; exit 1; }
  elif [ -z "${NO_BUILD:-}" ]; then
    build_and_install
  fi
}

# The 1-, 5- and 15-minute load averages, to print next to every figure:
# on a shared machine they say how much else was running.
load_average() {
  cut -d' ' -f1-3 /proc/loadavg
}
