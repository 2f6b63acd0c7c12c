// unit-sources: src/providers/*.c src/decimal.c src/validate.c
// unit-libs: json-c libcurl
/*-------------------------------------------------------------------------
 * test_csv.c
 *	  Unit tests of the CSV file provider (src/providers/csv.c): a pass over
 *	  a trade file never writes past the page it was given, header lines
 *	  are told from records whose ids are not numbers, microsecond times
 *	  stay whole, a refused line is refused by one pass only, text that is
 *	  not UTF-8 is refused, and a missing file is "not yet".  Prints TAP.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"

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

#define CAP 4
#define CANARY "canary"

/* The page's arrays, each followed by a record the parser must not touch. */
static struct
{
	SyncTrade	trades[CAP];
	SyncTrade	after;
}			tbuf;
static struct
{
	SyncBar		bars[CAP];
	SyncBar		after;
}			bbuf;
static SyncReject rejects[16];
static SyncPage page;
static char err[256];

static SyncBarQuery
query(int64_t from_ms)
{
	SyncBarQuery q;

	memset(&q, 0, sizeof(q));
	q.base_url = "http://h";
	q.symbol = "S";
	q.interval_ms = 60000;
	q.from_ms = from_ms;
	q.to_ms = 1637971200000LL + 86400000LL;
	return q;
}

static SyncParseStatus
parse(const char *body, const SyncBarQuery *q, int capacity, int want_trades)
{
	memset(&page, 0, sizeof(page));
	memset(&tbuf, 0, sizeof(tbuf));
	memset(&bbuf, 0, sizeof(bbuf));
	strcpy(tbuf.after.trade_id, CANARY);
	strcpy(bbuf.after.open, CANARY);
	page.trades = tbuf.trades;
	page.trade_capacity = capacity;
	page.bars = bbuf.bars;
	page.bar_capacity = capacity;
	page.rejects = rejects;
	page.reject_capacity = 16;
	page.last_ts_ms = INT64_MIN;
	return (want_trades ? sync_provider_csv.parse_trades : sync_provider_csv.parse_bars)
		(body, strlen(body), q, &page, err, sizeof(err));
}

static const char *
reason(int i)
{
	return i < page.nrejects ? page.rejects[i].reason : "(none)";
}

/* Finding 3: a file with more lines after the cursor than the page holds. */
static void
test_capacity(void)
{
	SyncBarQuery q = query(1637971200000LL);
	const char *body =
	"1,1.5,2,3,1637971200001,True,True\n"
	"2,1.5,2,3,1637971200002,True,True\n"
	"3,1.5,2,3,1637971200003,True,True\n"
	"4,1.5,2,3,1637971200004,True,True\n"
	"5,1.5,2,3,1637971200005,True,True\n"
	"6,1.5,2,3,1637971200006,True,True\n";

	ok(parse(body, &q, CAP, 1) == SYNC_PARSE_OK && page.ntrades == CAP && page.nreceived == CAP,
	   "trades: a pass over a longer file fills the page and stops");
	ok(strcmp(tbuf.after.trade_id, CANARY) == 0,
	   "trades: nothing is written past the page's array");
	ok(strcmp(tbuf.trades[CAP - 1].trade_id, "4") == 0 && page.last_ts_ms == 1637971200004LL,
	   "trades: the page ends at the last line that fitted");
	q.from_ms = 1637971200004LL;
	ok(parse(body, &q, CAP, 1) == SYNC_PARSE_OK && page.ntrades == 3 &&
	   strcmp(tbuf.trades[0].trade_id, "4") == 0 && strcmp(tbuf.after.trade_id, CANARY) == 0,
	   "trades: the next pass goes on from the cursor");
	ok(parse("1637971200000,1,2,0.5,1.5,10,0,15,7,0,0,0\n1637971260000,1,2,0.5,1.5,10,0,15,7,0,0,0\n"
			 "1637971320000,1,2,0.5,1.5,10,0,15,7,0,0,0\n1637971380000,1,2,0.5,1.5,10,0,15,7,0,0,0\n"
			 "1637971440000,1,2,0.5,1.5,10,0,15,7,0,0,0\n", &q, CAP, 0) == SYNC_PARSE_OK &&
	   strcmp(bbuf.after.open, CANARY) == 0 && page.nbars <= CAP,
	   "klines: nothing is written past the page's array");
}

