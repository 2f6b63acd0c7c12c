#!/usr/bin/env bash
# bench/retention.sh: retention of the oldest day of DAYS days of 1-minute
# bars for SYMBOLS symbols (issue 16), by partition drop against the
# batched delete it replaces, both measured in the same run on the same
# scratch cluster:
#   - "drop": 0.9.0, sync.bars partitioned by day (sync_set_partitioning
#     ('bars', '1 day', ...)), sync.apply_retention() dropping the
#     partition past the cutoff (and deleting in batches at the edge);
#   - "delete": 0.8.0 (CREATE EXTENSION sync VERSION '0.8.0': one plain
#     sync.bars), its sync.apply_retention() deleting batches of
#     sync.retention_batch rows series by series through the primary key.
# Each is run to completion the way the scheduler runs it: a call a
# transaction, again while the last one removed rows (the scheduler's
# 50 ms pause between calls left out: it is waiting, not work).  Reported
# per case: the time, the WAL written (pg_current_wal_lsn() before and
# after), the rows removed, and the size of sync.bars (heap, indexes,
# TOAST; every partition) before and after; for the delete, also after a
# plain VACUUM (its time and WAL too), which makes the dead rows' space
# reusable but does not give it back unless it is at the end of the file.
# Then the ratios delete / drop, and with RUNS > 1 a table of all runs and
# the medians.
#
# The set-up, outside the measurement: the rows (ts in the DAYS whole UTC
# days before today; the same values in both) are loaded once into a
# template database per case, then VACUUM ANALYZE (as autovacuum would
# have done by then); every run measures a fresh copy of it (CREATE
# DATABASE ... STRATEGY FILE_COPY).  A CHECKPOINT right before each
# measurement, so both pay the full-page images a first change of a page
# after a checkpoint writes (full_page_writes on, as in production).
# autovacuum is off in the scratch cluster so that it does not run during
# a measurement.  The cutoff (now() - keep, keep set just before) lies 30
# seconds into the second oldest day: both cases remove the oldest day and
# the first minute of the next (DAYS's bars of one minute per symbol),
# which the drop case deletes in a batch at the edge, as it would in
# production where the cutoff moves on with the clock.
# Not a test: nothing asserts.
#   usage: [RUNS=3] [BATCH=10000] [PGI=/tmp/pgi-retention | SYSTEM_PG=1] [NO_BUILD=1] [KEEP=1] \
#          bash bench/retention.sh [SYMBOLS=100] [DAYS=30]
#   BATCH: sync.retention_batch, rows a retention call deletes at most
#     per dataset (its default 10000);
#   PGI, NO_BUILD: where to install sync (bench/bench_lib.sh); a private
#     copy of PostgreSQL by default; SYSTEM_PG=1: the system's;
#   CASES="drop delete": the cases to measure (one alone: no ratios);
#   KEEP=1 keeps the work directory (and its cluster's data).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/bench_lib.sh"
NSYM=${1:-100}
DAYS=${2:-30}
RUNS=${RUNS:-3}
BATCH=${BATCH:-10000}
CASES=${CASES:-drop delete}
has() { [[ " $CASES " == *" $1 "* ]]; }
PACKAGES="$PACKAGES bc"
install_packages
[ -z "${SYSTEM_PG:-}" ] && PGI=${PGI:-/tmp/pgi-retention}
bench_build

WORK=$(make_workdir retention)
cleanup() {
  stop_scratch_cluster "$WORK"
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
psql() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" /usr/bin/psql -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

start_scratch_cluster "$WORK" <<CONF
shared_buffers = 1GB
max_wal_size = 16GB
checkpoint_timeout = 1h
autovacuum = off
CONF
echo "== PostgreSQL: $(psql -At -c 'SHOW server_version'), sync from $ROOT ($(git -C "$ROOT" log -1 --format=%h 2>/dev/null || echo '?'))"

ROWS=$((NSYM * DAYS * 1440))
# today's midnight (UTC): the data are the DAYS days before it
TODAY=$(date -u +%Y-%m-%d)

# The rows, ordered by time and then symbol as a live feed writes them;
# sync.keep_rollups on: this is not rollup input worth logging.
load_bars() {
  psql -d "$1" <<SQL
SET sync.keep_rollups = on;
SET work_mem = '512MB';
INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap)
SELECT 'bench', 'SYM' || s, interval '1 minute', ts,
       p, p + 0.05, p - 0.05, p + 0.01, round((m % 97 + s) * 1.25, 4), m % 500 + 1, p + 0.02
  FROM generate_series(timestamptz '$TODAY 00:00+00' - interval '$DAYS days',
                       timestamptz '$TODAY 00:00+00' - interval '1 minute', interval '1 minute') ts
 CROSS JOIN LATERAL (SELECT (extract(epoch FROM ts) / 60)::bigint AS m) mm
 CROSS JOIN generate_series(1, $NSYM) s
 CROSS JOIN LATERAL (SELECT round(100 + s + (m % 1000) / 100.0, 2) AS p) pp
 ORDER BY ts, s;
SQL
}

