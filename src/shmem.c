/*-------------------------------------------------------------------------
 * shmem.c
 *	  Owns the shared-memory segment of sync (see shmem.h): its size
 *	  request, its initialisation and the small accessors every process
 *	  uses to read or write it under one LWLock.
 *
 * PostgreSQL 15 wants shared memory requested from shmem_request_hook and
 * initialised under AddinShmemInitLock; both hooks chain to their
 * predecessors.  The postmaster runs the startup hook at its start and again
 * after each crash of a backend, once every backend is gone: the moment the
 * crash guard (crash_guard.c) looks for the job that caused it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "crash_guard.h"
#include "guc.h"
#include "shmem.h"
#include "sync.h"

SyncShared *SyncState = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* postmaster only: shared memory was created before, so this is a crash reset */
static bool shmem_created_before = false;

static Size
sync_shmem_size(void)
{
	return add_size(offsetof(SyncShared, slots),
					mul_size(sizeof(SyncJobSlot), sync_max_series));
}

static void
sync_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(sync_shmem_size());
	RequestNamedLWLockTranche("sync", 1);
}

static void
sync_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	SyncState = ShmemInitStruct("sync", sync_shmem_size(), &found);
	if (!found)
	{
		memset(SyncState, 0, sync_shmem_size());
		SyncState->lock = &(GetNamedLWLockTranche("sync"))->lock;
		SyncState->nslots = sync_max_series;

		/*
		 * In the postmaster no backend is alive now: the crash guard can
		 * tell which job worker caused this reset (crash_guard.c).
		 */
		if (IsPostmasterEnvironment && !IsUnderPostmaster)
		{
			sync_crash_guard_sweep(shmem_created_before);
			shmem_created_before = true;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

void
sync_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = sync_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = sync_shmem_startup;
}

bool
sync_shmem_available(void)
{
	return sync_preloaded && SyncState != NULL;
}

const char *
sync_phase_name(SyncPhase phase)
{
	switch (phase)
	{
		case SYNC_PHASE_PENDING:
			return "pending";
		case SYNC_PHASE_BACKFILL:
			return "backfill";
		case SYNC_PHASE_REALTIME:
			return "realtime";
		case SYNC_PHASE_IDLE:
			return "idle";
		case SYNC_PHASE_RETRYING:
			return "retrying";
		case SYNC_PHASE_ERROR:
			return "error";
		case SYNC_PHASE_STOPPED:
			return "stopped";
		case SYNC_PHASE_QUEUED:
			return "queued";
	}
	return "unknown";
}

const char *
sync_job_kind_name(SyncJobKind kind)
{
	switch (kind)
	{
		case SYNC_JOB_NONE:
			break;
		case SYNC_JOB_SUBSCRIPTION:
			return "subscription";
		case SYNC_JOB_RUN:
			return "run";
		case SYNC_JOB_AGGREGATOR:
			return "aggregator";
		case SYNC_JOB_SCHEDULER:
			return "scheduler";
		case SYNC_JOB_STREAMER:
			return "streamer";
		case SYNC_JOB_POOL:
			return "pool";
	}
	return "unknown";
}

/*
 * The one integer that named a job before 0.6.0: a subscription its id, a
 * requested run its negated id, the aggregator 0, the scheduler INT32_MIN,
 * a streamer INT32_MIN + 1 + its source id.  Pool workers (new in 0.6.0)
 * follow the streamers' range.  Only two things keep it: the crash guard's
 * files on disk (so records written by 0.5.0 still count), and the first
 * column of sync._worker_status() and sync._worker_metrics(), for SQL of
 * 0.5.0 that still joins on it.  Everything else goes by kind and id.
 */
#define LEGACY_SERVICE_BASE	(PG_INT32_MIN + 1)
#define LEGACY_POOL_BASE	(LEGACY_SERVICE_BASE + (1 << 24))

int32
sync_job_legacy_id(SyncJobKind kind, int32 id)
{
	switch (kind)
	{
		case SYNC_JOB_SUBSCRIPTION:
			return id;
		case SYNC_JOB_RUN:
			return -id;
		case SYNC_JOB_AGGREGATOR:
		case SYNC_JOB_NONE:
			return 0;
		case SYNC_JOB_SCHEDULER:
			return PG_INT32_MIN;
		case SYNC_JOB_STREAMER:
			return LEGACY_SERVICE_BASE + id;
		case SYNC_JOB_POOL:
			return LEGACY_POOL_BASE + id;
	}
	return 0;
}

/*
 * The crash guard's marker name of a source's storer process: past every
 * job's and pool worker's id, so it never shares its streamer's marker
 * (the storer blames its streamer's job in it instead).
 */
int32
sync_stream_store_marker_id(int32 source_id)
{
	return LEGACY_POOL_BASE + (1 << 24) + source_id;
}

SyncDatabase *
sync_find_database(Oid dboid)
{
	for (int i = 0; i < SYNC_MAX_DATABASES; i++)
		if (SyncState->dbs[i].dboid == dboid)
			return &SyncState->dbs[i];
	return NULL;
}

SyncDatabase *
sync_add_database(Oid dboid)
{
	SyncDatabase *db = sync_find_database(dboid);

	if (db == NULL)
		db = sync_find_database(InvalidOid);
	if (db == NULL)
		return NULL;
	if (db->dboid != dboid)
	{
		db->dboid = dboid;
		db->supervisor_pid = 0;
	}
	db->stop_requested = false;
	return db;
}

/*
 * Find the slot of a job, or take a free one.  Returns -1 when all slots are
 * taken (sync.max_series reached).
 */
int
sync_slot_acquire(Oid dboid, SyncJobKind kind, int32 id)
{
	int			free_slot = -1;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use && s->dboid == dboid && s->kind == kind && s->id == id)
		{
			free_slot = i;
			break;
		}
		if (!s->in_use && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0 && !SyncState->slots[free_slot].in_use)
	{
		SyncJobSlot *s = &SyncState->slots[free_slot];

		memset(s, 0, sizeof(*s));
		s->in_use = true;
		s->dboid = dboid;
		s->kind = kind;
		s->id = id;
		s->pool_worker = -1;
		s->phase = SYNC_JOB_IS_SERIES(kind) ? SYNC_PHASE_QUEUED : SYNC_PHASE_PENDING;
	}
	LWLockRelease(SyncState->lock);
	return free_slot;
}

