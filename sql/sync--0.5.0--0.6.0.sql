-- sync 0.5.0 -> 0.6.0: thousands of series on a default server (issue 12).
--
-- What changes for users (each section below says what it adds):
--  - REST series run on a bounded pool of worker processes (sync.max_workers)
--    instead of one process each; a series waiting for the pool shows phase
--    'queued' in sync_status().

\echo Use "ALTER EXTENSION sync UPDATE TO '0.6.0'" to load this file. \quit

-- Jobs by kind (bgworkers/supervisor.c, src/shmem.h) ---------------------
--
-- Until 0.5.0 a job was named by one integer whose range said its kind (a
-- subscription its id, a requested run its negated id, the aggregator 0,
-- the scheduler and the streamers numbers near INT32_MIN), and SQL joined
-- on those numbers.  sync._worker_status() now also says the kind and the
-- id the kind gives, and the pool worker that carries a series, and since
-- when and why the series waits, if it does.  The first column stays as
-- it was.

DROP FUNCTION sync._worker_status();
CREATE FUNCTION sync._worker_status(
    OUT subscription_id integer, OUT worker_pid integer, OUT phase text,
    OUT newest_event timestamptz,
    OUT last_error text, OUT last_error_at timestamptz, OUT retry_at timestamptz,
    OUT kind text, OUT object_id integer, OUT pool_worker integer,
    OUT waiting_since timestamptz, OUT wait_reason text)
RETURNS SETOF record
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'sync_worker_status';
COMMENT ON FUNCTION sync._worker_status() IS
    'one row per job slot of this database: its kind (subscription, run, aggregator, scheduler, streamer, pool) and id, process, phase, errors, and for a series its pool worker and wait';
REVOKE ALL ON FUNCTION sync._worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync._worker_status() TO sync_reader;

-- A series waiting for a pool worker is 'queued'.
CREATE OR REPLACE FUNCTION sync._phase_names() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT '{queued,pending,backfill,realtime,idle,retrying,error,stopped}'::text[] $$;

-- The stream rows of sync_health(), by kind.
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
      LEFT JOIN sync._worker_status() w ON w.kind = 'streamer' AND w.object_id = src.id
     WHERE n.subs > 0 AND src.provider <> 'csv'
     ORDER BY src.name
$$;

-- The pool row of sync_health(): the pool workers, and the series that
-- waited for one longer than their poll interval (how many, and why).
CREATE FUNCTION sync._pool_health() RETURNS TABLE (component text, status text, detail text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH w AS (SELECT * FROM sync._worker_status()),
    series AS (
        SELECT w.*, coalesce((src.options->>'poll_interval_ms')::bigint,
                             (SELECT setting::bigint FROM pg_settings WHERE name = 'sync.poll_interval_ms'),
                             10000) AS poll_ms
          FROM w
          LEFT JOIN sync.subscriptions s ON w.kind = 'subscription' AND s.id = w.object_id
          LEFT JOIN sync.sources src ON src.id = s.source_id
         WHERE w.kind IN ('subscription', 'run')),
    late AS (
        SELECT wait_reason, count(*) AS n FROM series
         WHERE waiting_since < clock_timestamp() - make_interval(secs => poll_ms / 1000.0)
         GROUP BY wait_reason),
    p AS (SELECT count(*) FILTER (WHERE worker_pid IS NOT NULL) AS running FROM w WHERE kind = 'pool')
    SELECT 'pool',
           CASE WHEN sync._supervisor_pid() IS NULL THEN 'down'
                WHEN (SELECT count(*) FROM series) > 0 AND p.running = 0 THEN 'down'
                WHEN EXISTS (SELECT FROM late) THEN 'degraded'
                ELSE 'ok' END,
           CASE WHEN sync._supervisor_pid() IS NULL THEN 'sync is not running'
                -- down (no worker at all) or degraded: how many waited too long, and why
                WHEN EXISTS (SELECT FROM late)
                     THEN (SELECT string_agg(format('%s series waited longer than their poll interval: %s',
                                                    n, coalesce(wait_reason, '?')), '; ' ORDER BY wait_reason)
                             FROM late)
                          || format(' (%s of sync.max_workers %s pool workers running)', p.running,
                                    coalesce(current_setting('sync.max_workers', true), '?'))
                WHEN (SELECT count(*) FROM series) > 0 AND p.running = 0
                     THEN format('no pool worker running to carry the %s series', (SELECT count(*) FROM series))
                ELSE format('%s pool worker(s) carrying %s series', p.running, (SELECT count(*) FROM series)) END
      FROM p
$$;

-- sync_health(): the rows of 0.5.0 (the aggregator and the scheduler found
-- by kind), then the pool's row.
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
                 ON w.kind = h.component AND h.component IN ('aggregator', 'scheduler')
        UNION ALL
        SELECT 2, s.n, s.component, s.status, s.detail
          FROM sync._stream_health() WITH ORDINALITY s(component, status, detail, n)
        UNION ALL
        SELECT 3, 1, p.component, p.status, p.detail FROM sync._pool_health() p) x
     ORDER BY part, n
$$;
GRANT EXECUTE ON FUNCTION sync._pool_health() TO sync_reader;

