/*-------------------------------------------------------------------------
 * storage_citus.h
 *	  Whether a table sync writes is a Citus distributed table.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_STORAGE_CITUS_H
#define SYNC_STORAGE_CITUS_H

extern bool sync_citus_distributed(const char *relname);

#endif							/* SYNC_STORAGE_CITUS_H */
