/*-------------------------------------------------------------------------
 * storage_tuples.c
 *	  Owns the fast write of a page: parsed records become heap tuples
 *	  and go through the table AM's multi-insert and the index inserts,
 *	  what COPY does inside, without printing COPY text for the server to
 *	  parse again.
 *
 * Each value is built once from what the provider sent: the times from
 * their integer microseconds, prices and sizes by numeric's input
 * function from the provider's exact decimal text (the column's typmod
 * applied, as COPY would), source and symbol once a page.  NOT NULL and
 * CHECK constraints are checked per row (ExecConstraints) and the unique
 * indexes raise on a duplicate, so a page fails here exactly where a
 * COPY would, and storage.c's halving and idempotent paths work as
 * before.
 *
 * Rollup invalidation: sync's statement trigger on the table would read
 * the statement's transition table (every row captured once more) to
 * find the series and the time range touched.  The page knows both, so
 * for its own writes sync logs that range itself, one row a page, and
 * fires no trigger; other writers still go through the trigger.  The
 * fast path is used only when it can do exactly what the general one
 * would: a plain table whose triggers are all sync's rollup trigger,
 * whose columns sync writes have the types it builds, and whose other
 * columns need no default, generation or NOT NULL.  Anything else (a
 * user's trigger, a foreign table, an added column with a default) makes
 * the caller fall back to COPY.
 *
 * Partitioned tables (sync.bars and sync.trades since 0.9.0): each row is
 * routed to its partition as COPY routes it (ExecFindPartition), and the
 * rows of a batch go to each partition in runs, one multi-insert a run.
 * A partition the fast path cannot write exactly as COPY would (its own
 * trigger, another column layout or table AM, a foreign table) sends the
 * page to COPY, which is decided before the page's first row is written.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_relation.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "storage.h"
#include "storage_tuples.h"

/* tuples handed to the table AM at a time (COPY's own buffer size) */
#define TUPLES_PER_INSERT	1000
#define MAX_COLUMNS			11

/* A column sync writes: its name and the type it builds for it. */
typedef struct ColumnSpec
{
	const char *name;
	Oid			type;
} ColumnSpec;

static const ColumnSpec bar_columns[] = {
	{"source", TEXTOID}, {"symbol", TEXTOID}, {"bar_interval", INTERVALOID},
	{"ts", TIMESTAMPTZOID}, {"open", NUMERICOID}, {"high", NUMERICOID},
	{"low", NUMERICOID}, {"close", NUMERICOID}, {"volume", NUMERICOID},
	{"trades", INT8OID}, {"vwap", NUMERICOID}
};
enum
{
	BAR_SOURCE, BAR_SYMBOL, BAR_INTERVAL, BAR_TS, BAR_OPEN, BAR_HIGH, BAR_LOW,
	BAR_CLOSE, BAR_VOLUME, BAR_TRADES, BAR_VWAP
};

static const ColumnSpec trade_columns[] = {
	{"source", TEXTOID}, {"symbol", TEXTOID}, {"ts", TIMESTAMPTZOID},
	{"trade_id", TEXTOID}, {"price", NUMERICOID}, {"size", NUMERICOID},
	{"side", TEXTOID}
};
enum
{
	TRADE_SOURCE, TRADE_SYMBOL, TRADE_TS, TRADE_ID, TRADE_PRICE, TRADE_SIZE, TRADE_SIDE
};

/* One open target table and what writing a page into it needs. */
typedef struct TupleTarget
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	ModifyTableState *mtstate;	/* partitioned: what routing needs */
	PartitionTupleRouting *proute;	/* partitioned: NULL otherwise */
	ResultRelInfo **leaf;		/* partitioned: each slot's partition */
	BulkInsertState bistate;
	TupleTableSlot **slots;
	int			nslots;
	AttrNumber	attnum[MAX_COLUMNS];	/* each ColumnSpec's attribute */
	int32		typmod[MAX_COLUMNS];
	FmgrInfo	numeric_in;
	bool		invalidate;		/* sync's rollup trigger would have fired */
	MemoryContext row_cxt;		/* the values of one batch of tuples */
} TupleTarget;

