# Caught-up series poll together in multi-symbol requests (issue 12,
# bgworkers/pool_batch.c): Alpaca's /v2/stocks/bars?symbols=A,B,... (at most
# 24 symbols a request) and Polygon's grouped daily bars.  One pool worker
# (sync.max_workers = 1) carries every series.  Shown here, against the fake
# provider (test/fake_provider/fake_multi.py serves the multi endpoints):
#  1. 30 Alpaca bar subscriptions catch up, equal the served series row for
#     row, and once caught up they poll in multi-symbol requests of at most
#     24 symbols that name every one of them, with (next to) no poll of a
#     series alone;
#  2. with the fake's live market (--market, fake_market.py, when the fake
#     has it), bars that appear at the provider while the series are caught
#     up reach the table through the batched polls;
#  3. faults on the multi endpoint: a 429 with Retry-After holds the whole
#     source (its series show `retrying`, none of its requests goes before
#     the Retry-After passed) and they recover; a malformed answer is each
#     series' transient failure and they recover; after a 500 the series
#     poll again and batching resumes (a passing error must not take them
#     out of the batches for good); no duplicate and no hole afterwards;
#  4. Polygon `1 day` subscriptions catch up (their daily bars equal the
#     served minutes aggregated by UTC day) and poll through grouped
#     requests (/v2/aggs/grouped/...) once caught up.
#
# What fails without batching (pool_batch.c's send a no-op): every "polls
# through multi-symbol requests" wait below times out (no such request is
# ever sent), and the counts of single-symbol polls are about one per
# series per poll interval, far above the bounds asserted.  No assertion is
# on timing: a window is "until every series polled N times in batches",
# however long that takes, and the bounds only get easier when the machine
# is slow (fewer polls alone).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

# The live market of the fake (fake_market.py) may not be there yet.
my $has_market = -e "$FindBin::Bin/../fake_provider/fake_market.py";

my @alp = map { sprintf('S%02d', $_) } 1 .. 30;    # Alpaca, static synthetic bars
my @poly = map { "P$_" } 1 .. 4;                    # Polygon daily bars
my @mkt = map { "M$_" } 1 .. 6;                     # Alpaca, live market bars
my $i = 0;
my @synthetic = map { ('--synthetic', "$_:" . (100 + 7 * $i++)) } @alp;
# 2020-01-01 00:00 .. 2020-01-03 02:xx UTC: three days, the last one partial
push @synthetic, map { ('--synthetic', "$_:" . (3000 + 37 * $i++)) } @poly;
my $fake = start_fake(@synthetic);
# the market on a fake of its own: the faults of 3 are for the first one's
# multi-symbol requests only (a fault names a path, not a source)
my $mfake = $has_market ? start_fake('--market', 'now-5m') : undef;

my $node = sync_node('pool_batch');
$node->safe_psql('postgres', q{ALTER SYSTEM SET sync.max_workers = 1; SELECT pg_reload_conf()});

sub sql_list { join(',', map { "'$_'" } @_) }

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('alp', 'alpaca', '$fake', credentials => '{"key_id":"k","secret":"s"}');
	SELECT sync_add_source('poly', 'polygon', '$fake', credentials => '{"secret":"s"}');
	SELECT sync_subscribe('alp', ARRAY[@{[ sql_list(@alp) ]}], history_from => '2019-12-31',
	                      realtime => false);
	SELECT sync_subscribe('poly', ARRAY[@{[ sql_list(@poly) ]}], bar_interval => '1 day',
	                      history_from => '2019-12-30', realtime => false);
});
if ($has_market)
{
	$node->safe_psql('postgres', qq{
		SELECT sync_add_source('mkt', 'alpaca', '$mfake', credentials => '{"key_id":"k","secret":"s"}');
		SELECT sync_subscribe('mkt', ARRAY[@{[ sql_list(@mkt) ]}], history_from => now() - interval '1 hour',
		                      realtime => false);
	});
}
$node->safe_psql('postgres', 'SELECT sync_start()');

# --- helpers ---------------------------------------------------------------

# What a failure needs to be understood: the series, the pool, the fake's
# last requests.
sub diagnose
{
	my ($what) = @_;
	diag("--- $what");
	diag($node->safe_psql('postgres', q{
		SELECT source, symbol, phase, worker_pid, synced_through, rows_stored, rows_rejected,
		       last_error, retry_at FROM sync_status() ORDER BY source, symbol}));
	diag($node->safe_psql('postgres', q{SELECT * FROM sync_health()}));
	for my $f (grep { defined } $fake, $mfake)
	{
		my $reqs = fake_requests($f);
		my @last = @$reqs > 30 ? @$reqs[-30 .. -1] : @$reqs;
		diag("the last requests of $f:");
		diag(sprintf('%.3f %s %s?%s', $_->{t0}, $_->{status}, $_->{path}, substr($_->{query}, 0, 160))) for @last;
	}
}

