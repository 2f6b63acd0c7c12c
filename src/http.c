/*-------------------------------------------------------------------------
 * http.c
 *	  Owns the libcurl state of a worker and runs GET requests on it.
 *
 * A request runs on curl's multi interface with the socket and timer
 * callbacks: curl tells us which sockets to watch and when its next timeout
 * falls, and we wait for them together with the process latch in one
 * WaitEventSet.  A SIGTERM therefore interrupts a slow provider within
 * milliseconds, and postmaster death ends the process as anywhere else.
 *
 * A client has a few transfer slots on one multi handle, so several
 * requests can be in flight at once; each slot keeps its easy handle
 * between requests so connections are reused (keep-alive, HTTP/2 where
 * the server offers it).
 *
 * What a request may cost and reach is bounded here, for every caller:
 *  - an answer larger than sync.max_response_size (sync.max_file_size for
 *    the day files of the csv provider) is abandoned while it downloads,
 *    counting the bytes as they come (after decompression), since a
 *    Content-Length may be absent or lie;
 *  - a client not trusted (its source was not created by a superuser)
 *    connects only to public addresses unless sync.allow_private_addresses
 *    is on.  The check runs in curl's open-socket callback on the address
 *    DNS resolution produced, so a name resolving to 127.0.0.1 or to the
 *    cloud metadata endpoint is refused as a literal one is (netguard.c);
 *    such a client uses no proxy from the environment (the proxy would
 *    reach the private address for it), follows no redirect, and speaks
 *    http and https only.
 *
 * Nothing called from a curl callback can raise an ERROR: callbacks only
 * copy bytes into malloc'd buffers.  The PostgreSQL calls made while a
 * transfer is live (creating the WaitEventSet) are wrapped in PG_TRY so the
 * transfer is detached from the multi handle before an ERROR propagates.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"

#include "guc.h"
#include "http.h"
#include "netguard.h"

#define HTTP_MAX_SOCKETS	16

typedef struct HttpSocket
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN / OUT / INOUT */
} HttpSocket;

/* One request slot: an easy handle kept for connection reuse. */
typedef struct HttpTransfer
{
	CURL	   *easy;
	SyncHttpResponse *resp;		/* response being filled */
	struct curl_slist *slist;	/* headers of the request in flight */
	bool		in_flight;		/* started and not yet waited for */
	bool		done;			/* curl reported it finished */
	bool		connect_only;	/* a raw connection kept for the caller */
	CURLcode	result;
	size_t		max_body;		/* largest answer taken, in bytes */
	bool		too_large;		/* the answer went past max_body */
	const char *refused_what;	/* netguard's word for a refused address */
	char		refused_addr[64];	/* that address, as text */
	struct SyncHttpClient *client;
	char		errbuf[CURL_ERROR_SIZE];
} HttpTransfer;

struct SyncHttpClient
{
	CURLM	   *multi;
	long		timer_ms;		/* curl's next timeout, -1 for none */
	int			nsockets;
	HttpSocket	sockets[HTTP_MAX_SOCKETS];
	bool		socket_overflow;
	bool		allow_file;		/* reads day files: file:// (if trusted), sync.max_file_size */
	bool		trusted;		/* its source was created by a superuser */
	/* open sockets to non-public addresses sync.allow_private_addresses let through */
	int			nprivate;
	curl_socket_t private_fds[HTTP_MAX_SOCKETS];
	HttpTransfer transfers[SYNC_HTTP_MAX_TRANSFERS];
};

static bool curl_initialized = false;

static void http_detach(SyncHttpClient *c, int slot);

/* curl callbacks: no palloc, no ereport */

static int
http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	SyncHttpClient *c = (SyncHttpClient *) userp;
	int			i;

	for (i = 0; i < c->nsockets; i++)
		if (c->sockets[i].fd == fd)
			break;

	if (what == CURL_POLL_REMOVE)
	{
		if (i < c->nsockets)
			c->sockets[i] = c->sockets[--c->nsockets];
		return 0;
	}
	if (i == c->nsockets)
	{
		if (c->nsockets == HTTP_MAX_SOCKETS)
		{
			c->socket_overflow = true;
			return -1;
		}
		c->nsockets++;
	}
	c->sockets[i].fd = fd;
	c->sockets[i].what = what;
	return 0;
}

