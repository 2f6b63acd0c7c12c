/*-------------------------------------------------------------------------
 * http.h
 *	  HTTP transport of the workers: libcurl's multi interface driven from
 *	  the worker's latch, so SIGTERM and SIGHUP are seen while a request is
 *	  in flight.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_HTTP_H
#define SYNC_HTTP_H

#include <stddef.h>

typedef struct SyncHttpClient SyncHttpClient;

/* requests one client can have in flight at once */
#define SYNC_HTTP_MAX_TRANSFERS 4

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

extern SyncHttpClient *sync_http_client_create(void);
extern void sync_http_client_destroy(SyncHttpClient *client);

/*
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

/* Raw connections for protocols of our own (WebSocket, see websocket.c). */
typedef void CURL;
extern CURL *sync_http_connect(SyncHttpClient *client, int slot, const char *url,
							   long timeout_ms, SyncHttpAbortCheck should_abort,
							   SyncHttpResponse *resp);
extern void sync_http_disconnect(SyncHttpClient *client, int slot);

#endif							/* SYNC_HTTP_H */
