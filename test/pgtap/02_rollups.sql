-- pgTAP: every rollup view against a plain GROUP BY over the 1-minute
-- input, on randomized data: out-of-order arrival, holes, late rows,
-- corrections, deletions, trade-only symbols; before the aggregator has
-- run (views compute pending buckets on the fly), after it, and mixed.
BEGIN;
SELECT plan(57);
SELECT setseed(0.4242);

-- The reference: written independently of the extension's SQL.  Minutes
-- come from 1-minute bars, or from trades where a minute has no bar;
-- open/close are picked with DISTINCT ON, not array_agg.
CREATE FUNCTION pg_temp.minutes() RETURNS TABLE (source text, symbol text, ts timestamptz,
    open numeric, high numeric, low numeric, close numeric, volume numeric, trades bigint,
    notional numeric)
LANGUAGE sql AS $$
    WITH tm AS (
        SELECT t.source, t.symbol, date_trunc('minute', t.ts) AS ts,
               max(t.price) AS high, min(t.price) AS low, sum(t.size) AS volume,
               count(*) AS trades, sum(t.price * t.size) AS notional
          FROM sync.trades t GROUP BY 1, 2, 3),
    t_open AS (
        SELECT DISTINCT ON (t.source, t.symbol, date_trunc('minute', t.ts))
               t.source, t.symbol, date_trunc('minute', t.ts) AS ts, t.price
          FROM sync.trades t ORDER BY t.source, t.symbol, date_trunc('minute', t.ts), t.ts, t.trade_id),
    t_close AS (
        SELECT DISTINCT ON (t.source, t.symbol, date_trunc('minute', t.ts))
               t.source, t.symbol, date_trunc('minute', t.ts) AS ts, t.price
          FROM sync.trades t ORDER BY t.source, t.symbol, date_trunc('minute', t.ts), t.ts DESC, t.trade_id DESC)
    SELECT b.source, b.symbol, b.ts, b.open, b.high, b.low, b.close, b.volume, b.trades,
           CASE WHEN b.vwap IS NULL AND b.volume <> 0 THEN NULL ELSE coalesce(b.vwap, 0) * b.volume END
      FROM sync.bars b WHERE b.bar_interval = '1 minute'
    UNION ALL
    SELECT tm.source, tm.symbol, tm.ts, o.price, tm.high, tm.low, c.price, tm.volume, tm.trades, tm.notional
      FROM tm JOIN t_open o USING (source, symbol, ts) JOIN t_close c USING (source, symbol, ts)
     WHERE NOT EXISTS (SELECT 1 FROM sync.bars b
                        WHERE b.bar_interval = '1 minute' AND (b.source, b.symbol, b.ts) = (tm.source, tm.symbol, tm.ts))
$$;

CREATE FUNCTION pg_temp.reference(w interval) RETURNS TABLE (source text, symbol text, ts timestamptz,
    open numeric, high numeric, low numeric, close numeric, volume numeric, trades bigint, vwap numeric)
LANGUAGE sql AS $$
    WITH m AS (SELECT *, date_bin(w, x.ts, '2000-01-01 00:00+00') AS bucket FROM pg_temp.minutes() x),
    o AS (SELECT DISTINCT ON (source, symbol, bucket) source, symbol, bucket, open
            FROM m ORDER BY source, symbol, bucket, ts),
    c AS (SELECT DISTINCT ON (source, symbol, bucket) source, symbol, bucket, close
            FROM m ORDER BY source, symbol, bucket, ts DESC),
    g AS (SELECT source, symbol, bucket, max(high) AS high, min(low) AS low, sum(volume) AS volume,
                 sum(trades)::bigint AS trades,
                 CASE WHEN bool_and(notional IS NOT NULL) THEN sum(notional) END AS notional
            FROM m GROUP BY source, symbol, bucket)
    SELECT g.source, g.symbol, g.bucket, o.open, g.high, g.low, c.close, g.volume, g.trades,
           g.notional / NULLIF(g.volume, 0)
      FROM g JOIN o USING (source, symbol, bucket) JOIN c USING (source, symbol, bucket)
$$;

-- Compare all four views with the reference; label says at which stage.
CREATE FUNCTION pg_temp.check_views(stage text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES ('5m', '5 minutes'), ('15m', '15 minutes'), ('1h', '1 hour'), ('1d', '1 day'))
                 AS v(name, w) LOOP
        RETURN NEXT bag_eq(
            format('SELECT source, symbol, ts, open, high, low, close, volume, trades, vwap FROM sync.bars_%s', r.name),
            format('SELECT * FROM pg_temp.reference(%L)', r.w),
            format('bars_%s equals GROUP BY over 1-minute input %s', r.name, stage));
    END LOOP;
END
$$;

