/*-------------------------------------------------------------------------
 * cmd_backfill.c
 *	  pg_sync backfill: one sync_backfill() per symbol, and with --wait a
 *	  progress bar per run until every run ends, the exit status saying
 *	  whether they all succeeded.
 *
 * The runs are asked for in one transaction: a symbol the server refuses
 * (unknown source, a bad time) leaves none asked for.  Waiting polls
 * sync.job_runs by the ids sync_backfill() returned; a run's progress is
 * how far its checkpoint got through its range.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"

#include "progress.h"

#define OPT_FROM		2401
#define OPT_TO			2402
#define OPT_INTERVAL	2403
#define OPT_DATASET		2404
#define OPT_WAIT		2405

#define POLL_MS			500

typedef struct BackfillOptions
{
	const char *from;
	const char *to;
	const char *interval;
	const char *dataset;
	bool		wait;
} BackfillOptions;

static const struct option backfill_long[] = {
	{"from", required_argument, NULL, OPT_FROM},
	{"to", required_argument, NULL, OPT_TO},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"dataset", required_argument, NULL, OPT_DATASET},
	{"wait", no_argument, NULL, OPT_WAIT},
	{NULL, 0, NULL, 0}
};

enum
{
	J_ID, J_SYMBOL, J_STATE, J_ROWS, J_PROGRESS, J_ERROR, J_ELAPSED
};

static const char RUNS_SQL[] =
"SELECT id, symbol, state, rows, "
"       CASE WHEN state = 'succeeded' THEN 1 "
"            WHEN range_to > range_from THEN least(1, greatest(0, "
"            extract(epoch FROM coalesce(checkpoint, range_from) - range_from) "
"            / extract(epoch FROM range_to - range_from))) END::float8 AS progress, "
"       error, extract(epoch FROM coalesce(finished_at, clock_timestamp()) - started_at)::float8 AS elapsed_seconds "
"  FROM sync.job_runs WHERE id = ANY ($1::bigint[]) ORDER BY id";

static bool
backfill_option(PgSync *ps, void *arg, int c, const char *value)
{
	BackfillOptions *o = (BackfillOptions *) arg;

	switch (c)
	{
		case OPT_FROM:
			o->from = value;
			return true;
		case OPT_TO:
			o->to = value;
			return true;
		case OPT_INTERVAL:
			o->interval = value;
			return true;
		case OPT_DATASET:
			o->dataset = value;
			return true;
		case OPT_WAIT:
			o->wait = true;
			return true;
	}
	return false;
}

static void
backfill_usage(const char *progname)
{
	printf("%s backfill asks for one-off backfills of a past range (sync_backfill()), one run\n"
		   "per symbol, and prints the run ids.\n\n", progname);
	printf("Usage:\n  %s backfill SOURCE SYMBOL... --from=TIME --to=TIME [OPTION]...\n\n", progname);
	printf("Options:\n");
	printf("  --from=TIME              start of the range, included (any timestamptz input)\n");
	printf("  --to=TIME                end of the range, excluded\n");
	printf("  --interval=INTERVAL      bar width (default 1 minute)\n");
	printf("  --dataset=bars|trades    the dataset (default bars)\n");
	printf("  --wait                   show each run's progress until every run ends\n");
	printf("  --json                   {\"runs\": [ids]}; with --wait, each run's end\n");
	pgsync_print_connection_help();
	printf("\nExit status: 0 asked for (with --wait: every run succeeded), 1 refused or a run\n"
		   "failed (which and why on stderr) or Ctrl-C stopped the wait, 2 no server,\n"
		   "3 wrong usage.\n");
}

static bool
run_ended(const char *state)
{
	return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
		strcmp(state, "interrupted") == 0;
}

/* The runs' progress until they all end; returns the exit status. */
static int
wait_for_runs(PgSync *ps, PGconn *conn, const char *ids, int nruns)
{
	PgSyncScreen screen;
	PQExpBufferData frame;
	char	   *last_state = pg_malloc0(nruns);	/* off a terminal: a line per change */
	PGresult   *res = NULL;
	int			failed = 0;
	bool		done = false;

	pgsync_catch_interrupt();
	pgsync_screen_start(&screen, &(PgSync) {.tty = ps->tty && !ps->json && !ps->quiet});
	initPQExpBuffer(&frame);
	while (!done)
	{
		int			ended = 0;

		if (res)
			PQclear(res);
		res = pgsync_exec(ps, conn, RUNS_SQL, 1, (const char *const[]) {ids});
		resetPQExpBuffer(&frame);
		for (int r = 0; r < PQntuples(res); r++)
		{
			const char *state = PQgetvalue(res, r, J_STATE);
			double		elapsed = atof(PQgetvalue(res, r, J_ELAPSED));
			double		rows = atof(PQgetvalue(res, r, J_ROWS));
			double		progress = PQgetisnull(res, r, J_PROGRESS) ? 0 : atof(PQgetvalue(res, r, J_PROGRESS));
			const char *color = pgsync_color(ps, state);

			if (run_ended(state))
				ended++;
			if (screen.tty)
			{
				appendPQExpBuffer(&frame, "run %-6s %-12.12s %s%-9s%s ", PQgetvalue(res, r, J_ID),
								  PQgetvalue(res, r, J_SYMBOL), color, state,
								  *color ? pgsync_color_end(ps) : "");
				pgsync_progress_cell(&frame, progress,
									 elapsed > 0 ? rows / elapsed : -1,
									 progress > 0 && progress < 1 ? elapsed * (1 - progress) / progress : -1);
				appendPQExpBuffer(&frame, " %s rows\n", PQgetvalue(res, r, J_ROWS));
			}
			else if (!ps->quiet && !ps->json && r < nruns && last_state[r] != state[0])
			{
				/* off a terminal: one line each time a run changes state */
				printf("run %s %s: %s, %s rows\n", PQgetvalue(res, r, J_ID), PQgetvalue(res, r, J_SYMBOL),
					   state, PQgetvalue(res, r, J_ROWS));
				fflush(stdout);
			}
			if (r < nruns)
				last_state[r] = state[0];
		}
		if (screen.tty)
			pgsync_screen_frame(&screen, frame.data);
		done = ended == PQntuples(res);
		if (!done && !pgsync_sleep_ms(POLL_MS))
			break;
	}
	pgsync_screen_end(&screen);
	termPQExpBuffer(&frame);
	pg_free(last_state);
	if (!done)
	{
		pg_log_error("stopped waiting; the runs go on (pg_sync status shows them)");
		PQclear(res);
		return PGSYNC_EXIT_FAILED;
	}
	if (ps->json)
		pgsync_print_json_rows(stdout, res);
	for (int r = 0; r < PQntuples(res); r++)
	{
		if (strcmp(PQgetvalue(res, r, J_STATE), "succeeded") == 0)
			continue;
		failed++;
		pg_log_error("run %s (%s) %s: %s", PQgetvalue(res, r, J_ID), PQgetvalue(res, r, J_SYMBOL),
					 PQgetvalue(res, r, J_STATE),
					 PQgetisnull(res, r, J_ERROR) ? "no error recorded" : PQgetvalue(res, r, J_ERROR));
	}
	if (!ps->quiet && !ps->json)
		printf("%d of %d run%s succeeded\n", PQntuples(res) - failed, PQntuples(res),
			   PQntuples(res) == 1 ? "" : "s");
	PQclear(res);
	return failed ? PGSYNC_EXIT_FAILED : PGSYNC_EXIT_OK;
}

