# Crash loops (src/crash_guard.c): a job whose worker crashed the server
# twice within ten minutes is not started again until sync_start().  A
# worker killed by SIGSEGV makes the postmaster restart every backend; the
# job that did it is counted, the jobs killed alongside it (SIGQUIT) are
# not.  After the second crash the job is in state error with a last error
# saying why, in sync_status() and sync_health(); it stays stopped over a
# restart and over another crash recovery, the other jobs keep running,
# and sync_start() sets it going again.  The same for a source's streamer
# (and for its storer, whose crashes count against the streamer)
# (its subscription goes on over REST meanwhile) and for the aggregator.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake('--live', 'LIVEUSDT:50');
(my $ws = $fake) =~ s/^http/ws/;
my $node = sync_node('crash');
my @source = btcusdt_rows();
# a pool worker per series: a crash is counted against the series its
# worker was working on (bgworkers/pool.c), here the only one it carries
$node->safe_psql('postgres', 'ALTER SYSTEM SET sync.max_workers = 3');
$node->reload;

# BTCUSDT will crash; ADABTC and the stream run alongside it, innocent
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake');
	SELECT sync_subscribe('fake', ARRAY['BTCUSDT', 'ADABTC'], history_from => '2021-11-27 00:00+00',
	                      realtime => false);
	SELECT sync_add_source('live', 'binance', '$fake', stream_url => '$ws');
	SELECT sync_subscribe('live', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 hour');
	SELECT sync_start();
});
my $crasher = $node->safe_psql('postgres', q{SELECT id FROM sync.subscriptions WHERE symbol = 'BTCUSDT'});
my $innocent = $node->safe_psql('postgres', q{SELECT id FROM sync.subscriptions WHERE symbol = 'ADABTC'});
wait_for($node, q{SELECT phase FROM sync_status() WHERE symbol = 'LIVEUSDT'}, 'realtime', 'the stream runs');

# the pid of the one worker whose application_name matches, once it differs from $old
sub worker_pid
{
	my ($type, $name, $old) = @_;
	my $sql = qq{SELECT pid FROM pg_stat_activity WHERE backend_type = '$type'
	               AND application_name LIKE '$name' AND pid <> $old};
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($sql) w")
	  or die "no $type worker for $name";
	return $node->safe_psql('postgres', $sql);
}

# the pid of the pool worker carrying a series, once it differs from $old
sub series_pid
{
	my ($symbol, $old) = @_;
	my $sql = qq{SELECT worker_pid FROM sync_status() WHERE symbol = '$symbol'
	               AND worker_pid IS NOT NULL AND worker_pid <> $old};
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($sql) w")
	  or die "no pool worker carries $symbol";
	return $node->safe_psql('postgres', $sql);
}

sub crash
{
	my ($pid, $what) = @_;
	ok(kill('SEGV', $pid), "$what: worker $pid killed by SIGSEGV");
}

# a service worker (backend_type $type, application_name like $name) crashed twice
sub crash_twice
{
	my ($type, $name, $what) = @_;
	my $pid = worker_pid($type, $name, 0);
	crash($pid, "$what, first crash");
	$pid = worker_pid($type, $name, $pid);
	crash($pid, "$what, second crash");
}

wait_for($node, q{SELECT count(DISTINCT worker_pid) FROM sync_status()}, '3',
	'each series is carried by a pool worker of its own');
wait_for($node, q{SELECT phase FROM sync_status() WHERE symbol = 'BTCUSDT'}, 'idle', 'BTCUSDT worked on');
my $pid = series_pid('BTCUSDT', 0);
my $innocent_pid = series_pid('ADABTC', 0);
crash($pid, 'first crash');
$pid = series_pid('BTCUSDT', $pid);
wait_for($node, q{SELECT phase FROM sync_status() WHERE symbol = 'BTCUSDT'}, 'idle', 'BTCUSDT worked on again');
pass('after one crash the job is started again');
is($node->safe_psql('postgres', qq{SELECT state FROM sync.subscriptions WHERE id = $crasher}), 'active',
	'one crash does not stop it');
crash($pid, 'second crash');
wait_for($node, qq{SELECT state FROM sync.subscriptions WHERE id = $crasher}, 'error',
	'after the second crash within ten minutes the job is stopped');

my $error = qr/^crashed the server twice within 10 minutes \(last: \d{4}-\d\d-\d\d [^)]+\); not restarted until sync_start\(\) or sync_subscribe\(\)$/;
my ($phase, $last_error) = split /\|/,
  $node->safe_psql('postgres', q{SELECT phase, last_error FROM sync_status() WHERE symbol = 'BTCUSDT'});
is($phase, 'error', 'sync_status(): phase error');
like($last_error, $error, 'sync_status(): the last error says why and what to do');
like($node->safe_psql('postgres',
		q{SELECT status || ': ' || detail FROM sync_health() WHERE component = 'worker fake/BTCUSDT/bars'}),
	qr/^down: .*crashed the server twice within 10 minutes/, 'sync_health(): the worker is down, with the reason');

# the others were killed by SIGQUIT twice, and are not counted
is($node->safe_psql('postgres', qq{SELECT state FROM sync.subscriptions WHERE id = $innocent}), 'active',
	'a job killed alongside the crasher is not stopped');
