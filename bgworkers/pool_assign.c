/*-------------------------------------------------------------------------
 * pool_assign.c
 *	  Owns the assignment of series to pool workers: the pool_worker of
 *	  each series' slot, written by the supervisor of its database.
 *
 * A series goes to the pool worker carrying the fewest series; when the
 * loads drift apart (workers came and went, series ended) series move
 * from the busiest worker to the idlest, a few per round so that a change
 * does not stall many series at once.  Spreading a source's series over
 * the workers lets a big backfill use every worker (and so every core):
 * the source's rate limit is shared memory all of them obey
 * (ratelimit.c), not a worker's own.
 *
 * A move is a handover: the supervisor names the new worker; the old one
 * puts the series down between two of its pages and lets go of the slot;
 * only then does the new one take it up, from its checkpoint.  A series
 * no pool worker can carry (none runs: max_worker_processes is full, or
 * sync.max_workers is taken by other databases) waits in phase queued,
 * its slot saying since when and why.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "storage/latch.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "pool_assign.h"
#include "shmem.h"

#define MAX_MOVES_PER_ROUND 64

/* Pool workers this database may run: sync.max_workers less other databases' ones. */
int
sync_pool_workers_allowed(Oid dboid)
{
	int			others = 0;

	LWLockAcquire(SyncState->lock, LW_SHARED);
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use && s->kind == SYNC_JOB_POOL && s->dboid != dboid)
			others++;
	}
	LWLockRelease(SyncState->lock);
	return Max(0, Min(sync_max_workers, SYNC_MAX_POOL_WORKERS) - others);
}

static bool
holder_alive(const SyncJobSlot *s)
{
	return s->pid != 0 && (kill(s->pid, 0) == 0 || errno != ESRCH);
}

/*
 * A series is no longer wanted: free its slot if no worker holds it (true),
 * else mark it retired and wake its worker, which puts it down (false:
 * ask again later).
 */
bool
sync_pool_retire_series(int slot)
{
	SyncJobSlot *s = &SyncState->slots[slot];
	Latch	   *wake = NULL;
	bool		freed = false;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (!holder_alive(s))
	{
		memset(s, 0, sizeof(*s));
		freed = true;
	}
	else if (!s->retired)
	{
		s->retired = true;
		s->pool_worker = -1;
		wake = s->latch;
	}
	LWLockRelease(SyncState->lock);
	if (wake != NULL)
		SetLatch(wake);
	return freed;
}

/*
 * running[n]: the supervisor started pool worker n (it may not have taken
 * its slot yet: its series wait for it rather than pile onto the first
 * worker up).
 */
void
sync_pool_assign(Oid dboid, const bool *running)
{
	bool		avail[SYNC_MAX_POOL_WORKERS] = {0};
	Latch	   *latch[SYNC_MAX_POOL_WORKERS] = {0};
	bool		wake[SYNC_MAX_POOL_WORKERS] = {0};
	int			load[SYNC_MAX_POOL_WORKERS] = {0};
	int			nworkers = 0;
	int			nseries = 0;
	int			moves = 0;
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use && s->dboid == dboid && s->kind == SYNC_JOB_POOL &&
			s->id >= 0 && s->id < SYNC_MAX_POOL_WORKERS && running[s->id])
		{
			avail[s->id] = true;
			latch[s->id] = s->latch;
			nworkers++;
		}
	}
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (!s->in_use || s->dboid != dboid || !SYNC_JOB_IS_SERIES(s->kind) || s->retired)
			continue;
		nseries++;
		if (s->pool_worker >= 0 && avail[s->pool_worker])
			load[s->pool_worker]++;
	}

	/* series without a running worker: the least loaded one, or none */
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];
		int			best = -1;

		if (!s->in_use || s->dboid != dboid || !SYNC_JOB_IS_SERIES(s->kind) || s->retired ||
			(s->pool_worker >= 0 && avail[s->pool_worker]))
			continue;
		for (int w = 0; w < SYNC_MAX_POOL_WORKERS; w++)
			if (avail[w] && (best < 0 || load[w] < load[best]))
				best = w;
		s->pool_worker = best;
		if (best >= 0)
		{
			load[best]++;
			wake[best] = true;
			if (s->wait_reason == SYNC_WAIT_NO_WORKER)
			{
				s->waiting_since = 0;
				s->wait_reason = SYNC_WAIT_NONE;
			}
		}
		else if (s->waiting_since == 0)
		{
			s->waiting_since = now;
			s->wait_reason = SYNC_WAIT_NO_WORKER;
		}
		if (s->pid == 0 && s->phase != SYNC_PHASE_ERROR)
			s->phase = SYNC_PHASE_QUEUED;
	}

	/* loads drifted apart: move a few series from the busiest to the idlest */
	while (nworkers > 1 && moves < MAX_MOVES_PER_ROUND)
	{
		int			most = -1,
					least = -1;
		int			slack;

		for (int w = 0; w < SYNC_MAX_POOL_WORKERS; w++)
		{
			if (!avail[w])
				continue;
			if (most < 0 || load[w] > load[most])
				most = w;
			if (least < 0 || load[w] < load[least])
				least = w;
		}
		slack = Max(1, nseries / nworkers / 8);
		if (load[most] - load[least] <= slack)
			break;
		for (int i = SyncState->nslots - 1; i >= 0; i--)
		{
			SyncJobSlot *s = &SyncState->slots[i];

			if (s->in_use && s->dboid == dboid && SYNC_JOB_IS_SERIES(s->kind) && !s->retired &&
				s->pool_worker == most)
			{
				s->pool_worker = least;
				load[most]--;
				load[least]++;
				wake[most] = wake[least] = true;
				break;
			}
		}
		moves++;
	}
	LWLockRelease(SyncState->lock);

	for (int w = 0; w < SYNC_MAX_POOL_WORKERS; w++)
		if (wake[w] && latch[w] != NULL)
			SetLatch(latch[w]);
}
