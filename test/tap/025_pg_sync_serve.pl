# pg_sync serve (issue 13): the read-only HTTP server with a real client.
# Every route's status code and JSON shape, as a role that is only a
# sync_reader member; bars equal the provider's digits exactly; /metrics
# passes promtool; each bad parameter is a 400 naming it; unknown routes
# 404, other methods 405; no path leaves the dashboard directory; a bars
# event arrives on /api/events after a page is stored, the status of a
# new series too, and a payload's line breaks cannot forge an event; a
# client that vanishes mid-stream hurts nobody, one that stops reading is
# dropped (bounded memory) while another keeps receiving; /health is 503
# when a source is down; a non-loopback --listen is refused without
# --allow-remote; the pool reconnects after a database restart; SIGTERM
# ends streams and the program with status 0.
#
# No assertion is on timing: each wait is bounded only so that a broken
# server fails the test instead of hanging it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::Local qw(timegm);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $WAIT_S = 60;    # the longest any one wait may take before the test fails

my $fake = start_fake();
my $node = sync_node('serve');
my $dir = PostgreSQL::Test::Utils::tempdir();

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake');
	SELECT sync_add_source('alp', 'alpaca', '$fake',
	                       credentials => '{"key_id": "KEYID-4711", "secret": "SECRET-0815"}');
	SELECT sync_subscribe('fake', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00',
	                      realtime => false);
	SELECT sync_start();
	CREATE ROLE reader LOGIN IN ROLE sync_reader;
	INSERT INTO sync.trades (source, symbol, ts, trade_id, price, size, side) VALUES
	  ('fake', 'TRD', '2022-12-13 00:00:03+00', '3', 17210.000, 1, NULL),
	  ('fake', 'TRD', '2022-12-13 00:00:01+00', '1', 17208.86, 0.5, 'buy'),
	  ('fake', 'TRD', '2022-12-13 00:00:02.5+00', '2', 17209.1, 0.25, 'sell');
});
wait_for($node, q{SELECT count(*) FROM sync.bars WHERE symbol = 'BTCUSDT'}, '1440',
	'the day of BTCUSDT bars is stored');

# --- the dashboard directory, and a file next to it that must stay out of reach
mkdir "$dir/dash" or die;
PostgreSQL::Test::Utils::append_to_file("$dir/dash/index.html", "<html>sync dashboard</html>\n");
PostgreSQL::Test::Utils::append_to_file("$dir/dash/app.js", "console.log('app');\n");
PostgreSQL::Test::Utils::append_to_file("$dir/dash/notes.txt", "not a served type\n");
PostgreSQL::Test::Utils::append_to_file("$dir/outside.js", "SECRET OUTSIDE\n");

# Servers and clients started here end with the test, even when it dies.
my @harnesses;
END
{
	local $?;
	for my $h (@harnesses)
	{
		eval { $h->kill_kill(grace => 5) if $h->pumpable; };
	}
}