# The size of sync.bars, every partition with its indexes and TOAST (a
# partitioned table itself has no storage; pg_partition_tree() lists no
# rows for a plain table), in bytes.
SIZE_SQL="SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
           WHERE c.oid = 'sync.bars'::regclass OR c.oid IN (SELECT relid FROM pg_partition_tree('sync.bars'))"

if has delete; then
echo "== template t_delete: sync 0.8.0, one plain sync.bars, $ROWS bars ($NSYM symbols x $DAYS days)"
psql -c "CREATE DATABASE t_delete"
psql -d t_delete -c "CREATE EXTENSION sync VERSION '0.8.0'"
load_bars t_delete
fi

if has drop; then
echo "== template t_drop: sync $(psql -At -c "SELECT default_version FROM pg_available_extensions WHERE name = 'sync'"), sync.bars partitioned by day"
psql -c "CREATE DATABASE t_drop"
# The partitions of the DAYS days, as the scheduler (sync.maintain_partitions(),
# premake) would have made them ahead of the data as it came in: one
# sync._make_partition() a day.
psql -d t_drop -o /dev/null <<SQL
CREATE EXTENSION sync;
SELECT sync_set_partitioning('bars', '1 day', 2);
SELECT sync.maintain_partitions();
SELECT sync._make_partition('bars', d)
  FROM generate_series(timestamptz '$TODAY 00:00+00' - interval '$DAYS days',
                       timestamptz '$TODAY 00:00+00' - interval '1 day', interval '1 day') d;
SQL
load_bars t_drop
psql -d t_drop -At -F ' ' > "$WORK/parts" <<SQL
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid),
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM sync.%I', c.relname), false, true, '')))[1]::text
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'sync.bars'::regclass ORDER BY 1;
SQL
awk '$1 ~ /_default$/ { d = $NF }
     $1 !~ /_default$/ && $NF > 0 { k++; if (min == "" || $NF < min) min = $NF; if ($NF > max) max = $NF }
     END { printf "   %d partitions of sync.bars, %d holding rows (%d to %d each), %d rows in the default partition\n", NR, k, min, max, d;
           if (d > 0) print "   !! rows in the default partition: the drop figures are not a drop alone" }' "$WORK/parts"
fi
for case in $CASES; do
  db=t_$case
  psql -d "$db" -c "VACUUM ANALYZE"
  [ "$(psql -d "$db" -At -c "SELECT count(*) FROM sync.bars")" = "$ROWS" ] || { echo "$db: not $ROWS rows"; exit 1; }
done

# One case on a fresh copy of its template: a line "secs wal_bytes removed
# size0 size1 calls vac_secs vac_wal size2" into $WORK/case.
measure() {
  local case=$1 db=m_$1
  psql -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE t_$case STRATEGY FILE_COPY"
  psql -d "$db" -At -F ' ' > "$WORK/case" <<SQL
\o /dev/null
SELECT sync_set_retention('bars', now() - (timestamptz '$TODAY 00:00+00' - interval '$((DAYS - 1)) days' + interval '30 seconds'));
SELECT count(*) AS rows0, ($SIZE_SQL) AS size0 FROM sync.bars \gset
CHECKPOINT;
SELECT pg_current_wal_lsn() AS l0, clock_timestamp() AS c0 \gset
DO \$\$
DECLARE
    calls int := 0;
BEGIN
    LOOP
        calls := calls + 1;
        EXIT WHEN sync.apply_retention($BATCH) = 0;
        COMMIT;
    END LOOP;
    PERFORM set_config('bench.calls', calls::text, false);
END
\$\$;
SELECT extract(epoch FROM clock_timestamp() - :'c0') AS secs,
       pg_wal_lsn_diff(pg_current_wal_lsn(), :'l0') AS wal,
       current_setting('bench.calls') AS calls \gset
SELECT ($SIZE_SQL) AS size1 \gset
SELECT pg_current_wal_lsn() AS l0, clock_timestamp() AS c0 \gset
VACUUM sync.bars;
SELECT extract(epoch FROM clock_timestamp() - :'c0') AS vsecs,
       pg_wal_lsn_diff(pg_current_wal_lsn(), :'l0') AS vwal, ($SIZE_SQL) AS size2 \gset
-- counted last: a scan of the pages the delete left would prune them,
-- the VACUUM's work, outside its figures
SELECT :rows0 - count(*) AS removed FROM sync.bars \gset
\o
SELECT :secs, :wal, :removed, :size0, :size1, :calls, :vsecs, :vwal, :size2;
SQL
  psql -c "DROP DATABASE $db"
}

