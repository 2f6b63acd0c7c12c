/*-------------------------------------------------------------------------
 * http.c
 *	  Owns the libcurl state of a worker and runs GET requests on it.
 *
 * A client is one curl multi handle with a number of transfer slots fixed
 * when it is made: a few for a worker of one series (sync_http_client_create,
 * the blocking sync_http_get/start/wait), up to
 * SYNC_HTTP_MAX_CLIENT_TRANSFERS for a pool worker carrying many series
 * (sync_http_client_create_sized, then sync_http_submit, sync_http_poll and
 * sync_http_next_done from its event loop).  Each slot keeps its easy
 * handle between requests, and the multi handle keeps the connections, so
 * they are reused (keep-alive, HTTP/2 where the server offers it).
 *
 * Requests run on curl's multi interface with the socket and timer
 * callbacks: curl tells us which sockets to watch and when its next timeout
 * falls, and we wait for them together with the process latch.  A SIGTERM
 * therefore interrupts a slow provider within milliseconds, and postmaster
 * death ends the process as anywhere else.  On Linux the sockets live in an
 * epoll set of the client's own, changed by the socket callback one socket
 * at a time, and the WaitEventSet holds just the latch, postmaster death and
 * that epoll descriptor: a wait costs the same with 2 sockets or 500 (a
 * WaitEventSet rebuilt for every wait would cost one epoll_ctl per socket
 * per wait).  Elsewhere the WaitEventSet is built from a socket table for
 * every wait, as PostgreSQL offers no way to remove a socket from one.
 *
 * What a request may cost and reach is bounded here, for every caller, by
 * the options of that request (the client-wide ones for the blocking API),
 * since a pool worker carries series of sources of different owners on one
 * client:
 *  - an answer larger than sync.max_response_size (sync.max_file_size for
 *    the day files of the csv provider) is abandoned while it downloads,
 *    counting the bytes as they come (after decompression), since a
 *    Content-Length may be absent or lie;
 *  - a request not trusted (its source was not created by a superuser)
 *    connects only to public addresses unless sync.allow_private_addresses
 *    is on.  The check runs in curl's open-socket callback on the address
 *    DNS resolution produced, so a name resolving to 127.0.0.1 or to the
 *    cloud metadata endpoint is refused as a literal one is (netguard.c);
 *    and again, on the connection's address, in curl's pre-request
 *    callback, because connections are shared by all the transfers of a
 *    multi handle: a request not trusted must not ride a connection a
 *    trusted one opened to a private address.  Such a request uses no proxy
 *    from the environment (the proxy would reach the private address for
 *    it), follows no redirect, and speaks http and https only;
 *  - a request ends by its timeout even while curl keeps it queued for a
 *    connection (libcurl 7.88 may not time those out; see http_expire).
 *
 * Nothing called from a curl callback can raise an ERROR: callbacks only
 * copy bytes into malloc'd buffers, set flags and make system calls.  The
 * PostgreSQL calls made while transfers are live (the WaitEventSet, the
 * latch, the caller's abort check) are wrapped in PG_TRY so every transfer
 * is detached from the multi handle before an ERROR propagates.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "guc.h"
#include "http.h"
#include "netguard.h"

#if defined(__linux__) && !defined(SYNC_HTTP_NO_EPOLL)
#define HTTP_USE_EPOLL
#include <sys/epoll.h>
#endif

/*
 * Connections one client opens to one host at most; transfers past them
 * wait in curl's queue for one to be free (or multiplex on it, HTTP/2).  A
 * pool worker carrying 1,000 series of one provider would otherwise open a
 * connection per transfer in flight, which providers count against their
 * limits (and may refuse), for no gain: their rate limits, not the number
 * of connections, bound how fast a worker may fetch.
 */
#define HTTP_MAX_HOST_CONNECTIONS	6

/*
 * How long past its timeout a transfer curl has not ended is ended by us
 * (http_expire).  curl ends the ones it runs at their timeout; this only
 * catches the ones it kept queued, so it need not be tight.
 */
#define HTTP_EXPIRE_GRACE_MS	500

/* Sockets curl may ask a client to watch: happy eyeballs and the resolver's */
#define HTTP_SOCKETS_PER_TRANSFER	3

typedef struct HttpSocket
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN / OUT / INOUT */
} HttpSocket;

