/*-------------------------------------------------------------------------
 * cmd_export.c
 *	  pg_sync export: the bars of one series over a range, at any width,
 *	  streamed to stdout as CSV or JSON lines with COPY.
 *
 * Where the rows come from: sync.bars for 1-minute bars, the rollup views
 * (sync.bars_5m, _15m, _1h, _1d) for their widths, sync_resample() for any
 * other width or with a session (exchange trading days).
 *
 * COPY takes no bound parameters, and splicing the user's values into its
 * text would make their quoting our problem.  Instead the values go first
 * through PQexecParams into set_config(..., is_local => true), which the
 * server checks (a bad time is refused there, with its message), and the
 * COPY statement is constant text that reads them back with
 * current_setting(): nothing the user typed is ever part of SQL text, and
 * the settings end with the transaction.  COPY hands the rows over as the
 * server produces them (PQgetCopyData), so an export of years of bars
 * never sits in memory.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"

#include "pg_sync.h"

#define OPT_INTERVAL	2601
#define OPT_FROM		2602
#define OPT_TO			2603
#define OPT_SESSION		2604
#define OPT_FORMAT		2605

typedef struct ExportOptions
{
	const char *interval;
	const char *from;
	const char *to;
	const char *session;
	const char *format;
} ExportOptions;

static const struct option export_long[] = {
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"from", required_argument, NULL, OPT_FROM},
	{"to", required_argument, NULL, OPT_TO},
	{"session", required_argument, NULL, OPT_SESSION},
	{"format", required_argument, NULL, OPT_FORMAT},
	{NULL, 0, NULL, 0}
};

/*
 * The values checked by the server and kept for the transaction; the last
 * column names the relation to read (one of the fixed ones below).
 */
static const char SETUP_SQL[] =
"SELECT set_config('pg_sync.source', $1, true), "
"       set_config('pg_sync.symbol', $2, true), "
"       set_config('pg_sync.from', $3::timestamptz::text, true), "
"       set_config('pg_sync.to', $4::timestamptz::text, true), "
"       set_config('pg_sync.interval', $5::interval::text, true), "
"       set_config('pg_sync.session', coalesce($6, ''), true), "
"       CASE WHEN $6 IS NOT NULL THEN 'resample' "
"            WHEN $5::interval = '1 minute' THEN 'bars' "
"            WHEN $5::interval = '5 minutes' THEN 'bars_5m' "
"            WHEN $5::interval = '15 minutes' THEN 'bars_15m' "
"            WHEN $5::interval = '1 hour' THEN 'bars_1h' "
"            WHEN $5::interval = '1 day' THEN 'bars_1d' "
"            ELSE 'resample' END, "
"       EXISTS (SELECT 1 FROM sync.sources WHERE name = $1)";

#define COLUMNS "ts, open, high, low, close, volume, trades, vwap"
/*
 * Each setting read once, in an initplan: a bare current_setting() that
 * ends up in a filter is called again for every row (a third of the
 * export's time for a million 1-minute bars, bench/client.sh).
 */
#define RANGE \
	"source = (SELECT current_setting('pg_sync.source')) " \
	"AND symbol = (SELECT current_setting('pg_sync.symbol')) " \
	"AND ts >= (SELECT current_setting('pg_sync.from')::timestamptz) " \
	"AND ts < (SELECT current_setting('pg_sync.to')::timestamptz)"

/* the fixed queries, one per relation SETUP_SQL may name */
static const struct
{
	const char *name;
	const char *query;
}			sources[] = {
	{"bars", "SELECT " COLUMNS " FROM sync.bars WHERE " RANGE " AND bar_interval = '1 minute' ORDER BY ts"},
	{"bars_5m", "SELECT " COLUMNS " FROM sync.bars_5m WHERE " RANGE " ORDER BY ts"},
	{"bars_15m", "SELECT " COLUMNS " FROM sync.bars_15m WHERE " RANGE " ORDER BY ts"},
	{"bars_1h", "SELECT " COLUMNS " FROM sync.bars_1h WHERE " RANGE " ORDER BY ts"},
	{"bars_1d", "SELECT " COLUMNS " FROM sync.bars_1d WHERE " RANGE " ORDER BY ts"},
	{"resample", "SELECT " COLUMNS " FROM sync_resample(current_setting('pg_sync.source'), "
		"current_setting('pg_sync.symbol'), current_setting('pg_sync.interval')::interval, "
		"current_setting('pg_sync.from')::timestamptz, current_setting('pg_sync.to')::timestamptz, "
	"nullif(current_setting('pg_sync.session'), '')) ORDER BY ts"},
};

static bool
export_option(PgSync *ps, void *arg, int c, const char *value)
{
	ExportOptions *o = (ExportOptions *) arg;

	switch (c)
	{
		case OPT_INTERVAL:
			o->interval = value;
			return true;
		case OPT_FROM:
			o->from = value;
			return true;
		case OPT_TO:
			o->to = value;
			return true;
		case OPT_SESSION:
			o->session = value;
			return true;
		case OPT_FORMAT:
			if (strcmp(value, "csv") != 0 && strcmp(value, "json") != 0)
			{
				pg_log_error("--format is csv or json, not \"%s\"", value);
				return false;
			}
			o->format = value;
			return true;
	}
	return false;
}

