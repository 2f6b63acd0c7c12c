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
	SyncRequest request;		/* scratch: a request being built */
	MemoryContext cxt;			/* lives as long as the worker */
} SyncPool;

extern SyncSeries *sync_series_open(SyncPool *pool, int slot, SyncJobKind kind, int32 id);
extern void sync_series_step(SyncSeries *s);
extern bool sync_series_ready(const SyncSeries *s, TimestampTz now);
extern TimestampTz sync_series_wake_at(const SyncSeries *s);
extern bool sync_series_wants_transfer(const SyncSeries *s);
extern void sync_series_transfer_done(SyncSeries *s, int window);
extern void sync_series_seam_changed(SyncSeries *s);
extern bool sync_series_finished(const SyncSeries *s);
extern int	sync_series_slot(const SyncSeries *s);
extern void sync_series_close(SyncSeries *s, bool shutdown);

#endif							/* SYNC_SERIES_H */
