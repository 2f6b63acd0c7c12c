"""WebSocket side of the fake provider (RFC 6455, server end).

Live trades: live_trades(symbol, rate) starts a thread that appends Binance
aggTrades stamped with the current time to the fake's trade list, `rate` a
second, so REST (/api/v3/aggTrades) and the stream serve the same trades
with the same ids, as Binance does.  At each minute's end it also closes
that minute's 1-minute kline from those trades: served by /api/v3/klines
and, on <symbol>@kline_1m streams, as its last open update then closed.  Prices and sizes cycle through a real
sample (the XRPETH trades) when loaded, else a seeded walk.

Alpaca: GET /v2/<feed> speaks Alpaca's stream: "connected", then the
client's auth (checked against --require-key when given) and subscribe
messages, then arrays of {"T": "t", ...} trades of the live symbols; the
same trades are served by /v2/stocks/<symbol>/trades over REST.

Polygon: GET /stocks speaks Polygon's stream (status events, auth with
the key, subscribe "T.<symbol>", arrays of {"ev": "T", ...} trades whose
ids match /v3/trades).  Coinbase: GET / speaks the Exchange feed
(subscribe to matches and heartbeat; "match" messages with the trade ids
of /products/<id>/trades).

Streams: GET /ws/<symbol>@aggTrade (one symbol) and
/stream?streams=<a>@aggTrade/<b>@aggTrade (combined, each message wrapped
in {"stream": ..., "data": ...}); @trade streams raw trades (one per
aggTrade here, with its id as "t").  A connection gets every trade made after
it was accepted.  Each message's "E" is the time the fake sent it (ms), and
"_sent_us" the same in microseconds (for latency measurements).

Faults (POST /_fault with "path": "/ws"): {"kind": "close", "after": N}
drops the TCP connection without a close frame after N messages;
"malformed" sends one frame that is not JSON after N messages; "stall"
sends nothing for "delay_ms"; "ping" sends a ping the client must answer.  Frames queued by the hostile
mode (fake_hostile.py) go out between two batches of trades.
"""
import base64
import hashlib
import json
import os
import select
import socket
import struct
import threading
import time

import fake_hostile

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def live_trades(state, symbol, rate):
    """Append `rate` trades a second to state.TRADES[symbol], stamped now."""
    trades = state.TRADES.setdefault(symbol, [])
    times = state.TRADE_TIMES.setdefault(symbol, [])
    stock = state.STOCK_TRADES.setdefault(symbol, [])
    stock_times = state.STOCK_TIMES.setdefault(symbol, [])
    # its 1-minute klines, one per closed minute (REST /api/v3/klines and @kline_1m)
    for table in (state.KLINES, state.TIMES, state.JSON_ROWS):
        table.setdefault(symbol, [])
    sample = next(iter(v for k, v in sorted(state.TRADES.items()) if k != symbol and v), None)
    seq = {"id": 1, "i": 0}

    def make(now_ms):
        if sample:
            s = sample[seq["i"] % len(sample)]
            price, qty = s["p"], s["q"]
        else:
            price, qty = "%.2f" % (100 + (seq["i"] % 997) / 100.0), "1.5"
        t = {"a": seq["id"], "p": price, "q": qty, "f": seq["id"], "l": seq["id"],
             "T": now_ms, "m": seq["i"] % 3 == 0, "M": True}
        seq["id"] += 1
        seq["i"] += 1
        return t

    def run():
        start = time.time()
        made = 0
        minute = int(start * 1000) // 60000 * 60000
        kline_from = 0
        while True:
            # a minute has closed: its kline, from the trades made in it
            now_minute = int(time.time() * 1000) // 60000 * 60000
            if now_minute > minute:
                with state.NEW_TRADES:
                    with state.LOCK:
                        kline_from = close_minute(state, symbol, trades, kline_from, minute)
                    state.NEW_TRADES.notify_all()
                minute = now_minute
            due = int((time.time() - start) * rate)
            if due > made:
                now_ms = int(time.time() * 1000)
                batch = [make(now_ms) for _ in range(due - made)]
                # appended under the condition's lock: a stream thread that
                # found nothing new either sees these or is woken for them
                with state.NEW_TRADES:
                    with state.LOCK:
                        trades.extend(batch)
                        times.extend(t["T"] for t in batch)
                        # the same trades for Alpaca's REST: (ms, id, exchange, price, size)
                        stock.extend((t["T"], t["a"], "V", t["p"], t["q"]) for t in batch)
                        stock_times.extend(t["T"] for t in batch)
                    state.NEW_TRADES.notify_all()
                made = due
            time.sleep(0.001 if rate > 1000 else 0.005)

    threading.Thread(target=run, daemon=True).start()


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def read_client_messages(buf):
    """Parse masked client frames from buf (bytearray): [(opcode, payload)]."""
    seen = []
    while len(buf) >= 2:
        b1, b2 = buf[0], buf[1]
        n = b2 & 0x7F
        off = 2
        if n == 126:
            if len(buf) < 4:
                break
            n = struct.unpack("!H", bytes(buf[2:4]))[0]
            off = 4
        elif n == 127:
            if len(buf) < 10:
                break
            n = struct.unpack("!Q", bytes(buf[2:10]))[0]
            off = 10
        mask = bytes(buf[off:off + 4]) if b2 & 0x80 else b"\0\0\0\0"
        off += 4 if b2 & 0x80 else 0
        if len(buf) < off + n:
            break
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[off:off + n]))
        seen.append((b1 & 0x0F, payload))
        del buf[:off + n]
    return seen


