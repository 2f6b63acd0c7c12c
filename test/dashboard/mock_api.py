#!/usr/bin/env python3
"""A stand-in for `pg_sync serve`, for developing the dashboard without a database.

Serves the dashboard the way serve does (GET / is index.html, GET /static/NAME
a file of the dashboard directory, the chart library taken from
node_modules when the directory has none) and canned answers of the JSON
API documented in docs/dashboard.md: /api/status, /api/health,
/api/sources, /api/bars (1-minute bars of test/data's BTCUSDT day, rolled up
to 5m 15m 1h 1d and XNYS session days) and /api/events (Server-Sent Events).

Control routes for a test:
  POST /_mock/bars?n=K   store the next K minutes of the day and announce
                         them ("bars" event), as a backfill would
  POST /_mock/phase?symbol=S&phase=P   change a series' phase ("status" event)

Usage: mock_api.py [--port 0] [--port-file F] [--dashboard DIR]
"""
import argparse
import json
import os
import queue
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DAY_MS = 1670889600000          # 2022-12-13 00:00 UTC
CHART_JS = "lightweight-charts.standalone.production.js"
STEPS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".png": "image/png"}

LOCK = threading.Lock()
ALL = []        # the day's bars: (epoch s, open, high, low, close, volume) as text
STORED = 0      # how many of them are "stored"
SUBSCRIBERS = []
SERIES = []


