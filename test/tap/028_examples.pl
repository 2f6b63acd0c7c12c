# The examples in examples/ run as a user would run them, so they cannot
# rot: basic.sql and advanced.sql with psql against a node pointed at the
# fake provider (their output compared with queries of the stored data),
# listen.py hearing of the bars that land, dataframe.py (where pandas is
# installed), and examples/monitoring: the alert rules checked and
# unit-tested with promtool, the dashboard's JSON and PromQL checked, the
# exporter run with queries.yaml, and every metric name the alerts and the
# dashboard read found in a real scrape.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use POSIX qw(WNOHANG);
use File::Basename qw(dirname);
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $root = File::Spec->catdir(dirname(File::Spec->rel2abs(__FILE__)), '..', '..');
my $ex = "$root/examples";
my $mon = "$ex/monitoring";
my $dir = PostgreSQL::Test::Utils::tempdir();
my ($promtool) = grep { -x } map { "$_/promtool" } split(/:/, $ENV{PATH}), '/usr/bin';
my ($exporter) = grep { -x } map { "$_/prometheus-postgres-exporter" } split(/:/, $ENV{PATH}), '/usr/bin';
my $day = '2022-12-13';    # the day of BTCUSDT minutes the fake serves

# psql output (-A -F '|'), cut at the "== name" lines the examples echo:
# name => [rows], each row a list of fields, the header row first
sub sections
{
	my ($out) = @_;
	my (%s, $cur);
	for my $line (split /\n/, $out)
	{
		if ($line =~ /^== (.+)$/) { $cur = $1; $s{$cur} = []; next; }
		next unless defined $cur && length $line;
		push @{ $s{$cur} }, [ split /\|/, $line, -1 ];
	}
	return \%s;
}

# the rows of a section as hashes keyed by its header
sub rows_of
{
	my ($s, $name) = @_;
	my @rows = @{ $s->{$name} // [] };
	return () unless @rows;
	my $head = shift @rows;
	return map { my %r; @r{@$head} = @$_; \%r } grep { @$_ == @$head } @rows;
}

sub run_psql_file
{
	my ($node, $file, @vars) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ('psql', '-X', '-A', '-F', '|', '-P', 'footer=off', '-d', $node->connstr('postgres'),
		(map { ('-v', $_) } @vars), '-f', $file);
	my $ok = IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	ok($ok, "psql -f $file runs to the end") or diag("stderr: $err\nstdout: $out");
	note("$file:\n$out");
	return ($out, $err);
}

# ---------------------------------------------------------------------
# monitoring files that need no server: the rules, their tests, the dashboard

# metric names a PromQL expression reads (label values are in quotes)
sub metric_names
{
	my ($expr) = @_;
	$expr =~ s/"(?:[^"\\]|\\.)*"//g;
	my %n = map { ($_ => 1) } $expr =~ /\b((?:sync|pg)_[a-z_]+)\b/g;
	return keys %n;
}

my (%used, @exprs);
my $rules_text = slurp_file("$mon/alerts.yml");
while ($rules_text =~ /^\s+expr: (?:>-\n)?(.*?)(?=\n\s+(?:for|labels):)/msg)
{
	(my $e = $1) =~ s/\s+/ /g;
	push @exprs, [ 'alerts.yml', $e ];
}
my $nalerts = () = $rules_text =~ /^\s+- alert: /mg;
is(scalar(@exprs), $nalerts, "an expression read from each of the $nalerts alert rules");

