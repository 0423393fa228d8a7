#!/usr/bin/env bash
# tools/dev.sh: the two set-up commands of the README.
#
#   tools/dev.sh run [logbusd options]   build (build/) and run logbusd in the
#                                        foreground with working defaults
#   tools/dev.sh test                    build with ASan+UBSan (build-test/)
#                                        and an optimised gcc build
#                                        (build-opt/, not run), both with
#                                        warnings as errors, then run every
#                                        test with ctest
#   tools/dev.sh deps                    only install what is missing
#
# Missing Debian packages are installed with apt-get when run as root;
# otherwise the exact apt-get line is printed and the script stops.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
packages=(gcc make cmake pkg-config libnng-dev libmsgpack-dev libev-dev
          libcmocka-dev libpcre2-dev libinih-dev
          rsyslog    # the peer of tools/bench/compare.sh, in its smoke test
          logrotate  # test_logrotate runs the shipped sample
          libcurl4-openssl-dev librelp-dev # logbus-forward
          clickhouse-server rsyslog-relp)  # its tests' destinations
jobs=$(nproc 2>/dev/null || echo 2)

deps() {
	local missing=() p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "logbus: missing packages; install them with:" >&2
		echo "  sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "logbus: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "${missing[@]}" </dev/null ||
		{ apt-get update -q </dev/null &&
		  apt-get install -y -q "${missing[@]}" </dev/null; }
}

build() { # build DIR [cmake options...]
	local dir=$1
	shift
	cmake -S "$top" -B "$top/$dir" "$@" >/dev/null
	cmake --build "$top/$dir" -j "$jobs"
}

case "${1:-}" in
deps)
	deps
	;;
run)
	shift
	deps
	build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOGBUS_TESTS=OFF
	exec "$top/build/bin/logbusd" "$@"
	;;
test)
	deps
	build build-test -DCMAKE_BUILD_TYPE=Debug -DLOGBUS_SANITIZE=ON \
		-DLOGBUS_WERROR=ON
	# gcc warns about some things only when it optimises (-Wformat-overflow
	# and -Wformat-truncation follow values through inlined code): build
	# everything, tests included, at -O3 too.
	build build-opt -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
		-DLOGBUS_WERROR=ON
	cd "$top/build-test"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	exec ctest --output-on-failure --timeout 600 -j "$jobs"
	;;
*)
	sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 2
	;;
esac
