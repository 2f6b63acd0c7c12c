#!/usr/bin/python3
"""Fake market-data provider for sync's tests and demo.

Serves the real REST wire formats from the data files in test/data, on
127.0.0.1 only, and injects faults on request so tests can prove how the
workers react.  Standard library only.

Endpoints
  GET  /api/v3/klines        Binance spot klines (symbol, interval, startTime,
                             endTime, limit); errors as {"code", "msg"}.
  GET  /api/v3/aggTrades     Binance aggregate trades (startTime/endTime at most 1 h apart)
  GET  /_trades?symbol=S      the trades served, as "ms,id,price,qty,side" lines
  GET  /v2/stocks/{symbol}/bars                 Alpaca v2 stock bars (1Min)
  GET  /v2/aggs/ticker/{t}/range/1/minute/{from}/{to}   Polygon aggregates
  GET  /v2/stocks/bars?symbols=..., /v2/stocks/trades?symbols=..., Polygon grouped
                             and daily aggregates: multi-symbol, see fake_multi.py
  GET  /products/{base}-{quote}/candles         Coinbase Exchange candles (60 s)
  GET  /files/{SYMBOL}-1m-{YYYY-MM-DD}.csv       kline files, binance-public-data layout
  GET  /files/{SYMBOL}-trades-{YYYY-MM-DD}.csv   trade files, binance-public-data layout
  GET  /ws/<symbol>@aggTrade, /stream?streams=...   Binance trade streams (WebSocket) of
                             the --live symbols: see fake_stream.py
  GET  /_series?symbol=S      the series served, as "ms,open,high,low,close,volume" lines
  POST /_fault               queue a fault for the next matching requests:
                             {"kind": "429"|"500"|"503"|"delay"|"truncate"|
                                      "malformed"|"close"|"invalid_ohlc"|"bad_rows"|
                                      "ratelimit_exhausted" (Alpaca: 200 with
                                      X-RateLimit-Remaining 0, reset in "reset_in" s),
                              "count": 1, "retry_after": 2, "delay_ms": 3000,
                              "path": "/api/v3/klines", "symbol": "BTCUSDT"}
  GET  /_requests            JSON log of the requests served so far (t0: arrived, t: answered)
  POST /_hostile, GET /_hostile   hostile mode: scripted answers (raw, huge, deep
                             bodies, any status) and stream frames: see fake_hostile.py
  POST /_reset               forget queued faults and the request log
  GET  /_health              "ok"

Data files
  binance_klines_<SYMBOL>-1m-<date>.csv   binance-public-data kline layout
  <venue>_<symbol>_minute_trade_<YYYYMMDD>.csv
                             QuantConnect Lean crypto minute bars
                             (ms since midnight UTC, o, h, l, c, v): served
                             as <SYMBOL> klines, a stand-in for a longer series
  aig_minute_trade_<YYYYMMDD>.csv
                             Lean equity minute bars of AIG (ms since midnight
                             New York, prices in 1/10000 $): served as AIG

Live market (--market START): every symbol matching --market-symbols
(default ^M[0-9]+$), or with --market-any every symbol no data file
serves, has 1-minute bars from START to the last closed minute, growing
as time passes, on every bar endpoint above: see fake_market.py.
"""

import argparse
import bisect
import csv
import datetime
import decimal
import gzip
import glob
import json
import os
import random
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import fake_hostile
import fake_multi
import fake_stream
import fake_market

KLINES = {}        # symbol -> sorted list of kline rows (Binance array form)
TIMES = {}         # symbol -> the rows' open times, for bisect
JSON_ROWS = {}     # symbol -> each row pre-rendered as a Binance kline array
TRADES = {}        # symbol -> sorted list of Binance aggTrades objects
TRADE_TIMES = {}
STOCK_TRADES = {}  # symbol -> [(ms, seq, exchange letter, price text, size)] from Lean ticks
STOCK_TIMES = {}
FAULTS = []        # queued faults, oldest first
REQUESTS = []      # log of served requests
LOCK = threading.Lock()
NEW_TRADES = threading.Condition()   # notified when live trades are made
REQUIRED_KEY = None