/* The slot of a job, or -1. */
int
sync_slot_find(Oid dboid, SyncJobKind kind, int32 id)
{
	int			found = -1;

	LWLockAcquire(SyncState->lock, LW_SHARED);
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use && s->dboid == dboid && s->kind == kind && s->id == id)
		{
			found = i;
			break;
		}
	}
	LWLockRelease(SyncState->lock);
	return found;
}

void
sync_slot_release(int slot)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	memset(&SyncState->slots[slot], 0, sizeof(SyncJobSlot));
	LWLockRelease(SyncState->lock);
}

void
sync_slot_set_phase(int slot, SyncPhase phase)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	SyncState->slots[slot].phase = phase;
	if (phase != SYNC_PHASE_RETRYING)
		SyncState->slots[slot].retry_at = 0;
	LWLockRelease(SyncState->lock);
}

void
sync_slot_set_error(int slot, SyncPhase phase, const char *message,
					TimestampTz retry_at)
{
	SyncJobSlot *s = &SyncState->slots[slot];

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	s->phase = phase;
	s->retry_at = retry_at;
	s->last_error_at = GetCurrentTimestamp();
	strlcpy(s->last_error, message, SYNC_ERROR_LEN);
	LWLockRelease(SyncState->lock);
}

/* A job's phase and the time of the newest data it holds. */
void
sync_slot_report(int slot, SyncPhase phase, TimestampTz newest_event)
{
	SyncJobSlot *s = &SyncState->slots[slot];

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	s->phase = phase;
	if (newest_event > s->newest_event)
		s->newest_event = newest_event;
	s->retry_at = 0;
	LWLockRelease(SyncState->lock);
}

/* A palloc'd copy of the slots in use by one database; *n gets their count. */
SyncJobSlot *
sync_slots_of_database(Oid dboid, int *n)
{
	SyncJobSlot *copy = palloc(sizeof(SyncJobSlot) * Max(SyncState->nslots, 1));

	*n = 0;
	LWLockAcquire(SyncState->lock, LW_SHARED);
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use && s->dboid == dboid)
			copy[(*n)++] = *s;
	}
	LWLockRelease(SyncState->lock);
	return copy;
}
