/*-------------------------------------------------------------------------
 * ws_proto.c
 *	  The WebSocket protocol of the stream client (RFC 6455), free of
 *	  PostgreSQL so that unit tests and a fuzzer can drive it over memory.
 *
 * Two parts.  The handshake check reads the server's answer to the opening
 * handshake: status 101, "Upgrade: websocket", "Connection: upgrade" (both
 * case-insensitive token lists) and the Sec-WebSocket-Accept that proves
 * the server speaks WebSocket (4.1); no extension or subprotocol, since
 * none was asked for.
 *
 * The framing is wslay's event API over a WsTransport.  wslay refuses a
 * bad frame (reserved bits, unknown opcode, a masked server frame, a
 * fragment out of place, a message over the bound) by queueing a close
 * and no longer reading, and says so to nobody: ws_proto_pump() notices
 * and ends the connection with a "stream protocol error" naming the close
 * code, so that the owner reconnects and its jobs fill the hole over
 * REST.  A message is bounded by the bytes of its frames, headers
 * included, so an endless run of empty continuation frames ends too.  A
 * stream silent for too long is pinged, then ended (ws_proto_idle).
 *
 * Callbacks only move bytes and malloc: nothing here can raise an ERROR.
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/random.h>

#include <wslay/wslay.h>

#include "ws_proto.h"

/* what a frame header may add to a message's cost, besides its payload */
#define WS_FRAME_OVERHEAD	14

struct WsProto
{
	WsTransport t;
	wslay_event_context_ptr ctx;
	uint8_t    *early;			/* bytes that came with the handshake answer */
	size_t		early_len;
	size_t		early_off;
	WsMessage  *head;			/* received, not yet taken */
	WsMessage  *tail;
	size_t		max_message;
	uint64_t	msg_cost;		/* frame bytes of the unfinished message */
	bool		in_message;
	bool		peer_closed;	/* a close frame came */
	bool		failed;
	size_t		pumped;			/* bytes read in this pump */
	size_t		budget;
	bool		budget_hit;		/* the pump stopped with bytes maybe waiting */
	uint64_t	bytes_in;
	/* silence watch */
	bool		idle_started;
	uint64_t	idle_bytes;
	int64_t		idle_since;
	bool		pinged;
	char		error[256];
};

