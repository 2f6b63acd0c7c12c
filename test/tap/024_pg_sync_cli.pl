# pg_sync, the command-line client (issue 13): every command against a node
# with the fake provider, the bad arguments and their exit statuses (0 fine,
# 1 failed or degraded, 2 down or no server, 3 wrong usage), export equal to
# the views, tail printing a bar that lands, config showing and setting, and
# status --watch redrawing in place under a terminal (tmux).
use strict;
use warnings;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

# --- the program itself, no server needed
program_help_ok('pg_sync');
program_version_ok('pg_sync');
program_options_handling_ok('pg_sync');

my @commands = qw(status health backfill source subscribe unsubscribe start stop tail export config);
for my $cmd (@commands)
{
	command_like([ 'pg_sync', $cmd, '--help' ], qr/Usage:\n  pg_sync $cmd/, "$cmd --help");
}
command_like([ 'pg_sync', '--help' ], qr/^  $_ /m, "pg_sync --help lists $_") for @commands;

# wrong usage: exit 3, with what was wrong and where to look
my @usage = (
	[ [qw(frobnicate)], qr/unknown command "frobnicate"/ ],
	[ [], qr/no command given/ ],
	[ [qw(status --bogus)], qr/unrecognized option/ ],
	[ [qw(status extra)], qr/too many arguments/ ],
	[ [qw(status --watch=0)], qr/--watch takes whole seconds/ ],
	[ [qw(health extra)], qr/too many arguments/ ],
	[ [qw(backfill fake)], qr/at least one SYMBOL/ ],
	[ [qw(backfill fake BTCUSDT --from 2022-12-13)], qr/--from and --to are required/ ],
	[ [qw(backfill fake BTCUSDT --from)], qr/requires an argument/ ],
	[ [qw(source)], qr/say add, list or drop/ ],
	[ [qw(source frob)], qr/unknown subcommand "frob"/ ],
	[ [qw(source add onlyname)], qr/takes NAME and PROVIDER/ ],
	[ [qw(source list --base-url x)], qr/those options are for source add/ ],
	[ [qw(source add a binance --credentials-file f --credentials-prompt)], qr/exclude each other/ ],
	[ [qw(source add a binance --credentials x)], qr/unrecognized option|ambiguous/ ],
	[ [qw(subscribe fake)], qr/at least one SYMBOL/ ],
	[ [qw(unsubscribe fake BTCUSDT --history-from 2022-12-13)], qr/Try "pg_sync unsubscribe --help"/ ],
	[ [qw(start now)], qr/too many arguments/ ],
	[ [qw(tail extra)], qr/too many arguments/ ],
	[ [qw(export fake)], qr/takes SOURCE and SYMBOL/ ],
	[ [qw(export fake BTCUSDT --to 2022-12-14)], qr/--from and --to are required/ ],
	[ [qw(export fake BTCUSDT --from 2022-12-13 --to 2022-12-14 --format xml)], qr/--format is csv or json/ ],
	[ [qw(config a b c)], qr/at most NAME and VALUE/ ],
	[ [qw(config a b --reset)], qr/--reset takes NAME and no VALUE/ ],);
for my $u (@usage)
{
	command_checks_all([ 'pg_sync', @{ $u->[0] } ], 3, [qr/^$/], [ $u->[1] ],
		"usage: pg_sync @{$u->[0]}");
}

# no server: exit 2, for every command that connects
my $nowhere = PostgreSQL::Test::Utils::tempdir_short();
for my $cmd ([qw(status)], [qw(health)], [qw(source list)], [qw(config)], [qw(tail)], [qw(start)])
{
	command_checks_all([ 'pg_sync', '-h', $nowhere, '-p', '1', @$cmd ], 2, [qr/^$/],
		[qr/connection to server .* failed/], "no server: pg_sync @$cmd");
}

# --- a node, sync running, the fake provider
my $fake = start_fake();
my $node = sync_node('cli');
my $tmp = PostgreSQL::Test::Utils::tempdir();

# the node's connection for the commands that are not node methods
sub in_node_env
{
	my ($code) = @_;
	local %ENV = $node->_get_env();
	return $code->();
}

