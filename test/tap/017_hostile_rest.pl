# A hostile provider over REST: every provider's bars and trades, and kline
# and trade files, answered by the fake provider's hostile mode with pages
# that mix good records with records holding a JSON null in each field in
# turn, a wrong type in each field, huge numbers, impossible dates and
# invalid UTF-8; answers whose envelope is null or of the wrong type; a
# huge, a deep and a wide body; a file that is missing (404), then
# published; a file redirected elsewhere (302).  Each scenario has its own
# subscription, all working at once.  It proves: no process ends by a
# signal and the server never restarts; every good record is stored once,
# with its time to the microsecond; every bad one is in sync.rejects once,
# with a reason, its bytes valid UTF-8; a bad page is not asked for again
# and again; an unusable body leaves a clear last_error and the worker's
# memory bounded; a missing file is "not yet", never an empty day.
use strict;
use warnings;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake();
my $node = sync_node('hostile_rest');
# room for a worker per scenario; answers above 1 MB are refused
$node->append_conf('postgresql.conf', <<CONF);
max_worker_processes = 48
sync.max_workers = 40
sync.max_response_size = 1024
CONF
$node->restart;

# Every scenario's records lie in the two hours before the last full hour.
my $T = (int(time() / 3600) - 2) * 3600 * 1000;    # ms, on the hour
my $DAY = (int(time() / 86400) - 1) * 86400 * 1000;    # yesterday 00:00 UTC, for files
sub rfc { strftime('%Y-%m-%dT%H:%M:%S', gmtime($_[0] / 1000)) }
sub b64 { encode_base64($_[0], '') }

my %scen;     # name -> {source, symbol, dataset, good => [keys], bad => [tags], either => [tags], untagged => n}
my @scripts;

# A page from a list of records: [raw JSON or CSV text, class, key or tag].
# class: good (stored once), bad (rejected once, found by its tag),
# either (an odd value in a field the provider may ignore: stored or
# rejected, once), untagged (rejected, counted).
sub account
{
	my ($name, @recs) = @_;
	my $s = $scen{$name};
	for my $r (@recs)
	{
		my ($text, $class, $key) = @$r;
		push @{ $s->{$class} }, $key if $class ne 'untagged';
		$s->{untagged}++ if $class eq 'untagged';
	}
}

# The records of a page: good ones around each bad variant.  $make->($i,
# $tag, $field, $raw) renders record $i (the i-th minute or trade of the
# page) with field $field set to the raw JSON $raw (none: a good record).
sub page_records
{
	my ($name, $make, $variants, $either, $elements, $goodkey, $altkey) = @_;
	my @recs;
	my $i = 0;
	my $n = 0;
	my $good = sub { push @recs, [ $make->($i, "$name-g$i"), 'good', $goodkey->($i) ]; $i++ };
	$good->() for 1 .. 2;
	for my $v ((map { [ @$_, 'bad' ] } @$variants), (map { [ @$_, 'either' ] } @$either))
	{
		my ($field, $raw, $class) = @$v;
		my $tag = sprintf('%s-%s%d', $name, $class eq 'bad' ? 'b' : 'e', $n++);
		push @recs, [ $make->($i, $tag, $field, $raw), $class, $tag ];
		$scen{$name}{alt}{$tag} = $altkey->($i) if $altkey;
		$i++;
		$good->() if $n % 5 == 0;
	}
	push @recs, [ $_, 'untagged', undef ] for @$elements;
	$good->() for 1 .. 2;
	return @recs;
}

# wrong values for a field, by what the field should be
my @not_int = ('null', '"7"', '{}', '[]', 'true', '1.5', '1e400', '99999999999999999999999', '9223372036854775808');
my @bad_time_ms = (@not_int, '-1', '4611686018427387904');    # 2^62 ms: far beyond PostgreSQL's range
my @not_decimal = ('null', '{}', '[]', 'true', '"abc"', qq{"1.5\xff"});
my @bad_rfc = ('null', '5', '{}', '[]', '"x"', '"2021-02-30T00:00:00Z"', '"0000-01-01T00:00:00Z"',
	'"99999-01-01T00:00:00Z"', qq{"2021-01-01T00:00:00\xffZ"});
my @bad_elements = ('null', '"x"', '5', '[]', '{}');

sub bad_for { my ($field, @raw) = @_; return map { [ $field, $_ ] } @raw }

