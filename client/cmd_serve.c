/*-------------------------------------------------------------------------
 * cmd_serve.c
 *	  pg_sync serve: the read-only HTTP server (dashboard, health and
 *	  metrics for probes and Prometheus, JSON and Server-Sent Events for
 *	  the dashboard): its options, its start, and its stop on SIGINT or
 *	  SIGTERM.
 *
 * It listens on loopback unless --allow-remote says otherwise: the routes
 * have no authentication of their own, so exposing them is a decision
 * (behind a reverse proxy that authenticates, say; docs/http-api.md).
 * The database connection is checked once at start (so a wrong password
 * or a missing extension ends the program with the usual exit status);
 * afterwards the pool reconnects on its own and requests answer 503 while
 * the database is away.
 *
 * Threads: libmicrohttpd with its internal polling thread and one thread
 * per connection (MHD_USE_THREAD_PER_CONNECTION).  A route blocks on
 * libpq, and an event stream waits for its next event: with a thread each
 * they only ever block themselves, and the number of connections (and so
 * threads) is capped by SERVE_MAX_HTTP_CONNECTIONS.  The main thread only
 * waits for the signal that stops everything.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <arpa/inet.h>
#include <signal.h>

#include "common/logging.h"

#include "http_params.h"
#include "serve.h"

#define OPT_LISTEN			3001
#define OPT_ALLOW_REMOTE	3002
#define OPT_CONNECTIONS		3003
#define OPT_ROW_LIMIT		3004
#define OPT_DASHBOARD		3005
#define OPT_STATEMENT_TIMEOUT 3006

typedef struct ServeOptions
{
	const char *listen;
	bool		allow_remote;
	int			connections;
	long		row_limit;
	const char *dashboard;
	int			statement_timeout_ms;
} ServeOptions;

static const struct option serve_long[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE},
	{"connections", required_argument, NULL, OPT_CONNECTIONS},
	{"row-limit", required_argument, NULL, OPT_ROW_LIMIT},
	{"dashboard", required_argument, NULL, OPT_DASHBOARD},
	{"statement-timeout", required_argument, NULL, OPT_STATEMENT_TIMEOUT},
	{NULL, 0, NULL, 0}
};

/* a whole number in [min, max], or false with the reason on stderr */
static bool
parse_int_option(const char *option, const char *value, long min, long max, long *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
	{
		pg_log_error("invalid value \"%s\" for --%s: a whole number from %ld to %ld", value, option,
					 min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool
serve_option(PgSync *ps, void *arg, int c, const char *value)
{
	ServeOptions *o = (ServeOptions *) arg;
	long		v;

	switch (c)
	{
		case OPT_LISTEN:
			o->listen = value;
			return true;
		case OPT_ALLOW_REMOTE:
			o->allow_remote = true;
			return true;
		case OPT_CONNECTIONS:
			if (!parse_int_option("connections", value, 1, 100, &v))
				return false;
			o->connections = (int) v;
			return true;
		case OPT_ROW_LIMIT:
			if (!parse_int_option("row-limit", value, 1, 1000000, &v))
				return false;
			o->row_limit = v;
			return true;
		case OPT_DASHBOARD:
			o->dashboard = value;
			return true;
		case OPT_STATEMENT_TIMEOUT:
			if (!parse_int_option("statement-timeout", value, 100, 3600000, &v))
				return false;
			o->statement_timeout_ms = (int) v;
			return true;
	}
	return false;
}

static void
serve_usage(const char *progname)
{
	printf("%s serve runs a read-only HTTP server: the dashboard, /health and /metrics for probes\n"
		   "and Prometheus, and JSON and Server-Sent Events routes (docs/http-api.md).\n\n", progname);
	printf("Usage:\n  %s serve [OPTION]...\n\n", progname);
	printf("Options:\n");
	printf("  --listen=ADDR:PORT       where to listen (default %s; PORT 0: any free port;\n"
		   "                           IPv6 as [::1]:PORT)\n", SERVE_DEFAULT_LISTEN);
	printf("  --allow-remote           allow an address that is not loopback (the routes have\n"
		   "                           no authentication: put a proxy that has in front)\n");
	printf("  --connections=N          database connections for requests (default %d, 1-100;\n"
		   "                           the event stream has one more)\n", SERVE_DEFAULT_CONNECTIONS);
	printf("  --row-limit=N            most rows one /api/bars or /api/trades answer holds\n"
		   "                           (default %d)\n", SERVE_DEFAULT_ROW_LIMIT);
	printf("  --statement-timeout=MS   longest a query may run (default %d)\n", SERVE_DEFAULT_STATEMENT_MS);
	printf("  --dashboard=DIR          the dashboard's files (default: the sync_dashboard\n"
		   "                           directory of the installation's share directory)\n");
	pgsync_print_connection_help();
	printf("\nIt stops on SIGINT or SIGTERM (exit 0).  Exit status: 1 could not start,\n"
		   "2 no server at start, 3 wrong usage.\n");
}

/* libmicrohttpd's own error messages, with the program's name */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		msg[1024];
	size_t		n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* an event-stream client dropped for reading too slowly: serve_events.c said so */
	if (strstr(msg, "application error generating response"))
		return;
	pg_log_error("http: %s", msg);
}

/* "http://127.0.0.1:8484/" for the start line */
static void
listen_url(const struct sockaddr_storage *addr, unsigned int port, char *buf, size_t len)
{
	char		host[INET6_ADDRSTRLEN];

	if (addr->ss_family == AF_INET6)
	{
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) addr)->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "http://[%s]:%u/", host, port);
	}
	else
	{
		inet_ntop(AF_INET, &((const struct sockaddr_in *) addr)->sin_addr, host, sizeof(host));
		snprintf(buf, len, "http://%s:%u/", host, port);
	}
}

