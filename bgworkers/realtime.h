/*-------------------------------------------------------------------------
 * realtime.h
 *	  The streaming phase of a job (see realtime.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_REALTIME_H
#define SYNC_REALTIME_H

#include "catalog.h"
#include "providers/provider.h"

typedef struct SyncStreamJob
{
	const SyncJob *job;
	const SyncProvider *provider;
	const SyncBarQuery *rest_query;	/* symbol, interval, keys */
	bool		trades;
	int			slot;			/* shared-memory slot, for phase and counters */
	/* REST from the checkpoint to until_ms; false (error recorded) on failure */
	bool		(*catch_up) (int64 until_ms);
	/* store one batch in its own transaction, checkpoint at newest_ms */
	void		(*store) (SyncPage *page, int64 newest_ms);
} SyncStreamJob;

/* How a stream ended. */
typedef enum SyncStreamEnd
{
	SYNC_STREAM_STOPPED,		/* SIGTERM: what it held is stored */
	SYNC_STREAM_LOST,			/* connection failed or broke: error says why */
	SYNC_STREAM_RENEW			/* closed on purpose after sync.stream_max_age_ms */
} SyncStreamEnd;

extern bool sync_stream_available(const SyncJob *job, const SyncProvider *provider, bool trades);
extern SyncStreamEnd sync_stream_run(const SyncStreamJob *s, char *error, size_t errlen);

#endif							/* SYNC_REALTIME_H */
