/*-------------------------------------------------------------------------
 * notify.h
 *	  NOTIFY on sync_bars / sync_trades when a job stores rows, at most once
 *	  per sync.notify_interval_ms per series (see notify.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_NOTIFY_H
#define SYNC_NOTIFY_H

#include "catalog.h"

extern void sync_notify_stored(const SyncJob *job, bool trades, int64 first_ms, int64 last_ms,
							   int64 rows, bool flush);
extern void sync_notify_due(void);

#endif							/* SYNC_NOTIFY_H */
