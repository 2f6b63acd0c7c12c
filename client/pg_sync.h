/*-------------------------------------------------------------------------
 * pg_sync.h
 *	  What the parts of pg_sync share: the invocation's settings (how to
 *	  connect, how to print), the exit statuses, and each command's entry.
 *
 * pg_sync is a client: everything it does goes through sync's SQL API
 * (docs/API.md) over libpq, so it needs no more privilege than the role
 * it connects as.  One file per command (cmd_*.c); what several share is
 * in options.c (arguments), connect.c (the connection and queries) and
 * output.c (tables, JSON, colour, progress bars).
 *-------------------------------------------------------------------------
 */
#ifndef PG_SYNC_H
#define PG_SYNC_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "libpq-fe.h"

/*
 * Exit statuses, as pg_isready's: 0 fine; 1 the command ran but what it
 * reports or asked for is not fine (health degraded, a run failed, an SQL
 * error); 2 down, or no server to ask; 3 the command line was wrong.
 */
#define PGSYNC_EXIT_OK			0
#define PGSYNC_EXIT_FAILED		1
#define PGSYNC_EXIT_DOWN		2
#define PGSYNC_EXIT_USAGE		3

/* -w / -W, as psql's */
typedef enum PgSyncPrompt
{
	PROMPT_DEFAULT,				/* ask when the server wants a password */
	PROMPT_NEVER,
	PROMPT_ALWAYS
} PgSyncPrompt;

typedef struct PgSync
{
	const char *progname;
	const char *argv0;			/* how the program was started (for its share directory) */
	/* connection: NULL means libpq's default (PG* variables, then built-ins) */
	const char *host;
	const char *port;
	const char *user;
	const char *dbname;			/* a name or a connection string */
	PgSyncPrompt prompt;
	/* output */
	bool		json;			/* --json: one JSON document on stdout */
	bool		tty;			/* stdout is a terminal: redraws allowed */
	bool		color;			/* ... and colour (not with NO_COLOR or --no-color) */
	bool		quiet;
	bool		help;			/* --help or -? was given */
} PgSync;

/* options.c */

/*
 * A command's option callback: true when it took the option, false for
 * a bad value (the callback says why on stderr).
 */
typedef bool (*PgSyncOptionFn) (PgSync *ps, void *arg, int c, const char *value);

extern int	pgsync_getopt(PgSync *ps, int argc, char **argv, const char *shortopts,
						  const struct option *longopts, PgSyncOptionFn on_option, void *arg);
extern void pgsync_usage_error(const PgSync *ps, const char *command, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();
extern void pgsync_print_connection_help(void);

/* connect.c */
extern PGconn *pgsync_connect(PgSync *ps);
extern PGresult *pgsync_exec(PgSync *ps, PGconn *conn, const char *sql, int nparams,
							 const char *const *params);
extern void pgsync_fail(PgSync *ps, PGconn *conn, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();

/* output.c */
extern void pgsync_json_string(FILE *out, const char *s);
extern void pgsync_print_json_rows(FILE *out, const PGresult *res);
extern void pgsync_print_table(PgSync *ps, FILE *out, const PGresult *res);
extern const char *pgsync_color(const PgSync *ps, const char *status);
extern const char *pgsync_color_end(const PgSync *ps);

/* the commands: each gets argv from its own name on; returns the exit status */
typedef int (*PgSyncCommandFn) (PgSync *ps, int argc, char **argv);

extern int	pgsync_cmd_status(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_health(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_backfill(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_source(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_subscribe(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_unsubscribe(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_start(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_stop(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_tail(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_export(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_config(PgSync *ps, int argc, char **argv);
extern int	pgsync_cmd_serve(PgSync *ps, int argc, char **argv);

#endif							/* PG_SYNC_H */
