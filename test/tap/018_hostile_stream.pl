# A hostile provider on the four streams (Binance, Alpaca, Polygon,
# Coinbase), through the fake provider's stream server: once a trades
# subscription streams, the fake sends messages with a JSON null in each
# field of a trade in turn, wrong types, huge numbers, impossible dates,
# invalid UTF-8, messages mixing good trades with bad ones, and protocol
# messages (status, error) with nulls; then one frame-level fault per
# stream (a frame with RSV bits set, a 2^55-byte length, a message that
# never ends).  It proves: no process ends by a signal; every good trade
# is stored once, its time to the microsecond; every bad one is in
# sync.rejects once, as valid UTF-8; a broken frame ends the connection,
# which is counted as a reconnect and opened again, and the stream goes
# on; the streamer's memory stays bounded.  (Frame-level faults in depth:
# 013_ws_hostile.pl.)
use strict;
use warnings;
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::Bin;
use SyncTest;

my $fake = start_fake('--live', 'HBINUSD:5', '--live', 'HALPUSD:5', '--live', 'HPOLUSD:5', '--live', 'HCBUSD:5');
(my $ws = $fake) =~ s/^http/ws/;
my $node = sync_node('hostile_stream');
$node->append_conf('postgresql.conf', "sync.flush_interval_ms = 20\n");
$node->reload;

# poll a query until it returns true, at most $seconds
sub poll_until
{
	my ($seconds, $query) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		my ($ret, $out) = $node->psql('postgres', $query);
		return 1 if $ret == 0 && $out eq 't';
		usleep(200_000);
	}
	return 0;
}

my %src = (
	sbin => { symbol => 'HBINUSD', fake => 'HBINUSD', label => 'binance', id => 'trade_id',
		sql => "'binance', '$fake', stream_url => '$ws'" },
	salp => { symbol => 'HALPUSD', fake => 'HALPUSD', label => 'alpaca', id => q{split_part(trade_id, ':', 2)},
		sql => "'alpaca', '$fake', stream_url => '$ws/v2/iex', credentials => '{\"key_id\": \"K\", \"secret\": \"S\"}'" },
	spol => { symbol => 'HPOLUSD', fake => 'HPOLUSD', label => 'polygon', id => q{split_part(trade_id, ':', 2)},
		sql => "'polygon', '$fake', stream_url => '$ws/stocks', credentials => '{\"secret\": \"K\"}'" },
	scb => { symbol => 'HCB-USD', fake => 'HCBUSD', label => 'coinbase', id => 'trade_id',
		sql => "'coinbase', '$fake', stream_url => '$ws'" },
);
$node->safe_psql('postgres', join('', map {
	"SELECT sync_add_source('$_', $src{$_}{sql});
	 SELECT sync_subscribe('$_', ARRAY['$src{$_}{symbol}'], 'trades', history_from => now() - interval '1 minute');\n"
} sort keys %src) . 'SELECT sync_start();');
ok(poll_until(120, q{SELECT count(*) = 4 AND bool_and(phase = 'realtime') FROM sync_status()}),
	'the four streams are live');
usleep(1_500_000);    # the trades sent below are stamped after the connections opened

# the fake stamps "@S@" (seconds) and "@RFC@" when it sends; a good trade's
# time is that second plus $frac microseconds (ms for Binance and Polygon)
my @not_int = ('null', '"7"', '{}', '[]', 'true', '1.5', '1e400', '99999999999999999999999', '9223372036854775808');
my @bad_ms = (@not_int, '-1', '4611686018427387904');
my @not_decimal = ('null', '{}', '[]', 'true', '"abc"');    # invalid UTF-8: on its own below
my @bad_rfc = ('null', '5', '{}', '"x"', '"2021-02-30T00:00:00Z"', '"0000-01-01T00:00:00Z"', '"99999-01-01T00:00:00Z"');
my @bad_symbol = ('null', '5');

