"""Hostile mode of the fake provider: the test says what to answer next.

REST scripts.  POST /_hostile {"scripts": [SCRIPT, ...]} adds scripts (a
script with the id of an existing one replaces it in place).  A request
is answered by the first script that matches it, before any of the fake's
own routes or faults:

  {"id": "bin-null",                   name, for the hit counts
   "path": "/api/v3/klines",           exact path, or
   "path_re": "^/v2/aggs/ticker/X/",   a regular expression (re.search)
   "params": {"symbol": "^X$", "startTime": "^1700000000000$"},
                                       each query parameter (decoded) must
                                       match its regular expression (re.search);
                                       null: the parameter must be absent
   "count": 2,                         optional: matches only this often
   "responses": [RESPONSE, ...]}       served in turn, the last one again
                                       for every later match

  RESPONSE: {"status": 200, "headers": {..}, "ctype": "application/json",
             "body": "text" | "body_b64": "raw bytes in base64" |
             "gen": "deep", "n": 100000          [[[[...]]]] n deep
             "gen": "wide", "bytes": N           [[],[],...] of about N bytes
             "gen": "huge", "bytes": N           one JSON string of N bytes
             "chunked": true                     no Content-Length: chunks}

GET /_hostile answers {"hits": {id: requests answered}, "streams": [...]}.

Streams.  POST /_hostile {"stream": {"id": .., "label": "binance" |
"alpaca" | "polygon" | "coinbase", "symbol": S, "frames": [FRAME, ...]}}
queues frames for the next connection of that stream that carries S: its
serving loop sends them once, between two batches of live trades.
  FRAME: {"text": "..."}      a text frame; "@S@" in it becomes the Unix
                              time in seconds when it is sent and "@RFC@"
                              the same as YYYY-MM-DDTHH:MM:SS
         {"text_b64": ".."}  a text frame of raw bytes (invalid UTF-8)
         {"raw_b64": ".."}   bytes sent as they are (a malformed frame
                              header, say); the connection then sends
                              nothing more and ends when the client closes
                              it (at most 120 s later)
         {"gen": "endless"}  a text message that never ends: continuation
                              frames without FIN, 64 kB each, until the
                              client closes (at most 256 MB)
The stream entries of GET /_hostile say when each was sent ("s": the @S@
value) and how its connection ended.
"""
import base64
import re
import select
import socket
import struct
import threading
import time
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
SCRIPTS = []        # REST scripts, in match order
HITS = {}           # script id -> requests answered
STREAMS = []        # stream injections, queued and sent


def add(spec):
    with LOCK:
        for s in spec.get("scripts", []):
            HITS.setdefault(s["id"], 0)
            for i, old in enumerate(SCRIPTS):
                if old["id"] == s["id"]:
                    SCRIPTS[i] = dict(s, served=0)
                    break
            else:
                SCRIPTS.append(dict(s, served=0))
        if "stream" in spec:
            STREAMS.append(dict(spec["stream"], state="queued"))


def report():
    with LOCK:
        return {"hits": dict(HITS),
                "streams": [{k: v for k, v in s.items() if k != "frames"} for s in STREAMS]}


def match(path, query):
    """The response a request gets from the scripts, or None."""
    q = parse_qs(query, keep_blank_values=True)
    with LOCK:
        for s in SCRIPTS:
            if "count" in s and s["served"] >= s["count"]:
                continue
            if "path" in s and s["path"] != path:
                continue
            if "path_re" in s and not re.search(s["path_re"], path):
                continue
            if any((k in q) if rx is None else (k not in q or not re.search(rx, q[k][0]))
                   for k, rx in s.get("params", {}).items()):
                continue
            responses = s["responses"]
            r = responses[min(s["served"], len(responses) - 1)]
            s["served"] += 1
            HITS[s["id"]] = HITS.get(s["id"], 0) + 1
            return r
    return None


