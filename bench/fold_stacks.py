#!/usr/bin/python3
"""Fold `perf script` call stacks into a flame summary (bench/profile.sh).

Reads the text of `perf script -F comm,pid,tid,ip,sym,dso` on stdin and
  - writes the folded stacks (LABEL;outermost;...;leaf COUNT a line, the
    input of flamegraph.pl / speedscope / inferno) to --folded (appended,
    so several processes share one file);
  - prints the summary: the share of samples per component, three ways,
    and the top functions by self time.

Components are what sync's storage path is made of.  A frame belongs to
one when its function name (or its library) matches the component's
pattern below.  A sample counts for a component
  - self: its leaf function, or the first frame walking out from the leaf
    that belongs to a component (appendStringInfo under bars_copy_text is
    COPY text building; malloc is memory wherever it is called from);
  - phase: the first component in PHASES order with a frame anywhere in the
    stack (a btree insert under the rollup trigger is the trigger's cost,
    WAL written for a btree insert is WAL, malloc under json-c is JSON
    parse); a sample with no such frame is memory, kernel or other by its
    leaf.  Phases add up to 100%: where the time goes, stage by stage;
  - inclusive: any frame of the stack (shares overlap).
The binaries of Debian's PostgreSQL are stripped: only exported functions
have names.  A frame in a static function (CopyReadLineText,
CopyReadAttributesText...) is shown as "?<dso> < caller", its nearest
named caller, and takes the caller's component.

usage: perf script ... | fold_stacks.py --label "pool worker" [--folded F] [--top 25] [--rows N --hz F]
(--rows: the rows stored while perf recorded, for each phase's CPU time a row)
"""
import argparse
import collections
import re
import sys

