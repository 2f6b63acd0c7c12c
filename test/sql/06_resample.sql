-- sync_resample(): arguments it refuses, with the message a person sees.
\set SHOW_CONTEXT never
TRUNCATE sync.sources CASCADE;
SELECT sync_add_source('res', 'csv', 'http://127.0.0.1:9') > 0 AS added;
INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap)
SELECT 'res', 'X', '1 minute', '2024-01-02 14:00+00'::timestamptz + i * interval '1 minute',
       10 + i, 12 + i, 9 + i, 11 + i, 100, 3, 10.5 + i
  FROM generate_series(0, 119) i;
-- hourly, daily and session bars
SELECT * FROM sync_resample('res', 'X', '1 hour', '2024-01-02', '2024-01-03');
SELECT * FROM sync_resample('res', 'X', '90 minutes', '2024-01-02 14:00+00', '2024-01-02 16:00+00');
SELECT * FROM sync_resample('res', 'X', '1 day', '2024-01-02', '2024-01-03', 'XNYS');
SELECT * FROM sync_resample('res', 'X', '1 day', '2024-01-03', '2024-01-04', 'XNAS');
-- the views show the same rows before any refresh
SELECT ts, open, high, low, close, volume, trades, vwap FROM sync.bars_1h WHERE symbol = 'X' ORDER BY ts;
-- refused
SELECT * FROM sync_resample('res', 'X', '1 month', '2024-01-02', '2024-01-03');
SELECT * FROM sync_resample('res', 'X', '90 seconds', '2024-01-02', '2024-01-03');
SELECT * FROM sync_resample('res', 'X', '-1 hour', '2024-01-02', '2024-01-03');
SELECT * FROM sync_resample('res', 'X', '1 hour', '2024-01-03', '2024-01-02');
SELECT * FROM sync_resample('res', 'X', '1 hour', NULL, '2024-01-02');
SELECT * FROM sync_resample('nope', 'X', '1 hour', '2024-01-02', '2024-01-03');
SELECT * FROM sync_resample('res', 'X', '1 hour', '2024-01-02', '2024-01-03', 'XLON');
SELECT * FROM sync_resample('res', 'X', '2 days', '2024-01-02', '2024-01-03', 'XNYS');
SELECT sync.refresh_rollups(0);
-- readers may resample and read the views; the refresh is the owner's
SET ROLE sync_reader;
SELECT count(*) FROM sync_resample('res', 'X', '1 hour', '2024-01-02', '2024-01-03');
SELECT count(*) FROM sync.bars_1d;
SELECT sync.refresh_rollups();
RESET ROLE;
SELECT sync.refresh_rollups() > 0 AS refreshed;
TRUNCATE sync.sources CASCADE;
TRUNCATE sync.bars;
SELECT sync.refresh_rollups() > 0 AS refreshed;
SELECT count(*) FROM sync.bars_5m;
