#!/usr/bin/env bash
# test.sh: every test suite against scratch clusters with sync preloaded:
# pg_regress (SQL surface), pgTAP (in-database behaviour) and Perl TAP
# (workers, restarts, crashes, provider faults).  Ends with one line
# "N passed, N failed" summing all suites; exits non-zero on any failure.
# SYNC_COVERAGE=1 builds with gcov and prints line coverage of src/ and
# bgworkers/ at the end.
#
# Before the suites that need PostgreSQL: every C unit test
# (test/unit/test_*.c), every saved fuzz crash and seed as a regression
# test, and a short fuzzing run of every target (SYNC_FUZZ_SECONDS a
# target, default 3, 0 skips it; scripts/fuzz.sh runs longer ones).
#
# SYNC_SANITIZE=1 builds the extension (and the unit tests) with ASan and
# UBSan and runs every suite with the sanitizer runtime preloaded into the
# servers the suites start; reports go to files, and any report written
# fails the run and is printed at the end.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

SANITIZE_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"

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

# Citus for the scale-out suite (031_citus.pl): found installed, or built
# from ../shared/citus/ and installed (as root) while the suites before the
# Perl TAP run; the suite skips, saying why, where neither can be.
CITUS_LOG=$WORK/citus.log
if [ "$(id -u)" = 0 ] || [ -w "$("$PGBIN/pg_config" --pkglibdir)" ]; then
  # the source beside this checkout (the tree is tested from a copy elsewhere)
  [ -z "${SYNC_CITUS_SOURCE:-}" ] &&
    export SYNC_CITUS_SOURCE=$(ls -1 "$ROOT"/../shared/citus/citus-*.tar.gz 2>/dev/null | sort -V | tail -1)
  [ -z "$SYNC_CITUS_SOURCE" ] && unset SYNC_CITUS_SOURCE
  nice bash "$TREE/scripts/citus.sh" "$PGBIN/pg_config" > "$CITUS_LOG" 2>&1 &
  CITUS_PID=$!
else
  CITUS_PID=
  echo "citus: skip: not root, and $("$PGBIN/pg_config" --pkglibdir) is not writable" > "$CITUS_LOG"
fi

# The environment the test servers start in: with SYNC_SANITIZE, the
# sanitizer runtime preloaded (the server itself is not built with it),
# leak checks off (PostgreSQL frees by memory context, not by free) and
# reports written under $SANDIR instead of to the server's stderr.
SAN_ENV=(env)
VENV_ENV=(env)
if [ -n "${SYNC_SANITIZE:-}" ]; then
  SANDIR=$WORK/sanitizer
  mkdir -p "$SANDIR"; chmod 777 "$SANDIR"
  # without the shim every PostgreSQL program hangs at start (asan_shim.c says why)
  gcc -shared -fPIC -o "$WORK/asan_shim.so" "$ROOT/scripts/asan_shim.c" || exit 1
  chmod 755 "$WORK/asan_shim.so"
  SAN_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so) $WORK/asan_shim.so"
  # log_exe_name: report files say which program wrote them (asan.postgres.PID)
  # quarantine_size_mb: freed memory ASan holds back (256 MB by default)
  # would count in the workers' peak memory the hostile suites bound
  SAN_ASAN="detect_leaks=0:quarantine_size_mb=16:log_exe_name=1:log_path=$SANDIR/asan"
  SAN_UBSAN="print_stacktrace=1:halt_on_error=0:log_exe_name=1:log_path=$SANDIR/ubsan"
  # pg_virtualenv's servers start from pg_ctlcluster, which empties the
  # environment but for the cluster's environment file: the runtime goes
  # into the servers only, not into the tools that set them up
  printf "LD_PRELOAD = '%s'\nASAN_OPTIONS = '%s'\nUBSAN_OPTIONS = '%s'\n" \
    "$SAN_PRELOAD" "$SAN_ASAN" "$SAN_UBSAN" > "$WORK/sanitizer.env"
  chmod 644 "$WORK/sanitizer.env"
  VENV_ENV=(env "CREATE_OPTS=--environment=$WORK/sanitizer.env")
  # the TAP suites start servers with pg_ctl, which passes its environment on
  SAN_ENV=(env "LD_PRELOAD=$SAN_PRELOAD" "ASAN_OPTIONS=$SAN_ASAN" "UBSAN_OPTIONS=$SAN_UBSAN")
