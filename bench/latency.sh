#!/usr/bin/env bash
# bench/latency.sh: several requests in flight against a slow provider
# (see bench/latency.pl).  usage: DELAY_MS=50 bash bench/latency.sh
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
install_packages
build_and_install
WORK=$(make_workdir latency)
trap '[ -z "${KEEP:-}" ] && rm -rf "$WORK"' EXIT
cp -r "$ROOT/test" "$ROOT/bench" "$WORK/"
[ "$(id -u)" = 0 ] && chown -R postgres: "$WORK"
cd "$WORK"
as_pg env PATH="$PGBIN:$PATH" PG_REGRESS=$PGBIN/../lib/pgxs/src/test/regress/pg_regress \
  DELAY_MS="${DELAY_MS:-50}" prove -v -I "$PGBIN/../lib/pgxs/src/test/perl" bench/latency.pl 2>&1 \
  | grep -E '^# requests in flight'