static SPIPlanPtr invalidation_plan = NULL;

/* Whether a trigger enabled as tgenabled fires in this session. */
static bool
trigger_fires(char tgenabled)
{
	if (tgenabled == TRIGGER_FIRES_ALWAYS)
		return true;
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return tgenabled == TRIGGER_FIRES_ON_REPLICA;
	return tgenabled == TRIGGER_FIRES_ON_ORIGIN;
}

/*
 * Whether every trigger of rel is sync's rollup trigger; sets *invalidate
 * when its INSERT trigger would fire for a write of this session (the
 * trigger function itself does nothing while sync.keep_rollups is on).
 */
static bool
only_rollup_triggers(Relation rel, bool *invalidate)
{
	TriggerDesc *td = rel->trigdesc;
	Oid			fn;

	*invalidate = false;
	if (td == NULL)
		return true;
	fn = LookupFuncName(list_make2(makeString("sync"), makeString("_invalidate_rollups")),
						0, NULL, true);
	if (!OidIsValid(fn))
		return false;
	for (int i = 0; i < td->numtriggers; i++)
	{
		Trigger    *tg = &td->triggers[i];

		if (tg->tgfoid != fn)
			return false;
		if (TRIGGER_FOR_INSERT(tg->tgtype) && trigger_fires(tg->tgenabled))
			*invalidate = true;
	}
	if (sync_keep_rollups)
		*invalidate = false;
	return true;
}

/*
 * Whether rel's columns are what this path writes: each of cols with its
 * type, every other column free to be NULL without a default.  Fills
 * attnum and typmod.
 */
static bool
columns_match(TupleTarget *t, const ColumnSpec *cols, int ncols)
{
	TupleDesc	desc = RelationGetDescr(t->rel);
	bool		ours[MaxHeapAttributeNumber] = {0};

	if (desc->natts > MaxHeapAttributeNumber)
		return false;
	for (int i = 0; i < ncols; i++)
	{
		AttrNumber	a = attnameAttNum(t->rel, cols[i].name, false);
		Form_pg_attribute att;

		if (a <= 0)
			return false;
		att = TupleDescAttr(desc, a - 1);
		if (att->atttypid != cols[i].type || att->attgenerated)
			return false;
		t->attnum[i] = a;
		t->typmod[i] = att->atttypmod;
		ours[a - 1] = true;
	}
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (att->attisdropped || ours[a])
			continue;
		if (att->atthasdef || att->attgenerated || att->attnotnull || att->atthasmissing)
			return false;
	}
	return true;
}

/*
 * The kind of slot rows are built in: the table's own, and for a
 * partitioned table (which has no table AM) heap tuples, what its
 * partitions take; a partition of another kind sends the page to COPY.
 */
static const TupleTableSlotOps *
target_slot_ops(Relation rel)
{
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		return &TTSOpsBufferHeapTuple;
	return table_slot_callbacks(rel);
}

/*
 * Open sync.<relname> for a page, or return false (nothing opened) when
 * the fast path cannot write it exactly as COPY would.
 */
