-- sync 0.4.0 -> 0.5.0: hardening against hostile or broken providers.
--
-- What changes for users (each section below says what it adds):
--  - times are kept to the microsecond for every provider and stream;
--    trade ids stay as they were, so rows stored before and after the
--    update never duplicate each other.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.5.0'" to load this file. \quit

-- Crash loops (src/crash_guard.c).  A job whose worker crashed the server
-- twice within ten minutes is not started again: a subscription goes to
-- state 'error' and a requested run to 'failed', with a last error that
-- starts "crashed the server"; a source's streamer shows "stopped: ..." on
-- its sync_health() row while its subscriptions poll REST.  sync_start()
-- releases them all (it calls the function below); re-subscribing starts
-- a subscription anew.

-- Called by sync_start(): what the supervisor stopped for crashing runs
-- again, a run from where it got.
CREATE FUNCTION sync._release_crashed() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    subs integer;
    runs integer;
BEGIN
    UPDATE sync.subscriptions SET state = 'active'
     WHERE state = 'error' AND last_error LIKE 'crashed the server %';
    GET DIAGNOSTICS subs = ROW_COUNT;
    UPDATE sync.job_runs SET state = 'running', finished_at = NULL
     WHERE requested AND state = 'failed' AND error LIKE 'crashed the server %';
    GET DIAGNOSTICS runs = ROW_COUNT;
    RETURN subs + runs;
END
$$;
COMMENT ON FUNCTION sync._release_crashed() IS
    'sync_start(): subscriptions and runs stopped for crashing the server run again';
REVOKE ALL ON FUNCTION sync._release_crashed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync._release_crashed() TO sync_admin;

-- The stream rows of sync_health(): a streamer stopped for crashing says so.
CREATE OR REPLACE FUNCTION sync._stream_health() RETURNS TABLE (component text, status text, detail text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'stream ' || src.name,
           CASE WHEN sync._supervisor_pid() IS NULL OR w.worker_pid IS NULL THEN 'down'
                WHEN w.phase = 'retrying' THEN 'degraded' ELSE 'ok' END,
           CASE WHEN sync._supervisor_pid() IS NULL THEN 'sync is not running'
                WHEN w.worker_pid IS NULL AND w.phase = 'error'
                     THEN 'stopped: ' || coalesce(w.last_error, '?') || '; its subscriptions poll REST'
                WHEN w.worker_pid IS NULL THEN 'no streamer running'
                WHEN w.phase = 'retrying' THEN 'reconnecting: ' || coalesce(w.last_error, '?')
                WHEN w.phase = 'realtime' THEN format('streaming (pid %s) for %s realtime subscription(s)',
                                                      w.worker_pid, n.subs)
                ELSE format('waiting for a caught-up subscription (pid %s)', w.worker_pid) END
      FROM sync.sources src
      CROSS JOIN LATERAL (SELECT count(*) AS subs FROM sync.subscriptions s
                           WHERE s.source_id = src.id AND s.state = 'active' AND s.realtime) n
      LEFT JOIN sync._worker_status() w ON w.subscription_id = -2147483647 + src.id
     WHERE n.subs > 0 AND src.provider <> 'csv'
     ORDER BY src.name
$$;

-- sync_health(): the aggregator and the scheduler stopped for crashing say
-- so too (their slot holds the reason); the rows and their order are
-- those of 0.4.0 otherwise.
CREATE OR REPLACE FUNCTION @extschema@.sync_health() RETURNS TABLE (component text, status text, detail text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT component, status, detail FROM (
        SELECT 1 AS part, h.n, h.component, h.status,
               CASE WHEN w.phase = 'error' AND w.worker_pid IS NULL AND h.status = 'down'
                    THEN 'stopped: ' || coalesce(w.last_error, '?') ELSE h.detail END AS detail
          FROM sync._health_of_jobs() WITH ORDINALITY h(component, status, detail, n)
          LEFT JOIN sync._worker_status() w
                 ON w.subscription_id = CASE h.component WHEN 'aggregator' THEN 0
                                                         WHEN 'scheduler' THEN -2147483647 - 1 END
        UNION ALL
        SELECT 2, s.n, s.component, s.status, s.detail
          FROM sync._stream_health() WITH ORDINALITY s(component, status, detail, n)) x
     ORDER BY part, n
$$;

-- Network: who may make the server connect where (issue 11, finding 13) ----
--
-- A source made by a role that is not a superuser (a sync_admin member) must
-- not make the server fetch from itself, the cloud metadata endpoint or the
-- private network and show the answer in sync.rejects.  The workers connect
-- such sources to public addresses only, unless a superuser turns on
-- sync.allow_private_addresses; the check is made in C on the address
-- actually connected to (src/http.c, src/netguard.c).  The workers learn
-- who made a source from this column.

-- true when the session that created the source was a superuser's
CREATE FUNCTION sync._session_is_superuser() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user), false)
$$;

-- Sources created before 0.5.0 stay NULL (unknown) and are treated like a
-- non-superuser's: a superuser vouches for one with
--   UPDATE sync.sources SET created_by_superuser = true WHERE name = '...';
-- except file:// sources, which only superusers could ever create.  The
-- default is set after the column is added so it is not applied to them.
ALTER TABLE sync.sources ADD COLUMN created_by_superuser boolean;
UPDATE sync.sources SET created_by_superuser = true WHERE base_url ~* '^file:';
ALTER TABLE sync.sources ALTER COLUMN created_by_superuser SET DEFAULT sync._session_is_superuser();
COMMENT ON COLUMN sync.sources.created_by_superuser IS
    'a superuser created the source: its connections may reach loopback, private and link-local addresses; NULL (made before 0.5.0) counts as false';

-- URLs: no query, fragment or user:password (sync appends its own paths and
-- parameters, and a password in base_url would be readable by sync_reader).
CREATE OR REPLACE FUNCTION sync._check_url(what text, url text, schemes text[]) RETURNS void
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
    -- the URL itself is not repeated: it holds a password
    IF url ~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@' THEN
        RAISE EXCEPTION 'invalid %: a URL may not contain a user name or password', what
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The %s has "user@" or "user:password@" before its host.', what),
                  HINT = 'Remove it from the URL; pass credentials => ''{"key_id": "...", "secret": "..."}'' '
                         'to sync_add_source, which keeps them in sync.source_secrets.';
    END IF;
    IF url ~ '[?#]' THEN
        RAISE EXCEPTION 'invalid % "%"', what, url
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The URL contains "%s": a %s may have no query ("?") or fragment ("#").',
                                  substring(url FROM '[?#]'), what),
                  HINT = 'Give the URL up to its path; sync adds the paths and parameters of each request.';
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
