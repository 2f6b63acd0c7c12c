# NOTIFY from a streamer carrying two symbols: one notification per
# series, under its own symbol, with that series' rows (a streamer stores
# all its series in one process; it used to fold them into one
# notification named after one of them).  The same for two requested runs
# carried by one pool worker (runs have no subscription id, and their
# notifications used to share one entry).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake('--live', 'LIVEUSD:200', '--live', 'OTHERUSD:50', '--require-key', 'KEY-1');
(my $ws = $fake) =~ s/^http/ws/;
my $node = sync_node('notify_series');
$node->append_conf('postgresql.conf', "sync.flush_interval_ms = 20\nsync.notify_interval_ms = 200\nsync.max_workers = 1\n");
$node->reload;

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('poly', 'polygon', '$fake', stream_url => '$ws/stocks',
	                       credentials => '{"secret": "KEY-1"}');
	SELECT sync_subscribe('poly', ARRAY['LIVEUSD', 'OTHERUSD'], 'trades', history_from => now() - interval '1 minute');
	SELECT sync_start()});
wait_for($node, q{SELECT string_agg(phase, ',') FROM sync_status() WHERE source = 'poly'}, 'realtime,realtime',
	'both symbols stream on one connection');

# from now on only the streamer stores: what the listener hears is its own
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN sync_trades');
my %before = map { split /\|/ } split /\n/, $node->safe_psql('postgres',
	q{SELECT symbol, count(*) FROM sync.trades GROUP BY symbol});
wait_for($node, qq{SELECT count(*) = 2 AND bool_and(n >= coalesce(b, 0) + 100) FROM (
	SELECT symbol, count(*) AS n FROM sync.trades GROUP BY symbol) t
	  LEFT JOIN (VALUES ('LIVEUSD', @{[ $before{LIVEUSD} // 0 ]}), ('OTHERUSD', @{[ $before{OTHERUSD} // 0 ]})) v(s, b)
	    ON v.s = t.symbol}, 't', 'both symbols stored more trades while listened to');
my $out = $listener->query_safe('SELECT 1');
$listener->quit;

my @notes = $out =~ /Asynchronous notification "sync_trades" with payload "(.*?)" received/g;
my %heard;
my $exact = 1;
for my $n (@notes)
{
	my ($symbol) = $n =~ /"symbol": "(\w+)"/;
	my ($from) = $n =~ /"from": "([^"]+)"/;
	my ($ts) = $n =~ /"ts": "([^"]+)"/;
	my ($rows) = $n =~ /"rows": (\d+)/;
	$heard{$symbol}++;
	# the rows it announces are that symbol's, stored in [from, ts]
	my $have = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM sync.trades WHERE source = 'poly' AND symbol = '$symbol'
		   AND ts >= '$from' AND ts < '$ts'::timestamptz + interval '1 ms'});
	if ($rows > $have)
	{
		$exact = 0;
		diag("$n: only $have rows of $symbol there");
	}
}
ok($heard{LIVEUSD}, 'LIVEUSD heard under its own name (' . ($heard{LIVEUSD} // 0) . ' notifications)');
ok($heard{OTHERUSD}, 'OTHERUSD heard under its own name (' . ($heard{OTHERUSD} // 0) . ' notifications)');
ok($exact, 'each notification counts only its own series\' rows');

# Check notifications against the stored rows of their own symbol;
# returns how often each symbol was heard and whether every count held.
sub heard_exactly
{
	my ($channel, $table, $source, @notes) = @_;
	my (%heard, $exact);
	$exact = 1;
	for my $n (@notes)
	{
		my ($symbol) = $n =~ /"symbol": "(\w+)"/;
		my ($from) = $n =~ /"from": "([^"]+)"/;
		my ($ts) = $n =~ /"ts": "([^"]+)"/;
		my ($rows) = $n =~ /"rows": (\d+)/;
		$heard{$symbol}++;
		my $have = $node->safe_psql('postgres', qq{
			SELECT count(*) FROM sync.$table WHERE source = '$source' AND symbol = '$symbol'
			   AND ts >= '$from' AND ts < '$ts'::timestamptz + interval '1 ms'});
		if ($rows > $have)
		{
			$exact = 0;
			diag("$n: only $have rows of $symbol there");
		}
	}
	return (\%heard, $exact);
}

# two one-off runs carried by the one pool worker (sync.max_workers = 1)
$listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN sync_bars');
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('bin', 'binance', '$fake', options => '{"page_size": 200}');
	SELECT sync_backfill('bin', 'BTCUSDT', 'bars', '2022-12-13 00:00+00', '2022-12-14 00:00+00');
	SELECT sync_backfill('bin', 'ADABTC', 'bars', '2021-11-27 00:00+00', '2021-11-28 00:00+00')});
wait_for($node, q{SELECT count(*) FROM sync.job_runs WHERE source = 'bin' AND state = 'succeeded'}, '2',
	'both runs succeeded');
$out = $listener->query_safe('SELECT 1');
$listener->quit;
my ($runs_heard, $runs_exact) = heard_exactly('sync_bars', 'bars', 'bin',
	$out =~ /Asynchronous notification "sync_bars" with payload "(.*?)" received/g);
ok($runs_heard->{BTCUSDT} && $runs_heard->{ADABTC}, 'each run heard under its own symbol ('
	  . join(', ', map { "$_: $runs_heard->{$_}" } sort keys %$runs_heard) . ')');
ok($runs_exact, 'each run\'s notifications count only its own rows');

$node->stop;
done_testing();
