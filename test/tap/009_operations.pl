# Operations: schedules missed while the server was down run once on
# start; a scheduled gap repair fills a hole; retention drops a partition past it whole
# and leaves the rollups; NOTIFY on sync_bars is rate limited and
# names the newest bar; sync_health() follows faults; sync_metrics()
# parses as Prometheus text with the right figures.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake('--require-key', 'KEYID-5d1e');    # what the keyed source sends
my $node = sync_node('operations');
$node->append_conf('postgresql.conf', qq{
sync.retention_interval_ms = 200
sync.retention_batch = 100
sync.notify_interval_ms = 500
sync.aggregate_interval_ms = 200
});
$node->restart;
my @rows = btcusdt_rows();

# --- a schedule that was due three times while the server was down
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake', options => '{"page_size": 200}');
	SELECT sync_schedule('nightly', '10 0 * * *',
	       '{"kind": "backfill", "source": "fake", "symbols": ["BTCUSDT"], "lookback": "5 years", "align": "day"}');
});
$node->stop;
$node->start;
$node->safe_psql('postgres', q{
	UPDATE sync.schedules SET next_run = date_trunc('day', now()) - interval '3 days' + interval '10 minutes'});
$node->safe_psql('postgres', 'SELECT sync_start()');
wait_for($node, q{SELECT count(*) FROM sync.job_runs WHERE kind = 'scheduled' AND state = 'succeeded'}, '1',
	'the missed schedule runs once when sync starts');
wait_for($node, q{SELECT state FROM sync.job_runs WHERE kind = 'backfill' AND schedule = 'nightly'}, 'succeeded',
	'its backfill run succeeds');
is($node->safe_psql('postgres', q{
	SELECT range_to = date_trunc('day', now() - interval '10 minutes')   -- the last 00:10 that passed
	       AND range_from = date_trunc('day', now()) - interval '3 days' - interval '5 years'
	  FROM sync.job_runs WHERE kind = 'backfill' AND schedule = 'nightly'}), 't',
	'one run covers the windows of all three missed firings');
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.bars'), scalar(@rows), 'it stored the series');
is($node->safe_psql('postgres', q{
	SELECT next_run = date_trunc('day', now()) + interval '1 day 10 minutes'
	       OR (now() < date_trunc('day', now()) + interval '10 minutes'
	           AND next_run = date_trunc('day', now()) + interval '10 minutes')
	  FROM sync.schedules WHERE name = 'nightly'}), 't', 'the next run is the next firing, not a missed one');

# --- a scheduled gap repair fills a hole inside a subscription's range
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('fake', ARRAY['BTCUSDT'], history_from => '2022-12-13', realtime => false)});
wait_for($node, q{SELECT phase FROM sync_status()}, 'idle', 'subscription caught up');
$node->safe_psql('postgres', q{
	DELETE FROM sync.bars WHERE ts >= '2022-12-13 10:00+00' AND ts < '2022-12-13 10:30+00'});
is($node->safe_psql('postgres', 'SELECT count(*) FROM sync.gaps'), '1', 'sync.gaps lists the hole');
$node->safe_psql('postgres', q{
	SELECT sync_schedule('weekly repair', '0 3 * * sun', '{"kind": "gap_repair", "source": "fake"}');
	UPDATE sync.schedules SET next_run = now() WHERE name = 'weekly repair'});
wait_for($node, q{SELECT count(*) FROM sync.gaps}, '0', 'the scheduled gap repair fills it');
is(bars_text($node, 'BTCUSDT'), join("\n", @rows), 'the series is whole again, row for row');

# --- NOTIFY: rate limited, names the newest bar
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN sync_bars');
$node->safe_psql('postgres', q{
	SELECT sync_add_source('slow', 'binance', '} . $fake . q{',
	                       options => '{"page_size": 50, "requests_per_minute": 1200}');
	SELECT sync_subscribe('slow', ARRAY['BTCUSDT'], history_from => '2022-12-13', realtime => false)});
wait_for($node, q{SELECT count(*) FROM sync_status() WHERE source = 'slow' AND phase = 'idle'}, '1',
	'a paced backfill of 29 pages finished');
my $out = $listener->query_safe('SELECT 1');
$listener->quit;
my @notes = $out =~ /Asynchronous notification "sync_bars" with payload "(.*?)" received/g;
my @slow = grep { /"source": "slow"/ } @notes;
cmp_ok(scalar(@slow), '>=', 2, 'listeners heard of the backfill (' . scalar(@slow) . ' notifications)');
cmp_ok(scalar(@slow), '<', 29, 'fewer notifications than pages: rate limited');
like($slow[-1], qr/"ts": "2022-12-13 23:59:00\+00".*"rows": \d+/, 'the last one names the newest bar');
my $announced = 0;
$announced += $_ for map { /"rows": (\d+)/ } @slow;
is($announced, scalar(@rows), 'every stored row announced exactly once across notifications');

# --- health and metrics
my %health = map { my ($c, $s) = split /\|/; ($c => $s) }
  split /\n/, $node->safe_psql('postgres', 'SELECT component, status FROM sync_health()');
is($health{'sync'}, 'ok', 'health: sync ok');
is($health{'worker fake/BTCUSDT/bars'}, 'ok', 'health: worker ok');
is($health{'aggregator'}, 'ok', 'health: aggregator ok');
is($health{'scheduler'}, 'ok', 'health: scheduler ok');
is($health{'rollup 1h'}, 'ok', 'health: rollup ok');
is($health{'schedule nightly'}, 'ok', 'health: schedule ok');

