-- Schedules, retention, health and metrics: the SQL surface, with the
-- messages a person sees.
\set SHOW_CONTEXT never
TRUNCATE sync.sources CASCADE;
SELECT sync_add_source('ops', 'binance', 'http://127.0.0.1:9') > 0 AS added;
-- when cron expressions fire (UTC), from a fixed moment: Wednesday 2026-11-25 22:30
SELECT expr, sync._cron_next(expr, '2026-11-25 22:30+00') AS next
  FROM unnest(ARRAY['* * * * *', '10 0 * * *', '*/15 9-17 * * mon-fri', '0 3 * * sun', '0 0 1 */3 *',
                    '30 8 1,15 * *', '0 12 13 * fri', '0 0 29 2 *', '@hourly', '@daily', '@weekly',
                    '@monthly', '@yearly', '0 0 * * 7', '5-10/5 23 * dec *', '0 0 31 * *']) expr;
-- the day fields as Vixie cron and pg_cron join them: when either starts
-- with "*" a day must match both, otherwise either (from the same moment)
SELECT e.expr, string_agg(to_char(r.t AT TIME ZONE 'UTC', 'Dy YYYY-MM-DD HH24:MI'), ', ' ORDER BY r.t) AS fires
  FROM unnest(ARRAY['0 0 */2 * mon', '0 0 1,15 * mon', '0 0 * * mon', '0 0 1 * */2', '0 0 *,13 * fri'])
       WITH ORDINALITY e (expr, ord)
 CROSS JOIN LATERAL (WITH RECURSIVE r (t, n) AS (
                         SELECT sync._cron_next(e.expr, '2026-11-25 22:30+00'), 1
                         UNION ALL
                         SELECT sync._cron_next(e.expr, r.t), r.n + 1 FROM r WHERE r.n < 6)
                     SELECT t FROM r) r
 GROUP BY e.ord, e.expr ORDER BY e.ord;
-- a whole year of "0 0 */2 * mon": Mondays, odd days, nothing else
WITH RECURSIVE r (t) AS (SELECT sync._cron_next('0 0 */2 * mon', '2027-01-01 00:00+00')
                         UNION ALL
                         SELECT sync._cron_next('0 0 */2 * mon', r.t) FROM r WHERE r.t < '2028-01-01')
SELECT count(*) AS firings,
       bool_and(extract(dow FROM t AT TIME ZONE 'UTC') = 1 AND extract(day FROM t AT TIME ZONE 'UTC')::integer % 2 = 1) AS odd_mondays_only,
       count(*) = (SELECT count(*) FROM generate_series(date '2027-01-01', date '2027-12-31', '1 day') d
                    WHERE extract(dow FROM d) = 1 AND extract(day FROM d)::integer % 2 = 1) AS every_one
  FROM r WHERE t < '2028-01-01';
-- refused
SELECT sync_schedule('bad', '* * * *', '{"kind": "gap_repair", "source": "ops"}');
SELECT sync_schedule('bad', '60 * * * *', '{"kind": "gap_repair", "source": "ops"}');
SELECT sync_schedule('bad', '* 24 * * *', '{"kind": "gap_repair", "source": "ops"}');
SELECT sync_schedule('bad', '* * 0 * *', '{"kind": "gap_repair", "source": "ops"}');
SELECT sync_schedule('bad', '* * * foo *', '{"kind": "gap_repair", "source": "ops"}');
SELECT sync_schedule('bad', '* * * * 5-2', '{"kind": "gap_repair", "source": "ops"}');
SELECT sync_schedule('bad', '0 0 30 2 *', '{"kind": "gap_repair", "source": "ops"}');
SELECT sync_schedule('', '@daily', '{"kind": "gap_repair", "source": "ops"}');
SELECT sync_schedule('bad', '@daily', '[1]');
SELECT sync_schedule('bad', '@daily', '{"kind": "vacuum"}');
SELECT sync_schedule('bad', '@daily', '{"kind": "gap_repair", "source": "ops", "when": "now"}');
SELECT sync_schedule('bad', '@daily', '{"kind": "gap_repair", "source": "nope"}');
SELECT sync_schedule('bad', '@daily', '{"kind": "gap_repair", "source": "ops", "symbols": []}');
SELECT sync_schedule('bad', '@daily', '{"kind": "backfill", "source": "ops", "lookback": "1 day"}');
SELECT sync_schedule('bad', '@daily', '{"kind": "backfill", "source": "ops", "symbols": ["X"], "lookback": "soon"}');
SELECT sync_schedule('bad', '@daily', '{"kind": "backfill", "source": "ops", "symbols": ["X"], "lookback": "-1 day"}');
SELECT sync_schedule('bad', '@daily', '{"kind": "backfill", "source": "ops", "symbols": ["X"], "lookback": "1 day", "align": "year"}');
SELECT sync_schedule('bad', '@daily', '{"kind": "backfill", "source": "ops", "symbols": ["X"], "lookback": "1 day", "dataset": "trades"}');
SELECT sync_unschedule('nope');
-- accepted, replaced, listed, removed
SELECT sync_schedule('nightly', '10 0 * * *',
       '{"kind": "backfill", "source": "ops", "symbols": ["BTCUSDT"], "lookback": "1 day", "align": "day"}') > now() AS scheduled;
SELECT sync_schedule('nightly', '20 0 * * *',
       '{"kind": "backfill", "source": "ops", "symbols": ["BTCUSDT", "ETHUSDT"], "lookback": "1 day", "align": "day"}') > now() AS replaced;
SELECT name, cron, job, enabled FROM sync.schedules;
SELECT sync_unschedule('nightly');
SELECT count(*) FROM sync.schedules;
-- retention
SELECT sync_set_retention('bars', '90 days');
SELECT sync_set_retention('bars_1d', '10 years');
SELECT sync_set_retention('bars', '30 days');
SELECT dataset, keep FROM sync.retention ORDER BY dataset;
SELECT sync_set_retention('bars_1d', NULL);
SELECT dataset, keep FROM sync.retention ORDER BY dataset;
SELECT sync_set_retention('candles', '1 day');
SELECT sync_set_retention('bars', '-1 day');
SELECT sync_set_retention('bars', NULL);
-- health and metrics while sync is not running in this database
SELECT sync_subscribe('ops', ARRAY['BTCUSDT'], realtime => false) > 0 AS subscribed;
SELECT component, status, detail FROM sync_health() WHERE component !~ '^rollup';
SELECT line FROM regexp_split_to_table(sync_metrics(), E'\n') line
 WHERE line ~ '^(# TYPE|sync_up|sync_rows|sync_worker_up|sync_series_phase)';
