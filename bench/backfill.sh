#!/usr/bin/env bash
# bench/backfill.sh: historical load speed of sync against three baselines
# measured in the same run on the same cluster:
#   - COPY of the same rows (sync's own, dumped) from a CSV file into an
#     identical empty table (LIKE sync.bars INCLUDING ALL: the same primary
#     key, no triggers): what PostgreSQL itself can store;
#   - the loader an expert writes (http.client + json + psycopg2
#     copy_expert of COPY text built from each page, a transaction per page);
#   - the loader most write (psycopg2 execute_values, a transaction per page).
# Both Python loaders fetch the same pages from the same fake provider into
# tables of their own, like the COPY one.  sync's figure is with its rollup
# triggers (AFTER INSERT on sync.bars, a transition table per statement) and
# the aggregator running, as in production; the baselines have neither.
# The fake provider serves BARS synthetic 1-minute bars per symbol as
# Binance klines, 1000 a page; "fake provider alone" shows it is not the
# bottleneck.  Prints rows/s, ratios, the workers' memory, the load average;
# sync's rate is from sync_start() to the last row stored (as a user sees
# it) and "steady" from its first rows committed on (without the start-up
# of its processes, which dominates a small run); both, and COPY's, are
# timed by the server's clock within one psql session.
# Not a test: nothing asserts.
#   usage: [RUNS=1] [MAX_WORKERS=2] [EXTRA_CONF=...] [NO_EXECUTE_VALUES=1] [PGI=/tmp/pgi-x] bash bench/backfill.sh [SYMBOLS=4] [BARS=250000]
#   RUNS: repeat the whole measurement (a fresh cluster each run), then
#     print a table of all runs;
#   MAX_WORKERS: sync.max_workers, the pool workers carrying the symbols;
#   EXTRA_CONF: more postgresql.conf lines (EXTRA_CONF='sync.synchronous_commit = on');
#   NO_EXECUTE_VALUES=1: skip the slowest baseline (a minute for 1M rows);
#   PGI, NO_BUILD: where to install sync (bench/bench_lib.sh);
#   PERF_DATA=FILE (bench/profile.sh): record the pool workers with perf
#     during sync's load into FILE (PERF_COPY_DATA=FILE: the COPY baseline's
#     backend too), PERF_FREQ samples a second; the Python loaders are
#     skipped and the figures carry perf's overhead.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/bench_lib.sh"
NSYM=${1:-4}
BARS=${2:-250000}
RUNS=${RUNS:-1}
PACKAGES="$PACKAGES python3-psycopg2 bc"
[ -n "${PERF_DATA:-}" ] && PACKAGES="$PACKAGES linux-perf"
install_packages
bench_build

WORK=$(make_workdir bench)
cp -r "$ROOT/test/fake_provider" "$ROOT/test/data" "$ROOT/bench" "$WORK/"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
cleanup() {
  stop_scratch_cluster "$WORK"
  [ -f "$WORK/fake.pid" ] && kill "$(cat "$WORK/fake.pid")" 2>/dev/null || true
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
psql() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" /usr/bin/psql -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # user + system, in clock ticks
loader() {   # loader TABLE [--copy]: rows and seconds of a Python loader
  as_pg env PGHOST="${PGHOST:-}" PGPORT="${PGPORT:-}" PGUSER=postgres PGDATABASE=postgres \
    /usr/bin/python3 "$WORK/bench/python_loader.py" "$FAKE" "$@" $SYMS
}

SYMS=""; SYNTH=""
for i in $(seq "$NSYM"); do SYMS="$SYMS BENCH$i"; SYNTH="$SYNTH --synthetic BENCH$i:$BARS"; done
TOTAL=$((NSYM * BARS))

echo "== fake provider with $NSYM x $BARS synthetic bars"
as_pg /usr/bin/python3 "$WORK/fake_provider/fake_provider.py" --data-dir "$WORK/data" $SYNTH \
  --port-file "$WORK/fake.port" --pid-file "$WORK/fake.pid" >"$WORK/fake.log" 2>&1 &
for _ in $(seq 600); do [ -f "$WORK/fake.port" ] && break; sleep 0.2; done
FAKE="http://127.0.0.1:$(cat "$WORK/fake.port")"

echo "== fake provider alone (one client, all pages, no database)"
read -r frows fsecs < <(loader none --fetch-only)

# Sample the workers' memory from /proc in the background until $WORK/done,
# so the measuring costs the machine next to nothing.
sample_rss() {
  local peak=0 anon=0 k v
  while [ ! -f "$WORK/done" ]; do
    for pid in $(cat "$WORK/pids" 2>/dev/null); do
      while read -r k v _; do
        case $k in
          VmHWM:) [ "$v" -gt "$peak" ] && peak=$v ;;
          RssAnon:) [ "$v" -gt "$anon" ] && anon=$v ;;
        esac
      done < "/proc/$pid/status" 2>/dev/null || true
    done
    sleep 0.2
  done
  echo "$peak $anon" > "$WORK/rss"
}

