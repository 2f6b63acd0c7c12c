/*-------------------------------------------------------------------------
 * storage.c
 *	  Owns every write a worker makes: bars, rejects, the subscription's
 *	  checkpoint and counters, and sync.job_runs.
 *
 * A page of bars is written as a COPY (batched heap inserts, the fastest
 * write PostgreSQL has) and, when a row of the page exists already, as one
 * INSERT ... SELECT FROM unnest(arrays) ... ON CONFLICT that is idempotent
 * on the primary key: a re-sent bar with the same values changes nothing, a
 * corrected one replaces the stored values.  The checkpoint is updated in the same
 * transaction, so a crash can never store data without advancing the
 * checkpoint or advance it without the data.
 *
 * A page the database refuses must never stall its job (the same page
 * asked for and refused forever): when a COPY or insert fails on a
 * record's data (a CHECK, a trigger, a value the type refuses), the page is
 * stored again by halves, each in a subtransaction, down to the records
 * that fail; those become rejects whose reason is the database's error,
 * and the rest is stored.  Errors that are not about a record (privileges,
 * a missing table, out of memory, cancel) still end the transaction.
 *
 * Text from a provider that reaches a text column here outside a record's
 * validated fields (reject reasons and payloads, error messages) is
 * stored escaped (validate.c), so every stored string is valid in the
 * database's encoding.
 *
 * On a Citus coordinator, sync.bars and sync.trades may be distributed
 * tables (sync_distribute()): their rows live on the worker nodes and the
 * local relation is an empty shell, so a page goes through the idempotent
 * SQL statement, which Citus routes to the symbol's shard, never through
 * the in-process COPY or storage_tuples.c's fast write, which would fill
 * the shell.  The rollup triggers are gone there: the page's time range
 * is logged here for the rollups instead.
 *
 * Storage does not know which provider a record came from.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/copy.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "executor/spi.h"
#include "utils/resowner.h"

#include "providers/timefmt.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "mb/pg_wchar.h"
#include "storage.h"
#include "storage_citus.h"
#include "storage_tuples.h"
#include "validate.h"

/* longest error text stored (escaped, so up to 4 times the message) */
#define SYNC_ERROR_TEXT_LEN 4096

static SPIPlanPtr insert_bars_plan = NULL;	/* idempotent upsert */

/* records the database refused while a page was stored (see store_slice) */
static SyncReject *refused = NULL;
static int	nrefused = 0;
static int	refused_capacity = 0;

/* the COPY text of the page being appended, read by copy_source() */
static StringInfoData copy_text;
static int	copy_pos;

TimestampTz
sync_ms_to_timestamptz(int64 ms)
{
	return (ms - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000) * 1000;
}

int64
sync_timestamptz_to_ms(TimestampTz ts)
{
	return ts / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
}

static TimestampTz
us_to_timestamptz(int64 us)
{
	return us - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC;
}

/*
 * Provider text as a text datum: invalid UTF-8 and control characters as
 * \xNN (validate.c), and every non-ASCII byte so where the database's
 * encoding is not UTF-8.  At most maxlen bytes of it.
 */
static Datum
clean_text_datum(const char *s, size_t maxlen)
{
	size_t		len;
	char	   *out;

	s = s ? s : "";
	len = Min(strlen(s) * 4, maxlen) + 1;	/* an escape is 4 bytes */
	out = palloc(len);
	sync_text_escape(s, out, len, GetDatabaseEncoding() != PG_UTF8);
	return CStringGetTextDatum(out);
}

static Datum
text_array(Datum *elems, int n)
{
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Statements storage runs for every page (the checkpoint, the counters,
 * the quiet stretches) are planned once per process and kept: parsing and
 * planning them again for every page cost as much as a third of a page's
 * SPI time.  Each is a string literal of this file, so its address is its
 * key; a kept plan is re-planned by the plan cache after DDL.
 */
#define MAX_KEPT_PLANS 32

typedef struct KeptPlan
{
	const char *sql;
	SPIPlanPtr	plan;
} KeptPlan;

static KeptPlan kept_plans[MAX_KEPT_PLANS];
static int	nkept_plans = 0;

static SPIPlanPtr
kept_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan;

	for (int i = 0; i < nkept_plans; i++)
		if (kept_plans[i].sql == sql)
			return kept_plans[i].plan;
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare: %s: %s", sql, SPI_result_code_string(SPI_result));
	if (nkept_plans == MAX_KEPT_PLANS)
		return plan;			/* planned for this call only */
	SPI_keepplan(plan);
	kept_plans[nkept_plans].sql = sql;
	kept_plans[nkept_plans].plan = plan;
	nkept_plans++;
	return plan;
}

static void
spi_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls, int expect)
{
	int			ret = SPI_execute_plan(kept_plan(sql, nargs, types), values, nulls, false, 0);

	if (ret != expect)
		elog(ERROR, "SPI failed (%d) on: %s", ret, sql);
}

