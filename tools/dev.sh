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
#   tools/dev.sh playwright DIR          install playwright-core (pinned)
#                                        into DIR/node_modules from npm, for
#                                        the browser test (test_http_browser)
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
          python3-pytest python3-venv # the Python binding's tests
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
	exec ctest --output-on-failure --timeout 600 -j "$jobs"
	;;
*)
	sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit 2
	;;
esac
