/*-------------------------------------------------------------------------
 * coinbase.c
 *	  Coinbase Exchange candles: GET /products/{product_id}/candles
 *
 * Asked with granularity (seconds), start and end (RFC 3339, inclusive).
 * The answer is an array, newest first, of
 *   [time (s), low, high, open, close, volume]
 * with numbers for values.  A request may span at most 300 candles, so a
 * long range is asked window by window.  Errors: {"message": "NotFound"}.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "provider_json.h"

#define COINBASE_MAX_CANDLES 300

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
	sync_format_rfc3339(q->from_ms, start, sizeof(start));
	sync_format_rfc3339(req->window_to_ms - 1000, end, sizeof(end));
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
	json_object *msg;
	int64_t		prev = INT64_MIN;
	int			parsed = 0;
	int			base = page->nbars;
	size_t		n;

	if (sync_parse_json(body, len, &root, "Coinbase", errbuf, errlen) != SYNC_PARSE_OK)
		return SYNC_PARSE_MALFORMED;
	if (json_object_is_type(root, json_type_object) &&
		json_object_object_get_ex(root, "message", &msg))
	{
		snprintf(errbuf, errlen, "Coinbase error: %s", json_object_get_string(msg));
		json_object_put(root);
		return SYNC_PARSE_PROVIDER_ERROR;
	}
	if (!json_object_is_type(root, json_type_array))
	{
		snprintf(errbuf, errlen, "Coinbase candles answer is not a JSON array");
		json_object_put(root);
		return SYNC_PARSE_MALFORMED;
	}

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

const SyncProvider sync_provider_coinbase = {
	.name = "coinbase",
	.default_base_url = "https://api.exchange.coinbase.com",
	.max_page = COINBASE_MAX_CANDLES,
	.bars_request = coinbase_bars_request,
	.parse_bars = coinbase_parse_bars,
};
