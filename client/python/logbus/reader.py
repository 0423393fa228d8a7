"""reader: records read back from logbusd's journal.

read() is a snapshot (it ends when it has caught up), subscribe() follows
(records keep coming as they are committed); both iterate (for, async
for), and subscribe(on_log=...) calls a function on a thread of its own.
wait_for() and messages() are the two reads a sandbox manager makes.

Every form hands out each matching record exactly once, in sequence order,
as the C reader does.  Invariants: one call into the reader at a time (a
lock around next, so an async for's worker thread and close() never
overlap); close() interrupts a waiting next() first, so it returns within
about 100 ms; a follower passes over LOGBUS_EUNREACHABLE and
LOGBUS_ETIMEDOUT (a broker restarting) and carries on where it was.
"""

import asyncio
import ctypes
import datetime
import threading
import time

from . import _fields, _lib

_POLL_MS = 250  # longest wait in C, so that Ctrl-C and stop() are seen


class CursorExpired(_lib.LogbusError):
    """The position is older than what the journal keeps; oldest_seq is
    the oldest sequence number kept (Reader.skip_expired goes on there)."""

    def __init__(self, message, oldest_seq):
        super().__init__(message, _lib.EEXPIRED)
        self.oldest_seq = oldest_seq


class Record:
    """One record: seq, cursor, time_ns, recv_ns, level, levelname, stream
    ("log", "stdout", "stderr"), service, logger, message, fields (a dict)
    and the broker's trusted pid, uid, gid and comm."""

    __slots__ = ("seq", "cursor", "time_ns", "recv_ns", "level", "stream",
                 "service", "logger", "message", "fields", "pid", "uid",
                 "gid", "comm")

    def __init__(self, r):
        self.seq = r.seq
        self.cursor = r.cursor.decode()
        self.time_ns = r.time_ns
        self.recv_ns = r.recv_ns
        self.level = r.level
        self.stream = (_fields.STREAM_NAMES[r.stream]
                       if 0 <= r.stream < 3 else str(r.stream))
        self.service = r.service.decode("utf-8", "replace")
        self.logger = r.logger.decode("utf-8", "replace")
        self.message = ctypes.string_at(r.message, r.message_len).decode(
            "utf-8", "replace")
        fields = {}
        for i in range(r.nfields):
            f = r.fields[i]
            fields[f.key.decode("utf-8", "replace")] = _fields.field_value(f)
        self.fields = fields
        self.pid = r.pid
        self.uid = r.uid
        self.gid = r.gid
        self.comm = r.comm.decode("utf-8", "replace")

    @property
    def levelname(self):
        """DEBUG ... CRITICAL, or LEVEL<n>."""
        buf = ctypes.create_string_buffer(16)
        return _lib.lib().logbus_level_name(self.level, buf, 16).decode()

    @property
    def time(self):
        """The publisher's time as seconds since the epoch."""
        return self.time_ns / 1e9

    @property
    def datetime(self):
        """The publisher's time as an aware datetime (UTC)."""
        return datetime.datetime.fromtimestamp(self.time_ns // 1000000000,
                                               datetime.timezone.utc) \
            .replace(microsecond=self.time_ns % 1000000000 // 1000)

    def __repr__(self):
        return ("<logbus.Record seq=%d %s %s %s: %r>"
                % (self.seq, self.service, self.levelname, self.logger,
                   self.message[:80]))


def _strs(values):
    if values is None:
        return None, 0
    if isinstance(values, (str, bytes)):
        values = [values]
    values = [_fields.text(v) for v in values]
    return (ctypes.c_char_p * max(len(values), 1))(*values), len(values)


def _ids(values):
    if values is None:
        return None, 0
    if isinstance(values, int):
        values = [values]
    values = [int(v) for v in values]
    return (ctypes.c_uint32 * max(len(values), 1))(*values), len(values)


def _streams(value):
    if value is None:
        return 0
    if isinstance(value, str):
        value = [value]
    bits = 0
    for s in value:
        bits |= 1 << _fields.stream(s)
    return bits


class Reader:
    """Records of the journal, by position and filter (see read()).
    Iterate it (for, async for), or call next(timeout)."""

    def __init__(self, *, service=None, level=None, max_level=None,
                 logger=None, stream=None, fields=None, regex=None,
                 since=None, until=None, pid=None, uid=None, gid=None,
                 comm=None, tail=None, cursor=None, new=False, follow=False,
                 run_dir=None, timeout=5.0):
        lib = _lib.lib()
        self.follow = bool(follow)
        self._keep = []  # what the options point to, alive until open
        o = _lib.ReaderOptions()
        o.run_dir = _fields.text(run_dir) if run_dir else None
        o.follow = 1 if follow else 0
        o.timeout_ms = int(timeout * 1000) if timeout else 0
        starts = [n for n, v in (("tail", tail is not None),
                                 ("cursor", cursor is not None),
                                 ("new", new)) if v]
        if len(starts) > 1:
            raise ValueError("logbus: give one start position, not %s"
                             % " and ".join(starts))
        f = o.filter
        if since is not None:
            f.since_ns = _fields.time_ns(since)
        if until is not None:
            f.until_ns = _fields.time_ns(until)
        if tail is not None:
            o.start = _lib.START_TAIL
            o.tail_n = int(tail)
        elif cursor is not None:
            o.start = _lib.START_CURSOR
            o.cursor = _fields.text(cursor)
        elif new:
            o.start = _lib.START_NEW
        elif since is not None:
            o.start = _lib.START_SINCE
            o.since_ns = f.since_ns
        else:
            o.start = _lib.START_HEAD
        arr, n = _strs(service)
        if arr is not None:
            f.services, f.nservices = arr, n
        if level is not None:
            f.min_level = _fields.level(level)
        if max_level is not None:
            f.max_level = _fields.level(max_level)
        for name, values in (("pids", pid), ("uids", uid), ("gids", gid)):
            arr, n = _ids(values)
            if arr is not None:
                setattr(f, name, arr)
                setattr(f, "n" + name, n)
        arr, n = _strs(comm)
        if arr is not None:
            f.comms, f.ncomms = arr, n
        if logger:
            f.logger_prefix = _fields.text(logger)
        f.streams = _streams(stream)
        if fields:
            pairs = (["%s=%s" % kv for kv in fields.items()]
                     if hasattr(fields, "items") else list(fields))
            arr, n = _strs(pairs)
            f.fields, f.nfields = arr, n
        if regex:
            f.message_regex = _fields.text(regex)
        err = ctypes.create_string_buffer(512)
        o.error = ctypes.cast(err, ctypes.c_void_p)
        o.error_len = len(err)
        handle = ctypes.c_void_p()
        rc = lib.logbus_reader_open(ctypes.byref(handle), ctypes.byref(o))
        if rc != _lib.OK:
            raise _lib.error(rc, err.value.decode("utf-8", "replace"))
        self._h = handle
        self._lock = threading.Lock()
        self._rec = ctypes.POINTER(_lib.Record)()
        self._done = False
        self._closing = False
        self._pending = []  # async for's records fetched, not handed out

    # ---- one record ------------------------------------------------------

    def next(self, timeout=None):
        """The next record, or None when a snapshot has caught up, when
        nothing came within timeout seconds (None: as long as it takes),
        or once the reader is closed.  Raises CursorExpired or LogbusError
        for what ends a read (a follower passes over a broker away)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _POLL_MS
            if deadline is not None:
                left = deadline - time.monotonic()
                wait = max(0, min(wait, int(left * 1000)))
            with self._lock:
                if self._closing or self._done:
                    return None
                rc = _lib.lib().logbus_reader_next(
                    self._h, ctypes.byref(self._rec), wait)
                if rc == 1:
                    return Record(self._rec.contents)
                if rc == 0 and not self.follow:
                    self._done = True
                    return None
                if rc == _lib.ECLOSED:  # interrupted
                    return None
                if rc < 0 and not self._passing(rc):
                    raise self._error(rc)
            if deadline is not None and time.monotonic() >= deadline:
                return None
            if rc < 0:  # the broker is away: do not spin
                time.sleep(0.05)

    def _passing(self, rc):
        return self.follow and rc in (_lib.EUNREACHABLE, _lib.ETIMEDOUT)

    def _error(self, rc):
        lib = _lib.lib()
        why = (lib.logbus_reader_error(self._h) or b"").decode(
            "utf-8", "replace")
        if rc == _lib.EEXPIRED:
            return CursorExpired("logbus: %s: %s" % (_lib.strerror(rc), why),
                                 lib.logbus_reader_oldest_seq(self._h))
        return _lib.error(rc, why)

    def skip_expired(self):
        """After CursorExpired: go on from the oldest record kept."""
        with self._lock:
            rc = _lib.lib().logbus_reader_skip_expired(self._h)
        if rc != _lib.OK:
            raise _lib.error(rc)

    @property
    def cursor(self):
        """Where this reader is: after the last record handed out.  Give it
        as cursor= to a later read to go on from there."""
        with self._lock:
            if self._h is None:
                return self._last_cursor
            c = _lib.lib().logbus_reader_cursor(self._h)
        return c.decode() if c else None

    _last_cursor = None

    def interrupt(self):
        """Make a next() waiting in another thread return soon."""
        h = self._h
        if h is not None:
            _lib.lib().logbus_reader_interrupt(h)

    def close(self):
        if getattr(self, "_h", None) is None:
            return
        self._closing = True
        _lib.lib().logbus_reader_interrupt(self._h)
        with self._lock:
            c = _lib.lib().logbus_reader_cursor(self._h)
            self._last_cursor = c.decode() if c else None
            _lib.lib().logbus_reader_close(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- for -------------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self):
        rec = self.next()
        if rec is None:
            raise StopIteration
        return rec

    # ---- async for: a worker thread fetches, at most 256 at a time --------

    def __aiter__(self):
        return self

    def _fetch(self, most):
        out = []
        rec = self.next(_POLL_MS / 1000)
        while rec is not None:
            out.append(rec)
            if len(out) == most:
                break
            rec = self.next(0)
        return out

    async def __anext__(self):
        loop = asyncio.get_running_loop()
        while not self._pending:
            if self._closing or self._done:
                raise StopAsyncIteration
            self._pending = await loop.run_in_executor(None, self._fetch, 256)
            self._pending.reverse()
        return self._pending.pop()

    async def aclose(self):
        await asyncio.get_running_loop().run_in_executor(None, self.close)


def read(**kw):
    """A snapshot of the journal: the matching records as of now, oldest
    first, then the iteration ends.

    Start (one of): tail=N (the last N matching), cursor=C (after the
    record C names), new=True (only what is committed after the open),
    since=TIME (from TIME on); default the oldest record kept.
    Filters, combined with AND: service (a name or a list: any of them),
    level and max_level (the bounds, inclusive), logger (prefix: "a.b"
    matches a.b and a.b.c), stream ("log", "stdout", "stderr", or a list),
    fields ({"user": "u1"}: the field written as text equals the value),
    regex (PCRE2 on the message), since and until (a datetime, or seconds
    since the epoch), and the publisher as logbusd saw it: pid, uid, gid
    (a number or a list) and comm (a process name or a list).
    run_dir: the broker's (None: $LOGBUS_RUN_DIR or the default);
    timeout: seconds per request to the broker.
    """
    kw.setdefault("follow", False)
    return Reader(**kw)


def subscribe(on_log=None, *, on_error=None, follow=True, **kw):
    """Follow the journal: read()'s positions and filters, then every new
    matching record as it is committed.  Default start: new=True.

    Without on_log, an iterator (for, async for) that waits for records.
    With on_log, a Subscription: on_log(record) is called on a thread of
    the subscription's own until stop(); on_log returning False ends it.
    on_error(exc) is called with what would end it (CursorExpired, a bad
    filter, an exception of on_log); returning True goes on (after
    CursorExpired, from the oldest record kept), anything else ends it and
    join() raises exc.
    """
    if not any(k in kw for k in ("tail", "cursor", "new", "since")):
        kw["new"] = True
    reader = Reader(follow=follow, **kw)
    if on_log is None:
        return reader
    return Subscription(reader, on_log, on_error)


class Subscription:
    """A reader driven by a thread, its records handed to on_log."""

    def __init__(self, reader, on_log, on_error=None):
        self.reader = reader
        self._on_log = on_log
        self._on_error = on_error
        self._stop = threading.Event()
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="logbus-subscription")
        self._thread.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                try:
                    rec = self.reader.next(_POLL_MS / 1000)
                    if rec is None:
                        if not self.reader.follow:
                            return
                        continue
                    if self._on_log(rec) is False:
                        return
                except Exception as e:  # on_log's, or the reader's
                    if self._on_error is None or self._on_error(e) is not True:
                        self.error = e
                        return
                    if isinstance(e, CursorExpired):
                        self.reader.skip_expired()
        finally:
            self.reader.close()

    def stop(self):
        """End it: on_log is not called again once join() returned (or,
        called from on_log itself, once on_log returned)."""
        self._stop.set()
        self.reader.interrupt()

    def join(self, timeout=None):
        """Wait until it ended (None: as long as it takes); raises what
        ended it, if anything did but stop(), the end of a snapshot or
        on_log returning False.  Returns False while it still runs."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        if self.error is not None:
            raise self.error
        return True

    @property
    def running(self):
        return self._thread.is_alive()

    @property
    def cursor(self):
        """After the last record delivered."""
        return self.reader.cursor

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        if threading.current_thread() is not self._thread:
            self._thread.join()


def wait_for(service, regex, timeout=30.0, *, since=None, cursor=None,
             run_dir=None, **filters):
    """The first record of service whose message the PCRE2 regex matches,
    from since (a time) or after cursor, else among the records committed
    from now on; raises LogbusTimeout when none came within timeout
    seconds.  A readiness gate: wait_for("service_123", "Uvicorn running
    on", since=proc.started)."""
    start = {}
    if cursor is not None:
        start["cursor"] = cursor
    elif since is not None:
        start["since"] = since
    else:
        start["new"] = True
    deadline = time.monotonic() + timeout
    with Reader(service=service, regex=regex, follow=True, run_dir=run_dir,
                **start, **filters) as r:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            rec = r.next(left)
            if rec is not None:
                return rec
    raise _lib.LogbusTimeout(
        "logbus: no record of %s matched %r within %g s"
        % (service, regex, timeout), _lib.ETIMEDOUT)


class Messages(list):
    """A list of message strings, and cursor: where a later call with
    since=cursor goes on."""

    cursor = None


def messages(service, since=None, *, tail=None, run_dir=None, **filters):
    """The messages of service's records, oldest first, as a REST
    response's "logs": [...] carries them: all kept, those after a cursor
    (since="lb1-..."), those from a time on (since=datetime or seconds),
    or the last tail=N.  The list's .cursor goes on after its last."""
    start = {}
    if isinstance(since, str):
        start["cursor"] = since
    elif since is not None:
        start["since"] = since
    if tail is not None:
        start["tail"] = tail
    out = Messages()
    with Reader(service=service, run_dir=run_dir, **start, **filters) as r:
        for rec in r:
            out.append(rec.message)
        out.cursor = r.cursor
    return out
