/*-------------------------------------------------------------------------
 * http.h
 *	  HTTP transport of the workers: libcurl's multi interface driven from
 *	  the worker's latch, so SIGTERM and SIGHUP are seen while a request is
 *	  in flight.  Two ways to use a client: the blocking one of a worker of
 *	  one series (sync_http_get, or sync_http_start/wait in a few fixed
 *	  slots), and the event loop of a pool worker carrying many series
 *	  (sync_http_submit, sync_http_poll, sync_http_next_done).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_HTTP_H
#define SYNC_HTTP_H

#include <stddef.h>

typedef struct SyncHttpClient SyncHttpClient;

/* requests a client of sync_http_client_create() can have in flight at once */
#define SYNC_HTTP_MAX_TRANSFERS 4

/* most transfers one client may have in flight */
#define SYNC_HTTP_MAX_CLIENT_TRANSFERS 256

/* Called whenever the latch is set mid-request: true aborts the request. */
typedef bool (*SyncHttpAbortCheck) (void);

typedef struct SyncHttpResponse
{
	long		status;			/* HTTP status; 200 for a file read, 0 when no response came */
	char	   *body;			/* malloc'd, NUL-terminated; NULL if empty */
	size_t		body_len;
	double		retry_after_s;	/* Retry-After in seconds, < 0 if absent */
	long		ratelimit_remaining;	/* X-RateLimit-Remaining, < 0 if absent */
	long		ratelimit_reset;	/* X-RateLimit-Reset, Unix seconds, 0 if absent */
	long		used_weight;	/* Binance X-MBX-USED-WEIGHT-1M, < 0 if absent */
	int			curl_code;		/* CURLE_OK when the transfer completed */
	bool		aborted;		/* should_abort() said stop */
	char		error[256];		/* transport error, for people */
} SyncHttpResponse;

/* Options of one request: a pool worker carries series of many sources on one client. */
typedef struct SyncHttpOptions
{
	long		timeout_ms;
	bool		trusted;		/* its source was created by a superuser */
	bool		allow_file;		/* csv day files: file:// if trusted, sync.max_file_size */
} SyncHttpOptions;

/* A client with SYNC_HTTP_MAX_TRANSFERS slots; NULL on failure. */
extern SyncHttpClient *sync_http_client_create(void);

/* A client with room for max_transfers (1..SYNC_HTTP_MAX_CLIENT_TRANSFERS) requests in flight; NULL on failure. */
extern SyncHttpClient *sync_http_client_create_sized(int max_transfers);
extern int	sync_http_client_capacity(SyncHttpClient *c);
extern void sync_http_client_destroy(SyncHttpClient *client);

/*
 * Defaults of sync_http_start() and sync_http_get(); sync_http_submit()
 * takes its own per request.
 *
 * The client reads the day files of the csv provider: answers may be as
 * large as sync.max_file_size instead of sync.max_response_size, and
 * file:// URLs are allowed if the client is trusted.
 */
extern void sync_http_client_allow_file(SyncHttpClient *client);

/*
 * trusted: the source was created by a superuser.  A client is not trusted
 * until told so: its connections (requests and sync_http_connect()) then
 * reach public addresses only, unless sync.allow_private_addresses is on.
 */
extern void sync_http_client_set_trusted(SyncHttpClient *client, bool trusted);

extern void sync_http_get(SyncHttpClient *client, const char *url,
						  const char *const *headers, long timeout_ms,
						  SyncHttpAbortCheck should_abort,
						  SyncHttpResponse *resp);
extern void sync_http_start(SyncHttpClient *client, int slot, const char *url,
							const char *const *headers, long timeout_ms,
							SyncHttpResponse *resp);
extern void sync_http_wait(SyncHttpClient *client, int slot, SyncHttpAbortCheck should_abort);
extern void sync_http_cancel(SyncHttpClient *client, int slot);
extern void sync_http_cancel_all(SyncHttpClient *client);
extern bool sync_http_in_flight(SyncHttpClient *client, int slot);
extern void sync_http_response_free(SyncHttpResponse *resp);

/*
 * Start a GET in a free transfer slot with per-request options, without waiting.
 * Returns the slot, or -1 when every slot is busy (nothing started).  *resp must stay
 * valid until the slot is returned by sync_http_next_done() or cancelled with
 * sync_http_cancel(c, slot).  A request that fails to start (out of memory building
 * headers...) is still given a slot and is reported done, with resp->curl_code and
 * resp->error saying why, by the next sync_http_next_done().  url and headers are
 * copied: they need not outlive the call.
 */
extern int	sync_http_submit(SyncHttpClient *c, const char *url, const char *const *headers,
							 const SyncHttpOptions *opts, SyncHttpResponse *resp);

/*
 * Wait at most timeout_ms (0: do not sleep, only act on what is ready; < 0: no
 * limit of its own) for curl's sockets or timer, or the process latch, and let
 * curl act on what happened.  Returns true when the latch was set (it has been
 * reset; the caller checks its flags: SIGTERM, SIGHUP, assignments).  Postmaster
 * death exits the process.  Never sleeps past curl's own timeout, nor past
 * timeout_ms, nor at all while a finished transfer waits for next_done.  An
 * ERROR raised inside (out of memory...) detaches every transfer first.
 */
extern bool sync_http_poll(SyncHttpClient *c, long timeout_ms);

/*
 * A finished transfer: its slot, with its response complete exactly as
 * sync_http_wait() completes one today (status, body, curl_code, error texts for
 * too-large answers and refused private addresses), and the slot free again.
 * -1 when none has finished since the last call.  Returns submitted transfers
 * only, oldest finished first.
 */
extern int	sync_http_next_done(SyncHttpClient *c);

/*
 * transfers in flight (submitted and not yet returned by next_done or cancelled;
 * those of sync_http_start and sync_http_connect count too)
 */
extern int	sync_http_active(SyncHttpClient *c);

/* Raw connections for protocols of our own (WebSocket, see websocket.c). */
typedef void CURL;
extern CURL *sync_http_connect(SyncHttpClient *client, int slot, const char *url,
							   long timeout_ms, SyncHttpAbortCheck should_abort,
							   SyncHttpResponse *resp);
extern void sync_http_disconnect(SyncHttpClient *client, int slot);

#endif							/* SYNC_HTTP_H */
