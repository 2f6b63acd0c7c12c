/*-------------------------------------------------------------------------
 * serve_events.c
 *	  GET /api/events: Server-Sent Events for every browser watching, fed
 *	  by one thread that owns one database connection.
 *
 * That thread LISTENs on sync_bars and sync_trades and relays each
 * notification's payload unchanged as "event: bars" / "event: trades";
 * while anyone watches it also reads sync_status() about once a second
 * and sends "event: status" with the row of each series whose phase
 * changed (a new client gets every series' row first).  However many
 * clients, the database sees one connection.
 *
 * Each client has a bounded queue of pending events (shared, reference
 * counted messages).  The feeding thread only appends to queues under the
 * lock and never waits for a client: a client whose queue is full (it
 * reads slower than events come, or is gone without saying so) is
 * dropped, its queue freed, and its connection closed.  So one slow or
 * dead browser neither blocks the others nor grows memory.
 *
 * libmicrohttpd runs each HTTP connection in its own thread; a client's
 * thread waits in sse_read() on its condition variable (bounded: the
 * keepalive comment is due every SERVE_KEEPALIVE_S seconds, which is also
 * how a client that vanished is noticed).
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "common/logging.h"

#include "http_params.h"
#include "serve.h"

/* one event's text, shared by the queues holding it */
typedef struct SseMsg
{
	int			refs;
	size_t		len;
	char		text[FLEXIBLE_ARRAY_MEMBER];
} SseMsg;

typedef struct SseClient
{
	struct SseClient *next;
	struct SseClient *prev;
	struct ServeEvents *ev;
	char		source[HTTP_NAME_MAX_LEN + 1];	/* "" any */
	char		symbol[HTTP_SYMBOL_MAX_LEN + 1];	/* "" any */
	SseMsg	   *queue[SERVE_CLIENT_QUEUE_EVENTS];
	int			qhead;
	int			qcount;
	size_t		qbytes;
	size_t		offset;			/* bytes of queue[qhead] already sent */
	bool		dropped;
	pthread_cond_t wake;
	struct timespec last_sent;
} SseClient;

/* one sync_status() row as last seen */
typedef struct StatusRow
{
	char	   *key;			/* source, symbol, dataset, interval joined by \x1f */
	char	   *phase;
	char	   *json;			/* row_to_json(): what a status event says */
	char	   *source;
	char	   *symbol;
	char	   *dataset;
	char	   *interval;		/* NULL for trades */
} StatusRow;

struct ServeEvents
{
	Serve	   *srv;
	pthread_mutex_t lock;
	pthread_cond_t all_gone;	/* nclients reached 0 */
	SseClient  *clients;
	int			nclients;
	bool		stopping;
	bool		want_poll;		/* a client came while there was no snapshot */
	/* the status rows every client has been told, sorted by key */
	StatusRow  *rows;
	int			nrows;
	bool		snapshot_valid;
	int			wake_pipe[2];	/* wakes the feeding thread */
	pthread_t	thread;
	bool		thread_started;
	long		dropped_total;
};

static const char status_sql[] =
"SELECT s.source, s.symbol, s.dataset, s.bar_interval::text, s.phase, row_to_json(s)::text"
"  FROM sync_status() s";

