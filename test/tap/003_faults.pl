# Faults from the provider: 429 + Retry-After honoured, 5xx, malformed and
# truncated bodies and dropped connections retried, invalid OHLC rows and
# malformed pages kept in sync.rejects, timeouts retried, and permanent
# errors (bad symbol, wrong key) stopping the job with a clear message.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('faults');
my @source = btcusdt_rows();

# faults are served to the next requests in this order
fake_fault($fake, kind => '429', retry_after => 2);
fake_fault($fake, kind => '500');
fake_fault($fake, kind => 'malformed');
fake_fault($fake, kind => 'truncate');
fake_fault($fake, kind => 'close');
fake_fault($fake, kind => 'invalid_ohlc');

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake', options => '{"page_size": 200}');
	SELECT sync_subscribe('fake', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00',
	                      realtime => false);
	SELECT sync_start();
});
wait_for($node, "SELECT phase = 'idle' FROM sync_status()", 't', 'backfill caught up through the faults');

my @log = grep { $_->{path} eq '/api/v3/klines' } @{ fake_requests($fake) };
is($log[0]{status}, 429, 'first answer was the 429');
ok($log[1]{t} - $log[0]{t} >= 2.0,
	sprintf('no request before Retry-After (next came %.2f s later)', $log[1]{t} - $log[0]{t}));
is($log[1]{status}, 500, 'then the 500, retried');

my $bad_ts = $node->safe_psql('postgres', q{
	SELECT (payload::jsonb->>0)::bigint FROM sync.rejects WHERE reason LIKE 'OHLC inconsistent%'});
ok($bad_ts > 0, 'the invalid OHLC bar is in sync.rejects with its raw payload');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.rejects WHERE reason LIKE 'malformed JSON%'}),
	'1', 'the malformed page is in sync.rejects');
my @expected = grep { !/^$bad_ts,/ } @source;
is(scalar(@expected), scalar(@source) - 1, 'exactly one source bar was refused');
is(bars_text($node, 'BTCUSDT'), join("\n", @expected),
	'every other bar stored exactly once, row for row');
is($node->safe_psql('postgres', 'SELECT rows_rejected FROM sync_status()'), '2',
	'sync_status() counts the rejects');
like($node->safe_psql('postgres', 'SELECT last_error FROM sync_status()'),
	qr/HTTP request failed|malformed|HTTP 500|rate limited/, 'sync_status() shows the last error');

# timeouts are retried
fake_reset($fake);
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('slow', 'binance', '$fake', options => '{"timeout_ms": 300}');
});
fake_fault($fake, kind => 'delay', delay_ms => 1500, symbol => 'ADABTC');
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('slow', ARRAY['ADABTC'], history_from => '2021-11-27', realtime => false)});
wait_for($node, "SELECT count(*) FROM sync.bars WHERE source = 'slow'", '21', 'stored after a timeout');
like($node->safe_psql('postgres', "SELECT last_error FROM sync_status() WHERE source = 'slow'"),
	qr/Timeout|timed out/i, 'the timeout was reported');

# a bad symbol is permanent: error state, no retry storm
$node->safe_psql('postgres',
	"SELECT sync_subscribe('fake', ARRAY['NOSUCHCOIN'], history_from => '2021-11-27', realtime => false)");
wait_for($node, "SELECT phase FROM sync_status() WHERE symbol = 'NOSUCHCOIN'", 'error',
	'bad symbol puts the job in error');
is($node->safe_psql('postgres', "SELECT last_error FROM sync_status() WHERE symbol = 'NOSUCHCOIN'"),
	'provider answered HTTP 400: Binance error: Invalid symbol.', 'with the provider\'s words');
sleep 1;
my $tries = grep { $_->{query} =~ /NOSUCHCOIN/ } @{ fake_requests($fake) };
is($tries, 1, 'asked once, not retried');
is($node->safe_psql('postgres',
	"SELECT state FROM sync.job_runs WHERE symbol = 'NOSUCHCOIN'"), 'failed', 'job history says failed');

# a wrong API key: clear error, and the key is never logged
my $keyed = start_fake('--require-key', 'GOODKEY');
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('keyed', 'binance', '$keyed',
	                       credentials => '{"key_id": "WRONGKEY123", "secret": "SECRETXYZ"}');
	SELECT sync_subscribe('keyed', ARRAY['ADABTC'], history_from => '2021-11-27', realtime => false);
});
wait_for($node, "SELECT phase FROM sync_status() WHERE source = 'keyed'", 'error', 'wrong key: error');
like($node->safe_psql('postgres', "SELECT last_error FROM sync_status() WHERE source = 'keyed'"),
	qr/HTTP 401: Binance error: Invalid API-key/, 'the error names the key problem');
