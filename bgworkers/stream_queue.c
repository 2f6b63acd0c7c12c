/*-------------------------------------------------------------------------
 * stream_queue.c
 *	  The hand-over from a source's streamer to its storer: the streamer
 *	  receives and parses, the storer (stream_store_worker.c) stores, so
 *	  one busy source keeps two cores busy.
 *
 * The streamer makes a dynamic shared memory segment holding one shm_mq
 * (sync.stream_queue_size) and starts its storer, a background worker
 * that attaches as the receiver.  Messages, in order:
 *
 *	  SET	the series of a connection (subscription id, seam epoch), sent
 *			once the provider confirmed them; the storer loads their jobs;
 *	  BATCH	a parsed page: each series' newest time, then the flat
 *			SyncTrade, SyncBar and SyncReject arrays of src/record.h, each
 *			record stamped with its series.
 *
 * The streamer sends without blocking and waits on its latch: a full
 * queue (the storer behind) is back-pressure.  The page stays as it is
 * (shm_mq needs the same bytes again after a partial send), the socket is
 * not read, and the kernel buffers the stream meanwhile, as it always did
 * while the streamer stored: private memory does not grow.
 *
 * Exactly once: the storer moves a series' checkpoint only in the
 * transaction that stores its data (stream_store.c); it counts the
 * batches committed in the segment and sets the streamer's latch.  Before
 * a connection's series are handed back to their jobs (seam dropped), the
 * streamer waits until every batch it sent is committed
 * (sync_stream_queue_drain).  When either process exits, the other sees
 * the queue detached: a streamer without its storer raises an ERROR, so it
 * exits and its supervisor starts it again (with a new storer), as after
 * any streamer failure; a storer without its streamer stores what was
 * handed over and exits.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "utils/memutils.h"

#include "guc.h"
#include "shmem.h"
#include "stream_queue.h"
#include "sync.h"
#include "worker_common.h"

struct SyncStreamQueue
{
	dsm_segment *seg;
	SyncStreamQueueShared *shared;
	shm_mq_handle *mqh;
	BackgroundWorkerHandle *storer;
	const char *source_name;
};

/* The storer has gone: the stream cannot go on without it. */
static void
storer_gone(SyncStreamQueue *q)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the storer of the sync stream of source \"%s\" exited", q->source_name),
			 errdetail("Batches it had not committed are not acknowledged; the jobs fetch them over REST."),
			 errhint("Its own log entry says why; the streamer starts again with a new storer.")));
}

/*
 * Make the queue and start the storer.  NULL when no storer could be
 * started (no background worker slot free): the streamer then stores
 * itself, as before there were storers.
 */
SyncStreamQueue *
sync_stream_queue_start(int slot, Oid dboid, int32 source_id, const char *source_name)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	SyncStreamQueue *q = palloc0(sizeof(SyncStreamQueue));
	Size		size = (Size) sync_stream_queue_size * 1024;
	BackgroundWorker worker;
	SyncWorkerArgs args;
	shm_mq	   *mq;
	pid_t		pid;

	q->source_name = pstrdup(source_name);
	q->seg = dsm_create(SYNC_STREAM_QUEUE_HEAD + size, 0);
	dsm_pin_mapping(q->seg);	/* the process's, not a transaction's */
	q->shared = dsm_segment_address(q->seg);
	pg_atomic_init_u64(&q->shared->sent, 0);
	pg_atomic_init_u64(&q->shared->stored, 0);
	q->shared->streamer_latch = MyLatch;
	q->shared->slot = slot;
	strlcpy(q->shared->source_name, source_name, NAMEDATALEN);
	mq = shm_mq_create((char *) q->shared + SYNC_STREAM_QUEUE_HEAD, size);
	shm_mq_set_sender(mq, MyProc);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* its streamer starts a new one */
	snprintf(worker.bgw_library_name, BGW_MAXLEN, SYNC_LIBRARY_NAME);
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "sync_stream_store_main");
	snprintf(worker.bgw_type, BGW_MAXLEN, "sync stream store");
	snprintf(worker.bgw_name, BGW_MAXLEN, "sync stream store %s", source_name);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(q->seg));
	worker.bgw_notify_pid = MyProcPid;
	memset(&args, 0, sizeof(args));
	args.dboid = dboid;
	args.kind = SYNC_JOB_STREAMER;
	args.id = source_id;
	args.crash_guarded = false; /* its own marker, blaming the streamer (stream_store_worker.c) */
	memcpy(worker.bgw_extra, &args, sizeof(args));

	if (!RegisterDynamicBackgroundWorker(&worker, &q->storer))
	{
		ereport(LOG,
				(errmsg("sync stream of source \"%s\" stores in its streamer: no background worker slot is free for its storer",
						source_name),
				 errhint("Raise max_worker_processes to let a stream parse and store on two cores.")));
		dsm_detach(q->seg);
		MemoryContextSwitchTo(old);
		return NULL;
	}
	q->mqh = shm_mq_attach(mq, q->seg, q->storer);
	MemoryContextSwitchTo(old);
	switch (WaitForBackgroundWorkerStartup(q->storer, &pid))
	{
		case BGWH_STARTED:
			break;
		case BGWH_POSTMASTER_DIED:
			proc_exit(1);
			break;
		default:
			storer_gone(q);
	}
	return q;
}

