// unit-sources: src/providers/*.c src/decimal.c src/validate.c
// unit-libs: json-c libcurl
/*-------------------------------------------------------------------------
 * test_providers.c
 *	  Unit tests of the code that needs no PostgreSQL: decimal text, time
 *	  text, validation, and every provider's request building and parsing,
 *	  driven with fixture bodies including every malformed shape the
 *	  parsers must refuse.  Prints TAP; run by scripts/test.sh.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "providers/provider.h"
#include "validate.h"

static int	tests = 0;
static int	failed = 0;

static void
ok(int cond, const char *name)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
}

static void
is_str(const char *got, const char *want, const char *name)
{
	ok(got != NULL && strcmp(got, want) == 0, name);
	if (got == NULL || strcmp(got, want) != 0)
		printf("#   got: '%s'\n#   expected: '%s'\n", got ? got : "(null)", want);
}

#define CAP 16
static SyncBar bars[CAP];
static SyncTrade trades[CAP];
static SyncReject rejects[CAP];
static SyncPage page;
static char err[256];

static void
reset_page(int capacity)
{
	memset(&page, 0, sizeof(page));
	page.bars = bars;
	page.bar_capacity = capacity;
	page.trades = trades;
	page.trade_capacity = capacity;
	page.rejects = rejects;
	page.reject_capacity = CAP;
	page.last_ts_ms = INT64_MIN;
}

static SyncParseStatus
parse(const SyncProvider *p, const char *body, const SyncBarQuery *q, int capacity, int want_trades)
{
	reset_page(capacity);
	err[0] = '\0';
	return (want_trades ? p->parse_trades : p->parse_bars) (body, strlen(body), q, &page, err, sizeof(err));
}

static const char *
reject_reason(int i)
{
	return i < page.nrejects ? page.rejects[i].reason : "(none)";
}

static void
test_decimal(void)
{
	char		out[48];

	ok(sync_decimal_valid("0.00002853") && sync_decimal_valid("-12.5") && sync_decimal_valid("17205")
	   && sync_decimal_valid("+1.0"), "plain decimals are valid");
	ok(!sync_decimal_valid("") && !sync_decimal_valid("1e5") && !sync_decimal_valid("NaN")
	   && !sync_decimal_valid("1.2.3") && !sync_decimal_valid("-") && !sync_decimal_valid("."),
	   "non-decimals are refused");
	ok(sync_decimal_cmp("1.50", "1.5") == 0 && sync_decimal_cmp("0010.1", "10.10") == 0,
	   "trailing and leading zeros do not count");
	ok(sync_decimal_cmp("2", "10") < 0 && sync_decimal_cmp("0.9", "0.10") > 0 &&
	   sync_decimal_cmp("-3", "-2") < 0 && sync_decimal_cmp("-1", "0") < 0 &&
	   sync_decimal_cmp("1", "-5") > 0, "ordering by value, signs included");
	ok(!sync_decimal_negative("-0.000") && sync_decimal_negative("-0.001"), "negative zero is not negative");
	ok(sync_decimal_expand("1.5e-7", out, sizeof(out)) && strcmp(out, "0.00000015") == 0, "1.5e-7 expands");
	ok(sync_decimal_expand("1e5", out, sizeof(out)) && strcmp(out, "100000") == 0, "1e5 expands");
	ok(sync_decimal_expand("-2.5E+3", out, sizeof(out)) && strcmp(out, "-2500") == 0, "-2.5E+3 expands");
	ok(sync_decimal_expand("12.345e1", out, sizeof(out)) && strcmp(out, "123.45") == 0, "12.345e1 expands");
	ok(!sync_decimal_expand("e5", out, sizeof(out)) && !sync_decimal_expand("1.2.3e1", out, sizeof(out))
	   && !sync_decimal_expand("1e", out, sizeof(out)) && !sync_decimal_expand("1e99", out, sizeof(out))
	   && !sync_decimal_expand("1.5", out, sizeof(out)),
	   "malformed exponent forms are refused");
	ok(!sync_decimal_expand("1e30", out, 8), "an expansion that does not fit is refused");
	ok(sync_copy_decimal(out, "3.25e-2") && strcmp(out, "0.0325") == 0, "copying expands exponents");
	ok(!sync_copy_decimal(out, "123456789012345678901234567890123456789012345678901234567890"),
	   "copying refuses over-long text");
}

static void
test_time(void)
{
	int64_t		us;
	char		buf[40];

	ok(sync_parse_rfc3339("2021-02-01T16:01:00Z", &us) && us == 1612195260000000LL, "RFC 3339 UTC");
	ok(sync_parse_rfc3339("2021-02-06T13:04:56.334320128Z", &us) && us == 1612616696334320LL,
	   "nanosecond fraction kept to the microsecond");
	ok(sync_parse_rfc3339("2014-11-07T08:19:27.028459Z", &us) && us == 1415348367028459LL,
	   "microsecond fraction kept whole");
	ok(sync_parse_rfc3339("2021-02-01T18:01:00+02:00", &us) && us == 1612195260000000LL, "positive offset");
	ok(sync_parse_rfc3339("2021-02-01T11:01:00-05:00", &us) && us == 1612195260000000LL, "negative offset");
	ok(!sync_parse_rfc3339("2021-02-01", &us) && !sync_parse_rfc3339("2021-13-01T00:00:00Z", &us) &&
	   !sync_parse_rfc3339("2021-02-01T00:00:00", &us) && !sync_parse_rfc3339("2021-02-01T00:00:00Zjunk", &us)
	   && !sync_parse_rfc3339("2021-02-01T00:00:00+0200", &us),
	   "malformed times are refused");
	ok(!sync_parse_rfc3339("2021-02-30T00:00:00Z", &us) && !sync_parse_rfc3339("2021-02-29T00:00:00Z", &us) &&
	   !sync_parse_rfc3339("2021-04-31T00:00:00Z", &us) && sync_parse_rfc3339("2024-02-29T00:00:00Z", &us) &&
	   !sync_parse_rfc3339("2100-02-29T00:00:00Z", &us) && sync_parse_rfc3339("2000-02-29T00:00:00Z", &us),
	   "days that do not exist are refused (leap years as the Gregorian calendar has them)");
	ok(!sync_parse_rfc3339("0000-01-01T00:00:00Z", &us) && !sync_parse_rfc3339(" 2021-01-01T00:00:00Z", &us) &&
	   !sync_parse_rfc3339("+021-01-01T00:00:00Z", &us) && !sync_parse_rfc3339("2021-01-01T00:00:00.Z", &us) &&
	   !sync_parse_rfc3339("2021-01-01T24:00:00Z", &us) && !sync_parse_rfc3339("2021-01-01T00:00:00+24:00", &us) &&
	   !sync_parse_rfc3339("2021-1-01T00:00:00Z", &us) && !sync_parse_rfc3339("", &us),
	   "year 0, signs, spaces, short fields, empty fractions and offsets past a day are refused");
	ok(sync_parse_rfc3339("9999-12-31T23:59:59.999999Z", &us) && us == SYNC_MAX_US &&
	   !sync_parse_rfc3339("9999-12-31T23:59:59-00:01", &us) &&
	   sync_parse_rfc3339("0001-01-01T00:00:00Z", &us) && us == SYNC_MIN_US &&
	   !sync_parse_rfc3339("0001-01-01T00:00:00+00:01", &us),
	   "the accepted range is 0001-01-01 to 9999-12-31, offsets included");
	sync_format_rfc3339(1612195260000000LL, buf, sizeof(buf));
	is_str(buf, "2021-02-01T16:01:00Z", "format whole seconds");
	sync_format_rfc3339(1612616696334000LL, buf, sizeof(buf));
	is_str(buf, "2021-02-06T13:04:56.334Z", "format with ms");
	sync_format_rfc3339(1612616696334320LL, buf, sizeof(buf));
	is_str(buf, "2021-02-06T13:04:56.334320Z", "format with us");
	sync_format_rfc3339(-1000000, buf, sizeof(buf));
	is_str(buf, "1969-12-31T23:59:59Z", "format before the epoch");
	sync_format_rfc3339(-1, buf, sizeof(buf));
	is_str(buf, "1969-12-31T23:59:59.999999Z", "format a us before the epoch");
	sync_format_rfc3339(INT64_MIN, buf, sizeof(buf));
	is_str(buf, "0001-01-01T00:00:00Z", "format clamps, never overflows");
	sync_format_date(1637971200000LL, buf, sizeof(buf));
	is_str(buf, "2021-11-27", "format a date");
	sync_format_date(INT64_MAX, buf, sizeof(buf));
	is_str(buf, "9999-12-31", "a date clamps, never overflows");
	ok(sync_ms_of_us(-1) == -1 && sync_ms_of_us(1999) == 1 && sync_ms_of_us(-1000) == -1 &&
	   sync_ms_of_us(-1001) == -2, "the ms of a us rounds down");
	ok(sync_us_from_ms(5, &us) && us == 5000 && !sync_us_from_ms(INT64_MAX / 100, &us) &&
	   !sync_us_from_ms(INT64_MIN, &us), "ms to us refuses what would overflow");
}

static SyncBarQuery
query(void)
{
	SyncBarQuery q = {.base_url = "http://h", .symbol = "S", .key_id = "KEY", .secret = "SEC",
	.interval_ms = 60000, .from_ms = 1637971200000LL, .to_ms = 1637971200000LL + 3600000, .limit = 3};

	return q;
}

static void
test_validate(void)
{
	SyncBarQuery q = query();
	SyncBar		b = {.ts_ms = 1637971200000LL, .open = "2", .high = "3", .low = "1", .close = "2.5",
	.volume = "10", .trades = 1};
	SyncBar		x;
	SyncTrade	t = {.ts_us = 1637971200001000LL, .trade_id = "1", .price = "1.5", .size = "2"};
	SyncTrade	u;

	ok(sync_validate_bar(&b, &q, INT64_MIN) == NULL, "a good bar passes");
	x = b; strcpy(x.high, "0.5");
	is_str(sync_validate_bar(&x, &q, INT64_MIN), "OHLC inconsistent: low > high", "low above high");
	x = b; strcpy(x.close, "9");
	is_str(sync_validate_bar(&x, &q, INT64_MIN), "OHLC inconsistent: close outside [low, high]", "close outside");
	x = b; strcpy(x.low, "-1");
	is_str(sync_validate_bar(&x, &q, INT64_MIN), "negative price", "negative price");
	x = b; strcpy(x.volume, "x");
	is_str(sync_validate_bar(&x, &q, INT64_MIN), "volume is not a decimal number", "bad volume");
	x = b; strcpy(x.vwap, "y");
	is_str(sync_validate_bar(&x, &q, INT64_MIN), "vwap is not a decimal number", "bad vwap");
	is_str(sync_validate_bar(&b, &q, b.ts_ms), "duplicate or out-of-order bar in page", "duplicate");
	ok(sync_validate_trade(&t, &q) == NULL, "a good trade passes");
	u = t; u.trade_id[0] = '\0';
	is_str(sync_validate_trade(&u, &q), "trade without an id", "trade without id");
	u = t; strcpy(u.price, "p");
	is_str(sync_validate_trade(&u, &q), "price is not a decimal number", "trade bad price");
	u = t; strcpy(u.size, "s");
	is_str(sync_validate_trade(&u, &q), "size is not a decimal number", "trade bad size");
	u = t; strcpy(u.price, "-1");
	is_str(sync_validate_trade(&u, &q), "negative price", "trade negative price");
	u = t; strcpy(u.size, "-1");
	is_str(sync_validate_trade(&u, &q), "negative size", "trade negative size");
	u = t; u.ts_us = 0;
	is_str(sync_validate_trade(&u, &q), "timestamp outside the requested range", "trade outside range");
}

static void
test_requests(void)
{
	SyncBarQuery q = query();
	SyncRequest req;
	const char *names[] = {"binance", "alpaca", "polygon", "coinbase", "csv"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		const SyncProvider *p = sync_provider_lookup(names[i]);
		char		name[80];

		memset(&req, 0, sizeof(req));
		snprintf(name, sizeof(name), "%s builds a bars request", names[i]);
		ok(p != NULL && p->bars_request(&q, &req, err, sizeof(err)) && strncmp(req.url, "http://h/", 9) == 0
		   && strstr(req.url, "S") != NULL && req.window_to_ms > q.from_ms, name);
		q.interval_ms = 7 * 60000;
		memset(&req, 0, sizeof(req));
		snprintf(name, sizeof(name), "%s refuses an interval it does not have", names[i]);
		ok(!p->bars_request(&q, &req, err, sizeof(err)) && err[0] != '\0', name);
		q.interval_ms = 60000;
	}
	ok(sync_provider_lookup("kraken") == NULL, "unknown provider");

	memset(&req, 0, sizeof(req));
	sync_provider_alpaca.bars_request(&q, &req, err, sizeof(err));
	ok(req.headers[0] && strcmp(req.headers[0], "APCA-API-KEY-ID: KEY") == 0 &&
	   req.headers[1] && strcmp(req.headers[1], "APCA-API-SECRET-KEY: SEC") == 0, "alpaca key headers");
	ok(strstr(req.url, "feed=iex") != NULL, "alpaca default feed");
	memset(&req, 0, sizeof(req));
	sync_provider_polygon.bars_request(&q, &req, err, sizeof(err));
	ok(req.headers[0] && strcmp(req.headers[0], "Authorization: Bearer SEC") == 0 &&
	   strstr(req.url, "SEC") == NULL, "polygon key in a header, not the URL");
	memset(&req, 0, sizeof(req));
	q.limit = 300;
	q.to_ms = q.from_ms + 86400000;
	sync_provider_coinbase.bars_request(&q, &req, err, sizeof(err));
	ok(req.window_to_ms == q.from_ms + 300 * 60000, "coinbase asks at most 300 candles");
	memset(&req, 0, sizeof(req));
	sync_provider_csv.bars_request(&q, &req, err, sizeof(err));
	is_str(req.url, "http://h/S-1m-2021-11-27.csv", "csv file name");
	ok(req.missing_not_yet, "a missing csv file is not published yet");
	memset(&req, 0, sizeof(req));
	{
		char		longbase[3000];
		int			refused = 0;

		memset(longbase, 'a', sizeof(longbase) - 1);
		longbase[sizeof(longbase) - 1] = '\0';
		q.base_url = longbase;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		{
			memset(&req, 0, sizeof(req));
			if (!sync_provider_lookup(names[i])->bars_request(&q, &req, err, sizeof(err)))
				refused++;
		}
		ok(refused == (int) (sizeof(names) / sizeof(names[0])), "over-long URLs are refused by every provider");
		memset(&req, 0, sizeof(req));
		ok(!sync_provider_binance.trades_request(&q, &req, err, sizeof(err)) &&
		   !sync_provider_alpaca.trades_request(&q, &req, err, sizeof(err)) &&
		   !sync_provider_polygon.trades_request(&q, &req, err, sizeof(err)),
		   "over-long trade URLs are refused");
	}
}

static void
test_binance(void)
{
	SyncBarQuery q = query();
	const SyncProvider *p = &sync_provider_binance;

	ok(parse(p, "[[1637971200000,\"1\",\"2\",\"0.5\",\"1.5\",\"10\",1637971259999,\"15\",7,\"0\",\"0\",\"0\"]]", &q, 3, 0)
	   == SYNC_PARSE_OK && page.nbars == 1 && bars[0].trades == 7, "binance kline");
	ok(parse(p, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}", &q, 3, 0) == SYNC_PARSE_PROVIDER_ERROR, "binance error");
	is_str(err, "Binance error: Invalid symbol.", "binance error text");
	ok(parse(p, "{\"x\":1}", &q, 3, 0) == SYNC_PARSE_MALFORMED, "binance object without msg");
	ok(parse(p, "[[1637971200000,\"1\"", &q, 3, 0) == SYNC_PARSE_MALFORMED && strstr(err, "ends early"),
	   "binance truncated body");
	ok(parse(p, "[] x", &q, 3, 0) == SYNC_PARSE_MALFORMED, "binance trailing garbage");
	ok(parse(p, "[[1637971200000,\"1\",\"2\",\"0.5\",\"1.5\",\"10\",0,\"15\",\"seven\"]]", &q, 3, 0) == SYNC_PARSE_OK
	   && page.nrejects == 1, "binance trade count not an integer");
	is_str(reject_reason(0), "field 8 (trade count) is not an integer", "reason");
	ok(parse(p, "[[1637971200000,\"1\",\"2\",\"0.5\",\"1.5\",\"10\",0,\"15\",1],[1637971260000,\"1\",\"2\",\"0.5\",\"1.5\",\"10\",0,\"15\",1]]",
			 &q, 1, 0) == SYNC_PARSE_OK && page.nbars == 1 && page.nrejects == 1, "binance capacity");
	is_str(reject_reason(0), "more klines than the page size asked for", "reason");
	q.limit = 10;				/* 7 elements for a page of 3: not more than twice the limit */
	ok(parse(p, "[{\"a\":5,\"p\":\"1.5\",\"q\":\"2\",\"T\":1637971200001,\"m\":true},"
			 "{\"a\":6,\"p\":\"1.5\",\"q\":\"2\",\"T\":1637971200002,\"m\":false},"
			 "{\"a\":7,\"p\":\"1.5\",\"q\":\"2\",\"T\":9637971200002},"
			 "{\"a\":\"x\",\"T\":1637971200002},{\"T\":\"x\"},5,{\"a\":8,\"T\":1637971200003}]", &q, 3, 1)
	   == SYNC_PARSE_OK && page.ntrades == 2 && trades[0].side == 's' && trades[1].side == 'b' && page.nrejects == 4,
	   "binance aggTrades: sides, future trade left for later, bad shapes refused");
	ok(parse(p, "{\"msg\":\"x\"}", &q, 3, 1) == SYNC_PARSE_PROVIDER_ERROR &&
	   parse(p, "{}", &q, 3, 1) == SYNC_PARSE_MALFORMED && parse(p, "[", &q, 3, 1) == SYNC_PARSE_MALFORMED,
	   "binance aggTrades errors");
	ok(parse(p, "[{\"a\":1,\"p\":\"1\",\"q\":\"1\",\"T\":1637971200001},{\"a\":2,\"p\":\"1\",\"q\":\"1\",\"T\":1637971200001}]",
			 &q, 1, 1) == SYNC_PARSE_OK && page.ntrades == 1 && page.nrejects == 1, "binance aggTrades capacity");
}

