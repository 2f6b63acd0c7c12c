/*-------------------------------------------------------------------------
 * progress.c
 *	  Progress bars, rates, durations, a screen redrawn in place, and
 *	  waits that Ctrl-C ends (see progress.h).
 *
 * Redrawing moves the cursor up over the previous frame and rewrites it
 * line by line (each line cleared to its end, the rest of the screen
 * below cleared after the last), so a frame takes the same screen lines
 * every time and nothing scrolls.  That needs the number of terminal rows
 * the last frame took: lines are counted by their visible width (escape
 * sequences take none) against the terminal's width, as a long line wraps.
 * Off a terminal nothing moves: each frame is printed after the last.
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

volatile sig_atomic_t pgsync_interrupted = 0;

/* the cursor is shown again however the program ends */
static bool cursor_hidden_at_exit = false;

static void
on_sigint(SIGNAL_ARGS)
{
	pgsync_interrupted = 1;
}

static void
show_cursor_at_exit(void)
{
	if (cursor_hidden_at_exit)
	{
		fputs("\033[?25h", stdout);
		fflush(stdout);
	}
}

/*
 * Ctrl-C sets pgsync_interrupted instead of killing the program, so a
 * watch can restore the terminal and a wait can say what goes on.  No
 * SA_RESTART: a sleep or poll under way returns at once.
 */