# The pool workers' pids into $WORK/pids once they are up; with PERF_DATA,
# then becomes perf recording them until SIGTERM.  Run in the background.
watch_workers() {
  local want=$(( ${MAX_WORKERS:-2} < NSYM ? ${MAX_WORKERS:-2} : NSYM ))
  for _ in $(seq 200); do   # the pool workers start a moment after sync_start()
    psql -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync pool'" > "$WORK/pids.new"
    mv "$WORK/pids.new" "$WORK/pids"
    [ "$(wc -l < "$WORK/pids")" -ge "$want" ] && break; sleep 0.05
  done
  [ -n "${PERF_DATA:-}" ] || return 0
  echo "   perf on the pool workers: $(paste -sd, "$WORK/pids")"
  exec perf record -q -F "${PERF_FREQ:-499}" --call-graph "${PERF_CALLGRAPH:-dwarf,16384}" \
    -p "$(paste -sd, "$WORK/pids")" -o "$PERF_DATA" >"$PERF_DATA.log" 2>&1
}

# perf record -p PIDS -o FILE in the background; stop_perf ends it.
start_perf() {
  perf record -q -F "${PERF_FREQ:-499}" --call-graph "${PERF_CALLGRAPH:-dwarf,16384}" \
    -p "$1" -o "$2" >"$2.log" 2>&1 &
  PERF_PID=$!
  sleep 0.3   # perf attaches in a moment; samples before that are lost
}
stop_perf() {
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" || true
}

# The COPY baseline: its time, or (PERF_COPY_DATA) its backend profiled.
copy_baseline() {
  psql -c "CHECKPOINT"
  if [ -z "${PERF_COPY_DATA:-}" ]; then
    local c0 c1
    { read -r c0; read -r c1; } < <(psql -At <<SQL
SELECT extract(epoch FROM clock_timestamp());
COPY copy_bars FROM '$WORK/bars.csv' (FORMAT csv);
SELECT extract(epoch FROM clock_timestamp());
SQL
)
    echo "$c1 - $c0" | bc
    return
  fi
  # The backend's pid first, then a pause while perf attaches to it.
  rm -f "$WORK/copy.pid"
  psql -At -o /dev/null <<SQL &
\o $WORK/copy.pid
SELECT pg_backend_pid();
\o /dev/null
SELECT pg_sleep(1);
COPY copy_bars FROM '$WORK/bars.csv' (FORMAT csv);
SQL
  local psql_pid=$!
  for _ in $(seq 100); do [ -s "$WORK/copy.pid" ] && break; sleep 0.05; done
  start_perf "$(cat "$WORK/copy.pid")" "$PERF_COPY_DATA"
  wait "$psql_pid"
  stop_perf
  echo 0
}