#define BARS_UPSERT \
	"INSERT INTO sync.bars AS b" \
	" (source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap)" \
	" SELECT $1, $2, $3, r.ts, r.o::numeric, r.h::numeric, r.l::numeric," \
	"        r.c::numeric, r.v::numeric, r.n, r.vw::numeric" \
	"   FROM unnest($4, $5, $6, $7, $8, $9, $10, $11) AS r(ts, o, h, l, c, v, n, vw)"

static SPIPlanPtr
prepare_bars_plan(const char *sql)
{
	Oid			types[11] = {TEXTOID, TEXTOID, INTERVALOID, TIMESTAMPTZARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	INT8ARRAYOID, TEXTARRAYOID};
	SPIPlanPtr	plan = SPI_prepare(sql, 11, types);

	if (plan == NULL)
		elog(ERROR, "could not prepare bar insert: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

static void
prepare_insert_bars(void)
{
	insert_bars_plan = prepare_bars_plan(BARS_UPSERT
								   " ON CONFLICT (source, symbol, bar_interval, ts) DO UPDATE"
								   "    SET open = excluded.open, high = excluded.high, low = excluded.low,"
								   "        close = excluded.close, volume = excluded.volume,"
								   "        trades = excluded.trades, vwap = excluded.vwap"
								   "  WHERE (b.open, b.high, b.low, b.close, b.volume, b.trades, b.vwap)"
								   "        IS DISTINCT FROM"
								   "        (excluded.open, excluded.high, excluded.low, excluded.close,"
								   "         excluded.volume, excluded.trades, excluded.vwap)");
}

/* COPY's data source: hands out copy_text. */
static int
copy_source(void *outbuf, int minread, int maxread)
{
	int			n = Min(maxread, copy_text.len - copy_pos);

	memcpy(outbuf, copy_text.data + copy_pos, n);
	copy_pos += n;
	return n;
}

/* Text for COPY's text format: backslash, tab and line ends escaped. */
static void
append_copy_field(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		if (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : *s);
	}
}

/* COPY copy_text into sync.<relname>, as COPY FROM STDIN would. */
static int64
copy_rows(const char *relname, const char *const *names, int ncols)
{
	Relation	rel;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	CopyFromState cstate;
	List	   *columns = NIL;
	uint64		copied;

	copy_pos = 0;
	for (int i = 0; i < ncols; i++)
		columns = lappend(columns, makeString(pstrdup(names[i])));
	rel = table_openrv(makeRangeVar("sync", (char *) relname, -1), RowExclusiveLock);
	pstate = make_parsestate(NULL);
	nsitem = addRangeTableEntryForRelation(pstate, rel, RowExclusiveLock, NULL, false, false);
	nsitem->p_rte->requiredPerms = ACL_INSERT;
	cstate = BeginCopyFrom(pstate, rel, NULL, NULL, false, copy_source, columns, NIL);
	copied = CopyFrom(cstate);
	EndCopyFrom(cstate);
	free_parsestate(pstate);
	table_close(rel, NoLock);
	return (int64) copied;
}

/*
 * Whether an error is about the data of a record (a value its type
 * refuses, a constraint, a trigger raising): then the record is refused
 * and the rest stored.  Anything else (privileges, a missing table, out of
 * memory, cancel, shutdown, deadlock) is not the record's fault and ends
 * the transaction as before.
 */
static bool
record_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_DATA_EXCEPTION:
		case ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION:
		case ERRCODE_TRIGGERED_ACTION_EXCEPTION:
		case ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION:
		case ERRCODE_WITH_CHECK_OPTION_VIOLATION:
		case ERRCODE_PLPGSQL_ERROR:
		case ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION:
			return true;
		default:
			return false;
	}
}

/* citus: the table is a Citus table (storage_citus.c) */
typedef int64 (*StoreFn) (SyncJob *job, const void *recs, int n, bool citus);

/*
 * Run fn in a subtransaction.  Returns its rows, or -1 when it failed on
 * a record error (*edata then holds the error); any other error is
 * thrown on.  Almost every page of a backfill is new data (rows past the
 * checkpoint cannot have been stored by this job), so the first try is a
 * COPY: its batched heap inserts cost a fraction of the speculative
 * insertion ON CONFLICT needs; a unique violation sends the caller to the
 * idempotent path.
 */
static int64
try_store(StoreFn fn, SyncJob *job, const void *recs, int n, bool citus, ErrorData **edata)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int64 stored = -1;

	*edata = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		stored = fn(job, recs, n, citus);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!record_error(e->sqlerrcode))
			ReThrowError(e);
		*edata = e;
		stored = -1;
	}
	PG_END_TRY();
	return stored;
}

