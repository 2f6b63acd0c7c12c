-- pgTAP: time partitions of sync.bars and sync.trades (0.9.0): partitions
-- made ahead, rows of the default partition moved out, widths, pruning of
-- a one-symbol time-range query, retention by partition drop.
BEGIN;
SET LOCAL timezone = 'UTC';
SELECT plan(37);

-- the partitions of sync.bars a query's plan reads
CREATE FUNCTION pg_temp.plan_partitions(q text) RETURNS text[] LANGUAGE plpgsql AS $f$
DECLARE
    l text;
    r text[] := '{}';
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        r := r || ARRAY(SELECT m[1] FROM regexp_matches(l, ' on (bars_[a-z0-9_]+)', 'g') m);
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT x FROM unnest(r) x ORDER BY 1);
END
$f$;

SELECT is_partitioned('sync', 'bars', 'bars is partitioned');
SELECT is_partitioned('sync', 'trades', 'trades is partitioned');
SELECT is((SELECT pg_get_partkeydef('sync.bars'::regclass)), 'RANGE (ts)', 'bars by range of ts');
SELECT is((SELECT pg_get_partkeydef('sync.trades'::regclass)), 'RANGE (ts)', 'trades by range of ts');
SELECT col_is_pk('sync', 'trades', ARRAY['source', 'symbol', 'trade_id', 'ts']::name[],
                 'trades keyed by source, symbol, trade_id and ts (the partition column)');
SELECT is_partition_of('sync', 'bars_default', 'sync', 'bars', 'bars has a default partition');
SELECT is_partition_of('sync', 'trades_default', 'sync', 'trades', 'trades has a default partition');

