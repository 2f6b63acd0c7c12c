/*-------------------------------------------------------------------------
 * shmem.h
 *	  Shared state of the sync workers: which databases run sync (with
 *	  their supervisor), and one slot per running job with its live status.
 *
 * sync_status() reads the slots, so a worker reports progress by writing
 * a few words here instead of writing the catalog for every message.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_SHMEM_H
#define SYNC_SHMEM_H

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#define SYNC_MAX_DATABASES	64
#define SYNC_ERROR_LEN		512

typedef enum SyncPhase
{
	SYNC_PHASE_PENDING = 0,
	SYNC_PHASE_BACKFILL,
	SYNC_PHASE_REALTIME,
	SYNC_PHASE_IDLE,
	SYNC_PHASE_RETRYING,
	SYNC_PHASE_ERROR,
	SYNC_PHASE_STOPPED
} SyncPhase;

/* A database that should run sync, and its supervisor. */
typedef struct SyncDatabase
{
	Oid			dboid;			/* InvalidOid: entry unused */
	pid_t		supervisor_pid; /* 0 while no supervisor runs */
	bool		stop_requested;
} SyncDatabase;

/* One running (or restarting) job. */
typedef struct SyncJobSlot
{
	bool		in_use;
	Oid			dboid;
	int32		subscription_id;
	pid_t		pid;
	SyncPhase	phase;
	TimestampTz newest_event;
	TimestampTz retry_at;		/* 0: none */
	TimestampTz last_error_at;	/* 0: none */
	char		last_error[SYNC_ERROR_LEN];
} SyncJobSlot;

typedef struct SyncShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	int			nslots;
	SyncDatabase dbs[SYNC_MAX_DATABASES];
	SyncJobSlot slots[FLEXIBLE_ARRAY_MEMBER];
} SyncShared;

extern SyncShared *SyncState;

extern const char *sync_phase_name(SyncPhase phase);
extern bool sync_shmem_available(void);

/* Databases; the caller holds SyncState->lock. */
extern SyncDatabase *sync_find_database(Oid dboid);
extern SyncDatabase *sync_add_database(Oid dboid);

/* Job slots */
extern int	sync_slot_acquire(Oid dboid, int32 subscription_id);
extern void sync_slot_release(int slot);
extern void sync_slot_set_phase(int slot, SyncPhase phase);
extern void sync_slot_set_error(int slot, SyncPhase phase, const char *message,
								TimestampTz retry_at);
extern void sync_slot_report(int slot, SyncPhase phase, TimestampTz newest_event);

#endif							/* SYNC_SHMEM_H */
