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

/* HTTP answers counted per job, by class (labels of sync_metrics()). */
typedef enum SyncHttpClass
{
	SYNC_HTTP_2XX = 0,			/* also a file:// read that worked */
	SYNC_HTTP_3XX,
	SYNC_HTTP_4XX,
	SYNC_HTTP_429,				/* rate limited: 429, 418, 503 */
	SYNC_HTTP_5XX,
	SYNC_HTTP_FAILED,			/* no answer: timeout, reset, DNS... */
	SYNC_HTTP_NCLASSES
} SyncHttpClass;

/* upper bounds (seconds) of the batch commit latency histogram */
#define SYNC_COMMIT_NBUCKETS	10
extern const double sync_commit_buckets[SYNC_COMMIT_NBUCKETS];

/* Counters kept while the job's slot lives (across worker restarts). */
typedef struct SyncJobCounters
{
	uint64		http[SYNC_HTTP_NCLASSES];
	uint64		reconnects;		/* streams lost and opened again */
	int32		failures;		/* consecutive transient failures */
	TimestampTz last_success;	/* last page stored */
	TimestampTz rate_limited_until;
	uint64		commits[SYNC_COMMIT_NBUCKETS + 1];	/* per bucket, last is +Inf */
	uint64		commit_count;
	double		commit_seconds;
} SyncJobCounters;

/*
 * A caught-up job and its source's streamer hand its series over here
 * (src/seam.c): the job asks to be streamed; the streamer says when a
 * connection took the series (a new epoch); the job closes that seam over
 * REST and says so; only then does the streamer move the checkpoint.
 */
typedef struct SyncSeam
{
	bool		wanted;			/* job: stream my series */
	int32		source_id;		/* job: whose streamer that is */
	Latch	   *job_latch;		/* job: woken on a new epoch */
	uint32		epoch;			/* streamer: connections that took the series */
	bool		live;			/* streamer: on an open connection now */
	int64		opened_ms;		/* streamer: when this epoch's connection confirmed it */
	uint32		closed_epoch;	/* job: the epoch whose seam REST closed */
	int64		stored_ms;		/* streamer: checkpoint it stored */
	int64		next_trade_id;	/* streamer: after the newest trade stored (by-id providers) */
} SyncSeam;

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
	SyncJobCounters counters;
	SyncSeam	seam;
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
extern SyncJobSlot *sync_slots_of_database(Oid dboid, int *n);
extern int	sync_slot_acquire(Oid dboid, int32 subscription_id);
extern void sync_slot_release(int slot);
extern void sync_slot_set_phase(int slot, SyncPhase phase);
extern void sync_slot_set_error(int slot, SyncPhase phase, const char *message,
								TimestampTz retry_at);
extern void sync_slot_report(int slot, SyncPhase phase, TimestampTz newest_event);

/* Counters (src/metrics.c) */
extern void sync_slot_count_http(int slot, long status, bool answered);
extern void sync_slot_page_stored(int slot, double commit_seconds);
extern void sync_slot_failed(int slot, int failures);
extern void sync_slot_rate_limited(int slot, TimestampTz until);
extern void sync_slot_reconnect(int slot);

#endif							/* SYNC_SHMEM_H */
