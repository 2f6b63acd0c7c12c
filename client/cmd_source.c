/*-------------------------------------------------------------------------
 * cmd_source.c
 *	  pg_sync source add|list|drop: sync_add_source(), the sources as
 *	  sync.sources holds them, sync_drop_source().
 *
 * Credentials never come from the command line, where `ps` and the shell's
 * history show them: they are read from a file that only its owner may
 * read (as libpq refuses a .pgpass or a key others can read), or typed at
 * a prompt without echo.  They go to the server as a parameter, and are
 * wiped from memory once sent.  `source list` reads sync.sources, which
 * holds no secret (they are in sync.source_secrets, readable by no role
 * but the extension owner).
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/logging.h"
#include "common/string.h"

#include "pg_sync.h"

#define OPT_BASE_URL		2101
#define OPT_STREAM_URL		2102
#define OPT_OPTIONS			2103
#define OPT_CRED_FILE		2104
#define OPT_CRED_PROMPT		2105

/* a credentials file is a small JSON object; anything larger is not one */
#define MAX_CREDENTIALS_FILE	65536

typedef struct SourceOptions
{
	const char *base_url;
	const char *stream_url;
	const char *options;
	const char *cred_file;
	bool		cred_prompt;
} SourceOptions;

static const struct option source_long[] = {
	{"base-url", required_argument, NULL, OPT_BASE_URL},
	{"stream-url", required_argument, NULL, OPT_STREAM_URL},
	{"options", required_argument, NULL, OPT_OPTIONS},
	{"credentials-file", required_argument, NULL, OPT_CRED_FILE},
	{"credentials-prompt", no_argument, NULL, OPT_CRED_PROMPT},
	{NULL, 0, NULL, 0}
};

static bool
source_option(PgSync *ps, void *arg, int c, const char *value)
{
	SourceOptions *o = (SourceOptions *) arg;

	switch (c)
	{
		case OPT_BASE_URL:
			o->base_url = value;
			return true;
		case OPT_STREAM_URL:
			o->stream_url = value;
			return true;
		case OPT_OPTIONS:
			o->options = value;
			return true;
		case OPT_CRED_FILE:
			o->cred_file = value;
			return true;
		case OPT_CRED_PROMPT:
			o->cred_prompt = true;
			return true;
	}
	return false;
}

static void
source_usage(const char *progname)
{
	printf("%s source adds, lists and drops the providers sync pulls data from.\n\n", progname);
	printf("Usage:\n");
	printf("  %s source add NAME PROVIDER [OPTION]...\n", progname);
	printf("  %s source list\n", progname);
	printf("  %s source drop NAME\n\n", progname);
	printf("PROVIDER is binance, alpaca, polygon, coinbase or csv.\n\n");
	printf("Options of add (sync_add_source()):\n");
	printf("  --base-url=URL           REST root (default: the provider's public one)\n");
	printf("  --stream-url=URL         stream endpoint (default: the provider's public one)\n");
	printf("  --options=JSON           e.g. '{\"page_size\": 1000, \"requests_per_minute\": 1200}'\n");
	printf("  --credentials-file=FILE  read {\"key_id\": ..., \"secret\": ...} from FILE, which only\n");
	printf("                           its owner may read (mode 0600 or stricter)\n");
	printf("  --credentials-prompt     ask for the key id and the secret (not echoed)\n");
	printf("Credentials are never taken from the command line, where ps shows them.\n");
	printf("\nOptions of list:\n");
	printf("  --json                   the sources as a JSON array (no credentials: never shown)\n");
	pgsync_print_connection_help();
	printf("\nExit status: 0 done, 1 refused (the server's message), 2 no server, 3 wrong usage.\n");
}

/*
 * The credentials file's text, refused when anyone but its owner may read
 * or write it (the check libpq makes of a .pgpass file), when it is not a
 * regular file, or when it is too large to be credentials.
 */
