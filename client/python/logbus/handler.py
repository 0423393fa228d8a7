"""handler: logbus.Handler, Python's logging into logbusd.

A record becomes one logbus record: its level number (Python's numbers are
logbus's; a custom level keeps its number, and its name goes into the field
levelname), the logger's name, record.getMessage(), the extra= values as
typed fields, the formatted exception (exc_info, and exc_type) and stack
(stack_info) as fields, and the thread and process names (threadName,
processName).  extra={"service": ...} sends one record as another service
(where the library takes a service per record).

Invariants: emit never blocks on the broker (the publisher drops rather
than waits when its queue is full, and counts what it dropped) and never
raises into the application (handleError, as every logging handler);
emit runs under the handler's lock (logging.Handler.handle), so the one
Entry and Field array it reuses are never filled by two threads at once.
"""

import ctypes
import logging

from . import _fields, _lib
from .publisher import Publisher, _ms

# Attributes every LogRecord has: the rest of its __dict__ came from extra=.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_STANDARD |= {"message", "asctime", "taskName"}
_STD_LEVELS = {0: "NOTSET", 10: "DEBUG", 20: "INFO", 30: "WARNING",
               40: "ERROR", 50: "CRITICAL"}
_formatter = logging.Formatter()


class Handler(logging.Handler):
    """A logging.Handler that publishes to logbusd as service.

    run_dir: the broker's run directory (None: $LOGBUS_RUN_DIR or the
    default).  flush() waits up to flush_timeout seconds for the
    acknowledgement; close() flushes up to close_timeout.  on_full "drop"
    (the default) never makes a logging call wait; "block" waits for room
    instead of dropping.
    """

    def __init__(self, service, run_dir=None, level=logging.NOTSET, *,
                 queue_bytes=0, on_full="drop", flush_timeout=5.0,
                 close_timeout=5.0):
        super().__init__(level)
        self.service = service
        self.flush_timeout = flush_timeout
        self.close_timeout = close_timeout
        self.publisher = Publisher(service, run_dir, queue_bytes=queue_bytes,
                                   on_full=on_full,
                                   close_timeout=close_timeout)
        self._lib = _lib.lib()
        self._entry = _lib.Entry()
        self._fields = (_lib.Field * _lib.FIELDS_MAX)()
        self._entry.fields = self._fields
        self._slots = _fields.slots(self._fields)
        self._entry_ref = ctypes.byref(self._entry)
        self._write = self._lib.logbus_write
        self._names = {}  # logger name -> bytes, and field keys

    def emit(self, record):
        try:
            self._emit(record)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _emit(self, record):
        e = self._entry
        e.time_ns = int(record.created * 1e9)
        lv = record.levelno
        e.level = lv if 0 <= lv <= 255 else (0 if lv < 0 else 255)
        name = self._names.get(record.name)
        if name is None:
            name = self._names[record.name] = _fields.text(record.name)
        e.logger = name
        msg = record.getMessage().encode("utf-8", "backslashreplace")
        e.message = msg
        e.message_len = len(msg)
        e.service = None
        arr = self._slots
        n = 0
        if (_STD_LEVELS.get(lv) != record.levelname
                and not record.levelname.startswith("Level ")):
            _fields.fill(arr[n], b"levelname", record.levelname)
            n += 1
        _fields.fill(arr[n], b"threadName", record.threadName)
        _fields.fill(arr[n + 1], b"processName", record.processName)
        n += 2
        if record.exc_info and record.exc_info[0] is not None:
            if not record.exc_text:
                fmt = self.formatter or _formatter
                record.exc_text = fmt.formatException(record.exc_info)
            _fields.fill(arr[n], b"exc_type", record.exc_info[0].__name__)
            n += 1
        if record.exc_text:
            _fields.fill(arr[n], b"exc_info", record.exc_text)
            n += 1
        if record.stack_info:
            _fields.fill(arr[n], b"stack_info", record.stack_info)
            n += 1
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key == "service":
                e.service = _fields.text(value)
                continue
            if n == _lib.FIELDS_MAX:
                break
            k = self._names.get(key)
            if k is None:
                k = self._names[key] = _fields.clean_key(key).encode()
            _fields.fill(arr[n], k, value)
            n += 1
        e.nfields = n
        rc = self._write(self.publisher._handle(), self._entry_ref)
        if rc != _lib.OK and rc != _lib.EFULL:
            raise _lib.error(rc, self.publisher.last_error())

    def flush(self):
        """Wait until every record emitted so far was acknowledged (at most
        flush_timeout seconds); a broker that does not answer is reported
        through handleError's channel, never raised."""
        if self.publisher.closed:
            return
        rc = self._lib.logbus_flush(self.publisher._h,
                                    _ms(self.flush_timeout))
        if rc != _lib.OK and logging.raiseExceptions:
            import sys
            sys.stderr.write("logbus.Handler(%s): flush: %s\n"
                             % (self.service,
                                _lib.error(rc,
                                           self.publisher.last_error())))

    def close(self):
        try:
            if not self.publisher.closed:
                self.publisher.close(self.close_timeout)
        except _lib.LogbusError as e:
            if logging.raiseExceptions:
                import sys
                sys.stderr.write("logbus.Handler(%s): close: %s\n"
                                 % (self.service, e))
        finally:
            super().close()

    def __repr__(self):
        return "<logbus.Handler service=%s (%s)>" % (
            self.service, logging.getLevelName(self.level))
