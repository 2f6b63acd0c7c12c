/*-------------------------------------------------------------------------
 * catalog.h
 *	  A job as a worker sees it: its subscription, source and secret,
 *	  read from the catalog once when the worker starts.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_CATALOG_H
#define SYNC_CATALOG_H

#include "datatype/timestamp.h"
#include "utils/palloc.h"
#include "utils/timestamp.h"

typedef struct SyncJob
{
	int32		subscription_id;
	int32		source_id;
	char	   *source_name;
	char	   *provider;
	char	   *base_url;		/* NULL: the provider's public one */
	char	   *stream_url;		/* NULL: the provider's public stream */
	char	   *symbol;
	char	   *dataset;
	int64		interval_ms;
	Interval   *bar_interval;	/* the same, as stored */
	TimestampTz history_from;	/* DT_NOBEGIN when no backfill asked */
	TimestampTz synced_through; /* DT_NOBEGIN when nothing synced yet */
	bool		realtime;
	int			page_size;		/* 0: the provider's maximum */
	int			requests_per_minute;	/* 0: no limit of our own */
	int			poll_interval_ms;	/* 0: sync.poll_interval_ms */
	int			timeout_ms;		/* 0: sync.http_timeout_ms */
	char	   *key_id;			/* NULL when none */
	char	   *secret;			/* NULL when none */
	char	   *feed;			/* Alpaca's feed option, NULL when unset */
	bool		trusted;		/* a superuser created the source: it may reach
								 * non-public addresses (see http.h) */
	int64		job_run_id;		/* open backfill run in sync.job_runs, 0 if none */
	bool		one_off;		/* a requested run (sync_backfill), no subscription */
	TimestampTz range_to;		/* end of a one-off run; DT_NOEND for subscriptions */
} SyncJob;

extern bool sync_extension_ready(void);
extern bool sync_job_load(int32 subscription_id, MemoryContext cxt, SyncJob *job);
extern bool sync_job_load_run(int64 job_run_id, MemoryContext cxt, SyncJob *job);

#endif							/* SYNC_CATALOG_H */