static void
test_alpaca(void)
{
	SyncBarQuery q = query();
	const SyncProvider *p = &sync_provider_alpaca;

	ok(parse(p, "{\"bars\":[{\"t\":\"2021-11-27T00:00:00Z\",\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":10,\"n\":3,\"vw\":1.2}],"
			 "\"symbol\":\"S\",\"next_page_token\":null}", &q, 3, 0) == SYNC_PARSE_OK && page.nbars == 1
	   && strcmp(bars[0].vwap, "1.2") == 0, "alpaca bar");
	ok(parse(p, "{\"bars\":null}", &q, 3, 0) == SYNC_PARSE_OK && page.nbars == 0, "alpaca no bars");
	ok(parse(p, "{\"message\":\"forbidden.\"}", &q, 3, 0) == SYNC_PARSE_PROVIDER_ERROR, "alpaca error");
	ok(parse(p, "{\"x\":1}", &q, 3, 0) == SYNC_PARSE_MALFORMED && parse(p, "[]", &q, 3, 0) == SYNC_PARSE_MALFORMED
	   && parse(p, "{\"bars\":5}", &q, 3, 0) == SYNC_PARSE_MALFORMED && parse(p, "{", &q, 3, 0) == SYNC_PARSE_MALFORMED,
	   "alpaca malformed shapes");
	ok(parse(p, "{\"bars\":[5,{\"t\":\"x\"},{\"t\":\"2021-11-27T00:01:00Z\",\"o\":\"a\",\"h\":2,\"l\":1,\"c\":1,\"v\":1},"
			 "{\"t\":\"2021-11-27T00:02:00Z\",\"h\":2,\"l\":1,\"c\":1,\"v\":1},"
			 "{\"t\":\"2021-11-27T00:03:00Z\",\"o\":true,\"h\":2,\"l\":1,\"c\":1,\"v\":1}]}", &q, 3, 0) == SYNC_PARSE_OK
	   && page.nrejects == 5, "alpaca bad bars refused");
	is_str(reject_reason(0), "bar is not a JSON object", "reason: not an object");
	is_str(reject_reason(1), "field \"t\" is not an RFC 3339 time in range", "reason: bad time");
	is_str(reject_reason(2), "price is not a decimal number", "reason: string that is no number");
	is_str(reject_reason(3), "field \"o\" is missing", "reason: missing field");
	is_str(reject_reason(4), "field \"o\" is not a number", "reason: boolean price");
	ok(parse(p, "{\"trades\":[{\"t\":\"2021-11-27T00:00:00.5Z\",\"x\":\"V\",\"p\":1.5,\"s\":100,\"i\":7},"
			 "{\"t\":\"2021-11-27T00:00:00.5Z\",\"x\":\"V\",\"p\":1.5,\"s\":100},"
			 "{\"t\":\"2021-11-27T00:00:00.5Z\",\"i\":8},{\"t\":\"2021-11-27T00:00:00.5Z\",\"x\":\"V\",\"i\":9},"
			 "{\"t\":1},3]}", &q, 3, 1) == SYNC_PARSE_OK && page.ntrades == 1 && page.nrejects == 5, "alpaca trades");
	is_str(trades[0].trade_id, "V:7:1637971200500", "alpaca trade id carries exchange and time");
	ok(parse(p, "{\"trades\":[{\"t\":\"2021-11-27T00:00:00.500987654Z\",\"x\":\"V\",\"p\":1.5,\"s\":100,\"i\":7}]}",
			 &q, 3, 1) == SYNC_PARSE_OK && page.ntrades == 1 && trades[0].ts_us == 1637971200500987LL,
	   "alpaca: a nanosecond trade time kept to the microsecond");
	is_str(trades[0].trade_id, "V:7:1637971200500", "alpaca: the id keeps its millisecond (ids stored before 0.5.0 match)");
	ok(parse(p, "{\"trades\":null}", &q, 3, 1) == SYNC_PARSE_OK && parse(p, "{\"message\":\"x\"}", &q, 3, 1) ==
	   SYNC_PARSE_PROVIDER_ERROR && parse(p, "{\"trades\":1}", &q, 3, 1) == SYNC_PARSE_MALFORMED &&
	   parse(p, "{}", &q, 3, 1) == SYNC_PARSE_MALFORMED && parse(p, "x", &q, 3, 1) == SYNC_PARSE_MALFORMED,
	   "alpaca trades errors");
}

