/*-------------------------------------------------------------------------
 * realtime.h
 *	  One stream connection carrying a set of series (see realtime.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_REALTIME_H
#define SYNC_REALTIME_H

#include "catalog.h"
#include "providers/provider.h"

/*
 * What a stream needs from its owner.  sync_stream_run() allocates the
 * targets' pages; the owner gives the queries and the callbacks.
 */
typedef struct SyncStream
{
	const SyncProvider *provider;
	const char *root;			/* stream URL root as the source gives it */
	SyncStreamSet set;			/* the series; pages are filled in by sync_stream_run */
	int			slot;			/* shared-memory slot of the connection's owner */
	bool		trusted;		/* a superuser created the source (see http.h) */
	/* the provider confirmed every series: close the seam; false with error on failure */
	bool		(*subscribed) (void *arg, int64 opened_ms, char *error, size_t errlen);
	/*
	 * hand every target's page over to be stored in one transaction;
	 * newest[i] is target i's newest time.  Without wait, false when it
	 * cannot be taken now (the storer is behind): the same page, unchanged,
	 * is offered again, and the socket is not read meanwhile.
	 */
	bool		(*store) (void *arg, SyncStreamSet *set, const int64 *newest, bool wait);
	/* true when the set should change: the stream ends with SYNC_STREAM_RENEW */
	bool		(*renew) (void *arg);
	void	   *arg;
} SyncStream;

/* How a stream ended. */
typedef enum SyncStreamEnd
{
	SYNC_STREAM_STOPPED,		/* SIGTERM: what it held is stored */
	SYNC_STREAM_LOST,			/* connection failed or broke: error says why */
	SYNC_STREAM_RENEW			/* closed on purpose (age, or a new set) */
} SyncStreamEnd;

extern bool sync_stream_available(const SyncJob *job, const SyncProvider *provider, bool trades);
extern SyncStreamEnd sync_stream_run(SyncStream *s, char *error, size_t errlen);

#endif							/* SYNC_REALTIME_H */
