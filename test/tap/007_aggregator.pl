# The aggregator worker: runs beside the job workers, folds what a backfill
# stores into the rollups without being asked, keeps the views equal to a
# plain GROUP BY throughout, and comes back after a crash.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('aggregator');
$node->append_conf('postgresql.conf', 'sync.aggregate_interval_ms = 200');
$node->reload;

# what bars_15m must hold, computed the plain way from the stored minutes
my $reference = q{
	SELECT source, symbol, date_bin('15 minutes', ts, '2000-01-01 00:00+00') AS b,
	       (array_agg(open ORDER BY ts))[1], max(high), min(low), (array_agg(close ORDER BY ts DESC))[1],
	       sum(volume), sum(trades)
	  FROM sync.bars WHERE bar_interval = '1 minute' GROUP BY 1, 2, 3};
my $view = q{SELECT source, symbol, ts, open, high, low, close, volume, trades FROM sync.bars_15m};
my $differences = "SELECT count(*) FROM (($reference EXCEPT $view) UNION ALL ($view EXCEPT $reference)) d";

# 1440 bars, 100 a page, 2 pages a second: about 7 s of backfill to look at
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake',
	                       options => '{"page_size": 100, "requests_per_minute": 120}');
	SELECT sync_subscribe('fake', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00',
	                      realtime => false);
	-- the day's partition ready before its first page: rows moved out of
	-- the default partition (docs/partitions.md) are not what this tests
	SELECT sync._make_partition('bars', '2022-12-13 00:00+00');
	SELECT sync_start();
});
wait_for($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync aggregator'", '1',
	'one aggregator runs beside the job worker');

# while the backfill lands, the views are exact at every look; each look
# also says whether the backfill was still landing (one statement, one
# snapshot), and only those count, however slow the machine is
my $total = scalar(btcusdt_rows());
my ($looks, $inexact) = (0, 0);
while ($looks < 5)
{
	my ($same, $landing) = split /\|/, $node->safe_psql('postgres',
		"SELECT ($differences) = 0, (SELECT count(*) FROM sync.bars) < $total");
	last if $landing ne 't';
	$looks++;
	if ($same ne 't')
	{
		$inexact++;
		# what differed, and what the view and the aggregator went by (the
		# same state a moment later: it may have healed by then)
		diag($node->safe_psql('postgres', qq{SELECT 'reference only', * FROM ($reference EXCEPT $view) a
		                                     UNION ALL SELECT 'view only', * FROM ($view EXCEPT $reference) b}));
		diag($node->safe_psql('postgres', q{SELECT * FROM sync.rollup_invalidations ORDER BY id}));
		diag($node->safe_psql('postgres', q{SELECT tableoid::regclass, count(*), min(ts), max(ts) FROM sync.bars GROUP BY 1}));
	}
	usleep(150_000);
}
is($inexact, 0, "bars_15m equals the plain GROUP BY at each of $looks looks during the backfill");
cmp_ok($looks, '>=', 1, '(those looks were taken while the backfill was landing)');

wait_for($node, "SELECT count(*) FROM sync.bars", scalar(btcusdt_rows()), 'backfill complete');
wait_for($node, "SELECT count(*) FROM sync.rollup_invalidations", '0',
	'the aggregator drains the invalidation log without being asked');
is($node->safe_psql('postgres', $differences), '0', 'bars_15m equals the plain GROUP BY');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM sync.rollup_1d r JOIN sync.bars_1d v USING (source, symbol, ts)
	 WHERE (r.open, r.high, r.low, r.close, r.volume) = (v.open, v.high, v.low, v.close, v.volume)}), '1',
	'the day is materialized and the view serves it from the rollup');
is($node->safe_psql('postgres', q{
	SELECT (SELECT sum(volume) FROM sync.bars) = (SELECT sum(volume) FROM sync.rollup_1h)}), 't',
	'every minute counted once in the hourly rollup');

