#!/usr/bin/python3
"""http_sse.py: logbus-http's figures for the README, against a logbusd and
a logbus-http it starts in a temporary directory (the programs of --bin).

  latency    records published at --rate per second by logbus-bench's live
             mode (a publisher thread stamping each record's time_ns as it
             logs it) reach, in the same run:
               - an SSE client of /v1/logs (format=json), as a browser's
                 EventSource would: arrival (CLOCK_REALTIME) - time_ns;
               - `logbusctl tail -f -o json`, the peer: the same;
               - logbus-bench's own liblogbus follower (its p50/p99).
  followers  --followers SSE clients follow every record at --rate per
             second: logbus-http's CPU (utime + stime from /proc/PID/stat
             over the run) and memory (VmRSS before and after, VmHWM), and
             whether every follower got every record.

Each is run --rounds times; the table shows the medians of the rounds.
Usage: tools/bench/http_sse.py --bin build-opt/bin [--rate 1000]
       [--seconds 10] [--followers 100] [--rounds 3] [--json]
Exit status: 0 done, 1 a round failed (a record lost, a program that did not
start), 2 bad arguments.
"""
import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")
TIMEOUT = 60  # seconds any wait on a condition may take


class Failed(Exception):
    pass


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]


# ---- the programs ------------------------------------------------------------


class Rig:
    """A logbusd and a logbus-http in a temporary directory."""

    def __init__(self, bin_dir, followers):
        self.bin = bin_dir
        self.dir = tempfile.mkdtemp(prefix="logbus-http-bench.")
        self.run = os.path.join(self.dir, "run")
        conf = os.path.join(self.dir, "http.conf")
        with open(conf, "w") as f:
            f.write("[limits]\nmax-streams = %d\nmax-connections = %d\n"
                    % (followers + 16, followers + 32))
        self.procs = []
        self.broker = self.spawn(["logbusd", "--run-dir", self.run,
                                  "--log-dir", os.path.join(self.dir, "log")],
                                 "logbusd.err")
        self.wait(lambda: os.path.exists(os.path.join(self.run, "live.sock")),
                  "logbusd's sockets")
        self.http = self.spawn(["logbus-http", "--run-dir", self.run,
                                "--config", conf, "--listen", "127.0.0.1:0"],
                               "http.err")
        self.port = None

        def listening():
            with open(os.path.join(self.dir, "http.err")) as f:
                for line in f:
                    if "listening on http://127.0.0.1:" in line:
                        self.port = int(line.rsplit(":", 1)[1].strip(" /\n"))
                        return True
            return False

        self.wait(listening, "logbus-http listening")

    def spawn(self, argv, err):
        p = subprocess.Popen([os.path.join(self.bin, argv[0])] + argv[1:],
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.dir, err), "w"))
        self.procs.append(p)
        return p

    def wait(self, cond, what):
        end = time.monotonic() + TIMEOUT
        while not cond():
            for p in self.procs:
                if p.poll() is not None:
                    raise Failed("%s exited (%s) while waiting for %s"
                                 % (p.args[0], p.returncode, what))
            if time.monotonic() > end:
                raise Failed("no %s within %d s" % (what, TIMEOUT))
            time.sleep(0.02)

    def publish(self, service, message):
        subprocess.run([os.path.join(self.bin, "logbusctl"), "--run-dir",
                        self.run, "publish", "-s", service, message],
                       check=True, stdout=subprocess.DEVNULL)

    def stats(self):
        url = "http://127.0.0.1:%d/v1/stats" % self.port
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)

    def bench(self, rate, seconds):
        """logbus-bench's live mode at rate for seconds: its JSON."""
        out = subprocess.run(
            [os.path.join(self.bin, "logbus-bench"), "--mode", "live",
             "--run-dir", self.run, "--rates", str(rate), "--seconds",
             str(seconds), "--json"], check=True, capture_output=True,
            text=True).stdout
        return json.loads(out)["live_results"][0]

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])  # KiB
            elif k == "Threads":
                out[k] = int(v)
    return out


# ---- the clients ---------------------------------------------------------------


