#!/usr/bin/env bash
# bench/citus.sh: backfill rows/s of sync on a 3-node Citus cluster (a
# coordinator and two workers, sync_distribute()d: docs/scale-out.md)
# against a single node without Citus, both on this machine, measured in
# the same run.  The nodes share the machine's cores, so the ratio says
# what the distributed write path costs (a statement Citus plans and
# routes to a shard on another server, instead of the local multi-insert),
# not what more machines would carry.
# The fake provider serves BARS synthetic 1-minute bars for each of
# SYMBOLS symbols as Binance klines, 1000 a page; sync's rate is from
# sync_start() to the last row counted by the subscriptions, and "steady"
# from its first rows committed on, both timed by the coordinator's clock
# in one psql session; the aggregator runs, as in production.
# Not a test: nothing asserts.
#   usage: [RUNS=1] [MAX_WORKERS=2] [SHARDS=8] [EXTRA_CONF=...] [PGI=/tmp/pgi-x] [NO_BUILD=1]
#          bash bench/citus.sh [SYMBOLS=4] [BARS=100000]
#   Citus comes from scripts/citus.sh (installed, or built for the
#   PostgreSQL the benchmark uses); its build flags say how fast Citus
#   itself runs (SYNC_CITUS_COPT, -O0 by default: give -O2 to measure).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/bench_lib.sh"
NSYM=${1:-4}
BARS=${2:-100000}
RUNS=${RUNS:-1}
PACKAGES="$PACKAGES bc"
install_packages
bench_build
citus=$(bash "$ROOT/scripts/citus.sh" "$PGBIN/pg_config") || { echo "$citus"; exit 1; }
echo "== $citus"

WORK=$(make_workdir bench-citus)
cp -r "$ROOT/test/fake_provider" "$ROOT/test/data" "$WORK/"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
NODES="single coord w1 w2"
cleanup() {
  for n in $NODES; do as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -m immediate stop >/dev/null 2>&1 || true; done
  [ -f "$WORK/fake.pid" ] && kill "$(cat "$WORK/fake.pid")" 2>/dev/null || true
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
declare -A PORT
psql() {   # psql NODE ...
  local n=$1; shift
  as_pg "$PGBIN/psql" -h 127.0.0.1 -p "${PORT[$n]}" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"
}

SYMS=""; SYNTH=""
for i in $(seq "$NSYM"); do SYMS="$SYMS BENCH$i"; SYNTH="$SYNTH --synthetic BENCH$i:$BARS"; done
TOTAL=$((NSYM * BARS))
echo "== fake provider with $NSYM x $BARS synthetic bars"
as_pg /usr/bin/python3 "$WORK/fake_provider/fake_provider.py" --data-dir "$WORK/data" $SYNTH \
  --port-file "$WORK/fake.port" --pid-file "$WORK/fake.pid" >"$WORK/fake.log" 2>&1 &
for _ in $(seq 600); do [ -f "$WORK/fake.port" ] && break; sleep 0.2; done
FAKE="http://127.0.0.1:$(cat "$WORK/fake.port")"

# start_node NAME PRELOAD: a fresh cluster on a loopback port
start_node() {
  local n=$1
  PORT[$n]=$(free_port)
  rm -rf "${WORK:?}/$n"
  as_pg "$PGBIN/initdb" -D "$WORK/$n" -A trust -U postgres >/dev/null
  cat >> "$WORK/$n/postgresql.conf" <<CONF
shared_preload_libraries = '$2'
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
port = ${PORT[$n]}
max_worker_processes = 32
max_prepared_transactions = 100
shared_buffers = 512MB
max_wal_size = 8GB
sync.poll_interval_ms = 60000
sync.max_workers = ${MAX_WORKERS:-2}
${EXTRA_CONF:-}
CONF
  as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -l "$WORK/$n.log" -w start >/dev/null
}

# backfill NODE: "total_s steady_s" of sync's backfill of every symbol
backfill() {
  local n=$1
  psql "$n" -c "SELECT sync_add_source('bench', 'binance', '$FAKE', options => '{\"page_size\": 1000}')" >/dev/null
  psql "$n" -c "SELECT sync_subscribe('bench', string_to_array(trim('$SYMS'), ' '), history_from => '2020-01-01', realtime => false)" >/dev/null
  psql "$n" -At <<SQL | paste -sd' ' | awk '{ printf "%.3f %.3f\n", $3 - $1, $3 - $2 }'
SELECT extract(epoch FROM clock_timestamp());
\o /dev/null
SELECT sync_start();
DO \$\$ BEGIN
  WHILE coalesce((SELECT sum(rows_stored) FROM sync.subscriptions), 0) = 0 LOOP PERFORM pg_sleep(0.01); END LOOP;
END \$\$;
\o
SELECT extract(epoch FROM clock_timestamp());
\o /dev/null
DO \$\$ BEGIN
  WHILE (SELECT coalesce(sum(rows_stored), 0) FROM sync.subscriptions) < $TOTAL LOOP PERFORM pg_sleep(0.01); END LOOP;
END \$\$;
\o
SELECT extract(epoch FROM clock_timestamp());
SQL
}

echo "run single_s single_rows_s citus_s citus_rows_s ratio single_steady_rows_s citus_steady_rows_s ratio_steady load" > "$WORK/runs"
for run in $(seq "$RUNS"); do
  for n in $NODES; do as_pg "$PGBIN/pg_ctl" -D "$WORK/$n" -m fast stop >/dev/null 2>&1 || true; done
  echo "== run $run/$RUNS: the single node (sync, no Citus)"
  start_node single sync
  psql single -c "CREATE EXTENSION sync"
  read -r s_total s_steady < <(backfill single)
  psql single -c "SELECT sync_stop()" >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$WORK/single" -m fast stop >/dev/null

  echo "== run $run/$RUNS: the Citus cluster (coordinator and 2 workers, ${SHARDS:-8} shards)"
  for n in coord w1 w2; do start_node "$n" citus,sync; psql "$n" -c "CREATE EXTENSION citus"; done
  psql coord -c "SELECT citus_set_coordinator_host('127.0.0.1', ${PORT[coord]})" >/dev/null
  for n in w1 w2; do psql coord -c "SELECT citus_add_node('127.0.0.1', ${PORT[$n]})" >/dev/null; done
  psql coord -c "CREATE EXTENSION sync"
  psql coord -c "SELECT sync_distribute(${SHARDS:-8})" >/dev/null
  read -r c_total c_steady < <(backfill coord)
  stored=$(psql coord -At -c "SELECT count(*) FROM sync.bars")
  [ "$stored" = "$TOTAL" ] || echo "!! the cluster holds $stored bars, not $TOTAL"
  psql coord -c "SELECT sync_stop()" >/dev/null

  line=$(echo "$run $s_total $c_total $s_steady $c_steady" | awk -v t="$TOTAL" '{
    printf "%d %.1f %.0f %.1f %.0f %.2f %.0f %.0f %.2f", $1, $2, t / $2, $3, t / $3, ($2 / $3),
           t / $4, t / $5, ($4 / $5) }')
  echo "$line $(load_average | tr ' ' '/')" >> "$WORK/runs"
  read -r _ _ srate _ crate ratio ssteady csteady rsteady <<<"$line"
  echo "   single node: $TOTAL bars in ${s_total}s: $srate rows/s (steady $ssteady rows/s)"
  echo "   Citus, 3 nodes: $TOTAL bars in ${c_total}s: $crate rows/s (steady $csteady rows/s)"
  echo "   Citus / single: $ratio (steady $rsteady); load average $(load_average)"
done
echo "== all runs"
column -t "$WORK/runs"
