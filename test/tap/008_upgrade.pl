# Upgrade and backup: a database on sync 0.1.0 with stored data is updated
# with ALTER EXTENSION sync UPDATE (0.1.0 -> 0.2.0 -> ... -> 0.7.0 -> 0.8.0 -> 0.9.0) and keeps its
# data and API, and gains rollups of what was stored before; pg_dump /
# pg_restore of a database using sync brings back its catalog, secrets,
# data, schedules and rollups.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $node = sync_node('upgrade');
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', q{
	CREATE EXTENSION sync VERSION '0.1.0';
	SELECT sync_add_source('bn', 'binance', 'http://127.0.0.1:9',
	                       credentials => '{"key_id": "k", "secret": "s3cret"}');
	SELECT sync_subscribe('bn', ARRAY['BTCUSDT'], history_from => '2024-01-01', realtime => false);
	INSERT INTO sync.bars
	SELECT 'bn', 'BTCUSDT', '1 minute', '2024-01-01'::timestamptz + i * interval '1 minute',
	       100 + i, 101 + i, 99 + i, 100.5 + i, 2, 1, 100.25 + i
	  FROM generate_series(0, 1439) i;
});
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'sync'"), '0.1.0',
	'the old version is installed');
my $before = $node->safe_psql('old', 'SELECT md5(string_agg(b::text, \',\' ORDER BY ts)) FROM sync.bars b');

$node->safe_psql('old', 'ALTER EXTENSION sync UPDATE');
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'sync'"), '0.9.0',
	'ALTER EXTENSION sync UPDATE reaches 0.9.0 (through 0.2.0, 0.3.0, 0.4.0, 0.5.0, 0.6.0, 0.7.0 and 0.8.0)');
is($node->safe_psql('old', q{SELECT string_agg(partition || ' ' || coalesce(range_from::text, '') || ' ' || is_default, ',' ORDER BY partition::text)
	                           FROM sync.partitions WHERE dataset = 'bars'}),
	'sync.bars_default  true,sync.bars_legacy -infinity false',
	'0.9.0: the bars stored before became the partition bars_legacy, beside a default partition');
is($node->safe_psql('old', q{SELECT count(*) FROM sync.bars_legacy}), '1440', 'holding every bar');
is($node->safe_psql('old', q{SELECT count(*) FROM sync.partitions WHERE dataset = 'trades'}), '1',
	'the empty trades table was replaced: only its default partition');
is($node->safe_psql('old', 'SELECT md5(string_agg(b::text, \',\' ORDER BY ts)) FROM sync.bars b'), $before,
	'the stored bars are unchanged');
is($node->safe_psql('old', q{SELECT count(*) FROM sync_status() WHERE symbol = 'BTCUSDT' AND reconnects = 0}), '1',
	'subscriptions and sync_status() intact, with the reconnects column of 0.4.0');
is($node->safe_psql('old', q{SELECT open || ' ' || close || ' ' || volume FROM sync.bars_1d}),
	'100 1539.5 2880', 'bars stored before the update are in bars_1d at once');
$node->safe_psql('old', 'SELECT sync.refresh_rollups()');
is($node->safe_psql('old', q{SELECT count(*) FROM sync_health() WHERE component = 'worker bn/BTCUSDT/bars'}), '1',
	'sync_health() of 0.4.0 sees the subscription made under 0.1.0');
is($node->safe_psql('old', q{SELECT string_agg(component, ',') FROM sync_health() WHERE component IN ('aggregator', 'scheduler', 'pool')}),
	'aggregator,scheduler,pool', 'sync_health() of 0.6.0: the services found by kind, then the pool row');
is($node->safe_psql('old', q{SELECT array_to_string(sync._phase_names(), ',')}),
	'queued,pending,backfill,realtime,idle,retrying,error,stopped', 'the phase queued of 0.6.0 is known');
$node->safe_psql('old', q{SELECT sync_schedule('n', '@daily', '{"kind": "gap_repair", "source": "bn"}')});
is($node->safe_psql('old', 'SELECT count(*) FROM sync.rollup_1h'), '24', 'and materialized by a refresh');

# the update path and a fresh install give the same objects, but for the
# partition the old rows became
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION sync');
my $objects = q{
	SELECT string_agg(pg_describe_object(classid, objid, 0), E'\n' ORDER BY 1)
	  FROM pg_depend WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'sync') AND deptype = 'e'
	   AND pg_describe_object(classid, objid, 0) NOT LIKE '%_legacy%'};
is($node->safe_psql('old', $objects), $node->safe_psql('fresh', $objects),
	'an updated database has the same extension objects as a fresh one');

