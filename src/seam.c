/*-------------------------------------------------------------------------
 * seam.c
 *	  The handover of a caught-up job's series to its source's streamer.
 *
 * One connection per source carries every streamed series (the providers
 * limit connections, and one is cheaper than many), but closing a series'
 * seam needs that series' REST history, which its job worker has.  So:
 *	 1. the job, caught up, sets wanted;
 *	 2. the streamer includes the series in its next connection; once the
 *		provider confirmed it, it starts a new epoch (opened_ms = now) and
 *		wakes the job;
 *	 3. the job fetches REST from its checkpoint up to opened_ms and sets
 *		closed_epoch: the series is whole up to where the stream began;
 *	 4. the streamer stores the series' records all along (the key drops
 *		repeats) but moves its checkpoint only while closed_epoch = epoch.
 * A lost connection ends the epoch (live = false); the next one starts
 * another, and so another seam.
 *
 * Everything is read and written under SyncState->lock.  A slot is found
 * by subscription id each time.  The job's side is the pool worker that
 * carries the series (its per-series state keeps the epoch it closed); the
 * latch woken is that worker's, which then looks at the seams of all the
 * series it follows.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"

#include "seam.h"

void
sync_seam_want(int slot, int32 source_id, bool wanted)
{
	SyncSeam   *seam = &SyncState->slots[slot].seam;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	seam->wanted = wanted;
	seam->source_id = source_id;
	seam->job_latch = wanted ? MyLatch : NULL;
	LWLockRelease(SyncState->lock);
}

SyncSeam
sync_seam_read(int slot)
{
	SyncSeam	copy;

	LWLockAcquire(SyncState->lock, LW_SHARED);
	copy = SyncState->slots[slot].seam;
	LWLockRelease(SyncState->lock);
	return copy;
}

void
sync_seam_close(int slot, uint32 epoch)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	SyncState->slots[slot].seam.closed_epoch = epoch;
	LWLockRelease(SyncState->lock);
}

static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return x < y ? -1 : x > y;
}

static SyncJobSlot *
slot_of(Oid dboid, int32 subscription_id, int *index)
{
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use && s->dboid == dboid && s->kind == SYNC_JOB_SUBSCRIPTION &&
			s->id == subscription_id && s->pid != 0)
		{
			if (index)
				*index = i;
			return s;
		}
	}
	return NULL;
}

/* The series of a source whose jobs want them streamed, by id: their count. */
int
sync_seam_wanted(Oid dboid, int32 source_id, int32 *ids, int max)
{
	int			n = 0;

	LWLockAcquire(SyncState->lock, LW_SHARED);
	for (int i = 0; i < SyncState->nslots && n < max; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use && s->dboid == dboid && s->kind == SYNC_JOB_SUBSCRIPTION && s->pid != 0 &&
			s->seam.wanted && s->seam.source_id == source_id)
			ids[n++] = s->id;
	}
	LWLockRelease(SyncState->lock);
	/* in id order, so two lists compare element by element */
	qsort(ids, n, sizeof(int32), int32_cmp);
	return n;
}

/* A connection took the series: a new epoch; the job is woken to close its seam. */
uint32
sync_seam_taken(Oid dboid, int32 subscription_id, int64 opened_ms)
{
	SyncJobSlot *s;
	uint32		epoch = 0;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	s = slot_of(dboid, subscription_id, NULL);
	if (s != NULL)
	{
		epoch = ++s->seam.epoch;
		s->seam.live = true;
		s->seam.opened_ms = opened_ms;
		if (s->seam.job_latch != NULL)
			SetLatch(s->seam.job_latch);
	}
	LWLockRelease(SyncState->lock);
	return epoch;
}

/* The connection that took the series in epoch is gone: the job's slot, or -1. */
int
sync_seam_dropped(Oid dboid, int32 subscription_id, uint32 epoch)
{
	SyncJobSlot *s;
	int			slot = -1;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	s = slot_of(dboid, subscription_id, &slot);
	if (s != NULL && epoch != 0 && s->seam.epoch == epoch)
	{
		s->seam.live = false;
		if (s->seam.job_latch != NULL)
			SetLatch(s->seam.job_latch);
	}
	LWLockRelease(SyncState->lock);
	return slot;
}

/*
 * The streamer stored the series up to stored_ms: true when the seam of
 * its epoch is closed, so the checkpoint may move there.  *slot gets the
 * job's slot, -1 when it has none now.
 */
bool
sync_seam_stored(Oid dboid, int32 subscription_id, uint32 epoch, int64 stored_ms,
				 int64 next_trade_id, int *slot)
{
	SyncJobSlot *s;
	bool		closed = false;

	*slot = -1;
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	s = slot_of(dboid, subscription_id, slot);
	if (s != NULL && s->seam.epoch == epoch && s->seam.closed_epoch == epoch)
	{
		closed = true;
		s->seam.stored_ms = Max(s->seam.stored_ms, stored_ms);
		s->seam.next_trade_id = Max(s->seam.next_trade_id, next_trade_id);
	}
	LWLockRelease(SyncState->lock);
	return closed;
}
