#!/usr/bin/env bash
# test_install.sh BUILD_DIR SOURCE_DIR: `cmake --install` puts programs,
# library, header, pkg-config file, CMake package, unit, sysusers and
# tmpfiles snippets where they belong; the installed programs run from a
# private prefix without LD_LIBRARY_PATH or ldconfig; and a program from
# outside the tree builds and runs against the package four ways
# (pkg-config shared and --static, find_package with logbus::logbus and
# logbus::logbus_static), each publishing a record to the installed
# logbusd and reading it back through a regex filter; the installed
# logbusctl then reads the four records too.  A staged (DESTDIR)
# install into /usr/local says that ldconfig must be run.  Prints
# "ok - NAME" / "not ok - NAME" for each check and a last line
# "N passed, M failed"; exits 1 when any check failed.  CONSUMER_CFLAGS
# (the sanitizer flags of a sanitizer build) go to every consumer build.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
	exit 2
fi
build=$1 src=$2
test_init
# What is installed must find its own library.
unset LD_LIBRARY_PATH LOGBUS_RUN_DIR LOGBUS_LOG_DIR
read -ra cflags <<<"${CONSUMER_CFLAGS:-}"

p=$T/prefix
cmake --install "$build" --prefix "$p" >"$T/install.out"
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

# ---- the installed programs run from the prefix ---------------------------

# loads_installed_lib PROGRAM: the dynamic loader finds PROGRAM's
# liblogbus.so.0 in the prefix (its RPATH), not in the build tree.
loads_installed_lib() {
	local found
	found=$(ldd "$1" | awk '$1 == "liblogbus.so.0" { print $3 }')
	[ -n "$found" ] &&
		[ "$(realpath "$found")" == "$(realpath "$p/$libdir/liblogbus.so.0")" ]
}
# no_shared_liblogbus PROGRAM: PROGRAM does not need liblogbus.so at all.
no_shared_liblogbus() {
	local dyn
	dyn=$(readelf -d "$1") && ! grep -q 'NEEDED.*liblogbus\.so' <<<"$dyn"
}
check "installed logbusctl --version runs" "$p/bin/logbusctl" --version
check "installed logbusd --version runs" "$p/bin/logbusd" --version
check "installed logbusctl loads the installed liblogbus" \
	loads_installed_lib "$p/bin/logbusctl"
check "installed logbus-bench loads the installed liblogbus" \
	loads_installed_lib "$p/bin/logbus-bench"
asks_no_ldconfig() {
	! grep -q ldconfig "$T/install.out"
}
check "a private prefix asks for no ldconfig" asks_no_ldconfig

BIN=$p/bin
start_logbusd "$T/run.err" "$T/run" --log-dir "$T/log"

# ---- an outside program against the package, four ways -------------------

pc() {
	PKG_CONFIG_PATH="$p/$libdir/pkgconfig" pkg-config "$@"
}
consumer_pc_shared() {
	local inc libs
	read -ra inc <<<"$(pc --cflags logbus)"
	read -ra libs <<<"$(pc --libs logbus)"
	cc "${inc[@]}" "$src/tests/consumer/main.c" -o "$T/pc_shared" \
		"${cflags[@]}" "${libs[@]}"
}
# The archive even though the .so sits beside it (-l:liblogbus.a), and
# everything else it needs from `pkg-config --static`.
consumer_pc_static() {
	local inc libs=() l
	read -ra inc <<<"$(pc --cflags logbus)"
	for l in $(pc --static --libs logbus); do
		[ "$l" == -llogbus ] && l=-l:liblogbus.a
		libs+=("$l")
	done
	cc "${inc[@]}" "$src/tests/consumer/main.c" -o "$T/pc_static" \
		"${cflags[@]}" "${libs[@]}"
}
check "pkg-config: a consumer links the shared library" consumer_pc_shared
check "pkg-config: it publishes and reads back" \
	env LD_LIBRARY_PATH="$p/$libdir" "$T/pc_shared" "$T/run" "hello pc-shared"
check "pkg-config --static: a consumer links the static library" \
	consumer_pc_static
check "pkg-config --static: no liblogbus.so needed" \
	no_shared_liblogbus "$T/pc_static"
check "pkg-config --static: it publishes and reads back" \
	"$T/pc_static" "$T/run" "hello pc-static"

check "find_package(logbus): the consumer project configures" \
	cmake -S "$src/tests/consumer" -B "$T/consumer" \
	-DCMAKE_PREFIX_PATH="$p" -DCMAKE_C_FLAGS="${CONSUMER_CFLAGS:-}"
check "find_package(logbus): logbus::logbus and logbus::logbus_static link" \
	cmake --build "$T/consumer"
check "logbus::logbus: it publishes and reads back" \
	"$T/consumer/consumer" "$T/run" "hello cmake-shared"
check "logbus::logbus_static: no liblogbus.so needed" \
	no_shared_liblogbus "$T/consumer/consumer_static"
check "logbus::logbus_static: it publishes and reads back" \
	"$T/consumer/consumer_static" "$T/run" "hello cmake-static"

"$p/bin/logbusctl" --run-dir "$T/run" tail -n 10 -s consumer >"$T/tail" || true
for m in pc-shared pc-static cmake-shared cmake-static; do
	check "installed logbusctl reads back hello $m" \
		grep -q "consumer: hello $m\$" "$T/tail"
done

# ---- a system prefix ------------------------------------------------------

# Staged for a package: nothing leaves DESTDIR, and since ldconfig cannot
# run on a staged tree, the install says that it must be run.
DESTDIR=$T/stage cmake --install "$build" --prefix /usr/local >"$T/stage.out"
check "DESTDIR install into /usr/local stays in DESTDIR" \
	test -x "$T/stage/usr/local/bin/logbusctl"
check "DESTDIR install into /usr/local says to run ldconfig" \
	grep -q "run ldconfig" "$T/stage.out"
finish
