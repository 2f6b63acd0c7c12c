/*-------------------------------------------------------------------------
 * serve_pool.c
 *	  The database connections of `pg_sync serve`: a fixed number of slots
 *	  (--connections), each holding at most one libpq connection, lent to
 *	  one request at a time.
 *
 * A request that finds every slot in use waits on a condition variable
 * for a bounded time, then gets SERVE_POOL_BUSY (its route answers 503):
 * a burst of requests cannot open more connections than the pool has,
 * nor queue forever.  Connections open lazily and are opened again when
 * found broken (the server restarted): a statement that fails because the
 * connection died is run once more on a fresh one, so the first request
 * after a database restart does not fail for nothing.  Every connection
 * is read-only, in UTC, with statement_timeout set: a slow query ends and
 * frees its slot.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <errno.h>
#include <time.h>

#include "common/logging.h"

#include "serve.h"

struct ServePool
{
	const ServeConnInfo *ci;
	int			size;
	PGconn	  **conns;			/* NULL: not connected */
	bool	   *busy;
	pthread_mutex_t lock;
	pthread_cond_t freed;		/* a slot was given back, or stopping */
	bool		stopping;
	bool		down;			/* the last connection attempt failed (logged once) */
};

/*
 * The session every connection gets: read-only (the server never writes),
 * UTC and ISO dates (JSON times as "2024-01-02T15:04:05+00:00"), the
 * statement timeout, and a search_path of pg_catalog and the extension's
 * schema, wherever it was installed.
 */
static const char setup_sql[] =
"SELECT pg_catalog.set_config('statement_timeout', $1, false),"
" pg_catalog.set_config('TimeZone', 'UTC', false),"
" pg_catalog.set_config('DateStyle', 'ISO, YMD', false),"
" pg_catalog.set_config('IntervalStyle', 'postgres', false),"
" pg_catalog.set_config('default_transaction_read_only', 'on', false),"
" pg_catalog.set_config('search_path', coalesce("
"   (SELECT 'pg_catalog, ' || pg_catalog.quote_ident(n.nspname)"
"      FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
"     WHERE e.extname = 'sync'), 'pg_catalog'), false)";

/*
 * Notices (and the server's goodbye when it shuts down) would go to
 * stderr unasked, once per connection: what matters is logged by the
 * caller, once.
 */
static void
quiet_notices(void *arg, const char *message)
{
}

static void
copy_error(char *errbuf, size_t errlen, const char *msg)
{
	size_t		n;

	snprintf(errbuf, errlen, "%s", msg ? msg : "out of memory");
	n = strlen(errbuf);
	while (n > 0 && (errbuf[n - 1] == '\n' || errbuf[n - 1] == ' '))
		errbuf[--n] = '\0';
}

/*
 * A new connection as ci says, set up for serving; NULL with the reason
 * in errbuf.  Never prompts: a password the server wanted was asked for
 * once at start (cmd_serve.c) and is in ci.
 */
