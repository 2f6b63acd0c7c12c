# The event-loop API of src/http.c that the pool workers use (issue 12):
# hundreds of requests in flight on one client, each with its own options.
# 021_http_pool.c, compiled here with http.c and netguard.c into a module of
# its own and loaded by path into a node without sync, drives the API the
# way a pool worker does and checks its invariants as it goes (a slot is
# given once, returned once, the count in flight is right).  Shown here:
#  - 200 requests at once on one client all answer;
#  - the client never holds more than its capacity, and says so when full;
#  - trusted and untrusted requests on the same client: the untrusted ones
#    to loopback are refused with netguard's error, also when a trusted one
#    left a kept-alive connection to the same host (the multi handle shares
#    connections), while the trusted ones succeed;
#  - the body limit and file:// follow each request's options;
#  - requests queued behind the per-host connection limit still end at
#    their timeout.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd ();
use File::Spec;
use FindBin;
use IO::Socket::INET;
use lib $FindBin::Bin;
use SyncTest;

my $src = Cwd::abs_path("$FindBin::Bin/../../src");
my $dir = File::Spec->rel2abs(PostgreSQL::Test::Utils::tempdir());
# A coverage run (SYNC_COVERAGE, scripts/test.sh) counts what this test runs
# of http.c too: the module is built with gcov into a directory of the tree,
# which outlives the test, where lcov finds its counters.
my $cov_dir;
if ($ENV{SYNC_COVERAGE})
{
	$cov_dir = Cwd::abs_path("$FindBin::Bin/../..") . '/tmp_check/cov_021';
	mkdir $cov_dir;
}

