#!/usr/bin/env bash
# bench/partitions.sh: the workers' inserts into the time-partitioned
# sync.bars and sync.trades (issue 16: "no more than a few percent
# slower") against unpartitioned tables, both measured in the same run on
# the same scratch cluster, in a fresh database each:
#   - "part": sync as installed (0.9.0): sync.bars by month, sync.trades by
#     day (the defaults); the partitions the rows belong in are made
#     before the load (sync._make_partition(), as the scheduler's premake
#     would have made them ahead of live data), so the rows are routed to
#     real partitions, not to the default one;
#   - "plain": the same database with sync.bars and sync.trades swapped
#     for plain tables of the same definition (LIKE ... INCLUDING ALL: the
#     same columns, keys, indexes) carrying sync's own rollup triggers,
#     which is what the workers' fast path (src/storage_tuples.c) writes
#     on an unpartitioned table;
#   - "default" (not run unless CASES names it): partitioned, but no
#     partition made for the history, so every row lands in the default
#     partition, as a history backfill into a fresh install does; then
#     the time sync.maintain_partitions() takes to move them into
#     partitions of their own (calls until it returns 0).
# Two loads a case:
#   (1) bars: a backfill of SYMBOLS x BARS synthetic 1-minute bars from the
#       fake provider (Binance klines, 1000 a page) by the pool workers,
#       as bench/backfill.sh: rows/s from sync_start() to the last row
#       stored and from the first rows committed on ("steady"), and the
#       CPU time of the pool workers (they fetch, parse and store; only
#       the storing differs between the cases) per million rows: on a
#       shared machine, CPU time moves less than wall time;
#   (2) trades: a stream of TRADE_RATE trades a second from bench/feed.c
#       (Binance aggTrades over a WebSocket) for TRADE_SECS seconds once
#       the subscription is live: trades stored a second, and the CPU time
#       of the stream's storer process (it only stores) per million rows.
# The aggregator is kept idle (sync.aggregate_interval_ms = 1 h): its
# folding reads the tables, it is not the insert path.  After each load
# the script shows whether the fast path was taken: the calls of sync's
# rollup trigger (sync._invalidate_rollups, counted with track_functions
# = 'pl') against the rows of the rollup log (sync.rollup_invalidations).
# The fast path logs a page's (a stream batch's) invalidation itself and
# fires no trigger; the COPY fallback fires the trigger once a page, as
# does the insert that skips trades already stored (where the stream
# meets the REST catch-up: a call or two).  So: bars 0/N, trades 0..2/N.  The
# order of the cases alternates from run to run; ratios part / plain
# (above 1: the partitioned tables cost more) per run and of the medians.
# Not a test: nothing asserts.
#   usage: [RUNS=3] [CASES="plain part"] [TRADE_RATE=20000] [TRADE_SECS=20] [MAX_WORKERS=2] \
#          [PGI=/tmp/pgi-partitions | SYSTEM_PG=1] [NO_BUILD=1] [KEEP=1] bash bench/partitions.sh [SYMBOLS=4] [BARS=250000]
#   TRADE_SECS=0 skips the trades; BARS=0 skips the bars;
#   PGI, NO_BUILD: where to install sync (bench/bench_lib.sh); a private
#     copy of PostgreSQL by default; SYSTEM_PG=1: the system's.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
source "$(dirname "$0")/bench_lib.sh"
NSYM=${1:-4}
BARS=${2:-250000}
RUNS=${RUNS:-3}
CASES=${CASES:-plain part}
TRADE_RATE=${TRADE_RATE:-20000}
TRADE_SECS=${TRADE_SECS:-20}
MAX_WORKERS=${MAX_WORKERS:-2}
PACKAGES="$PACKAGES bc libssl-dev"
install_packages
[ -z "${SYSTEM_PG:-}" ] && PGI=${PGI:-/tmp/pgi-partitions}
bench_build

