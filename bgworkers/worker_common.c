/*-------------------------------------------------------------------------
 * worker_common.c
 *	  The skeleton shared by the launcher, supervisors and job workers.
 *
 * SIGTERM only sets a flag and the latch: a worker finishes and commits
 * the batch it holds, then exits 0 (so the postmaster does not restart it
 * behind its supervisor's back).  SIGHUP rereads the configuration at the
 * next wake-up.  SIGUSR1 keeps PostgreSQL's procsignal handler, which
 * DROP DATABASE and background-worker notifications rely on.  A job worker
 * (one whose bgw_extra says crash_guarded) also leaves the crash guard's
 * marker and takes SIGQUIT over from PostgreSQL's handler, so that only a
 * worker that really crashed the server is counted (src/crash_guard.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <malloc.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "crash_guard.h"
#include "guc.h"
#include "shmem.h"
#include "worker_common.h"

volatile sig_atomic_t sync_got_sigterm = false;

static void
sync_worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	sync_got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

void
sync_worker_init_signals(void)
{
	SyncWorkerArgs args;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, sync_worker_sigterm);
	/* signals are still blocked: the marker and its SIGQUIT handler come together */
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	if (args.crash_guarded)
		sync_crash_guard_enter(args.dboid, sync_job_legacy_id(args.kind, args.id),
							   MyBgworkerEntry->bgw_name);
	BackgroundWorkerUnblockSignals();
}

bool
sync_worker_stopping(void)
{
	return sync_got_sigterm;
}

void
sync_worker_reload_if_asked(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/*
 * Sleep on the latch until base + *extra_ms (extra_ms NULL: base itself).
 * *extra_ms is read again after each reload, so a setting it points at
 * applies to the wait in progress.  Returns false as soon as SIGTERM
 * arrives.  Other wake-ups (SIGHUP, notifications) only shorten one wait.
 */
static bool
sleep_to(TimestampTz base, const int *extra_ms)
{
	for (;;)
	{
		long		ms;

		if (sync_got_sigterm)
			return false;
		sync_worker_reload_if_asked();
		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
											 extra_ms ? TimestampTzPlusMilliseconds(base, *extra_ms) : base);
		if (ms <= 0)
			return true;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Sleep until the deadline; false on SIGTERM. */
bool
sync_worker_sleep_until(TimestampTz deadline)
{
	return sleep_to(deadline, NULL);
}

/*
 * Sleep until *interval_ms (a setting) has passed since "since": a worker
 * told to wait an hour must not run once more on the old second's
 * deadline.  False on SIGTERM.
 */
bool
sync_worker_sleep_interval(TimestampTz since, const int *interval_ms)
{
	return sleep_to(since, interval_ms);
}

/*
 * Run fn(arg) in its own transaction.  An ERROR inside is caught: the
 * transaction is aborted, the message is logged and copied to errbuf, and
 * false is returned so the job can record the failure and go on instead of
 * exiting and being restarted in a loop.
 */
bool
sync_worker_txn(const char *activity, void (*fn) (void *), void *arg,
				char *errbuf, size_t errlen)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);

	PG_TRY();
	{
		fn(arg);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("sync job step failed: %s", edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0));
		strlcpy(errbuf, edata->message, errlen);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();

	MemoryContextSwitchTo(cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/* Exponential backoff with full jitter in its upper half. */
long
sync_backoff_ms(int failures)
{
	double		ms = sync_retry_base_ms;

	for (int i = 1; i < failures && ms < sync_retry_max_ms; i++)
		ms *= 2;
	ms = Min(ms, sync_retry_max_ms);
	return (long) (ms * (0.5 + 0.5 * pg_prng_double(&pg_global_prng_state)));
}

/* a process that lived shorter than this counts as a failed start */
#define MIN_HEALTHY_LIFE_MS	10000

void
sync_restart_started(SyncRestartPolicy *r, TimestampTz now)
{
	r->started_at = now;
}

void
sync_restart_exited(SyncRestartPolicy *r, TimestampTz now)
{
	if (TimestampDifferenceExceeds(r->started_at, now, MIN_HEALTHY_LIFE_MS))
		r->failures = 0;
	else
		r->failures++;
	r->next_start = r->failures == 0 ? now :
		TimestampTzPlusMilliseconds(now, sync_backoff_ms(r->failures));
}

void
sync_restart_failed(SyncRestartPolicy *r, TimestampTz now)
{
	r->failures++;
	r->next_start = TimestampTzPlusMilliseconds(now, sync_backoff_ms(r->failures));
}

static void
service_detach(int code, Datum arg)
{
	SyncJobSlot *s = &SyncState->slots[DatumGetInt32(arg)];

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (s->pid == MyProcPid)
	{
		s->pid = 0;
		s->latch = NULL;
		s->phase = SYNC_PHASE_STOPPED;
	}
	LWLockRelease(SyncState->lock);
}

/*
 * A database's service worker (aggregator, scheduler) takes the slot its
 * supervisor reserved for it, and gives it back when it exits.  False if
 * the slot is no longer meant for it (the supervisor moved on).
 */
bool
sync_service_attach(int slot, SyncJobKind kind, int32 id)
{
	SyncJobSlot *s = &SyncState->slots[slot];
	bool		ok;

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	ok = s->in_use && s->dboid == MyDatabaseId && s->kind == kind && s->id == id;
	if (ok)
	{
		s->pid = MyProcPid;
		s->latch = MyLatch;
		s->phase = SYNC_PHASE_PENDING;
	}
	LWLockRelease(SyncState->lock);
	if (ok)
		before_shmem_exit(service_detach, Int32GetDatum(slot));
	return ok;
}

/* Run call->sql (one row, one numeric column); the value lands in call->result. */
void
sync_worker_sql_number(void *arg)
{
	SyncSqlCall *call = (SyncSqlCall *) arg;
	Oid			argtype = INT4OID;
	Datum		value = Int32GetDatum(call->arg);
	bool		isnull;
	int			ret;

	SPI_connect();
	ret = SPI_execute_with_args(call->sql, call->has_arg ? 1 : 0, &argtype, &value,
								NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "\"%s\" failed: SPI error %d", call->sql, ret);
	call->result = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		call->result = 0;
	SPI_finish();
}

/*
 * Whether this transaction's commit waits for its WAL flush.  Sync's
 * stores need not: data and checkpoint commit together, so a crash takes
 * back both and the data is fetched again; not waiting takes a WAL flush
 * (milliseconds on many disks) off every page.
 */
void
sync_worker_commit_waits(bool wait)
{
	(void) set_config_option("synchronous_commit", wait ? "on" : "off",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Keep freed heap memory for the next page instead of handing it back to
 * the kernel.  glibc trims the top of the heap past 128 kB by default, so
 * each page's response body and parsed JSON (a few hundred kB freed at
 * once) went back to the kernel and faulted in again, zeroed, for the
 * next page: about a tenth of a pool worker's samples in the profile
 * (docs/profile.md).  Up to 8 MB stay; blocks of 4 MB and more (a huge
 * body) are still mapped and unmapped on their own, so the private memory
 * stays bounded.
 */
void
sync_worker_keep_heap(void)
{
	(void) mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	(void) mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
}
