# NOTIFY from a streamer carrying two symbols: one notification per
# series, under its own symbol, with that series' rows (a streamer stores
# all its series in one process; it used to fold them into one
# notification named after one of them).
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
$node->append_conf('postgresql.conf', "sync.flush_interval_ms = 20\nsync.notify_interval_ms = 200\n");
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

$node->stop;
done_testing();