# One measurement on a fresh cluster: prints its summary, appends a line
# to $WORK/runs.
one_run() {
  local run=$1 t0 tf t1 t2 first f0 f1 peak anon stored aggr pending fresh_s cs prows psecs xrows xsecs
  rm -f "$WORK/done" "$WORK/pids" "$WORK/rss"
  rm -rf "$WORK/pgdata"
  start_scratch_cluster "$WORK" <<CONF
shared_buffers = 1GB
max_wal_size = 8GB
sync.poll_interval_ms = 60000
sync.max_workers = ${MAX_WORKERS:-2}
${EXTRA_CONF:-}
CONF
  psql -c "CREATE EXTENSION sync"
  for t in copy_bars cx_bars py_bars; do psql -c "CREATE TABLE $t (LIKE sync.bars INCLUDING ALL)"; done

  echo "== run $run/$RUNS: sync, ${MAX_WORKERS:-2} pool workers backfilling $TOTAL bars (rollup triggers and aggregator on)"
  psql -c "SELECT sync_add_source('bench', 'binance', '$FAKE', options => '{\"page_size\": 1000}')" >/dev/null
  psql -c "SELECT sync_subscribe('bench', string_to_array(trim('$SYMS'), ' '), history_from => '2020-01-01', realtime => false)" >/dev/null
  sample_rss &
  local sampler=$!
  watch_workers &
  local watcher=$!
  # sync_start() and the waits in one session, timed by the server: a psql
  # started per step would add its start-up (up to a second on a busy
  # machine) to sync's time.  The first rows committed end the start-up
  # (launcher, supervisor, workers); the waits cost next to nothing.
  f0=$(cpu_ticks "$(cat "$WORK/fake.pid")")
  psql -At > "$WORK/times" <<SQL
SELECT extract(epoch FROM clock_timestamp());
\o /dev/null
SELECT sync_start();
\o
DO \$\$ BEGIN
  WHILE NOT EXISTS (SELECT FROM sync.bars) LOOP PERFORM pg_sleep(0.01); END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp()), (SELECT count(*) FROM sync.bars);
DO \$\$ BEGIN
  WHILE (SELECT coalesce(sum(rows_stored), 0) FROM sync.subscriptions) < $TOTAL LOOP PERFORM pg_sleep(0.01); END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp()), (SELECT count(*) FROM sync.rollup_invalidations),
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync aggregator');
DO \$\$ BEGIN
  FOR i IN 1..12000 LOOP
    EXIT WHEN NOT EXISTS (SELECT FROM sync.rollup_invalidations);
    PERFORM pg_sleep(0.01);
  END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp());
