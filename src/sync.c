/*-------------------------------------------------------------------------
 * sync.c
 *	  Library entry point.  _PG_init only hands off to each module's init:
 *	  GUCs, shared memory and the launcher background worker.
 *
 * The workers need shared memory and a static launcher, both of which can
 * only be set up while shared_preload_libraries is being processed.  Loaded
 * any other way (a plain CREATE EXTENSION), the SQL functions still work and
 * sync_start() explains how to enable the workers.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "sync.h"

PG_MODULE_MAGIC;

bool		sync_preloaded = false;

void		_PG_init(void);

void
_PG_init(void)
{
	sync_guc_init();

	if (!process_shared_preload_libraries_in_progress)
		return;

	sync_preloaded = true;
	sync_shmem_init();
	sync_launcher_register();
}
