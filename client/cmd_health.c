/*-------------------------------------------------------------------------
 * cmd_health.c
 *	  pg_sync health: sync_health()'s components that are not ok, one a
 *	  line, and an exit status a probe or a script can act on (0 ok,
 *	  1 degraded, 2 down).
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "pg_sync.h"

#define OPT_ALL 2001

typedef struct HealthOptions
{
	bool		all;
} HealthOptions;

static const struct option health_long[] = {
	{"all", no_argument, NULL, OPT_ALL},
	{NULL, 0, NULL, 0}
};

static bool
health_option(PgSync *ps, void *arg, int c, const char *value)
{
	HealthOptions *o = (HealthOptions *) arg;

	if (c != OPT_ALL)
		return false;
	o->all = true;
	return true;
}

static void
health_usage(const char *progname)
{
	printf("%s health prints the components of sync that are degraded or down, one a line.\n\n", progname);
	printf("Usage:\n  %s health [OPTION]...\n\n", progname);
	printf("Options:\n");
	printf("  --all                    the components that are ok too\n");
	printf("  --json                   {\"status\": ..., \"components\": [every component]}\n");
	pgsync_print_connection_help();
	printf("\nExit status: 0 ok, 1 degraded, 2 down or no server, 3 wrong usage.\n");
}

int
pgsync_cmd_health(PgSync *ps, int argc, char **argv)
{
	HealthOptions o = {0};
	PGconn	   *conn;
	PGresult   *res;
	int			worst = PGSYNC_EXIT_OK;
	int			shown = 0;

	if (pgsync_getopt(ps, argc, argv, "", health_long, health_option, &o) < argc)
		pgsync_usage_error(ps, "health", "too many arguments");
	if (ps->help)
	{
		health_usage(ps->progname);
		return PGSYNC_EXIT_OK;
	}
	conn = pgsync_connect(ps);
	res = pgsync_exec(ps, conn, "SELECT component, status, detail FROM sync_health() ORDER BY component",
					  0, NULL);
	for (int r = 0; r < PQntuples(res); r++)
	{
		const char *status = PQgetvalue(res, r, 1);

		if (strcmp(status, "down") == 0)
			worst = PGSYNC_EXIT_DOWN;
		else if (strcmp(status, "ok") != 0 && worst == PGSYNC_EXIT_OK)
			worst = PGSYNC_EXIT_FAILED;
	}
	if (ps->json)
	{
		printf("{\"status\": \"%s\", \"components\": ",
			   worst == PGSYNC_EXIT_OK ? "ok" : worst == PGSYNC_EXIT_DOWN ? "down" : "degraded");
		pgsync_print_json_rows(stdout, res);
		printf("}\n");
	}
	else if (!ps->quiet)
	{
		for (int r = 0; r < PQntuples(res); r++)
		{
			const char *status = PQgetvalue(res, r, 1);

			if (!o.all && strcmp(status, "ok") == 0)
				continue;
			printf("%s%-8s%s %s: %s\n", pgsync_color(ps, status), status,
				   *pgsync_color(ps, status) ? pgsync_color_end(ps) : "",
				   PQgetvalue(res, r, 0), PQgetvalue(res, r, 2));
			shown++;
		}
		if (shown == 0)
			printf("ok: all %d components\n", PQntuples(res));
	}
	PQclear(res);
	PQfinish(conn);
	return worst;
}