static void
now_monotonic(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static void
add_ms(struct timespec *ts, long ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L)
	{
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* --- messages and queues (the lock held) ---------------------------------- */

static SseMsg *
msg_new(const char *text, size_t len)
{
	SseMsg	   *m = malloc(offsetof(SseMsg, text) + len + 1);

	if (m == NULL)
		return NULL;
	m->refs = 0;
	m->len = len;
	memcpy(m->text, text, len);
	m->text[len] = '\0';
	return m;
}

static SseMsg *
msg_event(const char *event, const char *data)
{
	HttpBuf		b;
	SseMsg	   *m;

	httpbuf_init(&b);
	httpbuf_sse_event(&b, event, data);
	m = b.failed ? NULL : msg_new(b.data, b.len);
	httpbuf_free(&b);
	return m;
}

static void
msg_unref(SseMsg *m)
{
	if (--m->refs == 0)
		free(m);
}

/* after a broadcast: a message no queue took is freed */
static void
msg_done(SseMsg *m)
{
	if (m && m->refs == 0)
		free(m);
}

static void
client_clear_queue(SseClient *c)
{
	while (c->qcount > 0)
	{
		msg_unref(c->queue[c->qhead]);
		c->qhead = (c->qhead + 1) % SERVE_CLIENT_QUEUE_EVENTS;
		c->qcount--;
	}
	c->qbytes = 0;
	c->offset = 0;
}

/* Queue m for c, or drop c when its queue is full: never wait for a client. */
static void
client_push(ServeEvents *ev, SseClient *c, SseMsg *m)
{
	if (c->dropped || m == NULL)
		return;
	if (c->qcount == SERVE_CLIENT_QUEUE_EVENTS || c->qbytes + m->len > SERVE_CLIENT_QUEUE_BYTES)
	{
		c->dropped = true;
		client_clear_queue(c);
		pthread_cond_signal(&c->wake);
		/* counted, logged now and then: a slow client must not flood the log either */
		if (ev->dropped_total++ % 100 == 0)
			pg_log_warning("dropped an event-stream client that read too slowly (%ld so far)",
						   ev->dropped_total);
		return;
	}
	m->refs++;
	c->queue[(c->qhead + c->qcount) % SERVE_CLIENT_QUEUE_EVENTS] = m;
	c->qcount++;
	c->qbytes += m->len;
	pthread_cond_signal(&c->wake);
}

static bool
client_wants(const SseClient *c, const char *source, const char *symbol)
{
	if (c->source[0] && (source == NULL || strcmp(c->source, source) != 0))
		return false;
	if (c->symbol[0] && (symbol == NULL || strcmp(c->symbol, symbol) != 0))
		return false;
	return true;
}

static void
broadcast(ServeEvents *ev, SseMsg *m, const char *source, const char *symbol)
{
	for (SseClient *c = ev->clients; c; c = c->next)
		if (client_wants(c, source, symbol))
			client_push(ev, c, m);
	msg_done(m);
}

/* --- the status snapshot -------------------------------------------------- */

static void
rows_free(StatusRow *rows, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(rows[i].key);
		free(rows[i].phase);
		free(rows[i].json);
		free(rows[i].source);
		free(rows[i].symbol);
		free(rows[i].dataset);
		free(rows[i].interval);
	}
	free(rows);
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const StatusRow *) a)->key, ((const StatusRow *) b)->key);
}

/* the status event of a series sync_status() no longer lists: its phase is null */
static SseMsg *
msg_gone(const StatusRow *r)
{
	HttpBuf		b;
	SseMsg	   *m;

	httpbuf_init(&b);
	httpbuf_puts(&b, "{\"source\": ");
	httpbuf_json_string(&b, r->source);
	httpbuf_puts(&b, ", \"symbol\": ");
	httpbuf_json_string(&b, r->symbol);
	httpbuf_puts(&b, ", \"dataset\": ");
	httpbuf_json_string(&b, r->dataset);
	httpbuf_puts(&b, ", \"bar_interval\": ");
	if (r->interval)
		httpbuf_json_string(&b, r->interval);
	else
		httpbuf_puts(&b, "null");
	httpbuf_puts(&b, ", \"phase\": null}");
	m = b.failed ? NULL : msg_event("status", b.data);
	httpbuf_free(&b);
	return m;
}

static char *
dup_or_null(const PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : strdup(PQgetvalue(res, r, c));
}

/*
 * Read sync_status() and tell each client what changed since the last
 * read (everything, when there was none).  Broadcast and the new snapshot
 * are one step under the lock: a client arriving meanwhile gets either
 * the old snapshot and the changes, or the new one.
 */
