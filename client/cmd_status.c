/*-------------------------------------------------------------------------
 * cmd_status.c
 *	  pg_sync status: each series of sync_status() (phase, a progress bar
 *	  while it backfills, lag, rows, rejects, last error), and the one-off
 *	  backfill runs still under way (sync.job_runs); --watch redraws it.
 *
 * Rates and ETAs of a series come from two samples of sync_status(): under
 * --watch this redraw's and the previous one's; once, a second sample is
 * taken a second after the first when a series is backfilling.  rows/s is
 * the growth of rows_stored between them, the ETA what is left of
 * backfill_progress at the pace it moved between them.  A one-off run has
 * its start time in sync.job_runs, so its rate is its rows over the time
 * since it started, and its ETA the time it took so far scaled by what is
 * left (progress is how far its checkpoint got through its range).
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>

#include "common/logging.h"

#include "progress.h"

#define OPT_WATCH	2301
#define OPT_SOURCE	2302

#define SERIES_WIDTH	26
#define LINE_WIDTH		98		/* stays inside 100 columns */

/* the columns of SERIES_SQL */
enum
{
	S_SOURCE, S_SYMBOL, S_DATASET, S_INTERVAL, S_PHASE, S_WORKER_PID, S_SYNCED_THROUGH,
	S_PROGRESS, S_LAG, S_ROWS, S_REJECTED, S_LAST_ERROR, S_LAST_ERROR_AT, S_RETRY_AT,
	S_RECONNECTS, S_AT
};

/* lag and the interval in seconds: a client reads numbers, not interval text */
static const char SERIES_SQL[] =
"SELECT source, symbol, dataset, extract(epoch FROM bar_interval)::bigint AS bar_interval_seconds, "
"       phase, worker_pid, synced_through, backfill_progress, "
"       extract(epoch FROM lag)::float8 AS lag_seconds, rows_stored, rows_rejected, "
"       last_error, last_error_at, retry_at, reconnects, "
"       extract(epoch FROM clock_timestamp())::float8 AS sampled_at "
"  FROM sync_status() WHERE $1::text IS NULL OR source = $1";

enum
{
	R_ID, R_SOURCE, R_SYMBOL, R_DATASET, R_STATE, R_ROWS, R_ELAPSED, R_PROGRESS, R_ERROR
};

static const char RUNS_SQL[] =
"SELECT id, source, symbol, dataset, state, rows, "
"       extract(epoch FROM clock_timestamp() - started_at)::float8 AS elapsed_seconds, "
"       CASE WHEN range_to > range_from THEN least(1, greatest(0, "
"            extract(epoch FROM coalesce(checkpoint, range_from) - range_from) "
"            / extract(epoch FROM range_to - range_from)))::float8 END AS progress, "
"       error "
"  FROM sync.job_runs "
" WHERE requested AND state IN ('pending', 'running') AND ($1::text IS NULL OR source = $1) "
" ORDER BY id";

typedef struct StatusOptions
{
	int			watch;			/* seconds between redraws; 0: once */
	const char *source;
} StatusOptions;

/* argv for "--watch 5" (getopt gives an optional argument only as --watch=5) */
static int	watch_argc;
static char **watch_argv;

static const struct option status_long[] = {
	{"watch", optional_argument, NULL, OPT_WATCH},
	{"source", required_argument, NULL, OPT_SOURCE},
	{NULL, 0, NULL, 0}
};

static bool
parse_seconds(const char *s, int *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 86400)
		return false;
	*out = (int) v;
	return true;
}

static bool
status_option(PgSync *ps, void *arg, int c, const char *value)
{
	StatusOptions *o = (StatusOptions *) arg;

	switch (c)
	{
		case OPT_WATCH:
			o->watch = 2;
			if (value)
			{
				if (!parse_seconds(value, &o->watch))
				{
					pg_log_error("--watch takes whole seconds from 1 to 86400, not \"%s\"", value);
					return false;
				}
			}
			/* "--watch 5": the seconds as the next word, when it is a number */
			else if (optind < watch_argc && parse_seconds(watch_argv[optind], &o->watch))
				optind++;
			return true;
		case OPT_SOURCE:
			o->source = value;
			return true;
	}
	return false;
}

