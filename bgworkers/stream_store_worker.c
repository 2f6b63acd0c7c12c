/*-------------------------------------------------------------------------
 * stream_store_worker.c
 *	  A source's storer: the process that stores what its streamer parsed
 *	  (backend_type "sync stream store"; see stream_queue.c for the pair).
 *
 * It receives SET and BATCH messages from the streamer's queue, in
 * order.  Batches waiting in the queue are stored together, up to
 * sync.stream_batch records in one transaction: while a transaction runs
 * the streamer keeps handing over, so at high rates batches grow by
 * themselves, and at low rates each is stored as soon as it arrives.
 *
 * It exits 0 once the streamer has detached (exited, or finished after
 * SIGTERM) and everything it handed over is stored; SIGTERM alone does not
 * stop it, so that what the streamer holds at shutdown is stored too.  A
 * batch that cannot be stored is an ERROR: the storer exits (no later
 * batch may be stored behind a hole), the streamer sees it and restarts.
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

#include "catalog.h"
#include "crash_guard.h"
#include "guc.h"
#include "shmem.h"
#include "stream_queue.h"
#include "stream_store.h"
#include "worker_common.h"

PGDLLEXPORT void sync_stream_store_main(Datum arg);

typedef struct Storer
{
	SyncStreamQueueShared *shared;
	SyncStoreSet set;
	MemoryContext series_cxt;	/* the jobs of the current set */
	MemoryContext batch_cxt;	/* reset after each store */
	SyncPage	page;			/* batches received, not stored yet */
	int64	   *newest;			/* per series */
	int			messages;		/* batch messages in page */
} Storer;

static Storer T;

/* Room for n more records of each kind. */
static void
page_reserve(int ntrades, int nbars, int nrejects)
{
	SyncPage   *p = &T.page;

	if (p->ntrades + ntrades > p->trade_capacity)
	{
		p->trade_capacity = Max(p->trade_capacity * 2, p->ntrades + ntrades);
		p->trades = repalloc(p->trades, sizeof(SyncTrade) * p->trade_capacity);
	}
	if (p->nbars + nbars > p->bar_capacity)
	{
		p->bar_capacity = Max(p->bar_capacity * 2, p->nbars + nbars);
		p->bars = repalloc(p->bars, sizeof(SyncBar) * p->bar_capacity);
	}
	if (p->nrejects + nrejects > p->reject_capacity)
	{
		p->reject_capacity = Max(p->reject_capacity * 2, p->nrejects + nrejects);
		p->rejects = repalloc(p->rejects, sizeof(SyncReject) * p->reject_capacity);
	}
}

static int
page_count(void)
{
	return T.page.ntrades + T.page.nbars + T.page.nrejects;
}

/* Store what was received, then tell the streamer how far it got. */
static void
store_received(void)
{
	MemoryContext old;

	if (T.messages == 0)
		return;
	old = MemoryContextSwitchTo(T.batch_cxt);
	sync_stream_store(&T.set, &T.page, T.newest);
	MemoryContextSwitchTo(old);
	MemoryContextReset(T.batch_cxt);
	T.page.ntrades = T.page.nbars = T.page.nrejects = 0;
	for (int i = 0; i < T.set.nseries; i++)
		T.newest[i] = INT64_MIN;
	pg_atomic_add_fetch_u64(&T.shared->stored, T.messages);
	T.messages = 0;
	SetLatch(T.shared->streamer_latch);
	pgstat_report_activity(STATE_IDLE, NULL);
}

typedef struct LoadSet
{
	const SyncStreamSeriesRef *refs;
} LoadSet;

static void
load_set(void *arg)
{
	LoadSet    *ls = (LoadSet *) arg;

	for (int i = 0; i < T.set.nseries; i++)
	{
		SyncStoreSeries *s = &T.set.series[i];

		s->subscription_id = ls->refs[i].subscription_id;
		s->epoch = ls->refs[i].epoch;
		s->trades = ls->refs[i].trades;
		s->by_id = ls->refs[i].by_id;
		/* gone since the streamer loaded it: its records are dropped, as the subscription is */
		s->loaded = sync_job_load(s->subscription_id, T.series_cxt, &s->job);
	}
}