int
pgsync_cmd_backfill(PgSync *ps, int argc, char **argv)
{
	BackfillOptions o = {0};
	int			first = pgsync_getopt(ps, argc, argv, "", backfill_long, backfill_option, &o);
	int			nsymbols = argc - first - 1;
	PGconn	   *conn;
	PQExpBufferData ids;
	int			status = PGSYNC_EXIT_OK;

	if (ps->help)
	{
		backfill_usage(ps->progname);
		return PGSYNC_EXIT_OK;
	}
	if (nsymbols < 1)
		pgsync_usage_error(ps, "backfill", "backfill takes SOURCE and at least one SYMBOL");
	if (o.from == NULL || o.to == NULL)
		pgsync_usage_error(ps, "backfill", "--from and --to are required");
	conn = pgsync_connect(ps);
	initPQExpBuffer(&ids);
	appendPQExpBufferChar(&ids, '{');
	PQclear(pgsync_exec(ps, conn, "BEGIN", 0, NULL));
	for (int i = 0; i < nsymbols; i++)
	{
		PGresult   *res = pgsync_exec(ps, conn,
									  "SELECT sync_backfill($1, $2, $3, $4::timestamptz, $5::timestamptz, $6::interval)",
									  6, (const char *const[]) {argv[first], argv[first + 1 + i],
									  o.dataset ? o.dataset : "bars", o.from, o.to,
									  o.interval ? o.interval : "1 minute"});

		appendPQExpBuffer(&ids, "%s%s", i ? "," : "", PQgetvalue(res, 0, 0));
		if (!ps->quiet && !ps->json)
			printf("run %s: %s/%s from %s to %s\n", PQgetvalue(res, 0, 0), argv[first],
				   argv[first + 1 + i], o.from, o.to);
		PQclear(res);
	}
	PQclear(pgsync_exec(ps, conn, "COMMIT", 0, NULL));
	appendPQExpBufferChar(&ids, '}');
	{
		/* the runs wait for workers: say so when none will come */
		PGresult   *res = pgsync_exec(ps, conn, "SELECT sync._supervisor_pid() IS NULL", 0, NULL);

		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			pg_log_warning("sync is not running in database \"%s\": the runs wait for \"%s start\"",
						   PQdb(conn), ps->progname);
		PQclear(res);
	}
	if (ps->json && !o.wait)
	{
		/* "{1,2}" as a JSON array */
		ids.data[0] = '[';
		ids.data[ids.len - 1] = ']';
		printf("{\"runs\": %s}\n", ids.data);
	}
	fflush(stdout);
	if (o.wait)
		status = wait_for_runs(ps, conn, ids.data, nsymbols);
	termPQExpBuffer(&ids);
	PQfinish(conn);
	return status;
}
