#!/usr/bin/env bash
# bench/collation.sh: what COLLATE "C" on the key columns (source, symbol,
# trade_id) would buy the storage path and the aggregator's queries, and
# what it would change for users (issue 14).  Not a test: nothing asserts.
#
# A scratch cluster (no sync installed: the tables copy sync.bars' and
# sync.trades' columns and keys from sql/sync--0.1.0.sql) with two
# databases, because the database's default collation decides what
# "default" costs:
#   en_US  LOCALE 'en_US.UTF-8' (glibc), what a Debian/Ubuntu server set up
#          with LANG=en_US.UTF-8 gets; compiled by localedef into the work
#          directory when the machine lacks it (LOCPATH, nothing system-wide)
#   C.UTF-8  the initdb default on this machine (LANG=C.UTF-8): glibc's
#          code-point order, but not "C" to PostgreSQL (strcoll per compare)
#   C      LOCALE 'C': the default collation is bytewise (pass DBS="en_US C"
#          to compare a database made so with an en_US one)
# Variants of the tables:
#   a  default collation on source, symbol, trade_id (sync 0.7.0)
#   b  COLLATE "C" on all three
#   c  COLLATE "C" on trade_id only (trades)
# Storage path: batches of 1000 rows of one series, one transaction each,
# (1) INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING (sync's
# trades path and its bars fallback), arrays built before the clock starts;
# (2) COPY of 1000-line files (sync's bars path).  Trades with decimal ids
# (Binance, Coinbase) and UUID-like ids; 1-minute bars.  Each figure is the
# median of 3 runs into fresh tables, variants interleaved so the shared
# machine's noise falls on all of them; uptime is printed around each block.
# Queries: the aggregator's GROUP BY source, symbol, date_bin(...) over QROWS
# bars, the same forced to sort, and a sort on (source, symbol, ts) like the
# views' ORDER BY, under a and b.
# Then a demonstration (bench/collation_demo.sql) of what changes for users.
#   usage: [REPS=3] [NO_QUERIES=1] [NO_DEMO=1] [KINDS="trades_int trades_uuid bars"] bash bench/collation.sh [ROWS=200000] [QROWS=1000000] [DBS="en_US C.UTF-8"]
# (the minimum of the CPU times is printed too: contention only adds to it)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
ROWS=${1:-200000}
QROWS=${2:-1000000}
DBS=${3:-"en_US C.UTF-8"}
REPS=${REPS:-3}
HZ=$(getconf CLK_TCK)

WORK=$(make_workdir collation)
mkdir -p "$WORK/locales" "$WORK/copy"
if ! locale -a | grep -qi '^en_US\.utf-\?8$'; then
  localedef -i en_US -f UTF-8 "$WORK/locales/en_US.UTF-8"
