"""process: a service's process supervised as `logbusctl run` does it, and
the exit report of a process started any other way.

Process (and run(), which waits for it) starts a command with its stdout
and stderr on pipes; each line becomes a record of the service (stream
stdout at INFO, stderr at WARNING unless stdout_level/stderr_level say
otherwise; a line that starts with its own level, `INFO:` or `[ERROR]`,
keeps it unless detect_level=False: liblogbus's logbus_line_level, the
rule of `logbusctl run`), the first record is "Process started with PID: N" (fields pid
and cmd), and its end is an exit report from which logbusd writes
service_<id>_error.log, byte for byte as `logbusctl run` has it: the same
command line, absolute working directory and venv, the last tail_bytes of
each stream (kept by liblogbus's logbus_tail) and the names in the working
directory.  report_exit() publishes that report for a subprocess.Popen
that has ended or a subprocess.CompletedProcess.

Invariants: only the supervising thread reaps the child (os.waitpid, never
Popen.wait or poll), and a signal is sent only under the lock that the
reaping takes, while the child is known not to be reaped: never to a pid
the system may have given to another process.  The publisher it opens
drops records rather than block (a broker that is away never stalls the
command); the report waits for the broker at most report_timeout.  A line
longer than 64 KiB goes out in pieces with the fields part (1, 2, ...) and
more (true but on the last); once the child ended, its pipes are read until
they close or stay quiet for 0.5 s (a process it left behind may hold
them).
"""

import ctypes
import os
import selectors
import subprocess
import threading
import time

from . import _fields, _lib
from .publisher import Publisher, _ms

PIECE_MAX = 64 * 1024
READ_CHUNK = 64 * 1024
DRAIN_QUIET = 0.5
TAIL_DEFAULT = 64 * 1024
QUEUE_BYTES = 32 << 20
CMD_TEXT_MAX = 16 * 1024
ARGV_MAX = 32 * 1024


def _abs_dir(d):
    """d made absolute as logbusctl run makes it (not normalised), so that
    both write the same CWD: line."""
    d = os.fspath(d)
    if d.startswith("/"):
        return d
    here = os.getcwd()
    return here if d == "." else here + "/" + d


def _utf8(s):
    """A command-line word or path as valid UTF-8 bytes."""
    if isinstance(s, str):
        s = os.fsencode(s)
    return s.decode("utf-8", "replace").encode("utf-8")


def _argv(args):
    """The report's command line: at most ARGV_MAX bytes, then a note of
    the arguments left out (as logbusctl run writes it)."""
    out, size = [], 0
    for i, a in enumerate(args):
        b = _utf8(a)
        if i > 0 and size + len(os.fsencode(a) if isinstance(a, str) else a) \
                > ARGV_MAX:
            out.append(b"[... %d more arguments]" % (len(args) - i))
            break
        out.append(b)
        size += len(b)
    return out


def _command_text(args):
    text = " ".join(_utf8(a).decode() for a in args)
    if len(text.encode()) > CMD_TEXT_MAX:
        text = text.encode()[:CMD_TEXT_MAX].decode("utf-8", "ignore") + \
            " ..."
    return text


class _Tail:
    """The newest bytes of a stream, in liblogbus's logbus_tail."""

    def __init__(self, size):
        self.h = _lib.lib().logbus_tail_new(size)
        if not self.h:
            raise MemoryError("logbus: no memory for a tail of %d bytes"
                              % size)

    def add(self, data):
        if data:
            _lib.lib().logbus_tail_add(self.h, data, len(data))

    def free(self):
        if self.h:
            _lib.lib().logbus_tail_free(self.h)
            self.h = None


def _publish_exit(pub, *, pid, args, cwd, venv, err_tail, out_tail,
                  status=None, returncode=None, files=None, logger=None,
                  service=None, timeout=5.0, timed_out=False):
    """logbus_report_exit; raises LogbusError when the broker did not take
    the report in time.  timed_out: the supervisor killed it at its time
    limit (the report's category is then timeout)."""
    argv = _argv(args)
    x = _lib.Exit(pid=pid or 0, timed_out=1 if timed_out else 0)
    if status is not None:
        x.has_wait_status, x.wait_status = 1, status
    else:
        x.exit_code = returncode
    arr = (ctypes.c_char_p * max(len(argv), 1))(*argv)
    x.argv, x.argc = arr, len(argv)
    x.cwd = _utf8(cwd) if cwd is not None else None
    x.venv = _utf8(venv) if venv else None
    x.stderr_tail = err_tail.h if err_tail else None
    x.stdout_tail = out_tail.h if out_tail else None
    if files is not None:
        names = [_utf8(f) for f in files]
        farr = (ctypes.c_char_p * max(len(names), 1))(*names)
        x.files, x.nfiles = farr, len(names)
    x.logger = _fields.text(logger) if logger else None
    x.service = _fields.text(service) if service else None
    rc = _lib.lib().logbus_report_exit(pub._handle(), ctypes.byref(x),
                                       _ms(timeout))
    if rc != _lib.OK:
        raise _lib.error(rc, "the exit report of pid %s did not reach "
                         "logbusd: %s" % (pid, pub.last_error()))


