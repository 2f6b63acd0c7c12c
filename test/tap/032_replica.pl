# A read replica by logical replication (docs/replicas.md): the primary
# ingests (a paced backfill of bars and a stream of trades) and publishes
# the extension's tables but sync.source_secrets, via the partitioned
# roots; a second cluster with the extension installed, where sync_start()
# was never called, subscribes while the rows are landing.
#   - the replica runs no sync process, only the cluster-wide launcher;
#   - the rows CREATE EXTENSION wrote on the replica (rollup levels,
#     sessions) are emptied first, so the initial copy does not stop on a
#     duplicate key; the ingesting server's rows take their place;
#   - while rows land, the replica only ever holds rows the primary has,
#     and its views agree with sync_resample() over its own rows (it never
#     sees a rollup without the invalidations committed with it);
#   - once the primary stops, every replicated table, the rollup views,
#     sync.gaps and sync_resample() (with and without a session) answer
#     exactly as on the primary; after a refresh of the rollups too;
#   - the secrets never reach the replica (not in the publication, not in
#     a dump of the replica);
#   - sync.checked_gaps, which has no primary key, can still be updated
#     and deleted on the primary while published, and those changes arrive;
#   - partitions the primary makes later (trades by the hour here) are
#     never on the replica, whose rows land in its default partitions
#     through the roots, until it runs sync.maintain_partitions() itself;
#   - a partition retention drops on the primary stays on the replica
#     (DDL is not replicated) until the replica's own sync.apply_retention(),
#     whose job_runs row takes an id of the replica's own (its sequences
#     count down), so the primary's next row arrives without a conflict;
#   - the comparisons notice a row missing on the replica.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $secret = 'replica-test-secret-5d1c9e';
my $fake = start_fake('--live', 'LIVEUSD:50');
(my $ws = $fake) =~ s/^http/ws/;

my $primary = sync_node('primary');
$primary->append_conf('postgresql.conf', "wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\nsync.flush_interval_ms = 20\n");
$primary->restart;
my $replica = sync_node('replica');

sub q1 { my ($node, $sql) = @_; return $node->safe_psql('postgres', $sql); }

# Row count and md5 of a query's rows as text, in a fixed order: equal on
# both nodes exactly when they hold the same rows.
sub digest
{
	my ($node, $sql) = @_;
	return q1($node, qq{
		SET TimeZone = 'UTC';
		SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE "C")), '-')
		  FROM ($sql) x});
}

# The rows of a query on one node as a list of text lines.
sub rows_of
{
	my ($node, $sql) = @_;
	my $out = q1($node, qq{SET TimeZone = 'UTC'; SELECT x::text FROM ($sql) x});
	return split /\n/, $out;
}

sub same_on_both
{
	my ($sql, $what) = @_;
	my ($p, $r) = (digest($primary, $sql), digest($replica, $sql));
	is($r, $p, "$what: the same rows on the replica ($p)") and return;
	my %on_p = map { $_ => 1 } rows_of($primary, $sql);
	my %on_r = map { $_ => 1 } rows_of($replica, $sql);
	my @missing = grep { !$on_r{$_} } sort keys %on_p;
	my @extra = grep { !$on_p{$_} } sort keys %on_r;
	diag("missing on the replica: @missing[0 .. ($#missing < 4 ? $#missing : 4)]") if @missing;
	diag("only on the replica: @extra[0 .. ($#extra < 4 ? $#extra : 4)]") if @extra;
}

# sync processes working in a node's databases (the launcher is the
# cluster's, connected to none)
my $sync_procs = q{SELECT count(*) FROM pg_stat_activity
                    WHERE backend_type LIKE 'sync %' AND backend_type <> 'sync launcher'};