def read_client_frames(sock, buf):
    """Parse masked client frames from buf (bytearray); returns opcodes seen."""
    return [op for op, _ in read_client_messages(buf)]


def accept_upgrade(handler):
    """Answer the WebSocket opening handshake; returns the raw socket."""
    key = handler.headers.get("Sec-WebSocket-Key", "")
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    handler.close_connection = True
    sock = handler.connection
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
    return sock


def new_trades(state, symbols, pos):
    """The trades made since pos (advanced), as [(symbol, trade)]; waits a
    little when there are none, so a caller can loop on it."""
    out = []
    with state.LOCK:
        for sym in symbols:
            new = state.TRADES[sym][pos[sym]:]
            pos[sym] += len(new)
            out.extend((sym, t) for t in new)
    if not out:
        with state.NEW_TRADES:
            if all(len(state.TRADES[sym]) == pos[sym] for sym in symbols):
                state.NEW_TRADES.wait(0.05)
    return out


def rfc3339(ms):
    return "%s.%03d000000Z" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)), ms % 1000)


def auth_then_subscribe(sock, state, key_of, refused, authed, symbols_of):
    """Alpaca's and Polygon's opening: an auth message (its key, key_of(m),
    checked against --require-key: refused is sent and the connection
    closed when it is wrong), then a subscribe (symbols_of(m) the symbols
    asked for).  Returns the symbols the fake has, None when the client left."""
    inbuf = bytearray()
    ok = False
    while True:
        msgs = client_messages(sock, inbuf)
        if msgs is None:
            return None
        for m in msgs:
            if m.get("action") == "auth":
                if state.REQUIRED_KEY is not None and key_of(m) != state.REQUIRED_KEY:
                    send_all(sock, frame(1, refused))
                    send_all(sock, frame(8, struct.pack("!H", 1008)))
                    return None
                ok = True
                send_all(sock, frame(1, authed))
            elif ok and m.get("action") == "subscribe":
                symbols = [x for x in symbols_of(m) if x in state.TRADES]
                if symbols:
                    return symbols