: > "$WORK/runs"
for run in $(seq "$RUNS"); do
  # alternate the order, so that neither case always runs second
  if [ $((run % 2)) = 1 ]; then order=$CASES; else order=$(echo "$CASES" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'); fi
  for case in $order; do
    measure "$case"
    read -r secs wal removed size0 size1 calls vsecs vwal size2 < "$WORK/case"
    echo "$run $case $secs $wal $removed $size0 $size1 $calls $vsecs $vwal $size2 $(load_average)" >> "$WORK/runs"
  done
  awk -v run="$run" -v batch="$BATCH" '
  function mb(b) { return b / 1048576 }
  function row(what, c) {
    printf "%-40s %9.3f %10.2f %9d %10.1f %10.1f %6d\n", what, s[c], mb(w[c]), r[c], mb(z0[c]), mb(z1[c]), n[c];
  }
  $1 == run { c = $2; s[c] = $3; w[c] = $4; r[c] = $5; z0[c] = $6; z1[c] = $7; n[c] = $8; vs[c] = $9; vw[c] = $10; z2[c] = $11;
              load = load (load == "" ? "" : ", then ") $12 " " $13 " " $14 }
  END {
    printf "\nrun %d (load average %s)\n", run, load;
    printf "%-40s %9s %10s %9s %10s %10s %6s\n", "", "time s", "WAL MiB", "rows", "MiB before", "MiB after", "calls";
    if ("drop" in s) row("partition drop (0.9.0)", "drop");
    if ("delete" in s) {
      row("batched delete (0.8.0, " batch " a call)", "delete");
      printf "%-40s %9.3f %10.2f %9s %10s %10.1f\n", "  then VACUUM sync.bars", vs["delete"], mb(vw["delete"]), "", "", mb(z2["delete"]);
    }
    if (("drop" in s) && ("delete" in s) && s["drop"] > 0 && w["drop"] > 0)
      printf "ratio delete / drop: time %.1fx (with the VACUUM %.1fx), WAL %.1fx (with the VACUUM %.1fx)\n",
        s["delete"] / s["drop"], (s["delete"] + vs["delete"]) / s["drop"], w["delete"] / w["drop"], (w["delete"] + vw["delete"]) / w["drop"];
  }' "$WORK/runs"
done

echo
echo "== all runs ($ROWS bars, $NSYM symbols x $DAYS days; the oldest day and a minute removed; sizes in MiB)"
printf "%3s %-7s %9s %10s %9s %9s %9s %6s %9s %10s %9s  %s\n" run case "time s" "WAL MiB" rows before after calls "vac s" "vac WAL" "after vac" "load average"
awk '{ printf "%3d %-7s %9.3f %10.2f %9d %9.1f %9.1f %6d %9.3f %10.2f %9.1f  %s %s %s\n",
        $1, $2, $3, $4 / 1048576, $5, $6 / 1048576, $7 / 1048576, $8, $9, $10 / 1048576, $11 / 1048576, $12, $13, $14 }' "$WORK/runs"
# medians of each case's time and WAL, and the ratios of the medians
awk '
  function median(a, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2;
  }
  $2 == "drop" { ds[++nd] = $3; dw[nd] = $4 }
  $2 == "delete" { es[++ne] = $3; ew[ne] = $4; vs[ne] = $3 + $9; vw[ne] = $4 + $10 }
  END {
    if (nd) printf "medians of %d runs: drop %.3f s, %.2f MiB WAL\n", nd, s1 = median(ds, nd), (w1 = median(dw, nd)) / 1048576;
    if (ne) printf "medians of %d runs: delete %.3f s, %.2f MiB WAL; delete + VACUUM %.3f s, %.2f MiB WAL\n", ne,
      s2 = median(es, ne), (w2 = median(ew, ne)) / 1048576, s3 = median(vs, ne), (w3 = median(vw, ne)) / 1048576;
    if (nd && ne && s1 > 0 && w1 > 0)
      printf "ratios of the medians, delete / drop: time %.1fx, WAL %.1fx; delete + VACUUM / drop: time %.1fx, WAL %.1fx\n",
        s2 / s1, w2 / w1, s3 / s1, w3 / w1;
  }' "$WORK/runs"
