/*-------------------------------------------------------------------------
 * binance.c
 *	  Binance spot REST klines: GET /api/v3/klines.
 *
 * The answer is an array of arrays, oldest first:
 *   [openTime, "open", "high", "low", "close", "volume", closeTime,
 *    "quoteVolume", trades, "takerBuyBase", "takerBuyQuote", "ignore"]
 * with times in ms and decimals as strings.  Errors come as
 * {"code": -1121, "msg": "Invalid symbol."} with a 4xx status.
 * endTime is inclusive, so [from, to) is asked as endTime = to - 1.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "provider_json.h"
#include "request.h"

/* Binance's interval names, shared with the kline files (csv.c). */
const char *
sync_binance_interval(int64_t ms)
{
	switch (ms)
	{
		case 60000:
			return "1m";
		case 180000:
			return "3m";
		case 300000:
			return "5m";
		case 900000:
			return "15m";
		case 1800000:
			return "30m";
		case 3600000:
			return "1h";
		case 7200000:
			return "2h";
		case 14400000:
			return "4h";
		case 21600000:
			return "6h";
		case 28800000:
			return "8h";
		case 43200000:
			return "12h";
		case 86400000:
			return "1d";
	}
	return NULL;
}

/* The API key header; false (errbuf set) for a key that cannot be one. */
static bool
binance_key_header(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	req->headers[0] = NULL;
	if (q->key_id != NULL && !sync_request_add_header(req, "X-MBX-APIKEY: %s", q->key_id))
	{
		snprintf(errbuf, errlen, "the API key (key_id) holds a control character or is too long");
		return false;
	}
	return true;
}

static bool
binance_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	const char *iv = sync_binance_interval(q->interval_ms);
	SyncUrl		u;

	if (iv == NULL)
	{
		snprintf(errbuf, errlen, "Binance has no kline interval of %" PRId64 " ms", q->interval_ms);
		return false;
	}
	sync_url_init(&u);
	sync_url_path(&u, "/api/v3/klines");
	sync_url_param(&u, "symbol", q->symbol);
	sync_url_param_raw(&u, "interval", iv);
	sync_url_param_int(&u, "startTime", q->from_ms);
	sync_url_param_int(&u, "endTime", sync_add_sat(q->to_ms, -1));
	sync_url_param_int(&u, "limit", q->limit);
	if (!sync_url_finish(&u, q->base_url, req->url, sizeof(req->url), errbuf, errlen))
		return false;
	req->window_to_ms = q->to_ms;
	return binance_key_header(q, req, errbuf, errlen);
}

/*
 * Parse an answer that should be a JSON array; Binance's error object
 * {"code", "msg"} is a provider error.  On success *root is the array,
 * which the caller releases.  An array far larger than the page asked
 * for is malformed (sync_json_array_fits).
 */