def load_binance_csv(path, symbol):
    rows = []
    with open(path, newline="") as f:
        for r in csv.reader(f):
            if not r or not r[0].isdigit():
                continue
            open_ms = int(r[0])
            if open_ms > 10**14:          # archive files switched to microseconds in 2025
                open_ms //= 1000
            rows.append([open_ms, r[1], r[2], r[3], r[4], r[5], open_ms + 59999,
                         r[7], int(r[8]), r[9], r[10], "0"])
    KLINES.setdefault(symbol, []).extend(rows)


def load_lean_minute(path, symbol, day):
    midnight = int(datetime.datetime.strptime(day, "%Y%m%d")
                   .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    rows = []
    with open(path, newline="") as f:
        for r in csv.reader(f):
            if not r:
                continue
            open_ms = midnight + int(r[0])
            rows.append([open_ms, r[1], r[2], r[3], r[4], r[5], open_ms + 59999,
                         "0", 0, "0", "0", "0"])
    KLINES.setdefault(symbol, []).extend(rows)


def load_lean_equity_minute(path, symbol, day):
    """Lean equity minute bars: ms since midnight New York, prices in 1/10000 $."""
    midnight = int(datetime.datetime.strptime(day, "%Y%m%d")
                   .replace(tzinfo=ZoneInfo("America/New_York")).timestamp() * 1000)
    rows = []
    with open(path, newline="") as f:
        for r in csv.reader(f):
            if not r:
                continue
            open_ms = midnight + int(r[0])
            px = [str(decimal.Decimal(v) / 10000) for v in r[1:5]]
            rows.append([open_ms] + px + [r[5], open_ms + 59999, "0", 0, "0", "0", "0"])
    KLINES.setdefault(symbol, []).extend(rows)


def synthesize(symbol, count, start_ms=1577836800000):
    """A seeded random walk of 1-minute bars with consistent OHLC, for benchmarks."""
    rng = random.Random(symbol)
    price = 100.0 + rng.random() * 100
    rows = []
    for i in range(count):
        t = start_ms + i * 60000
        o = price
        c = max(0.01, o * (1 + rng.gauss(0, 0.001)))
        h = max(o, c) * (1 + rng.random() * 0.0005)
        lo = min(o, c) * (1 - rng.random() * 0.0005)
        v = rng.random() * 50
        rows.append([t, "%.2f" % o, "%.2f" % max(h, o, c), "%.2f" % min(lo, o, c), "%.2f" % c,
                     "%.4f" % v, t + 59999, "%.4f" % (v * c), rng.randint(1, 500), "0", "0", "0"])
        price = c
    # rounding may not cross: re-derive high/low from the rounded prices
    for r in rows:
        r[2] = "%.2f" % max(float(r[1]), float(r[2]), float(r[4]))
        r[3] = "%.2f" % min(float(r[1]), float(r[3]), float(r[4]))
    KLINES[symbol] = rows


def index_data():
    for symbol, rows in KLINES.items():
        rows.sort(key=lambda r: r[0])
        TIMES[symbol] = [r[0] for r in rows]
        JSON_ROWS[symbol] = [json.dumps(r, separators=(",", ":")) for r in rows]


def load_freqtrade_trades(path, symbol):
    """ccxt trade lists [ts_ms, "id", null, side, price, amount, cost] as aggTrades."""
    with gzip.open(path, "rt") as f:
        rows = json.load(f)
    trades = [{"a": int(r[1]), "p": repr(r[4]), "q": repr(r[5]), "f": int(r[1]), "l": int(r[1]),
               "T": r[0], "m": r[3] == "sell", "M": True} for r in rows]
    trades.sort(key=lambda t: (t["T"], t["a"]))
    TRADES[symbol] = trades
    TRADE_TIMES[symbol] = [t["T"] for t in trades]


def load_lean_equity_ticks(path, symbol, day):
    midnight = int(datetime.datetime.strptime(day, "%Y%m%d")
                   .replace(tzinfo=ZoneInfo("America/New_York")).timestamp() * 1000)
    ticks = []
    with open(path, newline="") as f:
        for seq, r in enumerate(csv.reader(f), start=1):
            if r:
                ticks.append((midnight + int(r[0]), seq, r[3], str(decimal.Decimal(r[1]) / 10000), r[2]))
    ticks.sort()
    STOCK_TRADES[symbol] = ticks
    STOCK_TIMES[symbol] = [t[0] for t in ticks]


def parse_time(text):
    """RFC 3339 with or without a fraction, to ms."""
    text = text.rstrip("Z")
    frac = 0
    if "." in text:
        text, f = text.split(".")
        frac = int((f + "000")[:3])
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
               .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) + frac


