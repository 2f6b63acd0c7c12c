/*-------------------------------------------------------------------------
 * crash_guard.c
 *	  Crash-loop protection.  A worker that dies by a signal (a segfault,
 *	  the OOM killer) makes the postmaster restart every backend of the
 *	  cluster; if its supervisor then started the same job at once, the
 *	  job would crash the server again and again.  This file owns the
 *	  evidence of which job did it, kept in files under the data directory
 *	  because crash recovery reinitialises shared memory:
 *
 *	  pg_sync/running/<db>.<job>	a job worker is running
 *	  pg_sync/crashes/<db>.<job>.<t>	that job's worker crashed the server at t
 *	  pg_sync/stopped/<db>.<job>	a service job (streamer, aggregator,
 *									scheduler) stopped for crashing; holds
 *									the reason
 *
 * The life of a marker:
 *	 1. a job worker creates its marker first thing (sync_crash_guard_enter,
 *		called by sync_worker_init_signals while signals are blocked);
 *	 2. on any orderly exit (exit 0, or FATAL's exit 1, neither of which
 *		restarts the cluster) an on_proc_exit callback removes it;
 *	 3. when some backend crashes, the postmaster sends SIGQUIT to every
 *		other one: our SIGQUIT handler removes the worker's own marker
 *		(unlink() is async-signal-safe) and _exit(2)s like PostgreSQL's;
 *	 4. the postmaster reinitialises shared memory only once every child is
 *		gone.  At that moment (sync_crash_guard_sweep from the shmem startup
 *		hook) the markers left are those of workers that never ran steps 2
 *		or 3: they died by a signal or SIGKILL, i.e. they caused the
 *		restart.  Each becomes a crash record stamped with the time.  At
 *		the postmaster's first start, markers are left-overs of an earlier
 *		postmaster (a power loss, a kill -9 of the postmaster) and are
 *		only removed: those are no evidence against any job.
 *
 * The supervisor reads its database's crash records before starting
 * anything (sync_crash_guard_recent).  A job with SYNC_CRASH_LIMIT crashes
 * within SYNC_CRASH_WINDOW_MS is not started again: a subscription or a
 * requested run is put in state error in the catalog, a service job gets a
 * stop file.  Both survive further crashes and restarts; sync_start()
 * releases them (sync_crash_guard_release and sync._release_crashed()).
 * Records older than the window are removed as they are read.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_perm.h"
#include "libpq/pqsignal.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/timestamp.h"

#include "crash_guard.h"

#define GUARD_DIR		"pg_sync"
#define RUNNING_DIR		GUARD_DIR "/running"
#define CRASHES_DIR		GUARD_DIR "/crashes"
#define STOPPED_DIR		GUARD_DIR "/stopped"

/* this worker's marker; empty when it has none (read by the signal handler) */
static char marker_path[MAXPGPATH];

static void
guard_make_dirs(void)
{
	const char *dirs[] = {GUARD_DIR, RUNNING_DIR, CRASHES_DIR, STOPPED_DIR};

	for (int i = 0; i < lengthof(dirs); i++)
		if (MakePGDirectory(dirs[i]) < 0 && errno != EEXIST)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not create directory \"%s\": %m", dirs[i])));
}

/* this worker's marker text, to which a blame line is appended */
static char marker_text[128];

/*
 * What a marker says of its worker ("<pid> <bgw_name>"), for the log, and
 * the job a pool worker blamed (a second line "blame <job id>"), if any.
 */
static void
read_marker(const char *path, char *buf, size_t len, int *blamed, bool *has_blame)
{
	char		text[256];
	int			fd = open(path, O_RDONLY | PG_BINARY, 0);
	ssize_t		got = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
	char	   *line2;

	if (fd >= 0)
		close(fd);
	text[Max(got, 0)] = '\0';
	line2 = strchr(text, '\n');
	*has_blame = line2 != NULL && sscanf(line2 + 1, "blame %d", blamed) == 1;
	text[strcspn(text, "\n")] = '\0';
	strlcpy(buf, text, len);
}

/*
 * Called by the postmaster each time it creates shared memory, when no
 * backend is alive: turn the markers left into crash records (after a
 * crash) or drop them (at the first start).  Only LOG: an ERROR here would
 * stop the postmaster.
 */
