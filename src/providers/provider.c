/*-------------------------------------------------------------------------
 * provider.c
 *	  The table of providers, and the helpers every provider uses to fill
 *	  a page.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decimal.h"
#include "provider_json.h"
#include "validate.h"

static const SyncProvider *const providers[] = {
	&sync_provider_binance,
	&sync_provider_alpaca,
	&sync_provider_polygon,
	&sync_provider_coinbase,
	&sync_provider_csv,
};

const SyncProvider *
sync_provider_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

/* Keep a refused record; past the capacity only the count grows. */
void
sync_page_reject(SyncPage *page, const char *reason, const char *payload)
{
	SyncReject *r;

	if (page->nrejects >= page->reject_capacity)
		return;
	r = &page->rejects[page->nrejects++];
	r->ts_ms = INT64_MIN;
	r->target = 0;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	snprintf(r->payload, sizeof(r->payload), "%s", payload ? payload : "");
}

/*
 * Copy decimal text, writing an exponent form ("1.5e-7", as JSON encoders
 * print tiny numbers) out as plain digits; false when it does not fit.
 * Text that is no number at all is copied as is for validation to refuse.
 */
bool
sync_copy_decimal(char *dst, const char *src)
{
	size_t		len = strlen(src);

	if (strpbrk(src, "eE") != NULL)
		return sync_decimal_expand(src, dst, SYNC_NUM_LEN);
	if (len >= SYNC_NUM_LEN)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

/*
 * Validate the bar just parsed into page->bars[page->nbars] and keep it, or
 * reject it with its payload: the text given, else the JSON element's
 * text, else the bar as JSON (an element is only printed when refused:
 * printing every one costs as much as parsing it).  Keeps last_ts_ms up to
 * date: only a time in the asked range may move the checkpoint.
 */
static void
accept_bar(SyncPage *page, const SyncBarQuery *q, int64_t *prev_ts, const char *payload,
		   json_object *e)
{
	SyncBar    *bar = &page->bars[page->nbars];
	const char *why = sync_validate_bar(bar, q, *prev_ts);

	if (bar->ts_ms > page->last_ts_ms && bar->ts_ms >= q->from_ms && bar->ts_ms < q->to_ms)
		page->last_ts_ms = bar->ts_ms;
	if (why != NULL)
	{
		char		json[SYNC_PAYLOAD_LEN];
		int			before = page->nrejects;

		if (payload == NULL && e != NULL)
			payload = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
		if (payload == NULL)
		{
			sync_bar_to_json(bar, json, sizeof(json));
			payload = json;
		}
		sync_page_reject(page, why, payload);
		/* a refused bar's minute is missing data, not a quiet minute */
		if (page->nrejects > before && bar->ts_ms >= q->from_ms && bar->ts_ms < q->to_ms)
			page->rejects[before].ts_ms = bar->ts_ms;
		return;
	}
	*prev_ts = bar->ts_ms;
	page->nbars++;
}

void
sync_page_accept(SyncPage *page, const SyncBarQuery *q, int64_t *prev_ts, const char *payload)
{
	accept_bar(page, q, prev_ts, payload, NULL);
}

/* Validate the trade just parsed into page->trades[ntrades]; keep or reject it. */
static void
accept_trade(SyncPage *page, const SyncBarQuery *q, const char *payload, json_object *e)
{
	SyncTrade  *t = &page->trades[page->ntrades];
	const char *why;

	/* newer than the asked end: the next poll asks for it, not refused */
	int64_t		ms = sync_ms_of_us(t->ts_us);

	if (ms >= q->to_ms)
		return;
	why = sync_validate_trade(t, q);
	if (ms > page->last_ts_ms && ms >= q->from_ms && ms < q->to_ms)
		page->last_ts_ms = ms;
	if (why == NULL)
		page->ntrades++;
	else
		sync_page_reject(page, why, payload != NULL ? payload :
						 json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
}

void
sync_page_accept_trade(SyncPage *page, const SyncBarQuery *q, const char *payload)
{
	accept_trade(page, q, payload, NULL);
}

/*
 * Parse a whole body as one JSON value; trailing bytes other than white
 * space make it malformed (a truncated or concatenated answer).
 */
SyncParseStatus
sync_parse_json(const char *body, size_t len, json_object **root, const char *who,
				char *errbuf, size_t errlen)
{
	/* one tokener for every parse: creating one costs more than a small message */
	static json_tokener *tok = NULL;
	enum json_tokener_error jerr;

	if (tok == NULL && (tok = json_tokener_new()) == NULL)
	{
		*root = NULL;
		snprintf(errbuf, errlen, "out of memory parsing JSON from %s", who);
		return SYNC_PARSE_MALFORMED;
	}
	json_tokener_reset(tok);

	*root = json_tokener_parse_ex(tok, body, (int) len);
	jerr = json_tokener_get_error(tok);
	if (*root != NULL && jerr == json_tokener_success)
	{
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' && body[i] != '\t')
			{
				jerr = json_tokener_error_parse_unexpected;
				break;
			}
	}
	if (*root == NULL || jerr != json_tokener_success)
	{
		snprintf(errbuf, errlen, "malformed JSON from %s: %s", who,
				 jerr == json_tokener_continue ? "body ends early" : json_tokener_error_desc(jerr));
		json_object_put(*root);
		*root = NULL;
		return SYNC_PARSE_MALFORMED;
	}
	return SYNC_PARSE_OK;
}

/* A bar as JSON, for the payload of a reject that has no raw text left. */
void
sync_bar_to_json(const SyncBar *b, char *buf, size_t len)
{
	snprintf(buf, len, "{\"t\":%lld,\"o\":\"%s\",\"h\":\"%s\",\"l\":\"%s\",\"c\":\"%s\",\"v\":\"%s\"}",
			 (long long) b->ts_ms, b->open, b->high, b->low, b->close, b->volume);
}

void
sync_request_add_header(SyncRequest *req, const char *fmt, const char *value)
{
	int			n = 0;

	while (req->headers[n] != NULL && n < SYNC_MAX_HEADERS)
		n++;
	if (n == SYNC_MAX_HEADERS)
		return;
	snprintf(req->header_buf[n], SYNC_HEADER_LEN, fmt, value);
	req->headers[n] = req->header_buf[n];
	req->headers[n + 1] = NULL;
}

/* A JSON number's or decimal string's exact text; NULL when fine, else why not. */
const char *
sync_json_decimal(json_object *f, char *dst)
{
	if (!json_object_is_type(f, json_type_double) && !json_object_is_type(f, json_type_int) &&
		!json_object_is_type(f, json_type_string))
		return "a price or volume field is not a number";
	if (!sync_copy_decimal(dst, json_object_get_string(f)))
		return "decimal field too long";
	return NULL;
}

/* The same for a member of an object; an absent optional member gives "". */
const char *
sync_json_member_decimal(json_object *o, const char *key, char *dst, bool required)
{
	json_object *f;

	if (!json_object_object_get_ex(o, key, &f) || json_object_is_type(f, json_type_null))
	{
		dst[0] = '\0';
		return required ? "a required field is missing" : NULL;
	}
	return sync_json_decimal(f, dst);
}

static int
bar_ts_cmp(const void *a, const void *b)
{
	int64_t		x = ((const SyncBar *) a)->ts_ms;
	int64_t		y = ((const SyncBar *) b)->ts_ms;

	return x < y ? -1 : x > y;
}

/* Sort bars[from .. from+n) of a page whose provider answers newest first. */
void
sync_page_sort_tail(SyncPage *page, int n)
{
	qsort(&page->bars[page->nbars], n, sizeof(SyncBar), bar_ts_cmp);
}

/*
 * Every element of a JSON array of bars (oldest first) through fn, then
 * validation: kept, or refused with its raw text.  "what" names the
 * elements in the reason given when there are more than the page holds.
 */
void
sync_page_add_bars(SyncPage *page, const SyncBarQuery *q, json_object *array,
				   SyncBarElementFn fn, const char *what)
{
	size_t		n = json_object_array_length(array);
	int64_t		prev = INT64_MIN;

	for (size_t i = 0; i < n; i++)
		sync_page_add_bar(page, q, json_object_array_get_idx(array, i), fn, what, &prev);
}

/*
 * One bar (a REST array element or a stream message) through fn, then
 * validation: kept, or refused with its raw text.  prev is the time of the
 * bar kept before it, for the order check.
 */
void
sync_page_add_bar(SyncPage *page, const SyncBarQuery *q, json_object *e,
				  SyncBarElementFn fn, const char *what, int64_t *prev)
{
	const char *why;

	page->nreceived++;
	if (page->nbars >= page->bar_capacity)
	{
		char		reason[SYNC_REASON_LEN];

		snprintf(reason, sizeof(reason), "more %s than the page size asked for", what);
		sync_page_reject(page, reason, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		return;
	}
	page->bars[page->nbars].ts_ms = INT64_MIN;
	why = fn(e, &page->bars[page->nbars]);
	if (why != NULL)
		sync_page_reject(page, why, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
	else
		accept_bar(page, q, prev, NULL, e);
}

/* The same for an array of trades. */
void
sync_page_add_trades(SyncPage *page, const SyncBarQuery *q, json_object *array,
					 SyncTradeElementFn fn, const char *what)
{
	size_t		n = json_object_array_length(array);

	for (size_t i = 0; i < n; i++)
		sync_page_add_trade(page, q, json_object_array_get_idx(array, i), fn, what);
}

/* One trade, likewise. */
void
sync_page_add_trade(SyncPage *page, const SyncBarQuery *q, json_object *e,
					SyncTradeElementFn fn, const char *what)
{
	const char *why;

	page->nreceived++;
	if (page->ntrades >= page->trade_capacity)
	{
		char		reason[SYNC_REASON_LEN];

		snprintf(reason, sizeof(reason), "more %s than the page size asked for", what);
		sync_page_reject(page, reason, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		return;
	}
	why = fn(e, &page->trades[page->ntrades]);
	if (why != NULL)
		sync_page_reject(page, why, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
	else
		accept_trade(page, q, NULL, e);
}

/*
 * The series of a stream set that a message of symbol (as the provider
 * spells it, in any case) and kind belongs to; NULL when none: a series
 * not asked for, or bars of another interval.
 */
SyncStreamTarget *
sync_stream_target(SyncStreamSet *set, const char *symbol, bool trades, int64_t interval_ms)
{
	for (int i = 0; i < set->ntargets; i++)
	{
		SyncStreamTarget *t = &set->targets[i];

		if (t->trades == trades && strcasecmp(t->q->symbol, symbol) == 0 &&
			(trades || t->q->interval_ms == interval_ms))
			return t;
	}
	return NULL;
}

/* The provider confirmed the subscription of symbol's trades (or bars). */
void
sync_stream_confirm(SyncStreamSet *set, const char *symbol, bool trades)
{
	for (int i = 0; i < set->ntargets; i++)
		if (set->targets[i].trades == trades && strcasecmp(set->targets[i].q->symbol, symbol) == 0)
			set->targets[i].subscribed = true;
}

bool
sync_stream_all_confirmed(const SyncStreamSet *set)
{
	for (int i = 0; i < set->ntargets; i++)
		if (!set->targets[i].subscribed)
			return false;
	return true;
}

/* Stamp what the page gained since (nbars, ntrades, nrejects) with series t. */
static void
stamp_target(SyncStreamSet *set, const SyncStreamTarget *t, int nb, int nt, int nr)
{
	int32_t		idx = (int32_t) (t - set->targets);

	for (int i = nb; i < set->page->nbars; i++)
		set->page->bars[i].target = idx;
	for (int i = nt; i < set->page->ntrades; i++)
		set->page->trades[i].target = idx;
	for (int i = nr; i < set->page->nrejects; i++)
		set->page->rejects[i].target = idx;
}

void
sync_stream_add_bar(SyncStreamSet *set, const SyncStreamTarget *t, json_object *e,
					SyncBarElementFn fn, const char *what)
{
	int			nb = set->page->nbars;
	int			nr = set->page->nrejects;
	int64_t		prev = INT64_MIN;

	sync_page_add_bar(set->page, t->q, e, fn, what, &prev);
	stamp_target(set, t, nb, set->page->ntrades, nr);
}

void
sync_stream_add_trade(SyncStreamSet *set, const SyncStreamTarget *t, json_object *e,
					  SyncTradeElementFn fn, const char *what)
{
	int			nt = set->page->ntrades;
	int			nr = set->page->nrejects;

	sync_page_add_trade(set->page, t->q, e, fn, what);
	stamp_target(set, t, set->page->nbars, nt, nr);
}

/*
 * The stream URL of providers whose endpoint is given whole (the feed or
 * cluster in its path) and that stream 1-minute bars only; false, saying
 * so in who's words, for a set with bars of another interval.
 */
bool
sync_stream_url_as_given(const SyncStreamSet *set, const char *root, char *url, size_t urllen,
						 char *errbuf, size_t errlen, const char *who)
{
	for (int i = 0; i < set->ntargets; i++)
		if (!set->targets[i].trades && set->targets[i].q->interval_ms != 60000)
		{
			snprintf(errbuf, errlen, "%s streams 1-minute bars only", who);
			return false;
		}
	snprintf(url, urllen, "%s", root);
	return true;
}
