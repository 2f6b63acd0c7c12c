/*-------------------------------------------------------------------------
 * alpaca.c
 *	  Alpaca Market Data v2 stock bars: GET /v2/stocks/{symbol}/bars
 *
 * Asked with timeframe, start and end (RFC 3339), limit, adjustment=raw,
 * feed and sort=asc; authenticated by the APCA-API-KEY-ID and
 * APCA-API-SECRET-KEY headers.  The answer:
 *   {"bars": [{"t": "2021-02-01T16:01:00Z", "o": 133.32, "h", "l", "c",
 *    "v", "n", "vw"}, ...] | null, "symbol": "AAPL", "next_page_token": ...}
 * Paging goes by time from our checkpoint (restart-safe) instead of by
 * next_page_token.  Errors: {"code": 40410000, "message": "..."}.
 *
 * Many symbols in one request (caught-up polls of a worker's series):
 * GET /v2/stocks/bars?symbols=A,B,..., and /v2/stocks/trades, asked as the
 * single-symbol ones are (the same parameters, headers and record parsers,
 * so a record has the same key and values whichever way it came); the
 * answer {"bars": {"A": [...], ...}, "next_page_token": ...}.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "provider_multi.h"
#include "request.h"

static const char *
alpaca_timeframe(int64_t ms)
{
	switch (ms)
	{
		case 60000:
			return "1Min";
		case 300000:
			return "5Min";
		case 900000:
			return "15Min";
		case 1800000:
			return "30Min";
		case 3600000:
			return "1Hour";
		case 14400000:
			return "4Hour";
		case 86400000:
			return "1Day";
	}
	return NULL;
}

/* The key headers; false (errbuf set) for a key that cannot be a header. */
static bool
alpaca_key_headers(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	req->headers[0] = NULL;
	if ((q->key_id != NULL && !sync_request_add_header(req, "APCA-API-KEY-ID: %s", q->key_id)) ||
		(q->secret != NULL && !sync_request_add_header(req, "APCA-API-SECRET-KEY: %s", q->secret)))
	{
		snprintf(errbuf, errlen, "the API key or secret holds a control character or is too long");
		return false;
	}
	return true;
}

/* <base>/v2/stocks/<symbol>/<what>?start=..&end=.. and the key headers */
static bool
alpaca_request(const SyncBarQuery *q, SyncRequest *req, const char *what, const char *tf,
			   int64_t end_us, char *errbuf, size_t errlen)
{
	char		start[40],
				end[40];
	SyncUrl		u;

	sync_format_rfc3339(sync_mul_sat(q->from_ms, 1000), start, sizeof(start));
	sync_format_rfc3339(end_us, end, sizeof(end));
	sync_url_init(&u);
	sync_url_path(&u, "/v2/stocks");
	sync_url_segment(&u, "symbol", q->symbol, what);
	if (tf != NULL)
		sync_url_param_raw(&u, "timeframe", tf);
	sync_url_param_raw(&u, "start", start);
	sync_url_param_raw(&u, "end", end);
	sync_url_param_int(&u, "limit", q->limit);
	if (tf != NULL)
		sync_url_param_raw(&u, "adjustment", "raw");
	sync_url_param(&u, "feed", q->feed ? q->feed : "iex");
	sync_url_param_raw(&u, "sort", "asc");
	if (!sync_url_finish(&u, q->base_url, req->url, sizeof(req->url), errbuf, errlen))
		return false;
	req->window_to_ms = q->to_ms;
	return alpaca_key_headers(q, req, errbuf, errlen);
}

static bool
alpaca_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	const char *tf = alpaca_timeframe(q->interval_ms);

	if (tf == NULL)
	{
		snprintf(errbuf, errlen, "Alpaca has no timeframe of %" PRId64 " ms", q->interval_ms);
		return false;
	}
	/* end is inclusive: the last bar's open */
	return alpaca_request(q, req, "/bars", tf, sync_mul_sat(sync_add_sat(q->to_ms, -1000), 1000),
						  errbuf, errlen);
}

