/*-------------------------------------------------------------------------
 * coinbase.c
 *	  Coinbase Exchange: candles and trades over REST, and the matches
 *	  stream (below).
 *
 * Candles: GET /products/{product_id}/candles, asked with granularity (seconds), start and end (RFC 3339, inclusive).
 * The answer is an array, newest first, of
 *   [time (s), low, high, open, close, volume]
 * with numbers for values.  A request may span at most 300 candles, so a
 * long range is asked window by window.  Errors: {"message": "NotFound"}.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider_json.h"

#define COINBASE_MAX_CANDLES 300
#define COINBASE_MAX_TRADES 1000

static bool
coinbase_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	int64_t		g = q->interval_ms / 1000;
	char		start[32],
				end[32];
	int			n = q->limit < COINBASE_MAX_CANDLES ? q->limit : COINBASE_MAX_CANDLES;

	if (g != 60 && g != 300 && g != 900 && g != 3600 && g != 21600 && g != 86400)
	{
		snprintf(errbuf, errlen, "Coinbase has no candle granularity of %" PRId64 " s", g);
		return false;
	}
	req->window_to_ms = q->from_ms + n * q->interval_ms;
	if (req->window_to_ms > q->to_ms)
		req->window_to_ms = q->to_ms;
	sync_format_rfc3339(q->from_ms * 1000, start, sizeof(start));
	sync_format_rfc3339((req->window_to_ms - 1000) * 1000, end, sizeof(end));
	if (snprintf(req->url, sizeof(req->url),
				 "%s/products/%s/candles?granularity=%" PRId64 "&start=%s&end=%s",
				 q->base_url, q->symbol, g, start, end) >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->headers[0] = NULL;
	return true;
}

/*
 * A REST answer: *root is its array (the caller releases it), or an error
 * object {"message": ...}, or malformed.
 */