/* Keep a record the database refused, with its error as the reason. */
static void
refuse_record(const char *payload, int64 ts_ms, int32 target, const ErrorData *edata)
{
	SyncReject *r;

	if (nrefused >= refused_capacity)
	{
		refused_capacity = Max(16, refused_capacity * 2);
		refused = refused == NULL ?
			palloc(sizeof(SyncReject) * refused_capacity) :
			repalloc(refused, sizeof(SyncReject) * refused_capacity);
	}
	r = &refused[nrefused++];
	r->ts_ms = ts_ms;
	r->target = target;
	snprintf(r->reason, sizeof(r->reason), "not stored: %s", edata->message);
	strlcpy(r->payload, payload, sizeof(r->payload));
}

/* The COPY text of a page of bars. */
static void
bars_copy_text(SyncJob *job, const SyncBar *bars, int n)
{
	StringInfoData prefix;

	initStringInfo(&prefix);
	append_copy_field(&prefix, job->source_name);
	appendStringInfoChar(&prefix, '\t');
	append_copy_field(&prefix, job->symbol);
	appendStringInfo(&prefix, "\t%lld milliseconds\t", (long long) job->interval_ms);

	initStringInfo(&copy_text);
	for (int i = 0; i < n; i++)
	{
		const SyncBar *b = &bars[i];
		char		ts[40];

		sync_format_rfc3339(b->ts_ms * 1000, ts, sizeof(ts));
		appendBinaryStringInfo(&copy_text, prefix.data, prefix.len);
		appendStringInfo(&copy_text, "%s\t%s\t%s\t%s\t%s\t%s\t", ts, b->open, b->high,
						 b->low, b->close, b->volume);
		if (b->trades >= 0)
			appendStringInfo(&copy_text, "%lld\t", (long long) b->trades);
		else
			appendStringInfoString(&copy_text, "\\N\t");
		appendStringInfoString(&copy_text, b->vwap[0] ? b->vwap : "\\N");
		appendStringInfoChar(&copy_text, '\n');
	}
}

static int64
copy_bars(SyncJob *job, const void *recs, int n, bool citus)
{
	static const char *const names[] = {"source", "symbol", "bar_interval", "ts", "open",
	"high", "low", "close", "volume", "trades", "vwap"};
	int64		stored = sync_tuples_insert_bars(job, (const SyncBar *) recs, n);

	if (stored >= 0)
		return stored;
	bars_copy_text(job, (const SyncBar *) recs, n);
	return copy_rows("bars", names, lengthof(names));
}

/* The COPY text of a page of trades. */
static void
trades_copy_text(SyncJob *job, const SyncTrade *trades, int n)
{
	initStringInfo(&copy_text);
	for (int i = 0; i < n; i++)
	{
		const SyncTrade *t = &trades[i];
		char		ts[40];

		sync_format_rfc3339(t->ts_us, ts, sizeof(ts));
		append_copy_field(&copy_text, job->source_name);
		appendStringInfoChar(&copy_text, '\t');
		append_copy_field(&copy_text, job->symbol);
		appendStringInfo(&copy_text, "\t%s\t", ts);
		append_copy_field(&copy_text, t->trade_id);
		appendStringInfo(&copy_text, "\t%s\t%s\t%s\n", t->price, t->size,
						 t->side == 'b' ? "buy" : t->side == 's' ? "sell" : "\\N");
	}
}

static int64
copy_trades(SyncJob *job, const void *recs, int n, bool citus)
{
	static const char *const names[] = {"source", "symbol", "ts", "trade_id", "price", "size", "side"};
	int64		stored = sync_tuples_insert_trades(job, (const SyncTrade *) recs, n);

	if (stored >= 0)
		return stored;
	trades_copy_text(job, (const SyncTrade *) recs, n);
	return copy_rows("trades", names, lengthof(names));
}

/*
 * After a statement wrote rows of [lo, hi] (stored of them): on a Citus
 * table, which has no rollup trigger, log the range for the rollups as the
 * trigger would have.  Returns stored.
 */
static int64
citus_page_written(SyncJob *job, bool citus, bool trades, TimestampTz lo, TimestampTz hi,
				   int64 stored)
{
	if (citus && stored > 0)
		sync_tuples_log_invalidation(job, trades, lo, hi);
	return stored;
}

/*
 * Trades where some exist already (a re-fetched page): an insert that
 * skips them, a trade never changes once made.  The values go as arrays,
 * never as text to split again.
 */
