-- advanced.sql: what comes after basic.sql.  Exchange sessions, bars of any
-- width, recurring jobs, retention, holes and refused records, health.
--
--   psql -X -d marketdata -f examples/basic.sql      # first: the source 'binance'
--   psql -X -d marketdata -f examples/advanced.sql
--
-- The same psql variables as basic.sql: -v symbol=BTCUSDT (default),
-- -v day=2022-12-13 (default yesterday, UTC): the day it looks at.
-- Run it as a superuser or a member of sync_admin (schedules and retention
-- are sync_admin's; everything read here is sync_reader's).
--
-- test/tap/028_examples.pl runs this file against the fake provider.

\set ON_ERROR_STOP on

\if :{?symbol}
\else
\set symbol BTCUSDT
\endif
\if :{?day}
\else
SELECT (now() AT TIME ZONE 'UTC')::date - 1 AS day \gset
\endif
-- the day as a UTC range, for every query below
SELECT (:'day')::timestamp AT TIME ZONE 'UTC' AS day_from,
       ((:'day')::date + 1)::timestamp AT TIME ZONE 'UTC' AS day_to \gset

\echo '== session XNYS'
-- sync_resample() with a session: one bar per trading day of the New York
-- Stock Exchange, from its regular hours only (09:30-16:00 New York, DST
-- included; holidays and early closes from sync.session_exceptions).  A
-- crypto pair trades around the clock: this is its NYSE-hours bar.
SELECT ts, open, high, low, close, volume, trades, vwap
  FROM sync_resample('binance', :'symbol', '1 day', :'day_from', :'day_to', 'XNYS');

\echo '== sessions'
SELECT name, timezone, opens, closes, description FROM sync.sessions ORDER BY name;

\echo '== resample 7 minutes'
-- Any whole-minute width, computed from the 1-minute bars on the fly.
-- Buckets are aligned to 2000-01-01 00:00 UTC, like the views: a day's
-- first 7-minute bucket may start the evening before.  The 5m/15m/1h/1d
-- views are kept materialized instead.
SELECT ts, open, high, low, close, volume, trades, vwap
  FROM sync_resample('binance', :'symbol', '7 minutes', :'day_from', :'day_to')
 ORDER BY ts
 LIMIT 10;

\echo '== resample 7 minutes count'
SELECT count(*) AS buckets
  FROM sync_resample('binance', :'symbol', '7 minutes', :'day_from', :'day_to');

\echo '== schedule'
-- A recurring job, cron in UTC: every night at 00:10, a backfill of the day
-- before (repairs whatever the live polling missed).  It returns the first
-- firing time; every firing is a row of sync.job_runs (kind 'scheduled').
-- And once a week on Sunday at 03:00, a run for every hole sync.gaps lists.
SELECT sync_schedule('example nightly', '10 0 * * *',
                     jsonb_build_object('kind', 'backfill', 'source', 'binance',
                                        'symbols', jsonb_build_array(:'symbol'),
                                        'lookback', '1 day', 'align', 'day')) AS nightly_first_run,
       sync_schedule('example gaps', '0 3 * * sun',
                     '{"kind": "gap_repair", "source": "binance"}') AS gaps_first_run;

\echo '== schedules'
SELECT name, cron, job ->> 'kind' AS kind, next_run FROM sync.schedules ORDER BY name;

\echo '== unschedule'
SELECT sync_unschedule('example nightly') AS nightly, sync_unschedule('example gaps') AS gaps;

\echo '== retention'
-- Keep refused records for 30 days and trades for 90; NULL keeps
-- everything (the default).  The scheduler deletes in batches of
-- sync.retention_batch rows every sync.retention_interval_ms.
SELECT sync_set_retention('rejects', '30 days'), sync_set_retention('trades', '90 days');

\echo '== retention policies'
SELECT dataset, keep FROM sync.retention ORDER BY dataset;

\echo '== retention removed'
-- back as it was
SELECT sync_set_retention('rejects', NULL), sync_set_retention('trades', NULL);

\echo '== gaps'
-- Bars missing inside what each subscription has synced (minutes a provider
-- confirmed empty are left out: sync.checked_gaps).  A caught-up job asks
-- again for them every sync.gap_repair_interval_ms.
SELECT source, symbol, bar_interval, gap_from, gap_to, missing_bars
  FROM sync.gaps
 WHERE source = 'binance'
 ORDER BY symbol, gap_from;

\echo '== rejects'
-- Every record validation refused, with the reason and the raw payload.
SELECT reason, count(*) AS records, min(rejected_at) AS first, max(rejected_at) AS last
  FROM sync.rejects
 WHERE source = 'binance'
 GROUP BY reason
 ORDER BY records DESC, reason;

\echo '== rejects latest'
SELECT id, symbol, dataset, reason, left(payload, 120) AS payload
  FROM sync.rejects
 WHERE source = 'binance'
 ORDER BY id DESC
 LIMIT 3;

\echo '== job runs'
SELECT kind, state, count(*) AS runs, sum(rows) AS rows
  FROM sync.job_runs
 GROUP BY kind, state
 ORDER BY kind, state;

\echo '== health'
-- What is not ok, and why: empty when all is well.
SELECT component, status, detail FROM sync_health() WHERE status <> 'ok' ORDER BY component;

\echo '== health summary'
SELECT status, count(*) AS components FROM sync_health() GROUP BY status ORDER BY status;
