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
