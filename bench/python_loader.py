#!/usr/bin/python3
"""The ways users load bars without sync: page through the provider's REST
API with one keep-alive connection (http.client + json) and store each page
in one transaction, either
  - the way most do it: psycopg2's execute_values (an INSERT of 1000 rows);
  - the way an expert does it (--copy): the page as COPY text built in
    Python and sent with psycopg2's copy_expert (COPY ... FROM STDIN).
Also measures how fast the fake provider alone serves the pages
(--fetch-only: the pages are fetched, not parsed), to show it is not the
bottleneck of the benchmark.

usage: python_loader.py BASE_URL TABLE SYMBOL... [--fetch-only | --copy]
Prints "rows seconds".
"""
import datetime
import http.client
import io
import json
import sys
import time
from urllib.parse import urlparse

import psycopg2
import psycopg2.extras

INSERT = """INSERT INTO {table} (source, symbol, bar_interval, ts, open, high, low, close,
            volume, trades) VALUES %s ON CONFLICT DO NOTHING"""
COPY = """COPY {table} (source, symbol, bar_interval, ts, open, high, low, close,
          volume, trades) FROM STDIN"""


def pages(conn, symbol, parse=json.loads):
    start = 0
    while True:
        conn.request("GET", "/api/v3/klines?symbol=%s&interval=1m&startTime=%d&limit=1000"
                     % (symbol, start))
        page = parse(conn.getresponse().read())
        if not page:
            return
        yield page
        if len(page) < 1000:
            return
        start = page[-1][0] + 60000


def skim(body):
    """For --fetch-only: a page's klines without parsing them, so the figure
    is the fake's serving rate and not this client's json.loads: as many
    rows as the page has, each holding only its open time (the first
    field), which is all the paging needs."""
    if body.strip() == b"[]":
        return []
    n = body.count(b"],[") + 1
    last = body[body.rfind(b"[") + 1:]
    return [None] * (n - 1) + [[int(last[:last.index(b",")])]]


def insert_page(db, table, symbol, page):
    values = [("py", symbol, "1 minute",
               datetime.datetime.fromtimestamp(k[0] / 1000, datetime.timezone.utc),
               k[1], k[2], k[3], k[4], k[5], k[8]) for k in page]
    with db.cursor() as cur:
        psycopg2.extras.execute_values(cur, INSERT.format(table=table), values, page_size=1000)
    db.commit()


def copy_page(db, table, symbol, page):
    """COPY text of the page: the prices are the provider's decimal strings
    as they came (no float round trip), the time as ISO 8601 UTC text
    from time.strftime (cheaper than a datetime object a row).  The symbol
    is a plain word here, so no COPY escaping is needed (a real loader
    would escape tabs and backslashes)."""
    prefix = "py\t%s\t1 minute\t" % symbol
    buf = io.StringIO()
    buf.write("".join(
        "%s%s\t%s\t%s\t%s\t%s\t%s\t%d\n" % (prefix, stamp(k[0]), k[1], k[2], k[3], k[4], k[5], k[8])
        for k in page))
    buf.seek(0)
    with db.cursor() as cur:
        cur.copy_expert(COPY.format(table=table), buf)
    db.commit()


def stamp(ms):
    """ISO 8601 in UTC with milliseconds, from epoch milliseconds."""
    return "%s.%03d+00" % (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)), ms % 1000)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    fetch_only = "--fetch-only" in sys.argv
    store = copy_page if "--copy" in sys.argv else insert_page
    url = urlparse(args[0])
    table, symbols = args[1], args[2:]
    provider = http.client.HTTPConnection(url.hostname, url.port)
    db = None if fetch_only else psycopg2.connect("")
    rows = 0
    t0 = time.monotonic()
    for symbol in symbols:
        for page in pages(provider, symbol, skim if fetch_only else json.loads):
            rows += len(page)
            if not fetch_only:
                store(db, table, symbol, page)
    print(rows, "%.3f" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
