# Day files (the csv provider) served by a tiny HTTP server this test
# starts on a directory it writes, so the test decides when a file exists:
#  - a file not published yet (404) is "not yet", never an empty day: the
#    checkpoint stays, no quiet stretch is recorded, the job says it is
#    waiting, and when the file appears every bar of it is stored;
#  - a file still missing days after its day, with files before and after
#    it, is a hole sync.gaps lists;
#  - a redirect is an error, not an empty day;
#  - a trade file pass with page_size 1000000 runs (memory is bounded),
#    keeps ids that are not numbers and microsecond times;
#  - a record the database refuses (a CHECK added here) is rejected with
#    the database's error and the rest of its page is stored; an id that
#    is not UTF-8 is rejected and stored escaped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX qw(strftime floor);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $dir = PostgreSQL::Test::Utils::tempdir();
my $www = "$dir/www";
mkdir $www or die "mkdir: $!";

# a file server: files of $www, a 302 for any name that has a NAME.302 beside it
open(my $py, '>', "$dir/serve.py") or die;
print $py <<'PY';
import http.server, os, sys
root, port_file = sys.argv[1], sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
    def do_GET(self):
        if os.path.exists(os.path.join(root, self.path.lstrip('/') + '.302')):
            self.send_response(302)
            self.send_header('Location', '/elsewhere' + self.path)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        super().do_GET()
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
with open(port_file + '.tmp', 'w') as f:
    f.write(str(s.server_address[1]))
os.rename(port_file + '.tmp', port_file)
s.serve_forever()
PY
close $py;
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0)
{
	open(STDOUT, '>', "$dir/serve.log");
	open(STDERR, '>&', \*STDOUT);
	exec('/usr/bin/python3', "$dir/serve.py", $www, "$dir/port") or die "exec: $!";
}
END { kill 'TERM', $pid if $pid; }
for (1 .. 200)
{
	last if -s "$dir/port";
	select(undef, undef, undef, 0.05);
}
my $port = slurp_file("$dir/port");
my $base = "http://127.0.0.1:$port";

my $node = sync_node('csv_files');

my $now = time();
my $today = floor($now / 86400) * 86400;
sub day { my ($n) = @_; return $today - $n * 86400; }    # UTC midnight $n days ago
sub date { my ($t) = @_; return strftime('%Y-%m-%d', gmtime($t)); }
sub ts { my ($t) = @_; return strftime('%Y-%m-%d %H:%M:%S+00', gmtime($t)); }

sub write_file
{
	my ($name, @lines) = @_;
	open(my $fh, '>', "$www/$name.tmp") or die "$name: $!";
	binmode $fh;
	print $fh map { "$_\n" } @lines;
	close $fh;
	rename("$www/$name.tmp", "$www/$name") or die;
}

# klines at the first minutes of a day
sub klines
{
	my ($day, $n) = @_;
	return map {
		my $t = ($day + 60 * $_) * 1000;
		join(',', $t, '1.5', '2', '1', '1.75', '10', $t + 59999, '15', '7', '0', '0', '0')
	} 0 .. $n - 1;
}

$node->safe_psql('postgres', qq{
	SELECT sync_add_source('files', 'csv', '$base');
	SELECT sync_add_source('bigpage', 'csv', '$base', options => '{"page_size": 1000000}');
	SELECT sync_start()});

# --- a file not published yet, then published
my $y = day(1);
$node->safe_psql('postgres', qq{
	SELECT sync_subscribe('files', ARRAY['AAA'], history_from => '@{[ ts($y) ]}', realtime => false)});
my $waiting = 'waiting: file for ' . date($y) . ' not published yet (HTTP 404)';
wait_for($node, q{SELECT last_error FROM sync.subscriptions WHERE symbol = 'AAA'}, $waiting,
	'404: the job says it waits for the file');
is($node->safe_psql('postgres', q{
	SELECT coalesce(synced_through::text, 'none') FROM sync.subscriptions WHERE symbol = 'AAA'}),
	'none', '404: the checkpoint has not moved');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.checked_gaps WHERE symbol = 'AAA'}),
	'0', '404: no quiet stretch recorded');
# the error is in the table before the phase is in shared memory: wait for both
ok($node->poll_query_until('postgres', q{SELECT phase || ' ' || last_error ~ '^retrying waiting: file for'
	                                       FROM sync_status() WHERE symbol = 'AAA'}),
	'404: sync_status() shows it');

write_file('AAA-1m-' . date($y) . '.csv', klines($y, 3));
wait_for($node, q{SELECT count(*) FROM sync.bars WHERE symbol = 'AAA'}, '3',
	'the file published later: its bars are stored');
wait_for($node, qq{SELECT synced_through >= '@{[ ts($today) ]}' FROM sync.subscriptions WHERE symbol = 'AAA'},
	't', 'the checkpoint went past the day');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.rejects WHERE symbol = 'AAA'}), '0',
	'none of its bars refused');