WORK=$(make_workdir partitions)
cp -r "$ROOT/test/fake_provider" "$ROOT/test/data" "$ROOT/bench" "$WORK/"
gcc -O2 -Wall -Werror -o "$WORK/feed" "$ROOT/bench/feed.c" -lcrypto
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
cleanup() {
  stop_scratch_cluster "$WORK"
  for f in "$WORK"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
psql() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" /usr/bin/psql -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }   # user + system
# the summed CPU ticks of this cluster's processes of a backend_type (in DB $1)
type_ticks() {
  local t=0 pid
  for pid in $(psql -d "$1" -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = '$2'"); do
    t=$((t + $(cpu_ticks "$pid")))
  done
  echo "$t"
}
HZ=$(getconf CLK_TCK)

SYMS=""; SYNTH=""
for i in $(seq "$NSYM"); do SYMS="$SYMS BENCH$i"; SYNTH="$SYNTH --synthetic BENCH$i:$BARS"; done
TOTAL=$((NSYM * BARS))
if [ "$BARS" -gt 0 ]; then
  echo "== fake provider with $NSYM x $BARS synthetic bars (from 2020-01-01)"
  as_pg /usr/bin/python3 "$WORK/fake_provider/fake_provider.py" --data-dir "$WORK/data" $SYNTH \
    --port-file "$WORK/fake.port" --pid-file "$WORK/fake.pid" >"$WORK/fake.log" 2>&1 &
  for _ in $(seq 600); do [ -f "$WORK/fake.port" ] && break; sleep 0.2; done
  FAKE="http://127.0.0.1:$(cat "$WORK/fake.port")"
fi

start_scratch_cluster "$WORK" <<CONF
shared_buffers = 1GB
max_wal_size = 8GB
sync.poll_interval_ms = 60000
sync.max_workers = $MAX_WORKERS
sync.aggregate_interval_ms = 3600000
track_functions = 'pl'
${EXTRA_CONF:-}
CONF
echo "== PostgreSQL $(psql -At -c 'SHOW server_version'), sync $(psql -At -c "SELECT default_version FROM pg_available_extensions WHERE name = 'sync'") from $ROOT ($(git -C "$ROOT" log -1 --format=%h 2>/dev/null || echo '?'))"

# A fresh database for a case, its tables as the case wants them.
make_db() {
  local case=$1 db=b_$1
  psql -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  psql -d "$db" -o /dev/null -c "CREATE EXTENSION sync"
  case $case in
    plain)
      # plain tables of the same definition, with sync's triggers, under
      # the names the workers write to; the partitioned ones renamed away
      psql -d "$db" -o /dev/null <<'SQL'
DO $$
DECLARE
    ds text;
    t  record;
BEGIN
    FOREACH ds IN ARRAY ARRAY['bars', 'trades'] LOOP
        EXECUTE format('CREATE TABLE sync.%I (LIKE sync.%I INCLUDING ALL)', ds || '_plain', ds);
        FOR t IN SELECT pg_get_triggerdef(g.oid) AS def FROM pg_trigger g
                  WHERE g.tgrelid = format('sync.%I', ds)::regclass AND NOT g.tgisinternal LOOP
            EXECUTE replace(t.def, ' ON sync.' || ds || ' ', ' ON sync.' || ds || '_plain ');
        END LOOP;
        EXECUTE format('ALTER TABLE sync.%I RENAME TO %I', ds, ds || '_parted');
        EXECUTE format('ALTER TABLE sync.%I RENAME TO %I', ds || '_plain', ds);
    END LOOP;
END
$$;
SQL
      ;;
    part)
      # today's partitions (the trades stream), and the months of the
      # bars' history, made ahead of the data
      psql -d "$db" -o /dev/null <<SQL
SELECT sync.maintain_partitions();
SELECT sync._make_partition('bars', m)
  FROM generate_series(timestamptz '2020-01-01 00:00+00',
                       timestamptz '2020-01-01 00:00+00' + interval '$BARS minutes', interval '1 month') m
 WHERE $BARS > 0;
SQL
      ;;
    default)
      psql -d "$db" -o /dev/null -c "SELECT sync.maintain_partitions()"
      ;;
  esac
  [ "$(psql -d "$db" -At -c "SELECT relkind FROM pg_class WHERE oid = 'sync.bars'::regclass")" = \
    "$([ "$case" = plain ] && echo r || echo p)" ] || { echo "$db: sync.bars is not as the case wants it"; exit 1; }
  psql -c "CHECKPOINT"
}