/*
 * Send one message.  Without wait, false when the queue is full: the same
 * bytes must be offered again (shm_mq may have taken part of them).  With
 * wait, waits on the latch until the storer made room.  An ERROR when the
 * storer is gone.
 */
static bool
queue_send(SyncStreamQueue *q, shm_mq_iovec *iov, int niov, bool wait)
{
	for (;;)
	{
		shm_mq_result r = shm_mq_sendv(q->mqh, iov, niov, true, true);

		if (r == SHM_MQ_SUCCESS)
			return true;
		if (r == SHM_MQ_DETACHED)
			storer_gone(q);
		if (!wait)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* The series of a new connection, before any of its batches. */
void
sync_stream_queue_send_set(SyncStreamQueue *q, const SyncStoreSeries *series, int n)
{
	SyncStreamMsg msg = {SYNC_STREAM_MSG_SET, n};
	SyncStreamSeriesRef *refs = palloc0(sizeof(SyncStreamSeriesRef) * Max(n, 1));
	shm_mq_iovec iov[2];

	for (int i = 0; i < n; i++)
	{
		refs[i].subscription_id = series[i].subscription_id;
		refs[i].epoch = series[i].epoch;
		refs[i].trades = series[i].trades;
		refs[i].by_id = series[i].by_id;
	}
	iov[0].data = (const char *) &msg;
	iov[0].len = sizeof(msg);
	iov[1].data = (const char *) refs;
	iov[1].len = sizeof(SyncStreamSeriesRef) * n;
	(void) queue_send(q, iov, 2, true);
	pfree(refs);
}

/*
 * Hand a page over.  Without wait, false when the queue is full: offer
 * the same page, unchanged, again later.
 */
bool
sync_stream_queue_send_batch(SyncStreamQueue *q, const SyncPage *page, const int64 *newest,
							 int nseries, bool wait)
{
	SyncStreamMsg msg = {SYNC_STREAM_MSG_BATCH, nseries, page->ntrades, page->nbars, page->nrejects};
	shm_mq_iovec iov[5];

	iov[0].data = (const char *) &msg;
	iov[0].len = sizeof(msg);
	iov[1].data = (const char *) newest;
	iov[1].len = sizeof(int64) * nseries;
	iov[2].data = (const char *) page->trades;
	iov[2].len = sizeof(SyncTrade) * page->ntrades;
	iov[3].data = (const char *) page->bars;
	iov[3].len = sizeof(SyncBar) * page->nbars;
	iov[4].data = (const char *) page->rejects;
	iov[4].len = sizeof(SyncReject) * page->nrejects;
	if (!queue_send(q, iov, 5, wait))
		return false;
	pg_atomic_add_fetch_u64(&q->shared->sent, 1);
	return true;
}

/*
 * Wait until the storer has committed every batch sent: only then may the
 * series go back to their jobs.  Waits also after SIGTERM (what was handed
 * over is stored); an ERROR if the storer exits first.
 */
void
sync_stream_queue_drain(SyncStreamQueue *q)
{
	while (pg_atomic_read_u64(&q->shared->stored) < pg_atomic_read_u64(&q->shared->sent))
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(q->storer, &pid) != BGWH_STARTED &&
			pg_atomic_read_u64(&q->shared->stored) < pg_atomic_read_u64(&q->shared->sent))
			storer_gone(q);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* An ERROR if the storer has exited (it also exits when it cannot store). */
void
sync_stream_queue_check(SyncStreamQueue *q)
{
	pid_t		pid;

	if (GetBackgroundWorkerPid(q->storer, &pid) != BGWH_STARTED)
		storer_gone(q);
}
