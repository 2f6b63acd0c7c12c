# The dashboard in a real browser: `pg_sync serve` in front of a node that
# syncs real bars, and headless Chromium (Debian's chromium) driven over
# the DevTools protocol by test/dashboard/cdp.js.
#  - the page loads with no console error, no exception, no failed request;
#  - the status table has a row per series of sync_status(), the badge says
#    what /api/health says, the totals (rejects, gaps, rows) what
#    /api/status sums (a broken bar in a day file makes a reject);
#  - for every interval choice (1m 5m 15m 1h 1d, session days) the chart
#    draws as many candles (and volume bars) as /api/bars returns for the
#    range the page asked for, read from the chart library itself;
#  - a day file published while the page is open (the csv provider stores
#    it, NOTIFY, /api/events) appears on the chart without a reload;
#  - a series chosen with the keyboard (its button, Enter) is charted;
#  - a stream of trades (the fake's LIVEUSDT) sends trades events, and its
#    5-minute bars (the rollups') are charted;
#  - after `pg_sync serve` restarts, the page reconnects its event stream
#    and live bars appear again;
#  - a screenshot of the page is saved (tmp_check/dashboard.png; the one in
#    docs/images/dashboard.png comes from such a run).
#
# The data: BTCUSDT's real minute bars of 2022-12-13 (test/data), moved to
# the last two days so that a day file not yet published is "not yet" (a
# day long past without a file would be a hole), from a csv source on
# file://; AIG's real minute bars of five days of October 2013 from the
# fake provider speaking Alpaca (a series whose data ends long before its
# synced_through: the page finds where its data ends); live trades.
#
# No assertion is on timing: each wait is generous and only says what it
# waited for.  Skipped, saying why, when chromium, node, the dashboard's npm
# packages or the serve command are missing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;
use File::Spec;
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use POSIX qw(strftime floor);

my $root = "$FindBin::Bin/../..";
my $chromium = $ENV{CHROMIUM} // '/usr/bin/chromium';
plan skip_all => "no chromium at $chromium (Debian package chromium)" unless -x $chromium;
plan skip_all => 'no node (Node.js) to drive chromium' unless system('node --version >/dev/null 2>&1') == 0;
plan skip_all => "the dashboard's npm packages are not installed (npm ci --prefix dashboard)"
  unless -f "$root/dashboard/node_modules/ws/package.json";
plan skip_all => '`pg_sync serve --help` fails: this build has no serve command'
  unless system('pg_sync serve --help >/dev/null 2>&1') == 0;

my $WAIT_MS = 90_000;    # longest wait for the page, generous for a loaded machine
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
my $dashboard = "$sharedir/sync_dashboard";
ok(-f "$dashboard/$_", "installed: sync_dashboard/$_")
  for qw(index.html style.css format.js app.js lightweight-charts.standalone.production.js);

# --- the browser, started first: it takes seconds, the node's set-up meanwhile
my ($in, $out, $err) = ('', '', '');
my $timer = IPC::Run::timeout(180);
my $browser;
{
	# a sanitizer run (scripts/test.sh, SYNC_SANITIZE) preloads its runtime
	# for the servers and pg_sync: not for node and chromium
	local %ENV = %ENV;
	delete @ENV{qw(LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS)};
	$browser = IPC::Run::start([ 'node', "$root/test/dashboard/cdp.js", '--chromium', $chromium ],
		'<', \$in, '>', \$out, '2>', \$err, $timer);
}
END { $browser->kill_kill if $browser; }
my $cdp_id = 0;

sub cdp_line
{
	$timer->start(180);
	$browser->pump while $out !~ /\n/;
	$out =~ s/^([^\n]*)\n//;
	return decode_json($1);
}

