#!/usr/bin/env bash
# bench/realtime.sh: streams trades from the local fake provider into a
# scratch cluster at rising rates and reports, per rate, the rows stored
# per second, the latency from the fake making a trade to its row being
# committed (p50/p99), trades lost, and the private memory of the streamer
# and of its storer at start and end, with a COPY baseline of the same run.
# Not a test: nothing asserts.  Details in bench/realtime.py.
#   usage: [PRIVATE_PG=/tmp/pgi-realtime | SYSTEM_PG=1] [SYNCHRONOUS_COMMIT=off] [FLUSH_MS=10] [FEED=python] bash bench/realtime.sh [SECONDS=60] [RATES="10000 100000"]
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/bench_lib.sh"
SECS=${1:-60}
RATES=${2:-10000 100000}
PACKAGES="$PACKAGES python3-psycopg2 libssl-dev"
install_packages

# a private copy by default (PRIVATE_PG=/tmp/pgi-realtime): the system's PostgreSQL stays untouched
[ -z "${SYSTEM_PG:-}" ] && PGI=${PRIVATE_PG:-/tmp/pgi-realtime}
bench_build

WORK=$(make_workdir realtime)
cp -r "$ROOT/test/fake_provider" "$ROOT/test/data" "$ROOT/bench" "$WORK/"
gcc -O2 -Wall -Werror -o "$WORK/feed" "$ROOT/bench/feed.c" -lcrypto
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
trap 'stop_scratch_cluster "$WORK"; pkill -f "$WORK/fake_provider" || true; [ -z "${KEEP:-}" ] && rm -rf "$WORK"' EXIT
start_scratch_cluster "$WORK" <<CONF
shared_buffers = 1GB
max_wal_size = 8GB
synchronous_commit = ${SYNCHRONOUS_COMMIT:-on}
sync.flush_interval_ms = ${FLUSH_MS:-10}
track_commit_timestamp = on
CONF
as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres \
  /usr/bin/python3 "$WORK/bench/realtime.py" --work "$WORK" --seconds "$SECS" --feed "${FEED:-c}" $RATES
