# A series that no pool worker can carry waits in phase 'queued', and
# sync_health() says how many wait longer than their poll interval and
# why; the condition is logged once, not on every round.  Here PostgreSQL
# has no background worker slot left for a pool worker: the launcher, the
# logical replication launcher, the supervisor, the aggregator and the
# scheduler take all 5.  Given one more slot, the series are carried and
# catch up.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('queued');
$node->append_conf('postgresql.conf', "max_worker_processes = 5\n");
$node->restart;
my @source = btcusdt_rows();

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake');
	SELECT sync_subscribe('fake', ARRAY['BTCUSDT', 'ADABTC'], history_from => '2021-11-27 00:00+00',
	                      realtime => false);
	SELECT sync_start();
});
wait_for($node, q{SELECT string_agg(DISTINCT phase, ',') FROM sync_status()}, 'queued',
	'with no background worker slot for a pool worker, the series are queued');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync_status() WHERE worker_pid IS NOT NULL}), '0',
	'no process carries them');
ok($node->poll_query_until('postgres', q{
	SELECT status || ': ' || detail ~ '^down: 2 series waited longer than their poll interval: no pool worker is running to carry it \(0 of sync.max_workers 2 pool workers running\)$'
	  FROM sync_health() WHERE component = 'pool'}),
	'sync_health(): the pool row is down (no worker at all), with how many and why');
is($node->safe_psql('postgres', q{
	SELECT status || ': ' || detail FROM sync_health() WHERE component = 'worker fake/BTCUSDT/bars'}),
	'ok: queued: waiting for a pool worker to carry it', 'the series\' own row says it is queued');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT wait_reason, ',') FROM sync._worker_status()
	WHERE kind = 'subscription'}), 'no pool worker is running to carry it', 'sync._worker_status() says why');

# the condition is logged once while it lasts, not on every round of the supervisor
sleep 2;
my @lines = PostgreSQL::Test::Utils::slurp_file($node->logfile) =~ /sync cannot start "sync pool \d+": no background worker slot is free/g;
is(scalar(@lines), 1, 'the missing background worker slot is logged once');

# room for one pool worker: it carries both series
$node->append_conf('postgresql.conf', "max_worker_processes = 6\n");
$node->restart;
wait_for($node, q{SELECT string_agg(DISTINCT phase, ',') FROM sync_status()}, 'idle', 'with one more slot both catch up');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT worker_pid) FROM sync_status()}), '1',
	'one pool worker carries both series');
is(bars_text($node, 'BTCUSDT'), join("\n", @source), 'and the bars equal the source');
like($node->safe_psql('postgres', q{SELECT status || ': ' || detail FROM sync_health() WHERE component = 'pool'}),
	qr/^ok: 1 pool worker\(s\) carrying 2 series$/, 'sync_health(): the pool row is ok again');

done_testing();
