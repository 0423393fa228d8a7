#!/usr/bin/env bash
# test_systemd.sh BIN_DIR BUILD_DIR SOURCE_DIR: the system-service files.
# The configured unit passes `systemd-analyze verify` without a word (on a
# copy whose ExecStart is the built logbusd, since verify wants an existing
# program) and keeps its hardening (`systemd-analyze security`); the
# sysusers and tmpfiles snippets make the user logbus and its directories
# in a scratch root.  A tool that is missing is reported as a skip; exits 77
# (skipped) when every one is.  Prints "ok - NAME" / "not ok - NAME" and a
# last line "N passed, M failed"; exits 1 when any check failed.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -ne 3 ]; then
	echo "usage: $0 BIN_DIR BUILD_DIR SOURCE_DIR" >&2
	exit 2
fi
need_bin_dir logbusd -- "$1"
build=$2 src=$3
unit=$build/logbusd.service
test_init

# Exposure as `systemd-analyze security` counts it, times ten: the unit
# scores 1.0 ("OK"); 2.0 would mean a hardening line was lost.
MAX_EXPOSURE=20

# The overall exposure levels of the units, on one line.
exposure() {
	local u
	for u in "$@"; do
		systemd-analyze security --offline=true "$u" 2>/dev/null |
			sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
	done | paste -s -d ' '
}

skipped=0
skip() {
	skipped=$((skipped + 1))
	echo "skip - $1"
}

# The configured unit: every @VARIABLE@ replaced, the daemon where
# cmake --install puts it, told its directories, and the settings logbusd's
# notify code relies on.
check "unit has no unconfigured @VARIABLE@" \
	bash -c "! grep -n '@[A-Z_]*@' '$unit'"
check "unit starts logbusd by absolute path, settings in its file" \
	grep -qx 'ExecStart=/.*/bin/logbusd' "$unit"
check "unit is Type=notify with a watchdog" \
	bash -c "grep -qx 'Type=notify' '$unit' && grep -qx 'NotifyAccess=main' '$unit' && grep -qx 'WatchdogSec=30s' '$unit'"

mkdir "$T/unit" "$T/broken"
sed "s|^ExecStart=[^ ]*/logbusd\$|ExecStart=$BIN/logbusd|" "$unit" \
	>"$T/unit/logbusd.service"
# A copy with a misspelt key: verify must complain, or its silence on the
# real unit proves nothing.
sed 's/^ProtectSystem=/ProtectSytem=/' "$T/unit/logbusd.service" \
	>"$T/broken/logbusd.service"

if command -v systemd-analyze >/dev/null; then
	expect_exit "systemd-analyze verify accepts the unit" 0 \
		systemd-analyze verify "$T/unit/logbusd.service"
	expect_eq "systemd-analyze verify has nothing to say" "" \
		"$(cat "$T/out" "$T/err")"
	systemd-analyze verify "$T/broken/logbusd.service" >"$T/out" 2>&1 || true
	check "systemd-analyze verify reports a misspelt key" \
		grep -q "Unknown key 'ProtectSytem'" "$T/out"
	check "hardening keeps the exposure level at most $MAX_EXPOSURE/10" \
		systemd-analyze security --offline=true \
		--threshold=$MAX_EXPOSURE "$T/unit/logbusd.service"
	# The figure must move with the unit, or the bound above is idle.
	expect_eq "exposure grows without ProtectSystem=" yes \
		"$(exposure "$T/broken/logbusd.service" \
			"$T/unit/logbusd.service" |
			awk 'NF == 2 && $1 > $2 { print "yes" }')"
else
	skip "systemd-analyze not found: the unit is not verified"
fi

root=$T/root
mkdir -p "$root/etc"
if command -v systemd-sysusers >/dev/null; then
	check "systemd-sysusers reads logbus.sysusers.conf" \
		systemd-sysusers --root="$root" "$src/systemd/logbus.sysusers.conf"
	check "user logbus cannot log in" \
		grep -Eq '^logbus:x:[0-9]+:[0-9]+:[^:]*:[^:]*:(/usr)?/s?bin/(nologin|false)$' \
		"$root/etc/passwd"
	check "group logbus exists" grep -q '^logbus:x:[0-9]*:' "$root/etc/group"
else
	skip "systemd-sysusers not found: logbus.sysusers.conf is not read"
fi

if command -v systemd-tmpfiles >/dev/null &&
	grep -q '^logbus:' "$root/etc/passwd" 2>/dev/null; then
	check "systemd-tmpfiles reads logbus.tmpfiles.conf" \
		systemd-tmpfiles --root="$root" --create \
		"$src/systemd/logbus.tmpfiles.conf"
	uid=$(grep '^logbus:' "$root/etc/passwd" | cut -d: -f3)
	gid=$(grep '^logbus:' "$root/etc/group" | cut -d: -f3)
	expect_eq "/run/logbus is logbus's, 0755" "$uid:$gid 755" \
		"$(stat -c '%u:%g %a' "$root/run/logbus")"
	expect_eq "/var/log/logbus is logbus's, 0750" "$uid:$gid 750" \
		"$(stat -c '%u:%g %a' "$root/var/log/logbus")"
else
	skip "systemd-tmpfiles (or the user from systemd-sysusers) not found: logbus.tmpfiles.conf is not read"
fi

if [ "$skipped" -eq 3 ] && [ "$FAILED" -eq 0 ]; then
	echo "$PASSED passed, 0 failed; systemd's tools are missing: skipped"
	exit 77
fi
finish
