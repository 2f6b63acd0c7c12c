// unit-sources: src/providers/*.c src/decimal.c src/validate.c
// unit-libs: json-c libcurl
/*-------------------------------------------------------------------------
 * test_multi.c
 *	  Unit tests of the multi-symbol requests and parsers (Alpaca's
 *	  symbols= bars and trades, Polygon's grouped daily bars), through the
 *	  SyncProvider interface only: the URLs (symbols, their encoding, the
 *	  bound on their number), that a record read through a multi answer is
 *	  the very record the single-series answer gives, the routing of
 *	  records to their series (targets, each series' own range, symbols
 *	  not asked for, a symbol given twice), has_more, and hostile answers:
 *	  a null, a wrong type, a huge number or nothing in EVERY field of a
 *	  good answer, each run in a child process so a crash is one failure.
 *	  Prints TAP; run by scripts/test.sh.
 *-------------------------------------------------------------------------
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "providers/provider.h"

/* a sanitizer's report ends a child with 99: told apart from a failed check (1) */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "exitcode=99";
}

#ifdef SYNC_COVERAGE
/* gcov's: writes the counts so far (scripts/test.sh defines SYNC_COVERAGE with --coverage) */
extern void __gcov_dump(void);
#endif

static int	tests = 0;
static int	failed = 0;

static void
ok(int cond, const char *name)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
	fflush(stdout);
}

static void
is_str(const char *got, const char *want, const char *name)
{
	ok(got != NULL && strcmp(got, want) == 0, name);
	if (got == NULL || strcmp(got, want) != 0)
		printf("#   got: '%s'\n#   expected: '%s'\n", got ? got : "(null)", want);
}

#define CAP 16
#define NSERIES 4
#define T0 1637971200000LL		/* 2021-11-27 00:00 UTC */
#define MIN 60000LL
#define DAY 86400000LL

static SyncBar bars[CAP];
static SyncTrade trades[CAP];
static SyncReject rejects[CAP];
static SyncPage page;
static char err[256];
static SyncBarQuery sq[NSERIES];
static const SyncBarQuery *sqp[NSERIES];
static SyncMultiQuery mq;

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
	memset(bars, 0x5a, sizeof(bars));
	memset(trades, 0x5a, sizeof(trades));
	memset(err, 0, sizeof(err));
}

/* one series of the set, as a worker would hold it */
static SyncBarQuery
series(const char *symbol, int64_t interval, int64_t from, int64_t to)
{
	SyncBarQuery q = {.base_url = "http://h", .symbol = symbol, .key_id = "KEY", .secret = "SEC",
		.interval_ms = interval, .from_ms = from, .to_ms = to, .limit = 10};

	return q;
}

/* the set of the first n series of sq[]: the request from the earliest start to the latest end */
static SyncMultiQuery *
set_of(int n, int limit)
{
	mq.series = sqp;
	mq.nseries = n;
	mq.from_ms = INT64_MAX;
	mq.to_ms = INT64_MIN;
	mq.limit = limit;
	for (int i = 0; i < n; i++)
	{
		sqp[i] = &sq[i];
		if (sq[i].from_ms < mq.from_ms)
			mq.from_ms = sq[i].from_ms;
		if (sq[i].to_ms > mq.to_ms)
			mq.to_ms = sq[i].to_ms;
	}
	return &mq;
}

static SyncParseStatus
parse_multi(const SyncProvider *p, const char *body, bool want_trades, int capacity)
{
	reset_page(capacity);
	return (want_trades ? p->parse_multi_trades : p->parse_multi_bars) (body, strlen(body), &mq, &page,
																		 err, sizeof(err));
}

static SyncParseStatus
parse_single(const SyncProvider *p, const char *body, const SyncBarQuery *q, bool want_trades)
{
	reset_page(CAP);
	return (want_trades ? p->parse_trades : p->parse_bars) (body, strlen(body), q, &page, err, sizeof(err));
}

/* ---- requests ---- */

/* the query string of url (after '?'), "" when none */
static const char *
query_of(const char *url)
{
	const char *q = strchr(url, '?');

	return q ? q + 1 : "";
}

