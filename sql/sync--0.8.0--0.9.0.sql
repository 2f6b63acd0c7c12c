-- sync 0.8.0 -> 0.9.0: past one table and one machine (issue 16).
--
-- sync.bars and sync.trades become tables partitioned by time; retention
-- drops whole partitions; a scale-out layout for Citus.
--
-- A fresh install runs sync--0.1.0.sql and then every update script, so
-- what is written here lands in fresh and updated databases alike.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.9.0'" to load this file. \quit

-- Time partitions ------------------------------------------------------

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
    'on a Citus coordinator: distribute sync.bars, sync.trades and the rollup tables by symbol (colocated, shard_count shards, citus.shard_count by default), drop their rollup triggers and put in the Citus forms of the rollup functions and views; returns the tables it distributed (none when run again). See docs/scale-out.md';
COMMENT ON FUNCTION sync._citus_minutes_sql() IS
    'internal: the PL/pgSQL sync._minutes() that sync_distribute() puts in (Citus cannot plan a parameterized SQL function over distributed tables)';
COMMENT ON FUNCTION sync._citus_aggregate_minutes_sql() IS
    'internal: the PL/pgSQL sync._aggregate_minutes() that sync_distribute() puts in';
COMMENT ON FUNCTION sync._citus_pending_sql(interval) IS
    'internal: the query of a bucket width''s pending ranges over sync.rollup_invalidations, for the views sync_distribute() puts in (read on the coordinator)';
COMMENT ON FUNCTION sync._citus_refresh_sql() IS
    'internal: the sync.refresh_rollups() that sync_distribute() puts in: the claimed ranges go to the shards as arrays';
REVOKE ALL ON FUNCTION @extschema@.sync_distribute(integer) FROM PUBLIC;