# per stream: a trade with id $id, tag, sub-second part $frac and field $f = $raw
my %trade = (
	sbin => sub {
		my ($id, $tag, $frac, $f, $raw) = @_;
		my %t = (e => '"aggTrade"', E => '@S@000', s => '"HBINUSD"', a => $id, p => '"1.5"', q => '"2.0"',
			f => $id, l => $id, T => sprintf('@S@%03d', $frac / 1000), m => 'true', M => 'true', _tag => qq{"$tag"});
		$t{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$t{$_}} } qw(e E s a p q f l T m M _tag)) . '}';
	},
	salp => sub {
		my ($id, $tag, $frac, $f, $raw) = @_;
		my %t = (T => '"t"', S => '"HALPUSD"', i => $id, x => '"V"', p => '1.5', s => '2',
			t => sprintf('"@RFC@.%06d000Z"', $frac), c => '["@"]', z => '"C"', _tag => qq{"$tag"});
		$t{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$t{$_}} } qw(T S i x p s t c z _tag)) . '}';
	},
	spol => sub {
		my ($id, $tag, $frac, $f, $raw) = @_;
		my %t = (ev => '"T"', sym => '"HPOLUSD"', x => '86', i => qq{"$id"}, z => '3', p => '1.5', s => '2',
			c => '[12]', t => sprintf('@S@%03d', $frac / 1000), q => '1', _tag => qq{"$tag"});
		$t{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$t{$_}} } qw(ev sym x i z p s c t q _tag)) . '}';
	},
	scb => sub {
		my ($id, $tag, $frac, $f, $raw) = @_;
		my %t = (type => '"match"', trade_id => $id, sequence => $id, maker_order_id => '"m"', taker_order_id => '"t"',
			time => sprintf('"@RFC@.%06dZ"', $frac), product_id => '"HCB-USD"', size => '"2.0"', price => '"1.5"',
			side => '"buy"', _tag => qq{"$tag"});
		$t{$f} = $raw if defined $f;
		return '{' . join(',', map { qq{"$_":$t{$_}} } qw(type trade_id sequence maker_order_id taker_order_id time
			product_id size price side _tag)) . '}';
	},
);
my %variants = (
	sbin => [ map({ [ 's', $_ ] } @bad_symbol), map({ [ 'a', $_ ] } @not_int), map({ [ 'T', $_ ] } @bad_ms),
		map({ [ 'p', $_ ] } @not_decimal), [ 'q', 'null' ], [ 'q', '"-1"' ] ],
	salp => [ map({ [ 'S', $_ ] } @bad_symbol), map({ [ 'i', $_ ] } @not_int), [ 'x', 'null' ], [ 'x', '5' ],
		map({ [ 'p', $_ ] } @not_decimal, '1e400'), [ 's', 'null' ], [ 's', '-1' ], map({ [ 't', $_ ] } @bad_rfc) ],
	spol => [ map({ [ 'sym', $_ ] } @bad_symbol), [ 'x', 'null' ], [ 'x', '"86"' ], map({ [ 'i', $_ ] } 'null', '5', '{}'),
		map({ [ 'p', $_ ] } @not_decimal, '1e400'), [ 's', 'null' ], [ 's', '-1' ], map({ [ 't', $_ ] } @bad_ms) ],
	scb => [ map({ [ 'product_id', $_ ] } @bad_symbol), map({ [ 'trade_id', $_ ] } @not_int),
		map({ [ 'time', $_ ] } @bad_rfc), map({ [ 'price', $_ ] } @not_decimal), [ 'size', 'null' ], [ 'size', '"-1"' ] ],
);
# messages the client may ignore or refuse, but must survive: odd event
# types, optional fields, protocol messages with nulls, whole messages of
# the wrong shape
my %odd = (
	sbin => [ 'null', '5', '"x"', '[]', '{}', '{"e":null}', '{"e":5,"s":null}', '{"stream":null,"data":null}',
		'{"e":"aggTrade"}', '{"e":"kline","s":"HBINUSD","k":null}', '{"e":"kline","s":"HBINUSD","k":{"x":null,"t":null}}' ],
	salp => [ 'null', '5', '{}', '[null]', '[5]', '[{"T":null}]', '[{"T":5}]', '[{"T":"success","msg":null}]',
		'[{"T":"b","S":null}]' ],
	spol => [ 'null', '5', '{}', '[null]', '[5]', '[{"ev":null}]', '[{"ev":5}]', '[{"ev":"AM","sym":null}]' ],
	scb => [ 'null', '5', '[]', '{}', '{"type":null}', '{"type":5}', '{"type":"heartbeat","product_id":null,"time":null}',
		'{"type":"subscriptions","channels":null}', '{"type":"match","side":null,"product_id":"HCB-USD"}' ],
);
# and, after the last good trade, protocol messages with nulls that may end
# the connection
my %last = (
	sbin => [],
	salp => [ '[{"T":"subscription","trades":null}]', '[{"T":"error","code":null,"msg":null}]' ],
	spol => [ '[{"ev":"status","status":null,"message":null}]', '[{"ev":"status","status":5}]' ],
	scb => [ '{"type":"error","message":null,"reason":null}' ],
);
# text that is not UTF-8, sent on its own at the end: a client ends the
# connection for it (RFC 6455 8.1), losing what would come after it
my %not_utf8 = (
	sbin => qq{{"e":"aggTrade","E":1,"s":"HBIN\xffUSD","a":1,"p":"1.5\xff","q":"2","T":1,"m":true}},
	salp => qq{[{"T":"t","S":"HALPUSD","i":1,"x":"V","p":1.5,"s":2,"t":"\xff","c":["\xff"],"z":"C"}]},
	spol => qq{[{"ev":"T","sym":"HPOL\xffUSD","x":86,"i":"1\xff","p":1.5,"s":2,"c":[12],"t":1}]},
	scb => qq{{"type":"match","trade_id":1,"time":"\xff","product_id":"HCB-USD","size":"2","price":"1.5\xff","side":"b\xffuy"}},
);