sub wait_ok
{
	my ($sql, $expected, $what) = @_;
	ok($node->poll_query_until('postgres', $sql, $expected), $what) or diagnose($what);
}

# The symbols a request names: symbols= of a multi request, or the one of
# a single-symbol path.
sub multi_symbols
{
	my ($r) = @_;
	my ($list) = ($r->{query} // '') =~ /(?:^|&)symbols=([^&]*)/;
	return () unless defined $list;
	$list =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
	return split /,/, $list;
}

sub is_alpaca_multi { $_[0]{path} eq '/v2/stocks/bars' && ($_[0]{query} // '') =~ /(?:^|&)symbols=/ }

# Single-symbol requests of the given symbols (Alpaca bars, Polygon daily
# aggregates) among the requests.
sub singles
{
	my ($reqs, @symbols) = @_;
	my %want = map { $_ => 1 } @symbols;
	return grep {
		($_->{path} =~ m{^/v2/stocks/([^/]+)/bars$} || $_->{path} =~ m{^/v2/aggs/ticker/([^/]+)/range/})
		  && $want{$1}
	} @$reqs;
}

# Wait until every symbol has been polled `$times` times by requests the
# predicate picks (multi-symbol ones) that arrived from $since on; returns
# those requests and all requests from $since to the last of them, or
# undef and all requests since $since when it did not happen within the
# wait.
sub wait_batched_polls
{
	my ($f, $since, $times, $pick, $symbols_of, @symbols) = @_;
	# a poll interval is 300 ms: 3 polls of each in 30 s is a hundredfold margin
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		my @reqs = grep { $_->{t0} >= $since } @{ fake_requests($f) };
		my %n;
		my @picked = grep { $pick->($_) } @reqs;
		for my $r (@picked)
		{
			$n{$_}++ for $symbols_of->($r);
		}
		if (!grep { ($n{$_} // 0) < $times } @symbols)
		{
			my $end = $picked[-1]{t0};
			return (\@picked, [ grep { $_->{t0} <= $end } @reqs ]);
		}
		sleep(0.2);
	}
	# not every series polled so in batches: the whole wait is the window
	return (undef, [ grep { $_->{t0} >= $since } @{ fake_requests($f) } ]);
}

# Every series of the source equals the fake's series (up to $upto_ms):
# one query for the stored ones, lines joined by ';'.
sub equal_to_served
{
	my ($what, $f, $source, $upto_ms, @symbols) = @_;
	my $upto = defined $upto_ms ? "AND ts <= to_timestamp($upto_ms / 1000.0)" : '';
	my %stored = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('postgres', qq{
		SELECT symbol, string_agg(format('%s,%s,%s,%s,%s,%s',
		         (extract(epoch FROM ts) * 1000)::bigint, open, high, low, close, volume),
		       ';' ORDER BY ts)
		  FROM sync.bars WHERE source = '$source' AND bar_interval = '1 minute' $upto GROUP BY symbol});
	my @differ;
	for my $sym (@symbols)
	{
		my @served = split /\n/, fake_series($f, $sym);
		@served = grep { /^(\d+),/ && $1 <= $upto_ms } @served if defined $upto_ms;
		push @differ, $sym if ($stored{$sym} // '') ne join(';', @served);
	}
	is("@differ", '', "$what: every series' bars equal the served ones row for row") or diagnose($what);
}

# No duplicate (the key forbids them; checked anyway) and no hole: the
# 1-minute bars of each series are consecutive from its first to its last.
sub no_hole
{
	my ($what, $source) = @_;
	is($node->safe_psql('postgres', qq{
		SELECT coalesce(string_agg(symbol, ' ' ORDER BY symbol), '') FROM (
		  SELECT symbol FROM sync.bars WHERE source = '$source' AND bar_interval = '1 minute'
		  GROUP BY symbol
		  HAVING count(*) <> count(DISTINCT ts)
		      OR max(ts) - min(ts) <> (count(*) - 1) * interval '1 minute') s}),
		'', "$what: no duplicate, no hole");
}

my $nalp = scalar @alp;

# --- 1. 30 Alpaca series catch up, then poll in batches -------------------

wait_ok(qq{SELECT count(*) FROM sync_status() WHERE source = 'alp' AND phase = 'idle'
             AND rows_stored > 0}, $nalp, "alpaca: all $nalp series caught up");
is($node->safe_psql('postgres', q{SELECT count(DISTINCT worker_pid) FROM sync_status()}), '1',
	'one pool worker carries every series');
equal_to_served('alpaca', $fake, 'alp', undef, @alp);

# From the moment all are caught up: every series polled at least 3 times
# in multi-symbol requests.  Without batching none is ever sent.
my $t1 = time();
my ($multi, $window) = wait_batched_polls($fake, $t1, 3, \&is_alpaca_multi, \&multi_symbols, @alp);
ok($multi, 'alpaca: once caught up, every series polls in multi-symbol requests')
  or diagnose('no multi-symbol polls');
my $batching = defined $multi;
$multi //= [];
my @too_long = grep { scalar(multi_symbols($_)) > 24 } @$multi;
is(scalar @too_long, 0, 'alpaca: no multi-symbol request names more than 24 symbols')
  or diag(explain [ map { $_->{query} } @too_long ]);
my %named = map { $_ => 1 } map { multi_symbols($_) } @$multi;
is(join(' ', grep { !$named{$_} } @alp), '', 'alpaca: every subscribed symbol is in some multi-symbol request');
is(join(' ', grep { !/^S\d\d$/ } sort keys %named), '', "alpaca: they name the source's symbols only");
# In the window each series polled >= 3 times; alone, it would have asked
# about once every poll interval by itself (>= 3 x 30 requests).  Fewer
# than one single-symbol request per series over the whole window.
my @alone = singles($window, @alp);
cmp_ok(scalar @alone, '<', $nalp,
	scalar(@alone) . ' single-symbol polls of caught-up series while they polled '
	  . scalar(@$multi) . ' times in batches: fewer than one per series')
  or diag(explain [ map { $_->{path} } @alone[0 .. ($#alone < 20 ? $#alone : 20)] ]);
equal_to_served('alpaca after batched polls', $fake, 'alp', undef, @alp);

# --- 4. Polygon daily bars, grouped ---------------------------------------
# (before 2 so that the market's minute passes meanwhile)

wait_ok(qq{SELECT count(*) FROM sync_status() WHERE source = 'poly' AND phase = 'idle'
             AND rows_stored > 0}, scalar @poly, 'polygon: every 1 day series caught up');
# The daily bars the served minutes make, by UTC day (Polygon's daily bars
# are stored at 00:00 UTC of their date), against the stored ones.
for my $sym (@poly)
{
	my $served = fake_series($fake, $sym);
	my $diff = $node->safe_psql('postgres', qq{
		WITH m AS (
		  SELECT split_part(l, ',', 1)::bigint AS ms, split_part(l, ',', 2)::numeric AS o,
		         split_part(l, ',', 3)::numeric AS h, split_part(l, ',', 4)::numeric AS l,
		         split_part(l, ',', 5)::numeric AS c, split_part(l, ',', 6)::numeric AS v
		    FROM regexp_split_to_table('$served', E'\\n') AS l),
		d AS (
		  SELECT date_trunc('day', to_timestamp(ms / 1000.0), 'UTC') AS ts,
		         (array_agg(o ORDER BY ms))[1] AS open, max(h) AS high, min(l) AS low,
		         (array_agg(c ORDER BY ms DESC))[1] AS close, sum(v) AS volume
		    FROM m GROUP BY 1),
		b AS (
		  SELECT ts, open, high, low, close, volume FROM sync.bars
		   WHERE source = 'poly' AND symbol = '$sym' AND bar_interval = '1 day')
		SELECT (SELECT count(*) FROM d) || ' days, '
		       || (SELECT count(*) FROM (SELECT * FROM d EXCEPT SELECT * FROM b) x) || ' missing, '
		       || (SELECT count(*) FROM (SELECT * FROM b EXCEPT SELECT * FROM d) x) || ' extra'});
	is($diff, '3 days, 0 missing, 0 extra', "polygon $sym: the daily bars are the served minutes by UTC day");
}
my $t4 = time();
my ($grouped, $pwindow) = wait_batched_polls($fake, $t4, 2,
	sub { $_[0]{path} =~ m{^/v2/aggs/grouped/locale/us/market/stocks/\d{4}-\d\d-\d\d$} },
	sub { @poly },    # a grouped request is every ticker's
	@poly);
ok($grouped, 'polygon: once caught up, the daily series poll through grouped requests')
  or diagnose('no grouped polls');
my @palone = singles($pwindow, @poly);
cmp_ok(scalar @palone, '<', scalar @poly,
	scalar(@palone) . ' single-symbol polls of the caught-up daily series in the window: fewer than one per series')
  or diag(explain [ map { $_->{path} } @palone ]);

# --- 2. Bars that appear at the provider come through batched polls -------

SKIP:
{
	skip 'the fake provider has no live market (--market, fake_market.py) in this tree', 5
	  unless $has_market;
	wait_ok(qq{SELECT count(*) FROM sync_status() WHERE source = 'mkt' AND phase = 'idle'
	             AND rows_stored > 0}, scalar @mkt, 'market: every series caught up');
	# The minute open now closes later: its bar is served only then, when
	# every series is caught up and polls in batches.
	my $t2 = time();
	my $open_ms = int($t2 / 60) * 60000;
	wait_ok(qq{SELECT count(DISTINCT symbol) FROM sync.bars
	            WHERE source = 'mkt' AND ts >= to_timestamp($open_ms / 1000.0)},
		scalar @mkt, 'market: the bar of the minute that was open when they were caught up is stored for every series');
	my $reqs = [ grep { $_->{t0} >= $t2 } @{ fake_requests($mfake) } ];
	my %mnamed = map { $_ => 1 } map { multi_symbols($_) } grep { is_alpaca_multi($_) } @$reqs;
	is(join(' ', grep { !$mnamed{$_} } @mkt), '', 'market: every series polled in multi-symbol requests meanwhile');
	my @malone = singles($reqs, @mkt);
	# alone, each series would have asked for it about 200 times in that minute
	cmp_ok(scalar @malone, '<', scalar @mkt,
		scalar(@malone) . ' single-symbol polls meanwhile: the new bars came in batches')
	  or diag(explain [ map { $_->{path} } @malone ]);
	equal_to_served('market', $mfake, 'mkt', $open_ms, @mkt);
}

# --- 3. Faults on the multi-symbol endpoint --------------------------------

SKIP:
{
	# a fault on the multi-symbol endpoint needs batches to hit
	skip 'no multi-symbol polls at all (see the failures above)', 23 unless $batching;
	# what a fault sets off comes within a few retry_max_ms (1 s)
	local $PostgreSQL::Test::Utils::timeout_default = 30;

	# From here the worker carries the 30 Alpaca series and one lone series
	# of a source of its own, X1, that polls alone: no other batches (see
	# the slow batch below).
	$node->safe_psql('postgres', qq{
		SELECT sync_drop_source('poly');
		@{[ $has_market ? "SELECT sync_drop_source('mkt');" : '' ]}
		SELECT sync_add_source('solo', 'alpaca', '$fake', credentials => '{"key_id":"k","secret":"s"}');
		SELECT sync_subscribe('solo', ARRAY['X1'], history_from => '2019-12-31', realtime => false);
	});
	wait_ok(q{SELECT detail LIKE '1 pool worker(s) carrying 31 series%' FROM sync_health() WHERE component = 'pool'},
		't', 'the pool worker carries the 30 series and the lone one');
	wait_ok(q{SELECT phase FROM sync_status() WHERE source = 'solo'}, 'idle', 'the lone series polls alone');

	# A 429 with Retry-After: the request's series fail, the whole source waits.
	my $retry_after = 3;
	my $since_db = $node->safe_psql('postgres', 'SELECT now()');
	fake_reset($fake);
	my $t3 = time();
	fake_fault($fake, kind => '429', retry_after => $retry_after, path => '/v2/stocks/bars');
	wait_ok(q{SELECT count(*) > 1 FROM sync_status()
	           WHERE source = 'alp' AND phase = 'retrying'
	             AND last_error LIKE 'rate limited: provider answered HTTP 429%'},
		't', '429: the series of the rate-limited request show retrying, rate limited');
	my ($r429) = grep { $_->{t0} >= $t3 && $_->{status} == 429 } @{ fake_requests($fake) };
	ok($r429 && is_alpaca_multi($r429), 'the 429 was the answer to a multi-symbol request') or diagnose('429');
	if ($r429)
	{
		my $n429 = scalar(multi_symbols($r429));
		is($node->safe_psql('postgres', qq{
			SELECT count(*) FROM sync_status()
			 WHERE source = 'alp' AND last_error_at >= '$since_db'
			   AND last_error LIKE 'rate limited: provider answered HTTP 429%'}),
			$n429, "429: each of the $n429 series of the request heard it");
		wait_ok(qq{SELECT count(*) FROM sync_status() WHERE source = 'alp' AND phase = 'idle'},
			$nalp, '429: every series polls again');
		# Retry-After is a floor: nothing of the held source (batched or alone,
		# any of its series, those of the other batch too) may go before it passed
		my @early = grep {
			$_->{t0} > $r429->{t} && $_->{t0} < $r429->{t} + $retry_after - 0.05
			  && (is_alpaca_multi($_) || singles([$_], @alp))
		} @{ fake_requests($fake) };
		is(scalar @early, 0, '429: no request of the source before Retry-After passed (the whole source is held)')
		  or diag(explain [ map { "$_->{t0} $_->{path}?$_->{query}" } @early ]);
	}

	# After a failure the series poll alone once, then batch again.
	sub batching_resumes
	{
		my ($what) = @_;
		wait_ok(qq{SELECT count(*) FROM sync_status() WHERE source = 'alp' AND phase = 'idle'},
			$nalp, "$what: every alpaca series is idle again");
		my $since = time();
		my ($m, $w) = wait_batched_polls($fake, $since, 3, \&is_alpaca_multi, \&multi_symbols, @alp);
		ok($m, "$what: the series poll in multi-symbol requests again") or diagnose("$what: no batches");
		# Alone, every series would poll 3 times or more in the window (>= 3 x
		# $nalp requests); batching again, a few still go alone (the series'
		# first polls after the failure, and on a loaded machine a series
		# whose turn slipped out of the batches' rhythm for a round).  Fewer
		# than two a series tells the two apart with room on both sides.
		my @a = singles($w, @alp);
		cmp_ok(scalar @a, '<', 2 * $nalp, "$what: " . scalar(@a) . ' single-symbol polls while every series polled 3 times in batches')
		  or diag(explain [ map { $_->{path} } @a[0 .. ($#a < 20 ? $#a : 20)] ]);
	}
	batching_resumes('after the 429');

	# A malformed answer: each series' transient failure (its error stays
	# after it recovered: `retrying` lasts one retry_base_ms), then they recover.
	$since_db = $node->safe_psql('postgres', 'SELECT now()');
	fake_reset($fake);
	$t3 = time();
	fake_fault($fake, kind => 'malformed', path => '/v2/stocks/bars');
	wait_ok(q{SELECT count(*) > 1 FROM sync_status()
	           WHERE source = 'alp' AND last_error_at >= '} . $since_db . q{'
	             AND last_error LIKE 'malformed JSON from Alpaca%'},
		't', 'malformed: the series of the request fail with the parser error');
	batching_resumes('after the malformed answer');

	# Batch answers that are slow (both of the source's batches, so no other
	# batch is sent meanwhile) while another series of the same worker polls
	# alone: its answers are parsed while the batches are in flight, and the
	# batches' answers must still be stored and their series keep batching.
	fake_reset($fake);
	$t3 = time();
	fake_fault($fake, kind => 'delay', delay_ms => 1500, count => 2, path => '/v2/stocks/bars');
	my $slow;
	for (1 .. 300)
	{
		last if ($slow) = grep { $_->{t0} >= $t3 && is_alpaca_multi($_) && $_->{t} - $_->{t0} >= 1.4 }
		  @{ fake_requests($fake) };
		sleep(0.1);
	}
	ok($slow, 'a multi-symbol request was answered slowly') or diagnose('slow batch');
	cmp_ok(scalar(grep { $slow && $_->{path} eq '/v2/stocks/X1/bars' && $_->{t} > $slow->{t0} && $_->{t} < $slow->{t} }
		  @{ fake_requests($fake) }), '>', 0,
		'the lone series polled alone while the slow batch was in flight');
	batching_resumes('after a slow batch answer');

	# A 500: the request failed.  Its series poll again (alone or not) and,
	# once they have, batching resumes: a provider's passing error must not
	# take a series out of the batches for good.
	fake_reset($fake);
	$t3 = time();
	fake_fault($fake, kind => '500', path => '/v2/stocks/bars');
	my $got500;
	for (1 .. 300)
	{
		last if ($got500) = grep { $_->{t0} >= $t3 && $_->{status} == 500 && is_alpaca_multi($_) } @{ fake_requests($fake) };
		sleep(0.1);
	}
	ok($got500, 'the 500 was answered to a multi-symbol request') or diagnose('500');
	batching_resumes('after the 500');
}

no_hole('after the faults', 'alp');
equal_to_served('alpaca after the faults', $fake, 'alp', undef, @alp);
is(join("\n", server_crashes($node)), '', 'no crash');

$node->stop;
done_testing();