static void
status_usage(const char *progname)
{
	printf("%s status shows each series sync keeps: phase, backfill progress, lag, rows,\n"
		   "rejects and the last error, and the one-off backfill runs under way.\n\n", progname);
	printf("Usage:\n  %s status [OPTION]...\n\n", progname);
	printf("Options:\n");
	printf("  --watch [SECONDS]        redraw every SECONDS (default 2) until Ctrl-C; in place on\n");
	printf("                           a terminal, a new block each time otherwise\n");
	printf("  --source=NAME            only this source's series\n");
	printf("  --json                   {\"series\": [...], \"runs\": [...]} (one a line under --watch)\n");
	printf("\nRates and ETAs: a series' rows/s is how much rows_stored grew between two samples\n"
		   "(under --watch, this redraw's and the previous one's; otherwise two taken a second\n"
		   "apart when a series backfills), its ETA what is left of backfill_progress at the\n"
		   "pace it moved between them. A one-off run's rows/s is its rows over the time since\n"
		   "it started (sync.job_runs), its ETA that time scaled by what is left of its range.\n");
	pgsync_print_connection_help();
	printf("\nExit status: 0 shown (Ctrl-C ends --watch with 0), 1 an SQL error, 2 no server,\n"
		   "3 wrong usage.\n");
}

/* a sample's values for one series, kept for the next redraw's rates */
typedef struct Sample
{
	char	   *key;
	double		rows;
	double		progress;		/* -1: none */
	double		at;
} Sample;

typedef struct Samples
{
	Sample	   *items;
	int			n;
} Samples;

static char *
series_key(const PGresult *res, int r)
{
	return psprintf("%s\x1f%s\x1f%s\x1f%s", PQgetvalue(res, r, S_SOURCE), PQgetvalue(res, r, S_SYMBOL),
					PQgetvalue(res, r, S_DATASET), PQgetvalue(res, r, S_INTERVAL));
}

static void
samples_free(Samples *s)
{
	for (int i = 0; i < s->n; i++)
		pg_free(s->items[i].key);
	pg_free(s->items);
	s->items = NULL;
	s->n = 0;
}

static void
samples_take(Samples *s, const PGresult *res)
{
	samples_free(s);
	s->n = PQntuples(res);
	s->items = pg_malloc0(sizeof(Sample) * Max(s->n, 1));
	for (int r = 0; r < s->n; r++)
	{
		s->items[r].key = series_key(res, r);
		s->items[r].rows = atof(PQgetvalue(res, r, S_ROWS));
		s->items[r].progress = PQgetisnull(res, r, S_PROGRESS) ? -1 : atof(PQgetvalue(res, r, S_PROGRESS));
		s->items[r].at = atof(PQgetvalue(res, r, S_AT));
	}
}

/*
 * rows/s and ETA of row r against the previous sample (both -1 when
 * unknown).  Both samples come from the same ordered query, so the row's
 * match is nearly always at the same index; *hint walks along with it.
 */
static void
series_rates(const Samples *prev, const PGresult *res, int r, int *hint, double *rate, double *eta)
{
	char	   *key = series_key(res, r);
	const Sample *p = NULL;

	*rate = *eta = -1;
	for (int k = 0; k < prev->n && p == NULL; k++)
	{
		int			i = (*hint + k) % prev->n;

		if (strcmp(prev->items[i].key, key) == 0)
		{
			p = &prev->items[i];
			*hint = i + 1;
		}
	}
	pg_free(key);
	if (p)
	{
		double		dt = atof(PQgetvalue(res, r, S_AT)) - p->at;
		double		rows = atof(PQgetvalue(res, r, S_ROWS));
		double		progress = PQgetisnull(res, r, S_PROGRESS) ? -1 : atof(PQgetvalue(res, r, S_PROGRESS));

		if (dt > 0)
		{
			*rate = Max(0, (rows - p->rows) / dt);
			if (progress >= 0 && p->progress >= 0 && progress > p->progress)
				*eta = (1 - progress) * dt / (progress - p->progress);
		}
	}
}

static bool
any_backfilling(const PGresult *res)
{
	for (int r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, S_PHASE), "backfill") == 0)
			return true;
	return false;
}

/* "1m", "1h", "1d", "90s": a bar interval from its seconds */
static void
append_interval(PQExpBuffer buf, long s)
{
	if (s > 0 && s % 86400 == 0)
		appendPQExpBuffer(buf, "%ldd", s / 86400);
	else if (s > 0 && s % 3600 == 0)
		appendPQExpBuffer(buf, "%ldh", s / 3600);
	else if (s > 0 && s % 60 == 0)
		appendPQExpBuffer(buf, "%ldm", s / 60);
	else
		appendPQExpBuffer(buf, "%lds", s);
}

static void
append_padded(PQExpBuffer buf, const char *s, int width)
{
	size_t		start = buf->len;
	int			cols = 0;

	pgsync_append_fit(buf, s, width);
	for (const char *p = buf->data + start; *p; p++)
		if ((*p & 0xC0) != 0x80)
			cols++;
	for (; cols < width; cols++)
		appendPQExpBufferChar(buf, ' ');
}

static void
append_phase(PQExpBuffer buf, const PgSync *ps, const char *phase)
{
	const char *color = pgsync_color(ps, phase);

	appendPQExpBufferStr(buf, color);
	appendPQExpBuffer(buf, "%-9s", phase);
	if (*color)
		appendPQExpBufferStr(buf, pgsync_color_end(ps));
}

