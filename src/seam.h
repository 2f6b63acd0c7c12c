/*-------------------------------------------------------------------------
 * seam.h
 *	  The handover of a caught-up job's series to its source's streamer,
 *	  through shared memory (see seam.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_SEAM_H
#define SYNC_SEAM_H

#include "shmem.h"

/* The job's side */
extern void sync_seam_want(int slot, int32 source_id, bool wanted);
extern SyncSeam sync_seam_read(int slot);
extern void sync_seam_close(int slot, uint32 epoch);

/* The streamer's side; series are named by subscription id */
extern int	sync_seam_wanted(Oid dboid, int32 source_id, int32 *ids, int max);
extern uint32 sync_seam_taken(Oid dboid, int32 subscription_id, int64 opened_ms);
extern int	sync_seam_dropped(Oid dboid, int32 subscription_id, uint32 epoch);
extern bool sync_seam_stored(Oid dboid, int32 subscription_id, uint32 epoch, int64 stored_ms,
							 int64 next_trade_id, int *slot);

#endif							/* SYNC_SEAM_H */
