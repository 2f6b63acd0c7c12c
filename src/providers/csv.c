/*-------------------------------------------------------------------------
 * csv.c
 *	  Kline CSV files in the binance-public-data layout, one file per
 *	  symbol, interval and UTC day:
 *	    {base_url}/{SYMBOL}-{interval}-{YYYY-MM-DD}.csv
 *	  read over file:// (superusers only, checked by sync_add_source) or
 *	  http(s)://.
 *
 * Each line: open time, open, high, low, close, volume, close time, quote
 * volume, trades, taker buy base, taker buy quote, ignore.  Times are ms,
 * or us in files from 2025 on; a header line (column names only), where a
 * file starts with one, is skipped; any other line that does not parse is
 * refused.  A day without a file (404, no such file) is a file not
 * published yet, never an empty day: the request says so
 * (missing_not_yet) and the job waits for it (bgworkers/historical.c).
 *
 * Trade files are {base_url}/{SYMBOL}-trades-{YYYY-MM-DD}.csv with lines
 * id, price, qty, quote qty, time, is buyer maker, is best match.  A busy
 * day holds more trades than one page: the file is read again from the
 * cursor, lines before it are passed over.
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

#define DAY_MS 86400000
#define CSV_FIELDS 12

/*
 * The UTC day (its first ms) a time falls in.  The time is first held to
 * the range sync accepts, so a query at the int64 limits cannot overflow.
 */
static int64_t
csv_day_of(int64_t ms)
{
	int64_t		t = ms < SYNC_MIN_MS ? SYNC_MIN_MS : ms > SYNC_MAX_MS ? SYNC_MAX_MS : ms;

	return t - ((t % DAY_MS) + DAY_MS) % DAY_MS;
}

/*
 * A file's symbol becomes part of a path (on a web server or, for file://
 * sources, on the database server's disk): letters, digits, '_', '-' and
 * single dots only, so "..", "/" and "\\" can never walk out of base_url.
 */
static bool
csv_symbol_ok(const char *symbol, char *errbuf, size_t errlen)
{
	size_t		n = strlen(symbol);

	for (size_t i = 0; i < n; i++)
	{
		char		c = symbol[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-' || c == '.'))
			break;
		if (i == n - 1 && strstr(symbol, "..") == NULL && symbol[0] != '.')
			return true;
	}
	snprintf(errbuf, errlen, "a file source's symbol may hold only letters, digits, '_', '-' and "
			 "single dots, not starting with one (no '/', no '..'): \"%.64s\"", symbol);
	return false;
}

static bool
csv_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	const char *iv = sync_binance_interval(q->interval_ms);
	int64_t		day = csv_day_of(q->from_ms);
	char		date[16];

	if (iv == NULL)
	{
		snprintf(errbuf, errlen, "kline files have no interval of %" PRId64 " ms", q->interval_ms);
		return false;
	}
	if (!csv_symbol_ok(q->symbol, errbuf, errlen))
		return false;
	sync_format_date(day, date, sizeof(date));
	if (snprintf(req->url, sizeof(req->url), "%s/%s-%s-%s.csv",
				 q->base_url, q->symbol, iv, date) >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "file URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->window_to_ms = day + DAY_MS < q->to_ms ? day + DAY_MS : q->to_ms;
	req->missing_not_yet = true;
	req->headers[0] = NULL;
	return true;
}

/*
 * Whether a line is a header: column names only, at least two, every
 * field a name ([A-Za-z_][A-Za-z0-9_ ]*).  A record always has numbers in it, so a
 * first record whose id or other text fields are not numeric is not taken
 * for a header (and dropped).
 */
static bool
is_header(const char *line)
{
	bool		start = true;

	if (strchr(line, ',') == NULL)
		return false;			/* one word is not a list of columns */
	for (const char *c = line; *c; c++)
	{
		if (*c == ',')
		{
			if (start)
				return false;	/* an empty field */
			start = true;
		}
		else if (start)
		{
			if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_'))
				return false;
			start = false;
		}
		else if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' ||
				   (*c >= '0' && *c <= '9') || *c == ' '))
			return false;
	}
	return !start;
}