# -- the primary ingests ------------------------------------------------------
q1($primary, qq{
	SELECT sync_add_source('fake', 'binance', '$fake',
	                       options => '{"page_size": 25, "requests_per_minute": 60}');
	SELECT sync_subscribe('fake', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
	SELECT sync_add_source('bin', 'binance', '$fake', stream_url => '$ws', options => '{"page_size": 100}');
	SELECT sync_subscribe('bin', ARRAY['LIVEUSD'], 'trades', history_from => now() - interval '1 hour');
	SELECT sync_add_source('keyed', 'polygon', '$fake', credentials => '{"secret": "$secret"}');
	INSERT INTO sync.sessions (name, timezone, opens, closes, weekdays, description)
	VALUES ('XTST', 'Europe/Berlin', '08:00', '17:30', '{1,2,3,4,5,6,7}', 'a test session');
	INSERT INTO sync.session_exceptions VALUES ('XTST', '2022-12-13', '09:00', '15:00');
	SELECT sync_set_retention('rejects', '30 days');
	-- hourly trades partitions, made ahead (as the scheduler does) after the
	-- replica's CREATE EXTENSION: the replica never has them
	SELECT sync_set_partitioning('trades', '1 hour', 2);
	SELECT sync.maintain_partitions();
	SELECT sync_start();
});
wait_for($primary, q{SELECT count(*) > 100 FROM sync.bars}, 't', 'primary: the backfill is landing');
wait_for($primary, q{SELECT phase FROM sync_status() WHERE source = 'bin'}, 'realtime', 'primary: the trades stream');

# -- the publication ----------------------------------------------------------
# What a publication of the whole schema would send: the credentials too.
q1($primary, q{CREATE PUBLICATION naive FOR TABLES IN SCHEMA sync});
is(q1($primary, q{SELECT count(*) FROM pg_publication_tables WHERE pubname = 'naive' AND tablename = 'source_secrets'}),
	'1', 'FOR TABLES IN SCHEMA sync would publish sync.source_secrets');
q1($primary, q{DROP PUBLICATION naive});

my $tables = q1($primary, q{SELECT string_agg(t::text, ',' ORDER BY t::text) FROM sync.publish_for_replicas('sync_replica') t});
like($tables, qr/(^|,)sync\.bars,.*(^|,)sync\.trades(,|$)/, "published: $tables");
is(q1($primary, q{SELECT count(*) FROM pg_publication_tables WHERE pubname = 'sync_replica' AND tablename = 'source_secrets'}),
	'0', 'the secrets are not in the publication');
is(q1($primary, q{SELECT pubviaroot FROM pg_publication WHERE pubname = 'sync_replica'}), 't',
	'published via the partitioned roots');
is(q1($primary, q{SELECT sync.publish_for_replicas('sync_replica')::text LIKE 'sync.%' LIMIT 1}), 't',
	'publish_for_replicas() again: the list set again, no error');

# -- the replica --------------------------------------------------------------
is(q1($replica, $sync_procs), '0', 'replica: no sync process before it subscribes');
like(q1($replica, q{SELECT string_agg(name, ',' ORDER BY name) FROM sync.rollups}), qr/^15m,1d,1h,5m$/,
	'replica: CREATE EXTENSION wrote its rollup levels (they would collide with the copy)');
my ($rc, $out, $err) = $primary->psql('postgres', 'SELECT sync.prepare_replica()');
like($err, qr/sync is running in this database/, 'prepare_replica() refuses the ingesting server');
q1($replica, q{SELECT sync.prepare_replica()});
# the replica connects as a role that may read the published tables (as
# sync_reader) and replicate, and nothing else: not the secrets
q1($primary, q{CREATE ROLE sync_replica LOGIN REPLICATION; GRANT sync_reader TO sync_replica});
($rc, $out, $err) = $primary->psql('postgres', 'SET ROLE sync_replica; SELECT * FROM sync.source_secrets');
like($err, qr/permission denied for table source_secrets/, 'the replication role cannot read the secrets');
my $conn = $primary->connstr . ' dbname=postgres user=sync_replica';
q1($replica, qq{CREATE SUBSCRIPTION sync_replica CONNECTION '$conn' PUBLICATION sync_replica});
($rc, $out, $err) = $replica->psql('postgres', 'SELECT sync_start()');
like($err, qr/sync cannot run in a read replica\nDETAIL:  Subscription "sync_replica" receives sync's tables/,
	'sync_start() refuses the replica, naming its subscription');

# While rows land: the replica holds only rows the primary has, and its
# views agree with what sync_resample() computes from its own 1-minute rows.
my %views_vs_resample = (
	'5m' => '5 minutes', '15m' => '15 minutes', '1h' => '1 hour', '1d' => '1 day');
sub replica_consistent
{
	my ($when) = @_;
	for my $t (qw(bars trades))
	{
		# the replica first: whatever it has, the primary had committed before
		my @r = rows_of($replica, "SELECT * FROM sync.$t");
		my %on_p = map { $_ => 1 } rows_of($primary, "SELECT * FROM sync.$t");
		my @not_on_p = grep { !$on_p{$_} } @r;
		ok(@r > 0 && !@not_on_p, "$when: the replica's " . scalar(@r) . " $t are rows of the primary")
		  or diag("not on the primary: @not_on_p[0 .. ($#not_on_p < 4 ? $#not_on_p : 4)]");
	}
	for my $s (['fake', 'BTCUSDT'], ['bin', 'LIVEUSD'])
	{
		for my $v (sort keys %views_vs_resample)
		{
			my $view = qq{SELECT ts, open, high, low, close, volume, trades, vwap FROM sync.bars_$v
			               WHERE source = '$s->[0]' AND symbol = '$s->[1]'};
			my $resample = qq{SELECT * FROM sync_resample('$s->[0]', '$s->[1]', '$views_vs_resample{$v}',
			                                              '-infinity', 'infinity')};
			my $diff = qq{SELECT count(*) FILTER (WHERE d = 'view') || '/' || count(*) FILTER (WHERE d = 'resample')
			                FROM (SELECT 'view' AS d, * FROM (($view) EXCEPT ALL ($resample)) a
			                      UNION ALL SELECT 'resample', * FROM (($resample) EXCEPT ALL ($view)) b) x};
			is(q1($replica, $diff), '0/0', "$when: replica's sync.bars_$v of $s->[1] agrees with its sync_resample()")
			  or diag('on the primary: ' . q1($primary, $diff) . "\n"
				  . q1($replica, qq{SELECT 'view', * FROM (($view) EXCEPT ALL ($resample)) a
				                    UNION ALL SELECT 'resample', * FROM (($resample) EXCEPT ALL ($view)) b})
				  . "\npending: " . q1($replica, qq{SELECT string_agg(lo || '..' || hi, ', ') FROM sync.rollup_invalidations
				                                    WHERE source = '$s->[0]' AND symbol = '$s->[1]'}));
		}
	}
	is(q1($replica, $sync_procs), '0', "$when: no sync process on the replica");
}

$replica->wait_for_subscription_sync($primary, 'sync_replica');
my $landing = q1($primary, q{SELECT string_agg(source || ':' || phase, ',' ORDER BY source) FROM sync_status()});
note("after the initial copy the primary's series are $landing");
replica_consistent('after the initial copy');
is(q1($replica, q{SELECT string_agg(backend_type, ',') FROM pg_stat_activity WHERE backend_type LIKE 'logical%worker'}),
	'logical replication worker', 'replica: its one writer is the apply worker');

# a table without a primary key, updated and deleted on the primary while published
q1($primary, q{
	INSERT INTO sync.checked_gaps (source, symbol, bar_interval, gap_from, gap_to)
	VALUES ('fake', 'QUIET', '1 minute', '2022-12-01', '2022-12-02'),
	       ('fake', 'QUIET', '1 minute', '2022-12-03', '2022-12-04');
	UPDATE sync.checked_gaps SET gap_to = '2022-12-02 12:00' WHERE symbol = 'QUIET' AND gap_from = '2022-12-01';
	DELETE FROM sync.checked_gaps WHERE symbol = 'QUIET' AND gap_from = '2022-12-03';
	INSERT INTO sync.session_exceptions VALUES ('XTST', '2022-12-14', NULL, NULL);
});
$primary->wait_for_catchup('sync_replica');
is(q1($replica, q{SELECT string_agg(gap_from || '..' || gap_to, ',') FROM sync.checked_gaps WHERE symbol = 'QUIET'}),
	q1($primary, q{SELECT string_agg(gap_from || '..' || gap_to, ',') FROM sync.checked_gaps WHERE symbol = 'QUIET'}),
	'sync.checked_gaps: an update and a delete on the primary arrive');

for my $round (1 .. 2)
{
	# what the scheduler does each retention round, while the backfill writes
	# into the default partition: the bars landed so far move into a new
	# partition (deleted from the default one, inserted into the new one once
	# attached: both published as changes of the root)
	q1($primary, 'SELECT sync.maintain_partitions()') if $round == 1;
	$primary->wait_for_catchup('sync_replica');
	note('the primary\'s series: ' . q1($primary, q{SELECT string_agg(source || ' ' || phase, ', ' ORDER BY source) FROM sync_status()}));
	replica_consistent("while landing, round $round");
}
ok(q1($primary, $sync_procs) > 0, 'the primary runs its workers meanwhile (the query above sees them)');

# The 2022 bars landed in the primary's default partition; once the backfill
# is done, what the scheduler does each retention round moves them into a
# partition of their own (deleted there, inserted into the new one: both
# published as changes of the root) while the stream goes on.
wait_for($primary, q{SELECT phase FROM sync_status() WHERE source = 'fake'}, 'idle', 'primary: the backfill is done');
q1($primary, 'SELECT sync.maintain_partitions()');
is(q1($primary, q{SELECT count(*) FROM sync.bars_default}), '0', 'primary: the bars moved to a partition of their own');
$primary->wait_for_catchup('sync_replica');
replica_consistent('after the primary moved the bars to a new partition');

# -- the primary stops: the replica answers exactly as the primary ---------
wait_for($primary, q{SELECT count(*) > 0 FROM sync.rollup_1d}, 't', 'primary: the aggregator has refreshed rollups');
q1($primary, 'SELECT sync_stop()');
wait_for($primary, $sync_procs, '0', 'primary: its workers are gone');
my $from = q1($primary, q{SELECT min(ts) FROM sync.trades});

# rows the replica wrote itself (its retention's job_runs rows) have ids
# below zero: only the replicated ones are compared
my %replicated = ('sync.job_runs' => 'WHERE id > 0');
sub same_answers
{
	my ($when) = @_;
	$primary->wait_for_catchup('sync_replica');
	for my $t (split /,/, $tables)
	{
		same_on_both("SELECT * FROM $t " . ($replicated{$t} // ''), "$when: $t");
	}
	for my $v (sort keys %views_vs_resample)
	{
		same_on_both("SELECT * FROM sync.bars_$v", "$when: the view sync.bars_$v");
	}
	same_on_both('SELECT * FROM sync.gaps', "$when: the view sync.gaps");
	for my $call (
		q{'fake', 'BTCUSDT', '7 minutes', '2022-12-13', '2022-12-14'},
		q{'fake', 'BTCUSDT', '1 hour', '2022-12-12', '2022-12-15', 'XTST'},
		q{'fake', 'BTCUSDT', '1 day', '2022-12-12', '2022-12-15', 'xtst'},
		qq{'bin', 'LIVEUSD', '1 minute', '$from', 'infinity'},
		qq{'bin', 'LIVEUSD', '3 minutes', '$from', 'infinity'})
	{
		same_on_both("SELECT * FROM sync_resample($call)", "$when: sync_resample($call)");
	}
}
same_answers('stopped');
note('invalidations pending on the primary: ' . q1($primary, q{SELECT count(*) FROM sync.rollup_invalidations}));
q1($primary, q{SELECT sync.refresh_rollups()});
is(q1($primary, q{SELECT count(*) FROM sync.rollup_invalidations}), '0', 'primary: every invalidation refreshed');
same_answers('after a refresh on the primary');

# -- partitions ---------------------------------------------------------------
# The primary's partitions are its own: the replica, with no scheduler, has
# only the default partitions, and the rows went there through the roots.
my $partitions = q{SELECT string_agg(partition::text, ',' ORDER BY partition::text) FROM sync.partitions};
like(q1($primary, $partitions), qr/sync\.bars_p20221201.*sync\.trades_p\d{8}_\d{4}/,
	'the primary made partitions while the rows landed: ' . q1($primary, $partitions));
is(q1($replica, $partitions), 'sync.bars_default,sync.trades_default', 'the replica has only its default partitions');
# the replica keeps partitions of its own by calling what the scheduler calls
# (the widths are the primary's: sync.partitioning is replicated)
q1($replica, 'SELECT sync.maintain_partitions()');
is(q1($replica, q{SELECT (SELECT count(*) FROM sync.bars_default) + (SELECT count(*) FROM sync.trades_default)}), '0',
	'sync.maintain_partitions() on the replica moves its rows into partitions of their own');
same_answers('after sync.maintain_partitions() on the replica');

# Retention drops whole partitions on the primary: DDL, which logical
# replication does not carry, so the replica keeps those rows until its own
# sync.apply_retention() (sync.retention is replicated) drops them too.
my $nbars = q1($primary, q{SELECT count(*) FROM sync.bars});
q1($primary, q{SELECT sync_set_retention('bars', '30 days'); SELECT sync.apply_retention()});
is(q1($primary, q{SELECT count(*) FROM sync.bars}), '0', 'primary: retention dropped the partition of the 2022 bars');
$primary->wait_for_catchup('sync_replica');
is(q1($replica, q{SELECT count(*) FROM sync.bars}), $nbars, 'the replica still has them');
q1($replica, q{SELECT sync.apply_retention()});
is(q1($replica, q{SELECT count(*) FROM sync.bars}), '0', 'until its own sync.apply_retention()');
is(q1($replica, q{SELECT count(*) FROM sync.job_runs WHERE kind = 'retention' AND id < 0}), '1',
	"which logs its run under an id of the replica's own (below zero)");
# a row the primary adds next takes an id the replica's sequence would have
# given if it counted up: it arrives without a conflict
my $run = q1($primary, q{SELECT sync_backfill('fake', 'BTCUSDT', 'bars', '2022-12-13 00:00+00', '2022-12-13 01:00+00')});
ok($replica->poll_query_until('postgres', "SELECT count(*) = 1 FROM sync.job_runs WHERE id = $run"),
	"the primary's next job_runs row ($run) arrives");
same_answers('after retention on both');

# -- the secrets --------------------------------------------------------------
is(q1($primary, qq{SELECT count(*) FROM sync.source_secrets WHERE credentials::text LIKE '%$secret%'}), '1',
	'the primary holds the secret');
is(q1($replica, q{SELECT count(*) FROM sync.source_secrets}), '0', 'the replica holds none');
is(q1($replica, q{SELECT string_agg(name, ',' ORDER BY name) FROM sync.sources}), 'bin,fake,keyed',
	'the replica has the sources (sync_resample() checks them)');
my $dump = $replica->backup_dir . '/replica.sql';
$replica->command_ok([ 'pg_dump', '-f', $dump, '-d', $replica->connstr('postgres') ], 'the replica dumps');
unlike(slurp_file($dump), qr/\Q$secret\E/, 'the secret appears nowhere in a dump of the replica');
like(slurp_file($dump), qr/LIVEUSD/, 'while the replicated data does');
is(q1($replica, $sync_procs), '0', 'no sync process ran on the replica');

# -- the comparisons notice a missing row ------------------------------------
q1($replica, q{
	SET session_replication_role = replica;
	DELETE FROM sync.trades WHERE (source, symbol, trade_id) =
	    (SELECT source, symbol, trade_id FROM sync.trades ORDER BY ts DESC LIMIT 1)});
isnt(digest($replica, 'SELECT * FROM sync.trades'), digest($primary, 'SELECT * FROM sync.trades'),
	'a trade missing on the replica: sync.trades differ');
isnt(digest($replica, qq{SELECT * FROM sync_resample('bin', 'LIVEUSD', '1 minute', '$from', 'infinity')}),
	digest($primary, qq{SELECT * FROM sync_resample('bin', 'LIVEUSD', '1 minute', '$from', 'infinity')}),
	'and so does sync_resample()');

$replica->stop;
$primary->stop;
done_testing();