def serve_alpaca(handler, state):
    """Alpaca's stream: connected, auth, subscribe, then arrays of trades."""
    sock = accept_upgrade(handler)
    send_all(sock, frame(1, b'[{"T":"success","msg":"connected"}]'))
    symbols = auth_then_subscribe(sock, state, lambda m: m.get("key"),
                                  b'[{"T":"error","code":402,"msg":"auth failed"}]',
                                  b'[{"T":"success","msg":"authenticated"}]', lambda m: m.get("trades", []))
    if symbols is None:
        return

    def encode(out):
        chunk = []
        for i in range(0, len(out), 100):
            msgs = ['{"T":"t","S":"%s","i":%d,"x":"V","p":%s,"s":%s,"t":"%s","c":["@"],"z":"C"}' % (
                sym, t["a"], t["p"], t["q"], rfc3339(t["T"])) for sym, t in out[i:i + 100]]
            chunk.append(frame(1, ("[" + ",".join(msgs) + "]").encode()))
        return chunk
    tail(sock, state, symbols, encode, frame(1, json.dumps([{"T": "subscription", "trades": symbols, "quotes": [],
                                                             "bars": []}]).encode()), "alpaca stream", "alpaca")


def tail(sock, state, symbols, encode, confirm=b"", label="stream", hostile=None):
    """Send confirm, then every trade of symbols made from then on,
    encode([(sym, t)]) -> frames, and the frames fake_hostile has queued for
    this kind of stream (hostile) and one of its symbols.  Where the stream starts is fixed before
    the confirmation goes out: a client that asks REST once it has the
    confirmation finds every trade in one or the other."""
    with state.LOCK:
        pos = {sym: len(state.TRADES[sym]) for sym in symbols}
        state.REQUESTS.append({"path": "(%s) %s" % (label, ",".join(symbols)), "t0": time.time(), "t": time.time(),
                               "headers": {}, "ws": True})
    send_all(sock, confirm)
    sock.setblocking(False)
    try:
        while True:
            inj = fake_hostile.take_stream(hostile, symbols)
            if inj and fake_hostile.send_stream(sock, inj):
                return
            out = new_trades(state, symbols, pos)
            send_all(sock, b"".join(encode(out)))
    except (BrokenPipeError, ConnectionResetError, OSError):
        return


def client_messages(sock, inbuf):
    """Wait for the client's next text messages (decoded JSON); None when it closed."""
    while True:
        data = sock.recv(65536)
        if not data:
            return None
        inbuf.extend(data)
        seen = read_client_messages(inbuf)
        if any(op == 8 for op, _ in seen):
            return None
        msgs = [json.loads(payload) for op, payload in seen if op == 1]
        if msgs:
            return msgs


def serve_polygon(handler, state):
    """Polygon's stream: connected, auth with the key, subscribe T.<sym>, arrays of events."""
    sock = accept_upgrade(handler)
    send_all(sock, frame(1, b'[{"ev":"status","status":"connected","message":"Connected Successfully"}]'))
    symbols = auth_then_subscribe(
        sock, state, lambda m: m.get("params"),
        b'[{"ev":"status","status":"auth_failed","message":"authentication failed"}]',
        b'[{"ev":"status","status":"auth_success","message":"authenticated"}]',
        lambda m: [ch[2:] for ch in m.get("params", "").split(",") if ch.startswith("T.")])
    if symbols is None:
        return

    def encode(out):
        chunk = []
        for i in range(0, len(out), 100):
            msgs = ['{"ev":"T","sym":"%s","x":%d,"i":"%d","z":3,"p":%s,"s":%s,"c":[12],"t":%d,"q":%d}' % (
                sym, ord("V"), t["a"], t["p"], t["q"], t["T"], t["a"]) for sym, t in out[i:i + 100]]
            chunk.append(frame(1, ("[" + ",".join(msgs) + "]").encode()))
        return chunk
    tail(sock, state, symbols, encode, b"".join(
        frame(1, json.dumps([{"ev": "status", "status": "success", "message": "subscribed to: T." + sym}]).encode())
        for sym in symbols), "polygon stream", "polygon")


def coinbase_product(state, product):
    """BTC-USD -> BTCUSD, the fake's symbol, when it has trades of it."""
    sym = product.replace("-", "")
    return sym if sym in state.TRADES else None


