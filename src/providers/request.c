/*-------------------------------------------------------------------------
 * request.c
 *	  Request URLs built from parts: our own path and parameter text as is,
 *	  every user-given part percent-encoded, the whole assembled on the
 *	  source's base URL by libcurl's URL API (request.h says why).
 *
 * Plain C and libcurl only: providers never call into PostgreSQL.
 *-------------------------------------------------------------------------
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "request.h"

void
sync_url_init(SyncUrl *u)
{
	u->path[0] = '\0';
	u->query[0] = '\0';
	u->path_len = 0;
	u->query_len = 0;
	u->error[0] = '\0';
}

static void
url_overflow(SyncUrl *u)
{
	if (u->error[0] == '\0')
		snprintf(u->error, sizeof(u->error), "request URL longer than %d bytes", SYNC_URL_LEN);
}

/* append text to buf (of SYNC_URL_LEN) at *used */
static void
url_append(SyncUrl *u, char *buf, size_t *used, const char *text)
{
	size_t		n = strlen(text);

	if (*used + n >= SYNC_URL_LEN)
	{
		url_overflow(u);
		return;
	}
	memcpy(buf + *used, text, n + 1);
	*used += n;
}

/*
 * raw percent-encoded into dst: every byte but the unreserved ones of RFC
 * 3986 (letters, digits, "-", ".", "_", "~") as %XX.  false when it does
 * not fit in len.
 */
bool
sync_url_escape(const char *raw, char *dst, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		used = 0;

	for (const unsigned char *c = (const unsigned char *) raw; *c != '\0'; c++)
	{
		bool		plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' || *c == '~';

		if (used + (plain ? 1 : 3) >= len)
			return false;
		if (plain)
			dst[used++] = (char) *c;
		else
		{
			dst[used++] = '%';
			dst[used++] = hex[*c >> 4];
			dst[used++] = hex[*c & 15];
		}
	}
	if (used >= len)
		return false;
	dst[used] = '\0';
	return true;
}

/* Our own path text ("/api/v3/klines"), as is. */
void
sync_url_path(SyncUrl *u, const char *text)
{
	url_append(u, u->path, &u->path_len, text);
}

/*
 * "/", raw encoded as one path segment, then suffix (our own text, may be
 * NULL).  what names raw in the error ("symbol").  An empty segment, "."
 * and ".." cannot be expressed: they would fold into the path.
 */
void
sync_url_segment(SyncUrl *u, const char *what, const char *raw, const char *suffix)
{
	char		enc[SYNC_URL_LEN];

	if (raw[0] == '\0' || strcmp(raw, ".") == 0 || strcmp(raw, "..") == 0)
	{
		if (u->error[0] == '\0')
			snprintf(u->error, sizeof(u->error), "the %s \"%s\" cannot be part of a URL path", what, raw);
		return;
	}
	if (!sync_url_escape(raw, enc, sizeof(enc)))
	{
		url_overflow(u);
		return;
	}
	url_append(u, u->path, &u->path_len, "/");
	url_append(u, u->path, &u->path_len, enc);
	if (suffix != NULL)
		url_append(u, u->path, &u->path_len, suffix);
}

/* name=text, text our own (times, intervals, already encoded lists) */
void
sync_url_param_raw(SyncUrl *u, const char *name, const char *text)
{
	if (u->query_len > 0)
		url_append(u, u->query, &u->query_len, "&");
	url_append(u, u->query, &u->query_len, name);
	url_append(u, u->query, &u->query_len, "=");
	url_append(u, u->query, &u->query_len, text);
}

/* name=value, value given by a user (a symbol, a feed): encoded */
void
sync_url_param(SyncUrl *u, const char *name, const char *value)
{
	char		enc[SYNC_URL_LEN];

	if (!sync_url_escape(value, enc, sizeof(enc)))
	{
		url_overflow(u);
		return;
	}
	sync_url_param_raw(u, name, enc);
}

void
sync_url_param_int(SyncUrl *u, const char *name, int64_t v)
{
	char		text[24];

	snprintf(text, sizeof(text), "%" PRId64, v);
	sync_url_param_raw(u, name, text);
}

/*
 * The URL: base (the source's URL, with its own path and query) with the
 * path and the query appended, into url; false with errbuf set when a part
 * could not be expressed, base is no URL or holds a fragment, or the whole
 * does not fit in len.
 */
bool
sync_url_finish(SyncUrl *u, const char *base, char *url, size_t len, char *errbuf, size_t errlen)
{
	CURLU	   *h;
	CURLUcode	rc;
	char	   *part = NULL;
	char	   *whole = NULL;
	char		path[SYNC_URL_LEN * 2];
	size_t		n;
	bool		ok = false;

	if (len > 0)
		url[0] = '\0';
	if (u->error[0] != '\0')
	{
		snprintf(errbuf, errlen, "%s", u->error);
		return false;
	}
	if ((h = curl_url()) == NULL)
	{
		snprintf(errbuf, errlen, "out of memory building a URL");
		return false;
	}
	if ((rc = curl_url_set(h, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME)) != CURLUE_OK)
	{
		snprintf(errbuf, errlen, "the base URL is not a URL: %s", curl_url_strerror(rc));
		goto done;
	}
	if (curl_url_get(h, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
	{
		snprintf(errbuf, errlen, "the base URL may not hold a fragment (#)");
		goto done;
	}
	if (curl_url_get(h, CURLUPART_PATH, &part, 0) != CURLUE_OK)
	{
		snprintf(errbuf, errlen, "the base URL has no path");
		goto done;
	}
	/* the base's path, without its trailing "/", then ours */
	n = strlen(part);
	while (n > 0 && part[n - 1] == '/')
		n--;
	if (n + u->path_len >= sizeof(path) - 1)
	{
		snprintf(errbuf, errlen, "request URL longer than %zu bytes", len);
		goto done;
	}
	memcpy(path, part, n);
	memcpy(path + n, u->path, u->path_len + 1);
	if (n + u->path_len == 0)
		strcpy(path, "/");
	if (curl_url_set(h, CURLUPART_PATH, path, 0) != CURLUE_OK ||
		(u->query_len > 0 && curl_url_set(h, CURLUPART_QUERY, u->query, CURLU_APPENDQUERY) != CURLUE_OK) ||
		curl_url_get(h, CURLUPART_URL, &whole, 0) != CURLUE_OK)
	{
		snprintf(errbuf, errlen, "the request URL cannot be built on the base URL");
		goto done;
	}
	if (strlen(whole) >= len)
	{
		snprintf(errbuf, errlen, "request URL longer than %zu bytes", len);
		goto done;
	}
	strcpy(url, whole);
	ok = true;
done:
	curl_free(part);
	curl_free(whole);
	curl_url_cleanup(h);
	return ok;
}
