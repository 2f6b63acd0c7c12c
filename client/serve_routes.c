/*-------------------------------------------------------------------------
 * serve_routes.c
 *	  The routes of `pg_sync serve`: which handler a request goes to, the
 *	  SQL each one runs, and the status code and JSON it answers with.
 *
 * The JSON comes from PostgreSQL itself (json_build_object, json_agg):
 * numerics keep the digits the provider sent, times are ISO 8601 in UTC,
 * and no text is ever spliced into SQL: every value a client sends goes
 * through http_params.c's checks and then as a parameter of PQexecParams.
 * The only choice a client makes about the statement itself is which of
 * the fixed statements below runs (the bar interval picks a view).
 *
 * Errors: a bad parameter 400 {"error", "parameter"}; an unknown route
 * 404; a method other than GET or HEAD 405; the database unreachable,
 * too busy or failing 503 (its message in the log, not to the client,
 * except for data errors (SQLSTATE class 22), which are about what the
 * client sent and become 400).
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"

#include "http_params.h"
#include "serve.h"

/* the raw request target, kept from MHD's URI callback (it has the query string as sent) */
typedef struct ServeRequest
{
	char	   *uri;
	bool		headers_seen;	/* the handler's first call is over */
} ServeRequest;

#define JSON_TYPE		"application/json; charset=utf-8"
#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

void *
serve_request_begin(void *cls, const char *uri, struct MHD_Connection *conn)
{
	ServeRequest *req = malloc(sizeof(ServeRequest));

	if (req == NULL)
		return NULL;
	req->headers_seen = false;
	req->uri = strdup(uri);
	if (req->uri == NULL)
	{
		free(req);
		return NULL;
	}
	return req;
}

void
serve_request_end(void *cls, struct MHD_Connection *conn, void **req_cls,
				  enum MHD_RequestTerminationCode toe)
{
	ServeRequest *req = *req_cls;

	if (req)
	{
		free(req->uri);
		free(req);
	}
	*req_cls = NULL;
}

/* body: malloc'd, taken over (freed by libmicrohttpd or here) */
static enum MHD_Result
reply_with(struct MHD_Connection *conn, unsigned int status, const char *content_type,
		   char *body, size_t len, const char *header, const char *value)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (body == NULL)
		return MHD_NO;			/* out of memory: libmicrohttpd closes the connection */
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
	{
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (header)
		MHD_add_response_header(r, header, value);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result
serve_reply(struct MHD_Connection *conn, unsigned int status, const char *content_type,
			char *body, size_t len)
{
	return reply_with(conn, status, content_type, body, len, NULL, NULL);
}

static enum MHD_Result
reply_http_error(struct MHD_Connection *conn, const HttpError *err, const char *header,
				 const char *value)
{
	HttpBuf		b;

	httpbuf_init(&b);
	httpbuf_error_json(&b, err);
	if (b.failed)
	{
		httpbuf_free(&b);
		return MHD_NO;
	}
	return reply_with(conn, err->status, JSON_TYPE, b.data, b.len, header, value);
}

enum MHD_Result
serve_reply_error(struct MHD_Connection *conn, unsigned int status, const char *message,
				  const char *parameter)
{
	HttpError	err;

	err.status = status;
	err.message = message;
	snprintf(err.parameter, sizeof(err.parameter), "%s", parameter ? parameter : "");
	return reply_http_error(conn, &err, NULL, NULL);
}

static enum MHD_Result
reply_pool_error(Serve *srv, struct MHD_Connection *conn, ServePoolError e)
{
	char		msg[128];

	switch (e)
	{
		case SERVE_POOL_BUSY:
			snprintf(msg, sizeof(msg), "all %d database connections are busy; try again", srv->connections);
			return serve_reply_error(conn, 503, msg, NULL);
		case SERVE_POOL_STOPPING:
			return serve_reply_error(conn, 503, "the server is stopping", NULL);
		default:
			return serve_reply_error(conn, 503, "the database cannot be reached", NULL);
	}
}

static bool
result_ok(const PGresult *res)
{
	return res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
}

/*
 * The answer to a statement that failed: what the client sent (class 22:
 * a time PostgreSQL cannot read, a range it refuses) is a 400 naming
 * parameter; anything else a 503 that does not show the server's message
 * (the log has it).
 */
static enum MHD_Result
reply_sql_error(Serve *srv, struct MHD_Connection *conn, const PGresult *res, const char *parameter)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char		text[256];

	if (res == NULL || state == NULL)
		return serve_reply_error(conn, 503, "the database cannot be reached", NULL);
	if (strncmp(state, "22", 2) == 0 && msg)
		return serve_reply_error(conn, 400, msg, parameter);
	if (strcmp(state, "57014") == 0)
	{
		snprintf(text, sizeof(text), "the query ran longer than the statement timeout (%d ms)",
				 srv->conninfo.statement_timeout_ms);
		return serve_reply_error(conn, 503, text, NULL);
	}
	pg_log_error("query failed: SQLSTATE %s: %s", state, msg ? msg : "?");
	snprintf(text, sizeof(text), "database error (SQLSTATE %s)", state);
	return serve_reply_error(conn, 503, text, NULL);
}

