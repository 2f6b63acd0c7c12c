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

/* Passed to job workers in bgw_extra. */
typedef struct SyncWorkerArgs
{
	Oid			dboid;
	int32		subscription_id;	/* < 0: the negated id of a requested run */
	bool		crash_guarded;	/* leave a crash-guard marker (src/crash_guard.c) */
} SyncWorkerArgs;

/*
 * The supervisor runs a database's aggregator and scheduler as jobs with
 * these ids; subscriptions have positive ids and requested runs their
 * negated ids, which never reach PG_INT32_MIN.
 */
#define SYNC_AGGREGATOR_JOB_ID	0
#define SYNC_SCHEDULER_JOB_ID	PG_INT32_MIN

/*
 * A source's streamer (streamer.c) runs as the job PG_INT32_MIN + 1 +
 * source id: below the negated ids of requested runs for any run id under
 * 2^31 minus the number of sources.
 */
#define SYNC_STREAMER_JOB_BASE	(PG_INT32_MIN + 1)
#define SYNC_STREAMER_JOB_ID(source_id)	(SYNC_STREAMER_JOB_BASE + (source_id))
#define SYNC_IS_STREAMER_JOB(id)	((id) > SYNC_STREAMER_JOB_BASE - 1 && (id) < SYNC_STREAMER_JOB_BASE + (1 << 24))

extern volatile sig_atomic_t sync_got_sigterm;

extern void sync_worker_init_signals(void);
extern bool sync_worker_stopping(void);
extern void sync_worker_reload_if_asked(void);
extern bool sync_worker_sleep_until(TimestampTz deadline);
extern bool sync_worker_txn(const char *activity, void (*fn) (void *), void *arg,
							char *errbuf, size_t errlen);
extern long sync_backoff_ms(int failures);
extern bool sync_service_attach(int slot, int32 job_id);

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
