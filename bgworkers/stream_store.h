/*-------------------------------------------------------------------------
 * stream_store.h
 *	  Storing a stream batch: one transaction for every series of the
 *	  batch (see stream_store.c).  Used by a source's storer process, and
 *	  by its streamer itself when no storer could be started.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_STREAM_STORE_H
#define SYNC_STREAM_STORE_H

#include "catalog.h"
#include "record.h"

/* A series of a stream set, as storing needs it. */
typedef struct SyncStoreSeries
{
	int32		subscription_id;
	uint32		epoch;			/* the seam epoch its connection started */
	bool		trades;
	bool		by_id;			/* trade ids are consecutive integers */
	bool		loaded;			/* job is valid (false: its records are dropped) */
	SyncJob		job;
} SyncStoreSeries;

/* The series of one connection; records name theirs by index (target). */
typedef struct SyncStoreSet
{
	SyncStoreSeries *series;
	int			nseries;
	int			slot;			/* the streamer's shared-memory slot */
	const char *source_name;
} SyncStoreSet;

extern void sync_stream_store(SyncStoreSet *set, SyncPage *page, const int64 *newest);

#endif							/* SYNC_STREAM_STORE_H */
