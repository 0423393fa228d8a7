"""_lib: liblogbus.so through ctypes, and nothing else of the binding.

It owns finding the library, the ctypes mirrors of the public structs of
logbus.h, every function's argument and result types, and the ABI check.

Invariant: no struct is handed to the library before check() compared the
library's ABI version and its sizeof of every mirrored struct with ours; a
mismatch is refused with LibraryError, never found as corrupted memory.

Where the library comes from, first found wins:
  1. $LOGBUS_LIBRARY, a path (only that one is tried);
  2. liblogbus.so* next to this package (a copy put there by hand or by a
     wheel that carries it);
  3. the library `cmake --install` put beside this package's install
     (_install.py, written at install time, names it relative to here);
  4. the system loader: liblogbus.so.0, then liblogbus.so.
"""

import ctypes
import glob
import os
import threading

from . import __version__

ABI_VERSION = 1  # LOGBUS_ABI_VERSION of the logbus.h these mirrors follow

c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_int = ctypes.c_int
c_uint = ctypes.c_uint
c_size_t = ctypes.c_size_t
c_int64 = ctypes.c_int64
c_uint64 = ctypes.c_uint64
c_uint32 = ctypes.c_uint32
POINTER = ctypes.POINTER
byref = ctypes.byref

# Error codes (logbus.h).
OK = 0
EINVAL = -1
ENOMEM = -2
ETIMEDOUT = -3
EUNREACHABLE = -4
EFULL = -5
ETOOBIG = -6
EUTF8 = -7
EREJECTED = -8
ECURSOR = -9
EEXPIRED = -10
ECLOSED = -11
EPROTO = -12
ESYS = -13
ENOTFOUND = -14
ELIMITED = -15

FIELD_STR, FIELD_INT, FIELD_FLOAT, FIELD_BOOL = 0, 1, 2, 3
ON_FULL_BLOCK, ON_FULL_DROP = 0, 1
START_HEAD, START_TAIL, START_CURSOR, START_NEW, START_SINCE = 0, 1, 2, 3, 4
FIELDS_MAX = 64
KEY_MAX = 64


class _FieldValue(ctypes.Union):
    _fields_ = [("s", c_char_p), ("i", c_int64), ("f", ctypes.c_double),
                ("b", c_int)]


class Field(ctypes.Structure):
    _fields_ = [("key", c_char_p), ("type", c_int), ("v", _FieldValue)]


class PublisherOptions(ctypes.Structure):
    _fields_ = [("run_dir", c_char_p), ("service", c_char_p),
                ("logger", c_char_p), ("queue_bytes", c_size_t),
                ("on_full", c_int), ("linger_ms", c_int),
                ("fail_fast", c_int)]


class Entry(ctypes.Structure):
    _fields_ = [("time_ns", c_int64), ("level", c_int), ("stream", c_int),
                ("logger", c_char_p), ("message", c_char_p),
                ("message_len", c_size_t), ("fields", POINTER(Field)),
                ("nfields", c_size_t), ("service", c_char_p)]


class PublisherStats(ctypes.Structure):
    _fields_ = [("logged", c_uint64), ("committed", c_uint64),
                ("rejected", c_uint64), ("dropped", c_uint64),
                ("batches", c_uint64), ("resends", c_uint64),
                ("last_seq", c_uint64), ("connected", c_int),
                ("limited", c_uint64)]


class Exit(ctypes.Structure):
    _fields_ = [("pid", c_int), ("has_wait_status", c_int),
                ("wait_status", c_int), ("exit_code", c_int),
                ("argv", POINTER(c_char_p)), ("argc", c_size_t),
                ("cwd", c_char_p), ("venv", c_char_p),
                ("stderr_tail", c_void_p), ("stdout_tail", c_void_p),
                ("files", POINTER(c_char_p)), ("nfiles", c_size_t),
                ("logger", c_char_p), ("service", c_char_p),
                ("timed_out", c_int), ("oom_killed", c_int)]


