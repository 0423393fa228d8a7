# shellcheck shell=bash
#
# lib.sh: the scaffolding every shell integration test shares (the
# tests/test_*.sh scripts).  Not run on its own: a test sources it first thing after
# its `set -eEuo pipefail` (-E so that the ERR trap also reports failures
# inside functions):
#
#	. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sourcing only defines the functions below and sets PASSED=0, FAILED=0 and
# TEST_PIDS=(); the temporary directory and the traps come with test_init.
#
# Variables
#   BIN          absolute path of the programs' directory (need_bin_dir).
#   T            the test's temporary directory (test_init); removed on exit.
#   BROKER_PID   pid of the test's broker (start_broker), "" once stopped.
#   PASSED       checks passed so far.
#   FAILED       checks failed so far.
#   TEST_PIDS    array of the background processes cleanup stops on exit
#                (track_pid, untrack_pid, stop_pid, start_logbusd).
#   LOGBUSD_PID  pid of the broker start_logbusd started last.
#
# Setup
#   need_bin_dir PROGRAM... -- ARG...
#       ARG... (the script's "$@") must be one directory holding every
#       PROGRAM as an executable; otherwise prints
#       "usage: $0 BIN_DIR (with P1 and P2 in it)" on stderr and exits 2.
#       Sets BIN; with LOGBUS_VALGRIND=1 (tools/dev.sh valgrind) BIN is
#       its valgrind/ folder, where each program is a script that runs the
#       real one under valgrind memcheck.
#   WAIT_SCALE   1, or 10 with LOGBUS_VALGRIND=1: how many times longer
#                wait_sockets, poll and wait_for wait.
#   CTL_COMM     logbusctl, or valgrind's tool's name with LOGBUS_VALGRIND=1:
#                the process name logbusctl's records carry.
#   test_init
#       Makes T in $TMPDIR (or /tmp), named after the script
#       (test_foo.sh: test_foo.XXXXXX), and sets two traps: EXIT runs
#       cleanup; ERR prints "error at line N of FILE: COMMAND" on stderr,
#       since under set -e a command failing outside a check stops the test.
#       Unsets LOGBUS_RUN_DIR and LOGBUS_LOG_DIR: a test names its
#       directories, the caller's defaults never leak in.
#   cleanup
#       The EXIT trap: sends SIGTERM to every pid in TEST_PIDS, the last
#       registered first, waits for each (its status ignored), runs the
#       script's own test_cleanup when it defines one (unmounting what it
#       mounted under T, say), then removes T.  Whatever ends the script,
#       nothing it registered outlives it.
#
# Processes: a script registers every background process it starts, and
# unregisters it once it has stopped it and waited for it itself (so that
# cleanup never signals a pid the system may have reused).
#   track_pid PID     registers PID.
#   untrack_pid PID   unregisters PID.
#   stop_pid PID      SIGTERM to PID (fails, so stops the test, when PID is
#                     gone already), waits for it (its status ignored) and
#                     unregisters it.
#   wait_sockets PID RUN_DIR ERR_FILE
#       Until RUN_DIR/ingest.sock and RUN_DIR/query.sock exist, every 50 ms,
#       at most 10 s; returns 1 at once when PID (the broker) exited, or
#       after 10 s, with a line saying so and ERR_FILE on stderr.
#   poll COMMAND...
#       Runs COMMAND every 50 ms until it succeeds, at most 10 s; returns 1
#       when it never did.  Its output is not redirected.
#   wait_for SECONDS COMMAND...
#       Runs COMMAND (output discarded) every 50 ms until it succeeds;
#       returns 1 when it still fails after SECONDS.
#   group_without_nobody
#       Prints the first of the groups users, staff and games that exists
#       and has not the user nobody as a member; returns 1 when none does
#       (for tests that run clients as nobody in and out of a group).
#   start_logbusd ERR_FILE RUN_DIR [OPTION...]
#       Starts "$BIN/logbusd --run-dir RUN_DIR OPTION..." in the background,
#       its stderr appended to ERR_FILE; registers it, sets LOGBUSD_PID and
#       waits for its sockets (wait_sockets; returns 1 when that fails).
#
# The test's broker: most tests need one broker, in $T/run and $T/log with
# its stderr in $T/broker.err, and logbusctl pointed at it.
#   start_broker [OPTION...]
#       start_logbusd "$T/broker.err" "$T/run" --log-dir "$T/log" OPTION...,
#       and BROKER_PID set to its pid.
#   stop_broker
#       stop_pid "$BROKER_PID" and BROKER_PID cleared.
#   ctl ARG...
#       "$BIN/logbusctl" --run-dir "$T/run" ARG...
#
# Checks: each prints "ok - NAME" or "not ok - NAME" on stdout and counts
# it in PASSED or FAILED; why a check failed goes to stderr, indented.
#   pass NAME
#   fail NAME DETAIL...       (one stderr line per DETAIL)
#   check NAME COMMAND...     ok when COMMAND exits 0; its stdout and stderr
#                             go to $T/check.out and $T/check.err and are
#                             shown when it failed.
#   expect_eq NAME EXPECTED ACTUAL
#                             ok when the two strings are equal.
#   expect_exit NAME CODE COMMAND...
#                             ok when COMMAND exits with CODE ("nonzero" for
#                             any failure); its stdout is kept in $T/out and
#                             its stderr in $T/err for further checks.
#   expect_err_line NAME REGEX
#                             ok when $T/err (the last expect_exit's stderr)
#                             is one line and matches the extended REGEX.
#   finish
#       The script's last command: prints the last line "N passed,
#       M failed" and exits 1 when any check failed; else returns 0, so
#       that the script ends with status 0.

