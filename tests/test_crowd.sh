#!/usr/bin/env bash
#
# test_crowd.sh: many clients at once.  logbus-crowd connects 200 publishers
# and 20 following subscribers to a real logbusd, publishes for a few
# seconds and checks that every record reached every subscriber exactly
# once; the broker's peak resident memory must stay under a generous bound
# (ASan inflates it several times; the README's figure comes from a Release
# build); then a flood, a quiet service and a stalled follower (below).
# Prints "ok - NAME" / "not ok - NAME" and exits 1 on a failure.
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

# Fairness and a slow reader: one service floods at full speed, a quiet one
# logs 20 records/s, and one follower stops reading for 3 s.  The quiet
# records all arrive, in order, with a p99 latency under a bound loose
# enough for a sanitized build on a busy machine (the README has the
# figures of a Release build; ten times looser under valgrind, WAIT_SCALE);
# the stalled follower catches up or is told
# "cursor expired", and the other followers get everything meanwhile.
rc=0
"$BIN/logbus-crowd" --run-dir "$T/run" --publishers 50 --subscribers 5 \
	--seconds 5 --rate 2 --flood --quiet-rate 20 --stall 3 \
	--max-quiet-p99-ms $((10000 * WAIT_SCALE)) >"$T/out" 2>"$T/err" || rc=$?
cat "$T/out"
if [ "$rc" -eq 0 ]; then
	pass "crowd_a_flood_does_not_starve_a_quiet_service"
else
	fail "crowd_a_flood_does_not_starve_a_quiet_service" \
		"exit status $rc" "$(tail -5 "$T/err")"
fi
check "crowd_the_stalled_follower_catches_up_or_is_told" \
	grep -qE "stalled follower: .*(caught up|told cursor expired)" "$T/out"
check "crowd_reports_the_quiet_latency" \
	grep -qE "latency p50 [0-9.]+ ms, p99 [0-9.]+ ms" "$T/out"

finish
