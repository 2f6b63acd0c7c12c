# Realtime: a trades subscription backfills over REST, then streams from
# the fake provider's WebSocket (Binance, and Alpaca with its auth).  Every trade the fake made in the synced
# range is stored exactly once: across the backfill-to-live seam, across a
# dropped connection (REST fills the hole), past a malformed frame (kept in
# sync.rejects) and a server ping; sync_stop() commits what was received.
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

my $fake = start_fake('--live', 'LIVEUSDT:200', '--require-key', 'KEY-1');    # Alpaca's stream checks it
(my $ws = $fake) =~ s/^http/ws/;
my $node = sync_node('realtime');
$node->append_conf('postgresql.conf', "sync.flush_interval_ms = 20\n");
$node->reload;

# the fake's trades, as "ms,id" lines
sub fake_trades
{
	my $r = HTTP::Tiny->new->get("$fake/_trades?symbol=LIVEUSDT");
	return map { my @f = split /,/; "$f[0],$f[1]" } split /\n/, $r->{content};
}

# stored trades equal the fake's from the first stored id to the last
sub check_exactly_once
{
	my ($what) = @_;
	my @stored = split /\n/, $node->safe_psql('postgres', q{
		SELECT (extract(epoch FROM ts) * 1000)::bigint || ',' || trade_id
		  FROM sync.trades WHERE source = 'live' ORDER BY trade_id::bigint});
	my ($first) = $stored[0] =~ /,(\d+)$/;
	my ($last) = $stored[-1] =~ /,(\d+)$/;
	my @made = grep { my ($id) = /,(\d+)$/; $id >= $first && $id <= $last } fake_trades();
	is_deeply(\@stored, \@made, "$what: " . scalar(@stored) . ' trades, each once, no hole')
	  or diag_hole(\@stored, \@made);
}

