#!/usr/bin/env bash
# test.sh: every test suite against scratch clusters with sync preloaded:
# pg_regress (SQL surface), pgTAP (in-database behaviour) and Perl TAP
# (workers, restarts, crashes, provider faults).  Ends with one line
# "N passed, N failed" summing all suites; exits non-zero on any failure.
# SYNC_COVERAGE=1 builds with gcov and prints line coverage of src/ and
# bgworkers/ at the end.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

[ -n "${SYNC_COVERAGE:-}" ] && PACKAGES="$PACKAGES lcov"
install_packages

# PostgreSQL refuses to run as root: tests run from a copy the postgres
# user owns, which is also where gcov writes its counters.
WORK=$(make_workdir test)
trap '[ -z "${KEEP:-}" ] && rm -rf "$WORK"' EXIT
cp -r "$ROOT/." "$WORK/tree"
rm -rf "$WORK/tree/.git"
TREE=$WORK/tree
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
build_and_install "$TREE"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
cd "$TREE"

PASSED=0
FAILED=0
count_prove() {   # $1: output of prove / pg_prove
  local total fails
  total=$(grep -oE '^Files=[0-9]+, Tests=[0-9]+' <<<"$1" | sed 's/.*Tests=//' | tail -1)
  fails=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' <<<"$1" | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
  total=${total:-0}
  if ! grep -q '^Result: PASS' <<<"$1" && [ "$fails" = 0 ]; then fails=1; fi
  PASSED=$((PASSED + total - fails))
  FAILED=$((FAILED + fails))
}

echo "== unit tests: decimals, times, validation, provider parsers (no PostgreSQL)"
mkdir -p "$TREE/test/unit/build"
if (cd "$TREE/test/unit/build" && gcc -g -Wall -Werror -Wno-missing-field-initializers \
      ${SYNC_COVERAGE:+--coverage} -I "$TREE/src" $(pkg-config --cflags json-c) \
      "$TREE/test/unit/test_providers.c" "$TREE"/src/providers/*.c "$TREE/src/decimal.c" \
      "$TREE/src/validate.c" $(pkg-config --libs json-c) -o test_providers); then
  out=$("$TREE/test/unit/build/test_providers" 2>&1)
  grep -E '^not ok|^#|^1\.\.' <<<"$out"
  ok=$(grep -c '^ok ' <<<"$out"); bad=$(grep -c '^not ok ' <<<"$out")
  PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))
  [ "$ok" = 0 ] && FAILED=$((FAILED + 1))
else
  echo "unit tests did not build"; FAILED=$((FAILED + 1))
fi
if (cd "$TREE/test/unit/build" && gcc -g -Wall -Werror -I "$TREE/src" "$TREE/test/unit/test_netguard.c" \
      "$TREE/src/netguard.c" -o test_netguard); then
  out=$("$TREE/test/unit/build/test_netguard" 2>&1)
  grep -E '^not ok|^#|^1\.\.' <<<"$out"
  ok=$(grep -c '^ok ' <<<"$out"); bad=$(grep -c '^not ok ' <<<"$out")
  PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))
  [ "$ok" = 0 ] && FAILED=$((FAILED + 1))
else
  echo "netguard unit tests did not build"; FAILED=$((FAILED + 1))
fi
[ "$(id -u)" = 0 ] && chown -R postgres: "$TREE/test/unit/build"

echo "== pg_regress: the SQL surface"
out=$(as_pg pg_virtualenv -o shared_preload_libraries=sync -o max_worker_processes=32 \
        make -s installcheck TAP_TESTS= PG_CONFIG=$PGBIN/pg_config 2>&1)
grep -E '^(test |     )|tests (passed|failed)' <<<"$out"
ok=$(grep -cE '\.\.\. ok' <<<"$out")
bad=$(grep -cE '\.\.\. FAILED' <<<"$out")
if [ "$ok" = 0 ] && [ "$bad" = 0 ]; then bad=1; echo "$out" | tail -20; fi
[ "$bad" != 0 ] && cat test/regression.diffs 2>/dev/null | head -100
PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))

echo "== pgTAP: in-database behaviour"
out=$(as_pg pg_virtualenv -o shared_preload_libraries=sync -o max_worker_processes=32 sh -c \
        'psql -qc "CREATE EXTENSION pgtap" && psql -qc "CREATE EXTENSION sync" && pg_prove test/pgtap/*.sql' 2>&1)
grep -vE '^\*\*\*|^[0-9]{4}-' <<<"$out"
count_prove "$out"

echo "== Perl TAP: workers, restarts, crashes, provider faults"
out=$(as_pg env PATH="$PGBIN:$PATH" PG_REGRESS=$PGBIN/../lib/pgxs/src/test/regress/pg_regress \
        prove -I "$PGBIN/../lib/pgxs/src/test/perl" -I test/tap test/tap/*.pl 2>&1)
echo "$out"
count_prove "$out"
if ! grep -q '^Result: PASS' <<<"$out"; then
  for f in tmp_check/log/regress_log_*; do echo "--- $f"; grep -v 'statement:' "$f" | tail -40; done
fi

if [ -n "${SYNC_COVERAGE:-}" ]; then
  echo "== line coverage of src/ and bgworkers/ (gcov)"
  as_pg lcov -q --capture --directory . --output-file coverage.info >/dev/null 2>&1
  lcov --summary coverage.info 2>&1 | grep -E 'lines|functions'
  lcov --list coverage.info 2>/dev/null | grep -E '\.c' | sed "s|$TREE/||"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
