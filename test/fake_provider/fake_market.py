"""A live market for any symbol, for the fake provider (fake_provider.py --market).

Every symbol the market covers has a deterministic series of 1-minute bars:
a random walk seeded by the symbol's name (the same walk as the fake's
--synthetic bars: consistent OHLC, prices "%.2f", volumes "%.4f"), from
START up to the last closed minute, growing as time passes.  Two fakes
started with the same START serve the same bars.

Which symbols: those matching --market-symbols (a regular expression,
default ^M[0-9]+$: M1, M2, ... M1000), or, with --market-any, every
symbol of 1 to 32 characters of A-Z a-z 0-9 . _ - that no data file or
--synthetic bars serve (those keep their own bars).  At most MAX_SYMBOLS
symbols are made; later ones are unknown to the fake, as any other.

When a bar appears: the bar that opens at minute m is served from the
moment m + 1 minute + --market-delay-ms (the minute has closed, the
provider took that long to publish it); the bar still open is never
served.  Keep the delay under a minute: sync treats a bar missing more
than a minute after its close as a hole (gap repair fetches it later).

How: nothing is made in advance.  ensure(symbol) makes a symbol's bars on
its first request and, on later requests, appends the minutes closed
since, into the same tables the endpoints read (KLINES, TIMES, JSON_ROWS
of fake_provider, under its LOCK), so Binance klines, Alpaca bars,
Polygon aggregates, kline files and /_series serve the market with no
change of their own.  fake_provider's GET handler calls
ensure_request(path, query) first thing: it finds the symbols in the
usual places (?symbol=, ?symbols=A,B,..., /v2/stocks/<s>/bars,
/v2/aggs/ticker/<s>/..., /files/<s>-1m-...; Polygon's grouped bars,
/v2/aggs/grouped/..., extend every symbol made so far); an endpoint
naming its symbols elsewhere calls ensure(symbol) itself.  A request for a symbol
already up to date costs a dictionary look-up (no lock).  Appending
keeps the tables consistent for readers that take no lock: TIMES is
extended last, so a time found there always has its rows.

With the market on, the fake's sockets send at once (TCP_NODELAY): a
small answer otherwise waits ~40 ms for the client's delayed ACK.

Options (fake_provider.py):
  --market START            turn the market on; START is an ISO time
                            (2026-12-01T00:00:00Z, 2026-12-01 00:00) or an
                            offset from now (now-1d, now-6h, now-90m,
                            now-3600s; or --market=-1d); rounded down to
                            the minute
  --market-symbols REGEX    which symbols (default ^M[0-9]+$)
  --market-any              every symbol not otherwise served
  --market-delay-ms MS      publish each bar MS after its minute closes
"""
import datetime
import json
import random
import re
import time
from urllib.parse import parse_qs

MINUTE_MS = 60000
MAX_SYMBOLS = 100000
ANY_SYMBOL = re.compile(r"^[A-Za-z0-9._-]{1,32}$")

# symbols named by a request's path (the query's symbol= and symbols= are read too)
PATH_SYMBOLS = [
    re.compile(r"^/v2/stocks/([^/]+)/bars$"),
    re.compile(r"^/v2/aggs/ticker/([^/]+)/range/"),
    re.compile(r"^/files/([A-Za-z0-9._-]+)-1m-[0-9-]+\.csv$"),
]

ALL_SYMBOLS_PATH = "/v2/aggs/grouped/"

_provider = None       # the fake_provider module: its tables and LOCK
_start_ms = None       # None: the market is off
_delay_ms = 0
_pattern = None
_any = False
_others = frozenset()  # symbols served from data files, never made here
_state = {}            # symbol -> [next open time, Random, last close]


def parse_start(text, now=None):
    """START as ms since the epoch, rounded down to the minute."""
    now = time.time() if now is None else now
    m = re.match(r"^(?:now)?-([0-9]+)([smhd])$", text.strip())
    if m:
        secs = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        ms = int((now - secs) * 1000)
    else:
        t = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=datetime.timezone.utc)
        ms = int(t.timestamp() * 1000)
    return ms - ms % MINUTE_MS


