/*-------------------------------------------------------------------------
 * worker_common.h
 *	  What every sync background worker shares: signal handling, latch
 *	  waits, transactions that record failures instead of dying, backoff.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_WORKER_COMMON_H
#define SYNC_WORKER_COMMON_H

#include "postgres.h"

#include <signal.h>

#include "datatype/timestamp.h"

#include "shmem.h"

/* Passed to the supervisor's processes in bgw_extra: what each one is. */
typedef struct SyncWorkerArgs
{
	Oid			dboid;
	SyncJobKind kind;			/* aggregator, scheduler, streamer or pool */
	int32		id;				/* see SyncJobKind */
	bool		crash_guarded;	/* leave a crash-guard marker (src/crash_guard.c) */
} SyncWorkerArgs;

extern volatile sig_atomic_t sync_got_sigterm;

extern void sync_worker_init_signals(void);
extern bool sync_worker_stopping(void);
extern void sync_worker_reload_if_asked(void);
extern bool sync_worker_sleep_until(TimestampTz deadline);
extern bool sync_worker_sleep_interval(TimestampTz since, const int *interval_ms);
extern bool sync_worker_txn(const char *activity, void (*fn) (void *), void *arg,
							char *errbuf, size_t errlen);
extern long sync_backoff_ms(int failures);
extern void sync_worker_commit_waits(bool wait);
extern void sync_worker_keep_heap(void);
extern bool sync_service_attach(int slot, SyncJobKind kind, int32 id);

/* One "SELECT f(...)" returning a number, for sync_worker_txn(). */
typedef struct SyncSqlCall
{
	const char *sql;
	int32		arg;			/* passed as $1 when has_arg */
	bool		has_arg;
	int64		result;			/* NULL counts as 0 */
} SyncSqlCall;

extern void sync_worker_sql_number(void *call);

/*
 * When to start a supervised process again: at once after it ran a while,
 * with growing backoff while it keeps dying young or cannot be started.
 */
typedef struct SyncRestartPolicy
{
	TimestampTz started_at;
	TimestampTz next_start;
	int			failures;
} SyncRestartPolicy;

extern void sync_restart_started(SyncRestartPolicy *r, TimestampTz now);
extern void sync_restart_exited(SyncRestartPolicy *r, TimestampTz now);
extern void sync_restart_failed(SyncRestartPolicy *r, TimestampTz now);

#endif							/* SYNC_WORKER_COMMON_H */
