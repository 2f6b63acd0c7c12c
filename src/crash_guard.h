/*-------------------------------------------------------------------------
 * crash_guard.h
 *	  Crash-loop protection: which job's worker crashed the server, kept on
 *	  disk so that it survives the crash recovery it caused (crash_guard.c).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_CRASH_GUARD_H
#define SYNC_CRASH_GUARD_H

#include "datatype/timestamp.h"

/* a job that crashed the server this often within the window is stopped */
#define SYNC_CRASH_LIMIT		2
#define SYNC_CRASH_WINDOW_MS	(10 * 60 * 1000)

/*
 * Every last_error of a job stopped for crashing starts with this;
 * sync._release_crashed() (sql/sync--0.4.0--0.5.0.sql) looks for it.
 */
#define SYNC_CRASH_ERROR_PREFIX	"crashed the server"

/* A job's crashes within the window, as the supervisor reads them. */
typedef struct SyncCrashRecord
{
	int32		job_id;
	int			count;
	TimestampTz last;			/* the newest one */
} SyncCrashRecord;

/* postmaster: shared memory is being (re)initialised, every backend is gone */
extern void sync_crash_guard_sweep(bool after_crash);

/* a job worker, with signals still blocked: leave the marker until a clean exit */
extern void sync_crash_guard_enter(Oid dboid, int32 job_id, const char *name);

/* a pool worker: the series it works on now (its crash counts against it) */
extern void sync_crash_guard_blame(int32 job_id);

/* supervisor */
extern int	sync_crash_guard_recent(Oid dboid, SyncCrashRecord **records);
extern const SyncCrashRecord *sync_crash_guard_find(const SyncCrashRecord *records, int n,
													int32 job_id);
extern void sync_crash_guard_message(const SyncCrashRecord *rec, bool by_subscribe,
									 char *buf, size_t len);
extern bool sync_crash_guard_stop(Oid dboid, int32 job_id, const char *reason);
extern bool sync_crash_guard_stopped(Oid dboid, int32 job_id, char *reason, size_t len);
extern void sync_crash_guard_unstop(Oid dboid, int32 job_id);

/* sync_start(): forget every crash and stop of a database */
extern void sync_crash_guard_release(Oid dboid);

#endif							/* SYNC_CRASH_GUARD_H */