static void ws_failf(WsProto *p, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
ws_failf(WsProto *p, const char *fmt,...)
{
	va_list		ap;

	p->failed = true;
	if (p->error[0] != '\0')
		return;					/* the first reason is the one that counts */
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
}

/* ---- the opening handshake ---- */

/* Length of the answer through its blank line, or 0 while incomplete. */
size_t
ws_handshake_end(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

/* Printable text of s[0..len) for an error message: control bytes become '?'. */
static void
ws_printable(char *out, size_t outsize, const char *s, size_t len)
{
	size_t		n = 0;

	for (size_t i = 0; i < len && n + 1 < outsize; i++)
	{
		unsigned char c = (unsigned char) s[i];

		out[n++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
	}
	out[n] = '\0';
}

static bool
ws_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether the comma-separated list v[0..len) holds token (case-insensitive). */
static bool
ws_has_token(const char *v, size_t len, const char *token)
{
	size_t		tlen = strlen(token);
	size_t		i = 0;

	while (i < len)
	{
		size_t		start,
					end;

		while (i < len && (ws_is_ows(v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && ws_is_ows(v[end - 1]))
			end--;
		if (end - start == tlen && strncasecmp(v + start, token, tlen) == 0)
			return true;
	}
	return false;
}

static bool
ws_name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/*
 * Check the server's answer to the opening handshake, answer[0..len) being
 * the status line and headers through the blank line (ws_handshake_end),
 * accept what Sec-WebSocket-Accept must say.  False with a reason in error.
 */
bool
ws_check_handshake(const char *answer, size_t len, const char *accept, char *error, size_t errlen)
{
	const char *end = answer + len;
	const char *line = answer;
	const char *eol;
	bool		upgrade = false;
	bool		connection = false;
	int			accepts = 0;
	char		shown[128];

	eol = memchr(line, '\r', len);
	if (eol == NULL || eol + 1 >= end || eol[1] != '\n')
	{
		snprintf(error, errlen, "stream endpoint sent no HTTP status line");
		return false;
	}
	/* "HTTP/1.1 101" and then a space or the line's end: 1010 is not 101 */
	if (eol - line < 12 || memcmp(line, "HTTP/1.1 101", 12) != 0 || (eol - line > 12 && line[12] != ' '))
	{
		ws_printable(shown, sizeof(shown), line, eol - line);
		snprintf(error, errlen, "stream endpoint refused the WebSocket upgrade: %s", shown);
		return false;
	}
	for (line = eol + 2; line < end; line = eol + 2)
	{
		const char *colon;
		const char *v;
		const char *vend;

		eol = line;
		while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		if (eol + 1 >= end)
			break;				/* no CRLF left: cannot happen after ws_handshake_end */
		if (eol == line)
			break;				/* the blank line */
		colon = memchr(line, ':', eol - line);
		if (colon == NULL || colon == line || ws_is_ows(line[0]) || memchr(line, '\0', eol - line) != NULL ||
			ws_is_ows(colon[-1]))
		{
			ws_printable(shown, sizeof(shown), line, eol - line);
			snprintf(error, errlen, "stream endpoint sent a malformed header line in its WebSocket handshake: %s",
					 shown);
			return false;
		}
		v = colon + 1;
		vend = eol;
		while (v < vend && ws_is_ows(*v))
			v++;
		while (vend > v && ws_is_ows(vend[-1]))
			vend--;
		if (ws_name_is(line, colon - line, "upgrade"))
			upgrade |= ws_has_token(v, vend - v, "websocket");
		else if (ws_name_is(line, colon - line, "connection"))
			connection |= ws_has_token(v, vend - v, "upgrade");
		else if (ws_name_is(line, colon - line, "sec-websocket-accept"))
		{
			if ((size_t) (vend - v) != strlen(accept) || memcmp(v, accept, vend - v) != 0)
			{
				snprintf(error, errlen, "stream endpoint answered with a wrong Sec-WebSocket-Accept");
				return false;
			}
			accepts++;
		}
		else if ((ws_name_is(line, colon - line, "sec-websocket-extensions") ||
				  ws_name_is(line, colon - line, "sec-websocket-protocol")) && vend > v)
		{
			ws_printable(shown, sizeof(shown), line, eol - line);
			snprintf(error, errlen, "stream endpoint chose what the client did not offer: %s", shown);
			return false;
		}
	}
	if (!upgrade)
	{
		snprintf(error, errlen, "stream endpoint's handshake answer lacks \"Upgrade: websocket\"");
		return false;
	}
	if (!connection)
	{
		snprintf(error, errlen, "stream endpoint's handshake answer lacks \"Connection: upgrade\"");
		return false;
	}
	if (accepts == 0)
	{
		snprintf(error, errlen, "stream endpoint's handshake answer lacks Sec-WebSocket-Accept");
		return false;
	}
	return true;
}

/* ---- the framing: wslay callbacks, bytes and malloc only ---- */

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	WsProto    *p = (WsProto *) user;
	ssize_t		n;

	if (p->failed)
	{
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	if (p->early_off < p->early_len)
	{
		size_t		k = p->early_len - p->early_off;

		if (k > len)
			k = len;
		memcpy(buf, p->early + p->early_off, k);
		p->early_off += k;
		return (ssize_t) k;
	}
	if (p->pumped >= p->budget)
	{
		p->budget_hit = true;
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	n = p->t.recv(p->t.arg, buf, len, p->error, sizeof(p->error));
	if (n == 0)
	{
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n < 0 || (size_t) n > len)
	{
		ws_failf(p, "stream read failed");
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	p->pumped += n;
	p->bytes_in += n;
	return n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	WsProto    *p = (WsProto *) user;
	ssize_t		n = p->t.send(p->t.arg, data, len, p->error, sizeof(p->error));

	if (n == 0)
	{
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (n < 0 || (size_t) n > len)
	{
		ws_failf(p, "stream write failed");
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return n;
}

static int
ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	/* the mask only has to be unpredictable to scripts in a browser */
	if (getentropy(buf, len) != 0)
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t) random();
	return 0;
}

/*
 * Each frame wslay accepted: the frames of an unfinished message, and
 * control frames in between, add to the message's cost.
 */
static void
ws_frame_start_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
				  void *user)
{
	WsProto    *p = (WsProto *) user;
	bool		data = arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME ||
		arg->opcode == WSLAY_CONTINUATION_FRAME;

	if (!p->in_message && !(data && !arg->fin))
		return;
	p->in_message = true;
	p->msg_cost += arg->payload_length + WS_FRAME_OVERHEAD;
	if (p->msg_cost > p->max_message)
	{
		ws_failf(p, "stream protocol error: a fragmented message went past %zu bytes of frames",
				 p->max_message);
		wslay_event_shutdown_read(ctx);
	}
}

static void
ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	WsProto    *p = (WsProto *) user;
	WsMessage  *m;

	if (arg->opcode == WSLAY_CONNECTION_CLOSE)
	{
		p->peer_closed = true;
		if (p->error[0] == '\0')
			snprintf(p->error, sizeof(p->error), "stream closed by the server (code %u)",
					 (unsigned) arg->status_code);
		return;
	}
	if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
		return;					/* ping and pong are wslay's business */
	p->in_message = false;
	p->msg_cost = 0;
	m = malloc(offsetof(WsMessage, data) + arg->msg_length + 1);
	if (m == NULL)
	{
		ws_failf(p, "out of memory for a %zu-byte message", arg->msg_length);
		wslay_event_shutdown_read(ctx);
		return;
	}
	m->next = NULL;
	m->len = arg->msg_length;
	if (arg->msg_length > 0)
		memcpy(m->data, arg->msg, arg->msg_length);
	m->data[m->len] = '\0';
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
}

/* ---- the framing: what the owner calls ---- */

/*
 * A connection whose handshake is done, reading early[0..early_len) (what
 * came after the handshake answer) before the transport.  NULL when out
 * of memory.
 */
WsProto *
ws_proto_create(const WsTransport *transport, size_t max_message, const uint8_t *early, size_t early_len)
{
	struct wslay_event_callbacks callbacks = {
		ws_recv_cb, ws_send_cb, ws_genmask_cb, ws_frame_start_cb, NULL, NULL, ws_msg_cb
	};
	WsProto    *p = calloc(1, sizeof(WsProto));

	if (p == NULL)
		return NULL;
	p->t = *transport;
	p->max_message = max_message;
	if (early_len > 0)
	{
		p->early = malloc(early_len);
		if (p->early == NULL)
		{
			free(p);
			return NULL;
		}
		memcpy(p->early, early, early_len);
		p->early_len = early_len;
	}
	if (wslay_event_context_client_init(&p->ctx, &callbacks, p) != 0)
	{
		free(p->early);
		free(p);
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(p->ctx, max_message);
	return p;
}

/* Why wslay stopped reading, from the close code it sent. */
static void
ws_protocol_stop(WsProto *p)
{
	uint16_t	code = wslay_event_get_close_sent(p->ctx) ? wslay_event_get_status_code_sent(p->ctx) : 0;

	switch (code)
	{
		case WSLAY_CODE_MESSAGE_TOO_BIG:
			ws_failf(p, "stream protocol error: a message of more than %zu bytes (close code 1009)",
					 p->max_message);
			break;
		case WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA:
			ws_failf(p, "stream protocol error: a text message that is not UTF-8 (close code 1007)");
			break;
		case WSLAY_CODE_PROTOCOL_ERROR:
			ws_failf(p, "stream protocol error: a malformed frame: reserved bits, unknown opcode, "
					 "masking or fragmentation (close code 1002)");
			break;
		default:
			ws_failf(p, "stream protocol error: a malformed frame (close code %u)", (unsigned) code);
			break;
	}
}

/*
 * Read and write what can be moved without waiting, reading at most about
 * budget bytes from the transport: a stream that never runs dry (a
 * backlog) is then worked through in slices, and the queue of received
 * messages, with the memory it holds, stays small.
 */
void
ws_proto_pump(WsProto *p, size_t budget)
{
	bool		stopped = false;

	if (p->failed || p->ctx == NULL)
		return;
	p->pumped = 0;
	p->budget = budget;
	p->budget_hit = false;
	if (wslay_event_want_read(p->ctx))
	{
		int			r = wslay_event_recv(p->ctx);

		if (r == WSLAY_ERR_NOMEM)
			ws_failf(p, "out of memory while reading the stream");
		else if (r != 0)
			ws_failf(p, "stream protocol error: a malformed frame header");
		else if (!wslay_event_want_read(p->ctx) && !p->peer_closed)
			stopped = !p->failed;	/* wslay refused a frame: see below */
	}
	if (!p->failed && wslay_event_want_write(p->ctx) && wslay_event_send(p->ctx) != 0)
		ws_failf(p, "stream write failed");
	/* after the send, so that the close code wslay chose can be read */
	if (stopped)
		ws_protocol_stop(p);
}

/* The oldest received message (the caller frees it), or NULL. */
WsMessage *
ws_proto_next(WsProto *p)
{
	WsMessage  *m = p->head;

	if (m != NULL)
	{
		p->head = m->next;
		if (p->head == NULL)
			p->tail = NULL;
		m->next = NULL;
	}
	return m;
}

WsProtoState
ws_proto_state(WsProto *p)
{
	if (p->peer_closed)
		return WS_PROTO_CLOSED;
	return p->failed ? WS_PROTO_FAILED : WS_PROTO_OK;
}

bool
ws_proto_want_write(WsProto *p)
{
	return !p->failed && wslay_event_want_write(p->ctx);
}

/* True when bytes may be waiting that a wait on the socket would not see. */
bool
ws_proto_more_pending(WsProto *p)
{
	return !p->failed && !p->peer_closed && (p->budget_hit || p->early_off < p->early_len);
}

uint64_t
ws_proto_bytes_in(WsProto *p)
{
	return p->bytes_in;
}

/*
 * Watch for silence: when nothing at all has come for half of idle_ms the
 * server is pinged (every compliant server answers), and when nothing has
 * come for idle_ms the connection is failed.  True once it has failed.
 */
bool
ws_proto_idle(WsProto *p, int64_t now_ms, int64_t idle_ms)
{
	if (p->failed || p->peer_closed)
		return p->failed;
	if (!p->idle_started || p->bytes_in != p->idle_bytes || now_ms < p->idle_since)
	{
		p->idle_started = true;
		p->idle_bytes = p->bytes_in;
		p->idle_since = now_ms;
		p->pinged = false;
		return false;
	}
	if (now_ms - p->idle_since >= idle_ms)
	{
		ws_failf(p, "stream silent for %lld ms: no message and no answer to a ping",
				 (long long) (now_ms - p->idle_since));
		return true;
	}
	if (!p->pinged && now_ms - p->idle_since >= idle_ms / 2)
	{
		struct wslay_event_msg ping = {WSLAY_PING, (const uint8_t *) "sync", 4};

		p->pinged = true;
		if (wslay_event_queue_msg(p->ctx, &ping) == 0 && wslay_event_send(p->ctx) != 0)
			ws_failf(p, "stream write failed");
	}
	return p->failed;
}

/* Queue a text message (a subscribe request) and send what can be sent. */
bool
ws_proto_send_text(WsProto *p, const char *text)
{
	struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *) text, strlen(text)};

	if (p->failed)
		return false;
	if (wslay_event_queue_msg(p->ctx, &msg) != 0)
	{
		ws_failf(p, "could not queue a message on the stream");
		return false;
	}
	if (wslay_event_send(p->ctx) != 0)
		ws_failf(p, "stream write failed");
	return !p->failed;
}

const char *
ws_proto_error(WsProto *p)
{
	return p->error[0] ? p->error : "stream failed";
}

/* Free everything; with goodbye, say so first if the connection still works. */
void
ws_proto_free(WsProto *p, bool goodbye)
{
	if (p == NULL)
		return;
	if (goodbye && !p->failed && !p->peer_closed)
	{
		(void) wslay_event_queue_close(p->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
		(void) wslay_event_send(p->ctx);
	}
	wslay_event_context_free(p->ctx);
	while (p->head != NULL)
	{
		WsMessage  *m = p->head;

		p->head = m->next;
		free(m);
	}
	free(p->early);
	free(p);
}
