-- Network hardening of sources (issue 11, finding 13): no user name,
-- password, query or fragment in a source's URLs, and each source records
-- whether a superuser created it (the workers let only those reach
-- loopback, private and link-local addresses).
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE sync.sources CASCADE;
-- refused, with a reason and a hint; the password is not repeated
SELECT sync_add_source('x', 'binance', 'https://user:hunter2@api.binance.com');
SELECT sync_add_source('x', 'binance', 'https://user@api.binance.com/api');
SELECT sync_add_source('x', 'binance', stream_url => 'wss://k:s@stream.binance.com:9443');
SELECT sync_add_source('x', 'binance', 'https://api.binance.com/api?x=1');
SELECT sync_add_source('x', 'binance', 'https://api.binance.com#frag');
SELECT sync_add_source('x', 'binance', 'https://api.binance.com/?');
SELECT sync_add_source('x', 'binance', stream_url => 'wss://stream.binance.com:9443/ws?x=1');
SELECT sync_add_source('x', 'csv', 'file:///var/lib/sync?x');
SELECT sync_add_source('x', 'csv', 'https://data.example.com/files#top');
-- an @ in the path is no user name
SELECT sync_add_source('at', 'binance', 'https://api.binance.com/v1/@me') > 0 AS added;
-- who created a source is recorded
SELECT sync_add_source('su', 'binance', 'http://127.0.0.1:9') > 0 AS added;
CREATE ROLE regress_sync_net_admin IN ROLE sync_admin;
SET SESSION AUTHORIZATION regress_sync_net_admin;
SELECT sync_add_source('adm', 'binance', 'http://127.0.0.1:9') > 0 AS added;
RESET SESSION AUTHORIZATION;
SELECT name, created_by_superuser FROM sync.sources ORDER BY name;
-- the settings: off, 16 MB and 256 MB by default, reloadable
SELECT name, setting, unit, context FROM pg_settings
 WHERE name IN ('sync.allow_private_addresses', 'sync.max_response_size', 'sync.max_file_size')
 ORDER BY name;
TRUNCATE sync.sources CASCADE;
DROP ROLE regress_sync_net_admin;