# Subscribe a scenario: its first page is the script "<name>-page",
# answered to the first request (matched by its parameters), and every
# other request for the symbol gets $empty.
sub scenario
{
	my (%a) = @_;
	$scen{ $a{name} } = { %{ $scen{ $a{name} } // {} }, source => $a{source}, symbol => $a{symbol}, dataset => $a{dataset},
		good => [], bad => [], either => [], untagged => 0, history_from => $a{history_from} // $T };
	push @scripts, { id => "$a{name}-page", %{ $a{match} }, responses => $a{responses},
		($a{count} ? (count => $a{count}) : ()) };
	push @scripts, { id => "$a{name}-rest", %{ $a{rest} }, responses => [ { body_b64 => b64($a{empty}) } ] }
	  if $a{rest};
}

sub jpage { my ($open, $close, @recs) = @_; return $open . join(',', map { $_->[0] } @recs) . $close }

### Binance klines: arrays of 12 fields
{
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my $ms = $T + $i * 60000;
		my @k = ($ms, '"1.0"', '"2.0"', '"0.5"', '"1.5"', '"10.0"', $ms + 59999, '"15.0"', 5, '"1.0"', '"1.5"', qq{"$tag"});
		$k[$f] = $raw if defined $f;
		return '[' . join(',', @k) . ']';
	};
	my @recs = page_records('bk', $make,
		[ bad_for(0, @bad_time_ms), bad_for(1, @not_decimal, '1.5'), bad_for(2, 'null', '{}'),
		  bad_for(3, 'null', '[]'), bad_for(4, 'null', 'true'), bad_for(5, 'null', '"-1"', '1e400'),
		  bad_for(7, 'null'), bad_for(8, 'null', '"5"', '1.5', '1e400', '9223372036854775808') ],
		[ bad_for(6, 'null', '"x"'), bad_for(9, 'null'), bad_for(10, '{}') ],
		\@bad_elements, sub { $T + $_[0] * 60000 });
	scenario(name => 'bk', source => 'bin', symbol => 'HBK', dataset => 'bars',
		match => { path => '/api/v3/klines', params => { symbol => '^HBK$', startTime => "^$T\$" } },
		responses => [ { body_b64 => b64(jpage('[', ']', @recs)) } ],
		rest => { path => '/api/v3/klines', params => { symbol => '^HBK$' } }, empty => '[]');
	account('bk', @recs);
}

### Binance aggregate trades
{
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my %t = (a => 1000 + $i, p => '"1.5"', q => '"2.0"', f => 1000 + $i, l => 1000 + $i, T => $T + $i * 1000,
			m => 'true', M => 'true', _tag => qq{"$tag"});
		$t{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$t{$_}} } qw(a p q f l T m M _tag)) . '}';
	};
	my @recs = page_records('bt', $make,
		[ bad_for('a', @not_int), bad_for('T', @bad_time_ms), bad_for('p', @not_decimal),
		  bad_for('q', 'null', '{}', '"-1"') ],
		[ bad_for('m', 'null', '"true"', '1'), bad_for('M', 'null'), bad_for('f', '"x"') ],
		\@bad_elements, sub { (1000 + $_[0]) . ',' . ($T + $_[0] * 1000) * 1000 });
	scenario(name => 'bt', source => 'bin', symbol => 'HBT', dataset => 'trades',
		match => { path => '/api/v3/aggTrades', params => { symbol => '^HBT$', startTime => "^$T\$" } },
		responses => [ { body_b64 => b64(jpage('[', ']', @recs)) } ],
		rest => { path => '/api/v3/aggTrades', params => { symbol => '^HBT$' } }, empty => '[]');
	account('bt', @recs);
}

### Alpaca bars: objects with an RFC 3339 time
{
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my %b = (t => '"' . rfc($T + $i * 60000) . 'Z"', o => '1.0', h => '2.0', l => '0.5', c => '1.5', v => '10',
			n => '5', vw => '1.2', _tag => qq{"$tag"});
		$b{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$b{$_}} } qw(t o h l c v n vw _tag)) . '}';
	};
	my @recs = page_records('ab', $make,
		[ bad_for('t', @bad_rfc), bad_for('o', @not_decimal, '1e400'), bad_for('h', 'null'), bad_for('l', 'null'),
		  bad_for('c', 'null', '[]'), bad_for('v', 'null', '-1', '1e400'), bad_for('vw', '"abc"', '{}') ],
		[ bad_for('n', 'null', '"5"', '1.5', '9223372036854775808', '-1'), bad_for('vw', 'null') ],
		\@bad_elements, sub { $T + $_[0] * 60000 });
	scenario(name => 'ab', source => 'alp', symbol => 'HAB', dataset => 'bars',
		match => { path => '/v2/stocks/HAB/bars', params => { start => '^' . rfc($T) } },
		responses => [ { body_b64 => b64(jpage('{"bars":[', '],"symbol":"HAB","next_page_token":null}', @recs)) } ],
		rest => { path => '/v2/stocks/HAB/bars' }, empty => '{"bars":[],"symbol":"HAB","next_page_token":null}');
	account('ab', @recs);
}