/*
 * The next record line of a file into line[SYNC_PAYLOAD_LEN]: CRLF taken
 * off, blank lines passed over, and a header where the file starts with
 * one.  A line longer than a payload is cut (and then refused as a record
 * with too few or malformed fields).  False at the end of the body.
 */
static bool
next_line(const char **p, const char *stop, bool *first, char *line)
{
	while (*p < stop)
	{
		const char *nl = memchr(*p, '\n', stop - *p);
		size_t		n = (nl ? nl : stop) - *p;

		if (n > 0 && (*p)[n - 1] == '\r')
			n--;
		if (n >= SYNC_PAYLOAD_LEN)
			n = SYNC_PAYLOAD_LEN - 1;
		memcpy(line, *p, n);
		line[n] = '\0';
		*p = nl ? nl + 1 : stop;
		if (n == 0 || strlen(line) == 0)
			continue;			/* blank, or a NUL where a line should start */
		if (*first && is_header(line))
		{
			*first = false;
			continue;			/* the header a file may start with */
		}
		*first = false;
		return true;
	}
	return false;
}

/* Split one line in place; returns the number of fields. */
static int
split_line(char *line, char **fields, int max)
{
	int			n = 0;
	char	   *p = line;

	while (n < max)
	{
		fields[n++] = p;
		p = strchr(p, ',');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return p == NULL ? n : max + 1;
}

/* A whole decimal integer that fits in 64 bits; false for anything else. */
static bool
csv_int64(const char *s, int64_t *out)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE)
		return false;
	*out = v;
	return true;
}

static const char *
csv_kline(char *line, SyncBar *bar)
{
	char	   *f[CSV_FIELDS];
	int64_t		t;
	int			n = split_line(line, f, CSV_FIELDS);

	if (n < 9 || n > CSV_FIELDS)
		return "kline line does not have 12 fields";
	if (!csv_int64(f[0], &t))
		return "open time is not an integer";
	bar->ts_ms = t > 100000000000000LL ? t / 1000 : t;	/* us from 2025 */
	if (bar->ts_ms < SYNC_MIN_MS || bar->ts_ms > SYNC_MAX_MS)
		return "open time out of range";
	if (!sync_copy_decimal(bar->open, f[1]) || !sync_copy_decimal(bar->high, f[2]) ||
		!sync_copy_decimal(bar->low, f[3]) || !sync_copy_decimal(bar->close, f[4]) ||
		!sync_copy_decimal(bar->volume, f[5]))
		return "decimal field too long";
	if (!csv_int64(f[8], &bar->trades))
		return "trade count is not an integer";
	if (bar->trades < 0)
		return "trade count is negative";
	bar->vwap[0] = '\0';
	return NULL;
}

static SyncParseStatus
csv_parse_bars(const char *body, size_t len, const SyncBarQuery *q,
			   SyncPage *page, char *errbuf, size_t errlen)
{
	int64_t		prev = INT64_MIN;
	const char *p = body;
	const char *stop = body + len;
	bool		first = true;

	char		line[SYNC_PAYLOAD_LEN];

	while (next_line(&p, stop, &first, line))
	{
		char		work[SYNC_PAYLOAD_LEN];
		const char *why;

		page->nreceived++;
		if (page->nbars >= page->bar_capacity)
		{
			sync_page_reject(page, "more lines than one day of klines holds", line);
			continue;
		}
		strcpy(work, line);
		page->bars[page->nbars].ts_ms = INT64_MIN;
		why = csv_kline(work, &page->bars[page->nbars]);
		if (why != NULL)
			sync_page_reject(page, why, line);
		else
			sync_page_accept(page, q, &prev, line);
	}
	return SYNC_PARSE_OK;
}

static bool
csv_trades_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	int64_t		day = csv_day_of(q->from_ms);
	char		date[16];

	if (!csv_symbol_ok(q->symbol, errbuf, errlen))
		return false;
	sync_format_date(day, date, sizeof(date));
	if (snprintf(req->url, sizeof(req->url), "%s/%s-trades-%s.csv",
				 q->base_url, q->symbol, date) >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "file URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->window_to_ms = day + DAY_MS < q->to_ms ? day + DAY_MS : q->to_ms;
	req->missing_not_yet = true;
	req->headers[0] = NULL;
	return true;
}