/* The text of one frame: a heading, the series, the runs. */
static void
render_text(PQExpBuffer out, const PgSync *ps, const PGresult *series, const Samples *prev,
			const PGresult *runs)
{
	PQExpBufferData label;
	time_t		now = time(NULL);
	char		stamp[64];
	int			hint = 0;

	initPQExpBuffer(&label);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	appendPQExpBuffer(out, "sync status at %s: %d series\n", stamp, PQntuples(series));
	if (PQntuples(series) > 0)
		appendPQExpBuffer(out, "%-*s %-9s %-*s %10s %7s\n", SERIES_WIDTH, "SERIES", "PHASE",
						  PGSYNC_PROGRESS_CELL, "PROGRESS / LAG", "ROWS", "REJECTS");
	for (int r = 0; r < PQntuples(series); r++)
	{
		const char *phase = PQgetvalue(series, r, S_PHASE);
		double		rate,
					eta;

		series_rates(prev, series, r, &hint, &rate, &eta);
		resetPQExpBuffer(&label);
		appendPQExpBuffer(&label, "%s/%s ", PQgetvalue(series, r, S_SOURCE), PQgetvalue(series, r, S_SYMBOL));
		if (PQgetisnull(series, r, S_INTERVAL))
			appendPQExpBufferStr(&label, PQgetvalue(series, r, S_DATASET));
		else
			append_interval(&label, atol(PQgetvalue(series, r, S_INTERVAL)));
		append_padded(out, label.data, SERIES_WIDTH);
		appendPQExpBufferChar(out, ' ');
		append_phase(out, ps, phase);
		appendPQExpBufferChar(out, ' ');
		resetPQExpBuffer(&label);
		if (strcmp(phase, "backfill") == 0 && !PQgetisnull(series, r, S_PROGRESS))
			pgsync_progress_cell(&label, atof(PQgetvalue(series, r, S_PROGRESS)), rate, eta);
		else if (!PQgetisnull(series, r, S_LAG))
		{
			appendPQExpBufferStr(&label, "lag ");
			pgsync_format_duration(&label, atof(PQgetvalue(series, r, S_LAG)));
		}
		else if (!PQgetisnull(series, r, S_SYNCED_THROUGH))
			appendPQExpBuffer(&label, "through %s", PQgetvalue(series, r, S_SYNCED_THROUGH));
		append_padded(out, label.data, PGSYNC_PROGRESS_CELL);
		appendPQExpBuffer(out, " %10s %7s\n", PQgetvalue(series, r, S_ROWS), PQgetvalue(series, r, S_REJECTED));
		if (!PQgetisnull(series, r, S_LAST_ERROR))
		{
			appendPQExpBufferStr(out, "    error: ");
			pgsync_append_fit(out, PQgetvalue(series, r, S_LAST_ERROR), LINE_WIDTH - 11);
			appendPQExpBufferChar(out, '\n');
		}
	}
	if (PQntuples(runs) > 0)
		appendPQExpBuffer(out, "\n%-*s %-9s %-*s %10s\n", SERIES_WIDTH, "BACKFILL RUN", "STATE",
						  PGSYNC_PROGRESS_CELL, "PROGRESS", "ROWS");
	for (int r = 0; r < PQntuples(runs); r++)
	{
		double		elapsed = atof(PQgetvalue(runs, r, R_ELAPSED));
		double		rows = atof(PQgetvalue(runs, r, R_ROWS));
		double		progress = PQgetisnull(runs, r, R_PROGRESS) ? 0 : atof(PQgetvalue(runs, r, R_PROGRESS));

		resetPQExpBuffer(&label);
		appendPQExpBuffer(&label, "%s %s/%s %s", PQgetvalue(runs, r, R_ID), PQgetvalue(runs, r, R_SOURCE),
						  PQgetvalue(runs, r, R_SYMBOL), PQgetvalue(runs, r, R_DATASET));
		append_padded(out, label.data, SERIES_WIDTH);
		appendPQExpBufferChar(out, ' ');
		append_phase(out, ps, PQgetvalue(runs, r, R_STATE));
		appendPQExpBufferChar(out, ' ');
		resetPQExpBuffer(&label);
		pgsync_progress_cell(&label, progress, elapsed > 0 ? rows / elapsed : -1,
							 progress > 0 && progress < 1 ? elapsed * (1 - progress) / progress : -1);
		append_padded(out, label.data, PGSYNC_PROGRESS_CELL);
		appendPQExpBuffer(out, " %10s\n", PQgetvalue(runs, r, R_ROWS));
	}
	termPQExpBuffer(&label);
}