### Alpaca trades: nanosecond times, kept to the microsecond
{
	my $us = sub { ($T + $_[0] * 1000) * 1000 + 7 * $_[0] + 3 };
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my %t = (t => sprintf('"%s.%06d000Z"', rfc($T + $i * 1000), 7 * $i + 3), x => '"V"', p => '1.5',
			s => '100', c => '["@"]', i => 1000 + $i, z => '"A"', _tag => qq{"$tag"});
		$t{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$t{$_}} } qw(t x p s c i z _tag)) . '}';
	};
	my @recs = page_records('at', $make,
		[ bad_for('t', @bad_rfc), bad_for('i', @not_int), bad_for('x', 'null', '5', '{}', qq{"V\xff"}),
		  bad_for('p', @not_decimal, '1e400'), bad_for('s', 'null', '{}', '-1', '1e400') ],
		[ bad_for('c', 'null', '[null]', qq{["\xff"]}, '5'), bad_for('z', 'null', '{}') ],
		\@bad_elements, sub { (1000 + $_[0]) . ',' . $us->($_[0]) });
	scenario(name => 'at', source => 'alp', symbol => 'HAT', dataset => 'trades',
		match => { path => '/v2/stocks/HAT/trades', params => { start => '^' . rfc($T) } },
		responses => [ { body_b64 => b64(jpage('{"trades":[', '],"symbol":"HAT","next_page_token":null}', @recs)) } ],
		rest => { path => '/v2/stocks/HAT/trades' }, empty => '{"trades":[],"symbol":"HAT","next_page_token":null}');
	account('at', @recs);
}

### Polygon aggregates: objects with a ms time
{
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my %b = (v => '10', o => '1.0', c => '1.5', h => '2.0', l => '0.5', t => $T + $i * 60000, n => '5',
			vw => '1.2', _tag => qq{"$tag"});
		$b{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$b{$_}} } qw(v o c h l t n vw _tag)) . '}';
	};
	my @recs = page_records('pb', $make,
		[ bad_for('t', @bad_time_ms), bad_for('o', @not_decimal, '1e400'), bad_for('c', 'null'),
		  bad_for('h', 'null'), bad_for('l', '{}'), bad_for('v', 'null', '-1') ],
		[ bad_for('n', 'null', '"5"', '-1'), bad_for('vw', 'null') ],
		\@bad_elements, sub { $T + $_[0] * 60000 });
	scenario(name => 'pb', source => 'poly', symbol => 'HPB', dataset => 'bars',
		match => { path_re => "^/v2/aggs/ticker/HPB/range/1/minute/$T/" },
		responses => [ { body_b64 => b64(jpage('{"ticker":"HPB","adjusted":false,"status":"OK","results":[', ']}', @recs)) } ],
		rest => { path_re => '^/v2/aggs/ticker/HPB/' }, empty => '{"ticker":"HPB","resultsCount":0,"status":"OK"}');
	account('pb', @recs);
}

### Polygon trades: SIP nanosecond times, kept to the microsecond
{
	my $us = sub { ($T + $_[0] * 1000) * 1000 + 7 * $_[0] + 3 };
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my %t = (conditions => '[12]', exchange => '11', id => qq{"@{[2000 + $i]}"}, price => '1.5',
			sip_timestamp => $us->($i) * 1000, size => '100', tape => '1', _tag => qq{"$tag"});
		$t{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$t{$_}} } qw(conditions exchange id price sip_timestamp size tape _tag)) . '}';
	};
	my @recs = page_records('pt', $make,
		[ bad_for('sip_timestamp', @not_int, '-1'), bad_for('id', 'null', '5', '{}', qq{"7\xff"}),
		  bad_for('exchange', 'null', '"11"', '{}', '1.5'), bad_for('price', @not_decimal, '1e400'),
		  bad_for('size', 'null', '-1') ],
		[ bad_for('conditions', 'null', qq{["\xff"]}, '"x"'), bad_for('tape', 'null') ],
		\@bad_elements, sub { (2000 + $_[0]) . ',' . $us->($_[0]) });
	scenario(name => 'pt', source => 'poly', symbol => 'HPT', dataset => 'trades',
		match => { path => '/v3/trades/HPT', params => { 'timestamp.gte' => "^$T" } },
		responses => [ { body_b64 => b64(jpage('{"status":"OK","request_id":"x","results":[', ']}', @recs)) } ],
		rest => { path => '/v3/trades/HPT' }, empty => '{"status":"OK","results":[]}');
	account('pt', @recs);
}

