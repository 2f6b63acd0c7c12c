"""A hostile WebSocket server for test/tap/013_ws_hostile.pl.

Every connection's first path segment says how it misbehaves (what comes
after it, such as Binance's /ws/<symbol>@aggTrade, is ignored):

  /rsv/...        a correct handshake, then a text frame with RSV1 set
  /len55/...      a frame header declaring 2^55 bytes, then bytes for ever
  /endless/...    a text message begun and never finished: empty
                  continuation frames for ever
  /silent/...     a correct handshake, then nothing at all (pings ignored)
  /noupgrade/...  101 with the right Sec-WebSocket-Accept but no
                  "Upgrade: websocket" nor "Connection: upgrade", then a
                  trade (id 900000000) no REST page has

"For ever" is capped (64 MB a connection) so that a client that stopped
reading cannot keep this process busy; after the cap, or after the frame,
the connection is held open, reading and ignoring, until the client goes.
Each connection is logged as a line "<mode> <n>" on stdout.

Usage: hostile_ws.py --port-file FILE
"""
import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CAP = 64 * 1024 * 1024
COUNT = {}
LOCK = threading.Lock()


def frame(first, payload, declared=None):
    n = len(payload) if declared is None else declared
    if n < 126:
        head = struct.pack("!BB", first, n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + payload


def hold(sock):
    """Read and ignore until the client goes (never on our own: a client
    that stopped reading must not be rescued by the server hanging up)."""
    sock.settimeout(None)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def flood(sock, block):
    sent = 0
    try:
        while sent < CAP:
            sock.sendall(block)
            sent += len(block)
    except OSError:
        return
    hold(sock)


def serve(sock):
    req = b""
    while b"\r\n\r\n" not in req:
        data = sock.recv(4096)
        if not data:
            return
        req += data
    lines = req.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
    mode = path.strip("/").split("/")[0]
    key = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    with LOCK:
        COUNT[mode] = COUNT.get(mode, 0) + 1
        print("%s %d" % (mode, COUNT[mode]), flush=True)
    if mode == "noupgrade":
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nConnection: keep-alive\r\n"
                      "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        now = int(time.time() * 1000)
        trade = {"e": "aggTrade", "E": now, "s": "LIVEUSDT", "a": 900000000, "p": "1.5", "q": "2",
                 "f": 900000000, "l": 900000000, "T": now, "m": False, "M": True}
        sock.sendall(frame(0x81, json.dumps(trade).encode()))
        return hold(sock)
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
    if mode == "rsv":
        time.sleep(0.1)
        sock.sendall(frame(0xC1, b'{"e":"aggTrade"}'))
        return hold(sock)
    if mode == "len55":
        sock.sendall(frame(0x81, b"", declared=1 << 55))
        return flood(sock, b"x" * 65536)
    if mode == "endless":
        sock.sendall(frame(0x01, b"["))
        return flood(sock, b"\x00\x00" * 32768)
    return hold(sock)                   # silent, and anything else


def main():
    port_file = sys.argv[sys.argv.index("--port-file") + 1]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)

    def run(conn):
        try:
            serve(conn)
        except OSError:
            pass
        finally:
            conn.close()

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=run, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
