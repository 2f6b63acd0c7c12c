/*-------------------------------------------------------------------------
 * fuzz_multi.h
 *	  The libFuzzer entry point shared by the multi-symbol targets: drives
 *	  one provider's multi-symbol parser (FUZZ_PROVIDER's
 *	  parse_multi_bars / parse_multi_trades) and request builders through
 *	  the SyncProvider interface only, as the worker pool does.
 *
 * Include it after defining FUZZ_PROVIDER and fuzz_symbols[4].  The header
 * (fuzz_common.h) picks: h[0] bars or trades; h[1] to h[4] and h[7] the
 * query of every series (interval, page size, window, feed, credentials);
 * h[5] the number of series (1 to 4) and the hostile symbol, h[6] each
 * series' symbol (two of them may be the same, in one case or another),
 * h[7]'s high bits which series start or end a minute or a day off the
 * others (so records fall outside one series' range and inside
 * another's); h[8] and h[9] retype one value of the body, as
 * fuzz_provider.h does.  Checks: errbuf a string, the page's counts in
 * its arrays, every record stamped with a series of the set.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_FUZZ_MULTI_H
#define SYNC_FUZZ_MULTI_H

#include <json-c/json.h>

#include "fuzz_common.h"

#define FUZZ_ERRLEN 256
#define FUZZ_MAX_SERIES 4

static char fuzz_long_symbol[3000];

/* series i's symbol: one of the provider's, a case variant, or a hostile one */
static const char *
fuzz_multi_symbol(const FuzzInput *in, int i)
{
	static const char *const lower[4] = {"aapl", "msft", "aig", "s"};
	int			k = (in->h[6] >> (2 * i)) & 3;

	if (k < 3)
		return (in->h[5] & (4 << i)) && i > 0 ? lower[k] : fuzz_symbols[k];
	switch (in->h[5] >> 6)
	{
		case 1:
			return "";
		case 2:
			return "A\"B\\C/../%00?#x,Y";
		case 3:
			if (fuzz_long_symbol[0] == '\0')
				memset(fuzz_long_symbol, 'Z', sizeof(fuzz_long_symbol) - 1);
			return fuzz_long_symbol;
		default:
			return fuzz_symbols[3];
	}
}

static json_object *
fuzz_multi_replacement(int kind)
{
	switch (kind)
	{
		case 1:
			return NULL;
		case 2:
			return json_object_new_double(-1e308);
		case 3:
			return json_object_new_string("x");
		case 4:
			return json_object_new_boolean(1);
		case 5:
			return json_object_new_object();
		case 6:
			return json_object_new_array();
		default:
			return json_object_new_int64(INT64_MAX);
	}
}

/* depth first, the *n-th value retyped (kind 8: taken out) */
static bool
fuzz_multi_walk(json_object *o, int kind, int *n)
{
	if (json_object_is_type(o, json_type_object))
	{
		json_object_object_foreach(o, key, val)
		{
			if ((*n)-- == 0)
			{
				if (kind == 8)
					json_object_object_del(o, key);
				else
					json_object_object_add(o, key, fuzz_multi_replacement(kind));
				return true;
			}
			if (fuzz_multi_walk(val, kind, n))
				return true;
		}
	}
	else if (json_object_is_type(o, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(o); i++)
		{
			if ((*n)-- == 0)
			{
				if (kind == 8)
					json_object_array_del_idx(o, i, 1);
				else
					json_object_array_put_idx(o, i, fuzz_multi_replacement(kind));
				return true;
			}
			if (fuzz_multi_walk(json_object_array_get_idx(o, i), kind, n))
				return true;
		}
	}
	return false;
}

/* the body with the value h[8], h[9] pick retyped, malloc'd and NUL-terminated */
static char *
fuzz_multi_retype(const FuzzInput *in, size_t *outlen)
{
	int			kind = in->h[8] % 9;
	int			n = in->h[9];
	json_object *root = NULL;
	const char *text = NULL;
	char	   *out;

	if (kind != 0 && in->len < 65536)
	{
		json_tokener *tok = json_tokener_new();

		root = json_tokener_parse_ex(tok, in->body, (int) in->len);
		json_tokener_free(tok);
		if (root != NULL && fuzz_multi_walk(root, kind, &n))
			text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	}
	*outlen = text ? strlen(text) : in->len;
	out = malloc(*outlen + 1);
	if (out == NULL)
		abort();
	memcpy(out, text ? text : in->body, *outlen);
	out[*outlen] = '\0';
	json_object_put(root);
	return out;
}

