#!/usr/bin/env bash
# coverage.sh [--sql] [test/tap/NNN_x.pl ...]: line coverage (gcov, lcov)
# of some suites only, against a PRIVATE PostgreSQL installation, to see
# what a new test covers without running scripts/test.sh.
#
# Builds a copy of the checkout with SYNC_COVERAGE=1 in /tmp/sync-cov-<name>
# (<name>: the checkout's directory), installs it into a private copy of
# PostgreSQL 15 in /tmp/pgi-<name> (the server finds its lib and share
# directories relative to its binary; nothing is installed system-wide),
# runs every C unit test, with --sql pg_regress and pgTAP on a scratch
# cluster, then the given Perl TAP tests, and prints the coverage of each
# file of src/ and bgworkers/ (lowest first) and their total, as
# scripts/test.sh does.  Run as root
# (the servers run as postgres, which must own the tree gcov writes to).
# Coverage of the whole suite: SYNC_COVERAGE=1 bash scripts/test.sh.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

SQL=""
[ "${1:-}" = --sql ] && { SQL=1; shift; }
NAME=$(basename "$ROOT")
PGI=/tmp/pgi-$NAME
if [ ! -x $PGI/usr/lib/postgresql/$PG_MAJOR/bin/postgres ]; then
  mkdir -p $PGI/usr/lib/postgresql $PGI/usr/share/postgresql
  cp -a /usr/lib/postgresql/$PG_MAJOR $PGI/usr/lib/postgresql/
  cp -a /usr/share/postgresql/$PG_MAJOR $PGI/usr/share/postgresql/
fi
SYS_PG_CONFIG=$PGBIN/pg_config
PRIV_PGBIN=$PGI/usr/lib/postgresql/$PG_MAJOR/bin
TREE=/tmp/sync-cov-$NAME
rm -rf "$TREE"; mkdir -p "$TREE"
cp -r "$ROOT/." "$TREE/"; rm -rf "$TREE/.git"
make -C "$TREE" -s clean PG_CONFIG=$SYS_PG_CONFIG >/dev/null
make -C "$TREE" -s SYNC_WERROR=1 SYNC_COVERAGE=1 PG_CONFIG=$SYS_PG_CONFIG || { echo "build failed"; exit 1; }
make -C "$TREE" -s install DESTDIR=$PGI PG_CONFIG=$SYS_PG_CONFIG >/dev/null || { echo "install failed"; exit 1; }
cd "$TREE"

echo "== unit tests"
mkdir -p test/unit/build
for test_c in test/unit/test_*.c; do
  name=$(basename "$test_c" .c)
  sources=$(source_header "$test_c" unit-sources); sources=${sources:-src/providers/*.c src/decimal.c src/validate.c}
  libs=$(source_header "$test_c" unit-libs); libs=${libs:-json-c}
  gcc -g -Wall -Werror -Wno-missing-field-initializers --coverage -DSYNC_COVERAGE -I src $(lib_cflags $libs) \
    "$test_c" $sources $(lib_ldflags $libs) -o "test/unit/build/$name" || { echo "$name did not build"; continue; }
  out=$("test/unit/build/$name" 2>&1)
  echo "$name: $(grep -c '^ok ' <<<"$out") ok, $(grep -c '^not ok ' <<<"$out") not ok"
  grep '^not ok' <<<"$out"
done
chown -R postgres: "$TREE"

if [ -n "$SQL" ]; then
  echo "== pg_regress and pgTAP"
  WORK=$TREE/tmp_sql; mkdir -p "$WORK"; chown postgres: "$WORK"
  PGBIN=$PRIV_PGBIN start_scratch_cluster "$WORK" </dev/null
  as_pg make -s installcheck TAP_TESTS= PG_CONFIG=$SYS_PG_CONFIG 2>&1 | grep -E '\.\.\. |tests (passed|failed)'
  as_pg $PRIV_PGBIN/psql -qc 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION sync' >/dev/null &&
    as_pg pg_prove test/pgtap/*.sql 2>&1 | tail -3
  PGBIN=$PRIV_PGBIN stop_scratch_cluster "$WORK"
fi

if [ $# -gt 0 ]; then
  echo "== Perl TAP: $*"
  as_pg env SYNC_COVERAGE=1 PATH="$PRIV_PGBIN:$PATH" PG_REGRESS=$PGI/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress \
    prove -I "$PGI/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/perl" -I test/tap "$@" 2>&1 | tail -5
fi

echo "== line coverage (gcov)"
as_pg lcov -q --capture --directory . --output-file coverage.info >/dev/null 2>&1
lcov -q --extract coverage.info "$TREE/src/*" "$TREE/bgworkers/*" --output-file coverage-ext.info >/dev/null 2>&1
lcov --list-full-path --list coverage-ext.info 2>/dev/null | grep -E '\.[ch] *\|' | sed "s|$TREE/||" | sort -t'|' -k2 -n
echo "src/ and bgworkers/:"; lcov --summary coverage-ext.info 2>&1 | grep -E 'lines'
echo "(coverage.info, coverage-ext.info in $TREE)"
