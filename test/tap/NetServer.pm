# NetServer.pm: starts test/fake_provider/net_server.py (a hostile HTTP
# server: endless, lying and compressed-bomb bodies, a fake cloud-metadata
# answer) for the network tests 014_ssrf and 014_body_limit, and reads its request log.
package NetServer;

use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(start_net_server net_requests);

my $here = dirname(File::Spec->rel2abs(__FILE__));
my @servers;

# Start a server; returns (its base URL "http://127.0.0.1:PORT", its log file).
sub start_net_server
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', "$dir/server.out");
		open(STDERR, '>&', \*STDOUT);
		exec('/usr/bin/python3', "$here/../fake_provider/net_server.py",
			'--port-file', "$dir/port", '--log', "$dir/requests.log")
		  or die "exec: $!";
	}
	push @servers, $pid;
	for (1 .. 400)
	{
		last if -s "$dir/port";
		select(undef, undef, undef, 0.05);
	}
	my $port = PostgreSQL::Test::Utils::slurp_file("$dir/port");
	chomp $port;
	return ("http://127.0.0.1:$port", "$dir/requests.log");
}

# The requests the server has seen, one "path?query" each.
sub net_requests
{
	my ($log) = @_;
	return () unless -e $log;
	return grep { length } split /\n/, PostgreSQL::Test::Utils::slurp_file($log);
}

END
{
	local $?;
	kill 'TERM', @servers if @servers;
	waitpid($_, 0) for @servers;
}

1;
