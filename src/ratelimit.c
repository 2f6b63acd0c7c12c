/*-------------------------------------------------------------------------
 * ratelimit.c
 *	  Owns the request pacing of each source across processes: a provider
 *	  limits the key or the address, not the symbol, so every series of a
 *	  source, in whichever pool worker, shares one pace and one hold.
 *
 * Two limits apply (SyncSourceRate in shmem.h):
 *	 - the source's own requests_per_minute option: requests are spaced
 *	   60 s / requests_per_minute apart, whichever series asks;
 *	 - the provider's word: a 429 (or 418, 503) with Retry-After, an
 *	   exhausted X-RateLimit-Remaining, Binance's weight near its limit hold
 *	   every request of the source until the moment given.
 * A worker asks before each request (sync_rate_acquire) and, when told to
 * wait, puts the series aside until then instead of sleeping: its other
 * series, of other sources, go on.
 *
 * The table has a fixed number of entries; a source not seen for a while
 * gives its entry up to a new one (its pace starts afresh, which is only
 * the state of a source that has not asked for a long time anyway).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "ratelimit.h"
#include "shmem.h"

/* The entry of a source, created if missing; the caller holds the lock exclusively. */
static SyncSourceRate *
rate_entry(Oid dboid, int32 source_id)
{
	SyncSourceRate *oldest = NULL;

	for (int i = 0; i < SYNC_MAX_SOURCE_RATES; i++)
	{
		SyncSourceRate *r = &SyncState->rates[i];

		if (r->dboid == dboid && r->source_id == source_id)
			return r;
		if (oldest == NULL || r->dboid == InvalidOid ||
			(oldest->dboid != InvalidOid && r->last_used < oldest->last_used))
			oldest = r;
	}
	memset(oldest, 0, sizeof(*oldest));
	oldest->dboid = dboid;
	oldest->source_id = source_id;
	return oldest;
}

/*
 * May a request of the source go at `now`?  Returns 0 when it may (its
 * pace is then taken: the next request of the source waits its turn), or
 * the moment to ask again.
 */
TimestampTz
sync_rate_acquire(Oid dboid, int32 source_id, int requests_per_minute, TimestampTz now)
{
	SyncSourceRate *r;
	TimestampTz wait_until = 0;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	r = rate_entry(dboid, source_id);
	r->last_used = now;
	if (r->blocked_until > now)
		wait_until = r->blocked_until;
	else if (requests_per_minute > 0 && r->next_at > now)
		wait_until = r->next_at;
	else if (requests_per_minute > 0)
		r->next_at = now + (int64) 60 * USECS_PER_SEC / requests_per_minute;
	LWLockRelease(SyncState->lock);
	return wait_until;
}

/* The provider holds every request of the source until `until`. */
void
sync_rate_hold(Oid dboid, int32 source_id, TimestampTz until)
{
	SyncSourceRate *r;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	r = rate_entry(dboid, source_id);
	if (until > r->blocked_until)
		r->blocked_until = until;
	LWLockRelease(SyncState->lock);
}