# "calls invalidations": the calls of sync's rollup trigger (in the
# database so far) and the rows source $4 has in the rollup log, once the
# statistics of $3 inserts into sync.$2 are in (a worker flushes its
# counters at most once a second).  The aggregator folds the log at each
# sync_start(): the bars' rows are gone by the end of the trades' load.
trigger_check() {
  local db=$1 table=$2 rows=$3 source=$4
  for _ in $(seq 100); do
    [ "$(psql -d "$db" -At -c "SELECT coalesce(sum(n_tup_ins), 0) >= $rows FROM pg_stat_user_tables
                                WHERE schemaname = 'sync' AND (relname = '$table' OR relname LIKE '${table}\_%')")" = t ] && break
    sleep 0.2
  done
  psql -d "$db" -At -F ' ' -c "SELECT (SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions
                                        WHERE schemaname = 'sync' AND funcname = '_invalidate_rollups'),
                                      (SELECT count(*) FROM sync.rollup_invalidations WHERE source = '$source')"
}

# The rows of sync.$2 by partition: "partitions-with-rows rows-in-default".
spread() {
  psql -d "$1" -At -F ' ' <<SQL
SELECT count(*) FILTER (WHERE n > 0 AND NOT is_default), coalesce(sum(n) FILTER (WHERE is_default), 0)
  FROM (SELECT p.is_default,
               (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', p.partition),
                                                    false, true, '')))[1]::text::bigint AS n
          FROM sync.partitions p WHERE p.dataset = '$2') s;
SQL
}

# (1) the bars backfill: "secs steady_rows_per_s worker_cpu_s calls invalidations parts in_default move_s"
bars_load() {
  local case=$1 db=b_$1 t0 tf first t1 cpu calls inv parts dflt move=0
  psql -d "$db" -o /dev/null <<SQL
SELECT sync_add_source('bench', 'binance', '$FAKE', options => '{"page_size": 1000}');
SELECT sync_subscribe('bench', string_to_array(trim('$SYMS'), ' '), history_from => '2020-01-01', realtime => false);
SQL
  psql -d "$db" -At > "$WORK/times" <<SQL
SELECT extract(epoch FROM clock_timestamp());
\o /dev/null
SELECT sync_start();
\o
DO \$\$ BEGIN
  WHILE NOT EXISTS (SELECT FROM sync.bars) LOOP PERFORM pg_sleep(0.01); END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp()), (SELECT count(*) FROM sync.bars);
DO \$\$ BEGIN
  WHILE (SELECT coalesce(sum(rows_stored), 0) FROM sync.subscriptions) < $TOTAL LOOP PERFORM pg_sleep(0.01); END LOOP;
END \$\$;
SELECT extract(epoch FROM clock_timestamp());
SQL
  # the pool workers are idle now (no realtime), and still there
  cpu=$(type_ticks "$db" 'sync pool')
  psql -d "$db" -o /dev/null -c "SELECT sync_stop()"
  { read -r t0; IFS='|' read -r tf first; read -r t1; } < "$WORK/times"
  [ "$(psql -d "$db" -At -c "SELECT count(*) FROM sync.bars")" = "$TOTAL" ] || { echo "$db: not $TOTAL bars stored"; exit 1; }
  read -r calls inv < <(trigger_check "$db" bars "$TOTAL" bench)
  if [ "$case" = plain ]; then parts=1 dflt=0; else read -r parts dflt < <(spread "$db" bars); fi
  if [ "$case" = default ]; then
    # what the scheduler's maintenance then does with them
    move=$(psql -d "$db" -At <<'SQL'
SELECT extract(epoch FROM clock_timestamp()) AS c0 \gset
DO $$ BEGIN
  WHILE sync.maintain_partitions() > 0 LOOP COMMIT; END LOOP;
END $$;
SELECT extract(epoch FROM clock_timestamp()) - :c0;
SQL
)
  fi
  echo "$(echo "$t1 - $t0" | bc) $(echo "($TOTAL - $first) / ($t1 - $tf)" | bc) $(echo "scale=3; $cpu / $HZ" | bc) $calls $inv $parts $dflt $move"
}