static void
test_alpaca_requests(void)
{
	const SyncProvider *p = &sync_provider_alpaca;
	SyncRequest single,
				multi;
	char		want[SYNC_URL_LEN];
	const char *rest;

	/* the single request of S and the multi one of S and others: the same parameters */
	sq[0] = series("AAPL", MIN, T0, T0 + 60 * MIN);
	sq[1] = series("BRK.B", MIN, T0, T0 + 60 * MIN);
	sq[2] = series("A/B?x=1&y#", MIN, T0, T0 + 60 * MIN);
	set_of(3, 500);
	sq[0].limit = 500;
	memset(&single, 0, sizeof(single));
	memset(&multi, 0, sizeof(multi));
	ok(p->bars_request(&sq[0], &single, err, sizeof(err)), "alpaca single bars request builds");
	ok(p->multi_bars_request(&mq, &multi, err, sizeof(err)), "alpaca multi bars request builds");
	ok(strncmp(multi.url, "http://h/v2/stocks/bars?symbols=", 32) == 0, "alpaca multi bars path");
	rest = strchr(query_of(multi.url), '&');
	is_str(rest ? rest + 1 : "", query_of(single.url), "alpaca multi bars: the single request's parameters after symbols=");
	ok(multi.window_to_ms == mq.to_ms, "alpaca multi window ends at the set's end");
	ok(multi.headers[0] && single.headers[0] && strcmp(multi.headers[0], single.headers[0]) == 0 &&
	   multi.headers[1] && single.headers[1] && strcmp(multi.headers[1], single.headers[1]) == 0 &&
	   multi.headers[2] == NULL, "alpaca multi: the single request's key headers");

	/* each symbol encoded as the single builder encodes it (its path segment) */
	{
		SyncRequest s3;
		const char *seg;
		const char *end;
		char		enc[256];

		memset(&s3, 0, sizeof(s3));
		p->bars_request(&sq[2], &s3, err, sizeof(err));
		seg = s3.url + strlen("http://h/v2/stocks/");
		end = strchr(seg, '/');
		snprintf(enc, sizeof(enc), "%.*s", (int) (end ? end - seg : 0), seg);
		snprintf(want, sizeof(want), "symbols=AAPL,BRK.B,%s&", enc);
		ok(strstr(multi.url, want) != NULL && strchr(enc, '/') == NULL && strchr(enc, '&') == NULL,
		   "alpaca multi: a symbol is encoded as the single request encodes it, comma-separated");
		if (strstr(multi.url, want) == NULL)
			printf("#   %s\n#   wanted %s\n", multi.url, want);
	}

	/* trades */
	memset(&single, 0, sizeof(single));
	memset(&multi, 0, sizeof(multi));
	ok(p->trades_request(&sq[0], &single, err, sizeof(err)) &&
	   p->multi_trades_request(&mq, &multi, err, sizeof(err)), "alpaca trades requests build");
	ok(strncmp(multi.url, "http://h/v2/stocks/trades?symbols=", 34) == 0, "alpaca multi trades path");
	rest = strchr(query_of(multi.url), '&');
	is_str(rest ? rest + 1 : "", query_of(single.url), "alpaca multi trades: the single request's parameters");

	/* the request starts at the earliest series */
	sq[1].from_ms = T0 - 5 * MIN;
	set_of(3, 500);
	memset(&multi, 0, sizeof(multi));
	ok(p->multi_bars_request(&mq, &multi, err, sizeof(err)) &&
	   strstr(multi.url, "start=2021-11-26T23:55:00Z") != NULL, "alpaca multi starts at the earliest series");
	sq[1].from_ms = T0;

	/* what cannot be expressed */
	sq[1].symbol = "A,B";
	set_of(3, 500);
	ok(!p->multi_bars_request(&mq, &multi, err, sizeof(err)) && strstr(err, "A,B") != NULL,
	   "alpaca multi: a symbol holding a comma is refused");
	sq[1].symbol = "";
	ok(!p->multi_trades_request(&mq, &multi, err, sizeof(err)) && err[0] != '\0', "alpaca multi: an empty symbol is refused");
	sq[1].symbol = "BRK.B";
	sq[1].interval_ms = 5 * MIN;
	ok(!p->multi_bars_request(&mq, &multi, err, sizeof(err)) && err[0] != '\0', "alpaca multi: two intervals are refused");
	for (int i = 0; i < 3; i++)
		sq[i].interval_ms = 7 * MIN;
	err[0] = '\0';
	ok(!p->multi_bars_request(&mq, &multi, err, sizeof(err)) && strstr(err, "timeframe") != NULL,
	   "alpaca multi: an interval Alpaca has not is refused");
	set_of(0, 500);
	err[0] = '\0';
	ok(!p->multi_bars_request(&mq, &multi, err, sizeof(err)) && err[0] != '\0', "alpaca multi: no series is refused");
}

/*
 * multi_max_series keeps the URL within SYNC_URL_LEN for the longest
 * symbols (63 characters), the longest parameters and a base URL of 300
 * bytes; one more is refused.
 */
static void
test_alpaca_bound(void)
{
	const SyncProvider *p = &sync_provider_alpaca;
	int			n = p->multi_max_series;
	static char symbols[128][64];
	static SyncBarQuery many[128];
	static const SyncBarQuery *manyp[128];
	char		base[301];
	SyncMultiQuery m;
	SyncRequest req;
	bool		fits = true;

	ok(n > 1 && n < 128, "alpaca names more than one series a request, a bounded number");
	memset(base, 'p', sizeof(base) - 1);
	memcpy(base, "https://data.alpaca.markets/", 28);
	base[sizeof(base) - 1] = '\0';
	for (int i = 0; i < 128; i++)
	{
		memset(symbols[i], 'A' + i % 26, 63);
		symbols[i][62] = '0' + i % 10;
		symbols[i][63] = '\0';
		many[i] = series(symbols[i], 15 * MIN, 253402300799000LL - 15 * MIN * 3 + 123, 253402300799000LL);
		many[i].base_url = base;
		many[i].feed = "delayed_sip";
		manyp[i] = &many[i];
	}
	m = (SyncMultiQuery) {manyp, n, many[0].from_ms, many[0].to_ms, INT32_MAX};
	for (int t = 0; t < 2; t++)
	{
		memset(&req, 0, sizeof(req));
		if (!(t ? p->multi_trades_request : p->multi_bars_request) (&m, &req, err, sizeof(err)))
		{
			printf("#   %s: %s\n", t ? "trades" : "bars", err);
			fits = false;
		}
		else if (strlen(req.url) >= SYNC_URL_LEN || strstr(req.url, symbols[n - 1]) == NULL)
			fits = false;
	}
	ok(fits, "alpaca: multi_max_series symbols of 63 characters fit the URL, with a base URL of 300 bytes");
	m.nseries = n + 1;
	memset(&req, 0, sizeof(req));
	ok(!p->multi_bars_request(&m, &req, err, sizeof(err)) && err[0] != '\0', "alpaca: one series more is refused");
}

