/*-------------------------------------------------------------------------
 * series_internal.h
 *	  The state of one series carried by a pool worker, shared by the files
 *	  that step it: series.c (opening, RUN, the event loop's entry points),
 *	  series_fetch.c (requests, answers, storing, failures), series_repair.c
 *	  (REPAIR), series_stream.c (FOLLOW and CATCHUP) and series_batch.c (its
 *	  side of multi-symbol polls).  Nothing outside them sees the struct.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_SERIES_INTERNAL_H
#define SYNC_SERIES_INTERNAL_H

#include "catalog.h"
#include "series.h"

#define ERRLEN 512
#define MAX_GAPS 16				/* holes re-requested per repair round */
#define MAX_WINDOWS 4			/* requests one series keeps in flight */
#define STREAM_HANDOVER_MS 5000	/* REST this close to now: go live */
#define STREAM_WAIT_MS 3000		/* no stream for this long: REST polls meanwhile */
#define FOLLOW_CHECK_MS 1000	/* a followed series looks at its seam this often */
#define DAY_MS 86400000

/*
 * A day file still missing this long after its day ended will not come:
 * binance-public-data publishes every day of a listed symbol within a day
 * or so.  Before that, a missing file is "not yet".
 */
#define FILE_HOLE_AFTER_MS (3 * (int64) DAY_MS)
#define FILE_WAIT_MAX_MS (3600 * 1000)	/* longest wait between two asks */
#define FILE_TRADES_MAX_PAGE 100000	/* trades one pass over a day file keeps */

StaticAssertDecl(MAX_WINDOWS >= SYNC_HTTP_MAX_TRANSFERS, "sync.requests_in_flight fits the windows");

/* One request in flight: the page [from, to) it asks for, and its answer. */
typedef struct Window
{
	int64		from;
	int64		to;
	int64		window_to_ms;	/* what the request covers (SyncRequest) */
	bool		missing_not_yet;
	int			transfer;		/* in the pool's client */
	bool		done;			/* the answer is in resp */
	SyncHttpResponse resp;
} Window;

typedef enum SeriesMode
{
	MODE_RUN,
	MODE_REPAIR,
	MODE_FOLLOW,
	MODE_CATCHUP,
	MODE_DONE
} SeriesMode;

/* Where a repair round goes back to when it ends. */
typedef enum RepairReturn
{
	REPAIR_TO_RUN,
	REPAIR_TO_FOLLOW
} RepairReturn;

/* What a request start came to. */
typedef enum StartResult
{
	START_OK,
	START_INVALID,				/* the provider cannot express it: s->error says why */
	START_NO_ROOM,				/* every transfer of the worker is in use */
	START_PACED					/* the source's pace or hold: next_request_at says when */
} StartResult;

struct SyncSeries
{
	SyncPool   *pool;
	int			slot;
	SyncJobKind kind;
	int32		id;
	MemoryContext cxt;			/* the series' own memory */
	SyncJob		job;
	const SyncProvider *provider;
	SyncBarQuery query;
	int			capacity;		/* records a page may hold */
	/* requests in flight, oldest first: a ring */
	Window		win[MAX_WINDOWS];
	int			qhead;
	int			qlen;
	bool		dense;			/* the last page was full: more pages follow */
	int64		cursor_ms;		/* next bar to ask for */
	int64		checkpoint_ms;	/* to store with the page */
	int			failures;		/* consecutive transient failures */
	int			misses;			/* consecutive "file not published yet" */
	bool		file_missing;	/* the last page asked for was a missing file */
	bool		repairing;		/* a repair round is asking */
	int64		hole_from;		/* first of old days without a file after data, 0 if none */
	int64		hole_to;		/* where the file after them starts (store_page) */
	TimestampTz next_request_at;
	char		error[ERRLEN];
	bool		permanent;		/* error above stops the job */
	bool		trades;			/* the job is a trades series, not bars */
	int64		next_trade_id;	/* trades_by_id providers: the id to go on from, 0 if unknown */
	TimestampTz last_gap_check; /* repair rounds are due an interval after it */
	TimestampTz rest_until;		/* no stream came: REST polls until then */
	int64		range_to_ms;	/* end of a one-off run, INT64_MAX otherwise */
	int			ngaps;
	int64		gaps[MAX_GAPS][2];	/* [from, to) ms of holes to re-request */

	/* the event loop's view */
	SeriesMode	mode;
	TimestampTz due;			/* step at this time (when not fetching) */
	bool		fetching;		/* the head window's answer is awaited */
	int64		fetch_to_ms;	/* ... for a fetch up to here */
	int64		fetch_settle;
	bool		wants_transfer; /* due, but the worker had no transfer free */
	bool		polling;		/* caught up: it polls each poll interval (RUN) */
	bool		batched;		/* its poll is in a multi-symbol request (pool_batch.c) */
	bool		batch_alone;	/* its next poll goes alone (a batch could not give it one) */
	bool		found;			/* load_job found the row */

	/* REPAIR */
	RepairReturn repair_return;
	int			repair_index;
	bool		repair_missing;
	int64		repair_saved_cursor;

	/* FOLLOW and CATCHUP */
	uint32		closed_epoch;	/* the stream connection whose seam REST closed */
	TimestampTz not_live_since;
	bool		live;
	int64		catchup_until;	/* the stream began during this millisecond */
	uint32		catchup_epoch;
	bool		catchup_asked;	/* a request went out since the stream opened */
};

/* shared by the series_*.c files */
extern void series_due_at(SyncSeries *s, TimestampTz at);
extern TimestampTz series_poll_wait_end(SyncSeries *s, TimestampTz now);

/* series_fetch.c: requests, answers, storing, failures */
extern void series_page_time_range(const SyncPage *page, int64 *first, int64 *last);
extern void series_run_txn(SyncSeries *s, const char *what, void (*fn) (void *), void *arg);
extern void series_run_finish(SyncSeries *s, const char *state);
extern void series_transient_failure(SyncSeries *s, double retry_after_s);
extern void series_permanent_failure(SyncSeries *s);
extern void series_cancel_requests(SyncSeries *s);
extern bool series_fetch_begin(SyncSeries *s, int64 to_ms, int64 settle);
extern bool series_fetch_end(SyncSeries *s);

/* series.c: RUN */
extern void series_run_step(SyncSeries *s);
extern void series_run_caught_up(SyncSeries *s, int64 settle);
extern void series_run_after_repair(SyncSeries *s);

/* series_repair.c: REPAIR */
extern void series_repair_begin(SyncSeries *s, RepairReturn ret);
extern void series_repair_step(SyncSeries *s);
extern void series_repair_after_fetch(SyncSeries *s);

/* series_stream.c: FOLLOW and CATCHUP */
extern void series_follow_step(SyncSeries *s);
extern void series_follow_after_repair(SyncSeries *s);
extern void series_catchup_step(SyncSeries *s);
extern void series_catchup_after_fetch(SyncSeries *s, bool caught_up);

#endif							/* SYNC_SERIES_INTERNAL_H */