/* one JSON value of a result, typed as output.c types them */
static void
json_cell(PQExpBuffer out, const PGresult *res, int r, int c)
{
	const char *v = PQgetvalue(res, r, c);

	if (PQgetisnull(res, r, c))
		appendPQExpBufferStr(out, "null");
	else if (PQftype(res, c) == 16)		/* bool */
		appendPQExpBufferStr(out, v[0] == 't' ? "true" : "false");
	else if ((PQftype(res, c) == 20 || PQftype(res, c) == 23 || PQftype(res, c) == 700 ||
			  PQftype(res, c) == 701) && strspn(v, "0123456789.-+e") == strlen(v))
		appendPQExpBufferStr(out, v);
	else
	{
		FILE	   *mem;
		char	   *text = NULL;
		size_t		len = 0;

		/* pgsync_json_string() writes to a stream: a memory one here */
		mem = open_memstream(&text, &len);
		pgsync_json_string(mem, v);
		fclose(mem);
		appendPQExpBufferStr(out, text);
		free(text);
	}
}

static void
json_number(PQExpBuffer out, double v)
{
	if (v < 0)
		appendPQExpBufferStr(out, "null");
	else
		appendPQExpBuffer(out, "%.3f", v);
}

static void
render_json(PQExpBuffer out, const PGresult *series, const Samples *prev, const PGresult *runs)
{
	int			hint = 0;

	appendPQExpBufferStr(out, "{\"series\": [");
	for (int r = 0; r < PQntuples(series); r++)
	{
		double		rate,
					eta;

		series_rates(prev, series, r, &hint, &rate, &eta);
		appendPQExpBufferStr(out, r ? ", {" : "{");
		for (int c = 0; c < S_AT; c++)
		{
			appendPQExpBuffer(out, "%s\"%s\": ", c ? ", " : "", PQfname(series, c));
			json_cell(out, series, r, c);
		}
		appendPQExpBufferStr(out, ", \"rows_per_second\": ");
		json_number(out, rate);
		appendPQExpBufferStr(out, ", \"eta_seconds\": ");
		json_number(out, eta);
		appendPQExpBufferChar(out, '}');
	}
	appendPQExpBufferStr(out, "], \"runs\": [");
	for (int r = 0; r < PQntuples(runs); r++)
	{
		appendPQExpBufferStr(out, r ? ", {" : "{");
		for (int c = 0; c < PQnfields(runs); c++)
		{
			appendPQExpBuffer(out, "%s\"%s\": ", c ? ", " : "", PQfname(runs, c));
			json_cell(out, runs, r, c);
		}
		appendPQExpBufferChar(out, '}');
	}
	appendPQExpBufferStr(out, "]}");
}

int
pgsync_cmd_status(PgSync *ps, int argc, char **argv)
{
	StatusOptions o = {0};
	PGconn	   *conn;
	Samples		prev = {0};
	PgSyncScreen screen;
	PQExpBufferData frame;
	const char *params[1];

	watch_argc = argc;
	watch_argv = argv;
	if (pgsync_getopt(ps, argc, argv, "", status_long, status_option, &o) < argc)
		pgsync_usage_error(ps, "status", "too many arguments");
	if (ps->help)
	{
		status_usage(ps->progname);
		return PGSYNC_EXIT_OK;
	}
	params[0] = o.source;
	conn = pgsync_connect(ps);
	if (o.watch)
		pgsync_catch_interrupt();
	/* JSON is for programs: no cursor moves in it */
	pgsync_screen_start(&screen, &(PgSync) {.tty = ps->tty && o.watch && !ps->json});
	initPQExpBuffer(&frame);
	for (;;)
	{
		PGresult   *series = pgsync_exec(ps, conn, SERIES_SQL, 1, params);
		PGresult   *runs;

		if (!o.watch && any_backfilling(series) && !ps->quiet)
		{
			/* once: a second sample a second later gives the rates */
			samples_take(&prev, series);
			PQclear(series);
			if (!pgsync_sleep_ms(1000))
				break;
			series = pgsync_exec(ps, conn, SERIES_SQL, 1, params);
		}
		runs = pgsync_exec(ps, conn, RUNS_SQL, 1, params);
		resetPQExpBuffer(&frame);
		if (ps->json)
		{
			render_json(&frame, series, &prev, runs);
			printf("%s\n", frame.data);
			fflush(stdout);
		}
		else if (!ps->quiet)
		{
			render_text(&frame, ps, series, &prev, runs);
			if (o.watch)
				pgsync_screen_frame(&screen, frame.data);
			else
				fputs(frame.data, stdout);
		}
		samples_take(&prev, series);
		PQclear(series);
		PQclear(runs);
		if (!o.watch || !pgsync_sleep_ms(o.watch * 1000))
			break;
	}
	pgsync_screen_end(&screen);
	termPQExpBuffer(&frame);
	samples_free(&prev);
	PQfinish(conn);
	return PGSYNC_EXIT_OK;
}