sub run_pg_sync
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	my $in = ref $args[0] eq 'SCALAR' ? ${ shift @args } : '';
	in_node_env(sub { IPC::Run::run([ 'setsid', 'pg_sync', @args ], '<', \$in, '>', \$out, '2>', \$err) });
	return ($? >> 8, $out, $err);
}

$node->command_like([qw(pg_sync start)], qr/sync is running in database "postgres"/, 'start');
$node->command_like([qw(pg_sync health)], qr/^ok: all \d+ components$/m, 'health: ok, exit 0');

# sources
$node->command_like(
	[ qw(pg_sync source add fake binance --base-url), $fake,
		'--options', '{"page_size": 50, "requests_per_minute": 600}' ],
	qr/source "fake" added \(id \d+\)/, 'source add');
$node->command_checks_all([ qw(pg_sync source add fake binance --base-url), $fake ], 1, [qr/^$/],
	[qr/fake/], 'source add: a duplicate is refused (exit 1)');
$node->command_checks_all([qw(pg_sync source add x nosuchprovider)], 1, [qr/^$/],
	[qr/nosuchprovider/], 'source add: an unknown provider is refused with its name');

# credentials: a file only its owner reads, or a prompt; never argv
my $cred = "$tmp/cred.json";
PostgreSQL::Test::Utils::append_to_file($cred, '{"key_id": "KEY1", "secret": "SECRET-FROM-FILE"}');
chmod 0644, $cred;
$node->command_checks_all([ qw(pg_sync source add alp alpaca --credentials-file), $cred ], 1, [qr/^$/],
	[qr/credentials file ".*cred.json" has group or world access; permissions should be u=rw \(0600\) or less/],
	'credentials file readable by others: refused');
$node->command_checks_all([ qw(pg_sync source add alp alpaca --credentials-file), "$tmp/none.json" ], 1,
	[qr/^$/], [qr/could not open credentials file ".*none.json": No such file/],
	'credentials file missing: refused');
is($node->safe_psql('postgres', "SELECT count(*) FROM sync.sources WHERE name = 'alp'"), '0',
	'no source made by the refused attempts');
chmod 0600, $cred;
my $badcred = "$tmp/bad.json";
PostgreSQL::Test::Utils::append_to_file($badcred, '{"key_id": "KEY1", "secret": "CUT-SHORT-SECRET');
chmod 0600, $badcred;
my ($rc, $out, $err) = run_pg_sync(qw(source add alp alpaca --credentials-file), $badcred);
is($rc, 1, 'credentials file not JSON: refused (exit 1)');
like($err, qr/invalid input syntax for type json\n.*must be a JSON object/, 'credentials file not JSON: says so');
unlike($err, qr/CUT-SHORT/, 'credentials file not JSON: the error does not quote the secret');
$node->command_like([ qw(pg_sync source add alp alpaca --credentials-file), $cred ],
	qr/source "alp" added \(id \d+\), with credentials/, 'credentials file 0600: taken');
is($node->safe_psql('postgres', q{
	SELECT credentials FROM sync.source_secrets JOIN sync.sources s ON s.id = source_id WHERE s.name = 'alp'}),
	'{"key_id": "KEY1", "secret": "SECRET-FROM-FILE"}', 'the file\'s credentials are stored');
# setsid: no controlling terminal, so the prompt reads stdin
($rc, $out, $err) = run_pg_sync(\"KEY2\nSECRET-TYPED\n", qw(source add alp2 alpaca --credentials-prompt));
is($rc, 0, 'credentials prompt: exit 0');
is($node->safe_psql('postgres', q{
	SELECT credentials FROM sync.source_secrets JOIN sync.sources s ON s.id = source_id WHERE s.name = 'alp2'}),
	'{"key_id": "KEY2", "secret": "SECRET-TYPED"}', 'the typed credentials are stored');
