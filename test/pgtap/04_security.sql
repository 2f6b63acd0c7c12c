-- pgTAP: privileges proven from roles that are not the owner.  Readers
-- read; only sync_admin writes sources, subscriptions, schedules and
-- retention; nobody but the owner reads secrets, and secrets appear in no
-- status, health, metrics output or error message; every SECURITY DEFINER
-- function pins search_path; names that look like SQL stay names.
BEGIN;
SELECT plan(41);

CREATE ROLE sec_nobody;
CREATE ROLE sec_reader IN ROLE sync_reader;
CREATE ROLE sec_admin IN ROLE sync_admin;
GRANT USAGE ON SCHEMA sync TO sec_nobody;

SELECT lives_ok($$SELECT sync_add_source('sec', 'polygon', 'http://127.0.0.1:9',
                       credentials => '{"key_id": "KEYID-7f3a", "secret": "TOPSECRET-91c2"}')$$,
                'the owner adds a source with credentials');

-- a role without sync roles
SET SESSION AUTHORIZATION sec_nobody;
SELECT throws_ok('SELECT * FROM sync.bars', '42501', NULL, 'a role without sync_reader cannot read bars');
SELECT throws_ok('SELECT * FROM sync.bars_1h', '42501', NULL, '... nor the rollup views');
SELECT throws_ok('SELECT * FROM sync_status()', '42501', NULL, '... nor call sync_status()');
SELECT throws_ok('SELECT sync_metrics()', '42501', NULL, '... nor sync_metrics()');
RESET SESSION AUTHORIZATION;

-- a reader
SET SESSION AUTHORIZATION sec_reader;
SELECT lives_ok('SELECT * FROM sync.bars, sync.trades, sync.rejects, sync.job_runs LIMIT 1', 'a reader reads the data tables');
SELECT lives_ok('SELECT * FROM sync.bars_5m, sync.bars_15m, sync.bars_1h, sync.bars_1d LIMIT 1', 'a reader reads the rollup views');
SELECT lives_ok('SELECT * FROM sync_status(); SELECT * FROM sync_health(); SELECT sync_metrics()',
                'a reader sees status, health and metrics');
SELECT lives_ok($$SELECT * FROM sync_resample('sec', 'X', '1 hour', '2024-01-01', '2024-01-02')$$, 'a reader resamples');
SELECT throws_ok('SELECT * FROM sync.source_secrets', '42501', NULL, 'a reader cannot read secrets');
SELECT throws_ok($$SELECT sync_add_source('r', 'binance')$$, '42501', NULL, 'a reader cannot add a source');
SELECT throws_ok($$SELECT sync_subscribe('sec', ARRAY['X'])$$, '42501', NULL, 'a reader cannot subscribe');
SELECT throws_ok($$SELECT sync_schedule('s', '@daily', '{"kind": "gap_repair", "source": "sec"}')$$, '42501', NULL,
                 'a reader cannot schedule');
SELECT throws_ok($$SELECT sync_set_retention('bars', '1 day')$$, '42501', NULL, 'a reader cannot set retention');
SELECT throws_ok('SELECT sync_start()', '42501', NULL, 'a reader cannot start workers');
SELECT throws_ok('SELECT sync.refresh_rollups()', '42501', NULL, 'a reader cannot refresh the rollups');
SELECT throws_ok($$INSERT INTO sync.sources (name, provider) VALUES ('x', 'binance')$$, '42501', NULL,
                 'a reader cannot write the catalog tables');
SELECT throws_ok($$DELETE FROM sync.bars$$, '42501', NULL, 'a reader cannot delete data');
RESET SESSION AUTHORIZATION;

-- an admin
SET SESSION AUTHORIZATION sec_admin;
SELECT lives_ok($$SELECT sync_add_source('adm', 'binance', 'http://127.0.0.1:9')$$, 'an admin adds a source');
SELECT lives_ok($$SELECT sync_subscribe('adm', ARRAY['BTCUSDT'], realtime => false)$$, 'an admin subscribes');
SELECT lives_ok($$SELECT sync_schedule('adm nightly', '10 0 * * *',
                   '{"kind": "backfill", "source": "adm", "symbols": ["BTCUSDT"], "lookback": "1 day", "align": "day"}')$$,
                'an admin schedules');