static bool
open_target(TupleTarget *t, const char *relname, const ColumnSpec *cols, int ncols, int nrows)
{
	RangeTblEntry *rte;
	AclResult	acl;
	TupleDesc	desc;

	memset(t, 0, sizeof(*t));
	t->rel = table_openrv(makeRangeVar("sync", (char *) relname, -1), RowExclusiveLock);
	acl = pg_class_aclcheck(RelationGetRelid(t->rel), GetUserId(), ACL_INSERT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(t->rel));
	if ((t->rel->rd_rel->relkind != RELKIND_RELATION &&
		 t->rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE) ||
		!only_rollup_triggers(t->rel, &t->invalidate) ||
		!columns_match(t, cols, ncols))
	{
		table_close(t->rel, RowExclusiveLock);
		return false;
	}

	t->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(t->rel);
	rte->relkind = t->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	ExecInitRangeTable(t->estate, list_make1(rte));
	t->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(t->estate, t->rri, 1);
	t->bistate = GetBulkInsertState();
	t->nslots = Min(nrows, TUPLES_PER_INSERT);
	t->slots = palloc(sizeof(TupleTableSlot *) * t->nslots);
	if (t->rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		/* the stand-in for a plan that ExecFindPartition asks for, as COPY's */
		t->mtstate = makeNode(ModifyTableState);
		t->mtstate->ps.state = t->estate;
		t->mtstate->operation = CMD_INSERT;
		t->mtstate->mt_nrels = 1;
		t->mtstate->resultRelInfo = t->rri;
		t->mtstate->rootResultRelInfo = t->rri;
		t->proute = ExecSetupPartitionTupleRouting(t->estate, t->rel);
		t->leaf = palloc(sizeof(ResultRelInfo *) * t->nslots);
	}
	else
		ExecOpenIndices(t->rri, false);

	/*
	 * The slots share one unreferenced copy of the descriptor: slots made
	 * on the relation's own would each pin it in the resource owner,
	 * which for a thousand slots a page was a measurable share of the
	 * whole write.
	 */
	desc = CreateTupleDescCopy(RelationGetDescr(t->rel));
	for (int i = 0; i < t->nslots; i++)
		t->slots[i] = MakeTupleTableSlot(desc, target_slot_ops(t->rel));
	fmgr_info(F_NUMERIC_IN, &t->numeric_in);
	t->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "sync page tuples",
									   ALLOCSET_DEFAULT_SIZES);
	return true;
}

static void
close_target(TupleTarget *t)
{
	FreeBulkInsertState(t->bistate);
	for (int i = 0; i < t->nslots; i++)
		ExecDropSingleTupleTableSlot(t->slots[i]);
	if (t->proute != NULL)
		ExecCleanupTupleRouting(t->mtstate, t->proute);
	ExecCloseResultRelations(t->estate);
	ExecCloseRangeTableRelations(t->estate);
	FreeExecutorState(t->estate);
	MemoryContextDelete(t->row_cxt);
	table_close(t->rel, NoLock);
}

/* The tuple to fill next: slot k of the batch, emptied. */
static TupleTableSlot *
begin_row(TupleTarget *t, int k)
{
	TupleTableSlot *slot = t->slots[k];

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	return slot;
}

static void
set_value(TupleTarget *t, TupleTableSlot *slot, int col, Datum value)
{
	slot->tts_values[t->attnum[col] - 1] = value;
	slot->tts_isnull[t->attnum[col] - 1] = false;
}

/* A decimal from its exact text, through numeric's input function. */
static void
set_numeric(TupleTarget *t, TupleTableSlot *slot, int col, const char *text)
{
	set_value(t, slot, col,
			  InputFunctionCall(&t->numeric_in, (char *) text, NUMERICOID, t->typmod[col]));
}