static void
test_polygon_requests(void)
{
	const SyncProvider *p = &sync_provider_polygon;
	SyncRequest req;

	sq[0] = series("AAPL", DAY, T0, T0 + DAY);
	sq[1] = series("TTMI", DAY, T0 + DAY, T0 + 2 * DAY);
	set_of(2, 50000);
	memset(&req, 0, sizeof(req));
	ok(p->multi_bars_request(&mq, &req, err, sizeof(err)), "polygon grouped request builds");
	is_str(req.url, "http://h/v2/aggs/grouped/locale/us/market/stocks/2021-11-27?adjusted=false&include_otc=true",
		   "polygon grouped URL: the day of the earliest series, unadjusted as the range requests");
	ok(req.window_to_ms == T0 + DAY, "polygon grouped window ends with its day");
	ok(req.headers[0] && strcmp(req.headers[0], "Authorization: Bearer SEC") == 0 && strstr(req.url, "SEC") == NULL,
	   "polygon grouped: the key in a header");
	ok(p->multi_max_series >= 10000, "polygon grouped: no symbols in the URL, so any set");
	sq[0].to_ms = sq[1].to_ms = T0 + 3600000;
	sq[1].from_ms = T0;
	set_of(2, 50000);
	memset(&req, 0, sizeof(req));
	ok(p->multi_bars_request(&mq, &req, err, sizeof(err)) && req.window_to_ms == T0 + 3600000,
	   "polygon grouped window ends at the set's end when sooner");
	sq[1].interval_ms = MIN;
	ok(!p->multi_bars_request(&mq, &req, err, sizeof(err)) && err[0] != '\0', "polygon grouped: daily bars only");
	ok(p->multi_trades_request == NULL && p->parse_multi_trades == NULL, "polygon: no grouped trades");
	ok(sync_provider_binance.multi_bars_request == NULL && sync_provider_coinbase.multi_bars_request == NULL &&
	   sync_provider_csv.multi_bars_request == NULL && sync_provider_binance.multi_max_series == 0,
	   "binance, coinbase, csv: no multi-symbol endpoint");
}

/* ---- the same records through either endpoint ---- */

static bool
same_bars(const SyncBar *a, const SyncBar *b, int n)
{
	for (int i = 0; i < n; i++)
	{
		SyncBar		x = a[i],
					y = b[i];

		x.target = y.target = 0;
		if (memcmp(&x, &y, sizeof(x)) != 0)
			return false;
	}
	return true;
}

static bool
same_trades(const SyncTrade *a, const SyncTrade *b, int n)
{
	for (int i = 0; i < n; i++)
	{
		SyncTrade	x = a[i],
					y = b[i];

		x.target = y.target = 0;
		if (memcmp(&x, &y, sizeof(x)) != 0)
			return false;
	}
	return true;
}

