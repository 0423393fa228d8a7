"""test_publisher: logbus.Publisher against a real logbusd: fields and
levels, flush, close and the with-block, and what it refuses, said
clearly."""

import pytest

import logbus
from conftest import records


def test_log_flush_and_context_manager(broker, service):
    with logbus.Publisher(service, run_dir=broker.run_dir,
                          logger="pactown.sandbox") as pub:
        pub.info("Creating sandbox", user="user123", port=8001)
        pub.log("warning", "slow", logger="pactown.health",
                fields={"ms": 950.5}, stream="stderr")
        pub.flush()
        assert pub.stats()["committed"] == 2
    assert pub.closed
    a, b = records(broker, service)
    assert (a.level, a.logger, a.message, a.stream) == (
        20, "pactown.sandbox", "Creating sandbox", "log")
    assert a.fields == {"user": "user123", "port": 8001}
    assert (b.level, b.logger, b.stream, b.fields) == (
        30, "pactown.health", "stderr", {"ms": 950.5})


def test_refusals_say_why(broker, service):
    with pytest.raises(logbus.LogbusError, match="cannot publish as service "
                       "'../etc'"):
        logbus.Publisher("../etc", run_dir=broker.run_dir)
    with logbus.Publisher(service, run_dir=broker.run_dir) as pub:
        with pytest.raises(logbus.LogbusError) as e:
            pub.log(20, "x", fields={"bad key": 1})
        assert e.value.code == -1 and e.value.name == "LOGBUS_EINVAL"
        with pytest.raises(ValueError, match="unknown level"):
            pub.log("loud", "x")
    with pytest.raises(logbus.LogbusError, match="closed"):
        pub.info("after close")


def test_fail_fast_without_a_broker(tmp_path):
    pub = logbus.Publisher("py_failfast", run_dir=str(tmp_path),
                           fail_fast=True)
    pub.info("kept")
    with pytest.raises(logbus.LogbusError) as e:
        pub.flush(30)
    assert e.value.name == "LOGBUS_EUNREACHABLE"
    with pytest.raises(logbus.LogbusError):
        pub.close(0)
