#!/usr/bin/env bash
# bench/profile.sh: where sync's storage path spends its time, measured with
# perf (call graphs unwound from DWARF: Debian builds PostgreSQL with -O2
# and no frame pointers) in three processes:
#   (a) the pool workers during a backfill (bench/backfill.sh's set-up,
#       run with PERF_DATA: SYMBOLS x BARS 1-minute bars);
#   (b) the COPY baseline's backend storing the same rows (what PostgreSQL
#       itself spends, the floor of any storage path);
#   (c) the streamer and its storer (the process storing what the
#       streamer parsed) at RATE trades a second from bench/feed.c for
#       SECONDS (bench/realtime.py's set-up, without its latency trigger).
# The stacks are folded by bench/fold_stacks.py into components (HTTP, JSON,
# validation, COPY text, COPY parsing, heap, btree, WAL, triggers, commit,
# SPI, memory, kernel) and printed as a flame summary per process; the
# folded stacks (flamegraph.pl's input) and perf's data stay in OUT.
# Runs as root (or with kernel.perf_event_paranoid <= 1).  Not a test.
#   usage: [PGI=/tmp/pgi-x] [OUT=dir] [FOLD_ONLY=1] [PERF_FREQ=499] bash bench/profile.sh [SYMBOLS=4] [BARS=100000] [RATE=50000] [SECONDS=15]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/bench_lib.sh"
NSYM=${1:-4}
BARS=${2:-100000}
RATE=${3:-50000}
SECS=${4:-15}
PACKAGES="$PACKAGES python3-psycopg2 bc libssl-dev linux-perf"
install_packages
[ -n "${FOLD_ONLY:-}" ] && NO_BUILD=1   # folding again needs the installed binaries as they were
bench_build
export PGI NO_BUILD=1 PERF_FREQ=${PERF_FREQ:-499}
export PERF_CALLGRAPH=${PERF_CALLGRAPH:-dwarf,16384}

paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
if [ "$(id -u)" != 0 ] && [ "$paranoid" -gt 1 ]; then
  echo "perf cannot record other users' processes: run as root, or sysctl kernel.perf_event_paranoid=1"; exit 1
fi
perf record -q -o /dev/null -- true >/dev/null 2>&1 ||
  { echo "perf record does not work here (perf_event_paranoid=$paranoid): $(perf record -o /dev/null -- true 2>&1 | tail -1)"; exit 1; }

OUT=${OUT:-$(mktemp -d /tmp/sync-profile.XXXXXX)}
mkdir -p "$OUT"; rm -f "$OUT/stacks.folded"
# (a), (b): bench/backfill.sh records them.
profile_backfill() {
  echo "== (a), (b): backfill of $NSYM x $BARS bars with perf on the pool workers, then on the COPY baseline"
  PERF_DATA="$OUT/pool.data" PERF_COPY_DATA="$OUT/copy.data" bash "$ROOT/bench/backfill.sh" "$NSYM" "$BARS" |
    tee "$OUT/backfill.txt" | sed -n '/^run 1:/,/^largest private/p'
}

