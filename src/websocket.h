/*-------------------------------------------------------------------------
 * websocket.h
 *	  WebSocket client of the workers (RFC 6455): libcurl makes the TCP/TLS
 *	  connection, wslay does the framing, and the worker's latch is waited
 *	  on together with the socket (see websocket.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_WEBSOCKET_H
#define SYNC_WEBSOCKET_H

#include "http.h"

typedef struct SyncWs SyncWs;

typedef enum SyncWsStatus
{
	SYNC_WS_OK = 0,				/* messages (maybe none) were delivered */
	SYNC_WS_CLOSED,				/* the server closed the connection */
	SYNC_WS_FAILED,				/* transport or protocol error; see error */
	SYNC_WS_ABORTED				/* should_abort() said stop */
} SyncWsStatus;

/* Called for each text or binary message, outside any wslay callback. */
typedef void (*SyncWsOnMessage) (const char *data, size_t len, void *arg);

extern SyncWs *sync_ws_open(SyncHttpClient *http, int slot, const char *url,
							long timeout_ms, SyncHttpAbortCheck should_abort,
							char *error, size_t errlen);
extern SyncWsStatus sync_ws_service(SyncWs *ws, long timeout_ms, SyncHttpAbortCheck should_abort,
									SyncWsOnMessage on_message, void *arg);
extern bool sync_ws_send_text(SyncWs *ws, const char *text);
extern const char *sync_ws_error(SyncWs *ws);
extern void sync_ws_close(SyncWs *ws);

#endif							/* SYNC_WEBSOCKET_H */