### Coinbase candles: [time s, low, high, open, close, volume], newest first
{
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my @c = (($T + $i * 60000) / 1000, '0.5', '2.0', '1.0', '1.5', '10', qq{"$tag"});
		$c[$f] = $raw if defined $f;
		return '[' . join(',', @c) . ']';
	};
	my @recs = page_records('cb', $make,
		[ bad_for(0, @not_int, '-1', '4611686018427387904'), bad_for(1, @not_decimal, '1e400'), bad_for(2, 'null'),
		  bad_for(3, '{}'), bad_for(4, 'null'), bad_for(5, 'null', '-1') ],
		[], \@bad_elements, sub { $T + $_[0] * 60000 }, sub { '"t":' . ($T + $_[0] * 60000) . ',' });
	scenario(name => 'cb', source => 'cb', symbol => 'HCB-USD', dataset => 'bars',
		match => { path => '/products/HCB-USD/candles', params => { start => '^' . rfc($T) } },
		responses => [ { body_b64 => b64(jpage('[', ']', reverse @recs)) } ],
		rest => { path => '/products/HCB-USD/candles' }, empty => '[]');
	account('cb', @recs);
}

### Coinbase trades: microsecond times, newest first, paged by id
{
	my $us = sub { ($T + $_[0] * 1000) * 1000 + 11 * $_[0] + 5 };
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my $u = $us->($i);
		my %t = (time => sprintf('"%s.%06dZ"', rfc(int($u / 1000)), $u % 1000000), trade_id => 3000 + $i,
			price => '"1.5"', size => '"2.0"', side => '"buy"', _tag => qq{"$tag"});
		$t{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$t{$_}} } qw(time trade_id price size side _tag)) . '}';
	};
	my @recs = page_records('ct', $make,
		[ bad_for('time', @bad_rfc), bad_for('trade_id', @not_int, '-1'), bad_for('price', @not_decimal),
		  bad_for('size', 'null', '{}', '"-1"') ],
		[ bad_for('side', 'null', '5', '"sideways"', qq{"b\xff"}) ],
		\@bad_elements, sub { (3000 + $_[0]) . ',' . $us->($_[0]) });
	scenario(name => 'ct', source => 'cb', symbol => 'HCT-USD', dataset => 'trades',
		match => { path => '/products/HCT-USD/trades', params => { after => undef } }, count => 1,
		responses => [ { body_b64 => b64(jpage('[', ']', reverse @recs)) } ],
		rest => { path => '/products/HCT-USD/trades' }, empty => '[]');
	account('ct', @recs);
}

### Kline files: one CSV line a kline, a bad field in each
{
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my $ms = $DAY + $i * 60000;
		my @k = ($ms, '1.0', '2.0', '0.5', '1.5', '10.0', $ms + 59999, '15.0', 5, '1.0', '1.5', $tag);
		$k[$f] = $raw if defined $f;
		return join(',', @k);
	};
	my @recs = page_records('fk', $make,
		[ bad_for(0, '', 'x', '1e400', '99999999999999999999999', '-1', '4611686018427387904', '9223372036854775808'),
		  bad_for(1, '', 'abc', "1.5\xff", 'NaN'), bad_for(5, '-1'), bad_for(8, '', 'x', '99999999999999999999999') ],
		[ bad_for(11, "t\xff") ],
		[ '1,2,3', join(',', (1) x 20) ], sub { $DAY + $_[0] * 60000 });
	my $day = strftime('%Y-%m-%d', gmtime($DAY / 1000));
	scenario(name => 'fk', source => 'files', symbol => 'HFK', dataset => 'bars', history_from => $DAY,
		match => { path => "/files/HFK-1m-$day.csv" },
		responses => [ { ctype => 'text/csv', body_b64 => b64(join('', map { "$_->[0]\n" } @recs)) } ],
		rest => { path_re => '^/files/HFK-' }, empty => '');
	$scripts[-1]{responses}[0]{status} = 404;
	account('fk', @recs);
}