/* A new connection's series. */
static void
take_set(const char *data, Size len)
{
	const SyncStreamMsg *msg = (const SyncStreamMsg *) data;
	LoadSet		ls;
	char		errbuf[SYNC_ERROR_LEN];

	if (msg->nseries < 0 || len != sizeof(*msg) + sizeof(SyncStreamSeriesRef) * (Size) msg->nseries)
		elog(ERROR, "sync stream store: malformed series message (%zu bytes)", len);
	MemoryContextReset(T.series_cxt);
	T.set.nseries = msg->nseries;
	T.set.series = MemoryContextAllocZero(T.series_cxt, sizeof(SyncStoreSeries) * Max(msg->nseries, 1));
	T.newest = MemoryContextAlloc(T.series_cxt, sizeof(int64) * Max(msg->nseries, 1));
	for (int i = 0; i < T.set.nseries; i++)
		T.newest[i] = INT64_MIN;
	/* a copy: the message is only valid until the next receive */
	ls.refs = MemoryContextAlloc(T.series_cxt, sizeof(SyncStreamSeriesRef) * Max(msg->nseries, 1));
	memcpy((void *) ls.refs, data + sizeof(*msg), sizeof(SyncStreamSeriesRef) * msg->nseries);
	if (!sync_worker_txn("sync stream store: loading its series", load_set, &ls, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errmsg("sync stream store of source \"%s\" could not load its series: %s",
						T.set.source_name, errbuf)));
}

/* Add a batch to what waits to be stored. */
static void
take_batch(const char *data, Size len)
{
	const SyncStreamMsg *msg = (const SyncStreamMsg *) data;
	const char *p = data + sizeof(*msg);
	Size		want;

	if (msg->nseries != T.set.nseries || msg->ntrades < 0 || msg->nbars < 0 || msg->nrejects < 0)
		elog(ERROR, "sync stream store: batch of %d series for a set of %d", msg->nseries, T.set.nseries);
	want = sizeof(*msg) + sizeof(int64) * (Size) msg->nseries +
		sizeof(SyncTrade) * (Size) msg->ntrades + sizeof(SyncBar) * (Size) msg->nbars +
		sizeof(SyncReject) * (Size) msg->nrejects;
	if (len != want)
		elog(ERROR, "sync stream store: malformed batch (%zu bytes, %zu expected)", len, want);
	for (int i = 0; i < msg->nseries; i++)
	{
		int64		n;

		memcpy(&n, p, sizeof(n));
		p += sizeof(n);
		T.newest[i] = Max(T.newest[i], n);
	}
	page_reserve(msg->ntrades, msg->nbars, msg->nrejects);
	memcpy(T.page.trades + T.page.ntrades, p, sizeof(SyncTrade) * msg->ntrades);
	p += sizeof(SyncTrade) * msg->ntrades;
	T.page.ntrades += msg->ntrades;
	memcpy(T.page.bars + T.page.nbars, p, sizeof(SyncBar) * msg->nbars);
	p += sizeof(SyncBar) * msg->nbars;
	T.page.nbars += msg->nbars;
	memcpy(T.page.rejects + T.page.nrejects, p, sizeof(SyncReject) * msg->nrejects);
	T.page.nrejects += msg->nrejects;
	/* records must name a series of the set (storing groups by them) */
	for (int k = T.page.ntrades - msg->ntrades; k < T.page.ntrades; k++)
		if (T.page.trades[k].target < 0 || T.page.trades[k].target >= T.set.nseries)
			elog(ERROR, "sync stream store: trade of series %d in a set of %d", T.page.trades[k].target, T.set.nseries);
	for (int k = T.page.nbars - msg->nbars; k < T.page.nbars; k++)
		if (T.page.bars[k].target < 0 || T.page.bars[k].target >= T.set.nseries)
			elog(ERROR, "sync stream store: bar of series %d in a set of %d", T.page.bars[k].target, T.set.nseries);
	for (int k = T.page.nrejects - msg->nrejects; k < T.page.nrejects; k++)
		if (T.page.rejects[k].target < 0 || T.page.rejects[k].target >= T.set.nseries)
			elog(ERROR, "sync stream store: reject of series %d in a set of %d", T.page.rejects[k].target, T.set.nseries);
	T.messages++;
}