SELECT lives_ok($$SELECT sync_set_retention('rejects', '90 days')$$, 'an admin sets retention');
SELECT throws_ok('SELECT * FROM sync.source_secrets', '42501', NULL, 'an admin cannot read secrets');
SELECT throws_ok($$SELECT sync_add_source('files', 'csv', 'file:///etc')$$, '42501', NULL,
                 'file:// sources are for superusers only');
SELECT throws_ok($$UPDATE sync.sources SET base_url = 'http://evil' WHERE name = 'sec'$$, '42501', NULL,
                 'an admin changes sources only through the API');
RESET SESSION AUTHORIZATION;

-- secrets never shown
SELECT is((SELECT count(*) FROM sync_status() s WHERE s::text ~ 'TOPSECRET|KEYID-7f3a'), 0::bigint,
          'sync_status() shows no secret');
SELECT is((SELECT count(*) FROM sync.sources s WHERE s::text ~ 'TOPSECRET|KEYID-7f3a'), 0::bigint,
          'sync.sources holds no secret');
SELECT ok(sync_metrics() !~ 'TOPSECRET|KEYID-7f3a', 'sync_metrics() shows no secret');
SELECT is((SELECT count(*) FROM sync_health() h WHERE h::text ~ 'TOPSECRET'), 0::bigint, 'sync_health() shows no secret');
CREATE FUNCTION pg_temp.error_text(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    m text; d text; h text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN concat_ws(' | ', m, d, h);
END
$$;
SELECT unalike(pg_temp.error_text($$SELECT sync_add_source('sec2', 'polygon', 'http://127.0.0.1:9',
                 credentials => '{"key_id": "KEYID-7f3a", "secret": "TOPSECRET-91c2", "passphrase": "TOPSECRET-3"}')$$),
               '%TOPSECRET%', 'an error about credentials does not repeat their values');
SELECT unalike(pg_temp.error_text($$SELECT sync_add_source('sec3', 'alpaca', 'http://127.0.0.1:9',
                 credentials => '{"key_id": "KEYID-7f3a"}')$$),
               '%KEYID%', 'nor does an error about a missing secret');
SELECT unalike(pg_temp.error_text($$SELECT sync_add_source('sec4', 'polygon', 'http://127.0.0.1:9',
                 credentials => '"TOPSECRET-91c2"')$$),
               '%TOPSECRET%', 'nor one about credentials that are not an object');

-- every SECURITY DEFINER function pins search_path
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
            JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'sync'
           WHERE p.prosecdef AND NOT coalesce(p.proconfig::text ~ 'search_path=', false)),
          0::bigint, 'every SECURITY DEFINER function of sync sets search_path');
SELECT cmp_ok((SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
                JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'sync'
               WHERE p.prosecdef), '>=', 10::bigint, '(and there are such functions to check)');

-- names that look like SQL are only names, or refused
SELECT throws_ok($$SELECT sync_add_source('x"; DROP TABLE sync.bars; --', 'binance', 'http://127.0.0.1:9')$$,
                 '22023', NULL, 'a source name that is not a plain name is refused');
SELECT lives_ok($$SELECT sync_schedule('x''; DROP TABLE sync.trades; --', '@daily',
                                       '{"kind": "gap_repair", "source": "sec"}')$$,
                'a schedule name with quotes and a statement is stored as a name');
SELECT is((SELECT count(*) FROM sync_health() WHERE component = 'schedule x''; DROP TABLE sync.trades; --'),
          1::bigint, 'sync_health() shows it as written');
SELECT lives_ok($$SELECT sync_unschedule('x''; DROP TABLE sync.trades; --')$$, 'and it is unscheduled by that name');
SELECT is((SELECT count(*) FROM sync_resample('sec', 'A''; DROP TABLE sync.bars; --', '1 hour', '2024-01-01', '2024-01-02')),
          0::bigint, 'a symbol with a statement in it is a symbol with no bars');
SELECT has_table('sync', 'bars', 'sync.bars is still there');
SELECT has_table('sync', 'trades', 'sync.trades is still there');

SELECT * FROM finish();
ROLLBACK;
