#!/usr/bin/env bash
# test_systemd_http.sh BIN_DIR BUILD_DIR: logbus-http's unit, as
# test_systemd.sh checks logbusd's: every @VARIABLE@ configured, `systemd-
# analyze verify` silent (on a copy whose ExecStart is the built program),
# and its hardening kept (`systemd-analyze security`, with a broken copy to
# show the figure moves).  Exits 77 without systemd-analyze.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -ne 2 ]; then
	echo "usage: $0 BIN_DIR BUILD_DIR" >&2
	exit 2
fi
need_bin_dir logbus-http -- "$1"
unit=$2/logbus-http.service
test_init

# systemd-analyze security's exposure times ten: the unit scores 1.x.
MAX_EXPOSURE=20

exposure() {
	systemd-analyze security --offline=true "$1" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

check "unit has no unconfigured @VARIABLE@" \
	bash -c "! grep -n '@[A-Z_]*@' '$unit'"
check "unit starts logbus-http by absolute path" \
	grep -qx 'ExecStart=/.*/bin/logbus-http' "$unit"
check "unit listens on loopback only unless opened" \
	bash -c "grep -qx 'IPAddressDeny=any' '$unit' && grep -qx 'IPAddressAllow=localhost' '$unit'"

if ! command -v systemd-analyze >/dev/null; then
	echo "systemd-analyze not found: the unit is not verified; skipped"
	exit 77
fi
mkdir "$T/unit" "$T/broken"
sed "s|^ExecStart=[^ ]*/logbus-http\$|ExecStart=$BIN/logbus-http|" "$unit" \
	>"$T/unit/logbus-http.service"
sed -e 's/^ProtectSystem=/ProtectSytem=/' -e '/^DynamicUser=/d' \
	"$T/unit/logbus-http.service" >"$T/broken/logbus-http.service"
expect_exit "systemd-analyze verify accepts the unit" 0 \
	systemd-analyze verify "$T/unit/logbus-http.service"
expect_eq "systemd-analyze verify has nothing to say" "" \
	"$(grep -v 'logbusd.service' "$T/out" "$T/err" || true)"
systemd-analyze verify "$T/broken/logbus-http.service" >"$T/out" 2>&1 || true
check "systemd-analyze verify reports a misspelt key" \
	grep -q "Unknown key 'ProtectSytem'" "$T/out"
check "hardening keeps the exposure level at most $MAX_EXPOSURE/10" \
	systemd-analyze security --offline=true --threshold=$MAX_EXPOSURE \
	"$T/unit/logbus-http.service"
expect_eq "exposure grows without ProtectSystem= and DynamicUser=" yes \
	"$(awk -v a="$(exposure "$T/broken/logbus-http.service")" \
		-v b="$(exposure "$T/unit/logbus-http.service")" \
		'BEGIN { if (a > b) print "yes"; else print a " <= " b }')"
finish