void
sync_stream_store_main(Datum arg)
{
	SyncWorkerArgs args;
	dsm_segment *seg;
	shm_mq_handle *mqh;
	shm_mq	   *mq;

	memset(&T, 0, sizeof(T));
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));

	/*
	 * A storer that dies by a signal restarts the cluster like any worker:
	 * its crash counts against its streamer's job, so a storer that keeps
	 * crashing stops the stream as a crashing streamer would.  Its marker
	 * has a name of its own (the streamer's stays), and blames the
	 * streamer.  Signals are still blocked here.
	 */
	sync_crash_guard_enter(args.dboid, sync_stream_store_marker_id(args.id), MyBgworkerEntry->bgw_name);
	sync_crash_guard_blame(sync_job_legacy_id(SYNC_JOB_STREAMER, args.id));
	sync_worker_init_signals();
	sync_worker_keep_heap();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	pgstat_report_appname(MyBgworkerEntry->bgw_name);

	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		proc_exit(0);			/* its streamer is gone already */
	dsm_pin_mapping(seg);
	T.shared = dsm_segment_address(seg);
	T.set.slot = T.shared->slot;
	T.set.source_name = MemoryContextStrdup(TopMemoryContext, T.shared->source_name);
	mq = (shm_mq *) ((char *) T.shared + SYNC_STREAM_QUEUE_HEAD);
	shm_mq_set_receiver(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);

	T.series_cxt = AllocSetContextCreate(TopMemoryContext, "sync stream store series", ALLOCSET_DEFAULT_SIZES);
	T.batch_cxt = AllocSetContextCreate(TopMemoryContext, "sync stream store batch", ALLOCSET_DEFAULT_SIZES);
	T.page.trade_capacity = T.page.bar_capacity = T.page.reject_capacity = 64;
	T.page.trades = MemoryContextAlloc(TopMemoryContext, sizeof(SyncTrade) * T.page.trade_capacity);
	T.page.bars = MemoryContextAlloc(TopMemoryContext, sizeof(SyncBar) * T.page.bar_capacity);
	T.page.rejects = MemoryContextAlloc(TopMemoryContext, sizeof(SyncReject) * T.page.reject_capacity);
	T.page.last_ts_ms = INT64_MIN;

	for (;;)
	{
		Size		len;
		void	   *data;
		shm_mq_result r;

		CHECK_FOR_INTERRUPTS();
		sync_worker_reload_if_asked();
		r = shm_mq_receive(mqh, &len, &data, true);
		if (r == SHM_MQ_SUCCESS)
		{
			const SyncStreamMsg *msg = (const SyncStreamMsg *) data;

			if (len < sizeof(*msg))
				elog(ERROR, "sync stream store: short message (%zu bytes)", len);
			if (msg->kind == SYNC_STREAM_MSG_SET)
			{
				store_received();
				take_set(data, len);
			}
			else if (msg->kind == SYNC_STREAM_MSG_BATCH)
			{
				take_batch(data, len);
				if (page_count() >= sync_stream_batch)
					store_received();
			}
			else
				elog(ERROR, "sync stream store: unknown message kind %d", msg->kind);
			continue;
		}
		if (r == SHM_MQ_DETACHED)
			break;
		/* nothing more waiting now: store what came, or wait for more */
		if (T.messages > 0)
		{
			store_received();
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	/* the streamer is gone or done: what it handed over is stored */
	store_received();
	proc_exit(0);
}