### Trade files: more lines than a page (page_size 10), bad fields among them
{
	my $make = sub {
		my ($i, $tag, $f, $raw) = @_;
		my @t = (5000 + $i, '1.5', '2.0', '3.0', $DAY + $i * 1000, 'True', 'True');
		$t[$f] = $raw if defined $f;
		return join(',', @t);
	};
	my @recs = page_records('ft', $make,
		[ bad_for(4, '', 'x', '-1', '4611686018427387904', '9223372036854775808'), bad_for(1, '', 'abc', "1.5\xff"),
		  bad_for(2, '-1'), bad_for(0, '') ],
		[], [ '1,2', join(',', (1) x 9) ], sub { (5000 + $_[0]) . ',' . ($DAY + $_[0] * 1000) * 1000 });
	my $day = strftime('%Y-%m-%d', gmtime($DAY / 1000));
	scenario(name => 'ft', source => 'tfiles', symbol => 'HFT', dataset => 'trades', history_from => $DAY,
		match => { path => "/files/HFT-trades-$day.csv" },
		responses => [ { ctype => 'text/csv', body_b64 => b64(join('', map { "$_->[0]\n" } @recs)) } ],
		rest => { path_re => '^/files/HFT-' }, empty => '');
	$scripts[-1]{responses}[0]{status} = 404;
	# a trade line has no room for a tag: a bad line is found by its id
	for my $r (@recs)
	{
		next unless $r->[1] eq 'bad';
		my ($id) = $r->[0] =~ /^([^,]*),/;
		@$r[1, 2] = length($id) ? ('bad', $id) : ('untagged', undef);
	}
	account('ft', @recs);
	$scen{ft}{reread} = 1;    # read again from the cursor: a bad line may be refused on each pass
}

### Envelopes: null or wrong-typed answers, retried, then a good page
my %envelope = (
	benv => [ 'bin', 'HBENV', { path => '/api/v3/klines', params => { symbol => '^HBENV$', startTime => "^$T\$" } },
		[ 'null', '{"code":null,"msg":null}', '{"msg":{}}', '{"msg":[1]}', '"x"', '5', '{}' ],
		sub { '[' . join(',', map { my $ms = $T + $_ * 60000; qq{[$ms,"1","2","0.5","1.5","10",@{[$ms + 59999]},"1",1,"0","0","0"]} } 0 .. 2) . ']' },
		{ path => '/api/v3/klines', params => { symbol => '^HBENV$' } }, '[]' ],
	aenv => [ 'alp', 'HAENV', { path => '/v2/stocks/HAENV/bars', params => { start => '^' . rfc($T) } },
		[ 'null', '{"bars":5}', '{"bars":{}}', '{"message":null}', '{"message":{}}', '[]', '"x"' ],
		sub { '{"bars":[' . join(',', map { '{"t":"' . rfc($T + $_ * 60000) . 'Z","o":1,"h":2,"l":0.5,"c":1.5,"v":10}' } 0 .. 2) . '],"next_page_token":null}' },
		{ path => '/v2/stocks/HAENV/bars' }, '{"bars":null}' ],
	penv => [ 'poly', 'HPENV', { path_re => "^/v2/aggs/ticker/HPENV/range/1/minute/$T/" },
		[ '{"status":null}', '{"status":5,"results":[]}', '{"status":{},"results":[]}', '{"status":"ERROR","error":null}',
		  '{"status":"ERROR","message":{}}', '{"status":"OK","results":{}}', '{"status":"OK","results":"x"}', 'null' ],
		sub { '{"status":"OK","results":[' . join(',', map { '{"t":' . ($T + $_ * 60000) . ',"o":1,"h":2,"l":0.5,"c":1.5,"v":10}' } 0 .. 2) . ']}' },
		{ path_re => '^/v2/aggs/ticker/HPENV/' }, '{"status":"OK"}' ],
	cenv => [ 'cb', 'HCENV-USD', { path => '/products/HCENV-USD/candles', params => { start => '^' . rfc($T) } },
		[ 'null', '{"message":null}', '{"message":{}}', '{}', '"x"', '5' ],
		sub { '[' . join(',', map { '[' . ($T + $_ * 60000) / 1000 . ',0.5,2,1,1.5,10]' } reverse 0 .. 2) . ']' },
		{ path => '/products/HCENV-USD/candles' }, '[]' ],
);
for my $name (sort keys %envelope)
{
	my ($source, $symbol, $match, $bad, $good, $rest, $empty) = @{ $envelope{$name} };
	scenario(name => $name, source => $source, symbol => $symbol, dataset => 'bars', match => $match,
		responses => [ (map { { body_b64 => b64($_) } } @$bad), { body_b64 => b64($good->()) } ],
		rest => $rest, empty => $empty);
	$scen{$name}{good} = [ map { $T + $_ * 60000 } 0 .. 2 ];
	$scen{$name}{answers} = @$bad + 1;
}

