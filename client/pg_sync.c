/*-------------------------------------------------------------------------
 * pg_sync.c
 *	  pg_sync's entry: the options before the command, --help, --version,
 *	  and the table of commands.
 *
 *	  pg_sync [OPTION]... COMMAND [ARG]...
 *
 * Connection and output options may come before the command or after it
 * (`pg_sync -d prod status` and `pg_sync status -d prod`), as users of
 * PostgreSQL's programs expect.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <unistd.h>

#include "common/logging.h"

#include "pg_sync.h"

typedef struct Command
{
	const char *name;
	PgSyncCommandFn run;
	const char *synopsis;
} Command;

static const Command commands[] = {
	{"status", pgsync_cmd_status, "each series: phase, backfill progress, lag, rows, rejects, last error"},
	{"health", pgsync_cmd_health, "the degraded or down components, one a line (exit 0 ok, 1 degraded, 2 down)"},
	{"backfill", pgsync_cmd_backfill, "one-off backfills of past ranges (sync_backfill()), --wait for them"},
	{"source", pgsync_cmd_source, "add, list or drop sources (providers)"},
	{"subscribe", pgsync_cmd_subscribe, "keep symbols in sync (sync_subscribe())"},
	{"unsubscribe", pgsync_cmd_unsubscribe, "stop keeping symbols in sync (sync_unsubscribe())"},
	{"start", pgsync_cmd_start, "start the workers in this database (sync_start())"},
	{"stop", pgsync_cmd_stop, "stop the workers gracefully (sync_stop())"},
	{"tail", pgsync_cmd_tail, "print new bars or trades as they land (LISTEN)"},
	{"export", pgsync_cmd_export, "bars of any interval as CSV or JSON, streamed (COPY)"},
	{"config", pgsync_cmd_config, "the sync.* settings; set one (ALTER SYSTEM and a reload)"},
	{"serve", pgsync_cmd_serve, "a read-only HTTP server: dashboard, /health, /metrics, JSON and live events"},
};

static void
usage(const char *progname)
{
	printf("%s runs and watches sync, market data kept in sync inside PostgreSQL.\n\n", progname);
	printf("Usage:\n  %s [OPTION]... COMMAND [ARG]...\n\n", progname);
	printf("Commands:\n");
	for (int i = 0; i < lengthof(commands); i++)
		printf("  %-12s %s\n", commands[i].name, commands[i].synopsis);
	printf("\n`%s COMMAND --help` shows a command's own options.\n", progname);
	printf("\nOptions:\n");
	printf("  --json                   print one JSON document instead of text\n");
	printf("  --no-color               no colour even on a terminal (so does NO_COLOR)\n");
	printf("  -q, --quiet              print nothing but errors\n");
	printf("  -V, --version            output version information, then exit\n");
	printf("  -?, --help               show this help, then exit\n");
	pgsync_print_connection_help();
	printf("\nExit status: 0 fine, 1 failed or degraded, 2 down or no server, 3 wrong usage.\n");
}

int
main(int argc, char **argv)
{
	PgSync		ps = {0};
	const char *name;
	int			first;

	pg_logging_init(argv[0]);
	ps.progname = get_progname(argv[0]);
	ps.argv0 = argv[0];
	ps.tty = isatty(fileno(stdout));
	ps.color = ps.tty && getenv("NO_COLOR") == NULL;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage(ps.progname);
		return PGSYNC_EXIT_OK;
	}
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		printf("%s (sync) %s\n", ps.progname, PGSYNC_VERSION);
		return PGSYNC_EXIT_OK;
	}

	/* the options before the command ("+": getopt stops at the command) */
	first = pgsync_getopt(&ps, argc, argv, "+", NULL, NULL, NULL);
	if (ps.help)
	{
		usage(ps.progname);
		return PGSYNC_EXIT_OK;
	}
	if (first >= argc)
		pgsync_usage_error(&ps, NULL, "no command given");
	name = argv[first];
	for (int i = 0; i < lengthof(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].run(&ps, argc - first, argv + first);
	pgsync_usage_error(&ps, NULL, "unknown command \"%s\"", name);
}
