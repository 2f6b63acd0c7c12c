// unit-sources: src/crash_guard.c
// unit-libs: postgres-server
/*-------------------------------------------------------------------------
 * test_crash_guard.c
 *	  Unit test of src/crash_guard.c: the files that say which job's worker
 *	  crashed the server (markers, crash records, stops), in a scratch
 *	  directory standing for the data directory.  The few server functions
 *	  the file calls are stubbed here (files through stdio, ereport into a
 *	  buffer the tests read, a clock the tests set).  TAP output, no
 *	  PostgreSQL running.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/ipc.h"
#include "utils/timestamp.h"

#include "crash_guard.h"

/* Stubs of the server ------------------------------------------------- */

int			MyProcPid = 4242;
int			pg_file_create_mode = 0600;

static TimestampTz clock_now = 700000000000000;	/* 2022 */
static char last_log[1024];		/* the messages of the last ereport */
static int	nlogs = 0;
static pg_on_exit_callback exit_cb = NULL;
static pqsigfunc quit_handler = NULL;

TimestampTz
GetCurrentTimestamp(void)
{
	return clock_now;
}

const char *
timestamptz_to_str(TimestampTz t)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "T%lld", (long long) t);
	return buf;
}

bool
errstart(int elevel, const char *domain)
{
	last_log[0] = '\0';
	nlogs++;
	return true;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
}

int
errcode_for_file_access(void)
{
	return 0;
}

static int
append_log(const char *fmt, va_list ap)
{
	size_t		used = strlen(last_log);

	vsnprintf(last_log + used, sizeof(last_log) - used, fmt, ap);
	strlcat(last_log, " | ", sizeof(last_log));
	return 0;
}

int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	append_log(fmt, ap);
	va_end(ap);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	append_log(fmt, ap);
	va_end(ap);
	return 0;
}

int
MakePGDirectory(const char *name)
{
	return mkdir(name, 0700);
}

DIR *
AllocateDir(const char *name)
{
	return opendir(name);
}

struct dirent *
ReadDirExtended(DIR *dir, const char *name, int elevel)
{
	return dir == NULL ? NULL : readdir(dir);
}

int
FreeDir(DIR *dir)
{
	return closedir(dir);
}

FILE *
AllocateFile(const char *name, const char *mode)
{
	return fopen(name, mode);
}

int
FreeFile(FILE *f)
{
	return fclose(f);
}

void
on_proc_exit(pg_on_exit_callback function, Datum arg)
{
	exit_cb = function;
}

pqsigfunc
pqsignal(int signo, pqsigfunc func)
{
	if (signo == SIGQUIT)
		quit_handler = func;
	return SIG_DFL;
}

void *
palloc(Size size)
{
	return malloc(size);
}

void *
repalloc(void *p, Size size)
{
	return realloc(p, size);
}