def serve_coinbase(handler, state):
    """Coinbase's feed: subscribe to matches and heartbeat, then match messages."""
    sock = accept_upgrade(handler)
    inbuf = bytearray()
    msgs = client_messages(sock, inbuf)
    if not msgs or msgs[0].get("type") != "subscribe":
        return
    products = msgs[0].get("product_ids", [])
    unknown = [p for p in products if coinbase_product(state, p) is None]
    if unknown:
        send_all(sock, frame(1, json.dumps({"type": "error", "message": "Failed to subscribe",
                                            "reason": "%s is not a valid product" % unknown[0]}).encode()))
        return
    symbols = [coinbase_product(state, p) for p in products]
    product_of = dict(zip(symbols, products))
    seq = {"n": 0}

    def encode(out):
        chunk = []
        for sym, t in out:
            seq["n"] += 1
            chunk.append(frame(1, ('{"type":"match","trade_id":%d,"sequence":%d,"maker_order_id":"m",'
                                   '"taker_order_id":"t","time":"%s","product_id":"%s","size":"%s",'
                                   '"price":"%s","side":"%s"}' % (
                                       t["a"], seq["n"], rfc3339(t["T"]), product_of[sym], t["q"], t["p"],
                                       "buy" if t["m"] else "sell")).encode()))
        if not out and "heartbeat" in msgs[0].get("channels", []):
            # the real feed sends one a second; the fake's idle loop is faster
            now = time.time()
            if now - seq.get("hb", 0) >= 1.0:
                seq["hb"] = now
                for sym in symbols:
                    chunk.append(frame(1, json.dumps({"type": "heartbeat", "sequence": seq["n"],
                                                      "product_id": product_of[sym],
                                                      "time": rfc3339(int(now * 1000))}).encode()))
        return chunk
    tail(sock, state, symbols, encode, frame(1, json.dumps({"type": "subscriptions", "channels": [
        {"name": ch, "product_ids": products} for ch in msgs[0].get("channels", [])]}).encode()), "coinbase feed",
         "coinbase")


def serve(handler, state, take_fault):
    """Run one WebSocket connection on the handler's socket until it ends."""
    from urllib.parse import urlparse, parse_qs
    u = urlparse(handler.path)
    if u.path.startswith("/v2/"):
        return serve_alpaca(handler, state)
    if u.path == "/stocks":
        return serve_polygon(handler, state)
    if u.path in ("", "/"):
        return serve_coinbase(handler, state)
    if u.path.startswith("/ws/"):
        streams = [u.path[4:]]
        combined = False
    else:
        streams = parse_qs(u.query).get("streams", [""])[0].split("/")
        combined = True
    symbols = {}                        # trade streams: symbol -> stream name
    kline_streams = {}                  # kline_1m streams: symbol -> stream name
    for s in streams:
        if "@" not in s:
            continue
        sym, kind = s.split("@", 1)
        if kind == "kline_1m" and sym.upper() in state.TRADES:
            kline_streams[sym.upper()] = s
            continue
        if kind not in ("aggTrade", "trade") or sym.upper() not in state.TRADES:
            return handler.binance_error(400, -1121, "Invalid stream %s." % s)
        symbols[sym.upper()] = s
    if not symbols and not kline_streams:
        return handler.binance_error(400, -1121, "No stream given.")
    with state.LOCK:
        pos = {sym: len(state.TRADES[sym]) for sym in symbols}
        kpos = {sym: len(state.KLINES.get(sym, [])) for sym in kline_streams}
        state.REQUESTS.append({"path": u.path, "query": u.query, "t0": time.time(), "t": time.time(),
                               "headers": {}, "ws": True})
    sock = accept_upgrade(handler)
    fault = take_fault("/ws", "")
    sent = 0
    # "after" counts the messages of this connection from when the fault is taken
    inbuf = bytearray()
    sock.setblocking(False)
    try:
        while True:
            # what the client says: close ends the connection
            r, _, _ = select.select([sock], [], [], 0)
            if r:
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    data = b"?"
                if not data:
                    return
                inbuf.extend(data)
                if 8 in read_client_frames(sock, inbuf):
                    send_all(sock, frame(8, struct.pack("!H", 1000)))
                    return
            inj = fake_hostile.take_stream("binance", symbols)
            if inj and fake_hostile.send_stream(sock, inj):
                return
            if kline_streams:
                send_all(sock, b"".join(new_klines(state, kline_streams, kpos, combined)))
            out = new_trades(state, symbols, pos) if symbols else []
            if not symbols:
                time.sleep(0.05)
            if not out:
                continue
            if fault is None:
                fault = take_fault("/ws", "")   # queued while streaming
                if fault:
                    fault["after"] = sent + fault.get("after", 0)
            chunk = []
            for sym, t in out:
                if fault and sent >= fault.get("after", 0):
                    kind = fault.get("kind")
                    if kind == "close":
                        sock.shutdown(socket.SHUT_RDWR)
                        return
                    if kind == "malformed":
                        chunk.append(frame(1, b'{"e": "aggTrade", "a": '))
                    if kind == "stall":
                        send_all(sock, b"".join(chunk))
                        chunk = []
                        time.sleep(float(fault.get("delay_ms", 1000)) / 1000.0)
                    if kind == "ping":
                        chunk.append(frame(9, b"are you there"))
                    fault = None
                now = time.time()
                if symbols[sym].endswith("@trade"):     # a raw trade: its id is "t"
                    msg = {"e": "trade", "E": int(now * 1000), "s": sym, "t": t["a"], "p": t["p"], "q": t["q"],
                           "T": t["T"], "m": t["m"], "M": True}
                else:
                    msg = dict(t, e="aggTrade", E=int(now * 1000), s=sym, _sent_us=int(now * 1e6))
                body = json.dumps({"stream": symbols[sym], "data": msg} if combined else msg,
                                  separators=(",", ":")).encode()
                chunk.append(frame(1, body))
                sent += 1
            send_all(sock, b"".join(chunk))
    except (BrokenPipeError, ConnectionResetError, OSError):
        return