static Datum
timestamptz_datum(int64 us_since_unix_epoch)
{
	TimestampTz ts = us_since_unix_epoch -
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC;

	if (!IS_VALID_TIMESTAMP(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return TimestampTzGetDatum(ts);
}

/*
 * Provider text for a text column.  validate.c let through valid UTF-8
 * only; a database in another encoding gets it converted, and a character
 * that encoding lacks raises untranslatable_character, which refuses the
 * record (a data exception).
 */
static Datum
provider_text_datum(const char *s)
{
	size_t		len = strlen(s);

	if (GetDatabaseEncoding() != PG_UTF8)
		s = pg_any_to_server(s, len, PG_UTF8);
	return CStringGetTextDatum(s);
}

/*
 * Slots from..from+n-1, all bound for rri's table, become rows there:
 * constraints checked, tuples into the heap in one multi-insert, then into
 * every index (a duplicate key raises unique_violation, as in COPY).
 */
static void
insert_run(TupleTarget *t, ResultRelInfo *rri, int from, int n)
{
	CommandId	cid = GetCurrentCommandId(true);

	if (rri->ri_RelationDesc->rd_att->constr != NULL)
		for (int k = from; k < from + n; k++)
			ExecConstraints(rri, t->slots[k], t->estate);
	table_multi_insert(rri->ri_RelationDesc, t->slots + from, n, cid, 0, t->bistate);
	for (int k = from; k < from + n; k++)
	{
		if (rri->ri_NumIndices > 0)
			list_free(ExecInsertIndexTuples(rri, t->slots[k], t->estate,
											false, false, NULL, NIL));
		ResetPerTupleExprContext(t->estate);
	}
}

/*
 * Whether this path writes into partition rri exactly as COPY would: a
 * heap table of the parent's column layout that no trigger of its own
 * watches.
 */
static bool
partition_writable(TupleTarget *t, ResultRelInfo *rri)
{
	Relation	rel = rri->ri_RelationDesc;

	return rel->rd_rel->relkind == RELKIND_RELATION &&
		rri->ri_FdwRoutine == NULL &&
		rri->ri_TrigDesc == NULL &&
		rri->ri_RootToPartitionMap == NULL &&
		table_slot_callbacks(rel) == t->slots[0]->tts_ops;
}

/*
 * The filled slots 0..n-1 become rows.  A partitioned table's rows are
 * routed first, and go to each partition in runs of consecutive rows
 * (a page is in time order, so a run is usually the whole batch).
 * Returns false, writing nothing, when a partition needs COPY: allowed
 * only for a page's first batch (first), since COPY must then write the
 * whole page; later, the page raises instead and storage.c's halving
 * brings it down to batches that can go to COPY whole.
 */
static bool
insert_rows(TupleTarget *t, int n, bool first)
{
	int			start = 0;

	for (int k = 0; k < n; k++)
	{
		ExecStoreVirtualTuple(t->slots[k]);
		if (t->proute == NULL)
			continue;
		t->leaf[k] = ExecFindPartition(t->mtstate, t->rri, t->proute, t->slots[k], t->estate);
		if (!partition_writable(t, t->leaf[k]))
		{
			if (first)
				return false;
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("partition \"%s\" of sync.%s needs the general write path",
							RelationGetRelationName(t->leaf[k]->ri_RelationDesc),
							RelationGetRelationName(t->rel))));
		}
	}
	if (t->proute == NULL)
		insert_run(t, t->rri, 0, n);
	else
		for (int k = 1; k <= n; k++)
		{
			if (k < n && t->leaf[k] == t->leaf[start])
				continue;
			/* the bulk state's pinned page belongs to the last partition */
			ReleaseBulkInsertStatePin(t->bistate);
			insert_run(t, t->leaf[start], start, k - start);
			start = k;
		}
	MemoryContextReset(t->row_cxt);
	return true;
}

