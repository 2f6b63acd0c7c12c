// fuzz-sources: client/http_params.c
// fuzz-libs:
/*-------------------------------------------------------------------------
 * fuzz_http_params.c
 *	  libFuzzer target: what `pg_sync serve` reads from a client before the
 *	  database sees it (client/http_params.c): the request target's query
 *	  string and each route's checks, a dashboard file name, the listen
 *	  address, a notification payload's source and symbol, and the JSON
 *	  strings and SSE frames written back.
 *
 * The input is one text (cut at its first NUL, as a C string would be)
 * given to every function.  Besides not crashing, each must keep its
 * promise: a request it accepts has parameters the routes can use as
 * they are (limit in range, a known interval that names itself back, a
 * source name of the allowed characters); a file name it accepts cannot
 * leave the directory; a JSON string it writes is valid JSON and UTF-8
 * whatever the bytes; an SSE frame it writes is exactly one event.
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/http_params.h"

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "broken: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

/* valid UTF-8, no raw control character, escapes well formed, quotes closed */
static void
check_json_string(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	CHECK(len >= 2 && p[0] == '"' && end[-1] == '"');
	p++;
	end--;
	while (p < end)
	{
		CHECK(*p >= 0x20 && *p != '"');
		if (*p == '\\')
		{
			CHECK(p + 1 < end);
			CHECK(strchr("\"\\/bfnrtu", p[1]) != NULL);
			if (p[1] == 'u')
			{
				CHECK(p + 5 < end);
				for (int i = 2; i < 6; i++)
					CHECK(strchr("0123456789abcdefABCDEF", p[i]) != NULL);
				p += 6;
			}
			else
				p += 2;
		}
		else if (*p < 0x80)
			p++;
		else
		{
			int			n = (*p >= 0xF0) ? 4 : (*p >= 0xE0) ? 3 : 2;

			CHECK(*p >= 0xC2 && *p <= 0xF4);
			CHECK(p + n <= end);
			for (int i = 1; i < n; i++)
				CHECK((p[i] & 0xC0) == 0x80);
			p += n;
		}
	}
}

/* "event: NAME\n", "data: ...\n" lines, then one blank line, nothing else */
static void
check_sse(const char *s, size_t len)
{
	const char *p = s;
	const char *end = s + len;
	bool		first = true;

	CHECK(len >= 2 && end[-1] == '\n' && end[-2] == '\n');
	CHECK(strchr(s, '\r') == NULL);
	while (p < end - 1)
	{
		const char *nl = memchr(p, '\n', end - p);

		CHECK(nl != NULL);
		CHECK(strncmp(p, first ? "event: " : "data: ", first ? 7 : 6) == 0);
		first = false;
		p = nl + 1;
	}
	CHECK(p == end - 1);
}

static void
check_request(const HttpSeriesRequest *r, bool bars)
{
	HttpInterval back;
	HttpError	err;

	CHECK(r->source && r->symbol);
	CHECK(strlen(r->source) >= 1 && strlen(r->source) <= HTTP_NAME_MAX_LEN);
	CHECK(strspn(r->source, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
		  strlen(r->source));
	CHECK(strlen(r->symbol) >= 1 && strlen(r->symbol) <= HTTP_SYMBOL_MAX_LEN);
	CHECK(r->limit >= 1 && r->limit <= 50000);
	if (r->from)
		CHECK(strlen(r->from) <= HTTP_TIME_MAX_LEN && strchr(r->from, '\'') == NULL);
	if (bars)
	{
		CHECK(r->interval.minutes >= 1 && r->interval.minutes <= HTTP_INTERVAL_MAX_MINUTES);
		CHECK(http_parse_interval(r->interval.name, &back, &err));
		CHECK(back.minutes == r->interval.minutes && strcmp(back.name, r->interval.name) == 0);
		if (r->session[0])
			CHECK(r->interval.minutes <= 24 * 60);
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size + 1);
	HttpQuery  *q = malloc(sizeof(HttpQuery));
	HttpError	err;
	HttpSeriesRequest r;
	HttpFilterRequest f;
	HttpInterval iv;
	HttpBuf		b;
	char		out[64];
	long		limit;
	struct sockaddr_storage addr;
	socklen_t	addrlen;
	bool		loopback;
	char		errbuf[256];

	memcpy(s, data, size);
	s[size] = '\0';

	/* the query string and each route's checks */
	if (http_query_parse(s, q, &err))
	{
		CHECK(q->nparams >= 0 && q->nparams <= HTTP_QUERY_MAX_PARAMS);
		for (int i = 0; i < q->nparams; i++)
		{
			CHECK(q->params[i].name[0] != '\0');
			for (int j = 0; j < i; j++)
				CHECK(strcmp(q->params[i].name, q->params[j].name) != 0);
		}
		if (http_bars_request(q, 5000, 50000, &r, &err))
			check_request(&r, true);
		else
			CHECK(err.status == 400 && err.message);
		if (http_trades_request(q, 5000, 50000, &r, &err))
			check_request(&r, false);
		if (http_filter_request(q, true, &f, &err) && f.source)
			CHECK(strlen(f.source) <= HTTP_NAME_MAX_LEN);
	}
	else
		CHECK((err.status == 400 || err.status == 414) && err.message);

	/* single values */
	if (http_parse_interval(s, &iv, &err))
		CHECK(iv.minutes >= 1 && iv.minutes <= HTTP_INTERVAL_MAX_MINUTES);
	if (http_parse_limit(s, 50000, &limit, &err))
		CHECK(limit >= 1 && limit <= 50000);
	(void) http_check_time("from", s, &err);
	(void) http_check_symbol("symbol", s, &err);

	/* a dashboard file */
	if (http_path_ok(s))
	{
		const char *nul = strstr(s, "%00");
		const char *query = strchr(s, '?');

		CHECK(nul == NULL || (query != NULL && query < nul));
	}
	if (http_static_name_ok(s))
		CHECK(strchr(s, '/') == NULL && strstr(s, "..") == NULL && s[0] != '.' && s[0] != '\0');
	(void) http_content_type(s);

	/* --listen */
	if (http_parse_listen(s, &addr, &addrlen, &loopback, errbuf, sizeof(errbuf)))
		CHECK(addr.ss_family == AF_INET || addr.ss_family == AF_INET6);
	else
		CHECK(memchr(errbuf, '\0', sizeof(errbuf)) != NULL);

	/* a notification payload */
	if (http_json_top_string(s, "source", out, sizeof(out)))
		CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	if (http_json_top_string(s, "symbol", out, 8))
		CHECK(strlen(out) < 8);

	/* what is written back */
	httpbuf_init(&b);
	httpbuf_json_string(&b, s);
	CHECK(!b.failed);
	check_json_string(b.data, b.len);
	httpbuf_free(&b);

	httpbuf_init(&b);
	httpbuf_sse_event(&b, "bars", s);
	CHECK(!b.failed);
	check_sse(b.data, b.len);
	httpbuf_free(&b);

	err.status = 400;
	err.message = s;
	snprintf(err.parameter, sizeof(err.parameter), "%s", s);
	httpbuf_init(&b);
	httpbuf_error_json(&b, &err);
	CHECK(!b.failed && b.len > 0 && b.data[b.len - 1] == '\n');
	httpbuf_free(&b);

	free(q);
	free(s);
	return 0;
}
