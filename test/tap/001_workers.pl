# Background workers: sync_start() starts a supervisor and one worker per
# subscription, a backfill through them equals the source row for row, and
# a worker killed with SIGTERM or SIGKILL is brought back with nothing lost
# or duplicated.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('workers');

my @source = btcusdt_rows();
subscribe_btcusdt_slowly($node, $fake);
is($node->safe_psql('postgres', 'SELECT sync_start()'), 't', 'sync_start() returns true');
is($node->safe_psql('postgres', 'SELECT sync_start()'), 't', 'sync_start() is idempotent');

wait_for($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sync supervisor'",
	't', 'supervisor visible in pg_stat_activity');
wait_for($node,
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'sync pool'"
	  . " AND application_name = 'sync pool 0'",
	't', 'pool worker visible with its backend_type and name');
is($node->safe_psql('postgres',
	"SELECT s.worker_pid = a.pid FROM sync_status() s, pg_stat_activity a WHERE a.backend_type = 'sync pool'"),
	't', 'the series is carried by the pool worker');

# SIGTERM mid-backfill: the worker commits and exits, the supervisor restarts it
wait_for($node, "SELECT rows_stored > 0 FROM sync.subscriptions", 't', 'backfill under way');
my $pid1 = $node->safe_psql('postgres', "SELECT worker_pid FROM sync_status()");
ok($pid1 > 0, 'sync_status() shows the worker pid');
kill 'TERM', $pid1;
wait_for($node,
	"SELECT worker_pid IS NOT NULL AND worker_pid <> $pid1 FROM sync_status()",
	't', 'supervisor restarted the worker after SIGTERM');

# SIGKILL: the postmaster resets every backend; the launcher brings sync back
my $stored_before = $node->safe_psql('postgres', 'SELECT count(*) FROM sync.bars');
my $pid2 = $node->safe_psql('postgres', "SELECT worker_pid FROM sync_status()");
kill 'KILL', $pid2;
wait_for($node,
	"SELECT worker_pid IS NOT NULL AND worker_pid <> $pid2 FROM sync_status()",
	't', 'pipeline back after SIGKILL');
ok($node->safe_psql('postgres', 'SELECT count(*) FROM sync.bars') >= $stored_before,
	'nothing committed was lost by the crash');

wait_for($node, "SELECT phase FROM sync_status()", 'idle', 'backfill caught up');
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.bars'), scalar(@source),
	'every source row stored once');
is(bars_text($node, 'BTCUSDT'), join("\n", @source), 'stored bars equal the source row for row');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM (SELECT ts FROM sync.bars GROUP BY ts HAVING count(*) > 1) d"),
	'0', 'no duplicate');
is($node->safe_psql('postgres',
	"SELECT rows_stored FROM sync.subscriptions"), scalar(@source),
	'rows_stored counts each row once across restarts');
ok($node->safe_psql('postgres',
	"SELECT count(*) FROM sync.job_runs WHERE state = 'interrupted'") >= 1,
	'job history records the interrupted runs');
# one run finished; on a loaded machine the backfill may have ended before
# a kill, and the restarted worker then opens a second run that succeeds
# too: what must not be is a run left failed or running
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE state = 'succeeded') >= 1
	       AND count(*) FILTER (WHERE state NOT IN ('succeeded', 'interrupted')) = 0
	  FROM sync.job_runs}), 't',
	'and the run that finished (none failed or left running)');

# a new subscription while running gets its worker; an unsubscribed one loses it
$node->safe_psql('postgres',
	"SELECT sync_subscribe('fake', ARRAY['ADABTC'], history_from => '2021-11-27', realtime => false)");
wait_for($node, "SELECT count(*) FROM sync.bars WHERE symbol = 'ADABTC'", '21',
	'new subscription picked up while running');
$node->safe_psql('postgres', "SELECT sync_unsubscribe('fake', ARRAY['ADABTC'])");
wait_for($node,
	"SELECT count(*) FROM sync._worker_status() WHERE kind = 'subscription'",
	'1', 'unsubscribed series put down');

# sync_stop() stops everything, gracefully
is($node->safe_psql('postgres', 'SELECT sync_stop()'), 't', 'sync_stop() returns true');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('sync supervisor', 'sync pool')"),
	'0', 'no sync process left after sync_stop()');
is($node->safe_psql('postgres', "SELECT phase FROM sync_status()"), 'stopped', 'phase stopped');
is($node->safe_psql('postgres', 'SELECT sync_stop()'), 'f', 'sync_stop() again: nothing to stop');

# a worker never segfaulted or crashed on its own
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal 11|was terminated by signal 6/, 'no worker crash in the log');

done_testing();
