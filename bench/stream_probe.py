"""Stream probe: a bare WebSocket client of the fake provider (bench/realtime.py).

Reads /ws/<symbol>@aggTrade for SECONDS and prints how late the messages
arrive against the time the fake stamped on each trade (p50, p99): the part
of the end-to-end latency that is the fake's own, measured without sync.
usage: stream_probe.py HOST PORT SYMBOL SECONDS
"""
import base64, json, os, socket, struct, sys, time
host, port, sym, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.create_connection((host, port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws/%s@aggTrade HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (sym.lower(), key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
buf = buf.split(b"\r\n\r\n", 1)[1]
lat = []
end = time.time() + secs
while time.time() < end:
    while True:
        if len(buf) >= 10:
            n = buf[1] & 0x7F; off = 2
            if n == 126: n = struct.unpack("!H", buf[2:4])[0]; off = 4
            elif n == 127: n = struct.unpack("!Q", buf[2:10])[0]; off = 10
            if len(buf) >= off + n:
                m = json.loads(buf[off:off+n]); buf = buf[off+n:]
                lat.append(time.time() * 1000 - m["T"])
                continue
        break
    buf += s.recv(65536)
lat.sort()
print("messages %d p50 %.1f ms p99 %.1f ms" % (len(lat), lat[len(lat)//2], lat[int(len(lat)*0.99)]))
