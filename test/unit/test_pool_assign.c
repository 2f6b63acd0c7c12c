// unit-sources: bgworkers/pool_assign.c
// unit-libs: postgres-server
/*-------------------------------------------------------------------------
 * test_pool_assign.c
 *	  Unit test of bgworkers/pool_assign.c: which pool worker carries which
 *	  series, on a table of job slots in ordinary memory.  The lock, the
 *	  latches and the clock are stubbed (a latch set is counted).  TAP
 *	  output, no PostgreSQL running.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guc.h"
#include "../../bgworkers/pool_assign.h"
#include "shmem.h"

/* Stubs of the server ------------------------------------------------- */

#define NSLOTS 400

SyncShared *SyncState;
int			sync_max_workers = 8;

static TimestampTz clock_now = 700000000000000;
static int	lock_depth = 0;
static bool lock_misused = false;
static Latch latches[SYNC_MAX_POOL_WORKERS + 1];
static int	latch_sets[SYNC_MAX_POOL_WORKERS + 1];

TimestampTz
GetCurrentTimestamp(void)
{
	return clock_now;
}

bool
LWLockAcquire(LWLock *lock, LWLockMode mode)
{
	if (lock_depth++ != 0)
		lock_misused = true;
	return true;
}

void
LWLockRelease(LWLock *lock)
{
	if (--lock_depth != 0)
		lock_misused = true;
}

void
SetLatch(Latch *latch)
{
	if (lock_depth != 0)
		lock_misused = true;	/* woken under the lock */
	latch_sets[latch - latches]++;
}

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

static void
reset(void)
{
	memset(SyncState->slots, 0, sizeof(SyncJobSlot) * NSLOTS);
	memset(latch_sets, 0, sizeof(latch_sets));
}

static int
add_slot(Oid db, SyncJobKind kind, int32 id, int pool_worker)
{
	for (int i = 0; i < NSLOTS; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use)
			continue;
		s->in_use = true;
		s->dboid = db;
		s->kind = kind;
		s->id = id;
		s->pool_worker = pool_worker;
		if (kind == SYNC_JOB_POOL)
		{
			s->latch = &latches[id];
			s->pid = getpid();
		}
		return i;
	}
	abort();
}

static void
add_workers(Oid db, int n)
{
	for (int w = 0; w < n; w++)
		add_slot(db, SYNC_JOB_POOL, w, -1);
}

/* series of db per worker (index SYNC_MAX_POOL_WORKERS: none) */
static void
loads(Oid db, int *load)
{
	memset(load, 0, sizeof(int) * (SYNC_MAX_POOL_WORKERS + 1));
	for (int i = 0; i < NSLOTS; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (s->in_use && s->dboid == db && SYNC_JOB_IS_SERIES(s->kind) && !s->retired)
			load[s->pool_worker < 0 ? SYNC_MAX_POOL_WORKERS : s->pool_worker]++;
	}
}