static int
http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	((SyncHttpClient *) userp)->timer_ms = timeout_ms;
	return 0;
}

/*
 * Appends a piece of the answer to the body.  Past the transfer's limit the
 * transfer is failed at once (returning less than given makes curl stop
 * with CURLE_WRITE_ERROR) and what was kept is freed: an endless or
 * decompression-bomb answer costs at most the limit.
 */
static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	HttpTransfer *t = (HttpTransfer *) userp;
	SyncHttpResponse *r = t->resp;
	size_t		n = size * nmemb;
	char	   *grown;

	if (n > t->max_body || r->body_len + n > t->max_body)
	{
		t->too_large = true;
		free(r->body);
		r->body = NULL;
		r->body_len = 0;
		return 0;
	}
	grown = realloc(r->body, r->body_len + n + 1);
	if (grown == NULL)
		return 0;
	r->body = grown;
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

/* The value of header "name:" in data, copied into value; false if another header. */
static bool
header_value(const char *data, size_t n, const char *name, char *value, size_t valsize)
{
	size_t		namelen = strlen(name);
	size_t		len;

	if (n <= namelen || pg_strncasecmp(data, name, namelen) != 0)
		return false;
	data += namelen;
	n -= namelen;
	while (n > 0 && (*data == ' ' || *data == '\t'))
		data++, n--;
	while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n' || data[n - 1] == ' '))
		n--;
	len = Min(n, valsize - 1);
	memcpy(value, data, len);
	value[len] = '\0';
	return true;
}

/*
 * Picks the rate-limit headers out of a response: Retry-After (seconds or
 * an HTTP date), X-RateLimit-Remaining/-Reset, Binance's used weight.
 */
static size_t
http_header_cb(char *data, size_t size, size_t nitems, void *userp)
{
	SyncHttpResponse *r = (SyncHttpResponse *) userp;
	size_t		n = size * nitems;
	char		value[128];
	char	   *end;

	if (header_value(data, n, "retry-after:", value, sizeof(value)))
	{
		double		secs = strtod(value, &end);

		if (end != value && *end == '\0' && secs >= 0)
			r->retry_after_s = secs;
		else
		{
			time_t		when = curl_getdate(value, NULL);

			if (when > 0)
				r->retry_after_s = Max(0, (double) (when - time(NULL)));
		}
	}
	else if (header_value(data, n, "x-ratelimit-remaining:", value, sizeof(value)))
	{
		long		v = strtol(value, &end, 10);

		if (end != value && v >= 0)
			r->ratelimit_remaining = v;
	}
	else if (header_value(data, n, "x-ratelimit-reset:", value, sizeof(value)))
	{
		long		v = strtol(value, &end, 10);

		if (end != value && v > 0)
			r->ratelimit_reset = v;
	}
	else if (header_value(data, n, "x-mbx-used-weight-1m:", value, sizeof(value)))
	{
		long		v = strtol(value, &end, 10);

		if (end != value && v >= 0)
			r->used_weight = v;
	}
	return n;
}

/*
 * curl's open-socket callback: every connection of a client that is not
 * trusted passes here with the resolved address, before connect().  A
 * non-public address is refused (CURL_SOCKET_BAD: curl tries the host's
 * other addresses, then fails with CURLE_COULDNT_CONNECT) unless
 * sync.allow_private_addresses is on; the sockets it let through are
 * remembered so that they can be shut when the setting goes off.
 */
static curl_socket_t
http_opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	HttpTransfer *t = (HttpTransfer *) clientp;
	SyncHttpClient *c = t->client;
	const char *what = sync_netguard_refuses(&address->addr, address->addrlen);
	curl_socket_t fd;

	if (what != NULL && !sync_allow_private_addresses)
	{
		t->refused_what = what;
		sync_netguard_format(&address->addr, address->addrlen,
							 t->refused_addr, sizeof(t->refused_addr));
		return CURL_SOCKET_BAD;
	}
#ifdef SOCK_CLOEXEC
	fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
#else
	fd = socket(address->family, address->socktype, address->protocol);
#endif
	if (fd != CURL_SOCKET_BAD && what != NULL && c->nprivate < HTTP_MAX_SOCKETS)
		c->private_fds[c->nprivate++] = fd;
	return fd;
}

