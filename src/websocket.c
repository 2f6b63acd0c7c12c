/*-------------------------------------------------------------------------
 * websocket.c
 *	  WebSocket client (RFC 6455) for the realtime streams.
 *
 * libcurl has no ws:// in Debian 12's 7.88, so: sync_http_connect() makes
 * the TCP or TLS connection (CONNECT_ONLY, on the worker's latch), this
 * file sends the opening handshake and checks Sec-WebSocket-Accept, and
 * wslay's event API does the framing: masking, fragmented and large
 * messages, ping/pong (wslay answers pings itself), the close handshake.
 *
 * wslay's callbacks only move bytes (curl_easy_recv/send) and copy
 * finished messages into malloc'd queue entries: nothing in them can raise
 * an ERROR.  Messages are handed to the caller by sync_ws_service(), after
 * wslay has returned.  Waits are on a WaitEventSet with the socket and the
 * latch, so SIGTERM is seen while a stream is quiet.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <wslay/wslay.h>

#include "common/base64.h"
#include "common/cryptohash.h"
#include "common/sha1.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "websocket.h"

#define WS_MAX_HANDSHAKE	16384
#define WS_MAX_MESSAGE		(64 * 1024 * 1024)
#define WS_GUID				"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct WsMessage
{
	struct WsMessage *next;
	size_t		len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} WsMessage;

struct SyncWs
{
	SyncHttpClient *http;
	int			slot;
	CURL	   *easy;
	curl_socket_t fd;
	wslay_event_context_ptr ctx;
	WsMessage  *head;			/* received, not yet delivered */
	WsMessage  *tail;
	uint8_t    *early;			/* bytes that came with the handshake answer */
	size_t		early_len;
	size_t		early_off;
	bool		peer_gone;		/* EOF or a close frame */
	bool		failed;
	size_t		pumped;			/* bytes read since the pump began */
	char		error[256];
};

/*
 * Bytes one pump reads before its messages are handed on: a stream that
 * never runs dry (a backlog) is then worked through in slices, and the
 * queue of received messages, with the memory it holds, stays small.
 */
#define WS_PUMP_BYTES	(256 * 1024)

/* wslay callbacks: bytes and malloc only */

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	SyncWs	   *ws = (SyncWs *) user;
	size_t		n = 0;
	CURLcode	rc;

	if (ws->early_off < ws->early_len)
	{
		n = Min(len, ws->early_len - ws->early_off);
		memcpy(buf, ws->early + ws->early_off, n);
		ws->early_off += n;
		return (ssize_t) n;
	}
	if (ws->pumped >= WS_PUMP_BYTES)
	{
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	rc = curl_easy_recv(ws->easy, buf, len, &n);
	ws->pumped += n;
	if (rc == CURLE_AGAIN)
	{
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (rc != CURLE_OK || n == 0)
	{
		if (rc != CURLE_OK)
			snprintf(ws->error, sizeof(ws->error), "stream read failed: %s", curl_easy_strerror(rc));
		else
			snprintf(ws->error, sizeof(ws->error), "stream closed by the server without a close frame");
		ws->peer_gone = true;
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t) n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	SyncWs	   *ws = (SyncWs *) user;
	size_t		n = 0;
	CURLcode	rc = curl_easy_send(ws->easy, data, len, &n);

	if (rc == CURLE_AGAIN)
	{
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (rc != CURLE_OK)
	{
		snprintf(ws->error, sizeof(ws->error), "stream write failed: %s", curl_easy_strerror(rc));
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t) n;
}

static int
ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	if (!pg_strong_random(buf, len))
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t) random();
	return 0;
}

static void
ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	SyncWs	   *ws = (SyncWs *) user;
	WsMessage  *m;

	if (arg->opcode == WSLAY_CONNECTION_CLOSE)
	{
		ws->peer_gone = true;
		if (ws->error[0] == '\0')
			snprintf(ws->error, sizeof(ws->error), "stream closed by the server (code %u)",
					 (unsigned) arg->status_code);
		return;
	}
	if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
		return;					/* ping and pong are wslay's business */
	m = malloc(offsetof(WsMessage, data) + arg->msg_length + 1);
	if (m == NULL)
	{
		ws->failed = true;
		snprintf(ws->error, sizeof(ws->error), "out of memory for a %zu-byte message", arg->msg_length);
		return;
	}
	m->next = NULL;
	m->len = arg->msg_length;
	memcpy(m->data, arg->msg, arg->msg_length);
	m->data[m->len] = '\0';
	if (ws->tail)
		ws->tail->next = m;
	else
		ws->head = m;
	ws->tail = m;
}