fake_fault($fake, kind => '500', count => 1000, symbol => 'ADAUSDT');
$node->safe_psql('postgres', q{
	SELECT sync_subscribe('fake', ARRAY['ADAUSDT'], history_from => '2022-12-13', realtime => false)});
wait_for($node, q{SELECT status FROM sync_health() WHERE component = 'worker fake/ADAUSDT/bars'}, 'degraded',
	'health: a failing worker is degraded');
wait_for($node, q{SELECT status FROM sync_health() WHERE component = 'worker fake/ADAUSDT/bars'}, 'down',
	'health: and down after five failures in a row');
is($node->safe_psql('postgres', q{SELECT status FROM sync_health() WHERE component = 'source fake'}), 'down',
	'health: its source is down too');

my $metrics = $node->safe_psql('postgres', 'SELECT sync_metrics()');
my $dir = PostgreSQL::Test::Utils::tempdir();
PostgreSQL::Test::Utils::append_to_file("$dir/metrics.txt", $metrics . "\n");
my $parsed = `/usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s %s{%s} %s" % (f.type, s.name, labels, s.value))
' $dir/metrics.txt 2>&1`;
is($?, 0, 'sync_metrics() parses with the Prometheus text parser') or diag($parsed);
my $n = scalar(@rows);
like($parsed, qr/^counter sync_rows_stored_total\{dataset=bars,interval=60s,source=slow,symbol=BTCUSDT\} $n\.0$/m,
	'rows stored, as a counter');
like($parsed, qr/^counter sync_http_requests_total\{dataset=bars,interval=60s,source=fake,status=5xx,symbol=ADAUSDT\} [1-9]/m,
	'5xx answers counted');
like($parsed, qr/^histogram sync_batch_commit_seconds_count\{dataset=bars,interval=60s,source=slow,symbol=BTCUSDT\} (\d+)/m,
	'batch commit latency histogram');
like($parsed, qr/^gauge sync_up\{\} 1\.0$/m, 'sync_up gauge');

# --- secrets: a source with credentials runs; its key is in no activity
# row and no log line (the statement that adds it is kept out of the log,
# as docs/operations.md advises when log_statement is on)
$node->safe_psql('postgres', qq{
	SET log_statement = none;
	SELECT sync_add_source('keyed', 'binance', '$fake',
	                       credentials => '{"key_id": "KEYID-5d1e", "secret": "TOPSECRET-0a8b"}');
	RESET log_statement;
	SELECT sync_subscribe('keyed', ARRAY['BTCUSDT'], history_from => '2022-12-13', realtime => false)});
wait_for($node, q{SELECT phase FROM sync_status() WHERE source = 'keyed'}, 'idle', 'a keyed source synced');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE query ~ ('TOP' || 'SECRET|KEYID-' || '5d1e') AND pid <> pg_backend_pid()}), '0',
	'no backend shows the key in pg_stat_activity');
unlike(PostgreSQL::Test::Utils::slurp_file($node->logfile), qr/TOPSECRET|KEYID-5d1e/,
	'the server log never holds the key');

# --- retention: a partition entirely past it is dropped whole (0.9.0),
# whatever sync.retention_batch; rollups keep its rows
# (ANALYZE: retention reports a dropped partition's rows from its statistics)
$node->safe_psql('postgres', q{
	SELECT sync.refresh_rollups();
	SELECT sync.maintain_partitions();
	ANALYZE sync.bars});
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT tableoid::regclass::text, ',') FROM sync.bars}),
	'sync.bars_p20221201', 'the backfilled day is in the partition of its month');
$node->safe_psql('postgres', q{
	SELECT sync_set_retention('bars', '30 days');
	SELECT sync_set_retention('rejects', '30 days')});
wait_for($node, q{SELECT count(*) FROM sync.bars WHERE ts < now() - interval '30 days'}, '0',
	'retention deletes the old bars');
is($node->safe_psql('postgres', q{SELECT count(*) || ' ' || (to_regclass('sync.bars_p20221201') IS NULL)
	                                  || ' ' || sum(rows) FILTER (WHERE rows > 0)
	                                FROM sync.job_runs WHERE kind = 'retention' AND dataset = 'bars'}),
	'1 true ' . 3 * scalar(@rows),
	'by dropping the partition in one pass, not in batches of sync.retention_batch (3 series of ' . scalar(@rows) . ' bars)');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.bars_1d WHERE ts = '2022-12-13'}), '3',
	'the daily rollups of all three sources stay');
is($node->safe_psql('postgres', q{SELECT sum(volume) = (SELECT sum(volume) FROM sync.bars_5m WHERE source = 'fake') FROM sync.bars_1d WHERE source = 'fake'}),
	't', 'and still add up');

# a reloaded sync.retention_interval_ms applies to the wait in progress:
# told an hour, old rejects wait; told 200 ms again, they go without the
# scheduler first waiting out the hour
$node->append_conf('postgresql.conf', 'sync.retention_interval_ms = 3600000');
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT current_setting('sync.retention_interval_ms')}, '1h'),
	'the retention interval is reloaded as an hour');
usleep(1_000_000);    # a round under way when the reload came has ended
$node->safe_psql('postgres', q{
	INSERT INTO sync.rejects (rejected_at, source, reason) VALUES (now() - interval '40 days', 'fake', 'old')});
usleep(1_000_000);
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.rejects WHERE reason = 'old'}), '1',
	'with an hour to wait, an old reject stays');
$node->append_conf('postgresql.conf', 'sync.retention_interval_ms = 200');
$node->reload;
wait_for($node, q{SELECT count(*) FROM sync.rejects WHERE reason = 'old'}, '0',
	'back to 200 ms, retention removes it without first waiting out the hour');

$node->safe_psql('postgres', 'SELECT sync_stop()');
done_testing();
