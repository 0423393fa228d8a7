"""test_handler: logbus.Handler against a real logbusd: what a logging call
becomes (level, logger, message, typed extra fields, exception and stack,
thread and process names), dictConfig, 8 threads x 100,000 records with
none lost, a broker that is not there, fork and multiprocessing children,
and a service per record."""

import logging
import logging.config
import multiprocessing
import os
import threading
import time

import pytest

import logbus
from conftest import records



@pytest.fixture
def log(broker, service):
    """A logger of its own with a Handler for service, removed after."""
    h = logbus.Handler(service, run_dir=broker.run_dir)
    lg = logging.getLogger("pactown.test." + service)
    lg.setLevel(1)
    lg.propagate = False
    lg.addHandler(h)
    yield lg
    lg.removeHandler(h)
    h.close()


def test_levels_logger_message_and_fields_round_trip(log, broker, service):
    logging.addLevelName(25, "NOTICE")
    log.debug("d")
    log.info("Creating sandbox for %s", "service_123",
             extra={"user": "user123", "port": 8001, "ratio": 0.25,
                    "ready": True, "weird key!": [1, 2]})
    log.warning("w")
    log.error("e")
    log.critical("c")
    log.log(25, "custom")
    log.log(5, "below debug")
    log.handlers[0].flush()
    got = records(broker, service)
    assert [(r.level, r.message) for r in got] == [
        (10, "d"), (20, "Creating sandbox for service_123"), (30, "w"),
        (40, "e"), (50, "c"), (25, "custom"), (5, "below debug")]
    assert {r.logger for r in got} == {log.name}
    f = got[1].fields
    assert f["user"] == "user123" and f["port"] == 8001
    assert f["ratio"] == 0.25 and f["ready"] is True
    assert f["weird_key_"] == "[1, 2]"
    assert f["threadName"] == "MainThread"
    assert f["processName"] == "MainProcess"
    assert "levelname" not in f
    assert got[5].fields["levelname"] == "NOTICE"
    assert got[1].pid == os.getpid() and got[1].uid == os.getuid()


def test_exception_and_stack_are_fields(log, broker, service):
    try:
        raise ValueError("bad value 42")
    except ValueError:
        log.exception("Health check failed")
    log.info("where", stack_info=True)
    log.handlers[0].flush()
    exc, stack = records(broker, service)
    assert exc.level == 40 and exc.message == "Health check failed"
    assert exc.fields["exc_type"] == "ValueError"
    assert exc.fields["exc_info"].startswith("Traceback (most recent call")
    assert exc.fields["exc_info"].endswith("ValueError: bad value 42")
    assert stack.fields["stack_info"].startswith("Stack (most recent call")
    assert "exc_info" not in stack.fields


def test_dict_config(broker, service):
    logging.config.dictConfig({
        "version": 1, "disable_existing_loggers": False,
        "handlers": {"bus": {"class": "logbus.Handler", "service": service,
                             "run_dir": broker.run_dir, "level": "INFO"}},
        "loggers": {"pactown.dict": {"handlers": ["bus"], "level": "DEBUG",
                                     "propagate": False}}})
    lg = logging.getLogger("pactown.dict")
    lg.debug("filtered by the handler's level")
    lg.info("through dictConfig")
    h = lg.handlers[0]
    assert isinstance(h, logbus.Handler)
    h.flush()
    assert [r.message for r in records(broker, service)] == [
        "through dictConfig"]
    lg.removeHandler(h)
    h.close()