# A pg_config with the server's headers (the private test installation has none).
my ($pg_config) = grep {
	my $inc = `$_ --includedir-server 2>/dev/null`;
	chomp $inc;
	length $inc && -e "$inc/postgres.h"
} grep { defined && -x } ($ENV{PG_CONFIG}, map { "$_/pg_config" } split /:/, $ENV{PATH});
ok(defined $pg_config, 'a pg_config with server headers') or BAIL_OUT('no pg_config with server headers');
my %pgc = map { my $v = `$pg_config --$_`; chomp $v; ($_ => $v) } qw(includedir-server cflags cflags_sl cppflags);
my $curl_cflags = `pkg-config --cflags libcurl`;
my $curl_libs = `pkg-config --libs libcurl`;
chomp($curl_cflags, $curl_libs);
my $so = ($cov_dir // $dir) . '/http_pool_test.so';
my $build = "cc $pgc{cflags} $pgc{cflags_sl} $pgc{cppflags} -I$pgc{'includedir-server'} -I$src $curl_cflags "
  . ($cov_dir ? '--coverage -O0 ' : '')
  . "-shared -o $so $FindBin::Bin/021_http_pool.c $src/http.c $src/netguard.c $curl_libs 2>&1";
my $out = `$build`;
is($?, 0, 'the test driver builds') or BAIL_OUT("build failed: $build\n$out");

my $node = PostgreSQL::Test::Cluster->new('http_pool');
$node->init;
$node->start;
$node->safe_psql('postgres', qq{
	CREATE FUNCTION http_pool_run(urls text[], trusted bool[], allow_file bool[], capacity int,
		timeout_ms int, max_response_kb int, max_file_kb int, cancel_every int)
	RETURNS TABLE (i int, status int, curl_code int, body_len int, head text, error text)
	AS '$so', 'http_pool_run' LANGUAGE C STRICT;
});

my $fake = start_fake();
(my $fake_by_name = $fake) =~ s/127\.0\.0\.1/localhost/;
my $day = 1670889600000;    # 2022-12-13, served by the fake provider

sub klines
{
	my ($base, $k, $limit) = @_;
	return "$base/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=" . ($day + $k * 60000) . "&limit=$limit";
}

# Runs the requests [url, trusted, allow_file] on one client; returns its rows
# (hashes) in request order, and the summary.
sub run_pool
{
	my ($reqs, %o) = @_;
	my $arr = sub { 'ARRAY[' . join(',', map { $_[0]->($_) } @$reqs) . ']' };
	my $urls = $arr->(sub { my $u = $_[0][0]; $u =~ s/'/''/g; "'$u'" }) . '::text[]';
	my $trusted = $arr->(sub { $_[0][1] ? 'true' : 'false' }) . '::bool[]';
	my $files = $arr->(sub { $_[0][2] ? 'true' : 'false' }) . '::bool[]';
	my $res = $node->safe_psql('postgres', qq{
		SET statement_timeout = '120s';
		SELECT i, status, curl_code, body_len, replace(head, E'\\n', ' '), error
		FROM http_pool_run($urls, $trusted, $files, $o{capacity}, @{[ $o{timeout_ms} // 10000 ]},
			@{[ $o{max_response_kb} // 10240 ]}, @{[ $o{max_file_kb} // 10240 ]}, @{[ $o{cancel_every} // 0 ]})
		ORDER BY i});
	my (@rows, $summary, $idle_polls);
	for my $line (split /\n/, $res)
	{
		my %r;
		@r{qw(i status curl_code body_len head error)} = split /\|/, $line, 6;
		if ($r{i} < 0) { ($summary, $idle_polls) = ($r{error}, $r{status}) }
		else { push @rows, \%r }
	}
	# 3 when each poll waits its 100 ms; thousands when curl's timer is
	# kept after it fired and every wait is a zero one
	cmp_ok($idle_polls, '<=', 6, "idle once all ended, the client waits ($idle_polls polls of 100 ms in 300 ms)");
	is(scalar @rows, scalar @$reqs, 'a row for every request');
	return (\@rows, $summary);
}

# 200 at once on one client.
my @reqs = map { [ klines($fake, $_, 50), 1, 0 ] } 0 .. 199;
my ($rows, $summary) = run_pool(\@reqs, capacity => 256);
is(scalar(grep { $_->{status} == 200 && $_->{curl_code} == 0 && $_->{head} =~ /^\[\[\d/ } @$rows), 200,
	'200 requests in flight at once on one client all answer with klines')
  or diag explain [ grep { $_->{status} != 200 } @$rows ];
is($summary, 'max_active=200 full=0', 'all 200 were in flight at once');

# Mixed trust on one client of 16, some cancelled: the client is full at
# times, and every request ends once.
@reqs = map {
	my $trusted = $_ % 2 == 0;
	[ klines($_ % 10 == 1 ? $fake_by_name : $fake, $_, 5), $trusted, 0 ]
} 0 .. 199;
($rows, $summary) = run_pool(\@reqs, capacity => 16, cancel_every => 7);
my @cancelled = grep { $_->{error} eq 'cancelled' } @$rows;
my @trusted = grep { $reqs[ $_->{i} ][1] && $_->{error} ne 'cancelled' } @$rows;
my @untrusted = grep { !$reqs[ $_->{i} ][1] && $_->{error} ne 'cancelled' } @$rows;
is(scalar @cancelled, int(200 / 7), 'the cancelled requests are not returned');
is(scalar(grep { $_->{status} == 200 && $_->{head} =~ /^\[\[\d/ } @trusted), scalar @trusted,
	'every trusted request to 127.0.0.1 succeeds');
is( scalar(
		grep {
			$_->{status} == 0
			  && $_->{body_len} == 0
			  && $_->{error} =~ /^connecting to (127\.0\.0\.1|::1) is not allowed: a loopback address, and the source was not created by a superuser/
		} @untrusted),
	scalar @untrusted,
	'every untrusted request to 127.0.0.1 or localhost is refused with the netguard error, on the same client')
  or diag explain [ grep { $_->{status} != 0 } @untrusted ];
like($summary, qr/^max_active=16 full=[1-9]/, 'never more than the capacity in flight; submit says when full');

# One at a time, trusted then untrusted to the same host: the untrusted
# request would find the trusted one's connection kept alive for reuse.
@reqs = map { [ klines($fake, $_, 5), $_ % 2 == 0, 0 ] } 0 .. 9;
($rows) = run_pool(\@reqs, capacity => 1);
is_deeply([ map { $_->{status} } @$rows ], [ (200, 0) x 5 ],
	'an untrusted request does not ride a connection a trusted one left open to loopback');
like($rows->[1]{error}, qr/^connecting to 127\.0\.0\.1 is not allowed: a loopback address/,
	'and says why');

# Per-request limits and protocols on one client.
my $file = "$dir/day.csv";
open(my $fh, '>', $file) or die;
print $fh "1670889600000,1,2,0.5,1.5,10\n";
close $fh;
@reqs = (
	[ klines($fake, 0, 50), 1, 0 ],
	[ klines($fake, 0, 50), 1, 1 ],
	[ "file://$file", 1, 1 ],
	[ "file://$file", 0, 1 ],
	[ "file://$file", 1, 0 ]);
($rows) = run_pool(\@reqs, capacity => 8, max_response_kb => 1, max_file_kb => 10240);
like($rows->[0]{error}, qr/^response larger than sync\.max_response_size \(1 kB\)$/,
	'a request without allow_file is held to sync.max_response_size');
is($rows->[0]{body_len}, 0, 'and keeps no body');
is($rows->[1]{status}, 200, 'the same answer is taken by a request with allow_file (sync.max_file_size)');
is($rows->[2]{head}, '1670889600000,1,', 'file:// for a trusted request with allow_file');
is($rows->[3]{curl_code}, 1, 'no file:// for an untrusted request');
is($rows->[4]{curl_code}, 1, 'no file:// for a request without allow_file');

# A server that takes connections and never answers: at most a few
# connections per host, so most requests wait in curl's queue; each must
# still end at its timeout (statement_timeout above ends a hang).
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 512, Proto => 'tcp')
  or die "listen: $!";
my $silent_url = 'http://127.0.0.1:' . $silent->sockport . '/api/v3/klines';
@reqs = map { [ "$silent_url?n=$_", 1, 0 ] } 0 .. 199;
($rows, $summary) = run_pool(\@reqs, capacity => 200, timeout_ms => 1500);
# (curl's words for it vary: "Connection time-out", "Connection timed out after ...")
my $timed_out = sub { $_[0]{curl_code} == 28 && $_[0]{status} == 0 && $_[0]{error} =~ /time/i };
is(scalar(grep { $timed_out->($_) } @$rows), 200,
	'200 requests to a silent host, most queued for a connection, all end at their timeout')
  or diag explain [ grep { !$timed_out->($_) } @$rows ];
my %why;
$why{ $_->{error} =~ s/\d+/N/gr }++ for @$rows;
note "$why{$_} x $_" for sort keys %why;

$node->stop;
done_testing();
