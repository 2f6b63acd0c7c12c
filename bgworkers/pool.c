/*-------------------------------------------------------------------------
 * pool.c
 *	  A pool worker: one process carrying many series (subscriptions and
 *	  runs asked for with sync_backfill()) on one event loop and one
 *	  libcurl multi handle.
 *
 * The supervisor runs up to sync.max_workers of them per database and
 * assigns each series to one (the pool_worker of its shared-memory slot).
 * A worker takes up the series assigned to it whose slot no process holds,
 * and puts down those assigned elsewhere or removed; so a series moves
 * between workers only between two of its pages, never while one is being
 * stored.  The worker looks at the assignments when its latch is set (the
 * supervisor sets it) and every second.
 *
 * The loop: collect the transfers curl finished, step every series that is
 * ready (its answer came, or its time is due) in turn, starting where the
 * last round stopped, so a long backfill and a thousand caught-up polls
 * take turns; then wait on curl's sockets, its timer and the latch until
 * the next series is due.  Nothing sleeps: a series that must wait (a poll
 * interval, a backoff, its source's pace) says when it is due next.  A
 * series due while every transfer is in use waits for one (and says so in
 * its slot, for sync_status() and sync_health()).
 *
 * Per-series state is a struct of its own (series.c); what the worker has
 * once is lent to all of them (SyncPool in series.h): the HTTP client and
 * one set of page buffers, used by one series at a time as it parses and
 * stores an answer.  Each round's allocations go with a memory context
 * reset every round.
 *
 * Crash guard: the worker's marker (crash_guard.c) names the series it was
 * last working on, so a crash while parsing or storing one series' answer
 * is counted against that series, not against every series the worker
 * carries.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "crash_guard.h"
#include "guc.h"
#include "http.h"
#include "pool_batch.h"
#include "series.h"
#include "shmem.h"
#include "worker_common.h"

PGDLLEXPORT void sync_pool_main(Datum arg);

#define POOL_TRANSFERS		64	/* requests one worker keeps in flight */
#define ASSIGN_CHECK_MS		1000	/* the assignment is looked at this often */
#define STEPS_PER_ROUND		64	/* series stepped before curl is driven again */

/* A series the worker carries, and its slot as the worker took it up. */
typedef struct Carried
{
	SyncSeries *series;
	int			slot;
	SyncJobKind kind;
	int32		id;
	bool		waiting;		/* its slot says it waits for a transfer */
} Carried;

typedef struct PoolWorker
{
	SyncPool	pool;
	int			own_slot;
	Carried    *carried;
	int			ncarried;
	int			max_carried;
	int			next_turn;		/* where the next round starts */
	SyncPoolBatches *batches;	/* multi-symbol polls in flight (pool_batch.c) */
	int32		blamed;			/* the series the crash marker names */
} PoolWorker;

/* On exit: let go of every slot this process holds. */
static void
pool_detach(int code, Datum arg)
{
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (!s->in_use || s->pid != MyProcPid)
			continue;
		s->pid = 0;
		s->latch = NULL;
		s->seam.wanted = false;
		s->seam.job_latch = NULL;
		if (s->phase != SYNC_PHASE_ERROR)
			s->phase = SYNC_JOB_IS_SERIES(s->kind) ? SYNC_PHASE_QUEUED : SYNC_PHASE_STOPPED;
	}
	LWLockRelease(SyncState->lock);
}

/* Let go of one series' slot (it stays assigned to whoever the supervisor says). */
static void
release_slot(const Carried *c, SyncPhase phase)
{
	SyncJobSlot *s = &SyncState->slots[c->slot];

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (s->in_use && s->kind == c->kind && s->id == c->id && s->pid == MyProcPid)
	{
		s->pid = 0;
		s->latch = NULL;
		s->seam.wanted = false;
		s->seam.job_latch = NULL;
		s->waiting_since = 0;
		s->wait_reason = SYNC_WAIT_NONE;
		if (s->phase != SYNC_PHASE_ERROR)
			s->phase = phase;
	}
	LWLockRelease(SyncState->lock);
}

static void
drop_carried(PoolWorker *w, int i, bool shutdown, SyncPhase phase)
{
	Carried		c = w->carried[i];

	if (c.series != NULL)
		sync_series_close(c.series, shutdown);
	release_slot(&c, phase);
	w->carried[i] = w->carried[--w->ncarried];
}

/*
 * Bring the series carried in line with the assignment: put down those
 * assigned elsewhere or removed, take up those assigned here that no
 * process holds.
 */
