/*-------------------------------------------------------------------------
 * http_params.c
 *	  Everything `pg_sync serve` reads from a client's request line before
 *	  the database sees it, and the text framing of what it sends back.
 *
 * Each check is strict and says which parameter is at fault: the query
 * string is split on '&', percent-decoded ('+' is a space), and refused
 * when malformed, too long, holding a NUL byte, a parameter twice, or a
 * name the route does not take.  An empty value is the same as leaving
 * the parameter out.  Values that pass still go to SQL only as
 * parameters of PQexecParams: these checks are for clear 400s, not the
 * defence against injection.  Times are only screened for their
 * characters here; PostgreSQL parses them (its timestamptz input is the
 * one users know), and its error becomes the 400.
 *
 * No libpq, no libmicrohttpd, no PostgreSQL headers: the fuzz target
 * (test/fuzz/fuzz_http_params.c) links this file alone.
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_params.h"

/* the largest text a buffer may grow to: far above any row limit's JSON */
#define HTTPBUF_MAX		((size_t) 1 << 30)

static bool
fail(HttpError *err, int status, const char *message, const char *parameter)
{
	err->status = status;
	err->message = message;
	err->parameter[0] = '\0';
	if (parameter)
	{
		size_t		n = strlen(parameter);

		if (n > HTTP_NAME_MAX_LEN)
			n = HTTP_NAME_MAX_LEN;
		memcpy(err->parameter, parameter, n);
		err->parameter[n] = '\0';
	}
	return false;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode [p, end) into *out and NUL-terminate it; false for a broken
 * %-escape or a NUL byte (which no C string downstream could carry).
 */
static bool
url_decode(const char *p, const char *end, char **out)
{
	char	   *o = *out;

	while (p < end)
	{
		if (*p == '%')
		{
			int			hi,
						lo;

			if (end - p < 3)
				return false;
			hi = hex_value((unsigned char) p[1]);
			lo = hex_value((unsigned char) p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			*o++ = (char) (hi * 16 + lo);
			p += 3;
		}
		else if (*p == '+')
		{
			*o++ = ' ';
			p++;
		}
		else
			*o++ = *p++;
	}
	*o++ = '\0';
	*out = o;
	return true;
}

/*
 * Split and decode the query string of uri (a request target such as
 * "/api/bars?source=x&symbol=y"; no '?' means no parameters) into q.
 */
bool
http_query_parse(const char *uri, HttpQuery *q, HttpError *err)
{
	const char *p = strchr(uri, '?');
	char	   *out = q->storage;

	q->nparams = 0;
	if (p == NULL)
		return true;
	p++;
	if (strlen(p) > HTTP_QUERY_MAX_LEN)
		return fail(err, 414, "query string too long", NULL);
	while (*p)
	{
		const char *end = p + strcspn(p, "&");
		const char *eq = memchr(p, '=', end - p);
		const char *name = out;
		const char *value;

		if (end == p)
		{
			p++;				/* "a=1&&b=2" */
			continue;
		}
		if (q->nparams == HTTP_QUERY_MAX_PARAMS)
			return fail(err, 400, "too many parameters", NULL);
		if (!url_decode(p, eq ? eq : end, &out))
			return fail(err, 400, "malformed percent-encoding in a parameter name", NULL);
		value = out;
		if (!url_decode(eq ? eq + 1 : end, end, &out))
			return fail(err, 400, "malformed percent-encoding in a parameter value", name);
		if (name[0] == '\0')
			return fail(err, 400, "a parameter without a name", NULL);
		for (int i = 0; i < q->nparams; i++)
			if (strcmp(q->params[i].name, name) == 0)
				return fail(err, 400, "parameter given more than once", name);
		q->params[q->nparams].name = name;
		q->params[q->nparams].value = value;
		q->nparams++;
		p = *end ? end + 1 : end;
	}
	return true;
}

/* The value of a parameter, NULL when it is absent or empty. */
const char *
http_query_get(const HttpQuery *q, const char *name)
{
	for (int i = 0; i < q->nparams; i++)
		if (strcmp(q->params[i].name, name) == 0)
			return q->params[i].value[0] ? q->params[i].value : NULL;
	return NULL;
}

/* Refuse a parameter not in allowed (NULL-terminated): a typo is a 400. */
bool
http_query_allow(const HttpQuery *q, const char *const *allowed, HttpError *err)
{
	for (int i = 0; i < q->nparams; i++)
	{
		bool		known = false;

		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, q->params[i].name) == 0)
				known = true;
		if (!known)
			return fail(err, 400, "unknown parameter", q->params[i].name);
	}
	return true;
}

