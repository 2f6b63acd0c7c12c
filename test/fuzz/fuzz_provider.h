/*-------------------------------------------------------------------------
 * fuzz_provider.h
 *	  The libFuzzer entry point shared by the provider targets: drives one
 *	  provider (FUZZ_PROVIDER) through the SyncProvider interface only, as
 *	  the workers do, so the target does not change when parser internals
 *	  do.
 *
 * Include it after defining FUZZ_PROVIDER and fuzz_symbols[4] (symbols of
 * that provider's own messages).  h[0] picks what the body is: a bars
 * page, a trades page, or stream messages (separated by NUL bytes; each
 * handed over on its own, NUL-terminated as the WebSocket client does).
 * h[5..7] pick the stream set: 1 to 4 series, each trades or bars, each
 * one of the provider's symbols or a hostile one.  Every mode also builds
 * the requests for the query, so URL and hello building see the same
 * hostile parameters.
 *
 * h[8] and h[9] retype one value of a JSON body or message: the h[9]-th
 * value (depth first) becomes null, a number, a string, a boolean, {},
 * [], a huge integer, or is taken out of its object or array.  A byte
 * mutation rarely turns "aggTrade" into null in one step (the steps
 * between are not JSON and add no coverage); one header byte does, for
 * every field of every shape the seeds hold.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_FUZZ_PROVIDER_H
#define SYNC_FUZZ_PROVIDER_H

#include <json-c/json.h>

#include "fuzz_common.h"

#define FUZZ_ERRLEN 256
#define FUZZ_HELLO_LEN 1024
#define FUZZ_MAX_TARGETS 4

static char fuzz_long_symbol[3000];

/* Symbol number i (0..3) of the header's choice; 3 may be a hostile one. */
static const char *
fuzz_symbol(const FuzzInput *in, int i)
{
	int			k = (in->h[6] >> (2 * i)) & 3;

	if (k < 3)
		return fuzz_symbols[k];
	switch (in->h[5] >> 6)
	{
		case 1:
			return "";
		case 2:
			return "A\"B\\C/../%00?#x";
		case 3:
			if (fuzz_long_symbol[0] == '\0')
				memset(fuzz_long_symbol, 'Z', sizeof(fuzz_long_symbol) - 1);
			return fuzz_long_symbol;
		default:
			return fuzz_symbols[3];
	}
}

/* What the value at the walk's target becomes (kind 1..8). */
static json_object *
fuzz_replacement(int kind)
{
	switch (kind)
	{
		case 1:
			return NULL;		/* JSON null */
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

/*
 * Walk o depth first counting values in *n; at the one where *n reaches
 * zero, retype it in its parent.  True once done.
 */
static bool
fuzz_retype_walk(json_object *o, int kind, int *n)
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
					json_object_object_add(o, key, fuzz_replacement(kind));
				return true;
			}
			if (fuzz_retype_walk(val, kind, n))
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
					json_object_array_put_idx(o, i, fuzz_replacement(kind));
				return true;
			}
			if (fuzz_retype_walk(json_object_array_get_idx(o, i), kind, n))
				return true;
		}
	}
	return false;
}

/*
 * body[len] with the value the header picks retyped, in a malloc'd
 * NUL-terminated copy (*outlen bytes); the body as is when it is no JSON
 * or the header picks nothing.
 */
static char *
fuzz_retype(const FuzzInput *in, const char *body, size_t len, size_t *outlen)
{
	int			kind = in->h[8] % 9;
	int			n = in->h[9];
	json_object *root = NULL;
	const char *text = NULL;
	char	   *out;

	if (kind != 0 && len < 65536)
	{
		json_tokener *tok = json_tokener_new();

		root = json_tokener_parse_ex(tok, body, (int) len);
		json_tokener_free(tok);
		if (root != NULL && fuzz_retype_walk(root, kind, &n))
			text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	}
	*outlen = text ? strlen(text) : len;
	out = malloc(*outlen + 1);
	memcpy(out, text ? text : body, *outlen);
	out[*outlen] = '\0';
	json_object_put(root);
	return out;
}

/* Build the requests for q: they must not crash whatever q a worker may hold. */
static void
fuzz_requests(const SyncProvider *p, const SyncBarQuery *q)
{
	SyncRequest *req;
	char	   *err;

	if (!fuzz_requestable(q))
		return;
	req = malloc(sizeof(SyncRequest));
	err = malloc(FUZZ_ERRLEN);
	memset(req, 0, sizeof(*req));
	err[0] = '\0';
	if (p->bars_request(q, req, err, FUZZ_ERRLEN))
	{
		if (memchr(req->url, '\0', sizeof(req->url)) == NULL)
			abort();
	}
	fuzz_check_errbuf(err, FUZZ_ERRLEN);
	if (p->trades_request != NULL)
	{
		memset(req, 0, sizeof(*req));
		err[0] = '\0';
		if (p->trades_request(q, req, err, FUZZ_ERRLEN) &&
			memchr(req->url, '\0', sizeof(req->url)) == NULL)
			abort();
		fuzz_check_errbuf(err, FUZZ_ERRLEN);
	}
	free(req);
	free(err);
}

