# Hostile WebSocket servers (issue 11, findings 4 and 10): a stream that
# sends a frame with reserved bits, declares a 2^55-byte frame, begins a
# message and never ends it, goes silent, or answers the handshake without
# "Upgrade: websocket" / "Connection: upgrade".  Each must end the stream
# connection with a clear error (in the server log and sync_health()),
# count reconnects where the stream had been taken, and leave the
# subscription going over REST: every trade of the fake provider stored
# once.  No worker may end by a signal.  The REST side is the fake
# provider; the streams are test/tap/hostile_ws.py.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(usleep);
use File::Basename qw(dirname);
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake('--live', 'LIVEUSDT:50');

# the hostile stream server
my $dir = PostgreSQL::Test::Utils::tempdir();
my $hostile_log = "$dir/hostile.log";
my $hostile = fork();
die "fork: $!" unless defined $hostile;
if ($hostile == 0)
{
	open(STDOUT, '>', $hostile_log);
	open(STDERR, '>&', \*STDOUT);
	exec('/usr/bin/python3', "$FindBin::Bin/hostile_ws.py", '--port-file', "$dir/port") or die "exec: $!";
}
END { local $?; if ($hostile) { kill 'TERM', $hostile; waitpid($hostile, 0); } }
for (1 .. 200)
{
	last if -s "$dir/port";
	usleep(50_000);
}
my $port = PostgreSQL::Test::Utils::slurp_file("$dir/port");

my $node = sync_node('ws_hostile');
# a silent stream is pinged after 0.5 s and given up after 1 s
$node->append_conf('postgresql.conf', "sync.flush_interval_ms = 20\nsync.stream_idle_timeout_ms = 1000\n");
$node->reload;

my @modes = qw(rsv len55 endless silent noupgrade);
for my $mode (@modes)
{
	$node->safe_psql('postgres', qq{
		SELECT sync_add_source('$mode', 'binance', '$fake', stream_url => 'ws://127.0.0.1:$port/$mode',
		                       options => '{"page_size": 100}');
		SELECT sync_subscribe('$mode', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 hour');
	});
}
$node->safe_psql('postgres', 'SELECT sync_start()');

# poll the server log for a line; a test of its own
sub log_shows
{
	my ($re, $what) = @_;
	my $log = '';
	for (1 .. $PostgreSQL::Test::Utils::timeout_default * 10)
	{
		$log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
		last if $log =~ $re;
		usleep(100_000);
	}
	like($log, $re, $what);
}

# the stream was opened at least twice: the first one was ended
sub connections
{
	my ($mode) = @_;
	my $n = 0;
	for (split /\n/, PostgreSQL::Test::Utils::slurp_file($hostile_log))
	{
		$n = $1 if /^$mode (\d+)$/;
	}
	return $n;
}

my %error = (
	rsv => qr/stream protocol error: a malformed frame: reserved bits.*\(close code 1002\)/,
	len55 => qr/stream protocol error: a message of more than \d+ bytes \(close code 1009\)/,
	endless => qr/stream protocol error: a fragmented message went past \d+ bytes of frames/,
	silent => qr/stream silent for \d+ ms: no message and no answer to a ping/,
	noupgrade => qr/stream endpoint's handshake answer lacks "Upgrade: websocket"/,
);
for my $mode (@modes)
{
	log_shows(qr/sync stream of source "$mode" lost: $error{$mode}/, "$mode: the stream ends with a clear error");
	my $n;
	for (1 .. $PostgreSQL::Test::Utils::timeout_default * 10)
	{
		$n = connections($mode);
		last if $n >= 3;
		usleep(100_000);
	}
	cmp_ok($n, '>=', 3, "$mode: and is opened again");
}
for my $mode (qw(rsv len55 endless silent))
{
	wait_for($node, qq{SELECT reconnects >= 2 FROM sync_status() WHERE source = '$mode'}, 't',
		"$mode: sync_status() counts the reconnects");
}
wait_for($node, q{SELECT status || ': ' || detail ~ '^degraded: reconnecting: stream protocol error'
	FROM sync_health() WHERE component = 'stream rsv'}, 't', 'sync_health() shows the stream reconnecting, and why');

# meanwhile the trades come over REST: each once, up to what the fake has made by now
sub fake_trades
{
	my $r = HTTP::Tiny->new->get("$fake/_trades?symbol=LIVEUSDT");
	return map { my @f = split /,/; "$f[0],$f[1]" } split /\n/, $r->{content};
}
my @made = fake_trades();
my ($newest) = $made[-1] =~ /,(\d+)$/;
for my $mode (@modes)
{
	wait_for($node, qq{SELECT max(trade_id::bigint) >= $newest FROM sync.trades WHERE source = '$mode'}, 't',
		"$mode: the subscription goes on over REST");
	my @stored = split /\n/, $node->safe_psql('postgres', qq{
		SELECT (extract(epoch FROM ts) * 1000)::bigint || ',' || trade_id
		  FROM sync.trades WHERE source = '$mode' ORDER BY trade_id::bigint});
	my ($last) = $stored[-1] =~ /,(\d+)$/;
	my @want = grep { my ($id) = /,(\d+)$/; $id <= $last } fake_trades();
	is_deeply(\@stored, \@want, "$mode: " . scalar(@stored) . ' trades, each once, no hole, nothing else');
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.trades WHERE trade_id = '900000000'}), '0',
	'noupgrade: nothing from a server that did not complete the WebSocket handshake is stored');

$node->safe_psql('postgres', 'SELECT sync_stop()');
unlike(PostgreSQL::Test::Utils::slurp_file($node->logfile), qr/terminated by signal|was terminated by/,
	'no process ended by a signal');
done_testing();