static SyncParseStatus
binance_answer(const char *body, size_t len, json_object **root, const char *what,
			   const SyncPage *page, const SyncBarQuery *q, bool trades, char *errbuf, size_t errlen)
{
	const char *msg;

	if (sync_parse_json(body, len, root, "Binance", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (sync_json_has(*root, "msg"))
	{
		SyncParseStatus st = SYNC_PARSE_PROVIDER_ERROR;

		if ((msg = sync_json_get_string(*root, "msg")) != NULL)
			snprintf(errbuf, errlen, "Binance error: %s", msg);
		else
		{
			snprintf(errbuf, errlen, "Binance error object's field \"msg\" is not a string");
			st = SYNC_PARSE_MALFORMED;
		}
		json_object_put(*root);
		return st;
	}
	if (!sync_json_type_is(*root, json_type_array))
	{
		snprintf(errbuf, errlen, "Binance %s answer is not a JSON array", what);
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_json_array_fits(*root, sync_page_asked(page, q, trades), "Binance", what,
							  errbuf, errlen))
	{
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	return SYNC_PARSE_OK;
}

/* Fill *bar from one kline array; NULL when good, else why not. */
static const char *
binance_kline(json_object *k, SyncBar *bar)
{
	const char *why;

	if (!sync_json_type_is(k, json_type_array) || sync_json_length(k) < 9)
		return "kline is not an array of at least 9 fields";
	if ((why = sync_json_at_int64(k, 0, "open time", 0, SYNC_MAX_MS, &bar->ts_ms)) != NULL ||
		(why = sync_json_at_decimal(k, 1, "open", bar->open, true)) != NULL ||
		(why = sync_json_at_decimal(k, 2, "high", bar->high, true)) != NULL ||
		(why = sync_json_at_decimal(k, 3, "low", bar->low, true)) != NULL ||
		(why = sync_json_at_decimal(k, 4, "close", bar->close, true)) != NULL ||
		(why = sync_json_at_decimal(k, 5, "volume", bar->volume, true)) != NULL ||
		(why = sync_json_at_decimal(k, 7, "quote volume", bar->vwap, true)) != NULL ||
		(why = sync_json_at_int64(k, 8, "trade count", 0, INT64_MAX, &bar->trades)) != NULL)
		return why;
	bar->vwap[0] = '\0';		/* the quote volume was only checked */
	return NULL;
}

static SyncParseStatus
binance_parse_bars(const char *body, size_t len, const SyncBarQuery *q,
				   SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	SyncParseStatus st = binance_answer(body, len, &root, "klines", page, q, false, errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	sync_page_add_bars(page, q, root, binance_kline, "klines");
	json_object_put(root);
	return SYNC_PARSE_OK;
}

/*
 * Aggregate trades: GET /api/v3/aggTrades with startTime (the first page)
 * or fromId (the pages after it: ids are consecutive, and a busy
 * millisecond can hold more trades than a page) and limit.  No
 * endTime: with one, Binance allows at most an hour of range, which would
 * cost a request per quiet hour; without, it answers the next trades from
 * startTime on, however far.  Trades past the asked end are left for the
 * next poll (sync_page_accept_trade).  The answer:
 *   [{"a": aggId, "p": "price", "q": "qty", "f": firstId, "l": lastId,
 *     "T": ms, "m": buyerIsMaker, "M": true}, ...]
 * A buyer who is the maker means the taker sold.
 */
/*
 * The source option {"feed": "trade"} asks for every raw trade instead:
 * GET /api/v3/historicalTrades?fromId= (which wants the API key) after
 * the first page, and for the first, /api/v3/trades, the newest trades:
 * raw trades have no time filter, so such a history starts there.  An
 * element: {"id": 28457, "price": "4.00000100", "qty": "12.00000000",
 * "quoteQty": .., "time": ms, "isBuyerMaker": true, "isBestMatch": true}.
 */
static bool
binance_raw_feed(const SyncBarQuery *q)
{
	return q->feed != NULL && strcmp(q->feed, "trade") == 0;
}

static bool
binance_trades_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	SyncUrl		u;

	req->window_to_ms = q->to_ms;
	if (binance_raw_feed(q) && q->from_id > 0 && q->key_id == NULL)
	{
		snprintf(errbuf, errlen, "Binance's historicalTrades needs an API key (credentials key_id)");
		return false;
	}
	sync_url_init(&u);
	if (binance_raw_feed(q) && q->from_id > 0)
		sync_url_path(&u, "/api/v3/historicalTrades");
	else if (binance_raw_feed(q))
		sync_url_path(&u, "/api/v3/trades");
	else
		sync_url_path(&u, "/api/v3/aggTrades");
	sync_url_param(&u, "symbol", q->symbol);
	/* after the first page, by id: a millisecond may hold more than a page */
	if (q->from_id > 0)
		sync_url_param_int(&u, "fromId", q->from_id);
	else if (!binance_raw_feed(q))
		sync_url_param_int(&u, "startTime", q->from_ms);
	sync_url_param_int(&u, "limit", q->limit);
	if (!sync_url_finish(&u, q->base_url, req->url, sizeof(req->url), errbuf, errlen))
		return false;
	return binance_key_header(q, req, errbuf, errlen);
}

/*
 * A trade from its fields' names: id, time, price, quantity, and whether
 * the buyer was the maker (then the taker sold).
 */
static const char *
binance_trade_fields(json_object *o, SyncTrade *t, const char *id, const char *time,
					 const char *price, const char *qty, const char *maker)
{
	const char *why;
	int64_t		n;
	int			m;

	if (!sync_json_type_is(o, json_type_object))
		return "trade is not a JSON object";
	if ((why = sync_json_time_ms(o, time, &t->ts_us)) != NULL ||
		(why = sync_json_int64(o, id, 0, INT64_MAX, &n)) != NULL ||
		(why = sync_json_member_decimal(o, price, t->price, true)) != NULL ||
		(why = sync_json_member_decimal(o, qty, t->size, true)) != NULL ||
		(why = sync_json_opt_bool(o, maker, &m)) != NULL)
		return why;
	snprintf(t->trade_id, sizeof(t->trade_id), "%" PRId64, n);
	t->side = m < 0 ? 0 : m ? 's' : 'b';
	return NULL;
}

/* an aggTrade, over REST or on the stream */
static const char *
binance_agg_trade(json_object *o, SyncTrade *t)
{
	return binance_trade_fields(o, t, "a", "T", "p", "q", "m");
}

/* a raw trade over REST */
static const char *
binance_raw_trade(json_object *o, SyncTrade *t)
{
	return binance_trade_fields(o, t, "id", "time", "price", "qty", "isBuyerMaker");
}

/* a raw trade on the @trade stream */
static const char *
binance_stream_raw_trade(json_object *o, SyncTrade *t)
{
	return binance_trade_fields(o, t, "t", "T", "p", "q", "m");
}

static SyncParseStatus
binance_parse_trades(const char *body, size_t len, const SyncBarQuery *q,
					 SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	SyncParseStatus st = binance_answer(body, len, &root, "trades", page, q, true, errbuf, errlen);
	SyncBarQuery by_id = *q;

	if (st != SYNC_PARSE_OK)
		return st;
	if (binance_raw_feed(q))
	{
		/* a page of ids holds what it holds: no trade of it is out of range */
		by_id.from_ms = INT64_MIN;
		sync_page_add_trades(page, &by_id, root, binance_raw_trade, "trades");
	}
	else
		sync_page_add_trades(page, q, root, binance_agg_trade, "trades");
	json_object_put(root);
	return SYNC_PARSE_OK;
}

/*
 * Streams: <root>/ws/<symbol>@aggTrade for one series, and the combined
 * form <root>/stream?streams=<a>@aggTrade/<b>@kline_1m/... for several on
 * one connection (Binance allows 1024); @trade instead of @aggTrade for
 * the raw feed.  Stream trades carry the same ids as the REST ones, so the
 * seam between the two deduplicates by id.
 * Messages, raw or wrapped in a combined stream's {"stream": .., "data": {..}}:
 *   {"e": "aggTrade", "E": eventMs, "s": "BTCUSDT", "a": id, "p": "price",
 *    "q": "qty", "T": tradeMs, "m": buyerIsMaker, ...}
 *   {"e": "kline", "E": eventMs, "s": ..., "k": {"t": openMs, "i": "1m",
 *    "o": .., "h": .., "l": .., "c": .., "v": .., "n": trades, "x": closed}}
 * Only closed klines are stored: an open one is still changing.
 */
/* The stream name of series t into buf; false when it has none or does not fit. */
static bool
binance_stream_name(const SyncStreamTarget *t, char *buf, size_t len)
{
	char		symbol[SYNC_URL_LEN];
	char		enc[SYNC_URL_LEN];
	const char *iv = sync_binance_interval(t->q->interval_ms);
	size_t		n = strlen(t->q->symbol);

	if (n >= sizeof(symbol))
		return false;
	for (size_t i = 0; i <= n; i++)
		symbol[i] = (t->q->symbol[i] >= 'A' && t->q->symbol[i] <= 'Z') ? t->q->symbol[i] + 32 : t->q->symbol[i];
	if (!sync_url_escape(symbol, enc, sizeof(enc)) || (!t->trades && iv == NULL))
		return false;
	if (t->trades)
		return snprintf(buf, len, "%s@%s", enc, binance_raw_feed(t->q) ? "trade" : "aggTrade") < (int) len;
	return snprintf(buf, len, "%s@kline_%s", enc, iv) < (int) len;
}

/*
 * <root>/ws/<name> or <root>/stream?streams=<name>/<name>...: each name is
 * the lowercase symbol, percent-encoded, then "@" and the channel.
 */
static bool
binance_stream_url(const SyncStreamSet *set, const char *root,
				   char *url, size_t urllen, char *errbuf, size_t errlen)
{
	SyncUrl		u;
	char		names[SYNC_URL_LEN];
	size_t		used = 0;

	for (int i = 0; i < set->ntargets; i++)
	{
		char		name[SYNC_URL_LEN + 32];

		if (set->targets[i].q->symbol[0] == '\0')
		{
			snprintf(errbuf, errlen, "a Binance stream needs a symbol");
			return false;
		}
		if (!set->targets[i].trades && sync_binance_interval(set->targets[i].q->interval_ms) == NULL)
		{
			snprintf(errbuf, errlen, "Binance has no kline stream for this interval");
			return false;
		}
		if (!binance_stream_name(&set->targets[i], name, sizeof(name)))
		{
			snprintf(errbuf, errlen, "stream URL longer than %zu bytes", urllen);
			return false;
		}
		if (used < sizeof(names))
			used += snprintf(names + used, sizeof(names) - used, "%s%s", i > 0 ? "/" : "", name);
	}
	if (used >= sizeof(names))
	{
		snprintf(errbuf, errlen, "stream URL longer than %zu bytes", urllen);
		return false;
	}
	sync_url_init(&u);
	if (set->ntargets == 1)
	{
		sync_url_path(&u, "/ws/");
		sync_url_path(&u, names);
	}
	else
	{
		sync_url_path(&u, "/stream");
		sync_url_param_raw(&u, "streams", names);
	}
	return sync_url_finish(&u, root, url, urllen, errbuf, errlen);
}

/* A kline stream message's bar (only called for closed ones). */
static const char *
binance_stream_kline(json_object *msg, SyncBar *bar)
{
	json_object *k = sync_json_get(msg, "k", json_type_object);
	const char *why;

	if (k == NULL)
		return "kline message without k";
	if ((why = sync_json_int64(k, "t", 0, SYNC_MAX_MS, &bar->ts_ms)) != NULL ||
		(why = sync_json_member_decimal(k, "o", bar->open, true)) != NULL ||
		(why = sync_json_member_decimal(k, "h", bar->high, true)) != NULL ||
		(why = sync_json_member_decimal(k, "l", bar->low, true)) != NULL ||
		(why = sync_json_member_decimal(k, "c", bar->close, true)) != NULL ||
		(why = sync_json_member_decimal(k, "v", bar->volume, true)) != NULL ||
		(why = sync_json_opt_int64(k, "n", 0, INT64_MAX, &bar->trades, -1)) != NULL)
		return why;
	bar->vwap[0] = '\0';
	return NULL;
}

/*
 * The series of a kline message: its symbol and its interval ("k.i"), for
 * a closed kline only (an open one is still changing); NULL otherwise.
 * false, errbuf set, when "k.x" or "k.i" is missing or of another type.
 */
static bool
binance_kline_target(json_object *k, const char *symbol, SyncStreamSet *set,
					 SyncStreamTarget **target, char *errbuf, size_t errlen)
{
	int			closed;
	const char *iv = sync_json_get_string(k, "i");
	const char *why = sync_json_opt_bool(k, "x", &closed);

	*target = NULL;
	if (why != NULL || closed < 0 || iv == NULL)
	{
		snprintf(errbuf, errlen, "Binance kline message: %s",
				 why != NULL ? why : closed < 0 ? "field \"x\" is missing or null" :
				 "field \"i\" is missing or not a string");
		return false;
	}
	if (!closed)
		return true;
	for (int i = 0; i < set->ntargets; i++)
	{
		SyncStreamTarget *t = &set->targets[i];
		const char *tiv = sync_binance_interval(t->q->interval_ms);

		if (!t->trades && strcasecmp(t->q->symbol, symbol) == 0 && tiv != NULL && strcmp(tiv, iv) == 0)
			*target = t;
	}
	return true;
}

static SyncParseStatus
binance_parse_stream(const char *msg, size_t len, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *o;
	json_object *k;
	const char *symbol;
	const char *event;
	SyncStreamTarget *t;
	SyncParseStatus st = sync_parse_json(msg, len, &root, "stream message", errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	o = root;
	if (sync_json_has(root, "data") && (o = sync_json_get(root, "data", json_type_object)) == NULL)
	{
		snprintf(errbuf, errlen, "Binance combined stream message: field \"data\" is not an object");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_json_has(o, "e"))
	{
		json_object_put(root);
		return SYNC_PARSE_OK;	/* a subscription answer or other control message */
	}
	/* a one-series stream is that series (raw messages name their symbol too) */
	event = sync_json_get_string(o, "e");
	symbol = sync_json_has(o, "s") ? sync_json_get_string(o, "s") : set->targets[0].q->symbol;
	if (event == NULL || symbol == NULL)
	{
		snprintf(errbuf, errlen, "Binance stream message: field \"%s\" is not a string",
				 event == NULL ? "e" : "s");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	if (strcmp(event, "aggTrade") == 0 || strcmp(event, "trade") == 0)
	{
		t = sync_stream_target(set, symbol, true, 0);
		if (t != NULL)
			sync_stream_add_trade(set, t, o, strcmp(event, "trade") == 0 ? binance_stream_raw_trade :
								  binance_agg_trade, "trades");
	}
	else if (strcmp(event, "kline") == 0)
	{
		if ((k = sync_json_get(o, "k", json_type_object)) == NULL)
		{
			snprintf(errbuf, errlen, "Binance kline message: field \"k\" is missing or not an object");
			st = SYNC_PARSE_MALFORMED;
		}
		else if (!binance_kline_target(k, symbol, set, &t, errbuf, errlen))
			st = SYNC_PARSE_MALFORMED;
		else if (t != NULL)
			sync_stream_add_bar(set, t, o, binance_stream_kline, "bars");
	}
	json_object_put(root);
	return st;
}

const SyncProvider sync_provider_binance = {
	.name = "binance",
	.default_base_url = "https://api.binance.com",
	.max_page = 1000,
	.trades_by_id = true,
	.bars_request = binance_bars_request,
	.parse_bars = binance_parse_bars,
	.trades_request = binance_trades_request,
	.parse_trades = binance_parse_trades,
	.default_stream_url = "wss://stream.binance.com:9443",
	.stream_bars = true,
	.stream_url = binance_stream_url,
	.parse_stream = binance_parse_stream,
};
