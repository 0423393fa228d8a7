#!/usr/bin/env bash
#
# test_compare_smoke.sh: tools/bench/compare.sh runs the same small workload
# through logbus, rsyslog, journald (where it can run) and direct fwrite and
# reports sane results.
#
# Usage: bash tests/test_compare_smoke.sh BIN_DIR SOURCE_DIR.  Checks that
# the script exits 0, that logbus and direct have every record on disk and
# that each peer it ran reports a positive rate and its ratio; never timings.
# rsyslog must be installed (tools/dev.sh installs it).  Prints "ok - NAME"
# / "not ok - NAME" and a last line "N passed, M failed".
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

src=${2:-}
need_bin_dir logbusd logbusctl logbus-bench logbus-syslog-sender -- "${1:-}"
if [ ! -f "$src/tools/bench/compare.sh" ]; then
	echo "usage: $0 BIN_DIR SOURCE_DIR (with tools/bench/compare.sh)" >&2
	exit 2
fi
test_init
mkdir "$T/tmp"

records=3000
rc=0
TMPDIR="$T/tmp" LOGBUS_BIN_DIR="$BIN" \
	bash "$src/tools/bench/compare.sh" "$records" 100 \
	>"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 0 ]; then
	pass "compare_exits_0"
else
	fail "compare_exits_0" "exit status $rc" "$(cat "$T/out" "$T/err")"
fi

# field PEER N: the Nth column of PEER's line of the results table.
field() {
	awk -v p="$1" -v n="$2" '$1 == p && NF == 5 { print $n }' "$T/out"
}

for p in logbus direct; do
	expect_eq "${p}_has_every_line" "$records" "$(field "$p" 4)"
	expect_eq "${p}_lost_nothing" 0 "$(field "$p" 5)"
done
for p in logbus rsyslog direct; do
	if awk -v r="$(field "$p" 2)" 'BEGIN { exit !(r > 0) }'; then
		pass "${p}_rate_is_positive"
	else
		fail "${p}_rate_is_positive" "$(cat "$T/out")"
	fi
done
# rsyslog may lose lines when pushed (that is a result): its count is sane.
n=$(field rsyslog 4)
if [ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -le "$records" ] &&
	[ "$(field rsyslog 5)" -eq $((records - n)) ]; then
	pass "rsyslog_lines_and_lost_add_up"
else
	fail "rsyslog_lines_and_lost_add_up" "$(cat "$T/out")"
fi
for p in rsyslog direct; do
	if grep -Eq "^ratio logbus/$p [0-9]+\.[0-9]{2}\$" "$T/out"; then
		pass "ratio_logbus_${p}_is_printed"
	else
		fail "ratio_logbus_${p}_is_printed" "$(cat "$T/out")"
	fi
done
# journald: measured, or a line saying why not.
if grep -Eq '^journald ' "$T/out"; then
	pass "journald_is_measured_or_explained"
else
	fail "journald_is_measured_or_explained" "$(cat "$T/out")"
fi
if [ -z "$(ls -A "$T/tmp")" ]; then
	pass "temporary_directory_is_removed"
else
	fail "temporary_directory_is_removed" "left: $(ls -A "$T/tmp")"
fi

rc=0
bash "$src/tools/bench/compare.sh" 10x >"$T/u.out" 2>"$T/u.err" || rc=$?
if [ "$rc" -eq 2 ] && grep -q "usage: compare.sh" "$T/u.err"; then
	pass "bad_records_is_a_usage_error"
else
	fail "bad_records_is_a_usage_error" "exit $rc: $(cat "$T/u.err")"
fi

finish