my $dash = eval { decode_json(slurp_file("$mon/grafana-dashboard.json")) };
ok($dash, 'grafana-dashboard.json is JSON') or diag($@);
$dash //= {};
ok(defined $dash->{uid} && $dash->{uid} =~ /^[a-zA-Z0-9_-]{1,40}$/, 'the dashboard has a uid');
ok(length($dash->{title} // ''), 'and a title');
like($dash->{schemaVersion} // '', qr/^\d+$/, 'and a schemaVersion');
my @panels = @{ $dash->{panels} // [] };
ok(@panels > 5, scalar(@panels) . ' panels');
my (@bad_panels, %ids);
my @vars = map { $_->{name} } @{ $dash->{templating}{list} // [] };
for my $p (@panels)
{
	push @bad_panels, "id $p->{id} twice" if defined $p->{id} && $ids{ $p->{id} }++;
	push @bad_panels, "a panel without id, type, title or gridPos"
	  unless defined $p->{id} && $p->{type} && defined $p->{title} && ref $p->{gridPos} eq 'HASH';
	next if ($p->{type} // '') eq 'row';
	push @bad_panels, "$p->{title}: no Prometheus datasource"
	  unless ($p->{datasource}{type} // '') eq 'prometheus' && ($p->{datasource}{uid} // '') eq '${datasource}';
	my @t = @{ $p->{targets} // [] };
	push @bad_panels, "$p->{title}: no targets" unless @t;
	for my $t (@t)
	{
		push @bad_panels, "$p->{title}: a target without expr or refId" unless $t->{expr} && $t->{refId};
		push @exprs, [ "panel '$p->{title}'", $t->{expr} // '' ];
	}
}
is_deeply(\@bad_panels, [], 'every panel has an id, a type, a title, a place, the Prometheus datasource and targets');
ok((grep { $_ eq 'datasource' } @vars), 'the datasource is a variable of the dashboard');
my @panel_types = sort keys %{ { map { ($_->{type} => 1) } @panels } };
my @unknown_types = grep { !/^(row|timeseries|stat|state-timeline|table|gauge|bargauge)$/ } @panel_types;
is_deeply(\@unknown_types, [], 'panel types are ones Grafana ships');
for (@exprs) { $used{$_} = $_ for metric_names($_->[1]) }
# a metric name has its family in front of _bucket/_sum/_count
my %used_family = map { my $n = $_; $n =~ s/_(bucket|sum|count)$// if $n =~ /^sync_batch_commit_seconds_/; ($n => 1) } keys %used;
ok(scalar(keys %used_family) >= 10, 'the alerts and the dashboard read ' . scalar(keys %used_family) . ' metric families');

SKIP:
{
	skip 'promtool not found: install the Debian package prometheus', 4 unless $promtool;
	my $out = `cd $mon && $promtool check rules alerts.yml 2>&1`;
	is($? >> 8, 0, 'promtool check rules alerts.yml') or diag($out);
	$out = `cd $mon && $promtool test rules alerts_test.yml 2>&1`;
	is($? >> 8, 0, 'promtool test rules alerts_test.yml: the alerts fire where they must and only there') or diag($out);

	# the dashboard's queries, Grafana's variables given values, as recording rules
	my $file = "$dir/dashboard_rules.yml";
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh "groups:\n  - name: dashboard\n    rules:\n";
	my $i = 0;
	for my $e (grep { $_->[0] ne 'alerts.yml' } @exprs)
	{
		(my $q = $e->[1]) =~ s/\$__rate_interval/5m/g;
		$q =~ s/\$(source|symbol)\b/.*/g;
		$q =~ s/'/''/g;
		printf $fh "      - record: dashboard:q%d\n        expr: '%s'\n", $i++, $q;
	}
	close $fh;
	$out = `$promtool check rules $file 2>&1`;
	is($? >> 8, 0, "the dashboard's $i queries are valid PromQL") or diag($out);
	like($out, qr/SUCCESS: $i rules found/, 'promtool read every one of them');
}

# ---------------------------------------------------------------------
# basic.sql, listen.py, advanced.sql, dataframe.py against the fake

my $fake = start_fake();
my $node = sync_node('examples');
my $dsn = sprintf('host=%s port=%s dbname=postgres', $node->host, $node->port);
# one page of BTCUSDT comes with a bar whose high is below its low: a
# record for sync.rejects and a hole for sync.gaps
fake_fault($fake, kind => 'invalid_ohlc', path => '/api/v3/klines', symbol => 'BTCUSDT');

# listen.py first, so that it hears of the backfill's bars
my $listen_out = "$dir/listen.out";
my $listen = fork();
die "fork: $!" unless defined $listen;
if ($listen == 0)
{
	open(STDOUT, '>', $listen_out);
	open(STDERR, '>&', \*STDOUT);
	exec('python3', "$ex/listen.py", $dsn, '--symbol', 'BTCUSDT', '--count', '1', '--timeout', '120')
	  or die "exec: $!";
}
for (1 .. 600)
{
	last if -s $listen_out && slurp_file($listen_out) =~ /^listening/m;
	last if waitpid($listen, WNOHANG) == $listen;
	select(undef, undef, undef, 0.05);
}
like(-e $listen_out ? slurp_file($listen_out) : '', qr/^listening on sync_bars$/m, 'listen.py listens');

my ($out) = run_psql_file($node, "$ex/basic.sql", "base_url=$fake", "day=$day");
my $s = sections($out);
my @status = rows_of($s, 'status');
is(scalar(@status), $node->safe_psql('postgres', 'SELECT count(*) FROM sync.subscriptions'), 'basic.sql: a status row per subscription');
is($status[0]{phase}, 'idle', 'basic.sql waited until the backfill caught up');
my ($bars) = rows_of($s, 'bars');
my $nbars = $node->safe_psql('postgres', q{SELECT count(*) FROM sync.bars WHERE symbol = 'BTCUSDT'});
is($bars->{bars}, $nbars, "basic.sql: the count of bars ($nbars)");
my @source = btcusdt_rows();
my $nrejects = $node->safe_psql('postgres', 'SELECT count(*) FROM sync.rejects');
ok($nrejects > 0, 'the invalid bar was refused');
is($nbars, @source - $nrejects, "that is every bar the fake serves (" . scalar(@source) . ") but the refused one");
is($status[0]{rows_stored}, $nbars, 'the status counts them');
is(scalar(rows_of($s, 'last bars')), 5, 'the last 5 bars');
my $hourly = join("\n", map { join('|', @$_{qw(ts high low volume)}) } rows_of($s, 'bars_1h'));
is($hourly, $node->safe_psql('postgres', qq{
	SELECT string_agg(concat_ws('|', h, high, low, volume), E'\\n' ORDER BY h)
	  FROM (SELECT date_trunc('hour', ts) AS h, max(high) AS high, min(low) AS low, sum(volume) AS volume
	          FROM sync.bars WHERE symbol = 'BTCUSDT' GROUP BY 1) x}),
	'basic.sql: bars_1h is the hourly high, low and volume of the stored bars');
my @daily = rows_of($s, 'bars_1d');
is(scalar(@daily), 1, 'one daily bar');
is($daily[0]{volume}, $node->safe_psql('postgres', q{SELECT sum(volume) FROM sync.bars WHERE symbol = 'BTCUSDT'}),
	"with the day's volume");
my @health = rows_of($s, 'health');
is(scalar(@health), $node->safe_psql('postgres', 'SELECT count(*) FROM sync_health()'), 'basic.sql: sync_health()');
ok((grep { $_->{component} eq 'pool' } @health), 'the pool among its rows');

# listen.py heard of bars and fetched them
my $waited = 0;
for (1 .. 2400)
{
	$waited = waitpid($listen, WNOHANG) == $listen;
	last if $waited;
	select(undef, undef, undef, 0.05);
}
ok($waited, 'listen.py ended after one notification');
is($? >> 8, 0, 'with exit status 0');
my $heard = slurp_file($listen_out);
if ($heard =~ m{^binance/BTCUSDT 00:01:00: (\d+) row\(s\) from (.+?) to (.+?)\n  fetched (\d+) bar\(s\)$}m)
{
	my ($rows, $from, $to, $fetched) = ($1, $2, $3, $4);
	ok($rows > 0, "listen.py: a notification of $rows rows");
	is($fetched, $node->safe_psql('postgres', qq{
		SELECT count(*) FROM sync.bars WHERE symbol = 'BTCUSDT' AND ts BETWEEN '$from' AND '$to'}),
		'it fetched the bars of the range announced');
	cmp_ok($fetched, '>=', $rows, 'at least the rows announced');
	like($heard, qr/^  newest \Q${\ $node->safe_psql('postgres', "SELECT to_char('$to'::timestamptz AT TIME ZONE current_setting('TimeZone'), 'YYYY-MM-DD\"T\"HH24:MI:SS')")}\E/m,
		'and printed the newest, the last one announced');
}
else
{
	fail('listen.py printed a notification and its bars');
	diag($heard);
}

# a second run finds the source and the subscription there and reads the same
my ($again) = run_psql_file($node, "$ex/basic.sql", "base_url=$fake", "day=$day");
is(join('|', @{ (rows_of(sections($again), 'bars'))[0] // {} }{qw(bars first last)}),
	join('|', @$bars{qw(bars first last)}), 'basic.sql runs again: the same bars');
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.subscriptions'), scalar(@status), 'and no second subscription');

($out) = run_psql_file($node, "$ex/advanced.sql", "day=$day");
$s = sections($out);
my @session = rows_of($s, 'session XNYS');
is(scalar(@session), 1, 'advanced.sql: one XNYS trading day');
is(join('|', @{ $session[0] }{qw(high low volume)}), $node->safe_psql('postgres', qq{
	SELECT concat_ws('|', max(high), min(low), sum(volume)) FROM sync.bars
	 WHERE symbol = 'BTCUSDT'
	   AND ts >= '$day 09:30'::timestamp AT TIME ZONE 'America/New_York'
	   AND ts < '$day 16:00'::timestamp AT TIME ZONE 'America/New_York'}),
	'of the bars in New York trading hours');
ok(scalar(rows_of($s, 'sessions')) >= 2, 'the sessions table');
my @r7 = rows_of($s, 'resample 7 minutes');
is(scalar(@r7), 10, 'the first ten 7-minute bars');
my ($n7) = rows_of($s, 'resample 7 minutes count');
is($n7->{buckets}, $node->safe_psql('postgres', qq{
	SELECT count(DISTINCT date_bin('7 minutes', ts, '2000-01-01 00:00+00')) FROM sync.bars WHERE symbol = 'BTCUSDT'}),
	'a 7-minute bar per 7-minute bucket holding bars');
is($r7[0]{high}, $node->safe_psql('postgres', qq{
	SELECT max(high) FROM sync.bars WHERE symbol = 'BTCUSDT'
	   AND date_bin('7 minutes', ts, '2000-01-01 00:00+00') = '$r7[0]{ts}'::timestamptz}), "the first one's high");
my ($first) = rows_of($s, 'schedule');
my @sched = rows_of($s, 'schedules');
is(join(',', map { "$_->{name}:$_->{next_run}" } @sched),
	"example gaps:$first->{gaps_first_run},example nightly:$first->{nightly_first_run}",
	'advanced.sql: two schedules, each with its first run');
is(join(',', @{ (rows_of($s, 'unschedule'))[0] // {} }{qw(nightly gaps)}), 't,t', 'both unscheduled');
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.schedules'), '0', 'and both unscheduled');
is(join(',', map { "$_->{dataset}=$_->{keep}" } rows_of($s, 'retention policies')), 'rejects=30 days,trades=90 days',
	'retention policies shown');
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.retention'), '0', 'and set back to keeping everything');
my @gaps = rows_of($s, 'gaps');
my $ngaps = $node->safe_psql('postgres', q{SELECT count(*) FROM sync.gaps WHERE source = 'binance'});
is(scalar(@gaps), $ngaps, "advanced.sql: the holes sync.gaps lists ($ngaps)");
ok($ngaps > 0, 'the refused bar left one');
my @rej = rows_of($s, 'rejects');
my $total = 0;
$total += $_->{records} for @rej;
is($total, $nrejects, 'the refused records, by reason');
like($rej[0]{reason} // '', qr/OHLC/, 'the reason is the inconsistent OHLC');
is(scalar(rows_of($s, 'rejects latest')), $nrejects < 3 ? $nrejects : 3, 'and the latest with their payload');
my $hsum = 0;
$hsum += $_->{components} for rows_of($s, 'health summary');
is($hsum, $node->safe_psql('postgres', 'SELECT count(*) FROM sync_health()'), 'the health summary counts every component');
# which components are ok changes with time (a rollup waiting): the rows
# listed are checked for what they say, not counted again
my @unwell = rows_of($s, 'health');
is(scalar(grep { $_->{status} =~ /^(degraded|down)$/ && length $_->{detail} } @unwell), scalar(@unwell),
	'the components listed as not ok are degraded or down, with the reason');
my %by_status = map { ($_->{status} => $_->{components}) } rows_of($s, 'health summary');
is(scalar(@unwell), ($by_status{degraded} // 0) + ($by_status{down} // 0), 'as many as the summary counts');

SKIP:
{
	system('python3', '-c', 'import pandas, psycopg2');
	skip 'python3-pandas is not installed: examples/dataframe.py not run', 4 if $? != 0;
	my ($dout, $derr) = ('', '');
	my $ok = IPC::Run::run([ 'python3', "$ex/dataframe.py", $dsn, '--from', $day ], '>', \$dout, '2>', \$derr);
	ok($ok, 'dataframe.py runs') or diag("$derr\n$dout");
	my $n1h = $node->safe_psql('postgres', qq{
		SELECT count(*) FROM sync.bars_1h WHERE symbol = 'BTCUSDT' AND ts >= '$day 00:00+00' AND ts < '$day 00:00+00'::timestamptz + interval '1 day'});
	like($dout, qr{^binance/BTCUSDT bars_1h: $n1h row\(s\)$}m, "dataframe.py: a frame of the $n1h hourly bars");
	like($dout, qr/^  index ts: datetime64\[ns, UTC\]$/m, 'times tz-aware, in UTC');
	my ($vol) = $dout =~ /^volume (\S+)$/m;
	my $want = $node->safe_psql('postgres', qq{SELECT sum(volume) FROM sync.bars WHERE symbol = 'BTCUSDT'});
	ok(defined $vol && abs($vol - $want) <= 1e-7 * abs($want), "the volume of the day ($want)") or diag($dout);
}

# ---------------------------------------------------------------------
# the exporter with examples/monitoring/queries.yaml

my %sync_metrics_families = map { /^# TYPE (\S+)/ ? ($1 => 1) : () }
  split /\n/, $node->safe_psql('postgres', 'SELECT sync_metrics()');
SKIP:
{
	skip 'prometheus-postgres-exporter not found (Debian package prometheus-postgres-exporter)', 5 unless $exporter;
	$node->safe_psql('postgres', q{CREATE ROLE metrics_exporter LOGIN; GRANT sync_reader TO metrics_exporter});
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log = "$dir/exporter.log";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', $log);
		open(STDERR, '>&', \*STDOUT);
		$ENV{DATA_SOURCE_NAME} = sprintf('host=%s port=%s user=metrics_exporter dbname=postgres sslmode=disable',
			$node->host, $node->port);
		exec($exporter, "--web.listen-address=127.0.0.1:$port", "--extend.query-path=$mon/queries.yaml",
			'--disable-settings-metrics')
		  or die "exec: $!";
	}
	my $http = HTTP::Tiny->new(timeout => 10);
	my $scrape;
	for (1 .. 300)
	{
		my $r = $http->get("http://127.0.0.1:$port/metrics");
		if ($r->{success} && $r->{content} =~ /^sync_/m)
		{
			$scrape = $r->{content};
			last;
		}
		last if waitpid($pid, WNOHANG) == $pid;
		select(undef, undef, undef, 0.1);
	}
	kill 'TERM', $pid;
	waitpid($pid, 0);
	if (!defined $scrape)
	{
		fail('the exporter gives sync metrics with queries.yaml');
		diag(-e $log ? slurp_file($log) : 'no log');
		last SKIP;
	}
	like($scrape, qr/^pg_exporter_last_scrape_error 0$/m, 'every query of queries.yaml ran');
	my %scraped = map { /^# TYPE (\S+)/ ? ($1 => 1) : () } split /\n/, $scrape;
	my @missing = sort grep { !$scraped{$_} && !$sync_metrics_families{$_} } keys %used_family;
	is_deeply(\@missing, [], 'every metric the alerts and the dashboard read is in a scrape or in sync_metrics()');
	my @exporter_only = sort grep { !$scraped{$_} } grep { /^sync_/ } keys %sync_metrics_families;
	is_deeply(\@exporter_only, ['sync_up'], 'the exporter gives every family of sync_metrics() but sync_up');

	# sync_health_status: a sample per sync_health() row, 0 ok / 1 degraded / 2 down
	my %got;
	for my $line (split /\n/, $scrape)
	{
		$got{$1} = $2 if $line =~ /^sync_health_status\{.*component="([^"\\]*)".*\} (\S+)$/;
	}
	my %want = split /[|\n]/, $node->safe_psql('postgres', q{
		SELECT string_agg(component || '|' || CASE status WHEN 'ok' THEN 0 WHEN 'degraded' THEN 1 ELSE 2 END,
		                  E'\n') FROM sync_health()});
	is_deeply(\%got, \%want, 'sync_health_status: every component of sync_health(), with its status');
	like($scrape, qr/^sync_health_status\{component="pool",kind="pool",server="[^"]+"\} 0$/m, 'the pool ok, of kind pool');
}

# basic.sql with a symbol the provider does not know: the wait ends on the
# series' error (a generous wait_seconds: it must not be what ends it)
{
	my ($eout, $eerr) = ('', '');
	my $ok = IPC::Run::run([ 'psql', '-X', '-A', '-d', $node->connstr('postgres'), '-v', "base_url=$fake",
			'-v', 'symbol=NOSUCHPAIR', '-v', "day=$day", '-v', 'wait_seconds=600', '-f', "$ex/basic.sql" ],
		'<', \undef, '>', \$eout, '2>', \$eerr);
	ok(!$ok, 'basic.sql with an unknown symbol fails');
	like($eerr, qr{not caught up: binance/NOSUCHPAIR: error}, 'saying which series is in error, not that time ran out');
}

$node->stop;
done_testing();
