"""Realtime benchmark driver (see bench/realtime.sh).

For each rate: a fresh trade source makes RATE Binance aggTrades a second
(bench/feed.c by default; --feed python: the fake provider's --live mode,
which one Python process caps near 50,000/s here), a trades subscription with realtime = true streams them, and
after the stream is up we measure for SECONDS:
  - stored rows/s: trades inserted during the window / its length;
  - latency: for a 1% sample of rows (trade id divisible by 100) made in
    the window, its transaction's commit time (track_commit_timestamp)
    minus ts, the time the source stamped on the trade when it made it,
    just before sending it; p50 and p99 of those.  Commit, not insert:
    a trade counts as stored once it is committed;
  - lost: trades the fake made between the first and last stored id that
    are not stored (after sync_stop(), which commits what was received);
  - private memory (RssAnon) of the streamer (receives and parses) and of
    its storer (stores), at the start and the end of the window;
  - the rate the source actually made trades at;
  - the baseline: a COPY of 200,000 trades of the same shape into a table
    like sync.trades (same keys and indexes), as rows/s, and stored/s
    against it;
  - the source alone: p50/p99 of how late its messages reach a bare Python
    client (bench/stream_probe.py, 5 s), the baseline of the latency; past
    ~50,000/s the Python client itself falls behind.
"""
import argparse
import os
import subprocess
import sys
import time
import urllib.request

import psycopg2


def q(cur, sql, *args):
    cur.execute(sql, args if args else None)
    return cur.fetchall() if cur.description else None


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def one_rate(cur, work, rate, seconds, feed):
    port_file = os.path.join(work, "fake-%d.port" % rate)
    if feed == "python":
        cmd = [sys.executable, os.path.join(work, "fake_provider", "fake_provider.py"),
               "--data-dir", os.path.join(work, "data"), "--port-file", port_file, "--live", "LIVE%d:%d" % (rate, rate)]
    else:
        cmd = [os.path.join(work, "feed"), port_file, "LIVE%d" % rate, str(rate)]
    fake = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        port = open(port_file).read().strip()
        # the fake alone, to a bare client: its own share of the latency
        probe = subprocess.run([sys.executable, os.path.join(work, "bench", "stream_probe.py"), "127.0.0.1",
                                port, "LIVE%d" % rate, str(min(5.0, seconds))],
                               capture_output=True, text=True)
        words = probe.stdout.split()
        if len(words) >= 7:
            fake_p50, fake_p99 = float(words[3]), float(words[6])
        else:                           # the probe failed: say so, go on
            print("stream probe failed: %s" % (probe.stderr.strip().splitlines() or ["?"])[-1], flush=True)
            fake_p50 = fake_p99 = float("nan")
        src = "r%d" % rate
        sym = "LIVE%d" % rate
        q(cur, "SELECT sync_add_source(%s, 'binance', %s, stream_url => %s)",
          src, "http://127.0.0.1:" + port, "ws://127.0.0.1:" + port)
        q(cur, "SELECT sync_subscribe(%s, ARRAY[%s], 'trades', history_from => now())", src, sym)
        q(cur, "SELECT sync_start()")
        for _ in range(600):
            if q(cur, "SELECT phase FROM sync_status() WHERE source = %s", src)[0][0] == "realtime":
                break
            time.sleep(0.1)
        # the source's streamer receives and parses; its storer stores (its job only closes seams)
        pid = q(cur, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync streamer'"
                     " AND application_name = %s", "sync stream " + src)[0][0]
        spid = q(cur, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'sync stream store'"
                      " AND application_name = %s", "sync stream store " + src)
        spid = spid[0][0] if spid else 0      # none: the streamer stores itself
        rss0, srss0 = rss_kib(pid), rss_kib(spid) if spid else 0
        n0 = q(cur, "SELECT count(*) FROM sync.trades WHERE source = %s", src)[0][0]
        made0 = int(urllib.request.urlopen("http://127.0.0.1:%s/_made?symbol=%s" % (port, sym)).read())
        t0 = time.time()
        time.sleep(seconds)
        n1 = q(cur, "SELECT count(*) FROM sync.trades WHERE source = %s", src)[0][0]
        t1 = time.time()
        made1 = int(urllib.request.urlopen("http://127.0.0.1:%s/_made?symbol=%s" % (port, sym)).read())
        rss1, srss1 = rss_kib(pid), rss_kib(spid) if spid else 0
        lag = q(cur, "SELECT extract(epoch FROM lag) FROM sync_status() WHERE source = %s", src)[0][0]
        # the streamer's batches: how many, and how long one took to store (its transaction)
        batches, store_ms = q(cur, "SELECT sum(c), 1000 * sum(commit_seconds) / nullif(sum(c), 0) FROM ("
                                   "  SELECT (SELECT sum(x) FROM unnest(commit_buckets) x) AS c, commit_seconds"
                                   "    FROM sync._worker_metrics() WHERE job_id < -2000000000 AND worker_pid = %s) m",
                              pid)[0]
        q(cur, "SELECT sync_stop()")
        # from the source making a trade to its commit, trades made in the window (1% sample)
        p50, p99, samples = q(cur, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),"
                                   "       percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), count(*)"
                                   "  FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - ts) * 1000 AS ms"
                                   "          FROM sync.trades WHERE source = %s AND trade_id LIKE '%%00'"
                                   "           AND ts >= to_timestamp(%s) AND ts < to_timestamp(%s)) s",
                              src, t0, t1)[0]
        lo, hi, stored = q(cur, "SELECT min(trade_id::bigint), max(trade_id::bigint), count(*)"
                                "  FROM sync.trades WHERE source = %s", src)[0]
        lost = (hi - lo + 1) - stored      # ids are consecutive in the fake
        rejected = q(cur, "SELECT count(*) FROM sync.rejects WHERE source = %s", src)[0][0]
        q(cur, "SELECT sync_drop_source(%s)", src)
        return {"rate": rate, "made": (made1 - made0) / (t1 - t0), "stored": (n1 - n0) / (t1 - t0),
                "p50": p50, "p99": p99, "samples": samples, "lost": lost, "rejected": rejected, "lag": lag,
                "rss0": rss0 / 1024.0, "rss1": rss1 / 1024.0, "srss0": srss0 / 1024.0, "srss1": srss1 / 1024.0, "fake_p50": fake_p50, "fake_p99": fake_p99,
                "batches": batches or 0, "store_ms": store_ms or 0}
    finally:
        fake.terminate()
        fake.wait()


