/*-------------------------------------------------------------------------
 * ratelimit.h
 *	  Request pacing of a source, shared by every pool worker (ratelimit.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_RATELIMIT_H
#define SYNC_RATELIMIT_H

#include "datatype/timestamp.h"

extern TimestampTz sync_rate_acquire(Oid dboid, int32 source_id, int requests_per_minute,
									 TimestampTz now);
extern void sync_rate_hold(Oid dboid, int32 source_id, TimestampTz until);

#endif							/* SYNC_RATELIMIT_H */
