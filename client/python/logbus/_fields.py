"""_fields: Python values into logbus_field arrays, and levels and times
into the numbers the library takes.

Invariant: a Field array filled here keeps its bytes alive itself (ctypes
holds a reference to every bytes object assigned to a c_char_p member), so
an array may be handed to the library for as long as it is referenced.
"""

import datetime
import logging
import re

from . import _lib

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

_BAD_KEY = re.compile(r"[^A-Za-z0-9_.-]")

LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40,
          "critical": 50, "fatal": 50}

STREAMS = {"log": 0, "stdout": 1, "stderr": 2}
STREAM_NAMES = ("log", "stdout", "stderr")


def text(value):
    """value as UTF-8 bytes the library accepts (lone surrogates, which
    UTF-8 cannot carry, written as \\udcxx)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif not isinstance(value, str):
        value = str(value)
    return value.encode("utf-8", "backslashreplace")


def level(value):
    """A level as the library's number: an int 0..255 (Python's numbers)
    or a name ("info", "WARNING")."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 255:
            return value
        raise ValueError("logbus: level %d is not 0..255" % value)
    if isinstance(value, str):
        n = LEVELS.get(value.lower())
        if n is not None:
            return n
        n = logging.getLevelName(value.upper())
        if isinstance(n, int) and 0 <= n <= 255:
            return n
    raise ValueError("logbus: unknown level %r: use debug, info, warning, "
                     "error, critical or a number 0..255" % (value,))


def stream(value):
    try:
        return STREAMS[value]
    except KeyError:
        raise ValueError("logbus: unknown stream %r: use log, stdout or "
                         "stderr" % (value,)) from None


def clean_key(key):
    """A field key the library accepts, from any Python name: characters
    outside [A-Za-z0-9_.-] become '_', cut at 64 bytes."""
    key = _BAD_KEY.sub("_", str(key))[:_lib.KEY_MAX]
    return key or "_"


def slots(arr):
    """(field, its value union) of each element of a Field array: ctypes
    makes a new wrapper object at each arr[i] and f.v, so a caller that
    fills the same array again and again keeps these."""
    return [(f, f.v) for f in arr]


def fill(slot, key, value):
    """Set slot (a pair of slots()) to the field key=value; value's type
    picks the field's (bool, int in int64, float; anything else as its
    str())."""
    f, v = slot
    f.key = key if isinstance(key, bytes) else key.encode("utf-8")
    if value is True or value is False:
        f.type = _lib.FIELD_BOOL
        v.b = 1 if value else 0
    elif type(value) is str:
        f.type = _lib.FIELD_STR
        v.s = value.encode("utf-8", "backslashreplace")
    elif isinstance(value, int) and INT64_MIN <= value <= INT64_MAX:
        f.type = _lib.FIELD_INT
        v.i = value
    elif isinstance(value, float):
        f.type = _lib.FIELD_FLOAT
        v.f = value
    else:
        f.type = _lib.FIELD_STR
        v.s = text(value)


def field_array(fields):
    """A Field array of a dict (or pairs), and its length."""
    items = list(fields.items() if hasattr(fields, "items") else fields)
    if len(items) > _lib.FIELDS_MAX:
        raise ValueError("logbus: %d fields, more than the %d a record may "
                         "carry" % (len(items), _lib.FIELDS_MAX))
    arr = (_lib.Field * max(len(items), 1))()
    for slot, (k, v) in zip(slots(arr), items):
        fill(slot, str(k), v)
    return arr, len(items)


def field_value(f):
    """A logbus_field as the Python value it holds."""
    t = f.type
    if t == _lib.FIELD_STR:
        return (f.v.s or b"").decode("utf-8", "replace")
    if t == _lib.FIELD_INT:
        return f.v.i
    if t == _lib.FIELD_FLOAT:
        return f.v.f
    if t == _lib.FIELD_BOOL:
        return bool(f.v.b)
    return None


def time_ns(value):
    """A time as nanoseconds since the epoch: a datetime (naive is local
    time), or seconds since the epoch as int or float (time.time())."""
    if isinstance(value, datetime.datetime):
        whole = value.replace(microsecond=0).timestamp()
        return int(whole) * 1000000000 + value.microsecond * 1000
    if isinstance(value, datetime.date):
        return time_ns(datetime.datetime(value.year, value.month, value.day))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(round(value * 1e9))
    raise TypeError("logbus: a time is a datetime or seconds since the "
                    "epoch, not %r" % (value,))