fi

PASSED=0
FAILED=0
# what failed, repeated at the end (CI shows the tail of the output)
FAILURES=""
note_failures() {   # $1: suite, $2: its output
  local lines
  lines=$(grep -E '^not ok|^#   Failed test|^#   at |^# +(got|expected|missing ids)|Failed tests?:|Non-zero (exit|wait) status|\.\.\. FAILED|did not build|^[a-z0-9_./]+\.(pl|sql) .*(Dubious|Failed)' <<<"$2" | head -60)
  [ -n "$lines" ] && FAILURES+="--- $1"$'\n'"$lines"$'\n'
}
count_prove() {   # $1: output of prove / pg_prove
  local total fails
  total=$(grep -oE '^Files=[0-9]+, Tests=[0-9]+' <<<"$1" | sed 's/.*Tests=//' | tail -1)
  fails=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' <<<"$1" | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
  total=${total:-0}
  if ! grep -q '^Result: PASS' <<<"$1" && [ "$fails" = 0 ]; then fails=1; fi
  PASSED=$((PASSED + total - fails))
  FAILED=$((FAILED + fails))
}

echo "== unit tests: every test/unit/test_*.c (no PostgreSQL)"
# Each file links the sources on its "// unit-sources:" line and the
# libraries on its "// unit-libs:" line (lib.sh's lib_ldflags), by default
# the providers, decimals and validation with json-c.
UNIT_SOURCES_DEFAULT="src/providers/*.c src/decimal.c src/validate.c"
UNIT_LIBS_DEFAULT="json-c"
mkdir -p "$TREE/test/unit/build"
for test_c in "$TREE"/test/unit/test_*.c; do
  name=$(basename "$test_c" .c)
  sources=$(source_header "$test_c" unit-sources); sources=${sources:-$UNIT_SOURCES_DEFAULT}
  libs=$(source_header "$test_c" unit-libs); libs=${libs:-$UNIT_LIBS_DEFAULT}
  echo "-- $name"
  if (cd "$TREE" && gcc -g -Wall -Werror -Wno-missing-field-initializers \
        ${SYNC_COVERAGE:+--coverage -DSYNC_COVERAGE} ${SYNC_SANITIZE:+$SANITIZE_CFLAGS} -I src $(lib_cflags $libs) \
        "$test_c" $sources $(lib_ldflags $libs) -o "test/unit/build/$name"); then
    out=$(cd "$TREE" && ASAN_OPTIONS=detect_leaks=0 "test/unit/build/$name" 2>&1)
    grep -E '^not ok|^#|^1\.\.|runtime error|Sanitizer' <<<"$out"
    note_failures "unit $name" "$out"
    ok=$(grep -c '^ok ' <<<"$out"); bad=$(grep -c '^not ok ' <<<"$out")
    PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))
    # no TAP at all, or a sanitizer report, or a crash after the last test
    if [ "$ok" = 0 ] || grep -qE 'runtime error|Sanitizer' <<<"$out"; then FAILED=$((FAILED + 1)); fi
  else
    echo "$name did not build"; FAILED=$((FAILED + 1)); FAILURES+="--- unit $name did not build"$'\n'
  fi
done
[ "$(id -u)" = 0 ] && chown -R postgres: "$TREE/test/unit/build"

