/*-------------------------------------------------------------------------
 * stream_store.c
 *	  Storing a stream batch: the records of every series of one
 *	  connection, in one transaction, with what must commit with them.
 *
 * A batch's records are stamped with their series (target).  They are
 * grouped by series and each group is stored by sync_store_page(); a
 * series' checkpoint moves to the newest time of the batch only while its
 * seam is closed (src/seam.c), in the same transaction as the data, so a
 * crash takes back both.  Each series' NOTIFY goes with the commit, and
 * the slots (the streamer's, and each realtime series' job's) are told
 * only once the transaction has committed: nothing is reported stored
 * before it is.
 *
 * The caller is a source's storer process (stream_store_worker.c), or its
 * streamer when no storer could be started.  A failure raises an ERROR
 * after the transaction is aborted: the caller must not store later
 * batches of the stream (that would leave a hole behind a moved
 * checkpoint), so the process exits and the streamer starts again.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guc.h"
#include "notify.h"
#include "providers/timefmt.h"
#include "seam.h"
#include "shmem.h"
#include "storage.h"
#include "stream_store.h"
#include "worker_common.h"

typedef struct Batch
{
	SyncStoreSet *set;
	SyncPage   *page;
	const int64 *newest;
	int64	   *stored;			/* per series */
	int		   *slots;			/* per series: its job's slot, -1 if none */
	int64	   *next_ids;		/* per series: after its newest trade id (by-id providers) */
} Batch;

/*
 * The n records of size bytes at in, grouped by series in arrival order
 * within each; series i's are result[start[i] .. start[i + 1]).  Records
 * already in series order (one series: the usual case) are used where
 * they are; others are copied to a palloc'd array (a counting sort on the
 * int32 at target_off).
 */
static void *
group_by_series(int nseries, void *in, int n, size_t size, size_t target_off, int *start)
{
	int		   *next = palloc0(sizeof(int) * (nseries + 1));
	bool		sorted = true;
	int32		prev = 0;
	char	   *out;

	for (int k = 0; k < n; k++)
	{
		int32		t = *(const int32 *) ((const char *) in + k * size + target_off);

		next[t + 1]++;
		sorted &= t >= prev;
		prev = t;
	}
	for (int i = 0; i < nseries; i++)
		next[i + 1] += next[i];
	memcpy(start, next, sizeof(int) * (nseries + 1));
	if (sorted)
		return in;
	out = palloc(size * Max(n, 1));
	for (int k = 0; k < n; k++)
	{
		int32		t = *(const int32 *) ((const char *) in + k * size + target_off);

		memcpy(out + (size_t) next[t]++ * size, (const char *) in + k * size, size);
	}
	return out;
}

