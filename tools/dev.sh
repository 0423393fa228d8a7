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
#   tools/dev.sh valgrind [ctest args]   build without sanitizers
#                                        (build-vg/) and run the
#                                        integration tests with every
#                                        program under valgrind memcheck;
#                                        fails on any error or definite leak
#   tools/dev.sh deps                    only install what is missing
#   tools/dev.sh playwright DIR          install playwright-core (pinned)
#                                        into DIR/node_modules from npm, for
#                                        the browser test (test_http_browser)
#
# test also builds the fuzz targets (tests/fuzz, build-fuzz/) and runs each
# for a few seconds when clang and its libFuzzer runtime (Debian: clang,
# libclang-rt-14-dev) are installed, and says why not otherwise.
#
# Missing Debian packages are installed with apt-get when run as root;
# otherwise the exact apt-get line is printed and the script stops.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
packages=(gcc make cmake pkg-config libnng-dev libmsgpack-dev libev-dev
          libcmocka-dev libpcre2-dev libinih-dev
          libcurl4-openssl-dev # alert webhooks (broker/alert_webhook.c)
          libmicrohttpd-dev    # logbus-http (tools/http)
          rsyslog        # the peer of tools/bench/compare.sh, in its smoke test
          logrotate      # test_logrotate runs the shipped sample
          librelp-dev                     # logbus-forward (and libcurl)
          clickhouse-server rsyslog-relp  # its tests' destinations
          python3-pytest python3-venv # the Python binding's tests
          valgrind       # tools/dev.sh valgrind
          chromium) # the Logs page's browser test (with Node.js and npm)
# The browser test drives Debian's chromium with this Playwright, installed
# under the build directory (build-test/npm), never globally.  Node.js and
# npm are not installed here: Debian's nodejs and npm packages, or
# NodeSource's nodejs, all do.
playwright_version=1.65.2
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

playwright() { # playwright DIR: playwright-core in DIR/node_modules
	local dir have
	dir=$(realpath -m "$1")
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "logbus: node or npm not found (apt-get install nodejs npm)" >&2
		return 1
	fi
	have=$(node -p "require('$dir/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
	[ "$have" = "$playwright_version" ] && return 0
	mkdir -p "$dir"
	npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
		"playwright-core@$playwright_version" </dev/null
}

build() { # build DIR [cmake options...]
	local dir=$1
	shift
	cmake -S "$top" -B "$top/$dir" "$@" >/dev/null
	cmake --build "$top/$dir" -j "$jobs"
}

# Whether clang links a libFuzzer target; says why not when it cannot.
fuzz_ready() {
	local tmp ok=0
	if ! command -v clang >/dev/null; then
		echo "logbus: fuzz targets skipped: no clang" \
			"(apt-get install clang libclang-rt-14-dev)" >&2
		return 1
	fi
	tmp=$(mktemp -d)
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)
	      { (void)d; (void)n; return 0; }' >"$tmp/t.c"
	if ! clang -fsanitize=fuzzer "$tmp/t.c" -o "$tmp/t" 2>/dev/null; then
		echo "logbus: fuzz targets skipped: clang cannot link" \
			"-fsanitize=fuzzer (apt-get install libclang-rt-14-dev)" >&2
		ok=1
	fi
	rm -rf "$tmp"
	return $ok
}

case "${1:-}" in
deps)
	deps
	;;
playwright)
	[ $# -eq 2 ] || { echo "usage: $0 playwright DIR" >&2; exit 2; }
	playwright "$2"
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
	playwright "$top/build-test/npm" ||
		echo "logbus: npm could not install playwright-core: the browser test will be skipped" >&2
	# gcc warns about some things only when it optimises (-Wformat-overflow
	# and -Wformat-truncation follow values through inlined code): build
	# everything, tests included, at -O3 too.
	build build-opt -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
		-DLOGBUS_WERROR=ON
	cd "$top/build-test"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	fuzz=0
	if fuzz_ready; then
		cmake -S "$top" -B "$top/build-fuzz" -DCMAKE_C_COMPILER=clang \
			-DCMAKE_BUILD_TYPE=Debug -DLOGBUS_FUZZ=ON \
			-DLOGBUS_TESTS=OFF -DLOGBUS_WERROR=ON >/dev/null
		cmake --build "$top/build-fuzz" -j "$jobs" --target fuzz
		fuzz=1
	fi
	rc=0
	ctest --output-on-failure --timeout 600 -j "$jobs" || rc=$?
	if [ $fuzz = 1 ]; then
		cd "$top/build-fuzz"
		ctest --output-on-failure -j "$jobs" || rc=$?
	fi
	exit $rc
	;;
valgrind)
	shift
	deps
	# LOGBUS_VG_BUILD: another build directory, to try one test while
	# a whole run goes on in build-vg/
	vg=${LOGBUS_VG_BUILD:-build-vg}
	started=$(date +%s)
	build "$vg" -DCMAKE_BUILD_TYPE=Debug -DLOGBUS_SANITIZE=OFF \
		-DLOGBUS_TEST_TIMEOUT_SCALE=10
	# bin/valgrind/NAME runs bin/NAME under memcheck, its report in
	# valgrind-logs/ (tests/lib.sh and harness.c use these with
	# LOGBUS_VALGRIND=1); children of the programs run as they are.
	# --vgdb=no: no gdb pipes left in the tests' temporary directories.
	# The time in a report's name: pids come round again in a long run,
	# and a program run as nobody cannot write over root's old report.
	bin=$top/$vg/bin
	logs=$top/$vg/valgrind-logs
	rm -rf "$bin/valgrind" "$logs"
	mkdir -p "$bin/valgrind" "$logs"
	chmod 1777 "$logs" # for the programs tests run as nobody
	for p in "$bin"/*; do
		[ -f "$p" ] && [ -x "$p" ] || continue
		n=$(basename "$p")
		printf '#!/bin/sh\nexec valgrind -q --vgdb=no --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --suppressions=%s --log-file=%s/%s.%%p.$(date +%%s%%N).log %s "$@"\n' \
			"$top/tests/valgrind.supp" "$logs" "$n" "$p" \
			>"$bin/valgrind/$n"
		chmod +x "$bin/valgrind/$n"
	done
	cd "$top/$vg"
	export LOGBUS_VALGRIND=1
	rc=0
	# Left out: the Python binding (its interpreter loads the library),
	# the install, the benchmarks against rsyslog and journald, and the
	# crash campaign (it kills its brokers with SIGKILL, after which
	# memcheck checks nothing; ASan and LSan check it in build-test/).
	ctest --output-on-failure --timeout 3600 -j "$jobs" -L integration \
		-E 'test_python_|test_install|test_compare_smoke|test_crash_' \
		"$@" || rc=$?
	# memcheck's reports are "==PID==" lines; "--PID--" lines are its
	# notes (a system call it does not know, such as pidfd_open)
	bad=$(grep -l -E '^==[0-9]+==' "$logs"/*.log 2>/dev/null | sort || true)
	if [ -n "$bad" ]; then
		echo "logbus: valgrind found errors or leaks in:" >&2
		for f in $bad; do
			echo "== $f" >&2
			head -60 "$f" >&2
		done
		exit 1
	fi
	echo "logbus: valgrind: $(find "$logs" -name '*.log' | wc -l) programs" \
		"run in $(( ($(date +%s) - started) / 60 )) min, no error and" \
		"no definite leak"
	exit "$rc"
	;;
*)
	sed -n '2,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 2
	;;
esac