($rc, $out, $err) = run_pg_sync(qw(source list));
is($rc, 0, 'source list: exit 0');
like($out, qr/^ fake\s+\| binance\s+\| \Q$fake\E/m, 'source list shows the source');
unlike($out, qr/SECRET/, 'source list never shows credentials');
($rc, $out, $err) = run_pg_sync(qw(source list --json));
my $sources = decode_json($out);
is_deeply([ map { $_->{name} } @$sources ], [qw(alp alp2 fake)], 'source list --json: the sources');
is($sources->[2]{options}{page_size}, 50, 'source list --json: options as JSON');
unlike($out, qr/SECRET|KEY1/, 'source list --json never shows credentials');
$node->command_like([qw(pg_sync source drop alp2)], qr/source "alp2" dropped/, 'source drop');
$node->command_checks_all([qw(pg_sync source drop alp2)], 1, [qr/^$/], [qr/source "alp2" does not exist/],
	'source drop: unknown source (exit 1)');

# subscriptions
$node->command_checks_all([ qw(pg_sync subscribe nosuch BTCUSDT) ], 1, [qr/^$/],
	[qr/source "nosuch" does not exist/], 'subscribe: unknown source (exit 1)');
$node->command_checks_all([ qw(pg_sync subscribe fake BTCUSDT --history-from), 'last tuesday-ish' ], 1,
	[qr/^$/], [qr/invalid input syntax for type timestamp with time zone: "last tuesday-ish"/],
	'subscribe: a bad time is refused with the server\'s message (exit 1)');
$node->command_like(
	[ qw(pg_sync subscribe fake BTCUSDT --history-from), '2022-12-13 00:00+00', '--no-realtime' ],
	qr/^subscription \d+: fake\/BTCUSDT$/m, 'subscribe');
is($node->safe_psql('postgres', q{SELECT realtime, history_from FROM sync.subscriptions WHERE symbol = 'BTCUSDT'}),
	'f|2022-12-13 00:00:00+00', 'subscribe: the options reach sync_subscribe()');
$node->command_like([qw(pg_sync subscribe fake ETHUSDT --dataset trades --no-realtime --json)],
	qr/^\{"subscriptions": \[\d+\]\}$/, 'subscribe --json');
$node->command_like([qw(pg_sync unsubscribe fake ETHUSDT --dataset trades)], qr/^1 subscription removed$/,
	'unsubscribe');
$node->command_like([qw(pg_sync unsubscribe fake ETHUSDT)], qr/^0 subscriptions removed$/,
	'unsubscribe of nothing');
my @rows = btcusdt_rows();
wait_for($node, q{SELECT phase || ' ' || rows_stored FROM sync_status() WHERE symbol = 'BTCUSDT'},
	'idle ' . scalar(@rows), 'the subscription backfilled the day');

