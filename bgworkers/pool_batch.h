/*-------------------------------------------------------------------------
 * pool_batch.h
 *	  Polls of caught-up series in multi-symbol requests (pool_batch.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_POOL_BATCH_H
#define SYNC_POOL_BATCH_H

#include "catalog.h"
#include "series.h"

typedef struct SyncPoolBatches SyncPoolBatches;

extern SyncPoolBatches *sync_pool_batches_create(MemoryContext cxt);
extern void sync_pool_batches_send(SyncPool *pool, SyncPoolBatches *pb, SyncSeries **carried, int n);
extern bool sync_pool_batches_transfer_done(SyncPoolBatches *pb, int transfer);
extern void sync_pool_batches_finish(SyncPool *pool, SyncPoolBatches *pb, MemoryContext cxt);
extern void sync_pool_batches_cancel(SyncPool *pool, SyncPoolBatches *pb);

#endif							/* SYNC_POOL_BATCH_H */
