# Polygon, Coinbase and Binance streams against the fake provider, and
# several symbols on one connection.  Each subscription backfills its
# trades over REST (Polygon by time, Coinbase and Binance by trade id),
# then streams (Polygon: auth, T. channels, status events; Coinbase:
# matches and heartbeats; Binance: a combined stream), and every trade the
# fake made in the stored range is stored exactly once.  A source's
# symbols share one connection, which takes a symbol subscribed later
# without a hole in the others.  A refused key and an unknown product show
# as the job's error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake('--live', 'LIVEUSD:200', '--live', 'OTHERUSD:50', '--require-key', 'KEY-1');
(my $ws = $fake) =~ s/^http/ws/;
my $node = sync_node('streams');
$node->append_conf('postgresql.conf', "sync.flush_interval_ms = 20\n");
$node->reload;
usleep(1_500_000);    # trades made before the subscriptions: a backfill first

# the fake's trades of a symbol as "ms,id" lines, ids from first to last
sub made
{
	my ($symbol, $first, $last) = @_;
	my $r = HTTP::Tiny->new->get("$fake/_trades?symbol=$symbol");
	return grep { my ($id) = /,(\d+)$/; $id >= $first && $id <= $last }
	  map { my @f = split /,/; "$f[0],$f[1]" } split /\n/, $r->{content};
}

# stored trades of a source and symbol as "ms,id", id being the fake's
sub stored
{
	my ($source, $symbol, $id_expr) = @_;
	return split /\n/, $node->safe_psql('postgres', qq{
		SELECT (extract(epoch FROM ts) * 1000)::bigint || ',' || $id_expr
		  FROM sync.trades WHERE source = '$source' AND symbol = '$symbol' ORDER BY ($id_expr)::bigint});
}

sub exactly_once
{
	my ($what, $source, $symbol, $fake_symbol, $id_expr) = @_;
	my @stored = stored($source, $symbol, $id_expr);
	my ($first) = $stored[0] =~ /,(\d+)$/;
	my ($last) = $stored[-1] =~ /,(\d+)$/;
	my @made = made($fake_symbol, $first, $last);
	is_deeply(\@stored, \@made, "$what: " . scalar(@stored) . " trades ($first..$last), each once, no hole")
	  or diag_hole(\@stored, \@made);
	return $first;
}

