-- basic.sql: sync in five minutes.  One source, one subscription, the
-- workers started, a wait until the history is stored, then what a user
-- reads: the status, the bars, the rollup views.
--
--   psql -X -d marketdata -f examples/basic.sql
--
-- Run it as a superuser or a member of sync_admin, in a database where
-- CREATE EXTENSION sync was run (shared_preload_libraries = 'sync').  It
-- asks Binance's public API (no key needed) for one day of 1-minute
-- BTCUSDT bars.  psql variables change what it asks for:
--
--   -v base_url=http://127.0.0.1:8080   another endpoint (a mirror, the test
--                                       suite's fake provider)
--   -v symbol=ETHUSDT                   another symbol (default BTCUSDT)
--   -v day=2022-12-13                   the first day of history (default
--                                       yesterday, UTC)
--   -v wait_seconds=300                 how long to wait for the backfill
--
-- test/tap/028_examples.pl runs this file against the fake provider.

\set ON_ERROR_STOP on

\if :{?base_url}
\else
\set base_url 'https://api.binance.com'
\endif
\if :{?symbol}
\else
\set symbol BTCUSDT
\endif
\if :{?day}
\else
SELECT (now() AT TIME ZONE 'UTC')::date - 1 AS day \gset
\endif
\if :{?wait_seconds}
\else
\set wait_seconds 120
\endif

\echo '== source'
-- A source is a provider and where to reach it; options tune its paging and
-- pace.  The name is what every table and function calls it by.  (The
-- WHERE lets this file run again: adding a name twice is an error.)
SELECT sync_add_source('binance', 'binance', :'base_url',
                       options => '{"page_size": 1000}') AS source_id
 WHERE NOT EXISTS (SELECT FROM sync.sources WHERE name = 'binance');

\echo '== subscription'
-- What to keep in sync: 1-minute bars from the start of :day.  realtime =>
-- false polls REST every sync.poll_interval_ms once caught up; true would
-- follow the provider's WebSocket stream instead.
SELECT sync_subscribe('binance', ARRAY[:'symbol'],
                      history_from => (:'day')::timestamp AT TIME ZONE 'UTC',
                      realtime => false) AS subscription_id
 WHERE NOT EXISTS (SELECT FROM sync.subscriptions x JOIN sync.sources src ON src.id = x.source_id
                    WHERE src.name = 'binance' AND x.symbol = :'symbol' AND x.dataset = 'bars');

\echo '== start'
-- Starts this database's workers; remembered across server restarts.
SELECT sync_start();

-- Wait until every subscription has caught up: phase idle (polling) or
-- realtime (streaming).  Each statement of a DO block sees the latest
-- status (sync_status() reads the workers' shared memory), so a loop with
-- pg_sleep is enough; it gives up after :wait_seconds, or at once on a
-- series in error.
\set QUIET on
SET sync_example.wait_seconds = :'wait_seconds';
DO $$
DECLARE
    deadline timestamptz := clock_timestamp()
        + current_setting('sync_example.wait_seconds')::int * interval '1 second';
    behind   text;
BEGIN
    LOOP
        SELECT string_agg(format('%s/%s: %s', source, symbol, phase), ', ')
          INTO behind
          FROM sync_status()
         WHERE phase NOT IN ('idle', 'realtime');
        EXIT WHEN behind IS NULL;
        -- a permanent error (unknown symbol...) ends the wait at once
        IF behind LIKE '%: error%' OR clock_timestamp() > deadline THEN
            RAISE EXCEPTION 'not caught up: %', behind
                USING HINT = 'SELECT * FROM sync_status() shows the progress and the last error.';
        END IF;
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;
\set QUIET off

\echo '== status'
-- One row per subscription: phase, checkpoint, rows stored and refused,
-- the last error.
SELECT source, symbol, dataset, phase, synced_through, rows_stored, rows_rejected, last_error
  FROM sync_status()
 ORDER BY source, symbol;

\echo '== bars'
-- The bars exactly as the provider sent them (numeric: no rounding).
SELECT count(*) AS bars, min(ts) AS first, max(ts) AS last
  FROM sync.bars
 WHERE source = 'binance' AND symbol = :'symbol';

\echo '== last bars'
SELECT ts, open, high, low, close, volume
  FROM sync.bars
 WHERE source = 'binance' AND symbol = :'symbol'
 ORDER BY ts DESC
 LIMIT 5;

\echo '== bars_1h'
-- Rollups: bars_5m, bars_15m, bars_1h and bars_1d are always current (what
-- the aggregator has not folded in yet is computed on the fly).
SELECT ts, open, high, low, close, volume, vwap
  FROM sync.bars_1h
 WHERE source = 'binance' AND symbol = :'symbol'
   AND ts >= (:'day')::timestamp AT TIME ZONE 'UTC'
   AND ts < ((:'day')::date + 1)::timestamp AT TIME ZONE 'UTC'
 ORDER BY ts;

\echo '== bars_1d'
SELECT ts, open, high, low, close, volume, trades
  FROM sync.bars_1d
 WHERE source = 'binance' AND symbol = :'symbol'
 ORDER BY ts;

\echo '== health'
-- ok / degraded / down for sync, each worker, source, rollup, the pool.
SELECT component, status, detail FROM sync_health() ORDER BY component;
