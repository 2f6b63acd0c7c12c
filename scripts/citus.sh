#!/usr/bin/env bash
# citus.sh [PG_CONFIG]: Citus for the PostgreSQL of PG_CONFIG (default: the
# pg_config on PATH), for the Citus suite (test/tap/031_citus.pl) and
# bench/citus.sh.  Citus is not in Debian: when it is not installed there,
# this builds it from its source and installs it.
#
# Prints its verdict as its last line and exits:
#   0  "citus: installed in DIR"      (it was, or is now)
#   2  "citus: skip: REASON"          (neither installed nor buildable here)
#   1  "citus: build failed: ..."     (the source is there and did not build)
#
# The source: $SYNC_CITUS_SOURCE (a tarball or an unpacked tree), else the
# newest citus-*.tar.gz in ../shared/citus/ beside the checkout or in
# /work/shared/citus/ (the copy of Citus 12.1.12, the last line for
# PostgreSQL 15, that the project's machines carry: its README.md).
#
# The build is for tests: no optimisation, no debug information and no
# LLVM bitcode for JIT (SYNC_CITUS_COPT, default "-O0 -g0", overrides the
# first), which takes it from about 3 minutes to 1 on 2 cores.  Only what
# CREATE EXTENSION citus needs is installed (citus and citus_columnar, no
# headers).  It is built in $SYNC_CITUS_BUILD_DIR (default
# /tmp/sync-citus-build-<uid>), kept there for the next run, with
# make -j$SYNC_CITUS_JOBS (default 2).  The build's output goes to
# citus-build.log there.  Two runs at once take turns (flock).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${1:-$(command -v pg_config || true)}
skip() { echo "citus: skip: $*"; exit 2; }

[ -n "$PG_CONFIG" ] && [ -x "$PG_CONFIG" ] || skip "no pg_config (give its path, or put it on PATH)"
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir) || skip "$PG_CONFIG --pkglibdir failed"
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
if [ -f "$PKGLIBDIR/citus.so" ] && [ -f "$EXTDIR/citus.control" ]; then
  echo "citus: installed in $PKGLIBDIR"
  exit 0
fi

SRC=${SYNC_CITUS_SOURCE:-}
if [ -z "$SRC" ]; then
  SRC=$(ls -1 "$ROOT"/../shared/citus/citus-*.tar.gz /work/shared/citus/citus-*.tar.gz 2>/dev/null |
        sort -V | tail -1)
fi
[ -n "$SRC" ] && [ -e "$SRC" ] ||
  skip "Citus is not installed for $("$PG_CONFIG" --version) ($PKGLIBDIR/citus.so) and no source to build it from (SYNC_CITUS_SOURCE, or citus-*.tar.gz in ../shared/citus/ beside the checkout)"
[ -w "$PKGLIBDIR" ] && [ -w "$EXTDIR" ] ||
  skip "Citus is not installed in $PKGLIBDIR and this user ($(id -un)) cannot install it there: run scripts/citus.sh $PG_CONFIG as one who can (root)"

# The headers to build against: PG_CONFIG's, or where it is a relocated copy
# of an installation without them (a private test copy), the same
# version's system pg_config.
BUILD_PG_CONFIG=$PG_CONFIG
if [ ! -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ]; then
  major=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
  BUILD_PG_CONFIG=/usr/lib/postgresql/$major/bin/pg_config
  [ -x "$BUILD_PG_CONFIG" ] && [ -f "$("$BUILD_PG_CONFIG" --includedir-server)/postgres.h" ] ||
    skip "no PostgreSQL server headers to build Citus against (postgresql-server-dev-$major)"
fi
# Installing with the build's pg_config into PG_CONFIG's directories: the
# difference of the two is make install's DESTDIR.
DESTDIR=""
BUILD_LIBDIR=$("$BUILD_PG_CONFIG" --pkglibdir)
if [ "$BUILD_LIBDIR" != "$PKGLIBDIR" ]; then
  case $PKGLIBDIR in
    *"$BUILD_LIBDIR") DESTDIR=${PKGLIBDIR%"$BUILD_LIBDIR"} ;;
    *) skip "cannot install into $PKGLIBDIR with the headers of $BUILD_PG_CONFIG" ;;
  esac
fi

BUILD=${SYNC_CITUS_BUILD_DIR:-/tmp/sync-citus-build-$(id -u)}
mkdir -p "$BUILD" || skip "cannot make the build directory $BUILD"
LOG=$BUILD/citus-build.log
exec 9>"$BUILD/lock"
flock 9
# someone else may have installed it while this run waited
if [ -f "$PKGLIBDIR/citus.so" ] && [ -f "$EXTDIR/citus.control" ]; then
  echo "citus: installed in $PKGLIBDIR"
  exit 0
fi

# the log's tail first: the verdict is the last line (scripts/test.sh shows it)
fail() { tail -20 "$LOG" | sed 's/^/citus:   /'; echo "citus: build failed: $* (log: $LOG)"; exit 1; }
start=$(date +%s)
if [ -d "$SRC" ]; then
  TREE=$SRC
else
  TREE=$BUILD/$(basename "$SRC" .tar.gz)
  if [ ! -f "$TREE/configure" ]; then
    rm -rf "$TREE"
    tar -xzf "$SRC" -C "$BUILD" >"$LOG" 2>&1 || fail "cannot unpack $SRC"
    [ -f "$TREE/configure" ] || fail "$SRC does not unpack into $TREE"
  fi
fi
{
  cd "$TREE" &&
  { [ -f Makefile.global ] || ./configure --without-libcurl PG_CONFIG="$BUILD_PG_CONFIG"; } &&
  make -j"${SYNC_CITUS_JOBS:-2}" with_llvm=no COPT="${SYNC_CITUS_COPT:--O0 -g0}" PG_CONFIG="$BUILD_PG_CONFIG" extension &&
  make with_llvm=no PG_CONFIG="$BUILD_PG_CONFIG" ${DESTDIR:+DESTDIR="$DESTDIR"} install-extension
} >>"$LOG" 2>&1 || fail "Citus from $SRC"
[ -f "$PKGLIBDIR/citus.so" ] || fail "make install did not put citus.so in $PKGLIBDIR"
echo "citus: installed in $PKGLIBDIR (built from $(basename "$SRC") in $(( $(date +%s) - start )) s)"
exit 0