# (2) the trades stream: "stored_per_s storer_cpu_s stored streamer_cpu_s calls invalidations"
trades_load() {
  local case=$1 db=b_$1 port n0 n1 s0 s1 r0 r1 t0 t1 calls inv
  rm -f "$WORK/feed.port"
  "$WORK/feed" "$WORK/feed.port" LIVE "$TRADE_RATE" >/dev/null 2>&1 &
  echo $! > "$WORK/feed.pid"
  for _ in $(seq 200); do [ -s "$WORK/feed.port" ] && break; sleep 0.05; done
  port=$(cat "$WORK/feed.port")
  psql -d "$db" -o /dev/null <<SQL
SELECT sync_add_source('live', 'binance', 'http://127.0.0.1:$port', stream_url => 'ws://127.0.0.1:$port');
SELECT sync_subscribe('live', ARRAY['LIVE'], 'trades', history_from => now());
SELECT sync_start();
SQL
  psql -d "$db" -At > "$WORK/phase" <<'SQL'
DO $$ BEGIN
  FOR i IN 1..6000 LOOP
    EXIT WHEN (SELECT phase FROM sync_status() WHERE source = 'live') = 'realtime';
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT phase, last_error FROM sync_status() WHERE source = 'live';
SQL
  grep -q '^realtime|' "$WORK/phase" || { echo "$db: the trades stream is not live after a minute: $(cat "$WORK/phase")" >&2; exit 1; }
  sleep 2   # past the catch-up of what was made before the stream was up
  # the storer stores; the streamer receives and parses
  s0=$(type_ticks "$db" 'sync stream store'); r0=$(type_ticks "$db" 'sync streamer')
  read -r t0 n0 < <(psql -d "$db" -At -F ' ' -c "SELECT extract(epoch FROM clock_timestamp()), count(*) FROM sync.trades")
  sleep "$TRADE_SECS"
  s1=$(type_ticks "$db" 'sync stream store'); r1=$(type_ticks "$db" 'sync streamer')
  read -r t1 n1 < <(psql -d "$db" -At -F ' ' -c "SELECT extract(epoch FROM clock_timestamp()), count(*) FROM sync.trades")
  psql -d "$db" -o /dev/null -c "SELECT sync_stop()"
  kill "$(cat "$WORK/feed.pid")" 2>/dev/null || true
  wait "$(cat "$WORK/feed.pid")" 2>/dev/null || true
  rm -f "$WORK/feed.pid"
  read -r calls inv < <(trigger_check "$db" trades "$n1" live)
  echo "$(echo "($n1 - $n0) / ($t1 - $t0)" | bc) $(echo "scale=3; ($s1 - $s0) / $HZ" | bc) $((n1 - n0)) $(echo "scale=3; ($r1 - $r0) / $HZ" | bc) $calls $inv"
}

: > "$WORK/runs"
for run in $(seq "$RUNS"); do
  if [ $((run % 2)) = 1 ]; then order=$CASES; else order=$(echo "$CASES" | awk '{ for (i = NF; i > 0; i--) printf "%s ", $i }'); fi
  for case in $order; do
    make_db "$case"
    # bars: secs steady cpu calls inv parts dflt move; trades: rate scpu stored rcpu tcalls tinv
    b="0 0 0 0 0 0 0 0"; t="0 0 0 0 0 0"
    [ "$BARS" -gt 0 ] && b=$(bars_load "$case")
    [ "$TRADE_SECS" -gt 0 ] && t=$(trades_load "$case")
    echo "$run $case $b $t $(load_average)" >> "$WORK/runs"
    psql -c "DROP DATABASE b_$case"
  done
  awk -v run="$run" -v total="$TOTAL" '
  $1 == run {
    c = $2; cs[++k] = c; bs[c] = $3; st[c] = $4; bcpu[c] = $5; bcalls[c] = $6; binv[c] = $7; parts[c] = $8; dflt[c] = $9; move[c] = $10;
    tr[c] = $11; tcpu[c] = $12; tn[c] = $13; rcpu[c] = $14; tcalls[c] = $15; tinv[c] = $16; load[c] = $17 " " $18 " " $19;
  }
  END {
    printf "\nrun %d\n", run;
    printf "%-8s %11s %11s %14s %10s %15s %14s  %-24s %s\n", "case", "bars rows/s", "steady", "pool CPU s/1M", "trades/s", "storer CPU s/1M", "streamer s/1M", "trigger runs/log rows", "load average";
    for (i = 1; i <= k; i++) {
      c = cs[i];
      # the counters are the database'"'"'s: the trades'"'"' are what the stream added
      printf "%-8s %11.0f %11.0f %14.2f %10.0f %15.2f %14.2f  %-24s %s\n", c, (bs[c] > 0 ? total / bs[c] : 0), st[c],
        (total > 0 ? bcpu[c] * 1e6 / total : 0), tr[c], (tn[c] > 0 ? tcpu[c] * 1e6 / tn[c] : 0), (tn[c] > 0 ? rcpu[c] * 1e6 / tn[c] : 0),
        "bars " bcalls[c] "/" binv[c] ", trades " (tn[c] > 0 ? (tcalls[c] - bcalls[c]) "/" tinv[c] : "-"), load[c];
      if (c != "plain" && total > 0) printf "         bars in %d partitions, %d in the default one\n", parts[c], dflt[c];
      if (c == "default") printf "         then sync.maintain_partitions() moved them into partitions of their own in %.2f s\n", move[c];
    }
    if (("part" in bs) && ("plain" in bs)) {
      if (total > 0) printf "ratio part / plain: bars time %.3f, steady rate %.3f, pool CPU a row %.3f\n",
        bs["part"] / bs["plain"], st["part"] / st["plain"], bcpu["part"] / bcpu["plain"];
      if (tn["part"] > 0 && tn["plain"] > 0 && tcpu["plain"] > 0)
        printf "ratio part / plain: trades stored a second %.3f, storer CPU a row %.3f\n",
          tr["part"] / tr["plain"], (tcpu["part"] / tn["part"]) / (tcpu["plain"] / tn["plain"]);
    }
  }' "$WORK/runs"
