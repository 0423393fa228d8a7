#!/usr/bin/env bash
# test_install.sh BUILD_DIR SOURCE_DIR: `cmake --install` puts programs,
# library, header, pkg-config file, CMake package and unit where they
# belong, and an outside program builds against them both ways.
set -euo pipefail
build=$1 src=$2
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cmake --install "$build" --prefix "$t/prefix" >/dev/null
fail=0 pass=0
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok - $name"
		pass=$((pass + 1))
	else
		echo "not ok - $name"
		fail=$((fail + 1))
	fi
}
p=$t/prefix
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
check "find_package(logbus) consumer builds" \
	cmake -S "$src/tests/consumer" -B "$t/consumer" \
	-DCMAKE_PREFIX_PATH="$p" -DCMAKE_C_FLAGS="${CONSUMER_CFLAGS:-}"
check "consumer compiles" cmake --build "$t/consumer"
check "consumer runs" env LD_LIBRARY_PATH="$p/$libdir" "$t/consumer/consumer"
check "pkg-config consumer builds" \
	sh -c "PKG_CONFIG_PATH='$p/$libdir/pkgconfig' cc \
	  \$(PKG_CONFIG_PATH='$p/$libdir/pkgconfig' pkg-config --cflags logbus) \
	  '$src/tests/consumer/main.c' -o '$t/pc' ${CONSUMER_CFLAGS:-} \
	  \$(PKG_CONFIG_PATH='$p/$libdir/pkgconfig' pkg-config --libs logbus)"
check "pkg-config consumer runs" env LD_LIBRARY_PATH="$p/$libdir" "$t/pc"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
