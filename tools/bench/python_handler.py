#!/usr/bin/python3
"""python_handler.py: what Python's logging costs through logbus.Handler,
beside logging.FileHandler and logging.handlers.QueueHandler (with a
QueueListener writing a FileHandler) in the same run, same records.

Each handler gets the same workload: --records logger.info calls of a
--size byte message with 3 extra= fields, from one thread.
  records/s  first call to the last record where its handler promises it:
             logbus: Handler.flush() returned (acknowledged by the broker,
             in the journal and the routed files); FileHandler: written
             (it flushes each record); QueueHandler: the listener stopped
             after writing the last one.
  call ns    each logger.info timed with perf_counter_ns, in bursts of
             1,000 with the handler drained between bursts (untimed), so
             what is timed is the caller's cost, not a full queue's; p50
             and p99 over --calls calls.
FileHandler and the queue's FileHandler use the layout logbusd writes,
"%(asctime)s [%(levelname)s] %(name)s: %(message)s" (the fields are not
in the file; logbus keeps them typed).

It starts its own logbusd (BUILD/bin/logbusd, quiet, in a temporary
directory) unless --run-dir names a running one, and loads
BUILD/lib/liblogbus.so unless $LOGBUS_LIBRARY is set.

    tools/bench/python_handler.py --build build-rel [--records N] [--json]
"""

import argparse
import json
import logging
import logging.handlers
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LAYOUT = "%(asctime)s [%(levelname)s] %(name)s: %(message)s"


def start_broker(build, top):
    run_dir = os.path.join(top, "run")
    proc = subprocess.Popen(
        [os.path.join(build, "bin", "logbusd"), "--run-dir", run_dir,
         "--log-dir", os.path.join(top, "log"), "--quiet"],
        stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not all(os.path.exists(os.path.join(run_dir, s))
                  for s in ("ingest.sock", "query.sock", "live.sock")):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("python_handler: logbusd did not start in %s" % top)
        time.sleep(0.02)
    return proc, run_dir


class Case:
    """One handler under test: make() returns (handler, drain, finish)."""

    def __init__(self, name, make):
        self.name, self.make = name, make


def file_case(path):
    def make():
        h = logging.FileHandler(path)
        h.setFormatter(logging.Formatter(LAYOUT))
        return h, lambda: None, h.close
    return make


def queue_case(path):
    def make():
        fh = logging.FileHandler(path)
        fh.setFormatter(logging.Formatter(LAYOUT))
        q = queue.SimpleQueue()
        listener = logging.handlers.QueueListener(q, fh)
        listener.start()

        def drain():
            while not q.empty():
                time.sleep(0.001)

        def finish():
            listener.stop()
            fh.close()
        return logging.handlers.QueueHandler(q), drain, finish
    return make


def logbus_case(logbus, run_dir, service):
    def make():
        h = logbus.Handler(service, run_dir=run_dir, on_full="block",
                           flush_timeout=120)
        return h, h.flush, h.close
    return make


def one_logger(name, handler):
    lg = logging.getLogger(name)
    lg.handlers[:] = [handler]
    lg.propagate = False
    lg.setLevel(logging.INFO)
    return lg


def throughput(case, records, message):
    handler, _, finish = case.make()
    lg = one_logger("bench." + case.name, handler)
    extra = {"user": "user123", "port": 8001, "ratio": 0.5}
    start = time.perf_counter()
    for _ in range(records):
        lg.info(message, extra=extra)
    finish()
    return records / (time.perf_counter() - start)


def call_cost(case, calls, message):
    handler, drain, finish = case.make()
    lg = one_logger("bench." + case.name + ".call", handler)
    extra = {"user": "user123", "port": 8001, "ratio": 0.5}
    clock = time.perf_counter_ns
    ns = []
    while len(ns) < calls:
        for _ in range(1000):
            t0 = clock()
            lg.info(message, extra=extra)
            ns.append(clock() - t0)
        drain()
    finish()
    ns.sort()
    return ns[len(ns) // 2], ns[len(ns) * 99 // 100]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(TOP, "build"),
                    help="the build directory (bin/logbusd, lib/liblogbus.so)")
    ap.add_argument("--run-dir", help="a running logbusd's run directory")
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--size", type=int, default=200, help="message bytes")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ.setdefault("LOGBUS_LIBRARY",
                          os.path.join(build, "lib", "liblogbus.so"))
    sys.path.insert(0, os.path.join(TOP, "client", "python"))
    import logbus

    top = tempfile.mkdtemp(prefix="logbus-pybench.")
    broker = None
    try:
        run_dir = a.run_dir
        if run_dir is None:
            broker, run_dir = start_broker(build, top)
        message = ("Creating sandbox for service_123 " * 8)[:a.size]
        cases = [
            Case("logbus", logbus_case(logbus, run_dir, "pybench")),
            Case("file", file_case(os.path.join(top, "file.log"))),
            Case("queue", queue_case(os.path.join(top, "queue.log"))),
        ]
        out = {}
        for c in cases:
            out[c.name + "_records_per_s"] = round(
                throughput(c, a.records, message))
        for c in cases:
            p50, p99 = call_cost(c, a.calls, message)
            out[c.name + "_call_ns_p50"] = p50
            out[c.name + "_call_ns_p99"] = p99
        out["logbus_vs_file_call_p50"] = round(
            out["logbus_call_ns_p50"] / out["file_call_ns_p50"], 2)
        out["logbus_library"] = logbus.library_path()
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(60)
        shutil.rmtree(top, ignore_errors=True)
    if a.json:
        print(json.dumps(out))
        return
    print("%-8s %12s %12s %12s" % ("handler", "records/s", "call p50 ns",
                                   "call p99 ns"))
    for name in ("logbus", "file", "queue"):
        print("%-8s %12d %12d %12d" % (
            name, out[name + "_records_per_s"], out[name + "_call_ns_p50"],
            out[name + "_call_ns_p99"]))
    print("logbus.Handler per call: %.2fx FileHandler's (p50)"
          % out["logbus_vs_file_call_p50"])


if __name__ == "__main__":
    main()