# on a hole: which ids are missing, and the REST requests and streams around them
sub diag_hole
{
	my ($stored, $made) = @_;
	my %have = map { (/,(\d+)$/)[0] => 1 } @$stored;
	my @missing = grep { !$have{$_} } map { (/,(\d+)$/)[0] } @$made;
	diag('missing ids: ' . join(' ', @missing[0 .. ($#missing < 9 ? $#missing : 9)]));
	my ($ms) = grep { /,$missing[0]$/ } @$made;
	($ms) = split /,/, $ms;
	for my $r (@{ fake_requests($fake) })
	{
		next unless ($r->{path} // '') =~ m{aggTrades|^/ws/};
		next if abs($r->{t0} * 1000 - $ms) > 3000;
		diag(sprintf('%.3f %s %s', $r->{t0} * 1000 - $ms, $r->{path}, $r->{query} // ''));
	}
	# what the server said of storing and streaming
	my @said = grep { /ERROR|could not store|deadlock|sync stream|sync job|pool/ && !/statement:/ }
	  split /\n/, slurp_file($node->logfile);
	diag($_) for @said[($#said > 30 ? $#said - 30 : 0) .. $#said];
}

usleep(1_500_000);    # the fake has made trades before the subscription: a backfill first
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('live', 'binance', '$fake', stream_url => '$ws',
	                       options => '{"page_size": 100}');
	SELECT sync_subscribe('live', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 hour');
	SELECT sync_start();
});
wait_for($node, q{SELECT phase FROM sync_status()}, 'realtime', 'backfilled, then streaming');
usleep(1_000_000);
is($node->safe_psql('postgres', q{SELECT min(trade_id::bigint) FROM sync.trades WHERE source = 'live'}), '1',
	'the trades made before the subscription came over REST');
is($node->safe_psql('postgres', q{SELECT lag >= interval '0' FROM sync_status()}), 't',
	'sync_status() shows the lag of the stream');
check_exactly_once('backfill-to-live seam');

# a dropped connection: REST fills what the stream missed
fake_fault($fake, path => '/ws', kind => 'close', after => 100);
wait_for($node, q{SELECT reconnects > 0 FROM sync.subscription_metrics}, 't', 'the stream was dropped and reopened');
wait_for($node, q{SELECT phase FROM sync_status()}, 'realtime', 'streaming again');
is($node->safe_psql('postgres', q{SELECT s.reconnects = m.reconnects AND s.reconnects > 0
	FROM sync_status() s, sync.subscription_metrics m}), 't', 'sync_status() shows the reconnects');
usleep(500_000);
check_exactly_once('after a forced disconnect');

# a malformed frame is kept and the stream goes on
my $before = $node->safe_psql('postgres', q{SELECT count(*) FROM sync.trades WHERE source = 'live'});
fake_fault($fake, path => '/ws', kind => 'malformed', after => 20);
wait_for($node, q{SELECT count(*) FROM sync.rejects WHERE symbol = 'LIVEUSDT'}, '1', 'malformed frame in sync.rejects');
like($node->safe_psql('postgres', q{SELECT reason || ' | ' || payload FROM sync.rejects WHERE symbol = 'LIVEUSDT'}),
	qr/\{"e": "aggTrade", "a": $/, 'with its raw payload');
wait_for($node, "SELECT count(*) > $before + 200 FROM sync.trades WHERE source = 'live'", 't', 'the stream went on');

# a ping from the server is answered and changes nothing
my $reconnects = $node->safe_psql('postgres', 'SELECT reconnects FROM sync.subscription_metrics');
fake_fault($fake, path => '/ws', kind => 'ping', after => 5);
usleep(500_000);
is($node->safe_psql('postgres', 'SELECT reconnects FROM sync.subscription_metrics'), $reconnects,
	'a server ping does not break the stream');

# connections renewed on purpose (Binance's 24-hour limit, here 1 s): no failure, no hole
$node->append_conf('postgresql.conf', "sync.stream_max_age_ms = 1000\n");
$node->reload;
my $renewed = $node->safe_psql('postgres', 'SELECT reconnects FROM sync.subscription_metrics');
wait_for($node, "SELECT reconnects >= $renewed + 2 FROM sync.subscription_metrics", 't',
	'streams renewed after sync.stream_max_age_ms');
is($node->safe_psql('postgres', 'SELECT consecutive_failures FROM sync.subscription_metrics'), '0',
	'a renewal is not a failure');
$node->append_conf('postgresql.conf', "sync.stream_max_age_ms = 86400000\n");
$node->reload;
check_exactly_once('across renewed connections');

# Alpaca: auth and subscribe messages, arrays of trades; the same trades over REST
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('alp', 'alpaca', '$fake', stream_url => '$ws/v2/iex',
	                       credentials => '{"key_id": "KEY-1", "secret": "S"}');
	SELECT sync_subscribe('alp', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 hour');
	SELECT sync_add_source('alp_bad', 'alpaca', '$fake', stream_url => '$ws/v2/iex',
	                       credentials => '{"key_id": "WRONG", "secret": "S"}');
	SELECT sync_subscribe('alp_bad', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 minute');
});
wait_for($node, q{SELECT phase FROM sync_status() WHERE source = 'alp'}, 'realtime', 'alpaca: streaming');
wait_for($node, q{SELECT last_error FROM sync_status() WHERE source = 'alp_bad'},
	'Alpaca stream error 402: auth failed', "alpaca: the provider's refusal of a wrong key is the job's error");
usleep(1_000_000);
my @alp = split /\n/, $node->safe_psql('postgres', q{
	SELECT split_part(trade_id, ':', 3) || ',' || split_part(trade_id, ':', 2)
	  FROM sync.trades WHERE source = 'alp' ORDER BY split_part(trade_id, ':', 2)::bigint});
my ($afirst) = $alp[0] =~ /,(\d+)$/;
my ($alast) = $alp[-1] =~ /,(\d+)$/;
is($afirst, '1', 'alpaca: the history came over REST');
is_deeply(\@alp, [grep { my ($id) = /,(\d+)$/; $id >= $afirst && $id <= $alast } fake_trades()],
	'alpaca: ' . scalar(@alp) . ' trades, each once, no hole');
$node->safe_psql('postgres', q{SELECT sync_drop_source('alp'); SELECT sync_drop_source('alp_bad')});

# stop during the stream: what was received is committed, still exactly once
$node->safe_psql('postgres', 'SELECT sync_stop()');
is($node->safe_psql('postgres', q{SELECT phase FROM sync_status() WHERE source = 'live'}), 'stopped', 'stopped');
check_exactly_once('after sync_stop() mid-stream');
my $stopped_at = $node->safe_psql('postgres', q{SELECT max(trade_id::bigint) FROM sync.trades WHERE source = 'live'});

# started again: the hole while stopped is filled over REST, then live again
usleep(1_000_000);
$node->safe_psql('postgres', 'SELECT sync_start()');
# live again, and the hole filled: the stream's first trades arrive while
# REST is still filling the hole (a stop then would leave it for the next
# start, since the checkpoint moves only once the seam is closed)
wait_for($node, qq{SELECT max(trade_id::bigint) > $stopped_at + 400
                          AND count(*) = max(trade_id::bigint) - min(trade_id::bigint) + 1
                     FROM sync.trades WHERE source = 'live'}, 't',
	'live again after a restart of sync, the hole while stopped filled');
$node->safe_psql('postgres', 'SELECT sync_stop()');
check_exactly_once('across a stop and start');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.rejects WHERE symbol = 'LIVEUSDT'}), '1',
	'nothing else was refused');
done_testing();
