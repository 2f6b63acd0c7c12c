# SyncTest.pm: helpers shared by the TAP suites: a PostgreSQL node with sync
# preloaded, the fake provider, its fault queue and request log, and the
# source data a backfill must reproduce row for row.
package SyncTest;

use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(WNOHANG);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(sync_node start_fake fake_series btcusdt_rows subscribe_btcusdt_slowly fake_fault fake_requests fake_reset
  lean_minute_rows wait_for bars_text);

my $here = dirname(File::Spec->rel2abs(__FILE__));
my $root = File::Spec->catdir($here, '..');
my @fakes;

# A node with sync in shared_preload_libraries and fast test timings.
sub sync_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	my $preload = exists $opts{preload} ? $opts{preload} : 1;
	$node->append_conf('postgresql.conf', <<CONF);
shared_preload_libraries = '@{[ $preload ? 'sync' : '' ]}'
max_worker_processes = 32
restart_after_crash = on
sync.poll_interval_ms = 300
sync.retry_base_ms = 100
sync.retry_max_ms = 1000
sync.naptime_ms = 200
sync.gap_repair_interval_ms = 3600000
CONF
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION sync');
	return $node;
}

# Start a fake provider; returns its base URL.
sub start_fake
{
	my (@args) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $port_file = "$dir/port";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', "$dir/fake.log");
		open(STDERR, '>&', \*STDOUT);
		exec('/usr/bin/python3', "$root/fake_provider/fake_provider.py",
			'--data-dir', "$root/data", '--port-file', $port_file, @args)
		  or die "exec: $!";
	}
	push @fakes, $pid;
	for (1 .. 200)
	{
		last if -s $port_file;
		select(undef, undef, undef, 0.05);
	}
	my $port = PostgreSQL::Test::Utils::slurp_file($port_file);
	chomp $port;
	return "http://127.0.0.1:$port";
}

END
{
	local $?;
	kill 'TERM', @fakes if @fakes;
	waitpid($_, 0) for @fakes;
}

sub fake_fault
{
	my ($url, %fault) = @_;
	my $r = HTTP::Tiny->new->post("$url/_fault",
		{ content => encode_json(\%fault), headers => { 'Content-Type' => 'application/json' } });
	die "fault not queued: $r->{status}" unless $r->{success};
}

# The series the fake serves for a symbol, in bars_text() form.
sub fake_series
{
	my ($url, $symbol) = @_;
	my $r = HTTP::Tiny->new->get("$url/_series?symbol=$symbol");
	die "no series for $symbol" unless $r->{success};
	return $r->{content};
}

sub fake_reset
{
	my ($url) = @_;
	HTTP::Tiny->new->post("$url/_reset");
}

sub fake_requests
{
	my ($url) = @_;
	my $r = HTTP::Tiny->new->get("$url/_requests");
	return decode_json($r->{content});
}

# Rows of a Lean crypto minute file as the text bars_text() prints:
# "epoch_ms,open,high,low,close,volume", one per line, in time order.
sub lean_minute_rows
{
	my ($file, $day_epoch_ms) = @_;
	my @rows;
	open(my $fh, '<', "$root/data/$file") or die "$file: $!";
	while (my $line = <$fh>)
	{
		$line =~ s/\r?\n$//;
		next unless length $line;
		my ($ms, @rest) = split /,/, $line;
		push @rows, join(',', $day_epoch_ms + $ms, @rest);
	}
	close $fh;
	return @rows;
}

# The BTCUSDT series the fake serves (Lean minute bars of 2022-12-13 UTC).
sub btcusdt_rows
{
	return lean_minute_rows('bybit_btcusdt_minute_trade_20221213.csv', 1670889600000);
}

# A source and a BTCUSDT backfill paced to 100 bars a page, 5 pages a
# second, so a test can interrupt it in the middle.
sub subscribe_btcusdt_slowly
{
	my ($node, $fake) = @_;
	$node->safe_psql('postgres', qq{
		SELECT sync_add_source('fake', 'binance', '$fake',
		                       options => '{"page_size": 100, "requests_per_minute": 300}');
		SELECT sync_subscribe('fake', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00',
		                      realtime => false);
	});
}

