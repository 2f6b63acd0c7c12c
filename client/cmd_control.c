/*-------------------------------------------------------------------------
 * cmd_control.c
 *	  pg_sync start | stop: sync_start() and sync_stop() in the database
 *	  connected to (the one whose workers run, remembered across restarts).
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "pg_sync.h"

static int
run_control(PgSync *ps, int argc, char **argv, bool start)
{
	const char *command = start ? "start" : "stop";
	PGconn	   *conn;
	PGresult   *res;
	bool		answer;

	if (pgsync_getopt(ps, argc, argv, "", NULL, NULL, NULL) < argc)
		pgsync_usage_error(ps, command, "too many arguments");
	if (ps->help)
	{
		if (start)
			printf("%s start starts sync's workers in the database (sync_start(); idempotent).\n\n",
				   ps->progname);
		else
			printf("%s stop stops sync's workers gracefully (sync_stop(): in-flight batches are\n"
				   "committed, streams closed).\n\n", ps->progname);
		printf("Usage:\n  %s %s [OPTION]...\n", ps->progname, command);
		pgsync_print_connection_help();
		printf("\nExit status: 0 done, 1 refused (the server's message), 2 no server, 3 wrong usage.\n");
		return PGSYNC_EXIT_OK;
	}
	conn = pgsync_connect(ps);
	res = pgsync_exec(ps, conn, start ? "SELECT sync_start()" : "SELECT sync_stop()", 0, NULL);
	/* sync_start(): true once running; sync_stop(): true when it stopped workers */
	answer = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (ps->json)
		printf("{\"running\": %s}\n", start && answer ? "true" : "false");
	else if (!ps->quiet)
		printf("%s in database \"%s\"\n",
			   start ? (answer ? "sync is running" : "sync did not start (see the server log)") :
			   (answer ? "sync stopped" : "sync was not running"), PQdb(conn));
	PQclear(res);
	PQfinish(conn);
	return start && !answer ? PGSYNC_EXIT_FAILED : PGSYNC_EXIT_OK;
}

int
pgsync_cmd_start(PgSync *ps, int argc, char **argv)
{
	return run_control(ps, argc, argv, true);
}

int
pgsync_cmd_stop(PgSync *ps, int argc, char **argv)
{
	return run_control(ps, argc, argv, false);
}