async def sse_open(port, query):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(("GET /v1/logs?%s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
             "Accept: text/event-stream\r\n\r\n" % query).encode())
    await w.drain()
    status = await r.readline()
    if b" 200 " not in status:
        raise Failed("/v1/logs?%s: %s" % (query, status.decode().strip()))
    while (await r.readline()) not in (b"\r\n", b""):
        pass
    return r, w


async def sse_latency(port, lat, seen):
    """Records as they arrive: (time_ns, arrival - time_ns) into lat."""
    r, w = await sse_open(port, "tail=0&format=json")
    data = []
    try:
        while True:
            line = await r.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                data.append(line[6:])
            elif line == b"\n" and data:
                now = time.time_ns()
                rec = json.loads(b"".join(data))
                data = []
                seen.add(rec["message"])
                if rec["service"].startswith("logbus-bench."):
                    lat.append((rec["time_ns"], now - rec["time_ns"]))
    finally:
        w.close()


async def tail_latency(rig, lat, seen):
    p = await asyncio.create_subprocess_exec(
        os.path.join(rig.bin, "logbusctl"), "--run-dir", rig.run, "tail",
        "-f", "-n", "0", "-o", "json", stdout=asyncio.subprocess.PIPE,
        limit=1 << 20)
    try:
        while True:
            line = await p.stdout.readline()
            if not line:
                return
            now = time.time_ns()
            if not line.startswith(b"{"):
                continue
            rec = json.loads(line)
            seen.add(rec["message"])
            if rec["service"].startswith("logbus-bench."):
                lat.append((rec["time_ns"], now - rec["time_ns"]))
    finally:
        if p.returncode is None:
            p.terminate()
            await p.wait()


async def follower(port, counts, i, marks):
    """A follower that only counts events and the end mark's arrival."""
    r, w = await sse_open(port, "tail=0")
    tail = b""
    try:
        while True:
            chunk = await r.read(1 << 16)
            if not chunk:
                return
            buf = tail + chunk
            counts[i] += buf.count(b"event: log\n") - tail.count(b"event: log\n")
            for m in marks:
                if m in buf:
                    marks[m].add(i)
            tail = buf[-64:]
    finally:
        w.close()


async def until(cond, what):
    end = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > end:
            raise Failed("no %s within %d s" % (what, TIMEOUT))
        await asyncio.sleep(0.02)


def warm(lat):
    """Latencies of the records after logbus-bench's 0.5 s of warm-up, us."""
    if not lat:
        raise Failed("no record of logbus-bench arrived")
    t0 = min(t for t, _ in lat)
    return [d / 1000 for t, d in lat if t >= t0 + 500_000_000]


# ---- one round of each ---------------------------------------------------------


async def round_latency(rig, rate, seconds):
    sse, tail, sse_seen, tail_seen = [], [], set(), set()
    tasks = [asyncio.create_task(sse_latency(rig.port, sse, sse_seen)),
             asyncio.create_task(tail_latency(rig, tail, tail_seen))]
    try:
        # Both follow once both saw a record published after they started.
        n = 0
        while True:
            n += 1
            await asyncio.to_thread(rig.publish, "probe", "ready %d" % n)
            try:
                await asyncio.wait_for(until(
                    lambda: ("ready %d" % n) in sse_seen and
                    ("ready %d" % n) in tail_seen, "probe"), 1)
                break
            except (asyncio.TimeoutError, Failed):
                for t in tasks:
                    if t.done():
                        t.result()
                if n > TIMEOUT:
                    raise Failed("the SSE client or tail -f never followed")
        res = await asyncio.to_thread(rig.bench, rate, seconds)
        await asyncio.to_thread(rig.publish, "probe", "end")
        await until(lambda: "end" in sse_seen and "end" in tail_seen,
                    "end of the run at both readers")
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    want = res["received"]
    if len(sse) < want or len(tail) < want:
        raise Failed("records lost: logbus-bench's follower got %d, SSE %d, "
                     "tail -f %d" % (want, len(sse), len(tail)))
    s, t = warm(sse), warm(tail)
    return {"sse_p50_us": percentile(s, 50), "sse_p99_us": percentile(s, 99),
            "tail_p50_us": percentile(t, 50),
            "tail_p99_us": percentile(t, 99),
            "liblogbus_p50_us": res["live_latency_us_p50"],
            "liblogbus_p99_us": res["live_latency_us_p99"],
            "records": res["published"]}