# status
($rc, $out, $err) = run_pg_sync(qw(status));
is($rc, 0, 'status: exit 0');
like($out, qr/^fake\/BTCUSDT 1m\s+idle\s+through [^|]+\s+${\ scalar(@rows)}\s+0$/m, 'status: the series');
unlike($out, qr/\e\[/, 'status: no colour or cursor moves off a terminal');
($rc, $out, $err) = run_pg_sync(qw(status --json));
my $status = decode_json($out);
is(scalar(@{ $status->{series} }), 1, 'status --json: one series');
is($status->{series}[0]{rows_stored}, scalar(@rows), 'status --json: rows_stored, a number');
is($status->{series}[0]{phase}, 'idle', 'status --json: phase');
ok(exists $status->{series}[0]{rows_per_second}, 'status --json: rows_per_second');
is_deeply($status->{runs}, [], 'status --json: no run under way');
$node->command_like([qw(pg_sync status --source nosuch)], qr/: 0 series$/m, 'status --source filters');

# export: what the views (or sync_resample()) return, row for row
my $day = [ '--from', '2022-12-13 00:00+00', '--to', '2022-12-14 00:00+00' ];
for my $case ([ '1m', 'sync.bars', q{AND bar_interval = '1 minute'} ], [ '5m', 'sync.bars_5m', '' ],
	[ '15m', 'sync.bars_15m', '' ], [ '1h', 'sync.bars_1h', '' ], [ '1d', 'sync.bars_1d', '' ])
{
	my ($iv, $view, $and) = @$case;
	($rc, $out, $err) = run_pg_sync(qw(export fake BTCUSDT --interval), $iv, @$day);
	is($rc, 0, "export $iv: exit 0");
	my $want = $node->safe_psql('postgres', qq{
		SELECT ts, open, high, low, close, volume, trades, vwap FROM $view
		 WHERE source = 'fake' AND symbol = 'BTCUSDT' $and
		   AND ts >= '2022-12-13 00:00+00' AND ts < '2022-12-14 00:00+00' ORDER BY ts},
		extra_params => [ '-F', ',' ]);
	ok(length($want) > 0, "$view has rows");
	is($out, "ts,open,high,low,close,volume,trades,vwap\n$want\n", "export $iv: CSV equal to $view");
}
($rc, $out, $err) = run_pg_sync(qw(export fake BTCUSDT --interval 2h), @$day);
is($out, "ts,open,high,low,close,volume,trades,vwap\n" . $node->safe_psql('postgres', q{
	SELECT * FROM sync_resample('fake', 'BTCUSDT', '2 hours', '2022-12-13 00:00+00', '2022-12-14 00:00+00')},
	extra_params => [ '-F', ',' ]) . "\n", 'export 2h: CSV equal to sync_resample()');
($rc, $out, $err) = run_pg_sync(qw(export fake BTCUSDT --interval 1d --session XNYS), @$day);
is($out, "ts,open,high,low,close,volume,trades,vwap\n" . $node->safe_psql('postgres', q{
	SELECT * FROM sync_resample('fake', 'BTCUSDT', '1 day', '2022-12-13 00:00+00', '2022-12-14 00:00+00', 'XNYS')},
	extra_params => [ '-F', ',' ]) . "\n", 'export --session XNYS: CSV equal to sync_resample() with the session');
($rc, $out, $err) = run_pg_sync(qw(export fake BTCUSDT --interval 1h --format json), @$day);
my @json = split /\n/, $out;
is(scalar(grep { decode_json($_) } @json), 24, 'export --format json: a JSON object a line, one per hour');
is(($json[5] =~ /"close":([^,]+)/)[0], $node->safe_psql('postgres', q{
	SELECT close FROM sync.bars_1h WHERE symbol = 'BTCUSDT' AND ts = '2022-12-13 05:00+00'}),
	'export --format json: values as the view has them');
for my $bad ([ [qw(export nosuch BTCUSDT), @$day], qr/source "nosuch" does not exist/ ],
	[ [qw(export fake BTCUSDT --from yesterdayish --to 2022-12-14)], qr/invalid input syntax for type timestamp/ ],
	[ [qw(export fake BTCUSDT --interval 7x), @$day], qr/invalid input syntax for type interval/ ],
	[ [qw(export fake BTCUSDT --interval 1d --session XXXX), @$day], qr/unknown session "XXXX"/ ])
{
	$node->command_checks_all([ 'pg_sync', @{ $bad->[0] } ], 1, [], [ $bad->[1] ],
		"export refused: @{$bad->[0]}[1..4]");
}

# backfill --wait: one run that succeeds, one that fails (exit 1, which and why)
$node->command_checks_all([ qw(pg_sync backfill fake BTCUSDT --wait --from), '2022-12-13 10:00+00',
		'--to', '2022-12-13 12:00+00' ], 0,
	[ qr/^run (\d+): fake\/BTCUSDT from/m, qr/^run \d+ BTCUSDT: succeeded, \d+ rows$/m, qr/^1 of 1 run succeeded$/m ],
	[qr/^$/], 'backfill --wait: the run succeeds (exit 0)');
$node->command_checks_all([ qw(pg_sync backfill fake BTCUSDT NOPE --wait --from), '2022-12-13 10:00+00',
		'--to', '2022-12-13 11:00+00' ], 1,
	[ qr/^run \d+: fake\/NOPE/m, qr/^1 of 2 runs succeeded$/m ],
	[qr/run \d+ \(NOPE\) failed: provider answered HTTP 400: Binance error: Invalid symbol\./],
	'backfill --wait: a run fails (exit 1), which and why');
$node->command_checks_all([ qw(pg_sync backfill nosuch BTCUSDT --from 2022-12-13 --to 2022-12-14) ], 1,
	[qr/^$/], [qr/source "nosuch" does not exist/], 'backfill: unknown source (exit 1)');
$node->command_checks_all([ qw(pg_sync backfill fake BTCUSDT ETHUSDT --from 2022-12-13 --to), 'soon' ], 1,
	[qr/^$/], [qr/invalid input syntax for type timestamp with time zone: "soon"/],
	'backfill: a bad time is refused with the server\'s message (exit 1)');
$node->command_like([ qw(pg_sync backfill fake BTCUSDT --json --from 2022-12-13 --to), '2022-12-13 00:10' ],
	qr/^\{"runs": \[\d+\]\}$/, 'backfill --json: the run ids');

# tail: the bars that land are printed (from a second source, so the rows are
# new).  A subscription, not a sync_backfill() run: src/notify.c keys what
# it announces by subscription id, and every one-off run has none, so a
# pool worker that carried another run of the same interval before names
# that run's source and symbol in the payload (reported with issue 13).
$node->safe_psql('postgres', qq{SELECT sync_add_source('fake2', 'binance', '$fake')});
my ($tail_out, $tail_err) = ('', '');
my $tail = in_node_env(sub {
	IPC::Run::start([qw(pg_sync tail --source fake2)], '>', \$tail_out, '2>', \$tail_err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
});
$tail->pump until $tail_err =~ /waiting for new bars/;
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('fake2', ARRAY['BTCUSDT'], history_from => '2022-12-13 18:00+00', realtime => false)});
$tail->pump until $tail_out =~ /^fake2 BTCUSDT 00:01:00 2022-12-13 23:59:00\+00 .*\n/m;
my $want = $node->safe_psql('postgres', q{
	SELECT concat_ws(' ', source, symbol, bar_interval, ts, open, high, low, close, volume, trades, coalesce(vwap::text, '-'))
	  FROM sync.bars WHERE source = 'fake2' ORDER BY ts});