#ifndef HAVE_STRLCPY
size_t
strlcpy(char *dst, const char *src, size_t siz)
{
	size_t		len = strlen(src);

	if (siz > 0)
	{
		size_t		n = Min(len, siz - 1);

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#endif

#ifndef HAVE_STRLCAT
size_t
strlcat(char *dst, const char *src, size_t siz)
{
	size_t		used = strnlen(dst, siz);

	return used + strlcpy(dst + used, src, siz - used);
}
#endif

/* The tests ----------------------------------------------------------- */

static int	ntests = 0;
static int	nfailed = 0;

static void
ok(bool cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++ntests, what);
	if (!cond)
		nfailed++;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void
slurp(const char *path, char *buf, size_t len)
{
	FILE	   *f = fopen(path, "r");
	size_t		got = f ? fread(buf, 1, len - 1, f) : 0;

	buf[got] = '\0';
	if (f)
		fclose(f);
}

static void
touch(const char *path)
{
	FILE	   *f = fopen(path, "w");

	if (f)
		fclose(f);
}

/* how many entries of dir start with prefix */
static int
count_files(const char *dirname, const char *prefix)
{
	DIR		   *d = opendir(dirname);
	struct dirent *de;
	int			n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void
rm_rf(const char *path)
{
	char		cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

/* a worker's life in a child process: returns its exit status */
static int
in_child(void (*fn) (void))
{
	pid_t		pid;

	fflush(stdout);
	pid = fork();
	int			status;

	if (pid == 0)
	{
		fn();
		exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
worker_then_sigquit(void)
{
	sync_crash_guard_enter(5, 77, "sync pool worker");
	if (quit_handler)
		quit_handler(SIGQUIT);	/* _exit(2)s */
	exit(9);
}

static void
worker_blames_after_marker_went(void)
{
	sync_crash_guard_enter(5, 78, "sync pool worker");
	unlink("pg_sync/running/5.78");
	nlogs = 0;
	sync_crash_guard_blame(12);
	sync_crash_guard_blame(13);
	/* one complaint for both, saying what is lost */
	exit(nlogs == 1 && strstr(last_log, "against the series it carries") ? 0 : 1);
}

int
main(void)
{
	char		scratch[] = "/tmp/test_crash_guard.XXXXXX";
	char		buf[512];
	char		reason[64];
	char		expect[512];
	SyncCrashRecord *recs;
	const SyncCrashRecord *rec;
	int			n;

	if (mkdtemp(scratch) == NULL || chdir(scratch) != 0)
	{
		printf("Bail out! no scratch directory\n");
		return 1;
	}

	/* no directory yet: a supervisor finds no crash */
	ok(sync_crash_guard_recent(5, &recs) == 0, "no crash records before the directories exist");

	/* a worker's marker, created with the directories it needs */
	sync_crash_guard_enter(5, 10, "sync series worker");
	slurp("pg_sync/running/5.10", buf, sizeof(buf));
	ok(strcmp(buf, "4242 sync series worker\n") == 0, "the marker holds the pid and the worker's name");
	ok(exists("pg_sync/crashes") && exists("pg_sync/stopped"), "entering creates the guard's directories");
	ok(quit_handler != NULL && exit_cb != NULL, "a SIGQUIT handler and an exit callback are set");

	/* an orderly exit takes the marker away; the blame of a worker without one is nothing */
	exit_cb(0, (Datum) 0);
	ok(!exists("pg_sync/running/5.10"), "an orderly exit removes the marker");
	nlogs = 0;
	sync_crash_guard_blame(99);
	ok(!exists("pg_sync/running/5.10") && nlogs == 0,
	   "a worker without a marker blames nothing (and has nothing to complain of)");

	/* SIGQUIT (another backend crashed): the innocent worker removes its marker and exits 2 */
	ok(in_child(worker_then_sigquit) == 2, "the SIGQUIT handler exits 2");
	ok(!exists("pg_sync/running/5.77"), "and removes its worker's marker first");

	/* a blame that cannot be written is said once */
	ok(in_child(worker_blames_after_marker_went) == 0,
	   "a blame that cannot be written is logged once, saying what is lost");

	/* a pool worker names the series it works on, then another: the last one counts */
	sync_crash_guard_enter(5, 20, "sync pool worker 1");
	sync_crash_guard_blame(1234567);
	sync_crash_guard_blame(31);
	slurp("pg_sync/running/5.20", buf, sizeof(buf));
	ok(strcmp(buf, "4242 sync pool worker 1\nblame          31\n") == 0,
	   "the blame line is written over in place, fixed width");

	/* a worker of another database dies without a clean exit too; and junk in the directory */
	touch("pg_sync/running/6.3");
	touch("pg_sync/running/junk");
	touch("pg_sync/running/5.4x");

	/* after a crash: the markers left become crash records, blamed where said */
	clock_now += 1000000;
	nlogs = 0;
	sync_crash_guard_sweep(true);
	snprintf(buf, sizeof(buf), "pg_sync/crashes/5.31.%lld", (long long) clock_now);
	ok(exists(buf), "a pool worker's crash counts against the series it blamed, stamped now");
	ok(count_files("pg_sync/crashes", "5.20.") == 0, "not against the pool worker's own job");
	snprintf(buf, sizeof(buf), "pg_sync/crashes/6.3.%lld", (long long) clock_now);
	ok(exists(buf), "a marker without blame becomes a record of its own job");
	ok(nlogs == 2 && strstr(last_log, "crashed the server") != NULL,
	   "each crash record is logged");
	ok(exists("pg_sync/running/junk") && exists("pg_sync/running/5.4x"),
	   "names that are not <db>.<job> are left alone");
	ok(count_files("pg_sync/running", "5.") == 1 && count_files("pg_sync/running", "6.") == 0,
	   "the swept markers are gone");

	/* at the first start, markers are only removed */
	touch("pg_sync/running/5.50");
	sync_crash_guard_sweep(false);
	ok(!exists("pg_sync/running/5.50") && count_files("pg_sync/crashes", "5.50.") == 0,
	   "at the first start a marker is removed, not counted");

	/* the supervisor reads its database's records: a second crash of job 31, an old one of 32 */
	snprintf(buf, sizeof(buf), "pg_sync/crashes/5.31.%lld", (long long) clock_now - 5000);
	touch(buf);
	snprintf(buf, sizeof(buf), "pg_sync/crashes/5.32.%lld",
			 (long long) clock_now - (SYNC_CRASH_WINDOW_MS + 1) * 1000LL);
	touch(buf);
	touch("pg_sync/crashes/5.33.12x");
	n = sync_crash_guard_recent(5, &recs);
	ok(n == 1, "only the database's crashes within the window count");
	rec = sync_crash_guard_find(recs, n, 31);
	ok(rec != NULL && rec->count == 2 && rec->last == clock_now,
	   "a job's crashes are counted, with the newest time");
	ok(sync_crash_guard_find(recs, n, 32) == NULL, "a crash older than the window does not count");
	ok(!exists(buf), "and its record is removed");
	sync_crash_guard_message(rec, true, buf, sizeof(buf));
	snprintf(expect, sizeof(expect), SYNC_CRASH_ERROR_PREFIX " twice within 10 minutes (last: T%lld); "
			 "not restarted until sync_start() or sync_subscribe()", (long long) clock_now);
	ok(strcmp(buf, expect) == 0,
	   "the message of a subscription's job says twice, when, and what releases it");
	free(recs);

	/* more jobs than the first array holds */
	for (int job = 100; job < 120; job++)
		for (int k = 0; k < 1 + job % 3; k++)
		{
			snprintf(buf, sizeof(buf), "pg_sync/crashes/5.%d.%lld", job, (long long) clock_now - k);
			touch(buf);
		}
	n = sync_crash_guard_recent(5, &recs);
	ok(n == 21, "twenty more jobs are all read");
	rec = sync_crash_guard_find(recs, n, 119);
	ok(rec != NULL && rec->count == 3, "each with its own count");
	sync_crash_guard_message(rec, false, buf, sizeof(buf));
	ok(strstr(buf, " 3 times within") != NULL && strstr(buf, "until sync_start()") != NULL &&
	   strstr(buf, "sync_subscribe") == NULL, "a service job's message: 3 times, sync_start() only");
	free(recs);

	/* a service job stopped: once, with its reason, until unstopped */
	ok(sync_crash_guard_stop(5, -3, "crashed the server twice"), "a service job is stopped");
	ok(!sync_crash_guard_stop(5, -3, "again"), "stopping it again says it was stopped");
	ok(sync_crash_guard_stopped(5, -3, reason, sizeof(reason)) &&
	   strcmp(reason, "crashed the server twice") == 0, "the stop keeps its first reason");
	ok(!sync_crash_guard_stopped(5, -4, reason, sizeof(reason)), "another job is not stopped");
	sync_crash_guard_unstop(5, -3);
	ok(!sync_crash_guard_stopped(5, -3, reason, sizeof(reason)), "unstopped");

	/* sync_start() releases one database's records and stops, no other's */
	sync_crash_guard_stop(5, -3, "r");
	sync_crash_guard_stop(6, -3, "r");
	sync_crash_guard_release(5);
	ok(count_files("pg_sync/crashes", "5.") == 0 && count_files("pg_sync/stopped", "5.") == 0,
	   "release removes the database's crash records and stops");
	ok(count_files("pg_sync/crashes", "6.") == 1 && count_files("pg_sync/stopped", "6.") == 1,
	   "and leaves another database's");

	/* failures cost the guard, never the job; each is logged */
	rm_rf("pg_sync/stopped");
	nlogs = 0;
	ok(!sync_crash_guard_stop(5, -5, "r") && nlogs == 1 && strstr(last_log, "could not create file"),
	   "a stop that cannot be written is false and logged");
	mkdir("pg_sync/stopped", 0700);
	mkdir("pg_sync/stopped/5.-8.tmp", 0700);	/* the temporary file cannot be created */
	nlogs = 0;
	ok(!sync_crash_guard_stop(5, -8, "r") && nlogs == 1 && !sync_crash_guard_stopped(5, -8, reason, sizeof(reason)),
	   "a stop whose temporary file cannot be written is false, logged, and nothing stopped");

	rm_rf("pg_sync/crashes");
	touch("pg_sync/crashes");	/* a file where the directory should be */
	touch("pg_sync/running/5.60");
	nlogs = 0;
	sync_crash_guard_sweep(true);
	ok(nlogs >= 1 && strstr(last_log, "could not rename") != NULL && exists("pg_sync/running/5.60"),
	   "a marker that cannot become a record is logged and left");
	unlink("pg_sync/running/5.60");

	rm_rf("pg_sync/running");
	touch("pg_sync/running");	/* the marker cannot be created */
	nlogs = 0;
	sync_crash_guard_enter(5, 61, "sync series worker");
	ok(nlogs >= 1 && strstr(last_log, "could not create file \"pg_sync/running/5.61\"") != NULL &&
	   strstr(last_log, "would not be counted against its job") != NULL,
	   "a marker that cannot be created is logged, saying what is lost");
	nlogs = 0;
	sync_crash_guard_blame(62);
	ok(nlogs == 0, "and the worker then blames nothing");

	if (chdir("/") == 0)
		rm_rf(scratch);
	printf("1..%d\n", ntests);
	return nfailed != 0;
}
