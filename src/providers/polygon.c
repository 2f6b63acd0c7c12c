/*-------------------------------------------------------------------------
 * polygon.c
 *	  Polygon aggregates: GET /v2/aggs/ticker/{ticker}/range/{mult}/{span}/{from}/{to}
 *
 * from and to are ms timestamps, both inclusive; sort=asc; the answer is
 *   {"ticker": "AAPL", "results": [{"t": ms, "o": 1.5, "h", "l", "c",
 *    "v", "vw", "n"}, ...], "next_url": "...", "status": "OK"}
 * with prices as JSON numbers (their text is kept exactly).  Paging goes by
 * time from our checkpoint, which also survives restarts, rather than by
 * next_url.  The key goes in an Authorization header, never in the URL,
 * so no log line or error message can show it.  Errors:
 *   {"status": "ERROR", "error": "..."} or {"status": "NOT_AUTHORIZED", "message": "..."}.
 *
 * A daily aggregate's "t" is not 00:00 UTC: the range endpoint gives the
 * start of the New York day (04:00 or 05:00 UTC), the grouped one its
 * close (16:00 New York).  Both fall on the day's UTC date, and a day's
 * bar is kept at 00:00 UTC of it, as every provider's daily bars are
 * (before 0.6.0 the range endpoint's were refused as not aligned).
 *
 * Many series in one request: grouped daily bars,
 *   GET /v2/aggs/grouped/locale/us/market/stocks/{YYYY-MM-DD}?adjusted=false&include_otc=true
 * answer {"results": [{"T": "AAPL", "o", "h", "l", "c", "v", "vw", "n",
 * "t"}, ...], "resultsCount": N, "status": "OK"} for EVERY ticker of that
 * day; the set's are kept, each through the same parser as its range
 * answer (same time, same values).  adjusted=false as the range requests
 * ask; OTC tickers included, or a set's OTC series would read as a day
 * without trading.  Bars of 1 day only; no grouped trades.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider_multi.h"
#include "request.h"

static bool
polygon_span(int64_t ms, int *mult, const char **span)
{
	static const struct
	{
		int64_t		ms;
		int			mult;
		const char *span;
	}			spans[] = {
		{60000, 1, "minute"}, {300000, 5, "minute"}, {900000, 15, "minute"},
		{1800000, 30, "minute"}, {3600000, 1, "hour"}, {14400000, 4, "hour"},
		{86400000, 1, "day"},
	};

	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
		if (spans[i].ms == ms)
		{
			*mult = spans[i].mult;
			*span = spans[i].span;
			return true;
		}
	return false;
}

/* The key header; false (errbuf set) for a key that cannot be a header. */
static bool
polygon_key_header(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	req->headers[0] = NULL;
	if (q->secret != NULL && !sync_request_add_header(req, "Authorization: Bearer %s", q->secret))
	{
		snprintf(errbuf, errlen, "the API key (secret) holds a control character or is too long");
		return false;
	}
	return true;
}

static bool
polygon_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	int			mult;
	const char *span;
	char		range[96];
	SyncUrl		u;

	if (!polygon_span(q->interval_ms, &mult, &span))
	{
		snprintf(errbuf, errlen, "Polygon has no aggregate of %" PRId64 " ms", q->interval_ms);
		return false;
	}
	snprintf(range, sizeof(range), "/range/%d/%s/%" PRId64 "/%" PRId64, mult, span, q->from_ms,
			 sync_add_sat(q->to_ms, -1));
	sync_url_init(&u);
	sync_url_path(&u, "/v2/aggs/ticker");
	sync_url_segment(&u, "symbol", q->symbol, range);
	sync_url_param_raw(&u, "adjusted", "false");
	sync_url_param_raw(&u, "sort", "asc");
	sync_url_param_int(&u, "limit", q->limit);
	if (!sync_url_finish(&u, q->base_url, req->url, sizeof(req->url), errbuf, errlen))
		return false;
	req->window_to_ms = q->to_ms;
	return polygon_key_header(q, req, errbuf, errlen);
}

