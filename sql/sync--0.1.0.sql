/*
 * sync--0.1.0.sql: install script of the sync extension.
 *
 * Owns the catalog (sources, their secrets, subscriptions), the data tables
 * (bars, trades, rejects, job_runs), the roles and grants, and the SQL-level
 * API functions whose work is argument validation and catalog writes.  The
 * functions that touch background workers or shared memory are C and live in
 * src/api_control.c.
 *
 * API functions land in the extension's schema (@extschema@); data and
 * catalog live in schema "sync".  Every SECURITY DEFINER function pins its
 * search_path, and every name inside one is schema-qualified.
 */

\echo Use "CREATE EXTENSION sync" to load this file. \quit

-- The data lives in a schema of its own, "sync", made here.  This script
-- runs only at CREATE EXTENSION (a fresh install is this script and then
-- every update script), so a schema of that name is never the extension's:
-- say so, and how to get on, before anything is created.
DO $schema$
DECLARE
    owner   text;
    members bigint;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(n.nspowner),
           (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid)
           + (SELECT count(*) FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid)
      INTO owner, members
      FROM pg_catalog.pg_namespace n WHERE n.nspname = 'sync';
    IF FOUND THEN
        RAISE EXCEPTION 'schema "sync" already exists'
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = format('The extension sync keeps its tables in a schema of its own named "sync"; '
                                  'the one in this database (owner %s; relations and functions in it: %s) is not the extension''s.',
                                  owner, members),
                  HINT = 'Rename it (ALTER SCHEMA sync RENAME TO sync_old) or drop it, then run CREATE EXTENSION sync again. '
                         'CREATE EXTENSION sync SCHEMA s puts the API functions in another schema s, not the tables.';
    END IF;
END
$schema$;

-- Roles are cluster-wide: made by the first CREATE EXTENSION sync in any
-- database of the cluster, reused by the others, and left in place by DROP
-- EXTENSION (another database may use them; DROP ROLE them once no database
-- has sync).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sync_reader') THEN
        CREATE ROLE sync_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sync_admin') THEN
        CREATE ROLE sync_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                    WHERE m.roleid = 'sync_reader'::pg_catalog.regrole
                      AND m.member = 'sync_admin'::pg_catalog.regrole) THEN
        GRANT sync_reader TO sync_admin;
    END IF;
END
$roles$;

CREATE SCHEMA sync;
GRANT USAGE ON SCHEMA sync TO sync_reader;

-- Catalog ---------------------------------------------------------------

CREATE TABLE sync.sources (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    provider    text NOT NULL
                CHECK (provider IN ('binance', 'alpaca', 'polygon', 'coinbase', 'csv')),
    base_url    text,
    stream_url  text,
    options     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sync.sources IS 'market-data providers; credentials live apart in sync.source_secrets';

-- Readable by the extension owner only: no GRANT is ever made on it.
CREATE TABLE sync.source_secrets (
    source_id   integer PRIMARY KEY REFERENCES sync.sources (id) ON DELETE CASCADE,
    credentials jsonb NOT NULL
);
REVOKE ALL ON sync.source_secrets FROM PUBLIC;

CREATE TABLE sync.subscriptions (
    id              serial PRIMARY KEY,
    source_id       integer NOT NULL REFERENCES sync.sources (id) ON DELETE CASCADE,
    symbol          text NOT NULL,
    dataset         text NOT NULL CHECK (dataset IN ('bars', 'trades')),
    bar_interval    interval NOT NULL,
    history_from    timestamptz,
    realtime        boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- progress, written by the worker in the same transaction as the data
    synced_through  timestamptz,
    rows_stored     bigint NOT NULL DEFAULT 0,
    rows_rejected   bigint NOT NULL DEFAULT 0,
    state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'error')),
    last_error      text,
    last_error_at   timestamptz,
    UNIQUE (source_id, symbol, dataset, bar_interval)
);

-- Data ------------------------------------------------------------------