fi
export LOCPATH=$WORK/locales
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
PGPORT=$(free_port)
export PGHOST=$WORK PGPORT PGUSER=postgres
cleanup() {
  as_pg env LOCPATH="$LOCPATH" $PGBIN/pg_ctl -D "$WORK/pgdata" -m fast stop >/dev/null 2>&1 || true
  [ -z "${KEEP:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
as_pg env LOCPATH="$LOCPATH" $PGBIN/initdb -D "$WORK/pgdata" -A trust -U postgres >/dev/null
cat >> "$WORK/pgdata/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PGPORT
shared_buffers = 512MB
max_wal_size = 4GB
work_mem = 64MB
# no disk flush per commit: what is compared is CPU spent on keys
synchronous_commit = off
autovacuum = off
# one process per query, so its CPU time is the backend's
max_parallel_workers_per_gather = 0
CONF
as_pg env LOCPATH="$LOCPATH" $PGBIN/pg_ctl -D "$WORK/pgdata" -l "$WORK/postgres.log" -w start >/dev/null
psql() { as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGOPTIONS="-c client_min_messages=warning" /usr/bin/psql -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
load() { echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
median() { sort -g | sed -n "$(( (REPS + 1) / 2 ))p"; }
minimum() { sort -g | head -1; }

psql -d postgres -c "CREATE DATABASE \"en_US\" TEMPLATE template0 LOCALE 'en_US.UTF-8'" \
     -c "CREATE DATABASE \"C.UTF-8\" TEMPLATE template0 LOCALE 'C.UTF-8'" \
     -c "CREATE DATABASE \"C\" TEMPLATE template0 LOCALE 'C'"
echo "== cluster: PostgreSQL $(psql -d postgres -Atc 'SHOW server_version'), $ROWS rows a run, median of $REPS"
psql -d postgres -Atc "SELECT format('   database %s: datcollate %s, provider %s', datname, datcollate, datlocprovider)
                         FROM pg_database WHERE datname IN ('en_US', 'C.UTF-8', 'C')"

# Tables as sync 0.1.0 creates them, with COLLATE clauses per variant.
ddl() {  # ddl VARIANT: CREATE statements for t_<variant>, b_<variant>
  local v=$1 ks="" ki=""
  case $v in b) ks=' COLLATE "C"'; ki=' COLLATE "C"';; c) ki=' COLLATE "C"';; esac
  cat <<SQL
DROP TABLE IF EXISTS t_$v, b_$v;
CREATE TABLE t_$v (
    source   text$ks NOT NULL,
    symbol   text$ks NOT NULL,
    ts       timestamptz NOT NULL,
    trade_id text$ki NOT NULL,
    price    numeric NOT NULL,
    size     numeric NOT NULL,
    side     text CHECK (side IN ('buy', 'sell')),
    PRIMARY KEY (source, symbol, trade_id));
CREATE INDEX ON t_$v (source, symbol, ts);
CREATE TABLE b_$v (
    source       text$ks NOT NULL,
    symbol       text$ks NOT NULL,
    bar_interval interval NOT NULL,
    ts           timestamptz NOT NULL,
    open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL,
    close numeric NOT NULL, volume numeric NOT NULL, trades bigint, vwap numeric,
    PRIMARY KEY (source, symbol, bar_interval, ts));
SQL
}

# The input, built once per database before any clock: batch n holds 1000
# consecutive rows of series n % 8 (as a page or a stream batch does).
prepare() {
  local db=$1
  psql -d "$db" <<SQL
-- the backend's user + system clock ticks so far (fields 14 and 15 of proc(5))
CREATE FUNCTION cpu_ticks() RETURNS bigint LANGUAGE sql AS \$\$
  SELECT f[12]::bigint + f[13]::bigint
    FROM string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') f \$\$;
CREATE TABLE series (k int PRIMARY KEY, source text, symbol text);
INSERT INTO series VALUES (0, 'binance', 'BTCUSDT'), (1, 'binance', 'ETHUSDT'), (2, 'binance', 'SOLUSDT'),
  (3, 'coinbase', 'BTC-USD'), (4, 'coinbase', 'ETH-USD'), (5, 'alpaca', 'AAPL'),
  (6, 'alpaca', 'MSFT'), (7, 'polygon', 'NVDA');
CREATE TABLE rows_in AS
SELECT g / 1000 AS n, s.source, s.symbol, (g / 1000 / 8) * 1000 + g % 1000 AS j, g % 1000 AS i
  FROM generate_series(0, $ROWS - 1) g JOIN series s ON s.k = (g / 1000) % 8;
CREATE TABLE trades_in AS
SELECT n, source, symbol, timestamptz '2026-01-01 00:00+00' + j * interval '50 ms' AS ts,
       (3000000000 + j)::text AS id_int, md5(source || symbol || j)::uuid::text AS id_uuid,
       100 + (i % 100) / 100.0 AS price, 0.001 * (1 + i % 7) AS size,
       CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END AS side
  FROM rows_in;
CREATE TABLE bars_in AS
SELECT n, source, symbol, interval '1 minute' AS bar_interval,
       timestamptz '2020-01-01 00:00+00' + j * interval '1 minute' AS ts,
       100 + (i % 100) / 100.0 AS open, 101 + (i % 100) / 100.0 AS high, 99 + (i % 100) / 100.0 AS low,
       100.5 + (i % 100) / 100.0 AS close, 10 + i % 13 AS volume, (5 + i % 11)::bigint AS trades,
       100.2 + (i % 100) / 100.0 AS vwap
  FROM rows_in;
-- arrays per batch for the INSERT path
CREATE TABLE trades_int_arr AS
SELECT n, array_agg(source) a1, array_agg(symbol) a2, array_agg(ts) a3, array_agg(id_int) a4,
       array_agg(price) a5, array_agg(size) a6, array_agg(side) a7
  FROM trades_in GROUP BY n;
CREATE TABLE trades_uuid_arr AS
SELECT n, array_agg(source) a1, array_agg(symbol) a2, array_agg(ts) a3, array_agg(id_uuid) a4,
       array_agg(price) a5, array_agg(size) a6, array_agg(side) a7
  FROM trades_in GROUP BY n;
CREATE TABLE bars_arr AS
SELECT n, array_agg(source) a1, array_agg(symbol) a2, array_agg(bar_interval) a3, array_agg(ts) a4,
       array_agg(open) a5, array_agg(high) a6, array_agg(low) a7, array_agg(close) a8,
       array_agg(volume) a9, array_agg(trades) a10, array_agg(vwap) a11
  FROM bars_in GROUP BY n;
-- one transaction per batch (a procedure may COMMIT between them)
CREATE PROCEDURE load_arrays(tbl text, src text, nargs int) LANGUAGE plpgsql AS \$\$
DECLARE r record; args text;
BEGIN
  SELECT string_agg(format('r.a%s', k), ', ') INTO args FROM generate_series(1, nargs) k;
  FOR r IN EXECUTE format('SELECT * FROM %I ORDER BY n', src) LOOP
    IF nargs = 7 THEN
      EXECUTE format('INSERT INTO %I SELECT * FROM unnest(\$1, \$2, \$3, \$4, \$5, \$6, \$7) ON CONFLICT DO NOTHING', tbl)
        USING r.a1, r.a2, r.a3, r.a4, r.a5, r.a6, r.a7;
    ELSE
      EXECUTE format('INSERT INTO %I SELECT * FROM unnest(\$1, \$2, \$3, \$4, \$5, \$6, \$7, \$8, \$9, \$10, \$11) ON CONFLICT DO NOTHING', tbl)
        USING r.a1, r.a2, r.a3, r.a4, r.a5, r.a6, r.a7, r.a8, r.a9, r.a10, r.a11;
    END IF;
    COMMIT;
  END LOOP;
END \$\$;
SQL
  # 1000-line files for the COPY path, and a script that loads them in order
  local kind
  for kind in trades_int trades_uuid bars; do
    rm -rf "$WORK/copy/$kind"; mkdir -p "$WORK/copy/$kind"
    [ "$(id -u)" = 0 ] && chown postgres: "$WORK/copy/$kind"
    case $kind in
      trades_int)  q="SELECT source, symbol, ts, id_int, price, size, side FROM trades_in ORDER BY n, i";;
      trades_uuid) q="SELECT source, symbol, ts, id_uuid, price, size, side FROM trades_in ORDER BY n, i";;
      bars)        q="SELECT source, symbol, bar_interval, ts, open, high, low, close, volume, trades, vwap FROM bars_in ORDER BY n, i";;
    esac
    q=${q/ORDER BY n, i/ORDER BY n, ts}
    psql -d "$db" -c "COPY ($q) TO '$WORK/copy/$kind/all'"
    (cd "$WORK/copy/$kind" && split -l 1000 -a 4 -d all part. && rm all)
    ls "$WORK/copy/$kind" | sed "s|^|COPY TBL FROM '$WORK/copy/$kind/|; s|\$|';|" > "$WORK/copy/$kind.sql"
  done
  [ "$(id -u)" = 0 ] && chown -R postgres: "$WORK/copy"
  return 0
}