class Record(ctypes.Structure):
    _fields_ = [("seq", c_uint64), ("cursor", c_char_p),
                ("time_ns", c_int64), ("recv_ns", c_int64),
                ("level", c_int), ("stream", c_int),
                ("service", c_char_p), ("logger", c_char_p),
                ("message", c_void_p), ("message_len", c_size_t),
                ("fields", POINTER(Field)), ("nfields", c_size_t),
                ("pid", c_uint32), ("uid", c_uint32), ("gid", c_uint32),
                ("comm", ctypes.c_char * 16)]


class Filter(ctypes.Structure):
    _fields_ = [("services", POINTER(c_char_p)), ("nservices", c_size_t),
                ("min_level", c_int), ("logger_prefix", c_char_p),
                ("streams", c_uint), ("fields", POINTER(c_char_p)),
                ("nfields", c_size_t), ("message_regex", c_char_p),
                ("since_ns", c_int64), ("until_ns", c_int64),
                ("max_level", c_int),
                ("pids", POINTER(c_uint32)), ("npids", c_size_t),
                ("uids", POINTER(c_uint32)), ("nuids", c_size_t),
                ("gids", POINTER(c_uint32)), ("ngids", c_size_t),
                ("comms", POINTER(c_char_p)), ("ncomms", c_size_t)]


class ReaderOptions(ctypes.Structure):
    _fields_ = [("run_dir", c_char_p), ("start", c_int),
                ("tail_n", c_uint64), ("cursor", c_char_p),
                ("since_ns", c_int64), ("filter", Filter),
                ("follow", c_int), ("timeout_ms", c_int),
                ("error", c_void_p), ("error_len", c_size_t)]


# The structs checked against the library, by their name in logbus.h.
STRUCTS = {
    "logbus_field": Field,
    "logbus_publisher_options": PublisherOptions,
    "logbus_entry": Entry,
    "logbus_publisher_stats": PublisherStats,
    "logbus_exit": Exit,
    "logbus_record": Record,
    "logbus_filter": Filter,
    "logbus_reader_options": ReaderOptions,
}

_PUB = c_void_p
_READER = c_void_p
_TAIL = c_void_p

# name: (result, argument types)
_FUNCTIONS = {
    "logbus_publisher_open": (c_int, [POINTER(_PUB), POINTER(PublisherOptions)]),
    "logbus_publisher_close": (c_int, [_PUB, c_int]),
    "logbus_write": (c_int, [_PUB, POINTER(Entry)]),
    "logbus_flush": (c_int, [_PUB, c_int]),
    "logbus_publisher_get_stats": (None, [_PUB, POINTER(PublisherStats)]),
    "logbus_publisher_error": (c_char_p, [_PUB, c_char_p, c_size_t]),
    "logbus_tail_new": (_TAIL, [c_size_t]),
    "logbus_tail_add": (None, [_TAIL, c_char_p, c_size_t]),
    "logbus_tail_free": (None, [_TAIL]),
    "logbus_report_exit": (c_int, [_PUB, POINTER(Exit), c_int]),
    "logbus_reader_open": (c_int, [POINTER(_READER), POINTER(ReaderOptions)]),
    "logbus_reader_next": (c_int, [_READER, POINTER(POINTER(Record)), c_int]),
    "logbus_reader_cursor": (c_char_p, [_READER]),
    "logbus_reader_oldest_seq": (c_uint64, [_READER]),
    "logbus_reader_skip_expired": (c_int, [_READER]),
    "logbus_reader_interrupt": (None, [_READER]),
    "logbus_reader_error": (c_char_p, [_READER]),
    "logbus_reader_close": (None, [_READER]),
    "logbus_strerror": (c_char_p, [c_int]),
    "logbus_level_name": (c_char_p, [c_int, c_char_p, c_size_t]),
    "logbus_level_parse": (c_int, [c_char_p]),
    "logbus_default_run_dir": (c_char_p, [c_char_p, c_size_t]),
    "logbus_service_valid": (c_int, [c_char_p]),
    "logbus_line_level": (c_int, [c_char_p, c_size_t]),
}


