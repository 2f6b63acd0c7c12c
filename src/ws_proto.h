/*-------------------------------------------------------------------------
 * ws_proto.h
 *	  The WebSocket protocol of the stream client without PostgreSQL: the
 *	  check of the server's handshake answer, and the framing (wslay) over
 *	  a byte transport the caller gives, with the bounds that turn a
 *	  hostile server into a clear error.  websocket.c plugs libcurl, the
 *	  latch and the clock into it; the unit tests and the fuzzer plug in
 *	  memory (see ws_proto.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_WS_PROTO_H
#define SYNC_WS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest handshake answer (status line and headers) read. */
#define WS_MAX_HANDSHAKE	16384

/*
 * Largest message: the bytes of its frames, headers included, so that an
 * endless run of empty continuation frames is bounded too.  Provider
 * messages are a few kilobytes; a subscription confirmation listing a
 * thousand symbols is under 100 kB.
 */
#define WS_MAX_MESSAGE		(16 * 1024 * 1024)

/* A received text or binary message (malloc'd; the caller frees it). */
typedef struct WsMessage
{
	struct WsMessage *next;
	size_t		len;
	char		data[];			/* len bytes and a '\0' */
} WsMessage;

/*
 * How the framing reaches the network.  recv and send return the bytes
 * moved (> 0), 0 when they would block, or -1 when the connection failed
 * or, for recv, ended (with a reason in error).
 */
typedef struct WsTransport
{
	ssize_t		(*recv) (void *arg, uint8_t *buf, size_t len, char *error, size_t errlen);
	ssize_t		(*send) (void *arg, const uint8_t *buf, size_t len, char *error, size_t errlen);
	void	   *arg;
} WsTransport;

typedef enum WsProtoState
{
	WS_PROTO_OK = 0,			/* open */
	WS_PROTO_CLOSED,			/* the server closed it with a close frame */
	WS_PROTO_FAILED				/* transport or protocol error; see ws_proto_error */
} WsProtoState;

typedef struct WsProto WsProto;

/* The opening handshake (RFC 6455, 4.1) */
extern size_t ws_handshake_end(const char *buf, size_t len);
extern bool ws_check_handshake(const char *answer, size_t len, const char *accept,
							   char *error, size_t errlen);

/* The framing */
extern WsProto *ws_proto_create(const WsTransport *transport, size_t max_message,
								const uint8_t *early, size_t early_len);
extern void ws_proto_pump(WsProto *p, size_t budget);
extern WsMessage *ws_proto_next(WsProto *p);
extern WsProtoState ws_proto_state(WsProto *p);
extern bool ws_proto_want_write(WsProto *p);
extern bool ws_proto_more_pending(WsProto *p);
extern uint64_t ws_proto_bytes_in(WsProto *p);
extern bool ws_proto_idle(WsProto *p, int64_t now_ms, int64_t idle_ms);
extern bool ws_proto_send_text(WsProto *p, const char *text);
extern const char *ws_proto_error(WsProto *p);
extern void ws_proto_free(WsProto *p, bool goodbye);

#endif							/* SYNC_WS_PROTO_H */
