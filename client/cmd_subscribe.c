/*-------------------------------------------------------------------------
 * cmd_subscribe.c
 *	  pg_sync subscribe | unsubscribe: sync_subscribe() and
 *	  sync_unsubscribe(), argument for argument.
 *
 * Every value goes to the server as a parameter with the SQL API's own
 * defaults spelled out here, so the server judges each one (a bad time or
 * interval is refused with its message, exit 1).
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"

#include "progress.h"

#define OPT_DATASET			2201
#define OPT_INTERVAL		2202
#define OPT_HISTORY_FROM	2203
#define OPT_NO_REALTIME		2204

typedef struct SubscribeOptions
{
	const char *dataset;
	const char *interval;
	const char *history_from;
	bool		no_realtime;
	bool		unsubscribe;
} SubscribeOptions;

static const struct option subscribe_long[] = {
	{"dataset", required_argument, NULL, OPT_DATASET},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"history-from", required_argument, NULL, OPT_HISTORY_FROM},
	{"no-realtime", no_argument, NULL, OPT_NO_REALTIME},
	{NULL, 0, NULL, 0}
};

static bool
subscribe_option(PgSync *ps, void *arg, int c, const char *value)
{
	SubscribeOptions *o = (SubscribeOptions *) arg;

	switch (c)
	{
		case OPT_DATASET:
			o->dataset = value;
			return true;
		case OPT_INTERVAL:
		case OPT_HISTORY_FROM:
		case OPT_NO_REALTIME:
			if (o->unsubscribe)
			{
				/* getopt knows them (subscribe's); unsubscribe takes none */
				pg_log_error("unsubscribe takes no --interval, --history-from or --no-realtime");
				return false;
			}
			if (c == OPT_INTERVAL)
				o->interval = value;
			else if (c == OPT_HISTORY_FROM)
				o->history_from = value;
			else
				o->no_realtime = true;
			return true;
	}
	return false;
}

static void
subscribe_usage(const char *progname, bool unsubscribe)
{
	if (unsubscribe)
	{
		printf("%s unsubscribe stops keeping symbols in sync (sync_unsubscribe(); data stays).\n\n", progname);
		printf("Usage:\n  %s unsubscribe SOURCE SYMBOL... [OPTION]...\n\n", progname);
		printf("Options:\n");
		printf("  --dataset=bars|trades    the dataset (default bars)\n");
	}
	else
	{
		printf("%s subscribe keeps symbols of a source in sync (sync_subscribe()).\n\n", progname);
		printf("Usage:\n  %s subscribe SOURCE SYMBOL... [OPTION]...\n\n", progname);
		printf("Options:\n");
		printf("  --dataset=bars|trades    the dataset (default bars)\n");
		printf("  --interval=INTERVAL      bar width, one the provider offers (default 1 minute)\n");
		printf("  --history-from=TIME      backfill from TIME (any timestamptz input; default none)\n");
		printf("  --no-realtime            stop after the backfill instead of following live data\n");
	}
	pgsync_print_connection_help();
	printf("\nExit status: 0 done, 1 refused (the server's message), 2 no server, 3 wrong usage.\n");
}

static int
run_subscribe(PgSync *ps, int argc, char **argv, bool unsubscribe)
{
	SubscribeOptions o = {0};
	const char *command = unsubscribe ? "unsubscribe" : "subscribe";
	int			first;
	PGconn	   *conn;
	PGresult   *res;
	char	   *symbols;

	o.unsubscribe = unsubscribe;
	first = pgsync_getopt(ps, argc, argv, "", subscribe_long, subscribe_option, &o);
	if (ps->help)
	{
		subscribe_usage(ps->progname, unsubscribe);
		return PGSYNC_EXIT_OK;
	}
	if (argc - first < 2)
		pgsync_usage_error(ps, command, "%s takes SOURCE and at least one SYMBOL", command);
	symbols = pgsync_text_array(argc - first - 1, argv + first + 1);
	conn = pgsync_connect(ps);
	if (unsubscribe)
	{
		res = pgsync_exec(ps, conn, "SELECT sync_unsubscribe($1, $2::text[], $3)", 3,
						  (const char *const[]) {argv[first], symbols, o.dataset ? o.dataset : "bars"});
		if (ps->json)
			printf("{\"removed\": %s}\n", PQgetvalue(res, 0, 0));
		else if (!ps->quiet)
			printf("%s subscription%s removed\n", PQgetvalue(res, 0, 0),
				   strcmp(PQgetvalue(res, 0, 0), "1") == 0 ? "" : "s");
	}
	else
	{
		res = pgsync_exec(ps, conn,
						  "SELECT id FROM sync_subscribe($1, $2::text[], $3, $4::interval, $5::timestamptz, $6::boolean) AS id",
						  6, (const char *const[]) {argv[first], symbols, o.dataset ? o.dataset : "bars",
						  o.interval ? o.interval : "1 minute", o.history_from,
						  o.no_realtime ? "false" : "true"});
		if (ps->json)
		{
			printf("{\"subscriptions\": [");
			for (int r = 0; r < PQntuples(res); r++)
				printf("%s%s", r ? ", " : "", PQgetvalue(res, r, 0));
			printf("]}\n");
		}
		else if (!ps->quiet)
			for (int r = 0; r < PQntuples(res); r++)
				printf("subscription %s: %s/%s\n", PQgetvalue(res, r, 0), argv[first],
					   r < argc - first - 1 ? argv[first + 1 + r] : "?");
	}
	PQclear(res);
	PQfinish(conn);
	free(symbols);
	return PGSYNC_EXIT_OK;
}

int
pgsync_cmd_subscribe(PgSync *ps, int argc, char **argv)
{
	return run_subscribe(ps, argc, argv, false);
}

int
pgsync_cmd_unsubscribe(PgSync *ps, int argc, char **argv)
{
	return run_subscribe(ps, argc, argv, true);
}
