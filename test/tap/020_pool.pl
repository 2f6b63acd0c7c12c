# The worker pool (issue 12): many series on a default server.  With
# max_worker_processes = 8, 300 subscriptions, 24 one-off runs, a schedule
# firing every minute and a stream all run on a bounded pool of processes:
# every subscription catches up, every run succeeds, each series equals the
# fake's row for row, the stream's trades are each stored once, no WARNING
# floods the log and sync never runs more REST workers than
# sync.max_workers.  One source held by 429 + Retry-After holds every one of
# its series (not just the one answered 429) and does not slow another
# source.  A pool worker killed by SIGKILL mid-backfill (crash recovery of
# the whole server) loses nothing: every series resumes from its
# checkpoint, no hole, no duplicate.
#
# No assertion is on timing: each wait is generous (180 s), and the
# Retry-After check is a lower bound read on the fake's own clock (no
# request of the held source between 3 s and Retry-After - 3 s after a 429
# was answered), which a slow machine cannot break.  A wait that runs out
# prints the series not caught up, their errors, sync_health() and the log
# tail, and ends its part (the first part: the test) rather than waiting
# again for what cannot come.  Before the pool, the first wait runs out:
# 3 of 300 subscriptions run, 297 stay pending.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Digest::MD5 qw(md5_hex);
use HTTP::Tiny;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $WAIT_S = 180;           # longest wait for one condition
my $RETRY_AFTER_S = 15;     # what the held source's provider asks
my $GRACE_S = 3;            # a request already on its way when the 429 came back

# --- the data: synthetic 1-minute series from 2020-01-01, sizes varied so
# that some take one page (1000 bars) and some two
my @subs = map { sprintf('PS%03d', $_) } 1 .. 300;
my %bars = map { $subs[$_] => 300 + ($_ * 37) % 1200 } 0 .. $#subs;
my @runs = map { sprintf('PR%02d', $_) } 1 .. 24;
$bars{ $runs[$_] } = 500 + 40 * $_ for 0 .. $#runs;
$bars{PSCHED} = 900;
my @big = map { sprintf('BIG%02d', $_) } 1 .. 12;
my @free = map { "FREE$_" } 1 .. 4;
my @held = map { "HELD$_" } 1 .. 4;

