# The dashboard's readers of what the API sends (dashboard/format.js): its
# unit tests (test/dashboard/format.test.js, Node's test runner) run here so
# that the TAP suite runs them, one TAP line each.  They need node only:
# no browser, no database.
use strict;
use warnings;
use Test::More;
use FindBin;
use IPC::Run;

my $root = "$FindBin::Bin/../..";
plan skip_all => 'no node (Node.js)' unless system('node --version >/dev/null 2>&1') == 0;

my ($out, $err) = ('', '');
local %ENV = %ENV;
delete @ENV{qw(LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS)};    # a sanitizer run's, for the servers only
my $ran = IPC::Run::run([ 'node', '--test', '--test-reporter=tap', "$root/test/dashboard/format.test.js" ],
	'<', \undef, '>', \$out, '2>', \$err);
my @passed = $out =~ /^ok \d+ - (.*)$/mg;
my @failed = $out =~ /^not ok \d+ - (.*)$/mg;
ok(@passed + @failed > 0, 'node ran the unit tests of dashboard/format.js') or diag("$out\n$err");
pass("format.js: $_") for @passed;
fail("format.js: $_") for @failed;
ok($ran, 'node --test exits 0') or diag("$out\n$err");
done_testing();