# (c): bench/realtime.py streams; perf joins once the streamer is up.
DRIVER=""
WORK=""
cleanup() {
  [ -n "$DRIVER" ] && kill "$DRIVER" 2>/dev/null || true
  [ -n "$WORK" ] && stop_scratch_cluster "$WORK"
  [ -n "$WORK" ] && [ -z "${KEEP:-}" ] && rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
profile_streamer() {
  local pid="" n0 n1 on0 on1 wait0 wait1 w0 w1
  echo "== (c): the streamer storing $RATE trades/s, perf for $SECS s"
  WORK=$(make_workdir profile)
  cp -r "$ROOT/test/fake_provider" "$ROOT/test/data" "$ROOT/bench" "$WORK/"
  gcc -O2 -Wall -Werror -o "$WORK/feed" "$ROOT/bench/feed.c" -lcrypto
  [ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
  start_scratch_cluster "$WORK" <<CONF
shared_buffers = 1GB
max_wal_size = 8GB
CONF
  # realtime.py measures for SECS + 10 s once the stream is up; perf
  # records SECS of it from 3 s in (the catch-up before the stream is
  # over by then).  NO_LATENCY: without its latency-sampling trigger,
  # which is the benchmark's cost, not sync's.
  as_pg env NO_LATENCY=1 PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres \
    /usr/bin/python3 "$WORK/bench/realtime.py" --work "$WORK" --seconds $((SECS + 10)) --feed c "$RATE" \
    > "$OUT/realtime.txt" 2>&1 &
  DRIVER=$!
  for _ in $(seq 1200); do
    pid=$(as_pg /usr/bin/psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync streamer'")
    [ -n "$pid" ] && break; sleep 0.1
  done
  [ -n "$pid" ] || { echo "no streamer came up"; cat "$OUT/realtime.txt"; exit 1; }
  sleep 3
  # its storer (the process that stores what the streamer parsed), when one runs
  storer=$(as_pg /usr/bin/psql -X -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync stream store'")
  echo "   streamer pid $pid, storer pid ${storer:-none}; load average $(load_average)"
  n0=$(as_pg /usr/bin/psql -X -At -c "SELECT count(*) FROM sync.trades")
  declare -A on0 wait0
  for p in $pid $storer; do read -r on0[$p] wait0[$p] _ < "/proc/$p/schedstat"; done   # ns on a CPU, ns runnable
  w0=$(date +%s%N)
  local storer_perf=""
  if [ -n "$storer" ]; then
    perf record -q -F "$PERF_FREQ" --call-graph "$PERF_CALLGRAPH" -p "$storer" -o "$OUT/storer.data" -- sleep "$SECS" \
      >"$OUT/storer.data.log" 2>&1 &
    storer_perf=$!
  fi
  perf record -q -F "$PERF_FREQ" --call-graph "$PERF_CALLGRAPH" -p "$pid" -o "$OUT/streamer.data" -- sleep "$SECS" \
    >"$OUT/streamer.data.log" 2>&1 || true
  [ -n "$storer_perf" ] && { wait "$storer_perf" || true; }   # not the driver, which runs on
  w1=$(date +%s%N)
  n1=$(as_pg /usr/bin/psql -X -At -c "SELECT count(*) FROM sync.trades")
  echo $((n1 - n0)) > "$OUT/streamed.rows"
  echo "   $((n1 - n0)) trades stored while perf recorded; load average after $(load_average)"
  for p in $pid $storer; do
    read -r on1 wait1 _ < "/proc/$p/schedstat" || continue
    awk -v who="$([ "$p" = "$pid" ] && echo streamer || echo storer)" -v on=$((on1 - ${on0[$p]})) \
        -v wait=$((wait1 - ${wait0[$p]})) -v ns=$((w1 - w0)) 'BEGIN {
      printf "   the %s over those %.1f s: %.0f%% on a CPU, %.0f%% runnable waiting for one, %.0f%% asleep (network, queue, WAL flush, locks)\n",
             who, ns / 1e9, 100 * on / ns, 100 * wait / ns, 100 - 100 * (on + wait) / ns }'
  done
  wait "$DRIVER" || true
  DRIVER=""
  cat "$OUT/realtime.txt"
}

if [ -z "${FOLD_ONLY:-}" ]; then   # FOLD_ONLY=1 OUT=dir: fold the perf data in dir again
  rm -f "$OUT"/*.data
  echo "== profiling into $OUT (perf $PERF_FREQ Hz, --call-graph $PERF_CALLGRAPH); load average $(load_average)"
  profile_backfill
  profile_streamer
fi

echo "== folding stacks (perf script; takes a while with DWARF call graphs)"
{
  # the rows each recording saw: the backfill's (perf joins its workers as
  # they start, and its COPY all along), the trades stored meanwhile
  rows=$(sed -n 's/^run 1: rows: \([0-9]*\).*/\1/p' "$OUT/backfill.txt" 2>/dev/null)
  streamed=$(cat "$OUT/streamed.rows" 2>/dev/null || true)
  for p in "pool worker:pool.data:$rows" "COPY backend (baseline):copy.data:$rows" "streamer (receive, parse; stores too without a storer):streamer.data:$streamed" "storer (stores the streamer's batches):storer.data:$streamed"; do
    IFS=: read -r label data n <<< "$p"
    [ -s "$OUT/$data" ] || { echo "== $label: no perf data"; continue; }
    nice perf script -i "$OUT/$data" -F comm,pid,tid,ip,sym,dso --no-inline 2>/dev/null |
      /usr/bin/python3 "$ROOT/bench/fold_stacks.py" --label "$label" --folded "$OUT/stacks.folded" --top 25 \
        --hz "$PERF_FREQ" ${n:+--rows "$n"}
    echo
  done
} | tee "$OUT/summary.txt"
echo "summary: $OUT/summary.txt; folded stacks: $OUT/stacks.folded (flamegraph.pl $OUT/stacks.folded > flame.svg)"
