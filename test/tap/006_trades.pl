# Historical trades: a Binance aggTrades backfill (real XRP/ETH trades, many
# pages, hour-long windows, several trades in one millisecond) ends with
# every trade stored once, with its side; a restart in the middle changes
# nothing of that.
use strict;
use warnings;
use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('trades');
my $expected = HTTP::Tiny->new->get("$fake/_trades?symbol=XRPETH")->{content};
my $n = scalar(split /\n/, $expected);
ok($n > 12000, "the fake serves $n real trades");

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('fake', ARRAY['XRPETH'], 'trades', history_from => '2019-10-11 00:00+00',
	                      realtime => false);
	SELECT sync_start();
});
wait_for($node, "SELECT count(*) > 3000 FROM sync.trades", 't', 'trades backfill under way');
$node->restart;
wait_for($node, "SELECT count(*) FROM sync.trades", $n, 'every trade stored');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
	                         trade_id, price, size, side), E'\n' ORDER BY ts, trade_id::bigint)
	  FROM sync.trades}), $expected, 'trades equal the source, with time to the ms and side');
wait_for($node, "SELECT phase FROM sync_status() WHERE dataset = 'trades'", 'idle', 'caught up');
is($node->safe_psql('postgres', "SELECT rows_stored FROM sync_status()"), $n,
	'rows_stored counts each trade once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.rejects'), '0', 'nothing refused');

# the same trades from daily trade files, 1000 a page: several passes per file
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('files', 'csv', '$fake/files', options => '{"page_size": 1000}');
	SELECT sync_subscribe('files', ARRAY['XRPETH'], 'trades', history_from => '2019-10-11 00:00+00',
	                      realtime => false);
});
wait_for($node, "SELECT count(*) FROM sync.trades WHERE source = 'files'", $n, 'trade files: every trade stored');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
	                         trade_id, price, size, side), E'\n' ORDER BY ts, trade_id::bigint)
	  FROM sync.trades WHERE source = 'files'}), $expected, 'trade files: trades equal the source');

# stock trades from Alpaca and Polygon: every AIG trade of a day, many pages
for my $prov ('alpaca', 'polygon')
{
	my $want = HTTP::Tiny->new->get("$fake/_trades?symbol=AIG&provider=$prov")->{content};
	my $nt = scalar(split /\n/, $want);
	$node->safe_psql('postgres', qq{
		SELECT sync_add_source('$prov', '$prov', '$fake',
		                       credentials => '{"key_id": "K", "secret": "S"}',
		                       options => '{"page_size": 5000}');
		SELECT sync_subscribe('$prov', ARRAY['AIG'], 'trades', history_from => '2013-10-08 00:00+00',
		                      realtime => false);
	});
	wait_for($node, "SELECT count(*) FROM sync.trades WHERE source = '$prov'", $nt,
		"$prov: all $nt trades stored");
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(format('%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
		                         trade_id, price, size, side), E'\n'
		                  ORDER BY ts, split_part(trade_id, ':', 2)::bigint)
		  FROM sync.trades WHERE source = '$prov'}), $want, "$prov: trades equal the source");
}

# a product the provider does not know: the job stops with the provider's words
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('cb', 'coinbase', '$fake');
	SELECT sync_subscribe('cb', ARRAY['LTC-USD'], 'trades', history_from => '2018-04-04', realtime => false);
});
wait_for($node, "SELECT phase FROM sync_status() WHERE source = 'cb'", 'error', 'coinbase trades: error');
is($node->safe_psql('postgres', "SELECT last_error FROM sync_status() WHERE source = 'cb'"),
	'provider answered HTTP 404: Coinbase error: NotFound', 'with a clear message');

$node->safe_psql('postgres', 'SELECT sync_stop()');
done_testing();