static void
export_usage(const char *progname)
{
	printf("%s export writes the bars of one series over a range to stdout, streamed.\n\n", progname);
	printf("Usage:\n  %s export SOURCE SYMBOL --from=TIME --to=TIME [OPTION]...\n\n", progname);
	printf("Options:\n");
	printf("  --from=TIME              start of the range, included (any timestamptz input)\n");
	printf("  --to=TIME                end of the range, excluded\n");
	printf("  --interval=INTERVAL      bar width (default 1m): 1m from sync.bars; 5m, 15m, 1h, 1d\n");
	printf("                           from the rollup views; any other whole-minute width from\n");
	printf("                           sync_resample()\n");
	printf("  --session=MIC            exchange session days and hours (XNYS, XNAS) by sync_resample()\n");
	printf("  --format=csv|json        CSV with a header (default), or one JSON object a line\n");
	printf("  --json                   the same as --format=json\n");
	printf("\nColumns: ts, open, high, low, close, volume, trades, vwap.\n");
	pgsync_print_connection_help();
	printf("\nExit status: 0 written, 1 refused (unknown source, a bad time or interval: the\n"
		   "server's message), 2 no server, 3 wrong usage.\n");
}

/* Run a COPY ... TO STDOUT and pass its rows on as they come. */
static void
stream_copy(PgSync *ps, PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *buf;
	int			n;

	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		pg_log_error("%s", PQresultErrorMessage(res));
		exit(PQstatus(conn) == CONNECTION_BAD ? PGSYNC_EXIT_DOWN : PGSYNC_EXIT_FAILED);
	}
	PQclear(res);
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0)
	{
		if (fwrite(buf, 1, n, stdout) != (size_t) n)
		{
			pg_log_error("could not write to stdout: %m");
			exit(PGSYNC_EXIT_FAILED);
		}
		PQfreemem(buf);
	}
	if (n == -2)
	{
		pg_log_error("%s", PQerrorMessage(conn));
		exit(PQstatus(conn) == CONNECTION_BAD ? PGSYNC_EXIT_DOWN : PGSYNC_EXIT_FAILED);
	}
	/* the COPY's own end: an error met after rows were sent shows here */
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
			const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
			const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

			pg_log_error("%s", msg ? msg : PQresultErrorMessage(res));
			if (detail)
				pg_log_error_detail("%s", detail);
			if (hint)
				pg_log_error_hint("%s", hint);
			exit(PGSYNC_EXIT_FAILED);
		}
		PQclear(res);
	}
	if (fflush(stdout) != 0)
	{
		pg_log_error("could not write to stdout: %m");
		exit(PGSYNC_EXIT_FAILED);
	}
}

int
pgsync_cmd_export(PgSync *ps, int argc, char **argv)
{
	ExportOptions o = {0};
	int			first = pgsync_getopt(ps, argc, argv, "", export_long, export_option, &o);
	PGconn	   *conn;
	PGresult   *res;
	const char *query = NULL;
	bool		json;
	char	   *copy;

	if (ps->help)
	{
		export_usage(ps->progname);
		return PGSYNC_EXIT_OK;
	}
	if (argc - first != 2)
		pgsync_usage_error(ps, "export", "export takes SOURCE and SYMBOL");
	if (o.from == NULL || o.to == NULL)
		pgsync_usage_error(ps, "export", "--from and --to are required");
	json = ps->json || (o.format && strcmp(o.format, "json") == 0);
	conn = pgsync_connect(ps);
	PQclear(pgsync_exec(ps, conn, "BEGIN READ ONLY", 0, NULL));
	res = pgsync_exec(ps, conn, SETUP_SQL, 6,
					  (const char *const[]) {argv[first], argv[first + 1], o.from, o.to,
					  o.interval ? o.interval : "1 minute", o.session});
	if (strcmp(PQgetvalue(res, 0, 7), "t") != 0)
		pgsync_fail(ps, conn, "source \"%s\" does not exist", argv[first]);
	for (int i = 0; i < lengthof(sources); i++)
		if (strcmp(sources[i].name, PQgetvalue(res, 0, 6)) == 0)
			query = sources[i].query;
	if (query == NULL)			/* cannot happen: SETUP_SQL names one of them */
		pgsync_fail(ps, conn, "no query for \"%s\"", PQgetvalue(res, 0, 6));
	PQclear(res);

	/*
	 * JSON lines: COPY's text format would escape a backslash, but these
	 * rows are timestamps and numbers, which have none.
	 */
	if (json)
		copy = psprintf("COPY (SELECT row_to_json(q) FROM (%s) q) TO STDOUT", query);
	else
		copy = psprintf("COPY (%s) TO STDOUT WITH (FORMAT csv, HEADER)", query);
	stream_copy(ps, conn, copy);
	pfree(copy);
	PQclear(pgsync_exec(ps, conn, "COMMIT", 0, NULL));
	PQfinish(conn);
	return PGSYNC_EXIT_OK;
}