static void
poll_status(ServeEvents *ev, PGconn *conn, bool *failing)
{
	PGresult   *res = PQexec(conn, status_sql);
	StatusRow  *rows;
	int			n;
	int			i,
				j;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		if (!*failing)
			pg_log_error("event stream: sync_status() failed: %s", PQresultErrorMessage(res));
		*failing = true;
		PQclear(res);
		return;
	}
	*failing = false;
	n = PQntuples(res);
	rows = calloc(Max(n, 1), sizeof(StatusRow));
	if (rows == NULL)
	{
		PQclear(res);
		return;
	}
	for (i = 0; i < n; i++)
	{
		const char *iv = PQgetisnull(res, i, 3) ? "" : PQgetvalue(res, i, 3);
		size_t		klen = strlen(PQgetvalue(res, i, 0)) + strlen(PQgetvalue(res, i, 1)) +
			strlen(PQgetvalue(res, i, 2)) + strlen(iv) + 4;

		rows[i].key = malloc(klen);
		if (rows[i].key)
			snprintf(rows[i].key, klen, "%s\x1f%s\x1f%s\x1f%s", PQgetvalue(res, i, 0),
					 PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), iv);
		rows[i].source = dup_or_null(res, i, 0);
		rows[i].symbol = dup_or_null(res, i, 1);
		rows[i].dataset = dup_or_null(res, i, 2);
		rows[i].interval = dup_or_null(res, i, 3);
		rows[i].phase = strdup(PQgetisnull(res, i, 4) ? "" : PQgetvalue(res, i, 4));
		rows[i].json = dup_or_null(res, i, 5);
		if (!rows[i].key || !rows[i].source || !rows[i].symbol || !rows[i].dataset ||
			!rows[i].phase || !rows[i].json)
		{
			rows_free(rows, i + 1);
			PQclear(res);
			return;
		}
	}
	PQclear(res);
	qsort(rows, n, sizeof(StatusRow), row_cmp);

	pthread_mutex_lock(&ev->lock);
	i = j = 0;
	while (i < n || (ev->snapshot_valid && j < ev->nrows))
	{
		int			cmp;

		if (!ev->snapshot_valid || j >= ev->nrows)
			cmp = -1;
		else if (i >= n)
			cmp = 1;
		else
			cmp = strcmp(rows[i].key, ev->rows[j].key);
		if (cmp < 0)
		{
			/* new */
			broadcast(ev, msg_event("status", rows[i].json), rows[i].source, rows[i].symbol);
			i++;
		}
		else if (cmp > 0)
		{
			/* gone */
			broadcast(ev, msg_gone(&ev->rows[j]), ev->rows[j].source, ev->rows[j].symbol);
			j++;
		}
		else
		{
			if (strcmp(rows[i].phase, ev->rows[j].phase) != 0)
				broadcast(ev, msg_event("status", rows[i].json), rows[i].source, rows[i].symbol);
			i++;
			j++;
		}
	}
	rows_free(ev->rows, ev->nrows);
	ev->rows = rows;
	ev->nrows = n;
	ev->snapshot_valid = true;
	ev->want_poll = false;
	pthread_mutex_unlock(&ev->lock);
}

static void
forget_snapshot(ServeEvents *ev)
{
	rows_free(ev->rows, ev->nrows);
	ev->rows = NULL;
	ev->nrows = 0;
	ev->snapshot_valid = false;
}

/* --- the feeding thread ------------------------------------------------------ */

static void
relay_notification(ServeEvents *ev, const PGnotify *n)
{
	char		source[HTTP_NAME_MAX_LEN + 1];
	char		symbol[HTTP_SYMBOL_MAX_LEN + 1];
	bool		has_source = http_json_top_string(n->extra, "source", source, sizeof(source));
	bool		has_symbol = http_json_top_string(n->extra, "symbol", symbol, sizeof(symbol));
	const char *event = strcmp(n->relname, "sync_bars") == 0 ? "bars" : "trades";

	pthread_mutex_lock(&ev->lock);
	if (ev->nclients > 0)
		broadcast(ev, msg_event(event, n->extra), has_source ? source : NULL,
				  has_symbol ? symbol : NULL);
	pthread_mutex_unlock(&ev->lock);
}