def report_exit(proc=None, *, service=None, publisher=None, run_dir=None,
                args=None, returncode=None, pid=None, stdout=None,
                stderr=None, cwd=None, venv=None, files=None, logger=None,
                tail_bytes=TAIL_DEFAULT, timeout=5.0):
    """Publish the exit report of a process that ended: a
    subprocess.Popen (after wait()) or a subprocess.CompletedProcess, with
    the output it captured (stdout=, stderr=: bytes or str; a
    CompletedProcess's own when not given).  Or, with proc None,
    returncode= and args=.  The report goes through publisher, or one
    opened for service (and closed) when publisher is None.  cwd is the
    directory the process ran in (its names are listed unless files=
    gives them); None leaves CWD empty.  Returns once the broker has the
    report; raises LogbusError when it did not take it within timeout."""
    if proc is not None:
        if proc.returncode is None:
            raise ValueError("logbus: the process has not ended: wait() "
                             "for it before report_exit")
        returncode = proc.returncode
        args = proc.args if args is None else args
        pid = getattr(proc, "pid", None) if pid is None else pid
        if stdout is None and isinstance(proc.stdout, (bytes, str)):
            stdout = proc.stdout
        if stderr is None and isinstance(proc.stderr, (bytes, str)):
            stderr = proc.stderr
    if returncode is None:
        raise ValueError("logbus: report_exit needs a process or a "
                         "returncode")
    if args is None:
        args = []
    elif isinstance(args, (str, bytes, os.PathLike)):
        args = [os.fspath(args)]
    tails = []
    for data in (stderr, stdout):
        if data is None:
            tails.append(None)
            continue
        t = _Tail(tail_bytes)
        t.add(data.encode("utf-8", "surrogateescape")
              if isinstance(data, str) else data)
        tails.append(t)
    own = publisher is None
    if own:
        if service is None:
            raise ValueError("logbus: report_exit needs service= or "
                             "publisher=")
        publisher = Publisher(service, run_dir, logger=logger)
    try:
        per_record = (service if service and service != publisher.service
                      else None)
        _publish_exit(publisher, pid=pid, args=list(args),
                      cwd=_abs_dir(cwd) if cwd is not None else None,
                      venv=_abs_dir(venv) if venv else None,
                      err_tail=tails[0], out_tail=tails[1],
                      returncode=returncode, files=files, logger=logger,
                      service=per_record, timeout=timeout)
    finally:
        for t in tails:
            if t:
                t.free()
        if own:
            publisher.close(0)


class _Stream:
    def __init__(self, fd, kind, level, echo_fd, tail_bytes):
        self.fd = fd
        self.kind = kind
        self.level = level
        self.echo_fd = echo_fd
        self.tail = _Tail(tail_bytes)
        self.pend = b""
        self.part = 0
        self.line_level = level  # the current line's (_start_line)


class Completed(subprocess.CompletedProcess):
    """run()'s result: args, returncode, and report_error (None, or the
    LogbusError that kept the exit report from the broker)."""

    report_error = None


