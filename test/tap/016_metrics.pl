# Metrics: sync_metrics() and a postgres_exporter scrape with
# examples/monitoring/queries.yaml pass `promtool check metrics` with
# real data in them: several sources, symbols holding quotes, backslashes,
# newlines and non-ASCII letters, subscriptions stopped, idle, realtime,
# retrying and in error, stored rows, commits, job runs.  The phase is a
# state set of its own, never a label of a counter; label values come
# back exactly as stored; both paths give the same families and series.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use File::Basename qw(dirname);
use File::Spec;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my ($promtool) = grep { -x } map { "$_/promtool" } split(/:/, $ENV{PATH}), '/usr/bin';
plan skip_all => 'promtool not found: install the Debian package prometheus' unless $promtool;
my ($exporter) = grep { -x } map { "$_/prometheus-postgres-exporter" } split(/:/, $ENV{PATH}), '/usr/bin';
my $root = File::Spec->catdir(dirname(File::Spec->rel2abs(__FILE__)), '..', '..');
my $queries = "$root/examples/monitoring/queries.yaml";
my $dir = PostgreSQL::Test::Utils::tempdir();

my @phases = qw(queued pending backfill realtime idle retrying error stopped);
# symbols a provider or a superuser may store, as Perl strings and as SQL
my %odd = ('we"ird' => q{'we"ird'}, 'back\\slash' => q{'back\\slash'}, "new\nline" => q{E'new\\nline'},
	"all\\\"\n\\" => q{E'all\\\\"\\n\\\\'}, "\x{20ac}uro" => q{U&'\\20ACuro'});

