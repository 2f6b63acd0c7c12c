# sync on a real Citus cluster: a coordinator and two workers on loopback
# ports, shared_preload_libraries = 'citus,sync' on each, and sync's layout
# applied by sync_distribute() (docs/scale-out.md).  A single node without
# Citus is fed the same data, and the cluster must answer as it does:
#   - a backfill of bars and trades through the coordinator lands every row
#     once on the shards (counted through the coordinator, shard by shard,
#     and on each worker directly), none in the coordinator's shell tables,
#     with the same values as the single node's;
#   - the page's rollup invalidation is logged (the tables have no trigger
#     there), the rollup views answer as the single node's before and after
#     the refresh, and so do sync.gaps and sync_resample();
#   - a stream and a paced backfill go on while each worker node is stopped
#     (immediate) and started again: every bar and every trade is stored,
#     once, and the aggregator drains the invalidations.
# Citus is not in Debian: scripts/citus.sh finds it, or builds it from the
# source in ../shared/citus/ when it may install it; when it can do
# neither, the suite is skipped and says why.
use strict;
use warnings;
use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $citus = `bash $FindBin::Bin/../../scripts/citus.sh 2>&1`;
my $rc = $? >> 8;
chomp $citus;
plan skip_all => $citus if $rc == 2;
if ($rc != 0)
{
	fail("Citus could be neither found nor built");
	diag($citus);
	done_testing();
	exit;
}
note($citus);

my @syms = map { "C$_" } 1 .. 6;
my $fake = start_fake((map { ('--synthetic', "$_:3000") } @syms), '--live', 'LIVEUSD:50');
(my $ws = $fake) =~ s/^http/ws/;

my $settings = <<CONF;
max_worker_processes = 32
max_prepared_transactions = 100
restart_after_crash = on
sync.poll_interval_ms = 300
sync.retry_base_ms = 100
sync.retry_max_ms = 1000
sync.naptime_ms = 200
sync.gap_repair_interval_ms = 3600000
sync.aggregate_interval_ms = 3600000
sync.retention_interval_ms = 3600000
sync.flush_interval_ms = 20
CONF

# A Citus node: loopback TCP (Citus connects to its nodes by host and port)
sub citus_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', $settings . <<CONF);
shared_preload_libraries = 'citus,sync'
listen_addresses = '127.0.0.1'
citus.recover_2pc_interval = '1s'
CONF
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	return $node;
}

my $coord = citus_node('coordinator');
my @workers = (citus_node('worker1'), citus_node('worker2'));
my $single = PostgreSQL::Test::Cluster->new('single');
$single->init;
$single->append_conf('postgresql.conf', $settings . "shared_preload_libraries = 'sync'\n");
$single->start;
$single->safe_psql('postgres', 'CREATE EXTENSION sync');

sub on { my ($node, $sql) = @_; return $node->safe_psql('postgres', $sql); }

on($coord, qq{SELECT citus_set_coordinator_host('127.0.0.1', ${\ $coord->port})});
on($coord, qq{SELECT citus_add_node('127.0.0.1', ${\ $_->port})}) for @workers;
on($coord, 'CREATE EXTENSION sync');
is(join(',', map { on($_, q{SELECT extversion FROM pg_extension WHERE extname = 'sync'}) } @workers),
	join(',', (on($coord, q{SELECT extversion FROM pg_extension WHERE extname = 'sync'})) x 2),
	'CREATE EXTENSION sync on the coordinator created it on both workers');

# -- the layout -------------------------------------------------------------
is(on($coord, 'SELECT string_agg(t::text, \',\' ORDER BY t::text) FROM sync_distribute(8) t'),
	'sync.bars,sync.rollup_15m,sync.rollup_1d,sync.rollup_1h,sync.rollup_5m,sync.trades',
	'sync_distribute() distributes bars, trades and the rollup tables');
is(on($coord, q{SELECT count(DISTINCT colocationid) || ' ' || string_agg(DISTINCT column_to_column_name(logicalrelid, partkey), ',')
	               FROM pg_dist_partition WHERE logicalrelid::text LIKE 'sync.%'}), '1 symbol',
	'all by symbol, colocated');
is(on($coord, q{SELECT count(*) FROM pg_trigger WHERE tgfoid = 'sync._invalidate_rollups()'::regprocedure}), 0,
	'the rollup triggers are gone');
is(on($coord, 'SELECT count(*) FROM sync_distribute()'), 0, 'a second sync_distribute() changes nothing');
is(on($coord, q{SELECT count(*) FROM pg_dist_partition WHERE logicalrelid IN
	               ('sync.subscriptions'::regclass, 'sync.rollup_invalidations'::regclass, 'sync.job_runs'::regclass)}), 0,
	'the catalog and the invalidation log stay on the coordinator');
