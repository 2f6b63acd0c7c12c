/*-------------------------------------------------------------------------
 * serve.h
 *	  What the parts of `pg_sync serve` share: the settings of the running
 *	  server, the pool of database connections (serve_pool.c), the event
 *	  stream (serve_events.c), the routes (serve_routes.c) and the
 *	  dashboard's files (serve_static.c).  cmd_serve.c starts and stops them.
 *
 * Threads: libmicrohttpd runs one thread per HTTP connection; a route
 * borrows a database connection from the pool for the length of its
 * queries.  One more thread owns the LISTEN connection and feeds every
 * event-stream client's bounded queue.  Shared state is behind pthread
 * mutexes; a PGconn is only ever used by the one thread holding it.
 *-------------------------------------------------------------------------
 */
#ifndef SERVE_H
#define SERVE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "libpq-fe.h"

#include "pg_sync.h"

/* the fixed limits (docs/http-api.md lists them) */
#define SERVE_DEFAULT_LISTEN		"127.0.0.1:8484"
#define SERVE_DEFAULT_CONNECTIONS	4
#define SERVE_DEFAULT_ROW_LIMIT		50000
#define SERVE_DEFAULT_LIMIT			5000	/* rows when a request gives no limit */
#define SERVE_DEFAULT_STATEMENT_MS	5000
#define SERVE_POOL_WAIT_MS			5000	/* a request waits this long for a connection */
#define SERVE_HEALTH_WAIT_MS		1000	/* a probe less: it must answer fast */
#define SERVE_CONNECT_TIMEOUT_S		"5"
#define SERVE_MAX_HTTP_CONNECTIONS	128
#define SERVE_MAX_EVENT_CLIENTS		64
#define SERVE_HTTP_TIMEOUT_S		30	/* an idle or stalled HTTP connection is closed */
#define SERVE_KEEPALIVE_S			15	/* ": keepalive" on a quiet event stream */
#define SERVE_CLIENT_QUEUE_EVENTS	4096	/* events a slow client may have pending... */
#define SERVE_CLIENT_QUEUE_BYTES	(1024 * 1024)	/* ...and their bytes: past either, dropped */
#define SERVE_STATUS_POLL_MS		1000
#define SERVE_STOP_WAIT_MS			2000	/* for event streams to end on SIGTERM */

/* how to reach the database: what the command line said, and a password once asked */
typedef struct ServeConnInfo
{
	const char *host;
	const char *port;
	const char *user;
	const char *dbname;
	char	   *password;		/* NULL: none needed (or libpq finds it: .pgpass, PGPASSWORD) */
	int			statement_timeout_ms;
} ServeConnInfo;

typedef struct ServePool ServePool;
typedef struct ServeEvents ServeEvents;

typedef struct Serve
{
	PgSync	   *ps;
	ServeConnInfo conninfo;
	ServePool  *pool;
	ServeEvents *events;
	long		row_limit;
	int			connections;
	char		dashboard_dir[1024];
} Serve;

/* serve_pool.c */
typedef enum ServePoolError
{
	SERVE_POOL_OK,
	SERVE_POOL_BUSY,			/* every connection in use for the whole wait */
	SERVE_POOL_DOWN,			/* the database cannot be reached */
	SERVE_POOL_STOPPING
} ServePoolError;

typedef struct ServeConn
{
	PGconn	   *conn;
	int			slot;
} ServeConn;

extern PGconn *serve_connect(const ServeConnInfo *ci, const char *application, char *errbuf,
							 size_t errlen);
extern ServePool *serve_pool_create(const ServeConnInfo *ci, int size);
extern ServePoolError serve_pool_acquire(ServePool *pool, int wait_ms, ServeConn *sc);
extern PGresult *serve_pool_exec(ServePool *pool, ServeConn *sc, const char *sql, int nparams,
								 const char *const *params);
extern void serve_pool_release(ServePool *pool, ServeConn *sc);
extern void serve_pool_stop(ServePool *pool);
extern void serve_pool_destroy(ServePool *pool);

/* serve_events.c */
extern ServeEvents *serve_events_start(Serve *srv);
extern enum MHD_Result serve_events_route(Serve *srv, struct MHD_Connection *conn, const char *source,
							   const char *symbol, bool head);
extern void serve_events_stop(ServeEvents *ev, int wait_ms);
extern void serve_events_destroy(ServeEvents *ev);

/* serve_routes.c */
extern enum MHD_Result serve_reply(struct MHD_Connection *conn, unsigned int status,
									 const char *content_type, char *body, size_t len);
extern enum MHD_Result serve_reply_error(struct MHD_Connection *conn, unsigned int status,
										   const char *message, const char *parameter);
extern void *serve_request_begin(void *cls, const char *uri, struct MHD_Connection *conn);
extern void serve_request_end(void *cls, struct MHD_Connection *conn, void **req_cls,
							  enum MHD_RequestTerminationCode toe);
extern enum MHD_Result serve_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
						 const char *version, const char *upload_data, size_t *upload_data_size,
						 void **req_cls);

/* serve_static.c */
extern bool serve_dashboard_dir(const char *argv0, char *dir, size_t dirlen);
extern bool serve_dashboard_present(const char *dir);
extern enum MHD_Result serve_static(Serve *srv, struct MHD_Connection *conn, const char *name);

#endif							/* SERVE_H */