def load_data(data_dir):
    for path in glob.glob(os.path.join(data_dir, "binance_trades_*_freqtrade.json.gz")):
        m = re.match(r"binance_trades_([A-Z0-9]+)_", os.path.basename(path))
        load_freqtrade_trades(path, m.group(1))
    for path in glob.glob(os.path.join(data_dir, "*.csv")):
        name = os.path.basename(path)
        m = re.match(r"binance_klines_([A-Z0-9]+)-1m-[0-9-]+\.csv$", name)
        if m:
            load_binance_csv(path, m.group(1))
            continue
        m = re.match(r"aig_tick_trade_([0-9]{8})\.csv$", name)
        if m:
            load_lean_equity_ticks(path, "AIG", m.group(1))
            continue
        m = re.match(r"aig_minute_trade_([0-9]{8})\.csv$", name)
        if m:
            load_lean_equity_minute(path, "AIG", m.group(1))
            continue
        m = re.match(r"[a-z]+_([a-z0-9]+)_minute_trade_([0-9]{8})\.csv$", name)
        if m:
            load_lean_minute(path, m.group(1).upper(), m.group(2))


def take_fault(path, query):
    symbol = parse_qs(query).get("symbol", [None])[0]
    with LOCK:
        for f in FAULTS:
            if f.get("path", path) == path and f.get("symbol", symbol) == symbol:
                f["count"] = f.get("count", 1) - 1
                if f["count"] <= 0:
                    FAULTS.remove(f)
                return dict(f)
    return None


