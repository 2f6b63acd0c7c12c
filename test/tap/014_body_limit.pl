# What one answer may cost (issue 11, finding 5): an answer larger than
# sync.max_response_size is abandoned while it downloads, whether it is
# endless (chunked, no Content-Length), announces 10 GB, or is a small
# gzip body inflating to 16 MB.  The job shows the limit in its error and
# backs off; the worker keeps its memory bounded and is not killed.  A csv
# source's day file is held to sync.max_file_size instead.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;
use NetServer;

my ($url, $log) = start_net_server();
my $node = sync_node('body_limit');
$node->append_conf('postgresql.conf', "sync.max_response_size = '1MB'\nsync.max_file_size = '2MB'");
$node->reload;
is($node->safe_psql('postgres', 'SHOW sync.max_response_size'), '1MB', 'the setting is known');

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('hostile', 'binance', '$url');
	SELECT sync_subscribe('hostile', ARRAY['ENDLESS', 'LIAR', 'BOMB'],
	                      history_from => '2022-12-13 00:00+00', realtime => false);
	SELECT sync_start();
});

for my $symbol (qw(ENDLESS LIAR BOMB))
{
	wait_for($node,
		qq{SELECT last_error = 'HTTP request failed: response larger than sync.max_response_size (1024 kB)'
		     FROM sync_status() WHERE symbol = '$symbol'},
		't', "$symbol: the answer is refused, the error names the limit");
}

# the endless one again and again, by the same worker
my $pid = $node->safe_psql('postgres', q{SELECT worker_pid FROM sync_status() WHERE symbol = 'ENDLESS'});
ok($pid > 0, 'the ENDLESS job has a worker');
my $seen = scalar(grep { /symbol=ENDLESS/ } net_requests($log));
ok(wait_requests($seen + 2),
	'the job retried the endless answer twice more');
is($node->safe_psql('postgres', q{SELECT worker_pid FROM sync_status() WHERE symbol = 'ENDLESS'}), $pid,
	'... with the same worker: it was neither killed nor restarted');
wait_for($node, q{SELECT phase = 'retrying' AND retry_at IS NOT NULL FROM sync_status() WHERE symbol = 'ENDLESS'},
	't', 'the job backs off between attempts');

# peak memory of that worker (VmHWM counts the shared buffers it touched too)
my ($hwm) = slurp_file("/proc/$pid/status") =~ /^VmHWM:\s+(\d+) kB/m;
ok($hwm < 200 * 1024, "the worker's peak memory stayed bounded ($hwm kB)");
diag("VmHWM of the ENDLESS worker: $hwm kB");

# day files of a csv source have their own limit
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('files', 'csv', '$url/files');
	SELECT sync_subscribe('files', ARRAY['ENDLESS'], history_from => '2022-12-13 00:00+00', realtime => false);
});
wait_for($node,
	q{SELECT last_error = 'HTTP request failed: response larger than sync.max_file_size (2048 kB)'
	    FROM sync_status() WHERE source = 'files'},
	't', 'an endless csv day file is refused at sync.max_file_size');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.bars}), '0', 'nothing stored');

unlike(slurp_file($node->logfile), qr/terminated by signal|out of memory/, 'no worker ended by a signal, no OOM');
$node->stop;
done_testing();

sub wait_requests
{
	my ($n) = @_;
	for (1 .. 1800)
	{
		return 1 if scalar(grep { /symbol=ENDLESS/ } net_requests($log)) >= $n;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}
