# Every provider's wire format, end to end: a multi-page backfill from the
# fake provider for Alpaca, Polygon and Coinbase, and kline files over
# http:// and file://, each equal to the served series row for row.
use strict;
use warnings;
use File::Copy qw(copy);
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('providers');

# Alpaca's first answer says the rate limit is used up for 2 s
fake_fault($fake, kind => 'ratelimit_exhausted', reset_in => 2, path => '/v2/stocks/AIG/bars');

# kline files named as binance-public-data names them, in a directory
my $files = File::Spec->rel2abs(PostgreSQL::Test::Utils::tempdir());
for my $day ('27', '28')
{
	copy("$FindBin::Bin/../data/binance_klines_ADABTC-1m-2021-11-$day.csv",
		"$files/ADABTC-1m-2021-11-$day.csv") or die "copy: $!";
}

# a stale, wrong copy of the first AIG bar is already stored: the page that
# holds it cannot be appended, and must be upserted, correcting that bar
my ($first_ms) = fake_series($fake, 'AIG') =~ /^(\d+),/;
$node->safe_psql('postgres', qq{
	INSERT INTO sync.bars VALUES ('alp', 'AIG', '1 minute', to_timestamp($first_ms / 1000.0),
	                              1, 1, 1, 1, 1, NULL, NULL)});

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('alp', 'alpaca', '$fake', credentials => '{"key_id": "AK", "secret": "SK"}',
	                       options => '{"page_size": 500, "feed": "sip"}');
	SELECT sync_add_source('poly', 'polygon', '$fake', credentials => '{"secret": "PK"}',
	                       options => '{"page_size": 700}');
	SELECT sync_add_source('cb', 'coinbase', '$fake', options => '{"requests_per_minute": 1200}');
	SELECT sync_add_source('web', 'csv', '$fake/files');
	SELECT sync_add_source('disk', 'csv', 'file://$files');
	SELECT sync_subscribe('alp', ARRAY['AIG'], history_from => '2013-10-07', realtime => false);
	SELECT sync_subscribe('poly', ARRAY['AIG'], history_from => '2013-10-07', realtime => false);
	SELECT sync_subscribe('cb', ARRAY['LTC-USD'], history_from => '2018-04-04', realtime => false);
	SELECT sync_subscribe('web', ARRAY['ADABTC'], history_from => '2021-11-27', realtime => false);
	SELECT sync_subscribe('disk', ARRAY['ADABTC'], history_from => '2021-11-27', realtime => false);
	SELECT sync_start();
});

my $aig = fake_series($fake, 'AIG');
my $ltc = fake_series($fake, 'LTCUSD');
my $ada = fake_series($fake, 'ADABTC');
my $naig = scalar(split /\n/, $aig);
ok($naig > 2000, "the AIG series spans several pages ($naig bars)");

sub source_text
{
	my ($source, $symbol) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(format('%s,%s,%s,%s,%s,%s',
		         (extract(epoch FROM ts) * 1000)::bigint, open, high, low, close, volume),
		       E'\\n' ORDER BY ts)
		  FROM sync.bars WHERE source = '$source' AND symbol = '$symbol'});
}

for my $case (['alp', 'AIG', $aig], ['poly', 'AIG', $aig], ['cb', 'LTC-USD', $ltc],
	['web', 'ADABTC', $ada], ['disk', 'ADABTC', $ada])
{
	my ($source, $symbol, $series) = @$case;
	my $n = scalar(split /\n/, $series);
	wait_for($node,
		"SELECT count(*) FROM sync.bars WHERE source = '$source' AND symbol = '$symbol'",
		$n, "$source: all $n bars stored");
	is(source_text($source, $symbol), $series, "$source: bars equal the served series row for row");
	is($node->safe_psql('postgres',
		# day files end in 2021: the recent days' are "not published yet" (0.5.0)
		"SELECT coalesce(regexp_replace(last_error, '^waiting: file for \\S+ not published yet \\(HTTP 404\\)\$', ''), '') FROM sync_status() WHERE source = '$source'"),
		'', "$source: no error");
}

# quiet minutes (Coinbase's LTC-USD, AIG outside trading) were confirmed by
# the provider: they are not gaps
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.gaps'), '0',
	'quiet minutes are recorded as checked, not listed as gaps');
ok($node->safe_psql('postgres', "SELECT count(*) FROM sync.checked_gaps WHERE source = 'cb'") > 0,
	'the quiet stretches are on record');
my $rows = $node->safe_psql('postgres', "SELECT count(*) FROM sync.checked_gaps WHERE source = 'web'");
sleep 1;	# idle polls every 300 ms
is($node->safe_psql('postgres', "SELECT count(*) FROM sync.checked_gaps WHERE source = 'web'"), $rows,
	'idle polls extend the last quiet stretch instead of adding rows');

# the requests were really paged the way each provider wants
my @log = @{ fake_requests($fake) };
my $alp_pages = grep { $_->{path} eq '/v2/stocks/AIG/bars' && $_->{status} == 200 } @log;
ok($alp_pages >= 5, "Alpaca backfill took several pages ($alp_pages)");
ok(!grep({ $_->{path} =~ m{/candles} && $_->{status} != 200 } @log),
	'Coinbase was never asked for more than 300 candles');
ok(grep({ $_->{query} =~ /feed=sip/ } @log), 'Alpaca feed option sent');
my @alp = grep { $_->{path} eq '/v2/stocks/AIG/bars' } @log;
my $reset = $alp[0]{headers}{'X-RateLimit-Reset'};
ok($alp[1]{t} >= $reset,
	sprintf('no Alpaca request before X-RateLimit-Reset (next came %.2f s after the reset time)',
		$alp[1]{t} - $reset));
ok(!grep({ $_->{query} =~ /PK|SK/ } @log), 'no key in any URL');

$node->safe_psql('postgres', 'SELECT sync_stop()');
done_testing();