echo "== fuzz regressions: every saved crash and seed through its fuzz target (ASan, UBSan)"
# Each test/fuzz/fuzz_*.c built with gcc and test/fuzz/regress_main.c
# instead of libFuzzer: every input under test/fuzz/crashes/<target>/ is
# one test, the seed corpus of the target one more.
for fuzz_c in "$TREE"/test/fuzz/fuzz_*.c; do
  name=$(basename "$fuzz_c" .c)
  libs=$(source_header "$fuzz_c" fuzz-libs)
  if (cd "$TREE" && gcc -g -O1 -Wall -Werror $SANITIZE_CFLAGS -fno-sanitize-recover=all -I src -I test/fuzz \
        $(lib_cflags $libs) "$fuzz_c" test/fuzz/regress_main.c $(source_header "$fuzz_c" fuzz-sources) \
        $(lib_ldflags $libs) -o "test/unit/build/regress_$name"); then
    out=$(cd "$TREE" && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
          "test/unit/build/regress_$name" "test/fuzz/crashes/$name" 2>&1;
          ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
          "test/unit/build/regress_$name" -s "$name: seed corpus" "test/fuzz/corpus/$name" \
            "test/fuzz/seeds/${name#fuzz_}" 2>&1)
    grep -E '^not ok|^#' <<<"$out"
    ok=$(grep -c '^ok ' <<<"$out"); bad=$(grep -c '^not ok ' <<<"$out")
    echo "$name: $ok passed, $bad failed"
    note_failures "fuzz regressions $name" "$out"
    PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))
    [ $((ok + bad)) = 0 ] && FAILED=$((FAILED + 1))
  else
    echo "regress_$name did not build"; FAILED=$((FAILED + 1)); FAILURES+="--- regress_$name did not build"$'\n'
  fi
done

if [ "${SYNC_FUZZ_SECONDS:-3}" != 0 ]; then
  echo "== fuzzing: ${SYNC_FUZZ_SECONDS:-3} s a target (scripts/fuzz.sh; new crashes land in test/fuzz/crashes/)"
  out=$(bash "$ROOT/scripts/fuzz.sh" "${SYNC_FUZZ_SECONDS:-3}" 2>&1)
  echo "$out"
  FAILURES+=$(grep -E '^fuzz_[a-z0-9_]+: ([0-9]+ executions, [1-9][0-9]* crashes|build failed)' <<<"$out" | sed 's/^/--- fuzzing /')
  ok=$(grep -cE '^fuzz_[a-z0-9_]+: [0-9]+ executions, 0 crashes' <<<"$out")
  bad=$(grep -cE '^fuzz_[a-z0-9_]+: ([0-9]+ executions, [1-9][0-9]* crashes|build failed)' <<<"$out")
  PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))
  [ $((ok + bad)) = 0 ] && FAILED=$((FAILED + 1))
fi

echo "== pg_regress: the SQL surface (a bare 'pg_virtualenv make installcheck', as a packager runs it)"
# make installcheck starts a server of its own that preloads sync
# (test/regress.conf); a sanitizer run needs the runtime in the server, which
# only pg_virtualenv's cluster gets (CREATE_OPTS), so it tests on that one.
if [ -n "${SYNC_SANITIZE:-}" ]; then
  out=$(as_pg "${VENV_ENV[@]}" pg_virtualenv -o shared_preload_libraries=sync -o max_worker_processes=32 \
          make -s installcheck SYNC_REGRESS_SERVER=existing PG_CONFIG=$PGBIN/pg_config 2>&1)
else
  out=$(as_pg pg_virtualenv make -s installcheck PG_CONFIG=$PGBIN/pg_config 2>&1)
fi
grep -E '^(test |     )|tests (passed|failed)' <<<"$out"
ok=$(grep -cE '\.\.\. ok' <<<"$out")
bad=$(grep -cE '\.\.\. FAILED' <<<"$out")
if [ "$ok" = 0 ] && [ "$bad" = 0 ]; then bad=1; echo "$out" | tail -20; fi
[ "$bad" != 0 ] && cat test/regression.diffs 2>/dev/null | head -100
note_failures "pg_regress" "$out"
PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))

echo "== pgTAP: in-database behaviour"
out=$(as_pg "${VENV_ENV[@]}" pg_virtualenv -o shared_preload_libraries=sync -o max_worker_processes=32 sh -c \
        'psql -qc "CREATE EXTENSION pgtap" && psql -qc "CREATE EXTENSION sync" && pg_prove test/pgtap/*.sql' 2>&1)