static void
store_txn(void *arg)
{
	Batch	   *b = (Batch *) arg;
	SyncPage   *all = b->page;
	int			nseries = b->set->nseries;
	SyncTrade  *trades;
	SyncBar    *bars;
	SyncReject *rejects;
	int		   *ts = palloc(sizeof(int) * (nseries + 1));
	int		   *bs = palloc(sizeof(int) * (nseries + 1));
	int		   *rs = palloc(sizeof(int) * (nseries + 1));

	/*
	 * Not waiting for the WAL flush takes ~2 ms off every batch.  Nothing is
	 * lost by it: a crash takes back the newest batches and, in the same
	 * transactions, the checkpoints they moved, so the jobs fetch those
	 * trades again over REST (sync.stream_synchronous_commit = on waits).
	 */
	sync_worker_commit_waits(sync_stream_synchronous_commit);

	trades = group_by_series(nseries, all->trades, all->ntrades, sizeof(SyncTrade), offsetof(SyncTrade, target), ts);
	bars = group_by_series(nseries, all->bars, all->nbars, sizeof(SyncBar), offsetof(SyncBar, target), bs);
	rejects = group_by_series(nseries, all->rejects, all->nrejects, sizeof(SyncReject), offsetof(SyncReject, target), rs);
	for (int i = 0; i < nseries; i++)
	{
		SyncStoreSeries *s = &b->set->series[i];
		SyncPage	one = {0};
		int64		first = INT64_MAX;
		int64		next_id = 0;
		bool		closed;

		one.trades = trades + ts[i];
		one.ntrades = ts[i + 1] - ts[i];
		one.bars = bars + bs[i];
		one.nbars = bs[i + 1] - bs[i];
		one.rejects = rejects + rs[i];
		one.nrejects = rs[i + 1] - rs[i];
		for (int k = 0; k < one.ntrades; k++)
		{
			first = Min(first, sync_ms_of_us(one.trades[k].ts_us));
			if (s->by_id)
				next_id = Max(next_id, strtoi64(one.trades[k].trade_id, NULL, 10) + 1);
		}
		for (int k = 0; k < one.nbars; k++)
			first = Min(first, one.bars[k].ts_ms);
		b->stored[i] = 0;
		b->slots[i] = -1;
		if (one.ntrades + one.nbars + one.nrejects == 0 || !s->loaded)
			continue;
		/*
		 * Only whether the seam is closed, for now: the job learns how far
		 * the stream stored (it fetches from there if the stream goes) only
		 * once this has committed.  Told before, a batch that failed to
		 * commit would be a hole.
		 */
		closed = b->newest[i] != INT64_MIN && s->epoch != 0 &&	/* 0: not confirmed yet */
			sync_seam_stored(MyDatabaseId, s->subscription_id, s->epoch, INT64_MIN, 0, &b->slots[i]);
		b->next_ids[i] = next_id;
		b->stored[i] = sync_store_page(&s->job, &one, b->newest[i], b->newest[i],
									   closed ? sync_ms_to_timestamptz(b->newest[i]) : DT_NOBEGIN);
		if (b->stored[i] > 0)
			sync_notify_stored(&s->job, s->trades, first,
							   s->trades ? b->newest[i] : b->newest[i] - s->job.interval_ms, b->stored[i], false);
		if (!closed)
			b->slots[i] = -1;	/* not the job's realtime yet: its status stays */
	}
	/* each series is announced on its own (notify.c), those due now too */
	sync_notify_due();
}

/*
 * Store one batch (records stamped with their series; newest[i] is series
 * i's newest time in it, INT64_MIN if none) in one transaction, then tell
 * the slots.  Allocates in the current memory context: the caller resets
 * it.  An ERROR if the transaction failed.
 */
void
sync_stream_store(SyncStoreSet *set, SyncPage *page, const int64 *newest)
{
	Batch		b = {set, page, newest, palloc0(sizeof(int64) * set->nseries),
		palloc(sizeof(int) * set->nseries), palloc0(sizeof(int64) * set->nseries)};
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz newest_all = 0;
	char		errbuf[SYNC_ERROR_LEN];
	double		seconds;

	if (page->ntrades + page->nbars + page->nrejects == 0)
		return;
	if (!sync_worker_txn("sync: storing a stream batch", store_txn, &b, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errmsg("sync stream of source \"%s\" could not store a batch: %s",
						set->source_name, errbuf)));
	seconds = (double) (GetCurrentTimestamp() - started) / USECS_PER_SEC;
	sync_slot_page_stored(set->slot, seconds);
	for (int i = 0; i < set->nseries; i++)
	{
		if (newest[i] != INT64_MIN)
			newest_all = Max(newest_all, sync_ms_to_timestamptz(newest[i]));
		if (b.slots[i] >= 0)
		{
			int			slot;

			/* committed: now the job may count on it */
			(void) sync_seam_stored(MyDatabaseId, set->series[i].subscription_id, set->series[i].epoch,
									newest[i], b.next_ids[i], &slot);
			sync_slot_page_stored(b.slots[i], seconds);
			sync_slot_report(b.slots[i], SYNC_PHASE_REALTIME, sync_ms_to_timestamptz(newest[i]));
		}
	}
	if (newest_all != 0)
		sync_slot_report(set->slot, SYNC_PHASE_REALTIME, newest_all);
}