static int
http_closesocket_cb(void *clientp, curl_socket_t fd)
{
	SyncHttpClient *c = (SyncHttpClient *) clientp;

	for (int i = 0; i < c->nprivate; i++)
		if (c->private_fds[i] == fd)
		{
			c->private_fds[i] = c->private_fds[--c->nprivate];
			break;
		}
	return close(fd);
}

/*
 * sync.allow_private_addresses went off (a reload) while connections it
 * allowed are kept alive for reuse: shut them, so that curl finds them
 * dead and connects again, through the check.  The descriptors stay open
 * until curl closes them.
 */
static void
http_shut_private(SyncHttpClient *c)
{
	if (c->trusted || sync_allow_private_addresses)
		return;
	for (int i = 0; i < c->nprivate; i++)
		shutdown(c->private_fds[i], SHUT_RDWR);
}

SyncHttpClient *
sync_http_client_create(void)
{
	SyncHttpClient *c;

	if (!curl_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			return NULL;
		curl_initialized = true;
	}
	c = calloc(1, sizeof(SyncHttpClient));
	if (c == NULL)
		return NULL;
	c->multi = curl_multi_init();
	if (c->multi == NULL)
	{
		sync_http_client_destroy(c);
		return NULL;
	}
	for (int i = 0; i < SYNC_HTTP_MAX_TRANSFERS; i++)
	{
		c->transfers[i].client = c;
		c->transfers[i].easy = curl_easy_init();
		if (c->transfers[i].easy == NULL)
		{
			sync_http_client_destroy(c);
			return NULL;
		}
	}
	c->timer_ms = -1;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

void
sync_http_client_destroy(SyncHttpClient *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < SYNC_HTTP_MAX_TRANSFERS; i++)
	{
		if (c->transfers[i].in_flight)
			http_detach(c, i);
		if (c->transfers[i].easy)
			curl_easy_cleanup(c->transfers[i].easy);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	free(c);
}

void
sync_http_client_allow_file(SyncHttpClient *c)
{
	c->allow_file = true;
}

void
sync_http_client_set_trusted(SyncHttpClient *c, bool trusted)
{
	c->trusted = trusted;
}

void
sync_http_response_free(SyncHttpResponse *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
}

static void
http_setup_easy(SyncHttpClient *c, HttpTransfer *t, const char *url, struct curl_slist *headers,
				long timeout_ms, SyncHttpResponse *resp)
{
	CURL	   *e = t->easy;

	curl_easy_reset(e);
	t->too_large = false;
	t->refused_what = NULL;
	t->refused_addr[0] = '\0';
	t->max_body = (size_t) (c->allow_file ? sync_max_file_size_kb : sync_max_response_size_kb) * 1024;
	/* redirects are never followed: a 3xx is an answer like any other */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (!c->trusted)
	{
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_opensocket_cb);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
		curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, http_closesocket_cb);
		curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
		curl_easy_setopt(e, CURLOPT_PROXY, "");
	}
	if (t->connect_only)
	{
		/* TCP and TLS only: the caller speaks its own protocol on it */
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
		curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
		if (sync_ca_bundle != NULL && sync_ca_bundle[0] != '\0')
			curl_easy_setopt(e, CURLOPT_CAINFO, sync_ca_bundle);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
		t->errbuf[0] = '\0';
		return;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* file:// only for the csv provider, and only for a superuser's source */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
					 c->allow_file && c->trusted ? "http,https,file" : "http,https");
	/* refused from the Content-Length at once; http_write_cb counts the rest */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) t->max_body);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, Min(timeout_ms, 10000L));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, sync_user_agent);
	if (sync_ca_bundle != NULL && sync_ca_bundle[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, sync_ca_bundle);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	t->errbuf[0] = '\0';
}

/*
 * Wait once for curl's sockets, its timer or the latch, and let curl act on
 * what happened.  Returns false when should_abort() asked to stop.
 */
