/* sync 0.1.0 -> 0.2.0: OHLCV rollups (5m, 15m, 1h, 1d) maintained
 * incrementally, their always-current views, and sync_resample().
 *
 * How the rollups stay correct without ever being refreshed by hand:
 *   - Statement-level triggers on sync.bars and sync.trades write one row
 *     per (source, symbol) and statement into sync.rollup_invalidations:
 *     the earliest and latest time the statement touched.  No per-row
 *     trigger, no table scan: the transition table of the statement is
 *     all they read.
 *   - sync.refresh_rollups() (run by the aggregator worker) claims those
 *     rows and recomputes only the buckets they touch, level by level:
 *     5m from 1-minute bars, 15m from 5m, 1h from 15m, 1d from 1h.
 *   - Each view returns the materialized buckets no pending invalidation
 *     touches, plus the touched buckets computed on the fly from the
 *     1-minute bars.  So a query sees every stored row, whatever the
 *     aggregator is doing; the aggregator only makes queries cheaper.
 *
 * 1-minute input: the 1-minute bars of sync.bars, and for minutes that
 * have no such bar, minutes built from sync.trades.  Provider bars win
 * where both exist because they include prints a trade feed may not.
 *
 * vwap is carried as notional (sum of vwap * volume) so that each level
 * adds it exactly; a bucket's vwap is notional / volume, and unknown when
 * any constituent with volume has an unknown vwap.
 */

\echo Use "ALTER EXTENSION sync UPDATE TO '0.2.0'" to load this file. \quit

-- Invalidation log ---------------------------------------------------------

CREATE TABLE sync.rollup_invalidations (
    id        bigserial PRIMARY KEY,
    source    text NOT NULL,
    symbol    text NOT NULL,
    lo        timestamptz NOT NULL,     -- earliest time a statement touched
    hi        timestamptz NOT NULL,     -- latest time it touched
    logged_at timestamptz NOT NULL DEFAULT now(),
    CHECK (lo <= hi)
);
COMMENT ON TABLE sync.rollup_invalidations IS
    'time ranges of 1-minute input changed since the rollups were last refreshed; drained by sync.refresh_rollups()';

-- Rollup levels, refreshed in bucket order: each is built from the one
-- before it (the first from 1-minute input).
CREATE TABLE sync.rollups (
    name          text PRIMARY KEY,
    bucket        interval NOT NULL UNIQUE,
    built_from    text REFERENCES sync.rollups (name),   -- NULL: 1-minute input
    refreshed_at  timestamptz,                           -- last refresh that changed it
    CHECK (bucket > interval '1 minute')
);
COMMENT ON TABLE sync.rollups IS 'materialized OHLCV levels behind the sync.bars_<name> views';

-- Buckets of every level start at multiples of their width from this
-- origin (a midnight UTC), so 1d buckets are UTC days and each level's
-- buckets nest inside the next one's.
CREATE FUNCTION sync._origin() RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT timestamptz '2000-01-01 00:00:00+00' $$;

