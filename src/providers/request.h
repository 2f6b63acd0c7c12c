/*-------------------------------------------------------------------------
 * request.h
 *	  Building a provider's request from a query without trusting it
 *	  (request.c): URLs whose every user-given part (symbol, feed) is
 *	  percent-encoded and that libcurl's URL API assembles, and arithmetic
 *	  on query numbers that saturates instead of overflowing.
 *
 * A symbol may hold "/", "?", "#", "%", spaces: pasted into a URL it would
 * change the path or the query asked (another endpoint, another symbol).
 * Here it is one encoded path segment or one encoded query value; a part
 * that cannot be expressed (an empty segment, "." or "..", which a server
 * or libcurl would fold into the path) makes the request an error.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_REQUEST_H
#define SYNC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "provider.h"

typedef struct SyncUrl
{
	char		path[SYNC_URL_LEN];		/* encoded, after the base URL's own path */
	char		query[SYNC_URL_LEN];	/* encoded, after the base URL's own query */
	size_t		path_len;
	size_t		query_len;
	char		error[128];		/* the first part that could not be expressed */
} SyncUrl;

extern void sync_url_init(SyncUrl *u);
extern void sync_url_path(SyncUrl *u, const char *text);
extern void sync_url_segment(SyncUrl *u, const char *what, const char *raw, const char *suffix);
extern void sync_url_param(SyncUrl *u, const char *name, const char *value);
extern void sync_url_param_raw(SyncUrl *u, const char *name, const char *text);
extern void sync_url_param_int(SyncUrl *u, const char *name, int64_t v);
extern bool sync_url_escape(const char *raw, char *dst, size_t len);
extern bool sync_url_finish(SyncUrl *u, const char *base, char *url, size_t len,
							char *errbuf, size_t errlen);

/* a + b and a * b, held at INT64_MIN / INT64_MAX instead of overflowing */
static inline int64_t
sync_add_sat(int64_t a, int64_t b)
{
	int64_t		r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static inline int64_t
sync_mul_sat(int64_t a, int64_t b)
{
	int64_t		r;

	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

#endif							/* SYNC_REQUEST_H */
