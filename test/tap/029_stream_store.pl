# A source's stream on two processes: the streamer receives and parses,
# its storer ("sync stream store") stores, through a queue (shm_mq).
# Every trade is stored once, with no hole, across: the storer killed
# (SIGKILL) mid-stream, the streamer killed mid-stream, the streamer
# terminated, the storer failing to store (it exits, so does the
# streamer, a new pair starts); and a storer held up (another session holds the
# subscription's row) fills the queue, after which the streamer stops
# reading the connection (it says so in pg_stat_activity) without its
# memory growing, and loses nothing once the row is let go.  sync_stop()
# stops both.
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

my $fake = start_fake('--live', 'LIVEUSD:1000');
(my $ws = $fake) =~ s/^http/ws/;
my $node = sync_node('stream_store');
# a small queue and small batches: the queue is full after a few hundred trades
$node->append_conf('postgresql.conf', "sync.stream_queue_size = 64\nsync.stream_batch = 100\n");
$node->reload;

sub pid_of
{
	my ($type) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT pid FROM pg_stat_activity WHERE backend_type = '$type' AND application_name LIKE '% bin'});
}

sub newest_id
{
	return $node->safe_psql('postgres', q{SELECT coalesce(max(trade_id::bigint), 0) FROM sync.trades});
}

# the streamer and its storer are both up, neither being the given pids, and trades flow again
sub pair_back
{
	my ($what, @old) = @_;
	my $not = @old ? 'AND pid NOT IN (' . join(',', @old) . ')' : '';
	wait_for($node, qq{SELECT count(*) FROM pg_stat_activity
		WHERE backend_type IN ('sync streamer', 'sync stream store') AND application_name LIKE '% bin' $not},
		'2', "$what: a streamer and its storer");
	my $before = newest_id();
	wait_for($node, "SELECT max(trade_id::bigint) > $before + 300 FROM sync.trades", 't', "$what: streaming");
}

sub rss_anon_kb { return proc_status_kb($_[0], 'RssAnon'); }

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('bin', 'binance', '$fake', stream_url => '$ws', options => '{"page_size": 1000}');
	SELECT sync_subscribe('bin', ARRAY['LIVEUSD'], 'trades', history_from => now() - interval '1 minute');
	SELECT sync_start();
});
wait_for($node, q{SELECT phase FROM sync_status() WHERE source = 'bin'}, 'realtime', 'streaming');
pair_back('at the start');
is($node->safe_psql('postgres', q{
	SELECT string_agg(application_name, ',' ORDER BY backend_type) FROM pg_stat_activity
	 WHERE backend_type IN ('sync streamer', 'sync stream store')}),
	'sync stream store bin,sync stream bin', 'the storer is a process of its own, named after its source');

# the storer killed: the postmaster restarts every backend; batches not yet committed were not
# acknowledged, and the checkpoint had not moved past them: the jobs fetch them over REST
my ($streamer, $storer) = (pid_of('sync streamer'), pid_of('sync stream store'));
kill 'KILL', $storer;
pair_back('after the storer was killed', $streamer, $storer);
# that crash counts against the stream (a storer's crashes are its streamer's, see
# 015_crash_loop.pl); sync_start() forgets it, so the next kill is a first crash again
$node->safe_psql('postgres', 'SELECT sync_start()');

# the streamer killed
($streamer, $storer) = (pid_of('sync streamer'), pid_of('sync stream store'));
kill 'KILL', $streamer;
pair_back('after the streamer was killed', $streamer, $storer);

# the streamer terminated: it hands over what it holds, waits until it is stored, and goes;
# its storer goes with it, and the supervisor starts a new pair
($streamer, $storer) = (pid_of('sync streamer'), pid_of('sync stream store'));
$node->safe_psql('postgres', "SELECT pg_terminate_backend($streamer)");
pair_back('after the streamer was terminated', $streamer, $storer);
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $storer"), '0',
	'the old storer went with its streamer');

# a storer held up: another session holds the subscription's row, so its transaction waits
$streamer = pid_of('sync streamer');
my $holder = $node->background_psql('postgres');
$holder->query_safe(q{BEGIN; SELECT 1 FROM sync.subscriptions FOR UPDATE});
wait_for($node, qq{SELECT query FROM pg_stat_activity WHERE pid = $streamer},
	'sync: stream waiting for its storer (queue full)', 'a full queue: the streamer stops reading');