def load_day():
    path = os.path.join(ROOT, "test", "data", "bybit_btcusdt_minute_trade_20221213.csv")
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) == 6:
                ALL.append((DAY_MS // 1000 + int(parts[0]) // 1000, *parts[1:]))


def iso(secs):
    return datetime.fromtimestamp(secs, timezone.utc).isoformat()


def parse_ts(text):
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp())


def status_rows():
    last = ALL[STORED - 1][0] if STORED else None
    base = dict(dataset="bars", bar_interval="00:01:00", worker_pid=None, retry_at=None,
                reconnects=0, last_error=None, last_error_at=None, rows_rejected=0, gaps=0)
    rows = [
        dict(base, source="fake", symbol="BTCUSDT", phase=SERIES[0], synced_through=iso(last + 60) if last else None,
             backfill_progress=STORED / len(ALL), lag=None, rows_stored=STORED),
        dict(base, source="fake", symbol="ADABTC", phase="retrying", synced_through=None, backfill_progress=0.25,
             lag=None, rows_stored=0, rows_rejected=3, gaps=2,
             last_error="HTTP 429 Too Many Requests from the provider", last_error_at=iso(DAY_MS // 1000),
             retry_at=iso(DAY_MS // 1000 + 60)),
        dict(base, source="live", symbol="LIVEUSDT", dataset="trades", phase="realtime",
             synced_through=iso(DAY_MS // 1000), backfill_progress=None, lag="00:00:00.412", rows_stored=12345),
    ]
    return rows


def rollup(bars, step, session):
    out = []
    for ts, o, h, l, c, v in bars:
        if session:
            tod = ts % 86400
            if not (14 * 3600 + 1800 <= tod < 21 * 3600):
                continue
            bucket = ts - tod + 14 * 3600 + 1800
        else:
            bucket = ts - ts % step
        if out and out[-1]["b"] == bucket:
            r = out[-1]
            r["high"] = max(r["high"], float(h))
            r["low"] = min(r["low"], float(l))
            r["close"] = float(c)
            r["volume"] += float(v)
        else:
            out.append(dict(b=bucket, open=float(o), high=float(h), low=float(l), close=float(c), volume=float(v)))
    return [dict(ts=iso(r["b"]), open=repr(r["open"]), high=repr(r["high"]), low=repr(r["low"]),
                 close=repr(r["close"]), volume="%.6f" % r["volume"], trades=None, vwap=None) for r in out]


def broadcast(kind, payload):
    data = "event: %s\ndata: %s\n\n" % (kind, json.dumps(payload))
    with LOCK:
        for q in SUBSCRIBERS:
            q.put(data)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_file(self, path):
        try:
            with open(path, "rb") as f:
                body = f.read()
        except OSError:
            return self.send_json(404, {"error": "no such file"})
        self.send_response(200)
        self.send_header("Content-Type", TYPES.get(os.path.splitext(path)[1], "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path == "/":
            return self.send_file(os.path.join(self.server.dashboard, "index.html"))
        m = re.fullmatch(r"/static/([A-Za-z0-9._-]+)", u.path)
        if m:
            path = os.path.join(self.server.dashboard, m.group(1))
            if m.group(1) == CHART_JS and not os.path.exists(path):
                path = os.path.join(self.server.dashboard, "node_modules", "lightweight-charts", "dist", CHART_JS)
            return self.send_file(path)
        if u.path == "/api/status":
            with LOCK:
                rows = status_rows()
            return self.send_json(200, {"series": [r for r in rows if q.get("source") in (None, r["source"])]})
        if u.path == "/api/health":
            return self.send_json(200, {"status": "degraded", "components": [
                {"component": "launcher", "status": "ok", "detail": None},
                {"component": "source fake", "status": "degraded", "detail": "ADABTC retrying: HTTP 429"},
                {"component": "source live", "status": "ok", "detail": None}]})
        if u.path == "/api/sources":
            return self.send_json(200, {"sources": [
                {"name": "fake", "provider": "binance", "base_url": "http://127.0.0.1:1", "stream_url": None},
                {"name": "live", "provider": "polygon", "base_url": "http://127.0.0.1:2", "stream_url": None}]})
        if u.path == "/api/bars":
            return self.bars(q)
        if u.path == "/api/events":
            return self.events()
        return self.send_json(404, {"error": "no such route"})

    def bars(self, q):
        if q.get("interval") not in STEPS:
            return self.send_json(400, {"error": "interval must be one of 1m, 5m, 15m, 1h, 1d"})
        if q.get("session") not in (None, "XNYS"):
            return self.send_json(400, {"error": "unknown session"})
        try:
            lo, hi = parse_ts(q["from"]), parse_ts(q["to"])
        except (KeyError, ValueError):
            return self.send_json(400, {"error": "from and to must be timestamps"})
        if q.get("symbol") not in ("BTCUSDT", "ADABTC", "LIVEUSDT"):
            return self.send_json(404, {"error": "no such series"})
        with LOCK:
            day = ALL[:STORED] if q["symbol"] == "BTCUSDT" else []
        rows = [r for r in rollup(day, STEPS[q["interval"]], q.get("session")) if lo <= parse_ts(r["ts"]) < hi]
        self.send_json(200, {"source": q.get("source"), "symbol": q["symbol"], "interval": q["interval"],
                             "session": q.get("session"), "bars": rows, "truncated": False})

    def events(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        mine = queue.Queue()
        with LOCK:
            SUBSCRIBERS.append(mine)
        try:
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            while True:
                try:
                    data = mine.get(timeout=15)
                except queue.Empty:
                    data = ": keepalive\n\n"
                self.wfile.write(data.encode())
                self.wfile.flush()
        except OSError:
            pass
        finally:
            with LOCK:
                SUBSCRIBERS.remove(mine)
            self.close_connection = True

    def do_POST(self):
        global STORED
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path == "/_mock/bars":
            with LOCK:
                first = STORED
                STORED = min(len(ALL), STORED + int(q.get("n", "1")))
                new = ALL[first:STORED]
            if new:
                broadcast("bars", {"source": "fake", "symbol": "BTCUSDT", "interval": "00:01:00",
                                   "from": iso(new[0][0]), "ts": iso(new[-1][0]), "rows": len(new)})
            return self.send_json(200, {"stored": STORED})
        if u.path == "/_mock/phase":
            SERIES[0] = q.get("phase", "idle")
            with LOCK:
                row = status_rows()[0]
            broadcast("status", row)
            return self.send_json(200, row)
        return self.send_json(404, {"error": "no such route"})


def main():
    global STORED
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--dashboard", default=os.path.join(ROOT, "dashboard"))
    ap.add_argument("--stored", type=int, default=720, help="minutes stored at the start")
    args = ap.parse_args()
    load_day()
    STORED = min(args.stored, len(ALL))
    SERIES.append("idle")
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.dashboard = args.dashboard
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
    print("mock API on http://127.0.0.1:%d/" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
