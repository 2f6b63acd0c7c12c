/*-------------------------------------------------------------------------
 * shmem.h
 *	  Shared state of the sync workers: which databases run sync (with
 *	  their supervisor), one slot per job (a series, or a process of sync's
 *	  own) with its live status, and the request pacing of each source.
 *
 * sync_status() reads the slots, so a worker reports progress by writing
 * a few words here instead of writing the catalog for every message.
 * A series' slot also says which pool worker carries it (pool_worker,
 * set by the supervisor) and which process holds it now (pid, set by
 * that worker): a series changes hands only while no process holds it.
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
	SYNC_PHASE_STOPPED,
	SYNC_PHASE_QUEUED			/* waiting for a pool worker to carry it */
} SyncPhase;

/*
 * What a slot is for.  The first two are series, carried by pool workers;
 * the others are processes the supervisor runs.  A slot is named by its
 * kind and an id whose meaning the kind gives.
 */
typedef enum SyncJobKind
{
	SYNC_JOB_NONE = 0,
	SYNC_JOB_SUBSCRIPTION,		/* id: sync.subscriptions.id */
	SYNC_JOB_RUN,				/* id: sync.job_runs.id of a sync_backfill() run */
	SYNC_JOB_AGGREGATOR,		/* id: 0 */
	SYNC_JOB_SCHEDULER,			/* id: 0 */
	SYNC_JOB_STREAMER,			/* id: the source's id */
	SYNC_JOB_POOL				/* id: the pool worker's number in its database */
} SyncJobKind;

/* A job's name: its kind and id (the supervisor's hash key). */
typedef struct SyncJobKey
{
	SyncJobKind kind;
	int32		id;
} SyncJobKey;

#define SYNC_JOB_IS_SERIES(kind) ((kind) == SYNC_JOB_SUBSCRIPTION || (kind) == SYNC_JOB_RUN)

/* Why a series waits (sync_health() names it). */
typedef enum SyncWaitReason
{
	SYNC_WAIT_NONE = 0,
	SYNC_WAIT_NO_WORKER,		/* no pool worker runs to carry it */
	SYNC_WAIT_WORKER_BUSY		/* its worker has every transfer in use */
} SyncWaitReason;

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

/* One job: a series, or one of sync's processes. */
typedef struct SyncJobSlot
{
	bool		in_use;
	Oid			dboid;
	SyncJobKind kind;
	int32		id;				/* see SyncJobKind */
	pid_t		pid;			/* the process holding it now, 0 if none */
	int			pool_worker;	/* series: the pool worker assigned, -1 if none */
	bool		retired;		/* series: removed; freed once no process holds it */
	Latch	   *latch;			/* a process's own slot: its latch */
	TimestampTz waiting_since;	/* series: due but not served since, 0 if not */
	SyncWaitReason wait_reason;
	SyncPhase	phase;
	TimestampTz newest_event;
	TimestampTz retry_at;		/* 0: none */
	TimestampTz last_error_at;	/* 0: none */
	char		last_error[SYNC_ERROR_LEN];
	SyncJobCounters counters;
	SyncSeam	seam;
} SyncJobSlot;

/*
 * A source's requests, across every pool worker (ratelimit.c): the next
 * moment its pacing (requests_per_minute) allows one, and the moment a
 * provider's limit (429 with Retry-After, an exhausted X-RateLimit, Binance
 * weight) holds every request of the source until.
 */
typedef struct SyncSourceRate
{
	Oid			dboid;			/* InvalidOid: entry unused */
	int32		source_id;
	TimestampTz next_at;
	TimestampTz blocked_until;
	TimestampTz last_used;		/* to recycle the entry of a quiet source */
} SyncSourceRate;

#define SYNC_MAX_SOURCE_RATES	1024

typedef struct SyncShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	int			nslots;
	SyncDatabase dbs[SYNC_MAX_DATABASES];
	SyncSourceRate rates[SYNC_MAX_SOURCE_RATES];
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
extern int	sync_slot_acquire(Oid dboid, SyncJobKind kind, int32 id);
extern int	sync_slot_find(Oid dboid, SyncJobKind kind, int32 id);
extern const char *sync_job_kind_name(SyncJobKind kind);
extern int32 sync_job_legacy_id(SyncJobKind kind, int32 id);
extern int32 sync_stream_store_marker_id(int32 source_id);
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