/* a value of a one-row result, with a newline, as a malloc'd body */
static char *
result_body(const PGresult *res, int col, size_t *len)
{
	const char *v = PQgetvalue(res, 0, col);
	size_t		n = strlen(v);
	char	   *body = malloc(n + 2);

	if (body == NULL)
		return NULL;
	memcpy(body, v, n);
	body[n] = '\n';
	body[n + 1] = '\0';
	*len = n + 1;
	return body;
}

/* Answer with a one-value result (200), or its error; the result is freed. */
static enum MHD_Result
reply_result(Serve *srv, struct MHD_Connection *conn, const char *content_type, PGresult *res)
{
	enum MHD_Result ret;

	if (!result_ok(res) || PQgetisnull(res, 0, 0))
		ret = reply_sql_error(srv, conn, res, NULL);
	else
	{
		size_t		len = 0;
		char	   *body = result_body(res, 0, &len);

		ret = serve_reply(conn, 200, content_type, body, len);
	}
	PQclear(res);
	return ret;
}

/*
 * Run a statement whose one value is the JSON to answer with, and answer
 * (200, or the error).  The connection is borrowed for just this.
 */
static enum MHD_Result
reply_query(Serve *srv, struct MHD_Connection *conn, const char *content_type, const char *sql,
			int nparams, const char *const *params)
{
	ServeConn	sc;
	ServePoolError e = serve_pool_acquire(srv->pool, SERVE_POOL_WAIT_MS, &sc);
	PGresult   *res;

	if (e != SERVE_POOL_OK)
		return reply_pool_error(srv, conn, e);
	res = serve_pool_exec(srv->pool, &sc, sql, nparams, params);
	serve_pool_release(srv->pool, &sc);
	return reply_result(srv, conn, content_type, res);
}

/* --- /health, /api/health ------------------------------------------------ */

/* the worst component decides: any down is down, anything not ok degraded */
static const char health_sql[] =
"SELECT w.status, json_build_object('status', w.status, 'components', w.components)::text"
"  FROM (SELECT CASE WHEN bool_or(h.status = 'down') THEN 'down'"
"                    WHEN bool_or(h.status <> 'ok') THEN 'degraded' ELSE 'ok' END AS status,"
"               coalesce(json_agg(json_build_object('component', h.component, 'status', h.status,"
"                                                   'detail', h.detail) ORDER BY h.n), '[]'::json)"
"                 AS components"
"          FROM sync_health() WITH ORDINALITY h(component, status, detail, n)) w";

/*
 * sync_health() as JSON: 200 unless something is down (or the database
 * cannot be asked), then 503, for /health (a probe's route); /api/health
 * (the dashboard's) answers 200 with the same body whatever it says.
 */