static const char *
csv_trade(char *line, SyncTrade *t)
{
	char	   *f[7];
	int64_t		ts;

	if (split_line(line, f, 7) != 7)
		return "trade line does not have 7 fields";
	if (!csv_int64(f[4], &ts))
		return "trade time is not an integer";
	/* binance-public-data writes us from 2025 on, ms before */
	if (ts > 100000000000000LL)
	{
		if (ts > SYNC_MAX_US)
			return "time out of range";
		t->ts_us = ts;
	}
	else if (!sync_us_from_ms(ts, &t->ts_us))
		return "time out of range";
	if (strlen(f[0]) == 0 || strlen(f[0]) >= sizeof(t->trade_id))
		return "trade id is empty or too long";
	strcpy(t->trade_id, f[0]);
	if (!sync_copy_decimal(t->price, f[1]) || !sync_copy_decimal(t->size, f[2]))
		return "decimal field too long";
	t->side = strcmp(f[5], "True") == 0 || strcmp(f[5], "true") == 0 ? 's' :
		strcmp(f[5], "False") == 0 || strcmp(f[5], "false") == 0 ? 'b' : 0;
	return NULL;
}

/*
 * One pass over a day's trade file, from the cursor (q->from_ms) on, until
 * the page is full.  Lines before the cursor were handled by an earlier
 * pass: a line whose time does not parse belongs with the line before it
 * (files are in time order), so it is refused by one pass only.
 */
static SyncParseStatus
csv_parse_trades(const char *body, size_t len, const SyncBarQuery *q,
				 SyncPage *page, char *errbuf, size_t errlen)
{
	const char *p = body;
	const char *stop = body + len;
	bool		first = true;
	int64_t		day = csv_day_of(q->from_ms);
	int64_t		prev_ms = INT64_MIN;	/* time of the last line that had one */
	bool		lead_in = true; /* lines before the first timed one are ours */

	char		line[SYNC_PAYLOAD_LEN];

	/* the file's first time says which pass the lines before it belong to */
	while (next_line(&p, stop, &first, line))
	{
		SyncTrade	t;

		if (csv_trade(line, &t) == NULL)
		{
			lead_in = sync_ms_of_us(t.ts_us) >= q->from_ms;
			break;
		}
	}
	p = body;
	first = true;

	while (next_line(&p, stop, &first, line))
	{
		char		work[SYNC_PAYLOAD_LEN];
		SyncTrade	t;
		const char *why;

		/* parsed aside: the page's array is written only when there is room */
		memset(&t, 0, sizeof(t));
		strcpy(work, line);
		why = csv_trade(work, &t);
		/* a time outside the file's day would be asked for by no pass */
		if (why == NULL && (sync_ms_of_us(t.ts_us) < day || sync_ms_of_us(t.ts_us) >= day + DAY_MS))
			why = "trade time outside the file's day";
		if (why == NULL)
			prev_ms = sync_ms_of_us(t.ts_us);
		if (prev_ms == INT64_MIN ? !lead_in : prev_ms < q->from_ms)
			continue;			/* stored by an earlier pass over this file */
		if (page->ntrades >= page->trade_capacity)
			break;				/* not this pass: the next one starts here */
		page->nreceived++;
		if (why != NULL)
			sync_page_reject(page, why, line);
		else
		{
			page->trades[page->ntrades] = t;
			sync_page_accept_trade(page, q, line);
		}
	}
	/* a pass that stopped at the capacity is a full page */
	if (page->ntrades >= page->trade_capacity)
		page->nreceived = page->trade_capacity;
	return SYNC_PARSE_OK;
}

const SyncProvider sync_provider_csv = {
	.name = "csv",
	.default_base_url = NULL,
	.max_page = DAY_MS / 60000 + 1,
	.whole_days = true,
	.bars_request = csv_bars_request,
	.parse_bars = csv_parse_bars,
	.trades_request = csv_trades_request,
	.parse_trades = csv_parse_trades,
};
