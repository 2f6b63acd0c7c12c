"""Multi-symbol endpoints of the fake provider (fake_provider.py routes here).

The worker pool asks for many caught-up series in one request where a
provider allows it; these serve exactly the data the single-symbol
endpoints serve (the same KLINES and STOCK_TRADES rows, the same number
texts), so a test can compare what either way stores.

  GET /v2/stocks/bars?symbols=A,B,...      Alpaca multi-symbol bars (1Min):
                                           {"bars": {"A": [...], ...}, "next_page_token": ...}
  GET /v2/stocks/trades?symbols=A,B,...    Alpaca multi-symbol trades:
                                           {"trades": {"A": [...], ...}, "next_page_token": ...}
      limit counts over all symbols (symbols in sorted order, each in time
      order); a cut answer carries a next_page_token, and page_token=
      resumes there.  Symbols without data are left out, as Alpaca does.
  GET /v2/aggs/grouped/locale/us/market/stocks/{YYYY-MM-DD}
                                           Polygon grouped daily bars: every
      symbol with minute bars that UTC day, aggregated (o first, h max,
      l min, c last, v and n summed); "t" at 16:00 New York, as Polygon's.
  GET /v2/aggs/ticker/{t}/range/1/day/{from}/{to}
                                           Polygon daily aggregates of one
      symbol, the same days and values; "t" at 00:00 New York, as Polygon's.

Faults (/_fault with "path") work as for the other endpoints (fake_provider
applies them before routing); "truncate" and "ratelimit_exhausted" act on
these answers too.  A fault's "symbol" matches the symbol= parameter only,
so a fault for these endpoints names the path alone.  Every request is
logged in /_requests by send_body.
"""

import base64
import bisect
import datetime
import decimal
import json
import re
import socket
import time
from zoneinfo import ZoneInfo

DAY_MS = 86400000
NEW_YORK = ZoneInfo("America/New_York")


def serve(handler, fp, path, q, fault):
    """Answer the request if it is one of these endpoints; False otherwise."""
    if path == "/v2/stocks/bars" and "symbols" in q:
        alpaca_bars(handler, fp, q, fault)
        return True
    if path == "/v2/stocks/trades" and "symbols" in q:
        alpaca_trades(handler, fp, q, fault)
        return True
    m = re.match(r"^/v2/aggs/grouped/locale/us/market/stocks/([0-9]{4}-[0-9]{2}-[0-9]{2})$", path)
    if m:
        polygon_grouped(handler, fp, m.group(1), fault)
        return True
    m = re.match(r"^/v2/aggs/ticker/([^/]+)/range/1/day/([0-9]+)/([0-9]+)$", path)
    if m:
        polygon_days(handler, fp, m.group(1), int(m.group(2)), int(m.group(3)), fault)
        return True
    return False


def klines(fp, symbol):
    """The symbol's minute rows and their times, as the single endpoints read them.

    The market mode (synthetic data for any symbol) materialises a symbol into
    KLINES/TIMES on its first request: hook its function in here."""
    return fp.KLINES.get(symbol, []), fp.TIMES.get(symbol, [])