static enum MHD_Result
route_health(Serve *srv, struct MHD_Connection *conn, bool always_ok)
{
	ServeConn	sc;
	ServePoolError e = serve_pool_acquire(srv->pool, SERVE_HEALTH_WAIT_MS, &sc);
	PGresult   *res = NULL;
	const char *why;
	HttpBuf		b;
	enum MHD_Result ret;

	if (e == SERVE_POOL_OK)
	{
		res = serve_pool_exec(srv->pool, &sc, health_sql, 0, NULL);
		serve_pool_release(srv->pool, &sc);
		if (result_ok(res) && !PQgetisnull(res, 0, 1))
		{
			bool		down = strcmp(PQgetvalue(res, 0, 0), "down") == 0;
			size_t		len = 0;
			char	   *body = result_body(res, 1, &len);

			ret = serve_reply(conn, down && !always_ok ? 503 : 200, JSON_TYPE, body, len);
			PQclear(res);
			return ret;
		}
		if (res && PQresultStatus(res) != PGRES_TUPLES_OK)
			pg_log_error("sync_health() failed: %s", PQresultErrorMessage(res));
	}
	/* the database is the component that is down */
	why = e == SERVE_POOL_BUSY ? "every database connection of pg_sync serve is busy" :
		e == SERVE_POOL_STOPPING ? "pg_sync serve is stopping" :
		res ? "sync_health() failed (see the log of pg_sync serve)" :
		"the database cannot be reached";
	PQclear(res);
	httpbuf_init(&b);
	httpbuf_puts(&b, "{\"status\": \"down\", \"components\": [{\"component\": \"database\", "
				 "\"status\": \"down\", \"detail\": ");
	httpbuf_json_string(&b, why);
	httpbuf_puts(&b, "}]}\n");
	if (b.failed)
	{
		httpbuf_free(&b);
		return MHD_NO;
	}
	return serve_reply(conn, always_ok ? 200 : 503, JSON_TYPE, b.data, b.len);
}

/* --- /metrics, /api/sources, /api/status -------------------------------- */

static const char metrics_sql[] = "SELECT sync_metrics()";

/*
 * Never credentials: sync.source_secrets is not read, and a URL keeps no
 * user:password@ part or query (0.5.0 refuses both; older sources may
 * still have them).
 */
static const char sources_sql[] =
"SELECT json_build_object('sources', coalesce(json_agg(x ORDER BY x.name), '[]'::json))::text"
"  FROM (SELECT s.name, s.provider,"
"               regexp_replace(split_part(split_part(s.base_url, '#', 1), '?', 1),"
"                              '^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@', '\\1') AS base_url,"
"               regexp_replace(split_part(split_part(s.stream_url, '#', 1), '?', 1),"
"                              '^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@', '\\1') AS stream_url,"
"               s.options, s.created_at"
"          FROM sync.sources s) x";

static const char source_exists_sql[] =
"SELECT EXISTS (SELECT 1 FROM sync.sources s WHERE s.name = $1)";

/* sync_status() rows, each with how many holes sync.gaps lists for it */
static const char status_sql[] =
"SELECT json_build_object('series', coalesce(json_agg(x ORDER BY x.source, x.symbol, x.dataset,"
"                                                     x.bar_interval), '[]'::json))::text"
"  FROM (SELECT s.*, coalesce(g.gaps, 0) AS gaps"
"          FROM sync_status() s"
"          LEFT JOIN (SELECT gp.source, gp.symbol, gp.bar_interval, count(*) AS gaps"
"                       FROM sync.gaps gp WHERE $1::text IS NULL OR gp.source = $1"
"                      GROUP BY 1, 2, 3) g"
"            ON s.dataset = 'bars' AND g.source = s.source AND g.symbol = s.symbol"
"           AND g.bar_interval = s.bar_interval"
"         WHERE $1::text IS NULL OR s.source = $1) x";

/*
 * Whether source names a source: 1 yes, 0 no (a 400 is queued), -1 the
 * database could not say (a 503 is queued).
 */
static int
source_known(Serve *srv, struct MHD_Connection *conn, const char *source, enum MHD_Result *ret)
{
	ServeConn	sc;
	ServePoolError e = serve_pool_acquire(srv->pool, SERVE_POOL_WAIT_MS, &sc);
	PGresult   *res;
	const char *params[1] = {source};
	int			known;

	if (e != SERVE_POOL_OK)
	{
		*ret = reply_pool_error(srv, conn, e);
		return -1;
	}
	res = serve_pool_exec(srv->pool, &sc, source_exists_sql, 1, params);
	serve_pool_release(srv->pool, &sc);
	if (!result_ok(res))
	{
		*ret = reply_sql_error(srv, conn, res, NULL);
		PQclear(res);
		return -1;
	}
	known = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!known)
		*ret = serve_reply_error(conn, 400, "unknown source", "source");
	return known;
}

