#!/usr/bin/env bash
# demo.sh: the whole pipe on a scratch cluster.  Starts the bundled fake
# provider serving real sample bars and a live trade stream, creates a
# source and subscriptions, runs sync_start(), waits for the background
# workers to backfill and stream, and prints sync_status(), the workers in
# pg_stat_activity, the stored bars and trades, the rollup views and
# `pg_sync status`.  With --serve it then keeps everything running and
# serves the dashboard (pg_sync serve) at http://127.0.0.1:8484/ until
# Ctrl-C.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SERVE=""
[ "${1:-}" = "--serve" ] && SERVE=1

install_packages
build_and_install

WORK=$(make_workdir demo)
cp -r "$ROOT/test/fake_provider" "$ROOT/test/data" "$WORK/"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
PGPORT=$(free_port)
export PGHOST=$WORK PGPORT PGDATABASE=postgres

cleanup() {
  as_pg $PGBIN/pg_ctl -D "$WORK/pgdata" -m fast stop >/dev/null 2>&1 || true
  [ -f "$WORK/fake.pid" ] && kill "$(cat "$WORK/fake.pid")" 2>/dev/null || true
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting the fake provider"
as_pg /usr/bin/python3 "$WORK/fake_provider/fake_provider.py" --data-dir "$WORK/data" \
  --port-file "$WORK/fake.port" --pid-file "$WORK/fake.pid" --live LIVEUSDT:200 >"$WORK/fake.log" 2>&1 &
for _ in $(seq 100); do [ -f "$WORK/fake.port" ] && break; sleep 0.1; done
FAKE_PORT=$(cat "$WORK/fake.port")

echo "== starting a scratch PostgreSQL $PG_MAJOR cluster on port $PGPORT"
as_pg $PGBIN/initdb -D "$WORK/pgdata" -A trust -U postgres >/dev/null
cat >> "$WORK/pgdata/postgresql.conf" <<CONF
shared_preload_libraries = 'sync'
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PGPORT
max_worker_processes = 32
sync.poll_interval_ms = 2000
CONF
as_pg $PGBIN/pg_ctl -D "$WORK/pgdata" -l "$WORK/postgres.log" -w start >/dev/null

psql() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" /usr/bin/psql -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

psql <<SQL
CREATE EXTENSION sync;
SELECT sync_add_source('demo', 'binance', base_url => 'http://127.0.0.1:$FAKE_PORT',
                       stream_url => 'ws://127.0.0.1:$FAKE_PORT') AS source_id;
SELECT sync_subscribe('demo', ARRAY['BTCUSDT', 'ADABTC'], history_from => '2021-11-27 00:00+00',
                      realtime => false) AS subscription_id;
-- live trades: the last minute over REST, then the WebSocket stream
SELECT sync_subscribe('demo', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 minute')
       AS subscription_id;
SELECT sync_start() AS started;
SQL

echo "== waiting for the backfill"
for _ in $(seq 120); do
  n=$(psql -At -c "SELECT count(*) FROM sync_status() WHERE phase IN ('idle', 'realtime')")
  [ "$n" = 3 ] && break
  sleep 0.5
done
echo "== streaming live trades for 5 seconds"
sleep 5
echo "== waiting for the aggregator to fold the backfill into the rollups"
for _ in $(seq 60); do
  [ "$(psql -At -c "SELECT count(*) FROM sync.rollup_invalidations")" = 0 ] && break
  sleep 0.5
done

psql <<'SQL'
\pset footer off
\echo
\echo sync_status():
SELECT source, symbol, phase, worker_pid IS NOT NULL AS has_worker, synced_through,
       round(backfill_progress::numeric, 2) AS progress, rows_stored, rows_rejected, last_error
  FROM sync_status();
\echo the workers, as pg_stat_activity shows them:
SELECT backend_type, application_name FROM pg_stat_activity
 WHERE backend_type LIKE 'sync%' ORDER BY backend_type, application_name;
\echo bars stored by the workers:
SELECT source, symbol, count(*) AS bars, min(ts) AS first, max(ts) AS last,
       sum(volume) AS volume
  FROM sync.bars GROUP BY source, symbol ORDER BY symbol;
\echo the first BTCUSDT bars, exactly as the provider sent them:
SELECT ts, open, high, low, close, volume, trades FROM sync.bars
 WHERE symbol = 'BTCUSDT' ORDER BY ts LIMIT 5;
\echo BTCUSDT from sync.bars_1h (materialized by the aggregator worker, plus anything newer on the fly):
SELECT ts, open, high, low, close, volume, trades, round(vwap, 4) AS vwap
  FROM sync.bars_1h WHERE symbol = 'BTCUSDT' ORDER BY ts LIMIT 6;
\echo BTCUSDT daily, and 15-minute bars of its first hour:
SELECT ts, open, high, low, close, volume FROM sync.bars_1d WHERE symbol = 'BTCUSDT';
SELECT ts, open, high, low, close, volume FROM sync.bars_15m WHERE symbol = 'BTCUSDT' ORDER BY ts LIMIT 4;
\echo any bucket on demand: sync_resample('demo', 'BTCUSDT', '4 hours', ...):
SELECT ts, open, high, low, close, volume
  FROM sync_resample('demo', 'BTCUSDT', '4 hours', '2022-12-13', '2022-12-14');
\echo rollup levels and what is still waiting to be folded in:
SELECT name, bucket, built_from, refreshed_at IS NOT NULL AS refreshed,
       (SELECT count(*) FROM sync.rollup_invalidations) AS pending
  FROM sync.rollups ORDER BY bucket;
\echo live trades, streamed over the WebSocket (lag = now - newest trade stored):
SELECT symbol, phase, lag, rows_stored FROM sync_status() WHERE dataset = 'trades';
SELECT count(*) AS trades, count(DISTINCT trade_id) AS distinct_ids, min(ts) AS first, max(ts) AS last
  FROM sync.trades WHERE symbol = 'LIVEUSDT';
\echo the same trades as 1-minute and 5-minute bars (sync_resample, and bars_5m built from trades):
SELECT ts, open, high, low, close, volume, trades FROM sync_resample('demo', 'LIVEUSDT', '1 minute', now() - interval '2 minutes', now() + interval '1 minute');
SELECT ts, open, high, low, close, volume, trades FROM sync.bars_5m WHERE symbol = 'LIVEUSDT' ORDER BY ts;
\echo missing bars (sync.gaps; quiet minutes the provider confirmed are not listed):
SELECT count(*) AS gaps FROM sync.gaps;
\echo job history:
SELECT kind, symbol, state, rows, rows_rejected, finished_at IS NOT NULL AS finished FROM sync.job_runs ORDER BY id;
SQL

pg_sync() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres "$PGBIN/pg_sync" "$@"; }
echo
echo "== the same from a shell: pg_sync status"
pg_sync status
if [ -n "$SERVE" ]; then
  echo
  echo "== the dashboard: open http://127.0.0.1:8484/ (Ctrl-C stops the server and the demo)"
  pg_sync serve --listen 127.0.0.1:8484 || true
else
  echo
  echo "To watch it live in a browser: bash scripts/demo.sh --serve, then open http://127.0.0.1:8484/"
fi
psql -c 'SELECT sync_stop() AS stopped'