static char *
read_credentials_file(const char *path)
{
	int			fd = open(path, O_RDONLY | O_NOCTTY);
	struct stat st;
	char	   *text;
	ssize_t		got = 0;

	if (fd < 0)
	{
		pg_log_error("could not open credentials file \"%s\": %m", path);
		exit(PGSYNC_EXIT_FAILED);
	}
	/* fstat of the open file: no window for it to be swapped after a check */
	if (fstat(fd, &st) != 0)
	{
		pg_log_error("could not stat credentials file \"%s\": %m", path);
		exit(PGSYNC_EXIT_FAILED);
	}
	if (!S_ISREG(st.st_mode))
	{
		pg_log_error("credentials file \"%s\" is not a plain file", path);
		exit(PGSYNC_EXIT_FAILED);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
	{
		pg_log_error("credentials file \"%s\" has group or world access; permissions should be u=rw (0600) or less",
					 path);
		pg_log_error_hint("Run chmod 0600 \"%s\".", path);
		exit(PGSYNC_EXIT_FAILED);
	}
	if (st.st_size > MAX_CREDENTIALS_FILE)
	{
		pg_log_error("credentials file \"%s\" is larger than %d bytes", path, MAX_CREDENTIALS_FILE);
		exit(PGSYNC_EXIT_FAILED);
	}
	text = pg_malloc(MAX_CREDENTIALS_FILE + 1);
	while (got < MAX_CREDENTIALS_FILE)
	{
		ssize_t		n = read(fd, text + got, MAX_CREDENTIALS_FILE - got);

		if (n < 0)
		{
			pg_log_error("could not read credentials file \"%s\": %m", path);
			exit(PGSYNC_EXIT_FAILED);
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	text[got] = '\0';
	if (strlen(text) != (size_t) got)
	{
		pg_log_error("credentials file \"%s\" holds a zero byte", path);
		exit(PGSYNC_EXIT_FAILED);
	}
	return text;
}

static void
wipe(char *s)
{
	if (s)
	{
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int
source_add(PgSync *ps, SourceOptions *o, int nargs, char **args)
{
	PGconn	   *conn;
	PGresult   *res;
	char	   *cred_json = NULL;
	char	   *key_id = NULL;
	char	   *secret = NULL;
	const char *params[7];

	if (nargs != 2)
		pgsync_usage_error(ps, "source", "source add takes NAME and PROVIDER");
	if (o->cred_file && o->cred_prompt)
		pgsync_usage_error(ps, "source", "--credentials-file and --credentials-prompt exclude each other");
	if (o->cred_file)
		cred_json = read_credentials_file(o->cred_file);
	conn = pgsync_connect(ps);
	if (o->cred_prompt)
	{
		key_id = simple_prompt("Key id (empty for none): ", false);
		secret = simple_prompt("Secret: ", false);
	}
	params[0] = args[0];
	params[1] = args[1];
	params[2] = o->base_url;
	params[3] = o->stream_url;
	params[4] = cred_json;
	params[5] = key_id && *key_id ? key_id : NULL;
	params[6] = secret && *secret ? secret : NULL;

	/*
	 * A prompt's answers become the JSON object on the server (no quoting
	 * by hand); NULL credentials when neither was given.
	 */
	res = PQexecParams(conn,
					   "SELECT sync_add_source($1, $2, $3, $4, "
					   "  coalesce($5::jsonb, nullif(jsonb_strip_nulls(jsonb_build_object('key_id', $6::text, 'secret', $7::text)), '{}')), "
					   "  coalesce($8::jsonb, '{}'))",
					   8, NULL, (const char *const[]) {params[0], params[1], params[2], params[3], params[4],
					   params[5], params[6], o->options}, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
		bool		secret_given = cred_json || params[5] || params[6];
		int			status = PQstatus(conn) == CONNECTION_BAD ? PGSYNC_EXIT_DOWN : PGSYNC_EXIT_FAILED;

		/*
		 * The detail of a JSON error quotes the text it choked on, which
		 * may be the secret: with credentials, say only what was wrong.
		 */
		pg_log_error("%s", msg ? msg : PQerrorMessage(conn));
		if (detail && !secret_given)
			pg_log_error_detail("%s", detail);
		else if (secret_given && msg && strstr(msg, "json"))
			pg_log_error_hint("The credentials must be a JSON object: {\"key_id\": \"...\", \"secret\": \"...\"}.");
		if (hint)
			pg_log_error_hint("%s", hint);
		wipe(cred_json);
		wipe(key_id);
		wipe(secret);
		PQclear(res);
		PQfinish(conn);
		exit(status);
	}
	if (!ps->quiet)
		printf("source \"%s\" added (id %s)%s\n", args[0], PQgetvalue(res, 0, 0),
			   cred_json || params[5] || params[6] ? ", with credentials" : "");
	PQclear(res);
	wipe(cred_json);
	wipe(key_id);
	wipe(secret);
	PQfinish(conn);
	return PGSYNC_EXIT_OK;
}

static int
source_list(PgSync *ps, int nargs)
{
	PGconn	   *conn;
	PGresult   *res;

	if (nargs != 0)
		pgsync_usage_error(ps, "source", "source list takes no argument");
	conn = pgsync_connect(ps);
	/* sync.sources has no secret; the listed columns are named anyway */
	res = pgsync_exec(ps, conn,
					  "SELECT name, provider, base_url, stream_url, options, created_at "
					  "FROM sync.sources ORDER BY name", 0, NULL);
	if (ps->json)
		pgsync_print_json_rows(stdout, res);
	else if (!ps->quiet)
		pgsync_print_table(ps, stdout, res);
	PQclear(res);
	PQfinish(conn);
	return PGSYNC_EXIT_OK;
}

static int
source_drop(PgSync *ps, int nargs, char **args)
{
	PGconn	   *conn;
	PGresult   *res;

	if (nargs != 1)
		pgsync_usage_error(ps, "source", "source drop takes NAME");
	conn = pgsync_connect(ps);
	res = pgsync_exec(ps, conn, "SELECT sync_drop_source($1)", 1, (const char *const[]) {args[0]});
	if (!ps->quiet)
		printf("source \"%s\" dropped (its stored data stays)\n", args[0]);
	PQclear(res);
	PQfinish(conn);
	return PGSYNC_EXIT_OK;
}

int
pgsync_cmd_source(PgSync *ps, int argc, char **argv)
{
	SourceOptions o = {0};
	int			first = pgsync_getopt(ps, argc, argv, "", source_long, source_option, &o);
	const char *sub;

	if (ps->help)
	{
		source_usage(ps->progname);
		return PGSYNC_EXIT_OK;
	}
	if (first >= argc)
		pgsync_usage_error(ps, "source", "say add, list or drop");
	sub = argv[first];
	if (strcmp(sub, "add") != 0 &&
		(o.base_url || o.stream_url || o.options || o.cred_file || o.cred_prompt))
		pgsync_usage_error(ps, "source", "those options are for source add");
	if (strcmp(sub, "add") == 0)
		return source_add(ps, &o, argc - first - 1, argv + first + 1);
	if (strcmp(sub, "list") == 0)
		return source_list(ps, argc - first - 1);
	if (strcmp(sub, "drop") == 0)
		return source_drop(ps, argc - first - 1, argv + first + 1);
	pgsync_usage_error(ps, "source", "unknown subcommand \"%s\": say add, list or drop", sub);
}
