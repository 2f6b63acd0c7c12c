#!/usr/bin/python3
"""listen.py: react to new bars as sync stores them (LISTEN sync_bars).

    python3 examples/listen.py "dbname=marketdata" [--symbol BTCUSDT]
                               [--count N] [--timeout SECONDS]

Every series (source, symbol, interval) announces what it stored on the
channel sync_bars, at most once per sync.notify_interval_ms and always when
its job catches up.  The payload is JSON:

    {"source": "binance", "symbol": "BTCUSDT", "interval": "00:01:00",
     "from": "2024-01-02 00:00:00+00", "ts": "2024-01-02 08:19:00+00",
     "rows": 500}

This consumer prints each one, then reads the bars it announces from
sync.bars.  A notification says rows arrived; the table is the truth (a
listener that was away misses notifications, never data: query from where
it left off).  Needs python3-psycopg2 and a role granted sync_reader.
--count stops after that many notifications, --timeout after that many
seconds without reaching it (exit status 1): test/tap/028_examples.pl runs
it that way.
"""

import argparse
import json
import select
import sys
import time

import psycopg2
import psycopg2.extensions


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dsn", nargs="?", default="",
                    help="libpq connection string (default: PG* environment variables)")
    ap.add_argument("--symbol", help="only this symbol's notifications")
    ap.add_argument("--count", type=int, default=0,
                    help="stop after this many notifications (default: never)")
    ap.add_argument("--timeout", type=float, default=0,
                    help="give up after this many seconds (default: never)")
    args = ap.parse_args()

    conn = psycopg2.connect(args.dsn)
    # LISTEN takes effect at commit, and notifications are delivered between
    # transactions: autocommit keeps the session outside one while it waits.
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    cur = conn.cursor()
    cur.execute("LISTEN sync_bars")
    print("listening on sync_bars", flush=True)

    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    seen = 0
    while not args.count or seen < args.count:
        wait = None
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                print("timed out after %g s with %d notification(s)" % (args.timeout, seen),
                      file=sys.stderr)
                return 1
        # wait for the server to send something, without polling
        if select.select([conn], [], [], wait) == ([], [], []):
            continue
        conn.poll()
        while conn.notifies:
            n = conn.notifies.pop(0)
            p = json.loads(n.payload)
            if args.symbol and p["symbol"] != args.symbol:
                continue
            seen += 1
            print("%s/%s %s: %d row(s) from %s to %s"
                  % (p["source"], p["symbol"], p["interval"], p["rows"], p["from"], p["ts"]),
                  flush=True)
            # the bars themselves: numeric columns arrive as decimal.Decimal
            cur.execute("""
                SELECT ts, open, high, low, close, volume
                  FROM sync.bars
                 WHERE source = %s AND symbol = %s AND bar_interval = %s::interval
                   AND ts BETWEEN %s::timestamptz AND %s::timestamptz
                 ORDER BY ts""",
                        (p["source"], p["symbol"], p["interval"], p["from"], p["ts"]))
            bars = cur.fetchall()
            print("  fetched %d bar(s)" % len(bars), flush=True)
            if bars:
                ts, o, h, l, c, v = bars[-1]
                print("  newest %s  open %s high %s low %s close %s volume %s"
                      % (ts.isoformat(), o, h, l, c, v), flush=True)
            if args.count and seen >= args.count:
                break
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
