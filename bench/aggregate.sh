#!/usr/bin/env bash
# bench/aggregate.sh: rollup maintenance and query speed against plain SQL
# measured in the same run on the same cluster, with SYMBOLS x MINUTES
# 1-minute bars (default 20 x 500,000 = 10,000,000, about 347 days each):
#   (a) one incremental refresh after appending one new minute for every
#       symbol, against a full recompute of the same four rollups with
#       GROUP BY date_bin(...) over the 1-minute bars;
#   (b) a year of 1h bars of one symbol from sync.bars_1h, against the same
#       GROUP BY over that symbol's 1-minute bars.
# Times are psql's \timing (client round trip included), median of RUNS
# (the full recompute: median of 3, as each takes minutes).
# Not a test: nothing asserts.
#   usage: bash bench/aggregate.sh [SYMBOLS=20] [MINUTES=500000] [RUNS=5]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
NSYM=${1:-20}
MINUTES=${2:-500000}
RUNS=${3:-5}
install_packages
build_and_install

WORK=$(make_workdir aggregate)
trap 'stop_scratch_cluster "$WORK"; [ -z "${KEEP:-}" ] && rm -rf "$WORK"' EXIT
start_scratch_cluster "$WORK" <<CONF
shared_buffers = 2GB
work_mem = 256MB
maintenance_work_mem = 1GB
max_wal_size = 16GB
CONF
psql() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" /usr/bin/psql -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
# median of the "Time: N ms" lines psql prints for a statement run RUNS times
time_ms() {
  local sql=$1 setup=${2:-} runs=${3:-$RUNS}
  for _ in $(seq "$runs"); do
    [ -n "$setup" ] && psql -c "$setup" >/dev/null
    psql -c '\timing on' -c '\o /dev/null' -c "$sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
  done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# median of planning + execution time the server reports for a query
server_ms() {
  for _ in $(seq "$RUNS"); do
    psql -At -c "EXPLAIN (ANALYZE, TIMING OFF) $1" |
      awk '/^(Planning|Execution) Time:/ { s += $3 } END { print s }'
  done | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

psql -c "CREATE EXTENSION sync"
psql -c "SELECT sync_add_source('bench', 'csv', 'http://127.0.0.1:9')" >/dev/null
echo "== loading $NSYM x $MINUTES 1-minute bars"
t0=$(date +%s.%N)
for s in $(seq -f %02g 1 "$NSYM"); do
  # a deterministic wandering price; sync.keep_rollups: the load is rolled up below, timed
  psql -c "SET sync.keep_rollups = on" -c "
    INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap)
    SELECT 'bench', 'S$s', '1 minute', '2024-01-01 00:00+00'::timestamptz + i * interval '1 minute',
           p, p + 0.05, p - 0.04, p + 0.01, 1 + (i * 7919 % 1000), 1 + i % 40, p + 0.005
      FROM (SELECT i, round((100 + 10 * sin(i / 5000.0 + $s) + (i * 104729 % 100) / 100.0)::numeric, 2) AS p
              FROM generate_series(0::bigint, $MINUTES - 1) i) x"
done
psql -c "VACUUM ANALYZE sync.bars"
t1=$(date +%s.%N)
rows=$(psql -At -c "SELECT count(*) FROM sync.bars")

echo "== first materialization of all rollups (refresh_rollups over everything)"
m0=$(date +%s.%N)
psql -c "SELECT sync.rebuild_rollups()" >/dev/null
while [ "$(psql -At -c 'SELECT sync.refresh_rollups(100000)')" != 0 ]; do :; done
psql -c "VACUUM ANALYZE sync.rollup_5m, sync.rollup_15m, sync.rollup_1h, sync.rollup_1d"
m1=$(date +%s.%N)

echo "== (a) incremental refresh after one new minute for all $NSYM symbols, $RUNS runs"
# the newest bar of each symbol, found through the primary key
APPEND="INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap)
        SELECT b.source, b.symbol, b.bar_interval, b.ts + interval '1 minute', b.close, b.close + 0.02,
               b.close - 0.02, b.close + 0.01, 10, 1, b.close
          FROM generate_series(1, $NSYM) s
         CROSS JOIN LATERAL (SELECT * FROM sync.bars x
                              WHERE x.source = 'bench' AND x.symbol = 'S' || lpad(s::text, 2, '0')
                                AND x.bar_interval = '1 minute'
                              ORDER BY x.ts DESC LIMIT 1) b"
inc=$(time_ms "SELECT sync.refresh_rollups()" "$APPEND")

echo "== (a) baseline: full recompute of the four rollups with GROUP BY date_bin, 3 runs"
full_sql=""
for w in "5 minutes" "15 minutes" "1 hour" "1 day"; do
  full_sql="$full_sql CREATE TEMP TABLE full_$(echo "$w" | tr -d ' ') AS
    SELECT source, symbol, date_bin('$w', ts, '2000-01-01 00:00+00') AS ts,
           (array_agg(open ORDER BY ts))[1] AS open, max(high) AS high, min(low) AS low,
           (array_agg(close ORDER BY ts DESC))[1] AS close, sum(volume) AS volume,
           sum(trades) AS trades, sum(vwap * volume) / NULLIF(sum(volume), 0) AS vwap
      FROM sync.bars WHERE bar_interval = '1 minute' GROUP BY 1, 2, 3;"
done
full=$(time_ms "BEGIN; $full_sql ROLLBACK;" "" 3)

echo "== (b) a year of 1h bars of one symbol: view against GROUP BY over 1-minute bars, $RUNS runs"
RANGE="ts >= '2024-01-01 00:00+00' AND ts < '2024-12-31 00:00+00'"
VIEWQ="SELECT * FROM sync.bars_1h WHERE source = 'bench' AND symbol = 'S01' AND $RANGE"
view=$(time_ms "$VIEWQ")
sview=$(server_ms "$VIEWQ")
nview=$(psql -At -c "SELECT count(*) FROM sync.bars_1h WHERE source = 'bench' AND symbol = 'S01' AND $RANGE")
GRPQ="SELECT date_bin('1 hour', ts, '2000-01-01 00:00+00') AS ts,
             (array_agg(open ORDER BY ts))[1], max(high), min(low),
             (array_agg(close ORDER BY ts DESC))[1], sum(volume), sum(trades),
             sum(vwap * volume) / NULLIF(sum(volume), 0)
        FROM sync.bars
       WHERE source = 'bench' AND symbol = 'S01' AND bar_interval = '1 minute' AND $RANGE
       GROUP BY 1"
grp=$(time_ms "$GRPQ")
sgrp=$(server_ms "$GRPQ")
# the view's answer checked against sync_resample's independent path
differ=$(psql -At -c "
  SELECT count(*) FROM (SELECT ts, open, high, low, close, volume, trades, vwap FROM sync.bars_1h
                         WHERE source = 'bench' AND symbol = 'S01'
                        EXCEPT
                        SELECT * FROM sync_resample('bench', 'S01', '1 hour', '-infinity', 'infinity')) d")

awk -v rows="$rows" -v load="$(echo "$t1 - $t0" | bc)" -v mat="$(echo "$m1 - $m0" | bc)" \
    -v inc="$inc" -v full="$full" -v view="$view" -v grp="$grp" -v sview="$sview" -v sgrp="$sgrp" -v nview="$nview" -v nsym="$NSYM" -v differ="$differ" '
BEGIN {
  printf "\n1-minute bars: %d (%d symbols)\n", rows, nsym;
  printf "%-62s %10.1f s\n", "load (INSERT ... SELECT, not rolled up)", load;
  printf "%-62s %10.1f s\n", "first materialization of 5m, 15m, 1h, 1d (refresh_rollups)", mat;
  printf "(a) %-58s %10.2f ms\n", "incremental refresh after one new minute per symbol", inc;
  printf "(a) %-58s %10.2f ms\n", "full recompute, GROUP BY date_bin x 4 (baseline)", full;
  printf "(a) ratio full / incremental: %.0fx\n", full / inc;
  printf "(b) %-58s %10.2f ms\n", sprintf("bars_1h, one symbol, a year (%d rows), at the client", nview), view;
  printf "(b) %-58s %10.2f ms\n", "GROUP BY over its 1-minute bars (baseline), at the client", grp;
  printf "(b) ratio GROUP BY / view at the client: %.0fx\n", grp / view;
  printf "(b) %-58s %10.2f ms\n", "bars_1h, server planning + execution", sview;
  printf "(b) %-58s %10.2f ms\n", "GROUP BY, server planning + execution", sgrp;
  printf "(b) ratio GROUP BY / view in the server: %.0fx\n", sgrp / sview;
  printf "bars_1h rows of S01 that differ from sync_resample: %d\n", differ;
}'
