#!/usr/bin/python3
"""Build the seed corpus of the fuzz targets: test/fuzz/corpus/<target>/.

Seeds are real bodies and messages, each behind the FUZZ_HEADER_LEN (10) choice
bytes that fuzz_common.h reads (what the body is, the query, the stream
series), set so the seed parses the way it was meant:

  - every body and stream message in test/unit/test_providers.c;
  - what the fake provider (test/fake_provider/fake_provider.py) answers
    from the sample data in test/data/, and its broken answers (faults);
  - the stream messages test/fake_provider/fake_stream.py sends;
  - the sample files of test/data/ as CSV files, the freqtrade trades as
    JSON;
  - decimals, times and records for the targets of those.

Run it again when those sources change: `python3 test/fuzz/make_corpus.py`.
It rewrites the seed directories and leaves the crash inputs alone.
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")
MAX_BODY = 16384        # seeds stay small: the fuzzer cuts and grows them

# h[0] mode: 0 bars, 1 trades, 2 stream
BARS, TRADES, STREAM = 0, 1, 2
# h[3]: window start index (low 3 bits) and span index (next 3): 0/0 is all time
ALL_TIME = 0
# h[5]: 1 + (h5 & 3) series, bit 2+i: series i is trades; h[6]: symbol of series i
# The unit tests' stream set: symbols 0, 1, 0; trades, trades, 1-minute bars.
TEST_SET = (2 | (1 << 2) | (1 << 3), 0b000100)


def header(mode, interval=0, size=0x80, window=ALL_TIME, idfeed=0, series=TEST_SET, creds=0x05):
    """The choice bytes: interval index 0 is 1 minute, size 0x80 a 256-record page;
    h[8] = 0: no value retyped."""
    return bytes([mode, interval, size, window, idfeed, series[0], series[1], creds, 0, 0])


seeds = {}


JSON_TARGETS = ("fuzz_binance", "fuzz_alpaca", "fuzz_polygon", "fuzz_coinbase")


def add(target, head, body):
    """A seed; a JSON one also with one value retyped (h[8], h[9]): null at
    one place and another type at another, picked from the seed's hash, so
    the fuzzer starts from hostile shapes of every message, not only from
    the good ones (a header byte it rarely mutates)."""
    if isinstance(body, str):
        body = body.encode()
    data = head + body[:MAX_BODY]
    digest = hashlib.sha1(data).digest()
    seeds.setdefault(target, {})[digest.hex()[:16]] = data
    if target in JSON_TARGETS and head[8] == 0:
        add(target, head[:8] + bytes([1, digest[0] % 24]), body)
        add(target, head[:8] + bytes([2 + digest[1] % 7, digest[2] % 24]), body)


def c_strings(text):
    """The value of adjacent C string literals at the start of text, and the rest."""
    out = []
    i = 0
    while True:
        m = re.match(r'\s*(?:/\*.*?\*/\s*)?"', text[i:], re.S)
        if not m:
            break
        i += m.end()
        s = []
        while text[i] != '"':
            if text[i] == "\\":
                nxt = text[i + 1]
                s.append({"n": "\n", "r": "\r", "t": "\t", "0": "\0"}.get(nxt, nxt))
                i += 2
            else:
                s.append(text[i])
                i += 1
        i += 1
        out.append("".join(s))
    return ("".join(out) if out else None), text[i:]


def from_unit_tests():
    src = open(os.path.join(ROOT, "test/unit/test_providers.c")).read()
    funcs = re.split(r"\n(?=static void\ntest_|int\nmain)", src)
    for f in funcs:
        m = re.match(r"static void\ntest_(\w+)", f)
        if not m:
            continue
        name = m.group(1)
        prov = next((p for p in ("binance", "alpaca", "polygon", "coinbase", "csv") if name.startswith(p)), None)
        if prov is None:
            continue
        target = "fuzz_" + prov
        # parse(p, "...", &q, capacity, trades)
        for m in re.finditer(r"\bparse\(p,", f):
            body, rest = c_strings(f[m.end():])
            if body is None:
                continue
            a = re.match(r"\s*,\s*&q\s*,\s*(\d+)\s*,\s*(\d)", rest)
            cap, trades = (int(a.group(1)), int(a.group(2))) if a else (3, 0)
            add(target, header(TRADES if trades else BARS, size=cap - 1), body)
            add(target, header(TRADES if trades else BARS), body)
        for m in re.finditer(r"p->parse_(trades|stream)\(MSG\(", f):
            body, _ = c_strings(f[m.end():])
            if body is None:
                continue
            if m.group(1) == "trades":
                add(target, header(TRADES, idfeed=1 << 3), body)     # feed "trade"
                add(target, header(TRADES), body)
            else:
                add(target, header(STREAM), body)
                add(target, header(STREAM, idfeed=1 << 3), body)


def fetch(base, path, fault=None):
    if fault:
        req = urllib.request.Request(base + "/_fault", data=json.dumps(fault).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()
    req = urllib.request.Request(base + path, headers={
        "APCA-API-KEY-ID": "K", "APCA-API-SECRET-KEY": "S", "Authorization": "Bearer K"})
    try:
        return urllib.request.urlopen(req, timeout=10).read()
    except urllib.error.HTTPError as e:
        return e.read()
    except Exception:
        return None


def from_fake_provider():
    tmp = tempfile.mkdtemp()
    port_file = os.path.join(tmp, "port")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "test/fake_provider/fake_provider.py"),
                             "--port-file", port_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        base = "http://127.0.0.1:%s" % open(port_file).read().strip()
        day, nxt = 1637971200000, 1637971200000 + 3600000
        t0, t1 = 1570752000000, 1570752000000 + 3600000
        rest = [
            ("fuzz_binance", BARS, "/api/v3/klines?symbol=ADABTC&interval=1m&startTime=%d&endTime=%d&limit=20" % (day, nxt)),
            ("fuzz_binance", BARS, "/api/v3/klines?symbol=NOPE&interval=1m&startTime=%d&endTime=%d&limit=20" % (day, nxt)),
            ("fuzz_binance", TRADES, "/api/v3/aggTrades?symbol=XRPETH&startTime=%d&endTime=%d&limit=20" % (t0, t1)),
            ("fuzz_binance", TRADES, "/api/v3/trades?symbol=XRPETH&limit=20"),
            ("fuzz_alpaca", BARS, "/v2/stocks/ADABTC/bars?timeframe=1Min&start=2021-11-27T00:00:00Z&end=2021-11-27T00:20:00Z&limit=20"),
            ("fuzz_alpaca", BARS, "/v2/stocks/ADABTC/bars?timeframe=5Min&start=2021-11-27T00:00:00Z&end=2021-11-27T00:20:00Z"),
            ("fuzz_alpaca", TRADES, "/v2/stocks/AIG/trades?start=2013-10-08T13:30:00Z&end=2013-10-08T14:00:00Z&limit=20"),
            ("fuzz_polygon", BARS, "/v2/aggs/ticker/ADABTC/range/1/minute/%d/%d?limit=20" % (day, nxt)),
            ("fuzz_polygon", TRADES, "/v3/trades/AIG?timestamp.gte=1381239000000000000&timestamp.lt=1381240800000000000&limit=20"),
            ("fuzz_coinbase", BARS, "/products/ADA-BTC/candles?granularity=60&start=2021-11-27T00:00:00Z&end=2021-11-27T00:20:00Z"),
            ("fuzz_coinbase", TRADES, "/products/XRP-ETH/trades?limit=20"),
            ("fuzz_csv", BARS, "/files/ADABTC-1m-2021-11-27.csv"),
            ("fuzz_csv", TRADES, "/files/XRPETH-trades-2019-10-11.csv"),
        ]
        faults = [None, {"kind": "malformed"}, {"kind": "truncate"}, {"kind": "invalid_ohlc"},
                  {"kind": "bad_rows"}, {"kind": "429", "retry_after": 1}]
        for target, mode, path in rest:
            for fault in faults:
                if fault:
                    fault = dict(fault, count=1, path=path.split("?")[0])
                body = fetch(base, path, fault)
                if body:
                    add(target, header(mode, size=19), body)
                    add(target, header(mode), body)
                req = urllib.request.Request(base + "/_reset", data=b"", method="POST")
                urllib.request.urlopen(req, timeout=10).read()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def from_fake_stream():
    """The messages fake_stream.py sends, rendered as it renders them."""
    T = 1570752011620
    rfc = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(T // 1000)) + ".%03d000000Z" % (T % 1000)
    alpaca = [
        '[{"T":"success","msg":"connected"}]',
        '[{"T":"success","msg":"authenticated"}]',
        '[{"T":"error","code":402,"msg":"auth failed"}]',
        json.dumps([{"T": "subscription", "trades": ["AAPL", "MSFT"], "quotes": [], "bars": []}]),
        '[' + ",".join('{"T":"t","S":"%s","i":%d,"x":"V","p":%s,"s":%s,"t":"%s","c":["@"],"z":"C"}' % (
            s, 13519807 + i, "0.00141342", "23.0", rfc) for i, s in enumerate(["AAPL", "MSFT", "AAPL"])) + ']',
    ]
    polygon = [
        '[{"ev":"status","status":"connected","message":"Connected Successfully"}]',
        '[{"ev":"status","status":"auth_failed","message":"authentication failed"}]',
        '[{"ev":"status","status":"auth_success","message":"authenticated"}]',
        json.dumps([{"ev": "status", "status": "success", "message": "subscribed to: T.AAPL"}]),
        '[' + ",".join('{"ev":"T","sym":"%s","x":%d,"i":"%d","z":3,"p":%s,"s":%s,"c":[12],"t":%d,"q":%d}' % (
            s, ord("V"), 13519807 + i, "0.00141342", "23.0", T, 13519807 + i)
            for i, s in enumerate(["AAPL", "MSFT"])) + ']',
    ]
    coinbase = [
        json.dumps({"type": "error", "message": "Failed to subscribe", "reason": "FOO-USD is not a valid product"}),
        json.dumps({"type": "subscriptions", "channels": [{"name": ch, "product_ids": ["BTC-USD", "ETH-USD"]}
                                                          for ch in ("matches", "heartbeat")]}),
        '{"type":"match","trade_id":%d,"sequence":%d,"maker_order_id":"m","taker_order_id":"t","time":"%s",'
        '"product_id":"%s","size":"%s","price":"%s","side":"%s"}' % (13519807, 1, rfc, "BTC-USD", "23.0",
                                                                     "0.00141342", "buy"),
        json.dumps({"type": "heartbeat", "sequence": 1, "product_id": "ETH-USD", "time": rfc}),
    ]
    binance = [
        json.dumps({"e": "aggTrade", "E": T, "s": "BTCUSDT", "a": 1, "p": "0.00141342", "q": "23.0",
                    "f": 1, "l": 1, "T": T, "m": True, "M": True}, separators=(",", ":")),
        json.dumps({"stream": "ethusdt@aggTrade", "data": {"e": "aggTrade", "E": T, "s": "ETHUSDT", "a": 2,
                    "p": "0.1", "q": "1", "T": T, "m": False}}, separators=(",", ":")),
        json.dumps({"stream": "btcusdt@kline_1m", "data": {"e": "kline", "E": T, "s": "BTCUSDT", "k": {
            "t": 1637971200000, "T": 1637971259999, "s": "BTCUSDT", "i": "1m", "o": "1", "c": "1.5", "h": "2",
            "l": "0.5", "v": "10", "n": 3, "x": True}}}, separators=(",", ":")),
    ]
    for target, msgs in (("fuzz_alpaca", alpaca), ("fuzz_polygon", polygon), ("fuzz_coinbase", coinbase),
                         ("fuzz_binance", binance)):
        for m in msgs:
            add(target, header(STREAM), m)
        add(target, header(STREAM), "\0".join(msgs))      # a connection's messages in order


def from_data_files():
    data = os.path.join(ROOT, "test/data")
    for name in sorted(os.listdir(data)):
        path = os.path.join(data, name)
        if name.endswith(".csv"):
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")[:40]
            add("fuzz_csv", header(BARS), b"\n".join(lines))
            add("fuzz_csv", header(TRADES), b"\n".join(lines))
        elif name.endswith(".json.gz"):
            with gzip.open(path, "rb") as f:
                rows = json.loads(f.read())[:30]
            add("fuzz_binance", header(TRADES), json.dumps(rows))
            # the same trades as Binance's REST answers and a trade file
            add("fuzz_binance", header(TRADES), json.dumps([
                {"a": int(r[1]), "p": repr(r[4]), "q": repr(r[5]), "T": r[0], "m": r[3] == "sell"}
                for r in rows], separators=(",", ":")))
            add("fuzz_csv", header(TRADES), "\n".join(
                "%s,%r,%r,%r,%d,%s,True" % (r[1], r[4], r[5], r[6], r[0], r[3] == "sell") for r in rows))


def small_targets():
    for d in ("0.00002853", "-12.5", "17205", "+1.0", "1.5e-7", "1e5", "-2.5E+3", "12.345e1", "1e99",
              "-0.000", "0010.1", "NaN", "1.2.3", ".", "123456789012345678901234567890123456789012345678901234567890"):
        for other in ("1.5", "-3", "0.10", "10"):
            add("fuzz_decimal", bytes([47, 0, 0, 0, 0, 0, 0, 0, 0, 0]), d + "\0" + other)
    for t in ("2021-02-01T16:01:00Z", "2021-02-06T13:04:56.334320128Z", "2021-02-01T18:01:00+02:00",
              "2021-02-01T11:01:00-05:00", "2021-13-01T00:00:00Z", "2021-02-30T00:00:00Z", "0001-01-01T00:00:00Z",
              "9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59Z", "2014-11-07T08:19:27.028459Z"):
        add("fuzz_time", (1637971200123).to_bytes(8, "little", signed=True) + bytes(2), t)    # a time to format
    ts = (1637971200000).to_bytes(8, "little", signed=True)
    for fields in ("2,3,1,2.5,10,", "2,0.5,1,2.5,10,", "2,3,-1,2,10,", "2,3,1,2.5,x,", "2,3,1,2.5,10,y",
                   "1.5e-7,3,1,2,10,2"):
        add("fuzz_validate", header(0), fields.encode() + b"\0" + ts)
    for fields in ("1,1.5,2", ",1.5,2", "1,p,2", "1,-1,2", "1,1.5,-2"):
        add("fuzz_validate", header(1), fields.encode() + b"\0" + ts)


def main():
    from_unit_tests()
    from_fake_provider()
    from_fake_stream()
    from_data_files()
    small_targets()
    for target, files in sorted(seeds.items()):
        d = os.path.join(OUT, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (target, len(files)))


if __name__ == "__main__":
    main()