done

echo
echo "== all runs ($NSYM x $BARS bars backfilled; trades streamed at $TRADE_RATE/s for $TRADE_SECS s; CPU in seconds a million rows)"
printf "%3s %-8s %9s %9s %9s %9s %9s %9s %9s  %s\n" run case "bars s" steady "pool CPU" "trades/s" "storer" streamer "trig b/t" "load average"
awk -v total="$TOTAL" '{ printf "%3d %-8s %9.2f %9.0f %9.2f %9.0f %9.2f %9.2f %9s  %s %s %s\n", $1, $2, $3, $4,
      (total > 0 ? $5 * 1e6 / total : 0), $11, ($13 > 0 ? $12 * 1e6 / $13 : 0), ($13 > 0 ? $14 * 1e6 / $13 : 0),
      $6 "/" ($13 > 0 ? $15 - $6 : "-"), $17, $18, $19 }' "$WORK/runs"
awk -v total="$TOTAL" '
  function median(a, k,   i, j, t) {
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2;
  }
  {
    c = $2; k = ++n[c];
    bs[c, k] = $3; st[c, k] = $4; bc[c, k] = total > 0 ? $5 * 1e6 / total : 0; tr[c, k] = $11; tc[c, k] = $13 > 0 ? $12 * 1e6 / $13 : 0;
  }
  function med(arr, c,   i, a) { for (i = 1; i <= n[c]; i++) a[i] = arr[c, i]; return median(a, n[c]) }
  END {
    for (c in n) {
      m_bs[c] = med(bs, c); m_st[c] = med(st, c); m_bc[c] = med(bc, c); m_tr[c] = med(tr, c); m_tc[c] = med(tc, c);
      printf "medians of %d runs, %-7s bars %.2f s, steady %.0f rows/s, pool CPU %.2f s/1M; trades %.0f/s, storer CPU %.2f s/1M\n",
        n[c], c ":", m_bs[c], m_st[c], m_bc[c], m_tr[c], m_tc[c];
    }
    if (("part" in n) && ("plain" in n)) {
      if (total > 0) printf "ratios of the medians, part / plain: bars time %.3f, steady rate %.3f, pool CPU a row %.3f\n",
        m_bs["part"] / m_bs["plain"], m_st["part"] / m_st["plain"], m_bc["part"] / m_bc["plain"];
      if (m_tc["plain"] > 0) printf "ratios of the medians, part / plain: trades stored a second %.3f, storer CPU a row %.3f\n",
        m_tr["part"] / m_tr["plain"], m_tc["part"] / m_tc["plain"];
    }
  }' "$WORK/runs"