my $adabtc = series_pid('ADABTC', $innocent_pid);
ok($adabtc, 'and its worker runs again');
my $log = slurp_file($node->logfile);
my @counted = $log =~ /sync job (-?\d+) of database \d+ crashed the server/g;
like($log, qr/sync job $crasher of database \d+ crashed the server: its worker \(pid $pid sync pool \d+\) ended/,
	'the server log names the worker');
is_deeply(\@counted, [ $crasher, $crasher ], 'the server log counts the crasher\'s two crashes, nothing else');
wait_for($node, q{SELECT phase FROM sync_status() WHERE symbol = 'LIVEUSDT'}, 'realtime',
	'the stream runs again');

# stopped over a restart and over a crash recovery
$node->restart;
series_pid('ADABTC', 0);
is($node->safe_psql('postgres', q{SELECT coalesce(worker_pid::text, 'none') FROM sync_status() WHERE symbol = 'BTCUSDT'}),
	'none', 'after a restart the other jobs run, the stopped one does not');
$adabtc = series_pid('ADABTC', 0);
ok(kill('KILL', $adabtc), 'another job\'s worker killed by SIGKILL: crash recovery');
series_pid('ADABTC', $adabtc);
is($node->safe_psql('postgres', q{SELECT coalesce(worker_pid::text, 'none') FROM sync_status() WHERE symbol = 'BTCUSDT'}),
	'none', 'after that crash recovery too');
is($node->safe_psql('postgres', qq{SELECT state FROM sync.subscriptions WHERE id = $crasher}), 'error',
	'still in state error');

# sync_start() sets it going again: it stores its data from scratch
$node->safe_psql('postgres', qq{
	DELETE FROM sync.bars WHERE symbol = 'BTCUSDT';
	UPDATE sync.subscriptions SET synced_through = NULL, rows_stored = 0 WHERE id = $crasher;
});
is($node->safe_psql('postgres', 'SELECT sync_start()'), 't', 'sync_start()');
series_pid('BTCUSDT', 0);
pass('the stopped job runs again');
wait_for($node, q{SELECT phase FROM sync_status() WHERE symbol = 'BTCUSDT'}, 'idle', 'and catches up');
is(bars_text($node, 'BTCUSDT'), join("\n", @source), 'its bars are stored again, row for row');

# a streamer that crash-loops: the source's subscription polls REST meanwhile
crash_twice('sync streamer', '%live%', 'streamer');
ok($node->poll_query_until('postgres',
		q{SELECT status || ': ' || detail ~ '^down: stopped: crashed the server twice within 10 minutes \(last: [^)]+\); not restarted until sync_start\(\); its subscriptions poll REST$'
		    FROM sync_health() WHERE component = 'stream live'}),
	'sync_health(): the stream is down, with the reason');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync streamer'}),
	'0', 'no streamer runs');
my $trades = $node->safe_psql('postgres', q{SELECT rows_stored FROM sync.subscriptions WHERE symbol = 'LIVEUSDT'});
wait_for($node, qq{SELECT rows_stored > $trades FROM sync.subscriptions WHERE symbol = 'LIVEUSDT'}, 't',
	'its subscription goes on storing trades over REST');
$node->restart;
series_pid('LIVEUSDT', 0);
like($node->safe_psql('postgres', q{SELECT status || ': ' || detail FROM sync_health() WHERE component = 'stream live'}),
	qr/^down: stopped: crashed the server twice/, 'the streamer stays stopped over a restart');

# the aggregator likewise
crash_twice('sync aggregator', '%', 'aggregator');
ok($node->poll_query_until('postgres',
		q{SELECT status || ': ' || detail ~ '^down: stopped: crashed the server twice within 10 minutes \(last: [^)]+\); not restarted until sync_start\(\)$'
		    FROM sync_health() WHERE component = 'aggregator'}),
	'sync_health(): the aggregator is down, with the reason');
is($node->safe_psql('postgres', q{SELECT string_agg(component, ',') FROM sync_health()}),
	$node->safe_psql('postgres', q{SELECT string_agg(component, ',') FROM
	  (SELECT component FROM sync._health_of_jobs() UNION ALL SELECT component FROM sync._stream_health()
	   UNION ALL SELECT component FROM sync._pool_health()) h}),
	'sync_health() keeps the rows of 0.4.0 in their order, then the pool row of 0.6.0');

$node->safe_psql('postgres', 'SELECT sync_start()');
wait_for($node, q{SELECT phase FROM sync_status() WHERE symbol = 'LIVEUSDT'}, 'realtime',
	'after sync_start() the stream runs again');
wait_for($node, q{SELECT status FROM sync_health() WHERE component = 'aggregator'}, 'ok',
	'and the aggregator');

# a stream's storer (the process that stores what its streamer parsed) that
# crash-loops stops the stream as a crashing streamer would
crash_twice('sync stream store', '%live%', 'storer');
ok($node->poll_query_until('postgres',
		q{SELECT status || ': ' || detail ~ '^down: stopped: crashed the server twice within 10 minutes \(last: [^)]+\); not restarted until sync_start\(\); its subscriptions poll REST$'
		    FROM sync_health() WHERE component = 'stream live'}),
	'sync_health(): a crash-looping storer stops its stream, with the reason');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
	                                WHERE backend_type IN ('sync streamer', 'sync stream store')}),
	'0', 'neither streamer nor storer runs');

$node->stop;
done_testing();
