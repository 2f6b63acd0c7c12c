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

static bool
binance_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	const char *iv = sync_binance_interval(q->interval_ms);
	int			n;

	if (iv == NULL)
	{
		snprintf(errbuf, errlen, "Binance has no kline interval of %" PRId64 " ms", q->interval_ms);
		return false;
	}
	n = snprintf(req->url, sizeof(req->url),
				 "%s/api/v3/klines?symbol=%s&interval=%s&startTime=%" PRId64 "&endTime=%" PRId64 "&limit=%d",
				 q->base_url, q->symbol, iv, q->from_ms, q->to_ms - 1, q->limit);
	if (n >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->headers[0] = NULL;
	req->window_to_ms = q->to_ms;
	if (q->key_id != NULL)
		sync_request_add_header(req, "X-MBX-APIKEY: %s", q->key_id);
	return true;
}

/*
 * Parse an answer that should be a JSON array; Binance's error object
 * {"code", "msg"} is a provider error.  On success *root is the array,
 * which the caller releases.
 */
static SyncParseStatus
binance_answer(const char *body, size_t len, json_object **root, const char *what,
			   char *errbuf, size_t errlen)
{
	json_object *msg;

	if (sync_parse_json(body, len, root, "Binance", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (json_object_is_type(*root, json_type_object) &&
		json_object_object_get_ex(*root, "msg", &msg))
	{
		snprintf(errbuf, errlen, "Binance error: %s", json_object_get_string(msg));
		json_object_put(*root);
		return SYNC_PARSE_PROVIDER_ERROR;
	}
	if (!json_object_is_type(*root, json_type_array))
	{
		snprintf(errbuf, errlen, "Binance %s answer is not a JSON array", what);
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	return SYNC_PARSE_OK;
}

/* Fill *bar from one kline array; NULL when good, else why not. */
static const char *
binance_kline(json_object *k, SyncBar *bar)
{
	static const int strings[] = {1, 2, 3, 4, 5, 7};
	json_object *f;

	if (!json_object_is_type(k, json_type_array) || json_object_array_length(k) < 9)
		return "kline is not an array of at least 9 fields";
	f = json_object_array_get_idx(k, 0);
	if (!json_object_is_type(f, json_type_int))
		return "open time is not an integer";
	bar->ts_ms = json_object_get_int64(f);
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (!json_object_is_type(json_object_array_get_idx(k, strings[i]), json_type_string))
			return "price or volume field is not a string";
	if (!sync_copy_decimal(bar->open, json_object_get_string(json_object_array_get_idx(k, 1))) ||
		!sync_copy_decimal(bar->high, json_object_get_string(json_object_array_get_idx(k, 2))) ||
		!sync_copy_decimal(bar->low, json_object_get_string(json_object_array_get_idx(k, 3))) ||
		!sync_copy_decimal(bar->close, json_object_get_string(json_object_array_get_idx(k, 4))) ||
		!sync_copy_decimal(bar->volume, json_object_get_string(json_object_array_get_idx(k, 5))))
		return "decimal field too long";
	f = json_object_array_get_idx(k, 8);
	if (!json_object_is_type(f, json_type_int))
		return "trade count is not an integer";
	bar->trades = json_object_get_int64(f);
	bar->vwap[0] = '\0';
	return NULL;
}

static SyncParseStatus
binance_parse_bars(const char *body, size_t len, const SyncBarQuery *q,
				   SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	SyncParseStatus st = binance_answer(body, len, &root, "klines", errbuf, errlen);

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
	int			n;

	req->window_to_ms = q->to_ms;
	if (binance_raw_feed(q) && q->from_id > 0 && q->key_id == NULL)
	{
		snprintf(errbuf, errlen, "Binance's historicalTrades needs an API key (credentials key_id)");
		return false;
	}
	if (binance_raw_feed(q) && q->from_id > 0)
		n = snprintf(req->url, sizeof(req->url),
					 "%s/api/v3/historicalTrades?symbol=%s&fromId=%" PRId64 "&limit=%d",
					 q->base_url, q->symbol, q->from_id, q->limit);
	else if (binance_raw_feed(q))
		n = snprintf(req->url, sizeof(req->url), "%s/api/v3/trades?symbol=%s&limit=%d",
					 q->base_url, q->symbol, q->limit);
	/* after the first page, by id: a millisecond may hold more than a page */
	else if (q->from_id > 0)
		n = snprintf(req->url, sizeof(req->url),
					 "%s/api/v3/aggTrades?symbol=%s&fromId=%" PRId64 "&limit=%d",
					 q->base_url, q->symbol, q->from_id, q->limit);
	else
		n = snprintf(req->url, sizeof(req->url),
					 "%s/api/v3/aggTrades?symbol=%s&startTime=%" PRId64 "&limit=%d",
					 q->base_url, q->symbol, q->from_ms, q->limit);
	if (n >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->headers[0] = NULL;
	if (q->key_id != NULL)
		sync_request_add_header(req, "X-MBX-APIKEY: %s", q->key_id);
	return true;
}

/*
 * A trade from its fields' names: id, time, price, quantity, and whether
 * the buyer was the maker (then the taker sold).
 */
static const char *
binance_trade_fields(json_object *o, SyncTrade *t, const char *id, const char *time,
					 const char *price, const char *qty, const char *maker)
{
	json_object *f;

	if (!json_object_is_type(o, json_type_object))
		return "trade is not a JSON object";
	if (!json_object_object_get_ex(o, time, &f) || !json_object_is_type(f, json_type_int))
		return "the trade time is not an integer";
	if (!sync_us_from_ms(json_object_get_int64(f), &t->ts_us))
		return "T is out of range";
	if (!json_object_object_get_ex(o, id, &f) || !json_object_is_type(f, json_type_int))
		return "the trade id is not an integer";
	snprintf(t->trade_id, sizeof(t->trade_id), "%s", json_object_get_string(f));
	if (sync_json_member_decimal(o, price, t->price, true) != NULL ||
		sync_json_member_decimal(o, qty, t->size, true) != NULL)
		return "price or quantity is missing or not a decimal";
	t->side = 0;
	if (json_object_object_get_ex(o, maker, &f) && json_object_is_type(f, json_type_boolean))
		t->side = json_object_get_boolean(f) ? 's' : 'b';
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
	SyncParseStatus st = binance_answer(body, len, &root, "aggTrades", errbuf, errlen);
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
static bool
binance_stream_name(const SyncStreamTarget *t, char *buf, size_t len)
{
	char		symbol[64];
	size_t		i;

	for (i = 0; t->q->symbol[i] != '\0' && i < sizeof(symbol) - 1; i++)
		symbol[i] = (t->q->symbol[i] >= 'A' && t->q->symbol[i] <= 'Z') ? t->q->symbol[i] + 32 : t->q->symbol[i];
	symbol[i] = '\0';
	if (t->trades)
		snprintf(buf, len, "%s@%s", symbol, binance_raw_feed(t->q) ? "trade" : "aggTrade");
	else if (sync_binance_interval(t->q->interval_ms) == NULL)
		return false;
	else
		snprintf(buf, len, "%s@kline_%s", symbol, sync_binance_interval(t->q->interval_ms));
	return true;
}

static bool
binance_stream_url(const SyncStreamSet *set, const char *root,
				   char *url, size_t urllen, char *errbuf, size_t errlen)
{
	size_t		used;

	used = snprintf(url, urllen, set->ntargets == 1 ? "%s/ws/" : "%s/stream?streams=", root);
	for (int i = 0; i < set->ntargets; i++)
	{
		char		name[96];

		if (!binance_stream_name(&set->targets[i], name, sizeof(name)))
		{
			snprintf(errbuf, errlen, "Binance has no kline stream for this interval");
			return false;
		}
		if (used < urllen)
			used += snprintf(url + used, urllen - used, "%s%s", i > 0 ? "/" : "", name);
	}
	if (used >= urllen)
	{
		snprintf(errbuf, errlen, "stream URL longer than %zu bytes", urllen);
		return false;
	}
	return true;
}

/* A kline stream message's bar (only called for closed ones). */
static const char *
binance_stream_kline(json_object *msg, SyncBar *bar)
{
	json_object *k;
	json_object *f;

	if (!json_object_object_get_ex(msg, "k", &k) || !json_object_is_type(k, json_type_object))
		return "kline message without k";
	if (!json_object_object_get_ex(k, "t", &f) || !json_object_is_type(f, json_type_int))
		return "t (open time) is not an integer";
	bar->ts_ms = json_object_get_int64(f);
	if (sync_json_member_decimal(k, "o", bar->open, true) != NULL ||
		sync_json_member_decimal(k, "h", bar->high, true) != NULL ||
		sync_json_member_decimal(k, "l", bar->low, true) != NULL ||
		sync_json_member_decimal(k, "c", bar->close, true) != NULL ||
		sync_json_member_decimal(k, "v", bar->volume, true) != NULL)
		return "a price or the volume is missing or not a decimal";
	bar->trades = -1;
	if (json_object_object_get_ex(k, "n", &f) && json_object_is_type(f, json_type_int))
		bar->trades = json_object_get_int64(f);
	bar->vwap[0] = '\0';
	return NULL;
}

/*
 * The series of a kline message: its symbol and its interval ("k.i"), for
 * a closed kline only (an open one is still changing); NULL otherwise.
 */
static SyncStreamTarget *
binance_kline_target(json_object *msg, const char *symbol, SyncStreamSet *set)
{
	json_object *k;
	json_object *f;

	if (!json_object_object_get_ex(msg, "k", &k) || !json_object_is_type(k, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(k, "x", &f) || !json_object_get_boolean(f))
		return NULL;
	if (!json_object_object_get_ex(k, "i", &f))
		return NULL;
	for (int i = 0; i < set->ntargets; i++)
	{
		SyncStreamTarget *t = &set->targets[i];
		const char *iv = sync_binance_interval(t->q->interval_ms);

		if (!t->trades && strcasecmp(t->q->symbol, symbol) == 0 && iv != NULL &&
			strcmp(iv, json_object_get_string(f)) == 0)
			return t;
	}
	return NULL;
}

static SyncParseStatus
binance_parse_stream(const char *msg, size_t len, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *o;
	json_object *f;
	json_object *sym;
	const char *symbol;
	const char *event;
	SyncStreamTarget *t;
	SyncParseStatus st = sync_parse_json(msg, len, &root, "stream message", errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	o = root;
	if (json_object_is_type(root, json_type_object) && json_object_object_get_ex(root, "data", &f))
		o = f;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "e", &f))
	{
		json_object_put(root);
		return SYNC_PARSE_OK;	/* a subscription answer or other control message */
	}
	/* a one-series stream is that series (raw messages name their symbol too) */
	symbol = json_object_object_get_ex(o, "s", &sym) ? json_object_get_string(sym) :
		set->targets[0].q->symbol;
	event = json_object_get_string(f);
	if (strcmp(event, "aggTrade") == 0 || strcmp(event, "trade") == 0)
	{
		t = sync_stream_target(set, symbol, true, 0);
		if (t != NULL)
			sync_stream_add_trade(set, t, o, strcmp(event, "trade") == 0 ? binance_stream_raw_trade :
								  binance_agg_trade, "trades");
	}
	else if (strcmp(event, "kline") == 0 &&
			 (!json_object_object_get_ex(o, "k", &f) || !json_object_is_type(f, json_type_object)))
	{
		snprintf(errbuf, errlen, "kline message without k");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	else if (strcmp(event, "kline") == 0 &&
			 (t = binance_kline_target(o, symbol, set)) != NULL)
			sync_stream_add_bar(set, t, o, binance_stream_kline, "bars");
	json_object_put(root);
	return SYNC_PARSE_OK;
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