PASSED=0
FAILED=0
TEST_PIDS=()
BROKER_PID=

need_bin_dir() {
	local progs=() p names ok=1
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		progs+=("$1")
		shift
	done
	shift # the --
	if [ $# -ne 1 ]; then
		ok=0
	else
		for p in "${progs[@]}"; do
			[ -x "$1/$p" ] || ok=0
		done
	fi
	if [ "$ok" -eq 0 ]; then
		names=${progs[0]}
		for p in "${progs[@]:1}"; do
			names+=" and $p"
		done
		echo "usage: $0 BIN_DIR (with $names in it)" >&2
		exit 2
	fi
	BIN=$(cd "$1" && pwd)
	if [ "${LOGBUS_VALGRIND:-}" = 1 ]; then
		BIN=$BIN/valgrind
	fi
}

WAIT_SCALE=1
# CTL_COMM: the process name (the trusted "comm") of logbusctl's records:
# under valgrind, that of valgrind's tool, cut to 15 bytes as the kernel
# keeps it.
CTL_COMM=logbusctl
if [ "${LOGBUS_VALGRIND:-}" = 1 ]; then
	WAIT_SCALE=10
	CTL_COMM=$(cd /usr/libexec/valgrind && ls memcheck-*-linux | head -n 1)
	CTL_COMM=${CTL_COMM:0:15}
fi

test_init() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX")
	trap cleanup EXIT
	trap 'echo "error at line $LINENO of ${BASH_SOURCE[0]##*/}: $BASH_COMMAND" >&2' ERR
	unset LOGBUS_RUN_DIR LOGBUS_LOG_DIR
}

