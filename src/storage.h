/*-------------------------------------------------------------------------
 * storage.h
 *	  Writes parsed records, rejects, checkpoints and job history.
 *	  Each function runs inside the caller's transaction.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_STORAGE_H
#define SYNC_STORAGE_H

#include "catalog.h"
#include "record.h"

extern TimestampTz sync_ms_to_timestamptz(int64 ms);
extern int64 sync_timestamptz_to_ms(TimestampTz ts);

extern int64 sync_store_page(SyncJob *job, const SyncPage *page,
								 int64 from_ms, int64 to_ms, TimestampTz checkpoint);
extern void sync_store_checked_gap(SyncJob *job, int64 from_ms, int64 to_ms);
extern void sync_store_reject(SyncJob *job, const char *reason, const char *payload);
extern int64 sync_last_trade_id(SyncJob *job);
extern bool sync_has_data_before(SyncJob *job, bool trades, int64 ms);
extern void sync_uncheck_gaps(SyncJob *job, int64 from_ms, int64 to_ms);

extern void sync_job_run_begin(SyncJob *job, const char *kind,
							   TimestampTz range_from, TimestampTz range_to);
extern void sync_job_run_finish(SyncJob *job, const char *state, const char *error);
extern void sync_job_runs_interrupt_stale(int32 subscription_id);
extern void sync_job_run_resume(SyncJob *job);
extern void sync_subscription_set_error(SyncJob *job, const char *error, bool permanent);

#endif							/* SYNC_STORAGE_H */