/* A source name as sync_add_source() allows them: 1-63 of A-Z a-z 0-9 _ . - */
bool
http_check_source(const char *name, const char *value, HttpError *err)
{
	size_t		n = strlen(value);

	if (n == 0 || n > HTTP_NAME_MAX_LEN ||
		strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return fail(err, 400, "unknown source", name);
	return true;
}

/*
 * Length of the valid UTF-8 sequence at s (NUL-terminated), 0 when the
 * bytes there are not one (overlong, surrogate, past U+10FFFF, cut).
 */
static int
utf8_seq_len(const unsigned char *s)
{
	int			n;
	uint32_t	cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;			/* also stops at the NUL */
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
		(cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* A symbol: 1-128 bytes of UTF-8 without control characters. */
bool
http_check_symbol(const char *name, const char *value, HttpError *err)
{
	const unsigned char *s = (const unsigned char *) value;
	size_t		n = strlen(value);

	if (n == 0 || n > HTTP_SYMBOL_MAX_LEN)
		return fail(err, 400, "not a valid symbol", name);
	while (*s)
	{
		int			len = utf8_seq_len(s);

		if (len == 0 || *s < 0x20 || *s == 0x7F)
			return fail(err, 400, "not a valid symbol", name);
		s += len;
	}
	return true;
}

/*
 * A time for PostgreSQL's timestamptz input: only its characters are
 * screened here (ISO 8601 with T and Z or an offset, or a zone name).
 */
bool
http_check_time(const char *name, const char *value, HttpError *err)
{
	size_t		n = strlen(value);

	if (n == 0 || n > HTTP_TIME_MAX_LEN ||
		strspn(value, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz +-:./_") != n)
		return fail(err, 400, "not a valid time (use ISO 8601, e.g. 2024-01-02T15:04:05Z)", name);
	return true;
}

/* A positive decimal integer; above max it is lowered to max. */
bool
http_parse_limit(const char *value, long max, long *out, HttpError *err)
{
	size_t		n = strlen(value);
	long		v = 0;

	if (n == 0 || n > 9 || strspn(value, "0123456789") != n)
		return fail(err, 400, "limit must be a positive integer", "limit");
	for (const char *p = value; *p; p++)
		v = v * 10 + (*p - '0');
	if (v < 1)
		return fail(err, 400, "limit must be a positive integer", "limit");
	*out = v > max ? max : v;
	return true;
}

/*
 * A bar width: a whole number of minutes, hours or days ("1m", "15m",
 * "4h", "1d"), at most 366 days.  Its name is written back in the
 * largest unit that divides it ("60m" is "1h").
 */
bool
http_parse_interval(const char *value, HttpInterval *out, HttpError *err)
{
	static const char *const msg =
		"interval must be a whole number of minutes, hours or days: 1m, 5m, 15m, 30m, 1h, 4h, 1d...";
	size_t		n = strlen(value);
	size_t		digits = strspn(value, "0123456789");
	long		v = 0;
	long		unit;

	if (digits == 0 || digits > 7 || n != digits + 1)
		return fail(err, 400, msg, "interval");
	switch (value[digits])
	{
		case 'm':
			unit = 1;
			break;
		case 'h':
			unit = 60;
			break;
		case 'd':
			unit = 24 * 60;
			break;
		default:
			return fail(err, 400, msg, "interval");
	}
	for (size_t i = 0; i < digits; i++)
		v = v * 10 + (value[i] - '0');
	v *= unit;
	if (v < 1 || v > HTTP_INTERVAL_MAX_MINUTES)
		return fail(err, 400, msg, "interval");
	out->minutes = (int) v;
	if (v % (24 * 60) == 0)
		snprintf(out->name, sizeof(out->name), "%ldd", v / (24 * 60));
	else if (v % 60 == 0)
		snprintf(out->name, sizeof(out->name), "%ldh", v / 60);
	else
		snprintf(out->name, sizeof(out->name), "%ldm", v);
	return true;
}

/* source, symbol, from, to, limit: what bars and trades share */
static bool
series_request(const HttpQuery *q, long default_limit, long max_limit, HttpSeriesRequest *r,
			   HttpError *err)
{
	const char *limit;

	r->source = http_query_get(q, "source");
	r->symbol = http_query_get(q, "symbol");
	r->from = http_query_get(q, "from");
	r->to = http_query_get(q, "to");
	if (r->source == NULL)
		return fail(err, 400, "missing parameter", "source");
	if (!http_check_source("source", r->source, err))
		return false;
	if (r->symbol == NULL)
		return fail(err, 400, "missing parameter", "symbol");
	if (!http_check_symbol("symbol", r->symbol, err))
		return false;
	if (r->from && !http_check_time("from", r->from, err))
		return false;
	if (r->to && !http_check_time("to", r->to, err))
		return false;
	r->limit = default_limit < max_limit ? default_limit : max_limit;
	limit = http_query_get(q, "limit");
	if (limit && !http_parse_limit(limit, max_limit, &r->limit, err))
		return false;
	return true;
}

bool
http_bars_request(const HttpQuery *q, long default_limit, long max_limit, HttpSeriesRequest *r,
				  HttpError *err)
{
	static const char *const allowed[] = {"source", "symbol", "interval", "from", "to", "session",
	"limit", NULL};
	const char *interval;
	const char *session;

	memset(r, 0, sizeof(*r));
	if (!http_query_allow(q, allowed, err) || !series_request(q, default_limit, max_limit, r, err))
		return false;
	interval = http_query_get(q, "interval");
	if (!http_parse_interval(interval ? interval : "1m", &r->interval, err))
		return false;
	session = http_query_get(q, "session");
	if (session)
	{
		size_t		n = strlen(session);

		if (n > 16 || strspn(session, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != n)
			return fail(err, 400, "unknown session", "session");
		for (size_t i = 0; i <= n; i++)
			r->session[i] = (session[i] >= 'a' && session[i] <= 'z') ? session[i] - 'a' + 'A' : session[i];
		if (r->interval.minutes > 24 * 60)
			return fail(err, 400, "with a session, the interval is at most 1d (a trading day)", "interval");
	}
	return true;
}

bool
http_trades_request(const HttpQuery *q, long default_limit, long max_limit, HttpSeriesRequest *r,
					HttpError *err)
{
	static const char *const allowed[] = {"source", "symbol", "from", "to", "limit", NULL};

	memset(r, 0, sizeof(*r));
	return http_query_allow(q, allowed, err) && series_request(q, default_limit, max_limit, r, err);
}

/* ?source= (and ?symbol= for the event stream), both optional */
bool
http_filter_request(const HttpQuery *q, bool with_symbol, HttpFilterRequest *r, HttpError *err)
{
	static const char *const source_only[] = {"source", NULL};
	static const char *const source_symbol[] = {"source", "symbol", NULL};

	r->source = http_query_get(q, "source");
	r->symbol = with_symbol ? http_query_get(q, "symbol") : NULL;
	if (!http_query_allow(q, with_symbol ? source_symbol : source_only, err))
		return false;
	if (r->source && !http_check_source("source", r->source, err))
		return false;
	if (r->symbol && !http_check_symbol("symbol", r->symbol, err))
		return false;
	return true;
}

/*
 * The path of a request target as sent (up to '?'): no %00, which the
 * server's decoding would turn into the end of the path
 * ("/static/app.js%00.html" would be "/static/app.js"), and no control
 * bytes.  Routing uses the decoded path; this keeps it the whole path.
 */
bool
http_path_ok(const char *uri)
{
	for (const char *p = uri; *p && *p != '?'; p++)
	{
		if ((unsigned char) *p < 0x20 || *p == 0x7F)
			return false;
		if (p[0] == '%' && p[1] == '0' && p[2] == '0')
			return false;
	}
	return true;
}

/*
 * A file name of the dashboard directory: letters, digits, '.', '_', '-',
 * not starting with a dot and without "..": no path leaves the directory.
 */
bool
http_static_name_ok(const char *name)
{
	size_t		n = strlen(name);

	return n > 0 && n <= 128 && name[0] != '.' && strstr(name, "..") == NULL &&
		strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* The Content-Type of a dashboard file by its extension; NULL: not served. */
const char *
http_content_type(const char *name)
{
	static const struct
	{
		const char *ext;
		const char *type;
	}			types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".png", "image/png"},
		{".svg", "image/svg+xml"},
		{".json", "application/json; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

/*
 * --listen: "HOST:PORT", "[IPV6]:PORT" or "PORT" (on 127.0.0.1).  HOST is
 * a numeric address or "localhost" (127.0.0.1): a name that resolves
 * elsewhere could turn a loopback-only server into a public one.  PORT 0
 * asks the system for a free one.
 */
bool
http_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *addrlen,
				  bool *loopback, char *errbuf, size_t errlen)
{
	char		host[64];
	const char *port;
	size_t		hostlen;
	long		portnum = 0;

	memset(addr, 0, sizeof(*addr));
	if (text[0] == '[')
	{
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
		{
			snprintf(errbuf, errlen, "\"%s\" is not [IPV6]:PORT", text);
			return false;
		}
		hostlen = close - text - 1;
		port = close + 2;
		if (hostlen == 0 || hostlen >= sizeof(host))
		{
			snprintf(errbuf, errlen, "\"%s\" has no valid address", text);
			return false;
		}
		memcpy(host, text + 1, hostlen);
		host[hostlen] = '\0';
	}
	else
	{
		const char *colon = strrchr(text, ':');

		if (colon == NULL)
		{
			strcpy(host, "127.0.0.1");
			port = text;
		}
		else
		{
			hostlen = colon - text;
			if (hostlen == 0 || hostlen >= sizeof(host) || memchr(text, ':', hostlen))
			{
				snprintf(errbuf, errlen, "\"%s\" is not HOST:PORT (an IPv6 address goes in brackets)", text);
				return false;
			}
			memcpy(host, text, hostlen);
			host[hostlen] = '\0';
			port = colon + 1;
		}
	}
	if (port[0] == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) ||
		(portnum = strtol(port, NULL, 10)) > 65535)
	{
		snprintf(errbuf, errlen, "\"%s\" has no valid port (0-65535)", text);
		return false;
	}
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (text[0] != '[')
	{
		struct sockaddr_in *in = (struct sockaddr_in *) addr;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
		{
			snprintf(errbuf, errlen, "\"%s\" is not a numeric IPv4 address or localhost", host);
			return false;
		}
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t) portnum);
		*addrlen = sizeof(*in);
		*loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	else
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) addr;
		const unsigned char *b;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
		{
			snprintf(errbuf, errlen, "\"%s\" is not a numeric IPv6 address", host);
			return false;
		}
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t) portnum);
		*addrlen = sizeof(*in6);
		b = in6->sin6_addr.s6_addr;
		/* ::1, or ::ffff:127.x.y.z */
		*loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
			(IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127);
	}
	return true;
}

/* --- a JSON payload's top-level string member -------------------------- */

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static void
put_utf8(uint32_t cp, char *out, size_t *o)
{
	if (cp < 0x80)
		out[(*o)++] = (char) cp;
	else if (cp < 0x800)
	{
		out[(*o)++] = (char) (0xC0 | (cp >> 6));
		out[(*o)++] = (char) (0x80 | (cp & 0x3F));
	}
	else if (cp < 0x10000)
	{
		out[(*o)++] = (char) (0xE0 | (cp >> 12));
		out[(*o)++] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char) (0x80 | (cp & 0x3F));
	}
	else
	{
		out[(*o)++] = (char) (0xF0 | (cp >> 18));
		out[(*o)++] = (char) (0x80 | ((cp >> 12) & 0x3F));
		out[(*o)++] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char) (0x80 | (cp & 0x3F));
	}
}

