/*-------------------------------------------------------------------------
 * output.c
 *	  What pg_sync prints: aligned tables for people, JSON for scripts
 *	  (--json), and colour only on a terminal.
 *
 * JSON values keep the database's text: a numeric stays the exact digits
 * the provider sent (a JSON number with all of them), a timestamp is its
 * ISO 8601 text.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "pg_sync.h"

/* type OIDs (catalog/pg_type_d.h is the server's; these never change) */
#define BOOLOID			16
#define INT8OID			20
#define INT2OID			21
#define INT4OID			23
#define OIDOID			26
#define JSONOID			114
#define FLOAT4OID		700
#define FLOAT8OID		701
#define NUMERICOID		1700
#define JSONBOID		3802

void
pgsync_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		switch (*p)
		{
			case '"':
				fputs("\\\"", out);
				break;
			case '\\':
				fputs("\\\\", out);
				break;
			case '\n':
				fputs("\\n", out);
				break;
			case '\r':
				fputs("\\r", out);
				break;
			case '\t':
				fputs("\\t", out);
				break;
			default:
				if (*p < 0x20)
					fprintf(out, "\\u%04x", *p);
				else
					fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void
json_value(FILE *out, const PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);

	if (PQgetisnull(res, row, col))
	{
		fputs("null", out);
		return;
	}
	switch (PQftype(res, col))
	{
		case BOOLOID:
			fputs(v[0] == 't' ? "true" : "false", out);
			return;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case JSONOID:
		case JSONBOID:
			fputs(v, out);
			return;
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			/* NaN and infinities have no JSON number */
			if (strspn(v, "0123456789.-+eE") == strlen(v))
				fputs(v, out);
			else
				pgsync_json_string(out, v);
			return;
	}
	pgsync_json_string(out, v);
}

/* The rows as a JSON array of objects named by the columns. */
void
pgsync_print_json_rows(FILE *out, const PGresult *res)
{
	int			nrows = PQntuples(res);
	int			ncols = PQnfields(res);

	fputc('[', out);
	for (int r = 0; r < nrows; r++)
	{
		fputs(r ? ",\n {" : "{", out);
		for (int c = 0; c < ncols; c++)
		{
			if (c)
				fputs(", ", out);
			pgsync_json_string(out, PQfname(res, c));
			fputs(": ", out);
			json_value(out, res, r, c);
		}
		fputc('}', out);
	}
	fputs("]\n", out);
}

/* display width of UTF-8 text: code points (market data text is narrow) */
static int
text_width(const char *s)
{
	int			w = 0;

	for (; *s; s++)
		if ((*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* The rows as an aligned table with a header, as psql prints them. */
void
pgsync_print_table(PgSync *ps, FILE *out, const PGresult *res)
{
	int			nrows = PQntuples(res);
	int			ncols = PQnfields(res);
	int		   *width = pg_malloc0(sizeof(int) * Max(ncols, 1));

	for (int c = 0; c < ncols; c++)
	{
		width[c] = text_width(PQfname(res, c));
		for (int r = 0; r < nrows; r++)
			width[c] = Max(width[c], text_width(PQgetvalue(res, r, c)));
	}
	for (int c = 0; c < ncols; c++)
		fprintf(out, "%s%-*s", c ? " | " : " ", c < ncols - 1 ? width[c] : 0, PQfname(res, c));
	fputc('\n', out);
	for (int c = 0; c < ncols; c++)
	{
		fputs(c ? "-+-" : "-", out);
		for (int i = 0; i < width[c]; i++)
			fputc('-', out);
	}
	fputs("-\n", out);
	for (int r = 0; r < nrows; r++)
	{
		for (int c = 0; c < ncols; c++)
		{
			const char *v = PQgetvalue(res, r, c);
			const char *color = pgsync_color(ps, v);
			int			pad = width[c] - text_width(v);

			fputs(c ? " | " : " ", out);
			fputs(color, out);
			fputs(v, out);
			if (*color)
				fputs(pgsync_color_end(ps), out);
			if (c < ncols - 1)
				fprintf(out, "%*s", pad, "");
		}
		fputc('\n', out);
	}
	fprintf(out, "(%d row%s)\n", nrows, nrows == 1 ? "" : "s");
	pg_free(width);
}

/*
 * The colour of a status word (health, phase), "" when not on a terminal
 * or for any other text.
 */
const char *
pgsync_color(const PgSync *ps, const char *status)
{
	if (!ps->color)
		return "";
	if (strcmp(status, "ok") == 0 || strcmp(status, "realtime") == 0 || strcmp(status, "idle") == 0 ||
		strcmp(status, "done") == 0 || strcmp(status, "succeeded") == 0 || strcmp(status, "running") == 0)
		return "\033[32m";
	if (strcmp(status, "degraded") == 0 || strcmp(status, "retrying") == 0 ||
		strcmp(status, "queued") == 0 || strcmp(status, "pending") == 0)
		return "\033[33m";
	if (strcmp(status, "down") == 0 || strcmp(status, "error") == 0 || strcmp(status, "failed") == 0)
		return "\033[31m";
	return "";
}

const char *
pgsync_color_end(const PgSync *ps)
{
	return ps->color ? "\033[0m" : "";
}