my $rss_full = rss_anon_kb($streamer);
my $held = $node->safe_psql('postgres', 'SELECT count(*) FROM sync.trades');
sleep(3);    # ~3,000 more trades (~600 kB of messages) wait in the socket meanwhile
is($node->safe_psql('postgres', qq{SELECT query FROM pg_stat_activity WHERE pid = $streamer}),
	'sync: stream waiting for its storer (queue full)', 'the streamer still waits for room');
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.trades'), $held, 'nothing is stored while the row is held');
my $rss_later = rss_anon_kb($streamer);
ok($rss_later - $rss_full < 512, "the streamer's private memory does not grow ($rss_full kB, then $rss_later kB)");
$holder->query_safe('COMMIT');
$holder->quit;
my $before = newest_id();
wait_for($node, "SELECT max(trade_id::bigint) > $before + 3000 FROM sync.trades", 't',
	'the row let go: what waited is stored');

# a storer that cannot store (a lock timeout: not a crash) exits; its streamer sees it and exits
# too, without handing the series back as stored; the supervisor starts a new pair
# (a new pair, to take the setting)
$node->safe_psql('postgres', q{ALTER DATABASE postgres SET lock_timeout = '300ms'});
($streamer, $storer) = (pid_of('sync streamer'), pid_of('sync stream store'));
$node->safe_psql('postgres', "SELECT pg_terminate_backend($streamer)");
pair_back('with a lock timeout', $streamer, $storer);
($streamer, $storer) = (pid_of('sync streamer'), pid_of('sync stream store'));
$holder = $node->background_psql('postgres');
$holder->query_safe(q{SET lock_timeout = 0; BEGIN; SELECT 1 FROM sync.subscriptions FOR UPDATE});
wait_for($node, "SELECT count(*) FROM pg_stat_activity WHERE pid IN ($streamer, $storer)", '0',
	'a storer that could not store exits, and its streamer with it');
$holder->query_safe('COMMIT');
$holder->quit;
$node->safe_psql('postgres', q{ALTER DATABASE postgres RESET lock_timeout});
pair_back('after the storer failed', $streamer, $storer);
like(slurp_file($node->logfile), qr/the storer of the sync stream of source "bin" exited/,
	'the streamer says why it stopped');

# while the stream carries the series, its pool worker has nothing to do and
# must sleep: a curl timer left in the past once made its event loop spin
# on zero-timeout waits (a core's worth of CPU) until its next request
my $pool = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync pool' LIMIT 1});
sub cpu_ticks
{
	my @f = split / /, (split /\) /, slurp_file("/proc/$_[0]/stat"))[1];
	return $f[11] + $f[12];    # utime + stime, in clock ticks
}
my $ticks = cpu_ticks($pool);
sleep(3);
$ticks = cpu_ticks($pool) - $ticks;
cmp_ok($ticks, '<', 60, "the pool worker sleeps while the stream carries its series ($ticks ticks of CPU in 3 s)");

# sync_stop(): the streamer hands over what it holds, both exit
$node->safe_psql('postgres', 'SELECT sync_stop()');
wait_for($node, q{SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('sync streamer', 'sync stream store')},
	'0', 'sync_stop() stops the streamer and its storer');

# every trade the fake made in the stored range, once
my @stored = split /\n/, $node->safe_psql('postgres', q{
	SELECT (extract(epoch FROM ts) * 1000)::bigint || ',' || trade_id FROM sync.trades ORDER BY trade_id::bigint});
my ($first) = $stored[0] =~ /,(\d+)$/;
my ($last) = $stored[-1] =~ /,(\d+)$/;
my @made = grep { my ($id) = /,(\d+)$/; $id >= $first && $id <= $last }
  map { my @f = split /,/; "$f[0],$f[1]" } split /\n/, HTTP::Tiny->new->get("$fake/_trades?symbol=LIVEUSD")->{content};
my %have = map { (/,(\d+)$/)[0] => 1 } @stored;
my @missing = grep { !$have{(/,(\d+)$/)[0]} } @made;
is_deeply(\@stored, \@made, scalar(@stored) . " trades ($first..$last), each once, no hole")
  or diag('missing: ' . join(' ', @missing[0 .. ($#missing < 9 ? $#missing : 9)]));

$node->stop;
done_testing();
