#!/usr/bin/env bash
#
# test_messages.sh: what logbusd and logbusctl say when something is wrong,
# and that they say it at once:
#
#  - no socket file: publish (and any one-shot command) fails at once with
#    "no socket file", while tail -f says so once and waits for logbusd;
#  - a run directory or a socket the user may not open: "permission
#    denied" naming the path, at once, never "is logbusd running?" after a
#    timeout (as nobody through setpriv: skipped without root);
#  - a reload without a configuration file says so, and names no file it
#    did not read;
#  - error reports of the old names (service_<service>_error.log) are
#    renamed at start, once, each said in a record.
#
# Usage: bash tests/test_messages.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl).  Every wait polls a condition, at most 10-20 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init
unset NO_COLOR

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Under valgrind (tools/dev.sh valgrind) logbusctl takes seconds only to
# start: the time `logbusctl --help` takes there, not counted below.
START_MS=0
if [ "$WAIT_SCALE" -gt 1 ]; then
	t0=$(now_ms)
	ctl --help >/dev/null
	START_MS=$(($(now_ms) - t0))
fi

# fast NAME COMMAND...: COMMAND fails (exit 1) within 3 s (beyond START_MS)
# although its --timeout would let it wait 30; its stderr is in $T/err.
fast() {
	local name=$1 t0
	shift
	t0=$(now_ms)
	expect_exit "$name: exit 1" 1 "$@"
	check "$name: at once, not after the timeout" \
		test $(($(now_ms) - t0 - START_MS)) -lt 3000
}

# ---- no socket file ----------------------------------------------------------

mkdir -p "$T/run"
fast "publish without logbusd" ctl publish --timeout 30 -s svc "hello"
expect_err_line "publish without logbusd: says why" \
	"^logbusctl: .*$T/run/ingest.sock \(no socket file\): is logbusd running\?$"
fast "tail without logbusd" ctl tail --timeout 30 -n 1
expect_err_line "tail without logbusd: says why" \
	"$T/run/query.sock \(no socket file\)"
fast "stats without logbusd" ctl stats
expect_err_line "stats without logbusd: says why" \
	"$T/run/query.sock \(no socket file\)"

# tail -f waits for logbusd, as documented, and follows once it is there.
# logbusctl itself in the background (a function would leave it behind a
# subshell that stop_pid kills instead)
"$BIN/logbusctl" --run-dir "$T/run" tail -f -n all -o cat >"$T/follow.out" 2>"$T/follow.err" &
FOLLOW=$!
track_pid "$FOLLOW"
check "tail -f without logbusd: says it waits" \
	wait_for 10 grep -q "waiting for logbusd at $T/run/query.sock: no socket file" \
	"$T/follow.err"
check "tail -f without logbusd: still running" kill -0 "$FOLLOW"
start_broker
ctl publish -s svc "after the wait"
check "tail -f: follows once logbusd is there" \
	wait_for 20 grep -qx "after the wait" "$T/follow.out"
stop_pid "$FOLLOW"

# ---- a reload without a configuration file ---------------------------------

"$BIN/logbusd" --check-config >"$T/check.txt" 2>&1 || true
if grep -q ': absent, defaults)' "$T/check.txt"; then
	DEFAULT_CONF=$(sed -n 's/.*configuration OK (\(.*\): absent.*/\1/p' "$T/check.txt")
	kill -HUP "$BROKER_PID"
	check "reload without a file: done" wait_for 10 \
		bash -c "'$BIN/logbusctl' --run-dir '$T/run' tail -n all -s logbusd -o cat | grep -q 'reload: .*routes'"
	ctl tail -n all -s logbusd -o cat >"$T/selflog.txt"
	check "reload without a file: says so" \
		grep -q "reload: no configuration file ($DEFAULT_CONF does not exist); defaults and command-line options applied; 0 routes" \
		"$T/selflog.txt"
	check "reload without a file: claims no file" \
		bash -c "! grep -q 'configuration from' '$T/selflog.txt'"