static void
test_polygon(void)
{
	SyncBarQuery q = query();
	const SyncProvider *p = &sync_provider_polygon;

	ok(parse(p, "{\"status\":\"OK\",\"results\":[{\"t\":1637971200000,\"o\":1,\"h\":2.5e0,\"l\":0.5,\"c\":1.5,\"v\":1e3,\"n\":3}]}",
			 &q, 3, 0) == SYNC_PARSE_OK && page.nbars == 1 && strcmp(bars[0].volume, "1000") == 0, "polygon aggregate, exponent volume");
	ok(parse(p, "{\"status\":\"OK\",\"resultsCount\":0}", &q, 3, 0) == SYNC_PARSE_OK && page.nbars == 0, "polygon no results");
	ok(parse(p, "{\"status\":\"ERROR\",\"error\":\"bad\"}", &q, 3, 0) == SYNC_PARSE_PROVIDER_ERROR, "polygon error");
	is_str(err, "Polygon error: bad", "polygon error text");
	ok(parse(p, "{\"status\":\"NOT_AUTHORIZED\",\"message\":\"Unknown API Key\"}", &q, 3, 0) == SYNC_PARSE_PROVIDER_ERROR,
	   "polygon auth error");
	ok(parse(p, "[]", &q, 3, 0) == SYNC_PARSE_MALFORMED && parse(p, "{\"results\":{}}", &q, 3, 0) == SYNC_PARSE_MALFORMED,
	   "polygon malformed shapes");
	ok(parse(p, "{\"results\":[1,{\"t\":\"x\"},{\"t\":1637971200000,\"o\":1}]}", &q, 3, 0) == SYNC_PARSE_OK &&
	   page.nrejects == 3, "polygon bad aggregates refused");
	ok(parse(p, "{\"results\":[{\"t\":1637971200000,\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1},{\"t\":1637971260000,\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1}]}",
			 &q, 1, 0) == SYNC_PARSE_OK && page.nrejects == 1, "polygon capacity");
	ok(parse(p, "{\"status\":\"OK\",\"results\":[{\"sip_timestamp\":1637971200000123456,\"id\":\"9\",\"exchange\":4,\"price\":1.5,\"size\":10},"
			 "{\"sip_timestamp\":\"x\"},{\"sip_timestamp\":1637971200000123456},{\"sip_timestamp\":1637971200000123456,\"id\":\"9\"},"
			 "{\"sip_timestamp\":1637971200000123456,\"id\":\"9\",\"exchange\":4},2]}", &q, 3, 1) == SYNC_PARSE_OK &&
	   page.ntrades == 1 && page.nrejects == 5, "polygon trades");
	is_str(trades[0].trade_id, "4:9:1637971200000", "polygon trade id");
	ok(trades[0].ts_us == 1637971200000123LL, "polygon: a nanosecond trade time kept to the microsecond");
	ok(parse(p, "{\"status\":\"ERROR\",\"message\":\"m\"}", &q, 3, 1) == SYNC_PARSE_PROVIDER_ERROR &&
	   parse(p, "[1]", &q, 3, 1) == SYNC_PARSE_MALFORMED && parse(p, "{", &q, 3, 1) == SYNC_PARSE_MALFORMED,
	   "polygon trades errors");
}