/* Finding 12: header detection. */
static void
test_header(void)
{
	SyncBarQuery q = query(1637971200000LL);

	ok(parse("a1,1.5,2,3,1637971200001,True,True\nb2,1.5,2,3,1637971200002,false,True\n", &q, CAP, 1)
	   == SYNC_PARSE_OK && page.ntrades == 2 && strcmp(tbuf.trades[0].trade_id, "a1") == 0 &&
	   page.nrejects == 0, "trades: a first record with a non-numeric id is kept");
	ok(parse("id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\r\n"
			 "a1,1.5,2,3,1637971200001,True,True\r\nb2,1.5,2,3,1637971200002,false,True\r\n", &q, CAP, 1)
	   == SYNC_PARSE_OK && page.ntrades == 2 && strcmp(tbuf.trades[1].trade_id, "b2") == 0 &&
	   page.nrejects == 0, "trades: a header is skipped, the non-numeric ids after it kept");
	ok(parse("x,1,2,0.5,1.5,10,0,15,7,0,0,0\n1637971260000,1,2,0.5,1.5,10,0,15,7,0,0,0\n", &q, CAP, 0)
	   == SYNC_PARSE_OK && page.nbars == 1 && page.nrejects == 1 &&
	   strcmp(reason(0), "open time is not an integer") == 0,
	   "klines: a malformed first line is refused, not taken for a header");
	ok(parse("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
			 "taker_buy_volume,taker_buy_quote_volume,ignore\n"
			 "1637971260000,1,2,0.5,1.5,10,0,15,7,0,0,0\n", &q, CAP, 0)
	   == SYNC_PARSE_OK && page.nbars == 1 && page.nrejects == 0, "klines: the header is skipped");
}

static void
test_times(void)
{
	SyncBarQuery q = query(1637971200000LL);

	ok(parse("7,1.5,2,3,1637971200003123,True,True\n8,1.5,2,3,1637971200004,True,True\n", &q, CAP, 1)
	   == SYNC_PARSE_OK && page.ntrades == 2 && tbuf.trades[0].ts_us == 1637971200003123LL &&
	   tbuf.trades[1].ts_us == 1637971200004000LL, "trades: microsecond times are kept whole");
	ok(parse("7,1.5,2,3,99999999999999,True,True\n", &q, CAP, 1) == SYNC_PARSE_OK &&
	   page.ntrades == 0 && page.nrejects == 1, "trades: a time far outside the day is refused");
	ok(parse("7,1.5,2,3,99999999999999999999999,True,True\n8,1.5,2,3,9223372036854775807,True,True\n",
			 &q, CAP, 1) == SYNC_PARSE_OK && page.ntrades == 0 && page.nrejects == 2,
	   "trades: a time past 64 bits or past 9999 is refused, not clamped");
	ok(parse("1637971200000,1,2,0.5,1.5,10,0,15,99999999999999999999999,0,0,0\n"
			 "1637971260000,1,2,0.5,1.5,10,0,15,-1,0,0,0\n"
			 "99999999999999999999999,1,2,0.5,1.5,10,0,15,7,0,0,0\n"
			 "1637971320000,1,2,0.5,1.5,10,0,15,7,0,0,0\n", &q, CAP, 0) == SYNC_PARSE_OK &&
	   page.nbars == 1 && page.nrejects == 3,
	   "klines: a trade count past 64 bits or negative, an open time past 64 bits are refused");
}

