# sync_backfill(): a one-off run over a past range, outside any
# subscription, stores exactly that range, records its history, resumes
# after a crash, and over data already stored changes nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('backfill');
my $from = 1670889600000 + 6 * 3600000;    # 2022-12-13 06:00 UTC
my $to = 1670889600000 + 12 * 3600000;     # 2022-12-13 12:00 UTC
my @slice = grep { my ($t) = /^(\d+),/; $t >= $from && $t < $to } btcusdt_rows();

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('fake', 'binance', '$fake',
	                       options => '{"page_size": 50, "requests_per_minute": 120}');
	SELECT sync_start();
});
my $job = $node->safe_psql('postgres', q{
	SELECT sync_backfill('fake', 'BTCUSDT', 'bars', '2022-12-13 06:00+00', '2022-12-13 12:00+00')});
ok($job > 0, "sync_backfill() returns job id $job");
wait_for($node, "SELECT count(*) > 100 FROM sync.bars", 't', 'backfill under way');

# a crash in the middle: the run resumes from its own checkpoint
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync pool'");
kill 'KILL', $pid;
wait_for($node, "SELECT state FROM sync.job_runs WHERE id = $job", 'succeeded', 'run finished after a crash');
is(bars_text($node, 'BTCUSDT'), join("\n", @slice), 'exactly the asked range stored, row for row');
is($node->safe_psql('postgres', "SELECT rows FROM sync.job_runs WHERE id = $job"), scalar(@slice),
	'the run counts each row once');
wait_for($node,
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'sync pool'", '0',
	'its worker exits when the run is done');

# the same range again: nothing changes, the run still succeeds
my $again = $node->safe_psql('postgres', q{
	SELECT sync_backfill('fake', 'BTCUSDT', 'bars', '2022-12-13 05:00+00', '2022-12-13 12:00+00')});
wait_for($node, "SELECT state FROM sync.job_runs WHERE id = $again", 'succeeded', 'overlapping run finished');
is($node->safe_psql('postgres', "SELECT count(*) FROM sync.bars"), scalar(@slice) + 60,
	'overlap stored once: only the new hour was added');

# a bad symbol fails the run with the provider's words
my $bad = $node->safe_psql('postgres', q{
	SELECT sync_backfill('fake', 'NOPE', 'bars', '2022-12-13', '2022-12-14')});
wait_for($node, "SELECT state FROM sync.job_runs WHERE id = $bad", 'failed', 'bad symbol: run failed');
is($node->safe_psql('postgres', "SELECT error FROM sync.job_runs WHERE id = $bad"),
	'provider answered HTTP 400: Binance error: Invalid symbol.', 'with the reason');

$node->safe_psql('postgres', 'SELECT sync_stop()');
done_testing();