# run DB KIND PATH VARIANT: "wall-seconds cpu-seconds" to store ROWS rows into
# a fresh table; cpu is the backend's own user+system time (/proc/self/stat
# read by the backend itself), which other processes on the shared machine
# disturb far less than the wall clock.
run() {
  local db=$1 kind=$2 path=$3 v=$4 tbl t0 t1 body
  case $kind in bars) tbl=b_$v;; *) tbl=t_$v;; esac
  ddl "$v" | psql -d "$db"
  psql -d "$db" -c "CHECKPOINT"
  if [ "$path" = insert ]; then
    case $kind in
      bars) body="CALL load_arrays('$tbl', 'bars_arr', 11);";;
      *)    body="CALL load_arrays('$tbl', '${kind}_arr', 7);";;
    esac
  else
    body=$(sed "s/TBL/$tbl/" "$WORK/copy/$kind.sql")
  fi
  t0=$(now)
  local cpu; cpu=$(printf 'SELECT cpu_ticks();\n%s\nSELECT cpu_ticks();\n' "$body" | psql -d "$db" -At | grep -v '^COPY' | paste -sd' ')
  t1=$(now)
  local n; n=$(psql -d "$db" -Atc "SELECT count(*) FROM $tbl")
  [ "$n" = "$ROWS" ] || { echo "stored $n rows, not $ROWS"; exit 1; }
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "$cpu" | awk -v hz="$HZ" '{ printf "%.2f", ($2 - $1) / hz }')"
}

