"""backend: the PEP 517 build backend of the logbus Python package, in the
standard library only, so that pip builds it offline (Debian servers often
have no package index, and pip's build isolation would otherwise fetch
setuptools).

It builds one pure wheel (py3-none-any) of the logbus/ package, an sdist
of this directory's sources, and an editable wheel (PEP 660) whose .pth
puts this directory on sys.path.  The version is __version__ in
logbus/__init__.py, the one place it is written.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "logbus"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUMMARY = ("Python logging, publishing, reading and process supervision "
           "for logbusd, over liblogbus")


def _version():
    with open(os.path.join(HERE, NAME, "__init__.py"), encoding="utf-8") as f:
        m = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M)
    if m is None:
        raise RuntimeError("logbus: no __version__ in logbus/__init__.py")
    return m.group(1)


def _metadata():
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n"
            "Requires-Python: >=3.9\n" % (NAME, _version(), SUMMARY))


def _sources():
    """(path in the archive, path on disk) of the package's modules."""
    pkg = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py") and name != "_install.py":
            yield "%s/%s" % (NAME, name), os.path.join(pkg, name)


def _digest(data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + h.decode()


def _wheel(directory, files):
    """Write a wheel of files ((archive name, bytes)); return its name."""
    version = _version()
    dist = "%s-%s.dist-info" % (NAME, version)
    files = list(files) + [
        (dist + "/METADATA", _metadata().encode()),
        (dist + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: logbus-backend\n"
                          b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = "".join("%s,%s,%d\n" % (n, _digest(d), len(d)) for n, d in files)
    record += dist + "/RECORD,,\n"
    files.append((dist + "/RECORD", record.encode()))
    name = "%s-%s-py3-none-any.whl" % (NAME, version)
    with zipfile.ZipFile(os.path.join(directory, name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            info = zipfile.ZipInfo(n, (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, d)
    return name


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    return _wheel(wheel_directory,
                  [(n, _read(p)) for n, p in _sources()])


def build_editable(wheel_directory, config_settings=None,
                   metadata_directory=None):
    return _wheel(wheel_directory,
                  [("%s.pth" % NAME, (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, _version())
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        def add(arc, data):
            info = tarfile.TarInfo("%s/%s" % (base, arc))
            info.size = len(data)
            info.mtime = 1577836800
            t.addfile(info, io.BytesIO(data))
        add("PKG-INFO", _metadata().encode())
        add("pyproject.toml", _read(os.path.join(HERE, "pyproject.toml")))
        add("_build/backend.py", _read(os.path.abspath(__file__)))
        for n, p in _sources():
            add(n, _read(p))
    return name