static bool
read_hex4(const char *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++)
	{
		int			h = hex_value((unsigned char) p[i]);

		if (h < 0)
			return false;
		*v = *v * 16 + h;
	}
	return true;
}

/*
 * The JSON string starting at p (at its '"'), decoded into out when out
 * is not NULL (*fits false when it does not fit in outlen with its NUL).
 * Returns the position after the closing quote, NULL when malformed.
 */
static const char *
json_string(const char *p, char *out, size_t outlen, bool *fits)
{
	size_t		o = 0;

	if (*p++ != '"')
		return NULL;
	if (fits)
		*fits = true;
	for (;;)
	{
		unsigned char c = (unsigned char) *p;
		uint32_t	cp;
		char		tmp[4];
		size_t		tn = 0;

		if (c == '\0' || c < 0x20)
			return NULL;
		if (c == '"')
			break;
		if (c != '\\')
		{
			tmp[tn++] = (char) c;
			p++;
		}
		else
		{
			switch (p[1])
			{
				case '"':
				case '\\':
				case '/':
					tmp[tn++] = p[1];
					break;
				case 'b':
					tmp[tn++] = '\b';
					break;
				case 'f':
					tmp[tn++] = '\f';
					break;
				case 'n':
					tmp[tn++] = '\n';
					break;
				case 'r':
					tmp[tn++] = '\r';
					break;
				case 't':
					tmp[tn++] = '\t';
					break;
				case 'u':
					if (!read_hex4(p + 2, &cp))
						return NULL;
					if (cp >= 0xDC00 && cp <= 0xDFFF)
						return NULL;
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						uint32_t	lo;

						if (p[6] != '\\' || p[7] != 'u' || !read_hex4(p + 8, &lo) ||
							lo < 0xDC00 || lo > 0xDFFF)
							return NULL;
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						p += 6;
					}
					if (cp == 0)
						return NULL;	/* no C string holds it */
					put_utf8(cp, tmp, &tn);
					p += 4;
					break;
				default:
					return NULL;
			}
			p += 2;
		}
		if (out && fits && *fits)
		{
			if (o + tn + 1 > outlen)
				*fits = false;
			else
			{
				memcpy(out + o, tmp, tn);
				o += tn;
			}
		}
	}
	if (out && fits && *fits)
		out[o] = '\0';
	return p + 1;
}

