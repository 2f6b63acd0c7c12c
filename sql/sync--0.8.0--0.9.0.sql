-- sync 0.8.0 -> 0.9.0: past one table and one machine (issue 16).
--
-- sync.bars and sync.trades become tables partitioned by time; retention
-- drops whole partitions; a scale-out layout for Citus.
--
-- A fresh install runs sync--0.1.0.sql and then every update script, so
-- what is written here lands in fresh and updated databases alike.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.9.0'" to load this file. \quit

-- Time partitions ------------------------------------------------------

-- Partition widths set by sync_set_partitioning(); a dataset without a row
-- uses the default (bars a month, trades a day).  Only what users set is
-- stored, so pg_dump's copy of the rows never collides with defaults.
CREATE TABLE sync.partitioning (
    dataset            text PRIMARY KEY CHECK (dataset IN ('bars', 'trades')),
    partition_interval interval NOT NULL,
    premake            integer NOT NULL DEFAULT 3 CHECK (premake BETWEEN 0 AND 1000),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sync.partitioning IS
    'time partitioning of sync.bars and sync.trades set by sync_set_partitioning(); a dataset without a row uses the default (bars 1 month, trades 1 day, 3 made ahead). Readable by sync_reader';
COMMENT ON COLUMN sync.partitioning.dataset IS 'bars or trades';
COMMENT ON COLUMN sync.partitioning.partition_interval IS 'width of each new partition: whole months, or at least an hour without months';
COMMENT ON COLUMN sync.partitioning.premake IS 'how many partitions past the current one the scheduler keeps made ahead of the data';
COMMENT ON COLUMN sync.partitioning.updated_at IS 'when the setting was last changed';
GRANT SELECT ON sync.partitioning TO sync_reader;
SELECT pg_catalog.pg_extension_config_dump('sync.partitioning', '');

CREATE FUNCTION sync._partition_setting(dataset text, OUT partition_interval interval, OUT premake integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(p.partition_interval,
                    CASE _partition_setting.dataset WHEN 'bars' THEN interval '1 month' ELSE interval '1 day' END),
           coalesce(p.premake, 3)
      FROM (SELECT 1) one LEFT JOIN sync.partitioning p ON p.dataset = _partition_setting.dataset
$$;
COMMENT ON FUNCTION sync._partition_setting(text) IS
    'internal: the partition width and premake count in force for a dataset (its sync.partitioning row or the default); used by sync._make_partition() and sync.maintain_partitions()';

-- The period of a given width that contains t, in UTC: whole months count
-- from January 2000, other widths from Monday 2000-01-03, so weekly
-- partitions start on Mondays and daily ones at midnight UTC.
CREATE FUNCTION sync._partition_period(width interval, t timestamptz,
                                       OUT range_from timestamptz, OUT range_to timestamptz)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    months integer := extract(year FROM width)::integer * 12 + extract(month FROM width)::integer;
    m      integer;
BEGIN
    IF months > 0 THEN
        m := (extract(year FROM t AT TIME ZONE 'UTC')::integer - 2000) * 12
             + extract(month FROM t AT TIME ZONE 'UTC')::integer - 1;
        m := m - ((m % months) + months) % months;
        range_from := (timestamp '2000-01-01' + make_interval(months => m)) AT TIME ZONE 'UTC';
        range_to := (timestamp '2000-01-01' + make_interval(months => m + months)) AT TIME ZONE 'UTC';
    ELSE
        range_from := date_bin(width, t, timestamptz '2000-01-03 00:00:00+00');
        range_to := range_from + width;
    END IF;
END
$$;
COMMENT ON FUNCTION sync._partition_period(interval, timestamptz) IS
    'internal: the partition period of a width containing a time (UTC; months from January 2000, other widths from Monday 2000-01-03); used by sync._make_partition()';

-- A partition's range, read from its bound as PostgreSQL prints it (the
-- literal is printed and read back in the same session, so DateStyle and
-- TimeZone cancel out).  The default partition has no range.
CREATE FUNCTION sync._partition_range(part oid, OUT range_from timestamptz, OUT range_to timestamptz,
                                      OUT is_default boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b text;
    m text[];
BEGIN
    SELECT pg_get_expr(c.relpartbound, c.oid) INTO b FROM pg_class c WHERE c.oid = part;
    is_default := b = 'DEFAULT';
    m := regexp_match(b, '^FOR VALUES FROM \((.*)\) TO \((.*)\)$');
    IF m IS NULL THEN
        RETURN;
    END IF;
    range_from := CASE m[1] WHEN 'MINVALUE' THEN '-infinity' WHEN 'MAXVALUE' THEN 'infinity'
                  ELSE btrim(m[1], '''')::timestamptz END;
    range_to := CASE m[2] WHEN 'MINVALUE' THEN '-infinity' WHEN 'MAXVALUE' THEN 'infinity'
                ELSE btrim(m[2], '''')::timestamptz END;
END
$$;
COMMENT ON FUNCTION sync._partition_range(oid) IS
    'internal: the time range of a partition of sync.bars or sync.trades, from its partition bound; used by the view sync._partition_ranges';

-- The ranges alone, for the functions below: sizes cost a stat() of
-- every file of every partition.
CREATE VIEW sync._partition_ranges AS
SELECT parent.relname::text AS dataset,
       c.oid::regclass AS partition,
       r.range_from,
       r.range_to,
       r.is_default
  FROM pg_inherits i
  JOIN pg_class parent ON parent.oid = i.inhparent
  JOIN pg_namespace n ON n.oid = parent.relnamespace AND n.nspname = 'sync'
  JOIN pg_class c ON c.oid = i.inhrelid
 CROSS JOIN LATERAL sync._partition_range(c.oid) r
 WHERE parent.relname IN ('bars', 'trades');
COMMENT ON VIEW sync._partition_ranges IS
    'internal: the partitions of sync.bars and sync.trades with their ranges; used by sync.partitions, sync._make_partition(), sync.maintain_partitions() and sync._retain_partitions()';
COMMENT ON COLUMN sync._partition_ranges.dataset IS 'bars or trades';
COMMENT ON COLUMN sync._partition_ranges.partition IS 'the partition';
COMMENT ON COLUMN sync._partition_ranges.range_from IS 'first time it holds';
COMMENT ON COLUMN sync._partition_ranges.range_to IS 'end of its range, exclusive';
COMMENT ON COLUMN sync._partition_ranges.is_default IS 'the default partition';

CREATE VIEW sync.partitions AS
SELECT r.dataset,
       r.partition,
       r.range_from,
       r.range_to,
       r.is_default,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS rows_estimate,
       pg_total_relation_size(c.oid) AS total_bytes
  FROM sync._partition_ranges r
  JOIN pg_class c ON c.oid = r.partition;
COMMENT ON VIEW sync.partitions IS
    'the partitions of sync.bars and sync.trades: time range (NULL for the default partition), the planner''s row estimate and size. Readable by sync_reader';
COMMENT ON COLUMN sync.partitions.dataset IS 'bars or trades';
COMMENT ON COLUMN sync.partitions.partition IS 'the partition';
COMMENT ON COLUMN sync.partitions.range_from IS 'first time it holds (-infinity for the partition a pre-0.9.0 table became)';
COMMENT ON COLUMN sync.partitions.range_to IS 'end of its range, exclusive';
COMMENT ON COLUMN sync.partitions.is_default IS 'the default partition, holding rows no other partition covers until the scheduler moves them to one of their own';
COMMENT ON COLUMN sync.partitions.rows_estimate IS 'reltuples: the planner''s estimate (NULL before the first VACUUM or ANALYZE)';
COMMENT ON COLUMN sync.partitions.total_bytes IS 'size with indexes and TOAST';
GRANT SELECT ON sync.partitions TO sync_reader;

-- Make the partition holding t unless one does: the period of the
-- dataset's width, clipped to the neighbours (a width changed since they
-- were made) so ranges never overlap.  The table is made on its own and
-- attached, which locks the parent only in SHARE UPDATE EXCLUSIVE mode
-- (readers and writers go on) for a partition of the future; one of the
-- past (history about to land, or rows of its range that landed in the
-- default partition and move into it in the same transaction) is made
-- under an ACCESS EXCLUSIVE lock of the parent.
CREATE FUNCTION sync._make_partition(dataset text, t timestamptz) RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    period record;
    lo     timestamptz;
    hi     timestamptz;
    found  regclass;
    pname  text;
    n      integer := 1;
    moving boolean := false;
BEGIN
    SELECT p.partition INTO found FROM sync._partition_ranges p
     WHERE p.dataset = _make_partition.dataset AND p.range_from <= t AND t < p.range_to;
    IF found IS NOT NULL THEN
        RETURN found;
    END IF;
    period := sync._partition_period((sync._partition_setting(dataset)).partition_interval, t);
    SELECT greatest(period.range_from, max(p.range_to) FILTER (WHERE p.range_to <= t)),
           least(period.range_to, min(p.range_from) FILTER (WHERE p.range_from > t))
      INTO lo, hi
      FROM sync._partition_ranges p WHERE p.dataset = _make_partition.dataset AND NOT p.is_default;
    lo := coalesce(lo, period.range_from);
    hi := coalesce(hi, period.range_to);
    pname := dataset || '_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD')
            || CASE WHEN lo = date_trunc('day', lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' THEN ''
                    ELSE to_char(lo AT TIME ZONE 'UTC', '_HH24MI') END;
    WHILE to_regclass(format('sync.%I', pname || CASE WHEN n > 1 THEN '_' || n ELSE '' END)) IS NOT NULL LOOP
        n := n + 1;
    END LOOP;
    pname := pname || CASE WHEN n > 1 THEN '_' || n ELSE '' END;
    EXECUTE format('CREATE TABLE sync.%I (LIKE sync.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING STORAGE INCLUDING COMPRESSION)', pname, dataset);
    -- The range's rows leave the default partition before the attach and
    -- enter the new one only after it: rows written into the table before
    -- it is a partition are not published as rows of the root, and a
    -- logical replica (docs/replicas.md) would see only their DELETE.
    IF to_regclass(format('sync.%I', dataset || '_default')) IS NOT NULL THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM sync.%I WHERE ts >= $1 AND ts < $2)', dataset || '_default')
            INTO moving USING lo, hi;
    END IF;
    IF moving OR lo < now() THEN
        -- Rows will be in the new partition at once (they move there, or a
        -- backfill is about to write there): no transaction may still hold
        -- the parent.  One that read it keeps its list of partitions for
        -- its later statements (and a statement planned before the attach
        -- but run after it, its plan), and with a newer snapshot would
        -- miss those rows: the aggregator folded such a page into nothing.
        -- Partitions of the future, made ahead, get rows only long after
        -- every such transaction ended, and take the light lock alone.
        -- The lock also keeps rows from landing in the default partition
        -- meanwhile, which would make the attach fail.
        EXECUTE format('LOCK TABLE sync.%I IN ACCESS EXCLUSIVE MODE', dataset);
    END IF;
    IF moving THEN
        EXECUTE format('CREATE TEMP TABLE sync_moving (LIKE sync.%I) ON COMMIT DROP', dataset);
        EXECUTE format('WITH moved AS (DELETE FROM sync.%I WHERE ts >= $1 AND ts < $2 RETURNING *)'
                       ' INSERT INTO pg_temp.sync_moving SELECT * FROM moved', dataset || '_default')
            USING lo, hi;
    END IF;
    EXECUTE format('ALTER TABLE sync.%I ATTACH PARTITION sync.%I FOR VALUES FROM (%L) TO (%L)',
                   dataset, pname, lo, hi);
    IF to_regclass('pg_temp.sync_moving') IS NOT NULL THEN
        EXECUTE format('INSERT INTO sync.%I SELECT * FROM pg_temp.sync_moving', pname);
        DROP TABLE pg_temp.sync_moving;
    END IF;
    RETURN format('sync.%I', pname)::regclass;
END
$$;
COMMENT ON FUNCTION sync._make_partition(text, timestamptz) IS
    'internal: make (or find) the partition of sync.bars or sync.trades holding a time, moving that range''s rows out of the default partition; used by sync.maintain_partitions()';

-- The partitions of n periods of a dataset from the one holding t, none
-- starting at or after stop_at, and at most budget new ones; returns how
-- many were made.  One that cannot
-- get its locks within lock_timeout, or whose range a row entered the
-- default partition for meanwhile (the attach then fails), is left for the
-- next call.
CREATE FUNCTION sync._make_partitions(ds text, t timestamptz, n integer, budget integer,
                                      stop_at timestamptz DEFAULT 'infinity') RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    made   integer := 0;
    before bigint;
    part   regclass;
BEGIN
    FOR i IN 1 .. n LOOP
        EXIT WHEN made >= budget OR t >= stop_at;
        before := (SELECT count(*) FROM sync._partition_ranges p WHERE p.dataset = ds);
        BEGIN
            part := sync._make_partition(ds, t);
        EXCEPTION WHEN lock_not_available OR check_violation THEN
            RAISE LOG 'sync: partition of % for % left for later: %', ds, t, SQLERRM;
            EXIT;
        END;
        made := made + ((SELECT count(*) FROM sync._partition_ranges p WHERE p.dataset = ds) - before)::integer;
        t := (SELECT p.range_to FROM sync._partition_ranges p WHERE p.partition = part);
    END LOOP;
    RETURN made;
END
$$;
COMMENT ON FUNCTION sync._make_partitions(text, timestamptz, integer, integer, timestamptz) IS
    'internal: make the partitions of n periods from the one holding a time, at most budget new ones, leaving those that cannot get their locks for later; used by sync.maintain_partitions()';

-- Keep partitions made ahead of the data: the current period and premake
-- more, and ahead of each backfill (a subscription's or a requested run's
-- checkpoint and the periods after it), so history lands in partitions of
-- its own; then move rows that landed in the default partition anyway (a
-- backfill faster than the partitions, a provider's clock far ahead) into
-- partitions of their own.  At most max_partitions new partitions a call;
-- returns how many, and the scheduler calls again soon while that is above
-- zero.
CREATE FUNCTION sync.maintain_partitions(max_partitions integer DEFAULT 32) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    ds      text;
    setting record;
    t       timestamptz;
    made    integer := 0;
    stray   timestamptz;
    cutoff  timestamptz;
BEGIN
    FOREACH ds IN ARRAY ARRAY['bars', 'trades'] LOOP
        CONTINUE WHEN (SELECT c.relkind FROM pg_class c
                        WHERE c.oid = to_regclass(format('sync.%I', ds))) IS DISTINCT FROM 'p';
        setting := sync._partition_setting(ds);
        -- nothing is made or moved for times retention removes (NULL: no
        -- retention): a partition made there would be dropped again by the
        -- next round of retention, and made again, each round
        cutoff := now() - (SELECT r.keep FROM sync.retention r WHERE r.dataset = ds);
        made := made + sync._make_partitions(ds, now(), setting.premake + 1, max_partitions - made);
        -- eight periods ahead of each backfill's checkpoint (the scheduler
        -- comes back every sync.retention_interval_ms, a backfill moves
        -- on), up to now: the periods from now on are the premake's
        FOR t IN
            SELECT DISTINCT x.t
              FROM (SELECT coalesce(s.synced_through, s.history_from) AS t
                      FROM sync.subscriptions s
                     WHERE s.dataset = ds AND s.state = 'active'
                    UNION ALL
                    SELECT coalesce(j.checkpoint, j.range_from)
                      FROM sync.job_runs j
                     WHERE j.requested AND j.state IN ('pending', 'running') AND j.dataset = ds) x
             WHERE x.t < now()
             ORDER BY 1
        LOOP
            EXIT WHEN made >= max_partitions;
            made := made + sync._make_partitions(ds, greatest(t, cutoff), 8, max_partitions - made, now());
        END LOOP;
        CONTINUE WHEN to_regclass(format('sync.%I', ds || '_default')) IS NULL;
        LOOP
            EXIT WHEN made >= max_partitions;
            -- rows past retention stay, for retention to delete
            EXECUTE format('SELECT ts FROM sync.%I WHERE $1 IS NULL OR ts >= $1 LIMIT 1', ds || '_default')
               INTO stray USING cutoff;
            EXIT WHEN stray IS NULL;
            BEGIN
                PERFORM sync._make_partition(ds, stray);
            EXCEPTION WHEN lock_not_available OR check_violation THEN
                RAISE LOG 'sync: rows of % in its default partition left for later: %', ds, SQLERRM;
                EXIT;
            END;
            made := made + 1;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$;
COMMENT ON FUNCTION sync.maintain_partitions(integer) IS
    'make the partitions of sync.bars and sync.trades ahead of the data (the current period and sync.partitioning''s premake more, and eight periods from each backfill''s checkpoint) and move rows of the default partitions into partitions of their own, at most max_partitions a call, never for times sync.retention removes; returns the partitions made. Called by the scheduler worker every sync.retention_interval_ms; the extension owner only';

CREATE FUNCTION @extschema@.sync_set_partitioning(dataset text, partition_interval interval,
                                                  premake integer DEFAULT 3) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    months integer := extract(year FROM partition_interval)::integer * 12
                      + extract(month FROM partition_interval)::integer;
BEGIN
    IF dataset IS NULL OR NOT dataset = ANY ('{bars,trades}') THEN
        RAISE EXCEPTION 'unknown dataset "%"', dataset
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Datasets: bars, trades.';
    END IF;
    IF partition_interval IS NULL THEN
        DELETE FROM sync.partitioning p WHERE p.dataset = sync_set_partitioning.dataset;
        RETURN;
    END IF;
    IF months > 0 AND partition_interval <> make_interval(months => months) THEN
        RAISE EXCEPTION 'partition_interval "%" mixes months with days or hours', partition_interval
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use whole months (''1 month'', ''3 months'') or a fixed width (''1 day'', ''7 days'').';
    END IF;
    IF months < 0 OR (months = 0 AND partition_interval < interval '1 hour') THEN
        RAISE EXCEPTION 'partition_interval must be at least an hour, not "%"', partition_interval
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF premake IS NULL OR premake < 0 OR premake > 1000 THEN
        RAISE EXCEPTION 'premake must be between 0 and 1000, not %', premake
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO sync.partitioning AS p (dataset, partition_interval, premake)
    VALUES (dataset, partition_interval, premake)
    ON CONFLICT ON CONSTRAINT partitioning_pkey
    DO UPDATE SET partition_interval = excluded.partition_interval, premake = excluded.premake,
                  updated_at = now();
END
$$;
COMMENT ON FUNCTION @extschema@.sync_set_partitioning(text, interval, integer) IS
    'set the width of new partitions of bars or trades (whole months, or at least an hour) and how many are made ahead; NULL width restores the default. Existing partitions keep their ranges. sync_admin';

-- The refresh of the rollups, locking its input first (below).
CREATE OR REPLACE FUNCTION sync.refresh_rollups(max_ranges integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_seqscan = off
AS $$
DECLARE
    claimed bigint[];
    lvl     record;
BEGIN
    IF max_ranges IS NULL OR max_ranges < 1 THEN
        RAISE EXCEPTION 'max_ranges must be at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one refresher at a time; the others have nothing to add
    IF NOT pg_try_advisory_xact_lock(1937337955, 1) THEN  -- 1937337955 = 'sync'
        RETURN 0;
    END IF;
    -- The 1-minute input locked before the first snapshot that reads it:
    -- rows moved out of a default partition (sync._make_partition) move
    -- under an ACCESS EXCLUSIVE lock, and a statement whose snapshot was
    -- taken before such a move but that waited for it would plan with the
    -- new partition, not see the moved rows there, and skip the default
    -- partition: it would fold them into nothing.  Waiting here instead,
    -- every statement below has a snapshot newer than any move, and no
    -- move happens until this refresh commits.  The parents only (ONLY):
    -- a move locks its parent, and thousands of partitions need no lock.
    LOCK TABLE ONLY sync.bars, sync.trades IN ACCESS SHARE MODE;
    -- Exactly the rows read here are deleted at the end: one committed
    -- meanwhile stays for the next refresh, whatever its id.
    claimed := ARRAY(SELECT i.id FROM sync.rollup_invalidations i ORDER BY i.id LIMIT max_ranges);
    IF cardinality(claimed) = 0 THEN
        RETURN 0;
    END IF;

    FOR lvl IN SELECT r.name, r.bucket, r.built_from FROM sync.rollups r ORDER BY r.bucket LOOP
        EXECUTE format('DELETE FROM sync.%I t USING sync._bucket_ranges($1, $2) r'
                       ' WHERE t.source = r.source AND t.symbol = r.symbol'
                       '   AND t.ts >= r.lo AND t.ts < r.hi', 'rollup_' || lvl.name)
            USING lvl.bucket, claimed;
        IF lvl.built_from IS NULL THEN
            EXECUTE format('INSERT INTO sync.%I'
                           ' SELECT r.source, r.symbol, a.ts, a.open, a.high, a.low, a.close, a.volume,'
                           '        a.trades, a.notional / NULLIF(a.volume, 0), a.notional'
                           '   FROM sync._bucket_ranges($1, $2) r'
                           '  CROSS JOIN LATERAL sync._aggregate_minutes(r.source, r.symbol, $1, r.lo, r.hi) a',
                           'rollup_' || lvl.name)
                USING lvl.bucket, claimed;
        ELSE
            EXECUTE format('INSERT INTO sync.%I'
                           ' SELECT x.source, x.symbol, x.ts, x.open, x.high, x.low, x.close, x.volume, x.trades,'
                           '        x.notional / NULLIF(x.volume, 0), x.notional'
                           '   FROM (SELECT r.source, r.symbol, date_bin($1, c.ts, sync._origin()) AS ts,'
                           '                (array_agg(c.open ORDER BY c.ts))[1] AS open,'
                           '                max(c.high) AS high, min(c.low) AS low,'
                           '                (array_agg(c.close ORDER BY c.ts DESC))[1] AS close,'
                           '                sum(c.volume) AS volume, sum(c.trades)::bigint AS trades,'
                           '                CASE WHEN count(c.notional) = count(*) THEN sum(c.notional) END AS notional'
                           '           FROM sync._bucket_ranges($1, $2) r'
                           '           JOIN sync.%I c ON c.source = r.source AND c.symbol = r.symbol'
                           '                         AND c.ts >= r.lo AND c.ts < r.hi'
                           '          GROUP BY 1, 2, 3) x',
                           'rollup_' || lvl.name, 'rollup_' || lvl.built_from)
                USING lvl.bucket, claimed;
        END IF;
        UPDATE sync.rollups SET refreshed_at = now() WHERE name = lvl.name;
    END LOOP;
    DELETE FROM sync.rollup_invalidations WHERE id = ANY (claimed);
    RETURN cardinality(claimed);
END
$$;

-- Turn one of the tables into a partitioned table of the same name.  The
-- old table, with every row it holds, becomes the partition <dataset>_legacy
-- covering everything before the end of the current period (or of its
-- newest row): no row is copied, its rows are only read to check the bound
-- (and for trades, to build the new key's index).  An empty old table is
-- dropped; a kept one leaves the extension, as partitions made at run time
-- are not in it (pg_dump dumps them with their rows).  sync's views over it (sync.gaps) are pointed at the new table
-- (a user's view stops the update with a hint: an extension may not
-- replace it); its triggers, grants and comments move there.
CREATE FUNCTION sync._partition_table(dataset text, key text, indexes text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old      regclass := format('sync.%I', dataset)::regclass;
    legacy   text := dataset || '_legacy';
    obj      record;
    vdefs    text[] := '{}';
    vnames   text[] := '{}';
    tdefs    text[] := '{}';
    tstates  text[] := '{}';
    tnames   text[] := '{}';
    newest   timestamptz;
    upper    timestamptz;
    has_rows boolean;
    ix       text;
BEGIN
    -- what depends on the old table, printed with schema-qualified names
    PERFORM set_config('search_path', 'pg_catalog', true);
    FOR obj IN
        SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS def
          FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = old AND v.oid <> old
           AND v.relkind = 'v'
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_depend e
                        WHERE e.classid = 'pg_class'::regclass AND e.objid = obj.name::regclass
                          AND e.refclassid = 'pg_extension'::regclass AND e.deptype = 'e') THEN
            RAISE EXCEPTION 'view % depends on sync.%, which this update turns into a partitioned table', obj.name, dataset
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Drop the view, run ALTER EXTENSION sync UPDATE, and create the view again.';
        END IF;
        vnames := vnames || obj.name;
        vdefs := vdefs || obj.def;
    END LOOP;
    FOR obj IN
        SELECT t.tgname, t.tgenabled, pg_get_triggerdef(t.oid) AS def
          FROM pg_trigger t WHERE t.tgrelid = old AND NOT t.tgisinternal ORDER BY t.tgname
    LOOP
        tnames := tnames || obj.tgname::text;
        tdefs := tdefs || obj.def;
        tstates := tstates || obj.tgenabled::text;
        EXECUTE format('DROP TRIGGER %I ON %s', obj.tgname, old);
    END LOOP;

    EXECUTE format('ALTER TABLE %s RENAME TO %I', old, legacy);
    FOR obj IN SELECT c.conname FROM pg_constraint c WHERE c.conrelid = old AND c.contype IN ('p', 'u')
    LOOP
        EXECUTE format('ALTER TABLE sync.%I RENAME CONSTRAINT %I TO %I', legacy, obj.conname,
                       legacy || substr(obj.conname, length(dataset) + 1));
    END LOOP;
    FOREACH ix IN ARRAY indexes LOOP
        EXECUTE format('ALTER INDEX sync.%I RENAME TO %I', ix, legacy || substr(ix, length(dataset) + 1));
    END LOOP;

    EXECUTE format('CREATE TABLE sync.%I (LIKE sync.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                   ' INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS) PARTITION BY RANGE (ts)',
                   dataset, legacy);
    EXECUTE format('ALTER TABLE sync.%I ADD CONSTRAINT %I PRIMARY KEY (%s)', dataset, dataset || '_pkey', key);
    EXECUTE format('COMMENT ON TABLE sync.%I IS %L', dataset, obj_description(old, 'pg_class'));
    FOR obj IN SELECT a.grantee, a.privilege_type, a.is_grantable
                 FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = old AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT %s ON sync.%I TO %s%s', obj.privilege_type, dataset,
                       CASE obj.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(obj.grantee::regrole::text) END,
                       CASE WHEN obj.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    EXECUTE format('CREATE TABLE sync.%I PARTITION OF sync.%I DEFAULT', dataset || '_default', dataset);
    FOR obj IN SELECT a.attname, col_description(old, a.attnum) AS c
                 FROM pg_attribute a WHERE a.attrelid = old AND a.attnum > 0 AND NOT a.attisdropped
                  AND col_description(old, a.attnum) IS NOT NULL
    LOOP
        EXECUTE format('COMMENT ON COLUMN sync.%I.%I IS %L', dataset || '_default', obj.attname, obj.c);
    END LOOP;

    FOR i IN 1 .. coalesce(array_length(vdefs, 1), 0) LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', vnames[i], vdefs[i]);
    END LOOP;

    EXECUTE format('SELECT EXISTS (SELECT 1 FROM sync.%I)', legacy) INTO has_rows;
    IF has_rows THEN
        EXECUTE format('SELECT max(ts) FROM sync.%I', legacy) INTO newest;
        upper := (sync._partition_period((sync._partition_setting(dataset)).partition_interval,
                                         greatest(newest, now()))).range_to;
        IF dataset = 'trades' THEN
            -- the partitioned key has ts in it: the old three-column key
            -- goes, and ATTACH builds the new one's index
            ALTER TABLE sync.trades_legacy DROP CONSTRAINT trades_legacy_pkey;
        END IF;
        EXECUTE format('ALTER TABLE sync.%I ATTACH PARTITION sync.%I FOR VALUES FROM (MINVALUE) TO (%L)',
                       dataset, legacy, upper);
        EXECUTE format('COMMENT ON TABLE sync.%I IS %L', legacy,
                       format('partition of sync.%s holding the rows stored before 0.9.0 (and any older than its upper bound since); dropped by retention once entirely past it', dataset));
    END IF;
    -- Out of the extension (and its list of tables pg_dump copies): a
    -- partition like those made at run time, which pg_dump dumps whole
    -- while CREATE EXTENSION, on restore, makes the parent.
    EXECUTE format('ALTER EXTENSION sync DROP TABLE sync.%I', legacy);
    IF NOT has_rows THEN
        EXECUTE format('DROP TABLE sync.%I', legacy);
    END IF;

    FOR i IN 1 .. coalesce(array_length(tdefs, 1), 0) LOOP
        EXECUTE replace(tdefs[i], ' ON sync.' || legacy || ' ', ' ON sync.' || dataset || ' ');
        IF tstates[i] <> 'O' THEN
            EXECUTE format('ALTER TABLE sync.%I %s TRIGGER %I', dataset,
                           CASE tstates[i] WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA'
                                           ELSE 'ENABLE ALWAYS' END, tnames[i]);
        END IF;
    END LOOP;
    PERFORM pg_catalog.pg_extension_config_dump(format('sync.%I', dataset || '_default'), '');
END
$$;

SELECT sync._partition_table('bars', 'source, symbol, bar_interval, ts', '{}');
SELECT sync._partition_table('trades', 'source, symbol, trade_id, ts', '{trades_symbol_ts_idx}');
CREATE INDEX trades_symbol_ts_idx ON sync.trades (source, symbol, ts);
DROP FUNCTION sync._partition_table(text, text, text[]);
COMMENT ON TABLE sync.bars_default IS
    'default partition of sync.bars: rows no other partition covers, moved to partitions of their own by sync.maintain_partitions()';
COMMENT ON TABLE sync.trades_default IS
    'default partition of sync.trades: rows no other partition covers, moved to partitions of their own by sync.maintain_partitions()';

-- Retention by partition ------------------------------------------------

-- Rows of a partitioned dataset older than cutoff: partitions entirely
-- past it are dropped (no row by row delete, no bloat, no vacuum); the one
-- partition straddling it, and the default partition, lose their old rows
-- in batches through sync._delete_old, run on the partition itself
-- (ctid is only unique within one).  Returns the rows gone, counted
-- (a read of the partition, no write: the planner's estimate was seen
-- off by a factor of five right after rows moved in).  A partition whose
-- lock is not had within lock_timeout is left for the next round.
CREATE FUNCTION sync._retain_partitions(dataset text, series text, cutoff timestamptz, batch integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    p    record;
    n    bigint := 0;
    est  bigint;
BEGIN
    FOR p IN SELECT x.partition, c.relname, x.range_from, x.range_to, x.is_default
               FROM sync._partition_ranges x JOIN pg_class c ON c.oid = x.partition
              WHERE x.dataset = _retain_partitions.dataset
                AND (x.is_default OR x.range_from < cutoff)
              ORDER BY x.range_from NULLS LAST
    LOOP
        IF NOT p.is_default AND p.range_to <= cutoff THEN
            -- its rows, for sync.job_runs: from the statistics where the
            -- partition has them (an old partition has been analyzed or
            -- vacuumed since its rows came), since counting them would read
            -- a whole partition only to drop it; counted where it has none,
            -- or they say empty (a partition analyzed before its rows came;
            -- on Citus, the coordinator's empty shell of a distributed
            -- partition).  Not pg_stat's live count: 009 saw it a third high
            SELECT CASE WHEN c.reltuples > 0 THEN c.reltuples::bigint END
              INTO est FROM pg_class c WHERE c.oid = p.partition;
            IF est IS NULL THEN
                EXECUTE format('SELECT count(*) FROM %s', p.partition) INTO est;
            END IF;
            BEGIN
                EXECUTE format('DROP TABLE %s', p.partition);
                n := n + est;
            EXCEPTION WHEN lock_not_available THEN
                RAISE LOG 'sync: retention left % for later: %', p.partition, SQLERRM;
            END;
        ELSIF n < batch THEN
            n := n + sync._delete_old(p.relname, series, cutoff, (batch - n)::integer);
        END IF;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION sync._retain_partitions(text, text, timestamptz, integer) IS
    'internal: drop the partitions of sync.bars or sync.trades entirely older than a cutoff and delete a batch of older rows from the partition straddling it and the default one; used by sync.apply_retention()';

CREATE OR REPLACE FUNCTION sync.apply_retention(batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p      record;
    cutoff timestamptz;
    n      bigint;
    total  bigint := 0;
    parted boolean;
BEGIN
    PERFORM set_config('sync.keep_rollups', 'on', true);
    FOR p IN SELECT * FROM sync.retention ORDER BY dataset LOOP
        cutoff := now() - p.keep;
        parted := p.dataset IN ('bars', 'trades')
                  AND (SELECT c.relkind FROM pg_class c WHERE c.oid = format('sync.%I', p.dataset)::regclass) = 'p';
        IF parted THEN
            n := sync._retain_partitions(p.dataset,
                                         CASE p.dataset WHEN 'bars' THEN 'source, symbol, bar_interval'
                                                        ELSE 'source, symbol' END,
                                         cutoff, batch);
        ELSIF p.dataset = 'bars' THEN
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
COMMENT ON FUNCTION sync.apply_retention(integer) IS
    'apply every sync.retention policy: drop the partitions of bars and trades entirely past it, and delete up to batch older rows per dataset elsewhere; returns the rows gone. Called by the scheduler worker every sync.retention_interval_ms; the extension owner only';
COMMENT ON TABLE sync.retention IS
    'how long each dataset is kept, written by sync_set_retention(); the scheduler drops partitions of bars and trades entirely past it and deletes older rows elsewhere in batches. Readable by sync_reader';

REVOKE ALL ON FUNCTION sync.maintain_partitions(integer), sync._retain_partitions(text, text, timestamptz, integer),
                       sync._make_partition(text, timestamptz), sync._make_partitions(text, timestamptz, integer, integer, timestamptz)
    FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.sync_set_partitioning(text, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_set_partitioning(text, interval, integer) TO sync_admin;

-- Read replicas --------------------------------------------------------

-- A replica is a second cluster with the extension installed and no
-- sync_start(): its tables are fed by a subscription to a publication on
-- the ingesting server.  The publication lists the extension's tables but
-- sync.source_secrets (credentials never leave the server that uses them),
-- bars and trades through their partitioned roots.

-- sync.checked_gaps has no primary key, and the workers UPDATE and DELETE
-- its rows: once it is in a publication, each of those statements would
-- fail ("cannot update table ... because it does not have a replica
-- identity and publishes updates"), and with them the page the worker
-- stores.  The whole old row identifies it instead; the table stays small
-- (a quiet stretch extends its row rather than adding one).
ALTER TABLE sync.checked_gaps REPLICA IDENTITY FULL;

-- The tables a replica receives: every table of the extension but the
-- credentials, and no partition (a partition's rows travel as its
-- partitioned root's, so partitions made later need nothing).
CREATE FUNCTION sync.replica_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid::regclass
      FROM pg_depend d
      JOIN pg_class c ON c.oid = d.objid
     WHERE d.classid = 'pg_class'::regclass
       AND d.refclassid = 'pg_extension'::regclass
       AND d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'sync')
       AND d.deptype = 'e'
       AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition
       AND c.oid <> 'sync.source_secrets'::regclass
     ORDER BY c.relname
$$;
COMMENT ON FUNCTION sync.replica_tables() IS
    'the tables a read replica receives: every table of sync but sync.source_secrets, partitioned tables by their root. See docs/replicas.md';

-- On the ingesting server: make the publication a replica subscribes to,
-- or bring an existing one's table list up to date (after an extension
-- update added tables; then ALTER SUBSCRIPTION ... REFRESH PUBLICATION on
-- the replica).  publish_via_partition_root: changes of every partition,
-- those made later included, are published as changes of sync.bars and
-- sync.trades, which is all the replica has to have.
CREATE FUNCTION sync.publish_for_replicas(publication name DEFAULT 'sync_replica')
RETURNS SETOF regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tables text := (SELECT string_agg(t::text, ', ') FROM sync.replica_tables() t);
    p      pg_publication;
BEGIN
    IF publication IS NULL THEN
        RAISE EXCEPTION 'publication name must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO p FROM pg_publication x WHERE x.pubname = publication;
    IF NOT FOUND THEN
        EXECUTE format('CREATE PUBLICATION %I FOR TABLE %s WITH (publish_via_partition_root = true)',
                       publication, tables);
    ELSE
        IF p.puballtables THEN
            RAISE EXCEPTION 'publication "%" is FOR ALL TABLES: it would publish sync.source_secrets', publication
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Drop it, or give sync.publish_for_replicas() another name.';
        END IF;
        -- SET TABLE replaces the list, and with it a FOR TABLES IN SCHEMA sync
        EXECUTE format('ALTER PUBLICATION %I SET TABLE %s', publication, tables);
        EXECUTE format('ALTER PUBLICATION %I SET (publish_via_partition_root = true)', publication);
    END IF;
    RETURN QUERY SELECT t FROM sync.replica_tables() t;
END
$$;
COMMENT ON FUNCTION sync.publish_for_replicas(name) IS
    'on the ingesting server: create the publication read replicas subscribe to (or set its tables): sync.replica_tables(), via the partitioned roots; returns its tables. Superuser. See docs/replicas.md';

-- On the replica, once, before CREATE SUBSCRIPTION: CREATE EXTENSION wrote
-- rows of its own (the rollup levels in sync.rollups, the XNYS and XNAS
-- sessions); the subscription's initial copy brings the ingesting server's
-- rows of the same keys and would stop on a duplicate key.  Refuses a
-- database that runs sync or holds data of its own: this is for a fresh
-- CREATE EXTENSION, never for the ingesting server.
--
-- Sequences are not replicated: the replica's stay where CREATE EXTENSION
-- left them, and a row written on the replica itself (sync.apply_retention()
-- run there logs one in sync.job_runs) would take an id the ingesting
-- server hands out too, and the subscription would stop on that duplicate
-- key when the server's row arrives.  So the replica's sequences count down
-- from -1: its own rows never take an id of the server's.
CREATE FUNCTION sync.prepare_replica() RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n   bigint;
    seq record;
BEGIN
    IF sync._supervisor_pid() IS NOT NULL THEN
        RAISE EXCEPTION 'sync is running in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A read replica runs no workers: its tables come from the ingesting server.',
                  HINT = 'Prepare a database where sync_start() was never called.';
    END IF;
    IF EXISTS (SELECT 1 FROM sync.sources) OR EXISTS (SELECT 1 FROM sync.bars)
       OR EXISTS (SELECT 1 FROM sync.trades) OR EXISTS (SELECT 1 FROM sync.rollup_5m) THEN
        RAISE EXCEPTION 'this database holds market data or sources'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'sync.prepare_replica() empties every table a replica receives.',
                  HINT = 'Run it right after CREATE EXTENSION sync, before CREATE SUBSCRIPTION.';
    END IF;
    FOR seq IN
        SELECT d.objid::regclass AS name
          FROM pg_depend d
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.deptype = 'a' AND d.refobjid IN (SELECT t FROM sync.replica_tables() t)
           AND (SELECT c.relkind FROM pg_class c WHERE c.oid = d.objid) = 'S'
    LOOP
        EXECUTE format('ALTER SEQUENCE %s INCREMENT BY -1 NO MINVALUE MAXVALUE -1 START WITH -1 RESTART',
                       seq.name);
    END LOOP;
    SELECT count(*) INTO n FROM sync.replica_tables();
    -- sync.source_secrets too, empty as sync.sources is: its key refers to
    -- sync.sources, and TRUNCATE takes a referenced table only with it
    EXECUTE 'TRUNCATE sync.source_secrets, '
            || (SELECT string_agg(t::text, ', ') FROM sync.replica_tables() t);
    RETURN n;
END
$$;
COMMENT ON FUNCTION sync.prepare_replica() IS
    'on a read replica, after CREATE EXTENSION sync and before CREATE SUBSCRIPTION: empty the tables it receives (the rows CREATE EXTENSION wrote would collide with the initial copy) and make their sequences count down from -1 (rows written on the replica itself never take an id of the ingesting server''s); refuses a database that runs sync or holds data; returns how many tables. Superuser. See docs/replicas.md';

REVOKE ALL ON FUNCTION sync.publish_for_replicas(name), sync.prepare_replica() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.replica_tables() TO sync_reader;

-- Scale-out (Citus) ----------------------------------------------------
--
-- sync_distribute() spreads the market data over a Citus cluster
-- (docs/scale-out.md): sync.bars, sync.trades and the rollup tables become
-- distributed tables sharded by symbol, all colocated, so every query of one
-- series, every page a worker stores and every rollup bucket it feeds lands on
-- one shard.  The rest (sources, subscriptions, job history, rejects, gaps
-- checked, the invalidation log) stays on the coordinator, where sync's
-- workers run: each page's checkpoint commits locally with the page.
--
-- What Citus cannot take as it is, the function replaces:
--   - triggers: Citus refuses distributed tables with triggers, and
--     transition tables do not exist there; the rollup triggers are dropped,
--     and sync's workers log the range of each page they store themselves
--     (src/storage_citus.c).  Other writers log theirs with
--     sync.rebuild_rollups() or an INSERT into sync.rollup_invalidations.
--   - SQL functions that read distributed tables with parameters
--     (sync._minutes, inlined into its callers after Citus has planned) and
--     functions that read a coordinator table inside a query Citus pushes to
--     the workers (sync._bucket_ranges in the views and the refresh, which
--     would read the workers' empty copy of sync.rollup_invalidations): the
--     1-minute input becomes PL/pgSQL, the views read the invalidation log
--     directly (Citus then reads it on the coordinator), and the refresh
--     passes the claimed ranges to the workers as arrays.
--   - retention's batched delete (sync._delete_old: ctid and a recursive
--     skip scan, which Citus cannot run across shards) deletes a batch of
--     the oldest keys instead.

-- The Citus form of sync._minutes: PL/pgSQL, so Citus plans its query with
-- the parameters known (one shard: the symbol's).
CREATE FUNCTION sync._citus_minutes_sql() RETURNS text
LANGUAGE sql IMMUTABLE
AS $f$ SELECT $sql$
CREATE OR REPLACE FUNCTION sync._minutes(p_source text, p_symbol text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (ts timestamptz, open numeric, high numeric, low numeric, close numeric,
               volume numeric, trades bigint, notional numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 100
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT b.ts, b.open, b.high, b.low, b.close, b.volume, b.trades,
           CASE WHEN b.vwap IS NOT NULL THEN b.vwap * b.volume
                WHEN b.volume = 0 THEN 0 END
      FROM sync.bars b
     WHERE b.source = p_source AND b.symbol = p_symbol AND b.bar_interval = interval '1 minute'
       AND b.ts >= p_from AND b.ts < p_to
    UNION ALL
    SELECT m.ts, m.open, m.high, m.low, m.close, m.volume, m.trades, m.notional
      FROM (SELECT date_bin(interval '1 minute', t.ts, sync._origin()) AS ts,
                   (array_agg(t.price ORDER BY t.ts, t.trade_id))[1] AS open,
                   max(t.price) AS high, min(t.price) AS low,
                   (array_agg(t.price ORDER BY t.ts DESC, t.trade_id DESC))[1] AS close,
                   sum(t.size) AS volume, count(*) AS trades, sum(t.price * t.size) AS notional
              FROM sync.trades t
             WHERE t.source = p_source AND t.symbol = p_symbol
               AND t.ts >= p_from AND t.ts < p_to
             GROUP BY 1) m
     WHERE NOT EXISTS (SELECT 1 FROM sync.bars b
                        WHERE b.source = p_source AND b.symbol = p_symbol
                          AND b.bar_interval = interval '1 minute' AND b.ts = m.ts);
END
$$
$sql$ $f$;

CREATE FUNCTION sync._citus_aggregate_minutes_sql() RETURNS text
LANGUAGE sql IMMUTABLE
AS $f$ SELECT $sql$
CREATE OR REPLACE FUNCTION sync._aggregate_minutes(p_source text, p_symbol text, w interval,
                                                   p_from timestamptz, p_to timestamptz,
                                                   p_origin timestamptz DEFAULT sync._origin())
RETURNS TABLE (ts timestamptz, open numeric, high numeric, low numeric, close numeric,
               volume numeric, trades bigint, notional numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 100
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT date_bin(w, m.ts, p_origin),
           (array_agg(m.open ORDER BY m.ts))[1], max(m.high), min(m.low),
           (array_agg(m.close ORDER BY m.ts DESC))[1],
           sum(m.volume), sum(m.trades)::bigint,
           CASE WHEN count(m.notional) = count(*) THEN sum(m.notional) END
      FROM sync._minutes(p_source, p_symbol, p_from, p_to) m
     GROUP BY 1;
END
$$
$sql$ $f$;

-- The merged pending ranges of width w as a query text over the
-- invalidation log itself (what sync._bucket_ranges(w) returns), for the
-- views: a table Citus sees is one it reads on the coordinator.
CREATE FUNCTION sync._citus_pending_sql(w interval) RETURNS text
LANGUAGE sql IMMUTABLE
AS $f$ SELECT format($sql$
    SELECT g.source, g.symbol, min(g.lo) AS lo, max(g.hi) AS hi
      FROM (SELECT s.source, s.symbol, s.lo, s.hi,
                   count(*) FILTER (WHERE s.starts)
                       OVER (PARTITION BY s.source, s.symbol ORDER BY s.lo, s.hi) AS grp
              FROM (SELECT b.source, b.symbol, b.lo, b.hi,
                           (b.lo > max(b.hi) OVER (PARTITION BY b.source, b.symbol ORDER BY b.lo, b.hi
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
                               IS NOT FALSE AS starts
                      FROM (SELECT i.source, i.symbol,
                                   date_bin(%1$L::interval, i.lo, sync._origin()) AS lo,
                                   date_bin(%1$L::interval, i.hi, sync._origin()) + %1$L::interval AS hi
                              FROM sync.rollup_invalidations i) b) s) g
     GROUP BY g.source, g.symbol, g.grp$sql$, w) $f$;

-- The Citus form of the refresh: the claimed ranges are read on the
-- coordinator into arrays, and every statement over a distributed table
-- takes them as parameters (unnest), which Citus sends to the shards.
CREATE FUNCTION sync._citus_refresh_sql() RETURNS text
LANGUAGE sql IMMUTABLE
AS $f$ SELECT $sql$
CREATE OR REPLACE FUNCTION sync.refresh_rollups(max_ranges integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_seqscan = off
AS $$
DECLARE
    claimed bigint[];
    lvl     record;
    sources text[];
    symbols text[];
    los     timestamptz[];
    his     timestamptz[];
    buckets sync.rollup_5m[];
BEGIN
    IF max_ranges IS NULL OR max_ranges < 1 THEN
        RAISE EXCEPTION 'max_ranges must be at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT pg_try_advisory_xact_lock(1937337955, 1) THEN  -- 1937337955 = 'sync'
        RETURN 0;
    END IF;
    claimed := ARRAY(SELECT i.id FROM sync.rollup_invalidations i ORDER BY i.id LIMIT max_ranges);
    IF cardinality(claimed) = 0 THEN
        RETURN 0;
    END IF;

    FOR lvl IN SELECT r.name, r.bucket, r.built_from FROM sync.rollups r ORDER BY r.bucket LOOP
        SELECT coalesce(array_agg(r.source), '{}'), coalesce(array_agg(r.symbol), '{}'),
               coalesce(array_agg(r.lo), '{}'), coalesce(array_agg(r.hi), '{}')
          INTO sources, symbols, los, his
          FROM sync._bucket_ranges(lvl.bucket, claimed) r;
        EXECUTE format('DELETE FROM sync.%I t USING unnest($1, $2, $3, $4) AS r(source, symbol, lo, hi)'
                       ' WHERE t.source = r.source AND t.symbol = r.symbol'
                       '   AND t.ts >= r.lo AND t.ts < r.hi', 'rollup_' || lvl.name)
            USING sources, symbols, los, his;
        IF lvl.built_from IS NULL THEN
            -- computed before the insert starts: Citus streams an INSERT's
            -- rows to the shards on the connections the 1-minute input is
            -- read on
            SELECT array_agg(ROW(r.source, r.symbol, a.ts, a.open, a.high, a.low, a.close, a.volume,
                                 a.trades, a.notional / NULLIF(a.volume, 0), a.notional)::sync.rollup_5m)
              INTO buckets
              FROM unnest(sources, symbols, los, his) AS r(source, symbol, lo, hi)
             CROSS JOIN LATERAL sync._aggregate_minutes(r.source, r.symbol, lvl.bucket, r.lo, r.hi) a;
            EXECUTE format('INSERT INTO sync.%I SELECT (b).* FROM unnest($1) AS b', 'rollup_' || lvl.name)
                USING coalesce(buckets, '{}');
        ELSE
            EXECUTE format('INSERT INTO sync.%I'
                           ' SELECT x.source, x.symbol, x.ts, x.open, x.high, x.low, x.close, x.volume, x.trades,'
                           '        x.notional / NULLIF(x.volume, 0), x.notional'
                           '   FROM (SELECT c.source, c.symbol, date_bin($1, c.ts, sync._origin()) AS ts,'
                           '                (array_agg(c.open ORDER BY c.ts))[1] AS open,'
                           '                max(c.high) AS high, min(c.low) AS low,'
                           '                (array_agg(c.close ORDER BY c.ts DESC))[1] AS close,'
                           '                sum(c.volume) AS volume, sum(c.trades)::bigint AS trades,'
                           '                CASE WHEN count(c.notional) = count(*) THEN sum(c.notional) END AS notional'
                           '           FROM unnest($2, $3, $4, $5) AS r(source, symbol, lo, hi)'
                           '           JOIN sync.%I c ON c.source = r.source AND c.symbol = r.symbol'
                           '                         AND c.ts >= r.lo AND c.ts < r.hi'
                           '          GROUP BY 1, 2, 3) x',
                           'rollup_' || lvl.name, 'rollup_' || lvl.built_from)
                USING lvl.bucket, sources, symbols, los, his;
        END IF;
        UPDATE sync.rollups SET refreshed_at = now() WHERE name = lvl.name;
    END LOOP;
    DELETE FROM sync.rollup_invalidations WHERE id = ANY (claimed);
    RETURN cardinality(claimed);
END
$$
$sql$ $f$;

-- The Citus form of the batched delete of retention: ctid and the
-- recursive skip scan do not cross shards.  A batch of the oldest rows'
-- keys is read through the coordinator (Citus merges each shard's oldest),
-- then deleted on the shards.
CREATE FUNCTION sync._citus_delete_old_sql() RETURNS text
LANGUAGE sql IMMUTABLE
AS $f$ SELECT $sql$
CREATE OR REPLACE FUNCTION sync._delete_old(tbl text, series text, cutoff timestamptz, batch integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n   bigint;
    key text;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.i)
      INTO key
      FROM pg_index x
     CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, i)
      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
     WHERE x.indrelid = format('sync.%I', tbl)::regclass AND x.indisprimary;
    EXECUTE format('DELETE FROM sync.%1$I WHERE (%2$s) IN'
                   ' (SELECT %2$s FROM sync.%1$I WHERE ts < $1 ORDER BY ts LIMIT $2)', tbl, key)
        USING cutoff, batch;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$
$sql$ $f$;

CREATE FUNCTION @extschema@.sync_distribute(shard_count integer DEFAULT NULL) RETURNS SETOF regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl   regclass;
    tbls  regclass[];
    lvl   record;
    trg   record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'sync_distribute() needs the citus extension'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'CREATE EXTENSION citus on every node first (shared_preload_libraries = ''citus,sync''); see docs/scale-out.md.';
    END IF;
    IF NOT citus_is_coordinator() THEN
        RAISE EXCEPTION 'sync_distribute() runs on the Citus coordinator'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF (SELECT count(*) FROM pg_catalog.pg_dist_node n WHERE n.groupid <> 0 AND n.isactive) = 0 THEN
        RAISE EXCEPTION 'no Citus worker node to distribute to'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add the workers with citus_add_node() first.';
    END IF;

    -- one connection a worker: Citus refuses the function and view DDL
    -- below after a parallel copy of stored rows in the same transaction
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);

    tbls := ARRAY['sync.bars'::regclass, 'sync.trades'::regclass];
    FOR lvl IN SELECT r.name FROM sync.rollups r ORDER BY r.bucket LOOP
        tbls := tbls || format('sync.%I', 'rollup_' || lvl.name)::regclass;
    END LOOP;

    -- Citus refuses tables with triggers: the rollup triggers go (storage
    -- logs the invalidations of sync's own writes instead).
    FOR trg IN SELECT t.tgname, t.tgrelid::regclass AS rel
                 FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = ANY (tbls) AND NOT t.tgisinternal
                  AND t.tgfoid = 'sync._invalidate_rollups()'::regprocedure LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trg.tgname, trg.rel);
    END LOOP;

    FOREACH tbl IN ARRAY tbls LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = tbl) THEN
            CONTINUE;
        END IF;
        IF tbl = 'sync.bars'::regclass THEN
            PERFORM create_distributed_table(tbl, 'symbol',
                                            shard_count => coalesce(shard_count, current_setting('citus.shard_count')::integer));
        ELSE
            PERFORM create_distributed_table(tbl, 'symbol', colocate_with => 'sync.bars');
        END IF;
        -- Citus copied the rows already stored to the shards
        PERFORM truncate_local_data_after_distributing_table(tbl);
        RETURN NEXT tbl;
    END LOOP;

    EXECUTE sync._citus_minutes_sql();
    EXECUTE sync._citus_aggregate_minutes_sql();
    EXECUTE sync._citus_refresh_sql();
    EXECUTE sync._citus_delete_old_sql();
    FOR lvl IN SELECT r.name, r.bucket FROM sync.rollups r ORDER BY r.bucket LOOP
        EXECUTE format($f$
            CREATE OR REPLACE VIEW sync.%1$I AS
            WITH pending AS MATERIALIZED (%4$s)
            SELECT r.source, r.symbol, r.ts, r.open, r.high, r.low, r.close, r.volume, r.trades, r.vwap
              FROM sync.%3$I r
             WHERE NOT EXISTS (SELECT 1 FROM pending p
                                WHERE p.source = r.source AND p.symbol = r.symbol
                                  AND r.ts >= p.lo AND r.ts < p.hi)
            UNION ALL
            SELECT p.source, p.symbol, a.ts, a.open, a.high, a.low, a.close, a.volume, a.trades,
                   a.notional / NULLIF(a.volume, 0)
              FROM pending p
             CROSS JOIN LATERAL sync._aggregate_minutes(p.source, p.symbol, %2$L::interval, p.lo, p.hi) a
            $f$, 'bars_' || lvl.name, lvl.bucket, 'rollup_' || lvl.name, sync._citus_pending_sql(lvl.bucket));
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.sync_distribute(integer) IS
    'on a Citus coordinator: distribute sync.bars, sync.trades and the rollup tables by symbol (colocated, shard_count shards, citus.shard_count by default), drop their rollup triggers and put in the Citus forms of the rollup functions and views; returns the tables it distributed (none when run again). Superuser only (not sync_admin). See docs/scale-out.md';
COMMENT ON FUNCTION sync._citus_minutes_sql() IS
    'internal: the PL/pgSQL sync._minutes() that sync_distribute() puts in (Citus cannot plan a parameterized SQL function over distributed tables); used by sync_distribute()';
COMMENT ON FUNCTION sync._citus_aggregate_minutes_sql() IS
    'internal: the PL/pgSQL sync._aggregate_minutes() that sync_distribute() puts in; used by sync_distribute()';
COMMENT ON FUNCTION sync._citus_pending_sql(interval) IS
    'internal: the query of a bucket width''s pending ranges over sync.rollup_invalidations, for the views sync_distribute() puts in (read on the coordinator); used by sync_distribute()';
COMMENT ON FUNCTION sync._citus_delete_old_sql() IS
    'internal: the sync._delete_old() of retention that sync_distribute() puts in: a batch of the oldest keys read through the coordinator, deleted on the shards; used by sync_distribute()';
COMMENT ON FUNCTION sync._citus_refresh_sql() IS
    'internal: the sync.refresh_rollups() that sync_distribute() puts in: the claimed ranges go to the shards as arrays; used by sync_distribute()';
REVOKE ALL ON FUNCTION @extschema@.sync_distribute(integer) FROM PUBLIC;