my (%good, %bad);
for my $s (sort keys %src)
{
	my $make = $trade{$s};
	my ($n, $id) = (0, 900000000);
	my @msgs;
	my $wrap = ($s eq 'salp' || $s eq 'spol') ? sub { '[' . join(',', @_) . ']' } : sub { $_[0] };
	my $good = sub {
		my $frac = 1000 * $n + 7 * $n + 1;    # microseconds; Binance and Polygon keep ms of it
		$frac = int($frac / 1000) * 1000 if $s eq 'sbin' || $s eq 'spol';
		push @{ $good{$s} }, [ $id, $frac ];
		return $make->($id++, "$s-g$n", $frac);
	};
	for my $v (@{ $variants{$s} })
	{
		my $tag = sprintf('%s-b%d', $s, $n);
		push @{ $bad{$s} }, $tag;
		push @msgs, $wrap->($make->($id++, $tag, 999000, @$v));
		push @msgs, $wrap->($good->()) if ++$n % 4 == 0;
	}
	# one message that mixes good and bad trades (a single message per trade on Binance and Coinbase)
	if ($s eq 'salp' || $s eq 'spol')
	{
		my $tag = "$s-b$n";
		push @{ $bad{$s} }, $tag;
		my @v = @{ $variants{$s}[0] };
		push @msgs, $wrap->($good->(), $make->($id++, $tag, 999000, @v), $good->());
		$n++;
	}
	push @msgs, @{ $odd{$s} };
	push @msgs, $wrap->($good->());
	push @msgs, @{ $last{$s} };
	fake_hostile($fake, { stream => { id => "$s-json", label => $src{$s}{label}, symbol => $src{$s}{fake},
		frames => [ map { { text_b64 => encode_base64($_, '') } } @msgs ] } });
}

my %sent;
ok(poll_until(60, "SELECT true") && do {
		my $deadline = time() + 60;
		my $streams;
		while (time() < $deadline)
		{
			$streams = fake_hostile_report($fake)->{streams};
			last if 4 == grep { $_->{state} ne 'queued' } @$streams;
			usleep(200_000);
		}
		%sent = map { ($_->{id} => $_->{s}) } grep { defined $_->{s} } @$streams;
		4 == keys %sent;
	}, 'the fake sent the hostile messages on each stream');

# good trades: ids from 900000000 on, stored once, times to the microsecond
my %expected;
for my $s (sort keys %src)
{
	my $sec = $sent{"$s-json"} // 0;
	$expected{$s} = join(' ', map { "$_->[0]," . ($sec * 1000000 + $_->[1]) } @{ $good{$s} });
}
my $done = join(' AND ', map {
	"(SELECT count(*) FROM sync.trades WHERE source = '$_' AND $src{$_}{id} ~ '^9[0-9]{8}\$') >= " . scalar(@{ $good{$_} })
} sort keys %src);
ok(poll_until(60, "SELECT $done"), 'the good trades among them were stored');
for my $s (sort keys %src)
{
	my $id = $src{$s}{id};
	is($node->safe_psql('postgres', qq{
		SELECT string_agg($id || ',' || (extract(epoch FROM ts) * 1000000)::bigint, ' ' ORDER BY $id)
		  FROM sync.trades WHERE source = '$s' AND $id ~ '^9[0-9]{8}\$'}), $expected{$s},
		"$s: every good trade stored once, its time to the microsecond the provider gave");
	my $tags = join(',', map { "'$_'" } @{ $bad{$s} });
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(tag, ' ') FROM unnest(ARRAY[$tags]) tag
		 WHERE (SELECT count(*) FROM sync.rejects r WHERE r.source = '$s' AND strpos(r.payload, tag || '"') > 0
		           AND r.reason <> '') <> 1}), '',
		"$s: each of " . scalar(@{ $bad{$s} }) . ' bad trades refused once, with a reason');
}