grep -vE '^\*\*\*|^[0-9]{4}-' <<<"$out"
count_prove "$out"
note_failures "pgTAP" "$out"

# Two at a time (SYNC_TAP_JOBS): most of a TAP test's time is waiting on
# workers and clocks, so two share the two cores well and the suite takes
# about half as long; each test has its own cluster, ports and fake provider.
citus_rc=0
[ -n "${CITUS_PID:-}" ] && { wait "$CITUS_PID"; citus_rc=$?; }
echo "== Citus for 031_citus.pl: $(tail -1 "$CITUS_LOG")"
# a source that would not build is a failure; no source or no Citus, a skip
if [ "$citus_rc" = 1 ]; then
  FAILED=$((FAILED + 1)); FAILURES+="--- Citus build: $(tail -1 "$CITUS_LOG")"$'\n'
fi
echo "== Perl TAP: workers, restarts, crashes, provider faults (${SYNC_TAP_JOBS:-2} at a time)"
out=$(as_pg "${SAN_ENV[@]}" PATH="$PGBIN:$PATH" PG_REGRESS=$PGBIN/../lib/pgxs/src/test/regress/pg_regress \
        prove -j "${SYNC_TAP_JOBS:-2}" -I "$PGBIN/../lib/pgxs/src/test/perl" -I test/tap test/tap/*.pl 2>&1)
echo "$out"
count_prove "$out"
note_failures "Perl TAP" "$out"
if ! grep -q '^Result: PASS' <<<"$out"; then
  # the log of each failed test, its failures first (every log's tail when none says)
  shown=0
  for f in tmp_check/log/regress_log_*; do
    grep -qE '^\[[0-9:.]+\]\([0-9.]+s\) not ok|Dubious|died|^# Looks like' "$f" || continue
    echo "--- $f"; grep -v 'statement:' "$f" | grep -E -A12 'not ok' | head -80
    grep -v 'statement:' "$f" | tail -30
    FAILURES+="--- $f"$'\n'"$(grep -E 'not ok|# +(got|expected|missing|Failed)|Looks like' "$f" | head -20)"$'\n'
    shown=1
  done
  [ "$shown" = 0 ] && for f in tmp_check/log/regress_log_*; do echo "--- $f"; grep -v 'statement:' "$f" | tail -40; done
fi

if [ -n "${SYNC_COVERAGE:-}" ]; then
  echo "== line coverage of src/ and bgworkers/ (gcov)"
  # what the standard counts: the extension's sources, not the tests'
  # own files, the system headers their inline functions come from, nor
  # pg_sync (client/, shown apart)
  as_pg lcov -q --capture --directory . --output-file coverage.info >/dev/null 2>&1
  lcov -q --extract coverage.info "$TREE/src/*" "$TREE/bgworkers/*" --output-file coverage-ext.info >/dev/null 2>&1
  lcov -q --extract coverage.info "$TREE/client/*" --output-file coverage-client.info >/dev/null 2>&1
  lcov --list-full-path --list coverage-ext.info 2>/dev/null | grep -E '\.[ch] *\|' | sed "s|$TREE/||"
  lcov --summary coverage-ext.info 2>&1 | grep -E 'lines|functions'
  echo "client/ (pg_sync): $(lcov --summary coverage-client.info 2>&1 | grep -E 'lines' | sed 's/^ *lines\.*: *//')"
fi

if [ -n "${SYNC_SANITIZE:-}" ]; then
  echo "== sanitizer reports (ASan, UBSan) from the test servers"
  # every report of a server process or naming sync's code counts; the Perl
  # suites' tools run with the runtime too, and what ASan says of them
  # (dd's aligned_alloc, say) is shown but is not sync's
  reports=""
  pg_uid=$(id -u "$(pg_user)")
  for f in $(find "$SANDIR" -type f | sort); do
    # a SIGSEGV a test sent on purpose (015_crash_loop's kill -SEGV): for a
    # signal sent by kill(), the kernel's si_addr holds the sender's uid in
    # its high 32 bits and its pid in the low ones, not an address
    addr=$(grep -m1 -oE 'SEGV on unknown address 0x[0-9a-f]+' "$f" | grep -oE '0x[0-9a-f]+$')
    if [ -n "$addr" ] && [ $(( addr >> 32 )) = "$pg_uid" ] && [ $(( addr & 0xffffffff )) -lt 4194304 ]; then
      echo "(a test's kill -SEGV, not a fault: $(basename "$f"): sent by uid $pg_uid, pid $(( addr & 0xffffffff )))"
      continue
    fi
    if [[ $(basename "$f") == ubsan.* || $(basename "$f") == asan.postgres.* ]] || grep -qE ' (src|bgworkers)/|sync\.so' "$f"; then
      reports+="$f "
    else
      echo "(not a server: $(basename "$f"): $(grep -m1 -E 'ERROR|runtime error' "$f"))"
    fi
  done
  if [ -n "$reports" ]; then
    # a crash loop writes the same report hundreds of times: one of each
    declare -A shown=()
    for f in $reports; do
      key=$(grep -m1 -E 'SUMMARY|runtime error' "$f" | sed -E 's/0x[0-9a-f]+//g; s/==[0-9]+==//g')
      key=${key:-"(no summary line)"}
      shown["$key"]=$(( ${shown["$key"]:-0} + 1 ))
      [ "${shown["$key"]}" = 1 ] && { echo "--- $f"; head -60 "$f"; }
    done
    for key in "${!shown[@]}"; do echo "${shown[$key]} x $key"; done
    echo "$(wc -w <<<"$reports") sanitizer reports"
    FAILED=$((FAILED + 1))
  else
    echo "none"
    PASSED=$((PASSED + 1))
  fi
  # the shared installation goes back to a build without the sanitizers:
  # a server started without the preload cannot load this one
  SYNC_SANITIZE= build_and_install "$TREE" >/dev/null
fi

echo "== packaging: META.json against the PGXN Meta Spec (scripts/check_meta.py)"
out=$(python3 "$TREE/scripts/check_meta.py" "$TREE/META.json" 2>&1)
rc=$?
echo "$out"
if [ $rc = 0 ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); FAILURES+="--- META.json"$'\n'"$out"$'\n'; fi
out=$(python3 "$TREE/scripts/check_meta.py" --self-test "$TREE/META.json" 2>&1)
grep -E '^not ok' <<<"$out"
ok=$(grep -c '^ok ' <<<"$out"); bad=$(grep -c '^not ok ' <<<"$out")
echo "check_meta.py --self-test: $ok passed, $bad failed"
note_failures "check_meta.py --self-test" "$out"
PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))
[ "$ok" = 0 ] && FAILED=$((FAILED + 1))

# Last, as it installs the package over this run's make install (and puts
# back what it replaced when it purges it): nothing after it needs either.
if [ "$(id -u)" = 0 ] && command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null &&
   command -v pg_buildext >/dev/null; then
  echo "== packaging: the Debian package built, installed, tested and purged (scripts/package.sh)"
  out=$(bash "$ROOT/scripts/package.sh" 2>&1)
  rc=$?
  echo "$out"
  ok=$(grep -c '^ok ' <<<"$out"); bad=$(grep -c '^not ok ' <<<"$out")
  note_failures "scripts/package.sh" "$out"
  PASSED=$((PASSED + ok)); FAILED=$((FAILED + bad))
  if [ $rc != 0 ] && [ "$bad" = 0 ]; then
    FAILED=$((FAILED + 1)); FAILURES+="--- scripts/package.sh exited $rc"$'\n'"$(tail -5 <<<"$out")"$'\n'
  fi
else
  echo "== packaging: scripts/package.sh skipped (needs root and dpkg-buildpackage, debhelper, pg_buildext)"
fi

if [ "$FAILED" != 0 ]; then
  echo "== what failed"
  printf '%s\n' "${FAILURES:-(no failure line found: see the suites above)}"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