/* Log [lo, hi] of the series for the rollups, as sync's trigger would. */
static void
log_invalidation(SyncJob *job, TimestampTz lo, TimestampTz hi)
{
	Datum		values[4];

	if (invalidation_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		SPIPlanPtr	plan = SPI_prepare("INSERT INTO sync.rollup_invalidations (source, symbol, lo, hi)"
									   " VALUES ($1, $2, $3, $4)", 4, types);

		if (plan == NULL)
			elog(ERROR, "could not prepare the rollup invalidation: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		invalidation_plan = plan;
	}
	values[0] = CStringGetTextDatum(job->source_name);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = TimestampTzGetDatum(lo);
	values[3] = TimestampTzGetDatum(hi);
	if (SPI_execute_plan(invalidation_plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not log the rollup invalidation");
}

/* Whether a bar interval is the rollups' input, one minute. */
static bool
is_one_minute(const Interval *iv)
{
	Interval	minute = {.time = USECS_PER_MINUTE, .day = 0, .month = 0};

	return DatumGetBool(DirectFunctionCall2(interval_eq, IntervalPGetDatum(iv),
											IntervalPGetDatum(&minute)));
}

/*
 * What a page's rows share (built once a page) and how one record fills
 * its slot; fill returns the record's time.
 */
typedef struct PageRows
{
	SyncJob    *job;
	Datum		source;
	Datum		symbol;
	Datum		buy;
	Datum		sell;
	const void *recs;
} PageRows;

typedef TimestampTz (*FillRow) (TupleTarget *t, TupleTableSlot *slot, const PageRows *p, int i);

static TimestampTz
fill_bar(TupleTarget *t, TupleTableSlot *slot, const PageRows *p, int i)
{
	const SyncBar *b = &((const SyncBar *) p->recs)[i];
	Datum		ts = timestamptz_datum(b->ts_ms * 1000);

	set_value(t, slot, BAR_SOURCE, p->source);
	set_value(t, slot, BAR_SYMBOL, p->symbol);
	set_value(t, slot, BAR_INTERVAL, IntervalPGetDatum(p->job->bar_interval));
	set_value(t, slot, BAR_TS, ts);
	set_numeric(t, slot, BAR_OPEN, b->open);
	set_numeric(t, slot, BAR_HIGH, b->high);
	set_numeric(t, slot, BAR_LOW, b->low);
	set_numeric(t, slot, BAR_CLOSE, b->close);
	set_numeric(t, slot, BAR_VOLUME, b->volume);
	if (b->trades >= 0)
		set_value(t, slot, BAR_TRADES, Int64GetDatum(b->trades));
	if (b->vwap[0] != '\0')
		set_numeric(t, slot, BAR_VWAP, b->vwap);
	return DatumGetTimestampTz(ts);
}

static TimestampTz
fill_trade(TupleTarget *t, TupleTableSlot *slot, const PageRows *p, int i)
{
	const SyncTrade *tr = &((const SyncTrade *) p->recs)[i];
	Datum		ts = timestamptz_datum(tr->ts_us);

	set_value(t, slot, TRADE_SOURCE, p->source);
	set_value(t, slot, TRADE_SYMBOL, p->symbol);
	set_value(t, slot, TRADE_TS, ts);
	set_value(t, slot, TRADE_ID, provider_text_datum(tr->trade_id));
	set_numeric(t, slot, TRADE_PRICE, tr->price);
	set_numeric(t, slot, TRADE_SIZE, tr->size);
	if (tr->side == 'b' || tr->side == 's')
		set_value(t, slot, TRADE_SIDE, tr->side == 'b' ? p->buy : p->sell);
	return DatumGetTimestampTz(ts);
}

/*
 * n records into sync.<relname>, TUPLES_PER_INSERT at a time; the page's
 * time range logged for the rollups when sync's trigger would have
 * fired and the records are rollup input.  -1 when the table needs COPY.
 */
static int64
insert_page(SyncJob *job, const char *relname, const ColumnSpec *cols, int ncols,
			const void *recs, int n, FillRow fill, bool rollup_input)
{
	TupleTarget t;
	PageRows	p;
	TimestampTz lo = DT_NOEND,
				hi = DT_NOBEGIN;

	if (n <= 0)
		return 0;
	if (!open_target(&t, relname, cols, ncols, n))
		return -1;
	p.job = job;
	p.source = CStringGetTextDatum(job->source_name);
	p.symbol = CStringGetTextDatum(job->symbol);
	p.buy = CStringGetTextDatum("buy");
	p.sell = CStringGetTextDatum("sell");
	p.recs = recs;
	for (int i = 0; i < n; i += t.nslots)
	{
		int			m = Min(t.nslots, n - i);
		MemoryContext old = MemoryContextSwitchTo(t.row_cxt);

		for (int k = 0; k < m; k++)
		{
			TimestampTz ts = fill(&t, begin_row(&t, k), &p, i + k);

			lo = Min(lo, ts);
			hi = Max(hi, ts);
		}
		MemoryContextSwitchTo(old);
		if (!insert_rows(&t, m, i == 0))
		{
			close_target(&t);
			return -1;
		}
	}
	if (t.invalidate && rollup_input)
		log_invalidation(job, lo, hi);
	close_target(&t);
	return n;
}

int64
sync_tuples_insert_bars(SyncJob *job, const SyncBar *bars, int n)
{
	/* sync's trigger logs only 1-minute bars: the rollups' input */
	return insert_page(job, "bars", bar_columns, lengthof(bar_columns), bars, n, fill_bar,
					   is_one_minute(job->bar_interval));
}

int64
sync_tuples_insert_trades(SyncJob *job, const SyncTrade *trades, int n)
{
	return insert_page(job, "trades", trade_columns, lengthof(trade_columns), trades, n, fill_trade,
					   true);
}
