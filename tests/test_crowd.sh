#!/usr/bin/env bash
#
# test_crowd.sh: many clients at once.  logbus-crowd connects 200 publishers
# and 20 following subscribers to a real logbusd, publishes for a few
# seconds and checks that every record reached every subscriber exactly
# once; the broker's peak resident memory must stay under a generous bound
# (ASan inflates it several times; the README's figure comes from a Release
# build).  Prints "ok - NAME" / "not ok - NAME" and exits 1 on a failure.
#
# Usage: bash tests/test_crowd.sh BIN_DIR
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbus-crowd -- "$@"
test_init

start_broker
rc=0
"$BIN/logbus-crowd" --run-dir "$T/run" --publishers 200 --subscribers 20 \
	--seconds 3 --rate 2 --max-rss-mb 1024 >"$T/out" 2>"$T/err" || rc=$?
cat "$T/out"
if [ "$rc" -eq 0 ]; then
	pass "crowd_every_record_reaches_every_subscriber_in_bounded_memory"
else
	fail "crowd_every_record_reaches_every_subscriber_in_bounded_memory" \
		"exit status $rc" "$(tail -5 "$T/err")"
fi
check "crowd_reports_the_brokers_memory" grep -q "VmHWM [0-9]* kB" "$T/out"

finish