static void
refresh_assignment(PoolWorker *w)
{
	int		   *take = palloc(sizeof(int) * SyncState->nslots);
	int			ntake = 0;
	bool	   *held = palloc0(sizeof(bool) * SyncState->nslots);
	bool	   *drop = palloc0(sizeof(bool) * Max(w->ncarried, 1));
	bool	   *removed = palloc0(sizeof(bool) * Max(w->ncarried, 1));

	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	for (int i = 0; i < w->ncarried; i++)
	{
		Carried    *c = &w->carried[i];
		SyncJobSlot *s = &SyncState->slots[c->slot];
		bool		same = s->in_use && s->kind == c->kind && s->id == c->id;

		held[c->slot] = true;
		if (!same || s->retired)
			drop[i] = removed[i] = true;
		else if (s->pool_worker != w->pool.number)
			drop[i] = true;
	}
	for (int i = 0; i < SyncState->nslots; i++)
	{
		SyncJobSlot *s = &SyncState->slots[i];

		if (held[i] || !s->in_use || s->dboid != w->pool.dboid || !SYNC_JOB_IS_SERIES(s->kind) ||
			s->retired || s->pool_worker != w->pool.number || s->pid != 0 || s->phase == SYNC_PHASE_ERROR)
			continue;
		s->pid = MyProcPid;
		s->latch = MyLatch;
		s->waiting_since = 0;
		s->wait_reason = SYNC_WAIT_NONE;
		s->phase = SYNC_PHASE_PENDING;
		take[ntake++] = i;
	}
	LWLockRelease(SyncState->lock);

	for (int i = w->ncarried - 1; i >= 0; i--)
		if (drop[i])
		{
			/* a series in a batch cannot be put down under it */
			sync_pool_batches_cancel(&w->pool, w->batches);
			break;
		}
	for (int i = w->ncarried - 1; i >= 0; i--)
		if (drop[i])
			drop_carried(w, i, removed[i], removed[i] ? SYNC_PHASE_STOPPED : SYNC_PHASE_QUEUED);

	for (int i = 0; i < ntake; i++)
	{
		SyncJobSlot *s = &SyncState->slots[take[i]];
		Carried		c;

		c.slot = take[i];
		c.kind = s->kind;		/* this process holds the slot: it does not change */
		c.id = s->id;
		c.waiting = false;
		c.series = sync_series_open(&w->pool, c.slot, c.kind, c.id);
		if (c.series == NULL)
		{
			/* gone, or not readable now: the supervisor will tell */
			release_slot(&c, SYNC_PHASE_QUEUED);
			continue;
		}
		if (w->ncarried == w->max_carried)
		{
			w->max_carried *= 2;
			w->carried = repalloc(w->carried, sizeof(Carried) * w->max_carried);
		}
		w->carried[w->ncarried++] = c;
	}
}

/* Say in a series' slot whether it waits for a transfer (only when that changes). */
static void
mark_waiting(Carried *c, bool waiting)
{
	SyncJobSlot *s = &SyncState->slots[c->slot];

	if (c->waiting == waiting)
		return;
	c->waiting = waiting;
	LWLockAcquire(SyncState->lock, LW_EXCLUSIVE);
	if (s->pid == MyProcPid)
	{
		s->waiting_since = waiting ? GetCurrentTimestamp() : 0;
		s->wait_reason = waiting ? SYNC_WAIT_WORKER_BUSY : SYNC_WAIT_NONE;
		/* one that has not started yet waits for capacity: queued (its steps set the rest) */
		if (waiting && s->phase == SYNC_PHASE_PENDING)
			s->phase = SYNC_PHASE_QUEUED;
	}
	LWLockRelease(SyncState->lock);
}

/* Hand every finished transfer's answer to the series that waits for it. */
static void
collect_answers(PoolWorker *w)
{
	int			t;

	while ((t = sync_http_next_done(w->pool.http)) >= 0)
	{
		SyncSeries *s = w->pool.transfer_owner[t];

		w->pool.transfer_owner[t] = NULL;
		if (s != NULL)
			sync_series_transfer_done(s, w->pool.transfer_window[t]);
		else
			(void) sync_pool_batches_transfer_done(w->batches, t);
	}
}

/* Caught-up series of sources with a multi-symbol endpoint poll together. */
static void
send_batches(PoolWorker *w)
{
	SyncSeries **series = palloc(sizeof(SyncSeries *) * Max(w->ncarried, 1));

	for (int i = 0; i < w->ncarried; i++)
		series[i] = w->carried[i].series;
	sync_pool_batches_send(&w->pool, w->batches, series, w->ncarried);
}

/*
 * Step the series that are ready, in turn from where the last round
 * stopped.  Returns when the next one is due (now, when some had to wait
 * for the next round).
 */