storage() {
  local db=$1 kind path v variants r
  for kind in ${KINDS:-trades_int trades_uuid bars}; do
    variants="a b c"; [ $kind = bars ] && variants="a b"
    for path in insert copy; do
      declare -A wall=() cpu=()
      for r in $(seq "$REPS"); do
        for v in $variants; do
          local w c; read -r w c < <(run "$db" $kind $path $v)
          wall[$v]="${wall[$v]:-} $w"; cpu[$v]="${cpu[$v]:-} $c"
        done
      done
      local wa ca; wa=$(echo ${wall[a]} | tr ' ' '\n' | median); ca=$(echo ${cpu[a]} | tr ' ' '\n' | median)
      local cna; cna=$(echo ${cpu[a]} | tr ' ' '\n' | minimum)
      for v in $variants; do
        local wm cm cn; wm=$(echo ${wall[$v]} | tr ' ' '\n' | median); cm=$(echo ${cpu[$v]} | tr ' ' '\n' | median)
        cn=$(echo ${cpu[$v]} | tr ' ' '\n' | minimum)
        printf "   %-8s %-11s %-6s %s  wall %7.0f rows/s %.3fx a | backend cpu median %5.2f us/row %.3fx a, min %5.2f us/row %.3fx a   (wall s: %s; cpu s: %s)\n" \
          "$db" $kind $path $v "$(echo "$ROWS / $wm" | bc -l)" "$(echo "$wa / $wm" | bc -l)" \
          "$(echo "$cm * 1000000 / $ROWS" | bc -l)" "$(echo "$ca / $cm" | bc -l)" \
          "$(echo "$cn * 1000000 / $ROWS" | bc -l)" "$(echo "$cna / $cn" | bc -l)" "$(echo ${wall[$v]})" "$(echo ${cpu[$v]})"
      done
      unset wall cpu
    done
    load
  done
}

