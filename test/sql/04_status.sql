-- sync_status() before anything runs, and start/stop round trip.
\set SHOW_CONTEXT never
TRUNCATE sync.sources CASCADE;
SELECT sync_add_source('bn', 'binance', 'http://127.0.0.1:9');
SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], history_from => '2024-01-01', realtime => false);
SELECT source, symbol, dataset, bar_interval, phase, worker_pid, synced_through,
       backfill_progress, lag, rows_stored, rows_rejected, last_error, retry_at
  FROM sync_status();
SELECT sync_stop();
