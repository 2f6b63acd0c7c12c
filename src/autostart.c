/*-------------------------------------------------------------------------
 * autostart.c
 *	  Persists the set of databases in which sync_start() was called, so
 *	  the launcher brings their supervisors back after a server restart
 *	  (sync_stop() removes a database again).
 *
 * The file lives in the data directory, like autoprewarm's block list: it
 * belongs to this cluster, not to any one database.  It is rewritten whole
 * through a temporary file and a durable rename, so a crash leaves either
 * the old or the new list.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "storage/fd.h"

#include "autostart.h"
#include "shmem.h"

#define AUTOSTART_FILE		"pg_sync.autostart"
#define AUTOSTART_TMPFILE	"pg_sync.autostart.tmp"

/*
 * Read the file into SyncState->dbs.  Called by the launcher at start, with
 * no lock needed yet since nobody else writes the list before it runs.
 */
void
sync_autostart_load(void)
{
	FILE	   *f;
	unsigned int dboid;

	f = AllocateFile(AUTOSTART_FILE, "r");
	if (f == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", AUTOSTART_FILE)));
		return;
	}
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	while (fscanf(f, "%u\n", &dboid) == 1)
	{
		if (OidIsValid(dboid))
			sync_add_database((Oid) dboid);
	}
	LWLockRelease(SyncState->lock);
	FreeFile(f);
}

/*
 * Write SyncState->dbs to the file.  The caller holds SyncState->lock, so
 * two backends never interleave their writes.
 */
void
sync_autostart_save(void)
{
	FILE	   *f;

	f = AllocateFile(AUTOSTART_TMPFILE, "w");
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", AUTOSTART_TMPFILE)));
	for (int i = 0; i < SYNC_MAX_DATABASES; i++)
	{
		SyncDatabase *db = &SyncState->dbs[i];

		if (OidIsValid(db->dboid) && !db->stop_requested)
			fprintf(f, "%u\n", db->dboid);
	}
	if (FreeFile(f) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", AUTOSTART_TMPFILE)));
	durable_rename(AUTOSTART_TMPFILE, AUTOSTART_FILE, ERROR);
}
