#!/usr/bin/env bash
# test_install.sh BUILD_DIR SOURCE_DIR: `cmake --install` puts programs,
# library, header, pkg-config file, CMake package, unit, sysusers and
# tmpfiles snippets where they belong, and an outside program builds
# against them both ways.  Prints "ok - NAME" / "not ok - NAME" for each
# check and a last line
# "N passed, M failed"; exits 1 when any check failed.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
	exit 2
fi
build=$1 src=$2
test_init
cmake --install "$build" --prefix "$T/prefix" >/dev/null
p=$T/prefix
libdir=$(cd "$p" && ls -d lib*/ | head -n 1)
libdir=${libdir%/}
check "logbusd installed" test -x "$p/bin/logbusd"
check "logbusctl installed" test -x "$p/bin/logbusctl"
check "header installed" test -f "$p/include/logbus/logbus.h"
check "shared library installed" test -e "$p/$libdir/liblogbus.so"
check "static library installed" test -f "$p/$libdir/liblogbus.a"
check "pkg-config file installed" test -f "$p/$libdir/pkgconfig/logbus.pc"
check "cmake package installed" \
	test -f "$p/$libdir/cmake/logbus/logbus-config.cmake"
check "systemd unit installed" test -f "$p/lib/systemd/system/logbusd.service"
check "sysusers snippet installed" test -f "$p/lib/sysusers.d/logbus.conf"
check "tmpfiles snippet installed" test -f "$p/lib/tmpfiles.d/logbus.conf"
check "README installed for the unit's Documentation=" \
	test -f "$p/share/doc/logbus/README.md"
check "find_package(logbus) consumer builds" \
	cmake -S "$src/tests/consumer" -B "$T/consumer" \
	-DCMAKE_PREFIX_PATH="$p" -DCMAKE_C_FLAGS="${CONSUMER_CFLAGS:-}"
check "consumer compiles" cmake --build "$T/consumer"
check "consumer runs" env LD_LIBRARY_PATH="$p/$libdir" "$T/consumer/consumer"
check "pkg-config consumer builds" \
	sh -c "PKG_CONFIG_PATH='$p/$libdir/pkgconfig' cc \
	  \$(PKG_CONFIG_PATH='$p/$libdir/pkgconfig' pkg-config --cflags logbus) \
	  '$src/tests/consumer/main.c' -o '$T/pc' ${CONSUMER_CFLAGS:-} \
	  \$(PKG_CONFIG_PATH='$p/$libdir/pkgconfig' pkg-config --libs logbus)"
check "pkg-config consumer runs" env LD_LIBRARY_PATH="$p/$libdir" "$T/pc"
finish
