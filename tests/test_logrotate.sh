#!/usr/bin/env bash
#
# test_logrotate.sh: the real logrotate(8), with the shipped sample
# (systemd/logbus.logrotate.in, uncommented) and `rotate 20`, forced again
# and again while a publisher writes: every record is in all.log or its
# rotated copies exactly once (the same for by-logger/), and a broker told
# `[routes] max-size = 0` never rotates a file by itself.
#
# Usage: bash tests/test_logrotate.sh BIN_DIR SAMPLE   (BIN_DIR holds
# logbusd and logbusctl; SAMPLE is the configured logbus.logrotate).  Exits
# 77 (skipped) without /usr/sbin/logrotate.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SAMPLE=${2:-}
need_bin_dir logbusd logbusctl -- "${1:-}"
LOGROTATE=/usr/sbin/logrotate
if [ ! -x "$LOGROTATE" ]; then
	echo "skipped: $LOGROTATE is not installed (apt-get install logrotate)"
	exit 77
fi
test_init

N=20000      # records
ROTATIONS=12 # forced runs of logrotate while they are written (< 20)

# ---- the broker: rotation left to logrotate --------------------------------

printf '[routes]\nmax-size = 0\n' >"$T/logbusd.conf"
start_broker --config "$T/logbusd.conf"

# The sample as shipped, uncommented, on this test's directories: rotate 20,
# and as this user (the logbus user comes with the system service).
sed -E -e 's/^#([^ ]|$)/\1/' \
	-e "s|/var/log/logbus|$T/log|g" \
	-e "s|^(\s*)\S*logbusctl rotate|\1$BIN/logbusctl --run-dir $T/run rotate|" \
	-e 's/^(\s*)su logbus logbus/\1su root root/' \
	"$SAMPLE" >"$T/logrotate.conf"
check "the sample keeps 20" grep -Eq '^\s*rotate 20$' "$T/logrotate.conf"
check "the sample does not copytruncate" \
	bash -c "! grep -v '^\s*#' '$T/logrotate.conf' | grep -q copytruncate"
check "the sample reopens through logbusctl rotate" \
	grep -q "logbusctl --run-dir $T/run rotate" "$T/logrotate.conf"
expect_exit "logrotate reads the sample" 0 \
	"$LOGROTATE" -d -s "$T/logrotate.state" "$T/logrotate.conf"

# ---- write while logrotate runs ----------------------------------------------

# N numbered records, paced so that the rotations below fall among them
# (slower under valgrind, WAIT_SCALE, where each rotation is slower too).
writer() {
	local i pause
	pause=$((WAIT_SCALE / 10)).$((WAIT_SCALE % 10))
	for ((i = 1; i <= N; i++)); do
		echo "rec $i"
		if ((i % 500 == 0)); then
			sleep "$pause"
		fi
	done | ctl publish -s rot -l app --timeout $((60 * WAIT_SCALE)) -
}
writer >"$T/writer.out" 2>"$T/writer.err" &
WRITER=$!
track_pid "$WRITER"

rotated=0
while kill -0 "$WRITER" 2>/dev/null && [ "$rotated" -lt "$ROTATIONS" ]; do
	# something in the file, so that each rotation moves records
	if ! wait_for 30 test -s "$T/log/all.log"; then
		break
	fi
	"$LOGROTATE" -f -s "$T/logrotate.state" "$T/logrotate.conf" \
		2>>"$T/logrotate.err"
	rotated=$((rotated + 1))
done
rc=0
wait "$WRITER" || rc=$?
untrack_pid "$WRITER"
expect_eq "the publisher's records were all acknowledged" 0 "$rc"
check "logrotate ran at least 5 times while records came" test "$rotated" -ge 5
check "logrotate said nothing" test ! -s "$T/logrotate.err"
check "logrotate kept numbered copies" test -e "$T/log/all.log.2.gz"

# records NAME FILE...: the numbers of the "rec N" lines of every file,
# compressed or not, sorted; then each of 1..N must be there exactly once.
records() {
	zcat -f "$@" | sed -n 's/.*: rec \([0-9]*\)$/\1/p' | sort -n
}
seq 1 "$N" >"$T/want"
records "$T"/log/all.log* >"$T/all.got"
diff "$T/want" "$T/all.got" >"$T/all.diff" || true
expect_eq "all.log and its copies: every record once" "" \
	"$(head -5 "$T/all.diff")"
records "$T"/log/by-logger/app.log* >"$T/app.got"
diff "$T/want" "$T/app.got" >"$T/app.diff" || true
expect_eq "by-logger/app.log and its copies: every record once" "" \
	"$(head -5 "$T/app.diff")"

rotations=$(ctl stats -o json | sed -n 's/.*"rotations":\([0-9]*\).*/\1/p')
expect_eq "logbusd rotated nothing itself (max-size = 0)" 0 "$rotations"
check "the copies are logrotate's, beyond logbusd's old 5" \
	test -e "$T/log/all.log.$((rotated < 20 ? rotated : 20)).gz"

finish
