#!/usr/bin/env bash
# bench/pool.sh: thousands of series on a default server (issue 12).
# The fake provider serves a live market (test/fake_provider/fake_market.py):
# series M1..MN of 1-minute bars from a day ago up to the last closed minute,
# growing as time passes.  A scratch cluster with the DEFAULT
# max_worker_processes = 8 and track_commit_timestamp = on runs sync with its
# default pool settings.  Parts (details in bench/pool_probe.py):
#   (a) N series x 1 day of bars subscribed at once (Binance source,
#       history_from = the market's start): time until every series is
#       caught up, rows/s, and a COPY of the same rows: ratio sync / COPY;
#   (b) the same series caught up for D minutes: CPU of sync's processes,
#       requests a minute at the fake, delay from a bar's publication to its
#       commit (p50/p99 against the poll interval + 1 s), rows == the fake's;
#   (c) memory (RSS, PSS, Private_Dirty) of each process at (b)'s start and end;
#   (few) FEW=4:250000: 4 long series as bench/backfill.sh, and their COPY.
# Not a test: nothing asserts.  Quick check: bash bench/pool.sh 20 1
#   usage: [env...] bash bench/pool.sh [N=1000] [D=5]
#   env:  PRIVATE_PG=/tmp/pgi-x   build and install into a private copy of
#                                 PostgreSQL there (as /work/wt/run-tap.sh),
#                                 not into the system's (the default)
#         MAX_WORKER_PROCESSES=8  POLL_MS=<source poll_interval_ms>  (default: the GUC's)
#         MARKET_DELAY_MS=0       a bar is published this long after its minute closes (< 60000)
#         PROVIDER=binance        or alpaca, polygon
#         FEW=4:250000            0 skips the long-series part
#         SETTINGS='sync.max_workers = 4'   more postgresql.conf lines (';' separates)
#         TIMEOUT=1800            seconds any one wait may take;  KEEP=1 keeps the work dir
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/bench_lib.sh"
N=${1:-1000}
D=${2:-5}
FEW=${FEW:-4:250000}
DELAY=${MARKET_DELAY_MS:-0}
PACKAGES="$PACKAGES python3-psycopg2"
install_packages

PGI=${PRIVATE_PG:-}
bench_build

WORK=$(make_workdir pool)
cp -r "$ROOT/test/fake_provider" "$ROOT/test/data" "$ROOT/bench" "$WORK/"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
cleanup() {
  stop_scratch_cluster "$WORK"
  [ -f "$WORK/fake.pid" ] && kill "$(cat "$WORK/fake.pid")" 2>/dev/null || true
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT

# the market starts a day before now, on the minute; history_from is the same
START=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:00Z)
SYNTH=""
if [ "$FEW" != 0 ]; then
  for i in $(seq "${FEW%%:*}"); do SYNTH="$SYNTH --synthetic FEW$i:${FEW##*:}"; done
fi
echo "== fake provider: market from $START (M1..M$N), bars published $DELAY ms after their minute${SYNTH:+, $SYNTH}"
as_pg /usr/bin/python3 "$WORK/fake_provider/fake_provider.py" --data-dir "$WORK/data" \
  --market "$START" --market-delay-ms "$DELAY" $SYNTH \
  --port-file "$WORK/fake.port" --pid-file "$WORK/fake.pid" >"$WORK/fake.log" 2>&1 &
for _ in $(seq 600); do [ -f "$WORK/fake.port" ] && break; sleep 0.2; done
FAKE="http://127.0.0.1:$(cat "$WORK/fake.port")"

echo "== scratch cluster (max_worker_processes = ${MAX_WORKER_PROCESSES:-8})"
conf() {
  echo "max_worker_processes = ${MAX_WORKER_PROCESSES:-8}"
  echo "track_commit_timestamp = on"
  echo "shared_buffers = 1GB"
  echo "max_wal_size = 8GB"
  [ -n "${SETTINGS:-}" ] && echo "$SETTINGS" | tr ';' '\n'
  true
}
start_scratch_cluster "$WORK" < <(conf)   # not in a pipe: it exports PGHOST, PGPORT
as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" /usr/bin/psql -X -q -v ON_ERROR_STOP=1 -U postgres \
  -c "CREATE EXTENSION sync"

as_pg env PGPORT="$PGPORT" /usr/bin/python3 "$WORK/bench/pool_probe.py" --work "$WORK" --fake "$FAKE" \
  --fake-pid "$(cat "$WORK/fake.pid")" --n "$N" --minutes "$D" --start "$START" --delay-ms "$DELAY" \
  --provider "${PROVIDER:-binance}" --poll-ms "${POLL_MS:-}" --few "$FEW" --timeout "${TIMEOUT:-1800}"
