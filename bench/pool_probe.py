#!/usr/bin/python3
"""bench/pool_probe.py: the measuring half of bench/pool.sh (which sets up the
fake market and the scratch cluster and says what is measured).

Parts, in this order on one cluster:
  (a) N series x a day of 1-minute bars subscribed at once: time until all
      are caught up, rows/s, then a COPY of the same rows (ratio sync/COPY);
  (b) the same series caught up for D minutes: CPU of sync's processes,
      requests per minute at the fake, delay from a bar's publication to
      its commit (pg_xact_commit_timestamp), stored rows == the fake's;
  (c) private memory of each sync process at the start and end of (b);
  (few) optional: FEW_SYMBOLS x FEW_BARS long series, as bench/backfill.sh,
      and their COPY, the same way.
Run as the cluster's user (it reads /proc of the server's processes).
Not a test: nothing asserts, a wait that runs out says so and goes on.
"""
import argparse
import bisect
import datetime
import json
import os
import sys
import time
import urllib.request

import psycopg2

TICK = os.sysconf("SC_CLK_TCK")
STALL_S = 120         # a wait gives up when no series progressed for this long
# backend types of sync's processes that are not pool workers
NOT_WORKERS = ("sync launcher", "sync supervisor", "sync aggregator", "sync scheduler", "sync streamer")


def say(*a):
    print(*a, flush=True)


def cmd(text):
    say("   $ " + text)