#define ALPACA_BARS_S "[{\"t\":\"2021-11-27T00:00:00Z\",\"o\":1.5,\"h\":2,\"l\":0.5,\"c\":\"1.25\",\"v\":1e3,\"n\":3,\"vw\":1.2}," \
	"{\"t\":\"2021-11-27T00:01:00Z\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":0}," \
	"{\"t\":\"2021-11-27T00:02:00Z\",\"o\":2.5e-7,\"h\":2.5e-7,\"l\":2.5e-7,\"c\":2.5e-7,\"v\":12345678901234567,\"n\":null}]"
#define ALPACA_TRADES_S "[{\"t\":\"2021-11-27T00:00:00.500987654Z\",\"x\":\"V\",\"p\":1.5,\"s\":100,\"c\":[\"@\"],\"i\":7,\"z\":\"A\"}," \
	"{\"t\":\"2021-11-27T00:00:01Z\",\"x\":\"Q\",\"p\":\"2.25\",\"s\":1e2,\"i\":52983525029461}]"

static void
test_alpaca_equal(void)
{
	const SyncProvider *p = &sync_provider_alpaca;
	SyncBar		one[CAP];
	SyncTrade	onet[CAP];
	int			n,
				k = 0;

	sq[0] = series("X", MIN, T0, T0 + 60 * MIN);
	sq[1] = series("S", MIN, T0, T0 + 60 * MIN);
	set_of(2, 10);
	ok(parse_single(p, "{\"bars\":" ALPACA_BARS_S ",\"symbol\":\"S\",\"next_page_token\":null}", &sq[1], false)
	   == SYNC_PARSE_OK && page.nbars == 3, "alpaca single: 3 bars");
	n = page.nbars;
	memcpy(one, bars, sizeof(bars));
	ok(parse_multi(p, "{\"bars\":{\"S\":" ALPACA_BARS_S ",\"X\":[{\"t\":\"2021-11-27T00:00:00Z\",\"o\":9,\"h\":9,"
				   "\"l\":9,\"c\":9,\"v\":9}]},\"next_page_token\":null}", false, CAP) == SYNC_PARSE_OK &&
	   page.nbars == n + 1, "alpaca multi: the same 3 bars and one of another series");
	for (int i = 0; i < page.nbars; i++)
		if (bars[i].target == 1)
			bars[k++] = bars[i];
	ok(k == n && same_bars(one, bars, n), "alpaca: a bar read through the multi answer is the single answer's bar");

	ok(parse_single(p, "{\"trades\":" ALPACA_TRADES_S ",\"symbol\":\"S\",\"next_page_token\":null}", &sq[1], true)
	   == SYNC_PARSE_OK && page.ntrades == 2, "alpaca single: 2 trades");
	n = page.ntrades;
	memcpy(onet, trades, sizeof(trades));
	ok(parse_multi(p, "{\"trades\":{\"X\":[],\"S\":" ALPACA_TRADES_S "},\"next_page_token\":null}", true, CAP)
	   == SYNC_PARSE_OK && page.ntrades == n, "alpaca multi: the same 2 trades");
	ok(same_trades(onet, trades, n) && trades[0].target == 1 && trades[1].target == 1,
	   "alpaca: a trade read through the multi answer is the single answer's trade (same key exchange:id:ms)");
	is_str(trades[0].trade_id, "V:7:1637971200500", "alpaca multi trade id");
}

/*
 * Polygon's documented answers for TTMI on 2023-01-09 (polygon-io/issues
 * #250): the range endpoint's t is 00:00 New York, the grouped one's
 * 16:00 New York; both are the bar of 2023-01-09 00:00 UTC.
 */
#define TTMI_DAY 1673222400000LL
#define TTMI_FIELDS "\"v\":394280,\"vw\":16.1078,\"o\":15.96,\"c\":16.08,\"h\":16.335,\"l\":15.96,\"n\":5416"

static void
test_polygon_equal(void)
{
	const SyncProvider *p = &sync_provider_polygon;
	SyncBar		one;

	sq[0] = series("AAPL", DAY, TTMI_DAY - 5 * DAY, TTMI_DAY + DAY);
	sq[1] = series("TTMI", DAY, TTMI_DAY, TTMI_DAY + DAY);
	set_of(2, 50000);
	ok(parse_single(p, "{\"ticker\":\"TTMI\",\"queryCount\":1,\"resultsCount\":1,\"adjusted\":false,"
					"\"results\":[{" TTMI_FIELDS ",\"t\":1673240400000}],\"status\":\"OK\"}", &sq[1], false)
	   == SYNC_PARSE_OK && page.nbars == 1 && page.nrejects == 0,
	   "polygon range: a daily bar at 00:00 New York is kept");
	ok(bars[0].ts_ms == TTMI_DAY, "polygon range: a daily bar is kept at 00:00 UTC of its date");
	one = bars[0];
	ok(parse_multi(p, "{\"queryCount\":3,\"resultsCount\":3,\"adjusted\":false,\"results\":["
				   "{\"T\":\"ZZZZ\",\"v\":1,\"o\":1,\"c\":1,\"h\":1,\"l\":1,\"t\":1673298000000},"
				   "{\"T\":\"TTMI\"," TTMI_FIELDS ",\"t\":1673298000000}],\"status\":\"OK\"}", false, CAP)
	   == SYNC_PARSE_OK && page.nbars == 1 && page.nrejects == 0 && page.nreceived == 1,
	   "polygon grouped: the set's ticker kept, the others ignored (not received, not refused)");
	ok(bars[0].target == 1 && same_bars(&one, bars, 1),
	   "polygon: the grouped bar (t at 16:00 New York) is the range answer's bar: same time, same values");
	ok(page.last_ts_ms == TTMI_DAY, "polygon grouped: last_ts_ms");
	ok(parse_multi(p, "{\"status\":\"OK\",\"resultsCount\":0}", false, CAP) == SYNC_PARSE_OK && page.nbars == 0,
	   "polygon grouped: a day without results");
	ok(parse_multi(p, "{\"status\":\"NOT_AUTHORIZED\",\"message\":\"Unknown API Key\"}", false, CAP) ==
	   SYNC_PARSE_PROVIDER_ERROR && strstr(err, "Unknown API Key") != NULL, "polygon grouped: a provider error");
	ok(parse_multi(p, "{\"status\":\"OK\",\"results\":["
				   "{\"T\":\"TTMI\"," TTMI_FIELDS ",\"t\":1673298000000},"
				   "{\"T\":\"TTMI\"," TTMI_FIELDS ",\"t\":1673298000001}]}", false, CAP) == SYNC_PARSE_OK &&
	   page.nbars == 1 && page.nrejects == 1 && rejects[0].target == 1 &&
	   strcmp(rejects[0].reason, "duplicate or out-of-order bar in page") == 0,
	   "polygon grouped: a ticker given twice: the second refused under its series");
	ok(parse_multi(p, "{\"status\":\"OK\",\"results\":[{\"T\":5},{\"o\":1},7]}", false, CAP) == SYNC_PARSE_OK &&
	   page.nrejects == 3 && page.nreceived == 3 && strcmp(rejects[0].reason, "field \"T\" is not a string") == 0 &&
	   strcmp(rejects[1].reason, "field \"T\" is missing") == 0 && rejects[2].target == 0,
	   "polygon grouped: results that name no ticker are refused (under series 0)");
}

/* ---- routing: targets, ranges, symbols not asked for, has_more ---- */

#define BAR(t) "{\"t\":\"" t "\",\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":10}"

static void
test_routing(void)
{
	const SyncProvider *p = &sync_provider_alpaca;
	int			by_target[NSERIES] = {0};
	bool		stamped = true;

	/* A from T0; B from T0 + 2 min (it has the earlier ones); C ends at T0 + 2 min; all end by T0 + 10 min */
	sq[0] = series("A", MIN, T0, T0 + 10 * MIN);
	sq[1] = series("B", MIN, T0 + 2 * MIN, T0 + 10 * MIN);
	sq[2] = series("c", MIN, T0, T0 + 2 * MIN);
	set_of(3, 100);
	ok(parse_multi(p, "{\"bars\":{"
				   "\"C\":[" BAR("2021-11-27T00:00:00Z") "," BAR("2021-11-27T00:01:00Z") "," BAR("2021-11-27T00:05:00Z") "],"
				   "\"X\":[" BAR("2021-11-27T00:00:00Z") "," BAR("2021-11-27T00:01:00Z") "],"
				   "\"A\":[" BAR("2021-11-27T00:00:00Z") "," BAR("2021-11-27T00:03:00Z") "," BAR("2021-11-27T00:10:00Z") "],"
				   "\"B\":[" BAR("2021-11-26T23:59:00Z") "," BAR("2021-11-27T00:00:00Z") "," BAR("2021-11-27T00:01:00Z") ","
				   BAR("2021-11-27T00:02:00Z") "]},\"next_page_token\":null}", false, CAP) == SYNC_PARSE_OK,
	   "routing: an answer of 4 symbols, 3 of them the set's");
	for (int i = 0; i < page.nbars; i++)
	{
		const char *sym = sq[bars[i].target].symbol;

		by_target[bars[i].target]++;
		if (bars[i].ts_ms < sq[bars[i].target].from_ms || bars[i].ts_ms >= sq[bars[i].target].to_ms)
			stamped = false;
		(void) sym;
	}
	ok(by_target[0] == 2 && by_target[1] == 1 && by_target[2] == 2, "routing: each bar kept under its series' index");
	ok(stamped, "routing: each kept bar is inside its own series' range");
	ok(page.nreceived == 10, "routing: nreceived counts the set's records only (not X's)");
	/*
	 * refused: A's 00:10 (past the request's end), B's 23:59 (before the
	 * request's start); skipped: B's 00:00 and 00:01 (B starts later), c's
	 * 00:05 (c ends sooner)
	 */
	ok(page.nrejects == 2 && rejects[0].target == 0 && rejects[1].target == 1 &&
	   strcmp(rejects[0].reason, "timestamp outside the requested range") == 0 &&
	   strcmp(rejects[1].reason, "timestamp outside the requested range") == 0,
	   "routing: a bar outside the request's window is refused under its series");
	ok(page.last_ts_ms == T0 + 3 * MIN, "routing: last_ts_ms is the newest over all series");
	for (int i = 1; i < page.nbars; i++)
		if (bars[i].target == bars[i - 1].target && bars[i].ts_ms <= bars[i - 1].ts_ms)
			stamped = false;
	ok(stamped, "routing: the bars of one series in time order");
	ok(!page.has_more, "routing: no next page token, nothing more");

	ok(parse_multi(p, "{\"bars\":{\"A\":[" BAR("2021-11-27T00:01:00Z") "," BAR("2021-11-27T00:00:00Z") "]}}", false, CAP)
	   == SYNC_PARSE_OK && page.nbars == 1 && page.nrejects == 1 && rejects[0].target == 0,
	   "routing: out of order within a series is refused");

	/* the same symbol twice, in two spellings: the second member refused */
	ok(parse_multi(p, "{\"bars\":{\"A\":[" BAR("2021-11-27T00:00:00Z") "],\"a\":[" BAR("2021-11-27T00:01:00Z") "]}}",
				   false, CAP) == SYNC_PARSE_OK && page.nbars == 1 && page.nrejects == 1 && rejects[0].target == 0 &&
	   strstr(rejects[0].reason, "twice") != NULL, "routing: a symbol answered twice: the second member's records refused");
	/* spelled exactly is preferred where two series differ in case only */
	sq[1] = series("a", MIN, T0, T0 + 10 * MIN);
	set_of(3, 100);
	ok(parse_multi(p, "{\"bars\":{\"a\":[" BAR("2021-11-27T00:00:00Z") "],\"A\":[" BAR("2021-11-27T00:00:00Z") "],"
				   "\"C\":[" BAR("2021-11-27T00:00:00Z") "]}}", false, CAP) == SYNC_PARSE_OK && page.nbars == 3 &&
	   page.nrejects == 0 && bars[0].target + bars[1].target == 1 && bars[2].target == 2,
	   "routing: symbols that differ in case only go to the series spelled so; others in any case");

	/* has_more */
	ok(parse_multi(p, "{\"bars\":{\"A\":[" BAR("2021-11-27T00:00:00Z") "]},\"next_page_token\":\"QXxN\"}", false, CAP)
	   == SYNC_PARSE_OK && page.has_more && page.nbars == 1, "has_more: a next page token");
	page.has_more = true;		/* left by an earlier parse: the parser sets it either way */
	ok(p->parse_multi_bars("{\"bars\":{}}", 11, &mq, &page, err, sizeof(err)) == SYNC_PARSE_OK && !page.has_more,
	   "has_more: no token");
	ok(parse_multi(p, "{\"bars\":null,\"next_page_token\":5}", false, CAP) == SYNC_PARSE_MALFORMED &&
	   strstr(err, "next_page_token") != NULL, "has_more: a token of the wrong type is malformed");
	ok(parse_multi(p, "{\"trades\":{},\"next_page_token\":\"x\"}", true, CAP) == SYNC_PARSE_OK && page.has_more,
	   "has_more: trades");

	/* the page's room: more than asked are refused one by one, far more is no answer */
	ok(parse_multi(p, "{\"bars\":{\"A\":[" BAR("2021-11-27T00:00:00Z") "," BAR("2021-11-27T00:01:00Z") "],"
				   "\"C\":[" BAR("2021-11-27T00:00:00Z") "]}}", false, 2) == SYNC_PARSE_OK && page.nbars == 2 &&
	   page.nrejects == 1 && rejects[0].target == 2 && strstr(rejects[0].reason, "page size") != NULL,
	   "page room: a bar past it refused under its series");
	mq.limit = 1;
	ok(parse_multi(p, "{\"bars\":{\"X\":[1,2,3],\"A\":[4]}}", false, 1) == SYNC_PARSE_MALFORMED &&
	   strstr(err, "more than twice") != NULL, "page room: elements of all symbols count, unknown ones too");

	/* errors and shapes */
	ok(parse_multi(p, "{\"message\":\"forbidden.\"}", false, CAP) == SYNC_PARSE_PROVIDER_ERROR &&
	   strcmp(err, "Alpaca error: forbidden.") == 0, "alpaca multi: a provider error");
	ok(parse_multi(p, "{\"bars\":[]}", false, CAP) == SYNC_PARSE_MALFORMED && strstr(err, "\"bars\"") != NULL,
	   "alpaca multi: a single-symbol shape is malformed");
	ok(parse_multi(p, "{\"bars\":{\"A\":5}}", false, CAP) == SYNC_PARSE_MALFORMED && strstr(err, "\"A\"") != NULL,
	   "alpaca multi: a set symbol's member that is no array is malformed, naming it");
	ok(parse_multi(p, "{\"bars\":{\"X\":5,\"A\":null}}", false, CAP) == SYNC_PARSE_OK && page.nreceived == 0,
	   "alpaca multi: symbols not asked for are ignored, whatever they hold");
	ok(parse_multi(p, "{\"bars\":{\"A\":[" BAR("2021-11-27T00:00:00Z") "]}} x", false, CAP) == SYNC_PARSE_MALFORMED &&
	   parse_multi(p, "{\"bars\":{\"A\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}}", false, CAP) == SYNC_PARSE_MALFORMED &&
	   parse_multi(p, "", false, CAP) == SYNC_PARSE_MALFORMED,
	   "alpaca multi: trailing bytes, deep nesting, nothing: malformed");
	ok(parse_multi(p, "{\"trades\":{\"A\":[{\"t\":\"2021-11-27T00:00:00Z\",\"x\":\"\xff\xfe\",\"p\":1,\"s\":1,\"i\":1},"
				   "{\"t\":\"2021-11-27T00:00:00Z\",\"x\":\"V\\u0000\",\"p\":1,\"s\":1,\"i\":2}]}}", true, CAP)
	   != SYNC_PARSE_OK || (page.ntrades == 0 && page.nrejects == 2),
	   "alpaca multi: invalid UTF-8 or a NUL in a trade id field: refused");
	mq.nseries = 0;
	ok(parse_multi(p, "{\"bars\":{}}", false, CAP) == SYNC_PARSE_MALFORMED && err[0] != '\0' &&
	   sync_provider_polygon.parse_multi_bars("{}", 2, &mq, &page, err, sizeof(err)) == SYNC_PARSE_MALFORMED,
	   "a set of no series: malformed, saying so");
}

/* a Polygon grouped answer far longer than a market day: malformed, not walked */
static void
test_polygon_huge(void)
{
	size_t		n = 200000;
	char	   *body = malloc(n * 3 + 64);
	size_t		at = 0;

	at += sprintf(body, "{\"status\":\"OK\",\"results\":[");
	for (size_t i = 0; i < n; i++)
		at += sprintf(body + at, "%s{}", i ? "," : "");
	strcpy(body + at, "]}");
	sq[0] = series("AAPL", DAY, T0, T0 + DAY);
	set_of(1, 50000);
	reset_page(CAP);
	ok(sync_provider_polygon.parse_multi_bars(body, strlen(body), &mq, &page, err, sizeof(err)) ==
	   SYNC_PARSE_MALFORMED && page.nrejects == 0 && strstr(err, "200000") != NULL,
	   "polygon grouped: 200000 results is no market day: malformed before any is walked");
	free(body);
}

/* ---- every field of a good answer: null, wrong types, huge numbers, absent ---- */

typedef struct Fixture
{
	const char *name;
	const SyncProvider *p;
	bool		trades;
	int64_t		interval;
	const char *good;
	int			accepted;
	const char *required;		/* record fields: every named bad value refuses it, naming the field */
	const char *optional;		/* null or absent fine; other named bad values refuse, naming it */
	const char *envelope;		/* null, absent or its own type fine; others make the answer malformed, naming it */
} Fixture;

#define AB(s, t) "{\"t\":\"" t "\",\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":10,\"n\":3,\"vw\":1.2}"
#define PG(s) "{\"T\":\"" s "\",\"v\":10,\"vw\":1.2,\"o\":1,\"c\":1.5,\"h\":2,\"l\":0.5,\"t\":1637971200000,\"n\":3}"

static const Fixture fixtures[] = {
	{"alpaca multi bars", &sync_provider_alpaca, false, MIN,
		"{\"bars\":{\"S\":[" AB("S", "2021-11-27T00:00:00Z") "],\"T\":[" AB("T", "2021-11-27T00:01:00Z") "]},"
		"\"next_page_token\":null}", 2,
		"/bars/S/0/t /bars/S/0/o /bars/S/0/h /bars/S/0/l /bars/S/0/c /bars/S/0/v "
		"/bars/T/0/t /bars/T/0/o /bars/T/0/h /bars/T/0/l /bars/T/0/c /bars/T/0/v",
		"/bars/S/0/n /bars/S/0/vw /bars/T/0/n /bars/T/0/vw",
	"/bars /bars/S /bars/T /next_page_token"},
	{"alpaca multi trades", &sync_provider_alpaca, true, MIN,
		"{\"trades\":{\"S\":[{\"t\":\"2021-11-27T00:00:00.5Z\",\"x\":\"V\",\"p\":1.5,\"s\":100,\"c\":[\"@\"],\"i\":7,\"z\":\"A\"}],"
		"\"T\":[{\"t\":\"2021-11-27T00:00:01Z\",\"x\":\"Q\",\"p\":\"2\",\"s\":1,\"i\":8}]},\"next_page_token\":\"x\"}", 2,
		"/trades/S/0/t /trades/S/0/x /trades/S/0/p /trades/S/0/s /trades/S/0/i "
		"/trades/T/0/t /trades/T/0/x /trades/T/0/p /trades/T/0/s /trades/T/0/i", "",
	"/trades /trades/S /trades/T /next_page_token"},
	{"polygon grouped bars", &sync_provider_polygon, false, DAY,
		"{\"queryCount\":2,\"resultsCount\":2,\"adjusted\":false,\"results\":[" PG("S") "," PG("T") "],"
		"\"status\":\"OK\",\"request_id\":\"r\"}", 2,
		"/results/0/T /results/0/o /results/0/h /results/0/l /results/0/c /results/0/v /results/0/t "
		"/results/1/T /results/1/o /results/1/h /results/1/l /results/1/c /results/1/v /results/1/t",
		"/results/0/n /results/0/vw /results/1/n /results/1/vw",
	"/results /status"},
};

#define DELETE NULL
static const char *const named_values[] = {
	"null", "{}", "[]", "true", "1e400", "-1e400", "9223372036854775808",
	"99999999999999999999", "-99999999999999999999", "\"a\\u0000b\"", DELETE
};
static const char *const other_values[] = {
	"-1", "\"x\"", "\"\"", "7", "1.5", "0", "\"2021-02-30T00:00:00Z\"", "\"9999-12-31T23:59:60Z\"",
	"-9223372036854775808", "9223372036854775807", "1e308", "[[[[1]]]]", "{\"a\":null}", "\"\\u00ff\\ud800\""
};

static bool
listed(const char *list, const char *word)
{
	size_t		n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static bool
names_field(const char *key, SyncParseStatus st)
{
	char		quoted[80];

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	for (int i = 0; i < page.nrejects && i < CAP; i++)
		if (strstr(page.rejects[i].reason, quoted))
			return true;
	return st != SYNC_PARSE_OK && strstr(err, quoted);
}

static void
collect_paths(json_object *v, const char *prefix, char (*out)[128], int *n, int max)
{
	char		path[128];

	if (json_object_is_type(v, json_type_object))
	{
		json_object_object_foreach(v, key, child)
		{
			snprintf(path, sizeof(path), "%s/%s", prefix, key);
			if (*n < max)
				snprintf(out[(*n)++], 128, "%s", path);
			collect_paths(child, path, out, n, max);
		}
	}
	else if (json_object_is_type(v, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(v); i++)
		{
			snprintf(path, sizeof(path), "%s/%zu", prefix, i);
			if (*n < max)
				snprintf(out[(*n)++], 128, "%s", path);
			collect_paths(json_object_array_get_idx(v, i), path, out, n, max);
		}
	}
}

/* good with the value at path replaced by value's raw text (DELETE: removed), malloc'd */
static char *
mutate(const char *good, const char *path, const char *value, json_object **orig)
{
	json_object *root = json_tokener_parse(good);
	json_object *parent = root;
	const char *p = path + 1;
	char		key[128];
	const char *printed;
	const char *hole;
	char	   *out;

	for (;;)
	{
		const char *slash = strchr(p, '/');
		size_t		n = slash ? (size_t) (slash - p) : strlen(p);

		memcpy(key, p, n);
		key[n] = '\0';
		if (slash == NULL)
			break;
		parent = json_object_is_type(parent, json_type_array) ?
			json_object_array_get_idx(parent, atoi(key)) : json_object_object_get(parent, key);
		p = slash + 1;
	}
	if (json_object_is_type(parent, json_type_array))
	{
		size_t		i = (size_t) atoi(key);

		*orig = json_object_get(json_object_array_get_idx(parent, i));
		if (value == DELETE)
			json_object_array_del_idx(parent, i, 1);
		else
			json_object_array_put_idx(parent, i, json_object_new_string("@@HOLE@@"));
	}
	else
	{
		*orig = json_object_get(json_object_object_get(parent, key));
		if (value == DELETE)
			json_object_object_del(parent, key);
		else
			json_object_object_add(parent, key, json_object_new_string("@@HOLE@@"));
	}
	printed = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	out = malloc(strlen(printed) + (value ? strlen(value) : 0) + 1);
	if ((hole = strstr(printed, "\"@@HOLE@@\"")) == NULL)
		strcpy(out, printed);
	else
		sprintf(out, "%.*s%s%s", (int) (hole - printed), printed, value, hole + 10);
	json_object_put(root);
	return out;
}

static SyncParseStatus
run(const Fixture *f, const char *body)
{
	sq[0] = series("S", f->interval, T0, T0 + (f->interval == DAY ? DAY : 60 * MIN));
	sq[1] = series("T", f->interval, T0, T0 + (f->interval == DAY ? DAY : 60 * MIN));
	set_of(2, 10);
	return parse_multi(f->p, body, f->trades, 10);
}

/* value is of the JSON type orig is (an object for an object...) */
static bool
same_type(const char *value, json_object *orig)
{
	return (value[0] == '{' && json_object_is_type(orig, json_type_object)) ||
		(value[0] == '[' && json_object_is_type(orig, json_type_array)) ||
		(value[0] == '"' && json_object_is_type(orig, json_type_string) && strchr(value, '\\') == NULL);
}

/* every mutation of one field, in this (child) process: the number of failed checks */
static int
mutate_field(const Fixture *f, const char *path)
{
	const char *key = strrchr(path, '/') + 1;
	bool		req = listed(f->required, path);
	bool		opt = listed(f->optional, path);
	bool		env = listed(f->envelope, path);
	int			nn = (int) (sizeof(named_values) / sizeof(named_values[0]));
	int			bad = 0;

	for (int k = 0; k < nn + (int) (sizeof(other_values) / sizeof(other_values[0])); k++)
	{
		bool		named = k < nn;
		const char *value = named ? named_values[k] : other_values[k - nn];
		json_object *orig;
		char	   *body = mutate(f->good, path, value, &orig);
		SyncParseStatus st = run(f, body);
		int			accepted = page.nbars + page.ntrades;
		bool		refused = accepted < f->accepted || st != SYNC_PARSE_OK || page.nrejects > 0;
		bool		stamped = true;
		const char *why = NULL;

		for (int i = 0; i < page.nbars; i++)
			stamped &= bars[i].target >= 0 && bars[i].target < 2;
		for (int i = 0; i < page.ntrades; i++)
			stamped &= trades[i].target >= 0 && trades[i].target < 2;
		for (int i = 0; i < page.nrejects; i++)
			stamped &= rejects[i].target >= 0 && rejects[i].target < 2;

		if (memchr(err, '\0', sizeof(err)) == NULL)
			why = "errbuf is not a string";
		else if (st != SYNC_PARSE_OK && st != SYNC_PARSE_MALFORMED && st != SYNC_PARSE_PROVIDER_ERROR)
			why = "unknown status";
		else if (st != SYNC_PARSE_OK && err[0] == '\0')
			why = "refused without a word in errbuf";
		else if (!stamped)
			why = "a record stamped with no series of the set";
		else if (env && named && value != DELETE && strcmp(value, "null") != 0 && !same_type(value, orig))
		{
			if (st == SYNC_PARSE_OK)
				why = "a malformed envelope accepted";
			else if (!names_field(key, st))
				why = "malformed without naming the field";
		}
		else if (named && (req || (opt && value != DELETE && strcmp(value, "null") != 0)))
		{
			if (!refused)
				why = "accepted";
			else if (!names_field(key, st))
				why = "refused without naming the field";
		}
		else if (req && strcmp(value, "-1") == 0 && !refused)
			why = "-1 accepted";
		if (why != NULL)
		{
			printf("#   %s %s = %s: %s (status %d, kept %d, reason '%s', errbuf '%s')\n", f->name, path,
				   value ? value : "(deleted)", why, st, accepted,
				   page.nrejects > 0 ? page.rejects[0].reason : "", err);
			bad++;
		}
		json_object_put(orig);
		free(body);
	}
	return bad;
}

static void
ok_in_child(const Fixture *f, const char *path, const char *name)
{
	pid_t		pid;
	int			status;
	char		label[400];

	fflush(stdout);
	pid = fork();
	if (pid == 0)
	{
		int			bad;

		if (path == NULL)
		{
			SyncParseStatus st = run(f, f->good);

			bad = st != SYNC_PARSE_OK || page.nbars + page.ntrades != f->accepted || page.nrejects != 0;
			if (bad)
				printf("#   good answer: status %d, kept %d, refused %d ('%s'), errbuf '%s'\n", st,
					   page.nbars + page.ntrades, page.nrejects, page.nrejects ? rejects[0].reason : "", err);
		}
		else
			bad = mutate_field(f, path);
		fflush(stdout);
#ifdef SYNC_COVERAGE
		__gcov_dump();			/* _exit would drop what the child covered */
#endif
		_exit(bad == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
	{
		ok(0, name);
		return;
	}
	if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) > 1))
	{
		snprintf(label, sizeof(label), "%s (CRASHED)", name);
		ok(0, label);
	}
	else
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, name);
}

static void
test_every_field(void)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
	{
		const Fixture *f = &fixtures[i];
		json_object *root = json_tokener_parse(f->good);
		static char paths[256][128];
		int			n = 0;
		char		name[400];

		snprintf(name, sizeof(name), "%s: the good answer gives %d record(s)", f->name, f->accepted);
		ok_in_child(f, NULL, name);
		collect_paths(root, "", paths, &n, 256);
		json_object_put(root);
		for (int k = 0; k < n; k++)
		{
			snprintf(name, sizeof(name), "%s: %s null, wrong types, huge numbers, absent: %s", f->name, paths[k],
					 listed(f->required, paths[k]) ? "refused, naming the field" :
					 listed(f->optional, paths[k]) ? "null fine, else refused naming it" :
					 listed(f->envelope, paths[k]) ? "null or absent fine, else malformed naming it" : "no crash");
			ok_in_child(f, paths[k], name);
		}
	}
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_alpaca_requests();
	test_alpaca_bound();
	test_polygon_requests();
	test_alpaca_equal();
	test_polygon_equal();
	test_routing();
	test_polygon_huge();
	test_every_field();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
