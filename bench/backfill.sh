#!/usr/bin/env bash
# bench/backfill.sh: historical load speed of sync against two baselines
# measured in the same run on the same cluster:
#   - COPY of the same rows from a CSV file into an identical empty table;
#   - a Python loader (psycopg2 execute_values) fetching the same pages.
# The fake provider serves BARS synthetic 1-minute bars per symbol as
# Binance klines, 1000 a page.  Prints rows/s, ratios, the fake's own
# serving rate and the workers' peak RSS.  Not a test: nothing asserts.
#   usage: [MAX_WORKERS=2] bash bench/backfill.sh [SYMBOLS=4] [BARS=250000]
#   (MAX_WORKERS: sync.max_workers, the pool workers carrying the symbols)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
NSYM=${1:-4}
BARS=${2:-250000}
PACKAGES="$PACKAGES python3-psycopg2 bc"
install_packages
build_and_install

WORK=$(make_workdir bench)
cp -r "$ROOT/test/fake_provider" "$ROOT/test/data" "$ROOT/bench" "$WORK/"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
PGPORT=$(free_port)
export PGHOST=$WORK PGPORT PGDATABASE=postgres PGUSER=postgres
cleanup() {
  as_pg $PGBIN/pg_ctl -D "$WORK/pgdata" -m fast stop >/dev/null 2>&1 || true
  [ -f "$WORK/fake.pid" ] && kill "$(cat "$WORK/fake.pid")" 2>/dev/null || true
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
psql() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" /usr/bin/psql -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }

SYMS=""; SYNTH=""
for i in $(seq "$NSYM"); do SYMS="$SYMS BENCH$i"; SYNTH="$SYNTH --synthetic BENCH$i:$BARS"; done
TOTAL=$((NSYM * BARS))

echo "== fake provider with $NSYM x $BARS synthetic bars"
as_pg /usr/bin/python3 "$WORK/fake_provider/fake_provider.py" --data-dir "$WORK/data" $SYNTH \
  --port-file "$WORK/fake.port" --pid-file "$WORK/fake.pid" >"$WORK/fake.log" 2>&1 &
for _ in $(seq 600); do [ -f "$WORK/fake.port" ] && break; sleep 0.2; done
FAKE="http://127.0.0.1:$(cat "$WORK/fake.port")"

echo "== scratch cluster"
as_pg $PGBIN/initdb -D "$WORK/pgdata" -A trust -U postgres >/dev/null
cat >> "$WORK/pgdata/postgresql.conf" <<CONF
shared_preload_libraries = 'sync'
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PGPORT
max_worker_processes = 32
shared_buffers = 1GB
max_wal_size = 8GB
sync.poll_interval_ms = 60000
sync.max_workers = ${MAX_WORKERS:-2}
CONF
as_pg $PGBIN/pg_ctl -D "$WORK/pgdata" -l "$WORK/postgres.log" -w start >/dev/null
psql -c "CREATE EXTENSION sync"
psql -c "CREATE TABLE copy_bars (LIKE sync.bars INCLUDING ALL)"
psql -c "CREATE TABLE py_bars (LIKE sync.bars INCLUDING ALL)"

echo "== fake provider alone (one client, all pages, no database)"
read -r frows fsecs < <(as_pg /usr/bin/python3 "$WORK/bench/python_loader.py" "$FAKE" none $SYMS --fetch-only)

echo "== sync: $NSYM workers backfilling $TOTAL bars"
psql -c "SELECT sync_add_source('bench', 'binance', '$FAKE', options => '{\"page_size\": 1000}')" >/dev/null
psql -c "SELECT sync_subscribe('bench', string_to_array(trim('$SYMS'), ' '), history_from => '2020-01-01', realtime => false)" >/dev/null
# Wait in one server-side loop and sample the workers' memory from /proc
# in the background, so the measuring costs the machine next to nothing.
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
sample_rss &
SAMPLER=$!
t0=$(now)
psql -c "SELECT sync_start()" >/dev/null
for _ in $(seq 200); do   # the pool workers start a moment after sync_start()
  psql -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync pool'" > "$WORK/pids"
  [ -s "$WORK/pids" ] && break; sleep 0.05
done
psql -c "DO \$\$ BEGIN
           WHILE (SELECT coalesce(sum(rows_stored), 0) FROM sync.subscriptions) < $TOTAL LOOP
             PERFORM pg_sleep(0.01);
           END LOOP;
         END \$\$"
t1=$(now)
touch "$WORK/done"; wait "$SAMPLER"
read -r peak anon < "$WORK/rss"
psql -c "SELECT sync_stop()" >/dev/null
stored=$(psql -At -c "SELECT count(*) FROM sync.bars")

echo "== COPY of the same rows into an identical empty table"
psql -c "COPY sync.bars TO '$WORK/bars.csv' (FORMAT csv)"
psql -c "CHECKPOINT"
c0=$(now)
psql -c "COPY copy_bars FROM '$WORK/bars.csv' (FORMAT csv)"
c1=$(now)

echo "== Python loader (psycopg2 execute_values, a transaction per page)"
psql -c "CHECKPOINT"
read -r prows psecs < <(as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres \
  /usr/bin/python3 "$WORK/bench/python_loader.py" "$FAKE" py_bars $SYMS)

awk -v total="$stored" -v ws="$(echo "$t1 - $t0" | bc)" -v cs="$(echo "$c1 - $c0" | bc)" \
    -v pr="$prows" -v ps="$psecs" -v fr="$frows" -v fs="$fsecs" -v peak="$peak" -v anon="$anon" -v nsym="$NSYM" '
BEGIN {
  w = total / ws; c = total / cs; p = pr / ps; f = fr / fs;
  printf "\nrows: %d (%d symbols, 1-minute bars, 1000 a page)\n", total, nsym;
  printf "%-44s %10.2f s %12.0f rows/s\n", "sync workers (HTTP + parse + validate + store)", ws, w;
  printf "%-44s %10.2f s %12.0f rows/s\n", "COPY FROM csv (baseline)", cs, c;
  printf "%-44s %10.2f s %12.0f rows/s\n", "Python execute_values loader (baseline)", ps, p;
  printf "%-44s %10.2f s %12.0f rows/s\n", "fake provider alone, one client", fs, f;
  printf "ratio sync / COPY:   %.2fx\n", w / c;
  printf "ratio sync / Python: %.2fx\n", w / p;
  printf "peak RSS of a worker (VmHWM, includes shared buffers it touched): %.1f MiB\n", peak / 1024;
  printf "largest private memory of a worker seen (RssAnon): %.1f MiB\n", anon / 1024;
}'