static int64
insert_trades_skipping(SyncJob *job, const void *recs, int n, bool citus)
{
	const SyncTrade *trades = (const SyncTrade *) recs;
	Datum	   *ts = palloc(sizeof(Datum) * n);
	Datum	   *id = palloc(sizeof(Datum) * n);
	Datum	   *price = palloc(sizeof(Datum) * n);
	Datum	   *size = palloc(sizeof(Datum) * n);
	Datum	   *side = palloc(sizeof(Datum) * n);
	bool	   *sidenull = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Oid			types[7] = {TEXTOID, TEXTOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[7];
	TimestampTz lo = DT_NOEND,
				hi = DT_NOBEGIN;

	for (int i = 0; i < n; i++)
	{
		const SyncTrade *t = &trades[i];

		ts[i] = TimestampTzGetDatum(us_to_timestamptz(t->ts_us));
		lo = Min(lo, DatumGetTimestampTz(ts[i]));
		hi = Max(hi, DatumGetTimestampTz(ts[i]));
		id[i] = CStringGetTextDatum(t->trade_id);
		price[i] = CStringGetTextDatum(t->price);
		size[i] = CStringGetTextDatum(t->size);
		sidenull[i] = t->side != 'b' && t->side != 's';
		side[i] = sidenull[i] ? (Datum) 0 : CStringGetTextDatum(t->side == 'b' ? "buy" : "sell");
	}
	values[0] = CStringGetTextDatum(job->source_name);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = PointerGetDatum(construct_array(ts, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = text_array(id, n);
	values[4] = text_array(price, n);
	values[5] = text_array(size, n);
	values[6] = PointerGetDatum(construct_md_array(side, sidenull, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
	spi_exec("INSERT INTO sync.trades (source, symbol, ts, trade_id, price, size, side)"
			 " SELECT $1, $2, r.ts, r.id, r.p::numeric, r.s::numeric, r.side"
			 "   FROM unnest($3, $4, $5, $6, $7) AS r(ts, id, p, s, side)"
			 " ON CONFLICT (source, symbol, trade_id, ts) DO NOTHING",
			 7, types, values, NULL, SPI_OK_INSERT);
	return citus_page_written(job, citus, true, lo, hi, (int64) SPI_processed);
}

static int64
upsert_bars(SyncJob *job, const void *recs, int n, bool citus)
{
	const SyncBar *bars = (const SyncBar *) recs;
	Datum	   *ts = palloc(sizeof(Datum) * n);
	Datum	   *o = palloc(sizeof(Datum) * n);
	Datum	   *h = palloc(sizeof(Datum) * n);
	Datum	   *l = palloc(sizeof(Datum) * n);
	Datum	   *c = palloc(sizeof(Datum) * n);
	Datum	   *v = palloc(sizeof(Datum) * n);
	Datum	   *tr = palloc(sizeof(Datum) * n);
	Datum	   *vw = palloc(sizeof(Datum) * n);
	bool	   *trnull = palloc(sizeof(bool) * n);
	bool	   *vwnull = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	Datum		values[11];
	int			ret;
	TimestampTz lo = DT_NOEND,
				hi = DT_NOBEGIN;

	for (int i = 0; i < n; i++)
	{
		const SyncBar *b = &bars[i];

		ts[i] = TimestampTzGetDatum(sync_ms_to_timestamptz(b->ts_ms));
		lo = Min(lo, DatumGetTimestampTz(ts[i]));
		hi = Max(hi, DatumGetTimestampTz(ts[i]));
		o[i] = CStringGetTextDatum(b->open);
		h[i] = CStringGetTextDatum(b->high);
		l[i] = CStringGetTextDatum(b->low);
		c[i] = CStringGetTextDatum(b->close);
		v[i] = CStringGetTextDatum(b->volume);
		tr[i] = Int64GetDatum(b->trades);
		trnull[i] = b->trades < 0;
		vwnull[i] = b->vwap[0] == '\0';
		vw[i] = vwnull[i] ? (Datum) 0 : CStringGetTextDatum(b->vwap);
	}
	values[0] = CStringGetTextDatum(job->source_name);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = IntervalPGetDatum(job->bar_interval);
	values[3] = PointerGetDatum(construct_array(ts, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = text_array(o, n);
	values[5] = text_array(h, n);
	values[6] = text_array(l, n);
	values[7] = text_array(c, n);
	values[8] = text_array(v, n);
	values[9] = PointerGetDatum(construct_md_array(tr, trnull, 1, dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[10] = PointerGetDatum(construct_md_array(vw, vwnull, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));

	if (insert_bars_plan == NULL)
		prepare_insert_bars();
	ret = SPI_execute_plan(insert_bars_plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "bar insert failed: %s", SPI_result_code_string(ret));
	return citus_page_written(job, citus, false, lo, hi, (int64) SPI_processed);
}

static void
insert_rejects(SyncJob *job, const SyncReject *rejects, int n)
{
	Datum	   *reasons = palloc(sizeof(Datum) * n);
	Datum	   *payloads = palloc(sizeof(Datum) * n);
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[5];

	for (int i = 0; i < n; i++)
	{
		reasons[i] = clean_text_datum(rejects[i].reason, SYNC_REASON_LEN * 4);
		payloads[i] = clean_text_datum(rejects[i].payload, SYNC_PAYLOAD_LEN * 4);
	}
	values[0] = CStringGetTextDatum(job->source_name);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = CStringGetTextDatum(job->dataset);
	values[3] = text_array(reasons, n);
	values[4] = text_array(payloads, n);
	spi_exec("INSERT INTO sync.rejects (source, symbol, dataset, reason, payload)"
			 " SELECT $1, $2, $3, r.reason, r.payload FROM unnest($4, $5) AS r(reason, payload)",
			 5, types, values, NULL, SPI_OK_INSERT);
}

/* A refused record as text for sync.rejects.payload. */
static void
bar_payload(const SyncBar *b, char *buf, size_t len)
{
	char		ts[40];

	sync_format_rfc3339(b->ts_ms * 1000, ts, sizeof(ts));
	snprintf(buf, len, "%s,%s,%s,%s,%s,%s,%lld,%s", ts, b->open, b->high, b->low, b->close,
			 b->volume, (long long) b->trades, b->vwap);
}

static void
trade_payload(const SyncTrade *t, char *buf, size_t len)
{
	char		ts[40];

	sync_format_rfc3339(t->ts_us, ts, sizeof(ts));
	snprintf(buf, len, "%s,%s,%s,%s,%s", ts, t->trade_id, t->price, t->size,
			 t->side == 'b' ? "buy" : t->side == 's' ? "sell" : "");
}

/*
 * Store n bars or trades from recs: a COPY, the idempotent insert where
 * some exist already, and where the database refuses a record, each half
 * again, down to the records it refuses (kept in refused[]).  Progress is
 * certain: every record ends stored, skipped as present, or refused.
 * citus: the table is a Citus table, written only by the statements Citus
 * routes.
 */
static int64
store_slice(SyncJob *job, bool trades, const void *recs, int n, bool idempotent, bool citus)
{
	size_t		size = trades ? sizeof(SyncTrade) : sizeof(SyncBar);
	/* a Citus table gets the statement Citus routes (the header says why) */
	StoreFn		fn = trades ? (idempotent || citus ? insert_trades_skipping : copy_trades) :
		(idempotent || citus ? upsert_bars : copy_bars);
	ErrorData  *edata;
	int64		stored;
	int			half;

	if (n == 0)
		return 0;
	stored = try_store(fn, job, recs, n, citus, &edata);
	if (stored >= 0)
		return stored;
	if (!idempotent && edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
	{
		FreeErrorData(edata);
		return store_slice(job, trades, recs, n, true, citus);
	}
	if (n == 1)
	{
		char		payload[SYNC_PAYLOAD_LEN];

		if (trades)
			trade_payload((const SyncTrade *) recs, payload, sizeof(payload));
		else
			bar_payload((const SyncBar *) recs, payload, sizeof(payload));
		refuse_record(payload,
					  trades ? INT64_MIN : ((const SyncBar *) recs)->ts_ms,
					  trades ? ((const SyncTrade *) recs)->target : ((const SyncBar *) recs)->target,
					  edata);
		FreeErrorData(edata);
		return 0;
	}
	FreeErrorData(edata);
	half = n / 2;
	stored = store_slice(job, trades, recs, half, idempotent, citus);
	return stored + store_slice(job, trades, (const char *) recs + half * size, n - half, idempotent,
								citus);
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/*
 * Record quiet stretches.  The first one usually continues the stretch the
 * previous poll recorded (an idle job finds nothing new every poll): it
 * extends that row instead of adding one, so sync.checked_gaps grows with
 * the number of quiet stretches, not of polls.
 */
static void
insert_checked_gaps(SyncJob *job, Datum *from, Datum *to, int n)
{
	Oid			types[5] = {TEXTOID, TEXTOID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	int			first = 0;

	values[0] = CStringGetTextDatum(job->source_name);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = IntervalPGetDatum(job->bar_interval);
	values[3] = from[0];
	values[4] = to[0];
	spi_exec("UPDATE sync.checked_gaps SET gap_to = $5, checked_at = now()"
			 " WHERE source = $1 AND symbol = $2 AND bar_interval = $3 AND gap_to = $4",
			 5, types, values, NULL, SPI_OK_UPDATE);
	if (SPI_processed > 0)
		first = 1;
	if (first < n)
	{
		types[3] = types[4] = TIMESTAMPTZARRAYOID;
		values[3] = PointerGetDatum(construct_array(from + first, n - first, TIMESTAMPTZOID, 8,
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[4] = PointerGetDatum(construct_array(to + first, n - first, TIMESTAMPTZOID, 8,
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		spi_exec("INSERT INTO sync.checked_gaps (source, symbol, bar_interval, gap_from, gap_to)"
				 " SELECT $1, $2, $3, g.f, g.t FROM unnest($4, $5) AS g(f, t)",
				 5, types, values, NULL, SPI_OK_INSERT);
	}
}

/*
 * The provider was asked for [from_ms, to_ms) and answered this page:
 * every stretch without a bar, accepted or refused, was quiet.  Record
 * those stretches so sync.gaps does not list them.
 */
static void
record_quiet_stretches(SyncJob *job, const SyncPage *page, int64 from_ms, int64 to_ms)
{
	int64	   *seen = palloc(sizeof(int64) * (page->nbars + page->nrejects + 1));
	Datum	   *gap_from = palloc(sizeof(Datum) * (page->nbars + page->nrejects + 1));
	Datum	   *gap_to = palloc(sizeof(Datum) * (page->nbars + page->nrejects + 1));
	int			nseen = 0;
	int			ngaps = 0;
	int64		next = from_ms;

	for (int i = 0; i < page->nbars; i++)
		seen[nseen++] = page->bars[i].ts_ms;
	for (int i = 0; i < page->nrejects; i++)
		if (page->rejects[i].ts_ms != INT64_MIN)
			seen[nseen++] = page->rejects[i].ts_ms;
	qsort(seen, nseen, sizeof(int64), int64_cmp);

	for (int i = 0; i <= nseen; i++)
	{
		int64		t = i < nseen ? seen[i] : to_ms;

		if (t > next)
		{
			gap_from[ngaps] = TimestampTzGetDatum(sync_ms_to_timestamptz(next));
			gap_to[ngaps] = TimestampTzGetDatum(sync_ms_to_timestamptz(t));
			ngaps++;
		}
		if (i < nseen && t + job->interval_ms > next)
			next = t + job->interval_ms;
	}
	if (ngaps > 0)
		insert_checked_gaps(job, gap_from, gap_to, ngaps);
}

/* Record [from_ms, to_ms) as asked for and settled, whatever it holds. */
void
sync_store_checked_gap(SyncJob *job, int64 from_ms, int64 to_ms)
{
	Datum		f = TimestampTzGetDatum(sync_ms_to_timestamptz(from_ms));
	Datum		t = TimestampTzGetDatum(sync_ms_to_timestamptz(to_ms));

	SPI_connect();
	insert_checked_gaps(job, &f, &t, 1);
	SPI_finish();
}

/*
 * Store a page: its bars or trades, its rejects, the quiet stretches of [from_ms,
 * to_ms), the new checkpoint and the counters, all in the caller's
 * transaction.  Returns the number of rows written.
 */
int64
sync_store_page(SyncJob *job, const SyncPage *page, int64 from_ms, int64 to_ms,
					TimestampTz checkpoint)
{
	int64		stored = 0;
	Oid			types[4] = {INT4OID, TIMESTAMPTZOID, INT8OID, INT8OID};
	Datum		values[4];
	char		nulls[4] = "    ";

	SPI_connect();
	/* in this transaction's memory, gone with it */
	refused = NULL;
	nrefused = refused_capacity = 0;
	if (page->nbars > 0)
		stored = store_slice(job, false, page->bars, page->nbars, false,
							 sync_citus_distributed("bars"));
	if (page->ntrades > 0)
		stored += store_slice(job, true, page->trades, page->ntrades, false,
							  sync_citus_distributed("trades"));
	if (page->nrejects > 0)
		insert_rejects(job, page->rejects, page->nrejects);
	if (nrefused > 0)
	{
		insert_rejects(job, refused, nrefused);
		ereport(LOG,
				(errmsg("sync job %s of source \"%s\": the database refused %d record(s) of a page",
						job->symbol, job->source_name, nrefused),
				 errdetail("%s", refused[0].reason),
				 errhint("The records are in sync.rejects; the rest of the page is stored.")));
	}
	/* a minute without a trade is no hole: only bar series have gaps */
	if (to_ms > from_ms && page->trades == NULL)
		record_quiet_stretches(job, page, from_ms, to_ms);

	values[0] = Int32GetDatum(job->subscription_id);
	values[1] = TimestampTzGetDatum(checkpoint);
	nulls[1] = checkpoint == DT_NOBEGIN ? 'n' : ' ';
	values[2] = Int64GetDatum(stored);
	values[3] = Int64GetDatum(page->nrejects + nrefused);
	if (job->one_off)
	{
		/* a requested run keeps its own checkpoint */
		types[0] = INT8OID;
		values[0] = Int64GetDatum(job->job_run_id);
		spi_exec("UPDATE sync.job_runs"
				 "   SET checkpoint = greatest(checkpoint, $2),"
				 "       rows = rows + $3, rows_rejected = rows_rejected + $4"
				 " WHERE id = $1",
				 4, types, values, nulls, SPI_OK_UPDATE);
	}
	else
		spi_exec("UPDATE sync.subscriptions"
				 "   SET synced_through = greatest(synced_through, $2),"
				 "       rows_stored = rows_stored + $3, rows_rejected = rows_rejected + $4"
				 " WHERE id = $1",
				 4, types, values, nulls, SPI_OK_UPDATE);
	if (job->job_run_id != 0 && !job->one_off)
	{
		Oid			rtypes[3] = {INT8OID, INT8OID, INT8OID};
		Datum		rvalues[3] = {Int64GetDatum(job->job_run_id), Int64GetDatum(stored),
		Int64GetDatum(page->nrejects + nrefused)};

		spi_exec("UPDATE sync.job_runs SET rows = rows + $2, rows_rejected = rows_rejected + $3"
				 " WHERE id = $1",
				 3, rtypes, rvalues, NULL, SPI_OK_UPDATE);
	}
	SPI_finish();
	if (checkpoint != DT_NOBEGIN && checkpoint > job->synced_through)
		job->synced_through = checkpoint;
	return stored;
}

/* Keep a payload that could not be parsed at all (a malformed body). */
void
sync_store_reject(SyncJob *job, const char *reason, const char *payload)
{
	SyncReject r;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(job->subscription_id)};

	r.ts_ms = INT64_MIN;
	strlcpy(r.reason, reason, sizeof(r.reason));
	strlcpy(r.payload, payload ? payload : "", sizeof(r.payload));
	SPI_connect();
	insert_rejects(job, &r, 1);
	if (job->one_off)
	{
		Oid			rtypes[1] = {INT8OID};
		Datum		rvalues[1] = {Int64GetDatum(job->job_run_id)};

		spi_exec("UPDATE sync.job_runs SET rows_rejected = rows_rejected + 1 WHERE id = $1",
				 1, rtypes, rvalues, NULL, SPI_OK_UPDATE);
	}
	else
		spi_exec("UPDATE sync.subscriptions SET rows_rejected = rows_rejected + 1 WHERE id = $1",
				 1, types, values, NULL, SPI_OK_UPDATE);
	SPI_finish();
}

void
sync_job_run_begin(SyncJob *job, const char *kind, TimestampTz range_from, TimestampTz range_to)
{
	Oid			types[7] = {TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[7];
	bool		isnull;

	values[0] = CStringGetTextDatum(kind);
	values[1] = Int32GetDatum(job->subscription_id);
	values[2] = CStringGetTextDatum(job->source_name);
	values[3] = CStringGetTextDatum(job->symbol);
	values[4] = CStringGetTextDatum(job->dataset);
	values[5] = TimestampTzGetDatum(range_from);
	values[6] = TimestampTzGetDatum(range_to);
	SPI_connect();
	spi_exec("INSERT INTO sync.job_runs (kind, subscription_id, source, symbol, dataset, range_from, range_to)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
			 7, types, values, NULL, SPI_OK_INSERT_RETURNING);
	job->job_run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
}

void
sync_job_run_finish(SyncJob *job, const char *state, const char *error)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = "   ";

	if (job->job_run_id == 0)
		return;
	values[0] = Int64GetDatum(job->job_run_id);
	values[1] = CStringGetTextDatum(state);
	values[2] = error ? clean_text_datum(error, SYNC_ERROR_TEXT_LEN) : (Datum) 0;
	nulls[2] = error ? ' ' : 'n';
	SPI_connect();
	spi_exec("UPDATE sync.job_runs SET state = $2, error = $3, finished_at = now() WHERE id = $1",
			 3, types, values, nulls, SPI_OK_UPDATE);
	SPI_finish();
	job->job_run_id = 0;
}

/*
 * A run still 'running' when its worker starts again was cut short by a
 * crash, a kill or a server stop: say so, so the history counts it.
 */
void
sync_job_runs_interrupt_stale(int32 subscription_id)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(subscription_id)};

	SPI_connect();
	spi_exec("UPDATE sync.job_runs SET state = 'interrupted', finished_at = now(),"
			 "       error = coalesce(error, 'worker stopped before the run finished')"
			 " WHERE subscription_id = $1 AND state = 'running' AND NOT requested",
			 1, types, values, NULL, SPI_OK_UPDATE);
	SPI_finish();
}

/* Mark a requested run as running (again, after a restart). */
void
sync_job_run_resume(SyncJob *job)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job->job_run_id)};

	SPI_connect();
	spi_exec("UPDATE sync.job_runs SET state = 'running',"
			 "       started_at = CASE WHEN state = 'pending' THEN now() ELSE started_at END"
			 " WHERE id = $1",
			 1, types, values, NULL, SPI_OK_UPDATE);
	SPI_finish();
}

/*
 * Record an error on the subscription (or the requested run); a permanent
 * one stops the job.
 */
void
sync_subscription_set_error(SyncJob *job, const char *error, bool permanent)
{
	Oid			types[3] = {INT4OID, TEXTOID, BOOLOID};
	Datum		values[3] = {Int32GetDatum(job->subscription_id),
		clean_text_datum(error, SYNC_ERROR_TEXT_LEN), BoolGetDatum(permanent)};

	if (job->one_off)
	{
		/* a permanent error ends the run through sync_job_run_finish() */
		types[0] = INT8OID;
		values[0] = Int64GetDatum(job->job_run_id);
		SPI_connect();
		spi_exec("UPDATE sync.job_runs SET error = $2 WHERE id = $1 AND NOT $3",
				 3, types, values, NULL, SPI_OK_UPDATE);
		SPI_finish();
		return;
	}
	SPI_connect();
	spi_exec("UPDATE sync.subscriptions SET last_error = $2, last_error_at = now(),"
			 "       state = CASE WHEN $3 THEN 'error' ELSE state END"
			 " WHERE id = $1",
			 3, types, values, NULL, SPI_OK_UPDATE);
	SPI_finish();
}

/*
 * The id after the newest trade stored up to the job's checkpoint, for
 * providers whose trade ids are consecutive integers (0 when none is
 * stored): where paging by id goes on after a restart.  Without it a
 * provider that pages by id only (Coinbase, Binance's raw trades) would
 * start again at its newest page and leave a hole.  The trades of the
 * newest milliseconds are few: an index scan backwards.
 */
int64
sync_last_trade_id(SyncJob *job)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];
	int64		next = 0;
	bool		isnull;

	if (job->synced_through == DT_NOBEGIN)
		return 0;
	values[0] = CStringGetTextDatum(job->source_name);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = TimestampTzGetDatum(job->synced_through);
	SPI_connect();
	if (SPI_execute_with_args("SELECT max(trade_id::int8) + 1 FROM ("
							  "  SELECT trade_id FROM sync.trades"
							  "   WHERE source = $1 AND symbol = $2 AND ts <= $3"
							  "     AND trade_id ~ '^[0-9]{1,18}$'"
							  "   ORDER BY ts DESC LIMIT 100) t",
							  3, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the newest trade id");
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			next = DatumGetInt64(d);
	}
	SPI_finish();
	return next;
}

/*
 * Whether the series has data stored before ms: tells a day file missing
 * in the middle of a series (a hole) from one before the symbol's first
 * file (bgworkers/historical.c).
 */
bool
sync_has_data_before(SyncJob *job, bool trades, int64 ms)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INTERVALOID};
	Datum		values[4];
	bool		found;

	values[0] = CStringGetTextDatum(job->source_name);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = TimestampTzGetDatum(sync_ms_to_timestamptz(ms));
	values[3] = IntervalPGetDatum(job->bar_interval);
	SPI_connect();
	if (SPI_execute_with_args(trades ?
							  "SELECT 1 FROM sync.trades WHERE source = $1 AND symbol = $2 AND ts < $3 LIMIT 1" :
							  "SELECT 1 FROM sync.bars WHERE source = $1 AND symbol = $2 AND ts < $3"
							  "   AND bar_interval = $4 LIMIT 1",
							  trades ? 3 : 4, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for stored data");
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * Take [from_ms, to_ms) out of the series' quiet stretches: days taken for
 * days without data that turned out to be a hole (bgworkers/historical.c),
 * so sync.gaps lists them.
 */
void
sync_uncheck_gaps(SyncJob *job, int64 from_ms, int64 to_ms)
{
	Oid			types[5] = {TEXTOID, TEXTOID, INTERVALOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];

	values[0] = CStringGetTextDatum(job->source_name);
	values[1] = CStringGetTextDatum(job->symbol);
	values[2] = IntervalPGetDatum(job->bar_interval);
	values[3] = TimestampTzGetDatum(sync_ms_to_timestamptz(from_ms));
	values[4] = TimestampTzGetDatum(sync_ms_to_timestamptz(to_ms));
	SPI_connect();
	spi_exec("WITH old AS ("
			 "  DELETE FROM sync.checked_gaps"
			 "   WHERE source = $1 AND symbol = $2 AND bar_interval = $3"
			 "     AND gap_from < $5 AND gap_to > $4"
			 "  RETURNING gap_from, gap_to, checked_at)"
			 " INSERT INTO sync.checked_gaps (source, symbol, bar_interval, gap_from, gap_to, checked_at)"
			 " SELECT $1, $2, $3, p.f, p.t, o.checked_at"
			 "   FROM old o, LATERAL (VALUES (o.gap_from, least(o.gap_to, $4)),"
			 "                               (greatest(o.gap_from, $5), o.gap_to)) AS p(f, t)"
			 "  WHERE p.f < p.t",
			 5, types, values, NULL, SPI_OK_INSERT);
	SPI_finish();
}
