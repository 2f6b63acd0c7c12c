# Pages stored as heap tuples through the table AM's multi-insert
# (src/storage_tuples.c), and the fall back to COPY where that path could
# not write exactly what COPY would:
#   - bars and trades land exactly as the provider sent them (values,
#     microseconds), and sync's rollup trigger never runs for them: the
#     page logs its own invalidation, one row a page, covering its range;
#   - a CHECK constraint a user added refuses records on the fast path
#     (the rest of the page is stored);
#   - a user's trigger, or a column with a default, sends pages to COPY:
#     the trigger fires for every row, the default is filled in, and the
#     stored values are the same as the fast path's;
#   - a disabled rollup trigger, or sync.keep_rollups, logs nothing;
#   - on the partitioned tables (0.9.0) a page crossing partition bounds
#     is routed row by row on the fast path, and a partition with a
#     trigger of its own sends the pages that touch it to COPY.
use strict;
use warnings;
use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('storage_tuples');
# the invalidations stay for the test to read; calls of the trigger counted
$node->append_conf('postgresql.conf', qq{
sync.aggregate_interval_ms = 3600000
track_functions = 'pl'
});
$node->reload;
# the workers sync_start() makes must start with these settings: wait until a new session has them
ok($node->poll_query_until('postgres', q{SELECT current_setting('sync.aggregate_interval_ms')}, '1h'),
	'the settings are reloaded');

sub psql { return $node->safe_psql('postgres', $_[0]); }

# The calls of sync's rollup trigger, once the statistics of at least $rows
# inserts into sync.bars and sync.trades (counted on their partitions) have
# reached the shared counters
# (a worker flushes its counters at most once a second), so that the calls
# made for those rows are counted too.
sub trigger_calls
{
	my ($rows) = @_;
	ok($node->poll_query_until('postgres', qq{SELECT sum(n_tup_ins) >= $rows FROM pg_stat_user_tables
	                                            WHERE relid IN (SELECT relid FROM pg_partition_tree('sync.bars')
	                                                            UNION ALL
	                                                            SELECT relid FROM pg_partition_tree('sync.trades'))}),
		"the statistics of $rows inserts are in");
	return psql(q{SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions
	                WHERE schemaname = 'sync' AND funcname = '_invalidate_rollups'});
}

sub trades_text
{
	my ($source) = @_;
	return psql(qq{
		SELECT string_agg(format('%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
		                         trade_id, price, size, side), E'\\n' ORDER BY ts, trade_id::bigint)
		  FROM sync.trades WHERE source = '$source'});
}

sub caught_up
{
	my ($source, $what) = @_;
	wait_for($node, qq{SELECT bool_and(phase = 'idle') AND count(*) > 0 FROM sync_status()
	                    WHERE source = '$source'}, 't', $what);
}

my $bars_expected = fake_series($fake, 'BTCUSDT');
my $trades_expected = HTTP::Tiny->new->get("$fake/_trades?symbol=XRPETH")->{content};
my $ntrades = scalar(split /\n/, $trades_expected);
my $nbars = scalar(split /\n/, $bars_expected);

# -- the fast path --------------------------------------------------------
psql(qq{
	SELECT sync_set_partitioning('bars', '6 hours');
	-- the partitions of the test's days made before the first page: rows
	-- moved out of the default partition would count as inserts again
	-- (trigger_calls reads the insert counters)
	SELECT sync._make_partition('bars', '2022-12-13 00:00+00'::timestamptz + i * interval '6 hours')
	  FROM generate_series(0, 3) i;
	SELECT sync._make_partition('trades', '2019-10-11 00:00+00');
	SELECT sync_start();
});
# the aggregator refreshes once as it starts, then waits its hour: the
# pages land after that first refresh, or it could fold some of their
# invalidations before the test reads them
wait_for($node, q{SELECT phase FROM sync._worker_status() WHERE kind = 'aggregator'}, 'idle',
	'the aggregator made its first refresh');