# and the same comments on them and on their columns (0.7.0), none missing
my $comments = q{
	WITH m AS (SELECT classid, objid FROM pg_depend
	            WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'sync') AND deptype = 'e')
	SELECT string_agg(o || ': ' || coalesce(c, '(none)'), E'\n' ORDER BY o)
	  FROM (SELECT pg_describe_object(classid, objid, 0) AS o, obj_description(objid, classid::regclass::name) AS c
	          FROM m
	        UNION ALL
	        SELECT pg_describe_object(classid, objid, a.attnum), col_description(objid, a.attnum)
	          FROM m JOIN pg_class r ON classid = 'pg_class'::regclass AND r.oid = objid AND r.relkind IN ('r', 'v', 'm')
	          JOIN pg_attribute a ON a.attrelid = objid AND a.attnum > 0 AND NOT a.attisdropped) x};
my $old_comments = $node->safe_psql('old', $comments);
is($old_comments, $node->safe_psql('fresh', $comments),
	'an updated database has the same comments as a fresh one');
unlike($old_comments, qr/\(none\)/, 'every object and column of an updated database has a comment');
is($node->safe_psql('old', q{SELECT count(*) FROM sync.subscription_metrics WHERE symbol = 'BTCUSDT'}), '1',
	'the metrics view of 0.7.0 answers for the subscription made under 0.1.0');

# pg_dump / pg_restore, with partitions made at run time (not extension
# members: dumped as partitions of their own) and a row in a default partition
$node->safe_psql('old', q{
	SELECT sync.maintain_partitions();
	INSERT INTO sync.bars VALUES ('bn', 'ETHUSDT', '1 minute', now(), 1, 2, 0.5, 1.5, 10, 3, NULL),
	                             ('bn', 'ETHUSDT', '1 minute', now() + interval '10 years', 1, 2, 0.5, 1.5, 10, 3, NULL);
	INSERT INTO sync.trades VALUES ('bn', 'ETHUSDT', now(), 't1', 1.5, 2, 'buy'),
	                               ('bn', 'ETHUSDT', '2001-01-01', 't0', 1.5, 2, NULL);
});
is($node->safe_psql('old', q{SELECT string_agg(DISTINCT tableoid::regclass::text, ',' ORDER BY tableoid::regclass::text)
	                           FROM sync.bars WHERE symbol = 'ETHUSDT'}),
	'sync.bars_default,sync.bars_legacy', 'new bars: this month in bars_legacy, ten years on in the default partition');
my $dump = $node->basedir . '/old.dump';
$node->command_ok(['pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('old')], 'pg_dump of a database using sync');
# CREATE EXTENSION makes sync.bars and sync.trades with their keys and
# indexes, so ATTACH PARTITION gives each partition the parent's: the
# dump's own copies of them are left out of the restore (docs/operations.md)
my ($toc) = run_command(['pg_restore', '-l', $dump]);
my @kept = grep { !/^\d+; \d+ \d+ (CONSTRAINT sync (bars|trades)_\S+ |INDEX sync (bars|trades)_)/ } split /\n/, $toc;
ok(@kept < scalar(split /\n/, $toc), 'the list without the partitions\' own keys and indexes');
my $list = $node->basedir . '/old.list';
PostgreSQL::Test::Utils::append_to_file($list, join("\n", @kept) . "\n");
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok(['pg_restore', '--single-transaction', '--exit-on-error', '-L', $list,
	'-d', $node->connstr('restored'), $dump], 'pg_restore into an empty database, in one transaction');
is($node->safe_psql('restored', q{SELECT count(*) FILTER (WHERE NOT EXISTS (
	                                  SELECT 1 FROM pg_index i WHERE i.indrelid = p.partition AND i.indisprimary))
	                                FROM sync.partitions p}), '0', 'every restored partition has its key');
for my $q (
	'SELECT md5(string_agg(b::text, \',\' ORDER BY b::text)) FROM sync.bars b',
	'SELECT md5(string_agg(t::text, \',\' ORDER BY t::text)) FROM sync.trades t',
	'SELECT string_agg(partition || \' \' || coalesce(range_from::text, \'\') || \' \' || coalesce(range_to::text, \'\'), \',\' ORDER BY partition::text) FROM sync.partitions',
	'SELECT string_agg(name || provider || base_url, \',\') FROM sync.sources',
	'SELECT string_agg(credentials::text, \',\') FROM sync.source_secrets',
	'SELECT string_agg(symbol || dataset || bar_interval, \',\') FROM sync.subscriptions',
	'SELECT md5(string_agg(r::text, \',\' ORDER BY ts)) FROM sync.bars_1h r',
	'SELECT count(*) FROM sync.sessions',
	'SELECT string_agg(name || cron || job::text, \',\') FROM sync.schedules')
{
	is($node->safe_psql('restored', $q), $node->safe_psql('old', $q), "restored: $q");
}
$node->safe_psql('restored', q{SELECT sync_add_source('again', 'csv', 'http://127.0.0.1:9')});
is($node->safe_psql('restored', q{SELECT id > 1 FROM sync.sources WHERE name = 'again'}), 't',
	'the restored sequences go on after the restored rows');
done_testing();
