/* sync 0.2.0 -> 0.3.0: operations.  Cron schedules run by a scheduler
 * worker, retention, job history retention, sync_health(), sync_metrics().
 *
 * Cron expressions are evaluated in UTC, like the bars' timestamps.
 */

\echo Use "ALTER EXTENSION sync UPDATE TO '0.3.0'" to load this file. \quit

-- Cron ---------------------------------------------------------------------

-- The values one field of a cron expression allows, or an error that names
-- the field.  Accepts *, n, a-b, */s, a-b/s, n/s and lists of them, and
-- names (jan..dec, sun..sat) where the field has them.
CREATE FUNCTION sync._cron_field(expr text, field text, value text, lo integer, hi integer,
                                 names text[] DEFAULT NULL, name_base integer DEFAULT 0)
RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part   text;
    m      text[];
    a      integer;
    b      integer;
    step   integer;
    result integer[] := '{}';
BEGIN
    FOREACH part IN ARRAY string_to_array(lower(value), ',') LOOP
        IF names IS NOT NULL THEN
            FOR i IN 1 .. cardinality(names) LOOP
                part := regexp_replace(part, '\m' || names[i] || '\M', (i - 1 + name_base)::text, 'g');
            END LOOP;
        END IF;
        m := regexp_match(part, '^(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?$');
        IF m IS NULL THEN
            RAISE EXCEPTION 'invalid cron schedule "%"', expr
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The %s field "%s" is not understood.', field, value),
                      HINT = 'Each field is *, a number, a range a-b, a step */n or a-b/n, or a list of those.';
        END IF;
        IF m[1] = '*' THEN
            a := lo; b := hi;
        ELSE
            a := m[2]::integer;
            b := coalesce(m[3]::integer, CASE WHEN m[4] IS NOT NULL THEN hi ELSE a END);
        END IF;
        step := coalesce(m[4]::integer, 1);
        IF a < lo OR b > hi OR a > b OR step < 1 THEN
            RAISE EXCEPTION 'invalid cron schedule "%"', expr
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('The %s field "%s" is out of range: values go from %s to %s.',
                                      field, value, lo, hi);
        END IF;
        result := result || ARRAY(SELECT generate_series(a, b, step));
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT x FROM unnest(result) x ORDER BY x);
END
$$;