static enum MHD_Result
route_status(Serve *srv, struct MHD_Connection *conn, const HttpQuery *q)
{
	HttpFilterRequest f;
	HttpError	err;
	enum MHD_Result ret;
	const char *params[1];

	if (!http_filter_request(q, false, &f, &err))
		return reply_http_error(conn, &err, NULL, NULL);
	if (f.source && source_known(srv, conn, f.source, &ret) != 1)
		return ret;
	params[0] = f.source;
	return reply_query(srv, conn, JSON_TYPE, status_sql, 1, params);
}

/* --- /api/bars, /api/trades --------------------------------------------- */

/*
 * The range of a request, resolved by PostgreSQL: from defaults to 24
 * hours before to, to to now.  Returns the source's and the session's
 * existence and the two times as text that reads back exactly.
 */
static const char resolve_sql[] =
"SELECT EXISTS (SELECT 1 FROM sync.sources s WHERE s.name = $1),"
"       $4::text IS NULL OR EXISTS (SELECT 1 FROM sync.sessions x WHERE x.name = $4),"
"       r.t_from::text, r.t_to::text, r.t_from <= r.t_to"
"  FROM (SELECT coalesce($2::timestamptz, coalesce($3::timestamptz, now()) - interval '1 day') AS t_from,"
"               coalesce($3::timestamptz, now()) AS t_to) r";

static const char time_sql[] = "SELECT $1::timestamptz";

/*
 * Bars of [from, to), ascending, at most $5 of them; one more is read to
 * tell whether there were more (truncated).  $1 source, $2 symbol, $3
 * from, $4 to, $5 limit, $6 the interval's name, $7 the session, $8 the
 * bucket in minutes (sync_resample() only).
 */
#define BARS_JSON \
"SELECT json_build_object('source', $1::text, 'symbol', $2::text, 'interval', $6::text," \
"         'session', $7::text, 'from', $3::timestamptz, 'to', $4::timestamptz," \
"         'bars', coalesce((SELECT json_agg(x ORDER BY x.ts)" \
"                             FROM (SELECT * FROM b ORDER BY b.ts LIMIT $5::int) x), '[]'::json)," \
"         'truncated', (SELECT count(*) FROM b) > $5::int)::text"

#define BARS_FROM(relation, extra) \
"WITH b AS (SELECT v.ts, v.open, v.high, v.low, v.close, v.volume, v.trades, v.vwap" \
"             FROM " relation " v" \
"            WHERE v.source = $1 AND v.symbol = $2 " extra \
"              AND v.ts >= $3::timestamptz AND v.ts < $4::timestamptz" \
"            ORDER BY v.ts LIMIT $5::int + 1) " BARS_JSON

static const struct
{
	int			minutes;
	const char *sql;
}			bars_views[] = {
	{1, BARS_FROM("sync.bars", "AND v.bar_interval = interval '1 minute'")},
	{5, BARS_FROM("sync.bars_5m", "")},
	{15, BARS_FROM("sync.bars_15m", "")},
	{60, BARS_FROM("sync.bars_1h", "")},
	{24 * 60, BARS_FROM("sync.bars_1d", "")},
};

/* any other width, and every width within an exchange session */
static const char bars_resample_sql[] =
"WITH b AS (SELECT r.ts, r.open, r.high, r.low, r.close, r.volume, r.trades, r.vwap"
"             FROM sync_resample($1::text, $2::text, make_interval(mins => $8::int),"
"                                $3::timestamptz, $4::timestamptz, $7::text) r"
"            ORDER BY r.ts LIMIT $5::int + 1) " BARS_JSON;

