/*-------------------------------------------------------------------------
 * connect.c
 *	  The connection to the database and the queries through it: libpq's
 *	  conventions (PG* variables, a connection string as the database
 *	  name, a password prompted for only when the server asks, never read
 *	  from the command line), and errors that end the program with the
 *	  right exit status.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"
#include "common/string.h"

#include "pg_sync.h"

/* no server: status 2; a server without sync in that database: status 1 */
PGconn *
pgsync_connect(PgSync *ps)
{
	const char *keywords[] = {"host", "port", "user", "dbname", "password",
	"fallback_application_name", NULL};
	const char *values[7];
	char	   *password = NULL;
	PGconn	   *conn;
	PGresult   *res;

	if (ps->prompt == PROMPT_ALWAYS)
		password = simple_prompt("Password: ", false);
	for (;;)
	{
		values[0] = ps->host;
		values[1] = ps->port;
		values[2] = ps->user;
		values[3] = ps->dbname;
		values[4] = password;
		values[5] = ps->progname;
		values[6] = NULL;
		/* expand_dbname: -d may be a connection string */
		conn = PQconnectdbParams(keywords, values, true);
		if (conn == NULL)
		{
			pg_log_error("out of memory");
			exit(PGSYNC_EXIT_DOWN);
		}
		if (PQstatus(conn) == CONNECTION_BAD && PQconnectionNeedsPassword(conn) &&
			password == NULL && ps->prompt != PROMPT_NEVER)
		{
			PQfinish(conn);
			password = simple_prompt("Password: ", false);
			continue;
		}
		break;
	}
	if (password)
	{
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		pg_log_error("%s", PQerrorMessage(conn));
		PQfinish(conn);
		exit(PGSYNC_EXIT_DOWN);
	}

	res = PQexec(conn, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'sync'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		pgsync_fail(ps, conn, "%s", PQresultErrorMessage(res));
	if (PQntuples(res) == 0)
	{
		pg_log_error("the sync extension is not installed in database \"%s\"", PQdb(conn));
		pg_log_error_hint("Run CREATE EXTENSION sync there, or name another database with -d.");
		PQclear(res);
		PQfinish(conn);
		exit(PGSYNC_EXIT_FAILED);
	}
	PQclear(res);
	return conn;
}

/*
 * Run sql with its parameters as text (never spliced into the statement);
 * an error ends the program with the server's message.
 */
PGresult *
pgsync_exec(PgSync *ps, PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
	{
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		int			status = PQstatus(conn) == CONNECTION_BAD ? PGSYNC_EXIT_DOWN : PGSYNC_EXIT_FAILED;

		pg_log_error("%s", msg ? msg : PQerrorMessage(conn));
		if (detail)
			pg_log_error_detail("%s", detail);
		if (hint)
			pg_log_error_hint("%s", hint);
		PQclear(res);
		PQfinish(conn);
		exit(status);
	}
	return res;
}

void
pgsync_fail(PgSync *ps, PGconn *conn, const char *fmt,...)
{
	va_list		ap;
	char		msg[2048];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pg_log_error("%s", msg);
	if (conn)
		PQfinish(conn);
	exit(PGSYNC_EXIT_FAILED);
}
