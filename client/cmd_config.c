/*-------------------------------------------------------------------------
 * cmd_config.c
 *	  pg_sync config: the sync.* settings as pg_settings has them (value,
 *	  unit, default, where it was set, when a change applies), and setting
 *	  one with ALTER SYSTEM and a reload.
 *
 * ALTER SYSTEM takes no bound parameters either.  The name is the one
 * pg_settings gave back for what the user typed (so it is a setting that
 * exists, and its characters are checked too), and the value is quoted by
 * PQescapeLiteral(): the server then checks the value itself, and a value
 * it refuses is an error with its message.  Once set, the configuration
 * is reloaded; a setting of context postmaster applies only after a
 * restart, and the output says so.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"

#include "progress.h"

#define OPT_RESET	2701

typedef struct ConfigOptions
{
	bool		reset;
} ConfigOptions;

static const struct option config_long[] = {
	{"reset", no_argument, NULL, OPT_RESET},
	{NULL, 0, NULL, 0}
};

enum
{
	C_NAME, C_SETTING, C_UNIT, C_DEFAULT, C_SOURCE, C_SET_IN, C_CONTEXT, C_PENDING, C_DESC,
	C_RANGE
};

/* "sync." may be left out of $1 */
static const char SETTINGS_SQL[] =
"SELECT name, setting, coalesce(unit, '') AS unit, boot_val AS default, source, "
"       coalesce(sourcefile || ':' || sourceline, '') AS set_in, context, pending_restart, "
"       short_desc, "
"       CASE WHEN vartype IN ('integer', 'real') THEN min_val || ' .. ' || max_val "
"            WHEN vartype = 'enum' THEN array_to_string(enumvals, ', ') ELSE vartype END AS range "
"  FROM pg_catalog.pg_settings "
" WHERE name LIKE 'sync.%' AND ($1::text IS NULL OR name = $1 OR name = 'sync.' || $1) "
" ORDER BY name";

static bool
config_option(PgSync *ps, void *arg, int c, const char *value)
{
	ConfigOptions *o = (ConfigOptions *) arg;

	if (c != OPT_RESET)
		return false;
	o->reset = true;
	return true;
}

static void
config_usage(const char *progname)
{
	printf("%s config shows sync's settings (sync.*), or sets one.\n\n", progname);
	printf("Usage:\n");
	printf("  %s config                 every sync.* setting\n", progname);
	printf("  %s config NAME            one setting, described\n", progname);
	printf("  %s config NAME VALUE      set it (ALTER SYSTEM SET, then pg_reload_conf())\n", progname);
	printf("  %s config NAME --reset    back to the default (ALTER SYSTEM RESET, then a reload)\n\n",
		   progname);
	printf("NAME may leave out \"sync.\". Setting needs a superuser (or ALTER SYSTEM granted on\n"
		   "the parameter); a setting of context postmaster applies after a restart only.\n");
	printf("\nOptions:\n");
	printf("  --json                   the settings as a JSON array\n");
	pgsync_print_connection_help();
	printf("\nExit status: 0 done, 1 refused (unknown setting, a value the server refuses),\n"
		   "2 no server, 3 wrong usage.\n");
}

static bool restart_needed(PGconn *conn, const char *name, const PGresult *setting);

static void
describe(PGconn *conn, const PGresult *res)
{
	const char *set_in = PQgetvalue(res, 0, C_SET_IN);

	printf("%s = %s%s%s\n", PQgetvalue(res, 0, C_NAME), PQgetvalue(res, 0, C_SETTING),
		   *PQgetvalue(res, 0, C_UNIT) ? " " : "", PQgetvalue(res, 0, C_UNIT));
	printf("  %s\n", PQgetvalue(res, 0, C_DESC));
	printf("  default:  %s\n", PQgetvalue(res, 0, C_DEFAULT));
	printf("  range:    %s\n", PQgetvalue(res, 0, C_RANGE));
	printf("  source:   %s%s%s\n", PQgetvalue(res, 0, C_SOURCE), *set_in ? " at " : "", set_in);
	printf("  context:  %s (%s)\n", PQgetvalue(res, 0, C_CONTEXT),
		   strcmp(PQgetvalue(res, 0, C_CONTEXT), "postmaster") == 0 ? "applies after a restart" :
		   strcmp(PQgetvalue(res, 0, C_CONTEXT), "sighup") == 0 ? "applies on reload" :
		   "per session, or on reload as the default");
	if (strcmp(PQgetvalue(res, 0, C_CONTEXT), "postmaster") == 0 &&
		restart_needed(conn, PQgetvalue(res, 0, C_NAME), res))
		printf("  a changed value waits for a restart\n");
}

/*
 * Whether a setting of context postmaster waits for a restart: the
 * configuration files' last word on it (pg_file_settings) is one the
 * running server could not apply, or, with none, the running value is not
 * the default.  pg_settings.pending_restart is no answer: once set, it
 * stays set until a restart, even after the value is put back.  Only a
 * superuser reads pg_file_settings; other roles get pending_restart.
 */
static bool
restart_needed(PGconn *conn, const char *name, const PGresult *setting)
{
	PGresult   *res = PQexecParams(conn,
								   "SELECT coalesce((SELECT error IS NOT NULL FROM pg_catalog.pg_file_settings "
								   "                  WHERE name = $1 ORDER BY seqno DESC LIMIT 1), "
								   "                 (SELECT setting <> boot_val FROM pg_catalog.pg_settings WHERE name = $1))",
								   1, NULL, (const char *const[]) {name}, NULL, NULL, 0);
	bool		needed;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		needed = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	else
		needed = strcmp(PQgetvalue(setting, 0, C_PENDING), "t") == 0;
	PQclear(res);
	return needed;
}