cleanup() {
	local i pid
	for ((i = ${#TEST_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${TEST_PIDS[i]}
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if declare -F test_cleanup >/dev/null; then
		test_cleanup || true
	fi
	rm -rf "$T"
}

# ---- processes ---------------------------------------------------------------

track_pid() {
	TEST_PIDS+=("$1")
}

untrack_pid() {
	local keep=() pid
	for pid in "${TEST_PIDS[@]}"; do
		if [ "$pid" != "$1" ]; then
			keep+=("$pid")
		fi
	done
	TEST_PIDS=("${keep[@]}")
}

stop_pid() {
	kill -TERM "$1"
	wait "$1" || true
	untrack_pid "$1"
}

wait_sockets() {
	local pid=$1 run=$2 err=$3
	for _ in $(seq $((200 * WAIT_SCALE))); do
		# all three: live.sock is made last, and a test may look at it
		if [ -S "$run/ingest.sock" ] && [ -S "$run/query.sock" ] &&
			[ -S "$run/live.sock" ]; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "logbusd for $run exited at start:" >&2
			cat "$err" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "logbusd did not create its sockets in $run within $((10 * WAIT_SCALE)) s:" >&2
	cat "$err" >&2
	return 1
}

poll() {
	for _ in $(seq $((200 * WAIT_SCALE))); do
		if "$@"; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

wait_for() {
	local end=$((SECONDS + $1 * WAIT_SCALE))
	shift
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -gt "$end" ]; then
			return 1
		fi
		sleep 0.05
	done
}

start_logbusd() {
	local err=$1 run=$2
	shift 2
	"$BIN/logbusd" --run-dir "$run" "$@" 2>>"$err" &
	LOGBUSD_PID=$!
	track_pid "$LOGBUSD_PID"
	wait_sockets "$LOGBUSD_PID" "$run" "$err"
}

# ---- the test's broker -------------------------------------------------------

# Whether this test can act as a second, unprivileged user: root (to
# switch), setpriv, and the user nobody.
can_be_nobody() {
	[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
		getent passwd nobody >/dev/null
}

# A test that is about a second user: exit 77 (ctest: skipped), saying why,
# when it cannot be one.
need_nobody() {
	if ! can_be_nobody; then
		echo "skip: $(basename "$0" .sh) needs root, setpriv and a user nobody" >&2
		exit 77
	fi
}

# shellcheck disable=SC2120 # the options are the caller's, not the script's
group_without_nobody() {
	local g
	for g in users staff games; do
		if getent group "$g" >/dev/null && ! id -Gn nobody | grep -qw "$g"; then
			echo "$g"
			return 0
		fi
	done
	return 1
}

start_broker() {
	start_logbusd "$T/broker.err" "$T/run" --log-dir "$T/log" "$@"
	BROKER_PID=$LOGBUSD_PID
}

stop_broker() {
	stop_pid "$BROKER_PID"
	BROKER_PID=
}

ctl() {
	"$BIN/logbusctl" --run-dir "$T/run" "$@"
}

# ---- checks ------------------------------------------------------------------

pass() {
	PASSED=$((PASSED + 1))
	echo "ok - $1"
}

fail() {
	local name=$1
	shift
	FAILED=$((FAILED + 1))
	echo "not ok - $name"
	printf '    %s\n' "$@" >&2
}

check() {
	local name=$1
	shift
	if "$@" >"$T/check.out" 2>"$T/check.err"; then
		pass "$name"
	else
		fail "$name" "command: $*" "exit: $?" \
			"stdout: $(cat "$T/check.out")" \
			"stderr: $(cat "$T/check.err")"
	fi
}

expect_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected: $(printf '%q' "$2")" \
			"actual:   $(printf '%q' "$3")"
	fi
}

expect_exit() {
	local name=$1 want=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$want" == nonzero ] && [ "$rc" -ne 0 ]; then
		pass "$name"
	elif [ "$want" == "$rc" ]; then
		pass "$name"
	else
		fail "$name" "command: $*" "exit: $rc, wanted $want" \
			"stderr: $(cat "$T/err")"
	fi
}

expect_err_line() {
	local name=$1 regex=$2
	if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -Eq -- "$regex" "$T/err"; then
		pass "$name"
	else
		fail "$name" "wanted one line matching: $regex" \
			"stderr: $(cat "$T/err")"
	fi
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -ne 0 ]; then
		exit 1
	fi
}