PGconn *
serve_connect(const ServeConnInfo *ci, const char *application, char *errbuf, size_t errlen)
{
	/*
	 * client_encoding: the JSON sent is UTF-8 whatever the database's
	 * encoding; keepalives: a database gone from the network is noticed
	 * (over TCP) instead of a request hanging on it.
	 */
	const char *keywords[] = {"host", "port", "user", "dbname", "password",
		"fallback_application_name", "connect_timeout", "client_encoding",
	"keepalives_idle", "keepalives_interval", "keepalives_count", NULL};
	const char *values[12];
	char		timeout[32];
	const char *params[1];
	PGconn	   *conn;
	PGresult   *res;

	values[0] = ci->host;
	values[1] = ci->port;
	values[2] = ci->user;
	values[3] = ci->dbname;
	values[4] = ci->password;
	values[5] = application;
	values[6] = SERVE_CONNECT_TIMEOUT_S;
	values[7] = "UTF8";
	values[8] = "30";
	values[9] = "10";
	values[10] = "3";
	values[11] = NULL;
	conn = PQconnectdbParams(keywords, values, true);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		copy_error(errbuf, errlen, conn ? PQerrorMessage(conn) : NULL);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, quiet_notices, NULL);
	snprintf(timeout, sizeof(timeout), "%d", ci->statement_timeout_ms);
	params[0] = timeout;
	res = PQexecParams(conn, setup_sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		copy_error(errbuf, errlen, PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

ServePool *
serve_pool_create(const ServeConnInfo *ci, int size)
{
	ServePool  *pool = pg_malloc0(sizeof(ServePool));
	pthread_condattr_t attr;

	pool->ci = ci;
	pool->size = size;
	pool->conns = pg_malloc0(sizeof(PGconn *) * size);
	pool->busy = pg_malloc0(sizeof(bool) * size);
	pthread_mutex_init(&pool->lock, NULL);
	/* waits are measured on the monotonic clock: a clock step cannot stretch them */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->freed, &attr);
	pthread_condattr_destroy(&attr);
	return pool;
}

/* connect the slot's connection again, outside the lock; false when down */
static bool
pool_reconnect(ServePool *pool, ServeConn *sc)
{
	char		err[1024];
	bool		was_down;

	PQfinish(sc->conn);
	sc->conn = serve_connect(pool->ci, "pg_sync serve", err, sizeof(err));
	pthread_mutex_lock(&pool->lock);
	was_down = pool->down;
	pool->down = sc->conn == NULL;
	pthread_mutex_unlock(&pool->lock);
	/* one line when the database goes away and one when it is back, not one a request */
	if (sc->conn == NULL && !was_down)
		pg_log_error("cannot connect to the database (requests answer 503 until it is back): %s", err);
	else if (sc->conn != NULL && was_down)
		pg_log_info("connected to the database again");
	return sc->conn != NULL;
}

/*
 * Borrow a connection for up to wait_ms of waiting.  On SERVE_POOL_OK the
 * caller owns sc->conn until serve_pool_release().
 */
ServePoolError
serve_pool_acquire(ServePool *pool, int wait_ms, ServeConn *sc)
{
	struct timespec deadline;
	int			slot = -1;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&pool->lock);
	for (;;)
	{
		if (pool->stopping)
		{
			pthread_mutex_unlock(&pool->lock);
			return SERVE_POOL_STOPPING;
		}
		/* a free slot, one already connected first */
		for (int i = 0; i < pool->size; i++)
			if (!pool->busy[i] && (slot < 0 || (pool->conns[slot] == NULL && pool->conns[i] != NULL)))
				slot = i;
		if (slot >= 0)
			break;
		if (pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline) == ETIMEDOUT)
		{
			pthread_mutex_unlock(&pool->lock);
			return SERVE_POOL_BUSY;
		}
	}
	pool->busy[slot] = true;
	sc->conn = pool->conns[slot];
	sc->slot = slot;
	pool->conns[slot] = NULL;
	pthread_mutex_unlock(&pool->lock);

	if ((sc->conn == NULL || PQstatus(sc->conn) != CONNECTION_OK) && !pool_reconnect(pool, sc))
	{
		serve_pool_release(pool, sc);
		return SERVE_POOL_DOWN;
	}
	return SERVE_POOL_OK;
}

/*
 * PQexecParams on the borrowed connection; when it fails because the
 * connection is gone, once more on a new one (these are read-only
 * statements: running one again is harmless).  NULL when the database
 * cannot be reached.
 */
PGresult *
serve_pool_exec(ServePool *pool, ServeConn *sc, const char *sql, int nparams,
				const char *const *params)
{
	PGresult   *res = PQexecParams(sc->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || PQstatus(sc->conn) == CONNECTION_OK)
		return res;
	PQclear(res);
	if (!pool_reconnect(pool, sc))
		return NULL;
	return PQexecParams(sc->conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

/* Give the connection back (a broken one is closed, to be opened again). */
void
serve_pool_release(ServePool *pool, ServeConn *sc)
{
	if (sc->conn && (PQstatus(sc->conn) != CONNECTION_OK ||
					 PQtransactionStatus(sc->conn) != PQTRANS_IDLE))
	{
		PQfinish(sc->conn);
		sc->conn = NULL;
	}
	pthread_mutex_lock(&pool->lock);
	pool->conns[sc->slot] = sc->conn;
	pool->busy[sc->slot] = false;
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
	sc->conn = NULL;
}

/* Requests still waiting for a connection give up (the server is stopping). */
void
serve_pool_stop(ServePool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
}

/* Close every connection; no request may be running any more. */
void
serve_pool_destroy(ServePool *pool)
{
	for (int i = 0; i < pool->size; i++)
		PQfinish(pool->conns[i]);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	pg_free(pool->conns);
	pg_free(pool->busy);
	pg_free(pool);
}
