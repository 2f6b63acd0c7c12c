-- sync_status() before anything runs, and start/stop round trip.
\set SHOW_CONTEXT never
TRUNCATE sync.sources CASCADE;
SELECT sync_add_source('bn', 'binance', 'http://127.0.0.1:9');
SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], history_from => '2024-01-01', realtime => false);
SELECT source, symbol, dataset, bar_interval, phase, worker_pid, synced_through,
       backfill_progress, lag, rows_stored, rows_rejected, last_error, retry_at
  FROM sync_status();
SELECT sync_stop();
-- the age of the data never goes below zero, as sync_status().lag does not:
-- a checkpoint ahead of the clock (a provider's clock runs ahead) is age 0
BEGIN;
UPDATE sync.subscriptions SET synced_through = now() + interval '1 hour';
SELECT data_age_seconds FROM sync.subscription_metrics;
SELECT line FROM regexp_split_to_table(sync_metrics(), E'\n') line WHERE line LIKE 'sync_lag_seconds{%';
UPDATE sync.subscriptions SET synced_through = now() - interval '1 hour';
SELECT data_age_seconds FROM sync.subscription_metrics;
ROLLBACK;