static pid_t
dead_pid(void)
{
	pid_t		pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

int
main(void)
{
	bool		running[SYNC_MAX_POOL_WORKERS] = {0};
	int			load[SYNC_MAX_POOL_WORKERS + 1];
	int			s1,
				s2,
				s3;
	bool		freed;

	SyncState = calloc(1, offsetof(SyncShared, slots) + sizeof(SyncJobSlot) * NSLOTS);
	SyncState->nslots = NSLOTS;

	/* how many pool workers a database may run */
	reset();
	add_workers(1, 3);
	add_workers(2, 2);
	add_slot(2, SYNC_JOB_STREAMER, 0, -1);
	sync_max_workers = 8;
	ok(sync_pool_workers_allowed(1) == 6, "sync.max_workers less the other databases' pool workers");
	ok(sync_pool_workers_allowed(2) == 5, "seen from the other database");
	sync_max_workers = 4;
	ok(sync_pool_workers_allowed(2) == 1, "with a smaller sync.max_workers");
	sync_max_workers = 2;
	ok(sync_pool_workers_allowed(2) == 0, "never below none");
	sync_max_workers = 1000;
	reset();
	ok(sync_pool_workers_allowed(1) == SYNC_MAX_POOL_WORKERS, "never above SYNC_MAX_POOL_WORKERS");

	/* no worker runs: every series waits, since now, for want of a worker */
	reset();
	for (int i = 0; i < 5; i++)
		add_slot(1, SYNC_JOB_SUBSCRIPTION, 100 + i, -1);
	s1 = add_slot(1, SYNC_JOB_RUN, 7, -1);
	SyncState->slots[s1].phase = SYNC_PHASE_ERROR;
	sync_pool_assign(1, running);
	loads(1, load);
	ok(load[SYNC_MAX_POOL_WORKERS] == 6, "without a running worker no series is assigned");
	ok(SyncState->slots[0].waiting_since == clock_now &&
	   SyncState->slots[0].wait_reason == SYNC_WAIT_NO_WORKER &&
	   SyncState->slots[0].phase == SYNC_PHASE_QUEUED,
	   "a series without a worker is queued, waiting since now for want of one");
	ok(SyncState->slots[s1].phase == SYNC_PHASE_ERROR, "a series in error stays in error");
	clock_now += 1000;
	sync_pool_assign(1, running);
	ok(SyncState->slots[0].waiting_since == clock_now - 1000, "waiting since the first time, not each round");

	/* three workers are started (one has not taken its slot: running, no slot yet) */
	add_workers(1, 2);
	running[0] = running[1] = running[2] = true;
	sync_pool_assign(1, running);
	loads(1, load);
	ok(load[SYNC_MAX_POOL_WORKERS] == 0 && load[0] == 3 && load[1] == 3,
	   "series go to the workers that run, evenly");
	ok(load[2] == 0, "not to a worker whose slot is not taken yet");
	ok(SyncState->slots[0].waiting_since == 0 && SyncState->slots[0].wait_reason == SYNC_WAIT_NONE,
	   "an assigned series no longer waits");
	ok(latch_sets[0] == 1 && latch_sets[1] == 1 && !lock_misused,
	   "each worker given series is woken once, after the lock is let go");

	/* a worker of another database, and a running[] without slot of this database */
	reset();
	add_workers(2, 1);
	running[0] = true;
	add_slot(1, SYNC_JOB_SUBSCRIPTION, 1, -1);
	sync_pool_assign(1, running);
	ok(SyncState->slots[1].pool_worker == -1, "another database's pool worker carries none of its series");
	memset(running, 0, sizeof(running));

	/* loads drift apart: a few move from the busiest to the idlest each round */
	reset();
	add_workers(1, 3);
	running[0] = running[1] = running[2] = true;
	for (int i = 0; i < 300; i++)
		add_slot(1, SYNC_JOB_SUBSCRIPTION, i, 0);
	add_slot(2, SYNC_JOB_SUBSCRIPTION, 999, 0);	/* another database's series */
	sync_pool_assign(1, running);
	loads(1, load);
	ok(load[0] == 300 - 64 && load[1] + load[2] == 64,
	   "at most 64 series move in one round");
	ok(abs(load[1] - load[2]) <= 1, "to the idlest worker each time");
	ok(latch_sets[0] == 1 && latch_sets[1] == 1 && latch_sets[2] == 1,
	   "the workers that lose and gain series are woken");
	for (int round = 0; round < 10; round++)
		sync_pool_assign(1, running);
	loads(1, load);
	ok(load[0] + load[1] + load[2] == 300 &&
	   Max(load[0], Max(load[1], load[2])) - Min(load[0], Min(load[1], load[2])) <= 300 / 3 / 8,
	   "then the loads even out, to within an eighth of the average");
	for (int i = 0; i < NSLOTS; i++)
		if (SyncState->slots[i].dboid == 2 && SyncState->slots[i].in_use)
			ok(SyncState->slots[i].pool_worker == 0, "another database's series is not moved");

	/* a small difference is left alone (slack: an eighth of the average load) */
	reset();
	add_workers(1, 2);
	running[2] = false;
	for (int i = 0; i < 100; i++)
		add_slot(1, SYNC_JOB_SUBSCRIPTION, i, i < 53 ? 0 : 1);
	sync_pool_assign(1, running);
	loads(1, load);
	ok(load[0] == 53 && load[1] == 47, "a drift within the slack does not move series");
	for (int i = 0; i < 10; i++)
		add_slot(1, SYNC_JOB_SUBSCRIPTION, 200 + i, 0);
	sync_pool_assign(1, running);
	loads(1, load);
	ok(load[0] - load[1] <= 110 / 2 / 8 && load[0] + load[1] == 110, "a wider one does");

	/* retired series count for no worker */
	reset();
	add_workers(1, 2);
	for (int i = 0; i < 20; i++)
	{
		s1 = add_slot(1, SYNC_JOB_SUBSCRIPTION, i, 0);
		SyncState->slots[s1].retired = i < 18;
	}
	sync_pool_assign(1, running);
	loads(1, load);
	ok(load[0] == 1 && load[1] == 1, "retired series neither count nor move");

	/* retiring a series */
	reset();
	s1 = add_slot(1, SYNC_JOB_SUBSCRIPTION, 1, 0);
	freed = sync_pool_retire_series(s1);
	ok(freed && !SyncState->slots[s1].in_use, "a series no process holds is freed at once");
	s2 = add_slot(1, SYNC_JOB_SUBSCRIPTION, 2, 0);
	SyncState->slots[s2].pid = getpid();
	SyncState->slots[s2].latch = &latches[SYNC_MAX_POOL_WORKERS];
	freed = sync_pool_retire_series(s2);
	ok(!freed && SyncState->slots[s2].in_use && SyncState->slots[s2].retired &&
	   SyncState->slots[s2].pool_worker == -1, "a held series is marked retired, not freed");
	ok(latch_sets[SYNC_MAX_POOL_WORKERS] == 1, "and its holder is woken");
	freed = sync_pool_retire_series(s2);
	ok(!freed && latch_sets[SYNC_MAX_POOL_WORKERS] == 1, "asked again: still held, not woken again");
	s3 = add_slot(1, SYNC_JOB_SUBSCRIPTION, 3, 0);
	SyncState->slots[s3].pid = dead_pid();
	freed = sync_pool_retire_series(s3);
	ok(freed && !SyncState->slots[s3].in_use, "a series whose holder died is freed");
	ok(!lock_misused, "the lock is taken and let go in pairs, latches set outside it");

	printf("1..%d\n", ntests);
	return nfailed != 0;
}
