/*-------------------------------------------------------------------------
 * sync.h
 *	  Declarations shared by the whole sync extension: module entry points
 *	  that _PG_init hands off to, and the few constants every module uses.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_EXTENSION_H
#define SYNC_EXTENSION_H

#include "postgres.h"

#define SYNC_LIBRARY_NAME "sync"

/* true when the library was loaded through shared_preload_libraries */
extern bool sync_preloaded;

/* guc.c */
extern void sync_guc_init(void);

/* shmem.c */
extern void sync_shmem_init(void);

/* bgworkers/launcher.c */
extern void sync_launcher_register(void);

#endif							/* SYNC_EXTENSION_H */