static void
test_coinbase(void)
{
	SyncBarQuery q = query();
	const SyncProvider *p = &sync_provider_coinbase;

	ok(parse(p, "[[1637971260,1,2,1.5,1.6,10],[1637971200,1,2,1.5,1.6,10],[1637971200,1,2,1.5,1.6,10]]", &q, 3, 0)
	   == SYNC_PARSE_OK && page.nbars == 2 && bars[0].ts_ms == 1637971200000LL && page.nrejects == 1,
	   "coinbase newest-first candles sorted, duplicate refused");
	is_str(reject_reason(0), "duplicate or out-of-order bar in page", "reason");
	ok(strstr(page.rejects[0].payload, "\"t\":1637971200000") != NULL, "payload rebuilt from the record");
	ok(parse(p, "{\"message\":\"NotFound\"}", &q, 3, 0) == SYNC_PARSE_PROVIDER_ERROR, "coinbase error");
	ok(parse(p, "{\"x\":1}", &q, 3, 0) == SYNC_PARSE_MALFORMED && parse(p, "[", &q, 3, 0) == SYNC_PARSE_MALFORMED,
	   "coinbase malformed");
	ok(parse(p, "[[1],[\"t\",1,1,1,1,1],[1637971200,\"x\",1,1,1,1]]", &q, 3, 0) == SYNC_PARSE_OK && page.nrejects == 3,
	   "coinbase bad candles refused");
	ok(parse(p, "[[1637971200,1,2,1.5,1.6,10],[1637971260,1,2,1.5,1.6,10]]", &q, 1, 0) == SYNC_PARSE_OK &&
	   page.nbars == 1 && page.nrejects == 1, "coinbase capacity");
}

static void
test_csv(void)
{
	SyncBarQuery q = query();
	const SyncProvider *p = &sync_provider_csv;

	ok(parse(p, "open_time,open,high,low,close,volume,close_time,qv,count,tb,tq,ignore\r\n"
			 "1637971200000,1,2,0.5,1.5,10,1637971259999,15,7,0,0,0\r\n"
			 "1637971260000000,1,2,0.5,1.5,10,1637971319999999,15,7,0,0,0\n"
			 "\n1637971320000,1,2\n"
			 "1637971380000x,1,2,0.5,1.5,10,0,15,7,0,0,0\n"
			 "1637971440000,1,2,0.5,1.5,10,0,15,seven,0,0,0\n"
			 "1637971500000,1,2,0.5,1.5,1234567890123456789012345678901234567890123456789012,0,15,7,0,0,0\n"
			 "1637971560000,1,2,0.5,1.5,10,0,15,7,0,0,0,extra\n",
			 &q, 3, 0) == SYNC_PARSE_OK && page.nbars == 2 && bars[1].ts_ms == 1637971260000LL && page.nrejects == 5,
	   "csv: header skipped, microseconds, CRLF, bad lines refused");
	is_str(reject_reason(0), "kline line does not have 12 fields", "reason: short line");
	is_str(reject_reason(1), "open time is not an integer", "reason: bad time");
	is_str(reject_reason(2), "trade count is not an integer", "reason: bad count");
	is_str(reject_reason(3), "decimal field too long", "reason: long decimal");
	ok(parse(p, "1637971200000,1,2,0.5,1.5,10,0,15,7,0,0,0\n1637971260000,1,2,0.5,1.5,10,0,15,7,0,0,0\n", &q, 1, 0)
	   == SYNC_PARSE_OK && page.nrejects == 1, "csv capacity");
	q.from_ms = 1637971200002LL;
	ok(parse(p, "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n"
			 "1,1.5,2,3,1637971200001,True,True\n"		/* before the cursor: passed over */
			 "2,1.5,2,3,1637971200002,True,True\n"
			 "3,1.5,2,3,1637971200003000,false,True\n"
			 "4,1.5,2,3\n5,1.5,2,3,x,True,True\n"
			 "6,1.5,2,3,1637971200004,maybe,True\n"
			 "7,1.5,2,3,1637971200005,True,True\n", &q, 3, 1) == SYNC_PARSE_OK
	   && page.ntrades == 3 && trades[0].side == 's' && trades[1].side == 'b' && trades[1].ts_us == 1637971200003000LL
	   && trades[2].side == 0 && page.nrejects == 2 && page.nreceived == 3,
	   "csv trades: cursor, microseconds, sides, bad lines; a pass stops at the page size");
}

