/*-------------------------------------------------------------------------
 * pool_assign.h
 *	  Which pool worker carries which series (pool_assign.c); called by
 *	  the supervisor.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_POOL_ASSIGN_H
#define SYNC_POOL_ASSIGN_H

extern int	sync_pool_workers_allowed(Oid dboid);
extern void sync_pool_assign(Oid dboid, const bool *running);
extern bool sync_pool_retire_series(int slot);

#endif							/* SYNC_POOL_ASSIGN_H */
