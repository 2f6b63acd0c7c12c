/*-------------------------------------------------------------------------
 * http_params.h
 *	  What `pg_sync serve` makes of the bytes a client sends, before any of
 *	  them reaches the database: the query string split and decoded, each
 *	  route's parameters checked, the name of a dashboard file, the listen
 *	  address; and the text it writes back (JSON strings, SSE frames).
 *
 * Plain C with no libpq and no libmicrohttpd, so that a fuzzer can drive
 * every function here alone (test/fuzz/fuzz_http_params.c).  Nothing here
 * allocates but HttpBuf; a request's parameters live in its HttpQuery.
 *-------------------------------------------------------------------------
 */
#ifndef HTTP_PARAMS_H
#define HTTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* bounds on what a request may carry (a longer one is refused, not cut) */
#define HTTP_QUERY_MAX_LEN		4096	/* bytes of the raw query string */
#define HTTP_QUERY_MAX_PARAMS	16
#define HTTP_NAME_MAX_LEN		63	/* a source name, as sync_add_source() allows */
#define HTTP_SYMBOL_MAX_LEN		128
#define HTTP_TIME_MAX_LEN		64
#define HTTP_INTERVAL_MAX_MINUTES	(366 * 24 * 60)

/* the error to send back: an HTTP status, what was wrong, and where */
typedef struct HttpError
{
	int			status;			/* 400, 404... */
	const char *message;		/* a static string */
	char		parameter[HTTP_NAME_MAX_LEN + 1];	/* "" when about no parameter */
} HttpError;

typedef struct HttpParam
{
	const char *name;			/* decoded, NUL-terminated, inside HttpQuery.storage */
	const char *value;
} HttpParam;

/* a request's query string, decoded */
typedef struct HttpQuery
{
	int			nparams;
	HttpParam	params[HTTP_QUERY_MAX_PARAMS];
	/* every name and value, each NUL-terminated: at most 2 bytes a raw byte */
	char		storage[2 * HTTP_QUERY_MAX_LEN + 2];
} HttpQuery;

/* A bar width: whole minutes, and how it is written back ("5m", "1h", "2d"). */
typedef struct HttpInterval
{
	int			minutes;
	char		name[16];
} HttpInterval;

/* /api/bars and /api/trades, checked (pointers into the HttpQuery) */
typedef struct HttpSeriesRequest
{
	const char *source;
	const char *symbol;
	const char *from;			/* NULL: the default (to - 24 hours) */
	const char *to;				/* NULL: now */
	char		session[HTTP_NAME_MAX_LEN + 1];	/* upper case; "" for none */
	HttpInterval interval;		/* bars only; 1m when not given */
	long		limit;
} HttpSeriesRequest;

/* /api/status and /api/events: which series (NULL: all) */
typedef struct HttpFilterRequest
{
	const char *source;
	const char *symbol;
} HttpFilterRequest;

/* A growing text buffer; after an allocation failure it stays failed. */
typedef struct HttpBuf
{
	char	   *data;			/* malloc'd, NUL-terminated when not failed */
	size_t		len;
	size_t		cap;
	bool		failed;
} HttpBuf;

extern bool http_query_parse(const char *uri, HttpQuery *q, HttpError *err);
extern const char *http_query_get(const HttpQuery *q, const char *name);
extern bool http_query_allow(const HttpQuery *q, const char *const *allowed, HttpError *err);

extern bool http_check_source(const char *name, const char *value, HttpError *err);
extern bool http_check_symbol(const char *name, const char *value, HttpError *err);
extern bool http_check_time(const char *name, const char *value, HttpError *err);
extern bool http_parse_limit(const char *value, long max, long *out, HttpError *err);
extern bool http_parse_interval(const char *value, HttpInterval *out, HttpError *err);

extern bool http_bars_request(const HttpQuery *q, long default_limit, long max_limit,
							  HttpSeriesRequest *r, HttpError *err);
extern bool http_trades_request(const HttpQuery *q, long default_limit, long max_limit,
								HttpSeriesRequest *r, HttpError *err);
extern bool http_filter_request(const HttpQuery *q, bool with_symbol, HttpFilterRequest *r,
								HttpError *err);

extern bool http_path_ok(const char *uri);
extern bool http_static_name_ok(const char *name);
extern const char *http_content_type(const char *name);

extern bool http_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *addrlen,
							  bool *loopback, char *errbuf, size_t errlen);

extern bool http_json_top_string(const char *json, const char *key, char *out, size_t outlen);

extern void httpbuf_init(HttpBuf *b);
extern void httpbuf_free(HttpBuf *b);
extern void httpbuf_append(HttpBuf *b, const char *s, size_t len);
extern void httpbuf_puts(HttpBuf *b, const char *s);
extern void httpbuf_json_string(HttpBuf *b, const char *s);
extern void httpbuf_sse_event(HttpBuf *b, const char *event, const char *data);
extern void httpbuf_error_json(HttpBuf *b, const HttpError *err);

#endif							/* HTTP_PARAMS_H */