/*
 * Wait for the socket (readable, and writable when asked) or the latch.
 * Returns 1 when the socket is ready, 0 on timeout, -1 when should_abort()
 * says stop.
 */
static int
ws_wait(SyncWs *ws, bool want_write, long timeout_ms, SyncHttpAbortCheck should_abort)
{
	WaitEventSet *set;
	WaitEvent	ev[3];
	int			n;
	int			result = 0;

	set = CreateWaitEventSet(CurrentMemoryContext, 3);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(set, WL_SOCKET_READABLE | (want_write ? WL_SOCKET_WRITEABLE : 0),
					  ws->fd, NULL, NULL);
	n = WaitEventSetWait(set, timeout_ms, ev, lengthof(ev), PG_WAIT_EXTENSION);
	FreeWaitEventSet(set);
	for (int i = 0; i < n; i++)
	{
		if (ev[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			if (should_abort != NULL && should_abort())
				return -1;
		}
		else
			result = 1;
	}
	return result;
}

/* base64(SHA-1(key + GUID)): what the server must answer. */
static bool
ws_expected_accept(const char *key, char *out, int outlen)
{
	char		input[128];
	uint8		digest[SHA1_DIGEST_LENGTH];
	pg_cryptohash_ctx *h;
	ResourceOwner saved = CurrentResourceOwner;
	ResourceOwner owner;
	bool		ok;
	int			n;

	/* the hash context is tracked by a resource owner; workers have none here */
	owner = ResourceOwnerCreate(NULL, "sync websocket handshake");
	CurrentResourceOwner = owner;
	snprintf(input, sizeof(input), "%s%s", key, WS_GUID);
	h = pg_cryptohash_create(PG_SHA1);
	ok = h != NULL &&
		pg_cryptohash_init(h) == 0 &&
		pg_cryptohash_update(h, (uint8 *) input, strlen(input)) == 0 &&
		pg_cryptohash_final(h, digest, sizeof(digest)) == 0;
	pg_cryptohash_free(h);
	CurrentResourceOwner = saved;
	ResourceOwnerRelease(owner, RESOURCE_RELEASE_BEFORE_LOCKS, false, true);
	ResourceOwnerRelease(owner, RESOURCE_RELEASE_LOCKS, false, true);
	ResourceOwnerRelease(owner, RESOURCE_RELEASE_AFTER_LOCKS, false, true);
	ResourceOwnerDelete(owner);
	if (!ok)
		return false;
	n = pg_b64_encode((char *) digest, sizeof(digest), out, outlen - 1);
	if (n < 0)
		return false;
	out[n] = '\0';
	return true;
}

/* The value of header `name` (lower case, with ':') in the answer, or NULL. */
static char *
ws_header(char *answer, const char *name, char *value, size_t valsize)
{
	char	   *line = strstr(answer, "\r\n");

	while (line != NULL && line[2] != '\r')
	{
		char	   *start = line + 2;
		char	   *end = strstr(start, "\r\n");

		if (end == NULL)
			break;
		if (pg_strncasecmp(start, name, strlen(name)) == 0)
		{
			char	   *v = start + strlen(name);
			size_t		len;

			while (*v == ' ' || *v == '\t')
				v++;
			len = Min((size_t) (end - v), valsize - 1);
			memcpy(value, v, len);
			value[len] = '\0';
			while (len > 0 && value[len - 1] == ' ')
				value[--len] = '\0';
			return value;
		}
		line = end;
	}
	return NULL;
}

static bool
ws_fail(SyncWs *ws, char *error, size_t errlen, const char *fmt, const char *arg)
{
	snprintf(error, errlen, fmt, arg);
	return false;
}

/* Send the opening handshake and check the answer (RFC 6455, 4.1). */
static bool
ws_handshake(SyncWs *ws, const char *host, const char *path, long timeout_ms,
			 SyncHttpAbortCheck should_abort, char *error, size_t errlen)
{
	uint8		nonce[16];
	char		key[32];
	char		accept[64];
	char		got[128];
	char		request[2048];
	char	   *answer;
	size_t		sent = 0;
	size_t		have = 0;
	size_t		reqlen;
	char	   *end = NULL;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	int			n;

	if (!pg_strong_random(nonce, sizeof(nonce)))
		return ws_fail(ws, error, errlen, "%s", "could not generate a WebSocket key");
	n = pg_b64_encode((char *) nonce, sizeof(nonce), key, sizeof(key) - 1);
	key[Max(n, 0)] = '\0';
	if (!ws_expected_accept(key, accept, sizeof(accept)))
		return ws_fail(ws, error, errlen, "%s", "could not compute the WebSocket accept key");
	reqlen = snprintf(request, sizeof(request),
					  "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
					  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: %s\r\n\r\n",
					  path, host, key, sync_user_agent);
	if (reqlen >= sizeof(request))
		return ws_fail(ws, error, errlen, "%s", "stream URL too long");

	while (sent < reqlen)
	{
		size_t		k = 0;
		CURLcode	rc = curl_easy_send(ws->easy, request + sent, reqlen - sent, &k);

		if (rc == CURLE_AGAIN)
		{
			long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

			if (left <= 0 || ws_wait(ws, true, left, should_abort) < 0)
				return ws_fail(ws, error, errlen, "%s", "WebSocket handshake timed out or was aborted");
			continue;
		}
		if (rc != CURLE_OK)
			return ws_fail(ws, error, errlen, "WebSocket handshake failed: %s", curl_easy_strerror(rc));
		sent += k;
	}

	answer = palloc(WS_MAX_HANDSHAKE + 1);
	while (end == NULL)
	{
		size_t		k = 0;
		CURLcode	rc;

		if (have >= WS_MAX_HANDSHAKE)
			return ws_fail(ws, error, errlen, "%s", "WebSocket handshake answer too long");
		rc = curl_easy_recv(ws->easy, answer + have, WS_MAX_HANDSHAKE - have, &k);
		if (rc == CURLE_AGAIN)
		{
			long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

			if (left <= 0 || ws_wait(ws, false, left, should_abort) < 0)
				return ws_fail(ws, error, errlen, "%s", "WebSocket handshake timed out or was aborted");
			continue;
		}
		if (rc != CURLE_OK || k == 0)
			return ws_fail(ws, error, errlen, "WebSocket handshake failed: %s",
						   rc != CURLE_OK ? curl_easy_strerror(rc) : "connection closed");
		have += k;
		answer[have] = '\0';
		end = strstr(answer, "\r\n\r\n");
	}
	if (strncmp(answer, "HTTP/1.1 101", 12) != 0)
	{
		char		status[128];

		strlcpy(status, answer, Min(sizeof(status), (size_t) (strcspn(answer, "\r\n") + 1)));
		return ws_fail(ws, error, errlen, "stream endpoint refused the WebSocket upgrade: %s", status);
	}
	if (ws_header(answer, "sec-websocket-accept:", got, sizeof(got)) == NULL || strcmp(got, accept) != 0)
		return ws_fail(ws, error, errlen, "%s", "stream endpoint answered with a wrong Sec-WebSocket-Accept");

	/* frames that arrived with the answer go to wslay first */
	end += 4;
	ws->early_len = have - (end - answer);
	if (ws->early_len > 0)
	{
		ws->early = malloc(ws->early_len);
		if (ws->early == NULL)
			return ws_fail(ws, error, errlen, "%s", "out of memory");
		memcpy(ws->early, end, ws->early_len);
	}
	pfree(answer);
	return true;
}

/*
 * Connect to a ws:// or wss:// URL and complete the handshake, using
 * transfer slot `slot` of the worker's HTTP client.  NULL on failure, with
 * the reason in error.
 */
SyncWs *
sync_ws_open(SyncHttpClient *http, int slot, const char *url, long timeout_ms,
			 SyncHttpAbortCheck should_abort, char *error, size_t errlen)
{
	struct wslay_event_callbacks callbacks = {
		ws_recv_cb, ws_send_cb, ws_genmask_cb, NULL, NULL, NULL, ws_msg_cb
	};
	SyncHttpResponse resp;
	SyncWs	   *ws;
	const char *rest;
	char		origin[512];
	char		host[512];
	const char *path;
	bool		tls;
	size_t		hostlen;
	curl_socket_t fd = CURL_SOCKET_BAD;

	if (pg_strncasecmp(url, "wss://", 6) == 0)
		tls = true, rest = url + 6;
	else if (pg_strncasecmp(url, "ws://", 5) == 0)
		tls = false, rest = url + 5;
	else
	{
		snprintf(error, errlen, "stream URL must start with ws:// or wss://: %s", url);
		return NULL;
	}
	hostlen = strcspn(rest, "/?");
	if (hostlen == 0 || hostlen >= sizeof(host))
	{
		snprintf(error, errlen, "stream URL has no host: %s", url);
		return NULL;
	}
	memcpy(host, rest, hostlen);
	host[hostlen] = '\0';
	path = rest[hostlen] == '\0' ? "/" : rest + hostlen;
	snprintf(origin, sizeof(origin), "%s://%s/", tls ? "https" : "http", host);

	ws = calloc(1, sizeof(SyncWs));
	if (ws == NULL)
	{
		snprintf(error, errlen, "out of memory");
		return NULL;
	}
	ws->http = http;
	ws->slot = slot;
	ws->easy = sync_http_connect(http, slot, origin, timeout_ms, should_abort, &resp);
	if (ws->easy == NULL)
	{
		snprintf(error, errlen, "could not connect to the stream: %s", resp.error);
		sync_http_response_free(&resp);
		free(ws);
		return NULL;
	}
	sync_http_response_free(&resp);
	if (curl_easy_getinfo(ws->easy, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
	{
		snprintf(error, errlen, "could not connect to the stream: no socket");
		sync_ws_close(ws);
		return NULL;
	}
	ws->fd = fd;
	if (!ws_handshake(ws, host, path, timeout_ms, should_abort, error, errlen))
	{
		sync_ws_close(ws);
		return NULL;
	}
	if (wslay_event_context_client_init(&ws->ctx, &callbacks, ws) != 0)
	{
		snprintf(error, errlen, "out of memory");
		sync_ws_close(ws);
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, WS_MAX_MESSAGE);
	return ws;
}

/* Let wslay read and write what it can without waiting. */
static void
ws_pump(SyncWs *ws)
{
	if (ws->failed || ws->ctx == NULL)
		return;
	ws->pumped = 0;
	if (wslay_event_want_read(ws->ctx) && wslay_event_recv(ws->ctx) != 0)
	{
		ws->failed = true;
		if (ws->error[0] == '\0')
			snprintf(ws->error, sizeof(ws->error), "stream protocol error (malformed frame)");
	}
	if (!ws->failed && wslay_event_want_write(ws->ctx) && wslay_event_send(ws->ctx) != 0)
	{
		ws->failed = true;
		if (ws->error[0] == '\0')
			snprintf(ws->error, sizeof(ws->error), "stream write failed");
	}
}

/* Hand the queued messages to the caller, oldest first; how many. */
static int
ws_deliver(SyncWs *ws, SyncWsOnMessage on_message, void *arg)
{
	volatile int n = 0;

	while (ws->head != NULL)
	{
		WsMessage  *m = ws->head;

		ws->head = m->next;
		if (ws->head == NULL)
			ws->tail = NULL;
		/* freed before the callback can raise an ERROR */
		PG_TRY();
		{
			on_message(m->data, m->len, arg);
		}
		PG_FINALLY();
		{
			free(m);
		}
		PG_END_TRY();
		n++;
	}
	return n;
}

/*
 * Read what has arrived, waiting up to timeout_ms when nothing has, and
 * hand each message to on_message.  Messages received before the peer
 * went away are delivered before SYNC_WS_CLOSED or SYNC_WS_FAILED.
 */
SyncWsStatus
sync_ws_service(SyncWs *ws, long timeout_ms, SyncHttpAbortCheck should_abort,
				SyncWsOnMessage on_message, void *arg)
{
	ws_pump(ws);
	if (ws_deliver(ws, on_message, arg) == 0 && !ws->failed && !ws->peer_gone)
	{
		int			w = ws_wait(ws, wslay_event_want_write(ws->ctx), timeout_ms, should_abort);

		if (w < 0)
			return SYNC_WS_ABORTED;
		if (w > 0)
			ws_pump(ws);
		ws_deliver(ws, on_message, arg);
	}
	if (ws->peer_gone)
		return ws->failed && wslay_event_get_close_received(ws->ctx) == 0 ? SYNC_WS_FAILED : SYNC_WS_CLOSED;
	if (ws->failed)
		return SYNC_WS_FAILED;
	return SYNC_WS_OK;
}

/* Queue a text message (a subscribe request) and send what can be sent. */
bool
sync_ws_send_text(SyncWs *ws, const char *text)
{
	struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *) text, strlen(text)};

	if (wslay_event_queue_msg(ws->ctx, &msg) != 0)
	{
		snprintf(ws->error, sizeof(ws->error), "could not queue a message on the stream");
		return false;
	}
	ws_pump(ws);
	return !ws->failed;
}

const char *
sync_ws_error(SyncWs *ws)
{
	return ws->error[0] ? ws->error : "stream failed";
}

/* Say goodbye if the connection still works, and free everything. */
void
sync_ws_close(SyncWs *ws)
{
	if (ws == NULL)
		return;
	if (ws->ctx != NULL)
	{
		if (!ws->failed && !ws->peer_gone)
		{
			(void) wslay_event_queue_close(ws->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
			(void) wslay_event_send(ws->ctx);
		}
		wslay_event_context_free(ws->ctx);
	}
	while (ws->head != NULL)
	{
		WsMessage  *m = ws->head;

		ws->head = m->next;
		free(m);
	}
	free(ws->early);
	if (ws->easy != NULL)
		sync_http_disconnect(ws->http, ws->slot);
	free(ws);
}