int
pgsync_cmd_serve(PgSync *ps, int argc, char **argv)
{
	ServeOptions o = {SERVE_DEFAULT_LISTEN, false, SERVE_DEFAULT_CONNECTIONS,
	SERVE_DEFAULT_ROW_LIMIT, NULL, SERVE_DEFAULT_STATEMENT_MS};
	struct sockaddr_storage addr;
	socklen_t	addrlen = 0;
	bool		loopback = false;
	char		errbuf[256];
	char		url[128];
	Serve		srv = {0};
	PGconn	   *conn;
	sigset_t	stop_signals;
	struct MHD_Daemon *daemon;
	const union MHD_DaemonInfo *info;
	unsigned int port;
	int			sig;
	unsigned int flags;

	if (pgsync_getopt(ps, argc, argv, "", serve_long, serve_option, &o) < argc)
		pgsync_usage_error(ps, "serve", "too many arguments");
	if (ps->help)
	{
		serve_usage(ps->progname);
		return PGSYNC_EXIT_OK;
	}
	if (!http_parse_listen(o.listen, &addr, &addrlen, &loopback, errbuf, sizeof(errbuf)))
		pgsync_usage_error(ps, "serve", "invalid --listen: %s", errbuf);
	if (!loopback && !o.allow_remote)
		pgsync_usage_error(ps, "serve", "refusing to listen on %s: not a loopback address, and the "
						   "routes have no authentication; give --allow-remote to serve other hosts "
						   "(behind a proxy that authenticates)", o.listen);

	srv.ps = ps;
	srv.connections = o.connections;
	srv.row_limit = o.row_limit;
	if (o.dashboard)
		snprintf(srv.dashboard_dir, sizeof(srv.dashboard_dir), "%s", o.dashboard);
	else if (!serve_dashboard_dir(ps->argv0, srv.dashboard_dir, sizeof(srv.dashboard_dir)))
		snprintf(srv.dashboard_dir, sizeof(srv.dashboard_dir), "(the installation's share directory: "
				 "the path of %s could not be found)", ps->argv0);
	if (!serve_dashboard_present(srv.dashboard_dir))
		pg_log_warning("no dashboard in %s (GET / answers 404; the API works)", srv.dashboard_dir);

	/*
	 * One connection now, as every command makes it: a prompt for a
	 * password if the server wants one, a clear error and exit status if
	 * there is no server or no extension.  The password is kept for the
	 * pool's connections (in memory only).
	 */
	conn = pgsync_connect(ps);
	srv.conninfo.host = ps->host;
	srv.conninfo.port = ps->port;
	srv.conninfo.user = ps->user;
	srv.conninfo.dbname = ps->dbname;
	srv.conninfo.statement_timeout_ms = o.statement_timeout_ms;
	if (PQconnectionUsedPassword(conn) && PQpass(conn))
		srv.conninfo.password = pg_strdup(PQpass(conn));
	PQfinish(conn);

	/*
	 * SIGINT and SIGTERM are taken by sigwait() below, so they are blocked
	 * before any thread starts (threads inherit the mask); SIGPIPE from a
	 * closed socket must not end the program.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	srv.pool = serve_pool_create(&srv.conninfo, srv.connections);
	srv.events = serve_events_start(&srv);

	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
		MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	daemon = MHD_start_daemon(flags, 0, NULL, NULL, serve_handle, &srv,
							  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
							  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
							  MHD_OPTION_URI_LOG_CALLBACK, serve_request_begin, &srv,
							  MHD_OPTION_NOTIFY_COMPLETED, serve_request_end, &srv,
							  MHD_OPTION_CONNECTION_LIMIT, (unsigned int) SERVE_MAX_HTTP_CONNECTIONS,
							  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) SERVE_HTTP_TIMEOUT_S,
							  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,
							  MHD_OPTION_THREAD_STACK_SIZE, (size_t) 512 * 1024,
							  MHD_OPTION_END);
	if (daemon == NULL)
	{
		pg_log_error("could not listen on %s", o.listen);
		serve_events_stop(srv.events, 0);
		exit(PGSYNC_EXIT_FAILED);
	}
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
	port = info ? info->port : 0;
	listen_url(&addr, port, url, sizeof(url));
	if (!ps->quiet)
	{
		printf("%s: listening on %s\n", ps->progname, url);
		fflush(stdout);
	}

	do
	{
		if (sigwait(&stop_signals, &sig) != 0)
			sig = SIGTERM;
	} while (sig != SIGINT && sig != SIGTERM);

	/*
	 * Stop: no new connection, every event stream ends (its reader returns
	 * end of stream), requests waiting for a database connection give up,
	 * then libmicrohttpd waits for its threads.
	 */
	{
		MHD_socket	lsock = MHD_quiesce_daemon(daemon);

		if (lsock != MHD_INVALID_SOCKET)
			close(lsock);
	}
	serve_events_stop(srv.events, SERVE_STOP_WAIT_MS);
	serve_pool_stop(srv.pool);
	MHD_stop_daemon(daemon);
	serve_events_destroy(srv.events);
	serve_pool_destroy(srv.pool);
	if (srv.conninfo.password)
	{
		explicit_bzero(srv.conninfo.password, strlen(srv.conninfo.password));
		pg_free(srv.conninfo.password);
	}
	if (!ps->quiet)
	{
		printf("%s: stopped\n", ps->progname);
		fflush(stdout);
	}
	return PGSYNC_EXIT_OK;
}