# the server's own log_statement lines show what the test typed; sync's must not
my $all = join('', grep { !/statement: / } split(/(?=^\d{4}-\d\d-\d\d )/m, slurp_file($node->logfile)))
  . $node->safe_psql('postgres',
	"SELECT string_agg(coalesce(last_error, ''), ' ') FROM sync_status()");
unlike($all, qr/WRONGKEY123|SECRETXYZ/, 'the key appears in no log and no status');

# a page with every kind of bad kline: each refused with its reason, the rest kept
fake_reset($fake);
fake_fault($fake, kind => 'bad_rows', symbol => 'LTCUSD');
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('fake', ARRAY['LTCUSD'], history_from => '2018-04-04', realtime => false)});
wait_for($node, "SELECT phase = 'idle' FROM sync_status() WHERE symbol = 'LTCUSD'", 't',
	'page with bad klines processed');
is($node->safe_psql('postgres', q{
	SELECT string_agg(reason, '|' ORDER BY id) FROM sync.rejects WHERE symbol = 'LTCUSD'}),
	join('|', 'duplicate or out-of-order bar in page', 'kline is not an array of at least 9 fields',
		'field 1 (open) is not a string', 'field 0 (open time) is not an integer', 'negative volume',
		'timestamp not aligned to the bar interval', 'price is not a decimal number',
		'field 4 (close) is too long for a decimal', 'OHLC inconsistent: open outside [low, high]',
		'timestamp outside the requested range'),
	'every bad kline refused with its reason');
my @ltc = lean_minute_rows('coinbase_ltcusd_minute_trade_20180404.csv', 1522800000000);
is(bars_text($node, 'LTCUSD'), join("\n", @ltc),
	'the good klines around them stored, and the out-of-range one did not move the checkpoint');

# the refused bar left a real hole: sync.gaps lists it, and gap repair
# re-requests it (the provider now answers it correctly) and fills it
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s', symbol, missing_bars), ',') FROM sync.gaps}),
	'BTCUSDT 1', 'sync.gaps lists the minute of the refused bar, and nothing else');
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET sync.gap_repair_interval_ms = 200; SELECT pg_reload_conf()});
wait_for($node, "SELECT count(*) FROM sync.gaps", '0', 'gap repaired');
is(bars_text($node, 'BTCUSDT'), join("\n", @source), 'after the repair every source bar is stored');

# dense bars are asked for as several windows at once: with a provider that
# takes 300 ms per answer, requests arrive before the previous is answered
fake_reset($fake);
$node->safe_psql('postgres', q{ALTER SYSTEM SET sync.requests_in_flight = 4; SELECT pg_reload_conf()});
fake_fault($fake, kind => 'delay', delay_ms => 300, count => 40, symbol => 'BTCUSDT');
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('pipe', 'binance', '$fake', options => '{"page_size": 100}');
	SELECT sync_subscribe('pipe', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00',
	                      realtime => false);
});
wait_for($node, "SELECT count(*) FROM sync.bars WHERE source = 'pipe'", scalar(@source),
	'pipelined backfill stored every bar');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM sync.bars a JOIN sync.bars b USING (symbol, bar_interval, ts)
	 WHERE a.source = 'pipe' AND b.source = 'fake'
	   AND (a.open, a.high, a.low, a.close, a.volume) IS DISTINCT FROM (b.open, b.high, b.low, b.close, b.volume)}),
	'0', 'and the same bars as the one-request-at-a-time backfill');
my @pipe = sort { $a->{t0} <=> $b->{t0} }
  grep { $_->{path} eq '/api/v3/klines' && $_->{query} =~ /symbol=BTCUSDT&.*startTime=(\d+)/ && $1 < 1670976000000 }
  @{ fake_requests($fake) };
my $overlapping = grep { $pipe[$_]{t0} < $pipe[$_ - 1]{t} } 1 .. $#pipe;
ok($overlapping >= 3, "several requests in flight at once ($overlapping of " . scalar(@pipe)
	  . " arrived before the one before them was answered)");

$node->safe_psql('postgres', 'SELECT sync_stop()');
done_testing();