static const char trades_sql[] =
"WITH t AS (SELECT v.ts, v.trade_id, v.price, v.size, v.side"
"             FROM sync.trades v"
"            WHERE v.source = $1 AND v.symbol = $2"
"              AND v.ts >= $3::timestamptz AND v.ts < $4::timestamptz"
"            ORDER BY v.ts, v.trade_id LIMIT $5::int + 1) "
"SELECT json_build_object('source', $1::text, 'symbol', $2::text,"
"         'from', $3::timestamptz, 'to', $4::timestamptz,"
"         'trades', coalesce((SELECT json_agg(x ORDER BY x.ts, x.trade_id)"
"                               FROM (SELECT * FROM t ORDER BY t.ts, t.trade_id LIMIT $5::int) x),"
"                             '[]'::json),"
"         'truncated', (SELECT count(*) FROM t) > $5::int)::text";

/*
 * Bars or trades: check the source, the session and the range on one
 * borrowed connection, then run the data statement on it.
 */
static enum MHD_Result
route_series(Serve *srv, struct MHD_Connection *conn, const HttpQuery *q, bool bars)
{
	HttpSeriesRequest r;
	HttpError	err;
	ServeConn	sc;
	ServePoolError e;
	PGresult   *res;
	const char *params[8];
	char		limit[24];
	char		minutes[16];
	char	   *from = NULL;
	char	   *to = NULL;
	const char *sql = bars_resample_sql;
	int			nparams = 8;
	enum MHD_Result ret;

	if (!(bars ? http_bars_request(q, SERVE_DEFAULT_LIMIT, srv->row_limit, &r, &err) :
		  http_trades_request(q, SERVE_DEFAULT_LIMIT, srv->row_limit, &r, &err)))
		return reply_http_error(conn, &err, NULL, NULL);

	e = serve_pool_acquire(srv->pool, SERVE_POOL_WAIT_MS, &sc);
	if (e != SERVE_POOL_OK)
		return reply_pool_error(srv, conn, e);

	params[0] = r.source;
	params[1] = r.from;
	params[2] = r.to;
	params[3] = r.session[0] ? r.session : NULL;
	res = serve_pool_exec(srv->pool, &sc, resolve_sql, 4, params);
	if (res && PQresultStatus(res) == PGRES_FATAL_ERROR && r.from &&
		strncmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "",
				"22", 2) == 0)
	{
		/* which time PostgreSQL could not read: from, unless from alone reads */
		PGresult   *one = serve_pool_exec(srv->pool, &sc, time_sql, 1, &r.from);
		bool		from_ok = one && PQresultStatus(one) == PGRES_TUPLES_OK;

		PQclear(one);
		serve_pool_release(srv->pool, &sc);
		ret = reply_sql_error(srv, conn, res, from_ok ? "to" : "from");
		PQclear(res);
		return ret;
	}
	if (!result_ok(res))
	{
		serve_pool_release(srv->pool, &sc);
		ret = reply_sql_error(srv, conn, res, r.from ? "from" : "to");
		PQclear(res);
		return ret;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		err = (HttpError) {400, "unknown source", "source"};
	else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		err = (HttpError) {400, "unknown session", "session"};
	else if (strcmp(PQgetvalue(res, 0, 4), "t") != 0)
		err = (HttpError) {400, "from is after to", "from"};
	else
	{
		err.status = 0;
		from = strdup(PQgetvalue(res, 0, 2));
		to = strdup(PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	if (err.status != 0 || from == NULL || to == NULL)
	{
		serve_pool_release(srv->pool, &sc);
		free(from);
		free(to);
		if (err.status != 0)
			return reply_http_error(conn, &err, NULL, NULL);
		return MHD_NO;
	}

	snprintf(limit, sizeof(limit), "%ld", r.limit);
	snprintf(minutes, sizeof(minutes), "%d", r.interval.minutes);
	params[0] = r.source;
	params[1] = r.symbol;
	params[2] = from;
	params[3] = to;
	params[4] = limit;
	params[5] = r.interval.name;
	params[6] = r.session[0] ? r.session : NULL;
	params[7] = minutes;
	if (!bars)
	{
		sql = trades_sql;
		nparams = 5;
	}
	else if (r.session[0] == '\0')
	{
		for (int i = 0; i < lengthof(bars_views); i++)
			if (bars_views[i].minutes == r.interval.minutes)
			{
				sql = bars_views[i].sql;
				nparams = 7;
			}
	}
	res = serve_pool_exec(srv->pool, &sc, sql, nparams, params);
	serve_pool_release(srv->pool, &sc);
	free(from);
	free(to);
	return reply_result(srv, conn, JSON_TYPE, res);
}

/* --- /api/events ---------------------------------------------------------- */

static enum MHD_Result
route_events(Serve *srv, struct MHD_Connection *conn, const HttpQuery *q, bool head)
{
	HttpFilterRequest f;
	HttpError	err;
	enum MHD_Result ret;

	if (!http_filter_request(q, true, &f, &err))
		return reply_http_error(conn, &err, NULL, NULL);
	if (f.source && source_known(srv, conn, f.source, &ret) != 1)
		return ret;
	return serve_events_route(srv, conn, f.source, f.symbol, head);
}

/* --- dispatch ------------------------------------------------------------- */

/*
 * libmicrohttpd's access handler: called once the request's headers are
 * in (a GET has no body to wait for), answers at once.
 */
enum MHD_Result
serve_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			 const char *version, const char *upload_data, size_t *upload_data_size,
			 void **req_cls)
{
	static const char *const none[] = {NULL};
	Serve	   *srv = cls;
	ServeRequest *req = *req_cls;
	bool		head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	HttpQuery  *q;
	HttpError	err;
	enum MHD_Result ret;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && !head)
	{
		err = (HttpError) {405, "method not allowed: this server only reads (GET, HEAD)", ""};
		return reply_http_error(conn, &err, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	}
	if (req == NULL)
		return MHD_NO;			/* out of memory when the request began */

	/*
	 * The first call only says the headers are in; answering on the next
	 * one (the request complete) lets libmicrohttpd keep the connection
	 * alive for the next request.  A body sent with a GET is read and
	 * ignored.
	 */
	if (!req->headers_seen)
	{
		req->headers_seen = true;
		return MHD_YES;
	}
	if (*upload_data_size != 0)
	{
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (!http_path_ok(req->uri))
		return serve_reply_error(conn, 400, "malformed path", NULL);

	/* the dashboard's files: any query string (a cache buster) is ignored */
	if (strcmp(url, "/") == 0)
		return serve_static(srv, conn, "index.html");
	if (strncmp(url, "/static/", 8) == 0)
	{
		if (!http_static_name_ok(url + 8))
			return serve_reply_error(conn, 404, "not found", NULL);
		return serve_static(srv, conn, url + 8);
	}

	q = malloc(sizeof(HttpQuery));
	if (q == NULL)
		return MHD_NO;
	if (!http_query_parse(req->uri, q, &err))
		ret = reply_http_error(conn, &err, NULL, NULL);
	else if (strcmp(url, "/health") == 0 || strcmp(url, "/api/health") == 0)
		ret = http_query_allow(q, none, &err) ? route_health(srv, conn, url[1] == 'a') :
			reply_http_error(conn, &err, NULL, NULL);
	else if (strcmp(url, "/metrics") == 0)
		ret = http_query_allow(q, none, &err) ?
			reply_query(srv, conn, METRICS_TYPE, metrics_sql, 0, NULL) :
			reply_http_error(conn, &err, NULL, NULL);
	else if (strcmp(url, "/api/sources") == 0)
		ret = http_query_allow(q, none, &err) ?
			reply_query(srv, conn, JSON_TYPE, sources_sql, 0, NULL) :
			reply_http_error(conn, &err, NULL, NULL);
	else if (strcmp(url, "/api/status") == 0)
		ret = route_status(srv, conn, q);
	else if (strcmp(url, "/api/bars") == 0)
		ret = route_series(srv, conn, q, true);
	else if (strcmp(url, "/api/trades") == 0)
		ret = route_series(srv, conn, q, false);
	else if (strcmp(url, "/api/events") == 0)
		ret = route_events(srv, conn, q, head);
	else
		ret = serve_reply_error(conn, 404, "not found", NULL);
	free(q);
	return ret;
}