def new_klines(state, streams, kpos, combined):
    """Frames for the minutes closed since kpos (advanced): for each, the
    last update of the still-open kline ("x": false, which a client must not
    store), then the closed one."""
    frames = []
    with state.LOCK:
        for sym, name in streams.items():
            rows = state.KLINES.get(sym, [])
            for r in rows[kpos[sym]:]:
                for closed in (False, True):
                    k = {"t": r[0], "T": r[6], "s": sym, "i": "1m", "o": r[1], "h": r[2], "l": r[3], "c": r[4],
                         "v": r[5], "n": r[8], "x": closed, "q": r[7], "V": "0", "Q": "0", "B": "0"}
                    msg = {"e": "kline", "E": int(time.time() * 1000), "s": sym, "k": k}
                    frames.append(frame(1, json.dumps({"stream": name, "data": msg} if combined else msg,
                                                      separators=(",", ":")).encode()))
            kpos[sym] = len(rows)
    return frames


def close_minute(state, symbol, trades, start, minute):
    """Append the 1-minute kline of [minute, minute + 60 s) made of trades[start:]
    to the fake's klines (REST and kline streams serve it); the index after it."""
    end = start
    while end < len(trades) and trades[end]["T"] < minute + 60000:
        end += 1
    batch = [t for t in trades[start:end] if t["T"] >= minute]
    if batch:
        row = [minute, batch[0]["p"], max((t["p"] for t in batch), key=float), min((t["p"] for t in batch), key=float),
               batch[-1]["p"], repr(sum(float(t["q"]) for t in batch)), minute + 59999,
               repr(sum(float(t["p"]) * float(t["q"]) for t in batch)), len(batch), "0", "0", "0"]
        state.KLINES[symbol].append(row)
        state.TIMES[symbol].append(minute)
        state.JSON_ROWS[symbol].append(json.dumps(row, separators=(",", ":")))
    return end


def send_all(sock, data):
    view = memoryview(data)
    while view:
        try:
            n = sock.send(view)
            view = view[n:]
        except BlockingIOError:
            select.select([], [sock], [], 1.0)
