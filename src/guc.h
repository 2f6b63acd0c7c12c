/*-------------------------------------------------------------------------
 * guc.h
 *	  The sync.* configuration parameters (see guc.c and docs/reference.md).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_GUC_H
#define SYNC_GUC_H

/* most pool workers sync.max_workers may ask for */
#define SYNC_MAX_POOL_WORKERS 64

extern int	sync_max_workers;
extern int	sync_max_series;
extern int	sync_http_timeout_ms;
extern char *sync_user_agent;
extern char *sync_ca_bundle;
extern int	sync_poll_interval_ms;
extern int	sync_retry_base_ms;
extern int	sync_retry_max_ms;
extern int	sync_naptime_ms;
extern int	sync_gap_repair_interval_ms;
extern int	sync_requests_in_flight;
extern int	sync_aggregate_interval_ms;
extern int	sync_aggregate_batch;
extern bool sync_keep_rollups;
extern int	sync_retention_interval_ms;
extern int	sync_retention_batch;
extern int	sync_job_history_days;
extern int	sync_notify_interval_ms;
extern int	sync_flush_interval_ms;
extern int	sync_stream_batch;
extern int	sync_stream_queue_size;
extern bool sync_stream_synchronous_commit;
extern bool sync_synchronous_commit;
extern int	sync_stream_max_age_ms;
extern int	sync_stream_idle_timeout_ms;
extern int	sync_max_response_size_kb;
extern int	sync_max_file_size_kb;
extern bool sync_allow_private_addresses;

#endif							/* SYNC_GUC_H */