static const char *
alpaca_bar(json_object *a, SyncBar *bar)
{
	const char *why;
	int64_t		us;

	if (!sync_json_type_is(a, json_type_object))
		return "bar is not a JSON object";
	if ((why = sync_json_time_rfc3339(a, "t", &us)) != NULL)
		return why;
	if (us % 1000 != 0)
		return "field \"t\" is not a whole millisecond (a bar opens on its interval)";
	bar->ts_ms = us / 1000;
	if ((why = sync_json_member_decimal(a, "o", bar->open, true)) != NULL ||
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
 * Parse an answer object and find its array under key ("bars" or
 * "trades"); null there means no data.  {"message": ...} without the key
 * is a provider error.  The caller releases *root.
 */
static SyncParseStatus
alpaca_answer(const char *body, size_t len, const char *key, int64_t asked, json_object **root,
			  json_object **array, char *errbuf, size_t errlen)
{
	*array = NULL;
	if (sync_parse_json(body, len, root, "Alpaca", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (!sync_json_type_is(*root, json_type_object))
	{
		snprintf(errbuf, errlen, "Alpaca answer is not a JSON object");
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_json_has(*root, key))
	{
		const char *msg = sync_json_get_string(*root, "message");
		SyncParseStatus st = msg != NULL ? SYNC_PARSE_PROVIDER_ERROR : SYNC_PARSE_MALFORMED;

		if (msg != NULL)
			snprintf(errbuf, errlen, "Alpaca error: %s", msg);
		else if (sync_json_has(*root, "message"))
			snprintf(errbuf, errlen, "Alpaca error object's field \"message\" is not a string");
		else
			snprintf(errbuf, errlen, "Alpaca answer has no \"%s\"", key);
		json_object_put(*root);
		return st;
	}
	/* null there means no data */
	*array = sync_json_get(*root, key, json_type_array);
	if (*array == NULL && !sync_json_is_null(*root, key))
	{
		snprintf(errbuf, errlen, "Alpaca %s is not a JSON array", key);
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_json_array_fits(*array, asked, "Alpaca", key, errbuf, errlen))
	{
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	return SYNC_PARSE_OK;
}

static SyncParseStatus
alpaca_parse_bars(const char *body, size_t len, const SyncBarQuery *q,
				  SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *bars;
	SyncParseStatus st = alpaca_answer(body, len, "bars", sync_page_asked(page, q, false), &root,
									   &bars, errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	sync_page_add_bars(page, q, bars, alpaca_bar, "bars");
	json_object_put(root);
	return SYNC_PARSE_OK;
}

/*
 * Stock trades: GET /v2/stocks/{symbol}/trades with start, end (RFC 3339,
 * inclusive), limit, feed and sort=asc.  The answer:
 *   {"trades": [{"t": "2021-02-06T13:04:56.334320128Z", "x": "C", "p": 387.62,
 *    "s": 100, "c": [" "], "i": 52983525029461, "z": "B"}, ...] | null, ...}
 * A trade id is unique per exchange and day only, so the stored id is
 * "exchange:id:ms".  No side is given.
 */
static bool
alpaca_trades_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	/* inclusive, to the us */
	return alpaca_request(q, req, "/trades", NULL, sync_add_sat(sync_mul_sat(q->to_ms, 1000), -1),
						  errbuf, errlen);
}

/* A REST trade or a stream "t" message: the same fields. */
static const char *
alpaca_trade(json_object *o, SyncTrade *t)
{
	const char *why;
	const char *x;
	int64_t		id;

	if (!sync_json_type_is(o, json_type_object))
		return "trade is not a JSON object";
	if ((why = sync_json_time_rfc3339(o, "t", &t->ts_us)) != NULL ||
		(why = sync_json_int64(o, "i", 0, INT64_MAX, &id)) != NULL ||
		(why = sync_json_string(o, "x", &x)) != NULL ||
		(why = sync_json_member_decimal(o, "p", t->price, true)) != NULL ||
		(why = sync_json_member_decimal(o, "s", t->size, true)) != NULL)
		return why;
	if (snprintf(t->trade_id, sizeof(t->trade_id), "%s:%" PRId64 ":%" PRId64, x, id,
				 sync_ms_of_us(t->ts_us)) >= (int) sizeof(t->trade_id))
		return "field \"x\" is too long for a trade id";
	t->side = 0;
	return NULL;
}

static SyncParseStatus
alpaca_parse_trades(const char *body, size_t len, const SyncBarQuery *q,
					SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *trades;
	SyncParseStatus st = alpaca_answer(body, len, "trades", sync_page_asked(page, q, true), &root,
									   &trades, errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	sync_page_add_trades(page, q, trades, alpaca_trade, "trades");
	json_object_put(root);
	return SYNC_PARSE_OK;
}

/*
 * Multi-symbol requests: GET /v2/stocks/bars (or /trades) with
 * symbols=A,B,... and the single-symbol parameters.  Each symbol is
 * percent-encoded as the single builder encodes it; a comma between them
 * is ours.  A symbol that holds a comma (Alpaca would read two symbols,
 * encoded or not) or is empty cannot be named in the list.
 *
 * ALPACA_MULTI_MAX_SERIES keeps the URL within SYNC_URL_LEN for symbols of
 * up to 63 characters that need no encoding: 24 * (63 + 1) = 1536 bytes of
 * list, plus at most 170 of path and parameters (the longest timeframe,
 * two RFC 3339 times with microseconds, a 10-digit limit, delayed_sip),
 * leaves 341 for the base URL (https://data.alpaca.markets is 27).
 * Symbols that need encoding (3 bytes a byte) may not fit that many: the
 * builder then says the URL is too long, and fewer series fit a request.
 */
#define ALPACA_MULTI_MAX_SERIES 24

static bool
alpaca_multi_request(const SyncMultiQuery *mq, SyncRequest *req, const char *what, const char *tf,
					 int64_t end_us, char *errbuf, size_t errlen)
{
	const SyncBarQuery *q0;
	char		start[40],
				end[40];
	char		list[SYNC_URL_LEN];
	size_t		used = 0;
	SyncUrl		u;

	if (mq->nseries <= 0 || mq->series == NULL || mq->nseries > ALPACA_MULTI_MAX_SERIES)
	{
		snprintf(errbuf, errlen, "an Alpaca multi-symbol request names 1 to %d series, not %d",
				 ALPACA_MULTI_MAX_SERIES, mq->nseries);
		return false;
	}
	q0 = mq->series[0];
	for (int i = 0; i < mq->nseries; i++)
	{
		const char *symbol = mq->series[i] != NULL ? mq->series[i]->symbol : NULL;
		char		enc[SYNC_URL_LEN];
		size_t		n;

		if (symbol == NULL)
		{
			snprintf(errbuf, errlen, "series %d of an Alpaca multi-symbol request has no symbol", i);
			return false;
		}
		if (symbol[0] == '\0' || strchr(symbol, ',') != NULL)
		{
			snprintf(errbuf, errlen, "the symbol \"%s\" cannot be one of a list of symbols", symbol);
			return false;
		}
		if (!sync_url_escape(symbol, enc, sizeof(enc)) ||
			used + (n = strlen(enc)) + 1 >= sizeof(list))
		{
			snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
			return false;
		}
		if (i > 0)
			list[used++] = ',';
		memcpy(list + used, enc, n + 1);
		used += n;
	}
	sync_format_rfc3339(sync_mul_sat(mq->from_ms, 1000), start, sizeof(start));
	sync_format_rfc3339(end_us, end, sizeof(end));
	sync_url_init(&u);
	sync_url_path(&u, "/v2/stocks");
	sync_url_path(&u, what);
	sync_url_param_raw(&u, "symbols", list);
	if (tf != NULL)
		sync_url_param_raw(&u, "timeframe", tf);
	sync_url_param_raw(&u, "start", start);
	sync_url_param_raw(&u, "end", end);
	sync_url_param_int(&u, "limit", mq->limit);
	if (tf != NULL)
		sync_url_param_raw(&u, "adjustment", "raw");
	sync_url_param(&u, "feed", q0->feed ? q0->feed : "iex");
	sync_url_param_raw(&u, "sort", "asc");
	if (!sync_url_finish(&u, q0->base_url, req->url, sizeof(req->url), errbuf, errlen))
		return false;
	req->window_to_ms = mq->to_ms;
	return alpaca_key_headers(q0, req, errbuf, errlen);
}

static bool
alpaca_multi_bars_request(const SyncMultiQuery *mq, SyncRequest *req, char *errbuf, size_t errlen)
{
	const char *tf;

	if (mq->nseries <= 0 || mq->series == NULL || mq->series[0] == NULL)
		return alpaca_multi_request(mq, req, "/bars", NULL, 0, errbuf, errlen);
	if ((tf = alpaca_timeframe(mq->series[0]->interval_ms)) == NULL)
	{
		snprintf(errbuf, errlen, "Alpaca has no timeframe of %" PRId64 " ms", mq->series[0]->interval_ms);
		return false;
	}
	for (int i = 1; i < mq->nseries; i++)
		if (mq->series[i] != NULL && mq->series[i]->interval_ms != mq->series[0]->interval_ms)
		{
			snprintf(errbuf, errlen, "the series of one Alpaca request have one interval");
			return false;
		}
	/* end is inclusive: the last bar's open, as for one symbol */
	return alpaca_multi_request(mq, req, "/bars", tf,
								sync_mul_sat(sync_add_sat(mq->to_ms, -1000), 1000), errbuf, errlen);
}

static bool
alpaca_multi_trades_request(const SyncMultiQuery *mq, SyncRequest *req, char *errbuf, size_t errlen)
{
	return alpaca_multi_request(mq, req, "/trades", NULL,
								sync_add_sat(sync_mul_sat(mq->to_ms, 1000), -1), errbuf, errlen);
}

/*
 * A multi answer: {"bars": {"SYM": [...] | null, ...} | null,
 * "next_page_token": "..." | null}; key "bars" or "trades".  A next page
 * token says the limit cut the answer (page->has_more).  {"message": ...}
 * without the key is a provider error, as for one symbol.
 */
static SyncParseStatus
alpaca_parse_multi(const char *body, size_t len, const SyncMultiQuery *mq, SyncPage *page,
				   bool trades, char *errbuf, size_t errlen)
{
	const char *key = trades ? "trades" : "bars";
	json_object *root;
	json_object *members;
	const char *token = NULL;
	const char *bad;
	size_t		n;
	SyncMulti	m;
	SyncParseStatus st = SYNC_PARSE_MALFORMED;

	if (!sync_multi_begin(&m, mq, page, mq != NULL ? mq->from_ms : 0, "Alpaca", errbuf, errlen))
		return SYNC_PARSE_MALFORMED;
	if (sync_parse_json(body, len, &root, "Alpaca", errbuf, errlen) != SYNC_PARSE_OK)
	{
		sync_multi_end(&m);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_json_type_is(root, json_type_object))
		snprintf(errbuf, errlen, "Alpaca answer is not a JSON object");
	else if (!sync_json_has(root, key))
	{
		const char *msg = sync_json_get_string(root, "message");

		if (msg != NULL)
		{
			snprintf(errbuf, errlen, "Alpaca error: %s", msg);
			st = SYNC_PARSE_PROVIDER_ERROR;
		}
		else if (sync_json_has(root, "message"))
			snprintf(errbuf, errlen, "Alpaca error object's field \"message\" is not a string");
		else
			snprintf(errbuf, errlen, "Alpaca answer has no \"%s\"", key);
	}
	else if ((members = sync_json_get(root, key, json_type_object)) == NULL &&
			 !sync_json_is_null(root, key))
		snprintf(errbuf, errlen, "Alpaca answer's field \"%s\" is not a JSON object of symbols", key);
	else if (sync_json_is_null(root, "next_page_token") || !sync_json_has(root, "next_page_token"))
		st = SYNC_PARSE_OK;
	else if ((token = sync_json_get_string(root, "next_page_token")) == NULL)
		snprintf(errbuf, errlen, "Alpaca answer's field \"next_page_token\" is not a string");
	else
		st = SYNC_PARSE_OK;

	if (st == SYNC_PARSE_OK)
	{
		switch (sync_multi_add_members(&m, members, trades, alpaca_bar, alpaca_trade, key, &bad, &n))
		{
			case SYNC_MULTI_MEMBERS_OK:
				page->has_more = token != NULL;
				break;
			case SYNC_MULTI_MEMBERS_NOT_ARRAY:
				snprintf(errbuf, errlen, "Alpaca %s: field \"%s\" is not a JSON array", key, bad);
				st = SYNC_PARSE_MALFORMED;
				break;
			case SYNC_MULTI_MEMBERS_TOO_MANY:
				snprintf(errbuf, errlen, "Alpaca %s answer holds %zu elements, more than twice the %" PRId64
						 " the page asked for", key, n, sync_multi_asked(&m, trades));
				st = SYNC_PARSE_MALFORMED;
				break;
		}
	}
	json_object_put(root);
	sync_multi_end(&m);
	return st;
}

static SyncParseStatus
alpaca_parse_multi_bars(const char *body, size_t len, const SyncMultiQuery *mq, SyncPage *page,
						char *errbuf, size_t errlen)
{
	return alpaca_parse_multi(body, len, mq, page, false, errbuf, errlen);
}

static SyncParseStatus
alpaca_parse_multi_trades(const char *body, size_t len, const SyncMultiQuery *mq, SyncPage *page,
						  char *errbuf, size_t errlen)
{
	return alpaca_parse_multi(body, len, mq, page, true, errbuf, errlen);
}

/*
 * Stream: the URL is the feed's endpoint as Alpaca documents it
 * (wss://stream.data.alpaca.markets/v2/iex).  Once connected we send
 *   {"action": "auth", "key": ..., "secret": ...}
 *   {"action": "subscribe", "trades": ["SYM"]}   (or "bars")
 * and the server answers with arrays of messages:
 *   [{"T": "success", "msg": "connected" | "authenticated"}]
 *   [{"T": "subscription", "trades": [...], ...}]
 *   [{"T": "t", "S": "SYM", "i": id, "x": "V", "p": 1.5, "s": 100, "t": RFC 3339, ...}]
 *   [{"T": "b", "S": "SYM", "o":.., "h":.., "l":.., "c":.., "v":.., "t": RFC 3339, "n":.., "vw":..}]
 *   [{"T": "error", "code": 402, "msg": "auth failed"}]
 * A trade's fields are those of the REST trades, so its id (exchange:id:ms)
 * is the same on both sides of the seam.  Both messages are built with
 * json-c: a key or symbol holding a quote or backslash stays a string.
 */
#define ALPACA_STREAM_ROOT "wss://stream.data.alpaca.markets/v2/"

/*
 * The feed is the last part of the path.  Without a stream_url of the
 * source's own, the stream is the one of the feed REST asks for (the
 * "feed" option): a sip source streaming iex would miss most trades.
 */
static bool
alpaca_stream_url(const SyncStreamSet *set, const char *root,
				  char *url, size_t urllen, char *errbuf, size_t errlen)
{
	const char *feed = set->targets[0].q->feed;
	char		own[SYNC_URL_LEN];

	if (feed != NULL && strcmp(root, ALPACA_STREAM_ROOT "iex") == 0)
	{
		SyncUrl		u;

		sync_url_init(&u);
		sync_url_segment(&u, "feed", feed, NULL);
		if (!sync_url_finish(&u, ALPACA_STREAM_ROOT, own, sizeof(own), errbuf, errlen))
			return false;
		root = own;
	}
	return sync_stream_url_as_given(set, root, url, urllen, errbuf, errlen, "Alpaca");
}

/* the set's trades (or bars) symbols as a JSON array */
static json_object *
alpaca_symbol_list(const SyncStreamSet *set, bool trades)
{
	json_object *a = json_object_new_array();

	for (int i = 0; a != NULL && i < set->ntargets; i++)
		if (set->targets[i].trades == trades)
			json_object_array_add(a, json_object_new_string(set->targets[i].q->symbol));
	return a;
}

/* auth, then one subscribe for every series of the set */
static bool
alpaca_stream_hello(const SyncStreamSet *set, int n, char *msg, size_t len)
{
	const SyncBarQuery *q = set->targets[0].q;
	json_object *o;

	if (q->key_id == NULL || q->secret == NULL || n < 0 || n > 1)
		return false;
	if ((o = json_object_new_object()) == NULL)
		return false;
	if (n == 0)
	{
		json_object_object_add(o, "action", json_object_new_string("auth"));
		json_object_object_add(o, "key", json_object_new_string(q->key_id));
		json_object_object_add(o, "secret", json_object_new_string(q->secret));
		return sync_json_emit(o, msg, len, true);
	}
	json_object_object_add(o, "action", json_object_new_string("subscribe"));
	json_object_object_add(o, "trades", alpaca_symbol_list(set, true));
	json_object_object_add(o, "bars", alpaca_symbol_list(set, false));
	return sync_json_emit(o, msg, len, false);
}

/* A "subscription" message lists what is now subscribed; false if a list is malformed. */
static bool
alpaca_confirm(json_object *o, SyncStreamSet *set)
{
	static const char *const lists[] = {"trades", "bars"};

	for (int k = 0; k < 2; k++)
	{
		json_object *a = sync_json_get(o, lists[k], json_type_array);

		if (a == NULL && sync_json_has(o, lists[k]) && !sync_json_is_null(o, lists[k]))
			return false;
		for (size_t i = 0; i < sync_json_length(a); i++)
		{
			const char *symbol = sync_json_string_of(sync_json_at(a, i));

			if (symbol == NULL)
				return false;
			sync_stream_confirm(set, symbol, k == 0);
		}
	}
	return true;
}

/* An "error" message: the stream stops; MALFORMED when its fields are of the wrong type. */
static SyncParseStatus
alpaca_stream_error(json_object *o, char *errbuf, size_t errlen)
{
	int64_t		code;
	char		codetext[24] = "?";
	const char *text;
	const char *why;

	if ((why = sync_json_opt_int64(o, "code", INT64_MIN, INT64_MAX, &code, INT64_MIN)) != NULL ||
		(why = sync_json_opt_string(o, "msg", &text)) != NULL)
	{
		snprintf(errbuf, errlen, "Alpaca stream error message: %s", why);
		return SYNC_PARSE_MALFORMED;
	}
	if (code != INT64_MIN)
		snprintf(codetext, sizeof(codetext), "%" PRId64, code);
	snprintf(errbuf, errlen, "Alpaca stream error %s: %s", codetext, text ? text : "?");
	return SYNC_PARSE_PROVIDER_ERROR;
}

static SyncParseStatus
alpaca_parse_stream(const char *msg, size_t len, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *root;
	SyncParseStatus st = sync_parse_json(msg, len, &root, "Alpaca stream message", errbuf, errlen);
	size_t		n;

	if (st != SYNC_PARSE_OK)
		return st;
	if (!sync_json_type_is(root, json_type_array))
	{
		snprintf(errbuf, errlen, "Alpaca stream message is not a JSON array");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_stream_array_fits(set, root, "Alpaca stream message", errbuf, errlen))
	{
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	n = sync_json_length(root);
	for (size_t i = 0; i < n && st == SYNC_PARSE_OK; i++)
	{
		json_object *o = sync_json_at(root, i);
		const char *type;
		const char *symbol;
		const char *why;
		SyncStreamTarget *t;

		if (!sync_json_type_is(o, json_type_object) || !sync_json_has(o, "T"))
			continue;
		/* an element that cannot be routed is refused; the others go on */
		if ((why = sync_json_string(o, "T", &type)) != NULL)
		{
			sync_stream_reject(set, why, o);
			continue;
		}
		if (strcmp(type, "error") == 0)
			st = alpaca_stream_error(o, errbuf, errlen);
		else if (strcmp(type, "subscription") == 0 && !alpaca_confirm(o, set))
		{
			snprintf(errbuf, errlen, "Alpaca subscription message: a list is not an array of strings");
			st = SYNC_PARSE_MALFORMED;
		}
		else if (strcmp(type, "t") != 0 && strcmp(type, "b") != 0)
			continue;			/* control messages */
		else if ((why = sync_json_string(o, "S", &symbol)) != NULL)
			sync_stream_reject(set, why, o);
		else if (strcmp(type, "t") == 0 && (t = sync_stream_target(set, symbol, true, 0)) != NULL)
			sync_stream_add_trade(set, t, o, alpaca_trade, "trades");
		else if (strcmp(type, "b") == 0 && (t = sync_stream_target(set, symbol, false, 60000)) != NULL)
			sync_stream_add_bar(set, t, o, alpaca_bar, "bars");
	}
	json_object_put(root);
	return st;
}

const SyncProvider sync_provider_alpaca = {
	.name = "alpaca",
	.default_base_url = "https://data.alpaca.markets",
	.max_page = 10000,
	.bars_request = alpaca_bars_request,
	.parse_bars = alpaca_parse_bars,
	.trades_request = alpaca_trades_request,
	.parse_trades = alpaca_parse_trades,
	.default_stream_url = ALPACA_STREAM_ROOT "iex",
	.stream_bars = true,
	.stream_url = alpaca_stream_url,
	.parse_stream = alpaca_parse_stream,
	.stream_hello = alpaca_stream_hello,
	.multi_max_series = ALPACA_MULTI_MAX_SERIES,
	.multi_bars_request = alpaca_multi_bars_request,
	.parse_multi_bars = alpaca_parse_multi_bars,
	.multi_trades_request = alpaca_multi_trades_request,
	.parse_multi_trades = alpaca_parse_multi_trades,
};