SQL
  f1=$(cpu_ticks "$(cat "$WORK/fake.pid")")
  # ends perf (which also saw the idle wait for the rollups) or the polling
  # (TERM: a background job of a script ignores INT)
  kill -TERM "$watcher" 2>/dev/null || true
  wait "$watcher" || true
  { read -r t0; IFS='|' read -r tf first; IFS='|' read -r t1 pending aggr; read -r t2; } < "$WORK/times"
  touch "$WORK/done"; wait "$sampler"
  read -r peak anon < "$WORK/rss"
  fresh_s=$(echo "$t2 - $t1" | bc)
  psql -c "SELECT sync_stop()" >/dev/null
  stored=$(psql -At -c "SELECT count(*) FROM sync.bars")

  echo "== COPY of the same rows into an identical empty table"
  psql -c "COPY sync.bars TO '$WORK/bars.csv' (FORMAT csv)"
  cs=$(copy_baseline)
  if [ -n "${PERF_DATA:-}" ]; then   # profiling: the loaders would only add time
    xrows=0 xsecs=1 prows=0 psecs=1
  else
    echo "== Python copy_expert loader (COPY text of each page, a transaction per page)"
    psql -c "CHECKPOINT"
    read -r xrows xsecs < <(loader cx_bars --copy)
    if [ -n "${NO_EXECUTE_VALUES:-}" ]; then
      prows=0 psecs=1
    else
      echo "== Python execute_values loader (a transaction per page)"
      psql -c "CHECKPOINT"
      read -r prows psecs < <(loader py_bars)
    fi
  fi
  stop_scratch_cluster "$WORK"

  awk -v run="$run" -v total="$stored" -v ws="$(echo "$t1 - $t0" | bc)" -v startup="$(echo "$tf - $t0" | bc)" -v first="$first" -v cs="$cs" \
      -v xr="$xrows" -v xs="$xsecs" -v pr="$prows" -v ps="$psecs" -v fr="$frows" -v fs="$fsecs" \
      -v peak="$peak" -v anon="$anon" -v nsym="$NSYM" -v aggr="$aggr" -v pending="$pending" \
      -v fresh="$fresh_s" -v fakecpu="$(( (f1 - f0) * 100 / $(getconf CLK_TCK) ))" -v load="$(load_average)" -v runs="$WORK/runs" '
  function ratio(a, b) { return b > 0 ? a / b : 0 }
  function line(what, secs, rate) {
    if (rate > 0) printf "%-52s %8.2f s %10.0f rows/s\n", what, secs, rate;
    else printf "%-52s (not measured while profiling)\n", what;
  }
  BEGIN {
    w = total / ws; steady = (total - first) / (ws - startup); c = cs > 0 ? total / cs : 0; x = xr / xs; p = pr / ps; f = fr / fs;
    printf "\nrun %d: rows: %d (%d symbols, 1-minute bars, 1000 a page); load average %s\n", run, total, nsym, load;
    printf "%-52s %8.2f s %10.0f rows/s\n", "sync workers (HTTP + parse + validate + store)", ws, w;
    printf "  (of which start-up, sync_start() to the first rows committed: %.2f s;\n", startup;
    printf "   from the first rows committed on: %.0f rows/s)\n", steady;
    printf "  (with the rollup triggers and %d aggregator running; %d rollup invalidations left\n", aggr, pending;
    printf "   when the last row was stored, all folded %.1f s later)\n", fresh;
    line("COPY FROM csv, same rows and key (baseline)", cs, c);
    line("Python copy_expert loader (baseline)", xs, x);
    line("Python execute_values loader (baseline)", ps, p);
    printf "%-52s %8.2f s %10.0f rows/s\n", "fake provider alone, one client", fs, f;
    printf "the fake provider (one Python process) used %.0f%% of a core during sync'"'"'s load\n", fakecpu / ws;
    if (c > 0) printf "ratio sync / COPY:                    %.2fx  (after start-up %.2fx)\n", w / c, steady / c;
    if (x > 0) printf "ratio sync / copy_expert loader:      %.2fx\n", w / x;
    if (p > 0) printf "ratio sync / execute_values loader:   %.2fx\n", w / p;
    printf "peak RSS of a worker (VmHWM, includes shared buffers it touched): %.1f MiB\n", peak / 1024;
    printf "largest private memory of a worker seen (RssAnon): %.1f MiB\n", anon / 1024;
    printf "%3d %9.0f %9.0f %9.0f %9.0f %9.0f %7.2fx %7.2fx %7.2fx %7.2fx %8.1f  %s\n", run, w, steady, c, x, p,
           ratio(w, c), ratio(steady, c), ratio(w, x), ratio(w, p), anon / 1024, load >> runs;
  }'
}

for run in $(seq "$RUNS"); do one_run "$run"; done
echo
echo "== all runs (rows/s; $TOTAL bars; fake provider alone: $(awk -v r="$frows" -v s="$fsecs" 'BEGIN { printf "%.0f", r / s }') rows/s)"
printf "%3s %9s %9s %9s %9s %9s %8s %8s %8s %8s %8s  %s\n" run sync steady COPY cp_exp exec_val "/COPY" "st/COPY" "/cp_exp" "/ex_val" "anon MiB" "load average"
cat "$WORK/runs"
