"""conftest: the fixtures of the binding's tests: a real logbusd from the
build directory in a temporary directory (one per pytest run), service
names of their own per test, and logbusctl pointed at that broker.

The build directory is $LOGBUS_BUILD_DIR (ctest sets it), else build/ at
the top of the source tree; the package is imported from the source tree
and loads $LOGBUS_LIBRARY, else the build directory's liblogbus.so.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
TOP = os.path.dirname(os.path.dirname(PYDIR))
BUILD = os.path.abspath(os.environ.get("LOGBUS_BUILD_DIR")
                        or os.path.join(TOP, "build"))
BIN = os.path.join(BUILD, "bin")
LIBRARY = os.path.join(BUILD, "lib", "liblogbus.so")

sys.path.insert(0, PYDIR)
os.environ.setdefault("LOGBUS_LIBRARY", LIBRARY)
# Children run as we are (multiprocessing's spawn, subprocesses importing
# logbus) find the same package.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [PYDIR] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
               if p])


def wait_until(cond, timeout=20.0, what="a condition"):
    """Poll cond every 20 ms until it is true; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out after %g s waiting for %s" % (timeout,
                                                                 what))
        time.sleep(0.02)


class Broker:
    """A logbusd of the test run's own."""

    def __init__(self, top):
        self.top = top
        self.run_dir = os.path.join(top, "run")
        self.log_dir = os.path.join(top, "log")
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)  # its own sanitizers, if any, are linked
        self.err = open(os.path.join(self.top, "broker.err"), "ab")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "logbusd"), "--run-dir", self.run_dir,
             "--log-dir", self.log_dir, "--quiet"],
            env=env, stdin=subprocess.DEVNULL, stdout=self.err,
            stderr=self.err)

        def up():
            if self.proc.poll() is not None:
                pytest.fail("logbusd exited %d: %s" % (
                    self.proc.returncode, open(self.err.name).read()))
            return all(os.path.exists(os.path.join(self.run_dir, s))
                       for s in ("ingest.sock", "query.sock", "live.sock"))
        wait_until(up, what="logbusd's sockets")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(60)
            self.proc = None
            self.err.close()

    def ctl(self, *args, check=True, **kw):
        """logbusctl --run-dir RUN_DIR ARGS, its output as text."""
        return subprocess.run(
            [os.path.join(BIN, "logbusctl"), "--run-dir", self.run_dir]
            + list(args), check=check, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def broker():
    top = tempfile.mkdtemp(prefix="logbus-py.")
    b = Broker(top)
    b.start()
    os.environ["LOGBUS_RUN_DIR"] = b.run_dir
    try:
        yield b
    finally:
        b.stop()
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def service(request, broker):
    """A service id no other test uses."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:100]
    return "py_" + name


def records(broker, service, **kw):
    """Every record of service, as logbus.Record objects."""
    import logbus
    return list(logbus.read(service=service, run_dir=broker.run_dir, **kw))
