#!/usr/bin/python3
"""The way users load bars today without sync: page through the provider's
REST API with one keep-alive connection and insert each page with psycopg2's
execute_values, one transaction per page.  Also measures how fast the fake
provider alone serves the pages (--fetch-only), to show it is not the
bottleneck of the benchmark.

usage: python_loader.py BASE_URL TABLE SYMBOL... [--fetch-only]
Prints "rows seconds".
"""
import datetime
import http.client
import json
import sys
import time
from urllib.parse import urlparse

import psycopg2
import psycopg2.extras

INSERT = """INSERT INTO {table} (source, symbol, bar_interval, ts, open, high, low, close,
            volume, trades) VALUES %s ON CONFLICT DO NOTHING"""


def pages(conn, symbol):
    start = 0
    while True:
        conn.request("GET", "/api/v3/klines?symbol=%s&interval=1m&startTime=%d&limit=1000"
                     % (symbol, start))
        page = json.loads(conn.getresponse().read())
        if not page:
            return
        yield page
        if len(page) < 1000:
            return
        start = page[-1][0] + 60000


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    fetch_only = "--fetch-only" in sys.argv
    url = urlparse(args[0])
    table, symbols = args[1], args[2:]
    provider = http.client.HTTPConnection(url.hostname, url.port)
    db = None if fetch_only else psycopg2.connect("")
    rows = 0
    t0 = time.monotonic()
    for symbol in symbols:
        for page in pages(provider, symbol):
            rows += len(page)
            if fetch_only:
                continue
            values = [("py", symbol, "1 minute",
                       datetime.datetime.fromtimestamp(k[0] / 1000, datetime.timezone.utc),
                       k[1], k[2], k[3], k[4], k[5], k[8]) for k in page]
            with db.cursor() as cur:
                psycopg2.extras.execute_values(cur, INSERT.format(table=table), values,
                                               page_size=1000)
            db.commit()
    print(rows, "%.3f" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
