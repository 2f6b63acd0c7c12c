/*-------------------------------------------------------------------------
 * stream_queue.h
 *	  The hand-over from a source's streamer to its storer process: one
 *	  shm_mq in a dynamic shared memory segment (see stream_queue.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_STREAM_QUEUE_H
#define SYNC_STREAM_QUEUE_H

#include "port/atomics.h"
#include "storage/latch.h"

#include "stream_store.h"

/* What goes through the queue: a header, then the message's arrays. */
typedef enum SyncStreamMsgKind
{
	SYNC_STREAM_MSG_SET = 1,	/* SyncStreamSeriesRef[nseries]: the series from now on */
	SYNC_STREAM_MSG_BATCH		/* int64 newest[nseries], trades, bars, rejects */
} SyncStreamMsgKind;

typedef struct SyncStreamMsg
{
	int32		kind;
	int32		nseries;
	int32		ntrades;
	int32		nbars;
	int32		nrejects;
	int32		pad;
} SyncStreamMsg;

/* A series as a SET message names it: the storer loads its job. */
typedef struct SyncStreamSeriesRef
{
	int32		subscription_id;
	uint32		epoch;
	bool		trades;
	bool		by_id;
} SyncStreamSeriesRef;

/* The head of the segment; the shm_mq follows. */
typedef struct SyncStreamQueueShared
{
	pg_atomic_uint64 sent;		/* batch messages the streamer has sent whole */
	pg_atomic_uint64 stored;	/* batch messages the storer has committed */
	Latch	   *streamer_latch; /* set by the storer after each commit */
	int			slot;			/* the streamer's shared-memory slot */
	char		source_name[NAMEDATALEN];
} SyncStreamQueueShared;

#define SYNC_STREAM_QUEUE_HEAD	MAXALIGN(sizeof(SyncStreamQueueShared))

typedef struct SyncStreamQueue SyncStreamQueue;

/* The streamer's side */
extern SyncStreamQueue *sync_stream_queue_start(int slot, Oid dboid, int32 source_id,
												const char *source_name);
extern void sync_stream_queue_send_set(SyncStreamQueue *q, const SyncStoreSeries *series, int n);
extern bool sync_stream_queue_send_batch(SyncStreamQueue *q, const SyncPage *page,
										 const int64 *newest, int nseries, bool wait);
extern void sync_stream_queue_drain(SyncStreamQueue *q);
extern void sync_stream_queue_check(SyncStreamQueue *q);

#endif							/* SYNC_STREAM_QUEUE_H */