my $shards = on($coord, q{SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement
	                       JOIN pg_dist_shard USING (shardid) WHERE logicalrelid = 'sync.bars'::regclass});
is($shards, 2, 'the shards of sync.bars are on both workers');

# -- a backfill through the coordinator, and the same into the single node --
my $symlist = join(',', map { "'$_'" } @syms);
for my $node ($coord, $single)
{
	# the history gets partitions of its own before it lands (nothing to
	# move out of the default partitions while the test counts)
	on($node, qq{
		SELECT sync_set_partitioning('trades', '1 month', 3);
		SELECT sync._make_partition('bars', '2020-01-01 00:00+00');
		SELECT sync._make_partition('trades', '2019-10-11 00:00+00');
		SELECT sync_add_source('f', 'binance', '$fake', options => '{"page_size": 500}');
		SELECT count(*) FROM sync_subscribe('f', ARRAY[$symlist], history_from => '2020-01-01 00:00+00',
		                                    realtime => false);
		SELECT sync_subscribe('f', ARRAY['XRPETH'], 'trades', history_from => '2019-10-11 00:00+00',
		                      realtime => false);
		SELECT sync_start();
	});
}
for my $node ($coord, $single)
{
	ok($node->poll_query_until('postgres', q{SELECT count(*) = 7 AND bool_and(phase = 'idle')
	                                          FROM sync_status() WHERE source = 'f'}),
		$node->name . ': the backfill caught up');
}
my $nbars = on($single, q{SELECT count(*) FROM sync.bars WHERE source = 'f'});
my $ntrades = on($single, q{SELECT count(*) FROM sync.trades WHERE source = 'f'});
ok($nbars == 6 * 3000 && $ntrades > 1000, "the single node stored $nbars bars and $ntrades trades");

# the rows, as text, in key order: equal on both
sub rows_md5
{
	my ($node, $sql) = @_;
	return on($node, "SELECT count(*) || ' ' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') FROM ($sql) r");
}
my $bars_q = q{SELECT source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap
                FROM sync.bars WHERE source = 'f'};
my $trades_q = q{SELECT source, symbol, ts, trade_id, price, size, side FROM sync.trades WHERE source = 'f'};
is(rows_md5($coord, $bars_q), rows_md5($single, $bars_q), "the cluster holds the same $nbars bars");
is(rows_md5($coord, $trades_q), rows_md5($single, $trades_q), "and the same $ntrades trades");
is(on($coord, q{SELECT sum(rows_stored) FROM sync.subscriptions}), $nbars + $ntrades,
	'the subscriptions counted each row once');

# stored bars fetched again: the idempotent statement changes nothing
# (its row count is Citus's: the rows sent, docs/scale-out.md)
my $again = on($coord, q{SELECT sync_backfill('f', 'C2', 'bars', '2020-01-01 10:00+00', '2020-01-01 20:00+00')});
ok($coord->poll_query_until('postgres', "SELECT state FROM sync.job_runs WHERE id = $again", 'succeeded'),
	'a backfill over stored bars succeeds');
is(rows_md5($coord, $bars_q), rows_md5($single, $bars_q), 'and changed nothing');

# every row once, on the shards, none in the coordinator's shells
is(on($coord, q{SELECT sum(result::bigint) FROM run_command_on_shards('sync.bars', 'SELECT count(*) FROM %s')}),
	$nbars, 'the shards of sync.bars hold every bar once (run_command_on_shards)');
is(on($coord, q{SELECT sum(result::bigint) FROM run_command_on_shards('sync.trades', 'SELECT count(*) FROM %s')}),
	$ntrades, 'the shards of sync.trades hold every trade once');
is(on($coord, q{SELECT sum(pg_relation_size(p.relid)) FROM pg_partition_tree('sync.bars') p
	               UNION ALL SELECT sum(pg_relation_size(p.relid)) FROM pg_partition_tree('sync.trades') p
	               UNION ALL SELECT pg_relation_size('sync.bars') + pg_relation_size('sync.trades')}), "0\n0\n0",
	"nothing was written into the coordinator's shell tables");
my %placed = map { split /\|/ } split /\n/, on($coord, q{
	SELECT nodeport, string_agg(format('SELECT count(*) AS n, count(DISTINCT symbol) AS s FROM sync.bars_%s', shardid),
	                            ' UNION ALL ')
	  FROM pg_dist_shard_placement JOIN pg_dist_shard USING (shardid)
	 WHERE logicalrelid = 'sync.bars'::regclass GROUP BY nodeport});