static SyncParseStatus
coinbase_answer(const char *body, size_t len, const char *what, json_object **root,
				char *errbuf, size_t errlen)
{
	json_object *msg;

	if (sync_parse_json(body, len, root, "Coinbase", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (json_object_is_type(*root, json_type_object) &&
		json_object_object_get_ex(*root, "message", &msg))
	{
		snprintf(errbuf, errlen, "Coinbase error: %s", json_object_get_string(msg));
		json_object_put(*root);
		return SYNC_PARSE_PROVIDER_ERROR;
	}
	if (!json_object_is_type(*root, json_type_array))
	{
		snprintf(errbuf, errlen, "Coinbase %s answer is not a JSON array", what);
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	return SYNC_PARSE_OK;
}

static const char *
coinbase_candle(json_object *c, SyncBar *bar)
{
	json_object *t;
	const char *why;

	if (!json_object_is_type(c, json_type_array) || json_object_array_length(c) < 6)
		return "candle is not an array of 6 fields";
	t = json_object_array_get_idx(c, 0);
	if (!json_object_is_type(t, json_type_int))
		return "candle time is not an integer";
	bar->ts_ms = json_object_get_int64(t) * 1000;
	if ((why = sync_json_decimal(json_object_array_get_idx(c, 1), bar->low)) != NULL ||
		(why = sync_json_decimal(json_object_array_get_idx(c, 2), bar->high)) != NULL ||
		(why = sync_json_decimal(json_object_array_get_idx(c, 3), bar->open)) != NULL ||
		(why = sync_json_decimal(json_object_array_get_idx(c, 4), bar->close)) != NULL ||
		(why = sync_json_decimal(json_object_array_get_idx(c, 5), bar->volume)) != NULL)
		return why;
	bar->vwap[0] = '\0';
	bar->trades = -1;
	return NULL;
}

static SyncParseStatus
coinbase_parse_bars(const char *body, size_t len, const SyncBarQuery *q,
					SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	int64_t		prev = INT64_MIN;
	int			parsed = 0;
	int			base = page->nbars;
	size_t		n;

	SyncParseStatus st = coinbase_answer(body, len, "candles", &root, errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;

	/* parse into the free part of the page, then put it in time order */
	n = json_object_array_length(root);
	for (size_t i = 0; i < n; i++)
	{
		json_object *c = json_object_array_get_idx(root, i);
		const char *raw = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN);
		const char *why;

		page->nreceived++;
		if (base + parsed >= page->bar_capacity)
		{
			sync_page_reject(page, "more candles than the page size asked for", raw);
			continue;
		}
		why = coinbase_candle(c, &page->bars[base + parsed]);
		if (why != NULL)
			sync_page_reject(page, why, raw);
		else
			parsed++;
	}
	json_object_put(root);

	sync_page_sort_tail(page, parsed);
	for (int i = 0; i < parsed; i++)
	{
		/* accepted bars are packed forward; the source is never behind */
		if (page->nbars != base + i)
			page->bars[page->nbars] = page->bars[base + i];
		sync_page_accept(page, q, &prev, NULL);
	}
	return SYNC_PARSE_OK;
}

/*
 * Trades: GET /products/{product_id}/trades?limit=N[&after=ID].  Coinbase
 * pages trades by id only, newest first: "after" asks for the trades with
 * ids below it, so the page of ids [from_id, from_id + N) is asked as
 * after = from_id + N.  Without an id to go on from, the newest page is
 * asked (the API has no time filter).  Trade ids are consecutive per
 * product.  An element:
 *   {"time": RFC 3339, "trade_id": 74, "price": "10.00", "size": "0.01",
 *    "side": "buy"}
 * where side is the maker's: "buy" means the taker sold.
 */
static bool
coinbase_trades_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	int			n = q->limit < COINBASE_MAX_TRADES ? q->limit : COINBASE_MAX_TRADES;
	int			len;

	if (q->from_id > 0)
		len = snprintf(req->url, sizeof(req->url), "%s/products/%s/trades?limit=%d&after=%" PRId64,
					   q->base_url, q->symbol, n, q->from_id + n);
	else
		len = snprintf(req->url, sizeof(req->url), "%s/products/%s/trades?limit=%d",
					   q->base_url, q->symbol, n);
	if (len >= (int) sizeof(req->url))
	{
		snprintf(errbuf, errlen, "request URL longer than %d bytes", SYNC_URL_LEN);
		return false;
	}
	req->window_to_ms = q->to_ms;
	req->headers[0] = NULL;
	return true;
}

/* A REST trade or a stream "match": the same fields. */
static const char *
coinbase_trade(json_object *o, SyncTrade *t)
{
	json_object *f;

	if (!json_object_is_type(o, json_type_object))
		return "trade is not a JSON object";
	if (!json_object_object_get_ex(o, "time", &f) || !json_object_is_type(f, json_type_string) ||
		!sync_parse_rfc3339(json_object_get_string(f), &t->ts_us))
		return "time is not an RFC 3339 time";
	if (!json_object_object_get_ex(o, "trade_id", &f) || !json_object_is_type(f, json_type_int))
		return "trade_id is not an integer";
	snprintf(t->trade_id, sizeof(t->trade_id), "%" PRId64, json_object_get_int64(f));
	if (sync_json_member_decimal(o, "price", t->price, true) != NULL ||
		sync_json_member_decimal(o, "size", t->size, true) != NULL)
		return "price or size is missing or not a number";
	t->side = 0;
	if (json_object_object_get_ex(o, "side", &f))
		t->side = strcmp(json_object_get_string(f), "buy") == 0 ? 's' :
			strcmp(json_object_get_string(f), "sell") == 0 ? 'b' : 0;
	return NULL;
}

static int
trade_id_cmp(const void *a, const void *b)
{
	int64_t		x = strtoll(((const SyncTrade *) a)->trade_id, NULL, 10);
	int64_t		y = strtoll(((const SyncTrade *) b)->trade_id, NULL, 10);

	return x < y ? -1 : x > y;
}

static SyncParseStatus
coinbase_parse_trades(const char *body, size_t len, const SyncBarQuery *q,
					  SyncPage *page, char *errbuf, size_t errlen)
{
	json_object *root;
	int			base = page->ntrades;
	SyncBarQuery by_id = *q;
	SyncParseStatus st;

	/* a page of ids holds what it holds: no trade of it is out of range */
	by_id.from_ms = INT64_MIN;
	st = coinbase_answer(body, len, "trades", &root, errbuf, errlen);
	if (st != SYNC_PARSE_OK)
		return st;
	sync_page_add_trades(page, &by_id, root, coinbase_trade, "trades");
	json_object_put(root);
	/* newest first: put them in id (and so time) order */
	qsort(&page->trades[base], page->ntrades - base, sizeof(SyncTrade), trade_id_cmp);
	return SYNC_PARSE_OK;
}

/*
 * Stream: wss://ws-feed.exchange.coinbase.com.  We send
 *   {"type": "subscribe", "product_ids": ["BTC-USD", ..],
 *    "channels": ["matches", "heartbeat"]}
 * and receive {"type": "subscriptions", "channels": [{"name": "matches",
 * "product_ids": [..]}, ..]}, then "last_match" (the trade before we
 * came) and "match" messages, with the fields of the REST trades, and a
 * "heartbeat" a second per product, which keeps a quiet product's
 * connection visibly alive.  {"type": "error", "message", "reason"} stops
 * the stream.  Candles have no channel: bars are polled over REST.
 */
static bool
coinbase_stream_url(const SyncStreamSet *set, const char *root,
					char *url, size_t urllen, char *errbuf, size_t errlen)
{
	for (int i = 0; i < set->ntargets; i++)
		if (!set->targets[i].trades)
		{
			snprintf(errbuf, errlen, "Coinbase streams trades (matches) only");
			return false;
		}
	snprintf(url, urllen, "%s", root);
	return true;
}

static bool
coinbase_stream_hello(const SyncStreamSet *set, int n, char *msg, size_t len)
{
	size_t		used;

	if (n != 0)
		return false;
	used = snprintf(msg, len, "{\"type\":\"subscribe\",\"product_ids\":[");
	for (int i = 0; i < set->ntargets && used < len; i++)
		used += snprintf(msg + used, len - used, "%s\"%s\"", i > 0 ? "," : "", set->targets[i].q->symbol);
	if (used < len)
		used += snprintf(msg + used, len - used, "],\"channels\":[\"matches\",\"heartbeat\"]}");
	return used < len;
}

static void
coinbase_confirm(json_object *o, SyncStreamSet *set)
{
	json_object *channels;

	if (!json_object_object_get_ex(o, "channels", &channels) ||
		!json_object_is_type(channels, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(channels); i++)
	{
		json_object *c = json_object_array_get_idx(channels, i);
		json_object *name;
		json_object *ids;

		if (!json_object_object_get_ex(c, "name", &name) ||
			strcmp(json_object_get_string(name), "matches") != 0 ||
			!json_object_object_get_ex(c, "product_ids", &ids) ||
			!json_object_is_type(ids, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(ids); k++)
			sync_stream_confirm(set, json_object_get_string(json_object_array_get_idx(ids, k)), true);
	}
}

static SyncParseStatus
coinbase_parse_stream(const char *msg, size_t len, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *root;
	json_object *f;
	const char *type;
	SyncStreamTarget *t;
	SyncParseStatus st = sync_parse_json(msg, len, &root, "Coinbase stream message", errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	if (!json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "type", &f))
	{
		snprintf(errbuf, errlen, "Coinbase stream message is not an object with a type");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	type = json_object_get_string(f);
	if (strcmp(type, "error") == 0)
	{
		json_object *m = NULL;
		json_object *r = NULL;

		json_object_object_get_ex(root, "message", &m);
		json_object_object_get_ex(root, "reason", &r);
		snprintf(errbuf, errlen, "Coinbase stream error: %s%s%s", m ? json_object_get_string(m) : "?",
				 r ? ": " : "", r ? json_object_get_string(r) : "");
		st = SYNC_PARSE_PROVIDER_ERROR;
	}
	else if (strcmp(type, "subscriptions") == 0)
		coinbase_confirm(root, set);
	else if ((strcmp(type, "match") == 0 || strcmp(type, "last_match") == 0) &&
			 json_object_object_get_ex(root, "product_id", &f) &&
			 (t = sync_stream_target(set, json_object_get_string(f), true, 0)) != NULL)
		sync_stream_add_trade(set, t, root, coinbase_trade, "trades");
	json_object_put(root);
	return st;
}

const SyncProvider sync_provider_coinbase = {
	.name = "coinbase",
	.default_base_url = "https://api.exchange.coinbase.com",
	.max_page = COINBASE_MAX_CANDLES,
	.bars_request = coinbase_bars_request,
	.parse_bars = coinbase_parse_bars,
	.trades_by_id = true,
	.trades_request = coinbase_trades_request,
	.parse_trades = coinbase_parse_trades,
	.default_stream_url = "wss://ws-feed.exchange.coinbase.com",
	.stream_url = coinbase_stream_url,
	.stream_hello = coinbase_stream_hello,
	.parse_stream = coinbase_parse_stream,
};