/* One request slot: an easy handle kept for connection reuse. */
typedef struct HttpTransfer
{
	CURL	   *easy;			/* made at the slot's first use */
	SyncHttpResponse *resp;		/* response being filled */
	struct curl_slist *slist;	/* headers of the request in flight */
	bool		in_flight;		/* slot taken: started, not yet waited for,
								 * returned or cancelled */
	bool		attached;		/* easy is on the multi handle */
	bool		done;			/* finished (curl said so, or failed to start) */
	bool		submitted;		/* by sync_http_submit: next_done returns it */
	bool		in_done_list;
	bool		connect_only;	/* a raw connection kept for the caller */
	bool		trusted;		/* options of the request in flight */
	bool		allow_file;
	CURLcode	result;
	long		timeout_ms;
	int64		deadline;		/* monotonic ms it must be over by, 0: none */
	size_t		max_body;		/* largest answer taken, in bytes */
	bool		too_large;		/* the answer went past max_body */
	const char *refused_what;	/* netguard's word for a refused address */
	char		refused_addr[64];	/* that address, as text */
	dlist_node	done_node;		/* in the client's done list */
	struct SyncHttpClient *client;
	char		errbuf[CURL_ERROR_SIZE];
} HttpTransfer;

struct SyncHttpClient
{
	CURLM	   *multi;
	int64		timer_at;		/* curl's next timeout, monotonic ms; -1 for none */
	int			nsockets;		/* sockets curl asked us to watch */
	int			socket_cap;
	bool		socket_overflow;	/* a socket could not be watched */
#ifdef HTTP_USE_EPOLL
	int			epfd;			/* curl's sockets */
	struct epoll_event *ready;	/* socket_cap of them */
	WaitEventSet *set;			/* latch, postmaster death, epfd */
#else
	HttpSocket *sockets;		/* socket_cap of them, grown by realloc */
#endif
	bool		allow_file;		/* defaults of sync_http_start() */
	bool		trusted;
	/* open sockets to non-public addresses sync.allow_private_addresses let through */
	int			nprivate;
	curl_socket_t *private_fds; /* socket_cap of them */
	int			ntransfers;
	int			nbusy;			/* transfers in flight */
	int			next_free;		/* where sync_http_submit looks first */
	dlist_head	done_list;		/* submitted transfers finished, oldest first */
	HttpTransfer *transfers;	/* ntransfers of them */
};

static bool curl_initialized = false;

static void http_detach(SyncHttpClient *c, int slot);

/* Monotonic clock in ms: a plain system call, usable from callbacks. */
static int64
http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* curl callbacks: no palloc, no ereport */

#ifdef HTTP_USE_EPOLL
/*
 * curl says which sockets to watch: mirror that in the epoll set at once.
 * A known socket carries a non-NULL socketp (curl_multi_assign), so the
 * change is an EPOLL_CTL_MOD; curl forgets it at CURL_POLL_REMOVE, before
 * it may close the descriptor.
 */
static int
http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	SyncHttpClient *c = (SyncHttpClient *) userp;
	struct epoll_event ev;

	if (what == CURL_POLL_REMOVE)
	{
		if (socketp != NULL)
		{
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
			c->nsockets--;
		}
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	ev.data.fd = fd;
	if (socketp == NULL)
	{
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 &&
			(errno != EEXIST || epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev) != 0))
		{
			c->socket_overflow = true;
			return -1;
		}
		curl_multi_assign(c->multi, fd, c);
		c->nsockets++;
	}
	else if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
			 (errno != ENOENT || epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) != 0))
	{
		c->socket_overflow = true;
		return -1;
	}
	return 0;
}
#else
/* curl says which sockets to watch: keep them in the table for the next wait. */
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
		if (c->nsockets == c->socket_cap)
		{
			HttpSocket *grown = realloc(c->sockets, sizeof(HttpSocket) * c->socket_cap * 2);

			if (grown == NULL)
			{
				c->socket_overflow = true;
				return -1;
			}
			c->sockets = grown;
			c->socket_cap *= 2;
		}
		c->nsockets++;
	}
	c->sockets[i].fd = fd;
	c->sockets[i].what = what;
	return 0;
}
#endif