### Bodies that must not cost more than the limit: huge (chunked, no length), deep, wide
my %bodies = (
	huge => [ 'HUGE', { gen => 'huge', bytes => 5 << 20, chunked => JSON::PP::true } ],
	deep => [ 'DEEP', { gen => 'deep', n => 100000 } ],
	wide => [ 'WIDE', { gen => 'wide', bytes => 30 << 20 } ],
);
for my $name (sort keys %bodies)
{
	my ($symbol, $resp) = @{ $bodies{$name} };
	scenario(name => $name, source => 'bin', symbol => $symbol, dataset => 'bars',
		match => { path => '/api/v3/klines', params => { symbol => "^$symbol\$" } },
		responses => [$resp], ($name eq 'wide' ? (count => 2) : ()),
		rest => { path => '/api/v3/klines', params => { symbol => "^$symbol\$" } }, empty => '[]');
}

### Files: missing (404) until published; redirected (302)
my $day = strftime('%Y-%m-%d', gmtime($DAY / 1000));
my @late = map { my $ms = $DAY + $_ * 60000; "$ms,1.0,2.0,0.5,1.5,10.0," . ($ms + 59999) . ",15.0,5,1.0,1.5,0" } 0 .. 9;
scenario(name => 'late', source => 'files', symbol => 'HLATE', dataset => 'bars', history_from => $DAY,
	match => { path => "/files/HLATE-1m-$day.csv" },
	responses => [ { status => 404, ctype => 'application/xml', body => '<Error><Code>NoSuchKey</Code></Error>' } ],
	rest => { path_re => '^/files/HLATE-' }, empty => '');
$scripts[-1]{responses}[0]{status} = 404;
scenario(name => 'moved', source => 'files', symbol => 'HMOVED', dataset => 'bars', history_from => $DAY,
	match => { path => "/files/HMOVED-1m-$day.csv" },
	responses => [ { status => 302, headers => { Location => "$fake/files/elsewhere.csv" }, body => '' } ],
	rest => { path_re => '^/files/HMOVED-' }, empty => '');
$scripts[-1]{responses}[0]{status} = 404;
push @scripts, { id => 'elsewhere', path => '/files/elsewhere.csv',
	responses => [ { ctype => 'text/csv', body => join('', map { "$_\n" } @late) } ] };

fake_hostile($fake, { scripts => \@scripts });

# sources and subscriptions, all at once
my %source_sql = (
	bin => "'binance', '$fake'",
	alp => "'alpaca', '$fake', credentials => '{\"key_id\": \"K\", \"secret\": \"S\"}'",
	poly => "'polygon', '$fake', credentials => '{\"secret\": \"K\"}'",
	cb => "'coinbase', '$fake'",
	files => "'csv', '$fake/files'",
	tfiles => "'csv', '$fake/files', options => '{\"page_size\": 10}'",
);
my $sql = join('', map { "SELECT sync_add_source('$_', $source_sql{$_});\n" } sort keys %source_sql);
for my $name (sort keys %scen)
{
	my $s = $scen{$name};
	$sql .= sprintf("SELECT sync_subscribe('%s', ARRAY['%s'], '%s', history_from => to_timestamp(%d / 1000.0), realtime => false);\n",
		$s->{source}, $s->{symbol}, $s->{dataset}, $s->{history_from});
}
$node->safe_psql('postgres', $sql . 'SELECT sync_start();');

# poll a query until it returns true, at most $seconds (the code under test
# may never get there: the assertions after it say what is missing)
sub poll_until
{
	my ($seconds, $query) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		my ($ret, $out) = $node->psql('postgres', $query);
		return 1 if $ret == 0 && $out eq 't';
		select(undef, undef, undef, 0.2);
	}
	return 0;
}

my $sub = q{(SELECT s.%s FROM sync.subscriptions s JOIN sync.sources src ON src.id = s.source_id
	WHERE src.name = '%s' AND s.symbol = '%s')};
sub subq { my ($col, $name) = @_; sprintf($sub, $col, $scen{$name}{source}, $scen{$name}{symbol}) }
sub stored_count
{
	my ($name) = @_;
	my $s = $scen{$name};
	return "(SELECT count(*) FROM sync.$s->{dataset} WHERE source = '$s->{source}' AND symbol = '$s->{symbol}')";
}
sub reject_count
{
	my ($name) = @_;
	return "(SELECT count(*) FROM sync.rejects WHERE source = '$scen{$name}{source}' AND symbol = '$scen{$name}{symbol}')";
}