class LogbusError(Exception):
    """A call into liblogbus failed: code is the LOGBUS_E* number (0 when
    the failure is the binding's own), name its constant's name."""

    def __init__(self, message, code=0):
        super().__init__(message)
        self.code = code

    @property
    def name(self):
        return _CODE_NAMES.get(self.code, "LOGBUS_E?")


class LibraryError(LogbusError, ImportError):
    """liblogbus.so was not found, or does not match this binding."""


_CODE_NAMES = {v: "LOGBUS_" + k for k, v in globals().items()
               if k.isupper() and k.startswith("E") and isinstance(v, int)
               and v < 0}
_CODE_NAMES[OK] = "LOGBUS_OK"

_lock = threading.Lock()
_lib = None
_path = None


def _candidates():
    env = os.environ.get("LOGBUS_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "liblogbus.so*")))
    try:
        from . import _install  # written by cmake --install
        found.append(os.path.normpath(os.path.join(here, _install.LIBRARY)))
    except ImportError:
        pass
    return found + ["liblogbus.so.0", "liblogbus.so"]


def _open():
    tried = []
    for name in _candidates():
        if os.sep in name and not os.path.exists(name):
            tried.append("%s (no such file)" % name)
            continue
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            tried.append(str(e))
    hint = ("set LOGBUS_LIBRARY to the path of liblogbus.so (in a build: "
            "build/lib/liblogbus.so), or install liblogbus where the "
            "loader finds it (cmake --install, then ldconfig)")
    raise LibraryError("logbus: cannot load liblogbus: %s; %s"
                       % ("; ".join(tried), hint))


def check(lib, path):
    """Refuse a library whose ABI is not the one these mirrors follow."""
    fix = ("use the Python package of the same logbus build as the library, "
           "or point LOGBUS_LIBRARY at the liblogbus.so it came with")
    try:
        version_fn = lib.logbus_abi_version
        size_fn = lib.logbus_abi_size
        lib_version = lib.logbus_version
    except AttributeError:
        raise LibraryError(
            "logbus: %s has no ABI check (logbus_abi_version): a liblogbus "
            "older than this binding (logbus %s, ABI %d); %s"
            % (path, __version__, ABI_VERSION, fix)) from None
    version_fn.restype = c_int
    version_fn.argtypes = []
    size_fn.restype = c_size_t
    size_fn.argtypes = [c_char_p]
    lib_version.restype = c_char_p
    lib_version.argtypes = []
    have = version_fn()
    release = (lib_version() or b"?").decode("utf-8", "replace")
    if have != ABI_VERSION:
        raise LibraryError(
            "logbus: %s (liblogbus %s) has ABI %d, this binding (logbus %s) "
            "ABI %d; %s" % (path, release, have, __version__, ABI_VERSION,
                            fix))
    for name, struct in STRUCTS.items():
        theirs = size_fn(name.encode())
        ours = ctypes.sizeof(struct)
        if theirs != ours:
            raise LibraryError(
                "logbus: %s (liblogbus %s) lays out %s in %d bytes, this "
                "binding (logbus %s) in %d: they come from different "
                "versions of logbus.h; %s"
                % (path, release, name, theirs, __version__, ours, fix))
    for name, (res, args) in _FUNCTIONS.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise LibraryError("logbus: %s (liblogbus %s) has no %s; %s"
                               % (path, release, name, fix)) from None
        fn.restype = res
        fn.argtypes = args


def lib():
    """The checked library, loaded on first use."""
    global _lib, _path
    if _lib is None:
        with _lock:
            if _lib is None:
                handle, path = _open()
                check(handle, path)
                _path = path
                _lib = handle
    return _lib


def path():
    """Where the library was loaded from (loads it)."""
    lib()
    return _path


def strerror(code):
    return lib().logbus_strerror(code).decode("utf-8", "replace")


def error(code, detail=""):
    """A LogbusError for code, with the library's sentence when it has one."""
    text = strerror(code)
    if detail:
        text = "%s: %s" % (text, detail)
    cls = LogbusTimeout if code == ETIMEDOUT else LogbusError
    return cls("logbus: " + text, code)


class LogbusTimeout(LogbusError, TimeoutError):
    """The time given ran out (flush, wait_for, a broker that did not
    answer)."""