# one command; dies with its error unless $soft
sub cdp
{
	my ($op, %args) = @_;
	my $soft = delete $args{soft};
	$in .= encode_json({ %args, op => $op, id => ++$cdp_id }) . "\n";
	my $r = cdp_line();
	die "cdp $op: $r->{error}" unless $r->{ok} || $soft;
	return $soft ? $r : $r->{value};
}
sub js { return cdp('eval', expr => $_[0]); }
sub page_wait { return cdp('wait', expr => $_[0], timeout_ms => $_[1] // $WAIT_MS, soft => 1); }

# --- the data
my $www = File::Spec->rel2abs(PostgreSQL::Test::Utils::tempdir());    # file:// wants it absolute
my $today = floor(time() / 86400) * 86400;
sub day { return $today - $_[0] * 86400; }
sub date { return strftime('%Y-%m-%d', gmtime($_[0])); }
sub ts { return strftime('%Y-%m-%d %H:%M:%S+00', gmtime($_[0])); }

# BTCUSDT's day from 12:00 of two days ago: its first half makes that
# day's file, its second half yesterday's
my %file;
for my $row (btcusdt_rows())
{
	my ($ms, $o, $h, $l, $c, $v) = split /,/, $row;
	my $t = day(2) * 1000 + 43_200_000 + ($ms - 1670889600000);
	my $quote = sprintf('%.8f', $v * ($o + $h + $l + $c) / 4);
	push @{ $file{ date(floor($t / 86_400_000) * 86400) } },
	  join(',', $t, $o, $h, $l, $c, $v, $t + 59_999, $quote, 0, 0, 0, 0);
}
# a day file; with $bad, a broken copy (low above high) of one of its bars
# follows that bar: a reject.  Returns the number of good bars.
sub publish
{
	my ($day, $bad) = @_;
	my @lines = @{ $file{ date($day) } };
	if ($bad)
	{
		my @f = split /,/, $lines[100];
		@f[ 2, 3 ] = ($f[3] - 1, $f[2] + 1);
		splice(@lines, 101, 0, join(',', @f));
	}
	my $name = "BTCUSDT-1m-" . date($day) . ".csv";
	open(my $fh, '>', "$www/$name.tmp") or die "$name: $!";
	print $fh map { "$_\n" } @lines;
	close $fh;
	rename("$www/$name.tmp", "$www/$name") or die "rename: $!";
	return scalar @{ $file{ date($day) } };
}

my $fake = start_fake('--live', 'LIVEUSDT:5');
(my $ws = $fake) =~ s/^http/ws/;
my $node = sync_node('dashboard');
$node->append_conf('postgresql.conf', "sync.notify_interval_ms = 200\n");
$node->reload;
my $first = publish(day(2), 1);
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('alp', 'alpaca', '$fake', credentials => '{"key_id": "AK", "secret": "SK"}');
	SELECT sync_add_source('live', 'binance', '$fake', stream_url => '$ws');
	-- a missing file is asked for again after the poll interval, doubling
	SELECT sync_add_source('files', 'csv', 'file://$www', options => '{"poll_interval_ms": 100}');
	SELECT sync_subscribe('alp', ARRAY['AIG'], history_from => '2013-10-07 00:00+00', realtime => false);
	SELECT sync_subscribe('live', ARRAY['LIVEUSDT'], 'trades', history_from => now() - interval '1 minute');
	SELECT sync_subscribe('files', ARRAY['BTCUSDT'], history_from => '@{[ ts(day(2)) ]}', realtime => false);
	SELECT sync_start()});
wait_for($node, q{SELECT count(*) FROM sync.bars WHERE source = 'files' AND symbol = 'BTCUSDT'}, $first,
	"BTCUSDT: the published day stored ($first bars)");
wait_for($node, q{SELECT phase FROM sync_status() WHERE symbol = 'AIG'}, 'idle', 'AIG: backfilled');
wait_for($node, q{SELECT phase FROM sync_status() WHERE symbol = 'LIVEUSDT'}, 'realtime', 'LIVEUSDT: trades stream');
wait_for($node, q{SELECT count(*) FROM sync.rejects WHERE symbol = 'BTCUSDT'}, '1', 'BTCUSDT: the broken bar rejected');
wait_for($node, q{SELECT last_error LIKE 'waiting: file for % not published yet%' FROM sync.subscriptions WHERE symbol = 'BTCUSDT'},
	't', 'BTCUSDT: waits for the next day file');