# --- a day older than a few days without a file, data on both sides: a hole
write_file('BBB-1m-' . date(day(10)) . '.csv', klines(day(10), 2));
write_file('BBB-1m-' . date(day(8)) . '.csv', klines(day(8), 2));
$node->safe_psql('postgres', qq{
	SELECT sync_subscribe('files', ARRAY['BBB'], history_from => '@{[ ts(day(10)) ]}', realtime => false)});
wait_for($node, q{SELECT count(*) FROM sync.bars WHERE symbol = 'BBB'}, '4', 'hole: the days around it stored');
wait_for($node, q{SELECT count(*) FROM sync.rejects WHERE symbol = 'BBB'}, '0', 'hole: nothing refused');
wait_for($node, q{SELECT last_error FROM sync.subscriptions WHERE symbol = 'BBB'},
	'waiting: file for ' . date(day(3)) . ' not published yet (HTTP 404)',
	'hole: the job goes on to the recent days and waits for those');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM sync.gaps WHERE symbol = 'BBB'
	   AND gap_from <= '@{[ ts(day(9)) ]}' AND gap_to >= '@{[ ts(day(8)) ]}'}), '1',
	'hole: sync.gaps lists the day without a file');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM sync.checked_gaps WHERE symbol = 'BBB'
	   AND gap_from < '@{[ ts(day(8)) ]}' AND gap_to > '@{[ ts(day(9)) ]}'}), '0',
	'hole: not recorded as a quiet stretch');

# --- a redirect is an error, not an empty day
write_file('CCC-1m-' . date($y) . '.csv.302', 'x');
$node->safe_psql('postgres', qq{
	SELECT sync_subscribe('files', ARRAY['CCC'], history_from => '@{[ ts($y) ]}', realtime => false)});
wait_for($node, q{SELECT last_error LIKE 'provider answered HTTP 302 (a redirect)%' FROM sync.subscriptions WHERE symbol = 'CCC'},
	't', '302: shown as an error');
is($node->safe_psql('postgres', q{
	SELECT coalesce(synced_through::text, 'none') FROM sync.subscriptions WHERE symbol = 'CCC'}),
	'none', '302: the checkpoint has not moved');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sync.checked_gaps WHERE symbol = 'CCC'}),
	'0', '302: no quiet stretch recorded');

# --- trades: a huge page_size, ids that are not numbers, us times, refused records
$node->safe_psql('postgres', q{
	ALTER TABLE sync.trades ADD CONSTRAINT test_refused CHECK (trade_id <> 'refused-by-check')});
my $t0 = $y * 1000;
write_file('DDD-trades-' . date($y) . '.csv',
	"a-1,1.5,2,3,@{[ $t0 + 1 ]},True,True",
	"a-2,1.5,2,3,@{[ ($t0 + 2) * 1000 + 123 ]},false,True",
	"refused-by-check,1.5,2,3,@{[ $t0 + 3 ]},True,True",
	"\xff\xfe-bad,1.5,2,3,@{[ $t0 + 4 ]},True,True",
	"a-5,1.5,2,3,@{[ $t0 + 5 ]},True,True");
$node->safe_psql('postgres', qq{
	SELECT sync_subscribe('bigpage', ARRAY['DDD'], 'trades', history_from => '@{[ ts($y) ]}', realtime => false)});
wait_for($node, q{SELECT count(*) FROM sync.trades WHERE symbol = 'DDD'}, '3',
	'page_size 1000000: the trades of the file are stored, the first one too');
is($node->safe_psql('postgres', q{
	SELECT string_agg(trade_id || ' ' || to_char(ts, 'US') , ',' ORDER BY ts) FROM sync.trades WHERE symbol = 'DDD'}),
	'a-1 001000,a-2 002123,a-5 005000', 'ids that are not numbers kept, times to the microsecond');
wait_for($node, q{SELECT count(*) FROM sync.rejects WHERE symbol = 'DDD'}, '2', 'the two bad records are rejected');
like($node->safe_psql('postgres', q{
	SELECT reason || ' | ' || payload FROM sync.rejects WHERE symbol = 'DDD' AND payload LIKE '%refused-by-check%'}),
	qr/^not stored: .*violates check constraint "test_refused".* \| .*refused-by-check/,
	'a record the database refuses: rejected with its error, the rest of the page stored');
is($node->safe_psql('postgres', q{
	SELECT payload FROM sync.rejects WHERE symbol = 'DDD' AND reason LIKE '%UTF-8%'}),
	'\xFF\xFE-bad,1.5,2,3,' . ($t0 + 4) . ',True,True', 'an id that is not UTF-8: rejected, its bytes escaped');
is($node->safe_psql('postgres', q{SELECT rows_rejected FROM sync.subscriptions WHERE symbol = 'DDD'}), '2',
	'both counted as rejected');

$node->stop;
done_testing();