/* every record of the page stamped with a series of the set */
static void
fuzz_check_targets(const SyncPage *page, int nseries)
{
	for (int i = 0; i < page->nbars; i++)
		if (page->bars[i].target < 0 || page->bars[i].target >= nseries)
			abort();
	for (int i = 0; i < page->ntrades; i++)
		if (page->trades[i].target < 0 || page->trades[i].target >= nseries)
			abort();
	for (int i = 0; i < page->nrejects; i++)
		if (page->rejects[i].target < 0 || page->rejects[i].target >= nseries)
			abort();
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const SyncProvider *p = &FUZZ_PROVIDER;
	FuzzInput	in;
	SyncBarQuery q[FUZZ_MAX_SERIES];
	const SyncBarQuery *qp[FUZZ_MAX_SERIES];
	SyncMultiQuery mq;
	SyncPage	page;
	SyncRequest *req = malloc(sizeof(SyncRequest));
	char	   *err = malloc(FUZZ_ERRLEN);
	bool		trades;
	char	   *body;
	size_t		len;
	bool		requestable = true;

	if (req == NULL || err == NULL)
		abort();
	fuzz_input(&in, data, size);
	trades = (in.h[0] & 1) && p->parse_multi_trades != NULL;
	mq.series = qp;
	mq.nseries = 1 + (in.h[5] & 3);
	for (int i = 0; i < mq.nseries; i++)
	{
		int64_t		shift = (in.h[1] & 0x80) ? 86400000 : 60000;

		fuzz_query(&q[i], &in, fuzz_multi_symbol(&in, i));
		/* some series start or end a step off the others */
		if ((in.h[7] >> (4 + i)) & 1)
		{
			if (q[i].from_ms < INT64_MAX - shift)
				q[i].from_ms += shift;
			if (i & 1 && q[i].to_ms > INT64_MIN + shift)
				q[i].to_ms -= shift;
		}
		qp[i] = &q[i];
		requestable &= fuzz_requestable(&q[i]);
	}
	mq.from_ms = q[0].from_ms;
	mq.to_ms = q[0].to_ms;
	for (int i = 1; i < mq.nseries; i++)
	{
		if (q[i].from_ms < mq.from_ms)
			mq.from_ms = q[i].from_ms;
		if (q[i].to_ms > mq.to_ms)
			mq.to_ms = q[i].to_ms;
	}
	mq.limit = q[0].limit;

	/* the requests, for queries a worker may hold */
	if (requestable)
	{
		memset(req, 0, sizeof(*req));
		err[0] = '\0';
		if (p->multi_bars_request != NULL && p->multi_bars_request(&mq, req, err, FUZZ_ERRLEN) &&
			(memchr(req->url, '\0', sizeof(req->url)) == NULL || req->window_to_ms > mq.to_ms))
			abort();
		fuzz_check_errbuf(err, FUZZ_ERRLEN);
		memset(req, 0, sizeof(*req));
		err[0] = '\0';
		if (p->multi_trades_request != NULL && p->multi_trades_request(&mq, req, err, FUZZ_ERRLEN) &&
			memchr(req->url, '\0', sizeof(req->url)) == NULL)
			abort();
		fuzz_check_errbuf(err, FUZZ_ERRLEN);
	}

	body = fuzz_multi_retype(&in, &len);
	fuzz_page_init(&page, mq.limit);
	err[0] = '\0';
	(void) (trades ? p->parse_multi_trades : p->parse_multi_bars) (body, len, &mq, &page, err, FUZZ_ERRLEN);
	fuzz_check_errbuf(err, FUZZ_ERRLEN);
	fuzz_check_page(&page);
	fuzz_check_targets(&page, mq.nseries);
	fuzz_page_free(&page);
	free(body);
	free(req);
	free(err);
	fuzz_input_free(&in);
	return 0;
}

#endif							/* SYNC_FUZZ_MULTI_H */