# The stored bars of one symbol in the same text form.
sub bars_text
{
	my ($node, $symbol, $db) = @_;
	return $node->safe_psql($db // 'postgres', qq{
		SELECT string_agg(format('%s,%s,%s,%s,%s,%s',
		         (extract(epoch FROM ts) * 1000)::bigint, open, high, low, close, volume),
		       E'\\n' ORDER BY ts)
		  FROM sync.bars WHERE symbol = '$symbol'});
}

# Poll a query until it returns the expected value; a test of its own.
sub wait_for
{
	my ($node, $sql, $expected, $what) = @_;
	ok($node->poll_query_until('postgres', $sql, $expected), $what);
}

push @EXPORT, qw(fake_hostile fake_hostile_report server_crashes peak_rss_kb proc_status_kb);

# Hostile mode of the fake provider (test/fake_provider/fake_hostile.py):
# scripted answers and stream frames.  Bodies go as base64 so that they may
# hold any bytes, invalid UTF-8 included.
sub fake_hostile
{
	my ($url, $spec) = @_;
	my $r = HTTP::Tiny->new->post("$url/_hostile",
		{ content => encode_json($spec), headers => { 'Content-Type' => 'application/json' } });
	die "hostile script not taken: $r->{status}" unless $r->{success};
}

# What the hostile mode did: {"hits": {script id: answers}, "streams": [..]}.
sub fake_hostile_report
{
	my ($url) = @_;
	return decode_json(HTTP::Tiny->new->get("$url/_hostile")->{content});
}

# Lines of the server log that say a process died by a signal or the
# server reinitialized after a crash: none is the only good answer.
sub server_crashes
{
	my ($node) = @_;
	return grep { /terminated by signal|all server processes terminated|terminating any other active server processes/ }
	  split /\n/, PostgreSQL::Test::Utils::slurp_file($node->logfile);
}

# A memory figure of /proc/PID/status in kB (VmHWM: peak resident memory,
# RssAnon: private memory), undef when the process is gone.
sub proc_status_kb
{
	my ($pid, $field) = @_;
	open(my $fh, '<', "/proc/$pid/status") or return undef;
	while (<$fh>)
	{
		return $1 if /^$field:\s+(\d+)\s+kB/;
	}
	return undef;
}

sub peak_rss_kb { return proc_status_kb($_[0], 'VmHWM'); }

push @EXPORT, qw(start_fakes);

# Several fake providers started at once, each with its own argument list
# (an array ref); returns their base URLs in the same order.  Unlike
# start_fake() it waits up to two minutes for them: a fake serving many or
# long --synthetic series spends seconds making them before it listens.  A
# code ref given first runs while they start (say, making the node).
sub start_fakes
{
	my $during = ref $_[0] eq 'CODE' ? shift : undef;
	my (@argsets) = @_;
	my @port_files;
	for my $args (@argsets)
	{
		my $dir = PostgreSQL::Test::Utils::tempdir();
		my $pid = fork();
		die "fork: $!" unless defined $pid;
		if ($pid == 0)
		{
			open(STDOUT, '>', "$dir/fake.log");
			open(STDERR, '>&', \*STDOUT);
			exec('/usr/bin/python3', "$root/fake_provider/fake_provider.py",
				'--data-dir', "$root/data", '--port-file', "$dir/port", @$args)
			  or die "exec: $!";
		}
		push @fakes, $pid;
		push @port_files, "$dir/port";
	}
	$during->() if $during;
	my @urls;
	for my $port_file (@port_files)
	{
		for (1 .. 1200)
		{
			last if -s $port_file;
			select(undef, undef, undef, 0.1);
		}
		die "a fake provider did not start (see " . dirname($port_file) . "/fake.log)" unless -s $port_file;
		my $port = PostgreSQL::Test::Utils::slurp_file($port_file);
		chomp $port;
		push @urls, "http://127.0.0.1:$port";
	}
	return @urls;
}

1;
