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
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "provider_json.h"

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

static bool
alpaca_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	const char *tf = alpaca_timeframe(q->interval_ms);
	char		start[32],
				end[32];

	if (tf == NULL)
	{
		snprintf(errbuf, errlen, "Alpaca has no timeframe of %" PRId64 " ms", q->interval_ms);
		return false;
	}
	sync_format_rfc3339(q->from_ms * 1000, start, sizeof(start));
	sync_format_rfc3339((q->to_ms - 1000) * 1000, end, sizeof(end));	/* end is inclusive */
	if (snprintf(req->url, sizeof(req->url),
				 "%s/v2/stocks/%s/bars?timeframe=%s&start=%s&end=%s&limit=%d&adjustment=raw&feed=%s&sort=asc",
				 q->base_url, q->symbol, tf, start, end, q->limit,
				 q->feed ? q->feed : "iex") >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->window_to_ms = q->to_ms;
	req->headers[0] = NULL;
	if (q->key_id != NULL)
		sync_request_add_header(req, "APCA-API-KEY-ID: %s", q->key_id);
	if (q->secret != NULL)
		sync_request_add_header(req, "APCA-API-SECRET-KEY: %s", q->secret);
	return true;
}

static const char *
alpaca_bar(json_object *a, SyncBar *bar)
{
	json_object *f;
	const char *why;
	int64_t		us;

	if (!json_object_is_type(a, json_type_object))
		return "bar is not a JSON object";
	if (!json_object_object_get_ex(a, "t", &f) || !json_object_is_type(f, json_type_string) ||
		!sync_parse_rfc3339(json_object_get_string(f), &us))
		return "t is not an RFC 3339 time";
	if (us % 1000 != 0)
		return "t is not a whole millisecond (a bar opens on its interval)";
	bar->ts_ms = us / 1000;
	if ((why = sync_json_member_decimal(a, "o", bar->open, true)) != NULL ||
		(why = sync_json_member_decimal(a, "h", bar->high, true)) != NULL ||
		(why = sync_json_member_decimal(a, "l", bar->low, true)) != NULL ||
		(why = sync_json_member_decimal(a, "c", bar->close, true)) != NULL ||
		(why = sync_json_member_decimal(a, "v", bar->volume, true)) != NULL ||
		(why = sync_json_member_decimal(a, "vw", bar->vwap, false)) != NULL)
		return why;
	bar->trades = -1;
	if (json_object_object_get_ex(a, "n", &f) && json_object_is_type(f, json_type_int))
		bar->trades = json_object_get_int64(f);
	return NULL;
}

/*
 * Parse an answer object and find its array under key ("bars" or
 * "trades"); null there means no data.  {"message": ...} without the key
 * is a provider error.  The caller releases *root.
 */