# (component, regex on the function name, regex on the library).  Order
# matters for "phase": the first component with a frame in the stack wins.
PHASES = [
    ("triggers/transition tables",
     r"^(AfterTrigger|afterTrigger|ExecAR|ExecBR|ExecAS|ExecBS|ExecCallTriggerFunc|MakeTransitionCaptureState"
     r"|GetAfterTriggers|tuplestore_|plpgsql_|exec_stmt|exec_eval|exec_run_select|exec_toplevel_block)", r"plpgsql"),
    ("commit/fsync",
     r"^(CommitTransaction|RecordTransactionCommit|XLogFlush|issue_xlog_fsync|pg_fsync|pg_fdatasync|fdatasync"
     r"|fsync|CommitSubTransaction|StartSubTransaction|BeginInternalSubTransaction|ReleaseCurrentSubTransaction"
     r"|RollbackAndReleaseCurrentSubTransaction|AbortSubTransaction|StartTransaction|AbortTransaction"
     r"|ProcArrayEndTransaction|TransactionIdCommitTree|TransactionIdAsyncCommitTree|SyncRepWaitForLSN)$", None),
    ("WAL", r"^(XLog|log_heap|log_newpage|pg_comp_crc32c|CopyXLogRecordToWAL|ReserveXLogInsertLocation"
     r"|WALInsertLock|AdvanceXLInsertBuffer|WaitXLogInsertionsToFinish)", None),
    ("btree insert (incl. collation compares)",
     r"^(_bt_|btinsert|btint|bttext|btname|ExecInsertIndexTuples|index_insert|index_form_tuple"
     r"|nocache_index_getattr|index_getattr|varstr_cmp|varstrfastcmp|strcoll|__strcoll|__wcscoll|texteq|timestamp_cmp|interval_cmp"
     r"|FunctionCall2Coll|ApplySortComparator|bpcharcmp|check_exclusion)", None),
    ("heap insert",
     r"^(heap_multi_insert|heap_insert|heap_prepare_insert|RelationGetBufferForTuple|RelationAddBlocks"
     r"|RelationAddExtraBlocks|heap_form_tuple|heap_fill_tuple|heap_compute_data_size|PageAddItemExtended"
     r"|CopyMultiInsert|table_multi_insert|ExtendBufferedRel|mdextend|smgrextend|GetPageWithFreeSpace"
     r"|RecordPageWithFreeSpace|fsm_|heap_toast_insert_or_update|toast_|ExecMaterializeSlot"
     r"|tts_buffer_heap|tts_heap|tts_virtual_materialize|ExecFetchSlotHeapTuple)", None),
    ("set-up per statement (executor, slots)",
     r"^(table_slot_create|MakeTupleTableSlot|MakeSingleTupleTableSlot|ExecDropSingleTupleTableSlot"
     r"|ExecResetTupleTable|ExecAllocTableSlot|BeginCopyFrom|EndCopyFrom|CopyMultiInsertBufferInit"
     r"|CopyMultiInsertBufferCleanup|CopyMultiInsertInfoInit|CopyMultiInsertInfoCleanup|ExecInitRangeTable"
     r"|InitResultRelInfo|ExecOpenIndices|ExecCloseIndices|ExecCloseResultRelations|ExecInitQual"
     r"|ExecBuildProjectionInfo|table_openrv|make_parsestate|free_parsestate|addRangeTableEntryForRelation"
     r"|ResourceOwner(Remember|Forget|Enlarge)TupleDesc|IncrTupleDescRefCount|DecrTupleDescRefCount"
     r"|CreateExecutorState|FreeExecutorState|ExecInitNode|ExecutorStart|standard_ExecutorStart"
     r"|ExecutorEnd|standard_ExecutorEnd|open_target|close_target|only_rollup_triggers|columns_match"
     r"|LookupFuncName)", None),
    ("tuple building (records to tuples: input functions)",
     r"^(sync_tuples_insert_bars|sync_tuples_insert_trades|insert_page|fill_bar|fill_trade|insert_rows|set_numeric|set_value|begin_row"
     r"|provider_text_datum|timestamptz_datum|log_invalidation)$", None),
    ("COPY parsing (CopyFrom, input functions)",
     r"^(CopyFrom|NextCopyFrom|CopyReadLine|CopyReadAttributes|CopyGetData|CopyLoad|CopyConvertBuf"
     r"|copy_source|InputFunctionCall|numeric_in|set_var_from_str|make_result|apply_typmod|timestamptz_in"
     r"|timestamp_in|interval_in|int8in|int4in|textin|DecodeDateTime|ParseDateTime|DecodeNumber"
     r"|DecodeTimeOnly|DecodeTime|DecodeDate|DecodeInterval|ParseISO8601Number|DecodeTimezone"
     r"|DetermineTimeZoneOffset|pg_strtoint|scanint8|tm2timestamp|date2j|pg_verify_mbstr|pg_verifymbstr"
     r"|pg_any_to_server|cstring_to_text|ExecConstraints)", None),
    ("COPY text building", r"^(bars_copy_text|trades_copy_text|append_copy_field|append_ts|sync_copy_decimal"
     r"|sync_format_rfc3339|sync_format_date)$", None),
    ("SPI/planner", r"^(SPI_|_SPI_|pg_plan_query|planner|standard_planner|subquery_planner"
     r"|pg_parse_query|raw_parser|base_yyparse|parse_analyze|RevalidateCachedQuery|GetCachedPlan)", None),
    ("validation", r"^(sync_validate_|sync_decimal_|decimal_|sync_text_valid|utf8_seq|accept_bar|accept_trade"
     r"|sync_page_accept)", None),
    ("JSON parse (json-c, provider)", r"^(json_|sync_json_|sync_parse_json|binance_|alpaca_|polygon_|coinbase_"
     r"|csv_|sync_page_|sync_stream_add|sync_multi_|field_|parse_digits|sync_parse_rfc3339|on_message)",
     r"libjson-c"),
    ("HTTP/WebSocket (libcurl, wslay)", r"^(Curl_|curl_|sync_http_|http_|sync_ws_|wslay_|ws_)",
     r"libcurl|libssl|libcrypto|libnghttp|libz\.|libbrotli|libidn|libpsl|libssh|libwslay"),
]
MEMORY = re.compile(r"^((malloc|free|calloc|realloc|cfree|_int_malloc|_int_free|_int_realloc|malloc_consolidate"
                    r"|__libc_malloc|__libc_free|__libc_calloc|__libc_realloc|unlink_chunk|sysmalloc|palloc|palloc0"
                    r"|palloc_extended|pfree|repalloc|pstrdup|pnstrdup|mmap|munmap|brk|sbrk)$"
                    r"|tcache_|MemoryContext|AllocSet|Generation(Alloc|Free|Reset)|Slab(Alloc|Free))")
COMPONENTS = [name for name, _, _ in PHASES] + ["memory (malloc/palloc)", "kernel", "other"]
RULES = [(name, re.compile(fn), re.compile(lib) if lib else None) for name, fn, lib in PHASES]