/* curl's next timeout, kept as a point in time: waits cut short do not push it back */
static int
http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	SyncHttpClient *c = (SyncHttpClient *) userp;

	c->timer_at = timeout_ms < 0 ? -1 : http_now_ms() + timeout_ms;
	return 0;
}

/*
 * Let curl act on its timeout, then ask it for the next one.  curl calls the
 * timer callback only when its earliest expiry changes, so after a timeout
 * that left nothing to wait for, or one found not yet due (timer_at is in
 * whole ms, curl's clock finer), no call may come: timer_at would stay in
 * the past and every later wait be a zero one, a spin of the whole worker
 * until the next request (021 counts an idle client's polls).
 */
static void
http_run_timeout(SyncHttpClient *c)
{
	int			running;
	long		next_ms = -1;

	/*
	 * curl's manual steers socket-API users to the callback, but both read
	 * the same timer list.  A multi handle a callback failed is dead and
	 * says 0 for ever: no timer then (each transfer's own deadline,
	 * http_expire, still ends it), or that would be a spin too.
	 */
	if (curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK ||
		curl_multi_timeout(c->multi, &next_ms) != CURLM_OK)
	{
		c->timer_at = -1;
		return;
	}
	c->timer_at = next_ms < 0 ? -1 : http_now_ms() + next_ms;
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
 * curl's open-socket callback: every connection a request not trusted
 * opens passes here with the resolved address, before connect().  A
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
	if (fd != CURL_SOCKET_BAD && what != NULL && c->nprivate < c->socket_cap)
		c->private_fds[c->nprivate++] = fd;
	return fd;
}

/*
 * Set on every request, trusted or not: curl closes a connection with the
 * callback of the request that opened it, but a connection is shared, and a
 * descriptor number left in private_fds after its close would later be shut
 * under another socket that took the number.
 */
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
 * curl's pre-request callback, for a request not trusted: called on the
 * connection the request will be sent on, new or reused.  The multi handle
 * shares its connections among all its transfers, so one a trusted request
 * opened to a private address (which never passed http_opensocket_cb) could
 * otherwise carry this request there.  Refusing makes the transfer end with
 * CURLE_ABORTED_BY_CALLBACK.
 */
static int
http_prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
			   int conn_primary_port, int conn_local_port)
{
	HttpTransfer *t = (HttpTransfer *) clientp;
	struct sockaddr_storage ss;
	size_t		sslen = sizeof(ss);
	char		ip[INET6_ADDRSTRLEN + 16];
	char	   *scope;
	const char *what;

	if (sync_allow_private_addresses)
		return CURL_PREREQFUNC_OK;
	memset(&ss, 0, sizeof(ss));
	strlcpy(ip, conn_primary_ip != NULL ? conn_primary_ip : "", sizeof(ip));
	if ((scope = strchr(ip, '%')) != NULL)
		*scope = '\0';			/* fe80::1%eth0 */
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *) &ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	/* anything else is "not an internet address": refused */
	what = sync_netguard_refuses((struct sockaddr *) &ss, sslen);
	if (what == NULL)
		return CURL_PREREQFUNC_OK;
	t->refused_what = what;
	strlcpy(t->refused_addr, ip[0] != '\0' ? ip : "(unknown)", sizeof(t->refused_addr));
	return CURL_PREREQFUNC_ABORT;
}

/*
 * sync.allow_private_addresses went off (a reload) while connections it
 * allowed are kept alive for reuse: shut them, so that curl finds them
 * dead and connects again, through the check.  The descriptors stay open
 * until curl closes them.  Called before a request not trusted starts.
 */
static void
http_shut_private(SyncHttpClient *c)
{
	if (sync_allow_private_addresses)
		return;
	for (int i = 0; i < c->nprivate; i++)
		shutdown(c->private_fds[i], SHUT_RDWR);
}

SyncHttpClient *
sync_http_client_create_sized(int max_transfers)
{
	SyncHttpClient *c;

	if (max_transfers < 1 || max_transfers > SYNC_HTTP_MAX_CLIENT_TRANSFERS)
		return NULL;
	if (!curl_initialized)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
			return NULL;
		curl_initialized = true;
	}
	c = calloc(1, sizeof(SyncHttpClient));
	if (c == NULL)
		return NULL;
#ifdef HTTP_USE_EPOLL
	c->epfd = -1;