/* skip one JSON value (nested ones by counting brackets); NULL if malformed */
static const char *
json_skip_value(const char *p)
{
	int			depth = 0;

	do
	{
		p = skip_ws(p);
		if (*p == '"')
		{
			p = json_string(p, NULL, 0, NULL);
			if (p == NULL)
				return NULL;
		}
		else if (*p == '{' || *p == '[')
		{
			depth++;
			p++;
		}
		else if (*p == '}' || *p == ']')
		{
			if (depth == 0)
				return NULL;
			depth--;
			p++;
		}
		else if (*p == ',' || *p == ':')
		{
			if (depth == 0)
				return NULL;
			p++;
		}
		else
		{
			/* a number or a literal */
			const char *start = p;

			while (*p && strchr(",:{}[]\" \t\r\n", *p) == NULL)
				p++;
			if (p == start)
				return NULL;
		}
	} while (depth > 0);
	return p;
}

/*
 * The string value of member key of the JSON object json (its first
 * level only), decoded into out; false when json is not an object, has no
 * such member, the member is not a string or does not fit.  For the
 * payloads of sync's notifications, which any role may also send.
 */
bool
http_json_top_string(const char *json, const char *key, char *out, size_t outlen)
{
	const char *p = skip_ws(json);
	char		name[64];

	if (*p++ != '{')
		return false;
	p = skip_ws(p);
	if (*p == '}')
		return false;
	for (;;)
	{
		bool		fits;

		p = json_string(skip_ws(p), name, sizeof(name), &fits);
		if (p == NULL)
			return false;
		p = skip_ws(p);
		if (*p++ != ':')
			return false;
		p = skip_ws(p);
		if (fits && strcmp(name, key) == 0 && *p == '"')
		{
			bool		value_fits;

			return json_string(p, out, outlen, &value_fits) != NULL && value_fits;
		}
		p = json_skip_value(p);
		if (p == NULL)
			return false;
		p = skip_ws(p);
		if (*p == ',')
		{
			p++;
			continue;
		}
		return false;			/* '}' or malformed: not there */
	}
}

