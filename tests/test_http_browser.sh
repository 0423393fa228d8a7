#!/usr/bin/env bash
# test_http_browser.sh BIN_DIR PLAYWRIGHT_DIR ARTIFACT_DIR: the Logs page of
# logbus-http in Debian's chromium, driven by Playwright (http_browser.mjs):
# it loads and shows records, follows new ones, filters by level, regex and
# service, pauses and follows again, survives a restart of logbus-http
# without a lost or doubled line (the lines in the DOM counted), and keeps
# at most 10,000 lines.  A screenshot is kept in ARTIFACT_DIR (its path is
# printed).  playwright-core is installed into PLAYWRIGHT_DIR by
# `tools/dev.sh playwright` when it is not there yet; the test is skipped
# (77) without node, chromium, or a registry to install it from.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_bin_dir logbusd logbusctl logbus-http -- "${1:-}"
PW=${2:?usage: $0 BIN_DIR PLAYWRIGHT_DIR ARTIFACT_DIR}
ART=${3:?usage: $0 BIN_DIR PLAYWRIGHT_DIR ARTIFACT_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

skip() {
	echo "skipped: $*"
	exit 77
}
command -v node >/dev/null || skip "node not found (apt-get install nodejs npm)"
[ -x "$CHROMIUM" ] || skip "$CHROMIUM not found (apt-get install chromium)"
if [ ! -d "$PW/node_modules/playwright-core" ]; then
	bash "$here/../tools/dev.sh" playwright "$PW" >&2 ||
		skip "playwright-core is not in $PW and npm could not install it (no network?): tools/dev.sh playwright $PW"
fi
test_init

cat >"$T/http.conf" <<CONF
[limits]
heartbeat = 1
CONF
start_broker
mkdir -p "$ART"
rc=0
node "$here/http_browser.mjs" "$PW" "$BIN" "$T/run" "$T" \
	"$ART/test_http_browser.png" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "logbus-http's stderr:" >&2
	cat "$T/http.err" >&2 || true
	exit 1
fi