void
sync_crash_guard_sweep(bool after_crash)
{
	DIR		   *dir;
	struct dirent *de;
	TimestampTz now = GetCurrentTimestamp();

	guard_make_dirs();
	dir = AllocateDir(RUNNING_DIR);
	while ((de = ReadDirExtended(dir, RUNNING_DIR, LOG)) != NULL)
	{
		char		from[MAXPGPATH];
		char		to[MAXPGPATH];
		char		worker[128];
		unsigned int dboid;
		int			job_id;
		int			blamed;
		bool		has_blame;
		char		extra;

		if (sscanf(de->d_name, "%u.%d%c", &dboid, &job_id, &extra) != 2)
			continue;
		snprintf(from, sizeof(from), RUNNING_DIR "/%s", de->d_name);
		if (!after_crash)
		{
			(void) unlink(from);
			continue;
		}
		read_marker(from, worker, sizeof(worker), &blamed, &has_blame);
		/* a pool worker's crash counts against the series it was working on */
		if (has_blame)
			job_id = blamed;
		snprintf(to, sizeof(to), CRASHES_DIR "/%u.%d.%lld", dboid, job_id, (long long) now);
		if (rename(from, to) != 0)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not rename file \"%s\" to \"%s\": %m", from, to)));
		else
			ereport(LOG,
					(errmsg("sync job %d of database %u crashed the server: its worker (pid %s) ended without a clean exit",
							job_id, dboid, worker),
					 errdetail("Its supervisor stops the job after %d such crashes within %d minutes.",
							   SYNC_CRASH_LIMIT, SYNC_CRASH_WINDOW_MS / 60000)));
	}
	if (dir != NULL)
		FreeDir(dir);
}

/*
 * SIGQUIT: some other backend crashed and the postmaster restarts them all.
 * This worker is innocent: take its marker away, then die as PostgreSQL's
 * own handler does.  Only async-signal-safe calls.
 */
static void
crash_guard_quit(SIGNAL_ARGS)
{
	if (marker_path[0] != '\0')
		(void) unlink(marker_path);
	_exit(2);
}

static void
crash_guard_exit(int code, Datum arg)
{
	if (marker_path[0] != '\0')
		(void) unlink(marker_path);
	marker_path[0] = '\0';
}

/*
 * A job worker starts: leave the marker that says so.  Called before
 * signals are unblocked, so the SIGQUIT handler and the marker come into
 * being together.  A marker that cannot be written only costs the guard for
 * this worker (logged), never the job.
 */
void
sync_crash_guard_enter(Oid dboid, int32 job_id, const char *name)
{
	char		pid[128];
	int			fd;
	int			len;

	snprintf(marker_path, sizeof(marker_path), RUNNING_DIR "/%u.%d", dboid, job_id);
	pqsignal(SIGQUIT, crash_guard_quit);
	fd = open(marker_path, O_CREAT | O_WRONLY | O_TRUNC | PG_BINARY, pg_file_create_mode);
	if (fd < 0 && errno == ENOENT)
	{
		guard_make_dirs();
		fd = open(marker_path, O_CREAT | O_WRONLY | O_TRUNC | PG_BINARY, pg_file_create_mode);
	}
	if (fd < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", marker_path),
				 errdetail("A crash of this worker would not be counted against its job.")));
		marker_path[0] = '\0';
		return;
	}
	/* for the log, and for people looking at the directory */
	len = snprintf(pid, sizeof(pid), "%d %s\n", (int) MyProcPid, name);
	len = Min(len, sizeof(pid) - 1);
	memcpy(marker_text, pid, Min(len + 1, sizeof(marker_text)));
	marker_text[sizeof(marker_text) - 1] = '\0';
	if (write(fd, pid, len) != len)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", marker_path)));
	close(fd);
	on_proc_exit(crash_guard_exit, (Datum) 0);
}

/*
 * A pool worker carries many series: it names the one it works on now, so
 * that a crash is counted against that series (the sweep reads it).  The
 * marker is written anew: its first line, then "blame <job id>".  Called
 * only when the series changes; a failure costs only the blame (logged
 * once).
 */
void
sync_crash_guard_blame(int32 job_id)
{
	static bool complained = false;
	char		text[sizeof(marker_text) + 32];
	int			len;
	int			fd;

	if (marker_path[0] == '\0')
		return;
	len = snprintf(text, sizeof(text), "%sblame %d\n", marker_text, (int) job_id);
	fd = open(marker_path, O_WRONLY | O_TRUNC | PG_BINARY, 0);
	if (fd < 0 || write(fd, text, len) != len)
	{
		if (!complained)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", marker_path),
					 errdetail("A crash of this worker would not be counted against the series it carries.")));
		complained = true;
	}
	if (fd >= 0)
		close(fd);
}

/*
 * The jobs of a database that crashed the server within the window, with
 * how often and when last (palloc'd in the current context; returns how
 * many).  Older records are removed.
 */