CREATE TABLE sync.bars (
    source       text NOT NULL,
    symbol       text NOT NULL,
    bar_interval interval NOT NULL,
    ts           timestamptz NOT NULL,
    open         numeric NOT NULL,
    high         numeric NOT NULL,
    low          numeric NOT NULL,
    close        numeric NOT NULL,
    volume       numeric NOT NULL,
    trades       bigint,
    vwap         numeric,
    PRIMARY KEY (source, symbol, bar_interval, ts)
);
COMMENT ON TABLE sync.bars IS 'OHLCV bars exactly as the provider sent them; ts is the bar''s open time';

CREATE TABLE sync.trades (
    source   text NOT NULL,
    symbol   text NOT NULL,
    ts       timestamptz NOT NULL,
    trade_id text NOT NULL,
    price    numeric NOT NULL,
    size     numeric NOT NULL,
    side     text CHECK (side IN ('buy', 'sell')),
    PRIMARY KEY (source, symbol, trade_id)
);
CREATE INDEX trades_symbol_ts_idx ON sync.trades (source, symbol, ts);

CREATE TABLE sync.rejects (
    id          bigserial PRIMARY KEY,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL,
    symbol      text,
    dataset     text,
    reason      text NOT NULL,
    payload     text
);

CREATE TABLE sync.job_runs (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('backfill', 'follow', 'scheduled')),
    subscription_id integer REFERENCES sync.subscriptions (id) ON DELETE SET NULL,
    source          text NOT NULL,
    symbol          text,
    dataset         text,
    bar_interval    interval,
    range_from      timestamptz,
    range_to        timestamptz,
    requested       boolean NOT NULL DEFAULT false,  -- a one-off job from sync_backfill()
    checkpoint      timestamptz,                     -- how far a requested job got
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    state           text NOT NULL DEFAULT 'running'
                    CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'interrupted')),
    rows            bigint NOT NULL DEFAULT 0,
    rows_rejected   bigint NOT NULL DEFAULT 0,
    error           text
);
CREATE INDEX job_runs_subscription_idx ON sync.job_runs (subscription_id, started_at);
CREATE INDEX job_runs_open_requests_idx ON sync.job_runs (id)
    WHERE requested AND state IN ('pending', 'running');

-- Stretches without bars that the provider was asked for and had nothing
-- (a quiet market): written by the workers, so sync.gaps can tell them
-- from data that is missing.
CREATE TABLE sync.checked_gaps (
    source       text NOT NULL,
    symbol       text NOT NULL,
    bar_interval interval NOT NULL,
    gap_from     timestamptz NOT NULL,
    gap_to       timestamptz NOT NULL,
    checked_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (gap_from < gap_to)
);
CREATE INDEX checked_gaps_idx ON sync.checked_gaps (source, symbol, bar_interval, gap_from);
CREATE INDEX checked_gaps_end_idx ON sync.checked_gaps (source, symbol, bar_interval, gap_to);

-- Holes between stored bars of a subscription, inside what it has synced,
-- that the provider has not confirmed as empty.  Workers re-request them.
CREATE VIEW sync.gaps AS
WITH subs AS (
    SELECT src.name AS source, x.symbol, x.bar_interval, x.synced_through,
           -- the first bar the job asks for: history_from rounded up to a bar
           CASE WHEN x.history_from IS NULL THEN NULL
                WHEN date_bin(x.bar_interval, x.history_from, 'epoch') = x.history_from THEN x.history_from
                ELSE date_bin(x.bar_interval, x.history_from, 'epoch') + x.bar_interval END AS synced_from
      FROM sync.subscriptions x JOIN sync.sources src ON src.id = x.source_id
     WHERE x.dataset = 'bars' AND x.synced_through IS NOT NULL
), seq AS (
    SELECT s.source, s.symbol, s.bar_interval, s.synced_from, s.synced_through, b.ts,
           lead(b.ts) OVER w AS next_ts, row_number() OVER w AS n
      FROM subs s
      JOIN sync.bars b ON b.source = s.source AND b.symbol = s.symbol
                      AND b.bar_interval = s.bar_interval
                      AND b.ts >= coalesce(s.synced_from, '-infinity') AND b.ts < s.synced_through
    WINDOW w AS (PARTITION BY b.source, b.symbol, b.bar_interval ORDER BY b.ts)
), holes AS (
    -- between two stored bars
    SELECT source, symbol, bar_interval, ts + bar_interval AS gap_from, next_ts AS gap_to
      FROM seq WHERE next_ts > ts + bar_interval
    UNION ALL
    -- before the first stored bar
    SELECT source, symbol, bar_interval, synced_from, ts
      FROM seq WHERE n = 1 AND ts > synced_from
    UNION ALL
    -- after the last stored bar
    SELECT source, symbol, bar_interval, ts + bar_interval, synced_through
      FROM seq WHERE next_ts IS NULL AND synced_through > ts + bar_interval
)
SELECT h.source, h.symbol, h.bar_interval, h.gap_from, h.gap_to,
       (extract(epoch FROM h.gap_to - h.gap_from) / extract(epoch FROM h.bar_interval))::bigint AS missing_bars
  FROM holes h
 WHERE NOT coalesce((SELECT range_agg(tstzrange(c.gap_from, c.gap_to))
                       FROM sync.checked_gaps c
                      WHERE c.source = h.source AND c.symbol = h.symbol
                        AND c.bar_interval = h.bar_interval
                        AND c.gap_from < h.gap_to AND c.gap_to > h.gap_from)
                    @> tstzrange(h.gap_from, h.gap_to), false);
