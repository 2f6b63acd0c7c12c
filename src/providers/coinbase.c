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
#include "request.h"

#define COINBASE_MAX_CANDLES 300
#define COINBASE_MAX_TRADES 1000

static bool
coinbase_bars_request(const SyncBarQuery *q, SyncRequest *req, char *errbuf, size_t errlen)
{
	int64_t		g = q->interval_ms / 1000;
	char		start[40],
				end[40];
	int			n = q->limit < COINBASE_MAX_CANDLES ? q->limit : COINBASE_MAX_CANDLES;
	SyncUrl		u;

	if (g != 60 && g != 300 && g != 900 && g != 3600 && g != 21600 && g != 86400)
	{
		snprintf(errbuf, errlen, "Coinbase has no candle granularity of %" PRId64 " s", g);
		return false;
	}
	req->window_to_ms = sync_add_sat(q->from_ms, sync_mul_sat(n, q->interval_ms));
	if (req->window_to_ms > q->to_ms)
		req->window_to_ms = q->to_ms;
	sync_format_rfc3339(sync_mul_sat(q->from_ms, 1000), start, sizeof(start));
	sync_format_rfc3339(sync_mul_sat(sync_add_sat(req->window_to_ms, -1000), 1000), end, sizeof(end));
	sync_url_init(&u);
	sync_url_path(&u, "/products");
	sync_url_segment(&u, "symbol", q->symbol, "/candles");
	sync_url_param_int(&u, "granularity", g);
	sync_url_param_raw(&u, "start", start);
	sync_url_param_raw(&u, "end", end);
	req->headers[0] = NULL;
	return sync_url_finish(&u, q->base_url, req->url, sizeof(req->url), errbuf, errlen);
}

/*
 * A REST answer: *root is its array (the caller releases it), or an error
 * object {"message": ...}, or malformed (also when the array holds far
 * more than the page asked for).
 */