def configure(provider, start, delay_ms=0, pattern=r"^M[0-9]+$", any_symbol=False):
    """Turn the market on; call after the data files are loaded and indexed."""
    global _provider, _start_ms, _delay_ms, _pattern, _any, _others
    _provider = provider
    _start_ms = parse_start(start)
    _delay_ms = max(0, int(delay_ms))
    _pattern = re.compile(pattern)
    _any = any_symbol
    _others = frozenset(provider.KLINES)
    # TCP_NODELAY: the handler writes the headers, then the body; Nagle holds
    # the body until the client ACKs the headers, ~40 ms with delayed ACKs,
    # which would show in every poll's latency as the fake's, not sync's
    provider.Handler.disable_nagle_algorithm = True


def enabled():
    return _start_ms is not None


def start_ms():
    return _start_ms


def last_open_ms(now_ms=None):
    """Open time of the newest bar served now (may be before START: none yet)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    t = now_ms - _delay_ms - MINUTE_MS
    return t - t % MINUTE_MS


def covers(symbol):
    if symbol in _others or not ANY_SYMBOL.match(symbol):
        return False
    return _any or bool(_pattern.search(symbol))


def _walk(st, upto):
    """The bars of st's next minutes up to open time upto, in both forms,
    and the walk's next open time and price."""
    t, rng, price = st
    rows, js = [], []
    while t <= upto:
        o = price
        c = max(0.01, o * (1 + rng.gauss(0, 0.001)))
        h = max(o, c) * (1 + rng.random() * 0.0005)
        lo = min(o, c) * (1 - rng.random() * 0.0005)
        v = rng.random() * 50
        n = rng.randint(1, 500)
        so, sc = "%.2f" % o, "%.2f" % c
        fo, fc = float(so), float(sc)
        # rounding may cross: high and low from the rounded prices
        sh = "%.2f" % max(fo, float("%.2f" % h), fc)
        sl = "%.2f" % min(fo, float("%.2f" % lo), fc)
        sv = "%.4f" % v
        row = [t, so, sh, sl, sc, sv, t + 59999, "%.4f" % (v * c), n, "0", "0", "0"]
        rows.append(row)
        js.append(json.dumps(row, separators=(",", ":")))
        price = c
        t += MINUTE_MS
    return rows, js, t, price


def ensure(symbol, now_ms=None):
    """Make or extend symbol's bars up to the last closed minute.
    Returns whether the market serves symbol."""
    if _start_ms is None:
        return False
    upto = last_open_ms(now_ms)
    st = _state.get(symbol)
    if st is not None and st[0] > upto:
        return True             # up to date: the common case, no lock
    if st is None and not covers(symbol):
        return False
    p = _provider
    with p.LOCK:
        st = _state.get(symbol)
        if st is None:
            if len(_state) >= MAX_SYMBOLS:
                return False
            rng = random.Random(symbol)
            st = [_start_ms, rng, 100.0 + rng.random() * 100]
            _state[symbol] = st
            for table in (p.KLINES, p.JSON_ROWS, p.TIMES):
                table[symbol] = []
        if st[0] <= upto:
            rows, js, t, price = _walk(st, upto)
            p.KLINES[symbol].extend(rows)
            p.JSON_ROWS[symbol].extend(js)
            p.TIMES[symbol].extend([r[0] for r in rows])
            # last: the lock-free check above must not see bars not yet in the tables
            st[0], st[2] = t, price
    return True


def ensure_request(path, query):
    """ensure() every symbol a request names (query: its query string);
    a request for every symbol (Polygon's grouped bars) extends all made so far."""
    if _start_ms is None:
        return
    if path.startswith(ALL_SYMBOLS_PATH):
        for s in list(_state):
            ensure(s)
        return
    q = parse_qs(query)
    names = list(q.get("symbol", []))
    for s in q.get("symbols", []):
        names.extend(x for x in s.split(",") if x)
    for rx in PATH_SYMBOLS:
        m = rx.match(path)
        if m:
            names.append(m.group(1))
            break
    for s in names:
        ensure(s)


def describe():
    if _start_ms is None:
        return "market off"
    return "market from %s (%s), bars published %d ms after their minute closes" % (
        datetime.datetime.fromtimestamp(_start_ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "any symbol not in the data files" if _any else "symbols matching %s" % _pattern.pattern,
        _delay_ms)