/* Finding 7: a trade id that is not UTF-8 text is refused, with its bytes. */
static void
test_utf8(void)
{
	SyncBarQuery q = query(1637971200000LL);

	ok(parse("\xff\xfe,1.5,2,3,1637971200001,True,True\n9,1.5,2,3,1637971200002,True,True\n", &q, CAP, 1)
	   == SYNC_PARSE_OK && page.ntrades == 1 && page.nrejects == 1 &&
	   strstr(reason(0), "UTF-8") != NULL && page.rejects[0].payload[0] == '\xff',
	   "trades: an id that is not UTF-8 is refused (the payload kept for escaping)");
	ok(parse("a\x01" "b,1.5,2,3,1637971200001,True,True\n", &q, CAP, 1) == SYNC_PARSE_OK &&
	   page.ntrades == 0 && page.nrejects == 1, "trades: an id with a control character is refused");
	ok(parse("caf\xc3\xa9,1.5,2,3,1637971200001,True,True\n", &q, CAP, 1) == SYNC_PARSE_OK &&
	   page.ntrades == 1 && page.nrejects == 0, "trades: an id in UTF-8 beyond ASCII is kept");
}

/* A refused line is refused by the pass it belongs to, not by every pass. */
static void
test_passes(void)
{
	const char *body =
	"garbage\n"
	"1,1.5,2,3,1637971200005,True,True\n"
	"2,1.5,2,3,x,True,True\n"
	"3,1.5,2,3,1637971200007,True,True\n";
	SyncBarQuery q = query(1637971200000LL);

	ok(parse(body, &q, CAP, 1) == SYNC_PARSE_OK && page.ntrades == 2 && page.nrejects == 2,
	   "passes: the first pass refuses the bad lines");
	q.from_ms = 1637971200006LL;
	ok(parse(body, &q, CAP, 1) == SYNC_PARSE_OK && page.ntrades == 1 && page.nrejects == 0,
	   "passes: a later pass does not refuse them again");
}

/* Finding 11: a file's symbol never walks out of base_url. */
static void
test_symbol_path(void)
{
	const char *bad[] = {"../etc/passwd", "..", ".hidden", "a/b", "a\\b", "BTC..USDT", "", "a b", "a%2fb",
	"a\nb", "\xc3\xa9"};
	SyncBarQuery q = query(1637971200000LL);
	SyncRequest req;
	int			refused = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		q.symbol = bad[i];
		q.interval_ms = 60000;
		refused += !sync_provider_csv.bars_request(&q, &req, err, sizeof(err)) && strstr(err, "symbol") != NULL;
		refused += !sync_provider_csv.trades_request(&q, &req, err, sizeof(err)) && strstr(err, "symbol") != NULL;
	}
	ok(refused == 2 * (int) (sizeof(bad) / sizeof(bad[0])),
	   "a symbol with '/', '\\', '..', a leading dot or other characters makes no file URL");
	q.symbol = "BTC-USDT.P_1";
	ok(sync_provider_csv.bars_request(&q, &req, err, sizeof(err)) &&
	   strcmp(req.url, "http://h/BTC-USDT.P_1-1m-2021-11-27.csv") == 0, "an ordinary symbol still does");
}

/* Finding 6: a missing file is not an empty day. */
static void
test_missing(void)
{
	SyncBarQuery q = query(1637971200000LL);
	SyncRequest req;

	memset(&req, 0, sizeof(req));
	ok(sync_provider_csv.bars_request(&q, &req, err, sizeof(err)) && req.missing_not_yet,
	   "kline files: a missing file is not published yet");
	memset(&req, 0, sizeof(req));
	ok(sync_provider_csv.trades_request(&q, &req, err, sizeof(err)) && req.missing_not_yet,
	   "trade files: a missing file is not published yet");
}

int
main(void)
{
	test_capacity();
	test_header();
	test_times();
	test_utf8();
	test_passes();
	test_missing();
	test_symbol_path();
	printf("1..%d\n", tests);
	return failed > 0;
}
