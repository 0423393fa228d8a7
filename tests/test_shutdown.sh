#!/usr/bin/env bash
#
# test_shutdown.sh: every program ends within a bound on SIGTERM or when
# its broker disappears (issue 15, item 5 and finding 5: logbus-bench's
# query mode, sent SIGTERM by timeout(1), printed "interrupted" and hung
# for an hour in logbus_flush(p, -1) after its broker was gone).
#
# Usage: bash tests/test_shutdown.sh BIN_DIR (BIN_DIR holds logbusd,
# logbusctl, logbus-bench and logbus-crowd).
#
# Each program is started in a process group of its own and given work
# that would last minutes; once it is busy (a file it fills has grown past
# 64 KiB, or the broker has its records), it gets SIGTERM, to the whole
# group as timeout(1) sends it (logbus-bench and the logbusd it started
# both get it), or its broker is killed, and it must have exited within
# BOUND seconds.  The bound is generous: a publisher gives a broker that
# has gone away 5 s to come back.  Prints "ok - NAME" / "not ok - NAME"
# and a last line "N passed, M failed"; exits 1 when any check failed.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl logbus-bench logbus-crowd -- "$@"
test_init

BOUND=15
mkdir "$T/tmp"
export TMPDIR="$T/tmp" # logbus-bench's brokers and files go here

# exited PID: PID is gone, or a zombie (this shell reaps it below).
exited() {
	[ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat")" = Z ]
}

# grown DIR: a file under DIR has grown past 64 KiB.
grown() {
	[ -n "$(find "$1" -type f -size +64k -print -quit 2>/dev/null)" ]
}

# start_group OUT CMD...: CMD in a process group of its own (its pid is
# the group's), stdout and stderr to OUT.out and OUT.err; sets PID.
start_group() {
	local out=$1
	shift
	set -m
	"$@" >"$out.out" 2>"$out.err" &
	PID=$!
	set +m
	track_pid "$PID"
}

# ends_within NAME PID: PID exits within BOUND seconds (else it and its
# group are killed); the check says how long it took.
ends_within() {
	local name=$1 pid=$2 t0=$SECONDS
	if wait_for "$BOUND" exited "$pid"; then
		pass "$name (in $((SECONDS - t0)) s)"
	else
		fail "$name" "still running $BOUND s later" \
			"$(cat "$T/$name.err" 2>/dev/null)"
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	untrack_pid "$pid"
}

# busy NAME DIR: wait until the program of check NAME (PID) has grown a
# file under DIR; else the check fails, the program is killed and busy
# returns 1.
busy() {
	local name=$1
	if wait_for 120 grown "$2"; then
		return 0
	fi
	fail "$name" "never got busy" "$(cat "$T/$name.err")"
	kill -KILL -- "-$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	untrack_pid "$PID"
	return 1
}

# kill_broker: SIGKILL to the test's broker.
kill_broker() {
	kill -KILL "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	untrack_pid "$BROKER_PID"
	BROKER_PID=
}

# broker_killed NAME REGEX CMD...: CMD on the test's broker; once it is
# busy the broker is killed, and CMD must end within BOUND seconds saying
# why (REGEX, extended, on its stderr).
broker_killed() {
	local name=$1 why=$2
	shift 2
	start_group "$T/$name" "$@"
	if busy "$name" "$T/log/journal"; then
		kill_broker
		ends_within "$name" "$PID"
		check "${name}_says_why" grep -Eq "$why" "$T/$name.err"
	fi
	[ -z "$BROKER_PID" ] || kill_broker
}

# bench_sigterm MODE ARG...: logbus-bench --mode MODE with its own broker,
# once busy, SIGTERM to its group.
bench_sigterm() {
	local mode=$1 name="bench_${1}_sigterm_ends"
	shift
	rm -rf "${T:?}/tmp/"*
	start_group "$T/$name" "$BIN/logbus-bench" --mode "$mode" "$@"
	busy "$name" "$T/tmp" || return 0
	kill -TERM -- "-$PID"
	ends_within "$name" "$PID"
}

# --- logbus-bench: SIGTERM to the bench and its own broker, every mode ----

bench_sigterm ingest --records 200000000 --producers 2
bench_sigterm footprint --records 200000000
bench_sigterm call --records 200000000
bench_sigterm live --rates 10000 --seconds 600
bench_sigterm query --query-records 200000000 --query-services 10
bench_sigterm restart --restart-bytes 100G
bench_sigterm direct --records 1000000000

# --- logbus-bench on a broker of the test's: SIGTERM to the bench only,
# then the broker killed under it --------------------------------------------

start_broker
name=bench_run_dir_sigterm_ends
start_group "$T/$name" "$BIN/logbus-bench" --mode ingest --run-dir "$T/run" \
	--records 200000000 --producers 1
if busy "$name" "$T/log/journal"; then
	kill -TERM "$PID"
	ends_within "$name" "$PID"
	check "broker_still_serves_after_the_bench_stopped" ctl stats
fi

broker_killed bench_broker_killed_ends "is logbusd running\?" \
	"$BIN/logbus-bench" --mode query --run-dir "$T/run" \
	--query-records 200000000 --query-services 10

# --- logbus-crowd: its broker killed -----------------------------------------

rm -rf "$T/run" "$T/log"
start_broker
broker_killed crowd_broker_killed_ends "logbusd \(pid [0-9]+\) is gone" \
	"$BIN/logbus-crowd" --run-dir "$T/run" --publishers 20 \
	--subscribers 2 --seconds 600 --rate 2000
rm -rf "$T/run"

# --- logbusctl with its broker stopped ---------------------------------------

# publish -: endless input, no broker: it says so and ends by itself...
start_group "$T/publish_no_broker_ends" \
	bash -c 'yes "a line to publish" | "$1" --run-dir "$2" publish \
		-s svc -' _ "$BIN/logbusctl" "$T/run"
ends_within publish_no_broker_ends "$PID"
check "publish_says_the_broker_is_gone" \
	grep -q "is logbusd running?" "$T/publish_no_broker_ends.err"

# ... and ends at once on SIGTERM, with input waiting or not.
start_group "$T/publish_sigterm_ends" \
	bash -c 'yes "a line to publish" | "$1" --run-dir "$2" publish \
		-s svc -' _ "$BIN/logbusctl" "$T/run"
wait_for 10 pgrep -g "$PID" -x "$CTL_COMM"
kill -TERM -- "-$PID"
ends_within publish_sigterm_ends "$PID"

mkfifo "$T/idle"
start_group "$T/publish_idle_sigterm_ends" "$BIN/logbusctl" --run-dir \
	"$T/run" publish -s svc - <>"$T/idle"
wait_for 10 pgrep -g "$PID" -x "$CTL_COMM"
kill -TERM -- "-$PID"
ends_within publish_idle_sigterm_ends "$PID"

# tail -f, following a broker that is gone: SIGTERM ends it.
start_group "$T/tail_follow_sigterm_ends" "$BIN/logbusctl" --run-dir \
	"$T/run" tail -f
wait_for 10 pgrep -g "$PID" -x "$CTL_COMM"
kill -TERM -- "-$PID"
ends_within tail_follow_sigterm_ends "$PID"

# run: SIGTERM goes to the command, and its exit report gives up on the
# missing broker in time.
start_group "$T/run_sigterm_ends" "$BIN/logbusctl" --run-dir "$T/run" \
	run -s svc -- sleep 600
wait_for 10 pgrep -g "$PID" -x sleep
kill -TERM "$PID"
ends_within run_sigterm_ends "$PID"

finish
