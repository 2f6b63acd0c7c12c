-- sync_subscribe / sync_unsubscribe: every argument is checked.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE sync.sources CASCADE;
SELECT sync_add_source('bn', 'binance', 'http://127.0.0.1:9');
SELECT sync_add_source('files', 'csv', 'https://data.example.com/spot');
SELECT sync_subscribe('bn', ARRAY['BTCUSDT', 'ETHUSDT']) AS ids;
SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], 'bars', '5 minutes', '2024-01-01', false);
SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], 'trades');
SELECT src.name, s.symbol, s.dataset, s.bar_interval, s.history_from, s.realtime, s.state
  FROM sync.subscriptions s JOIN sync.sources src ON src.id = s.source_id ORDER BY s.id;
-- errors
SELECT sync_subscribe('nope', ARRAY['BTCUSDT']);
SELECT sync_subscribe('bn', ARRAY[]::text[]);
SELECT sync_subscribe('bn', NULL);
SELECT sync_subscribe('bn', ARRAY['BTC USDT']);
SELECT sync_subscribe('bn', ARRAY['ETHBTC', NULL]);
SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], 'quotes');
SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], 'bars', '7 minutes');
SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], 'bars', NULL);
SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], 'bars', '1 minute', '2999-01-01 00:00+00');
SELECT sync_subscribe('bn', ARRAY['BTCUSDT']);
SELECT sync_subscribe('bn', ARRAY['SOLUSDT'], realtime => NULL);
SELECT sync_subscribe('files', ARRAY['BTCUSDT']);
SELECT sync_subscribe('files', ARRAY['BTCUSDT'], history_from => '2024-01-01', realtime => false) IS NOT NULL AS ok;
-- nothing of a failed call was kept
SELECT count(*) FROM sync.subscriptions WHERE symbol IN ('ETHBTC', 'SOLUSDT');
SELECT sync_unsubscribe('bn', ARRAY['ETHUSDT']);
SELECT sync_unsubscribe('bn', ARRAY['ETHUSDT']);
SELECT sync_unsubscribe('bn', ARRAY['BTCUSDT'], 'trades');
SELECT sync_unsubscribe('nope', ARRAY['BTCUSDT']);
SELECT sync_unsubscribe('bn', ARRAY['BTCUSDT'], 'ticks');
SELECT sync_unsubscribe('bn', ARRAY[]::text[]);
-- sync_backfill: a one-off run, checked like a subscription
SELECT sync_backfill('bn', 'BTCUSDT', 'bars', '2024-01-01', '2024-01-02') > 0 AS queued;
SELECT kind, requested, state, symbol, bar_interval, range_from, range_to, subscription_id IS NOT NULL AS of_subscription
  FROM sync.job_runs WHERE requested;
SELECT sync_backfill('nope', 'BTCUSDT', 'bars', '2024-01-01', '2024-01-02');
SELECT sync_backfill('bn', 'BTC USDT', 'bars', '2024-01-01', '2024-01-02');
SELECT sync_backfill('bn', 'BTCUSDT', 'quotes', '2024-01-01', '2024-01-02');
SELECT sync_backfill('bn', 'BTCUSDT', 'trades', '2024-01-01', '2024-01-02');
SELECT sync_backfill('bn', 'BTCUSDT', 'bars', '2024-01-02', '2024-01-01');
SELECT sync_backfill('bn', 'BTCUSDT', 'bars', NULL, '2024-01-01');
SELECT sync_backfill('bn', 'BTCUSDT', 'bars', '2999-01-01', '2999-01-02');
SELECT sync_backfill('bn', 'BTCUSDT', 'bars', '2024-01-01', '2024-01-02', '2 minutes');
-- dropping a source drops its subscriptions
SELECT sync_drop_source('bn');
SELECT count(*) FROM sync.subscriptions;