async def round_followers(rig, rate, seconds, nfollowers):
    counts = [0] * nfollowers
    end_mark = "end-%d" % time.time_ns()
    marks = {end_mark.encode(): set()}
    rss_idle = proc_status(rig.http.pid)["VmRSS"]
    tasks = [asyncio.create_task(follower(rig.port, counts, i, marks))
             for i in range(nfollowers)]
    try:
        await until(lambda: rig.stats()["http"]["streams"] >= nfollowers,
                    "%d streams open" % nfollowers)
        before = rig.stats()["http"]
        cpu0, t0 = proc_cpu_s(rig.http.pid), time.monotonic()
        res = await asyncio.to_thread(rig.bench, rate, seconds)
        await asyncio.to_thread(rig.publish, "probe", end_mark)
        await until(lambda: len(marks[end_mark.encode()]) == nfollowers,
                    "the end at every follower")
        cpu1, t1 = proc_cpu_s(rig.http.pid), time.monotonic()
        st = proc_status(rig.http.pid)
        after = rig.stats()["http"]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # Every follower: the bench's records (its probes included) + our mark.
    short = [c for c in counts if c < res["published"] + 1]
    if short or after["stalled_dropped"] != before["stalled_dropped"]:
        raise Failed("followers short of records: %d of %d (fewest %d of %d)"
                     % (len(short), nfollowers, min(counts),
                        res["published"] + 1))
    return {"followers": nfollowers, "records": res["published"],
            "cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0),
            "rss_idle_kib": rss_idle, "rss_kib": st["VmRSS"],
            "hwm_kib": st["VmHWM"], "threads": st["Threads"]}


def median_of(rounds):
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--followers", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    lat, fol = [], []
    rig = None
    try:
        for _ in range(a.rounds):
            rig = Rig(os.path.abspath(a.bin), a.followers)
            lat.append(asyncio.run(round_latency(rig, a.rate, a.seconds)))
            rig.close()
            rig = Rig(os.path.abspath(a.bin), a.followers)
            fol.append(asyncio.run(round_followers(rig, a.rate, a.seconds,
                                                   a.followers)))
            rig.close()
            rig = None
    except (Failed, subprocess.CalledProcessError, OSError) as e:
        print("http_sse.py: %s" % e, file=sys.stderr)
        if rig:
            for name in ("logbusd.err", "http.err"):
                with open(os.path.join(rig.dir, name)) as f:
                    sys.stderr.write(name + ":\n" + f.read()[-2000:])
            rig.close()
        return 1
    L, F = median_of(lat), median_of(fol)
    if a.json:
        print(json.dumps({"rate": a.rate, "seconds": a.seconds,
                          "rounds": a.rounds, "latency": L, "followers": F,
                          "latency_rounds": lat, "followers_rounds": fol}))
        return 0
    print("logbus-http, %d records/s for %g s, median of %d rounds (%d cpus)"
          % (a.rate, a.seconds, a.rounds, os.cpu_count()))
    print("publish-to-event latency     p50        p99")
    for name, k in (("SSE /v1/logs (json)", "sse"),
                    ("logbusctl tail -f -o json", "tail"),
                    ("liblogbus follower", "liblogbus")):
        print("  %-26s %7.2f ms %7.2f ms" % (name, L[k + "_p50_us"] / 1000,
                                             L[k + "_p99_us"] / 1000))
    print("%d SSE followers: logbus-http %.1f%% of a CPU, RSS %.1f MiB "
          "(%.1f MiB idle, peak %.1f MiB), %d threads"
          % (F["followers"], F["cpu_percent"], F["rss_kib"] / 1024,
             F["rss_idle_kib"] / 1024, F["hwm_kib"] / 1024, F["threads"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
