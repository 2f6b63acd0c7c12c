#!/usr/bin/python3
"""A hostile HTTP server for sync's network tests (test/tap/014_ssrf.pl,
014_body_limit.pl).  Standard library only; listens on 127.0.0.1.

Whatever the path, the answer depends on the symbol= query parameter (or,
for csv day files, the symbol at the start of the file name):
  ENDLESS   200, chunked, "[[],[],..." forever (no Content-Length)
  LIAR      200, Content-Length of 10 GB, then the same endless bytes
  BOMB      200, Content-Encoding: gzip: a few hundred kB that inflate to 16 MB
  anything else: 200 text/plain, a fake cloud-metadata answer holding
            the word SECRET-METADATA-7f3a (it must never reach the database)

Each request is appended to --log as one line "<path>?<query>" as it arrives.
"""
import argparse
import gzip
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SECRET = b'{"Code": "Success", "AccessKeyId": "ASIA-SECRET-METADATA-7f3a", "Token": "SECRET-METADATA-7f3a"}\n'
CHUNK = b"[]," * 21845  # 64 kB
BOMB = []  # made at the first request: compressing takes a moment


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(self.server.log, "a") as f:
            f.write(self.path + "\n")
        q = parse_qs(urlsplit(self.path).query)
        symbol = (q.get("symbol") or [""])[0]
        if "/ENDLESS-" in self.path:
            symbol = "ENDLESS"  # a csv day file: {base}/{SYMBOL}-1m-{date}.csv
        try:
            if symbol == "ENDLESS":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"1\r\n[\r\n")
                piece = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"
                while True:
                    self.wfile.write(piece)
            elif symbol == "LIAR":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(10 * 1024 ** 3))
                self.end_headers()
                while True:
                    self.wfile.write(CHUNK)
            elif symbol == "BOMB":
                if not BOMB:
                    BOMB.append(gzip.compress(b"[" + b"[]," * (16 * 1024 * 1024 // 3) + b"[]]", 6))
                body = BOMB[0]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(SECRET)))
                self.end_headers()
                self.wfile.write(SECRET)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.log = args.log
    open(args.log, "a").close()
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