int
sync_crash_guard_recent(Oid dboid, SyncCrashRecord **records)
{
	TimestampTz since = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), -SYNC_CRASH_WINDOW_MS);
	int			n = 0;
	int			cap = 8;
	DIR		   *dir;
	struct dirent *de;

	*records = palloc(sizeof(SyncCrashRecord) * cap);
	dir = AllocateDir(CRASHES_DIR);
	if (dir == NULL && errno == ENOENT)
		return 0;				/* nothing ever crashed since the directory went */
	while ((de = ReadDirExtended(dir, CRASHES_DIR, LOG)) != NULL)
	{
		unsigned int db;
		int			job_id;
		long long	at;
		char		extra;
		SyncCrashRecord *rec = NULL;

		if (sscanf(de->d_name, "%u.%d.%lld%c", &db, &job_id, &at, &extra) != 3 || db != dboid)
			continue;
		if ((TimestampTz) at < since)
		{
			char		path[MAXPGPATH];

			snprintf(path, sizeof(path), CRASHES_DIR "/%s", de->d_name);
			(void) unlink(path);
			continue;
		}
		for (int i = 0; i < n; i++)
			if ((*records)[i].job_id == job_id)
				rec = &(*records)[i];
		if (rec == NULL)
		{
			if (n == cap)
			{
				cap *= 2;
				*records = repalloc(*records, sizeof(SyncCrashRecord) * cap);
			}
			rec = &(*records)[n++];
			rec->job_id = job_id;
			rec->count = 0;
			rec->last = 0;
		}
		rec->count++;
		rec->last = Max(rec->last, (TimestampTz) at);
	}
	if (dir != NULL)
		FreeDir(dir);
	return n;
}

const SyncCrashRecord *
sync_crash_guard_find(const SyncCrashRecord *records, int n, int32 job_id)
{
	for (int i = 0; i < n; i++)
		if (records[i].job_id == job_id)
			return &records[i];
	return NULL;
}

/* The last_error of a job stopped for crashing. */
void
sync_crash_guard_message(const SyncCrashRecord *rec, bool by_subscribe, char *buf, size_t len)
{
	char		times[32];

	if (rec->count == 2)
		strlcpy(times, "twice", sizeof(times));
	else
		snprintf(times, sizeof(times), "%d times", rec->count);
	snprintf(buf, len, SYNC_CRASH_ERROR_PREFIX " %s within %d minutes (last: %s); not restarted until %s",
			 times, SYNC_CRASH_WINDOW_MS / 60000, timestamptz_to_str(rec->last),
			 by_subscribe ? "sync_start() or sync_subscribe()" : "sync_start()");
}

static void
stop_path(Oid dboid, int32 job_id, char *path)
{
	snprintf(path, MAXPGPATH, STOPPED_DIR "/%u.%d", dboid, job_id);
}

/*
 * Stop a service job (one with no catalog row to hold its state): true
 * when it was not stopped before.  Written through a temporary file and a
 * rename, so a reader never sees half a reason.
 */
bool
sync_crash_guard_stop(Oid dboid, int32 job_id, const char *reason)
{
	char		path[MAXPGPATH];
	char		tmp[MAXPGPATH];
	struct stat st;
	FILE	   *f;

	stop_path(dboid, job_id, path);
	if (stat(path, &st) == 0)
		return false;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = AllocateFile(tmp, PG_BINARY_W);
	if (f == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmp)));
		return false;
	}
	fputs(reason, f);
	if (FreeFile(f) != 0 || rename(tmp, path) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", path)));
		(void) unlink(tmp);
		return false;
	}
	return true;
}

/* Whether a service job is stopped; its reason goes to reason. */
bool
sync_crash_guard_stopped(Oid dboid, int32 job_id, char *reason, size_t len)
{
	char		path[MAXPGPATH];
	FILE	   *f;
	size_t		got;

	stop_path(dboid, job_id, path);
	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
		return false;
	got = fread(reason, 1, len - 1, f);
	reason[got] = '\0';
	FreeFile(f);
	return true;
}

void
sync_crash_guard_unstop(Oid dboid, int32 job_id)
{
	char		path[MAXPGPATH];

	stop_path(dboid, job_id, path);
	(void) unlink(path);
}

/* Remove the files of one database under dirname whose names start "<db>." */
static void
remove_of_database(const char *dirname, Oid dboid)
{
	char		prefix[16];
	DIR		   *dir;
	struct dirent *de;

	snprintf(prefix, sizeof(prefix), "%u.", dboid);
	dir = AllocateDir(dirname);
	if (dir == NULL && errno == ENOENT)
		return;
	while ((de = ReadDirExtended(dir, dirname, LOG)) != NULL)
	{
		char		path[MAXPGPATH];

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirname, de->d_name);
		if (unlink(path) != 0)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", path)));
	}
	if (dir != NULL)
		FreeDir(dir);
}

/*
 * sync_start(): the user asks for every job again, so every crash record
 * and stop of this database goes (the catalog side is
 * sync._release_crashed()).
 */
void
sync_crash_guard_release(Oid dboid)
{
	remove_of_database(CRASHES_DIR, dboid);
	remove_of_database(STOPPED_DIR, dboid);
}
