#!/usr/bin/python3
"""dataframe.py: a rollup view of sync in a pandas DataFrame.

    python3 examples/dataframe.py "dbname=marketdata" [--view bars_1h]
        [--source binance] [--symbol BTCUSDT] [--from 2022-12-13] [--to 2022-12-14]

Reads sync.bars_1h (or bars_5m, bars_15m, bars_1d, bars) for one series and
a range [from, to) and prints the frame, its types and a summary.  Needs
python3-pandas and python3-psycopg2, and a role granted sync_reader.

Types: ts comes back from psycopg2 as a datetime with the session's UTC
offset; it becomes datetime64[ns, UTC] (tz-aware: never compare it with
naive times).  Prices and volumes are numeric in PostgreSQL, exactly as the
provider sent them, and arrive as decimal.Decimal: this keeps them exact in
a column of dtype object, and converts them to float64 for analysis (what
numpy computes with; 15-16 significant digits, plenty for prices, not for
adding up money).  Keep the Decimal column when exact sums matter.

(Not named pandas.py: Python puts the script's directory first on the path,
so "import pandas" would import the script itself.)
"""

import argparse
import datetime
import sys

import pandas as pd
import psycopg2

VIEWS = ("bars", "bars_5m", "bars_15m", "bars_1h", "bars_1d")
PRICES = ("open", "high", "low", "close", "volume", "vwap")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dsn", nargs="?", default="",
                    help="libpq connection string (default: PG* environment variables)")
    ap.add_argument("--view", default="bars_1h", choices=VIEWS)
    ap.add_argument("--source", default="binance")
    ap.add_argument("--symbol", default="BTCUSDT")
    yesterday = datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)
    ap.add_argument("--from", dest="from_ts", default=str(yesterday))
    ap.add_argument("--to", dest="to_ts", default=None, help="default: a day after --from")
    args = ap.parse_args()

    conn = psycopg2.connect(args.dsn)
    cur = conn.cursor()
    # a UTC session: --from/--to are UTC, and times come back at +00
    cur.execute("SET TIME ZONE 'UTC'")
    cols = "ts, open, high, low, close, volume" + ("" if args.view == "bars" else ", trades, vwap")
    # the view name is one of VIEWS (checked by argparse); values are parameters
    cur.execute(
        "SELECT " + cols + " FROM sync." + args.view +
        """ WHERE source = %s AND symbol = %s
              AND ts >= %s::timestamptz
              AND ts < coalesce(%s::timestamptz, %s::timestamptz + interval '1 day')
            ORDER BY ts""",
        (args.source, args.symbol, args.from_ts, args.to_ts, args.from_ts))
    names = [d.name for d in cur.description]
    df = pd.DataFrame.from_records(cur.fetchall(), columns=names)
    conn.close()

    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    df = df.set_index("ts")
    for c in PRICES:
        if c in df:
            df[c] = df[c].astype("float64")      # from Decimal: see the note above
    if "trades" in df:
        df["trades"] = df["trades"].astype("Int64")  # nullable: a provider may not count trades

    print("%s/%s %s: %d row(s)" % (args.source, args.symbol, args.view, len(df)))
    if df.empty:
        print("nothing stored in that range")
        return 0
    print("dtypes:")
    print("  index ts: %s" % df.index.dtype)
    for c, t in df.dtypes.items():
        print("  %s: %s" % (c, t))
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        print(df.head(10))
    print("first %s  last %s" % (df.index[0].isoformat(), df.index[-1].isoformat()))
    print("open %.8g  high %.8g  low %.8g  close %.8g"
          % (df["open"].iloc[0], df["high"].max(), df["low"].min(), df["close"].iloc[-1]))
    print("volume %.8g" % df["volume"].sum())
    returns = df["close"].pct_change().dropna()
    if len(returns) > 1:
        print("return %.4f%%  volatility (std of %s returns) %.4f%%"
              % ((df["close"].iloc[-1] / df["open"].iloc[0] - 1) * 100, args.view.replace("bars_", ""),
                 returns.std() * 100))
    return 0


if __name__ == "__main__":
    sys.exit(main())