queries() {
  local db=$1 v r q
  for v in a b; do
    local ks=""; [ $v = b ] && ks=' COLLATE "C"'
    psql -d "$db" <<SQL
DROP TABLE IF EXISTS qb_$v;
CREATE TABLE qb_$v (
    source text$ks NOT NULL, symbol text$ks NOT NULL, bar_interval interval NOT NULL,
    ts timestamptz NOT NULL, open numeric NOT NULL, high numeric NOT NULL, low numeric NOT NULL,
    close numeric NOT NULL, volume numeric NOT NULL, trades bigint, vwap numeric,
    PRIMARY KEY (source, symbol, bar_interval, ts));
INSERT INTO qb_$v
SELECT s.source, s.symbol, interval '1 minute', timestamptz '2020-01-01 00:00+00' + g * interval '1 minute',
       100, 101, 99, 100.5, 10 + g % 13, 5, 100.2
  FROM series s, generate_series(0, $QROWS / 8 - 1) g;
VACUUM ANALYZE qb_$v;
SQL
  done
  declare -A qs=(
    [group_hash]="SELECT source, symbol, date_bin('5 minutes', ts, '2000-01-01'), max(high), min(low), sum(volume), count(*) FROM QB GROUP BY 1, 2, 3"
    [group_sort]="SET enable_hashagg = off; SELECT source, symbol, date_bin('5 minutes', ts, '2000-01-01'), max(high), min(low), sum(volume), count(*) FROM QB GROUP BY 1, 2, 3"
    [order_by]="SET enable_indexscan = off; SET enable_bitmapscan = off; SELECT source, symbol, ts, close FROM QB ORDER BY source, symbol, ts DESC"
  )
  for q in group_hash group_sort order_by; do
    declare -A ms=() cpu=()
    for r in $(seq "$REPS"); do
      for v in a b; do
        local sql=${qs[$q]//QB/qb_$v} out
        # server-side time of the statement (rows discarded in the server) and the backend's CPU
        out=$(psql -d "$db" -At -c "SET work_mem = '64MB'; ${sql%%SELECT*}" -c "SELECT cpu_ticks()" \
                -c "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT ${sql#*SELECT}" -c "SELECT cpu_ticks()")
        ms[$v]="${ms[$v]:-} $(echo "$out" | tr -d '\n' | grep -o '"Execution Time": [0-9.]*' | grep -o '[0-9.]*$')"
        cpu[$v]="${cpu[$v]:-} $(echo "$out" | grep -x '[0-9]*' | paste -sd' ' | awk -v hz="$HZ" '{ printf "%.0f", ($2 - $1) * 1000 / hz }')"
      done
    done
    local ma mb ca cb
    ma=$(echo ${ms[a]} | tr ' ' '\n' | median); mb=$(echo ${ms[b]} | tr ' ' '\n' | median)
    ca=$(echo ${cpu[a]} | tr ' ' '\n' | median); cb=$(echo ${cpu[b]} | tr ' ' '\n' | median)
    printf "   %-8s %-10s a %7.1f ms  b %7.1f ms  b is %.3fx a's speed | cpu a %5s ms  b %5s ms  %.3fx   (ms a: %s; b: %s)\n" \
      "$db" $q "$ma" "$mb" "$(echo "$ma / $mb" | bc -l)" "$ca" "$cb" "$(echo "$ca / $cb" | bc -l)" "$(echo ${ms[a]})" "$(echo ${ms[b]})"
    unset ms cpu
  done
  load
}

for db in $DBS; do
  echo "== $db: input"
  prepare "$db"
  echo "== $db: storage path, $ROWS rows in batches of 1000 (rows/s, speed relative to a)"
  load
  storage "$db"
done
[ -n "${NO_QUERIES:-}" ] || for db in $DBS; do
  echo "== $db: queries over $QROWS 1-minute bars (8 series), EXPLAIN ANALYZE execution time"
  queries "$db"
done
if [ -f "$ROOT/bench/collation_demo.sql" ] && [ -z "${NO_DEMO:-}" ]; then
  echo "== what changes for users: bench/collation_demo.sql in the en_US database"
  psql -d en_US -v ON_ERROR_STOP=0 -e -f - < "$ROOT/bench/collation_demo.sql" 2>&1 || true
fi