def send(handler, body, fault, headers=None):
    """A 200 answer, cut in half when the fault says truncate."""
    headers = dict(headers or {})
    if fault and fault.get("kind") == "ratelimit_exhausted":
        headers.update({"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(int(time.time()) + fault.get("reset_in", 2))})
    if fault and fault.get("kind") == "truncate":
        data = body.encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[: len(data) // 2])
        handler.log(200)
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)
        return
    handler.send_body(200, body, headers)


def alpaca_authorized(handler, fp):
    key = handler.headers.get("APCA-API-KEY-ID")
    if not key or not handler.headers.get("APCA-API-SECRET-KEY") or \
            (fp.REQUIRED_KEY and key != fp.REQUIRED_KEY):
        handler.send_body(401, json.dumps({"message": "forbidden."}))
        return False
    return True


def page_token(symbol, at):
    return base64.b64encode(("%s|%d" % (symbol, at)).encode()).decode()


def read_token(q):
    """(symbol, position) of page_token=, (None, None) without one; ValueError when it is no token."""
    if "page_token" not in q:
        return None, None
    symbol, at = base64.b64decode(q["page_token"][0], validate=True).decode().split("|")
    return symbol, int(at)


def multi_page(q, symbols, rows_of, limit):
    """[(symbol, rows)] of one page over the sorted symbols and the next token (or None).

    rows_of(symbol) gives [(position, row)] in time order; a token is the
    symbol and position of the first row not served."""
    tsym, tat = read_token(q)
    out, left = [], limit
    for symbol in symbols:
        if tsym is not None and symbol < tsym:
            continue
        rows = [(at, r) for at, r in rows_of(symbol) if tsym is None or symbol > tsym or at >= tat]
        if not rows:
            continue
        if left == 0 or len(rows) > left:
            if left > 0:
                out.append((symbol, [r for _, r in rows[:left]]))
            return out, page_token(symbol, rows[left][0])
        out.append((symbol, [r for _, r in rows]))
        left -= len(rows)
    return out, None


def symbols_of(q):
    return sorted(set(s for s in q["symbols"][0].split(",") if s))


def alpaca_bars(handler, fp, q, fault):
    if not alpaca_authorized(handler, fp):
        return
    if q.get("timeframe", [""])[0] != "1Min":
        return handler.send_body(422, json.dumps({"code": 42210000, "message": "invalid timeframe"}))
    try:
        start = handler.parse_rfc3339(q["start"][0])
        end = handler.parse_rfc3339(q["end"][0])
        limit = min(int(q.get("limit", ["1000"])[0]), 10000)

        def rows_of(symbol):
            rows, times = klines(fp, symbol)
            lo, hi = bisect.bisect_left(times, start), bisect.bisect_right(times, end)
            return [(r[0], r) for r in rows[lo:hi]]
        page, token = multi_page(q, symbols_of(q), rows_of, limit)
    except (KeyError, ValueError, TypeError):
        return handler.send_body(400, json.dumps({"code": 40010001, "message": "invalid request"}))
    # the single endpoint's text for each bar (fake_provider.alpaca_bars)
    body = ",".join('"%s":[%s]' % (symbol, ",".join(
        '{"t":"%s","o":%s,"h":%s,"l":%s,"c":%s,"v":%s,"n":%d}' %
        (handler.rfc3339(r[0]), r[1], r[2], r[3], r[4], r[5], r[8]) for r in rows)) for symbol, rows in page)
    send(handler, '{"bars":{%s},"next_page_token":%s}' % (body, json.dumps(token)), fault)


def alpaca_trades(handler, fp, q, fault):
    if not alpaca_authorized(handler, fp):
        return
    try:
        start = fp.parse_time(q["start"][0])
        end = fp.parse_time(q["end"][0]) + 1
        limit = min(int(q.get("limit", ["1000"])[0]), 10000)

        def rows_of(symbol):
            times = fp.STOCK_TIMES.get(symbol, [])
            lo, hi = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
            return [(lo + k, t) for k, t in enumerate(fp.STOCK_TRADES.get(symbol, [])[lo:hi])]
        page, token = multi_page(q, symbols_of(q), rows_of, limit)
    except (KeyError, ValueError, TypeError):
        return handler.send_body(400, json.dumps({"code": 40010001, "message": "invalid request"}))
    # the single endpoint's text for each trade (fake_provider.alpaca_trades)
    body = ",".join('"%s":[%s]' % (symbol, ",".join(
        '{"t":"%s.%03d000000Z","x":"%s","p":%s,"s":%s,"c":["@"],"i":%d,"z":"A"}' % (
            datetime.datetime.fromtimestamp(t[0] // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            t[0] % 1000, t[2], t[3], t[4], t[1]) for t in rows)) for symbol, rows in page)
    send(handler, '{"trades":{%s},"next_page_token":%s}' % (body, json.dumps(token)), fault)


def polygon_authorized(handler, fp):
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or (fp.REQUIRED_KEY and auth[7:] != fp.REQUIRED_KEY):
        handler.send_body(401, json.dumps({"status": "NOT_AUTHORIZED", "message": "Unknown API Key"}))
        return False
    return True


def day_bar(fp, symbol, day_ms):
    """The symbol's minute bars of the UTC day as one daily bar's fields, or None."""
    rows, times = klines(fp, symbol)
    lo, hi = bisect.bisect_left(times, day_ms), bisect.bisect_left(times, day_ms + DAY_MS)
    if lo >= hi:
        return None
    day = rows[lo:hi]
    high = max((r[2] for r in day), key=decimal.Decimal)
    low = min((r[3] for r in day), key=decimal.Decimal)
    volume = sum((decimal.Decimal(r[5]) for r in day), decimal.Decimal(0))
    return '"v":%s,"o":%s,"c":%s,"h":%s,"l":%s,"n":%d' % (
        volume, day[0][1], day[-1][4], high, low, sum(int(r[8]) for r in day))


def new_york_ms(day_ms, hour):
    d = datetime.datetime.fromtimestamp(day_ms / 1000, datetime.timezone.utc)
    return int(datetime.datetime(d.year, d.month, d.day, hour, tzinfo=NEW_YORK).timestamp() * 1000)


def polygon_grouped(handler, fp, date, fault):
    if not polygon_authorized(handler, fp):
        return
    day = int(datetime.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    t = new_york_ms(day, 16)
    results = []
    for symbol in sorted(fp.KLINES):
        fields = day_bar(fp, symbol, day)
        if fields is not None:
            results.append('{"T":"%s",%s,"t":%d}' % (symbol, fields, t))
    body = '{"queryCount":%d,"resultsCount":%d,"adjusted":false' % (len(results), len(results))
    if results:
        body += ',"results":[%s]' % ",".join(results)
    send(handler, body + ',"status":"OK","request_id":"fake"}', fault)


def polygon_days(handler, fp, symbol, start, end, fault):
    if not polygon_authorized(handler, fp):
        return
    results = []
    rows, _ = klines(fp, symbol)
    if rows:
        first = rows[0][0] - rows[0][0] % DAY_MS
        for day in range(max(first, start - start % DAY_MS), min(rows[-1][0], end) + 1, DAY_MS):
            t = new_york_ms(day, 0)
            fields = day_bar(fp, symbol, day)
            if fields is not None and start <= t <= end:
                results.append('{%s,"t":%d}' % (fields, t))
    body = '{"ticker":"%s","queryCount":%d,"resultsCount":%d,"adjusted":false,"status":"OK"' % (
        symbol, len(results), len(results))
    if results:
        body += ',"results":[%s]' % ",".join(results)
    send(handler, body + "}", fault)