-- Random 1-minute bars: valid OHLC, holes, some unknown vwaps, zero volumes.
CREATE FUNCTION pg_temp.random_bars(p_symbol text, p_from timestamptz, p_minutes int, p_keep float8)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap)
    SELECT 'r', p_symbol, '1 minute', ts, o, greatest(o, c) + round(random()::numeric, 2),
           least(o, c) - round(random()::numeric, 2), c, v, (random() * 50)::int,
           CASE WHEN p_symbol = 'B' AND random() < 0.05 THEN NULL ELSE round(((o + c) / 2)::numeric, 4) END
      FROM (SELECT p_from + i * interval '1 minute' AS ts,
                   round((100 + random() * 10)::numeric, 2) AS o,
                   round((100 + random() * 10)::numeric, 2) AS c,
                   CASE WHEN random() < 0.03 THEN 0 ELSE round((random() * 1000)::numeric, 3) END AS v
              FROM generate_series(0, p_minutes - 1) i) x
     WHERE random() < p_keep
     ORDER BY random()
$$;

DO 'BEGIN PERFORM sync_add_source(''r'', ''binance'', ''http://127.0.0.1:9''); END';
-- A and B: three days of bars with holes, in random order, in pieces
DO $$ BEGIN PERFORM pg_temp.random_bars('A', '2024-03-01 00:00+00', 1500, 0.8); END $$;
DO $$ BEGIN PERFORM pg_temp.random_bars('A', '2024-03-02 01:00+00', 2820, 0.9); END $$;
DO $$ BEGIN PERFORM pg_temp.random_bars('B', '2024-03-01 12:00+00', 2000, 0.6); END $$;
-- T: trades only; several per minute, microsecond times, ties broken by id
INSERT INTO sync.trades (source, symbol, ts, trade_id, price, size, side)
SELECT 'r', 'T', '2024-03-01 22:00+00'::timestamptz + (random() * 3 * 3600) * interval '1 second',
       lpad(i::text, 8, '0'), round((50 + random() * 5)::numeric, 3), round((random() * 2)::numeric, 4) + 0.0001,
       CASE WHEN random() < 0.5 THEN 'buy' ELSE 'sell' END
  FROM generate_series(1, 3000) i ORDER BY random();
-- C: bars, and trades in some of the same minutes (the bars win there)
DO $$ BEGIN PERFORM pg_temp.random_bars('C', '2024-03-01 00:00+00', 600, 0.5); END $$;
INSERT INTO sync.trades (source, symbol, ts, trade_id, price, size)
SELECT 'r', 'C', '2024-03-01 00:00+00'::timestamptz + (random() * 600 * 60) * interval '1 second',
       'c' || i, round((100 + random())::numeric, 2), 1
  FROM generate_series(1, 400) i;

SELECT cmp_ok((SELECT count(*) FROM sync.rollup_invalidations), '>', 0::bigint,
              'the inserts logged invalidations');
SELECT is((SELECT count(*) FROM sync.rollup_5m), 0::bigint, 'nothing materialized yet');
SELECT * FROM pg_temp.check_views('before any refresh (all on the fly)');

SELECT cmp_ok(sync.refresh_rollups(3), '=', 3, 'a refresh claims at most max_ranges invalidations');
SELECT * FROM pg_temp.check_views('after a partial refresh');
SELECT cmp_ok(sync.refresh_rollups(), '>', 0, 'the rest is claimed');
SELECT is(sync.refresh_rollups(), 0, 'then there is nothing left to do');
SELECT is((SELECT count(*) FROM sync.rollup_invalidations), 0::bigint, 'the log is drained');
SELECT * FROM pg_temp.check_views('after a full refresh');
SELECT bag_eq('SELECT source, symbol, ts, open, high, low, close, volume, trades, vwap FROM sync.rollup_1h',
              'SELECT * FROM pg_temp.reference(''1 hour'')',
              'the materialized 1h level alone is right (built from 15m, from 5m, from minutes)');
SELECT bag_eq('SELECT source, symbol, ts, open, high, low, close, volume, trades, vwap FROM sync.rollup_1d',
              'SELECT * FROM pg_temp.reference(''1 day'')',
              'the materialized 1d level alone is right');

-- Late rows into old holes, corrections, deletions, late trades
INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap)
SELECT 'r', 'A', '1 minute', g, 101, 111, 99, 105, 7, 1, 104
  FROM generate_series('2024-03-01 00:00+00'::timestamptz, '2024-03-03 00:00+00', '1 minute') g
 WHERE NOT EXISTS (SELECT 1 FROM sync.bars b WHERE b.source = 'r' AND b.symbol = 'A'
                      AND b.bar_interval = '1 minute' AND b.ts = g)
   AND random() < 0.1;
UPDATE sync.bars SET high = high + 50, close = close + 1, volume = volume * 2
 WHERE symbol = 'B' AND random() < 0.02;