COMMENT ON VIEW sync.gaps IS 'missing bars inside the synced range of each subscription; quiet stretches the provider confirmed are not listed';

GRANT SELECT ON sync.sources, sync.subscriptions, sync.bars, sync.trades,
                sync.rejects, sync.job_runs, sync.checked_gaps, sync.gaps TO sync_reader;

-- pg_dump of a database using sync keeps user data, not the empty catalog.
SELECT pg_catalog.pg_extension_config_dump('sync.sources', '');
SELECT pg_catalog.pg_extension_config_dump('sync.sources_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sync.source_secrets', '');
SELECT pg_catalog.pg_extension_config_dump('sync.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('sync.subscriptions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sync.bars', '');
SELECT pg_catalog.pg_extension_config_dump('sync.trades', '');
SELECT pg_catalog.pg_extension_config_dump('sync.rejects', '');
SELECT pg_catalog.pg_extension_config_dump('sync.rejects_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sync.job_runs', '');
SELECT pg_catalog.pg_extension_config_dump('sync.checked_gaps', '');
SELECT pg_catalog.pg_extension_config_dump('sync.job_runs_id_seq', '');

-- Validation helpers (internal) ------------------------------------------

-- Largest page each provider's REST API serves; page_size may not exceed it.
CREATE FUNCTION sync._provider_max_page(provider text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE provider
        WHEN 'binance'  THEN 1000
        WHEN 'alpaca'   THEN 10000
        WHEN 'polygon'  THEN 50000
        WHEN 'coinbase' THEN 300
        WHEN 'csv'      THEN 1000000
    END
$$;

-- Bar intervals each provider can deliver natively.
CREATE FUNCTION sync._provider_intervals(provider text) RETURNS interval[]
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE provider
        WHEN 'binance' THEN '{1 minute,3 minutes,5 minutes,15 minutes,30 minutes,1 hour,2 hours,4 hours,6 hours,8 hours,12 hours,1 day}'::interval[]
        WHEN 'csv'     THEN '{1 minute,3 minutes,5 minutes,15 minutes,30 minutes,1 hour,2 hours,4 hours,6 hours,8 hours,12 hours,1 day}'::interval[]
        WHEN 'alpaca'  THEN '{1 minute,5 minutes,15 minutes,30 minutes,1 hour,4 hours,1 day}'::interval[]
        WHEN 'polygon' THEN '{1 minute,5 minutes,15 minutes,30 minutes,1 hour,4 hours,1 day}'::interval[]
        WHEN 'coinbase' THEN '{1 minute,5 minutes,15 minutes,1 hour,6 hours,1 day}'::interval[]
    END
$$;

-- Raise a person-readable error for a URL that cannot be used.
CREATE FUNCTION sync._check_url(what text, url text, schemes text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    scheme text;
BEGIN
    IF url IS NULL THEN
        RETURN;
    END IF;
    scheme := lower(substring(url FROM '^([A-Za-z][A-Za-z0-9+.-]*)://'));
    IF scheme IS NULL THEN
        RAISE EXCEPTION 'invalid % "%"', what, url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A URL must start with a scheme such as "https://".',
                  HINT = format('Give an absolute URL, e.g. %s.',
                                CASE WHEN schemes @> '{wss}' THEN 'wss://stream.binance.com:9443'
                                     ELSE 'https://api.binance.com' END);
    END IF;
    IF NOT scheme = ANY (schemes) THEN
        RAISE EXCEPTION 'unsupported scheme "%" in % "%"', scheme, what, url
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Supported schemes here: %s.', array_to_string(schemes, ', '));
    END IF;
    IF scheme <> 'file' AND url !~ '^[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~-]+(:[0-9]{1,5})?(/[^\s]*)?$' THEN
        RAISE EXCEPTION 'invalid % "%"', what, url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The host part is missing or contains characters a host name cannot have.';
    END IF;
    IF scheme = 'file' AND url !~ '^file:///' THEN
        RAISE EXCEPTION 'invalid % "%"', what, url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A file URL names an absolute path: file:///path/to/directory.';
    END IF;
END
$$;

-- Validate a source's options object key by key.
CREATE FUNCTION sync._check_options(provider text, options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    v jsonb;
    n numeric;
BEGIN
    IF options IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got a JSON %s.', jsonb_typeof(options)),
                  HINT = 'Example: ''{"page_size": 1000, "requests_per_minute": 1200}''.';
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(options) LOOP
        IF k IN ('page_size', 'requests_per_minute', 'timeout_ms', 'poll_interval_ms') THEN
            IF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric) THEN
                RAISE EXCEPTION 'option "%" must be a whole number', k
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = format('Got %s.', v::text);
            END IF;
            n := (v #>> '{}')::numeric;
            IF n < 1 OR (k = 'page_size' AND n > sync._provider_max_page(provider)) OR n > 2147483647 THEN
                RAISE EXCEPTION 'option "%" is out of range: %', k, v::text
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = CASE WHEN k = 'page_size'
                                        THEN format('Provider "%s" serves at most %s records per request.',
                                                    provider, sync._provider_max_page(provider))
                                        ELSE 'The value must be at least 1.' END;
            END IF;
        ELSIF k = 'feed' AND provider = 'alpaca' THEN
            IF v NOT IN ('"iex"', '"sip"', '"otc"', '"delayed_sip"') THEN
                RAISE EXCEPTION 'option "feed" must be one of iex, sip, otc, delayed_sip'
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v::text);
            END IF;
        ELSE
            RAISE EXCEPTION 'unknown option "%" for provider "%"', k, provider
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Known options: page_size, requests_per_minute, timeout_ms, poll_interval_ms'
                             || CASE WHEN provider = 'alpaca' THEN ', feed' ELSE '' END || '.';
        END IF;
    END LOOP;
END
$$;

-- API: sources -------------------------------------------------------------

CREATE FUNCTION @extschema@.sync_add_source(name text, provider text,
                                           base_url text DEFAULT NULL,
                                           stream_url text DEFAULT NULL,
                                           credentials jsonb DEFAULT NULL,
                                           options jsonb DEFAULT '{}')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id integer;
    k text;
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9_.-]{1,63}$' THEN
        RAISE EXCEPTION 'invalid source name "%"', coalesce(name, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A source name is 1 to 63 letters, digits, "_", "." or "-".';
    END IF;
    IF provider IS NULL OR provider NOT IN ('binance', 'alpaca', 'polygon', 'coinbase', 'csv') THEN
        RAISE EXCEPTION 'unknown provider "%"', coalesce(provider, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Known providers: binance, alpaca, polygon, coinbase, csv.';
    END IF;
    IF provider = 'csv' THEN
        IF base_url IS NULL THEN
            RAISE EXCEPTION 'provider "csv" needs a base_url'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Point base_url at the directory holding the CSV files (file:///... or https://...).';
        END IF;
        PERFORM sync._check_url('base_url', base_url, '{http,https,file}');
        IF base_url ~* '^file:' AND NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user) THEN
            RAISE EXCEPTION 'only superusers may add a file:// source'
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = format('Source "%s" would read files of the database server.', name),
                      HINT = 'Serve the files over https:// or ask a superuser to add the source.';
        END IF;
    ELSE
        PERFORM sync._check_url('base_url', base_url, '{http,https}');
    END IF;
    PERFORM sync._check_url('stream_url', stream_url, '{ws,wss}');
    IF provider = 'csv' AND stream_url IS NOT NULL THEN
        RAISE EXCEPTION 'provider "csv" has no stream'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'CSV files are read in batches; there is no live stream to connect to.';
    END IF;
    PERFORM sync._check_options(provider, coalesce(options, '{}'));
    IF credentials IS NOT NULL THEN
        IF jsonb_typeof(credentials) <> 'object' THEN
            RAISE EXCEPTION 'credentials must be a JSON object'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Example: ''{"key_id": "...", "secret": "..."}''.';
        END IF;
        FOR k IN SELECT jsonb_object_keys(credentials) LOOP
            IF k NOT IN ('key_id', 'secret') THEN
                RAISE EXCEPTION 'unknown credentials key "%"', k
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Credentials take the keys key_id and secret.';
            END IF;
            IF jsonb_typeof(credentials -> k) <> 'string' THEN
                RAISE EXCEPTION 'credentials key "%" must be a string', k
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;
    END IF;
    IF provider IN ('alpaca') AND (credentials IS NULL OR NOT credentials ?& '{key_id,secret}') THEN
        RAISE EXCEPTION 'provider "alpaca" needs credentials with key_id and secret'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass credentials => ''{"key_id": "...", "secret": "..."}''.';
    END IF;
    IF provider = 'polygon' AND (credentials IS NULL OR NOT credentials ? 'secret') THEN
        RAISE EXCEPTION 'provider "polygon" needs credentials with its API key as secret'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass credentials => ''{"secret": "<api key>"}''.';
    END IF;
    IF EXISTS (SELECT 1 FROM sync.sources s WHERE s.name = sync_add_source.name) THEN
        RAISE EXCEPTION 'source "%" already exists', name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Drop it with sync_drop_source() first, or pick another name.';
    END IF;

    INSERT INTO sync.sources (name, provider, base_url, stream_url, options)
    VALUES (name, provider, rtrim(base_url, '/'), rtrim(stream_url, '/'), coalesce(options, '{}'))
    RETURNING id INTO new_id;
    IF credentials IS NOT NULL THEN
        INSERT INTO sync.source_secrets (source_id, credentials) VALUES (new_id, credentials);
    END IF;
    RETURN new_id;
END
$$;

CREATE FUNCTION @extschema@.sync_drop_source(name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM sync.sources s WHERE s.name = sync_drop_source.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'source "%" does not exist', coalesce(name, 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'See SELECT name FROM sync.sources for the sources there are.';
    END IF;
END
$$;

-- API: subscriptions -------------------------------------------------------

CREATE FUNCTION sync._source_id(source text) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sid integer;
BEGIN
    SELECT id INTO sid FROM sync.sources WHERE name = source;
    IF sid IS NULL THEN
        RAISE EXCEPTION 'source "%" does not exist', coalesce(source, 'NULL')
            USING ERRCODE = 'undefined_object',
                  HINT = 'Add it first with sync_add_source().';
    END IF;
    RETURN sid;
END
$$;

CREATE FUNCTION sync._check_dataset(dataset text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF dataset IS NULL OR dataset NOT IN ('bars', 'trades') THEN
        RAISE EXCEPTION 'unknown dataset "%"', coalesce(dataset, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A dataset is ''bars'' or ''trades''.';
    END IF;
END
$$;

CREATE FUNCTION sync._check_symbols(symbols text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s text;
BEGIN
    IF symbols IS NULL OR cardinality(symbols) = 0 THEN
        RAISE EXCEPTION 'no symbols given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass at least one symbol, e.g. ARRAY[''BTCUSDT''].';
    END IF;
    FOREACH s IN ARRAY symbols LOOP
        IF s IS NULL OR s !~ '^[A-Za-z0-9._:/-]{1,32}$' THEN
            RAISE EXCEPTION 'invalid symbol "%"', coalesce(s, 'NULL')
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'A symbol is 1 to 32 letters, digits, ".", "_", ":", "/" or "-".';
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION @extschema@.sync_subscribe(source text, symbols text[],
                                          dataset text DEFAULT 'bars',
                                          bar_interval interval DEFAULT '1 minute',
                                          history_from timestamptz DEFAULT NULL,
                                          realtime boolean DEFAULT true)
RETURNS SETOF integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sid integer;
    prov text;
    s text;
    new_id integer;
BEGIN
    sid := sync._source_id(source);
    SELECT provider INTO prov FROM sync.sources WHERE id = sid;
    PERFORM sync._check_symbols(symbols);
    PERFORM sync._check_dataset(dataset);
    IF dataset = 'bars' THEN
        IF bar_interval IS NULL OR NOT bar_interval = ANY (sync._provider_intervals(prov)) THEN
            RAISE EXCEPTION 'bar_interval "%" is not offered by provider "%"', coalesce(bar_interval::text, 'NULL'), prov
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Intervals offered: %s.', array_to_string(sync._provider_intervals(prov), ', '));
        END IF;
    ELSE
        -- trades have no interval; keep a fixed value so the unique key works
        bar_interval := '0'::interval;
    END IF;
    IF history_from IS NOT NULL AND history_from > now() THEN
        RAISE EXCEPTION 'history_from % is in the future', history_from
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the time to backfill from, or NULL for no backfill.';
    END IF;
    IF realtime IS NULL THEN
        RAISE EXCEPTION 'realtime must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF prov = 'csv' AND realtime THEN
        RAISE EXCEPTION 'provider "csv" cannot stream in real time'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Subscribe with realtime => false; new files are picked up on each poll.';
    END IF;
    FOREACH s IN ARRAY symbols LOOP
        IF EXISTS (SELECT 1 FROM sync.subscriptions x
                   WHERE x.source_id = sid AND x.symbol = s AND x.dataset = sync_subscribe.dataset
                     AND x.bar_interval = sync_subscribe.bar_interval) THEN
            RAISE EXCEPTION 'subscription to % % of "%" already exists', s, dataset, source
                USING ERRCODE = 'duplicate_object',
                      HINT = 'It keeps its checkpoint; sync_backfill() fills an earlier range, sync_unsubscribe() first starts it anew.';
        END IF;
        INSERT INTO sync.subscriptions (source_id, symbol, dataset, bar_interval, history_from, realtime)
        VALUES (sid, s, dataset, bar_interval, history_from, realtime)
        RETURNING id INTO new_id;
        RETURN NEXT new_id;
    END LOOP;
END
$$;

CREATE FUNCTION @extschema@.sync_unsubscribe(source text, symbols text[], dataset text DEFAULT 'bars')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sid integer;
    n integer;
BEGIN
    sid := sync._source_id(source);
    PERFORM sync._check_symbols(symbols);
    PERFORM sync._check_dataset(dataset);
    DELETE FROM sync.subscriptions x
     WHERE x.source_id = sid AND x.symbol = ANY (symbols) AND x.dataset = sync_unsubscribe.dataset;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

CREATE FUNCTION @extschema@.sync_backfill(source text, symbol text, dataset text,
                                         from_ts timestamptz, to_ts timestamptz,
                                         bar_interval interval DEFAULT '1 minute')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sid integer;
    prov text;
    job bigint;
BEGIN
    sid := sync._source_id(source);
    SELECT provider INTO prov FROM sync.sources WHERE id = sid;
    PERFORM sync._check_symbols(ARRAY[symbol]);
    PERFORM sync._check_dataset(dataset);
    IF dataset = 'trades' THEN
        RAISE EXCEPTION 'historical trades cannot be backfilled by this version of sync'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Backfill bars; trades arrive through realtime subscriptions.';
    END IF;
    IF bar_interval IS NULL OR NOT bar_interval = ANY (sync._provider_intervals(prov)) THEN
        RAISE EXCEPTION 'bar_interval "%" is not offered by provider "%"', coalesce(bar_interval::text, 'NULL'), prov
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Intervals offered: %s.', array_to_string(sync._provider_intervals(prov), ', '));
    END IF;
    IF from_ts IS NULL OR to_ts IS NULL OR from_ts >= to_ts THEN
        RAISE EXCEPTION 'invalid backfill range [%, %)', coalesce(from_ts::text, 'NULL'), coalesce(to_ts::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass from_ts < to_ts.';
    END IF;
    IF from_ts > now() THEN
        RAISE EXCEPTION 'backfill range starts in the future: %', from_ts
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO sync.job_runs (kind, requested, state, subscription_id, source, symbol, dataset,
                               bar_interval, range_from, range_to)
    VALUES ('backfill', true, 'pending',
            (SELECT x.id FROM sync.subscriptions x
              WHERE x.source_id = sid AND x.symbol = sync_backfill.symbol
                AND x.dataset = sync_backfill.dataset AND x.bar_interval = sync_backfill.bar_interval),
            source, symbol, dataset, bar_interval, from_ts, least(to_ts, now()))
    RETURNING id INTO job;
    RETURN job;
END
$$;

-- API: running (C, src/api_control.c) ---------------------------------------

CREATE FUNCTION @extschema@.sync_start() RETURNS boolean
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'sync_start';

CREATE FUNCTION @extschema@.sync_stop() RETURNS boolean
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'sync_stop';

-- Live state of this database's workers, from shared memory.
CREATE FUNCTION sync._worker_status(
    OUT subscription_id integer, OUT worker_pid integer, OUT phase text,
    OUT newest_event timestamptz,
    OUT last_error text, OUT last_error_at timestamptz, OUT retry_at timestamptz)
RETURNS SETOF record
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'sync_worker_status';

CREATE FUNCTION sync._supervisor_pid() RETURNS integer
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'sync_supervisor_pid';

CREATE FUNCTION @extschema@.sync_status()
RETURNS TABLE(source text, symbol text, dataset text, bar_interval interval,
              phase text, worker_pid integer, synced_through timestamptz,
              backfill_progress real, lag interval,
              rows_stored bigint, rows_rejected bigint,
              last_error text, last_error_at timestamptz, retry_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT src.name, s.symbol, s.dataset,
           CASE WHEN s.dataset = 'bars' THEN s.bar_interval END,
           CASE WHEN s.state = 'error' THEN 'error'
                WHEN w.phase IS NOT NULL THEN w.phase
                WHEN sync._supervisor_pid() IS NOT NULL THEN 'pending'
                ELSE 'stopped' END,
           w.worker_pid,
           s.synced_through,
           CASE WHEN s.history_from IS NULL THEN NULL
                WHEN s.synced_through IS NULL THEN 0::real
                ELSE least(1, greatest(0,
                       extract(epoch FROM s.synced_through - s.history_from)
                       / nullif(extract(epoch FROM now() - s.history_from), 0)))::real END,
           CASE WHEN w.phase = 'realtime' THEN now() - w.newest_event END,
           s.rows_stored, s.rows_rejected,
           coalesce(w.last_error, s.last_error),
           coalesce(w.last_error_at, s.last_error_at),
           w.retry_at
      FROM sync.subscriptions s
      JOIN sync.sources src ON src.id = s.source_id
      LEFT JOIN sync._worker_status() w ON w.subscription_id = s.id
     ORDER BY src.name, s.symbol, s.dataset, s.bar_interval
$$;

-- Grants -----------------------------------------------------------------

REVOKE ALL ON FUNCTION @extschema@.sync_add_source(text, text, text, text, jsonb, jsonb),
                       @extschema@.sync_drop_source(text),
                       @extschema@.sync_subscribe(text, text[], text, interval, timestamptz, boolean),
                       @extschema@.sync_unsubscribe(text, text[], text),
                       @extschema@.sync_backfill(text, text, text, timestamptz, timestamptz, interval),
                       @extschema@.sync_start(),
                       @extschema@.sync_stop()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_add_source(text, text, text, text, jsonb, jsonb),
                          @extschema@.sync_drop_source(text),
                          @extschema@.sync_subscribe(text, text[], text, interval, timestamptz, boolean),
                          @extschema@.sync_unsubscribe(text, text[], text),
                          @extschema@.sync_backfill(text, text, text, timestamptz, timestamptz, interval),
                          @extschema@.sync_start(),
                          @extschema@.sync_stop()
    TO sync_admin;
REVOKE ALL ON FUNCTION @extschema@.sync_status(), sync._worker_status(), sync._supervisor_pid() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_status(), sync._worker_status(), sync._supervisor_pid() TO sync_reader;