# Start `pg_sync serve` on a free port; returns (handle, base URL, \stderr).
sub start_serve
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	my $t = IPC::Run::timeout($WAIT_S);
	my $h = IPC::Run::start(
		[ 'pg_sync', 'serve', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-w',
			'--listen', '127.0.0.1:0', @args ],
		'<', \undef, '>', \$out, '2>', \$err, $t);
	push @harnesses, $h;
	$h->pump until $out =~ m{listening on (http://\S+/)} || !$h->pumpable;
	die "pg_sync serve did not start: $err" unless $out =~ m{listening on (http://\S+/)};
	my $url = $1;
	$t->reset;
	return ($h, $url, \$err, \$out);
}

my ($serve, $url, $serve_err) = start_serve('-U', 'reader', '--dashboard', "$dir/dash", '--row-limit', '2000');
like($url, qr{^http://127\.0\.0\.1:\d+/$}, "serve listens on loopback: $url");

my $http = HTTP::Tiny->new(timeout => $WAIT_S);
my $json = JSON::PP->new;

sub get
{
	my ($path, %opts) = @_;
	my $r = $http->request($opts{method} // 'GET', "$url$path");
	my $body = $r->{content} // '';
	my $doc = ($r->{headers}{'content-type'} // '') =~ m{^application/json} ? eval { $json->decode($body) } : undef;
	return ($r, $doc);
}

# --- /health and /api/health
my ($r, $doc) = get('health');
is($r->{status}, 200, '/health: 200');
ok($doc && $doc->{status} =~ /^(ok|degraded)$/, "/health: status $doc->{status}");
ok(ref $doc->{components} eq 'ARRAY' && @{ $doc->{components} } > 0
	  && !grep({ join(',', sort keys %$_) ne 'component,detail,status' } @{ $doc->{components} }),
	'/health: components of {component, status, detail}');
is_deeply([ map { $_->{component} } @{ $doc->{components} } ],
	[ split /\n/, $node->safe_psql('postgres', 'SELECT component FROM sync_health()') ],
	'/health: the components of sync_health(), in its order');
($r, my $api_health) = get('api/health');
is($r->{status}, 200, '/api/health: 200');
is_deeply([ sort keys %$api_health ], [ 'components', 'status' ], '/api/health: the same body as /health');

# --- /metrics
($r) = get('metrics');
is($r->{status}, 200, '/metrics: 200');
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', '/metrics: Prometheus text type');
like($r->{content}, qr/^sync_rows_stored_total\{source="fake",symbol="BTCUSDT",dataset="bars",interval="60s"\} 1440$/m,
	'/metrics: the rows stored');
my ($promtool) = grep { -x } map { "$_/promtool" } split(/:/, $ENV{PATH}), '/usr/bin';
SKIP:
{
	skip 'promtool not found', 2 unless $promtool;
	PostgreSQL::Test::Utils::append_to_file("$dir/metrics.prom", $r->{content});
	my $out = `$promtool check metrics < $dir/metrics.prom 2>&1`;
	is($? >> 8, 0, '/metrics: promtool check metrics passes');
	is($out, '', '/metrics: promtool reports nothing');
}

# --- /api/sources: what is safe to show, never credentials
($r, $doc) = get('api/sources');
is($r->{status}, 200, '/api/sources: 200');
is_deeply([ map { $_->{name} } @{ $doc->{sources} } ], [ 'alp', 'fake' ], '/api/sources: every source');
is_deeply([ sort keys %{ $doc->{sources}[1] } ], [ sort qw(name provider base_url stream_url options created_at) ],
	'/api/sources: name, provider, URLs, options, created_at');
is($doc->{sources}[1]{base_url}, $fake, '/api/sources: the base URL');
unlike($r->{content}, qr/SECRET-0815|KEYID-4711|credentials/, '/api/sources: no credentials');

# --- /api/status
($r, $doc) = get('api/status');
is($r->{status}, 200, '/api/status: 200');
is(scalar @{ $doc->{series} }, 1, '/api/status: one series');
my @status_cols = split /\n/, $node->safe_psql('postgres',
	q{SELECT k FROM json_object_keys((SELECT row_to_json(s) FROM sync_status() s LIMIT 1)) k});
is_deeply([ sort keys %{ $doc->{series}[0] } ], [ sort(@status_cols, 'gaps') ],
	'/api/status: the columns of sync_status() and gaps');
is($doc->{series}[0]{rows_stored}, 1440, '/api/status: rows stored as a number');
is($doc->{series}[0]{gaps}, $node->safe_psql('postgres',
	q{SELECT count(*) FROM sync.gaps WHERE source = 'fake' AND symbol = 'BTCUSDT'}), '/api/status: gaps of sync.gaps');
($r, $doc) = get('api/status?source=alp');
is_deeply([ $r->{status}, scalar @{ $doc->{series} } ], [ 200, 0 ], '/api/status?source=: only that source');

# --- /api/bars: the provider's digits, exactly
my @source = btcusdt_rows();

# "epoch_ms,open,high,low,close,volume" from the JSON text itself (JSON
# number digits exactly as sent), checking the key order and that ts ascends
sub bars_rows
{
	my ($body) = @_;
	my @rows;
	while ($body =~ /\{"ts":"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\+00:00","open":([^,]+),"high":([^,]+),"low":([^,]+),"close":([^,]+),"volume":([^,]+),"trades":[^,]+,"vwap":[^}]+\}/g)
	{
		push @rows, join(',', timegm($6, $5, $4, $3, $2 - 1, $1) * 1000, $7, $8, $9, $10, $11);
	}
	return @rows;
}

($r, $doc) = get('api/bars?source=fake&symbol=BTCUSDT&interval=1m&from=2022-12-13T00:00:00Z&to=2022-12-14T00:00:00Z');
is($r->{status}, 200, '/api/bars 1m: 200');
is_deeply([ sort keys %$doc ], [ sort qw(source symbol interval session from to bars truncated) ], '/api/bars: its keys');
is_deeply([ @$doc{qw(source symbol interval)}, $doc->{session}, $doc->{truncated} ? 1 : 0 ],
	[ 'fake', 'BTCUSDT', '1m', undef, 0 ], '/api/bars: source, symbol, interval, no session, not truncated');
my @got = bars_rows($r->{content});
is(scalar @got, 1440, '/api/bars 1m: 1440 bars');
is(join("\n", @got), join("\n", @source), '/api/bars 1m: equal to the provider\'s, digit for digit, ascending');

($r, $doc) = get('api/bars?source=fake&symbol=BTCUSDT&from=2022-12-13T00:00:00Z&to=2022-12-14T00:00:00Z&limit=100');
@got = bars_rows($r->{content});
ok($doc->{truncated}, '/api/bars limit=100: truncated');
is(join("\n", @got), join("\n", @source[ 0 .. 99 ]), '/api/bars limit=100: the first 100, interval 1m by default');
($r, $doc) = get('api/bars?source=fake&symbol=BTCUSDT&from=2022-12-13T00:00:00Z&to=2022-12-14T00:00:00Z&limit=1000000');
is(scalar @{ $doc->{bars} }, 1440, '/api/bars: a limit above --row-limit is lowered to it (2000 > 1440)');
($r, $doc) = get('api/bars?source=fake&symbol=BTCUSDT&from=2022-12-13T00:00:00Z&to=2022-12-13T23:00:00Z&limit=1000000');
ok(!$doc->{truncated} && @{ $doc->{bars} } == 1380, '/api/bars: [from, to) holds 1380 minutes');

for my $case ([ '5m', 'sync.bars_5m', 288 ], [ '15m', 'sync.bars_15m', 96 ], [ '1h', 'sync.bars_1h', 24 ],
	[ '1d', 'sync.bars_1d', 1 ], [ '60m', 'sync.bars_1h', 24 ])
{
	my ($iv, $view, $n) = @$case;
	($r, $doc) = get("api/bars?source=fake&symbol=BTCUSDT&interval=$iv&from=2022-12-13T00:00:00Z&to=2022-12-14T00:00:00Z");
	my $expected = $node->safe_psql('postgres', qq{
		SELECT string_agg(format('%s,%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
		                         open, high, low, close, volume), E'\\n' ORDER BY ts)
		  FROM $view WHERE source = 'fake' AND symbol = 'BTCUSDT'});
	is(scalar(@{ $doc->{bars} }) . ' ' . join("\n", bars_rows($r->{content})), "$n $expected",
		"/api/bars $iv: the $n bars of $view");
}
is($doc->{interval}, '1h', '/api/bars: 60m is named 1h');

($r, $doc) = get('api/bars?source=fake&symbol=BTCUSDT&interval=30m&from=2022-12-13T00:00:00Z&to=2022-12-14T00:00:00Z');
is(join("\n", bars_rows($r->{content})), $node->safe_psql('postgres', q{
	SELECT string_agg(format('%s,%s,%s,%s,%s,%s', (extract(epoch FROM ts) * 1000)::bigint,
	                         open, high, low, close, volume), E'\n' ORDER BY ts)
	  FROM sync_resample('fake', 'BTCUSDT', '30 minutes', '2022-12-13', '2022-12-14')}),
	'/api/bars 30m: sync_resample()\'s 48 bars');
is(scalar @{ $doc->{bars} }, 48, '/api/bars 30m: 48 bars');

($r, $doc) = get('api/bars?source=fake&symbol=BTCUSDT&interval=1d&session=xnys&from=2022-12-13T00:00:00Z&to=2022-12-14T00:00:00Z');
is($doc->{session}, 'XNYS', '/api/bars session: named in upper case');
is_deeply([ map { $_->{ts} } @{ $doc->{bars} } ], ['2022-12-13T14:30:00+00:00'],
	'/api/bars session=XNYS 1d: the trading day, at the open');

($r, $doc) = get('api/bars?source=fake&symbol=BTCUSDT');
ok($r->{status} == 200 && @{ $doc->{bars} } == 0, '/api/bars without from/to: the last 24 hours (no bars there)');
my ($fy, $fm, $fd, $fH, $fM, $fS) = $doc->{from} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)/;
my ($ty, $tm, $td, $tH, $tM, $tS) = $doc->{to} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)/;
is(timegm($tS, $tM, $tH, $td, $tm - 1, $ty) - timegm($fS, $fM, $fH, $fd, $fm - 1, $fy), 86400,
	'/api/bars: from defaults to 24 hours before to');

# --- /api/trades
($r, $doc) = get('api/trades?source=fake&symbol=TRD&from=2022-12-13&to=2022-12-14');
is($r->{status}, 200, '/api/trades: 200');
is_deeply([ sort keys %$doc ], [ sort qw(source symbol from to trades truncated) ], '/api/trades: its keys');
like($r->{content}, qr/^\{.*"trades" : \[\{"ts":"2022-12-13T00:00:01\+00:00","trade_id":"1","price":17208.86,"size":0.5,"side":"buy"\}, \s*\{"ts":"2022-12-13T00:00:02.5\+00:00","trade_id":"2","price":17209.1,"size":0.25,"side":"sell"\}, \s*\{"ts":"2022-12-13T00:00:03\+00:00","trade_id":"3","price":17210.000,"size":1,"side":null\}\]/s,
	'/api/trades: ascending, digits as stored (17210.000), side null when unknown');
($r, $doc) = get('api/trades?source=fake&symbol=TRD&from=2022-12-13&to=2022-12-14&limit=2');
ok($doc->{truncated} && @{ $doc->{trades} } == 2, '/api/trades limit=2: two, truncated');

# --- 400: each parameter, named
for my $case (
	[ 'api/bars?symbol=BTCUSDT', 'source', 'missing' ],
	[ 'api/bars?source=nope&symbol=BTCUSDT', 'source', 'unknown source' ],
	[ 'api/bars?source=no%20such&symbol=BTCUSDT', 'source', 'unknown source' ],
	[ 'api/bars?source=fake', 'symbol', 'missing' ],
	[ 'api/bars?source=fake&symbol=%01', 'symbol', 'control character' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&interval=7x', 'interval', 'unknown unit' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&interval=0m', 'interval', 'zero' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&interval=1mo', 'interval', 'months' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&from=yesterday%3Bdrop', 'from', 'bad characters' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&from=garbage', 'from', 'not a time' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&from=2022-13-45', 'from', 'out of range' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&from=2022-12-13&to=2022-02-30', 'to', 'no such day' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&from=2022-12-14&to=2022-12-13', 'from', 'after to' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&limit=0', 'limit', 'zero' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&limit=-5', 'limit', 'negative' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&limit=ten', 'limit', 'not a number' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&session=NOPE', 'session', 'unknown session' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&session=XNYS&interval=2d', 'interval', 'longer than a session day' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&colour=red', 'colour', 'unknown parameter' ],
	[ 'api/bars?source=fake&symbol=BTCUSDT&symbol=ETH', 'symbol', 'given twice' ],
	[ 'api/bars?source=fake&symbol=%zz', 'symbol', 'bad escape' ],
	[ 'api/trades?source=fake&symbol=TRD&to=nonsense', 'to', 'not a time' ],
	[ 'api/trades?source=fake&symbol=TRD&interval=1m', 'interval', 'not a trades parameter' ],
	[ 'api/status?source=nope', 'source', 'unknown source' ],
	[ 'api/events?source=nope', 'source', 'unknown source' ],
	[ 'health?verbose=1', 'verbose', 'unknown parameter' ])
{
	my ($path, $param, $why) = @$case;
	($r, $doc) = get($path);
	is($r->{status} . ' ' . ($doc->{parameter} // 'null'), "400 $param", "400 naming $param ($why): /$path");
	ok(defined $doc->{error} && length $doc->{error}, "... with an error message: " . ($doc->{error} // 'none'));
}
($r, $doc) = get('api/bars?source=fake&symbol=BTCUSDT&from=garbage');
like($doc->{error}, qr/invalid input syntax for type timestamp with time zone/, 'a bad time: PostgreSQL\'s own message');

# --- 404, 405, HEAD
($r, $doc) = get('nope');
is_deeply([ $r->{status}, $doc->{error} ], [ 404, 'not found' ], '404 JSON for an unknown route');
($r, $doc) = get('api/nope');
is($r->{status}, 404, '404 for an unknown /api route');
($r, $doc) = get('api/status', method => 'POST');
is_deeply([ $r->{status}, $r->{headers}{allow} ], [ 405, 'GET, HEAD' ], '405 with Allow for POST');
($r, $doc) = get('api/status', method => 'DELETE');
is($r->{status}, 405, '405 for DELETE');
($r) = get('api/status', method => 'HEAD');
is_deeply([ $r->{status}, $r->{content} // '' ], [ 200, '' ], 'HEAD: 200 without a body');

# --- the dashboard's files and nothing else
($r) = get('');
is_deeply([ $r->{status}, $r->{headers}{'content-type'}, $r->{content} ],
	[ 200, 'text/html; charset=utf-8', "<html>sync dashboard</html>\n" ], 'GET /: index.html');
($r) = get('static/app.js?v=3');
is_deeply([ $r->{status}, $r->{headers}{'content-type'} ], [ 200, 'text/javascript; charset=utf-8' ],
	'/static/app.js: served as JavaScript (the query string ignored)');
($r) = get('static/notes.txt');
is($r->{status}, 404, '/static/notes.txt: a type not served is 404');

# raw request lines: no client normalizes the path first
sub raw_get
{
	my ($target) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => $url =~ m{//([^/]+)/} && $1, Timeout => $WAIT_S) or die "connect: $!";
	print $s "GET $target HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	local $/;
	my $answer = <$s>;
	close $s;
	return $answer // '';
}
for my $target ('/static/../outside.js', '/static/..%2foutside.js', '/static/%2e%2e%2foutside.js',
	'/static/../../../../../../etc/passwd', '/static/..%2f..%2f..%2f..%2fetc%2fpasswd', '/static/.%2e/outside.js',
	'/static//etc/passwd', '/static/%2fetc%2fpasswd', '/static/app.js%00.html', '/../outside.js', '/static/',
	'/%2e%2e/outside.js')
{
	my $answer = raw_get($target);
	like($answer, qr{^HTTP/1\.1 (404|400) }, "$target: refused");
	unlike($answer, qr/SECRET OUTSIDE|root:/, "$target: nothing from outside the directory");
}

# a server without its dashboard still serves the API, and says where it looked
my ($bare, $bare_url, $bare_err) = start_serve('--dashboard', "$dir/no-such-dir", '--connections', '1');
$r = $http->get($bare_url);
is($r->{status}, 404, 'no dashboard: / is 404');
like($r->{content}, qr{"error": "the dashboard is not installed: no index.html in \Q$dir\E/no-such-dir}, '... saying where it looked');
like($$bare_err, qr/warning: no dashboard in \Q$dir\E\/no-such-dir/, '... and the log says so at start');
is($http->get("${bare_url}api/status")->{status}, 200, '... the API works');

# its one database connection busy with a query that runs into --statement-timeout
# (millions of session days): a probe does not wait for it, the query is cut
my $long_out = '';
my $long = IPC::Run::start([ 'curl', '-s', '--max-time', $WAIT_S,
		"${bare_url}api/bars?source=fake&symbol=BTCUSDT&interval=1d&session=XNYS&from=0001-01-01&to=9999-12-31" ],
	'>', \$long_out);
push @harnesses, $long;
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE state = 'active' AND query LIKE '%make_interval(mins =>%' AND pid <> pg_backend_pid()}),
	'a long query holds the only connection');
$r = $http->get("${bare_url}health");
is($r->{status}, 503, '/health with every connection busy: 503 (after waiting 1 s, not for the query)');
like($r->{content}, qr/"component": "database", "status": "down", "detail": "every database connection of pg_sync serve is busy"/,
	'... saying the connections are busy');
$long->finish;
like($long_out, qr/^\{"error": "the query ran longer than the statement timeout \(5000 ms\)", "parameter": null\}$/,
	'the long query: 503 after --statement-timeout');
is($http->get("${bare_url}health")->{status}, 200, 'the connection is free again');
$bare->signal('TERM');
$bare->finish;
is(($bare->full_results)[0], 0, 'SIGTERM: exit status 0');

# --- /api/events
# A client on a raw socket: read() collects the stream until a pattern.
sub sse_open
{
	my ($path) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => $url =~ m{//([^/]+)/} && $1, Timeout => $WAIT_S) or die "connect: $!";
	print $s "GET /$path HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
	return { sock => $s, buf => '' };
}

sub sse_read_until
{
	my ($c, $re) = @_;
	my $sel = IO::Select->new($c->{sock});
	my $deadline = time + $WAIT_S;
	while ($c->{buf} !~ $re && time < $deadline)
	{
		next unless $sel->can_read(1);
		my $n = sysread($c->{sock}, my $chunk, 65536);
		last unless $n;
		$c->{buf} .= $chunk;
	}
	return $c->{buf} =~ $re;
}

my $all = sse_open('api/events');
my $ada = sse_open('api/events?symbol=ADABTC');
ok(sse_read_until($all, qr/\r\n\r\n.*\n\n/s), '/api/events: the stream opens');
like($all->{buf}, qr{^HTTP/1\.1 200 .*\r\nContent-Type: text/event-stream\r\n}si, '/api/events: 200 text/event-stream');
ok(sse_read_until($all, qr/event: status\ndata: (\{[^\n]*"symbol":"BTCUSDT"[^\n]*\})\n\n/), 'first events: every series\' status');
my ($first_status) = $all->{buf} =~ /event: status\ndata: (\{[^\n]*"symbol":"BTCUSDT"[^\n]*\})\n\n/;
is(eval { $json->decode($first_status)->{phase} }, $node->safe_psql('postgres',
	q{SELECT phase FROM sync_status() WHERE symbol = 'BTCUSDT'}), '... with the series\' phase');

# a client that goes away in the middle of the stream
my $gone = sse_open('api/events');
sse_read_until($gone, qr/\n\n/);
close $gone->{sock};

# a new series: its status appears, then its first page's notification
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('fake', ARRAY['ADABTC'], history_from => '2021-11-27 00:00+00', realtime => false)});
ok(sse_read_until($all, qr/event: bars\ndata: (\{[^\n]*"symbol": "ADABTC"[^\n]*\})\n\n/),
	'event: bars after a page of ADABTC is stored');
my ($bars_event) = $all->{buf} =~ /event: bars\ndata: (\{[^\n]*"symbol": "ADABTC"[^\n]*\})\n\n/;
my $note = eval { $json->decode($bars_event) };
ok($note && $note->{source} eq 'fake' && $note->{rows} > 0 && $note->{interval} eq '00:01:00',
	"... the notification's payload unchanged: $bars_event");
ok(sse_read_until($all, qr/event: status\ndata: \{[^\n]*"symbol":"ADABTC"[^\n]*\}\n\n/),
	'event: status for the new series');
ok(sse_read_until($ada, qr/event: bars\ndata: \{[^\n]*"symbol": "ADABTC"/), '?symbol=ADABTC: its bars event too');
unlike($ada->{buf}, qr/"symbol":"BTCUSDT"/, '?symbol=ADABTC: no other series\' status');

# whatever a payload holds, it is one event (NOTIFY is open to any role)
$node->safe_psql('postgres', q{NOTIFY sync_trades, E'{"source": "fake", "symbol": "X"}\n\nevent: forged\ndata: gotcha'});
ok(sse_read_until($all, qr/event: trades\ndata: \{"source": "fake", "symbol": "X"\}\ndata: \ndata: event: forged\ndata: data: gotcha\n\n/),
	'a payload with line breaks: more data lines of one event, never a forged one');
unlike($all->{buf}, qr/^event: forged/m, '... no "event: forged" line');
is($http->get("${url}health")->{status}, 200, 'the server serves after a client left mid-stream');

# a client that stops reading is dropped, not waited for; the others go on
my $fast_file = "$dir/fast.sse";
my $fast = IPC::Run::start([ 'curl', '-sN', '--max-time', $WAIT_S * 2, "${url}api/events?source=fake" ],
	'>', $fast_file);
push @harnesses, $fast;
my $slow = IO::Socket::INET->new(PeerAddr => $url =~ m{//([^/]+)/} && $1) or die "connect: $!";
setsockopt($slow, SOL_SOCKET, SO_RCVBUF, 4096);
print $slow "GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n";
my $deadline = time + $WAIT_S;
sleep 1 while time < $deadline && !(-s $fast_file && PostgreSQL::Test::Utils::slurp_file($fast_file) =~ /connected/);
# more than the slow client's socket buffers can hold (their largest
# size, tcp_wmem's third field, plus our 1 MB queue), and at least 10 MB
my ($wmem_max) = (eval { PostgreSQL::Test::Utils::slurp_file('/proc/sys/net/ipv4/tcp_wmem') } // '0 0 4194304') =~ /(\d+)\s*$/;
my $rounds = 25;
$rounds = int(($wmem_max + 4 * 1024 * 1024) / 400_000) + 1 if $rounds * 400_000 < $wmem_max + 4 * 1024 * 1024;
for my $k (1 .. $rounds)
{
	$node->safe_psql('postgres', q{
		SELECT count(pg_notify('sync_trades', json_build_object('source', 'fake', 'symbol', 'FLOOD', 'i', i,
		                                                        'pad', repeat('x', 4000))::text))
		  FROM generate_series(1, 100) i});
}
$node->safe_psql('postgres', q{NOTIFY sync_trades, '{"source": "fake", "symbol": "FLOOD", "last": true}'});
$deadline = time + $WAIT_S;
sleep 1 while time < $deadline && PostgreSQL::Test::Utils::slurp_file($fast_file) !~ /"last": true/;
my $fast_text = PostgreSQL::Test::Utils::slurp_file($fast_file);
is(scalar(() = $fast_text =~ /"symbol" : "FLOOD", "i" : \d+/g), 100 * $rounds,
	"a reading client got all @{[ 100 * $rounds ]} events of 4 kB");
like($fast_text, qr/"last": true/, '... and the one after them');
$deadline = time + $WAIT_S;
$serve->pump_nb, sleep 1 while time < $deadline && $$serve_err !~ /dropped an event-stream client that read too slowly/;
like($$serve_err, qr/dropped an event-stream client that read too slowly/, 'the client that stopped reading was dropped');
my $rss = peak_rss_kb($serve->{KIDS}[0]{PID});
ok(defined $rss && $rss < 64 * 1024, "peak memory of the server stays bounded: @{[ $rss // '?' ]} kB for @{[ 4 * $rounds / 10 ]} MB of events");
close $slow;
$fast->kill_kill;

# --- the database restarts: the pool connects again
$node->restart;
($r, $doc) = get('api/status');
is($r->{status}, 200, 'after a database restart, the next request is answered (the pool reconnects)');

# --- /health 503 when a source is down
fake_fault($fake, kind => '500', count => 1000, symbol => 'ADAUSDT');
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('fake', ARRAY['ADAUSDT'], history_from => '2022-12-13', realtime => false)});
wait_for($node, q{SELECT status FROM sync_health() WHERE component = 'source fake'}, 'down', 'the source fails: down');
($r, $doc) = get('health');
is_deeply([ $r->{status}, $doc->{status} ], [ 503, 'down' ], '/health: 503, status down');
ok(grep({ $_->{component} eq 'source fake' && $_->{status} eq 'down' } @{ $doc->{components} }),
	'/health: names the source that is down');
($r, $doc) = get('api/health');
is_deeply([ $r->{status}, $doc->{status} ], [ 200, 'down' ], '/api/health: 200 with status down');

# --- listening elsewhere than loopback needs --allow-remote
my ($out, $err) = ('', '');
IPC::Run::run([ 'pg_sync', 'serve', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
		'--listen', '0.0.0.0:0' ], '>', \$out, '2>', \$err);
is($? >> 8, 3, 'a non-loopback --listen without --allow-remote: exit status 3');
like($err, qr/refusing to listen on 0\.0\.0\.0:0: not a loopback address.*--allow-remote/, '... saying why');
IPC::Run::run([ 'pg_sync', 'serve', '--listen', 'example.com:80' ], '>', \$out, '2>', \$err);
is($? >> 8, 3, 'a host name other than localhost is refused (exit 3)');
my ($remote, $remote_url, $remote_err) = start_serve('--listen', '0.0.0.0:0', '--allow-remote');
like($remote_url, qr{^http://0\.0\.0\.0:\d+/$}, 'with --allow-remote it listens on the address given');

# without --dashboard: the installation's share directory, found from the
# binary's path (this installation is a relocated copy: pg_config says where)
my $share = `pg_config --sharedir`;
chomp $share;
(my $local_url = $remote_url) =~ s{0\.0\.0\.0}{127.0.0.1};
if (-f "$share/sync_dashboard/index.html")
{
	is($http->get($local_url)->{status}, 200, "the default dashboard: $share/sync_dashboard");
}
else
{
	like($$remote_err, qr/no dashboard in \Q$share\E\/sync_dashboard /,
		"the default dashboard directory: $share/sync_dashboard (not installed here)");
}
$remote->signal('TERM');
$remote->finish;

# --- SIGTERM: streams end, the program exits 0
my $last = sse_open('api/events');
sse_read_until($last, qr/connected/);
$serve->signal('TERM');
$serve->finish;
is(($serve->full_results)[0], 0, 'SIGTERM with a stream open: exit status 0');
ok(sse_read_until($last, qr/\r\n0\r\n\r\n/), '... the stream ended (the last chunk sent)')
  or diag("the stream: $last->{buf}");
unlike($$serve_err, qr/http: |query failed/, 'no HTTP or query error logged: ' . ($$serve_err =~ /(.*(?:http: |query failed).*)/ ? $1 : 'none'));

$node->stop;
done_testing();