# The text format, parsed: HELP and TYPE per family, and the samples with
# their labels unescaped (\\, \" and \n are the only escapes).
sub parse_exposition
{
	my ($text) = @_;
	my (%help, %type, @samples);
	for my $line (split /\n/, $text)
	{
		next if $line eq '';
		if ($line =~ /^# HELP (\S+) (.*)$/) { $help{$1} = $2; next; }
		if ($line =~ /^# TYPE (\S+) (\S+)$/) { $type{$1} = $2; next; }
		next if $line =~ /^#/;
		my ($name, $rest) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/;
		my %labels;
		if (defined $rest && $rest =~ s/^\{//)
		{
			while ($rest =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)",?//)
			{
				my ($k, $v) = ($1, $2);
				$v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
				utf8::decode($v);
				$labels{$k} = $v;
			}
			$rest = undef unless $rest =~ s/^\}//;
		}
		if (!defined $rest || $rest !~ /^ (\S+)$/)
		{
			fail("a sample line parses: $line");
			next;
		}
		my $value = $1;
		my $family = $name;
		$family =~ s/_(bucket|sum|count)$// if !$type{$name} && ($type{ $name =~ s/_(bucket|sum|count)$//r } // '') eq 'histogram';
		push @samples, { name => $name, family => $family, labels => \%labels, value => $value };
	}
	return { help => \%help, type => \%type, samples => \@samples };
}

# name{label="value",...} with the labels sorted, the exporter's server left out
sub series_key
{
	my ($s) = @_;
	my $l = $s->{labels};
	return $s->{name} . '{' . join(',', map { "$_=$l->{$_}" } grep { $_ ne 'server' } sort keys %$l) . '}';
}

sub promtool_clean
{
	my ($text, $what) = @_;
	my $file = "$dir/check.prom";
	open(my $fh, '>', $file) or die "$file: $!";
	print $fh $text;
	close $fh;
	my $out = `$promtool check metrics < $file 2>&1`;
	is($? >> 8, 0, "$what: promtool check metrics passes");
	is($out, '', "$what: promtool check metrics reports nothing");
}

# What every exposition of sync's metrics must hold.
sub check_rules
{
	my ($m, $what) = @_;
	my (%seen, @dups, @untyped, @phase_label);
	for my $s (@{ $m->{samples} })
	{
		next unless $s->{family} =~ /^sync_/;
		push @dups, series_key($s) if $seen{ series_key($s) }++;
		push @untyped, $s->{family} unless $m->{type}{ $s->{family} } && defined $m->{help}{ $s->{family} };
		push @phase_label, $s->{name} if exists $s->{labels}{phase} && $s->{family} ne 'sync_series_phase';
	}
	is_deeply(\@dups, [], "$what: no series twice");
	is_deeply(\@untyped, [], "$what: HELP and TYPE for every family");
	is_deeply(\@phase_label, [], "$what: phase is a label of sync_series_phase only");
	my @bad = grep { $m->{type}{$_} eq 'counter' && !/_total$/ } grep { /^sync_/ } keys %{ $m->{type} };
	is_deeply(\@bad, [], "$what: every counter ends in _total");
}

# The current phase of each subscription, from sync_series_phase: every
# subscription there, every phase once, exactly one of them 1.
sub phases_of
{
	my ($m, $what, $node) = @_;
	my (%states, %current);
	for my $s (grep { $_->{name} eq 'sync_series_phase' } @{ $m->{samples} })
	{
		my $l = $s->{labels};
		my $sub = "$l->{source}/$l->{symbol}/$l->{dataset}/$l->{interval}";
		$states{$sub}{ $l->{phase} } = $s->{value};
		$current{$sub} = $l->{phase} if $s->{value} eq '1';
	}
	my @wrong;
	for my $sub (sort keys %states)
	{
		my @ones = grep { $_ eq '1' } values %{ $states{$sub} };
		push @wrong, $sub
		  if join(',', sort keys %{ $states{$sub} }) ne join(',', sort @phases) || @ones != 1;
	}
	is(scalar(keys %states), $node->safe_psql('postgres', 'SELECT count(*) FROM sync.subscriptions'),
		"$what: sync_series_phase for every subscription");
	is_deeply(\@wrong, [], "$what: every subscription has each phase once, one of them current");
	return \%current;
}

my $fake = start_fake('--live', 'LIVEUSDT:200');
(my $ws = $fake) =~ s/^http/ws/;
my $node = sync_node('metrics');
my @rows = btcusdt_rows();

# four sources: one that catches up, one that streams, one whose provider
# fails, one with odd symbols (stored as a superuser may; sync_subscribe
# refuses them) that stopped on a permanent error
my $odd_values = join(', ', map {
	"($odd{$_}, 'bars', interval '1 minute', false, 'error', 7, 2, now() - interval '1 hour', 'permanent error')" } sort keys %odd);
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake', options => '{"page_size": 500}');
	SELECT sync_subscribe('fake', ARRAY['BTCUSDT'], history_from => '2022-12-13', realtime => false);
	SELECT sync_add_source('live', 'binance', '$fake', stream_url => '$ws', options => '{"page_size": 100}');
	SELECT sync_subscribe('live', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 hour');
	SELECT sync_add_source('flaky', 'binance', '$fake');
	SELECT sync_add_source('odd', 'coinbase', '$fake');
	INSERT INTO sync.subscriptions (source_id, symbol, dataset, bar_interval, realtime, state, rows_stored,
	                                rows_rejected, synced_through, last_error)
	SELECT (SELECT id FROM sync.sources WHERE name = 'odd'), v.*
	  FROM (VALUES $odd_values) v;
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.subscriptions s JOIN sync.sources src ON src.id = s.source_id
	WHERE src.name = 'odd'}), scalar(keys %odd), 'the odd symbols are stored');

# --- before sync starts: every subscription stopped (or in error)
my $text = $node->safe_psql('postgres', 'SELECT sync_metrics()') . "\n";
promtool_clean($text, 'sync not running');
my $m = parse_exposition($text);
check_rules($m, 'sync not running');
my $current = phases_of($m, 'sync not running', $node);
is($current->{'fake/BTCUSDT/bars/60s'}, 'stopped', 'a subscription is stopped while sync is not running');
is($current->{"odd/we\"ird/bars/60s"}, 'error', 'one stopped on an error shows it');

# --- running: idle, realtime, retrying, error
fake_fault($fake, kind => '500', count => 100000, symbol => 'ADAUSDT');
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('flaky', ARRAY['ADAUSDT'], history_from => '2022-12-13', realtime => false);
	SELECT sync_start()});
wait_for($node, q{SELECT phase FROM sync_status() WHERE source = 'fake'}, 'idle', 'fake/BTCUSDT caught up');
wait_for($node, q{SELECT phase FROM sync_status() WHERE source = 'live'}, 'realtime', 'live/LIVEUSDT streams');
wait_for($node, q{SELECT phase = 'retrying' AND consecutive_failures > 1 FROM sync.subscription_metrics
	WHERE source = 'flaky'}, 't', 'flaky/ADAUSDT retries');
$node->safe_psql('postgres', q{
	SELECT sync_backfill('fake', 'BTCUSDT', 'bars', '2022-12-13 00:00+00', '2022-12-13 01:00+00')});
wait_for($node, q{SELECT count(*) > 0 FROM sync.job_runs WHERE kind = 'backfill' AND state = 'succeeded'}, 't',
	'a backfill run is recorded');

$text = $node->safe_psql('postgres', 'SELECT sync_metrics()') . "\n";
promtool_clean($text, 'sync running');
$m = parse_exposition($text);
check_rules($m, 'sync running');
$current = phases_of($m, 'sync running', $node);
is_deeply([ @$current{ 'fake/BTCUSDT/bars/60s', 'live/LIVEUSDT/trades/', 'flaky/ADAUSDT/bars/60s' } ],
	[qw(idle realtime retrying)], 'sync_series_phase shows each current phase');