# a missing file is "not yet": asked again, the checkpoint stays, no quiet stretch
my $hits = sub { fake_hostile_report($fake)->{hits}{ $_[0] } // 0 };
ok($node->poll_query_until('postgres', "SELECT true", 't'), 'server up');
my $asked = 0;
for (1 .. 600)
{
	last if ($asked = $hits->('late-page')) >= 3;
	last if $asked >= 1 && $node->safe_psql('postgres', "SELECT " . subq('synced_through', 'late') . " > to_timestamp($DAY / 1000.0)") eq 't';
	select(undef, undef, undef, 0.1);
}
cmp_ok($asked, '>=', 3, 'a missing file is asked for again');
is($node->safe_psql('postgres', "SELECT coalesce(" . subq('synced_through', 'late') . " <= to_timestamp($DAY / 1000.0), true)"),
	't', 'a missing file does not move the checkpoint past its day');
is($node->safe_psql('postgres', "SELECT count(*) FROM sync.checked_gaps WHERE source = 'files' AND symbol = 'HLATE'"),
	'0', 'a missing file is not recorded as a quiet stretch');
fake_hostile($fake, { scripts => [ { id => 'late-page', path => "/files/HLATE-1m-$day.csv",
	responses => [ { ctype => 'text/csv', body => join('', map { "$_\n" } @late) } ] } ] });
$scen{late}{good} = [ map { $DAY + $_ * 60000 } 0 .. 9 ];

# every scenario settles: its good records stored, its bad ones refused
my @settled;
for my $name (sort keys %scen)
{
	my $s = $scen{$name};
	next if $bodies{$name} || $name eq 'moved';
	push @settled, stored_count($name) . ' >= ' . scalar(@{ $s->{good} });
}
ok(poll_until(90, 'SELECT ' . join("\n AND ", @settled)), 'every scenario was served and processed');
# each body was answered and asked for again: its worker lived through the first
for my $name (sort keys %bodies)
{
	my $n = 0;
	for (1 .. 900)
	{
		last if ($n = $hits->("$name-page")) >= 2;
		select(undef, undef, undef, 0.1);
	}
	cmp_ok($n, '>=', 2, "$name body: answered, and asked for again after it");
}

# the bodies: refused with a clear error, memory bounded
for my $name (sort keys %bodies)
{
	my $symbol = $bodies{$name}[0];
	# the pool worker carrying the series (it carries others too: its peak counts them all)
	my ($pid) = $node->safe_psql('postgres',
		"SELECT worker_pid FROM sync_status() WHERE source = 'bin' AND symbol = '$symbol'");
	my $kb = $pid ? peak_rss_kb($pid) : undef;
	ok(defined $kb && $kb < 200 * 1024,
		sprintf('%s body: the worker\'s peak memory stays under 200 MB (%s)', $name, defined $kb ? int($kb / 1024) . ' MB' : 'worker gone'));
	is($node->safe_psql('postgres', stored_count($name)), '0', "$name body: nothing stored");
}
like($node->safe_psql('postgres', 'SELECT ' . subq('last_error', 'huge')), qr/large|size|limit|exceed/i,
	'huge body: last_error says it is too large');
like($node->safe_psql('postgres', 'SELECT ' . subq('last_error', 'deep')), qr/deep|depth|nest|malformed/i,
	'deep body: last_error says why it is unusable');
cmp_ok($node->safe_psql('postgres', 'SELECT ' . reject_count('wide')), '<=', 2,
	'wide body: at most a reject per answer, not one per element');

# the pages: every good record once, every bad one refused once
for my $name (sort keys %scen)
{
	my $s = $scen{$name};
	next if $bodies{$name} || $name eq 'moved';
	my $what = "$name ($s->{source} $s->{dataset} $s->{symbol})";
	my $stored;
	if ($s->{dataset} eq 'bars')
	{
		$stored = $node->safe_psql('postgres', qq{
			SELECT string_agg((extract(epoch FROM ts) * 1000)::bigint::text, ' ' ORDER BY ts)
			  FROM sync.bars WHERE source = '$s->{source}' AND symbol = '$s->{symbol}'});
	}
	else
	{
		my $id = $s->{source} =~ /^(alp|poly)$/ ? q{split_part(trade_id, ':', 2)} : 'trade_id';
		$stored = $node->safe_psql('postgres', qq{
			SELECT string_agg($id || ',' || (extract(epoch FROM ts) * 1000000)::bigint, ' ' ORDER BY ts, $id)
			  FROM sync.trades WHERE source = '$s->{source}' AND symbol = '$s->{symbol}'});
	}
	my @either_stored;
	if (@{ $s->{either} })
	{
		# records with an odd value in a field the provider may ignore: stored
		# or refused; the stored ones are the rows beyond the good ones
		my %good = map { $_ => 1 } @{ $s->{good} };
		@either_stored = grep { !$good{$_} } split / /, $stored;
		$stored = join(' ', grep { $good{$_} } split / /, $stored);
	}
	is($stored, join(' ', @{ $s->{good} }), "$what: every good record stored once, times to the microsecond");
	my $tagged = join(',', map { "'$_'" } @{ $s->{bad} }, @{ $s->{either} });
	if (@{ $s->{bad} })
	{
		my $missing = $node->safe_psql('postgres', qq{
			SELECT string_agg(tag, ' ') FROM unnest(ARRAY[@{[ join(',', map { "'$_'" } @{ $s->{bad} }) ]}],
			                                        ARRAY[@{[ join(',', map { "'" . ($s->{alt}{$_} // '') . "'" } @{ $s->{bad} }) ]}]) x(tag, alt)
			 WHERE (SELECT count(*) FROM sync.rejects r WHERE r.source = '$s->{source}' AND r.symbol = '$s->{symbol}'
			           AND (strpos(r.payload, tag || '"') + strpos(r.payload, tag || ',') + strpos(r.payload || E'\\n', tag || E'\\n') > 0
			                OR (alt <> '' AND strpos(r.payload, alt) > 0))
			           AND r.reason <> '') @{[ $s->{reread} ? '= 0' : '<> 1' ]}});
		is($missing, '', "$what: each of " . scalar(@{ $s->{bad} }) . ' bad records refused '
			  . ($s->{reread} ? '' : 'once, ') . 'with a reason');
	}
	if ($s->{answers})
	{
		cmp_ok($hits->("$name-page"), '<=', $s->{answers} + 1,
			"$what: each unusable answer asked for again once, the good page once");
	}
	elsif (!$s->{reread})
	{
		my $expected = @{ $s->{bad} } + @{ $s->{either} } - @either_stored + $s->{untagged};
		is($node->safe_psql('postgres', 'SELECT ' . reject_count($name)), $expected,
			"$what: no other reject ($s->{untagged} malformed elements, "
			  . scalar(@{ $s->{either} }) . ' odd optional fields of which ' . scalar(@either_stored) . ' stored)');
	}
}

# a redirect is not an empty day either
is($node->safe_psql('postgres', "SELECT count(*) FROM sync.checked_gaps WHERE source = 'files' AND symbol = 'HMOVED'"),
	'0', 'a redirected file is not recorded as a quiet stretch');
is($node->safe_psql('postgres', "SELECT " . stored_count('moved') . " > 0 OR coalesce("
	  . subq('synced_through', 'moved') . " <= to_timestamp($DAY / 1000.0), true)"),
	't', 'a redirected file does not move the checkpoint past its day');

# the published file: stored, nothing of it refused
is($node->safe_psql('postgres', 'SELECT ' . reject_count('late')), '0', 'the file published late: no reject');

# nothing loops: a page of bad records was asked for once (twice at most)
for my $name (qw(bk bt ab at pb pt cb ct fk))

{
	cmp_ok($hits->("$name-page"), '<=', 2, "$name: the page with bad records was not asked for again and again");
}

# text from the provider is stored as valid UTF-8 (converting text that is
# not fails), invalid bytes escaped
for my $check ([ 'rejects', 'payload' ], [ 'rejects', 'reason' ], [ 'subscriptions', 'last_error' ])
{
	my ($table, $col) = @$check;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT count(*) FROM sync.$table WHERE length(convert_to(coalesce($col, ''), 'UTF8')) >= 0");
	is($err, '', "every $col in sync.$table is valid UTF-8");
}
{
	my ($ret, $out, $err) = $node->psql('postgres', q{
		SELECT count(*) FROM sync.rejects WHERE symbol = 'HFK' AND strpos(payload, 'fk-b9') > 0
		   AND payload ILIKE '%1.5\\xff%' ESCAPE '!'});
	is($out, '1', "a refused line's invalid byte is kept escaped (1.5\\xff)");
}

# no process ended by a signal, the server never restarted
my @crashes = server_crashes($node);
is(scalar(@crashes), 0, 'no process ended by a signal, no crash recovery') or diag(join("\n", @crashes[0 .. ($#crashes < 9 ? $#crashes : 9)]));

$node->safe_psql('postgres', 'SELECT sync_stop()');
done_testing();