FRAME = re.compile(r"^\s+[0-9a-f]+ (.*) \((.*)\)$")
HEADER = re.compile(r"^(.*?)\s+(\d+)/(\d+)")


def is_kernel(dso):
    return dso.startswith("[kernel") or dso in ("[vdso]", "[vsyscall]")


def component(sym, dso):
    """The component of one frame, or None."""
    if is_kernel(dso):
        return "kernel"
    if MEMORY.match(sym):
        return "memory (malloc/palloc)"
    for name, fn, lib in RULES:
        if fn.match(sym) or (lib is not None and lib.search(dso)):
            return name
    return None


def frame_name(sym, dso, caller):
    short = dso.rsplit("/", 1)[-1]
    if sym == "[unknown]" or not sym:
        return "?%s < %s" % (short, caller) if caller else "?%s" % short
    if is_kernel(dso):
        return sym + "_[k]"
    return sym


def read_samples(lines):
    """Yields (comm, pid, frames), frames leaf first, each (sym, dso)."""
    comm = pid = None
    frames = []
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            if comm is not None and frames:
                yield comm, pid, frames
            comm, frames = None, []
            continue
        if line[0] not in " \t":
            m = HEADER.match(line)
            if m:
                comm, pid = m.group(1), m.group(2)
            continue
        m = FRAME.match(line)
        if m:
            sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
            frames.append((sym, m.group(2)))
    if comm is not None and frames:
        yield comm, pid, frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True, help="the process kind, the root of every folded stack")
    ap.add_argument("--folded", help="append the folded stacks here")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--rows", type=float, help="rows stored while perf recorded: adds CPU microseconds a row")
    ap.add_argument("--hz", type=float, default=499, help="perf's sampling frequency (-F)")
    args = ap.parse_args()

    folded = collections.Counter()
    selfc = collections.Counter()
    phase = collections.Counter()
    incl = collections.Counter()
    selffn = collections.Counter()
    pids = set()
    total = 0
    for _comm, pid, frames in read_samples(sys.stdin):
        total += 1
        pids.add(pid)
        # names, leaf first; an unnamed frame is named after its nearest named caller
        names = []
        for i, (sym, dso) in enumerate(frames):
            caller = next((s for s, _ in frames[i + 1:] if s and s != "[unknown]"), None)
            names.append(frame_name(sym, dso, caller))
        comps = [component(sym, dso) for sym, dso in frames]
        folded[";".join([args.label] + names[::-1])] += 1
        selffn[names[0]] += 1
        selfc[next((c for c in comps if c is not None), "other")] += 1
        present = set(c for c in comps if c is not None)
        for c in present:
            incl[c] += 1
        leaf = comps[0] if comps[0] in ("kernel", "memory (malloc/palloc)") else "other"
        phase[next((name for name, _, _ in PHASES if name in present), leaf)] += 1

    if args.folded:
        with open(args.folded, "a") as f:
            for stack, n in sorted(folded.items()):
                f.write("%s %d\n" % (stack, n))
    # a sample is 1/hz s of CPU: with the rows stored meanwhile, the phase's CPU time a row
    us = (lambda n: "%8.2f" % (1e6 * n / args.hz / args.rows)) if args.rows else (lambda n: "")
    print("== %s: %d samples, %d process(es), %.1f s of CPU%s" % (
        args.label, total, len(pids), total / args.hz,
        ", %.0f rows: %.2f us of CPU a row" % (args.rows, 1e6 * total / args.hz / args.rows) if args.rows else ""))
    if total == 0:
        return
    print("%-40s %7s %7s %9s %s" % ("component", "self", "phase", "inclusive", " us/row (phase)" if args.rows else ""))
    for c in COMPONENTS:
        if selfc[c] or phase[c] or incl[c]:
            print("%-40s %6.1f%% %6.1f%% %8.1f%% %s" % (c, 100.0 * selfc[c] / total, 100.0 * phase[c] / total,
                                                      100.0 * incl[c] / total if c != "other" else
                                                      100.0 * selfc[c] / total, us(phase[c])))
    print("top %d functions by self time:" % args.top)
    for name, n in selffn.most_common(args.top):
        print("  %6.1f%%  %s" % (100.0 * n / total, name))


if __name__ == "__main__":
    main()
