# Server restarts: a restart in the middle of a backfill resumes from the
# checkpoint and ends with exactly the source rows; sync_stop() is
# remembered across restarts too.  Without shared_preload_libraries,
# sync_start() says how to enable the workers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('restart');
my @source = btcusdt_rows();
subscribe_btcusdt_slowly($node, $fake);
$node->safe_psql('postgres', 'SELECT sync_start()');
wait_for($node, "SELECT rows_stored >= 200 FROM sync.subscriptions", 't', 'backfill under way');
$node->restart;
my $after = $node->safe_psql('postgres', 'SELECT count(*) FROM sync.bars');
ok($after >= 200 && $after < scalar(@source), "restart hit the middle of the backfill ($after rows)");
wait_for($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sync pool'",
	't', 'workers back after the restart without sync_start()');
wait_for($node, "SELECT phase FROM sync_status()", 'idle', 'backfill caught up');
is(bars_text($node, 'BTCUSDT'), join("\n", @source), 'bars equal the source row for row');

is($node->safe_psql('postgres', 'SELECT sync_stop()'), 't', 'stopped');
$node->restart;
sleep 1;
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('sync supervisor', 'sync pool')"),
	'0', 'a stopped database stays stopped after a restart');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync launcher'"),
	'1', 'the launcher runs');
$node->stop;

my $plain = sync_node('nopreload', preload => 0);
my ($ret, $out, $err) = $plain->psql('postgres', 'SELECT sync_start()');
isnt($ret, 0, 'sync_start() fails without shared_preload_libraries');
like($err, qr/sync background workers are not available/, 'with a clear message');
like($err, qr/HINT:  Add 'sync' to shared_preload_libraries/, 'and a hint saying how to enable them');
is($plain->safe_psql('postgres', "SELECT count(*) FROM sync_status()"), '0',
	'sync_status() works without the workers');
$plain->stop;

done_testing();
