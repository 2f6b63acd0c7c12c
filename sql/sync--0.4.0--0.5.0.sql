-- sync 0.4.0 -> 0.5.0: hardening against hostile or broken providers.
--
-- What changes for users (each section below says what it adds):
--  - times are kept to the microsecond for every provider and stream;
--    trade ids stay as they were, so rows stored before and after the
--    update never duplicate each other.
--  - sync_metrics() gains sync_series_phase (the phase as a state set: one
--    sample per phase, 1 for the current one) and sync_rate_limited.
--    Breaking for dashboards on postgres_exporter: the queries now in
--    docs/postgres_exporter/queries.yaml give sync_metrics()'s names
--    (sync_subscription_rows_stored -> sync_rows_stored_total, ...; the
--    phase label of every metric -> sync_series_phase); the list of old ->
--    new names is in docs/operations.md;
--  - cron: day-of-month and day-of-week must both match when either starts
--    with "*" ("0 0 */2 * mon": Mondays that are odd days), as in Vixie
--    cron and pg_cron; either matches only when neither does.

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

-- Cron: the day fields as Vixie cron joins them (issue 11, finding 10) ----
--
-- Vixie cron, and pg_cron after it, fire on a day when both day-of-month
-- and day-of-week match as soon as either field starts with "*" (so
-- "0 0 */2 * mon" is the Mondays that are odd days), and on either match
-- only when neither does ("0 0 1,15 * mon" is the 1st, the 15th and every
-- Monday).  0.3.0 took any field other than a bare "*" as restricted, so
-- "*/2" made its schedule fire on either.
CREATE OR REPLACE FUNCTION sync._cron_next(expr text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f        text[];
    minutes  integer[];
    hours    integer[];
    doms     integer[];
    months   integer[];
    dows     integer[];
    day_star boolean;
    start    timestamp;
    d        date;
    h        integer;
    mi       integer;
    t        timestamp;
BEGIN
    f := regexp_split_to_array(btrim(CASE lower(btrim(expr))
                                         WHEN '@yearly' THEN '0 0 1 1 *'
                                         WHEN '@annually' THEN '0 0 1 1 *'
                                         WHEN '@monthly' THEN '0 0 1 * *'
                                         WHEN '@weekly' THEN '0 0 * * 0'
                                         WHEN '@daily' THEN '0 0 * * *'
                                         WHEN '@midnight' THEN '0 0 * * *'
                                         WHEN '@hourly' THEN '0 * * * *'
                                         ELSE expr END), '\s+');
    IF cardinality(f) <> 5 THEN
        RAISE EXCEPTION 'invalid cron schedule "%"', expr
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It has %s fields; a schedule has five.', cardinality(f)),
                  HINT = 'minute hour day-of-month month day-of-week, in UTC: ''10 0 * * *'' is 00:10 every day; @hourly, @daily, @weekly, @monthly also work.';
    END IF;
    minutes := sync._cron_field(expr, 'minute', f[1], 0, 59);
    hours := sync._cron_field(expr, 'hour', f[2], 0, 23);
    doms := sync._cron_field(expr, 'day-of-month', f[3], 1, 31);
    months := sync._cron_field(expr, 'month', f[4], 1, 12,
                               '{jan,feb,mar,apr,may,jun,jul,aug,sep,oct,nov,dec}', 1);
    dows := sync._cron_field(expr, 'day-of-week', f[5], 0, 7, '{sun,mon,tue,wed,thu,fri,sat}', 0);
    IF 7 = ANY (dows) THEN
        dows := array_append(dows, 0);      -- 7 is Sunday too
    END IF;
    -- Vixie cron's DOM_STAR/DOW_STAR: the field's first character is "*"
    day_star := left(f[3], 1) = '*' OR left(f[5], 1) = '*';

    start := date_trunc('minute', after AT TIME ZONE 'UTC') + interval '1 minute';
    d := start::date;
    -- eight years cover every day-of-month and weekday combination
    FOR i IN 0 .. 366 * 8 LOOP
        IF extract(month FROM d)::integer = ANY (months)
           AND (CASE WHEN day_star
                     THEN extract(day FROM d)::integer = ANY (doms)
                          AND extract(dow FROM d)::integer = ANY (dows)
                     ELSE extract(day FROM d)::integer = ANY (doms)
                          OR extract(dow FROM d)::integer = ANY (dows) END) THEN
            FOREACH h IN ARRAY hours LOOP
                FOREACH mi IN ARRAY minutes LOOP
                    t := d + make_time(h, mi, 0);
                    IF t >= start THEN
                        RETURN t AT TIME ZONE 'UTC';
                    END IF;
                END LOOP;
            END LOOP;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN NULL;
END
$$;

-- A schedule whose day fields changed meaning ("*/2" with a weekday, or a
-- day of month with "*/2" weekdays) is due at its next firing under the
-- new rule.  A next_run already past stays: it is a firing missed while
-- the server was down, and runs once on start as before.
UPDATE sync.schedules s
   SET next_run = sync._cron_next(s.cron, now())
  FROM (SELECT name, regexp_split_to_array(btrim(cron), '\s+') AS f FROM sync.schedules) x
 WHERE x.name = s.name AND cardinality(x.f) = 5 AND s.next_run > now()
   AND (left(x.f[3], 1) = '*' OR left(x.f[5], 1) = '*') AND x.f[3] <> '*' AND x.f[5] <> '*';

-- Metrics: a subscription's phase as a state set (issue 11, finding 14) ---
--
-- Counters keep their names (each ends in _total, times in seconds) and
-- their labels: source, symbol, dataset, interval, and status for HTTP
-- answers.  The phase is never a label of a counter, where a change of
-- phase would start new series and break rate(); it is its own gauge,
-- sync_series_phase, one sample per phase with 1 for the current one, as
-- Prometheus writes state sets.  New as well: sync_rate_limited.  The
-- postgres_exporter queries (docs/postgres_exporter/queries.yaml) give the
-- same names; docs/operations.md lists what they replace.

-- Every phase sync_status() shows, in the order a job passes them.
CREATE FUNCTION sync._phase_names() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT '{pending,backfill,realtime,idle,retrying,error,stopped}'::text[] $$;

-- Every sample is one row (family, series key, line); the families' HELP
-- and TYPE lines come from one table, and each family's samples follow
-- its header, as the text format requires.
CREATE OR REPLACE FUNCTION @extschema@.sync_metrics() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH family (ord, name, type, help) AS (VALUES
        (1, 'sync_up', 'gauge', 'Whether sync runs in this database (its supervisor is alive).'),
        (2, 'sync_rows_stored_total', 'counter', 'Rows stored by a subscription.'),
        (3, 'sync_rows_rejected_total', 'counter', 'Records refused by validation (see sync.rejects).'),
        (4, 'sync_http_requests_total', 'counter', 'Provider answers by status class (failed: no answer).'),
        (5, 'sync_worker_up', 'gauge', 'Whether the subscription has a running worker.'),
        (6, 'sync_series_phase', 'gauge', 'The phase of a subscription: 1 for the current one, 0 for the others.'),
        (7, 'sync_consecutive_failures', 'gauge', 'Transient failures since the last stored page.'),
        (8, 'sync_rate_limited', 'gauge', 'Whether a provider''s rate limit holds the subscription''s job back.'),
        (9, 'sync_lag_seconds', 'gauge', 'Age of the newest contiguously stored data (now - synced_through).'),
        (10, 'sync_batch_commit_seconds', 'histogram', 'Time to write and commit one batch (page) of rows.'),
        (11, 'sync_reconnects_total', 'counter', 'Realtime streams lost, or renewed on purpose, and opened again.'),
        (12, 'sync_rollup_pending_changes', 'gauge', 'Changes not yet folded into the rollups.'),
        (13, 'sync_rollup_staleness_seconds', 'gauge', 'Age of the oldest change not yet folded into the rollups.'),
        (14, 'sync_job_runs', 'gauge', 'Runs in sync.job_runs by kind and state.')),
    m AS (
        SELECT x.*, sync._prom_labels(x.source, x.symbol, x.dataset, x.bar_interval_seconds) AS labels,
               row_number() OVER (ORDER BY x.source, x.symbol, x.dataset, x.bar_interval_seconds) AS series
          FROM sync.subscription_metrics x),
    sample (ord, series, sub, line) AS (
        SELECT 1, 0::bigint, 0::bigint, format('sync_up %s', (sync._supervisor_pid() IS NOT NULL)::integer)
        UNION ALL
        SELECT v.ord, m.series, v.sub, format('%s{%s%s} %s', f.name, m.labels, v.extra, v.value)
          FROM m CROSS JOIN LATERAL (VALUES
                   (2, 0::bigint, '', m.rows_stored::text),
                   (3, 0, '', m.rows_rejected::text),
                   (4, 1, ',status="2xx"', m.http_2xx::text),
                   (4, 2, ',status="3xx"', m.http_3xx::text),
                   (4, 3, ',status="4xx"', m.http_4xx::text),
                   (4, 4, ',status="429"', m.http_rate_limited::text),
                   (4, 5, ',status="5xx"', m.http_5xx::text),
                   (4, 6, ',status="failed"', m.http_failed::text),
                   (5, 0, '', m.up::text),
                   (7, 0, '', m.consecutive_failures::text),
                   (8, 0, '', m.rate_limited::text),
                   (9, 0, '', round(m.data_age_seconds::numeric, 3)::text),
                   (11, 0, '', m.reconnects::text)) v (ord, sub, extra, value)
          JOIN family f ON f.ord = v.ord
         WHERE v.value IS NOT NULL
        UNION ALL
        -- the phase: one sample per phase, 1 for the current one
        SELECT 6, m.series, p.i,
               format('sync_series_phase{%s,phase="%s"} %s', m.labels, p.name, (m.phase = p.name)::integer)
          FROM m CROSS JOIN unnest(sync._phase_names()) WITH ORDINALITY p (name, i)
        UNION ALL
        -- the histogram: cumulative buckets, then sum and count
        SELECT 10, m.series, b.i,
               format('sync_batch_commit_seconds_bucket{%s,le="%s"} %s', m.labels,
                      coalesce(bounds.bound[b.i]::text, '+Inf'),
                      sum(coalesce(m.commit_buckets[b.i], 0)) OVER (PARTITION BY m.series ORDER BY b.i))
          FROM m CROSS JOIN (SELECT sync._commit_bucket_bounds() AS bound) bounds
          CROSS JOIN LATERAL generate_series(1, cardinality(bounds.bound) + 1) AS b (i)
        UNION ALL
        SELECT 10, m.series, 100, format('sync_batch_commit_seconds_sum{%s} %s', m.labels, m.commit_seconds) FROM m
        UNION ALL
        SELECT 10, m.series, 101, format('sync_batch_commit_seconds_count{%s} %s', m.labels, m.commits) FROM m
        UNION ALL
        SELECT 12, 0, 0, format('sync_rollup_pending_changes %s', count(*)) FROM sync.rollup_invalidations
        UNION ALL
        SELECT 13, 0, 0, format('sync_rollup_staleness_seconds %s',
                                coalesce(round(extract(epoch FROM now() - min(logged_at))::numeric, 3), 0))
          FROM sync.rollup_invalidations
        UNION ALL
        SELECT 14, row_number() OVER (ORDER BY r.kind, r.state), 0,
               format('sync_job_runs{kind="%s",state="%s"} %s', sync._prom_label(r.kind),
                      sync._prom_label(r.state), count(*))
          FROM sync.job_runs r GROUP BY r.kind, r.state)
    SELECT string_agg(x.line, E'\n' ORDER BY x.ord, x.series, x.sub, x.header DESC) || E'\n'
      FROM (SELECT f.ord, 0::bigint AS series, 0::bigint AS sub, true AS header,
                   format(E'# HELP %s %s\n# TYPE %s %s', f.name, f.help, f.name, f.type) AS line
              FROM family f
            UNION ALL
            SELECT s.ord, s.series, s.sub, false, s.line FROM sample s) x
$$;
COMMENT ON FUNCTION @extschema@.sync_metrics() IS 'Prometheus text exposition of the sync counters and gauges';

GRANT EXECUTE ON FUNCTION sync._phase_names() TO sync_reader;