#endif
	c->timer_at = -1;
	dlist_init(&c->done_list);
	c->ntransfers = max_transfers;
	c->socket_cap = max_transfers * HTTP_SOCKETS_PER_TRANSFER + 8;
	c->transfers = calloc(max_transfers, sizeof(HttpTransfer));
	c->private_fds = calloc(c->socket_cap, sizeof(curl_socket_t));
#ifdef HTTP_USE_EPOLL
	c->ready = calloc(c->socket_cap, sizeof(struct epoll_event));
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->ready == NULL || c->epfd < 0)
	{
		sync_http_client_destroy(c);
		return NULL;
	}
#else
	c->sockets = calloc(c->socket_cap, sizeof(HttpSocket));
	if (c->sockets == NULL)
	{
		sync_http_client_destroy(c);
		return NULL;
	}
#endif
	c->multi = curl_multi_init();
	if (c->transfers == NULL || c->private_fds == NULL || c->multi == NULL)
	{
		sync_http_client_destroy(c);
		return NULL;
	}
	/* easy handles are made at each slot's first use: most pool slots idle */
	for (int i = 0; i < max_transfers; i++)
		c->transfers[i].client = c;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) HTTP_MAX_HOST_CONNECTIONS);
	return c;
}

SyncHttpClient *
sync_http_client_create(void)
{
	return sync_http_client_create_sized(SYNC_HTTP_MAX_TRANSFERS);
}

int
sync_http_client_capacity(SyncHttpClient *c)
{
	return c->ntransfers;
}

void
sync_http_client_destroy(SyncHttpClient *c)
{
	if (c == NULL)
		return;
	for (int i = 0; c->transfers != NULL && i < c->ntransfers; i++)
	{
		if (c->transfers[i].in_flight)
			http_detach(c, i);
		if (c->transfers[i].easy)
			curl_easy_cleanup(c->transfers[i].easy);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
#ifdef HTTP_USE_EPOLL
	if (c->set != NULL)
		FreeWaitEventSet(c->set);
	if (c->epfd >= 0)
		close(c->epfd);
	free(c->ready);
#else
	free(c->sockets);
#endif
	free(c->private_fds);
	free(c->transfers);
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
	t->max_body = (size_t) (t->allow_file ? sync_max_file_size_kb : sync_max_response_size_kb) * 1024;
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	/* redirects are never followed: a 3xx is an answer like any other */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, http_closesocket_cb);
	curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
	if (!t->trusted)
	{
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, http_opensocket_cb);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
		curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, http_prereq_cb);
		curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
		curl_easy_setopt(e, CURLOPT_PROXY, "");
	}
	if (t->connect_only)
	{
		/* TCP and TLS only: the caller speaks its own protocol on it */
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
		/* its own connection: never one another transfer left in the pool */
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
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
					 t->allow_file && t->trusted ? "http,https,file" : "http,https");
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

/* Slot t is taken: in flight until waited for, returned, or cancelled. */
static void
http_take(SyncHttpClient *c, HttpTransfer *t)
{
	Assert(!t->in_flight);
	t->in_flight = true;
	c->nbusy++;
}

/* Detach a transfer from the multi handle and forget it: the slot is free. */
static void
http_detach(SyncHttpClient *c, int slot)
{
	HttpTransfer *t = &c->transfers[slot];

	if (t->attached)
		curl_multi_remove_handle(c->multi, t->easy);
	t->attached = false;
	if (t->in_done_list)
		dlist_delete(&t->done_node);
	t->in_done_list = false;
	curl_slist_free_all(t->slist);
	t->slist = NULL;
	t->resp = NULL;
	if (t->in_flight)
		c->nbusy--;
	t->in_flight = false;
	t->done = false;
	t->submitted = false;
}

static void
http_detach_all(SyncHttpClient *c)
{
	for (int i = 0; i < c->ntransfers; i++)
		if (c->transfers[i].in_flight)
			http_detach(c, i);
}

/* A submitted transfer finished: queue it for sync_http_next_done(). */
static void
http_push_done(SyncHttpClient *c, HttpTransfer *t)
{
	if (t->submitted && !t->in_done_list)
	{
		dlist_push_tail(&c->done_list, &t->done_node);
		t->in_done_list = true;
	}
}

