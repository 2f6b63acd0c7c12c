/*-------------------------------------------------------------------------
 * options.c
 *	  The command line: the options every command takes (connection,
 *	  output) merged with a command's own, and the message for a wrong one.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"

#include "pg_sync.h"

#define OPT_JSON		1001
#define OPT_NO_COLOR	1002

static const char common_short[] = "h:p:U:d:wWq";
static const struct option common_long[] = {
	{"host", required_argument, NULL, 'h'},
	{"port", required_argument, NULL, 'p'},
	{"username", required_argument, NULL, 'U'},
	{"dbname", required_argument, NULL, 'd'},
	{"no-password", no_argument, NULL, 'w'},
	{"password", no_argument, NULL, 'W'},
	{"quiet", no_argument, NULL, 'q'},
	{"json", no_argument, NULL, OPT_JSON},
	{"no-color", no_argument, NULL, OPT_NO_COLOR},
	{"help", no_argument, NULL, '?'},
};

static bool
common_option(PgSync *ps, int c, const char *value)
{
	switch (c)
	{
		case 'h':
			ps->host = value;
			return true;
		case 'p':
			ps->port = value;
			return true;
		case 'U':
			ps->user = value;
			return true;
		case 'd':
			ps->dbname = value;
			return true;
		case 'w':
			ps->prompt = PROMPT_NEVER;
			return true;
		case 'W':
			ps->prompt = PROMPT_ALWAYS;
			return true;
		case 'q':
			ps->quiet = true;
			return true;
		case OPT_JSON:
			ps->json = true;
			return true;
		case OPT_NO_COLOR:
			ps->color = false;
			return true;
	}
	return false;
}

/*
 * Parse argv (argv[0] the program or the command's name) with the common
 * options and the command's own (shortopts may start with '+' to stop at
 * the first word that is not an option).  Returns the index of the first
 * argument that is not an option; getopt moves the others behind them.
 * A wrong option exits with PGSYNC_EXIT_USAGE.
 */
int
pgsync_getopt(PgSync *ps, int argc, char **argv, const char *shortopts,
			  const struct option *longopts, PgSyncOptionFn on_option, void *arg)
{
	const char *command = on_option ? argv[0] : NULL;
	int			nown = 0;
	struct option *all;
	char	   *shorts;
	bool		stop_first = shortopts && shortopts[0] == '+';
	int			c;

	while (longopts && longopts[nown].name)
		nown++;
	all = pg_malloc0(sizeof(struct option) * (lengthof(common_long) + nown + 1));
	memcpy(all, common_long, sizeof(common_long));
	if (nown > 0)
		memcpy(all + lengthof(common_long), longopts, sizeof(struct option) * nown);
	/* -? is help, as for PostgreSQL's programs; getopt says '?' for a wrong one too */
	shorts = psprintf("%s%s%s", stop_first ? "+" : "", common_short,
					  shortopts ? shortopts + (stop_first ? 1 : 0) : "");

	optind = 0;					/* glibc: start afresh (a command parses after main did) */
	while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1)
	{
		if (c == '?')
		{
			if (strcmp(argv[optind - 1], "-?") == 0 || strcmp(argv[optind - 1], "--help") == 0)
			{
				ps->help = true;
				continue;
			}
			/* getopt said what was wrong */
			pg_log_error_hint("Try \"%s%s%s --help\" for more information.",
							  ps->progname, command ? " " : "", command ? command : "");
			exit(PGSYNC_EXIT_USAGE);
		}
		if (common_option(ps, c, optarg))
			continue;
		if (on_option == NULL || !on_option(ps, arg, c, optarg))
		{
			pg_log_error_hint("Try \"%s%s%s --help\" for more information.",
							  ps->progname, command ? " " : "", command ? command : "");
			exit(PGSYNC_EXIT_USAGE);
		}
	}
	pfree(shorts);
	pg_free(all);
	return optind;
}

void
pgsync_usage_error(const PgSync *ps, const char *command, const char *fmt,...)
{
	va_list		ap;
	char		msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pg_log_error("%s", msg);
	pg_log_error_hint("Try \"%s%s%s --help\" for more information.",
					  ps->progname, command ? " " : "", command ? command : "");
	exit(PGSYNC_EXIT_USAGE);
}

void
pgsync_print_connection_help(void)
{
	printf("\nConnection options (or a connection string as the database name; PG* variables apply):\n");
	printf("  -h, --host=HOSTNAME      database server host or socket directory\n");
	printf("  -p, --port=PORT          database server port\n");
	printf("  -U, --username=USERNAME  database user name\n");
	printf("  -d, --dbname=DBNAME      database name or connection string\n");
	printf("  -w, --no-password        never prompt for password\n");
	printf("  -W, --password           force password prompt\n");
}