-- made ahead: the current period and premake (3) after it, for each dataset
SELECT is(sync.maintain_partitions(), 8, 'maintain_partitions() makes the current and 3 further periods of each');
SELECT is(sync.maintain_partitions(), 0, 'and nothing more when called again');
SELECT is((SELECT count(*) FROM sync.partitions
            WHERE dataset = 'bars' AND range_to - range_from BETWEEN interval '28 days' AND interval '31 days'
              AND range_from = date_trunc('month', range_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
          4::bigint, 'bars: four whole calendar months (UTC)');
SELECT is((SELECT count(*) FROM sync.partitions
            WHERE dataset = 'trades' AND range_to - range_from = interval '1 day'
              AND range_from <= now() + interval '3 days' AND range_to > now()),
          4::bigint, 'trades: today and the next three days');

-- history lands in the default partition, then moves to partitions of its own
INSERT INTO sync.bars
SELECT 's', 'X', '1 minute', t, 1, 2, 0.5, 1.5, 10, 3, NULL
  FROM generate_series(timestamptz '2026-01-30 23:00+00', '2026-03-01 01:00+00', interval '10 minutes') t;
SELECT is((SELECT count(*) FROM sync.bars_default), 4189::bigint, 'history with no partition lands in default');
CREATE TEMP TABLE before_move AS SELECT * FROM sync.bars;
SELECT is(sync.maintain_partitions(), 3, 'the rows of three months in default: three partitions made');
SELECT is((SELECT count(*) FROM sync.bars_default), 0::bigint, 'default is empty again');
SELECT is((SELECT count(*) FROM sync.bars b WHERE (b.tableoid::regclass)::text <> 'sync.bars_p'
                                                 || to_char(b.ts AT TIME ZONE 'UTC', 'YYYYMM') || '01'),
          0::bigint, 'every bar is in the partition of its month');
SELECT is((SELECT count(*) FROM (SELECT * FROM sync.bars EXCEPT ALL SELECT * FROM before_move
                                 UNION ALL
                                 SELECT * FROM before_move EXCEPT ALL SELECT * FROM sync.bars) d),
          0::bigint, 'moving them lost, changed or added no row');

-- a width change: new partitions are clipped to their neighbours
SELECT lives_ok($$SELECT sync_set_partitioning('bars', '7 days', 1)$$, 'bars set to weekly partitions');
SELECT is(sync._make_partition('bars', '2026-04-08 12:00+00')::text, 'sync.bars_p20260406',
          'a week after the monthly ones');
SELECT is((SELECT range_from || ' ' || range_to FROM sync.partitions
            WHERE dataset = 'bars' AND range_from <= '2026-04-08 12:00+00' AND range_to > '2026-04-08 12:00+00'),
          '2026-04-06 00:00:00+00 2026-04-13 00:00:00+00', 'weeks start on Mondays, at midnight UTC');
SELECT is(sync._make_partition('bars', '2025-12-31 12:00+00')::text, 'sync.bars_p20251229',
          'a week that runs into January''s month');
SELECT is((SELECT range_from || ' ' || range_to FROM sync.partitions
            WHERE dataset = 'bars' AND range_from <= '2025-12-31 12:00+00' AND range_to > '2025-12-31 12:00+00'),
          '2025-12-29 00:00:00+00 2026-01-01 00:00:00+00', 'is cut where January''s partition begins');
SELECT is((SELECT count(*) FROM sync.partitions a JOIN sync.partitions b
             ON a.dataset = b.dataset AND a.partition <> b.partition
            AND a.range_from < b.range_to AND b.range_from < a.range_to),
          0::bigint, 'no two partitions overlap');
SELECT throws_ok($$SELECT sync_set_partitioning('bars', '1 month 2 days')$$, '22023', NULL,
                 'a width mixing months and days is refused');
SELECT throws_ok($$SELECT sync_set_partitioning('trades', '30 minutes')$$, '22023', NULL,
                 'a width under an hour is refused');
SELECT throws_ok($$SELECT sync_set_partitioning('rejects', '1 day')$$, '22023', NULL,
                 'only bars and trades are partitioned');

-- ahead of a backfill: eight periods from its checkpoint, up to now
SELECT sync_add_source('b', 'binance', 'http://127.0.0.1:9');
SELECT sync_subscribe('b', ARRAY['Z'], 'trades', history_from => now() - interval '20 days', realtime => false);
SELECT is(sync.maintain_partitions(), 8, 'a subscription''s history gets eight partitions ahead of it');
SELECT is((SELECT count(*) FROM sync.partitions
            WHERE dataset = 'trades' AND range_from >= date_trunc('day', now() - interval '20 days')
              AND range_to <= date_trunc('day', now() - interval '11 days')),
          8::bigint, 'the days from its history_from on');

-- a query for one symbol and a time range reads one partition
SELECT is(pg_temp.plan_partitions($$SELECT * FROM sync.bars WHERE source = 's' AND symbol = 'X'
                                       AND ts >= '2026-02-10' AND ts < '2026-02-11'$$),
          ARRAY['bars_p20260201'], 'the plan of a one-symbol, one-day query reads one partition');

-- the statement trigger still logs other writers' changes for the rollups
DELETE FROM sync.rollup_invalidations;
INSERT INTO sync.bars VALUES ('s', 'Y', '1 minute', '2026-02-10 10:00+00', 1, 2, 0.5, 1.5, 10, 3, NULL);
SELECT is((SELECT count(*) FROM sync.rollup_invalidations WHERE symbol = 'Y'), 1::bigint,
          'an INSERT into the partitioned bars is logged for the rollups');

-- retention: whole partitions past the cutoff are dropped, the edge is deleted in batches
INSERT INTO sync.rollup_1d (source, symbol, ts, open, high, low, close, volume)
VALUES ('s', 'X', '2026-01-31', 1, 2, 0.5, 1.5, 10);
SELECT sync_set_retention('bars', now() - timestamptz '2026-02-15 00:00+00');
-- one dropped partition with statistics (its rows are taken from them),
-- the other without (they are counted)
ANALYZE sync.bars_p20260101;
CREATE TEMP TABLE past_cutoff AS SELECT count(*) AS n FROM sync.bars WHERE ts < '2026-02-15';
SELECT ok(sync.apply_retention(100000) > 0, 'apply_retention() removes rows');
SELECT is((SELECT sum(rows) FROM sync.job_runs WHERE kind = 'retention' AND dataset = 'bars'),
          (SELECT n FROM past_cutoff)::numeric,
          'sync.job_runs says how many rows went, from statistics and counts');
SELECT is((SELECT coalesce(to_regclass('sync.bars_p20260101')::text, '')
                   || coalesce(to_regclass('sync.bars_p20251229')::text, '')), '',
          'the partitions entirely past the cutoff are dropped');
SELECT is((SELECT count(*) FILTER (WHERE ts < '2026-02-15') || ' ' || count(*) FROM sync.bars_p20260201),
          '0 ' || (SELECT count(*) FROM before_move WHERE ts >= '2026-02-15' AND ts < '2026-03-01'),
          'the partition at the edge lost exactly its rows past the cutoff');
SELECT is((SELECT count(*) FROM sync.rollup_1d WHERE symbol = 'X'), 1::bigint, 'rollups are kept');

-- nothing is made or moved for times retention removes: partitions made
-- there would be dropped and made again every round
SELECT sync_subscribe('b', ARRAY['Z'], 'bars', history_from => '2025-06-01', realtime => false);
INSERT INTO sync.bars VALUES ('s', 'W', '1 minute', '2025-07-01 10:00+00', 1, 2, 0.5, 1.5, 10, 3, NULL),
                             ('s', 'W', '1 minute', '2026-05-10 10:00+00', 1, 2, 0.5, 1.5, 10, 3, NULL);
SELECT ok(sync.maintain_partitions() > 0, 'maintain_partitions() with a history older than retention');
SELECT is((SELECT count(*) FROM sync.partitions WHERE dataset = 'bars' AND range_to <= '2026-02-15'),
          0::bigint, 'no partition is made for times past retention, even ahead of a history starting there');
SELECT is((SELECT string_agg(ts::text, ',') FROM sync.bars_default), '2025-07-01 10:00:00+00',
          'a row past retention stays in the default partition (retention deletes it), a newer one moved');

SELECT * FROM finish();
ROLLBACK;