psql(qq{
	SELECT sync_add_source('a', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('a', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
	SELECT sync_subscribe('a', ARRAY['XRPETH'], 'trades', history_from => '2019-10-11 00:00+00',
	                      realtime => false);
});
caught_up('a', 'bars and trades backfilled on the fast path');
is(bars_text($node, 'BTCUSDT'), $bars_expected, 'every bar stored exactly as served');
ok(trades_text('a') eq $trades_expected, "every trade stored exactly as served ($ntrades)");
is(trigger_calls($nbars + $ntrades), 0, "sync's rollup trigger never ran for sync's own pages");
is(psql(q{SELECT count(*) BETWEEN 3 AND 6 AND min(lo) = '2022-12-13 00:00+00' AND max(hi) = '2022-12-13 23:59+00'
	        FROM sync.rollup_invalidations WHERE source = 'a' AND symbol = 'BTCUSDT'}), 't',
	"one invalidation a page of bars ($nbars bars in pages of 500), covering the day")
	or diag(psql(q{SELECT lo, hi, logged_at FROM sync.rollup_invalidations WHERE source = 'a' AND symbol = 'BTCUSDT' ORDER BY id}));
is(psql(q{SELECT bool_and(i.lo <= t.lo AND i.hi >= t.hi)
	        FROM (SELECT min(lo) AS lo, max(hi) AS hi FROM sync.rollup_invalidations
	               WHERE source = 'a' AND symbol = 'XRPETH') i,
	             (SELECT min(ts) AS lo, max(ts) AS hi FROM sync.trades WHERE source = 'a') t}), 't',
	'the trades invalidations cover every stored trade');
my $buckets = psql(q{SELECT count(DISTINCT date_bin('5 minutes', ts, '2000-01-01'))
	                       FROM sync.bars WHERE source = 'a' AND symbol = 'BTCUSDT'});
is(psql(q{SELECT count(*) FROM sync.bars_5m WHERE source = 'a' AND symbol = 'BTCUSDT'}), $buckets,
	'the 5-minute view answers every bucket');
psql('SELECT sync.refresh_rollups()');
is(psql(q{SELECT count(*) FROM sync.rollup_5m r JOIN (
	          SELECT date_bin('5 minutes', ts, '2000-01-01') AS ts, sum(volume) AS v
	            FROM sync.bars WHERE source = 'a' AND symbol = 'BTCUSDT' GROUP BY 1) b
	            ON r.ts = b.ts AND r.volume = b.v
	         WHERE r.source = 'a' AND r.symbol = 'BTCUSDT'}), $buckets,
	"the refreshed rollups hold every bucket with its volume ($buckets)");

# -- a user's CHECK constraint refuses records on the fast path -----------
psql(q{ALTER TABLE sync.bars ADD CONSTRAINT test_small_volume CHECK (volume < 20) NOT VALID});
my $big = psql(q{SELECT count(*) FROM sync.bars WHERE source = 'a' AND volume >= 20});
ok($big > 0 && $big < $nbars, "some of the day's bars have a volume of 20 or more ($big)");
psql(qq{
	SELECT sync_add_source('c', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('c', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
});
caught_up('c', 'a backfill into a table with a CHECK constraint');
is(psql(q{SELECT count(*) FROM sync.bars WHERE source = 'c'}), $nbars - $big,
	'the bars the constraint allows are stored');
is(psql(q{SELECT count(*) FROM sync.rejects WHERE source = 'c' AND reason LIKE '%test_small_volume%'}), $big,
	'each refused bar is a reject naming the constraint');
is(trigger_calls(2 * $nbars + $ntrades - $big), 0, 'still the fast path');
psql(q{ALTER TABLE sync.bars DROP CONSTRAINT test_small_volume});

# -- a user's trigger sends pages to COPY ---------------------------------
psql(q{
	CREATE TABLE seen (n bigint);
	CREATE FUNCTION count_bar() RETURNS trigger LANGUAGE plpgsql AS
	  $$ BEGIN INSERT INTO seen VALUES (1); RETURN NULL; END $$;
	CREATE TRIGGER count_bar AFTER INSERT ON sync.bars FOR EACH ROW EXECUTE FUNCTION count_bar();
});
psql(qq{
	SELECT sync_add_source('b', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('b', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
});
caught_up('b', 'a backfill into a table with a user trigger');
is(psql('SELECT count(*) FROM seen'), $nbars, "the user's row trigger fired for every bar");
ok(trigger_calls(3 * $nbars + $ntrades - $big) > 0, "sync's rollup trigger ran for those pages (COPY)");
is(psql(q{SELECT count(*) FROM (
	          SELECT symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap
	            FROM sync.bars WHERE source = 'a'
	          EXCEPT ALL
	          SELECT symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap
	            FROM sync.bars WHERE source = 'b') d}), 0,
	'COPY and the fast path store the same values');
psql(q{DROP TRIGGER count_bar ON sync.bars});

# -- a column with a default sends pages to COPY --------------------------
psql(q{ALTER TABLE sync.trades ADD COLUMN noted text DEFAULT 'by default'});
psql(qq{
	SELECT sync_add_source('d', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('d', ARRAY['XRPETH'], 'trades', history_from => '2019-10-11 00:00+00',
	                      realtime => false);
});
caught_up('d', 'a backfill into a table with an added column');
is(psql(q{SELECT count(*) FILTER (WHERE noted = 'by default') || '/' || count(*)
	        FROM sync.trades WHERE source = 'd'}), "$ntrades/$ntrades", "the column's default filled in for every trade");
ok(trades_text('d') eq $trades_expected, 'and the trades are stored exactly');
psql(q{ALTER TABLE sync.trades DROP COLUMN noted});

# -- a disabled rollup trigger logs nothing -------------------------------
my $calls = trigger_calls(3 * $nbars + 2 * $ntrades - $big);
psql(q{ALTER TABLE sync.trades DISABLE TRIGGER rollups_insert});
psql(qq{
	SELECT sync_add_source('e', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('e', ARRAY['XRPETH'], 'trades', history_from => '2019-10-11 00:00+00',
	                      realtime => false);
});
caught_up('e', 'a backfill while the rollup trigger is disabled');
ok(trades_text('e') eq $trades_expected, 'every trade stored');
is(psql(q{SELECT count(*) FROM sync.rollup_invalidations WHERE source = 'e'}), 0,
	'no invalidation logged while the rollup trigger is disabled');
is(trigger_calls(3 * $nbars + 3 * $ntrades - $big), $calls, 'and no trigger ran');
psql(q{ALTER TABLE sync.trades ENABLE TRIGGER rollups_insert});

# -- partitions: pages routed across bounds; a partition only COPY writes --
# Six-hour partitions over the day (set at the start, so that the
# scheduler's moves out of the default partition made them): a page of 500
# minutes crosses a bound.
psql(q{
	SELECT sync._make_partition('bars', '2022-12-13 00:00+00'::timestamptz + i * interval '6 hours')
	  FROM generate_series(0, 3) i;
});
sub same_bars_as_a
{
	my ($source) = @_;
	return psql(qq{SELECT count(*) FROM (
	          (SELECT symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap
	             FROM sync.bars WHERE source = 'a'
	           EXCEPT ALL
	           SELECT symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap
	             FROM sync.bars WHERE source = '$source')
	          UNION ALL
	          (SELECT symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap
	             FROM sync.bars WHERE source = '$source'
	           EXCEPT ALL
	           SELECT symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap
	             FROM sync.bars WHERE source = 'a')) d});
}
$calls = trigger_calls(3 * $nbars + 3 * $ntrades - $big);
psql(qq{
	SELECT sync_add_source('p', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('p', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
});
caught_up('p', 'a backfill whose pages cross partition bounds');
is(same_bars_as_a('p'), 0, 'every bar stored exactly, across four partitions');
is(psql(q{SELECT count(DISTINCT b.tableoid) || ' ' || count(*) FILTER (WHERE NOT (b.ts >= p.range_from AND b.ts < p.range_to))
	        FROM sync.bars b JOIN sync.partitions p ON p.partition = b.tableoid WHERE b.source = 'p'}), '4 0',
	'each bar is in the partition of its time, none in the default partition');
is(trigger_calls(4 * $nbars + 3 * $ntrades - $big), $calls, "on the fast path: sync's rollup trigger did not run");

psql(q{
	CREATE TRIGGER count_bar AFTER INSERT ON sync.bars_p20221213_1200 FOR EACH ROW EXECUTE FUNCTION count_bar();
	TRUNCATE seen;
});
psql(qq{
	SELECT sync_add_source('q', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('q', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
});
caught_up('q', 'a backfill with a trigger on one partition');
is(psql('SELECT count(*) FROM seen'), 360, "the partition's own trigger fired for its 360 bars (COPY)");
is(same_bars_as_a('q'), 0, 'and every bar is stored exactly');

$node->stop;
done_testing();