-- The first time strictly after "after" that the schedule fires (UTC), or
-- NULL if it never does (e.g. 30 February).
CREATE FUNCTION sync._cron_next(expr text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f       text[];
    minutes integer[];
    hours   integer[];
    doms    integer[];
    months  integer[];
    dows    integer[];
    start   timestamp;
    d       date;
    h       integer;
    mi      integer;
    t       timestamp;
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

    start := date_trunc('minute', after AT TIME ZONE 'UTC') + interval '1 minute';
    d := start::date;
    -- eight years cover every day-of-month and weekday combination
    FOR i IN 0 .. 366 * 8 LOOP
        IF extract(month FROM d)::integer = ANY (months)
           -- both day fields restricted: either may match (as in Vixie cron)
           AND (CASE WHEN f[3] = '*' AND f[5] = '*' THEN true
                     WHEN f[3] = '*' THEN extract(dow FROM d)::integer = ANY (dows)
                     WHEN f[5] = '*' THEN extract(day FROM d)::integer = ANY (doms)
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

-- Schedules ----------------------------------------------------------------

CREATE TABLE sync.schedules (
    name       text PRIMARY KEY,
    cron       text NOT NULL,
    job        jsonb NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    next_run   timestamptz,                 -- when the scheduler runs it next
    last_run   timestamptz,
    last_state text,                        -- 'succeeded' | 'failed'
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sync.schedules IS 'recurring jobs run by the scheduler worker; cron in UTC';

ALTER TABLE sync.job_runs ADD COLUMN schedule text;
ALTER TABLE sync.job_runs DROP CONSTRAINT job_runs_kind_check;
ALTER TABLE sync.job_runs ADD CONSTRAINT job_runs_kind_check
    CHECK (kind IN ('backfill', 'follow', 'scheduled', 'retention'));
CREATE INDEX job_runs_finished_idx ON sync.job_runs (finished_at);

-- The job a schedule runs, checked key by key.  Kinds:
--   {"kind": "backfill", "source": s, "symbols": [..], "dataset": "bars",
--    "bar_interval": "1 minute", "lookback": "1 day", "align": "day"}
--     backfills [align(fire time) - lookback, align(fire time)) for each symbol;
--   {"kind": "gap_repair", "source": s, "symbols": [..] (optional)}
--     a backfill run for every hole sync.gaps lists.
CREATE FUNCTION sync._check_job(job jsonb) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    allowed text[];
    k       text;
BEGIN
    IF job IS NULL OR jsonb_typeof(job) <> 'object' THEN
        RAISE EXCEPTION 'job must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'e.g. {"kind": "backfill", "source": "binance", "symbols": ["BTCUSDT"], "lookback": "1 day", "align": "day"}';
    END IF;
    allowed := CASE job->>'kind'
        WHEN 'backfill' THEN '{kind,source,symbols,dataset,bar_interval,lookback,align}'::text[]
        WHEN 'gap_repair' THEN '{kind,source,symbols}'::text[] END;
    IF allowed IS NULL THEN
        RAISE EXCEPTION 'job key "kind" must be "backfill" or "gap_repair", not %', coalesce(job->'kind', 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(job) LOOP
        IF NOT k = ANY (allowed) THEN
            RAISE EXCEPTION 'unknown job key "%" for kind "%"', k, job->>'kind'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Keys of this kind: %s.', array_to_string(allowed, ', '));
        END IF;
    END LOOP;
    IF jsonb_typeof(job->'source') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'job key "source" must be the name of a source'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM sync._source_id(job->>'source');
    IF job ? 'symbols' AND (jsonb_typeof(job->'symbols') <> 'array'
                            OR EXISTS (SELECT 1 FROM jsonb_array_elements(job->'symbols') e
                                        WHERE jsonb_typeof(e) <> 'string')
                            OR jsonb_array_length(job->'symbols') = 0) THEN
        RAISE EXCEPTION 'job key "symbols" must be a non-empty array of strings'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF job->>'kind' = 'backfill' THEN
        IF NOT job ? 'symbols' THEN
            RAISE EXCEPTION 'job key "symbols" is required for a backfill'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF job ? 'dataset' AND job->>'dataset' IS DISTINCT FROM 'bars' THEN
            RAISE EXCEPTION 'job key "dataset" must be "bars"'
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Scheduled backfills fetch bars.';
        END IF;
        BEGIN
            IF (coalesce(job->>'lookback', '') = '' OR (job->>'lookback')::interval <= interval '0') THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_datetime_format';
            END IF;
            PERFORM (coalesce(job->>'bar_interval', '1 minute'))::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            RAISE EXCEPTION 'job key "lookback" must be a positive interval and "bar_interval" an interval'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'e.g. "lookback": "1 day", "bar_interval": "1 minute".';
        END;
        IF job ? 'align' AND NOT job->>'align' = ANY ('{minute,hour,day,week,month}') THEN
            RAISE EXCEPTION 'job key "align" must be one of minute, hour, day, week, month'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
END
$$;

CREATE FUNCTION @extschema@.sync_schedule(name text, cron text, job jsonb) RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    first timestamptz;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'schedule name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cron IS NULL THEN
        RAISE EXCEPTION 'cron schedule must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    first := sync._cron_next(cron, now());
    IF first IS NULL THEN
        RAISE EXCEPTION 'cron schedule "%" never fires', cron
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'No day matches its day-of-month and month fields.';
    END IF;
    PERFORM sync._check_job(job);
    INSERT INTO sync.schedules AS s (name, cron, job, next_run)
    VALUES (sync_schedule.name, sync_schedule.cron, sync_schedule.job, first)
    ON CONFLICT ON CONSTRAINT schedules_pkey
    DO UPDATE SET cron = excluded.cron, job = excluded.job, next_run = excluded.next_run, enabled = true;
    RETURN first;
END
$$;
COMMENT ON FUNCTION @extschema@.sync_schedule(text, text, jsonb) IS
    'create or replace a recurring job (cron in UTC); returns its first run time';

CREATE FUNCTION @extschema@.sync_unschedule(name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM sync.schedules s WHERE s.name = sync_unschedule.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'schedule "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'See SELECT name FROM sync.schedules.';
    END IF;
    RETURN true;
END
$$;

-- Run one schedule's job for the firings [first_fire, last_fire]; returns
-- how many backfill runs it asked for.
CREATE FUNCTION sync._run_job(sched text, job jsonb, first_fire timestamptz, last_fire timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    sym   text;
    n     bigint := 0;
    run   bigint;
    ival  interval := coalesce(job->>'bar_interval', '1 minute')::interval;
    lo    timestamptz;
    hi    timestamptz;
    g     record;
BEGIN
    IF job->>'kind' = 'backfill' THEN
        -- one run covers every missed firing: from the first window's start
        -- to the last window's end
        lo := CASE WHEN job ? 'align' THEN date_trunc(job->>'align', first_fire, 'UTC') ELSE first_fire END
              - (job->>'lookback')::interval;
        hi := CASE WHEN job ? 'align' THEN date_trunc(job->>'align', last_fire, 'UTC') ELSE last_fire END;
        FOR sym IN SELECT jsonb_array_elements_text(job->'symbols') LOOP
            run := @extschema@.sync_backfill(job->>'source', sym, 'bars', lo, hi, ival);
            UPDATE sync.job_runs SET schedule = sched WHERE id = run;
            n := n + 1;
        END LOOP;
    ELSE
        FOR g IN SELECT x.symbol, x.bar_interval, x.gap_from, x.gap_to FROM sync.gaps x
                  WHERE x.source = job->>'source'
                    AND (NOT job ? 'symbols' OR x.symbol IN (SELECT jsonb_array_elements_text(job->'symbols')))
                  ORDER BY x.symbol, x.gap_from LOOP
            run := @extschema@.sync_backfill(job->>'source', g.symbol, 'bars', g.gap_from, g.gap_to, g.bar_interval);
            UPDATE sync.job_runs SET schedule = sched WHERE id = run;
            n := n + 1;
        END LOOP;
    END IF;
    RETURN n;
END
$$;

-- Run every schedule that is due, once even if several firings were
-- missed while the server was down; record each in sync.job_runs.
CREATE FUNCTION sync.run_due_schedules() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s      record;
    last   timestamptz;
    nxt    timestamptz;
    n      bigint;
    ran    integer := 0;
    st     text;
    err    text;
BEGIN
    FOR s IN SELECT * FROM sync.schedules x WHERE x.enabled AND x.next_run <= now()
              ORDER BY x.next_run FOR UPDATE SKIP LOCKED LOOP
        -- the latest firing that is due; missed ones in between run with it
        last := s.next_run;
        LOOP
            nxt := sync._cron_next(s.cron, last);
            EXIT WHEN nxt IS NULL OR nxt > now();
            last := nxt;
        END LOOP;
        BEGIN
            n := sync._run_job(s.name, s.job, s.next_run, last);
            st := 'succeeded';
            err := NULL;
        EXCEPTION WHEN OTHERS THEN
            n := 0;
            st := 'failed';
            err := SQLERRM;
        END;
        INSERT INTO sync.job_runs (kind, schedule, source, symbol, range_from, range_to, started_at,
                                   finished_at, state, rows, error)
        VALUES ('scheduled', s.name, coalesce(s.job->>'source', ''), NULL, s.next_run, last, now(),
                clock_timestamp(), st, n, err);
        UPDATE sync.schedules
           SET last_run = now(), last_state = st, next_run = sync._cron_next(s.cron, greatest(last, now()))
         WHERE name = s.name;
        ran := ran + 1;
    END LOOP;
    RETURN ran;
END
$$;

-- Retention ----------------------------------------------------------------

CREATE TABLE sync.retention (
    dataset    text PRIMARY KEY
               CHECK (dataset IN ('bars', 'trades', 'rejects', 'bars_5m', 'bars_15m', 'bars_1h', 'bars_1d')),
    keep       interval NOT NULL CHECK (keep > interval '0'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sync.retention IS 'how long each dataset is kept; the scheduler deletes older rows in batches';

CREATE FUNCTION @extschema@.sync_set_retention(dataset text, keep interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF dataset IS NULL OR NOT dataset = ANY ('{bars,trades,rejects,bars_5m,bars_15m,bars_1h,bars_1d}') THEN
        RAISE EXCEPTION 'unknown dataset "%"', dataset
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Datasets: bars, trades, rejects, bars_5m, bars_15m, bars_1h, bars_1d.';
    END IF;
    IF keep IS NULL THEN
        DELETE FROM sync.retention r WHERE r.dataset = sync_set_retention.dataset;
        RETURN;
    END IF;
    IF keep <= interval '0' THEN
        RAISE EXCEPTION 'keep must be a positive interval, not "%"', keep
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL to keep everything.';
    END IF;
    INSERT INTO sync.retention AS r (dataset, keep) VALUES (dataset, keep)
    ON CONFLICT ON CONSTRAINT retention_pkey DO UPDATE SET keep = excluded.keep, updated_at = now();
END
$$;
COMMENT ON FUNCTION @extschema@.sync_set_retention(text, interval) IS
    'keep a dataset for this long (NULL: forever); applied by the scheduler in batches';

-- Delete up to batch rows of one table older than cutoff.  Each series
-- (the columns in series, fixed by the caller, never user input) is
-- visited through the primary key or an index on (series, ts), so the
-- cost follows the old rows found, not the size of the table.
CREATE FUNCTION sync._delete_old(tbl text, series text, cutoff timestamptz, batch integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format($q$
        WITH RECURSIVE k AS (
            (SELECT %2$s FROM sync.%1$I ORDER BY %2$s LIMIT 1)
            UNION ALL
            SELECT nx.* FROM k CROSS JOIN LATERAL
                (SELECT %2$s FROM sync.%1$I b WHERE (%3$s) > (%4$s) ORDER BY %2$s LIMIT 1) nx)
        DELETE FROM sync.%1$I d
         WHERE d.ctid = ANY (ARRAY(
               SELECT y.ctid FROM k CROSS JOIN LATERAL
                      (SELECT y.ctid FROM sync.%1$I y WHERE (%5$s) = (%4$s) AND y.ts < $1
                        ORDER BY y.ts LIMIT $2) y
                LIMIT $2))$q$,
        tbl, series,
        (SELECT string_agg('b.' || c, ', ') FROM unnest(string_to_array(series, ', ')) c),
        (SELECT string_agg('k.' || c, ', ') FROM unnest(string_to_array(series, ', ')) c),
        (SELECT string_agg('y.' || c, ', ') FROM unnest(string_to_array(series, ', ')) c))
        USING cutoff, batch;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Apply every retention policy, deleting up to batch rows per dataset;
-- returns how many rows went.  Base data is deleted with sync.keep_rollups
-- on: the rollups keep their own, longer history.
CREATE FUNCTION sync.apply_retention(batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p      record;
    cutoff timestamptz;
    n      bigint;
    total  bigint := 0;
BEGIN
    PERFORM set_config('sync.keep_rollups', 'on', true);
    FOR p IN SELECT * FROM sync.retention ORDER BY dataset LOOP
        cutoff := now() - p.keep;
        IF p.dataset = 'bars' THEN
            n := sync._delete_old('bars', 'source, symbol, bar_interval', cutoff, batch);
        ELSIF p.dataset = 'trades' THEN
            n := sync._delete_old('trades', 'source, symbol', cutoff, batch);
        ELSIF p.dataset = 'rejects' THEN
            DELETE FROM sync.rejects r
             WHERE r.id = ANY (ARRAY(SELECT y.id FROM sync.rejects y WHERE y.rejected_at < cutoff
                                      ORDER BY y.rejected_at LIMIT batch));
            GET DIAGNOSTICS n = ROW_COUNT;
        ELSE
            n := sync._delete_old('rollup_' || substr(p.dataset, 6), 'source, symbol', cutoff, batch);
        END IF;
        IF n > 0 THEN
            INSERT INTO sync.job_runs (kind, source, dataset, range_to, finished_at, state, rows)
            VALUES ('retention', '', p.dataset, cutoff, clock_timestamp(), 'succeeded', n);
        END IF;
        total := total + n;
    END LOOP;
    PERFORM set_config('sync.keep_rollups', 'off', true);
    RETURN total;
END
$$;
CREATE INDEX rejects_rejected_at_idx ON sync.rejects (rejected_at);

-- Finished job history older than days is deleted (0: keep all).
CREATE FUNCTION sync.purge_job_history(days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF days IS NULL OR days <= 0 THEN
        RETURN 0;
    END IF;
    DELETE FROM sync.job_runs r
     WHERE r.finished_at < now() - make_interval(days => days)
       AND r.state IN ('succeeded', 'failed', 'interrupted');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

REVOKE ALL ON FUNCTION sync.run_due_schedules(), sync.apply_retention(integer),
                       sync.purge_job_history(integer), sync._run_job(text, jsonb, timestamptz, timestamptz),
                       sync._delete_old(text, text, timestamptz, integer)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.sync_schedule(text, text, jsonb), @extschema@.sync_unschedule(text),
                       @extschema@.sync_set_retention(text, interval)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_schedule(text, text, jsonb), @extschema@.sync_unschedule(text),
                          @extschema@.sync_set_retention(text, interval)
    TO sync_admin;
GRANT SELECT ON sync.schedules, sync.retention TO sync_reader;

SELECT pg_catalog.pg_extension_config_dump('sync.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('sync.retention', '');

-- Health and metrics -------------------------------------------------------

-- Counters each job keeps in shared memory (src/metrics.c).  http is
-- indexed 2xx, 3xx, 4xx, rate limited (429/418/503), 5xx, no answer;
-- commit_buckets counts commits per latency bucket (not cumulative), the
-- bounds being sync._commit_bucket_bounds() and +Inf.
CREATE FUNCTION sync._worker_metrics(
    OUT job_id integer, OUT worker_pid integer, OUT phase text, OUT http bigint[],
    OUT consecutive_failures integer, OUT last_success timestamptz,
    OUT rate_limited_until timestamptz, OUT commit_buckets bigint[], OUT commit_seconds float8,
    OUT reconnects bigint)
RETURNS SETOF record
LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'sync_worker_metrics';

CREATE FUNCTION sync._commit_bucket_bounds() RETURNS float8[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT '{0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1}'::float8[] $$;

-- One row per subscription: what an exporter or a dashboard reads.
-- (postgres_exporter: see docs/operations.md.)
CREATE VIEW sync.subscription_metrics AS
SELECT src.name AS source, s.symbol, s.dataset,
       extract(epoch FROM s.bar_interval)::bigint AS bar_interval_seconds,
       coalesce(CASE WHEN s.state = 'error' THEN 'error' END, m.phase,
                CASE WHEN sync._supervisor_pid() IS NOT NULL THEN 'pending' ELSE 'stopped' END) AS phase,
       (m.worker_pid IS NOT NULL)::integer AS up,
       s.rows_stored, s.rows_rejected,
       extract(epoch FROM now() - s.synced_through)::float8 AS data_age_seconds,
       coalesce(m.consecutive_failures, 0) AS consecutive_failures,
       (coalesce(m.rate_limited_until, '-infinity') > now())::integer AS rate_limited,
       coalesce(m.http[1], 0) AS http_2xx, coalesce(m.http[2], 0) AS http_3xx,
       coalesce(m.http[3], 0) AS http_4xx, coalesce(m.http[4], 0) AS http_rate_limited,
       coalesce(m.http[5], 0) AS http_5xx, coalesce(m.http[6], 0) AS http_failed,
       coalesce((SELECT sum(x) FROM unnest(m.commit_buckets) x), 0)::bigint AS commits,
       coalesce(m.commit_seconds, 0) AS commit_seconds,
       coalesce(m.reconnects, 0) AS reconnects,
       m.last_success, m.commit_buckets
  FROM sync.subscriptions s
  JOIN sync.sources src ON src.id = s.source_id
  LEFT JOIN sync._worker_metrics() m ON m.job_id = s.id;
COMMENT ON VIEW sync.subscription_metrics IS 'per-subscription counters and gauges, for exporters and dashboards';

-- A Prometheus label value: backslash, double quote and newline escaped.
CREATE FUNCTION sync._prom_label(value text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$ SELECT replace(replace(replace(coalesce(value, ''), '\', '\\'), '"', '\"'), E'\n', '\n') $$;

CREATE FUNCTION sync._prom_labels(source text, symbol text, dataset text, interval_seconds bigint) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT format('source="%s",symbol="%s",dataset="%s",interval="%s"', sync._prom_label(source),
                  sync._prom_label(symbol), sync._prom_label(dataset),
                  CASE WHEN dataset = 'bars' THEN interval_seconds || 's' ELSE '' END)
$$;

-- Every sample is one row (family, series key, line); the families' HELP
-- and TYPE lines come from one table, and each family's samples follow
-- its header, as the text format requires.
CREATE FUNCTION @extschema@.sync_metrics() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH family (ord, name, type, help) AS (VALUES
        (1, 'sync_up', 'gauge', 'Whether sync runs in this database (its supervisor is alive).'),
        (2, 'sync_rows_stored_total', 'counter', 'Rows stored by a subscription.'),
        (3, 'sync_rows_rejected_total', 'counter', 'Records refused by validation (see sync.rejects).'),
        (4, 'sync_http_requests_total', 'counter', 'Provider answers by status class (failed: no answer).'),
        (5, 'sync_worker_up', 'gauge', 'Whether the subscription has a running worker.'),
        (6, 'sync_consecutive_failures', 'gauge', 'Transient failures since the last stored page.'),
        (7, 'sync_lag_seconds', 'gauge', 'Age of the newest contiguously stored data (now - synced_through).'),
        (8, 'sync_batch_commit_seconds', 'histogram', 'Time to write and commit one batch (page) of rows.'),
        (9, 'sync_rollup_pending_changes', 'gauge', 'Changes not yet folded into the rollups.'),
        (10, 'sync_rollup_staleness_seconds', 'gauge', 'Age of the oldest change not yet folded into the rollups.'),
        (11, 'sync_job_runs', 'gauge', 'Runs in sync.job_runs by kind and state.'),
        (12, 'sync_reconnects_total', 'counter', 'Realtime streams lost, or renewed on purpose, and opened again.')),
    m AS (
        SELECT x.*, sync._prom_labels(x.source, x.symbol, x.dataset, x.bar_interval_seconds) AS labels,
               row_number() OVER (ORDER BY x.source, x.symbol, x.dataset, x.bar_interval_seconds) AS series
          FROM sync.subscription_metrics x),
    sample (ord, series, sub, line) AS (
        SELECT 1, 0::bigint, 0, format('sync_up %s', (sync._supervisor_pid() IS NOT NULL)::integer)
        UNION ALL
        SELECT v.ord, m.series, v.sub, format('%s{%s%s} %s', f.name, m.labels, v.extra, v.value)
          FROM m CROSS JOIN LATERAL (VALUES
                   (2, 0, '', m.rows_stored::text),
                   (3, 0, '', m.rows_rejected::text),
                   (4, 1, ',status="2xx"', m.http_2xx::text),
                   (4, 2, ',status="3xx"', m.http_3xx::text),
                   (4, 3, ',status="4xx"', m.http_4xx::text),
                   (4, 4, ',status="429"', m.http_rate_limited::text),
                   (4, 5, ',status="5xx"', m.http_5xx::text),
                   (4, 6, ',status="failed"', m.http_failed::text),
                   (5, 0, '', m.up::text),
                   (6, 0, '', m.consecutive_failures::text),
                   (7, 0, '', round(m.data_age_seconds::numeric, 3)::text),
                   (12, 0, '', m.reconnects::text)) v (ord, sub, extra, value)
          JOIN family f ON f.ord = v.ord
         WHERE v.value IS NOT NULL
        UNION ALL
        -- the histogram: cumulative buckets, then sum and count
        SELECT 8, m.series, b.i,
               format('sync_batch_commit_seconds_bucket{%s,le="%s"} %s', m.labels,
                      coalesce(bounds.bound[b.i]::text, '+Inf'),
                      sum(coalesce(m.commit_buckets[b.i], 0)) OVER (PARTITION BY m.series ORDER BY b.i))
          FROM m CROSS JOIN (SELECT sync._commit_bucket_bounds() AS bound) bounds
          CROSS JOIN LATERAL generate_series(1, cardinality(bounds.bound) + 1) AS b (i)
        UNION ALL
        SELECT 8, m.series, 100, format('sync_batch_commit_seconds_sum{%s} %s', m.labels, m.commit_seconds) FROM m
        UNION ALL
        SELECT 8, m.series, 101, format('sync_batch_commit_seconds_count{%s} %s', m.labels, m.commits) FROM m
        UNION ALL
        SELECT 9, 0, 0, format('sync_rollup_pending_changes %s', count(*)) FROM sync.rollup_invalidations
        UNION ALL
        SELECT 10, 0, 0, format('sync_rollup_staleness_seconds %s',
                                coalesce(round(extract(epoch FROM now() - min(logged_at))::numeric, 3), 0))
          FROM sync.rollup_invalidations
        UNION ALL
        SELECT 11, row_number() OVER (ORDER BY r.kind, r.state), 0,
               format('sync_job_runs{kind="%s",state="%s"} %s', sync._prom_label(r.kind),
                      sync._prom_label(r.state), count(*))
          FROM sync.job_runs r GROUP BY r.kind, r.state)
    SELECT string_agg(x.line, E'\n' ORDER BY x.ord, x.series, x.sub, x.header DESC) || E'\n'
      FROM (SELECT f.ord, 0::bigint AS series, 0 AS sub, true AS header,
                   format(E'# HELP %s %s\n# TYPE %s %s', f.name, f.help, f.name, f.type) AS line
              FROM family f
            UNION ALL
            SELECT s.ord, s.series, s.sub, false, s.line FROM sample s) x
$$;
COMMENT ON FUNCTION @extschema@.sync_metrics() IS 'Prometheus text exposition of the sync counters and gauges';


CREATE FUNCTION @extschema@.sync_health() RETURNS TABLE (component text, status text, detail text)
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
               FROM (VALUES ('aggregator', 0), ('scheduler', -2147483647 - 1)) n(name, id)
               LEFT JOIN sync._worker_status() w ON w.subscription_id = n.id LOOP
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
COMMENT ON FUNCTION @extschema@.sync_health() IS 'ok / degraded / down, with a reason, for sync, each worker, source, rollup and schedule';

REVOKE ALL ON FUNCTION sync._worker_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync._worker_metrics(), @extschema@.sync_metrics(), @extschema@.sync_health()
    TO sync_reader;
GRANT SELECT ON sync.subscription_metrics TO sync_reader;