static void
test_csv_trade_errors(void)
{
	SyncBarQuery q = query();
	const SyncProvider *p = &sync_provider_csv;
	SyncRequest req;

	memset(&req, 0, sizeof(req));
	ok(p->trades_request(&q, &req, err, sizeof(err)) && strcmp(req.url, "http://h/S-trades-2021-11-27.csv") == 0
	   && req.missing_not_yet, "csv trade file name");
	ok(parse(p, "1,1.5,2,3,1637971200001,True,True\n,1.5,2,3,1637971200001,True,True\n"
			 "9,1234567890123456789012345678901234567890123456789012,2,3,1637971200001,True,True\n", &q, 3, 1)
	   == SYNC_PARSE_OK && page.ntrades == 1 && page.nrejects == 2, "csv trades: empty id, long decimal");
}

/* A stream set over two symbols' trades and one symbol's 1-minute bars. */
static SyncBarQuery sq[3];
static SyncStreamTarget st_targets[3];
static SyncTrade st_trades[8];
static SyncBar st_bars[4];
static SyncReject st_rejects[8];
static SyncPage st_page;
static SyncStreamSet st_set;

/* st_page emptied, for trades (REST pages) */
static void
empty_trade_page(void)
{
	memset(&st_page, 0, sizeof(st_page));
	st_page.trades = st_trades;
	st_page.trade_capacity = 8;
	st_page.rejects = st_rejects;
	st_page.reject_capacity = 8;
	st_page.last_ts_ms = INT64_MIN;
}

static SyncStreamSet *
stream_set(const char *a, const char *b, const char *key, const char *secret)
{
	const char *syms[3] = {a, b, a};

	memset(&st_page, 0, sizeof(st_page));
	st_page.trades = st_trades;
	st_page.trade_capacity = 8;
	st_page.bars = st_bars;
	st_page.bar_capacity = 4;
	st_page.rejects = st_rejects;
	st_page.reject_capacity = 8;
	st_page.last_ts_ms = INT64_MIN;
	for (int i = 0; i < 3; i++)
	{
		sq[i] = (SyncBarQuery) {.symbol = syms[i], .interval_ms = i < 2 ? 1 : 60000,
		.from_ms = INT64_MIN, .to_ms = INT64_MAX, .key_id = key, .secret = secret};
		st_targets[i] = (SyncStreamTarget) {&sq[i], i < 2, false};
	}
	st_set = (SyncStreamSet) {st_targets, 3, &st_page};
	return &st_set;
}

#define MSG(s) s, strlen(s)