/* A request that could not start: resp says why. */
static bool
http_start_failed(HttpTransfer *t, CURLcode code, const char *why)
{
	curl_slist_free_all(t->slist);
	t->slist = NULL;
	t->resp->curl_code = code;
	strlcpy(t->resp->error, why, sizeof(t->resp->error));
	return false;
}

/*
 * Start a GET in slot t with the options of this request: it goes out as
 * far as curl can take it without waiting.  false when it could not start,
 * with resp->curl_code and resp->error saying why.
 */
static bool
http_begin(SyncHttpClient *c, HttpTransfer *t, const char *url, const char *const *headers,
		   long timeout_ms, bool trusted, bool allow_file, SyncHttpResponse *resp)
{
	CURLMcode	mc;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	resp->ratelimit_remaining = -1;
	resp->used_weight = -1;
	resp->curl_code = CURLE_OK;
	t->slist = NULL;
	t->resp = resp;
	t->trusted = trusted;
	t->allow_file = allow_file;
	t->timeout_ms = timeout_ms;
	t->done = false;
	t->result = CURLE_OK;

	if (t->easy == NULL && (t->easy = curl_easy_init()) == NULL)
		return http_start_failed(t, CURLE_OUT_OF_MEMORY, "out of memory making a curl handle");
	for (int i = 0; headers != NULL && headers[i] != NULL; i++)
	{
		struct curl_slist *grown = curl_slist_append(t->slist, headers[i]);

		if (grown == NULL)
			return http_start_failed(t, CURLE_OUT_OF_MEMORY, "out of memory building request headers");
		t->slist = grown;
	}

	if (!trusted)
		http_shut_private(c);
	http_setup_easy(c, t, url, t->slist, timeout_ms, resp);
	mc = curl_multi_add_handle(c->multi, t->easy);
	if (mc != CURLM_OK)
	{
		char		why[sizeof(resp->error)];

		snprintf(why, sizeof(why), "could not start the request: %s", curl_multi_strerror(mc));
		return http_start_failed(t, mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT,
								 why);
	}
	t->attached = true;
	t->deadline = timeout_ms > 0 ? http_now_ms() + timeout_ms : 0;
	http_run_timeout(c);
	return true;
}

/*
 * Start a GET request in transfer slot `slot`: the request goes out as far
 * as curl can take it without waiting, and the answer collects while the
 * caller does other work or waits for another slot.  Several slots may be
 * in flight at once on the one multi handle.  *resp must stay valid until
 * sync_http_wait() for this slot returns; the caller frees it with
 * sync_http_response_free().  The client's trusted and allow_file apply.
 */
void
sync_http_start(SyncHttpClient *c, int slot, const char *url, const char *const *headers,
				long timeout_ms, SyncHttpResponse *resp)
{
	HttpTransfer *t = &c->transfers[slot];

	Assert(slot >= 0 && slot < c->ntransfers && !t->in_flight);
	c->socket_overflow = false;
	if (http_begin(c, t, url, headers, timeout_ms, c->trusted, c->allow_file, resp))
		http_take(c, t);
	else
		t->resp = NULL;			/* sync_http_wait() returns at once */
}

int
sync_http_submit(SyncHttpClient *c, const char *url, const char *const *headers,
				 const SyncHttpOptions *opts, SyncHttpResponse *resp)
{
	HttpTransfer *t = NULL;

	if (c->nbusy >= c->ntransfers)
		return -1;
	/* the lowest free slot: the same few easy handles serve a light load */
	for (int i = 0; i < c->ntransfers; i++)
		if (!c->transfers[i].in_flight && !c->transfers[i].connect_only)
		{
			t = &c->transfers[i];
			break;
		}
	if (t == NULL)
		return -1;
	http_take(c, t);
	t->submitted = true;
	if (!http_begin(c, t, url, headers, opts->timeout_ms, opts->trusted, opts->allow_file, resp))
	{
		t->done = true;
		http_push_done(c, t);
	}
	return t - c->transfers;
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
	http_detach_all(c);
}

bool
sync_http_in_flight(SyncHttpClient *c, int slot)
{
	return c->transfers[slot].in_flight;
}

int
sync_http_active(SyncHttpClient *c)
{
	return c->nbusy;
}

