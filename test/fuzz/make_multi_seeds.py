#!/usr/bin/python3
"""Seeds of the multi-symbol fuzz targets: test/fuzz/corpus/fuzz_multi_alpaca/
and fuzz_multi_polygon/ (fuzz_multi.h says what the 10 header bytes pick).

Answers in the shapes Alpaca and Polygon document (and the fake provider,
test/fake_provider/fake_multi.py, serves), good and broken, each behind
headers that make them parse as meant: 1 to 4 series of AAPL, MSFT, AIG,
some a minute or a day off the others.  Run it again when the shapes
change: `python3 test/fuzz/make_multi_seeds.py`.
"""

import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1637971200000          # 2021-11-27, the window fuzz_common.h's h[3] = 0x1C picks


def header(trades=False, day=False, nseries=3, picks=0x24, limit=0x80, shifts=0, case=0):
    return bytes([1 if trades else 0, 5 if day else 0, limit, 0x1C, 0,
                  (nseries - 1) | case, picks, 0x05 | shifts, 0, 0])


def rfc3339(ms, frac=""):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def alpaca_bars(symbols, n, token=None):
    out = {}
    for k, s in enumerate(symbols):
        out[s] = [{"t": rfc3339(T0 + i * 60000), "o": 10 + k, "h": 11.5 + k, "l": 9.25 + k, "c": 10.5 + k,
                   "v": 100 * (i + 1), "n": i + 1, "vw": 10.4 + k} for i in range(n)]
    return json.dumps({"bars": out, "next_page_token": token}, separators=(",", ":"))


def alpaca_trades(symbols, n, token=None):
    out = {}
    for k, s in enumerate(symbols):
        out[s] = [{"t": rfc3339(T0 + i * 1500, ".%09d" % (i * 7919)), "x": "VQDN"[i % 4], "p": 10 + k + i / 100,
                   "s": 100, "c": ["@", "I"], "i": 52983525029461 + i, "z": "C"} for i in range(n)]
    return json.dumps({"trades": out, "next_page_token": token}, separators=(",", ":"))


def polygon_grouped(tickers, status="OK"):
    t = T0 + 21 * 3600000                       # 16:00 New York
    res = [{"T": s, "v": 1000 + i, "vw": 10.5, "o": 10, "c": 11, "h": 12, "l": 9, "t": t, "n": 50 + i}
           for i, s in enumerate(tickers)]
    return json.dumps({"queryCount": len(res), "resultsCount": len(res), "adjusted": False,
                       "results": res, "status": status, "request_id": "r"}, separators=(",", ":"))


ALPACA = [
    (header(), alpaca_bars(["AAPL", "MSFT", "AIG"], 3)),
    (header(), alpaca_bars(["AAPL", "ZZZZ", "AIG"], 2, "QUFQTHwyMDIxLTExLTI3")),
    (header(nseries=2, case=0x08), alpaca_bars(["AAPL", "msft", "MSFT"], 2)),
    (header(shifts=0x30), alpaca_bars(["AAPL", "MSFT", "AIG"], 4)),
    (header(limit=1), alpaca_bars(["AAPL", "MSFT"], 2, "x")),
    (header(), '{"bars":{},"next_page_token":null}'),
    (header(), '{"bars":null}'),
    (header(), '{"bars":{"AAPL":null,"MSFT":[],"AIG":5}}'),
    (header(), '{"message":"forbidden."}'),
    (header(), '{"code":42210000,"message":"invalid timeframe"}'),
    (header(), '{"bars":[{"t":"2021-11-27T00:00:00Z","o":1,"h":1,"l":1,"c":1,"v":1}]}'),
    (header(trades=True), alpaca_trades(["AAPL", "MSFT", "AIG"], 3)),
    (header(trades=True), alpaca_trades(["AIG", "AAPL"], 2, "dG9rZW4=")),
    (header(trades=True, shifts=0x20), alpaca_trades(["AAPL", "MSFT", "AIG"], 5)),
    (header(trades=True), '{"trades":{"AAPL":[{"t":"2021-11-27T00:00:00Z","x":"\\u00ff","p":1,"s":1,"i":1}]}}'),
    (header(trades=True), '{"trades":null,"next_page_token":null}'),
]

POLYGON = [
    (header(day=True), polygon_grouped(["A", "AAPL", "AIG", "MSFT", "ZZZZ"])),
    (header(day=True, nseries=4, picks=0xE4), polygon_grouped(["AAPL", "AAPL", "S", "MSFT"])),
    (header(day=True, case=0x08), polygon_grouped(["aapl", "MSFT"])),
    (header(day=True, shifts=0x30), polygon_grouped(["AAPL", "MSFT", "AIG"])),
    (header(day=True), '{"status":"OK","resultsCount":0,"queryCount":0,"adjusted":false}'),
    (header(day=True), '{"status":"NOT_AUTHORIZED","message":"Unknown API Key"}'),
    (header(day=True), '{"status":"ERROR","error":"bad"}'),
    (header(day=True), '{"status":"OK","results":[{"T":5},{"o":1},7,null,{"T":"AAPL","t":"x"}]}'),
    (header(day=False), polygon_grouped(["AAPL", "MSFT"])),
]


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    for h, body in seeds:
        data = h + body.encode()
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)


write("fuzz_multi_alpaca", ALPACA)
write("fuzz_multi_polygon", POLYGON)