# on a hole: the missing ids, and the requests and streams around the first
sub diag_hole
{
	my ($stored, $made) = @_;
	my %have = map { (/,(\d+)$/)[0] => 1 } @$stored;
	my @missing = grep { !$have{(/,(\d+)$/)[0]} } @$made;
	return unless @missing;
	diag('missing: ' . join(' ', @missing[0 .. ($#missing < 9 ? $#missing : 9)]));
	my ($ms) = split /,/, $missing[0];
	for my $r (@{ fake_requests($fake) })
	{
		next if abs($r->{t0} * 1000 - $ms) > 3000;
		diag(sprintf('%+.1f ms %s %s', $r->{t0} * 1000 - $ms, $r->{path}, $r->{query} // ''));
	}
}

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('poly', 'polygon', '$fake', stream_url => '$ws/stocks',
	                       credentials => '{"secret": "KEY-1"}');
	SELECT sync_subscribe('poly', ARRAY['LIVEUSD', 'OTHERUSD'], 'trades', history_from => now() - interval '1 hour');
	SELECT sync_add_source('poly_bad', 'polygon', '$fake', stream_url => '$ws/stocks',
	                       credentials => '{"secret": "WRONG"}');
	SELECT sync_subscribe('poly_bad', ARRAY['LIVEUSD'], 'trades', history_from => now() - interval '1 minute');
	SELECT sync_add_source('cb', 'coinbase', '$fake', stream_url => '$ws', options => '{"page_size": 100}');
	SELECT sync_subscribe('cb', ARRAY['LIVE-USD'], 'trades', history_from => now() - interval '1 hour');
	SELECT sync_add_source('cb_bad', 'coinbase', '$fake', stream_url => '$ws');
	SELECT sync_subscribe('cb_bad', ARRAY['NOPE-USD'], 'trades');
	SELECT sync_start();
});
wait_for($node, q{SELECT string_agg(phase, ',') FROM sync_status() WHERE source = 'poly'}, 'realtime,realtime',
	'polygon: both symbols streaming');
wait_for($node, q{SELECT phase FROM sync_status() WHERE source = 'cb'}, 'realtime', 'coinbase: streaming');
wait_for($node, q{SELECT last_error FROM sync_status() WHERE source = 'poly_bad'},
	'Polygon stream auth_failed: authentication failed', 'polygon: a refused key is the job\'s error');
wait_for($node, q{SELECT last_error ~ 'NotFound|not a valid product' FROM sync_status() WHERE source = 'cb_bad'},
	't', 'coinbase: an unknown product is the job\'s error');
usleep(1_500_000);
like($node->safe_psql('postgres', q{SELECT status || ': ' || detail FROM sync_health() WHERE component = 'stream poly'}),
	qr/^ok: streaming \(pid \d+\) for 2 realtime subscription/, 'health: the streamer of a source');
wait_for($node, q{SELECT status || ': ' || detail FROM sync_health() WHERE component = 'stream poly_bad'},
	'degraded: reconnecting: Polygon stream auth_failed: authentication failed', 'health: a streamer that is refused');

my $pid = q{split_part(trade_id, ':', 2)};
is(exactly_once('polygon: history then stream', 'poly', 'LIVEUSD', 'LIVEUSD', $pid), '1',
	'polygon: the history came over REST from the first trade');
exactly_once('polygon: the second symbol', 'poly', 'OTHERUSD', 'OTHERUSD', $pid);
my @streams = grep { ($_->{path} // '') =~ /^\(polygon stream\)/ } @{ fake_requests($fake) };
is($streams[-1]{path}, '(polygon stream) LIVEUSD,OTHERUSD', 'polygon: the symbols share one connection');
my $cfirst = exactly_once('coinbase: history then stream', 'cb', 'LIVE-USD', 'LIVEUSD', 'trade_id');
cmp_ok($cfirst, '>', 1, 'coinbase: trades by id only, so the history starts at the newest page');
is($node->safe_psql('postgres', q{SELECT count(DISTINCT side) FROM sync.trades WHERE source = 'cb'}), '2',
	'coinbase: the taker side of both kinds');
is($node->safe_psql('postgres', q{
	SELECT bool_and(c.side = CASE WHEN b.m THEN 'sell' ELSE 'buy' END) FROM sync.trades c
	  JOIN (SELECT trade_id, (trade_id::bigint % 3 = 1) AS m FROM sync.trades WHERE source = 'cb') b USING (trade_id)
	 WHERE c.source = 'cb'}), 't', "coinbase: the maker's side turned into the taker's");
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.rejects}), '0', 'nothing refused')
  or diag($node->safe_psql('postgres', q{SELECT source, reason, left(payload, 300) FROM sync.rejects LIMIT 3}));

# Alpaca: two symbols, one connection (Alpaca allows one per key), one subscribe for both
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('alp', 'alpaca', '$fake', stream_url => '$ws/v2/iex',
	                       credentials => '{"key_id": "KEY-1", "secret": "S"}');
	SELECT sync_subscribe('alp', ARRAY['LIVEUSD', 'OTHERUSD'], 'trades', history_from => now() - interval '1 hour');
});
wait_for($node, q{SELECT string_agg(phase, ',') FROM sync_status() WHERE source = 'alp'}, 'realtime,realtime',
	'alpaca: both symbols streaming');
usleep(1_000_000);
@streams = grep { ($_->{path} // '') =~ /^\(alpaca stream\)/ } @{ fake_requests($fake) };
is($streams[-1]{path}, '(alpaca stream) LIVEUSD,OTHERUSD', 'alpaca: the symbols share one connection');
exactly_once('alpaca: the second symbol', 'alp', 'OTHERUSD', 'OTHERUSD', $pid);
# room in the 16 job slots (a streamer takes one) for the sources below
$node->safe_psql('postgres', q{
	SELECT sync_drop_source('alp'); SELECT sync_drop_source('poly_bad'); SELECT sync_drop_source('cb_bad')});

# Binance: one symbol streams, a second joins its connection later
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('bin', 'binance', '$fake', stream_url => '$ws', options => '{"page_size": 100}');
	SELECT sync_subscribe('bin', ARRAY['LIVEUSD'], 'trades', history_from => now() - interval '1 hour');
});
wait_for($node, q{SELECT phase FROM sync_status() WHERE source = 'bin'}, 'realtime', 'binance: streaming');
usleep(500_000);
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('bin', ARRAY['OTHERUSD'], 'trades', history_from => now() - interval '1 hour')});
wait_for($node, q{SELECT string_agg(phase, ',') FROM sync_status() WHERE source = 'bin'}, 'realtime,realtime',
	'binance: the second symbol streaming');
