/*-------------------------------------------------------------------------
 * series.h
 *	  One series (a subscription, or a run asked for with sync_backfill())
 *	  as a pool worker carries it: a state machine stepped by the worker's
 *	  event loop (series.c), and the worker's resources it borrows.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_SERIES_H
#define SYNC_SERIES_H

#include "datatype/timestamp.h"
#include "utils/palloc.h"

#include "http.h"
#include "providers/provider.h"
#include "shmem.h"

typedef struct SyncSeries SyncSeries;

/*
 * What a pool worker lends its series: the HTTP client every transfer runs
 * on, which series waits on which transfer, and one set of page buffers
 * (a series only needs them while it parses and stores an answer, which
 * happens one series at a time).
 */
typedef struct SyncPool
{
	Oid			dboid;
	int			number;			/* this worker's number in its database */
	SyncHttpClient *http;
	int			capacity;		/* transfers the client may have in flight */
	SyncSeries **transfer_owner;	/* per transfer: the series waiting on it */
	int		   *transfer_window;	/* ... and which of its windows */
	SyncPage	page;			/* grown to the largest page a series asks for */
	SyncPage	view;			/* page as the series at hand sees it (its kind, its capacity) */
	SyncRequest request;		/* scratch: a request being built */
	MemoryContext cxt;			/* lives as long as the worker */
} SyncPool;

/* Series whose polls may share one multi-symbol request (pool_batch.c). */
typedef struct SyncBatchKey
{
	const SyncProvider *provider;
	int32		source_id;
	bool		trades;
	int64		interval_ms;
	const char *base_url;
} SyncBatchKey;

extern SyncSeries *sync_series_open(SyncPool *pool, int slot, SyncJobKind kind, int32 id);
extern void sync_series_step(SyncSeries *s);
extern bool sync_series_ready(const SyncSeries *s, TimestampTz now);
extern TimestampTz sync_series_wake_at(const SyncSeries *s);
extern bool sync_series_wants_transfer(const SyncSeries *s);
extern void sync_series_transfer_done(SyncSeries *s, int window);
extern void sync_series_seam_changed(SyncSeries *s);
extern bool sync_series_finished(const SyncSeries *s);
extern void sync_series_close(SyncSeries *s, bool shutdown);

extern bool sync_series_batchable(const SyncSeries *s, TimestampTz horizon, SyncBatchKey *key);
extern const SyncBarQuery *sync_series_batch_query(SyncSeries *s, int64 *to_ms, int64 *settle);
extern void sync_series_batch_begin(SyncSeries *s);
extern void sync_series_batch_cancelled(SyncSeries *s);
extern const struct SyncJob *sync_series_job(const SyncSeries *s);
extern void sync_pool_page_reserve(SyncPool *pool, bool trades, int capacity);
extern void sync_series_batch_refuse(SyncSeries *s);
extern void sync_series_batch_malformed(SyncSeries *s, const char *error, const char *body);
extern void sync_series_batch_failed(SyncSeries *s, const char *error, double retry_after_s,
									 bool rate_limited);
extern int64 sync_series_batch_store(SyncSeries *s, const SyncPage *page, int64 window_to_ms,
									 int64 to_ms, int64 settle);
extern void sync_series_batch_done(SyncSeries *s, int64 checkpoint, double commit_seconds);

#endif							/* SYNC_SERIES_H */
