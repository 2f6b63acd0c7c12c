# bench/latency.pl: what several requests in flight buy against a distant
# provider.  The fake answers every klines request after DELAY_MS; the same
# backfill (1440 bars, 100 a page) runs with sync.requests_in_flight = 1, 2
# and 4, and the time of each is printed with its ratio to 1.  Run by
# bench/latency.sh; a benchmark, so it asserts nothing about time.
use strict;
use warnings;
use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use lib "$FindBin::Bin/../test/tap";
use SyncTest;

my $delay = $ENV{DELAY_MS} // 50;
my $fake = start_fake();
my $node = sync_node('latency');
my %secs;
for my $n (1, 2, 4)
{
	fake_reset($fake);
	fake_fault($fake, kind => 'delay', delay_ms => $delay + 0, count => 100000, symbol => 'BTCUSDT');
	$node->safe_psql('postgres', qq{
		ALTER SYSTEM SET sync.requests_in_flight = $n; SELECT pg_reload_conf();
		SELECT sync_stop(); TRUNCATE sync.bars; DELETE FROM sync.sources;
		SELECT sync_add_source('s$n', 'binance', '$fake', options => '{"page_size": 100}');
		SELECT sync_subscribe('s$n', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
	});
	my $t0 = time;
	$node->safe_psql('postgres', 'SELECT sync_start()');
	$node->poll_query_until('postgres', "SELECT count(*) = 1440 FROM sync.bars")
	  or die "backfill did not finish";
	$secs{$n} = time - $t0;
	diag(sprintf("requests in flight %d: %.2f s for 1440 bars in 15 pages, %d ms per answer; %.2fx the speed of 1",
		$n, $secs{$n}, $delay, $secs{1} / $secs{$n}));
}
ok(1, 'benchmark ran');
done_testing();
