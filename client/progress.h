/*-------------------------------------------------------------------------
 * progress.h
 *	  What the commands that watch something share (status --watch,
 *	  backfill --wait, tail): progress bars, rates and times as people read
 *	  them, a screen redrawn in place on a terminal, and Ctrl-C ending a
 *	  wait cleanly.  Also the text[] literal several commands pass as one
 *	  parameter.
 *-------------------------------------------------------------------------
 */
#ifndef PGSYNC_PROGRESS_H
#define PGSYNC_PROGRESS_H

#include <signal.h>

#include "pqexpbuffer.h"

#include "pg_sync.h"

/* a block of lines redrawn in place on a terminal, appended otherwise */
typedef struct PgSyncScreen
{
	bool		tty;			/* cursor moves allowed */
	int			rows;			/* terminal rows the last frame took */
	bool		cursor_hidden;
} PgSyncScreen;

/* set by SIGINT once pgsync_catch_interrupt() ran */
extern volatile sig_atomic_t pgsync_interrupted;

extern void pgsync_catch_interrupt(void);
extern bool pgsync_sleep_ms(int ms);
extern int	pgsync_wait_socket(int sock, int timeout_ms);

extern void pgsync_progress_bar(PQExpBuffer buf, double fraction, int width);
extern void pgsync_format_rate(PQExpBuffer buf, double per_second);
extern void pgsync_format_duration(PQExpBuffer buf, double seconds);
extern void pgsync_progress_cell(PQExpBuffer buf, double fraction, double rate, double eta);

/* width of pgsync_progress_cell()'s text, so columns after it line up */
#define PGSYNC_PROGRESS_CELL	42
extern void pgsync_append_fit(PQExpBuffer buf, const char *s, int width);
extern int	pgsync_terminal_columns(void);

extern void pgsync_screen_start(PgSyncScreen *screen, const PgSync *ps);
extern void pgsync_screen_frame(PgSyncScreen *screen, const char *text);
extern void pgsync_screen_end(PgSyncScreen *screen);

extern char *pgsync_text_array(int n, char **items);
extern double pgsync_now(void);

#endif							/* PGSYNC_PROGRESS_H */
