#!/usr/bin/env bash
# fuzz.sh [SECONDS]: build every libFuzzer target test/fuzz/fuzz_*.c with
# clang (-fsanitize=fuzzer,address,undefined) and run each for SECONDS
# (default 60) from a scratch copy of its seeds (test/fuzz/corpus/<target>/,
# or test/fuzz/seeds/<name>/ for fuzz_<name>), so runs do not grow
# the repository.  Prints executions and crashes per target and ends with
# "fuzz: N targets, N crashes"; exits non-zero on any crash (a stall past
# the time limit or a blow-up past the memory limit counts as one).
#
# Each target says what it links on its first lines:
#   // fuzz-sources: files or globs relative to the repository root
#   // fuzz-libs: pkg-config names (json-c), else -lNAME or linker flags
#   // fuzz-dict: a libFuzzer dictionary (optional)
#
# A crash input whose sanitizer summary (the site: file:line) is not yet
# among those kept is copied to test/fuzz/crashes/<target>/ for the
# developer to commit: scripts/test.sh runs every file there as a unit
# test.  FUZZ_TARGETS="fuzz_csv fuzz_time" runs only those targets.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

SECONDS_EACH=${1:-60}
install_packages

WORK=$(mktemp -d /tmp/sync-fuzz.XXXXXX)
trap '[ -z "${KEEP:-}" ] && rm -rf "$WORK"' EXIT
CFLAGS_FUZZ="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1

# The sanitizer's one-line summary of what input $2 does to binary $1: the
# crash site, used to tell one bug from another.
crash_site() {
  local out
  out=$(timeout 30 "$1" -runs=1 "$2" 2>&1)
  grep -m1 -oE 'SUMMARY: [A-Za-z]+Sanitizer: [^ ]+ [^ ]+' <<<"$out" \
    || grep -m1 -oE '(ERROR: libFuzzer: [a-z-]+|[^ ]+:[0-9]+:[0-9]+: runtime error)' <<<"$out" \
    || echo "unknown: $(grep -m1 -E 'ERROR|==[0-9]+==' <<<"$out")"
}

cd "$ROOT"
targets=()
for f in test/fuzz/fuzz_*.c; do
  t=$(basename "$f" .c)
  if [ -n "${FUZZ_TARGETS:-}" ] && ! grep -qw "$t" <<<"$FUZZ_TARGETS"; then continue; fi
  targets+=("$t")
done

total_crashes=0
ntargets=0
failed_builds=0
mkdir -p "$WORK/obj"
for t in "${targets[@]}"; do
  src=test/fuzz/$t.c
  sources=$(source_header "$src" fuzz-sources)
  cflags=$(lib_cflags $(source_header "$src" fuzz-libs))
  libs=$(lib_ldflags $(source_header "$src" fuzz-libs))
  dict=$(source_header "$src" fuzz-dict | tr -d ' ')
  ntargets=$((ntargets + 1))

  # Objects shared between targets are compiled once per run.
  objs=()
  build_ok=1
  for s in $sources; do
    o=$WORK/obj/$(tr '/' '_' <<<"$s").o
    if [ ! -f "$o" ]; then
      nice clang $CFLAGS_FUZZ -fsanitize=fuzzer-no-link -I src -I test/fuzz $cflags -c "$s" -o "$o" || build_ok=0
    fi
    objs+=("$o")
  done
  if [ "$build_ok" = 1 ] && nice clang $CFLAGS_FUZZ -fsanitize=fuzzer -I src -I test/fuzz $cflags "$src" \
        "${objs[@]}" $libs -o "$WORK/$t"; then :; else
    echo "$t: build failed"
    failed_builds=$((failed_builds + 1)); total_crashes=$((total_crashes + 1))
    continue
  fi

  mkdir -p "$WORK/corpus/$t" "$WORK/art/$t"
  # seeds: test/fuzz/corpus/<target>/, or test/fuzz/seeds/<name>/ (fuzz_<name>)
  for d in "test/fuzz/corpus/$t" "test/fuzz/seeds/${t#fuzz_}"; do
    [ -d "$d" ] && cp -r "$d/." "$WORK/corpus/$t/"
  done
  # fork mode goes on after a crash, so one run finds more than one bug
  nice -n 19 "$WORK/$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$WORK/art/$t/" ${dict:+-dict=$dict} "$WORK/corpus/$t" \
    >"$WORK/$t.log" 2>&1
  execs=$(grep -oE '^#[0-9]+' "$WORK/$t.log" | tail -1 | tr -d '#')

  # One input per crash site; sites already kept are not copied again.
  declare -A seen=()
  if [ -d "test/fuzz/crashes/$t" ]; then
    for c in test/fuzz/crashes/$t/*; do
      [ -f "$c" ] && seen["$(crash_site "$WORK/$t" "$c" | sed "s|$ROOT/||")"]=kept
    done
  fi
  sites=0; new=0; listing=""
  for a in "$WORK/art/$t"/*; do
    [ -f "$a" ] || continue
    site=$(crash_site "$WORK/$t" "$a" | sed "s|$ROOT/||")
    [ -n "${seen[$site]+x}" ] && [ "${seen[$site]}" != kept ] && continue
    sites=$((sites + 1))
    if [ -z "${seen[$site]+x}" ]; then
      mkdir -p "test/fuzz/crashes/$t"
      cp "$a" "test/fuzz/crashes/$t/$(basename "$a")"
      new=$((new + 1)); listing+="    new: test/fuzz/crashes/$t/$(basename "$a"): $site"$'\n'
    else
      listing+="    known: $site"$'\n'
    fi
    seen["$site"]=found
  done
  unset seen
  total_crashes=$((total_crashes + sites))
  echo "$t: ${execs:-0} executions, $sites crashes ($new new)"
  echo -n "$listing"
done

echo "fuzz: $ntargets targets, $total_crashes crashes"
[ "$total_crashes" = 0 ]