/* ALTER SYSTEM SET (or RESET) name, a reload, and what it came to */
static int
set_setting(PgSync *ps, PGconn *conn, const PGresult *found, const char *value, bool reset)
{
	const char *name = PQgetvalue(found, 0, C_NAME);
	char	   *old = pg_strdup(PQgetvalue(found, 0, C_SETTING));
	bool		postmaster = strcmp(PQgetvalue(found, 0, C_CONTEXT), "postmaster") == 0;
	char	   *sql;
	char	   *loaded;
	PGresult   *res = NULL;

	/* pg_settings' own name: still, only the characters a sync.* name has */
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.") != strlen(name))
		pgsync_fail(ps, conn, "unexpected setting name \"%s\"", name);
	if (reset)
		sql = psprintf("ALTER SYSTEM RESET %s", name);
	else
	{
		char	   *literal = PQescapeLiteral(conn, value, strlen(value));

		if (literal == NULL)
			pgsync_fail(ps, conn, "%s", PQerrorMessage(conn));
		sql = psprintf("ALTER SYSTEM SET %s = %s", name, literal);
		PQfreemem(literal);
	}
	res = pgsync_exec(ps, conn, "SELECT pg_catalog.pg_conf_load_time()", 0, NULL);
	loaded = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	PQclear(pgsync_exec(ps, conn, sql, 0, NULL));
	pfree(sql);
	PQclear(pgsync_exec(ps, conn, "SELECT pg_catalog.pg_reload_conf()", 0, NULL));

	/*
	 * This backend rereads the configuration between two statements,
	 * whenever the postmaster's signal reaches it: ask until its
	 * pg_conf_load_time() moves (a few seconds at most), then read what the
	 * setting came to (a setting of context postmaster: pending_restart).
	 */
	for (int i = 0; i < 50; i++)
	{
		res = pgsync_exec(ps, conn, "SELECT pg_catalog.pg_conf_load_time() > $1::timestamptz", 1,
						  (const char *const[]) {loaded});
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			break;
		PQclear(res);
		res = NULL;
		pgsync_sleep_ms(100);
	}
	if (res == NULL)
		pg_log_warning("the server has not reloaded its configuration yet: what follows is the value before");
	else
		PQclear(res);
	pg_free(loaded);
	res = pgsync_exec(ps, conn, SETTINGS_SQL, 1, (const char *const[]) {name});
	if (PQntuples(res) != 1)
		pgsync_fail(ps, conn, "setting \"%s\" is gone", name);
	if (ps->json)
	{
		pgsync_print_json_rows(stdout, res);
	}
	else if (!ps->quiet)
	{
		if (postmaster && restart_needed(conn, name, res))
			printf("%s %s in postgresql.auto.conf; it is %s until the server restarts "
				   "(context postmaster: a restart is needed)\n",
				   name, reset ? "reset" : "set", old);
		else if (postmaster)
			printf("%s %s in postgresql.auto.conf; it is %s already (no restart needed)\n",
				   name, reset ? "reset" : "set", old);
		else
			printf("%s = %s%s%s (was %s), reloaded\n", name, PQgetvalue(res, 0, C_SETTING),
				   *PQgetvalue(res, 0, C_UNIT) ? " " : "", PQgetvalue(res, 0, C_UNIT), old);
	}
	PQclear(res);
	pg_free(old);
	return PGSYNC_EXIT_OK;
}

int
pgsync_cmd_config(PgSync *ps, int argc, char **argv)
{
	ConfigOptions o = {0};
	int			first = pgsync_getopt(ps, argc, argv, "", config_long, config_option, &o);
	int			nargs = argc - first;
	PGconn	   *conn;
	PGresult   *res;
	int			status = PGSYNC_EXIT_OK;

	if (ps->help)
	{
		config_usage(ps->progname);
		return PGSYNC_EXIT_OK;
	}
	if (nargs > 2)
		pgsync_usage_error(ps, "config", "config takes at most NAME and VALUE");
	if (o.reset && nargs != 1)
		pgsync_usage_error(ps, "config", "--reset takes NAME and no VALUE");
	conn = pgsync_connect(ps);
	res = pgsync_exec(ps, conn, SETTINGS_SQL, 1, (const char *const[]) {nargs > 0 ? argv[first] : NULL});
	if (nargs > 0 && PQntuples(res) != 1)
		pgsync_fail(ps, conn, "unrecognized setting \"%s\" (pg_sync config lists them)", argv[first]);
	if (nargs == 2 || o.reset)
		status = set_setting(ps, conn, res, nargs == 2 ? argv[first + 1] : NULL, o.reset);
	else if (ps->json)
		pgsync_print_json_rows(stdout, res);
	else if (ps->quiet)
		;
	else if (nargs == 1)
		describe(conn, res);
	else
	{
		/*
		 * The columns that fit 100 columns (units with their values, the
		 * file without its directory); `config NAME` describes one in full.
		 */
		PGresult   *narrow = pgsync_exec(ps, conn,
										 "SELECT name, setting || coalesce(' ' || unit, '') AS value, "
										 "       boot_val || CASE WHEN boot_val <> '' THEN coalesce(' ' || unit, '') ELSE '' END AS \"default\", "
										 "       CASE WHEN sourcefile IS NOT NULL "
										 "            THEN regexp_replace(sourcefile, '^.*/', '') || ':' || sourceline "
										 "            ELSE source END AS \"set in\", "
										 "       context "
										 "  FROM pg_catalog.pg_settings WHERE name LIKE 'sync.%' ORDER BY name",
										 0, NULL);

		pgsync_print_table(ps, stdout, narrow);
		PQclear(narrow);
	}
	PQclear(res);
	PQfinish(conn);
	return status;
}
