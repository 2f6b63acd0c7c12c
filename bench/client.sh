#!/usr/bin/env bash
# bench/client.sh: the paths by which pg_sync moves data out, against the
# plainest way to get the same bytes, measured in the same run on the same
# cluster with MINUTES 1-minute bars of one symbol (default 1,000,000,
# about 694 days):
#   (a) pg_sync export --interval 1m (CSV, streamed with COPY) against
#       psql's \copy of the same query;
#   (b) pg_sync export --interval 1h (the rollup view) against psql's \copy
#       of the same view query;
#   (c) GET /api/bars of pg_sync serve (LIMIT bars a request, default the
#       server's maximum 50,000) against psql running the same json_agg
#       query, to /dev/null.
# Each is the median wall time of RUNS (default 5) of the whole command, so
# both sides pay a process start and a connection.  Ratio = baseline time /
# pg_sync time (above 1: pg_sync is faster).  Not a test: nothing asserts.
#   usage: bash bench/client.sh [MINUTES=1000000] [RUNS=5] [LIMIT=50000]
# SYNC_PGBIN=DIR uses an installation already there (its bin directory)
# instead of building and installing this tree.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
MINUTES=${1:-1000000}
RUNS=${2:-5}
LIMIT=${3:-50000}
if [ -n "${SYNC_PGBIN:-}" ]; then
  PGBIN=$SYNC_PGBIN
else
  install_packages
  build_and_install
fi

WORK=$(make_workdir client-bench)
SERVE_PID=""
PORT=""
cleanup() {
  # the server runs under runuser: stop it by its listen address, not the wrapper's pid
  [ -n "$SERVE_PID" ] && pkill -f "pg_sync serve --listen 127.0.0.1:$PORT" 2>/dev/null
  stop_scratch_cluster "$WORK"
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
start_scratch_cluster "$WORK" <<CONF
shared_buffers = 1GB
work_mem = 64MB
CONF
psql() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" "$PGBIN/psql" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
pg_sync() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres "$PGBIN/pg_sync" "$@"; }

# median wall seconds of a command run RUNS times (its output to /dev/null)
median_s() {
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] }'
}
report() {   # what, rows, pg_sync seconds, baseline seconds
  awk -v w="$1" -v n="$2" -v s="$3" -v b="$4" 'BEGIN {
    printf "%-44s %9d rows  pg_sync %7.3f s (%9.0f rows/s)  baseline %7.3f s (%9.0f rows/s)  ratio %.2fx\n",
           w, n, s, n / s, b, n / b, b / s }'
}

psql -c "CREATE EXTENSION sync"
psql -c "SELECT sync_add_source('bench', 'csv', 'http://127.0.0.1:9')" >/dev/null
echo "== loading $MINUTES 1-minute bars of one symbol, rolled up"
psql -c "
  INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap)
  SELECT 'bench', 'S01', '1 minute', '2024-01-01 00:00+00'::timestamptz + i * interval '1 minute',
         p, p + 0.05, p - 0.04, p + 0.01, 1 + (i * 7919 % 1000), 1 + i % 40, p + 0.005
    FROM (SELECT i, round((100 + 10 * sin(i / 5000.0) + (i * 104729 % 100) / 100.0)::numeric, 2) AS p
            FROM generate_series(0::bigint, $MINUTES - 1) i) x"
psql -c "SELECT sync.refresh_rollups(1000000)" >/dev/null
psql -c "VACUUM ANALYZE sync.bars"
FROM_TS='2024-01-01 00:00+00'
TO_TS=$(psql -At -c "SELECT ('2024-01-01 00:00+00'::timestamptz + $MINUTES * interval '1 minute')::text")
N1M=$MINUTES
N1H=$(psql -At -c "SELECT count(*) FROM sync.bars_1h WHERE source = 'bench' AND symbol = 'S01'")
COLS="ts, open, high, low, close, volume, trades, vwap"
RANGE="source = 'bench' AND symbol = 'S01' AND ts >= '$FROM_TS' AND ts < '$TO_TS'"

echo "== (a) 1m bars as CSV"
a_s=$(median_s pg_sync export bench S01 --interval 1m --from "$FROM_TS" --to "$TO_TS")
a_b=$(median_s psql -c "\\copy (SELECT $COLS FROM sync.bars WHERE $RANGE AND bar_interval = '1 minute' ORDER BY ts) TO STDOUT WITH (FORMAT csv, HEADER)")
echo "== (b) 1h bars (sync.bars_1h) as CSV"
b_s=$(median_s pg_sync export bench S01 --interval 1h --from "$FROM_TS" --to "$TO_TS")
b_b=$(median_s psql -c "\\copy (SELECT $COLS FROM sync.bars_1h WHERE $RANGE ORDER BY ts) TO STDOUT WITH (FORMAT csv, HEADER)")

echo "== (c) /api/bars, $LIMIT 1m bars a request"
PORT=$(free_port)
as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres "$PGBIN/pg_sync" serve \
  --listen "127.0.0.1:$PORT" --row-limit "$LIMIT" >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
C_TO=$(psql -At -c "SELECT ('$FROM_TS'::timestamptz + $LIMIT * interval '1 minute')::text")
URL="http://127.0.0.1:$PORT/api/bars?source=bench&symbol=S01&interval=1m&limit=$LIMIT"
URL="$URL&from=$(printf %s "$FROM_TS" | sed 's/ /%20/; s/+/%2B/')&to=$(printf %s "$C_TO" | sed 's/ /%20/; s/+/%2B/')"
curl -fs "$URL" | grep -q '"truncated" : false\|"truncated":false\|"truncated": false' ||
  { echo "the API did not answer the whole range: $(curl -s "$URL" | head -c 300)"; exit 1; }
c_s=$(median_s curl -fs "$URL")
c_b=$(median_s psql -At -c "SELECT json_agg(x ORDER BY x.ts)::text FROM (SELECT $COLS FROM sync.bars
                            WHERE source = 'bench' AND symbol = 'S01' AND bar_interval = '1 minute'
                              AND ts >= '$FROM_TS' AND ts < '$C_TO' ORDER BY ts) x")

echo
echo "results (median of $RUNS; ratio = baseline / pg_sync):"
report "(a) export 1m CSV vs psql \\copy" "$N1M" "$a_s" "$a_b"
report "(b) export 1h CSV (view) vs psql \\copy" "$N1H" "$b_s" "$b_b"
report "(c) GET /api/bars vs psql json_agg" "$LIMIT" "$c_s" "$c_b"
