-- Roles: sync_reader reads, sync_admin manages, nobody but the owner reads secrets.
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE ROLE regress_sync_reader LOGIN IN ROLE sync_reader;
CREATE ROLE regress_sync_admin LOGIN IN ROLE sync_admin;
CREATE ROLE regress_sync_nobody LOGIN;
TRUNCATE sync.sources CASCADE;
SELECT sync_add_source('bn', 'binance', credentials => '{"key_id": "AKID", "secret": "TOPSECRET"}');
SET SESSION AUTHORIZATION regress_sync_reader;
SELECT count(*) FROM sync.bars;
SELECT name FROM sync.sources;
SELECT * FROM sync.source_secrets;
SELECT sync_add_source('r', 'binance');
SELECT count(*) FROM sync_status();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_sync_admin;
SELECT sync_add_source('adm', 'binance', credentials => '{"key_id": "K2", "secret": "S2"}') > 0 AS added;
SELECT sync_subscribe('adm', ARRAY['BTCUSDT']) > 0 AS subscribed;
SELECT * FROM sync.source_secrets;
SELECT sync_add_source('f', 'csv', 'file:///tmp');
SELECT sync_drop_source('adm');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_sync_nobody;
SELECT count(*) FROM sync.bars;
SELECT sync_subscribe('bn', ARRAY['BTCUSDT']);
RESET SESSION AUTHORIZATION;
DROP ROLE regress_sync_reader, regress_sync_admin, regress_sync_nobody;