# frame-level faults end the connection: a reconnect, and the stream goes on
my %frame = (
	sbin => [ 'a frame with RSV bits set', { raw_b64 => encode_base64("\xc1\x05hello", '') } ],
	salp => [ 'a 2^55-byte frame length', { raw_b64 => encode_base64("\x81\x7f" . pack('Q>', 2**55) . ('x' x 1000), '') } ],
	spol => [ 'a message that never ends', { gen => 'endless' } ],
);
my %before;
ok(poll_until(60, q{SELECT count(*) = 4 AND bool_and(phase = 'realtime') FROM sync_status()}), 'all streaming');
for my $s (sort keys %frame)
{
	$before{$s} = $node->safe_psql('postgres', "SELECT reconnects FROM sync.subscription_metrics WHERE source = '$s'");
	fake_hostile($fake, { stream => { id => "$s-frame", label => $src{$s}{label}, symbol => $src{$s}{fake},
		frames => [ $frame{$s}[1] ] } });
}
my %state;
my $deadline = time() + 45;
while (time() < $deadline)
{
	%state = map { ($_->{id} => $_->{state}) } @{ fake_hostile_report($fake)->{streams} };
	last unless grep { ($state{"$_-frame"} // 'queued') =~ /^(queued|sending)$/ } keys %frame;
	usleep(200_000);
}
for my $s (sort keys %frame)
{
	like($state{"$s-frame"} // '', qr/^(closed by client|ended while sending)/,
		"$s: the client ends the connection after $frame{$s}[0]");
	ok(poll_until(30, "SELECT reconnects > $before{$s} FROM sync.subscription_metrics WHERE source = '$s'"),
		"$s: counted as a reconnect");
}
my $streamer = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync streamer' AND application_name = 'sync stream spol'});
my $kb = $streamer ? peak_rss_kb($streamer) : undef;
ok(defined $kb && $kb < 200 * 1024, sprintf('spol: the streamer\'s peak memory stays under 200 MB after the endless message (%s)',
	defined $kb ? int($kb / 1024) . ' MB' : 'streamer gone'));
for my $s (sort keys %src)
{
	my $max = $node->safe_psql('postgres', qq{
		SELECT coalesce(max(ts), now()) FROM sync.trades WHERE source = '$s' AND $src{$s}{id} !~ '^9[0-9]{8}\$'});
	ok(poll_until(30, qq{SELECT count(*) >= 5 FROM sync.trades WHERE source = '$s' AND ts > '$max'
		AND $src{$s}{id} !~ '^9[0-9]{8}\$'}), "$s: the stream goes on after it all");
}

# text that is not UTF-8: refused or the connection ended, and the stream goes on
my %odds_before;
for my $s (sort keys %src)
{
	$odds_before{$s} = $node->safe_psql('postgres', "SELECT (SELECT reconnects FROM sync.subscription_metrics
		WHERE source = '$s') + (SELECT count(*) FROM sync.rejects WHERE source = '$s')");
	fake_hostile($fake, { stream => { id => "$s-utf8", label => $src{$s}{label}, symbol => $src{$s}{fake},
		frames => [ { text_b64 => encode_base64($not_utf8{$s}, '') } ] } });
}
$deadline = time() + 45;
while (time() < $deadline)
{
	%state = map { ($_->{id} => $_->{state}) } @{ fake_hostile_report($fake)->{streams} };
	last unless grep { ($state{"$_-utf8"} // 'queued') =~ /^(queued|sending)$/ } keys %src;
	usleep(200_000);
}
for my $s (sort keys %src)
{
	like($state{"$s-utf8"} // '', qr/^sent|closed/, "$s: a message that is not UTF-8 was sent");
	ok(poll_until(30, "SELECT (SELECT reconnects FROM sync.subscription_metrics WHERE source = '$s')
		+ (SELECT count(*) FROM sync.rejects WHERE source = '$s') > $odds_before{$s}"),
		"$s: it was refused or ended the connection");
	my $max = $node->safe_psql('postgres', qq{
		SELECT coalesce(max(ts), now()) FROM sync.trades WHERE source = '$s' AND $src{$s}{id} !~ '^9[0-9]{8}\$'});
	ok(poll_until(30, qq{SELECT count(*) >= 5 FROM sync.trades WHERE source = '$s' AND ts > '$max'
		AND $src{$s}{id} !~ '^9[0-9]{8}\$'}), "$s: the stream goes on after it");
}

# text from the provider is stored as valid UTF-8 (converting text that is not fails)
for my $check ([ 'rejects', 'payload' ], [ 'rejects', 'reason' ], [ 'subscriptions', 'last_error' ])
{
	my ($table, $col) = @$check;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT count(*) FROM sync.$table WHERE length(convert_to(coalesce($col, ''), 'UTF8')) >= 0");
	is($err, '', "every $col in sync.$table is valid UTF-8");
}

# no process ended by a signal, the server never restarted
my @crashes = server_crashes($node);
is(scalar(@crashes), 0, 'no process ended by a signal, no crash recovery')
  or diag(join("\n", @crashes[0 .. ($#crashes < 9 ? $#crashes : 9)]));

$node->safe_psql('postgres', 'SELECT sync_stop()');
done_testing();