static PGconn *
listen_connect(ServeEvents *ev, char *err, size_t errlen)
{
	PGconn	   *conn = serve_connect(&ev->srv->conninfo, "pg_sync serve events", err, errlen);
	PGresult   *res;

	if (conn == NULL)
		return NULL;
	res = PQexec(conn, "LISTEN sync_bars; LISTEN sync_trades");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		snprintf(err, errlen, "%s", PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

static void
drain_pipe(int fd)
{
	char		buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* wait up to ms for the wake pipe (stop, or a client wants a snapshot) */
static void
wait_wake(ServeEvents *ev, int ms)
{
	struct pollfd p = {ev->wake_pipe[0], POLLIN, 0};

	if (poll(&p, 1, ms) > 0)
		drain_pipe(ev->wake_pipe[0]);
}

static void *
events_main(void *arg)
{
	ServeEvents *ev = arg;
	PGconn	   *conn = NULL;
	bool		down = false;
	bool		status_failing = false;
	struct timespec next_poll;
	char		err[1024];

	now_monotonic(&next_poll);
	for (;;)
	{
		struct pollfd fds[2];
		struct timespec now;
		PGnotify   *n;
		bool		stopping,
					watched,
					want_poll;
		int			timeout;

		pthread_mutex_lock(&ev->lock);
		stopping = ev->stopping;
		pthread_mutex_unlock(&ev->lock);
		if (stopping)
			break;

		if (conn == NULL)
		{
			conn = listen_connect(ev, err, sizeof(err));
			if (conn == NULL)
			{
				if (!down)
					pg_log_error("event stream: cannot connect to the database (retrying every 2 s): %s", err);
				down = true;
				wait_wake(ev, 2000);
				continue;
			}
			if (down)
				pg_log_info("event stream: connected to the database again");
			down = false;
			/* notifications may have been missed: every client gets every series again */
			pthread_mutex_lock(&ev->lock);
			forget_snapshot(ev);
			pthread_mutex_unlock(&ev->lock);
		}

		pthread_mutex_lock(&ev->lock);
		watched = ev->nclients > 0;
		want_poll = ev->want_poll;
		pthread_mutex_unlock(&ev->lock);

		now_monotonic(&now);
		if (watched && (want_poll || !ts_before(&now, &next_poll)))
		{
			poll_status(ev, conn, &status_failing);
			now_monotonic(&next_poll);
			add_ms(&next_poll, SERVE_STATUS_POLL_MS);
		}
		else if (!watched)
		{
			/* nobody watches: no polling, and the snapshot would go stale */
			pthread_mutex_lock(&ev->lock);
			if (ev->nclients == 0 && ev->snapshot_valid)
				forget_snapshot(ev);
			pthread_mutex_unlock(&ev->lock);
		}

		now_monotonic(&now);
		timeout = SERVE_STATUS_POLL_MS;
		if (watched)
		{
			long		ms = (next_poll.tv_sec - now.tv_sec) * 1000 +
				(next_poll.tv_nsec - now.tv_nsec) / 1000000;

			timeout = (int) Max(0, Min(ms, SERVE_STATUS_POLL_MS));
		}
		fds[0].fd = PQsocket(conn);
		fds[0].events = POLLIN;
		fds[0].revents = 0;
		fds[1].fd = ev->wake_pipe[0];
		fds[1].events = POLLIN;
		fds[1].revents = 0;
		if (poll(fds, 2, timeout) < 0 && errno != EINTR)
			wait_wake(ev, 100);
		if (fds[1].revents)
			drain_pipe(ev->wake_pipe[0]);

		if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
		{
			pg_log_error("event stream: lost the database connection: %s", PQerrorMessage(conn));
			PQfinish(conn);
			conn = NULL;
			down = true;
			continue;
		}
		while ((n = PQnotifies(conn)) != NULL)
		{
			relay_notification(ev, n);
			PQfreemem(n);
		}
	}
	PQfinish(conn);
	return NULL;
}

static void
wake_thread(ServeEvents *ev)
{
	char		c = 1;

	/* a full pipe already wakes it */
	if (write(ev->wake_pipe[1], &c, 1) < 0)
		return;
}

ServeEvents *
serve_events_start(Serve *srv)
{
	ServeEvents *ev = pg_malloc0(sizeof(ServeEvents));

	pthread_condattr_t attr;

	ev->srv = srv;
	pthread_mutex_init(&ev->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->all_gone, &attr);
	pthread_condattr_destroy(&attr);
	if (pipe(ev->wake_pipe) != 0)
	{
		pg_log_error("could not create a pipe: %m");
		exit(PGSYNC_EXIT_FAILED);
	}
	fcntl(ev->wake_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(ev->wake_pipe[1], F_SETFL, O_NONBLOCK);
	if (pthread_create(&ev->thread, NULL, events_main, ev) != 0)
	{
		pg_log_error("could not start the event-stream thread");
		exit(PGSYNC_EXIT_FAILED);
	}
	ev->thread_started = true;
	return ev;
}

/* --- one client ------------------------------------------------------------ */

/*
 * libmicrohttpd asks for the next bytes of a client's stream: queued
 * events, or a keepalive comment when none came for SERVE_KEEPALIVE_S.
 * Waits (on the client's condition variable, at most until the next
 * keepalive) when there is nothing to send: this connection's thread is
 * its own.
 */
static ssize_t
sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	SseClient  *c = cls;
	ServeEvents *ev = c->ev;
	size_t		n = 0;

	pthread_mutex_lock(&ev->lock);
	for (;;)
	{
		struct timespec now;
		struct timespec keepalive_at;

		if (ev->stopping)
		{
			pthread_mutex_unlock(&ev->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (c->dropped)
		{
			pthread_mutex_unlock(&ev->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (c->qcount > 0)
			break;
		now_monotonic(&now);
		keepalive_at = c->last_sent;
		add_ms(&keepalive_at, SERVE_KEEPALIVE_S * 1000L);
		if (!ts_before(&now, &keepalive_at))
		{
			static const char keepalive[] = ": keepalive\n\n";
			SseMsg	   *m = msg_new(keepalive, sizeof(keepalive) - 1);

			client_push(ev, c, m);
			msg_done(m);
			c->last_sent = now;
			continue;
		}
		pthread_cond_timedwait(&c->wake, &ev->lock, &keepalive_at);
	}
	while (c->qcount > 0 && n < max)
	{
		SseMsg	   *m = c->queue[c->qhead];
		size_t		take = Min(m->len - c->offset, max - n);

		memcpy(buf + n, m->text + c->offset, take);
		n += take;
		c->offset += take;
		if (c->offset == m->len)
		{
			c->qbytes -= m->len;
			msg_unref(m);
			c->qhead = (c->qhead + 1) % SERVE_CLIENT_QUEUE_EVENTS;
			c->qcount--;
			c->offset = 0;
		}
	}
	now_monotonic(&c->last_sent);
	pthread_mutex_unlock(&ev->lock);
	return (ssize_t) n;
}

/* the response is gone (client closed, dropped, or the server stops) */
static void
sse_free(void *cls)
{
	SseClient  *c = cls;
	ServeEvents *ev = c->ev;

	pthread_mutex_lock(&ev->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		ev->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ev->nclients--;
	if (ev->nclients == 0)
		pthread_cond_broadcast(&ev->all_gone);
	client_clear_queue(c);
	pthread_mutex_unlock(&ev->lock);
	pthread_cond_destroy(&c->wake);
	free(c);
}

/*
 * GET /api/events[?source=S][&symbol=X]: a new client on the stream, its
 * queue seeded with every series' status when there is a snapshot (else
 * the feeding thread is woken to read one).
 */
enum MHD_Result
serve_events_route(Serve *srv, struct MHD_Connection *conn, const char *source,
				   const char *symbol, bool head)
{
	static const char hello[] = "retry: 3000\n: connected\n\n";
	ServeEvents *ev = srv->events;
	SseClient  *c;
	struct MHD_Response *r;
	pthread_condattr_t attr;
	enum MHD_Result ret;

	if (head)
	{
		char	   *empty = strdup("");

		return serve_reply(conn, 200, "text/event-stream", empty, 0);
	}
	c = calloc(1, sizeof(SseClient));
	if (c == NULL)
		return MHD_NO;
	c->ev = ev;
	snprintf(c->source, sizeof(c->source), "%s", source ? source : "");
	snprintf(c->symbol, sizeof(c->symbol), "%s", symbol ? symbol : "");
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->wake, &attr);
	pthread_condattr_destroy(&attr);
	now_monotonic(&c->last_sent);

	pthread_mutex_lock(&ev->lock);
	if (ev->nclients >= SERVE_MAX_EVENT_CLIENTS || ev->stopping)
	{
		char		msg[128];

		pthread_mutex_unlock(&ev->lock);
		pthread_cond_destroy(&c->wake);
		free(c);
		snprintf(msg, sizeof(msg), "too many event-stream clients (at most %d)", SERVE_MAX_EVENT_CLIENTS);
		return serve_reply_error(conn, 503, msg, NULL);
	}
	c->next = ev->clients;
	if (ev->clients)
		ev->clients->prev = c;
	ev->clients = c;
	ev->nclients++;
	{
		SseMsg	   *m = msg_new(hello, sizeof(hello) - 1);

		client_push(ev, c, m);
		msg_done(m);
	}
	if (ev->snapshot_valid)
	{
		for (int i = 0; i < ev->nrows; i++)
			if (client_wants(c, ev->rows[i].source, ev->rows[i].symbol))
			{
				SseMsg	   *m = msg_event("status", ev->rows[i].json);

				client_push(ev, c, m);
				msg_done(m);
			}
	}
	else
		ev->want_poll = true;
	pthread_mutex_unlock(&ev->lock);
	wake_thread(ev);

	/* from here the response owns c: sse_free() unlinks and frees it */
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, c, sse_free);
	if (r == NULL)
	{
		sse_free(c);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");	/* nginx: pass events on at once */
	ret = MHD_queue_response(conn, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * Every stream ends (its reader returns end of stream, and libmicrohttpd
 * sends the last chunk) and the feeding thread stops.  Waits up to
 * wait_ms for the streams to be sent to their end, so that a client sees
 * a stream that ended rather than a connection cut.
 */
void
serve_events_stop(ServeEvents *ev, int wait_ms)
{
	struct timespec deadline;

	now_monotonic(&deadline);
	add_ms(&deadline, wait_ms);
	pthread_mutex_lock(&ev->lock);
	ev->stopping = true;
	for (SseClient *c = ev->clients; c; c = c->next)
		pthread_cond_signal(&c->wake);
	while (ev->nclients > 0)
		if (pthread_cond_timedwait(&ev->all_gone, &ev->lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&ev->lock);
	wake_thread(ev);
	if (ev->thread_started)
		pthread_join(ev->thread, NULL);
	ev->thread_started = false;
}

/* after libmicrohttpd has stopped: no client is left */
void
serve_events_destroy(ServeEvents *ev)
{
	forget_snapshot(ev);
	close(ev->wake_pipe[0]);
	close(ev->wake_pipe[1]);
	pthread_cond_destroy(&ev->all_gone);
	pthread_mutex_destroy(&ev->lock);
	pg_free(ev);
}