static SyncParseStatus
coinbase_answer(const char *body, size_t len, const char *what, int64_t asked, json_object **root,
				char *errbuf, size_t errlen)
{
	const char *msg;

	if (sync_parse_json(body, len, root, "Coinbase", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (sync_json_has(*root, "message"))
	{
		SyncParseStatus st = SYNC_PARSE_PROVIDER_ERROR;

		if ((msg = sync_json_get_string(*root, "message")) != NULL)
			snprintf(errbuf, errlen, "Coinbase error: %s", msg);
		else
		{
			snprintf(errbuf, errlen, "Coinbase error object's field \"message\" is not a string");
			st = SYNC_PARSE_MALFORMED;
		}
		json_object_put(*root);
		return st;
	}
	if (!sync_json_type_is(*root, json_type_array))
	{
		snprintf(errbuf, errlen, "Coinbase %s answer is not a JSON array", what);
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	if (!sync_json_array_fits(*root, asked, "Coinbase", what, errbuf, errlen))
	{
		json_object_put(*root);
		return SYNC_PARSE_MALFORMED;
	}
	return SYNC_PARSE_OK;
}

static const char *
coinbase_candle(json_object *c, SyncBar *bar)
{
	const char *why;
	int64_t		secs;

	if (!sync_json_type_is(c, json_type_array) || sync_json_length(c) < 6)
		return "candle is not an array of 6 fields";
	/* seconds, checked before they become ms: no overflow */
	if ((why = sync_json_at_int64(c, 0, "time", 0, SYNC_MAX_MS / 1000, &secs)) != NULL ||
		(why = sync_json_at_decimal(c, 1, "low", bar->low, false)) != NULL ||
		(why = sync_json_at_decimal(c, 2, "high", bar->high, false)) != NULL ||
		(why = sync_json_at_decimal(c, 3, "open", bar->open, false)) != NULL ||
		(why = sync_json_at_decimal(c, 4, "close", bar->close, false)) != NULL ||
		(why = sync_json_at_decimal(c, 5, "volume", bar->volume, false)) != NULL)
		return why;
	bar->ts_ms = secs * 1000;
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

	SyncParseStatus st = coinbase_answer(body, len, "candles", sync_page_asked(page, q, false), &root,
										 errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;

	/* parse into the free part of the page, then put it in time order */
	n = sync_json_length(root);
	for (size_t i = 0; i < n; i++)
	{
		json_object *c = sync_json_at(root, i);
		const char *why;

		page->nreceived++;
		if (base + parsed >= page->bar_capacity)
		{
			sync_page_reject_json(page, "more candles than the page size asked for", c);
			continue;
		}
		why = coinbase_candle(c, &page->bars[base + parsed]);
		if (why != NULL)
			sync_page_reject_json(page, why, c);
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
	SyncUrl		u;

	sync_url_init(&u);
	sync_url_path(&u, "/products");
	sync_url_segment(&u, "symbol", q->symbol, "/trades");
	sync_url_param_int(&u, "limit", n);
	if (q->from_id > 0)
		sync_url_param_int(&u, "after", sync_add_sat(q->from_id, n));
	req->window_to_ms = q->to_ms;
	req->headers[0] = NULL;
	return sync_url_finish(&u, q->base_url, req->url, sizeof(req->url), errbuf, errlen);
}

/* A REST trade or a stream "match": the same fields. */
static const char *
coinbase_trade(json_object *o, SyncTrade *t)
{
	const char *why;
	const char *side;
	int64_t		id;

	if (!sync_json_type_is(o, json_type_object))
		return "trade is not a JSON object";
	if ((why = sync_json_time_rfc3339(o, "time", &t->ts_us)) != NULL ||
		(why = sync_json_int64(o, "trade_id", 0, INT64_MAX, &id)) != NULL ||
		(why = sync_json_member_decimal(o, "price", t->price, true)) != NULL ||
		(why = sync_json_member_decimal(o, "size", t->size, true)) != NULL ||
		(why = sync_json_opt_string(o, "side", &side)) != NULL)
		return why;
	snprintf(t->trade_id, sizeof(t->trade_id), "%" PRId64, id);
	t->side = side == NULL ? 0 : strcmp(side, "buy") == 0 ? 's' : strcmp(side, "sell") == 0 ? 'b' : 0;
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
	st = coinbase_answer(body, len, "trades", sync_page_asked(page, q, true), &root, errbuf, errlen);
	if (st != SYNC_PARSE_OK)
		return st;
	sync_page_add_trades(page, &by_id, root, coinbase_trade, "trades");
	json_object_put(root);
	/* newest first: put them in id (and so time) order */
	qsort(&page->trades[base], page->ntrades - base, sizeof(SyncTrade), trade_id_cmp);
	return SYNC_PARSE_OK;
}

/*
 * Stream: wss://ws-feed.exchange.coinbase.com.  We send (built with json-c)
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
	if (snprintf(url, urllen, "%s", root) >= (int) urllen)
	{
		snprintf(errbuf, errlen, "stream URL longer than %zu bytes", urllen);
		return false;
	}
	return true;
}

static bool
coinbase_stream_hello(const SyncStreamSet *set, int n, char *msg, size_t len)
{
	json_object *o;
	json_object *ids;
	json_object *channels;

	if (n != 0 || (o = json_object_new_object()) == NULL)
		return false;
	ids = json_object_new_array();
	for (int i = 0; ids != NULL && i < set->ntargets; i++)
		json_object_array_add(ids, json_object_new_string(set->targets[i].q->symbol));
	channels = json_object_new_array();
	if (channels != NULL)
	{
		json_object_array_add(channels, json_object_new_string("matches"));
		json_object_array_add(channels, json_object_new_string("heartbeat"));
	}
	json_object_object_add(o, "type", json_object_new_string("subscribe"));
	json_object_object_add(o, "product_ids", ids);
	json_object_object_add(o, "channels", channels);
	return sync_json_emit(o, msg, len, false);
}

/* A "subscriptions" message confirms the matches it lists; false when malformed. */
static bool
coinbase_confirm(json_object *o, SyncStreamSet *set)
{
	json_object *channels = sync_json_get(o, "channels", json_type_array);

	if (channels == NULL)
		return false;
	for (size_t i = 0; i < sync_json_length(channels); i++)
	{
		json_object *c = sync_json_at(channels, i);
		const char *name = sync_json_get_string(c, "name");
		json_object *ids = sync_json_get(c, "product_ids", json_type_array);

		if (name == NULL || (ids == NULL && sync_json_has(c, "product_ids")))
			return false;
		if (strcmp(name, "matches") != 0)
			continue;
		for (size_t k = 0; k < sync_json_length(ids); k++)
		{
			const char *id = sync_json_string_of(sync_json_at(ids, k));

			if (id == NULL)
				return false;
			sync_stream_confirm(set, id, true);
		}
	}
	return true;
}

static SyncParseStatus
coinbase_parse_stream(const char *msg, size_t len, SyncStreamSet *set, char *errbuf, size_t errlen)
{
	json_object *root;
	const char *type;
	const char *product;
	const char *why;
	SyncStreamTarget *t;
	SyncParseStatus st = sync_parse_json(msg, len, &root, "Coinbase stream message", errbuf, errlen);

	if (st != SYNC_PARSE_OK)
		return st;
	if ((type = sync_json_get_string(root, "type")) == NULL)
	{
		snprintf(errbuf, errlen, "Coinbase stream message: field \"type\" is missing or not a string");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}
	if (strcmp(type, "error") == 0)
	{
		const char *m;
		const char *r;

		if ((why = sync_json_opt_string(root, "message", &m)) != NULL ||
			(why = sync_json_opt_string(root, "reason", &r)) != NULL)
		{
			snprintf(errbuf, errlen, "Coinbase stream error message: %s", why);
			st = SYNC_PARSE_MALFORMED;
		}
		else
		{
			snprintf(errbuf, errlen, "Coinbase stream error: %s%s%s", m ? m : "?",
					 r ? ": " : "", r ? r : "");
			st = SYNC_PARSE_PROVIDER_ERROR;
		}
	}
	else if (strcmp(type, "subscriptions") == 0 && !coinbase_confirm(root, set))
	{
		snprintf(errbuf, errlen, "Coinbase subscriptions message: channels are not a list of "
				 "{name, product_ids} of strings");
		st = SYNC_PARSE_MALFORMED;
	}
	else if (strcmp(type, "match") == 0 || strcmp(type, "last_match") == 0)
	{
		if ((why = sync_json_string(root, "product_id", &product)) != NULL)
		{
			snprintf(errbuf, errlen, "Coinbase %s message: %s", type, why);
			st = SYNC_PARSE_MALFORMED;
		}
		else if ((t = sync_stream_target(set, product, true, 0)) != NULL)
			sync_stream_add_trade(set, t, root, coinbase_trade, "trades");
	}
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
