-- Installing again: the roles outlive DROP EXTENSION (they are the
-- cluster's) and are reused by the next CREATE EXTENSION, here and in a
-- second database; a schema "sync" that is not the extension's stops
-- CREATE EXTENSION with a hint.  Runs last: it drops the extension.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SELECT sync_stop() IS NOT NULL AS stopped;
DROP EXTENSION sync;
SELECT rolname FROM pg_roles WHERE rolname IN ('sync_admin', 'sync_reader') ORDER BY 1;
SELECT count(*) AS schemas_left FROM pg_namespace WHERE nspname = 'sync';
-- a schema of that name that is someone else's
CREATE SCHEMA sync;
CREATE TABLE sync.mine (x integer);
CREATE EXTENSION sync;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'sync';
SELECT count(*) AS still_theirs FROM sync.mine;
DROP SCHEMA sync CASCADE;
-- installed again with the roles as they were
CREATE EXTENSION sync;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'sync') AS latest
  FROM pg_extension WHERE extname = 'sync';
SELECT pg_has_role('sync_admin', 'sync_reader', 'USAGE') AS admin_is_reader,
       (SELECT count(*) FROM pg_auth_members
         WHERE roleid = 'sync_reader'::regrole AND member = 'sync_admin'::regrole) AS grants;
SELECT has_function_privilege('sync_admin', 'sync_add_source(text, text, text, text, jsonb, jsonb)', 'EXECUTE') AS admin_adds,
       has_table_privilege('sync_reader', 'sync.bars', 'SELECT') AS reader_reads,
       has_function_privilege('sync_reader', 'sync_add_source(text, text, text, text, jsonb, jsonb)', 'EXECUTE') AS reader_adds;
-- and in a second database of the same cluster, the roles existing
SELECT current_database() AS regress_db \gset
CREATE DATABASE sync_regress_second;
\c sync_regress_second
SET client_min_messages = warning;
CREATE EXTENSION sync;
SELECT (SELECT count(*) FROM pg_roles WHERE rolname IN ('sync_admin', 'sync_reader')) AS roles,
       (SELECT count(*) FROM pg_auth_members
         WHERE roleid = 'sync_reader'::regrole AND member = 'sync_admin'::regrole) AS grants,
       has_table_privilege('sync_reader', 'sync.bars', 'SELECT') AS reader_reads;
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE sync_regress_second;
-- sync.user_agent names this version (the Makefile passes sync.control's
-- version to the C code), and holds no control character: a line break
-- would end the header (ALTER SYSTEM itself refuses a newline, so a tab
-- stands for them here)
SELECT current_setting('sync.user_agent') = format('sync/%s (PostgreSQL extension)', extversion) AS user_agent_names_version
  FROM pg_extension WHERE extname = 'sync';
ALTER SYSTEM SET sync.user_agent = E'sync\tX-Injected: 1';
ALTER SYSTEM RESET sync.user_agent;