static SyncParseStatus
alpaca_answer(const char *body, size_t len, const char *key, json_object **root,
			  json_object **array, char *errbuf, size_t errlen)
{
	json_object *msg;

	*array = NULL;
	if (sync_parse_json(body, len, root, "Alpaca", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (!json_object_is_type(*root, json_type_object))
	{
		snprintf(errbuf, errlen, "Alpaca answer is not a JSON object");
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!json_object_object_get_ex(*root, key, array))
	{
		bool		error = json_object_object_get_ex(*root, "message", &msg);

		if (error)
			snprintf(errbuf, errlen, "Alpaca error: %s", json_object_get_string(msg));
		else
			snprintf(errbuf, errlen, "Alpaca answer has no \"%s\"", key);
		json_object_put(*root);
		return error ? SYNC_PARSE_PROVIDER_ERROR : SYNC_PARSE_MALFORMED;
	}
	if (json_object_is_type(*array, json_type_null))
		*array = NULL;
	else if (!json_object_is_type(*array, json_type_array))
	{
		snprintf(errbuf, errlen, "Alpaca %s is not a JSON array", key);
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
	SyncParseStatus st = alpaca_answer(body, len, "bars", &root, &bars, errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	if (bars != NULL)
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
	char		start[40],
				end[40];

	sync_format_rfc3339(q->from_ms * 1000, start, sizeof(start));
	sync_format_rfc3339(q->to_ms * 1000 - 1, end, sizeof(end));	/* inclusive, to the us */
	if (snprintf(req->url, sizeof(req->url),
				 "%s/v2/stocks/%s/trades?start=%s&end=%s&limit=%d&feed=%s&sort=asc",
				 q->base_url, q->symbol, start, end, q->limit,
				 q->feed ? q->feed : "iex") >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->window_to_ms = q->to_ms;
	req->headers[0] = NULL;
	if (q->key_id != NULL)
		sync_request_add_header(req, "APCA-API-KEY-ID: %s", q->key_id);
	if (q->secret != NULL)
		sync_request_add_header(req, "APCA-API-SECRET-KEY: %s", q->secret);
	return true;
}

static const char *
alpaca_trade(json_object *o, SyncTrade *t)
{
	json_object *f;
	json_object *x;

	if (!json_object_is_type(o, json_type_object))
		return "trade is not a JSON object";
	if (!json_object_object_get_ex(o, "t", &f) || !json_object_is_type(f, json_type_string) ||
		!sync_parse_rfc3339(json_object_get_string(f), &t->ts_us))
		return "t is not an RFC 3339 time";
	if (!json_object_object_get_ex(o, "i", &f) || !json_object_is_type(f, json_type_int))
		return "i (trade id) is not an integer";
	if (!json_object_object_get_ex(o, "x", &x) || !json_object_is_type(x, json_type_string))
		return "x (exchange) is not a string";
	snprintf(t->trade_id, sizeof(t->trade_id), "%s:%s:%lld", json_object_get_string(x),
			 json_object_get_string(f), (long long) sync_ms_of_us(t->ts_us));
	if (sync_json_member_decimal(o, "p", t->price, true) != NULL ||
		sync_json_member_decimal(o, "s", t->size, true) != NULL)
		return "price or size is missing or not a number";
	t->side = 0;
	return NULL;
}

static SyncParseStatus
alpaca_parse_trades(const char *body, size_t len, const SyncBarQuery *q,
					SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *trades;
	SyncParseStatus st = alpaca_answer(body, len, "trades", &root, &trades, errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	if (trades != NULL)
		sync_page_add_trades(page, q, trades, alpaca_trade, "trades");
	json_object_put(root);
	return SYNC_PARSE_OK;
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
 * is the same on both sides of the seam.
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
		snprintf(own, sizeof(own), ALPACA_STREAM_ROOT "%s", feed);
		root = own;
	}
	return sync_stream_url_as_given(set, root, url, urllen, errbuf, errlen, "Alpaca");
}

/* "SYM1","SYM2" of the set's trades (or bars) series, appended at buf + *used. */
static void
alpaca_symbol_list(const SyncStreamSet *set, bool trades, char *buf, size_t len, size_t *used)
{
	bool		first = true;

	for (int i = 0; i < set->ntargets; i++)
		if (set->targets[i].trades == trades && *used < len)
		{
			*used += snprintf(buf + *used, len - *used, "%s\"%s\"", first ? "" : ",",
							  set->targets[i].q->symbol);
			first = false;
		}
}

/* auth, then one subscribe for every series of the set */
static bool
alpaca_stream_hello(const SyncStreamSet *set, int n, char *msg, size_t len)
{
	const SyncBarQuery *q = set->targets[0].q;
	size_t		used;

	if (q->key_id == NULL || q->secret == NULL)
		return false;
	if (n == 0)
		return snprintf(msg, len, "{\"action\":\"auth\",\"key\":\"%s\",\"secret\":\"%s\"}",
						q->key_id, q->secret) < (int) len;
	if (n != 1)
		return false;
	used = snprintf(msg, len, "{\"action\":\"subscribe\",\"trades\":[");
	alpaca_symbol_list(set, true, msg, len, &used);
	if (used < len)
		used += snprintf(msg + used, len - used, "],\"bars\":[");
	alpaca_symbol_list(set, false, msg, len, &used);
	if (used < len)
		used += snprintf(msg + used, len - used, "]}");
	return used < len;
}

/* A "subscription" message lists what is now subscribed. */
static void
alpaca_confirm(json_object *o, SyncStreamSet *set)
{
	static const char *const lists[] = {"trades", "bars"};

	for (int k = 0; k < 2; k++)
	{
		json_object *a;

		if (!json_object_object_get_ex(o, lists[k], &a) || !json_object_is_type(a, json_type_array))
			continue;
		for (size_t i = 0; i < json_object_array_length(a); i++)
			sync_stream_confirm(set, json_object_get_string(json_object_array_get_idx(a, i)), k == 0);
	}
}

static SyncParseStatus
alpaca_parse_stream(const char *msg, size_t len, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *root;
	SyncParseStatus st = sync_parse_json(msg, len, &root, "Alpaca stream message", errbuf, errlen);
	size_t		n;

	if (st != SYNC_PARSE_OK)
		return st;
	if (!json_object_is_type(root, json_type_array))
	{
		snprintf(errbuf, errlen, "Alpaca stream message is not a JSON array");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	n = json_object_array_length(root);
	for (size_t i = 0; i < n; i++)
	{
		json_object *o = json_object_array_get_idx(root, i);
		json_object *f;
		const char *type;
		SyncStreamTarget *t;

		if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "T", &f))
			continue;
		type = json_object_get_string(f);
		if (strcmp(type, "error") == 0)
		{
			json_object *code = NULL;
			json_object *text = NULL;

			json_object_object_get_ex(o, "code", &code);
			json_object_object_get_ex(o, "msg", &text);
			snprintf(errbuf, errlen, "Alpaca stream error %s: %s",
					 code ? json_object_get_string(code) : "?", text ? json_object_get_string(text) : "?");
			json_object_put(root);
			return SYNC_PARSE_PROVIDER_ERROR;
		}
		if (strcmp(type, "subscription") == 0)
			alpaca_confirm(o, set);
		if (!json_object_object_get_ex(o, "S", &f))
			continue;			/* control messages */
		if (strcmp(type, "t") == 0 &&
			(t = sync_stream_target(set, json_object_get_string(f), true, 0)) != NULL)
			sync_stream_add_trade(set, t, o, alpaca_trade, "trades");
		else if (strcmp(type, "b") == 0 &&
				 (t = sync_stream_target(set, json_object_get_string(f), false, 60000)) != NULL)
					sync_stream_add_bar(set, t, o, alpaca_bar, "bars");
	}
	json_object_put(root);
	return SYNC_PARSE_OK;
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
};