# --- pg_sync serve
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $base = "http://127.0.0.1:$port";
my $serve;
sub start_serve
{
	my $log = "$PostgreSQL::Test::Utils::tmp_check/serve.log";
	$serve = IPC::Run::start([ 'pg_sync', 'serve', '--listen', "127.0.0.1:$port", '--dashboard', $dashboard,
			'-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
		'<', \undef, '>>', $log, '2>>', $log);
	for (1 .. 300)
	{
		my $r = HTTP::Tiny->new(timeout => 2)->get("$base/api/health");
		return 1 if $r->{status} == 200;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}
ok(start_serve(), 'pg_sync serve answers /api/health');
END { $serve->kill_kill if $serve; }

sub api
{
	my ($path) = @_;
	my $r = HTTP::Tiny->new(timeout => 30)->get("$base$path");
	die "GET $path: $r->{status} $r->{content}" unless $r->{success};
	return decode_json($r->{content});
}

my $hello = cdp_line();
ok($hello->{ready}, 'chromium runs under the DevTools protocol') or diag($hello->{error} . "\n$err");
note("browser: $hello->{version}") if $hello->{ready};

cdp('navigate', url => "$base/#source=files&symbol=BTCUSDT&interval=1m");
my $r = page_wait('window.syncDashboard && syncDashboard.statusLoaded() && syncDashboard.idle() && syncDashboard.connected()');
ok($r->{ok}, 'the page loads, charts and listens to /api/events') or diag($r->{error});

# --- status table and health
my $status = api('/api/status');
my $sql_rows = $node->safe_psql('postgres', 'SELECT count(*) FROM sync_status()');
is(scalar @{ $status->{series} }, $sql_rows, '/api/status: a row per series of sync_status()');
page_wait("syncDashboard.tableRows() === $sql_rows", 20_000);
is(js('syncDashboard.tableRows()'), $sql_rows, 'the status table has a row per series');
my $health = api('/api/health');
page_wait(qq{document.getElementById('health-badge').dataset.status === '$health->{status}'}, 20_000);
is(js(q{document.getElementById('health-badge').dataset.status}), $health->{status},
	"the health badge says what /api/health says ($health->{status})");

# the totals: what /api/status says, summed
my %sum;
for my $row (@{ $status->{series} })
{
	$sum{rejects} += $row->{rows_rejected};
	$sum{gaps} += $row->{gaps};
	$sum{rows} += $row->{rows_stored};
}
ok($sum{rejects} >= 1, "/api/status counts the reject ($sum{rejects})");
for my $what (qw(rejects gaps))
{
	page_wait(qq{document.getElementById('total-$what').textContent.replace(/,/g, '') === '$sum{$what}'}, 20_000);
	(my $text = js(qq{document.getElementById('total-$what').textContent})) =~ s/,//g;
	is($text, $sum{$what}, "the $what card says what /api/status says ($sum{$what})");
}
# rows grow while the stream runs: at least what /api/status said, once the page asked again
page_wait(qq{Number(document.getElementById('total-rows').textContent.replace(/,/g, '')) >= $sum{rows}}, 30_000);
(my $rows = js(q{document.getElementById('total-rows').textContent})) =~ s/,//g;
cmp_ok($rows, '>=', $sum{rows}, "the rows card says what /api/status says or more ($rows)");

# --- the chart, interval by interval: as many candles as the API returns
sub api_bars_count
{
	my $rg = js('syncDashboard.range()');
	my $q = join('&', map { "$_=$rg->{$_}" } grep { defined $rg->{$_} } qw(source symbol interval from to session));
	my $body = api("/api/bars?$q");
	return (scalar @{ $body->{bars} }, $rg);
}

my %drawn;
for my $choice (qw(1m 5m 15m 1h 1d 1d-XNYS))
{
	js(qq{(() => { const s = document.getElementById('interval-select'); s.value = '$choice';
	               s.dispatchEvent(new Event('change')); return true; })()});
	$r = page_wait("syncDashboard.idle() && syncDashboard.range().choice === '$choice'");
	ok($r->{ok}, "$choice: the chart loaded") or diag($r->{error});
	my ($n, $rg) = api_bars_count();
	is(js('syncDashboard.candleCount()'), $n, "$choice: as many candles as /api/bars returns ($n, $rg->{from} to $rg->{to})");
	is(js('syncDashboard.volumeCount()'), $n, "$choice: as many volume bars");
	$drawn{$choice} = $n;
}
is($drawn{'1m'}, $first, '1m: the chart holds every bar of the stored day');

# --- a live bar: yesterday's file is published while the page is open
js(q{(() => { const s = document.getElementById('interval-select'); s.value = '1m';
              s.dispatchEvent(new Event('change')); window.notReloaded = true; return true; })()});
page_wait(q{syncDashboard.idle() && syncDashboard.range().choice === '1m'});
my $before = js('syncDashboard.candleCount()');
my $second = publish(day(1));
wait_for($node, q{SELECT count(*) FROM sync.bars WHERE source = 'files' AND symbol = 'BTCUSDT'}, $first + $second,
	"BTCUSDT: the day published later stored ($second bars)");
$r = page_wait("syncDashboard.idle() && syncDashboard.candleCount() >= $before + $second");
ok($r->{ok}, "live: $second new candles appear") or diag($r->{error} . ' events: ' . encode_json(js('syncDashboard.events()')));
ok(js('window.notReloaded === true'), 'live: without a reload');
ok(js('syncDashboard.events().bars') > 0, 'live: brought by a bars event');
my ($n) = api_bars_count();
is(js('syncDashboard.candleCount()'), $n, "live: as many candles as /api/bars returns now ($n)");

# --- the keyboard: another series' button, Enter
js(q{document.querySelector('button.symbol[aria-label="chart alp AIG"]').focus(), true});
cdp('key', key => 'Enter');
$r = page_wait(q{syncDashboard.idle() && syncDashboard.range().symbol === 'AIG'}, 20_000);
ok($r->{ok}, 'keyboard: Enter on a series button charts it') or diag($r->{error});
($n) = api_bars_count();
ok($n > 0, "keyboard: the chart found AIG's data, years before its synced_through ($n bars)");
is(js('syncDashboard.candleCount()'), $n, 'keyboard: as many candles as /api/bars returns');

# AIG trades on NYSE: one session day a file of its minute bars
my $days = () = glob("$root/test/data/aig_minute_trade_*.csv");
js(q{(() => { const s = document.getElementById('interval-select'); s.value = '1d-XNYS';
              s.dispatchEvent(new Event('change')); return true; })()});
page_wait(q{syncDashboard.idle() && syncDashboard.range().choice === '1d-XNYS'});
($n) = api_bars_count();
is($n, $days, "session days: /api/bars gives AIG's $days trading days");
is(js('syncDashboard.candleCount()'), $n, 'session days: as many candles');

# --- a series of trades: its trades events come, its bars are the rollups'
$r = page_wait('syncDashboard.events().trades > 0', 30_000);
ok($r->{ok}, 'trades events arrive from the stream') or diag($r->{error});
js(q{(() => { const s = document.getElementById('series-select'); s.value = 'live\u0001LIVEUSDT';
              s.dispatchEvent(new Event('change'));
              const i = document.getElementById('interval-select'); i.value = '5m';
              i.dispatchEvent(new Event('change')); return true; })()});
page_wait(q{syncDashboard.idle() && syncDashboard.range().symbol === 'LIVEUSDT' && syncDashboard.range().choice === '5m'});
($n) = api_bars_count();
is(js('syncDashboard.candleCount()'), $n, "trades: as many 5-minute candles as /api/bars returns ($n)");
# --- the screenshot: the live series again, 5-minute bars
js(q{(() => { document.activeElement.blur();
              const i = document.getElementById('interval-select'); i.value = '5m';
              i.dispatchEvent(new Event('change'));
              const s = document.getElementById('series-select'); s.value = 'files\u0001BTCUSDT';
              s.dispatchEvent(new Event('change')); return true; })()});
page_wait(q{syncDashboard.idle() && syncDashboard.range().symbol === 'BTCUSDT' && syncDashboard.range().choice === '5m'
            && syncDashboard.candleCount() > 0});
select(undef, undef, undef, 1.0);    # the table's next refresh and the chart's paint
my $shot = "$PostgreSQL::Test::Utils::tmp_check/dashboard.png";
my $size = cdp('screenshot', path => $ENV{SYNC_DASHBOARD_SCREENSHOT} // $shot);
ok(-s ($ENV{SYNC_DASHBOARD_SCREENSHOT} // $shot), "screenshot saved ($size->{width}x$size->{height})");

my $problems = cdp('problems', clear => 1);
is_deeply($problems, [], 'no console error, exception or failed request')
  or diag(join("\n", @$problems));

# --- the server restarts: the page reconnects and goes on
my $reconnects = js('syncDashboard.events().reconnects');
$serve->signal('TERM');
$serve->finish;
ok(start_serve(), 'pg_sync serve restarted on the same port');
$r = page_wait("syncDashboard.connected() && syncDashboard.events().reconnects > $reconnects && syncDashboard.idle()");
ok($r->{ok}, 'restart: the page reconnected its event stream') or diag($r->{error});
# today's first minutes (those that are over), the day before's first bars moved
my $minutes = floor((time() - $today) / 60) - 1;
$minutes = 30 if $minutes > 30;
SKIP:
{
	skip 'the UTC day is less than two minutes old: no bar of today is over', 2 if $minutes < 1;
	$file{ date(day(0)) } = [ map { my @f = split /,/; $f[0] += 86_400_000 * 2 - 43_200_000; $f[6] = $f[0] + 59_999; join(',', @f) }
		  @{ $file{ date(day(2)) } }[ 0 .. $minutes - 1 ] ];
	$before = js('syncDashboard.candleCount()');
	my $third = publish(day(0));
	$r = page_wait("syncDashboard.idle() && syncDashboard.candleCount() > $before");
	ok($r->{ok}, "restart: live bars appear again ($third minutes of today)") or diag($r->{error});
	($n) = api_bars_count();
	is(js('syncDashboard.candleCount()'), $n, "restart: as many candles as /api/bars returns ($n)");
}
ok(js('window.notReloaded === true'), 'restart: still without a reload');
cdp('problems', clear => 1);    # the outage's failed requests were expected

cdp('quit');
$browser->finish;
undef $browser;
done_testing();