static TimestampTz
step_ready_series(PoolWorker *w)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next_wake = TimestampTzPlusMilliseconds(now, ASSIGN_CHECK_MS);
	int			n = w->ncarried;
	int			steps = 0;
	int			start = n > 0 ? w->next_turn % n : 0;

	for (int k = 0; k < n; k++)
	{
		int			i = (start + k) % n;
		Carried    *c = &w->carried[i];
		TimestampTz wake;

		if (sync_series_finished(c->series))
			continue;
		if (steps >= STEPS_PER_ROUND)
		{
			/* the rest in the next round, right after curl had its turn */
			if (sync_series_ready(c->series, now))
			{
				w->next_turn = i;
				return now;
			}
			continue;
		}
		if (sync_series_ready(c->series, now))
		{
			/*
			 * A series that would start a request waits while every
			 * transfer is in use; the transfers finishing wake the loop.
			 */
			if (sync_series_wake_at(c->series) != 0 &&
				sync_http_active(w->pool.http) >= w->pool.capacity)
			{
				mark_waiting(c, true);
				continue;
			}
			if (w->blamed != c->id)
			{
				sync_crash_guard_blame(sync_job_legacy_id(c->kind, c->id));
				w->blamed = c->id;
			}
			sync_series_step(c->series);
			steps++;
			mark_waiting(c, sync_series_wants_transfer(c->series));
		}
		/* ready again at once (its answer is already in, or it is due now) */
		if (sync_series_ready(c->series, now) && !sync_series_wants_transfer(c->series))
			next_wake = now;
		wake = sync_series_wake_at(c->series);
		if (wake != 0 && !sync_series_wants_transfer(c->series) && wake < next_wake)
			next_wake = wake;
	}
	w->next_turn = start + 1;
	return next_wake;
}

/* Series that finished (a run done, a permanent failure) are put down. */
static void
drop_finished(PoolWorker *w)
{
	for (int i = w->ncarried - 1; i >= 0; i--)
		if (sync_series_finished(w->carried[i].series))
		{
			Carried    *c = &w->carried[i];
			SyncPhase	phase = SyncState->slots[c->slot].phase;

			drop_carried(w, i, false, phase == SYNC_PHASE_ERROR ? SYNC_PHASE_ERROR : SYNC_PHASE_STOPPED);
		}
}

/* The latch was set: maybe new assignments, maybe a stream took a series. */
static void
latch_was_set(PoolWorker *w)
{
	for (int i = 0; i < w->ncarried; i++)
		sync_series_seam_changed(w->carried[i].series);
}

void
sync_pool_main(Datum arg)
{
	PoolWorker	w;
	SyncWorkerArgs args;
	MemoryContext round_cxt;
	TimestampTz next_assign_check = 0;

	memset(&w, 0, sizeof(w));
	w.own_slot = DatumGetInt32(arg);
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	w.pool.dboid = args.dboid;
	w.pool.number = args.id;
	w.blamed = -1;

	sync_worker_init_signals();
	sync_worker_keep_heap();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, InvalidOid, 0);
	if (!sync_service_attach(w.own_slot, SYNC_JOB_POOL, args.id))
		proc_exit(0);
	before_shmem_exit(pool_detach, (Datum) 0);
	pgstat_report_appname(MyBgworkerEntry->bgw_name);

	w.pool.cxt = AllocSetContextCreate(TopMemoryContext, "sync pool", ALLOCSET_DEFAULT_SIZES);
	round_cxt = AllocSetContextCreate(TopMemoryContext, "sync pool round", ALLOCSET_DEFAULT_SIZES);
	w.pool.capacity = POOL_TRANSFERS;
	w.pool.http = sync_http_client_create_sized(w.pool.capacity);
	if (w.pool.http == NULL)
		ereport(ERROR, (errmsg("could not initialise libcurl")));
	w.pool.transfer_owner = MemoryContextAllocZero(w.pool.cxt, sizeof(SyncSeries *) * w.pool.capacity);
	w.pool.transfer_window = MemoryContextAllocZero(w.pool.cxt, sizeof(int) * w.pool.capacity);
	w.batches = sync_pool_batches_create(w.pool.cxt);
	w.max_carried = 64;
	w.carried = MemoryContextAlloc(w.pool.cxt, sizeof(Carried) * w.max_carried);
	sync_slot_set_phase(w.own_slot, SYNC_PHASE_IDLE);

	while (!sync_got_sigterm)
	{
		TimestampTz next_wake;
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		sync_worker_reload_if_asked();
		MemoryContextReset(round_cxt);
		MemoryContextSwitchTo(round_cxt);

		if (GetCurrentTimestamp() >= next_assign_check)
		{
			refresh_assignment(&w);
			next_assign_check = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ASSIGN_CHECK_MS);
		}
		collect_answers(&w);
		sync_pool_batches_finish(&w.pool, w.batches, round_cxt);
		send_batches(&w);
		next_wake = step_ready_series(&w);
		drop_finished(&w);
		next_wake = Min(next_wake, next_assign_check);
		timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_wake);
		if (sync_http_poll(w.pool.http, timeout))
		{
			/* the supervisor or a streamer: look at the assignment and seams now */
			next_assign_check = 0;
			latch_was_set(&w);
		}
	}

	/* stop: every series put down; what is stored is stored */
	MemoryContextSwitchTo(round_cxt);
	sync_pool_batches_cancel(&w.pool, w.batches);
	for (int i = w.ncarried - 1; i >= 0; i--)
		drop_carried(&w, i, true, SYNC_PHASE_STOPPED);
	sync_http_client_destroy(w.pool.http);
	proc_exit(0);
}
