# A page the database cannot store (not a record's fault: here a lock
# timeout on the subscription's row, as a long transaction of another
# session would cause) is fetched and stored again later: a Binance
# aggTrades backfill that pages by trade id ends with every trade once and
# no hole.  Before the fix, the next trade id had moved past the page when
# it was parsed, so the page that failed was never asked for again.
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
my $node = sync_node('store_retry');
my $expected = HTTP::Tiny->new->get("$fake/_trades?symbol=XRPETH")->{content};
my $n = scalar(split /\n/, $expected);

# the workers' transactions give up on a lock after 200 ms
$node->safe_psql('postgres', q{ALTER DATABASE postgres SET lock_timeout = '200ms'});
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake',
	                       options => '{"page_size": 200, "requests_per_minute": 1200}');
	SELECT sync_subscribe('fake', ARRAY['XRPETH'], 'trades', history_from => '2019-10-11 00:00+00',
	                      realtime => false);
	SELECT sync_start();
});
wait_for($node, "SELECT count(*) > 1000 FROM sync.trades", 't', 'the backfill pages by trade id');

# another session holds the subscription's row: every page fails to store
my $holder = $node->background_psql('postgres');
$holder->query_safe(q{SET lock_timeout = 0; BEGIN; SELECT 1 FROM sync.subscriptions FOR UPDATE});
wait_for($node, q{SELECT last_error LIKE 'could not store a page: %lock timeout%' FROM sync_status()}, 't',
	'a page that could not be stored is a transient error with the reason');
my $while_held = $node->safe_psql('postgres', 'SELECT count(*) FROM sync.trades');
sleep(2);    # several pages fail meanwhile (one a retry: sync.retry_base_ms is 100 ms)
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.trades'), $while_held,
	'nothing is stored while the row is held');
$holder->query_safe('COMMIT');
$holder->quit;

wait_for($node, "SELECT phase FROM sync_status()", 'idle', 'caught up after the row was let go');
my $stored = $node->safe_psql('postgres', q{
	SELECT string_agg(format('%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
	                         trade_id, price, size, side), E'\n' ORDER BY ts, trade_id::bigint)
	  FROM sync.trades});
my $count = scalar(split /\n/, $stored);
ok($stored eq $expected, "every trade stored once, no hole ($count of $n)")
  or diag('first missing ids: ' . join(' ', (grep {
		my $id = (split /,/)[1];
		$stored !~ /^\d+,$id,/m
	} split /\n/, $expected)[0 .. 9]));

$node->stop;
done_testing();