void
pgsync_catch_interrupt(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Sleep ms milliseconds; false when Ctrl-C came first. */
bool
pgsync_sleep_ms(int ms)
{
	double		until = pgsync_now() + ms / 1000.0;

	while (!pgsync_interrupted)
	{
		double		left = until - pgsync_now();

		if (left <= 0)
			return true;
		(void) poll(NULL, 0, (int) (left * 1000) + 1);
	}
	return false;
}

/*
 * Wait until sock is readable or timeout_ms passes: 1 readable, 0 timed
 * out, -1 interrupted (Ctrl-C) or the wait failed.
 */
int
pgsync_wait_socket(int sock, int timeout_ms)
{
	struct pollfd pfd;
	int			rc;

	if (pgsync_interrupted)
		return -1;
	pfd.fd = sock;
	pfd.events = POLLIN;
	pfd.revents = 0;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return -1;
	return rc > 0 ? 1 : 0;
}

/* seconds since the epoch, with the fraction */
double
pgsync_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* [########............] of width characters in all */
void
pgsync_progress_bar(PQExpBuffer buf, double fraction, int width)
{
	int			inner = width - 2;
	int			done;

	if (fraction != fraction || fraction < 0)	/* NaN too */
		fraction = 0;
	if (fraction > 1)
		fraction = 1;
	done = (int) (fraction * inner + 0.5);
	appendPQExpBufferChar(buf, '[');
	for (int i = 0; i < inner; i++)
		appendPQExpBufferChar(buf, i < done ? '#' : '.');
	appendPQExpBufferChar(buf, ']');
}

/*
 * "[##########......]  62.5%  1.2k/s ETA 1m05s" padded to
 * PGSYNC_PROGRESS_CELL columns: rate and eta are left out when negative
 * (not known yet).
 */
void
pgsync_progress_cell(PQExpBuffer buf, double fraction, double rate, double eta)
{
	size_t		start = buf->len;

	pgsync_progress_bar(buf, fraction, 16);
	appendPQExpBuffer(buf, " %5.1f%%", (fraction > 1 ? 1 : fraction < 0 ? 0 : fraction) * 100);
	if (rate >= 0)
	{
		appendPQExpBufferChar(buf, ' ');
		pgsync_format_rate(buf, rate);
	}
	if (eta >= 0)
	{
		appendPQExpBufferStr(buf, " ETA ");
		pgsync_format_duration(buf, eta);
	}
	while (buf->len - start < PGSYNC_PROGRESS_CELL)
		appendPQExpBufferChar(buf, ' ');
}

/* 850/s, 12.3k/s, 4.1M/s */
void
pgsync_format_rate(PQExpBuffer buf, double per_second)
{
	if (per_second < 1000)
		appendPQExpBuffer(buf, "%.0f/s", per_second);
	else if (per_second < 1e6)
		appendPQExpBuffer(buf, "%.1fk/s", per_second / 1e3);
	else
		appendPQExpBuffer(buf, "%.1fM/s", per_second / 1e6);
}

/* 45s, 3m05s, 2h10m, 3d04h */
void
pgsync_format_duration(PQExpBuffer buf, double seconds)
{
	long		s = seconds < 0 ? 0 : (long) (seconds + 0.5);

	if (seconds < 10 && seconds >= 0 && seconds != (long) seconds)
		appendPQExpBuffer(buf, "%.1fs", seconds);
	else if (s < 60)
		appendPQExpBuffer(buf, "%lds", s);
	else if (s < 3600)
		appendPQExpBuffer(buf, "%ldm%02lds", s / 60, s % 60);
	else if (s < 86400)
		appendPQExpBuffer(buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
	else
		appendPQExpBuffer(buf, "%ldd%02ldh", s / 86400, (s % 86400) / 3600);
}

/*
 * s cut to width display columns, an ellipsis marking the cut; control
 * characters (an error text may hold a newline) become spaces so a line
 * stays one line.
 */
void
pgsync_append_fit(PQExpBuffer buf, const char *s, int width)
{
	int			cols = 0;
	const unsigned char *p;

	for (p = (const unsigned char *) s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			cols++;
	if (cols <= width)
		width = cols + 1;		/* fits: no ellipsis */
	cols = 0;
	for (p = (const unsigned char *) s; *p; p++)
	{
		bool		lead = (*p & 0xC0) != 0x80;

		if (lead && cols == width - 1)
		{
			appendPQExpBufferStr(buf, "\xE2\x80\xA6");	/* … */
			break;
		}
		if (lead)
			cols++;
		appendPQExpBufferChar(buf, *p < 0x20 || *p == 0x7F ? ' ' : (char) *p);
	}
}

int
pgsync_terminal_columns(void)
{
	struct winsize ws;

	if (ioctl(fileno(stdout), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 100;
}

static int
terminal_rows(void)
{
	struct winsize ws;

	if (ioctl(fileno(stdout), TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 24;
}

void
pgsync_screen_start(PgSyncScreen *screen, const PgSync *ps)
{
	screen->tty = ps->tty;
	screen->rows = 0;
	screen->cursor_hidden = false;
	if (screen->tty)
	{
		fputs("\033[?25l", stdout);
		screen->cursor_hidden = cursor_hidden_at_exit = true;
		atexit(show_cursor_at_exit);
	}
}

/* the terminal rows a line of this visible text takes */
static int
line_rows(const char *line, size_t len, int columns)
{
	int			cols = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) line[i];

		if (c == '\033')
		{
			/* CSI: ESC [ parameters final byte (0x40-0x7E) */
			if (i + 1 < len && line[i + 1] == '[')
				for (i += 2; i < len && !(line[i] >= 0x40 && line[i] <= 0x7E); i++)
					;
			continue;
		}
		if ((c & 0xC0) != 0x80)
			cols++;
	}
	return cols == 0 ? 1 : (cols + columns - 1) / columns;
}

/*
 * Print a frame (lines ending in '\n') over the last one.  A frame taller
 * than the terminal is cut (with a line saying how much): the cursor
 * cannot move up past the top, so the rest would scroll away and every
 * redraw would then add to the scrollback.
 */
void
pgsync_screen_frame(PgSyncScreen *screen, const char *text)
{
	int			columns = pgsync_terminal_columns();
	int			max_rows = terminal_rows() - 1;
	int			rows = 0;
	const char *line = text;

	if (!screen->tty)
	{
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		return;
	}
	if (screen->rows > 0)
		printf("\033[%dA\r", screen->rows);
	while (*line)
	{
		const char *nl = strchr(line, '\n');
		size_t		len = nl ? (size_t) (nl - line) : strlen(line);
		int			need = line_rows(line, len, columns);

		if (rows + need > max_rows - 1 && *(line + len + (nl ? 1 : 0)) != '\0')
		{
			int			more = 0;

			for (const char *p = line; *p; p++)
				more += *p == '\n';
			printf("... %d more line%s: the terminal is too short (--source narrows)\033[K\n",
				   more, more == 1 ? "" : "s");
			rows++;
			break;
		}
		fwrite(line, 1, len, stdout);
		fputs("\033[K\n", stdout);
		rows += need;
		line += len + (nl ? 1 : 0);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
	screen->rows = rows;
}

void
pgsync_screen_end(PgSyncScreen *screen)
{
	if (screen->cursor_hidden)
	{
		fputs("\033[?25h", stdout);
		fflush(stdout);
		screen->cursor_hidden = cursor_hidden_at_exit = false;
	}
}

/*
 * The items as a text[] literal, for one query parameter ($1::text[]):
 * every element double-quoted, '"' and '\' escaped, so any symbol is
 * taken as written.
 */
char *
pgsync_text_array(int n, char **items)
{
	PQExpBufferData buf;

	initPQExpBuffer(&buf);
	appendPQExpBufferChar(&buf, '{');
	for (int i = 0; i < n; i++)
	{
		if (i)
			appendPQExpBufferChar(&buf, ',');
		appendPQExpBufferChar(&buf, '"');
		for (const char *p = items[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				appendPQExpBufferChar(&buf, '\\');
			appendPQExpBufferChar(&buf, *p);
		}
		appendPQExpBufferChar(&buf, '"');
	}
	appendPQExpBufferChar(&buf, '}');
	return buf.data;
}