sub synthetic { map { ('--synthetic', "$_:$_[0]") } @_[ 1 .. $#_ ] }
my $node;
my ($fake, $live, $bigfake, $freefake, $heldfake) = start_fakes(
	sub
	{
		$node = sync_node('pool');
		$node->append_conf('postgresql.conf', <<CONF);
max_worker_processes = 8
shared_preload_libraries = 'sync'
sync.poll_interval_ms = 20000
sync.flush_interval_ms = 20
CONF
		$node->restart;
	},
	[ map { ('--synthetic', "$_:$bars{$_}") } @subs, @runs, 'PSCHED' ],
	[ '--live', 'LIVEUSDT:20' ],
	[ synthetic(12000, @big) ],
	[ synthetic(3000, @free) ],
	[ synthetic(2000, @held) ]);
(my $ws = $live) =~ s/^http/ws/;
my $max_workers = $node->safe_psql('postgres', 'SHOW sync.max_workers');
note("sync.max_workers = $max_workers");

# What each series must hold, from the fake's /_series: rows, md5 of the
# rows in bars_text() form, the last bar's time; and the same of what is
# stored, computed by the server.
$node->safe_psql('postgres', q{
	CREATE TABLE pool_expect (source text, symbol text, n bigint, md5 text, last_ms bigint,
	                          PRIMARY KEY (source, symbol));
	-- the sources are given: a left join would not narrow the aggregate to them
	CREATE FUNCTION pool_stored(sources text[]) RETURNS TABLE (source text, symbol text, n bigint, md5 text)
	LANGUAGE sql STABLE AS $$
	SELECT source, symbol, count(*),
	       md5(string_agg(format('%s,%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
	                             open, high, low, close, volume), E'\n' ORDER BY ts))
	  FROM sync.bars WHERE source = ANY (sources) GROUP BY source, symbol $$;
});

sub expect_series
{
	my ($source, $url, @symbols) = @_;
	my @values;
	for my $symbol (@symbols)
	{
		my $text = fake_series($url, $symbol);
		my @lines = split /\n/, $text;
		my ($last) = $lines[-1] =~ /^(\d+),/;
		die "the fake serves no bars of $symbol" unless $last;
		push @values, sprintf("('%s', '%s', %d, '%s', %s)", $source, $symbol, scalar(@lines), md5_hex($text), $last);
	}
	$node->safe_psql('postgres', 'INSERT INTO pool_expect VALUES ' . join(', ', @values));
}

# --- sampling while waiting: the phases seen and the REST processes running
my %phases_seen;
my $most_rest = 0;       # sync processes that are not a service (pool workers)
my $most_pool = 0;       # of them, backend_type 'sync pool'
my %types_seen;
my $services = q{('sync launcher', 'sync supervisor', 'sync aggregator', 'sync scheduler', 'sync streamer')};

sub query
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql('postgres', $sql, stdout => \$out, stderr => \$err, on_error_die => 0);
	return $rc == 0 ? $out : undef;
}

sub sample
{
	my $row = query(qq{
		SELECT (SELECT count(*) FROM pg_stat_activity
		         WHERE backend_type LIKE 'sync%' AND backend_type NOT IN $services),
		       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync pool'),
		       (SELECT string_agg(DISTINCT backend_type, ',') FROM pg_stat_activity WHERE backend_type LIKE 'sync%'),
		       (SELECT string_agg(DISTINCT phase, ',') FROM sync_status())});
	return unless defined $row && length $row;
	my ($rest, $pool, $types, $phases) = split /\|/, $row, 4;
	$most_rest = $rest if $rest > $most_rest;
	$most_pool = $pool if $pool > $most_pool;
	$types_seen{$_} = 1 for split /,/, $types // '';
	$phases_seen{$_} = 1 for split /,/, $phases // '';
}

# What to look at when a wait runs out.
sub diagnose
{
	my ($source) = @_;
	my $where = $source ? "WHERE s.source = '$source'" : 'WHERE true';
	diag("phases: " . (query(qq{SELECT string_agg(phase || ' ' || n, ', ') FROM
		(SELECT phase, count(*) n FROM sync_status() s $where GROUP BY phase) p}) // '?'));
	diag("not caught up (20 first):\n" . (query(qq{
		SELECT s.source, s.symbol, s.phase, s.worker_pid, s.synced_through, s.rows_stored, e.n AS expected,
		       s.last_error, s.retry_at
		  FROM sync_status() s LEFT JOIN pool_expect e USING (source, symbol) $where
		   AND NOT (s.phase IN ('idle', 'realtime') AND (e.last_ms IS NULL
		            OR s.synced_through > to_timestamp(e.last_ms / 1000.0)))
		 ORDER BY 1, 2 LIMIT 20}) // '?'));
	diag("runs not succeeded:\n" . (query(q{
		SELECT id, kind, symbol, state, rows, error FROM sync.job_runs WHERE state <> 'succeeded' ORDER BY id LIMIT 30})
		  // '?'));
	diag("sync processes: " . (query(q{SELECT string_agg(backend_type || ' ' || n, ', ') FROM
		(SELECT backend_type, count(*) n FROM pg_stat_activity WHERE backend_type LIKE 'sync%' GROUP BY 1) t}) // '?'));
	diag("sync_health(), not ok (30 first):\n" . (query(q{
		SELECT * FROM sync_health() WHERE status <> 'ok' ORDER BY component LIKE 'worker %', component LIMIT 30})
		  // '?'));
	my @log = grep { !/statement:|HINT:/ } split /\n/, slurp_file($node->logfile);
	diag(sprintf('server log: %d WARNING lines, %d of them "cannot start a worker"; the last lines:',
			scalar(grep { /WARNING/ } @log), scalar(grep { /WARNING:.*cannot start a worker/ } @log)));
	diag(join("\n", @log[ ($#log > 30 ? $#log - 30 : 0) .. $#log ]));
}

# Poll $sql until it returns $expected; a test of its own.  Out of time, the
# diagnosis is printed and, for a step the rest depends on, the test ends.
sub wait_until
{
	my ($what, $sql, $expected, %o) = @_;
	my $deadline = time() + ($o{timeout} // $WAIT_S);
	my $got;
	while (time() < $deadline)
	{
		sample();
		$got = query($sql);
		return pass($what) if defined $got && $got eq $expected;
		usleep(500_000);
	}
	fail($what);
	diag("waited $WAIT_S s for '$expected', last answer: " . ($got // '(no connection)'));
	diagnose($o{source});
	if ($o{fatal})
	{
		diag('ending here: what follows depends on it');
		done_testing();
		exit 1;
	}
	return 0;
}

# "caught/total" for the expected series of a source (whose symbol is LIKE $like).
sub caught_up_sql
{
	my ($source, $like) = @_;
	$like //= '%';
	return qq{
		SELECT count(*) FILTER (WHERE s.phase IN ('idle', 'realtime')
		                          AND s.synced_through > to_timestamp(e.last_ms / 1000.0))
		       || '/' || count(*)
		  FROM pool_expect e JOIN sync_status() s USING (source, symbol)
		 WHERE e.source = '$source' AND e.symbol LIKE '$like'};
}

# Every expected series of these sources (and symbols) equals the fake's.
sub check_equal
{
	my ($what, $sources, @symbols) = @_;
	my $only = @symbols ? 'AND e.symbol IN (' . join(', ', map { "'$_'" } @symbols) . ')' : '';
	my $in = join(', ', map { "'$_'" } @$sources);
	my $bad = $node->safe_psql('postgres', qq{
		SELECT e.source || '/' || e.symbol || ': ' || e.n || ' rows expected, ' || coalesce(b.n, 0) || ' stored'
		       || CASE WHEN b.n = e.n THEN ', other values' ELSE '' END
		  FROM pool_expect e LEFT JOIN pool_stored(ARRAY[$in]) b USING (source, symbol)
		 WHERE e.source IN ($in) $only AND (b.md5 IS DISTINCT FROM e.md5 OR b.n <> e.n)
		 ORDER BY 1});
	my $n = $node->safe_psql('postgres', qq{SELECT count(*) FROM pool_expect e WHERE e.source IN ($in) $only});
	is($bad, '', "$what: each of $n series equals the source row for row");
}

# =====================================================================
# 1. 300 subscriptions, 24 one-off runs, a schedule and a stream
# =====================================================================
expect_series('pool', $fake, @subs, @runs, 'PSCHED');
my $symbols = join(', ', map { "'$_'" } @subs);
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('pool', 'binance', '$fake');
	SELECT count(*) FROM sync_subscribe('pool', ARRAY[$symbols], history_from => '2019-12-31 00:00+00',
	                                    realtime => false);
	SELECT sync_schedule('pool_every_minute', '* * * * *',
	       '{"kind": "backfill", "source": "pool", "symbols": ["PSCHED"], "lookback": "10 years", "align": "minute"}');
	-- due now rather than at the next minute
	UPDATE sync.schedules SET next_run = now() - interval '1 minute' WHERE name = 'pool_every_minute';
	SELECT sync_add_source('live', 'binance', '$live', stream_url => '$ws',
	                       options => '{"page_size": 100, "poll_interval_ms": 300}');
	SELECT sync_subscribe('live', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 hour');
});
my $run_ids = $node->safe_psql('postgres', 'SELECT string_agg(sync_backfill(\'pool\', s, \'bars\', '
	  . q{'2019-12-31 00:00+00', '2020-01-03 00:00+00')::text, ',' ORDER BY s) FROM unnest(ARRAY[}
	  . join(', ', map { "'$_'" } @runs) . ']) s');
my @run_ids = split /,/, $run_ids;
is(scalar(@run_ids), scalar(@runs), '24 one-off runs requested');
is($node->safe_psql('postgres', 'SELECT sync_start()'), 't', 'sync_start()');

wait_until('300 subscriptions caught up: synced through their last bar, phase idle',
	caught_up_sql('pool', 'PS___'),
	scalar(@subs) . '/' . scalar(@subs), fatal => 1, source => 'pool');
wait_until('24 one-off runs succeeded',
	"SELECT count(*) FILTER (WHERE state = 'succeeded') || '/' || count(*) FROM sync.job_runs WHERE id IN ($run_ids)",
	scalar(@runs) . '/' . scalar(@runs), fatal => 1);
wait_until('the schedule fired and its backfill succeeded', q{
	SELECT count(*) > 0 FROM sync.job_runs
	 WHERE kind = 'backfill' AND schedule = 'pool_every_minute' AND state = 'succeeded'}, 't');
wait_until('the stream: backfilled over REST, then streaming',
	q{SELECT phase FROM sync_status() WHERE source = 'live'}, 'realtime', source => 'live');

check_equal('subscriptions', ['pool'], @subs);
check_equal('one-off runs', ['pool'], @runs);
check_equal('the scheduled backfill', ['pool'], 'PSCHED');
is($node->safe_psql('postgres', q{
	SELECT string_agg(DISTINCT e.n::text || ' ' || r.rows, ', ') FROM sync.job_runs r
	  JOIN pool_expect e ON e.source = 'pool' AND e.symbol = r.symbol
	 WHERE r.id IN (} . $run_ids . ') AND r.rows <> e.n'), '', 'each run counts its rows once');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.job_runs WHERE state = 'failed'}), '0',
	'no run failed');

# the stream's trades: each one the fake made in the stored range, once
sub check_trades
{
	my ($what) = @_;
	wait_until("$what: trades streamed",
		q{SELECT count(*) > 100 FROM sync.trades WHERE source = 'live'}, 't', source => 'live');
	my @stored = split /\n/, $node->safe_psql('postgres', q{
		SELECT (extract(epoch FROM ts) * 1000)::bigint || ',' || trade_id
		  FROM sync.trades WHERE source = 'live' ORDER BY trade_id::bigint});
	my ($first) = $stored[0] =~ /,(\d+)$/;
	my ($last) = $stored[-1] =~ /,(\d+)$/;
	my @made = grep { my ($id) = /,(\d+)$/; $id >= $first && $id <= $last }
	  map { my @f = split /,/; "$f[0],$f[1]" }
	  split /\n/, HTTP::Tiny->new->get("$live/_trades?symbol=LIVEUSDT")->{content};
	is($first, 1, "$what: the trades made before the subscription came over REST");
	is_deeply(\@stored, \@made, "$what: " . scalar(@stored) . ' trades, each once, no hole');
}
usleep(1_000_000);
check_trades('stream');

# Visibility: 'queued' is a phase (the state set of sync_metrics() lists
# every phase); whatever phase was seen while 300 series waited is one of them.
like($node->safe_psql('postgres', 'SELECT sync_metrics()'), qr/sync_series_phase\{[^}]*phase="queued"\}/,
	"sync_metrics() lists the phase 'queued'");
my %valid = map { $_ => 1 } qw(pending queued backfill realtime idle retrying error stopped);
is(join(',', grep { !$valid{$_} } sort keys %phases_seen), '', 'only known phases seen in sync_status()');
note('phases seen: ' . join(', ', sort keys %phases_seen) . '; sync processes seen: ' . join(', ', sort keys %types_seen));

# bounded: REST work ran on at most sync.max_workers processes
ok($most_rest >= 1, "REST work ran on worker processes (most seen at once: $most_rest)");
cmp_ok($most_rest, '<=', $max_workers, 'never more REST worker processes than sync.max_workers');
cmp_ok($most_pool, '>=', 1, "they are 'sync pool' processes");

# =====================================================================
# 2. A source held at its rate limit holds all its series, and only them
# =====================================================================
HELD: {
	expect_series('free', $freefake, @free);
	expect_series('held', $heldfake, @held);
	# HELD1 is answered 429 until told otherwise; its siblings are answered normally
	fake_fault($heldfake, kind => '429', retry_after => $RETRY_AFTER_S, count => 1000000,
		path => '/api/v3/klines', symbol => 'HELD1');
	$node->safe_psql('postgres', qq{
		SELECT sync_add_source('free', 'binance', '$freefake');
		SELECT sync_add_source('held', 'binance', '$heldfake');
		SELECT sync_subscribe('held', ARRAY['HELD1'], history_from => '2019-12-31 00:00+00', realtime => false);
	});
	wait_until('the held source: HELD1 answered 429, phase retrying',
		q{SELECT phase FROM sync_status() WHERE source = 'held' AND symbol = 'HELD1'}, 'retrying', source => 'held')
	  or last HELD;
	# Its siblings come while the source is held: past the grace given to requests
	# already on their way, so that any request they make before Retry-After ends
	# shows in the fake's log as asked too early.
	my ($first_429) = grep { $_->{status} == 429 } @{ fake_requests($heldfake) };
	my $wait = $first_429->{t} + $GRACE_S + 1 - time();
	usleep($wait * 1_000_000) if $wait > 0;
	$node->safe_psql('postgres', qq{
		SELECT count(*) FROM sync_subscribe('held', ARRAY['@{[ join("', '", @held[ 1 .. $#held ]) ]}'],
		                                    history_from => '2019-12-31 00:00+00', realtime => false);
		SELECT count(*) FROM sync_subscribe('free', ARRAY['@{[ join("', '", @free) ]}'],
		                                    history_from => '2019-12-31 00:00+00', realtime => false);
	});
	wait_until('the free source caught up while the other is held', caught_up_sql('free'), '4/4', source => 'free')
	  or last HELD;
	check_equal('the free source', ['free']);
	wait_until('meanwhile HELD1 is still held by its 429s, nothing stored',
		q{SELECT phase || ' ' || rows_stored || ' ' || (last_error LIKE 'rate limited%')
		    FROM sync_status() WHERE source = 'held' AND symbol = 'HELD1'}, 'retrying 0 true', source => 'held');

	# HELD2..4 get their pages, but only when the whole source may ask again:
	# no request of any of its series comes while a Retry-After runs
	wait_until("HELD1's siblings caught up at the source's pace",
		q{SELECT count(*) FROM sync_status() WHERE source = 'held' AND phase = 'idle'}, '3', source => 'held');
	my @log = sort { $a->{t0} <=> $b->{t0} } grep { $_->{path} eq '/api/v3/klines' } @{ fake_requests($heldfake) };
	my @limited = grep { $_->{status} == 429 } @log;
	ok(@limited >= 1, scalar(@limited) . ' answers 429 with Retry-After ' . $RETRY_AFTER_S . ' s');
	my @early;
	for my $r (@limited)
	{
		push @early, grep { $_->{t0} > $r->{t} + $GRACE_S && $_->{t0} < $r->{t} + $RETRY_AFTER_S - $GRACE_S } @log;
	}
	my %seen_early;
	@early = grep { !$seen_early{ $_->{t0} }++ } @early;
	is(scalar(@early), 0, 'after a 429 no series of the source asked before Retry-After, whichever symbol')
	  or diag("the held source's requests, seconds after the first 429 was answered:\n"
		  . join("\n", map { sprintf('%+8.3f %d %s', $_->{t0} - $limited[0]{t}, $_->{status}, $_->{query}) } @log));
	my %symbols_asked = map { (($_->{query} =~ /symbol=(\w+)/)[0] => 1) } @log;
	is(join(',', sort keys %symbols_asked), join(',', @held), 'every series of the held source asked');

	# the limit lifted: HELD1 catches up too
	fake_reset($heldfake);
	wait_until('HELD1 catches up once its provider answers', caught_up_sql('held'), '4/4', source => 'held');
	check_equal('the held source', ['held']);
}

# =====================================================================
# 3. SIGKILL of a pool worker in the middle of a big backfill
# =====================================================================
CRASH: {
	expect_series('big', $bigfake, @big);
	$node->safe_psql('postgres', qq{
		SELECT sync_add_source('big', 'binance', '$bigfake', options => '{"requests_per_minute": 600}');
		SELECT count(*) FROM sync_subscribe('big', ARRAY['@{[ join("', '", @big) ]}'],
		                                    history_from => '2019-12-31 00:00+00', realtime => false);
	});
	wait_until('the big backfill is under way', q{
		SELECT count(*) > 0 FROM sync_status() s
		 WHERE source = 'big' AND phase = 'backfill' AND worker_pid IS NOT NULL AND rows_stored > 0}, 't',
		source => 'big') or last CRASH;
	my $victim = $node->safe_psql('postgres', q{
		SELECT worker_pid FROM sync_status() WHERE source = 'big' AND phase = 'backfill' AND worker_pid IS NOT NULL
		 ORDER BY rows_stored DESC LIMIT 1});
	my $victim_type = $node->safe_psql('postgres', "SELECT backend_type FROM pg_stat_activity WHERE pid = $victim");
	note("killing $victim_type $victim");
	# the checkpoints committed so far: no series may ask for anything before its own again
	my %checkpoint = map { split /\|/ } split /\n/, $node->safe_psql('postgres', q{
		SELECT symbol, coalesce((extract(epoch FROM synced_through) * 1000)::bigint, 0)
		  FROM sync.subscriptions WHERE source_id = (SELECT id FROM sync.sources WHERE name = 'big')});
	my $stored_before = $node->safe_psql('postgres', q{SELECT count(*) FROM sync.bars WHERE source = 'big'});
	my $killed_at = time();
	ok(kill('KILL', $victim), "a pool worker ($victim_type, pid $victim) killed by SIGKILL mid-backfill");

	for (1 .. 10 * $WAIT_S)
	{
		last if server_crashes($node);
		usleep(100_000);
	}
	ok(scalar(server_crashes($node)) > 0, 'the postmaster restarted every process (crash recovery)');
	wait_until('the server accepts connections again', q{SELECT 1}, '1', fatal => 1);
	wait_until('sync is back on its own, other worker processes', qq{
		SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type LIKE 'sync%'
		   AND backend_type NOT IN $services AND pid <> $victim}, 't');
	cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM sync.bars WHERE source = 'big'}), '>=', $stored_before,
		'nothing committed was lost');
	wait_until('every big series caught up after the crash', caught_up_sql('big'), scalar(@big) . '/' . scalar(@big), source => 'big');
	check_equal('after the crash', ['big']);
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM (SELECT 1 FROM sync.bars WHERE source = 'big'
		                       GROUP BY symbol, bar_interval, ts HAVING count(*) > 1) d}), '0', 'no duplicate');
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM pool_expect e JOIN sync.subscriptions s ON s.symbol = e.symbol
		  JOIN sync.sources src ON src.id = s.source_id AND src.name = e.source
		 WHERE e.source = 'big' AND s.rows_stored <> e.n}), '0', 'rows_stored counts each row once across the crash');

	# resumed, not restarted: after the kill, each series asks from its checkpoint on
	my @after = grep { $_->{path} eq '/api/v3/klines' && $_->{t0} > $killed_at } @{ fake_requests($bigfake) };
	my @behind;
	for my $r (@after)
	{
		my ($symbol) = $r->{query} =~ /symbol=(\w+)/;
		my ($start) = $r->{query} =~ /startTime=(\d+)/;
		push @behind, "$symbol from $start, checkpoint $checkpoint{$symbol}"
		  if defined $start && defined $checkpoint{$symbol} && $start < $checkpoint{$symbol};
	}
	ok(@after > 0, scalar(@after) . ' requests after the crash');
	is(join("\n", @behind[ 0 .. ($#behind < 9 ? $#behind : 9) ]), '',
		'every series resumed from its checkpoint: nothing asked again from before it');

	# everything else came back as well
	wait_until('the 300 subscriptions still caught up after the crash',
		caught_up_sql('pool', 'PS___'),
		scalar(@subs) . '/' . scalar(@subs), source => 'pool');
	check_equal('after the crash, the other sources', [ 'pool', 'free', 'held' ]);
	wait_until('the stream is back', q{SELECT phase FROM sync_status() WHERE source = 'live'}, 'realtime', source => 'live');
	usleep(1_000_000);
	check_trades('stream after the crash');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.job_runs WHERE state = 'failed'}), '0',
		'no run failed');
}
# sync.gaps: no hole in any subscription's synced range (the stretch before
# the first bar and after the last is one the provider confirmed empty)
my $holes = $node->safe_psql('postgres', q{
	SELECT g.source || '/' || g.symbol || ' [' || g.gap_from || ', ' || g.gap_to || ') ' || g.missing_bars
	       || ' bars' || CASE WHEN e.last_ms IS NOT NULL AND g.gap_from > to_timestamp(e.last_ms / 1000.0)
	                          THEN ' (after the last bar)'
	                          WHEN g.gap_to <= '2020-01-01 00:00+00' THEN ' (before the first bar)' ELSE '' END
	  FROM sync.gaps g LEFT JOIN pool_expect e USING (source, symbol) ORDER BY 1});
my @holes = split /\n/, $holes;
is(scalar(@holes), 0, 'sync.gaps lists no hole')
  or diag(scalar(@holes) . " holes, the first:\n" . join("\n", @holes[ 0 .. ($#holes < 9 ? $#holes : 9) ]));
cmp_ok($most_rest, '<=', $max_workers, 'throughout, never more REST worker processes than sync.max_workers');

# =====================================================================
# The log: no worker starved of a slot, no condition logged on every loop
# =====================================================================
my @warnings = grep { /WARNING/ && !/terminating connection because of crash/ } split /\n/, slurp_file($node->logfile);
my @starved = grep { /cannot start a worker|no background worker slot|job slots are in use/ } @warnings;
is(scalar(@starved), 0, 'no "cannot start a worker" warning')
  or diag(join("\n", @starved[ 0 .. ($#starved < 4 ? $#starved : 4) ]));
my %repeats;
for (@warnings)
{
	(my $msg = $_) =~ s/^.*?WARNING:\s*//;
	$msg =~ s/\d+/N/g;
	$repeats{$msg}++;
}
my @flood = grep { $repeats{$_} > 5 } sort keys %repeats;
is(join("\n", map { "$repeats{$_} x $_" } @flood), '', 'no WARNING repeated more than 5 times');
note(scalar(@warnings) . ' WARNING lines in all');

$node->safe_psql('postgres', 'SELECT sync_stop()');
done_testing();