class Process:
    """A command run as service, supervised like `logbusctl run` does (see
    the module's text).  It starts at once; wait() returns its exit code
    (-N: killed by signal N) once the exit report was published.

    cwd: where it runs (default here); venv: run in that Python venv
    (VIRTUAL_ENV, its bin first in PATH, no PYTHONHOME); env: the
    environment (default ours); echo: also copy its output to our stdout
    and stderr.  started: time.time() just before it was started, for
    wait_for(since=...).  Raises what subprocess.Popen raises when the
    command cannot be started (FileNotFoundError, PermissionError).
    """

    def __init__(self, args, *, service=None, publisher=None, cwd=None,
                 venv=None, env=None, run_dir=None, logger=None,
                 stdout_level="info", stderr_level="warning",
                 detect_level=True,
                 tail_bytes=TAIL_DEFAULT, echo=False, stdin=None,
                 report_timeout=5.0):
        if isinstance(args, (str, bytes, os.PathLike)):
            args = [args]
        self.args = [os.fspath(a) for a in args]
        if not self.args or not self.args[0]:
            raise ValueError("logbus: the command is empty")
        if service is None and publisher is None:
            raise ValueError("logbus: Process needs service= or publisher=")
        self.service = service or publisher.service
        self.cwd = _abs_dir(cwd if cwd is not None else ".")
        self.venv = _abs_dir(venv) if venv else None
        self.logger = logger
        self.report_timeout = report_timeout
        self.report_error = None
        self.returncode = None
        levels = (_fields.level(stdout_level), _fields.level(stderr_level))
        self._detect_level = detect_level
        self._timed_out = False  # run()'s timeout killed it
        child_env = dict(os.environ if env is None else env)
        if self.venv:
            path = child_env.pop("PATH", None) or os.confstr("CS_PATH")
            for k in ("VIRTUAL_ENV", "PYTHONHOME"):
                child_env.pop(k, None)
            child_env["VIRTUAL_ENV"] = self.venv
            child_env["PATH"] = self.venv + "/bin:" + path
        self._lock = threading.Lock()
        self._reaped = False
        self._status = None
        self._failure = None
        self.started = time.time()
        self._popen = subprocess.Popen(
            self.args, cwd=self.cwd, env=child_env, stdin=stdin,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self._popen.pid
        self._streams = [
            _Stream(self._popen.stdout.fileno(), "stdout", levels[0],
                    1 if echo else -1, tail_bytes),
            _Stream(self._popen.stderr.fileno(), "stderr", levels[1],
                    2 if echo else -1, tail_bytes)]
        self._own = publisher is None
        self._dropped = 0
        try:
            self._pub = publisher or Publisher(
                service, run_dir, logger=logger, queue_bytes=QUEUE_BYTES,
                on_full="drop")
        except _lib.LogbusError as e:  # the command runs all the same
            self._pub = None
            self.report_error = e
        self._per_record = (service if publisher is not None and service
                            and service != publisher.service else None)
        self._log(20, "Process started with PID: %d" % self.pid, "log",
                  {"pid": self.pid, "cmd": _command_text(self.args)})
        self._thread = threading.Thread(target=self._supervise, daemon=True,
                                        name="logbus-run-%d" % self.pid)
        self._thread.start()

    # ---- signals and waiting ----------------------------------------------

    def send_signal(self, sig):
        """Send sig to the command, unless it was reaped already."""
        with self._lock:
            if not self._reaped:
                os.kill(self.pid, sig)

    def terminate(self):
        import signal
        self.send_signal(signal.SIGTERM)

    def kill(self):
        import signal
        self.send_signal(signal.SIGKILL)

    def poll(self):
        """The exit code once it ended and its report was published, else
        None."""
        return None if self._thread.is_alive() else self._result()

    def wait(self, timeout=None):
        """Wait for the command's end and its exit report (None: as long as
        it takes); raises subprocess.TimeoutExpired when it runs on."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self._result()

    def _result(self):
        if self._failure is not None:
            raise self._failure
        return self.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._thread.is_alive():
            self.terminate()
        self.wait()

    def __repr__(self):
        return "<logbus.Process pid=%d %s returncode=%s>" % (
            self.pid, self.service, self.returncode)

    # ---- the supervising thread --------------------------------------------

    def _log(self, level, message, stream, fields=None):
        if self._pub is None:
            return
        try:
            self._pub.log(level, message, stream=stream, logger=self.logger,
                          fields=fields, service=self._per_record)
        except _lib.LogbusError:
            self._dropped += 1

    def _reap(self, block=False):
        with self._lock:
            if self._reaped:
                return
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            if pid == self.pid:
                self._status = status
                self._reaped = True
                self.returncode = os.waitstatus_to_exitcode(status)
                self._popen.returncode = self.returncode

    def _supervise(self):
        try:
            self._loop()
            self._report()
        except BaseException as e:  # a bug of ours: wait() raises it
            self._failure = e
            with self._lock:
                if not self._reaped:
                    os.kill(self.pid, 9)
            self._reap(block=True)
        finally:
            for st in self._streams:
                st.tail.free()
            self._popen.stdout.close()
            self._popen.stderr.close()
            if self._own and self._pub is not None:
                try:
                    self._pub.close(0)
                except _lib.LogbusError:
                    pass  # what was not taken is in report_error

    def _loop(self):
        sel = selectors.DefaultSelector()
        for st in self._streams:
            os.set_blocking(st.fd, False)
            sel.register(st.fd, selectors.EVENT_READ, st)
        try:
            pidfd = os.pidfd_open(self.pid)
            sel.register(pidfd, selectors.EVENT_READ, None)
        except (AttributeError, OSError):
            pidfd = None
        drain_at = None
        open_streams = list(self._streams)
        try:
            while open_streams or not self._reaped:
                now = time.monotonic()
                timeout = None if pidfd is not None else 0.1
                if self._reaped:
                    if drain_at is None:
                        drain_at = now + DRAIN_QUIET
                    if now >= drain_at:
                        for st in open_streams:
                            self._eof(st)
                        break
                    timeout = drain_at - now
                for key, _ in sel.select(timeout):
                    st = key.data
                    if st is None:
                        self._reap()
                        if self._reaped:
                            sel.unregister(pidfd)
                        continue
                    if self._read(st):
                        drain_at = None
                    else:
                        sel.unregister(st.fd)
                        open_streams.remove(st)
                        self._eof(st)
                if pidfd is None or not open_streams:
                    self._reap()
        finally:
            sel.close()
            if pidfd is not None:
                os.close(pidfd)

    def _read(self, st):
        """Read what there is; False at the end of the stream."""
        try:
            data = os.read(st.fd, READ_CHUNK)
        except BlockingIOError:
            return True
        if not data:
            return False
        if st.echo_fd >= 0:
            try:
                os.write(st.echo_fd, data)
            except OSError:
                st.echo_fd = -1
        st.tail.add(data)
        st.pend += data
        self._lines(st, False)
        return True

    def _eof(self, st):
        self._lines(st, True)

    def _lines(self, st, eof):
        pend = st.pend
        start = 0
        while True:
            nl = pend.find(b"\n", start)
            if nl < 0:
                break
            self._line(st, pend[start:nl])
            start = nl + 1
        if eof and start < len(pend):
            self._line(st, pend[start:])
            start = len(pend)
        # a line with no end yet: send its full pieces
        while len(pend) - start >= PIECE_MAX:
            cut = self._cut(pend, start)
            if st.part == 0:
                self._start_line(st, pend[start:cut])
            st.part += 1
            self._piece(st, pend[start:cut], st.part, True)
            start = cut
        st.pend = pend[start:]

    @staticmethod
    def _cut(data, start):
        """Where a piece of at most PIECE_MAX bytes from start ends, between
        two characters."""
        cut = start + PIECE_MAX
        if cut >= len(data):
            return len(data)
        while cut > start + 1 and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        return cut

    def _line(self, st, line):
        if st.part == 0:
            self._start_line(st, line)
        start = 0
        while len(line) - start > PIECE_MAX:
            cut = self._cut(line, start)
            st.part += 1
            self._piece(st, line[start:cut], st.part, True)
            start = cut
        if st.part:
            st.part += 1
            self._piece(st, line[start:], st.part, False)
        else:
            self._log(st.line_level, line.decode("utf-8", "replace"),
                      st.kind)
        st.part = 0

    def _start_line(self, st, data):
        """A line's level, from its start (all its pieces take it), as
        logbusctl run reads it."""
        level = -1
        if self._detect_level:
            head = data[:PIECE_MAX]
            level = _lib.lib().logbus_line_level(head, len(head))
        st.line_level = level if level >= 0 else st.level

    def _piece(self, st, data, part, more):
        self._log(st.line_level, data.decode("utf-8", "replace"), st.kind,
                  {"part": part, "more": more})

    def _report(self):
        if self._pub is None:
            return
        deadline = time.monotonic() + self.report_timeout
        try:
            self._pub.flush(self.report_timeout)
        except _lib.LogbusError:
            pass  # the report says what matters; its own error is kept
        try:
            _publish_exit(
                self._pub, pid=self.pid, args=self.args, cwd=self.cwd,
                venv=self.venv, err_tail=self._streams[1].tail,
                out_tail=self._streams[0].tail, status=self._status,
                logger=self.logger, service=self._per_record,
                timeout=max(0.001, deadline - time.monotonic()),
                timed_out=self._timed_out)
        except _lib.LogbusError as e:
            self.report_error = e


def run(args, *, timeout=None, **kw):
    """Run a command as Process(args, **kw) and wait for it: its lines
    become records and its end an exit report.  Returns a Completed
    (args, returncode, report_error).  As subprocess.run: when timeout
    seconds pass, or anything interrupts the wait (Ctrl-C), the command is
    killed (and its report published, of category timeout when the time
    ran out) and the exception raised."""
    p = Process(args, **kw)
    try:
        rc = p.wait(timeout)
    except BaseException as e:
        try:
            p.wait(0.25)
        except subprocess.TimeoutExpired:
            # the report's category: timeout, as logbusctl run --time-limit
            p._timed_out = isinstance(e, subprocess.TimeoutExpired)
            p.kill()
            p.wait()
        raise
    done = Completed(p.args, rc)
    done.report_error = p.report_error
    return done