-- The job rows of sync_health() (those of 0.3.0): a queued series is
-- waiting its turn, not down; the aggregator and the scheduler are found
-- by kind.
CREATE OR REPLACE FUNCTION sync._health_of_jobs() RETURNS TABLE (component text, status text, detail text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    running   boolean := sync._supervisor_pid() IS NOT NULL;
    m         record;
    agg_every float8 := coalesce((SELECT setting::float8 FROM pg_settings WHERE name = 'sync.aggregate_interval_ms'), 1000) / 1000;
BEGIN
    component := 'sync';
    status := CASE WHEN running THEN 'ok' ELSE 'down' END;
    detail := CASE WHEN running THEN 'supervisor running (pid ' || sync._supervisor_pid() || ')'
                   ELSE 'not running in this database: call sync_start()' END;
    RETURN NEXT;

    -- each job worker
    FOR m IN SELECT x.*, s.state, s.last_error AS stored_error, s.synced_through
               FROM sync.subscription_metrics x
               JOIN sync.sources src ON src.name = x.source
               JOIN sync.subscriptions s ON s.source_id = src.id AND s.symbol = x.symbol
                                         AND s.dataset = x.dataset
                                         AND extract(epoch FROM s.bar_interval)::bigint = x.bar_interval_seconds
              ORDER BY 1, 2, 3, 4 LOOP
        component := format('worker %s/%s/%s', m.source, m.symbol, m.dataset);
        IF m.state = 'error' THEN
            status := 'down'; detail := 'stopped on a permanent error: ' || coalesce(m.stored_error, '?');
        ELSIF NOT running THEN
            status := 'down'; detail := 'sync is not running';
        ELSIF m.phase = 'queued' THEN
            -- the pool row says when series wait too long, and why
            status := 'ok'; detail := 'queued: waiting for a pool worker to carry it';
        ELSIF m.up = 0 THEN
            status := 'down'; detail := 'no worker running (' || m.phase || ')';
        ELSIF m.consecutive_failures >= 5 THEN
            status := 'down'; detail := format('%s consecutive failures', m.consecutive_failures);
        ELSIF m.phase = 'retrying' OR m.consecutive_failures > 0 THEN
            status := 'degraded'; detail := format('retrying after %s failure(s)', m.consecutive_failures);
        ELSE
            status := 'ok';
            detail := format('%s, synced through %s', m.phase, coalesce(m.synced_through::text, 'nothing yet'));
        END IF;
        RETURN NEXT;
    END LOOP;

    -- each source: last success, consecutive failures, rate-limit state
    FOR m IN SELECT x.source, max(x.last_success) AS last_success,
                    max(x.consecutive_failures) AS failures, bool_or(x.rate_limited = 1) AS limited,
                    bool_and(x.phase = 'error') AS all_error, count(*) AS jobs
               FROM sync.subscription_metrics x GROUP BY x.source ORDER BY x.source LOOP
        component := 'source ' || m.source;
        status := CASE WHEN m.all_error OR m.failures >= 5 THEN 'down'
                       WHEN m.limited OR m.failures > 0 THEN 'degraded' ELSE 'ok' END;
        detail := format('last success %s; %s consecutive failures; %s',
                         coalesce(m.last_success::text, 'never (since sync_start)'), m.failures,
                         CASE WHEN m.limited THEN 'rate limited' ELSE 'not rate limited' END);
        RETURN NEXT;
    END LOOP;

    -- the aggregator and the scheduler
    FOR m IN SELECT n.name, n.id, w.worker_pid, w.phase, w.last_error
               FROM (VALUES ('aggregator', 0), ('scheduler', 0)) n(name, id)
               LEFT JOIN sync._worker_status() w ON w.kind = n.name AND w.object_id = n.id LOOP
        component := m.name;
        status := CASE WHEN NOT running OR m.worker_pid IS NULL THEN 'down'
                       WHEN m.phase = 'retrying' THEN 'degraded' ELSE 'ok' END;
        detail := CASE WHEN NOT running THEN 'sync is not running'
                       WHEN m.worker_pid IS NULL THEN 'not running'
                       WHEN m.phase = 'retrying' THEN 'retrying: ' || coalesce(m.last_error, '?')
                       ELSE 'running (pid ' || m.worker_pid || ')' END;
        RETURN NEXT;
    END LOOP;

    -- each rollup: how far its materialized part is behind
    FOR m IN SELECT r.name, r.refreshed_at,
                    (SELECT count(*) FROM sync.rollup_invalidations) AS pending,
                    extract(epoch FROM now() - (SELECT min(logged_at) FROM sync.rollup_invalidations)) AS staleness
               FROM sync.rollups r ORDER BY r.bucket LOOP
        component := 'rollup ' || m.name;
        status := CASE WHEN m.pending = 0 OR m.staleness <= greatest(10, 10 * agg_every) THEN 'ok'
                       WHEN m.staleness <= greatest(300, 100 * agg_every) THEN 'degraded' ELSE 'down' END;
        detail := CASE WHEN m.pending = 0 THEN 'current'
                       ELSE format('%s change(s) pending, oldest %s s ago (queries compute them on the fly)',
                                   m.pending, round(m.staleness::numeric, 1)) END;
        RETURN NEXT;
    END LOOP;

    -- each schedule
    FOR m IN SELECT * FROM sync.schedules ORDER BY name LOOP
        component := 'schedule ' || m.name;
        status := CASE WHEN m.last_state = 'failed' THEN 'degraded'
                       WHEN m.enabled AND m.next_run < now() - interval '5 minutes' THEN 'degraded'
                       ELSE 'ok' END;
        detail := format('next run %s; last run %s%s', coalesce(m.next_run::text, 'never'),
                         coalesce(m.last_run::text, 'never'),
                         CASE WHEN m.last_state IS NOT NULL THEN ' (' || m.last_state || ')' ELSE '' END);
        RETURN NEXT;
    END LOOP;
END
$$;