def bad_rows(rows, end):
    """The page with one kline of every kind a client must refuse around it."""
    first = rows[0]
    ts = first[0]

    def variant(**changes):
        k = list(first)
        for i, v in changes.items():
            k[int(i[1:])] = v
        return k
    bad = [
        "not-an-array",
        variant(f1=1.5),                                  # price as a JSON number
        variant(f0=str(ts)),                              # open time as a string
        variant(f5="-1"),                                 # negative volume
        variant(f0=ts + 1),                               # not on the minute
        variant(f1="NaN"),                                # not a number at all
        variant(f4="1" + "0" * 60),                       # absurdly long decimal
        variant(f1=str(float(first[2]) * 2)),             # open above high
        variant(f0=end + 1 + 600000000),                  # outside the asked range
    ]
    return [first, list(first)] + bad + rows[1:]          # list(first): a duplicate


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):     # keep test output quiet
        pass

    def send_body(self, status, body, headers=None, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.log(status, headers)

    def log(self, status, headers=None):
        u = urlparse(self.path)
        with LOCK:
            REQUESTS.append({"t0": getattr(self, "t0", time.time()), "t": time.time(),
                             "path": u.path, "query": u.query,
                             "status": status, "headers": headers or {}})

    def binance_error(self, status, code, msg):
        self.send_body(status, json.dumps({"code": code, "msg": msg}))

    def do_GET(self):
        self.t0 = time.time()
        u = urlparse(self.path)
        fake_market.ensure_request(u.path, u.query)    # --market: its symbols' bars up to now
        if u.path == "/_health":
            return self.send_body(200, "ok", ctype="text/plain")
        if u.path == "/_requests":
            with LOCK:
                body = json.dumps(REQUESTS)
            return self.send_body(200, body)
        if u.path == "/_hostile":
            return self.send_body(200, json.dumps(fake_hostile.report()))
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return fake_stream.serve(self, sys.modules[__name__], take_fault)
        scripted = fake_hostile.match(u.path, u.query)
        if scripted is not None:
            return fake_hostile.serve(self, scripted)
        fault = take_fault(u.path, u.query)
        if fault and not self.apply_fault(fault):
            return
        q = parse_qs(u.query)
        if fake_multi.serve(self, sys.modules[__name__], u.path, q, fault):   # multi-symbol: fake_multi.py
            return
        if u.path == "/api/v3/klines":
            return self.klines(q, fault)
        if u.path == "/api/v3/aggTrades":
            return self.agg_trades(q)
        if u.path in ("/api/v3/trades", "/api/v3/historicalTrades"):
            return self.raw_trades(u.path, q)
        if u.path == "/_made":
            with LOCK:
                made = len(TRADES.get(q.get("symbol", [""])[0], []))
            return self.send_body(200, str(made), ctype="text/plain")
        if u.path == "/_trades" and q.get("provider"):
            prov = q["provider"][0]
            return self.send_body(200, "\n".join("%d,%s:%d:%d,%s,%s," % (
                t[0], t[2] if prov == "alpaca" else ord(t[2]), t[1], t[0], t[3], t[4])
                for t in STOCK_TRADES.get(q.get("symbol", [""])[0], [])), ctype="text/plain")
        m = re.match(r"^/v2/stocks/([^/]+)/trades$", u.path)
        if m:
            return self.alpaca_trades(m.group(1), q)
        m = re.match(r"^/v3/trades/([^/]+)$", u.path)
        if m:
            return self.polygon_trades(m.group(1), q)
        if u.path == "/_trades":
            rows = TRADES.get(q.get("symbol", [""])[0], [])
            return self.send_body(200, "\n".join("%d,%d,%s,%s,%s" % (
                t["T"], t["a"], t["p"], t["q"], "sell" if t["m"] else "buy") for t in rows),
                ctype="text/plain")
        if u.path == "/_series":
            rows = KLINES.get(q.get("symbol", [""])[0], [])
            return self.send_body(200, "\n".join(",".join(str(x) for x in r[:6]) for r in rows),
                                  ctype="text/plain")
        m = re.match(r"^/v2/stocks/([^/]+)/bars$", u.path)
        if m:
            return self.alpaca_bars(m.group(1), q, fault)
        m = re.match(r"^/v2/aggs/ticker/([^/]+)/range/1/minute/([0-9]+)/([0-9]+)$", u.path)
        if m:
            return self.polygon_aggs(m.group(1), int(m.group(2)), int(m.group(3)), q)
        m = re.match(r"^/products/([A-Z]+)-([A-Z]+)/trades$", u.path)
        if m:
            return self.coinbase_trades(m.group(1) + m.group(2), q)
        m = re.match(r"^/products/([A-Z]+)-([A-Z]+)/candles$", u.path)
        if m:
            return self.coinbase_candles(m.group(1) + m.group(2), q)
        m = re.match(r"^/files/([A-Z0-9]+)-trades-([0-9]{4}-[0-9]{2}-[0-9]{2})\.csv$", u.path)
        if m:
            return self.trade_file(m.group(1), m.group(2))
        m = re.match(r"^/files/([A-Z0-9]+)-1m-([0-9]{4}-[0-9]{2}-[0-9]{2})\.csv$", u.path)
        if m:
            return self.kline_file(m.group(1), m.group(2))
        self.binance_error(404, -1000, "Unknown path %s." % u.path)

    def do_POST(self):
        u = urlparse(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        if u.path == "/_fault":
            with LOCK:
                FAULTS.append(json.loads(body or b"{}"))
            return self.send_body(200, "queued", ctype="text/plain")
        if u.path == "/_hostile":
            fake_hostile.add(json.loads(body or b"{}"))
            return self.send_body(200, "queued", ctype="text/plain")
        if u.path == "/_reset":
            with LOCK:
                FAULTS.clear()
                REQUESTS.clear()
            return self.send_body(200, "reset", ctype="text/plain")
        self.send_body(404, "not found", ctype="text/plain")

    def apply_fault(self, fault):
        """Returns True when the request should still be answered normally."""
        kind = fault.get("kind")
        if kind in ("429", "418", "503"):
            headers = {}
            if "retry_after" in fault:
                headers["Retry-After"] = str(fault["retry_after"])
            self.send_body(int(kind), json.dumps({"code": -1003, "msg": "Too many requests."}), headers)
            return False
        if kind == "500":
            self.send_body(500, "internal error", ctype="text/plain")
            return False
        if kind == "delay":
            time.sleep(float(fault.get("delay_ms", 3000)) / 1000.0)
            return True
        if kind == "close":
            self.log(0)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return False
        if kind == "malformed":
            self.send_body(200, '[[1637971200000,"0.1","0.2",')
            return False
        return True                     # truncate / invalid_ohlc act on the answer

    @staticmethod
    def rfc3339(ms):
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def parse_rfc3339(text):
        return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
                   .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)

    def alpaca_bars(self, symbol, q, fault):
        key = self.headers.get("APCA-API-KEY-ID")
        if not key or not self.headers.get("APCA-API-SECRET-KEY") or \
                (REQUIRED_KEY and key != REQUIRED_KEY):
            return self.send_body(401, json.dumps({"message": "forbidden."}))
        if q.get("timeframe", [""])[0] != "1Min":
            return self.send_body(422, json.dumps({"code": 42210000, "message": "invalid timeframe"}))
        if symbol not in KLINES:
            return self.send_body(200, json.dumps({"bars": None, "symbol": symbol, "next_page_token": None}))
        start = self.parse_rfc3339(q["start"][0])
        end = self.parse_rfc3339(q["end"][0])
        limit = min(int(q.get("limit", ["1000"])[0]), 10000)
        rows = [r for r in KLINES[symbol] if start <= r[0] <= end]
        page, rest = rows[:limit], rows[limit:]
        headers = {}
        if fault and fault.get("kind") == "ratelimit_exhausted":
            headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(int(time.time()) + fault.get("reset_in", 2))}
        # Lean's bars carry no VWAP, so none is sent ("vw" is optional to clients)
        bars = ",".join('{"t":"%s","o":%s,"h":%s,"l":%s,"c":%s,"v":%s,"n":%d}' %
                        (self.rfc3339(r[0]), r[1], r[2], r[3], r[4], r[5], r[8]) for r in page)
        token = json.dumps("%d" % rest[0][0]) if rest else "null"
        self.send_body(200, '{"bars":[%s],"symbol":"%s","next_page_token":%s}' % (bars, symbol, token),
                       headers)

    def polygon_aggs(self, symbol, start, end, q):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or (REQUIRED_KEY and auth[7:] != REQUIRED_KEY):
            return self.send_body(401, json.dumps({"status": "NOT_AUTHORIZED",
                                                   "message": "Unknown API Key"}))
        limit = min(int(q.get("limit", ["5000"])[0]), 50000)
        rows = [r for r in KLINES.get(symbol, []) if start <= r[0] <= end]
        page = rows[:limit]
        results = ",".join('{"v":%s,"o":%s,"c":%s,"h":%s,"l":%s,"t":%d,"n":%d}' %
                           (r[5], r[1], r[4], r[2], r[3], r[0], r[8]) for r in page)
        body = '{"ticker":"%s","queryCount":%d,"resultsCount":%d,"adjusted":false,"status":"OK"' % (
            symbol, len(page), len(page))
        if page:
            body += ',"results":[%s]' % results
        if len(rows) > limit:
            body += ',"next_url":"http://%s/v2/aggs/ticker/%s/range/1/minute/%d/%d?cursor=x"' % (
                self.headers.get("Host"), symbol, page[-1][0] + 60000, end)
        self.send_body(200, body + "}")

    def coinbase_candles(self, symbol, q):
        if symbol not in KLINES:
            return self.send_body(404, json.dumps({"message": "NotFound"}))
        if q.get("granularity", [""])[0] != "60":
            return self.send_body(400, json.dumps({"message": "Unsupported granularity"}))
        start = self.parse_rfc3339(q["start"][0])
        end = self.parse_rfc3339(q["end"][0])
        if (end - start) // 60000 + 1 > 300:
            return self.send_body(400, json.dumps({"message": "granularity too small for the requested "
                                                  "time range. Count of aggregations requested exceeds 300"}))
        rows = [r for r in KLINES[symbol] if start <= r[0] <= end]
        candles = ",".join("[%d,%s,%s,%s,%s,%s]" % (r[0] // 1000, r[3], r[2], r[1], r[4], r[5])
                           for r in reversed(rows))
        self.send_body(200, "[%s]" % candles)

    def coinbase_trades(self, symbol, q):
        """Newest first; after=ID gives the trades with smaller ids (ids are consecutive)."""
        if symbol not in TRADES:
            return self.send_body(404, json.dumps({"message": "NotFound"}))
        limit = min(int(q.get("limit", ["100"])[0]), 1000)
        with LOCK:
            rows = TRADES[symbol]
            hi = len(rows)
            if "after" in q:
                hi = bisect.bisect_left(rows, int(q["after"][0]), key=lambda t: t["a"])
            page = rows[max(0, hi - limit):hi]
        body = ",".join('{"time":"%s","trade_id":%d,"price":"%s","size":"%s","side":"%s"}' % (
            fake_stream.rfc3339(t["T"]), t["a"], t["p"], t["q"], "buy" if t["m"] else "sell") for t in reversed(page))
        self.send_body(200, "[%s]" % body)

    def trade_file(self, symbol, date):
        """A day of trades in the binance-public-data trades layout."""
        day = int(datetime.datetime.strptime(date, "%Y-%m-%d")
                  .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        rows = [t for t in TRADES.get(symbol, []) if day <= t["T"] < day + 86400000]
        if not rows:
            return self.send_body(404, "<Error><Code>NoSuchKey</Code></Error>", ctype="application/xml")
        self.send_body(200, "".join("%d,%s,%s,%s,%d,%s,True\n" % (
            t["a"], t["p"], t["q"], repr(float(t["p"]) * float(t["q"])), t["T"], "True" if t["m"] else "False")
            for t in rows), ctype="text/csv")

    def kline_file(self, symbol, date):
        day = int(datetime.datetime.strptime(date, "%Y-%m-%d")
                  .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        rows = [r for r in KLINES.get(symbol, []) if day <= r[0] < day + 86400000]
        if not rows:
            return self.send_body(404, "<Error><Code>NoSuchKey</Code></Error>", ctype="application/xml")
        self.send_body(200, "".join(",".join(str(x) for x in r) + "\n" for r in rows), ctype="text/csv")

    def stock_trades(self, symbol, start, end, limit):
        times = STOCK_TIMES.get(symbol, [])
        lo = bisect.bisect_left(times, start)
        hi = min(bisect.bisect_left(times, end), lo + limit)
        return STOCK_TRADES.get(symbol, [])[lo:hi]

    def alpaca_trades(self, symbol, q):
        if not self.headers.get("APCA-API-KEY-ID"):
            return self.send_body(401, json.dumps({"message": "forbidden."}))
        rows = self.stock_trades(symbol, parse_time(q["start"][0]), parse_time(q["end"][0]) + 1,
                                 min(int(q.get("limit", ["1000"])[0]), 10000))
        trades = ",".join('{"t":"%s.%03d000000Z","x":"%s","p":%s,"s":%s,"c":["@"],"i":%d,"z":"A"}' % (
            datetime.datetime.fromtimestamp(t[0] // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            t[0] % 1000, t[2], t[3], t[4], t[1]) for t in rows)
        self.send_body(200, '{"trades":[%s],"symbol":"%s","next_page_token":null}' % (trades, symbol))

    def polygon_trades(self, symbol, q):
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            return self.send_body(401, json.dumps({"status": "NOT_AUTHORIZED", "message": "Unknown API Key"}))
        rows = self.stock_trades(symbol, int(q["timestamp.gte"][0]) // 1000000,
                                 int(q["timestamp.lt"][0]) // 1000000,
                                 min(int(q.get("limit", ["1000"])[0]), 50000))
        results = ",".join('{"conditions":[12],"exchange":%d,"id":"%d","price":%s,"sip_timestamp":%d000000,'
                           '"size":%s,"tape":1}' % (ord(t[2]), t[1], t[3], t[0], t[4]) for t in rows)
        self.send_body(200, '{"results":[%s],"status":"OK","request_id":"fake"}' % results)

    def raw_trades(self, path, q):
        """Binance's raw trades (the fake's trades, one per aggTrade, same ids):
        /api/v3/trades the newest, /api/v3/historicalTrades from fromId, with a key."""
        symbol = q.get("symbol", [""])[0]
        if symbol not in TRADES:
            return self.binance_error(400, -1121, "Invalid symbol.")
        if path.endswith("historicalTrades") and not self.headers.get("X-MBX-APIKEY"):
            return self.binance_error(401, -2014, "API-key format invalid.")
        limit = min(int(q.get("limit", ["500"])[0]), 1000)
        with LOCK:
            rows = TRADES[symbol]
            if "fromId" in q:
                lo = bisect.bisect_left(rows, int(q["fromId"][0]), key=lambda t: t["a"])
                page = rows[lo:lo + limit]
            else:
                page = rows[max(0, len(rows) - limit):]
        self.send_body(200, json.dumps([{"id": t["a"], "price": t["p"], "qty": t["q"], "quoteQty": "0",
                                         "time": t["T"], "isBuyerMaker": t["m"], "isBestMatch": True}
                                        for t in page], separators=(",", ":")))

    def agg_trades(self, q):
        symbol = q.get("symbol", [""])[0]
        if symbol not in TRADES:
            return self.binance_error(400, -1121, "Invalid symbol.")
        start = int(q.get("startTime", ["0"])[0])
        end = int(q.get("endTime", [str(2**62)])[0])
        if "startTime" in q and "endTime" in q and end - start > 3600000:
            return self.binance_error(400, -1127, "More than 1 hours between startTime and endTime.")
        limit = min(int(q.get("limit", ["500"])[0]), 1000)
        if "fromId" in q:               # ids grow with time, as Binance's do
            lo = bisect.bisect_left(TRADES[symbol], int(q["fromId"][0]), key=lambda t: t["a"])
        else:
            lo = bisect.bisect_left(TRADE_TIMES[symbol], start)
        hi = min(bisect.bisect_right(TRADE_TIMES[symbol], end), lo + limit)
        self.send_body(200, json.dumps(TRADES[symbol][lo:hi], separators=(",", ":")))

    def klines(self, q, fault):
        symbol = q.get("symbol", [""])[0]
        interval = q.get("interval", [""])[0]
        if self.headers.get("X-MBX-APIKEY", REQUIRED_KEY) != REQUIRED_KEY:
            return self.binance_error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if symbol not in KLINES:
            return self.binance_error(400, -1121, "Invalid symbol.")
        if interval != "1m":
            return self.binance_error(400, -1120, "Invalid interval.")
        try:
            start = int(q.get("startTime", ["0"])[0])
            end = int(q.get("endTime", [str(2**62)])[0])
            limit = min(int(q.get("limit", ["500"])[0]), 1000)
        except ValueError:
            return self.binance_error(400, -1100, "Illegal characters found in a parameter.")
        lo = bisect.bisect_left(TIMES[symbol], start)
        hi = min(bisect.bisect_right(TIMES[symbol], end), lo + limit)
        if not fault:
            return self.send_body(200, "[" + ",".join(JSON_ROWS[symbol][lo:hi]) + "]")
        rows = KLINES[symbol][lo:hi]
        if fault and fault.get("kind") == "invalid_ohlc" and rows:
            bad = list(rows[0])
            bad[2], bad[3] = bad[3], bad[2]          # high below low
            if bad[2] == bad[3]:
                bad[3] = str(float(bad[3]) * 2)
            rows = [bad] + rows[1:]
        if fault and fault.get("kind") == "bad_rows" and rows:
            rows = bad_rows(rows, end)
        body = json.dumps(rows, separators=(",", ":"))
        if fault and fault.get("kind") == "truncate":
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.log(200)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_body(200, body)


def main():
    global REQUIRED_KEY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "data"))
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    ap.add_argument("--pid-file", help="write this process's pid here")
    ap.add_argument("--require-key", help="API key the klines endpoint demands")
    ap.add_argument("--synthetic", action="append", default=[], metavar="SYMBOL:BARS",
                    help="also serve a seeded random walk of BARS 1-minute bars (benchmarks)")
    ap.add_argument("--live", action="append", default=[], metavar="SYMBOL:RATE",
                    help="make RATE trades a second of SYMBOL, live (REST and /ws streams)")
    ap.add_argument("--market", metavar="START",
                    help="serve a live market from START (ISO time, or now-1d, now-6h...): see fake_market.py")
    ap.add_argument("--market-symbols", default=r"^M[0-9]+$", metavar="REGEX",
                    help="the market's symbols (default ^M[0-9]+$)")
    ap.add_argument("--market-any", action="store_true",
                    help="the market serves every symbol no data file serves")
    ap.add_argument("--market-delay-ms", type=int, default=0, metavar="MS",
                    help="a market bar is served MS after its minute closes")
    args = ap.parse_args()
    REQUIRED_KEY = args.require_key
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(str(os.getpid()))
    load_data(args.data_dir)
    for spec in args.synthetic:
        symbol, count = spec.split(":")
        synthesize(symbol, int(count))
    index_data()
    for spec in args.live:
        symbol, rate = spec.split(":")
        fake_stream.live_trades(sys.modules[__name__], symbol, float(rate))
    if args.market:
        fake_market.configure(sys.modules[__name__], args.market, args.market_delay_ms,
                              args.market_symbols, args.market_any)
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, args.port_file)
    print("fake provider on 127.0.0.1:%d serving %s" %
          (port, ", ".join("%s (%d bars)" % (s, len(r)) for s, r in sorted(KLINES.items()))),
          file=sys.stderr, flush=True)
    if fake_market.enabled():
        print("fake provider: " + fake_market.describe(), file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
