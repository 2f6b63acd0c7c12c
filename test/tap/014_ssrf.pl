# SSRF (issue 11, finding 13): a source created by a sync_admin member who
# is not a superuser must not make the server connect to loopback, private
# or link-local addresses (a fake cloud-metadata endpoint on 127.0.0.1
# here), whether the URL names the address or a host name resolving to it;
# nothing of the endpoint's answer may reach sync.rejects or last_error.
# A superuser's source connects, and so does the admin's once a superuser
# sets sync.allow_private_addresses.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;
use NetServer;

my ($meta, $log) = start_net_server();
(my $meta_by_name = $meta) =~ s/127\.0\.0\.1/localhost/;
my $node = sync_node('ssrf');
$node->safe_psql('postgres', 'CREATE ROLE ssrf_admin LOGIN IN ROLE sync_admin');

sub as_admin
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', 'ssrf_admin' ]);
}

as_admin(qq{
	SELECT sync_add_source('meta', 'binance', '$meta');
	SELECT sync_add_source('meta_name', 'binance', '$meta_by_name');
	SELECT sync_subscribe('meta', ARRAY['BTCUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
	SELECT sync_subscribe('meta_name', ARRAY['ETHUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
	SELECT sync_start();
});
is($node->safe_psql('postgres',
		q{SELECT string_agg(name || '=' || coalesce(created_by_superuser::text, 'null'), ',' ORDER BY name) FROM sync.sources}),
	'meta=false,meta_name=false', 'the sources record that no superuser created them');

wait_for($node,
	q{SELECT last_error LIKE '%connecting to 127.0.0.1 is not allowed: a loopback address%sync.allow_private_addresses%'
	    FROM sync_status() WHERE source = 'meta'},
	't', "the admin's source pointing at 127.0.0.1 is refused, with the reason");
wait_for($node,
	q{SELECT last_error ~ 'connecting to (127\.0\.0\.1|::1) is not allowed'
	    FROM sync_status() WHERE source = 'meta_name'},
	't', '... and so is a host name that resolves to loopback (checked after DNS)');
is(scalar(net_requests($log)), 0, 'the metadata endpoint never saw a request');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.rejects}), '0', 'nothing in sync.rejects');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM sync_status() WHERE last_error LIKE '%SECRET%'}
		  . q{ OR EXISTS (SELECT 1 FROM sync.subscriptions WHERE last_error LIKE '%SECRET%')}),
	'0', 'no secret in any last_error');
wait_for($node, q{SELECT phase = 'retrying' AND retry_at IS NOT NULL FROM sync_status() WHERE source = 'meta'},
	't', 'the job backs off and retries');

# a superuser's source to the same address connects
$node->safe_psql('postgres', qq{
	SELECT sync_add_source('meta_su', 'binance', '$meta');
	SELECT sync_subscribe('meta_su', ARRAY['SUUSDT'], history_from => '2022-12-13 00:00+00', realtime => false);
});
wait_for($node, q{SELECT count(*) > 0 FROM sync.rejects WHERE source = 'meta_su'}, 't',
	"a superuser's source connects to 127.0.0.1 (its answer is refused as malformed)");
ok((grep { /symbol=SUUSDT/ } net_requests($log)), 'the endpoint saw the superuser source');
ok(!(grep { /symbol=(BTC|ETH)USDT/ } net_requests($log)), '... and still nothing of the admin sources');

# the setting lets the admin's sources through
$node->append_conf('postgresql.conf', 'sync.allow_private_addresses = on');
$node->reload;
wait_for($node, q{SELECT count(*) > 0 FROM sync.rejects WHERE source = 'meta'}, 't',
	'with sync.allow_private_addresses = on the admin source connects');
ok((grep { /symbol=BTCUSDT/ } net_requests($log)), 'the endpoint saw it');

# and off again: refused again, also on a connection kept alive
$node->append_conf('postgresql.conf', 'sync.allow_private_addresses = off');
$node->reload;
wait_for($node,
	q{SELECT last_error LIKE '%connecting to 127.0.0.1 is not allowed%' FROM sync_status() WHERE source = 'meta'},
	't', 'turned off again, the admin source is refused again');
my $after = scalar(grep { /symbol=BTCUSDT/ } net_requests($log));
$node->safe_psql('postgres', q{SELECT pg_sleep(1.5)});
is(scalar(grep { /symbol=BTCUSDT/ } net_requests($log)), $after,
	'no request of the admin source reaches the endpoint any more');

unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no worker ended by a signal');
$node->stop;
done_testing();