/* Note every transfer curl reports finished. */
static void
http_collect_done(SyncHttpClient *c)
{
	CURLMsg    *msg;
	int			queued;

	while ((msg = curl_multi_info_read(c->multi, &queued)) != NULL)
	{
		char	   *priv = NULL;
		HttpTransfer *t;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		t = (HttpTransfer *) priv;
		if (t == NULL || !t->in_flight || !t->attached || t->done)
			continue;
		t->done = true;
		t->result = msg->data.result;
		http_push_done(c, t);
	}
}

/*
 * End the transfers past their timeout that curl has not ended.  curl ends
 * a transfer it runs at its timeout, but one it keeps queued for a
 * connection (HTTP_MAX_HOST_CONNECTIONS busy) may wait far longer in
 * libcurl 7.88 (curl issues 6744, 13227: fixed in 8.8), which would stall
 * the series behind it.
 */
static void
http_expire(SyncHttpClient *c, int64 now)
{
	for (int i = 0; i < c->ntransfers; i++)
	{
		HttpTransfer *t = &c->transfers[i];

		if (!t->in_flight || !t->attached || t->done || t->deadline == 0 ||
			now < t->deadline + HTTP_EXPIRE_GRACE_MS)
			continue;
		curl_multi_remove_handle(c->multi, t->easy);
		t->attached = false;
		t->done = true;
		t->result = CURLE_OPERATION_TIMEDOUT;
		snprintf(t->errbuf, sizeof(t->errbuf),
				 "Operation timed out after %ld milliseconds (queued for a connection)",
				 t->timeout_ms);
		http_push_done(c, t);
	}
}

/* When http_expire() has work next, monotonic ms; -1 for never. */
static int64
http_next_expiry(SyncHttpClient *c)
{
	int64		next = -1;

	for (int i = 0; i < c->ntransfers; i++)
	{
		HttpTransfer *t = &c->transfers[i];

		if (t->in_flight && t->attached && !t->done && t->deadline != 0 &&
			(next < 0 || t->deadline + HTTP_EXPIRE_GRACE_MS < next))
			next = t->deadline + HTTP_EXPIRE_GRACE_MS;
	}
	return next;
}

#ifdef HTTP_USE_EPOLL
/* The client's WaitEventSet: made once, it never changes. */
static void
http_make_set(SyncHttpClient *c)
{
	WaitEventSet *set = CreateWaitEventSet(TopMemoryContext, 3);

	PG_TRY();
	{
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		AddWaitEventToSet(set, WL_SOCKET_READABLE, c->epfd, NULL, NULL);
	}
	PG_CATCH();
	{
		FreeWaitEventSet(set);
		PG_RE_THROW();
	}
	PG_END_TRY();
	c->set = set;
}
#endif

/*
 * Wait at most max_wait_ms (< 0: no limit of its own) for curl's sockets,
 * its timer, a transfer's deadline or the latch, and let curl act on what
 * happened.  Returns true when the latch was set (it has been reset).  May
 * raise an ERROR: callers detach their transfers first.
 */
