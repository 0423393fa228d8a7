"""publisher: logbus.Publisher, records of a service sent to logbusd and
acknowledged.

A logging call copies the record into liblogbus's bounded queue and returns;
the library's thread sends batches, and flush() returns once the broker
acknowledged everything logged before it.  The handle is freed by close(),
by the with-block's end, or (flushing up to close_timeout) when the object
is collected or the interpreter exits.
"""

import ctypes
import weakref

from . import _fields, _lib


def _close_handle(handle, timeout_ms):
    if handle.value:
        _lib.lib().logbus_publisher_close(handle, timeout_ms)
        handle.value = None


def _ms(timeout):
    """Seconds (None: forever) as the library's milliseconds."""
    if timeout is None:
        return -1
    return max(0, int(timeout * 1000))


class Publisher:
    """Records of one service (or, where the library allows, of several:
    service= per record) sent to logbusd.

    on_full="block" makes a logging call wait for room when the queue
    (queue_bytes, 0: 8 MiB) is full; "drop" drops the record and counts it
    (the broker gets a record saying how many).  fail_fast makes flush()
    and close() fail at once (LOGBUS_EUNREACHABLE, records kept) while no
    broker can be reached, for a command-line tool; by default they wait
    for a broker that is starting.  A publisher may be used
    from many threads; one thread's records keep their order.
    """

    def __init__(self, service, run_dir=None, *, logger=None, queue_bytes=0,
                 on_full="block", linger_ms=0, fail_fast=False,
                 close_timeout=5.0):
        lib = _lib.lib()
        if on_full not in ("block", "drop"):
            raise ValueError("logbus: on_full is 'block' or 'drop', not %r"
                             % (on_full,))
        self.service = service
        self.run_dir = run_dir
        self._service = _fields.text(service)
        opts = _lib.PublisherOptions(
            run_dir=_fields.text(run_dir) if run_dir else None,
            service=self._service,
            logger=_fields.text(logger) if logger else None,
            queue_bytes=queue_bytes,
            on_full=_lib.ON_FULL_DROP if on_full == "drop" else
            _lib.ON_FULL_BLOCK,
            linger_ms=linger_ms, fail_fast=1 if fail_fast else 0)
        handle = ctypes.c_void_p()
        rc = lib.logbus_publisher_open(ctypes.byref(handle),
                                       ctypes.byref(opts))
        if rc != _lib.OK:
            if rc == _lib.EINVAL:
                raise _lib.LogbusError(
                    "logbus: cannot publish as service %r: a service id is "
                    "1 to 128 characters of [A-Za-z0-9._-], not starting "
                    "with '.'" % (service,), rc)
            raise _lib.error(rc, "cannot open a publisher for %s" % service)
        self._h = handle
        self._finalizer = weakref.finalize(self, _close_handle, handle,
                                           _ms(close_timeout))

    # ---- logging ---------------------------------------------------------

    def log(self, level, message, *, logger=None, fields=None, service=None,
            stream="log", time_ns=0):
        """Queue one record; raises LogbusError when the library refuses it
        (bad UTF-8, key or logger, too big; LOGBUS_EFULL in drop mode)."""
        entry = _lib.Entry(
            time_ns=time_ns, level=_fields.level(level),
            stream=_fields.stream(stream),
            logger=_fields.text(logger) if logger else None,
            service=_fields.text(service) if service else None)
        msg = _fields.text(message)
        entry.message = msg
        entry.message_len = len(msg)
        if fields:
            arr, n = _fields.field_array(fields)
            entry.fields = arr
            entry.nfields = n
        self._check(_lib.lib().logbus_write(self._handle(), entry))

    def debug(self, message, **fields):
        self.log(10, message, fields=fields)

    def info(self, message, **fields):
        self.log(20, message, fields=fields)

    def warning(self, message, **fields):
        self.log(30, message, fields=fields)

    def error(self, message, **fields):
        self.log(40, message, fields=fields)

    def critical(self, message, **fields):
        self.log(50, message, fields=fields)

    def flush(self, timeout=5.0):
        """Wait until everything logged before was acknowledged (committed,
        and written to the routed files).  Raises LogbusTimeout when the
        time ran out (the records stay queued), LogbusError when the broker
        refused some or its rate limit dropped some."""
        self._check(_lib.lib().logbus_flush(self._handle(), _ms(timeout)))

    def stats(self):
        """The library's counters: logged, committed, rejected, dropped,
        batches, resends, last_seq, connected, limited."""
        st = _lib.PublisherStats()
        _lib.lib().logbus_publisher_get_stats(self._handle(),
                                              ctypes.byref(st))
        return {name: getattr(st, name) for name, _ in st._fields_}

    def last_error(self):
        """The library's sentence about the last failure, or ""."""
        buf = ctypes.create_string_buffer(512)
        _lib.lib().logbus_publisher_error(self._handle(), buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    def close(self, timeout=5.0):
        """Flush (up to timeout seconds), stop the sender and free."""
        if self._finalizer.detach() is None:
            return
        rc = _lib.lib().logbus_publisher_close(self._h, _ms(timeout))
        self._h.value = None
        if rc != _lib.OK:
            raise _lib.error(rc, "records of %s not acknowledged at close"
                             % self.service)

    @property
    def closed(self):
        return not self._finalizer.alive

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<logbus.Publisher service=%r%s>" % (
            self.service, " closed" if self.closed else "")

    # ---- internals -------------------------------------------------------

    def _handle(self):
        if not self._finalizer.alive:
            raise _lib.LogbusError("logbus: the publisher of %s is closed"
                                   % self.service, _lib.ECLOSED)
        return self._h

    def _check(self, rc):
        if rc != _lib.OK:
            raise _lib.error(rc, self.last_error())