static bool
http_wait_and_act(SyncHttpClient *c, SyncHttpAbortCheck should_abort)
{
	WaitEventSet *set;
	WaitEvent	occurred[HTTP_MAX_SOCKETS + 2];
	int			nready;
	int			running;
	long		timeout = c->timer_ms < 0 ? 1000 : c->timer_ms;

	set = CreateWaitEventSet(CurrentMemoryContext, c->nsockets + 2);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < c->nsockets; i++)
	{
		uint32		events = 0;

		if (c->sockets[i].what & CURL_POLL_IN)
			events |= WL_SOCKET_READABLE;
		if (c->sockets[i].what & CURL_POLL_OUT)
			events |= WL_SOCKET_WRITEABLE;
		AddWaitEventToSet(set, events, c->sockets[i].fd, NULL, NULL);
	}
	nready = WaitEventSetWait(set, timeout, occurred, lengthof(occurred),
							  PG_WAIT_EXTENSION);
	FreeWaitEventSet(set);

	if (nready == 0)
	{
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		return true;
	}
	for (int i = 0; i < nready; i++)
	{
		WaitEvent  *ev = &occurred[i];

		if (ev->events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			if (should_abort != NULL && should_abort())
				return false;
		}
		else
		{
			int			flags = 0;

			if (ev->events & WL_SOCKET_READABLE)
				flags |= CURL_CSELECT_IN;
			if (ev->events & WL_SOCKET_WRITEABLE)
				flags |= CURL_CSELECT_OUT;
			curl_multi_socket_action(c->multi, ev->fd, flags, &running);
		}
	}
	/* curl may want its timeout handled at once */
	if (c->timer_ms == 0)
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	return true;
}

/*
 * Start a GET request in transfer slot `slot`: the request goes out as far
 * as curl can take it without waiting, and the answer collects while the
 * caller does other work or waits for another slot.  Several slots may be
 * in flight at once on the one multi handle.  *resp must stay valid until
 * sync_http_wait() for this slot returns; the caller frees it with
 * sync_http_response_free().
 */
void
sync_http_start(SyncHttpClient *c, int slot, const char *url, const char *const *headers,
				long timeout_ms, SyncHttpResponse *resp)
{
	HttpTransfer *t = &c->transfers[slot];
	int			running;

	Assert(!t->in_flight);
	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	resp->ratelimit_remaining = -1;
	resp->used_weight = -1;
	resp->curl_code = CURLE_OK;
	t->slist = NULL;
	t->resp = resp;

	for (int i = 0; headers != NULL && headers[i] != NULL; i++)
	{
		struct curl_slist *grown = curl_slist_append(t->slist, headers[i]);

		if (grown == NULL)
		{
			curl_slist_free_all(t->slist);
			t->slist = NULL;
			resp->curl_code = CURLE_OUT_OF_MEMORY;
			strlcpy(resp->error, "out of memory building request headers", sizeof(resp->error));
			return;
		}
		t->slist = grown;
	}

	http_shut_private(c);
	http_setup_easy(c, t, url, t->slist, timeout_ms, resp);
	t->done = false;
	t->in_flight = true;
	c->socket_overflow = false;
	curl_multi_add_handle(c->multi, t->easy);
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* Detach a transfer from the multi handle and forget its headers. */
static void
http_detach(SyncHttpClient *c, int slot)
{
	HttpTransfer *t = &c->transfers[slot];

	curl_multi_remove_handle(c->multi, t->easy);
	curl_slist_free_all(t->slist);
	t->slist = NULL;
	t->resp = NULL;
	t->in_flight = false;
	t->done = false;
}

/* Drop a started request without waiting for its answer. */
void
sync_http_cancel(SyncHttpClient *c, int slot)
{
	if (c->transfers[slot].in_flight)
		http_detach(c, slot);
}

void
sync_http_cancel_all(SyncHttpClient *c)
{
	for (int i = 0; i < SYNC_HTTP_MAX_TRANSFERS; i++)
		sync_http_cancel(c, i);
}

bool
sync_http_in_flight(SyncHttpClient *c, int slot)
{
	return c->transfers[slot].in_flight;
}

/* Note every transfer curl reports finished. */
static void
http_collect_done(SyncHttpClient *c)
{
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(c->multi, &queued)) != NULL)
	{
		if (msg->msg != CURLMSG_DONE)
			continue;
		for (int i = 0; i < SYNC_HTTP_MAX_TRANSFERS; i++)
			if (c->transfers[i].in_flight && c->transfers[i].easy == msg->easy_handle)
			{
				c->transfers[i].done = true;
				c->transfers[i].result = msg->data.result;
			}
	}
}