static bool
http_wait_once(SyncHttpClient *c, long max_wait_ms)
{
	int64		now = http_now_ms();
	int64		expiry = http_next_expiry(c);
	long		wait = max_wait_ms;
	bool		latch_set = false;
	int			running;

	if (c->timer_at >= 0 && (wait < 0 || c->timer_at - now < wait))
		wait = (long) Max(0, c->timer_at - now);
	if (expiry >= 0 && (wait < 0 || expiry - now < wait))
		wait = (long) Max(0, expiry - now);

#ifdef HTTP_USE_EPOLL
	{
		WaitEvent	occurred[3];
		int			nready;
		int			n;

		if (c->set == NULL)
			http_make_set(c);
		nready = WaitEventSetWait(c->set, wait, occurred, lengthof(occurred),
								  PG_WAIT_EXTENSION);
		for (int i = 0; i < nready; i++)
			if (occurred[i].events & WL_LATCH_SET)
			{
				ResetLatch(MyLatch);
				latch_set = true;
			}

		/*
		 * Asked even when only the latch woke us: a set latch is reported
		 * alone, and a busy latch must not starve the sockets.
		 */
		n = epoll_wait(c->epfd, c->ready, c->socket_cap, 0);
		for (int i = 0; i < n; i++)
		{
			uint32		ev = c->ready[i].events;
			int			flags = 0;

			if (ev & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (ev & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (ev & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(c->multi, c->ready[i].data.fd, flags, &running);
		}
	}
#else
	{
		WaitEventSet *set;
		WaitEvent  *occurred;
		int			nready;

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
		occurred = palloc(sizeof(WaitEvent) * (c->nsockets + 2));
		nready = WaitEventSetWait(set, wait, occurred, c->nsockets + 2, PG_WAIT_EXTENSION);
		FreeWaitEventSet(set);
		for (int i = 0; i < nready; i++)
		{
			WaitEvent  *ev = &occurred[i];

			if (ev->events & WL_LATCH_SET)
			{
				ResetLatch(MyLatch);
				latch_set = true;
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
		pfree(occurred);
	}
#endif

	now = http_now_ms();
	if (c->timer_at >= 0 && now >= c->timer_at)
		http_run_timeout(c);
	http_collect_done(c);
	http_expire(c, now);
	return latch_set;
}

bool
sync_http_poll(SyncHttpClient *c, long timeout_ms)
{
	volatile bool latch_set = false;
	volatile long wait;

	/* a finished transfer not yet returned: only act on what is ready */
	http_collect_done(c);
	wait = dlist_is_empty(&c->done_list) ? timeout_ms : 0;
	PG_TRY();
	{
		latch_set = http_wait_once(c, wait);
	}
	PG_CATCH();
	{
		http_detach_all(c);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return latch_set;
}

/*
 * Fill in a finished transfer's response (curl_code already set): its
 * status, or an error for people, the way every caller gets it.
 */
static void
http_finish(SyncHttpClient *c, HttpTransfer *t)
{
	SyncHttpResponse *resp = t->resp;

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
				 t->allow_file ? "sync.max_file_size" : "sync.max_response_size",
				 t->max_body / 1024);
	}
	else if (t->refused_what != NULL &&
			 (resp->curl_code == CURLE_COULDNT_CONNECT ||
			  resp->curl_code == CURLE_ABORTED_BY_CALLBACK))
		snprintf(resp->error, sizeof(resp->error),
				 "connecting to %s is not allowed: a %s address, and the source was not created "
				 "by a superuser (see sync.allow_private_addresses)",
				 t->refused_addr, t->refused_what);
	else if (resp->curl_code == CURLE_OPERATION_TIMEDOUT &&
			 strstr(t->errbuf, "with timeout after 0 ms") != NULL)
	{
		/*
		 * libcurl 7.88's words for a transfer whose time ran out while it
		 * was queued for a connection (HTTP_MAX_HOST_CONNECTIONS busy):
		 * "Failed to resolve host '127.0.0.1' with timeout after 0 ms"
		 * would send people looking at their DNS.
		 */
		snprintf(resp->error, sizeof(resp->error),
				 "Operation timed out after %ld milliseconds (queued for a connection)",
				 t->timeout_ms);
	}
	else
		snprintf(resp->error, sizeof(resp->error), "%s",
				 t->errbuf[0] ? t->errbuf : curl_easy_strerror((CURLcode) resp->curl_code));
}

int
sync_http_next_done(SyncHttpClient *c)
{
	HttpTransfer *t;
	int			slot;

	http_collect_done(c);
	if (dlist_is_empty(&c->done_list))
		return -1;
	t = dlist_container(HttpTransfer, done_node, dlist_pop_head_node(&c->done_list));
	t->in_done_list = false;
	slot = t - c->transfers;
	/* one that failed to start has its response filled in already */
	if (t->resp->curl_code == CURLE_OK)
	{
		t->resp->curl_code = t->result;
		http_finish(c, t);
	}
	http_detach(c, slot);
	return slot;
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
	if (t->done && !t->attached && resp->curl_code != CURLE_OK)
	{
		/* submitted, failed to start: resp says why */
		http_detach(c, slot);
		return;
	}

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
			if (http_wait_once(c, 1000) && should_abort != NULL && should_abort())
			{
				resp->aborted = true;
				resp->curl_code = CURLE_ABORTED_BY_CALLBACK;
				break;
			}
		}
	}
	PG_CATCH();
	{
		http_detach_all(c);
		PG_RE_THROW();
	}
	PG_END_TRY();

	http_finish(c, t);
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
	/* a fresh handle at the next use: the old one's connection must not be reused */
	curl_easy_cleanup(t->easy);
	t->easy = NULL;
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