def generate(r):
    """The body of a response, as bytes or as an iterator of chunks."""
    if "body_b64" in r:
        return base64.b64decode(r["body_b64"])
    gen = r.get("gen")
    if gen == "deep":
        n = int(r.get("n", 100000))
        return b"[" * n + b"]" * n
    if gen == "wide":
        n = max(1, int(r.get("bytes", 1 << 20)) // 3)

        def wide():
            yield b"["
            for i in range(0, n, 65536):
                k = min(65536, n - i)
                yield b"[]," * (k - 1) + (b"[]" if i + k >= n else b"[],")
            yield b"]"
        return wide()
    if gen == "huge":
        n = int(r.get("bytes", 1 << 20))

        def huge():
            yield b'"'
            for i in range(0, n, 65536):
                yield b"x" * min(65536, n - i)
            yield b'"'
        return huge()
    body = r.get("body", "")
    return body.encode() if isinstance(body, str) else body


def serve(handler, r):
    """Answer a request with a script's response."""
    body = generate(r)
    status = int(r.get("status", 200))
    handler.send_response(status)
    handler.send_header("Content-Type", r.get("ctype", "application/json"))
    for k, v in r.get("headers", {}).items():
        handler.send_header(k, v)
    try:
        if r.get("chunked"):
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for chunk in ([body] if isinstance(body, bytes) else body):
                if chunk:
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")
        else:
            if not isinstance(body, bytes):
                body = b"".join(body)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError, OSError):
        handler.close_connection = True     # the client gave up on it: fine
    handler.log(status, r.get("headers"))


def take_stream(label, symbols):
    """The injection queued for a connection of label carrying one of symbols."""
    with LOCK:
        for s in STREAMS:
            if s["state"] == "queued" and s["label"] == label and s.get("symbol") in symbols:
                s["state"] = "sending"
                return s
    return None


def _frame(opcode, payload, fin=True):
    n = len(payload)
    b1 = (0x80 if fin else 0) | opcode
    if n < 126:
        return struct.pack("!BB", b1, n) + payload
    if n < 65536:
        return struct.pack("!BBH", b1, 126, n) + payload
    return struct.pack("!BBQ", b1, 127, n) + payload


def _send(sock, data, deadline):
    view = memoryview(data)
    while view:
        if time.time() > deadline:
            raise TimeoutError
        try:
            n = sock.send(view)
            view = view[n:]
        except BlockingIOError:
            select.select([], [sock], [], 0.5)


def _hold(sock, seconds):
    """Send nothing more; wait for the client to close (or the time to pass)."""
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([sock], [], [], 0.5)
        if r:
            try:
                if not sock.recv(65536):
                    return "closed by client"
            except BlockingIOError:
                continue
            except OSError:
                return "closed by client"
    return "held %d s" % seconds


def send_stream(sock, inj):
    """Send an injection's frames.  True when the connection must end."""
    now = int(time.time())
    rfc = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    with LOCK:
        inj["s"] = now
    deadline = time.time() + 120
    try:
        for f in inj["frames"]:
            if "text" in f:
                _send(sock, _frame(1, f["text"].replace("@S@", str(now)).replace("@RFC@", rfc).encode()),
                      deadline)
            elif "text_b64" in f:
                raw = base64.b64decode(f["text_b64"])
                _send(sock, _frame(1, raw.replace(b"@S@", str(now).encode()).replace(b"@RFC@", rfc.encode())),
                      deadline)
            elif "raw_b64" in f:
                _send(sock, base64.b64decode(f["raw_b64"]), deadline)
                inj["state"] = _hold(sock, 120)
                return True
            elif f.get("gen") == "endless":
                chunk = b"[" + b" " * 65535
                _send(sock, _frame(1, chunk, fin=False), deadline)
                for _ in range(4095):
                    _send(sock, _frame(0, b" " * 65536, fin=False), deadline)
                inj["state"] = _hold(sock, 120)
                return True
    except (TimeoutError, BrokenPipeError, ConnectionResetError, OSError) as e:
        inj["state"] = "ended while sending: %s" % type(e).__name__
        return True
    inj["state"] = "sent"
    return False