/* --- text written back ------------------------------------------------- */

void
httpbuf_init(HttpBuf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void
httpbuf_free(HttpBuf *b)
{
	free(b->data);
	httpbuf_init(b);
}

void
httpbuf_append(HttpBuf *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (len >= HTTPBUF_MAX - b->len)
	{
		b->failed = true;
		return;
	}
	if (b->len + len + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *data;

		while (cap < b->len + len + 1)
			cap *= 2;
		data = realloc(b->data, cap);
		if (data == NULL)
		{
			b->failed = true;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void
httpbuf_puts(HttpBuf *b, const char *s)
{
	httpbuf_append(b, s, strlen(s));
}

/*
 * s as a JSON string: quotes, backslashes and control characters escaped,
 * and a byte that is not part of valid UTF-8 written as U+FFFD, so the
 * document stays valid JSON whatever bytes s holds.
 */
void
httpbuf_json_string(HttpBuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	httpbuf_append(b, "\"", 1);
	while (*p)
	{
		const unsigned char *run = p;
		int			n;

		/* a run of bytes that need nothing */
		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		httpbuf_append(b, (const char *) run, p - run);
		if (*p == '\0')
			break;
		if (*p == '"' || *p == '\\')
		{
			char		esc[2] = {'\\', (char) *p};

			httpbuf_append(b, esc, 2);
			p++;
		}
		else if (*p < 0x20)
		{
			char		esc[8];

			switch (*p)
			{
				case '\n':
					strcpy(esc, "\\n");
					break;
				case '\r':
					strcpy(esc, "\\r");
					break;
				case '\t':
					strcpy(esc, "\\t");
					break;
				default:
					snprintf(esc, sizeof(esc), "\\u%04x", *p);
			}
			httpbuf_puts(b, esc);
			p++;
		}
		else if ((n = utf8_seq_len(p)) > 0)
		{
			httpbuf_append(b, (const char *) p, n);
			p += n;
		}
		else
		{
			httpbuf_puts(b, "\\ufffd");
			p++;
		}
	}
	httpbuf_append(b, "\"", 1);
}

/*
 * One Server-Sent Event: "event: NAME", then data line by line (a line
 * break in data starts another "data:" line, which the browser joins
 * back with '\n': data can never end the event early or forge another),
 * then the blank line that ends the event.
 */
void
httpbuf_sse_event(HttpBuf *b, const char *event, const char *data)
{
	const char *p = data;

	httpbuf_puts(b, "event: ");
	httpbuf_append(b, event, strcspn(event, "\r\n"));
	httpbuf_puts(b, "\n");
	for (;;)
	{
		size_t		n = strcspn(p, "\r\n");

		httpbuf_puts(b, "data: ");
		httpbuf_append(b, p, n);
		httpbuf_puts(b, "\n");
		p += n;
		if (*p == '\0')
			break;
		if (p[0] == '\r' && p[1] == '\n')
			p += 2;
		else
			p++;
	}
	httpbuf_puts(b, "\n");
}

/* {"error": "...", "parameter": "..." or null} */
void
httpbuf_error_json(HttpBuf *b, const HttpError *err)
{
	httpbuf_puts(b, "{\"error\": ");
	httpbuf_json_string(b, err->message);
	httpbuf_puts(b, ", \"parameter\": ");
	if (err->parameter[0])
		httpbuf_json_string(b, err->parameter);
	else
		httpbuf_puts(b, "null");
	httpbuf_puts(b, "}\n");
}
