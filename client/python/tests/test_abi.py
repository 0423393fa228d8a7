"""test_abi: the binding checks the library it loads: the real one matches
struct for struct; one of another ABI version, one whose structs differ,
and one without the check at all are refused with a sentence that says
which library, what differs and what to do."""

import ctypes
import ctypes.util
import os
import subprocess
import sys

import pytest

import logbus
from logbus import _lib
from conftest import BUILD, PYDIR

OTHER = os.path.join(BUILD, "lib", "liblogbus_abi_other.so")


def test_the_built_library_matches_every_struct():
    lib = _lib.lib()
    assert lib.logbus_abi_version() == _lib.ABI_VERSION
    for name, struct in _lib.STRUCTS.items():
        assert lib.logbus_abi_size(name.encode()) == ctypes.sizeof(struct)
    assert lib.logbus_abi_size(b"no_such_struct") == 0
    assert lib.logbus_version().decode() == logbus.__version__


def load(library, **env):
    """Import logbus in a fresh interpreter with LOGBUS_LIBRARY=library and
    use it; its stderr."""
    code = "import logbus; logbus.Publisher('py_abi')"
    e = dict(os.environ, LOGBUS_LIBRARY=library, **env)
    p = subprocess.run([sys.executable, "-c", code], env=e, cwd=PYDIR,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    return p.stderr.strip().splitlines()[-1]


@pytest.mark.skipif(not os.path.exists(OTHER), reason="abi_other not built")
def test_other_abi_version_refused():
    err = load(OTHER, LOGBUS_ABI_OTHER_VERSION="2")
    assert err == (
        "logbus._lib.LibraryError: logbus: %s (liblogbus 9.9.9) has ABI 2, "
        "this binding (logbus %s) ABI 1; use the Python package of the same "
        "logbus build as the library, or point LOGBUS_LIBRARY at the "
        "liblogbus.so it came with" % (OTHER, logbus.__version__))


@pytest.mark.skipif(not os.path.exists(OTHER), reason="abi_other not built")
def test_other_struct_sizes_refused():
    err = load(OTHER)
    assert "(liblogbus 9.9.9) lays out logbus_field in %d bytes, this " \
        "binding (logbus %s) in %d: they come from different versions of " \
        "logbus.h" % (ctypes.sizeof(_lib.Entry) + 8, logbus.__version__,
                      ctypes.sizeof(_lib.Field)) in err


def test_a_library_without_the_check_refused():
    libc = ctypes.util.find_library("c")
    err = load(libc)
    assert "has no ABI check (logbus_abi_version): a liblogbus older than " \
        "this binding" in err


def test_a_missing_library_says_what_to_do(tmp_path):
    err = load(str(tmp_path / "liblogbus.so"))
    assert "cannot load liblogbus: %s (no such file); set LOGBUS_LIBRARY" \
        % (tmp_path / "liblogbus.so") in err