my ($direct, $on_both, $symbols) = (0, 1, 0);
for my $w (@workers)
{
	my ($n, $s) = split /\|/, on($w, "SET citus.override_table_visibility = off;
	                                  SELECT sum(n), sum(s) FROM ($placed{$w->port}) c");
	$direct += $n;
	$symbols += $s;
	$on_both &&= $n > 0;
}
is($direct, $nbars, 'counted on the workers themselves, the shards hold every bar once');
ok($on_both, 'and both workers hold bars');
is($symbols, 6, 'each symbol on one shard');

# -- rollups: the invalidations the pages logged, the views, the refresh -----
ok(on($coord, q{SELECT count(*) FROM sync.rollup_invalidations WHERE source = 'f'}) >= 7,
	'the pages logged their rollup invalidations on the coordinator');
my @views = map { "sync.bars_$_" } qw(5m 15m 1h 1d);
for my $v (@views)
{
	my $q = "SELECT * FROM $v WHERE source = 'f'";
	is(rows_md5($coord, $q), rows_md5($single, $q), "$v answers as on the single node (pending changes)");
}
my $one = q{SELECT * FROM sync.bars_1h WHERE source = 'f' AND symbol = 'C2' AND ts < '2020-01-01 12:00+00'};
is(rows_md5($coord, $one), rows_md5($single, $one), 'one symbol and a time range, too');
for my $node ($coord, $single)
{
	on($node, 'DO $$ BEGIN WHILE sync.refresh_rollups() > 0 LOOP END LOOP; END $$');
}
is(on($coord, 'SELECT count(*) FROM sync.rollup_invalidations'), 0, 'the refresh drained the invalidations');
for my $level (qw(5m 15m 1h 1d))
{
	my $q = "SELECT * FROM sync.rollup_$level";
	my $n = on($single, "SELECT count(*) FROM sync.rollup_$level");
	is(rows_md5($coord, $q), rows_md5($single, $q), "sync.rollup_$level holds the same $n buckets");
}
for my $v (@views)
{
	my $q = "SELECT * FROM $v WHERE source = 'f'";
	is(rows_md5($coord, $q), rows_md5($single, $q), "$v answers as on the single node (refreshed)");
}
my $resample = q{SELECT * FROM sync_resample('f', 'C3', '45 minutes', '2020-01-01 05:00+00', '2020-01-02 05:00+00')};
is(rows_md5($coord, $resample), rows_md5($single, $resample), 'sync_resample() answers the same');
my $session = q{SELECT * FROM sync_resample('f', 'C3', '30 minutes', '2019-12-30', '2020-01-03', session => 'XNYS')};
is(rows_md5($coord, $session), rows_md5($single, $session), 'and inside a session');

# a hole: sync.gaps (subscriptions on the coordinator, bars on the shards)
for my $node ($coord, $single)
{
	on($node, q{DELETE FROM sync.bars WHERE source = 'f' AND symbol IN ('C1', 'C4')
	              AND ts >= '2020-01-01 10:00+00' AND ts < '2020-01-01 10:30+00'});
}
my $gaps = q{SELECT * FROM sync.gaps WHERE source = 'f'};
is(rows_md5($coord, $gaps), rows_md5($single, $gaps), 'sync.gaps lists the same holes');
like(rows_md5($coord, $gaps), qr/^2 /, 'both of them');

# -- a stream and a paced backfill while each worker restarts ---------------
# the aggregator (asleep for an hour) starts again with a short interval
on($coord, q{ALTER SYSTEM SET sync.aggregate_interval_ms = 200; SELECT pg_reload_conf()});
ok($coord->poll_query_until('postgres', q{SELECT current_setting('sync.aggregate_interval_ms')}, '200ms'),
	'the settings are reloaded');
on($coord, 'SELECT sync_stop()');
ok($coord->poll_query_until('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('sync aggregator', 'sync supervisor')}, '0'),
	"sync's supervisor and aggregator stopped");
on($coord, qq{
	SELECT sync_start();
	SELECT sync_add_source('slow', 'binance', '$fake', options => '{"page_size": 100, "requests_per_minute": 300}');
	SELECT sync_subscribe('slow', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
	SELECT sync_add_source('bin', 'binance', '$fake', stream_url => '$ws', options => '{"page_size": 100}');
	SELECT sync_subscribe('bin', ARRAY['LIVEUSD'], 'trades', history_from => now() - interval '1 hour');
});
ok($coord->poll_query_until('postgres', q{SELECT phase = 'realtime' FROM sync_status() WHERE source = 'bin'}),
	'the stream is live');
ok($coord->poll_query_until('postgres', q{SELECT count(*) > 200 FROM sync.bars WHERE source = 'slow'}),
	'the paced backfill is under way');
for my $w (@workers)
{
	my $before = on($coord, q{SELECT count(*) FROM sync.trades WHERE source = 'bin'});
	$w->stop('immediate');
	usleep(500_000);
	$w->start;
	ok($coord->poll_query_until('postgres', qq{SELECT count(*) > $before + 20 FROM sync.trades WHERE source = 'bin'}),
		$w->name . ' restarted: the stream stores again');
}
ok($coord->poll_query_until('postgres', q{SELECT phase = 'idle' FROM sync_status() WHERE source = 'slow'}),
	'the paced backfill caught up');
is(on($coord, q{SELECT string_agg(format('%s,%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
	                 open, high, low, close, volume), E'\n' ORDER BY ts)
	               FROM sync.bars WHERE source = 'slow'}),
	fake_series($fake, 'BTCUSDT'), 'every bar of the paced backfill stored once, across the restarts');

# the stream: every trade the fake made between the first and the last stored, once
my @stored = split /\n/, on($coord, q{SELECT trade_id FROM sync.trades WHERE source = 'bin' ORDER BY trade_id::bigint});
my @made = grep { $_ >= $stored[0] && $_ <= $stored[-1] }
  map { (split /,/)[1] } split /\n/, HTTP::Tiny->new->get("$fake/_trades?symbol=LIVEUSD")->{content};
is_deeply(\@stored, \@made, scalar(@stored) . ' streamed trades, each once, no hole across the restarts');
ok($coord->poll_query_until('postgres', q{SELECT count(*) = 0 FROM sync.rollup_invalidations WHERE source = 'slow'}),
	'the aggregator drained the invalidations of the paced backfill on the cluster');
is(on($coord, q{SELECT count(*) FROM sync.bars_1d WHERE source = 'slow'}), 1, 'and the day of the paced backfill is rolled up');
is(on($coord, q{SELECT count(*) FROM sync.rollup_5m WHERE source = 'slow'}), 288, 'into its 288 buckets of 5 minutes');

# rows in the default partition (the paced backfill's, where its day's
# partition was not made ahead of it, and a bar of a year with none): the
# maintenance moves them into partitions of their own (made on the
# coordinator, distributed by Citus when attached)
on($coord, q{INSERT INTO sync.bars VALUES ('manual', 'BTCUSDT', '1 minute', '2015-06-01 00:00+00', 1, 2, 0.5, 1.5, 10, 3, NULL)});
my $slow_q = q{SELECT * FROM sync.bars WHERE source IN ('slow', 'manual')};
my $slow = rows_md5($coord, $slow_q);
ok(on($coord, q{SELECT count(*) FROM sync.bars_default}) > 0, 'rows in the default partition');
on($coord, 'DO $$ BEGIN WHILE sync.maintain_partitions() > 0 LOOP END LOOP; END $$');
is(on($coord, q{SELECT count(*) FROM sync.bars_default}), 0, 'the maintenance emptied the default partition');
is(on($coord, q{SELECT count(*) FROM sync.partitions p LEFT JOIN pg_dist_partition d ON d.logicalrelid = p.partition
	               WHERE d.logicalrelid IS NULL}), 0, 'every partition is distributed');
is(rows_md5($coord, $slow_q), $slow, 'the bars moved, none lost, none twice');
on($coord, q{DELETE FROM sync.bars WHERE source = 'manual'});

# retention on the cluster: the partitions entirely past it dropped, the
# older rows of the default partition deleted in batches (Citus's form of the
# batched delete), the rollups kept
on($coord, q{INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume)
	           SELECT 'old', 'C' || (g % 3), interval '1 minute', timestamptz '2021-06-01' + g * interval '1 minute', 1, 1, 1, 1, 1
	             FROM generate_series(1, 150) g
	           UNION ALL
	           SELECT 'new', 'C1', '1 minute', date_trunc('minute', now()) - g * interval '1 minute', 1, 1, 1, 1, 1
	             FROM generate_series(1, 20) g});
# (the buckets of the past only: the stream still landing adds one when the
# clock passes a five-minute mark)
my $rollups = on($coord, q{SELECT count(*) FROM sync.rollup_5m WHERE ts < now() - interval '1 day'});
on($coord, q{SELECT sync_set_retention('bars', '1 year')});
ok(on($coord, 'SELECT sync.apply_retention(100)') >= 100, 'retention: a first round');
on($coord, 'DO $$ BEGIN WHILE sync.apply_retention(100) > 0 LOOP END LOOP; END $$');
is(on($coord, q{SELECT count(*) FROM sync.bars WHERE ts < now() - interval '1 year'}), 0,
	'retention left no bar older than a year on the cluster');
is(on($coord, q{SELECT count(*) FROM sync.bars}), 20, 'and took nothing newer');
is(on($coord, q{SELECT count(*) FROM sync.rollup_5m WHERE ts < now() - interval '1 day'}), $rollups,
	'the rollups kept their history');

on($_, 'SELECT sync_stop()') for ($coord, $single);
$_->stop for ($coord, @workers, $single);
done_testing();