/* Binance trades after the first page go by id; streams: URLs, routing, klines. */
static void
test_binance_stream(void)
{
	SyncBarQuery q = {.base_url = "http://h", .symbol = "BTCUSDT", .interval_ms = 60000, .limit = 10};
	SyncRequest req;
	SyncStreamSet *set;
	char		err[256];
	char		url[SYNC_URL_LEN];
	const SyncProvider *p = &sync_provider_binance;

	q.from_ms = 1000;
	q.from_id = 42;
	memset(&req, 0, sizeof(req));
	ok(p->trades_request(&q, &req, err, sizeof(err)) &&
	   strstr(req.url, "fromId=42&") != NULL && strstr(req.url, "startTime") == NULL,
	   "binance: trades after the first page are asked for by fromId");

	set = stream_set("BTCUSDT", "ETHUSDT", NULL, NULL);
	set->ntargets = 1;
	ok(p->stream_url(set, "ws://s:1", url, sizeof(url), err, sizeof(err)) &&
	   strcmp(url, "ws://s:1/ws/btcusdt@aggTrade") == 0, "binance: one series, a raw stream URL");
	set->ntargets = 3;
	ok(p->stream_url(set, "ws://s:1", url, sizeof(url), err, sizeof(err)) &&
	   strcmp(url, "ws://s:1/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade/btcusdt@kline_1m") == 0,
	   "binance: several series, one combined stream");
	ok(!p->stream_url(set, "ws://s:1", url, 30, err, sizeof(err)) && strstr(err, "longer") != NULL,
	   "binance: a URL that does not fit is refused");
	sq[2].interval_ms = 7;
	ok(!p->stream_url(set, "ws://s:1", url, sizeof(url), err, sizeof(err)),
	   "binance: no kline stream for an odd interval");
	sq[2].interval_ms = 60000;

	ok(p->parse_stream(MSG("{\"e\":\"aggTrade\",\"E\":2,\"s\":\"BTCUSDT\",\"a\":7,"
						   "\"p\":\"1.50\",\"q\":\"2\",\"T\":1,\"m\":true}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.ntrades == 1 && strcmp(st_trades[0].trade_id, "7") == 0 && st_trades[0].side == 's' &&
	   st_trades[0].target == 0 && strcmp(st_trades[0].price, "1.50") == 0, "binance: a raw aggTrade message");
	ok(p->parse_stream(MSG("{\"stream\":\"ethusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"s\":\"ETHUSDT\","
						   "\"a\":8,\"p\":\"1.6\",\"q\":\"1\",\"T\":2,\"m\":false}}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.ntrades == 2 && st_trades[1].side == 'b' && st_trades[1].target == 1,
	   "binance: a combined-stream message goes to its symbol's series");
	ok(p->parse_stream(MSG("{\"e\":\"aggTrade\",\"s\":\"XRPUSDT\",\"a\":8,\"p\":\"1\",\"q\":\"1\",\"T\":2}"),
					   set, err, sizeof(err)) == SYNC_PARSE_OK && st_page.ntrades == 2 && st_page.nrejects == 0,
	   "binance: a symbol not asked for adds nothing");
	ok(p->parse_stream(MSG("{\"result\":null,\"id\":1}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.ntrades == 2 && st_page.nrejects == 0, "binance: a control answer adds nothing");
	ok(p->parse_stream(MSG("{\"e\":\"aggTrade\",\"s\":\"ETHUSDT\",\"a\":9,\"p\":\"-1\",\"q\":\"1\",\"T\":3}"),
					   set, err, sizeof(err)) == SYNC_PARSE_OK && st_page.ntrades == 2 && st_page.nrejects == 1 &&
	   st_rejects[0].target == 1, "binance: an invalid trade is refused under its series");
	ok(p->parse_stream(MSG("{\"e\":\"aggTrade\",\"a\":"), set, err, sizeof(err)) == SYNC_PARSE_MALFORMED,
	   "binance: a cut message is malformed");
	ok(p->parse_stream(MSG("{\"e\":\"kline\",\"s\":\"BTCUSDT\"}"), set, err, sizeof(err)) == SYNC_PARSE_MALFORMED,
	   "binance: a kline without k is malformed");
	ok(p->parse_stream(MSG("{\"e\":\"kline\",\"s\":\"BTCUSDT\",\"k\":{\"t\":60000,\"i\":\"1m\",\"o\":\"1\",\"h\":\"2\","
						   "\"l\":\"0.5\",\"c\":\"1.5\",\"v\":\"10\",\"n\":3,\"x\":false}}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.nbars == 0, "binance: an open kline is not stored");
	ok(p->parse_stream(MSG("{\"e\":\"kline\",\"s\":\"BTCUSDT\",\"k\":{\"t\":60000,\"i\":\"5m\",\"o\":\"1\",\"h\":\"2\","
						   "\"l\":\"0.5\",\"c\":\"1.5\",\"v\":\"10\",\"n\":3,\"x\":true}}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.nbars == 0, "binance: a kline of another interval is not this series'");
	ok(p->parse_stream(MSG("{\"e\":\"kline\",\"s\":\"BTCUSDT\",\"k\":{\"t\":60000,\"i\":\"1m\",\"o\":\"1\",\"h\":\"2\","
						   "\"l\":\"0.5\",\"c\":\"1.5\",\"v\":\"10\",\"n\":3,\"x\":true}}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.nbars == 1 && st_bars[0].ts_ms == 60000 && st_bars[0].trades == 3 && st_bars[0].target == 2,
	   "binance: a closed kline is a bar of its series");
}

/* Binance's raw trade feed ({"feed": "trade"}): REST by id, the @trade stream. */
static void
test_binance_raw_trades(void)
{
	const SyncProvider *p = &sync_provider_binance;
	SyncBarQuery q = {.base_url = "http://h", .symbol = "BNBBTC", .interval_ms = 1, .feed = "trade",
	.from_ms = 1000, .to_ms = INT64_MAX, .limit = 10};
	SyncRequest req;
	SyncStreamSet *set;
	char		err[256];
	char		url[SYNC_URL_LEN];

	memset(&req, 0, sizeof(req));
	ok(p->trades_request(&q, &req, err, sizeof(err)) &&
	   strcmp(req.url, "http://h/api/v3/trades?symbol=BNBBTC&limit=10") == 0,
	   "binance raw: no id yet, the newest trades");
	q.from_id = 28457;
	ok(!p->trades_request(&q, &req, err, sizeof(err)) && strstr(err, "API key") != NULL,
	   "binance raw: historicalTrades needs the key");
	q.key_id = "K";
	memset(&req, 0, sizeof(req));
	ok(p->trades_request(&q, &req, err, sizeof(err)) &&
	   strcmp(req.url, "http://h/api/v3/historicalTrades?symbol=BNBBTC&fromId=28457&limit=10") == 0 &&
	   strcmp(req.headers[0], "X-MBX-APIKEY: K") == 0, "binance raw: then by id, with the key");
	empty_trade_page();
	ok(p->parse_trades(MSG("[{\"id\":28457,\"price\":\"4.00000100\",\"qty\":\"12.00000000\",\"quoteQty\":\"48.000012\","
						   "\"time\":999,\"isBuyerMaker\":true,\"isBestMatch\":true}]"), &q, &st_page, err,
					   sizeof(err)) == SYNC_PARSE_OK && st_page.ntrades == 1 && st_trades[0].ts_us == 999000 &&
	   strcmp(st_trades[0].trade_id, "28457") == 0 && st_trades[0].side == 's',
	   "binance raw: a REST trade, older than the asked start, is kept (pages go by id)");

	set = stream_set("BNBBTC", "ETHBTC", NULL, NULL);
	sq[0].feed = sq[1].feed = "trade";
	set->ntargets = 2;
	ok(p->stream_url(set, "ws://s", url, sizeof(url), err, sizeof(err)) &&
	   strcmp(url, "ws://s/stream?streams=bnbbtc@trade/ethbtc@trade") == 0, "binance raw: @trade streams");
	ok(p->parse_stream(MSG("{\"e\":\"trade\",\"E\":2,\"s\":\"ETHBTC\",\"t\":12345,\"p\":\"0.001\",\"q\":\"100\","
						   "\"T\":123456785,\"m\":false,\"M\":true}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.ntrades == 1 && st_trades[0].target == 1 && strcmp(st_trades[0].trade_id, "12345") == 0 &&
	   st_trades[0].side == 'b', "binance raw: a @trade message");
}

/* Alpaca: auth and one subscribe for all series; confirmations; arrays. */
static void
test_alpaca_stream(void)
{
	const SyncProvider *p = &sync_provider_alpaca;
	SyncStreamSet *set = stream_set("AAPL", "MSFT", "K", "S");
	char		msg[512];
	char		err[256];

	ok(p->stream_hello(set, 0, msg, sizeof(msg)) &&
	   strcmp(msg, "{\"action\":\"auth\",\"key\":\"K\",\"secret\":\"S\"}") == 0, "alpaca: auth first");
	ok(p->stream_hello(set, 1, msg, sizeof(msg)) &&
	   strcmp(msg, "{\"action\":\"subscribe\",\"trades\":[\"AAPL\",\"MSFT\"],\"bars\":[\"AAPL\"]}") == 0,
	   "alpaca: one subscribe for every series");
	ok(!p->stream_hello(set, 2, msg, sizeof(msg)), "alpaca: two messages");
	ok(!p->stream_hello(set, 1, msg, 40), "alpaca: a subscribe that does not fit is not sent");
	ok(p->parse_stream(MSG("[{\"T\":\"subscription\",\"trades\":[\"AAPL\",\"MSFT\"],\"bars\":[]}]"), set, err,
					   sizeof(err)) == SYNC_PARSE_OK && st_targets[0].subscribed && st_targets[1].subscribed &&
	   !sync_stream_all_confirmed(set), "alpaca: the subscription message confirms what it lists");
	ok(p->parse_stream(MSG("[{\"T\":\"t\",\"S\":\"MSFT\",\"i\":5,\"x\":\"V\",\"p\":1.5,\"s\":100,"
						   "\"t\":\"2024-01-02T14:30:00.123Z\"},{\"T\":\"b\",\"S\":\"AAPL\",\"o\":1,\"h\":2,\"l\":0.5,"
						   "\"c\":1.5,\"v\":9,\"t\":\"2024-01-02T14:30:00Z\",\"n\":3,\"vw\":1.2}]"), set, err,
					   sizeof(err)) == SYNC_PARSE_OK && st_page.ntrades == 1 && st_trades[0].target == 1 &&
	   strcmp(st_trades[0].trade_id, "V:5:1704205800123") == 0 && st_page.nbars == 1 && st_bars[0].target == 2,
	   "alpaca: one array, a trade and a bar, each to its series");
	ok(p->parse_stream(MSG("[{\"T\":\"error\",\"code\":406,\"msg\":\"connection limit exceeded\"}]"), set, err,
					   sizeof(err)) == SYNC_PARSE_PROVIDER_ERROR &&
	   strcmp(err, "Alpaca stream error 406: connection limit exceeded") == 0, "alpaca: an error stops the stream");
	ok(p->parse_stream(MSG("{}"), set, err, sizeof(err)) == SYNC_PARSE_MALFORMED, "alpaca: not an array");
	sq[0].feed = "sip";
	ok(p->stream_url(set, p->default_stream_url, msg, sizeof(msg), err, sizeof(err)) &&
	   strcmp(msg, "wss://stream.data.alpaca.markets/v2/sip") == 0, "alpaca: the default stream follows the feed option");
	ok(p->stream_url(set, "ws://s/v2/test", msg, sizeof(msg), err, sizeof(err)) &&
	   strcmp(msg, "ws://s/v2/test") == 0, "alpaca: a stream_url of the source's own is kept");
	sq[2].interval_ms = 300000;
	ok(!p->stream_url(set, "ws://s", msg, sizeof(msg), err, sizeof(err)), "alpaca: 1-minute bars only");
}

/* Polygon: auth with the key, T. and AM. channels, status events. */
static void
test_polygon_stream(void)
{
	const SyncProvider *p = &sync_provider_polygon;
	SyncStreamSet *set = stream_set("AAPL", "MSFT", NULL, "PK");
	char		msg[512];
	char		err[256];

	ok(p->stream_url(set, "ws://s/stocks", msg, sizeof(msg), err, sizeof(err)) &&
	   strcmp(msg, "ws://s/stocks") == 0, "polygon: the cluster URL as given");
	ok(p->stream_hello(set, 0, msg, sizeof(msg)) && strcmp(msg, "{\"action\":\"auth\",\"params\":\"PK\"}") == 0,
	   "polygon: auth with the key");
	ok(p->stream_hello(set, 1, msg, sizeof(msg)) &&
	   strcmp(msg, "{\"action\":\"subscribe\",\"params\":\"T.AAPL,T.MSFT,AM.AAPL\"}") == 0,
	   "polygon: one subscribe, T. and AM. channels");
	ok(!p->stream_hello(set, 2, msg, sizeof(msg)), "polygon: two messages");
	ok(p->parse_stream(MSG("[{\"ev\":\"status\",\"status\":\"connected\",\"message\":\"Connected Successfully\"}]"),
					   set, err, sizeof(err)) == SYNC_PARSE_OK, "polygon: connected");
	ok(p->parse_stream(MSG("[{\"ev\":\"status\",\"status\":\"success\",\"message\":\"subscribed to: T.AAPL\"},"
						   "{\"ev\":\"status\",\"status\":\"success\",\"message\":\"subscribed to: T.MSFT\"},"
						   "{\"ev\":\"status\",\"status\":\"success\",\"message\":\"subscribed to: AM.AAPL\"}]"),
					   set, err, sizeof(err)) == SYNC_PARSE_OK && sync_stream_all_confirmed(set),
	   "polygon: a status per channel confirms each series");
	ok(p->parse_stream(MSG("[{\"ev\":\"T\",\"sym\":\"MSFT\",\"x\":4,\"i\":\"12345\",\"z\":3,\"p\":114.125,\"s\":100,"
						   "\"c\":[0,12],\"t\":1536036818784,\"q\":3681328},{\"ev\":\"AM\",\"sym\":\"AAPL\",\"v\":4110,"
						   "\"o\":0.4488,\"c\":0.4486,\"h\":0.4489,\"l\":0.4486,\"vw\":0.4488,\"s\":1610144640000,"
						   "\"e\":1610144700000}]"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.ntrades == 1 && strcmp(st_trades[0].trade_id, "4:12345:1536036818784") == 0 &&
	   st_trades[0].target == 1 && st_page.nbars == 1 && st_bars[0].ts_ms == 1610144640000 &&
	   strcmp(st_bars[0].vwap, "0.4488") == 0, "polygon: a trade (REST's id) and a minute");
	ok(p->parse_stream(MSG("[{\"ev\":\"T\",\"sym\":\"MSFT\",\"x\":4,\"i\":7,\"p\":1,\"s\":1,\"t\":1}]"),
					   set, err, sizeof(err)) == SYNC_PARSE_OK && st_page.nrejects == 1, "polygon: a bad trade is refused");
	ok(p->parse_stream(MSG("[{\"ev\":\"status\",\"status\":\"auth_failed\",\"message\":\"authentication failed\"}]"),
					   set, err, sizeof(err)) == SYNC_PARSE_PROVIDER_ERROR &&
	   strcmp(err, "Polygon stream auth_failed: authentication failed") == 0, "polygon: auth_failed stops the stream");
	ok(p->parse_stream(MSG("{\"ev\":\"T\"}"), set, err, sizeof(err)) == SYNC_PARSE_MALFORMED, "polygon: not an array");
	sq[0].secret = sq[1].secret = sq[2].secret = NULL;
	ok(!p->stream_hello(set, 0, msg, sizeof(msg)), "polygon: no key, no hello");
}

/* Coinbase: REST trades by id, matches and heartbeats. */
static void
test_coinbase_trades(void)
{
	const SyncProvider *p = &sync_provider_coinbase;
	SyncBarQuery q = {.base_url = "http://h", .symbol = "BTC-USD", .interval_ms = 1,
	.from_ms = 0, .to_ms = INT64_MAX, .limit = 100};
	SyncRequest req;
	SyncStreamSet *set;
	char		msg[512];
	char		err[256];

	memset(&req, 0, sizeof(req));
	ok(p->trades_request(&q, &req, err, sizeof(err)) &&
	   strcmp(req.url, "http://h/products/BTC-USD/trades?limit=100") == 0, "coinbase: no id yet, the newest page");
	q.from_id = 500;
	ok(p->trades_request(&q, &req, err, sizeof(err)) &&
	   strcmp(req.url, "http://h/products/BTC-USD/trades?limit=100&after=600") == 0,
	   "coinbase: ids [500, 600) are asked as after=600");
	empty_trade_page();
	ok(p->parse_trades(MSG("[{\"time\":\"2024-01-02T00:00:01.5Z\",\"trade_id\":502,\"price\":\"10.5\",\"size\":\"1\","
						   "\"side\":\"buy\"},{\"time\":\"2024-01-02T00:00:01Z\",\"trade_id\":501,\"price\":\"10\","
						   "\"size\":\"2\",\"side\":\"sell\"},{\"time\":\"x\",\"trade_id\":500}]"), &q, &st_page, err,
					   sizeof(err)) == SYNC_PARSE_OK && st_page.ntrades == 2 && st_page.nrejects == 1 &&
	   strcmp(st_trades[0].trade_id, "501") == 0 && st_trades[0].side == 'b' && st_trades[1].side == 's' &&
	   st_page.last_ts_ms == 1704153601500, "coinbase: newest first, sorted by id; the maker's side turned");
	ok(p->parse_trades(MSG("{\"message\":\"NotFound\"}"), &q, &st_page, err, sizeof(err)) == SYNC_PARSE_PROVIDER_ERROR,
	   "coinbase: an error message");

	set = stream_set("BTC-USD", "ETH-USD", NULL, NULL);
	ok(!p->stream_url(set, "ws://s", msg, sizeof(msg), err, sizeof(err)), "coinbase: no candle channel");
	set->ntargets = 2;
	ok(p->stream_url(set, "ws://s", msg, sizeof(msg), err, sizeof(err)) && strcmp(msg, "ws://s") == 0,
	   "coinbase: the feed URL as given");
	ok(p->stream_hello(set, 0, msg, sizeof(msg)) &&
	   strcmp(msg, "{\"type\":\"subscribe\",\"product_ids\":[\"BTC-USD\",\"ETH-USD\"],"
			  "\"channels\":[\"matches\",\"heartbeat\"]}") == 0 && !p->stream_hello(set, 1, msg, sizeof(msg)),
	   "coinbase: one subscribe to matches and heartbeat");
	ok(p->parse_stream(MSG("{\"type\":\"subscriptions\",\"channels\":[{\"name\":\"heartbeat\",\"product_ids\":"
						   "[\"BTC-USD\",\"ETH-USD\"]},{\"name\":\"matches\",\"product_ids\":[\"BTC-USD\",\"ETH-USD\"]}]}"),
					   set, err, sizeof(err)) == SYNC_PARSE_OK && sync_stream_all_confirmed(set),
	   "coinbase: subscriptions confirm the matches");
	ok(p->parse_stream(MSG("{\"type\":\"match\",\"trade_id\":10,\"sequence\":50,\"time\":\"2014-11-07T08:19:27.028459Z\","
						   "\"product_id\":\"ETH-USD\",\"size\":\"5.23512\",\"price\":\"400.23\",\"side\":\"sell\"}"),
					   set, err, sizeof(err)) == SYNC_PARSE_OK && st_page.ntrades == 1 && st_trades[0].target == 1 &&
	   st_trades[0].ts_us == 1415348367028459 && st_trades[0].side == 'b', "coinbase: a match");
	ok(p->parse_stream(MSG("{\"type\":\"heartbeat\",\"sequence\":90,\"last_trade_id\":20,\"product_id\":\"BTC-USD\","
						   "\"time\":\"2014-11-07T08:19:28.464459Z\"}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.ntrades == 1, "coinbase: a heartbeat adds nothing");
	ok(p->parse_stream(MSG("{\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":\"FOO is not a valid product\"}"),
					   set, err, sizeof(err)) == SYNC_PARSE_PROVIDER_ERROR &&
	   strcmp(err, "Coinbase stream error: Failed to subscribe: FOO is not a valid product") == 0,
	   "coinbase: an error stops the stream");
	ok(p->parse_stream(MSG("[1]"), set, err, sizeof(err)) == SYNC_PARSE_MALFORMED, "coinbase: not an object");
}

/*
 * Every provider's trades keep their time to the microsecond, REST and
 * stream, while trade ids keep the millisecond they had before 0.5.0.
 */
static void
test_trade_precision(void)
{
	SyncBarQuery q = {.base_url = "http://h", .symbol = "S", .interval_ms = 1, .from_ms = 0,
	.to_ms = INT64_MAX, .limit = 10};
	SyncStreamSet *set;
	char		err[256];

	empty_trade_page();
	ok(sync_provider_coinbase.parse_trades(MSG("[{\"time\":\"2024-01-02T00:00:01.123456Z\",\"trade_id\":7,"
											   "\"price\":\"1\",\"size\":\"1\",\"side\":\"buy\"}]"), &q, &st_page, err,
										   sizeof(err)) == SYNC_PARSE_OK && st_page.ntrades == 1 &&
	   st_trades[0].ts_us == 1704153601123456LL && strcmp(st_trades[0].trade_id, "7") == 0,
	   "coinbase REST: a trade time to the microsecond");
	empty_trade_page();
	ok(sync_provider_binance.parse_trades(MSG("[{\"a\":5,\"p\":\"1\",\"q\":\"1\",\"T\":1637971200001}]"),
										  &q, &st_page, err, sizeof(err)) == SYNC_PARSE_OK && st_page.ntrades == 1 &&
	   st_trades[0].ts_us == 1637971200001000LL, "binance REST: ms to us");
	set = stream_set("AAPL", "MSFT", "K", "S");
	ok(sync_provider_alpaca.parse_stream(MSG("[{\"T\":\"t\",\"S\":\"AAPL\",\"i\":5,\"x\":\"V\",\"p\":1.5,\"s\":1,"
											 "\"t\":\"2024-01-02T14:30:00.123456789Z\"}]"), set, err, sizeof(err)) ==
	   SYNC_PARSE_OK && st_page.ntrades == 1 && st_trades[0].ts_us == 1704205800123456LL &&
	   strcmp(st_trades[0].trade_id, "V:5:1704205800123") == 0,
	   "alpaca stream: a nanosecond time kept to the us, the id keeps its ms");
	set = stream_set("AAPL", "MSFT", NULL, "PK");
	ok(sync_provider_polygon.parse_stream(MSG("[{\"ev\":\"T\",\"sym\":\"AAPL\",\"x\":4,\"i\":\"9\",\"p\":1,\"s\":1,"
											  "\"t\":1536036818784}]"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.ntrades == 1 && st_trades[0].ts_us == 1536036818784000LL &&
	   strcmp(st_trades[0].trade_id, "4:9:1536036818784") == 0, "polygon stream: ms to us, the id as REST gives it");
	set = stream_set("BTCUSDT", "ETHUSDT", NULL, NULL);
	ok(sync_provider_binance.parse_stream(MSG("{\"e\":\"aggTrade\",\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\","
											  "\"T\":1637971200001}"), set, err, sizeof(err)) == SYNC_PARSE_OK &&
	   st_page.ntrades == 1 && st_trades[0].ts_us == 1637971200001000LL, "binance stream: ms to us");
}

/* A symbol is one percent-encoded URL part in every provider's requests. */
static void
test_encoded_urls(void)
{
	SyncBarQuery q = query();
	SyncRequest req;

	memset(&req, 0, sizeof(req));
	ok(sync_provider_alpaca.bars_request(&q, &req, err, sizeof(err)), "alpaca bars request");
	is_str(req.url, "http://h/v2/stocks/S/bars?timeframe=1Min&start=2021-11-27T00:00:00Z&end=2021-11-27T00:59:59Z"
		   "&limit=3&adjustment=raw&feed=iex&sort=asc", "alpaca: the same URL as before for a plain symbol");
	q.symbol = "BTC/USD";
	memset(&req, 0, sizeof(req));
	ok(sync_provider_alpaca.bars_request(&q, &req, err, sizeof(err)) &&
	   strncmp(req.url, "http://h/v2/stocks/BTC%2fUSD/bars?timeframe=1Min&", 48) == 0, "alpaca: a / in a symbol is encoded");
	memset(&req, 0, sizeof(req));
	ok(sync_provider_polygon.trades_request(&q, &req, err, sizeof(err)) &&
	   strncmp(req.url, "http://h/v3/trades/BTC%2fUSD?timestamp.gte=1637971200000000000&", 63) == 0,
	   "polygon: likewise");
	memset(&req, 0, sizeof(req));
	ok(sync_provider_coinbase.trades_request(&q, &req, err, sizeof(err)) &&
	   strcmp(req.url, "http://h/products/BTC%2fUSD/trades?limit=3") == 0, "coinbase: likewise");
	q.symbol = "A&limit=1#";
	memset(&req, 0, sizeof(req));
	ok(sync_provider_binance.bars_request(&q, &req, err, sizeof(err)) &&
	   strcmp(req.url, "http://h/api/v3/klines?symbol=A%26limit%3d1%23&interval=1m&startTime=1637971200000"
			  "&endTime=1637974799999&limit=3") == 0, "binance: a symbol is one query value");
	{
		char		pct[801];
		char		url[SYNC_URL_LEN];
		SyncStreamSet *set;

		memset(pct, '%', 800);
		pct[800] = '\0';
		set = stream_set(pct, "B", NULL, NULL);
		set->ntargets = 1;
		ok(!sync_provider_binance.stream_url(set, "ws://s", url, sizeof(url), err, sizeof(err)) &&
		   strstr(err, "longer") != NULL, "binance: a stream name whose encoding does not fit is refused, not cut");
	}
	q.symbol = "S";
	q.key_id = "K\r\nX-Evil: 1";
	memset(&req, 0, sizeof(req));
	ok(!sync_provider_binance.bars_request(&q, &req, err, sizeof(err)) && strstr(err, "control character") != NULL,
	   "binance: a key with a line break is a request error");
}
#undef MSG

int
main(void)
{
	test_decimal();
	test_time();
	test_validate();
	test_requests();
	test_binance();
	test_binance_stream();
	test_binance_raw_trades();
	test_alpaca_stream();
	test_polygon_stream();
	test_coinbase_trades();
	test_trade_precision();
	test_encoded_urls();
	test_alpaca();
	test_polygon();
	test_coinbase();
	test_csv();
	test_csv_trade_errors();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