is(join("\n", grep { /^fake2 / } split /\n/, $tail_out), $want, 'tail: every bar that landed, as stored');
$tail->signal('INT');
$tail->finish;
is($tail->result(0), 0, 'tail: Ctrl-C ends it with exit 0');

# config
$node->command_like([qw(pg_sync config)], qr/^ sync\.poll_interval_ms\s+\| 300 ms\s+\| 10000 ms\s+\| postgresql\.conf:\d+ \| sighup$/m,
	'config: value, default, where it is set, context');
$node->command_like([qw(pg_sync config poll_interval_ms)],
	qr/^sync\.poll_interval_ms = 300 ms\n.*\n  default:  10000\n  range:    10 \.\. 86400000\n  source:   configuration file at .*postgresql\.conf:\d+\n  context:  sighup/,
	'config NAME: the setting described');
$node->command_like([qw(pg_sync config sync.notify_interval_ms 200)],
	qr/^sync\.notify_interval_ms = 200 ms \(was 1000\), reloaded$/, 'config NAME VALUE: set and reloaded');
is($node->safe_psql('postgres', 'SHOW sync.notify_interval_ms'), '200ms', 'the server has the new value');
$node->command_checks_all([qw(pg_sync config sync.notify_interval_ms 99999999)], 1, [qr/^$/],
	[qr/99999999 ms is outside the valid range for parameter "sync\.notify_interval_ms"/],
	'config: a value the server refuses (exit 1)');
$node->command_like([qw(pg_sync config sync.max_series 20000)],
	qr/sync\.max_series set in postgresql\.auto\.conf; it is 10000 until the server restarts \(context postmaster: a restart is needed\)/,
	'config: a postmaster setting says a restart is needed');
$node->command_like([qw(pg_sync config max_series)], qr/^  a changed value waits for a restart$/m,
	'config NAME: a postmaster setting changed in the files waits for a restart');
$node->command_like([qw(pg_sync config sync.max_series --reset)],
	qr/^sync\.max_series reset in postgresql\.auto\.conf; it is 10000 already \(no restart needed\)$/,
	'config --reset: back to the running value, no restart needed');
($rc, $out, $err) = run_pg_sync(qw(config max_series));
unlike($out, qr/waits for a restart/, 'config NAME: and no longer after the reset');
$node->command_checks_all([qw(pg_sync config sync.nope 1)], 1, [qr/^$/], [qr/unrecognized setting "sync\.nope"/],
	'config: unknown setting (exit 1)');