/*
 * Drive all transfers until the one in `slot` has finished, failed, or
 * should_abort() returned true.  The others progress meanwhile.  The
 * outcome is in the response given to sync_http_start().
 */
void
sync_http_wait(SyncHttpClient *c, int slot, SyncHttpAbortCheck should_abort)
{
	HttpTransfer *t = &c->transfers[slot];
	SyncHttpResponse *resp = t->resp;

	if (!t->in_flight)
		return;					/* failed to start; resp says why */

	PG_TRY();
	{
		for (;;)
		{
			http_collect_done(c);
			if (t->done)
			{
				resp->curl_code = t->result;
				break;
			}
			if (c->socket_overflow)
			{
				resp->curl_code = CURLE_ABORTED_BY_CALLBACK;
				break;
			}
			if (!http_wait_and_act(c, should_abort))
			{
				resp->aborted = true;
				resp->curl_code = CURLE_ABORTED_BY_CALLBACK;
				break;
			}
		}
	}
	PG_CATCH();
	{
		for (int i = 0; i < SYNC_HTTP_MAX_TRANSFERS; i++)
			if (c->transfers[i].in_flight)
				http_detach(c, i);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (resp->curl_code == CURLE_OK)
	{
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &resp->status);
		if (resp->status == 0)
			resp->status = 200;	/* file://: read whole */
	}
	else if (resp->aborted)
		strlcpy(resp->error, "request aborted: worker is stopping", sizeof(resp->error));
	else if (t->too_large || resp->curl_code == CURLE_FILESIZE_EXCEEDED)
	{
		free(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
		snprintf(resp->error, sizeof(resp->error), "response larger than %s (%zu kB)",
				 c->allow_file ? "sync.max_file_size" : "sync.max_response_size",
				 t->max_body / 1024);
	}
	else if (t->refused_what != NULL && resp->curl_code == CURLE_COULDNT_CONNECT)
		snprintf(resp->error, sizeof(resp->error),
				 "connecting to %s is not allowed: a %s address, and the source was not created "
				 "by a superuser (see sync.allow_private_addresses)",
				 t->refused_addr, t->refused_what);
	else
		snprintf(resp->error, sizeof(resp->error), "%s",
				 t->errbuf[0] ? t->errbuf : curl_easy_strerror((CURLcode) resp->curl_code));
	/* a connection made for the caller stays until sync_http_disconnect() */
	if (!t->connect_only || resp->curl_code != CURLE_OK)
		http_detach(c, slot);
}

/*
 * Open a raw TCP (http://) or TLS (https://) connection to the host of url
 * in transfer slot `slot`, waiting on the latch like a request.  On success
 * (resp->curl_code == CURLE_OK) the connected easy handle is returned: use
 * curl_easy_send/recv on it, and its CURLINFO_ACTIVESOCKET to wait, until
 * sync_http_disconnect().  NULL otherwise, with resp->error saying why.
 */
CURL *
sync_http_connect(SyncHttpClient *c, int slot, const char *url, long timeout_ms,
				  SyncHttpAbortCheck should_abort, SyncHttpResponse *resp)
{
	HttpTransfer *t = &c->transfers[slot];

	t->connect_only = true;
	sync_http_start(c, slot, url, NULL, timeout_ms, resp);
	sync_http_wait(c, slot, should_abort);
	if (resp->curl_code != CURLE_OK)
	{
		t->connect_only = false;
		return NULL;
	}
	return t->easy;
}

/* Close a connection sync_http_connect() opened; the slot is free again. */
void
sync_http_disconnect(SyncHttpClient *c, int slot)
{
	HttpTransfer *t = &c->transfers[slot];

	if (t->in_flight)
		http_detach(c, slot);
	t->connect_only = false;
	/* a fresh handle: the old one's connection must not be reused */
	curl_easy_cleanup(t->easy);
	t->easy = curl_easy_init();
}

/* Run one GET request to completion (start and wait, in slot 0). */
void
sync_http_get(SyncHttpClient *c, const char *url, const char *const *headers,
			  long timeout_ms, SyncHttpAbortCheck should_abort,
			  SyncHttpResponse *resp)
{
	sync_http_start(c, 0, url, headers, timeout_ms, resp);
	sync_http_wait(c, 0, should_abort);
}