-- Merged bucket ranges [lo, hi) at width w covering the pending
-- invalidations (only those whose id is in claimed, unless it is NULL):
-- disjoint per (source, symbol), so aggregating over them counts no row
-- twice.  Plain arguments keep it inlinable into the views.
CREATE FUNCTION sync._bucket_ranges(w interval, claimed bigint[] DEFAULT NULL)
RETURNS TABLE (source text, symbol text, lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT g.source, g.symbol, min(g.lo), max(g.hi)
      FROM (SELECT s.source, s.symbol, s.lo, s.hi,
                   count(*) FILTER (WHERE s.starts)
                       OVER (PARTITION BY s.source, s.symbol ORDER BY s.lo, s.hi) AS grp
              FROM (SELECT b.source, b.symbol, b.lo, b.hi,
                           (b.lo > max(b.hi) OVER (PARTITION BY b.source, b.symbol ORDER BY b.lo, b.hi
                                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))
                               IS NOT FALSE AS starts
                      FROM (SELECT i.source, i.symbol,
                                   date_bin(w, i.lo, sync._origin()) AS lo,
                                   date_bin(w, i.hi, sync._origin()) + w AS hi
                              FROM sync.rollup_invalidations i
                             WHERE claimed IS NULL OR i.id = ANY (claimed)) b) s) g
     GROUP BY g.source, g.symbol, g.grp
$$;

-- 1-minute input of one symbol in [p_from, p_to): provider 1-minute bars,
-- and minutes built from trades where no such bar exists.  Inlined into
-- the caller's query, so its quals reach the index scans.
CREATE FUNCTION sync._minutes(p_source text, p_symbol text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (ts timestamptz, open numeric, high numeric, low numeric, close numeric,
               volume numeric, trades bigint, notional numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
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
                          AND b.bar_interval = interval '1 minute' AND b.ts = m.ts)
$$;

-- Buckets of width w over one symbol's 1-minute input in [p_from, p_to).
CREATE FUNCTION sync._aggregate_minutes(p_source text, p_symbol text, w interval,
                                        p_from timestamptz, p_to timestamptz,
                                        p_origin timestamptz DEFAULT sync._origin())
RETURNS TABLE (ts timestamptz, open numeric, high numeric, low numeric, close numeric,
               volume numeric, trades bigint, notional numeric)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 100
-- Not inlined (SET makes it opaque): the views then plan only a function
-- call for their on-the-fly part, which most of the time has no rows.
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT date_bin(w, m.ts, p_origin),
           (array_agg(m.open ORDER BY m.ts))[1], max(m.high), min(m.low),
           (array_agg(m.close ORDER BY m.ts DESC))[1],
           sum(m.volume), sum(m.trades)::bigint,
           CASE WHEN count(m.notional) = count(*) THEN sum(m.notional) END
      FROM sync._minutes(p_source, p_symbol, p_from, p_to) m
     GROUP BY 1
$$;

-- Invalidation triggers ----------------------------------------------------

-- One row per (source, symbol) and statement.  A session that sets
-- sync.keep_rollups = on (retention does) changes base data without
-- touching the rollups, which keep their own, longer history.
CREATE FUNCTION sync._invalidate_rollups() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF current_setting('sync.keep_rollups', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        -- everything built from this table is now suspect
        INSERT INTO sync.rollup_invalidations (source, symbol, lo, hi)
        SELECT r.source, r.symbol, min(r.ts), max(r.ts)
          FROM sync.rollup_5m r GROUP BY r.source, r.symbol;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF TG_TABLE_NAME = 'bars' THEN
            INSERT INTO sync.rollup_invalidations (source, symbol, lo, hi)
            SELECT n.source, n.symbol, min(n.ts), max(n.ts)
              FROM new_rows n WHERE n.bar_interval = interval '1 minute'
             GROUP BY n.source, n.symbol;
        ELSE
            INSERT INTO sync.rollup_invalidations (source, symbol, lo, hi)
            SELECT n.source, n.symbol, min(n.ts), max(n.ts)
              FROM new_rows n GROUP BY n.source, n.symbol;
        END IF;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        IF TG_TABLE_NAME = 'bars' THEN
            INSERT INTO sync.rollup_invalidations (source, symbol, lo, hi)
            SELECT o.source, o.symbol, min(o.ts), max(o.ts)
              FROM old_rows o WHERE o.bar_interval = interval '1 minute'
             GROUP BY o.source, o.symbol;
        ELSE
            INSERT INTO sync.rollup_invalidations (source, symbol, lo, hi)
            SELECT o.source, o.symbol, min(o.ts), max(o.ts)
              FROM old_rows o GROUP BY o.source, o.symbol;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollups_insert AFTER INSERT ON sync.bars
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sync._invalidate_rollups();
CREATE TRIGGER rollups_update AFTER UPDATE ON sync.bars
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sync._invalidate_rollups();
CREATE TRIGGER rollups_delete AFTER DELETE ON sync.bars
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sync._invalidate_rollups();
CREATE TRIGGER rollups_truncate AFTER TRUNCATE ON sync.bars
    FOR EACH STATEMENT EXECUTE FUNCTION sync._invalidate_rollups();
CREATE TRIGGER rollups_insert AFTER INSERT ON sync.trades
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sync._invalidate_rollups();
CREATE TRIGGER rollups_update AFTER UPDATE ON sync.trades
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sync._invalidate_rollups();
CREATE TRIGGER rollups_delete AFTER DELETE ON sync.trades
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sync._invalidate_rollups();
CREATE TRIGGER rollups_truncate AFTER TRUNCATE ON sync.trades
    FOR EACH STATEMENT EXECUTE FUNCTION sync._invalidate_rollups();

-- Rollup levels: one table and one view each -------------------------------

CREATE FUNCTION sync._create_rollup(p_name text, p_bucket interval, p_built_from text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl  text := 'rollup_' || p_name;
    view text := 'bars_' || p_name;
BEGIN
    INSERT INTO sync.rollups (name, bucket, built_from) VALUES (p_name, p_bucket, p_built_from);
    EXECUTE format($f$
        CREATE TABLE sync.%I (
            source   text NOT NULL,
            symbol   text NOT NULL,
            ts       timestamptz NOT NULL,
            open     numeric NOT NULL,
            high     numeric NOT NULL,
            low      numeric NOT NULL,
            close    numeric NOT NULL,
            volume   numeric NOT NULL,
            trades   bigint,
            vwap     numeric,
            notional numeric,           -- sum of vwap * volume: what the next level adds up
            PRIMARY KEY (source, symbol, ts))$f$, tbl);
    EXECUTE format('COMMENT ON TABLE sync.%I IS %L', tbl,
                   format('materialized %s buckets behind sync.%s; read the view, not this table', p_bucket, view));
    EXECUTE format($f$
        CREATE VIEW sync.%1$I AS
        WITH pending AS MATERIALIZED (
            SELECT p.source, p.symbol, p.lo, p.hi FROM sync._bucket_ranges(%2$L::interval) p)
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
        $f$, view, p_bucket, tbl);
    EXECUTE format('COMMENT ON VIEW sync.%I IS %L', view,
                   format('%s OHLCV bars rolled up from 1-minute bars (or trades), always current', p_bucket));
    EXECUTE format('GRANT SELECT ON sync.%I, sync.%I TO sync_reader', tbl, view);
END
$$;

SELECT sync._create_rollup('5m', interval '5 minutes', NULL);
SELECT sync._create_rollup('15m', interval '15 minutes', '5m');
SELECT sync._create_rollup('1h', interval '1 hour', '15m');
SELECT sync._create_rollup('1d', interval '1 day', '1h');
DROP FUNCTION sync._create_rollup(text, interval, text);

-- Refresh ------------------------------------------------------------------

-- Claim up to max_ranges invalidations and recompute the buckets they
-- touch at every level.  Returns how many were claimed; 0 when there was
-- nothing to do or another session is refreshing.  The claim and the
-- new buckets commit together, so readers never see a half refresh.
-- The planner cannot see how narrow the merged ranges are, and at a
-- few million rows it starts to hash whole rollup tables; every statement
-- here touches only the buckets in those ranges, so only nested loops over
-- the primary keys are allowed.
CREATE FUNCTION sync.refresh_rollups(max_ranges integer DEFAULT 1000) RETURNS integer
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
COMMENT ON FUNCTION sync.refresh_rollups(integer) IS
    'recompute the rollup buckets touched since the last refresh (the aggregator worker calls it)';

-- Rebuild every rollup from scratch, e.g. after restoring base data with
-- triggers disabled.
CREATE FUNCTION sync.rebuild_rollups() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO sync.rollup_invalidations (source, symbol, lo, hi)
    SELECT s.source, s.symbol, min(s.lo), max(s.hi)
      FROM (SELECT b.source, b.symbol, min(b.ts) AS lo, max(b.ts) AS hi
              FROM sync.bars b WHERE b.bar_interval = interval '1 minute'
             GROUP BY b.source, b.symbol
            UNION ALL
            SELECT t.source, t.symbol, min(t.ts), max(t.ts)
              FROM sync.trades t GROUP BY t.source, t.symbol
            UNION ALL
            SELECT r.source, r.symbol, min(r.ts), max(r.ts)
              FROM sync.rollup_5m r GROUP BY r.source, r.symbol) s
     GROUP BY s.source, s.symbol;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION sync.rebuild_rollups() IS
    'mark every stored series for recomputation; the aggregator then rebuilds all rollups';

REVOKE ALL ON FUNCTION sync.refresh_rollups(integer), sync.rebuild_rollups() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.refresh_rollups(integer), sync.rebuild_rollups() TO sync_admin;

-- Data stored by 0.1.0 is rolled up by the aggregator after the update.
SELECT sync.rebuild_rollups();

-- Sessions and resampling --------------------------------------------------

CREATE TABLE sync.sessions (
    name      text PRIMARY KEY,             -- ISO 10383 market identifier code
    timezone  text NOT NULL,
    opens     time NOT NULL,                -- local time of the regular open
    closes    time NOT NULL,                -- local time of the regular close
    weekdays  integer[] NOT NULL DEFAULT '{1,2,3,4,5}',   -- ISO days of week it trades
    description text,
    CHECK (opens < closes),
    CHECK (weekdays <@ '{1,2,3,4,5,6,7}')
);
COMMENT ON TABLE sync.sessions IS 'exchange regular sessions known to sync_resample()';

-- Days that differ from the regular session: early closes (set closes),
-- late opens, or holidays (opens and closes NULL).
CREATE TABLE sync.session_exceptions (
    session text NOT NULL REFERENCES sync.sessions (name) ON DELETE CASCADE,
    day     date NOT NULL,
    opens   time,
    closes  time,
    PRIMARY KEY (session, day),
    CHECK ((opens IS NULL) = (closes IS NULL) AND (opens IS NULL OR opens < closes))
);
COMMENT ON TABLE sync.session_exceptions IS 'early closes and holidays of a session (NULL opens/closes: closed)';

INSERT INTO sync.sessions (name, timezone, opens, closes, description) VALUES
    ('XNYS', 'America/New_York', '09:30', '16:00', 'New York Stock Exchange, regular hours'),
    ('XNAS', 'America/New_York', '09:30', '16:00', 'Nasdaq, regular hours');

GRANT SELECT ON sync.rollups, sync.rollup_invalidations, sync.sessions, sync.session_exceptions
    TO sync_reader;

CREATE FUNCTION @extschema@.sync_resample(source text, symbol text, bucket interval,
                                          from_ts timestamptz, to_ts timestamptz,
                                          session text DEFAULT NULL)
RETURNS TABLE (ts timestamptz, open numeric, high numeric, low numeric, close numeric,
               volume numeric, trades bigint, vwap numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s sync.sessions;
BEGIN
    IF bucket IS NULL OR bucket <= interval '0' THEN
        RAISE EXCEPTION 'invalid bucket "%"', bucket
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give a positive interval such as ''5 minutes'' or ''1 day''.';
    END IF;
    IF extract(month FROM bucket) <> 0 OR extract(year FROM bucket) <> 0
       OR date_bin(bucket, '2000-01-01 00:00:00+00'::timestamptz, sync._origin()) IS NULL
       OR extract(epoch FROM bucket)::numeric % 60 <> 0 THEN
        RAISE EXCEPTION 'invalid bucket "%"', bucket
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Buckets are built from 1-minute bars: a bucket must be a whole number of minutes, without months or years.',
                  HINT = 'Use days, e.g. ''7 days'', instead of months or years.';
    END IF;
    IF from_ts IS NULL OR to_ts IS NULL OR from_ts > to_ts THEN
        RAISE EXCEPTION 'invalid range [%, %)', from_ts, to_ts
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give from_ts <= to_ts.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM sync.sources x WHERE x.name = sync_resample.source) THEN
        RAISE EXCEPTION 'source "%" does not exist', sync_resample.source
            USING ERRCODE = 'undefined_object',
                  HINT = 'See SELECT name FROM sync.sources.';
    END IF;

    IF session IS NULL THEN
        RETURN QUERY
            SELECT a.ts, a.open, a.high, a.low, a.close, a.volume, a.trades,
                   a.notional / NULLIF(a.volume, 0)
              FROM sync._aggregate_minutes(sync_resample.source, sync_resample.symbol, bucket,
                                           from_ts, to_ts) a
             ORDER BY a.ts;
        RETURN;
    END IF;

    SELECT * INTO s FROM sync.sessions x WHERE x.name = upper(sync_resample.session);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown session "%"', session
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Known sessions: %s.',
                                  (SELECT string_agg(x.name, ', ' ORDER BY x.name) FROM sync.sessions x)),
                  HINT = 'Session names are ISO 10383 market identifier codes; add others to sync.sessions.';
    END IF;
    IF bucket > interval '1 day' THEN
        RAISE EXCEPTION 'bucket "%" is longer than a session day', bucket
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'With a session, use a bucket of at most ''1 day''; roll days up further in SQL.';
    END IF;

    -- Each minute counts when it starts inside its local day's session;
    -- buckets start at the session's open, so '1 day' is the trading day.
    RETURN QUERY
        WITH days AS (
            SELECT d::date AS day,
                   (d::date + coalesce(e.opens, s.opens)) AT TIME ZONE s.timezone AS open_at,
                   (d::date + coalesce(e.closes, s.closes)) AT TIME ZONE s.timezone AS close_at
              FROM generate_series((from_ts AT TIME ZONE s.timezone)::date,
                                   (to_ts AT TIME ZONE s.timezone)::date, interval '1 day') d
              LEFT JOIN sync.session_exceptions e ON e.session = s.name AND e.day = d::date
             WHERE extract(isodow FROM d) = ANY (s.weekdays)
               AND (e.day IS NULL OR e.opens IS NOT NULL)
        ), minutes AS (
            SELECT date_bin(bucket, m.ts, d.open_at) AS bts, m.*
              FROM days d
             CROSS JOIN LATERAL sync._minutes(sync_resample.source, sync_resample.symbol,
                                              greatest(d.open_at, from_ts),
                                              least(d.close_at, to_ts)) m
        )
        SELECT m.bts, (array_agg(m.open ORDER BY m.ts))[1], max(m.high), min(m.low),
               (array_agg(m.close ORDER BY m.ts DESC))[1], sum(m.volume), sum(m.trades)::bigint,
               CASE WHEN count(m.notional) = count(*) THEN sum(m.notional) END / NULLIF(sum(m.volume), 0)
          FROM minutes m
         GROUP BY m.bts
         ORDER BY m.bts;
END
$$;
COMMENT ON FUNCTION @extschema@.sync_resample(text, text, interval, timestamptz, timestamptz, text) IS
    'OHLCV bars of any width from the 1-minute bars of [from_ts, to_ts), optionally inside an exchange session';
GRANT EXECUTE ON FUNCTION @extschema@.sync_resample(text, text, interval, timestamptz, timestamptz, text)
    TO sync_reader;

SELECT pg_catalog.pg_extension_config_dump('sync.rollup_invalidations', '');
SELECT pg_catalog.pg_extension_config_dump('sync.rollup_invalidations_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sync.rollup_5m', '');
SELECT pg_catalog.pg_extension_config_dump('sync.rollup_15m', '');
SELECT pg_catalog.pg_extension_config_dump('sync.rollup_1h', '');
SELECT pg_catalog.pg_extension_config_dump('sync.rollup_1d', '');
SELECT pg_catalog.pg_extension_config_dump('sync.session_exceptions', '');
SELECT pg_catalog.pg_extension_config_dump('sync.sessions', 'WHERE name NOT IN (''XNYS'', ''XNAS'')');