DELETE FROM sync.bars WHERE symbol = 'C' AND random() < 0.1;
INSERT INTO sync.trades (source, symbol, ts, trade_id, price, size)
SELECT 'r', 'T', '2024-03-01 21:00+00'::timestamptz + (random() * 5 * 3600) * interval '1 second',
       'late' || i, round((40 + random() * 30)::numeric, 3), 0.5
  FROM generate_series(1, 200) i;
SELECT * FROM pg_temp.check_views('with late, corrected and deleted rows pending');
SELECT cmp_ok(sync.refresh_rollups(), '>', 0, 'the changes are folded in');
SELECT * FROM pg_temp.check_views('after folding in late, corrected and deleted rows');

-- A correction of one stored minute reaches every level at once
UPDATE sync.bars SET low = 1 WHERE symbol = 'A' AND ts = (SELECT min(ts) FROM sync.bars WHERE symbol = 'A' AND ts >= '2024-03-02 13:07+00');
SELECT is((SELECT low FROM sync.bars_5m WHERE symbol = 'A' AND ts = '2024-03-02 13:05+00'), 1::numeric, 'corrected low in 5m');
SELECT is((SELECT low FROM sync.bars_1h WHERE symbol = 'A' AND ts = '2024-03-02 13:00+00'), 1::numeric, 'corrected low in 1h');
SELECT is((SELECT low FROM sync.bars_1d WHERE symbol = 'A' AND ts = '2024-03-02 00:00+00'), 1::numeric, 'corrected low in 1d');

-- The newest minute is visible through every view right after it is stored
DO 'BEGIN PERFORM sync.refresh_rollups(); END';
INSERT INTO sync.bars VALUES ('r', 'A', '1 minute', '2024-03-04 00:05+00', 1, 3, 0.5, 2.5, 1, 1, 2);
SELECT is((SELECT close FROM sync.bars_5m WHERE symbol = 'A' AND ts = '2024-03-04 00:05+00'), 2.5, 'newest minute in bars_5m');
SELECT is((SELECT close FROM sync.bars_15m WHERE symbol = 'A' AND ts = '2024-03-04 00:00+00'), 2.5, 'newest minute in bars_15m');
SELECT is((SELECT close FROM sync.bars_1h WHERE symbol = 'A' AND ts = '2024-03-04 00:00+00'), 2.5, 'newest minute in bars_1h');
SELECT is((SELECT close FROM sync.bars_1d WHERE symbol = 'A' AND ts = '2024-03-04 00:00+00'), 2.5, 'newest minute in bars_1d');
SELECT * FROM pg_temp.check_views('with only the newest minute pending');

-- TRUNCATE of trades empties the trade-built rollups, at once and after refresh
DO 'BEGIN PERFORM sync.refresh_rollups(); END';
TRUNCATE sync.trades;
SELECT is((SELECT count(*) FROM sync.bars_1h WHERE symbol = 'T'), 0::bigint, 'after TRUNCATE trades no T bars are shown');
SELECT * FROM pg_temp.check_views('after TRUNCATE of trades, pending');
DO 'BEGIN PERFORM sync.refresh_rollups(); END';
SELECT is((SELECT count(*) FROM sync.rollup_5m WHERE symbol = 'T'), 0::bigint, 'and none stay materialized');

-- rebuild_rollups() recomputes everything from scratch
UPDATE sync.rollup_1h SET high = -1;
SELECT cmp_ok(sync.rebuild_rollups(), '>', 0::bigint, 'rebuild marks every series');
DO 'BEGIN PERFORM sync.refresh_rollups(); END';
SELECT * FROM pg_temp.check_views('after a rebuild');

-- Retention keeps rollups: with sync.keep_rollups on, deleting base rows changes no rollup
SET LOCAL sync.keep_rollups = on;
DELETE FROM sync.bars WHERE symbol = 'B';
RESET sync.keep_rollups;
SELECT is((SELECT count(*) FROM sync.rollup_invalidations), 0::bigint, 'no invalidation for a retention delete');
SELECT cmp_ok((SELECT count(*) FROM sync.bars_1h WHERE symbol = 'B'), '>', 0::bigint, 'B stays in the rollups');

-- One symbol, a time range: an index scan on every rollup
SET LOCAL enable_seqscan = off;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SELECT matches(pg_temp.plan_of(format('SELECT * FROM sync.bars_%s WHERE source = ''r'' AND symbol = ''A'''
                                      ' AND ts >= ''2024-03-02'' AND ts < ''2024-03-03''', n)),
               format('Index (Only )?Scan using rollup_%s_pkey on rollup_%s', n, n),
               format('bars_%s: one symbol and range is an index scan', n))
  FROM unnest(ARRAY['5m', '15m', '1h', '1d']) n;

SELECT * FROM finish();
ROLLBACK;
