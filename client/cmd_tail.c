/*-------------------------------------------------------------------------
 * cmd_tail.c
 *	  pg_sync tail: LISTEN sync_bars (or sync_trades) and print the rows
 *	  each notification announces, as they land, until Ctrl-C.
 *
 * A notification names one series and the range it stored ("from" to
 * "ts", docs/reference.md); the rows are read back from sync.bars or
 * sync.trades by that range.  The payload goes to the server as a
 * parameter and is taken apart there (jsonb), so nothing in it is parsed
 * here or spliced into SQL.  Any role may NOTIFY on these channels: a
 * payload the server cannot take apart is a warning, and tail goes on.
 * The wait is poll() on the connection's socket, so Ctrl-C ends it at
 * once.  The last column of each query is the row as JSON, for --json
 * (the server types it: numbers stay numbers with every digit).
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"

#include "progress.h"

#define OPT_SOURCE	2501
#define OPT_SYMBOL	2502
#define OPT_TRADES	2503

typedef struct TailOptions
{
	const char *source;
	const char *symbol;
	bool		trades;
} TailOptions;

static const struct option tail_long[] = {
	{"source", required_argument, NULL, OPT_SOURCE},
	{"symbol", required_argument, NULL, OPT_SYMBOL},
	{"trades", no_argument, NULL, OPT_TRADES},
	{NULL, 0, NULL, 0}
};

/* $1 the payload, $2 --source, $3 --symbol */
static const char BARS_SQL[] =
"SELECT q.*, row_to_json(q)::text FROM ("
"WITH n AS (SELECT $1::jsonb AS j) "
"SELECT b.source, b.symbol, b.bar_interval, b.ts, b.open, b.high, b.low, b.close, b.volume, b.trades, b.vwap "
"  FROM n, sync.bars b "
" WHERE b.source = n.j->>'source' AND b.symbol = n.j->>'symbol' "
"   AND b.bar_interval = (n.j->>'interval')::interval "
"   AND b.ts BETWEEN (n.j->>'from')::timestamptz AND (n.j->>'ts')::timestamptz "
"   AND ($2::text IS NULL OR b.source = $2) AND ($3::text IS NULL OR b.symbol = $3) "
" ORDER BY b.ts) q";

static const char TRADES_SQL[] =
"SELECT q.*, row_to_json(q)::text FROM ("
"WITH n AS (SELECT $1::jsonb AS j) "
"SELECT t.source, t.symbol, t.ts, t.trade_id, t.price, t.size, t.side "
"  FROM n, sync.trades t "
" WHERE t.source = n.j->>'source' AND t.symbol = n.j->>'symbol' "
"   AND t.ts BETWEEN (n.j->>'from')::timestamptz AND (n.j->>'ts')::timestamptz "
"   AND ($2::text IS NULL OR t.source = $2) AND ($3::text IS NULL OR t.symbol = $3) "
" ORDER BY t.ts, t.trade_id) q";

static bool
tail_option(PgSync *ps, void *arg, int c, const char *value)
{
	TailOptions *o = (TailOptions *) arg;

	switch (c)
	{
		case OPT_SOURCE:
			o->source = value;
			return true;
		case OPT_SYMBOL:
			o->symbol = value;
			return true;
		case OPT_TRADES:
			o->trades = true;
			return true;
	}
	return false;
}

static void
tail_usage(const char *progname)
{
	printf("%s tail prints new bars (or trades) as sync stores them, until Ctrl-C.\n\n", progname);
	printf("Usage:\n  %s tail [OPTION]...\n\n", progname);
	printf("Options:\n");
	printf("  --source=NAME            only this source's\n");
	printf("  --symbol=SYMBOL          only this symbol's\n");
	printf("  --trades                 trades (LISTEN sync_trades) instead of bars (sync_bars)\n");
	printf("  --json                   one JSON object a line\n");
	printf("\nEach series announces what it stored at most once per sync.notify_interval_ms,\n"
		   "so rows come in small batches.\n");
	pgsync_print_connection_help();
	printf("\nExit status: 0 ended by Ctrl-C, 1 an SQL error, 2 no server or the connection\n"
		   "was lost, 3 wrong usage.\n");
}

/* one row: its columns, or (--json) its last column, the row as JSON */
static void
print_row(const PgSync *ps, const PGresult *res, int r)
{
	int			ncols = PQnfields(res) - 1;

	if (ps->json)
	{
		printf("%s\n", PQgetvalue(res, r, ncols));
		return;
	}
	for (int c = 0; c < ncols; c++)
	{
		const char *v = PQgetisnull(res, r, c) ? "-" : PQgetvalue(res, r, c);

		printf("%s%s", c ? " " : "", v);
	}
	fputc('\n', stdout);
}

int
pgsync_cmd_tail(PgSync *ps, int argc, char **argv)
{
	TailOptions o = {0};
	PGconn	   *conn;
	int			sock;
	bool		lost = false;

	if (pgsync_getopt(ps, argc, argv, "", tail_long, tail_option, &o) < argc)
		pgsync_usage_error(ps, "tail", "too many arguments");
	if (ps->help)
	{
		tail_usage(ps->progname);
		return PGSYNC_EXIT_OK;
	}
	conn = pgsync_connect(ps);
	PQclear(pgsync_exec(ps, conn, o.trades ? "LISTEN sync_trades" : "LISTEN sync_bars", 0, NULL));
	pgsync_catch_interrupt();
	if (!ps->quiet && !ps->json)
	{
		fprintf(stderr, "%s: waiting for new %s (Ctrl-C ends)\n", ps->progname, o.trades ? "trades" : "bars");
		if (!o.trades)
			printf("source symbol interval ts open high low close volume trades vwap\n");
		else
			printf("source symbol ts trade_id price size side\n");
		fflush(stdout);
	}
	sock = PQsocket(conn);
	while (!pgsync_interrupted)
	{
		PGnotify   *note;
		int			rc = pgsync_wait_socket(sock, 1000);

		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		if (!PQconsumeInput(conn))
		{
			pg_log_error("connection lost: %s", PQerrorMessage(conn));
			lost = true;
			break;
		}
		while ((note = PQnotifies(conn)) != NULL)
		{
			PGresult   *res = PQexecParams(conn, o.trades ? TRADES_SQL : BARS_SQL, 3, NULL,
											(const char *const[]) {note->extra, o.source, o.symbol},
											NULL, NULL, 0);

			if (PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				if (PQstatus(conn) == CONNECTION_BAD)
				{
					pg_log_error("connection lost: %s", PQerrorMessage(conn));
					exit(PGSYNC_EXIT_DOWN);
				}
				pg_log_warning("notification skipped (payload from PID %d): %s",
							   note->be_pid, PQresultErrorMessage(res));
			}
			for (int r = 0; PQresultStatus(res) == PGRES_TUPLES_OK && r < PQntuples(res) && !ps->quiet; r++)
				print_row(ps, res, r);
			fflush(stdout);
			PQclear(res);
			PQfreemem(note);
		}
	}
	PQfinish(conn);
	return lost ? PGSYNC_EXIT_DOWN : PGSYNC_EXIT_OK;
}