my ($cfg) = grep { $_->{name} eq 'sync.notify_interval_ms' } @{ decode_json((run_pg_sync(qw(config --json)))[1]) };
is($cfg->{setting}, '200', 'config --json');

# health: degraded (exit 1), then a source down (exit 2)
$node->command_like([qw(pg_sync config sync.retry_max_ms 8000)], qr/reloaded/, 'slow retries for a while');
$node->command_like([qw(pg_sync config sync.retry_base_ms 4000)], qr/reloaded/, 'slow retries for a while');
$node->safe_psql('postgres', qq{SELECT sync_add_source('bad', 'binance', '$fake')});
fake_fault($fake, kind => '500', count => 1000, symbol => 'ADAUSDT');
$node->command_ok([qw(pg_sync subscribe bad ADAUSDT --history-from 2022-12-13 --no-realtime)], 'a failing series');
wait_for($node, q{SELECT status FROM sync_health() WHERE component = 'worker bad/ADAUSDT/bars'}, 'degraded',
	'its worker is degraded');
$node->command_checks_all([qw(pg_sync health)], 1, [qr/^degraded worker bad\/ADAUSDT\/bars: /m], [qr/^$/],
	'health: degraded, exit 1');
$node->command_like([qw(pg_sync config sync.retry_base_ms --reset)], qr/= 100 ms \(was 4000\), reloaded/,
	'config --reset of a reloadable setting: the value from postgresql.conf again');
$node->command_ok([qw(pg_sync config sync.retry_max_ms --reset)], 'fast retries again');
wait_for($node, q{SELECT status FROM sync_health() WHERE component = 'source bad'}, 'down', 'the source is down');
$node->command_checks_all([qw(pg_sync health)], 2, [qr/^down\s+source bad: /m], [qr/^$/], 'health: down, exit 2');
($rc, $out, $err) = run_pg_sync(qw(health --json));
is($rc, 2, 'health --json: exit 2');
is(decode_json($out)->{status}, 'down', 'health --json: status down');
$node->command_ok([qw(pg_sync source drop bad)], 'the failing source dropped');