def test_eight_threads_100000_records_each_none_lost(log, broker, service):
    n, threads = 100000, 8
    log.handlers[0].publisher  # opened
    h = log.handlers[0]
    h.close()
    log.removeHandler(h)
    h = logbus.Handler(service, run_dir=broker.run_dir, on_full="block")
    log.addHandler(h)

    def work(t):
        for i in range(n):
            log.info("r", extra={"t": t, "i": i})

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    h.flush()
    st = h.publisher.stats()
    assert st["dropped"] == 0 and st["rejected"] == 0
    assert st["committed"] == n * threads
    seen = [-1] * threads
    count = 0
    for r in logbus.read(service=service, run_dir=broker.run_dir):
        t, i = r.fields["t"], r.fields["i"]
        assert i == seen[t] + 1, "thread %d: %d after %d" % (t, i, seen[t])
        seen[t] = i
        count += 1
    assert count == n * threads


def test_no_broker_never_blocks_nor_raises(tmp_path, capsys):
    h = logbus.Handler("py_nobroker", run_dir=str(tmp_path), flush_timeout=0.2,
                       close_timeout=0.2, queue_bytes=64 * 1024)
    lg = logging.getLogger("pactown.nobroker")
    lg.propagate = False
    lg.addHandler(h)
    start = time.monotonic()
    for i in range(5000):  # far more than the queue holds
        lg.warning("nobody listens %d", i, extra={"pad": "x" * 100})
    assert time.monotonic() - start < 10
    assert h.publisher.stats()["dropped"] > 0
    h.flush()  # says so on stderr, does not raise
    lg.removeHandler(h)
    h.close()
    assert "logbus.Handler(py_nobroker)" in capsys.readouterr().err


def test_bad_record_goes_to_handle_error(log, broker, service, capsys):
    log.info("ok")
    log.handlers[0].publisher.close()
    log.info("after close")  # no exception reaches us
    assert "Traceback" in capsys.readouterr().err


def test_one_handler_many_services(log, broker, service):
    log.info("as the handler's service")
    log.info("as another", extra={"service": service + "_other"})
    log.handlers[0].flush()
    assert [r.message for r in records(broker, service)] == [
        "as the handler's service"]
    other = records(broker, service + "_other")
    assert [r.message for r in other] == ["as another"]
    assert "service" not in other[0].fields


def _child_logs(name, run_dir, n):
    lg = logging.getLogger(name)
    for i in range(n):
        lg.info("child", extra={"i": i, "child": os.getpid()})
    for h in lg.handlers:
        h.flush()


def reap_all(pids, timeout):
    """The exit codes of pids; one still running after timeout seconds is
    killed (a child stuck on a lock its parent's thread held at fork must
    not hang the test run)."""
    codes = {}
    deadline = time.monotonic() + timeout
    while len(codes) < len(pids) and time.monotonic() < deadline:
        for pid in pids:
            if pid not in codes:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[pid] = os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    for pid in pids:
        if pid not in codes:
            os.kill(pid, 9)
            codes[pid] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return [codes[p] for p in pids]


def test_forked_children_log_through_the_parents_handler(log, broker,
                                                         service):
    log.info("parent before fork")
    pids = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _child_logs(log.name, broker.run_dir, 10000)
                code = 0 if log.handlers[0].publisher.stats()[
                    "committed"] >= 10000 else 1
            finally:
                os._exit(code)
        pids.append(pid)
    assert reap_all(pids, 60) == [0] * 4
    log.handlers[0].flush()
    got = [r for r in records(broker, service) if r.message == "child"]
    by_child = {}
    for r in got:
        by_child.setdefault(r.pid, []).append(r.fields["i"])
    assert sorted(by_child) == sorted(pids)
    assert all(v == list(range(10000)) for v in by_child.values())


def test_multiprocessing_children(log, broker, service):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child_logs,
                         args=(log.name, broker.run_dir, 1000))
             for _ in range(4)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(60)
    finally:
        for p in procs:
            if p.exitcode is None:  # stuck: it must not outlive the test
                p.kill()
                p.join()
    assert [p.exitcode for p in procs] == [0] * 4
    got = [r for r in records(broker, service) if r.message == "child"]
    assert len(got) == 4000
    assert {r.fields["processName"] for r in got} == {p.name for p in procs}