static const char *
polygon_agg(json_object *a, SyncBar *bar)
{
	const char *why;

	if (!sync_json_type_is(a, json_type_object))
		return "aggregate is not a JSON object";
	if ((why = sync_json_int64(a, "t", 0, SYNC_MAX_MS, &bar->ts_ms)) != NULL ||
		(why = sync_json_member_decimal(a, "o", bar->open, true)) != NULL ||
		(why = sync_json_member_decimal(a, "h", bar->high, true)) != NULL ||
		(why = sync_json_member_decimal(a, "l", bar->low, true)) != NULL ||
		(why = sync_json_member_decimal(a, "c", bar->close, true)) != NULL ||
		(why = sync_json_member_decimal(a, "v", bar->volume, true)) != NULL ||
		(why = sync_json_member_decimal(a, "vw", bar->vwap, false)) != NULL ||
		(why = sync_json_opt_int64(a, "n", 0, INT64_MAX, &bar->trades, -1)) != NULL)
		return why;
	return NULL;
}

/*
 * Parse an answer object; a status other than OK/DELAYED is a provider
 * error.  *results is its "results" array, or NULL when there is none (no
 * data in the range).  The caller releases *root.
 */
static SyncParseStatus
polygon_answer(const char *body, size_t len, int64_t asked, json_object **root,
			   json_object **results, char *errbuf, size_t errlen)
{
	const char *status;
	const char *msg;
	const char *why;

	*results = NULL;
	if (sync_parse_json(body, len, root, "Polygon", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (!sync_json_type_is(*root, json_type_object))
	{
		snprintf(errbuf, errlen, "Polygon answer is not a JSON object");
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	/*
	 * A status that is there but null is no answer we know: taken for
	 * absent it would read as "no results", and the window would be
	 * recorded as a checked quiet stretch, a silent hole.
	 */
	if (sync_json_is_null(*root, "status"))
		why = "field \"status\" is null";
	else
		why = sync_json_opt_string(*root, "status", &status);
	if (why != NULL)
	{
		snprintf(errbuf, errlen, "Polygon answer: %s", why);
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (status != NULL && strcmp(status, "OK") != 0 && strcmp(status, "DELAYED") != 0)
	{
		if ((why = sync_json_opt_string(*root, "error", &msg)) == NULL && msg == NULL)
			why = sync_json_opt_string(*root, "message", &msg);
		if (why != NULL)
			snprintf(errbuf, errlen, "Polygon error answer: %s", why);
		else
			snprintf(errbuf, errlen, "Polygon error: %s", msg ? msg : status);
		json_object_put(*root);
		return why != NULL ? SYNC_PARSE_MALFORMED : SYNC_PARSE_PROVIDER_ERROR;
	}
	*results = sync_json_get(*root, "results", json_type_array);
	if (*results == NULL && sync_json_has(*root, "results") && !sync_json_is_null(*root, "results"))
	{
		snprintf(errbuf, errlen, "Polygon answer's field \"results\" is not a JSON array");
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_json_array_fits(*results, asked, "Polygon", "results", errbuf, errlen))
	{
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	return SYNC_PARSE_OK;
}

#define DAY_MS 86400000

/* A daily aggregate: kept at 00:00 UTC of the date its "t" falls on (see above). */
static const char *
polygon_day_agg(json_object *a, SyncBar *bar)
{
	const char *why = polygon_agg(a, bar);

	if (why == NULL)
		bar->ts_ms -= bar->ts_ms % DAY_MS;	/* t >= 0: checked by polygon_agg */
	return why;
}

static SyncParseStatus
polygon_parse_bars(const char *body, size_t len, const SyncBarQuery *q,
				   SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *results;
	SyncParseStatus st = polygon_answer(body, len, sync_page_asked(page, q, false), &root, &results,
										errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	sync_page_add_bars(page, q, results, q->interval_ms == DAY_MS ? polygon_day_agg : polygon_agg,
					   "aggregates");
	json_object_put(root);
	return SYNC_PARSE_OK;
}

/*
 * Grouped daily bars (see the head of the file).  One request is one day:
 * the UTC date of the set's earliest from_ms; it covers up to the end of
 * that day (or the set's end, if sooner).
 */
#define POLYGON_GROUPED_MAX_SERIES 100000	/* no symbols in the URL: any set a worker holds */

/*
 * The most results a grouped answer may hold: the US market has about
 * 12,000 tickers a day, OTC ones included; a body of ten times that is
 * no answer to our request, and walking it would cost more than parsing.
 */
#define POLYGON_GROUPED_MAX_RESULTS 150000

static bool
polygon_multi_bars_request(const SyncMultiQuery *mq, SyncRequest *req, char *errbuf, size_t errlen)
{
	const SyncBarQuery *q0;
	int64_t		day;
	char		date[16];
	SyncUrl		u;

	if (mq->nseries <= 0 || mq->series == NULL || mq->series[0] == NULL)
	{
		snprintf(errbuf, errlen, "a Polygon grouped request for no series");
		return false;
	}
	q0 = mq->series[0];
	for (int i = 0; i < mq->nseries; i++)
		if (mq->series[i] == NULL || mq->series[i]->interval_ms != DAY_MS)
		{
			snprintf(errbuf, errlen, "Polygon's grouped bars are daily bars only");
			return false;
		}
	if (mq->from_ms < 0 || mq->from_ms > SYNC_MAX_MS || mq->to_ms <= mq->from_ms)
	{
		snprintf(errbuf, errlen, "a Polygon grouped request from %" PRId64 " to %" PRId64 " ms",
				 mq->from_ms, mq->to_ms);
		return false;
	}
	day = mq->from_ms - mq->from_ms % DAY_MS;
	sync_format_date(day, date, sizeof(date));
	sync_url_init(&u);
	sync_url_path(&u, "/v2/aggs/grouped/locale/us/market/stocks/");
	sync_url_path(&u, date);
	sync_url_param_raw(&u, "adjusted", "false");
	sync_url_param_raw(&u, "include_otc", "true");
	if (!sync_url_finish(&u, q0->base_url, req->url, sizeof(req->url), errbuf, errlen))
		return false;
	req->window_to_ms = mq->to_ms < day + DAY_MS ? mq->to_ms : day + DAY_MS;
	return polygon_key_header(q0, req, errbuf, errlen);
}

static SyncParseStatus
polygon_parse_multi_bars(const char *body, size_t len, const SyncMultiQuery *mq, SyncPage *page,
						 char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *results;
	SyncParseStatus st;
	SyncMulti	m;
	size_t		n;

	if (!sync_multi_begin(&m, mq, page, mq != NULL && mq->from_ms >= 0 ? mq->from_ms - mq->from_ms % DAY_MS : 0,
						  "Polygon", errbuf, errlen))
		return SYNC_PARSE_MALFORMED;
	st = polygon_answer(body, len, POLYGON_GROUPED_MAX_RESULTS / 2, &root, &results, errbuf, errlen);
	if (st != SYNC_PARSE_OK)
	{
		sync_multi_end(&m);
		return st;
	}
	n = sync_json_length(results);
	for (size_t k = 0; k < n; k++)
	{
		json_object *e = sync_json_at(results, k);
		const char *symbol;
		const char *why;
		int			i;

		if (!sync_json_type_is(e, json_type_object))
			sync_multi_reject(&m, 0, "aggregate is not a JSON object", e);
		else if ((why = sync_json_string(e, "T", &symbol)) != NULL)
			sync_multi_reject(&m, 0, why, e);
		else if ((i = sync_multi_series(&m, symbol)) >= 0)
			sync_multi_add_bar(&m, i, e, polygon_day_agg, "aggregates");
	}
	json_object_put(root);
	sync_multi_end(&m);
	return SYNC_PARSE_OK;
}

/*
 * Trades: GET /v3/trades/{ticker}?timestamp.gte=ns&timestamp.lt=ns&order=asc
 * &sort=timestamp&limit=N.  The answer:
 *   {"results": [{"sip_timestamp": ns, "price": 171.5, "size": 100,
 *    "exchange": 11, "id": "52983525029461", ...}], "status": "OK", ...}
 * Trade ids are unique per exchange and day only: stored as
 * "exchange:id:ms".  No side is given.
 */
static bool
polygon_trades_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	char		gte[32],
				lt[32];
	SyncUrl		u;

	/* ms as ns by text: the digits cannot overflow */
	snprintf(gte, sizeof(gte), "%" PRId64 "000000", q->from_ms);
	snprintf(lt, sizeof(lt), "%" PRId64 "000000", q->to_ms);
	sync_url_init(&u);
	sync_url_path(&u, "/v3/trades");
	sync_url_segment(&u, "symbol", q->symbol, NULL);
	sync_url_param_raw(&u, "timestamp.gte", gte);
	sync_url_param_raw(&u, "timestamp.lt", lt);
	sync_url_param_raw(&u, "order", "asc");
	sync_url_param_raw(&u, "sort", "timestamp");
	sync_url_param_int(&u, "limit", q->limit);
	if (!sync_url_finish(&u, q->base_url, req->url, sizeof(req->url), errbuf, errlen))
		return false;
	req->window_to_ms = q->to_ms;
	return polygon_key_header(q, req, errbuf, errlen);
}

/*
 * A trade's id from its exchange, its id and its time: "exchange:id:ms";
 * the millisecond keeps ids stored before 0.5.0 the same.  NULL when good.
 */
static const char *
polygon_trade_id(SyncTrade *t, int64_t exchange, const char *id, const char *empty)
{
	if (id[0] == '\0')
		return empty;
	if (snprintf(t->trade_id, sizeof(t->trade_id), "%" PRId64 ":%s:%" PRId64, exchange, id,
				 sync_ms_of_us(t->ts_us)) >= (int) sizeof(t->trade_id))
		return "the trade id is too long";
	return NULL;
}

static const char *
polygon_trade(json_object *o, SyncTrade *t)
{
	const char *why;
	const char *id;
	int64_t		ns;
	int64_t		ex;

	if (!sync_json_type_is(o, json_type_object))
		return "trade is not a JSON object";
	if ((why = sync_json_int64(o, "sip_timestamp", 0, INT64_MAX, &ns)) != NULL ||
		(why = sync_json_string(o, "id", &id)) != NULL ||
		(why = sync_json_int64(o, "exchange", 0, INT64_MAX, &ex)) != NULL ||
		(why = sync_json_member_decimal(o, "price", t->price, true)) != NULL ||
		(why = sync_json_member_decimal(o, "size", t->size, true)) != NULL)
		return why;
	t->ts_us = ns / 1000;		/* to the us, as timestamptz keeps */
	if ((why = polygon_trade_id(t, ex, id, "field \"id\" is empty")) != NULL)
		return why;
	t->side = 0;
	return NULL;
}

static SyncParseStatus
polygon_parse_trades(const char *body, size_t len, const SyncBarQuery *q,
					 SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *results;
	SyncParseStatus st = polygon_answer(body, len, sync_page_asked(page, q, true), &root, &results,
										errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	sync_page_add_trades(page, q, results, polygon_trade, "trades");
	json_object_put(root);
	return SYNC_PARSE_OK;
}

/*
 * Stream: wss://socket.polygon.io/stocks as given (the cluster is in the
 * path).  The server greets with [{"ev": "status", "status": "connected"}];
 * we send
 *   {"action": "auth", "params": KEY}
 *   {"action": "subscribe", "params": "T.AAPL,AM.MSFT"}
 * (built with json-c) and it answers with arrays of events:
 *   {"ev": "status", "status": "auth_success" | "auth_failed" | "success",
 *    "message": "subscribed to: T.AAPL"}, one per channel subscribed;
 *   {"ev": "T", "sym": "AAPL", "x": 4, "i": "12345", "p": 114.125, "s": 100,
 *    "t": SIP ms, "c": [..], "z": 3, "q": seq}: a trade, whose id
 *    (exchange:id:ms) is the one the REST trades give it;
 *   {"ev": "AM", "sym": "AAPL", "o", "h", "l", "c", "v", "vw", "s": start ms,
 *    "e": end ms, ...}: a closed minute.
 * Any other status (auth_failed, max_connections, error) stops the stream.
 * The channels are one comma-separated string: a symbol holding a comma
 * (or nothing) would subscribe to other channels, so such a set has no URL.
 */
static bool
polygon_stream_url(const SyncStreamSet *set, const char *root,
				   char *url, size_t urllen, char *errbuf, size_t errlen)
{
	for (int i = 0; i < set->ntargets; i++)
	{
		const char *symbol = set->targets[i].q->symbol;

		if (symbol[0] == '\0' || strchr(symbol, ',') != NULL || strchr(symbol, '*') != NULL)
		{
			snprintf(errbuf, errlen, "the symbol \"%s\" cannot be a Polygon stream channel", symbol);
			return false;
		}
	}
	return sync_stream_url_as_given(set, root, url, urllen, errbuf, errlen, "Polygon");
}

static bool
polygon_stream_hello(const SyncStreamSet *set, int n, char *msg, size_t len)
{
	json_object *o;
	char	   *channels;
	size_t		cap = 1;
	size_t		used = 0;
	bool		ok;

	if (set->targets[0].q->secret == NULL || n < 0 || n > 1)
		return false;
	if ((o = json_object_new_object()) == NULL)
		return false;
	if (n == 0)
	{
		json_object_object_add(o, "action", json_object_new_string("auth"));
		json_object_object_add(o, "params", json_object_new_string(set->targets[0].q->secret));
		return sync_json_emit(o, msg, len, true);
	}
	for (int i = 0; i < set->ntargets; i++)
		cap += strlen(set->targets[i].q->symbol) + 4;
	if ((channels = malloc(cap)) == NULL)
	{
		json_object_put(o);
		return false;
	}
	channels[0] = '\0';
	for (int i = 0; i < set->ntargets; i++)
		used += snprintf(channels + used, cap - used, "%s%s.%s", i > 0 ? "," : "",
						 set->targets[i].trades ? "T" : "AM", set->targets[i].q->symbol);
	json_object_object_add(o, "action", json_object_new_string("subscribe"));
	json_object_object_add(o, "params", json_object_new_string(channels));
	ok = sync_json_emit(o, msg, len, false);
	free(channels);
	return ok;
}

static const char *
polygon_stream_trade(json_object *o, SyncTrade *t)
{
	const char *why;
	const char *id;
	int64_t		ex;

	if ((why = sync_json_time_ms(o, "t", &t->ts_us)) != NULL ||
		(why = sync_json_string(o, "i", &id)) != NULL ||
		(why = sync_json_int64(o, "x", 0, INT64_MAX, &ex)) != NULL ||
		(why = sync_json_member_decimal(o, "p", t->price, true)) != NULL ||
		(why = sync_json_member_decimal(o, "s", t->size, true)) != NULL ||
		(why = polygon_trade_id(t, ex, id, "field \"i\" is empty")) != NULL)
		return why;
	t->side = 0;
	return NULL;
}

static const char *
polygon_stream_minute(json_object *o, SyncBar *bar)
{
	const char *why;

	if ((why = sync_json_int64(o, "s", 0, SYNC_MAX_MS, &bar->ts_ms)) != NULL ||
		(why = sync_json_member_decimal(o, "o", bar->open, true)) != NULL ||
		(why = sync_json_member_decimal(o, "h", bar->high, true)) != NULL ||
		(why = sync_json_member_decimal(o, "l", bar->low, true)) != NULL ||
		(why = sync_json_member_decimal(o, "c", bar->close, true)) != NULL ||
		(why = sync_json_member_decimal(o, "v", bar->volume, true)) != NULL ||
		(why = sync_json_member_decimal(o, "vw", bar->vwap, false)) != NULL)
		return why;
	bar->trades = -1;
	return NULL;
}

/*
 * A status event: confirmations mark their series; refusals stop the
 * stream; MALFORMED when its status or message is not a string.
 */
static SyncParseStatus
polygon_status(json_object *o, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	const char *status;
	const char *message;
	const char *why;

	if ((why = sync_json_string(o, "status", &status)) != NULL ||
		(why = sync_json_opt_string(o, "message", &message)) != NULL)
	{
		snprintf(errbuf, errlen, "Polygon status event: %s", why);
		return SYNC_PARSE_MALFORMED;
	}
	if (message == NULL)
		message = "";
	if (strcmp(status, "success") == 0 && strncmp(message, "subscribed to: ", 15) == 0)
	{
		const char *channel = message + 15;

		if (strncmp(channel, "T.", 2) == 0)
			sync_stream_confirm(set, channel + 2, true);
		else if (strncmp(channel, "AM.", 3) == 0)
			sync_stream_confirm(set, channel + 3, false);
		return SYNC_PARSE_OK;
	}
	if (strcmp(status, "connected") == 0 || strcmp(status, "auth_success") == 0 ||
		strcmp(status, "success") == 0)
		return SYNC_PARSE_OK;
	snprintf(errbuf, errlen, "Polygon stream %s: %s", status, message);
	return SYNC_PARSE_PROVIDER_ERROR;
}

static SyncParseStatus
polygon_parse_stream(const char *msg, size_t len, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *root;
	SyncParseStatus st = sync_parse_json(msg, len, &root, "Polygon stream message", errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	if (!sync_json_type_is(root, json_type_array))
	{
		snprintf(errbuf, errlen, "Polygon stream message is not a JSON array");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_stream_array_fits(set, root, "Polygon stream message", errbuf, errlen))
	{
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	for (size_t i = 0; i < sync_json_length(root) && st == SYNC_PARSE_OK; i++)
	{
		json_object *o = sync_json_at(root, i);
		const char *ev;
		const char *sym;
		const char *why;
		SyncStreamTarget *t;

		if (!sync_json_type_is(o, json_type_object) || !sync_json_has(o, "ev"))
			continue;
		/* an element that cannot be routed is refused; the others go on */
		if ((why = sync_json_string(o, "ev", &ev)) != NULL)
			sync_stream_reject(set, why, o);
		else if (strcmp(ev, "status") == 0)
			st = polygon_status(o, set, errbuf, errlen);
		else if (strcmp(ev, "T") != 0 && strcmp(ev, "AM") != 0)
			continue;
		else if ((why = sync_json_string(o, "sym", &sym)) != NULL)
			sync_stream_reject(set, why, o);
		else if (strcmp(ev, "T") == 0 && (t = sync_stream_target(set, sym, true, 0)) != NULL)
			sync_stream_add_trade(set, t, o, polygon_stream_trade, "trades");
		else if (strcmp(ev, "AM") == 0 && (t = sync_stream_target(set, sym, false, 60000)) != NULL)
			sync_stream_add_bar(set, t, o, polygon_stream_minute, "aggregates");
	}
	json_object_put(root);
	return st;
}

const SyncProvider sync_provider_polygon = {
	.name = "polygon",
	.default_base_url = "https://api.polygon.io",
	.max_page = 50000,
	.bars_request = polygon_bars_request,
	.parse_bars = polygon_parse_bars,
	.trades_request = polygon_trades_request,
	.parse_trades = polygon_parse_trades,
	.default_stream_url = "wss://socket.polygon.io/stocks",
	.stream_bars = true,
	.stream_url = polygon_stream_url,
	.stream_hello = polygon_stream_hello,
	.parse_stream = polygon_parse_stream,
	.multi_max_series = POLYGON_GROUPED_MAX_SERIES,
	.multi_bars_request = polygon_multi_bars_request,
	.parse_multi_bars = polygon_parse_multi_bars,
};
