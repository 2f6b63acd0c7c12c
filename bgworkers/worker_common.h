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
	int32		subscription_id;
} SyncWorkerArgs;

extern volatile sig_atomic_t sync_got_sigterm;

extern void sync_worker_init_signals(void);
extern bool sync_worker_stopping(void);
extern void sync_worker_reload_if_asked(void);
extern bool sync_worker_sleep_until(TimestampTz deadline);
extern bool sync_worker_txn(const char *activity, void (*fn) (void *), void *arg,
							char *errbuf, size_t errlen);
extern long sync_backoff_ms(int failures);

#endif							/* SYNC_WORKER_COMMON_H */
