"""test_install: the two ways the package gets onto a machine, neither
needing a package index: `pip install client/python` into a venv (its
build backend is in the source, so pip's build isolation downloads
nothing), and `cmake --install`, after which the package finds the
library it was installed with, without LOGBUS_LIBRARY."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD, LIBRARY, PYDIR, TOP


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "LOGBUS_LIBRARY")}
    env.update(extra)
    return env


def test_pip_install_offline_into_a_venv(tmp_path):
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)],
                          capture_output=True, text=True)
    if made.returncode != 0 or not (venv / "bin" / "pip").exists():
        pytest.skip("no venv with pip here (python3-venv): %s"
                    % made.stderr.strip())
    src = tmp_path / "src"
    shutil.copytree(PYDIR, src, ignore=shutil.ignore_patterns(
        "__pycache__", "tests"))
    # no index and no network: anything pip wanted to download would fail
    env = clean_env(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
                    http_proxy="http://127.0.0.1:9", https_proxy=
                    "http://127.0.0.1:9")
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", str(src)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    code = ("import logbus, os; print(logbus.library_path()); "
            "print(os.path.dirname(logbus.__file__))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code],
                         env=clean_env(LOGBUS_LIBRARY=LIBRARY), cwd="/",
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lib, pkg = out.stdout.split()
    assert lib == LIBRARY
    assert pkg.startswith(str(venv))


def test_cmake_install_finds_its_library(tmp_path):
    prefix = tmp_path / "prefix"
    inst = subprocess.run(["cmake", "--install", BUILD, "--prefix",
                           str(prefix)], capture_output=True, text=True,
                          timeout=300)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    found = [os.path.join(d, n) for d, _, names in os.walk(prefix)
             for n in names if n == "_install.py"]
    assert len(found) == 1
    site = os.path.dirname(os.path.dirname(found[0]))
    code = "import logbus; print(logbus.library_path())"
    out = subprocess.run([sys.executable, "-c", code],
                         env=clean_env(PYTHONPATH=site), cwd="/",
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lib = out.stdout.strip()
    assert lib.startswith(str(prefix) + "/") and os.path.exists(lib)
    assert os.path.basename(lib) == "liblogbus.so.0"
