"""test_reader: reading back from a real logbusd: read()'s positions and
filters, subscribe() as an iterator, with on_log on a thread (stop, join,
errors surfaced) and with async for; resuming by cursor; wait_for and
messages."""

import asyncio
import os
import threading
import time

import pytest

import logbus
from conftest import records


def publish(broker, service, n, prefix="m", **kw):
    with logbus.Publisher(service, run_dir=broker.run_dir) as pub:
        for i in range(n):
            pub.log(kw.get("level", 20), "%s%d" % (prefix, i),
                    fields={"i": i, "even": i % 2 == 0},
                    logger=kw.get("logger"), stream=kw.get("stream", "log"))
        pub.flush()


def test_positions_and_filters(broker, service):
    publish(broker, service, 10)
    publish(broker, service, 3, prefix="w", level=30,
            logger="pactown.health", stream="stderr")
    msgs = lambda **kw: [r.message for r in records(broker, service, **kw)]
    assert len(msgs()) == 13
    assert msgs(tail=2) == ["w1", "w2"]
    assert msgs(level="warning") == ["w0", "w1", "w2"]
    assert msgs(logger="pactown") == ["w0", "w1", "w2"]
    assert msgs(stream="stderr") == ["w0", "w1", "w2"]
    assert msgs(stream=["log"], fields={"even": "true"}, regex="^m[0-3]$") \
        == ["m0", "m2"]
    every = records(broker, service)
    assert msgs(cursor=every[9].cursor) == ["w0", "w1", "w2"]
    assert msgs(since=every[10].datetime) == ["w0", "w1", "w2"]
    assert msgs(until=every[1].datetime) == ["m0"]
    assert msgs(since=every[12].time_ns / 1e9 - 3600, tail=1) == ["w2"]
    assert msgs(max_level="info", regex="^m[01]$") == ["m0", "m1"]
    assert msgs(level=30, max_level=30, tail=1) == ["w2"]
    mine = dict(pid=os.getpid(), uid=[os.getuid()], gid=os.getgid())
    assert len(msgs(**mine)) == 13
    assert msgs(pid=[os.getpid() + 1000000]) == []
    assert len(msgs(comm=every[0].comm)) == 13
    assert msgs(comm=["nobody-runs-me"]) == []
    assert list(logbus.read(service=service + "_none",
                            run_dir=broker.run_dir)) == []
    with pytest.raises(logbus.LogbusError, match="regular expression|regex"):
        logbus.read(service=service, regex="(", run_dir=broker.run_dir)
    with pytest.raises(ValueError, match="one start position"):
        logbus.read(tail=1, cursor=every[0].cursor)
    r = every[3]
    assert (r.levelname, r.stream, r.fields) == ("INFO", "log",
                                                  {"i": 3, "even": False})
    assert r.seq > every[2].seq and r.datetime.year >= 2024


def test_resume_by_cursor(broker, service):
    publish(broker, service, 5)
    with logbus.read(service=service, run_dir=broker.run_dir) as r:
        first = [next(r).message for _ in range(2)]
        cursor = r.cursor
    publish(broker, service, 2, prefix="late")
    rest = [x.message for x in logbus.read(service=service, cursor=cursor,
                                           run_dir=broker.run_dir)]
    assert first == ["m0", "m1"]
    assert rest == ["m2", "m3", "m4", "late0", "late1"]
    got = logbus.messages(service, run_dir=broker.run_dir, tail=1)
    assert got == ["late1"]
    assert logbus.messages(service, since=got.cursor,
                           run_dir=broker.run_dir) == []


def test_subscribe_iterator_follows(broker, service):
    sub = logbus.subscribe(service=service, run_dir=broker.run_dir)
    t = threading.Thread(target=publish, args=(broker, service, 50))
    t.start()
    got = []
    for rec in sub:
        got.append(rec.message)
        if len(got) == 50:
            break
    sub.close()
    t.join()
    assert got == ["m%d" % i for i in range(50)]


def test_on_log_thread_stop_and_errors(broker, service):
    got, done = [], threading.Event()

    def on_log(rec):
        got.append(rec.message)
        if len(got) == 20:
            done.set()

    sub = logbus.subscribe(on_log, service=service, run_dir=broker.run_dir)
    assert isinstance(sub, logbus.Subscription) and sub.running
    publish(broker, service, 20)
    assert done.wait(30)
    sub.stop()
    assert sub.join(30) is True and not sub.running
    assert got == ["m%d" % i for i in range(20)]

    def broken(rec):
        raise KeyError("on_log failed on " + rec.message)

    sub = logbus.subscribe(broken, service=service, tail=1,
                           run_dir=broker.run_dir)
    with pytest.raises(KeyError, match="on_log failed on m19"):
        sub.join(30)

    seen = []
    sub = logbus.subscribe(lambda r: seen.append(r) or False,
                           service=service, tail=3, run_dir=broker.run_dir)
    assert sub.join(30) is True and len(seen) == 1  # False ends it

    errors = []
    sub = logbus.subscribe(lambda r: 1 / 0, service=service, tail=2,
                           on_error=lambda e: errors.append(e) or True,
                           follow=False, run_dir=broker.run_dir)
    assert sub.join(30) is True
    assert [type(e) for e in errors] == [ZeroDivisionError] * 2


def test_async_for(broker, service):
    async def main():
        got = []
        sub = logbus.subscribe(service=service, run_dir=broker.run_dir)
        task = asyncio.get_running_loop().run_in_executor(
            None, publish, broker, service, 30)
        async for rec in sub:
            got.append(rec.message)
            if len(got) == 30:
                break
        await sub.aclose()
        await task
        snapshot = [r.message async for r in logbus.read(
            service=service, run_dir=broker.run_dir)]
        return got, snapshot

    got, snapshot = asyncio.run(main())
    assert got == snapshot == ["m%d" % i for i in range(30)]


def test_wait_for_success_and_timeout(broker, service):
    since = time.time()

    def later():
        publish(broker, service, 3, prefix="starting")
        with logbus.Publisher(service, run_dir=broker.run_dir) as pub:
            pub.info("Uvicorn running on http://0.0.0.0:8001")

    t = threading.Thread(target=later)
    t.start()
    rec = logbus.wait_for(service, "Uvicorn running on", timeout=30,
                          run_dir=broker.run_dir)
    t.join()
    assert rec.message.startswith("Uvicorn running on")
    # already there: found from a time on, or after a cursor
    again = logbus.wait_for(service, "Uvicorn", timeout=30, since=since,
                            run_dir=broker.run_dir)
    assert again.seq == rec.seq
    start = time.monotonic()
    with pytest.raises(logbus.LogbusTimeout, match="no record of .* matched"):
        logbus.wait_for(service, "never printed", timeout=0.5,
                        cursor=rec.cursor, run_dir=broker.run_dir)
    assert 0.4 < time.monotonic() - start < 10
    with pytest.raises(TimeoutError):
        logbus.wait_for(service, "Uvicorn", timeout=0.3,
                        run_dir=broker.run_dir)
