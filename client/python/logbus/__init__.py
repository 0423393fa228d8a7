"""logbus: Python's side of logbus, the local log broker, over liblogbus.

    import logging, logbus
    logging.getLogger().addHandler(logbus.Handler(service="service_123"))

    with logbus.Publisher("service_123") as pub:
        pub.info("Creating sandbox", user="user123")

    logbus.run(["uvicorn", "main:app"], service="service_123", cwd=path)
    logbus.wait_for("service_123", "Uvicorn running on", timeout=30)
    for rec in logbus.subscribe(service="service_123"):
        print(rec.message)

Pure Python over ctypes: liblogbus.so is loaded on first use ($LOGBUS_LIBRARY,
next to this package, where cmake --install put it, or the system loader)
and refused with LibraryError when its ABI is not this binding's.
"""

__version__ = "0.1.0"

from ._lib import LibraryError, LogbusError, LogbusTimeout  # noqa: E402
from .handler import Handler  # noqa: E402
from .process import Completed, Process, report_exit, run  # noqa: E402
from .publisher import Publisher  # noqa: E402
from .reader import (CursorExpired, Messages, Reader, Record,  # noqa: E402
                     Subscription, messages, read, subscribe, wait_for)


def library_path():
    """The path of the liblogbus loaded (loading and checking it)."""
    from . import _lib
    return _lib.path()


__all__ = ["Handler", "Publisher", "Process", "Completed", "run",
           "report_exit", "read", "subscribe", "wait_for", "messages",
           "Reader", "Record", "Subscription", "Messages", "LogbusError",
           "LogbusTimeout", "LibraryError", "CursorExpired", "library_path"]