usleep(1_000_000);
my @ws = grep { ($_->{path} // '') =~ m{^/stream} } @{ fake_requests($fake) };
like($ws[-1]{path} . '?' . ($ws[-1]{query} // ''), qr{streams=liveusd\@aggTrade/otherusd\@aggTrade},
	'binance: both symbols on one combined stream');
exactly_once('binance: the first symbol, across the connection that took the second', 'bin', 'LIVEUSD', 'LIVEUSD',
	'trade_id');
exactly_once('binance: the symbol that joined', 'bin', 'OTHERUSD', 'OTHERUSD', 'trade_id');

# Binance's raw trade feed: /api/v3/trades, then historicalTrades by id (with the key), then @trade
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('raw', 'binance', '$fake', stream_url => '$ws', credentials => '{"key_id": "K"}',
	                       options => '{"feed": "trade", "page_size": 100}');
	SELECT sync_subscribe('raw', ARRAY['OTHERUSD'], 'trades', history_from => now() - interval '1 hour');
});
wait_for($node, q{SELECT phase FROM sync_status() WHERE source = 'raw'}, 'realtime', 'binance raw trades: streaming');
usleep(1_000_000);
my @raw = grep { ($_->{path} // '') =~ m{^/ws/otherusd\@trade$|^/api/v3/(trades|historicalTrades)$} }
  @{ fake_requests($fake) };
is(join(' ', map { $_->{path} } @raw[0 .. 1]), '/api/v3/trades /api/v3/historicalTrades',
	'binance raw trades: the newest page, then by id');
ok((grep { $_->{path} eq '/ws/otherusd@trade' } @raw), 'binance raw trades: the @trade stream');
exactly_once('binance raw trades: history then stream', 'raw', 'OTHERUSD', 'OTHERUSD', 'trade_id');

# the streamer killed mid-stream: the supervisor starts it again, the jobs close the new seams
my $streamer = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync streamer' AND application_name = 'sync stream bin'});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($streamer)");
wait_for($node, qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync streamer'
	AND application_name = 'sync stream bin' AND pid <> $streamer}, '1', 'binance: the streamer started again');
my $before_kill = $node->safe_psql('postgres', q{SELECT max(trade_id::bigint) FROM sync.trades WHERE source = 'bin' AND symbol = 'LIVEUSD'});
wait_for($node, qq{SELECT max(trade_id::bigint) > $before_kill + 200 FROM sync.trades WHERE source = 'bin' AND symbol = 'LIVEUSD'},
	't', 'binance: streaming again');

# SIGKILL of the streamer: the postmaster restarts every backend, and batches whose commit had
# not reached the WAL on disk (sync.stream_synchronous_commit = off) are gone with the checkpoints
# they moved; the jobs fetch them again over REST
$streamer = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync streamer' AND application_name = 'sync stream bin'});
kill 'KILL', $streamer;
wait_for($node, qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync streamer'
	AND application_name = 'sync stream bin' AND pid <> $streamer}, '1', 'binance: back after a crash');
$before_kill = $node->safe_psql('postgres', q{SELECT max(trade_id::bigint) FROM sync.trades WHERE source = 'bin' AND symbol = 'LIVEUSD'});
wait_for($node, qq{SELECT max(trade_id::bigint) > $before_kill + 200 FROM sync.trades WHERE source = 'bin' AND symbol = 'LIVEUSD'},
	't', 'binance: streaming again after the crash');

# every series whole again before the stop: after the crash each seam is
# closed over REST, and a stop before that would leave its hole to the next
# start (the checkpoints move only once a seam is closed), not to this check
for my $s (['bin', 'LIVEUSD', 'trade_id'], ['bin', 'OTHERUSD', 'trade_id'], ['poly', 'LIVEUSD', $pid],
	['cb', 'LIVE-USD', 'trade_id'])
{
	my ($source, $symbol, $id) = @$s;
	wait_for($node, qq{SELECT count(*) = max(($id)::bigint) - min(($id)::bigint) + 1 FROM sync.trades
	                    WHERE source = '$source' AND symbol = '$symbol'}, 't',
		"$source $symbol: whole again after the crash");
}
$node->safe_psql('postgres', 'SELECT sync_stop()');
exactly_once('binance: across a streamer terminated and one killed mid-stream', 'bin', 'LIVEUSD', 'LIVEUSD', 'trade_id');
exactly_once('polygon: after sync_stop()', 'poly', 'LIVEUSD', 'LIVEUSD', $pid);
exactly_once('binance: after sync_stop()', 'bin', 'OTHERUSD', 'OTHERUSD', 'trade_id');
exactly_once('coinbase: after sync_stop()', 'cb', 'LIVE-USD', 'LIVEUSD', 'trade_id');
done_testing();
