-- pgTAP: the catalog and data tables, their keys and the roles' privileges.
BEGIN;
SELECT plan(24);

SELECT has_schema('sync');
SELECT tables_are('sync', ARRAY['sources', 'source_secrets', 'subscriptions', 'bars', 'trades', 'checked_gaps',
                                'rejects', 'job_runs', 'rollups', 'rollup_invalidations', 'rollup_5m',
                                'rollup_15m', 'rollup_1h', 'rollup_1d', 'sessions', 'session_exceptions',
                                'schedules', 'retention', 'partitioning', 'bars_default', 'trades_default']);
SELECT col_is_pk('sync', 'bars', ARRAY['source', 'symbol', 'bar_interval', 'ts']::name[], 'bars keyed by source, symbol, interval, ts');
SELECT col_is_pk('sync', 'trades', ARRAY['source', 'symbol', 'trade_id', 'ts']::name[],
                 'trades keyed by source, symbol, trade_id and ts (0.9.0: the partition column is in every key)');
SELECT col_type_is('sync', 'bars', 'open', 'numeric', 'prices are exact numerics');
SELECT col_type_is('sync', 'bars', 'ts', 'timestamp with time zone', 'bar time is timestamptz');
SELECT col_type_is('sync', 'trades', 'price', 'numeric', 'trade price is an exact numeric');

-- privileges
SELECT table_privs_are('sync', 'source_secrets', 'sync_admin', ARRAY[]::text[],
                       'sync_admin cannot read secrets');
SELECT table_privs_are('sync', 'source_secrets', 'sync_reader', ARRAY[]::text[],
                       'sync_reader cannot read secrets');
SELECT table_privs_are('sync', 'source_secrets', 'public', ARRAY[]::text[],
                       'PUBLIC cannot read secrets');
SELECT table_privs_are('sync', 'bars', 'sync_reader', ARRAY['SELECT']);
SELECT table_privs_are('sync', 'subscriptions', 'sync_reader', ARRAY['SELECT']);
SELECT function_privs_are('public', 'sync_add_source',
                          ARRAY['text', 'text', 'text', 'text', 'jsonb', 'jsonb'],
                          'sync_reader', ARRAY[]::text[]);
SELECT function_privs_are('public', 'sync_start', ARRAY[]::text[], 'sync_admin', ARRAY['EXECUTE']);
SELECT is_member_of('sync_reader', 'sync_admin');

-- idempotent storage: the same bar twice is one row; a correction replaces it
INSERT INTO sync.bars VALUES ('s', 'X', '1 minute', '2024-01-01 00:00+00', 1, 2, 0.5, 1.5, 10, 3, NULL);
SELECT throws_ok(
    $$INSERT INTO sync.bars VALUES ('s', 'X', '1 minute', '2024-01-01 00:00+00', 1, 2, 0.5, 1.5, 10, 3, NULL)$$,
    '23505', NULL, 'a bar is stored once per (source, symbol, interval, ts)');
SELECT lives_ok(
    $$INSERT INTO sync.bars VALUES ('s', 'X', '1 minute', '2024-01-01 00:00+00', 1, 2, 0.5, 1.5, 10, 3, NULL)
      ON CONFLICT DO NOTHING$$, 're-sent bar is absorbed');
SELECT is((SELECT open::text FROM sync.bars WHERE symbol = 'X'), '1', 'decimal text kept as sent');

-- constraints catch what the API would refuse
SELECT throws_ok($$INSERT INTO sync.sources (name, provider) VALUES ('k', 'kraken')$$, '23514');
SELECT throws_ok($$INSERT INTO sync.trades VALUES ('s', 'X', now(), '1', 1, 1, 'hold')$$, '23514');

-- dropping a source removes its secret and subscriptions, keeps the data
SELECT sync_add_source('tmp', 'binance', credentials => '{"key_id": "k", "secret": "s"}');
SELECT sync_subscribe('tmp', ARRAY['BTCUSDT']);
SELECT sync_drop_source('tmp');
SELECT is((SELECT count(*) FROM sync.source_secrets), 0::bigint, 'secret dropped with its source');
SELECT is((SELECT count(*) FROM sync.subscriptions), 0::bigint, 'subscriptions dropped with their source');
SELECT is((SELECT count(*) FROM sync.bars), 1::bigint, 'stored data kept');

-- sync_status() of a subscription that never ran
SELECT sync_add_source('st', 'binance');
SELECT sync_subscribe('st', ARRAY['ETHUSDT'], history_from => now() - interval '1 day');
SELECT results_eq($$SELECT phase, backfill_progress, rows_stored FROM sync_status()$$,
                  $$VALUES ('stopped'::text, 0::real, 0::bigint)$$,
                  'a subscription that never ran is stopped with no progress');

SELECT * FROM finish();
ROLLBACK;