else
	echo "# skipped the reload without a file: $(cat "$T/check.txt")"
fi
stop_broker

# ---- error reports of the old names, renamed at start and said ------------

# A log directory of an older logbusd, with reports of the old names:
# service "old" and service "service_7".
mkdir -m 0750 "$T/oldlog"
printf 'Exit code: 3\n' >"$T/oldlog/service_old_error.log"
printf 'Exit code: 7\n' >"$T/oldlog/service_service_7_error.log"
start_logbusd "$T/broker.err" "$T/run" --log-dir "$T/oldlog"
BROKER_PID=$LOGBUSD_PID
ctl errors old >"$T/old.txt" 2>&1 || true
check "an old report is read by its service" grep -qx "Exit code: 3" "$T/old.txt"
ctl errors service_7 >"$T/s7.txt" 2>&1 || true
check "service_7's old report too" grep -qx "Exit code: 7" "$T/s7.txt"
ctl tail -n all -s logbusd -o cat >"$T/selflog.txt"
check "each rename is said" grep -q \
	"error report: renamed service_service_7_error.log to service_7_error.log" \
	"$T/selflog.txt"
stop_broker
start_logbusd "$T/broker.err" "$T/run" --log-dir "$T/oldlog"
BROKER_PID=$LOGBUSD_PID
ctl errors service_7 >"$T/s7.txt" 2>&1 || true
check "a second start renames nothing" grep -qx "Exit code: 7" "$T/s7.txt"
stop_broker

# ---- permission denied (as nobody) ------------------------------------------

if ! can_be_nobody; then
	echo "# skipped permission denied: needs root, setpriv and nobody"
	finish
	exit 0
fi
NOGROUP=$(id -gn nobody)
NOBODY=(setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups --)
chmod 0755 "$T"

# A run directory nobody may not enter (and whose sockets it cannot see).
start_broker
chmod 0700 "$T/run"
for cmd in "publish --timeout 30 -s svc x" "tail --timeout 30 -n 1" stats; do
	# shellcheck disable=SC2086 # the command's words
	fast "run dir 0700: $cmd" "${NOBODY[@]}" "$BIN/logbusctl" \
		--run-dir "$T/run" $cmd
	expect_err_line "run dir 0700: $cmd: permission denied, naming it" \
		"permission denied.*$T/run"
	check "run dir 0700: $cmd: not \"no socket file\"" \
		bash -c "! grep -q 'no socket file\|is logbusd running' '$T/err'"
done
chmod 0755 "$T/run"
stop_broker

# Sockets nobody may not open.
start_broker --ingest-mode 0600 --query-mode 0600
fast "ingest.sock 0600: publish" "${NOBODY[@]}" "$BIN/logbusctl" \
	--run-dir "$T/run" publish --timeout 30 -s svc x
expect_err_line "ingest.sock 0600: publish: permission denied, naming it" \
	"$T/run/ingest.sock \(permission denied"
fast "query.sock 0600: tail" "${NOBODY[@]}" "$BIN/logbusctl" \
	--run-dir "$T/run" tail --timeout 30 -n 1
expect_err_line "query.sock 0600: tail: permission denied, naming it" \
	"$T/run/query.sock \(permission denied"
check "query.sock 0600: tail: not \"is logbusd running?\"" \
	bash -c "! grep -q 'is logbusd running' '$T/err'"
# tail -f says it once and waits (the modes may be fixed)
"${NOBODY[@]}" "$BIN/logbusctl" --run-dir "$T/run" tail -f -n 1 \
	>/dev/null 2>"$T/nfollow.err" &
NFOLLOW=$!
track_pid "$NFOLLOW"
check "query.sock 0600: tail -f: waits, saying why" wait_for 10 \
	grep -q "waiting for logbusd at $T/run/query.sock: permission denied" \
	"$T/nfollow.err"
stop_pid "$NFOLLOW"
stop_broker

finish