def copy_baseline(cur, n=200000):
    """Rows/s of a COPY of n trades of the same shape into a table like
    sync.trades (its keys, its indexes, no trigger): the ceiling of any
    loader that stores trades one table row each on this machine."""
    import io
    q(cur, "CREATE TABLE bench_copy (LIKE sync.trades INCLUDING ALL)")
    buf = io.StringIO()
    t0 = 1795600000000
    for i in range(n):
        ms = t0 + i // 100
        buf.write("bench\tLIVE\t%s.%03d+00\t%d\t0.00141709\t259.0\tbuy\n" % (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)), ms % 1000, 1000000 + i))
    rates = []
    for _ in range(3):              # the median of three: one COPY varies a lot here
        q(cur, "TRUNCATE bench_copy")
        buf.seek(0)
        started = time.time()
        cur.copy_expert("COPY bench_copy FROM STDIN", buf)
        rates.append(n / (time.time() - started))
    q(cur, "DROP TABLE bench_copy")
    return sorted(rates)[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--feed", choices=["c", "python"], default="c",
                    help="the trade source: bench/feed.c, or the fake provider's --live mode")
    ap.add_argument("rates", type=int, nargs="+")
    args = ap.parse_args()
    conn = psycopg2.connect("")
    conn.autocommit = True
    cur = conn.cursor()
    q(cur, "CREATE EXTENSION IF NOT EXISTS sync")
    baseline = copy_baseline(cur)
    print("baseline: COPY of 200,000 trades into a table like sync.trades: %.0f rows/s (median of 3)" % baseline,
          flush=True)
    print("%9s %12s %12s %9s %9s %7s %8s %6s %15s %15s %13s %8s %9s %9s" % (
        "rate/s", "made/s", "stored/s", "p50 ms", "p99 ms", "lost", "rejected", "lag s", "streamer MiB",
        "storer MiB", "fake p50/p99", "batches", "store ms", "vs COPY"))
    for rate in args.rates:
        r = one_rate(cur, args.work, rate, args.seconds, args.feed)
        print("%9d %12.0f %12.0f %9.1f %9.1f %7d %8d %6.2f %6.1f -> %5.1f %6.1f -> %5.1f %6.1f/%6.1f %8d %9.2f %8.2fx" % (
            r["rate"], r["made"], r["stored"], r["p50"] or 0, r["p99"] or 0, r["lost"], r["rejected"], r["lag"] or 0,
            r["rss0"], r["rss1"], r["srss0"], r["srss1"], r["fake_p50"], r["fake_p99"], r["batches"], r["store_ms"],
            r["stored"] / baseline), flush=True)


if __name__ == "__main__":
    main()