is_deeply([ sort grep { m{^odd/} } keys %$current ], [ sort map { "odd/$_/bars/60s" } keys %odd ],
	'odd symbols come back exactly as stored (quotes, backslashes, newlines, UTF-8)');
is_deeply([ sort map { $current->{"odd/$_/bars/60s"} } keys %odd ], [ ('error') x scalar(keys %odd) ],
	'and in error');
my %value = map { (series_key($_) => $_->{value}) } @{ $m->{samples} };
is($value{'sync_rows_stored_total{dataset=bars,interval=60s,source=fake,symbol=BTCUSDT}'}, scalar(@rows),
	'rows stored, as a counter');
is($value{"sync_rows_rejected_total{dataset=bars,interval=60s,source=odd,symbol=we\"ird}"}, '2',
	'rows rejected of an odd symbol');
cmp_ok($value{'sync_http_requests_total{dataset=bars,interval=60s,source=flaky,status=5xx,symbol=ADAUSDT}'} // 0,
	'>', 1, '5xx answers counted');
cmp_ok($value{'sync_batch_commit_seconds_count{dataset=bars,interval=60s,source=fake,symbol=BTCUSDT}'} // 0,
	'>', 0, 'commits in the histogram');
is($value{'sync_rate_limited{dataset=bars,interval=60s,source=fake,symbol=BTCUSDT}'}, '0', 'rate-limit gauge');
cmp_ok($value{'sync_job_runs{kind=backfill,state=succeeded}'} // 0, '>=', 1, 'job runs by kind and state');
ok(defined $value{'sync_lag_seconds{dataset=bars,interval=60s,source=fake,symbol=BTCUSDT}'}, 'lag of a series');

# --- postgres_exporter with examples/monitoring/queries.yaml
SKIP:
{
	skip 'prometheus-postgres-exporter not found (Debian package prometheus-postgres-exporter): exporter scrape not checked', 1
	  unless $exporter;
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
		exec($exporter, "--web.listen-address=127.0.0.1:$port", "--extend.query-path=$queries",
			'--disable-default-metrics', '--disable-settings-metrics')
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
	if (!defined $scrape)
	{
		my $tail = -e $log ? PostgreSQL::Test::Utils::slurp_file($log) : '';
		kill 'TERM', $pid;
		waitpid($pid, 0);
		# it ran but gave no sync metrics: a failure, not a skip
		if ($tail =~ /Listening on/)
		{
			fail('the exporter gives sync metrics');
			diag($tail);
			last SKIP;
		}
		skip "prometheus-postgres-exporter could not be run: $tail", 1;
	}
	promtool_clean($scrape, 'postgres_exporter scrape');
	my $e = parse_exposition($scrape);
	check_rules($e, 'postgres_exporter scrape');
	like($scrape, qr/^pg_exporter_last_scrape_error 0$/m, 'every query of queries.yaml ran');
	like($scrape, qr/^pg_exporter_user_queries_load_error\{.*\} 0$/m, 'queries.yaml loads');
	my $ecurrent = phases_of($e, 'postgres_exporter scrape', $node);
	is_deeply([ @$ecurrent{ 'fake/BTCUSDT/bars/60s', 'live/LIVEUSDT/trades/', 'odd/we"ird/bars/60s' } ],
		[qw(idle realtime error)], 'the exporter shows the same phases');

	# the same families, types and series as sync_metrics(), sync_up and
	# the exporter's sync_health_status aside
	$m = parse_exposition($node->safe_psql('postgres', 'SELECT sync_metrics()') . "\n");
	my %ftypes = map { ($_ => $m->{type}{$_}) } grep { $_ ne 'sync_up' } keys %{ $m->{type} };
	my %etypes = map { ($_ => $e->{type}{$_}) } grep { /^sync_/ && $_ ne 'sync_health_status' } keys %{ $e->{type} };
	is_deeply(\%etypes, \%ftypes, 'the exporter gives the families of sync_metrics(), with their types');
	my @fseries = sort map { series_key($_) } grep { $_->{family} =~ /^sync_/ && $_->{family} ne 'sync_up' } @{ $m->{samples} };
	my @eseries = sort map { series_key($_) } grep { $_->{family} =~ /^sync_/ && $_->{family} ne 'sync_health_status' } @{ $e->{samples} };
	is_deeply(\@eseries, \@fseries, 'and the same series, labels included');

	kill 'TERM', $pid;
	waitpid($pid, 0);
}

$node->stop;
done_testing();