static void
fuzz_page(const SyncProvider *p, const FuzzInput *in, bool trades)
{
	SyncBarQuery q;
	SyncPage	page;
	char	   *err = malloc(FUZZ_ERRLEN);
	size_t		len;
	char	   *body = fuzz_retype(in, in->body, in->len, &len);

	fuzz_query(&q, in, fuzz_symbol(in, 0));
	fuzz_requests(p, &q);
	fuzz_page_init(&page, q.limit);
	err[0] = '\0';
	(void) (trades ? p->parse_trades : p->parse_bars) (body, len, &q, &page, err, FUZZ_ERRLEN);
	fuzz_check_errbuf(err, FUZZ_ERRLEN);
	fuzz_check_page(&page);
	fuzz_page_free(&page);
	free(body);
	free(err);
}

static void
fuzz_stream(const SyncProvider *p, const FuzzInput *in)
{
	SyncBarQuery q[FUZZ_MAX_TARGETS];
	SyncStreamTarget targets[FUZZ_MAX_TARGETS];
	SyncStreamSet set;
	SyncPage	page;
	char	   *err = malloc(FUZZ_ERRLEN);
	char	   *url = malloc(SYNC_URL_LEN);
	char	   *hello = malloc(FUZZ_HELLO_LEN);
	size_t		at = 0;

	set.ntargets = 1 + (in->h[5] & 3);
	set.targets = targets;
	for (int i = 0; i < set.ntargets; i++)
	{
		bool		trades = (in->h[5] >> (2 + i)) & 1;

		fuzz_query(&q[i], in, fuzz_symbol(in, i));
		if (trades)
			fuzz_set_interval(&q[i], 1);
		else if (i & 1)
			fuzz_set_interval(&q[i], fuzz_intervals[in->h[7] >> 4]);
		targets[i].q = &q[i];
		targets[i].trades = trades;
		targets[i].subscribed = false;
	}
	fuzz_requests(p, &q[0]);
	fuzz_page_init(&page, q[0].limit);
	set.page = &page;

	err[0] = '\0';
	if (p->stream_url != NULL)
	{
		const char *root = (in->h[4] & 0x40) ? "ws://s:1/v2/test" : p->default_stream_url;

		if (p->stream_url(&set, root, url, SYNC_URL_LEN, err, FUZZ_ERRLEN) &&
			memchr(url, '\0', SYNC_URL_LEN) == NULL)
			abort();
		fuzz_check_errbuf(err, FUZZ_ERRLEN);
	}
	if (p->stream_hello != NULL)
		for (int n = 0; n < 4 && p->stream_hello(&set, n, hello, FUZZ_HELLO_LEN); n++)
			if (memchr(hello, '\0', FUZZ_HELLO_LEN) == NULL)
				abort();

	/* each message as the WebSocket client hands it over */
	while (at <= in->len)
	{
		const char *nul = memchr(in->body + at, '\0', in->len - at);
		size_t		n = (nul ? (size_t) (nul - in->body) : in->len) - at;
		size_t		msglen;
		char	   *msg = fuzz_retype(in, in->body + at, n, &msglen);

		err[0] = '\0';
		(void) p->parse_stream(msg, msglen, &set, err, FUZZ_ERRLEN);
		fuzz_check_errbuf(err, FUZZ_ERRLEN);
		fuzz_check_page(&page);
		free(msg);
		at += n + 1;
	}
	(void) sync_stream_all_confirmed(&set);
	fuzz_page_free(&page);
	free(err);
	free(url);
	free(hello);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const SyncProvider *p = &FUZZ_PROVIDER;
	FuzzInput	in;
	int			mode;

	fuzz_input(&in, data, size);
	mode = in.h[0] % 3;
	if (mode == 1 && p->parse_trades == NULL)
		mode = 0;
	if (mode == 2 && p->parse_stream == NULL)
		mode = p->parse_trades != NULL ? 1 : 0;
	if (mode == 2)
		fuzz_stream(p, &in);
	else
		fuzz_page(p, &in, mode == 1);
	fuzz_input_free(&in);
	return 0;
}

#endif							/* SYNC_FUZZ_PROVIDER_H */
