#!/usr/bin/env bash
# test_forward_systemd.sh BIN_DIR BUILD_DIR: logbus-forward.service as
# test_systemd.sh checks logbusd's: the configured unit passes
# `systemd-analyze verify` without a word (on a copy whose ExecStart is the
# built program) and keeps its hardening: exposure at most 2.0 (1.7 now;
# it needs the network, unlike logbusd).  Skipped (77) without
# systemd-analyze.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbus-forward -- "$1"
unit=$2/logbus-forward.service
test_init
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze not found" >&2
	exit 77
fi

check "unit has no unconfigured @VARIABLE@" \
	bash -c "! grep -n '@[A-Z_]*@' '$unit'"
check "unit runs logbus-forward by absolute path with its configuration" \
	grep -qx 'ExecStart=/.*/bin/logbus-forward --config /.*/logbus/forward.conf' "$unit"
sed "s|^ExecStart=[^ ]*/logbus-forward |ExecStart=$BIN/logbus-forward |" \
	"$unit" >"$T/logbus-forward.service"
expect_exit "systemd-analyze verify accepts the unit" 0 \
	systemd-analyze verify "$T/logbus-forward.service"
expect_eq "systemd-analyze verify has nothing to say" "" \
	"$(cat "$T/out" "$T/err")"
check "hardening keeps the exposure level at most 2.0" \
	systemd-analyze security --offline=true --threshold=20 \
	"$T/logbus-forward.service"
sed '/^SystemCallFilter=/d' "$T/logbus-forward.service" >"$T/weak.service"
expect_exit "the bound can fail: without SystemCallFilter= it is over" nonzero \
	systemd-analyze security --offline=true --threshold=20 "$T/weak.service"
finish