class Bench:
    def __init__(self, args):
        self.a = args
        self.db = psycopg2.connect(host=args.work, port=os.environ["PGPORT"], user="postgres",
                                   dbname="postgres", application_name="pool_probe")
        self.db.autocommit = True
        self.syms = ["M%d" % i for i in range(1, args.n + 1)]
        self.delay_ms = args.delay_ms
        self.a_result = self.few_result = None
        self.b_sum = []

    # -- helpers -------------------------------------------------------------
    def q(self, sql, params=None):
        with self.db.cursor() as c:
            c.execute(sql, params)
            return c.fetchall() if c.description else None

    def one(self, sql, params=None):
        r = self.q(sql, params)
        return r[0][0] if r else None

    def fake(self, path):
        with urllib.request.urlopen(self.a.fake + path, timeout=120) as r:
            return r.read().decode()

    def setting(self, name):
        return self.one("SELECT current_setting(%s, true)", (name,))

    def closed_ms(self, t=None):
        """End of the newest bar the fake publishes at time t (its open + 1 minute)."""
        ms = int((time.time() if t is None else t) * 1000) - self.delay_ms
        return ms - ms % 60000

    def sync_procs(self):
        return self.q("SELECT pid, backend_type FROM pg_stat_activity "
                      "WHERE backend_type LIKE 'sync%%' ORDER BY backend_type, pid")

    def phases(self, source):
        r = self.q("SELECT phase, count(*) FROM sync_status() WHERE source = %s GROUP BY 1 ORDER BY 2 DESC",
                   (source,))
        return ", ".join("%s %d" % (p, n) for p, n in r)

    def wait_caught_up(self, source, target_ms, n, timeout, label):
        """Wait until the n subscriptions of source have synced_through >= target_ms.
        Returns the time it happened (or None: timeout, or no progress for
        STALL_S), printing progress every 10 s."""
        t0 = time.time()
        last = t0
        seen, moved = None, t0
        while True:
            done, rows, behind = self.q(
                "SELECT count(*) FILTER (WHERE s.synced_through >= to_timestamp(%s / 1000.0)), "
                "coalesce(sum(s.rows_stored), 0), "
                "coalesce(sum(s.rows_stored) FILTER (WHERE NOT s.synced_through >= to_timestamp(%s / 1000.0) "
                "                                       OR s.synced_through IS NULL), 0) "
                "FROM sync.subscriptions s "
                "JOIN sync.sources src ON src.id = s.source_id WHERE src.name = %s",
                (target_ms, target_ms, source))[0]
            now = time.time()
            if done >= n:
                return now
            # progress: a series caught up, or one still behind stored rows
            if (done, behind) != seen:
                seen, moved = (done, behind), now
            if now - t0 > timeout or now - moved > STALL_S:
                say("   !! %s: only %d of %d series caught up after %.0f s%s (phases: %s); going on"
                    % (label, done, n, now - t0, ", no progress for %d s" % STALL_S
                       if now - moved > STALL_S else "", self.phases(source)))
                return None
            if now - last >= 10:
                last = now
                say("   %6.0f s  caught up %d/%d  rows stored %d  phases: %s"
                    % (now - t0, done, n, rows, self.phases(source)))
            time.sleep(0.2)

    def wait_stopped(self, timeout=60):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if not self.q("SELECT 1 FROM pg_stat_activity WHERE backend_type LIKE 'sync%%' "
                          "AND backend_type <> 'sync launcher'"):
                return
            time.sleep(0.2)
        say("   !! sync processes still running %d s after sync_stop()" % timeout)

    def start_sync(self):
        self.q("SELECT sync_start()")
        t0 = time.time()
        while self.one("SELECT sync._supervisor_pid()") is None and time.time() - t0 < 30:
            time.sleep(0.1)

    def copy_baseline(self, source, where, table):
        """Export source's rows (where) to CSV, COPY them into an empty table like sync.bars."""
        path = os.path.join(self.a.work, "%s.csv" % table)
        self.q("CREATE TABLE %s (LIKE sync.bars INCLUDING ALL)" % table)
        self.q("COPY (SELECT * FROM sync.bars WHERE source = %%s AND %s) TO '%s' (FORMAT csv)" % (where, path),
               (source,))
        self.q("CHECKPOINT")
        c0 = time.time()
        self.q("COPY %s FROM '%s' (FORMAT csv)" % (table, path))
        c1 = time.time()
        rows = self.one("SELECT count(*) FROM %s" % table)
        os.unlink(path)
        cmd("COPY (SELECT * FROM sync.bars WHERE source = '%s'%s) TO '%s' (FORMAT csv); CHECKPOINT;"
            % (source, "" if where == "true" else " AND " + where, path))
        cmd("COPY %s FROM '%s' (FORMAT csv)   -- %s: CREATE TABLE ... (LIKE sync.bars INCLUDING ALL)"
            % (table, path, table))
        return rows, c1 - c0

    # -- /proc ---------------------------------------------------------------
    @staticmethod
    def cpu_ticks(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            return int(rest[11]) + int(rest[12])          # utime + stime (fields 14, 15)
        except (OSError, IndexError, ValueError):
            return None

    @staticmethod
    def smaps(pid):
        out = {}
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    parts = v.split()
                    if len(parts) == 2 and parts[1] == "kB":
                        out[k] = int(parts[0])
        except OSError:
            return None
        return out

    # -- parts ---------------------------------------------------------------
    def header(self):
        say("== settings")
        for name in ("server_version", "max_worker_processes", "track_commit_timestamp",
                     "synchronous_commit", "shared_buffers", "sync.poll_interval_ms",
                     "sync.max_workers", "sync.max_series"):
            v = self.setting(name)
            say("   %-24s %s" % (name, v if v is not None else "(not defined by this build)"))
        say("   %-24s %s" % ("source", self.a.provider + (" poll_interval_ms %s" % self.a.poll_ms
                                                           if self.a.poll_ms else "")))
        say("   %-24s %d ms after its minute closes" % ("fake publishes a bar", self.delay_ms))
        self.poll_ms = int(self.a.poll_ms or self.one(
            "SELECT setting FROM pg_settings WHERE name = 'sync.poll_interval_ms'"))

    def add_source(self, name):
        opts = {"page_size": {"binance": 1000, "alpaca": 10000, "polygon": 50000}[self.a.provider]}
        if self.a.poll_ms:
            opts["poll_interval_ms"] = int(self.a.poll_ms)
        creds = {"binance": None, "alpaca": '{"key_id": "AK", "secret": "SK"}',
                 "polygon": '{"secret": "PK"}'}[self.a.provider]
        self.q("SELECT sync_add_source(%s, %s, %s, credentials => %s::jsonb, options => %s::jsonb)",
               (name, self.a.provider, self.a.fake, creds, json.dumps(opts)))
        cmd("SELECT sync_add_source('%s', '%s', '<fake>', options => '%s')" % (name, self.a.provider, json.dumps(opts)))

    def part_a(self):
        n = self.a.n
        say("\n== (a) %d series x 1 day of 1-minute bars, subscribed at once (history_from %s)"
            % (n, self.a.start))
        w0 = time.time()
        for s in self.syms:            # the fake makes its bars now, not while timed
            self.fake("/_series?symbol=" + s)
        say("   fake market made %d series in %.1f s (before the clock starts)" % (n, time.time() - w0))
        self.add_source("pool")
        self.start_sync()
        cmd("SELECT sync_start()")
        t0 = time.time()
        target = self.closed_ms(t0)
        self.q("SELECT count(*) FROM sync_subscribe('pool', %s, history_from => %s, realtime => false)",
               (self.syms, self.a.start))
        cmd("SELECT sync_subscribe('pool', ARRAY['M1', ..., 'M%d'], history_from => '%s', realtime => false)"
            % (n, self.a.start))
        t1 = self.wait_caught_up("pool", target, n, self.a.timeout, "(a)")
        where = "ts < to_timestamp(%d / 1000.0)" % target
        rows = self.one("SELECT count(*) FROM sync.bars WHERE source = 'pool' AND " + where)
        self.q("SELECT sync_stop()")
        cmd("SELECT sync_stop()")
        self.wait_stopped()
        if t1 is None:
            say("   (a) did not finish: no rates")
            self.a_result = None
            return
        secs = t1 - t0
        crow, csecs = self.copy_baseline("pool", where, "copy_bars")
        self.a_result = (rows, secs, crow, csecs)
        say("   every series caught up to %s (the last closed minute at subscribe time)"
            % datetime.datetime.fromtimestamp(target / 1000, datetime.timezone.utc).strftime("%H:%M"))

    def part_b(self):
        n, d = self.a.n, self.a.minutes
        say("\n== (b) the same %d series caught up for %d minute(s)" % (n, d))
        self.start_sync()
        cmd("SELECT sync_start()")
        target = self.closed_ms()
        if self.wait_caught_up("pool", target, n, self.a.timeout, "(b) catching up after restart") is None:
            say("   (b) measured anyway")
        time.sleep(5)
        procs = {pid: bt for pid, bt in self.sync_procs()}
        start_cpu = {pid: self.cpu_ticks(pid) for pid in procs}
        last_cpu = dict(start_cpu)
        fake_cpu0 = self.cpu_ticks(self.a.fake_pid)
        mem0 = {pid: self.smaps(pid) for pid in procs}
        w0 = time.time()
        end = w0 + d * 60
        gone = set()
        samples = [(w0, sum(v or 0 for v in start_cpu.values()))]
        while time.time() < end:
            time.sleep(min(5, max(0, end - time.time())))
            for pid, bt in self.sync_procs():      # processes started in the window count from 0
                if pid not in procs:
                    procs[pid] = bt
                    start_cpu[pid] = 0
                    say("   (a %s process started in the window: pid %d)" % (bt, pid))
            for pid in procs:
                t = self.cpu_ticks(pid)
                if t is None:
                    if pid not in gone:
                        gone.add(pid)
                        say("   (%s pid %d exited in the window: its CPU counted until the last sample)"
                            % (procs[pid], pid))
                else:
                    last_cpu[pid] = t
            samples.append((time.time(), sum(v or 0 for v in last_cpu.values())))
        w1 = time.time()
        fake_cpu1 = self.cpu_ticks(self.a.fake_pid)
        mem1 = {pid: self.smaps(pid) for pid in procs}
        span = w1 - w0

        say("   CPU of sync's processes over %.0f s (/proc/<pid>/stat utime+stime; pids from "
            "pg_stat_activity backend_type LIKE 'sync%%'):" % span)
        by_type = {}
        for pid, bt in procs.items():
            c = by_type.setdefault(bt, [0, 0.0])
            c[0] += 1
            c[1] += ((last_cpu.get(pid) or 0) - (start_cpu.get(pid) or 0)) / TICK
        total = 0.0
        for bt, (cnt, secs) in sorted(by_type.items()):
            total += secs
            say("     %-22s x%-4d %8.2f CPU s  %6.2f %% of one core" % (bt, cnt, secs, 100 * secs / span))
        say("     %-28s %8.2f CPU s  %6.2f %% of one core" % ("all sync processes", total, 100 * total / span))
        self.b_sum = ["(b) CPU of all sync processes: %.2f %% of one core over %.0f s" % (100 * total / span, span)]
        if fake_cpu0 is not None and fake_cpu1 is not None:
            say("     %-28s %8.2f CPU s  %6.2f %% of one core  (not sync: for scale)"
                % ("the fake provider", (fake_cpu1 - fake_cpu0) / TICK, 100 * (fake_cpu1 - fake_cpu0) / TICK / span))

        reqs = [r for r in json.loads(self.fake("/_requests")) if w0 <= r["t0"] < w1]
        paths = {}
        named = set(self.syms)
        for r in reqs:     # one line per endpoint: a path's symbol and numbers as <symbol>, <n>
            path = "/".join("<symbol>" if x in named else "<n>" if x.isdigit() else x
                            for x in r["path"].split("/"))
            k = "%s %s" % (path, r["status"])
            paths[k] = paths.get(k, 0) + 1
        say("   requests at the fake in the window: %d = %.0f a minute (%.2f a minute per series)"
            % (len(reqs), len(reqs) * 60 / span, len(reqs) * 60 / span / n))
        for k, v in sorted(paths.items(), key=lambda kv: -kv[1]):
            say("     %-40s %d" % (k, v))
        say("     (GET /_requests of the fake, entries whose arrival t0 falls in the window)")

        # CPU when nothing is due: the sampling intervals (5 s) in which the fake saw no request
        times = sorted(r["t0"] for r in reqs)
        quiet_s = quiet_ticks = 0
        for (ta, ca), (tb, cb) in zip(samples, samples[1:]):
            i = bisect.bisect_left(times, ta)
            if (i == len(times) or times[i] > tb) and cb >= ca:
                quiet_s += tb - ta
                quiet_ticks += cb - ca
        if quiet_s > 0:
            say("   CPU of all sync processes when nothing is due (the %.0f s of 5 s intervals without a"
                " request at the fake): %.2f %% of one core" % (quiet_s, 100 * quiet_ticks / TICK / quiet_s))
            self.b_sum.append("(b) CPU when nothing is due (%.0f s without a request): %.2f %% of one core"
                              % (quiet_s, 100 * quiet_ticks / TICK / quiet_s))
        else:
            say("   CPU when nothing is due: no 5 s interval of the window was without a request")
        self.b_sum.append("(b) requests at the fake: %.0f a minute (%.2f per series)"
                          % (len(reqs) * 60 / span, len(reqs) * 60 / span / n))

        # every bar published in the window must be stored before its delay is read
        last_pub = self.closed_ms(w1)
        self.wait_caught_up("pool", last_pub, n, self.poll_ms * 3 / 1000 + 30, "(b) the window's bars")
        lo, hi = w0 + 0.0, w1
        rows = self.q(
            "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))"
            "       - (extract(epoch FROM ts) + 60 + %s / 1000.0) "
            "FROM sync.bars WHERE source = 'pool' "
            "AND extract(epoch FROM ts) + 60 + %s / 1000.0 BETWEEN %s AND %s",
            (self.delay_ms, self.delay_ms, lo, hi))
        delays = sorted(r[0] for r in rows if r[0] is not None)
        first_pub = (int(lo * 1000) - self.delay_ms + 59999) // 60000 * 60000
        expected = n * max(0, (last_pub - first_pub) // 60000 + 1) if last_pub >= first_pub else 0
        say("   delay from a bar's publication at the fake (ts + 1 min + %d ms) to its commit "
            "(pg_xact_commit_timestamp(xmin)):" % self.delay_ms)
        if delays:
            def pct(p):
                return delays[min(len(delays) - 1, int(p / 100.0 * len(delays)))]
            say("     bars published in the window: %d stored of %d (%d series x %d minutes)"
                % (len(delays), expected, n, expected // n if n else 0))
            say("     p50 %.2f s   p90 %.2f s   p99 %.2f s   max %.2f s" % (pct(50), pct(90), pct(99), delays[-1]))
            say("     target p99 < poll interval + 1 s = %.1f s: p99 %.2f s"
                % (self.poll_ms / 1000 + 1, pct(99)))
            self.b_sum.append("(b) publication -> commit: p50 %.2f s, p99 %.2f s (target p99 < %.1f s); "
                              "%d of %d bars of the window stored"
                              % (pct(50), pct(99), self.poll_ms / 1000 + 1, len(delays), expected))
        else:
            say("     no bar published in the window was stored (%d expected)" % expected)
            self.b_sum.append("(b) no bar published in the window was stored (%d expected)" % expected)
        cmd("SELECT pg_xact_commit_timestamp(xmin) - (ts + interval '1 minute' + delay) FROM sync.bars "
            "WHERE source = 'pool' AND ts + interval '1 minute' + delay BETWEEN <window start> AND <window end>")

        self.compare("pool", self.syms)

        say("\n== (c) memory of sync's processes at the start and end of (b) (/proc/<pid>/smaps_rollup, MiB)")
        say("     %-22s %7s  %7s %7s %7s  %7s %7s %7s" % ("process", "pid", "Rss", "Pss", "PrivDty",
                                                         "Rss", "Pss", "PrivDty"))
        say("     %-22s %7s  %23s  %23s" % ("", "", "-- start of (b) --", "--- end of (b) ---"))
        for pid, bt in sorted(procs.items(), key=lambda kv: (kv[1] in NOT_WORKERS, kv[1], kv[0])):
            def f(m):
                if not m:
                    return "%7s %7s %7s" % ("-", "-", "-")
                return "%7.1f %7.1f %7.1f" % (m.get("Rss", 0) / 1024, m.get("Pss", 0) / 1024,
                                              m.get("Private_Dirty", 0) / 1024)
            say("     %-22s %7d  %s  %s" % (bt, pid, f(mem0.get(pid)), f(mem1.get(pid))))
        say("     (pool workers first; Rss and Pss include the shared buffers a process touched,"
            " Private_Dirty is its own memory)")
        workers = [pid for pid, bt in procs.items() if bt not in NOT_WORKERS]
        if workers:
            def top(mem):
                v = [mem[p]["Private_Dirty"] for p in workers if mem.get(p)]
                return max(v) / 1024 if v else float("nan")
            self.b_sum.append("(c) %d worker process(es): largest Private_Dirty %.1f MiB at (b)'s start, %.1f MiB at its end"
                              % (len(workers), top(mem0), top(mem1)))
        self.q("SELECT sync_stop()")
        self.wait_stopped()

    def compare(self, source, syms):
        """Rows stored == rows the fake serves, up to each series' synced_through."""
        t0 = time.time()
        through = dict(self.q(
            "SELECT s.symbol, (extract(epoch FROM s.synced_through) * 1000)::bigint FROM sync.subscriptions s "
            "JOIN sync.sources src ON src.id = s.source_id WHERE src.name = %s", (source,)))
        missing = extra = differ = same = 0
        examples = []
        for s in syms:
            upto = through.get(s) or 0
            fake = {}
            for line in self.fake("/_series?symbol=" + s).splitlines():
                f = line.split(",")
                if int(f[0]) < upto:
                    fake[int(f[0])] = tuple(f[1:6])
            mine = {r[0]: tuple(r[1:]) for r in self.q(
                "SELECT (extract(epoch FROM ts) * 1000)::bigint, open::text, high::text, low::text, "
                "close::text, volume::text FROM sync.bars WHERE source = %s AND symbol = %s "
                "AND ts < to_timestamp(%s / 1000.0)", (source, s, upto))}
            for k, v in fake.items():
                m = mine.get(k)
                if m is None:
                    missing += 1
                    if len(examples) < 5:
                        examples.append("missing %s %d" % (s, k))
                elif m != v:
                    differ += 1
                    if len(examples) < 5:
                        examples.append("differs %s %d: %s vs %s" % (s, k, m, v))
                else:
                    same += 1
            extra += sum(1 for k in mine if k not in fake)
        say("   stored rows against the fake's series (/_series), each series up to its synced_through:")
        verdict = "rows stored == rows the fake has" if missing == extra == differ == 0 else "NOT EQUAL"
        nothing = sum(1 for s in syms if not through.get(s))
        say("     %d identical, %d missing (holes), %d extra, %d different  -> %s  (%.1f s)"
            % (same, missing, extra, differ, verdict, time.time() - t0))
        if nothing:
            say("     but %d of %d series synced nothing at all (synced_through NULL)" % (nothing, len(syms)))
        self.b_sum.append("(b) up to each series' synced_through, %s (%d rows; %d missing, %d extra, %d different)%s"
                          % (verdict, same, missing, extra, differ,
                             "; %d series synced nothing" % nothing if nothing else ""))
        for e in examples:
            say("       " + e)

    def part_few(self):
        k, bars = self.a.few_symbols, self.a.few_bars
        total = k * bars
        say("\n== (few) %d series x %d bars (2020-01-01 on), as bench/backfill.sh, on the same cluster"
            % (k, bars))
        self.q("SELECT sync_unsubscribe('pool', %s)", (self.syms,))
        cmd("SELECT sync_unsubscribe('pool', <the N series>)   -- (a)'s series no longer poll")
        self.add_source("few")
        syms = ["FEW%d" % i for i in range(1, k + 1)]
        self.start_sync()
        t0 = time.time()
        self.q("SELECT count(*) FROM sync_subscribe('few', %s, history_from => '2020-01-01', realtime => false)",
               (syms,))
        cmd("SELECT sync_subscribe('few', ARRAY['FEW1', ...], history_from => '2020-01-01', realtime => false)")
        last = t0
        t1 = None
        while time.time() - t0 < self.a.timeout:
            stored = self.one("SELECT coalesce(sum(s.rows_stored), 0) FROM sync.subscriptions s "
                              "JOIN sync.sources src ON src.id = s.source_id WHERE src.name = 'few'")
            if stored >= total:
                t1 = time.time()
                break
            if time.time() - last >= 10:
                last = time.time()
                say("   %6.0f s  rows stored %d/%d  phases: %s" % (last - t0, stored, total, self.phases("few")))
            time.sleep(0.05)
        self.q("SELECT sync_stop()")
        self.wait_stopped()
        if t1 is None:
            say("   !! (few) not done after %d s" % self.a.timeout)
            self.few_result = None
            return
        rows = self.one("SELECT count(*) FROM sync.bars WHERE source = 'few'")
        crow, csecs = self.copy_baseline("few", "true", "copy_few")
        self.few_result = (rows, t1 - t0, crow, csecs)

    def summary(self):
        say("\n== summary (N = %d series, D = %d min)" % (self.a.n, self.a.minutes))

        def line(label, res):
            if res is None:
                say("   %-40s did not finish" % label)
                return
            rows, secs, crow, csecs = res
            w, c = rows / secs, crow / csecs
            say("   %-40s %9d rows %8.2f s %9.0f rows/s" % (label, rows, secs, w))
            say("   %-40s %9d rows %8.2f s %9.0f rows/s" % ("  COPY of the same rows", crow, csecs, c))
            say("   %-40s %.2fx" % ("  ratio sync / COPY", w / c))
        line("(a) %d series x 1 day, through sync" % self.a.n, self.a_result)
        for text in self.b_sum:
            say("   " + text)
        if self.a.few_symbols:
            line("(few) %d series x %d bars, through sync" % (self.a.few_symbols, self.a.few_bars),
                 self.few_result)
        else:
            say("   (few) skipped (FEW=0)")
        say("   before the pool, one process per series: bench/backfill.sh (4 x 250,000 bars) measured"
            " 0.49x COPY on 2026-12-01 (docs/benchmarks.md)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--fake", required=True)
    ap.add_argument("--fake-pid", type=int, required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--minutes", type=int, default=5)
    ap.add_argument("--start", required=True, help="the market's START (history_from)")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--provider", default="binance", choices=("binance", "alpaca", "polygon"))
    ap.add_argument("--poll-ms", default="")
    ap.add_argument("--few", default="0", help="SYMBOLS:BARS, or 0")
    ap.add_argument("--timeout", type=int, default=1800)
    a = ap.parse_args()
    if a.few in ("", "0"):
        a.few_symbols = a.few_bars = 0
    else:
        a.few_symbols, a.few_bars = (int(x) for x in a.few.split(":"))
    b = Bench(a)
    b.header()
    b.part_a()
    b.part_b()
    if a.few_symbols:
        b.part_few()
    b.summary()


if __name__ == "__main__":
    sys.exit(main())