# a crash of the aggregator: it is started again and goes on
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync aggregator'");
kill 'KILL', $pid;
wait_for($node,
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync aggregator' AND pid <> $pid", '1',
	'the aggregator comes back after a crash');
$node->safe_psql('postgres', q{
	UPDATE sync.bars SET high = high + 1000 WHERE ts = '2022-12-13 12:34+00'});
wait_for($node, "SELECT count(*) FROM sync.rollup_invalidations", '0', 'and folds in a correction');
is($node->safe_psql('postgres', q{
	SELECT r.high = b.high FROM sync.rollup_1d r, sync.bars b WHERE b.ts = '2022-12-13 12:34+00'}), 't',
	'the corrected high reached the daily rollup');

# a reloaded interval applies to the wait in progress: told to wait an hour
# the aggregator waits; told to wait 200 ms again, it does not first finish
# the hour
$node->append_conf('postgresql.conf', 'sync.aggregate_interval_ms = 3600000');
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT current_setting('sync.aggregate_interval_ms')}, '1h'),
	'the interval is reloaded as an hour');
usleep(1_000_000);    # a refresh under way when the reload came has ended
$node->safe_psql('postgres', q{
	UPDATE sync.bars SET low = low - 1 WHERE ts = '2022-12-13 12:35+00'});
usleep(1_000_000);
is($node->safe_psql('postgres', "SELECT count(*) > 0 FROM sync.rollup_invalidations"), 't',
	'with an hour to wait, the correction waits in the log');
$node->append_conf('postgresql.conf', 'sync.aggregate_interval_ms = 200');
$node->reload;
wait_for($node, "SELECT count(*) FROM sync.rollup_invalidations", '0',
	'back to 200 ms, the aggregator folds it in without first waiting out the hour');

# a refresh that fails is shown and tried again with backoff; once the
# cause is gone the aggregator goes on by itself
$node->safe_psql('postgres', q{
	ALTER TABLE sync.rollup_5m RENAME TO rollup_5m_away;
	UPDATE sync.bars SET volume = volume + 1000 WHERE ts = '2022-12-13 12:36+00'});
wait_for($node, q{SELECT status || ': ' || (detail LIKE 'retrying: %rollup_5m%') FROM sync_health()
                   WHERE component = 'aggregator'}, 'degraded: true',
	'a failing refresh shows in sync_health() with its error');
is($node->safe_psql('postgres', "SELECT count(*) > 0 FROM sync.rollup_invalidations"), 't',
	'and the change waits in the log');
$node->safe_psql('postgres', 'ALTER TABLE sync.rollup_5m_away RENAME TO rollup_5m');
wait_for($node, q{SELECT status || ' ' || (SELECT count(*) FROM sync.rollup_invalidations) FROM sync_health()
                   WHERE component = 'aggregator'}, 'ok 0',
	'the cause gone, the aggregator folds the change in and is ok again');
is($node->safe_psql('postgres', q{
	SELECT (SELECT sum(volume) FROM sync.bars WHERE ts >= '2022-12-13' AND ts < '2022-12-14')
	     = (SELECT volume FROM sync.rollup_1d WHERE ts = '2022-12-13')}), 't',
	'the corrected volume reached the daily rollup');

# stopped, the views still see new data at once
$node->safe_psql('postgres', 'SELECT sync_stop()');
wait_for($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync aggregator'", '0',
	'sync_stop() stops the aggregator');
$node->safe_psql('postgres', q{
	INSERT INTO sync.bars VALUES ('fake', 'BTCUSDT', '1 minute', '2022-12-14 00:00+00', 1, 2, 0.5, 1.5, 7, 1, NULL)});
is($node->safe_psql('postgres', q{SELECT close FROM sync.bars_1d WHERE ts = '2022-12-14 00:00+00'}), '1.5',
	'a minute stored while the aggregator is stopped is in bars_1d at once');
done_testing();
