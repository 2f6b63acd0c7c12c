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
 WHERE line ~ '^(# TYPE|sync_up|sync_rows|sync_worker_up)';