# --- status --watch off a terminal: a new block each time, no escapes
my ($w_out, $w_err) = ('', '');
my $watch = in_node_env(sub {
	IPC::Run::start([qw(pg_sync status --watch 1)], '>', \$w_out, '2>', \$w_err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
});
$watch->pump until ($w_out =~ s/(sync status at)/$1/g) >= 2;
$watch->signal('INT');
$watch->finish;
is($watch->result(0), 0, 'status --watch: Ctrl-C ends it with exit 0');
unlike($w_out, qr/\e/, 'status --watch off a terminal: no escape sequences');
($w_out, $w_err) = ('', '');
$watch = in_node_env(sub {
	IPC::Run::start([qw(pg_sync status --watch 1 --json)], '>', \$w_out, '2>', \$w_err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
});
$watch->pump until ($w_out =~ tr/\n//) >= 2;
$watch->signal('INT');
$watch->finish;
my @docs = map { decode_json($_) } split /\n/, $w_out;
ok(@docs >= 2, 'status --watch --json: a document a line each time');
is($docs[0]{series}[0]{rows_per_second}, undef, 'status --watch --json: no rate from the first sample');
ok(defined $docs[1]{series}[0]{rows_per_second}, 'status --watch --json: a rate from the second (two samples)');

# --- status --watch under a terminal (tmux): redrawn in place, a bar, Ctrl-C restores the cursor
SKIP:
{
	skip 'tmux not installed', 11 unless system('tmux -V >/dev/null 2>&1') == 0;
	# a paced run under way, so the screen has a progress bar
	$node->safe_psql('postgres', qq{
		SELECT sync_add_source('slow', 'binance', '$fake', options => '{"page_size": 10, "requests_per_minute": 120}');
		SELECT sync_backfill('slow', 'BTCUSDT', 'bars', '2022-12-13 00:00+00', '2022-12-14 00:00+00')});
	wait_for($node, q{SELECT state FROM sync.job_runs WHERE source = 'slow'}, 'running', 'a slow run under way');
	my $sock = "$tmp/tmux.sock";
	my @tmux = ('tmux', '-S', $sock);
	in_node_env(sub {
		system(@tmux, 'new-session', '-d', '-x', '120', '-y', '40', 'sh') == 0 or die "tmux: $?";
	});
	my $capture = sub { scalar `@tmux capture-pane -p` };
	system(@tmux, 'send-keys', 'clear; pg_sync status --watch 1', 'Enter');
	my ($first, $second);
	for (1 .. 600)
	{
		my $screen = $capture->();
		$first //= $screen if $screen =~ /BACKFILL RUN/;
		if (defined $first && $screen =~ /BACKFILL RUN/ && $screen ne $first)
		{
			$second = $screen;
			last;
		}
		select(undef, undef, undef, 0.1);
	}
	ok(defined $second, 'status --watch: the screen changed (a redraw)');
	my @lines1 = split /\n/, $first;
	my @lines2 = split /\n/, $second // '';
	my ($at1) = grep { $lines1[$_] =~ /^sync status at / } 0 .. $#lines1;
	my @at2 = grep { $lines2[$_] =~ /^sync status at / } 0 .. $#lines2;
	is_deeply(\@at2, [$at1], 'status --watch: one frame, drawn over the same lines (no scroll)');
	like($second, qr/^\d+ slow\/BTCUSDT bars\s+running\s+\[#*\.*\]\s+\d+\.\d%/m,
		'status --watch: a progress bar for the run');
	is(`@tmux display -p '#{cursor_flag}'`, "0\n", 'status --watch: the cursor hidden while it redraws');
	like(scalar `@tmux capture-pane -e -p`, qr/\e\[32midle/, 'status --watch: colour on a terminal');
	system(@tmux, 'send-keys', 'C-c');
	system(@tmux, 'send-keys', 'echo "watch ended: $?"', 'Enter');
	my $screen = '';
	for (1 .. 100)
	{
		$screen = $capture->();
		last if $screen =~ /^watch ended: \d+/m;
		select(undef, undef, undef, 0.1);
	}
	like($screen, qr/^watch ended: 0$/m, 'status --watch: Ctrl-C ends it with exit 0');
	is(`@tmux display -p '#{cursor_flag}'`, "1\n", 'status --watch: the cursor shown again');

	# backfill --wait on a terminal: one progress line per run, redrawn until it ends
	$node->safe_psql('postgres', qq{
		SELECT sync_add_source('slow3', 'binance', '$fake', options => '{"page_size": 10, "requests_per_minute": 240}')});
	system(@tmux, 'send-keys', "clear; pg_sync backfill slow3 BTCUSDT --from '2022-12-13 00:00+00' --to '2022-12-13 03:00+00' --wait; echo \"wait ended: \$?\"", 'Enter');
	for (1 .. 600)
	{
		$screen = $capture->();
		last if $screen =~ /^wait ended: \d+/m;
		select(undef, undef, undef, 0.1);
	}
	like($screen, qr/^run (\d+): slow3\/BTCUSDT from/m, 'backfill --wait on a terminal: the run asked for');
	my @bars = $screen =~ /^(run \d+\s+BTCUSDT\s+.*)$/mg;
	is(scalar(@bars), 1, 'backfill --wait on a terminal: its progress line drawn over, never added to');
	like($bars[0] // '', qr/succeeded\s+\[#{14}\] 100\.0%.* 180 rows$/, 'backfill --wait: the full bar at the end');
	like($screen, qr/^1 of 1 run succeeded\nwait ended: 0$/m, 'backfill --wait on a terminal: exit 0');
	system(@tmux, 'kill-server');
}

$node->command_like([qw(pg_sync stop)], qr/sync stopped/, 'stop');
$node->command_like([qw(pg_sync stop)], qr/sync was not running/, 'stop again');
$node->command_checks_all([ qw(pg_sync backfill fake BTCUSDT --from 2022-12-13 --to), '2022-12-13 00:10' ], 0,
	[qr/^run \d+: fake\/BTCUSDT/], [qr/warning: sync is not running in database "postgres": the runs wait for "pg_sync start"/],
	'backfill while sync is stopped: asked for, with a warning');
done_testing();
