/*-------------------------------------------------------------------------
 * websocket.c
 *	  WebSocket client (RFC 6455) for the realtime streams.
 *
 * libcurl has no ws:// in Debian 12's 7.88, so: sync_http_connect() makes
 * the TCP or TLS connection (CONNECT_ONLY, on the worker's latch), this
 * file sends the opening handshake, and ws_proto.c checks the answer and
 * does the framing with wslay: masking, fragmented and large messages,
 * ping/pong, the close handshake, and the bounds and checks that end a
 * connection to a hostile or broken server with a clear error.  This file
 * gives ws_proto.c its transport (curl_easy_recv/send, never waiting), its
 * clock and its waits.
 *
 * Nothing below wslay can raise an ERROR: its callbacks move bytes and
 * copy finished messages into malloc'd queue entries.  Messages are handed
 * to the caller by sync_ws_service(), after wslay has returned.  Waits are
 * on a WaitEventSet with the socket and the latch, so SIGTERM is seen
 * while a stream is quiet.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

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
#include "ws_proto.h"

#define WS_GUID				"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/*
 * Bytes one pump reads before its messages are handed on (see
 * ws_proto_pump).
 */
#define WS_PUMP_BYTES	(256 * 1024)

struct SyncWs
{
	SyncHttpClient *http;
	int			slot;
	CURL	   *easy;
	curl_socket_t fd;
	WsProto    *proto;			/* the framing, once the handshake is done */
	char		error[256];		/* what failed before there was a proto */
};

/* The transport of ws_proto.c: libcurl's connection, without waiting. */

static ssize_t
ws_curl_recv(void *arg, uint8_t *buf, size_t len, char *error, size_t errlen)
{
	SyncWs	   *ws = (SyncWs *) arg;
	size_t		n = 0;
	CURLcode	rc = curl_easy_recv(ws->easy, buf, len, &n);

	if (rc == CURLE_AGAIN)
		return 0;
	if (rc != CURLE_OK)
	{
		snprintf(error, errlen, "stream read failed: %s", curl_easy_strerror(rc));
		return -1;
	}
	if (n == 0)
	{
		snprintf(error, errlen, "stream closed by the server without a close frame");
		return -1;
	}
	return (ssize_t) n;
}

static ssize_t
ws_curl_send(void *arg, const uint8_t *data, size_t len, char *error, size_t errlen)
{
	SyncWs	   *ws = (SyncWs *) arg;
	size_t		n = 0;
	CURLcode	rc = curl_easy_send(ws->easy, data, len, &n);

	if (rc == CURLE_AGAIN)
		return 0;
	if (rc != CURLE_OK)
	{
		snprintf(error, errlen, "stream write failed: %s", curl_easy_strerror(rc));
		return -1;
	}
	return (ssize_t) n;
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

static bool
ws_fail(SyncWs *ws, char *error, size_t errlen, const char *fmt, const char *arg)
{
	snprintf(error, errlen, fmt, arg);
	return false;
}

/*
 * Send the opening handshake and check the answer (RFC 6455, 4.1; see
 * ws_check_handshake).  Then the framing starts, with the bytes that came
 * after the answer.
 */
static bool
ws_handshake(SyncWs *ws, const char *host, const char *path, long timeout_ms,
			 SyncHttpAbortCheck should_abort, char *error, size_t errlen)
{
	WsTransport transport = {ws_curl_recv, ws_curl_send, ws};
	uint8		nonce[16];
	char		key[32];
	char		accept[64];
	char		request[2048];
	char	   *answer;
	size_t		sent = 0;
	size_t		have = 0;
	size_t		reqlen;
	size_t		head = 0;
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

	answer = palloc(WS_MAX_HANDSHAKE);
	while (head == 0)
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
		head = ws_handshake_end(answer, have);
	}
	if (!ws_check_handshake(answer, head, accept, error, errlen))
		return false;

	/* frames that arrived with the answer go to wslay first */
	ws->proto = ws_proto_create(&transport, WS_MAX_MESSAGE, (uint8_t *) answer + head, have - head);
	pfree(answer);
	if (ws->proto == NULL)
		return ws_fail(ws, error, errlen, "%s", "out of memory");
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
	return ws;
}

/* Hand the received messages to the caller, oldest first; how many. */
static int
ws_deliver(SyncWs *ws, SyncWsOnMessage on_message, void *arg)
{
	volatile int n = 0;
	WsMessage  *volatile m;

	while ((m = ws_proto_next(ws->proto)) != NULL)
	{
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
 * went away are delivered before SYNC_WS_CLOSED or SYNC_WS_FAILED.  A
 * protocol error or a stream silent for sync.stream_idle_timeout_ms
 * (pinged halfway) ends it with SYNC_WS_FAILED.
 */
SyncWsStatus
sync_ws_service(SyncWs *ws, long timeout_ms, SyncHttpAbortCheck should_abort,
				SyncWsOnMessage on_message, void *arg)
{
	WsProto    *p = ws->proto;

	ws_proto_pump(p, WS_PUMP_BYTES);
	if (ws_deliver(ws, on_message, arg) == 0 && ws_proto_state(p) == WS_PROTO_OK)
	{
		/* bytes left behind by the pump's budget (in TLS buffers too) are read at once */
		int			w = ws_proto_more_pending(p) ? 1 :
			ws_wait(ws, ws_proto_want_write(p), timeout_ms, should_abort);

		if (w < 0)
			return SYNC_WS_ABORTED;
		if (w > 0)
			ws_proto_pump(p, WS_PUMP_BYTES);
		ws_deliver(ws, on_message, arg);
	}
	if (ws_proto_state(p) == WS_PROTO_OK)
		(void) ws_proto_idle(p, GetCurrentTimestamp() / 1000, sync_stream_idle_timeout_ms);
	switch (ws_proto_state(p))
	{
		case WS_PROTO_OK:
			return SYNC_WS_OK;
		case WS_PROTO_CLOSED:
			return SYNC_WS_CLOSED;
		case WS_PROTO_FAILED:
			break;
	}
	return SYNC_WS_FAILED;
}

/* Queue a text message (a subscribe request) and send what can be sent. */
bool
sync_ws_send_text(SyncWs *ws, const char *text)
{
	return ws_proto_send_text(ws->proto, text);
}

const char *
sync_ws_error(SyncWs *ws)
{
	if (ws->proto == NULL)
		return ws->error[0] ? ws->error : "stream failed";
	return ws_proto_error(ws->proto);
}

/* Say goodbye if the connection still works, and free everything. */
void
sync_ws_close(SyncWs *ws)
{
	if (ws == NULL)
		return;
	ws_proto_free(ws->proto, true);
	if (ws->easy != NULL)
		sync_http_disconnect(ws->http, ws->slot);
	free(ws);
}
