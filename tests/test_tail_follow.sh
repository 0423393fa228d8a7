#!/usr/bin/env bash
#
# test_tail_follow.sh: logbusctl tail -f against a real logbusd: records
# committed after it started, the filters on live records, Ctrl-C and
# SIGTERM, a broker restart under a follower, and --cursor-file.
#
# Usage: bash tests/test_tail_follow.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl, e.g. build/bin).  Prints "ok - NAME" / "not ok - NAME" for each
# check and a last line "N passed, M failed"; exits 1 when any check failed.
# Nothing waits a fixed time: every wait polls a condition every 50 ms for
# at most 10 s.  The broker, the followers and the temporary directory are
# removed on exit, whatever happens.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init

unset NO_COLOR

# eventually NAME COMMAND...: ok when COMMAND succeeds within 10 s.
eventually() {
	local name=$1
	shift
	if poll "$@"; then
		pass "$name"
	else
		fail "$name" "not within 10 s: $*"
	fi
}

# has_line FILE LINE: FILE has LINE as a whole line.
has_line() {
	grep -qxF -- "$2" "$1" 2>/dev/null
}

# follow NAME ARGS...: start `logbusctl tail -f ARGS` in the background,
# output in $T/NAME.out and $T/NAME.err; its pid is in $FOLLOW_PID, and
# registered for cleanup.
follow() {
	local name=$1
	shift
	"$BIN/logbusctl" --run-dir "$T/run" tail -f "$@" \
		>"$T/$name.out" 2>"$T/$name.err" &
	FOLLOW_PID=$!
	track_pid "$FOLLOW_PID"
}

# stop_follower NAME SIGNAL PID: send SIGNAL and expect exit 0, quietly.
stop_follower() {
	local name=$1 sig=$2 pid=$3 rc=0
	kill "-$sig" "$pid"
	wait "$pid" || rc=$?
	untrack_pid "$pid"
	expect_eq "$name: SIG$sig ends it with exit 0" 0 "$rc"
}

start_broker

# ---- records committed after it started ----------------------------------------------------

for i in 1 2 3; do ctl publish -s svc_f "old $i"; done
follow basic -s svc_f -n 2 -o cat
BASIC=$FOLLOW_PID
eventually "-f -n 2: the last 2 first" has_line "$T/basic.out" "old 3"
ctl publish -s svc_f "new 1"
eventually "-f: a record published after it started" has_line "$T/basic.out" "new 1"
ctl publish -s svc_f "new 2"
ctl publish -s svc_f -p error "new 3"
eventually "-f: more records as they come" has_line "$T/basic.out" "new 3"
stop_follower "-f" INT "$BASIC"
expect_eq "-f: every record once, in order" \
	"$(printf 'old 2\nold 3\nnew 1\nnew 2\nnew 3')" "$(cat "$T/basic.out")"
expect_eq "-f: nothing on stderr" "" "$(cat "$T/basic.err")"

# ---- the filters apply to live records ------------------------------------------------------

# Each follower starts with -n 1 on an empty service and waits for a record
# every filter lets through, so what comes next comes while it follows.
follow grep -s svc_live -n 1 -o cat -g '(?i)(error|exception|failed)'
GREP=$FOLLOW_PID
follow stream -s svc_live -n 1 -o cat --stream stderr
STREAM=$FOLLOW_PID
follow field -s svc_live -n 1 -o cat -F user=user123
FIELD=$FOLLOW_PID
follow levlog -s svc_live -n 1 -o cat -p warning -l app
LEVLOG=$FOLLOW_PID
follow all -n 1 -o json
ALL=$FOLLOW_PID
ALL_MATCH=(-s svc_live -l app.x -p error --stream stderr -f user=user123)
ctl publish "${ALL_MATCH[@]}" "ready failed"
for f in grep stream field levlog; do
	eventually "$f: follows" has_line "$T/$f.out" "ready failed"
done
eventually "no -s: follows" grep -q '"ready failed"' "$T/all.out"

ctl publish -s svc_live -l app "live ok"
ctl publish -s svc_live -l other "live Exception here"
ctl publish -s svc_live --stream stderr "live on stderr"
ctl publish -s svc_live -f user=user123 "live user123"
ctl publish -s svc_live -f user=user456 "live user456"
ctl publish -s svc_live -p warning -l app.sub "live warning app.sub"
ctl publish -s svc_live -p warning -l other "live warning other"
ctl publish -s svc_live -p info -l app "live info app"
ctl publish -s svc_live -p critical -l appx "live critical appx"
ctl publish "${ALL_MATCH[@]}" "done failed"
for f in grep stream field levlog; do
	eventually "$f: sees the last record" has_line "$T/$f.out" "done failed"
done
eventually "no -s: sees the last record" grep -q '"done failed"' "$T/all.out"
stop_follower "-g" TERM "$GREP"
stop_follower "--stream" TERM "$STREAM"
stop_follower "-F" TERM "$FIELD"
stop_follower "-p -l" TERM "$LEVLOG"
stop_follower "no -s" INT "$ALL"
expect_eq "-f -g: case-insensitive regex on live records" \
	"$(printf 'ready failed\nlive Exception here\ndone failed')" "$(cat "$T/grep.out")"
expect_eq "-f --stream stderr on live records" \
	"$(printf 'ready failed\nlive on stderr\ndone failed')" "$(cat "$T/stream.out")"
expect_eq "-f -F user=user123 on live records" \
	"$(printf 'ready failed\nlive user123\ndone failed')" "$(cat "$T/field.out")"
expect_eq "-f -p warning -l app on live records" \
	"$(printf 'ready failed\nlive warning app.sub\ndone failed')" "$(cat "$T/levlog.out")"
check_json() {
	python3 -c '
import json, sys
msgs = [json.loads(line)["message"] for line in sys.stdin]
# -n 1 showed "new 3" first when the follower was faster than "ready".
if msgs[:1] == ["new 3"]:
    msgs = msgs[1:]
want = ["ready failed", "live ok", "live Exception here", "live on stderr",
        "live user123", "live user456", "live warning app.sub",
        "live warning other", "live info app", "live critical appx",
        "done failed"]
sys.exit(0 if msgs == want else 1)
' <"$T/all.out"
}
if check_json; then
	pass "-f -o json without -s: every record, valid JSON"
else
	fail "-f -o json without -s: every record, valid JSON" "$(cat "$T/all.out")"
fi

# Several services: the follower takes everything live and filters it.
follow two -s svc_two_a -s svc_two_b -n 1 -o cat
TWO=$FOLLOW_PID
ctl publish -s svc_two_a "two ready"
eventually "-s twice: follows" has_line "$T/two.out" "two ready"
ctl publish -s svc_two_b "two b1"
ctl publish -s svc_two_c "two c1"
ctl publish -s svc_two_a "two a1"
ctl publish -s svc_two_c "two c2"
ctl publish -s svc_two_b "two b2"
eventually "-s twice: sees the last record" has_line "$T/two.out" "two b2"
stop_follower "-s twice" INT "$TWO"
expect_eq "-f -s twice: both services, in order, not a third" \
	"$(printf 'two ready\ntwo b1\ntwo a1\ntwo b2')" "$(cat "$T/two.out")"

# ---- a broker restart under a follower --------------------------------------------------------

follow restart -s svc_rs -o cat --cursor-file "$T/rs.cursor"
RESTART=$FOLLOW_PID
ctl publish -s svc_rs "rs 1"
eventually "restart: follows before" has_line "$T/restart.out" "rs 1"
stop_broker
eventually "restart: one line says it waits for logbusd" \
	grep -q '^logbusctl: waiting for logbusd at .*query.sock: ' "$T/restart.err"
check_alive() { kill -0 "$RESTART" 2>/dev/null; }
if check_alive; then
	pass "restart: the follower keeps going without a broker"
else
	fail "restart: the follower keeps going without a broker" \
		"stderr: $(cat "$T/restart.err")"
fi
start_broker
ctl publish -s svc_rs "rs 2"
ctl publish -s svc_rs "rs 3"
eventually "restart: records after the restart appear" has_line "$T/restart.out" "rs 3"
ctl publish -s svc_rs "rs 4"
eventually "restart: and more after them" has_line "$T/restart.out" "rs 4"
stop_follower "restart" INT "$RESTART"
expect_eq "restart: each record once, in order" \
	"$(printf 'rs 1\nrs 2\nrs 3\nrs 4')" "$(cat "$T/restart.out")"
expect_eq "restart: exactly one line on stderr" 1 "$(wc -l <"$T/restart.err")"

# ---- --cursor-file with -f --------------------------------------------------------------------

expect_eq "--cursor-file: written on exit, nothing new after it" "" \
	"$(ctl tail -s svc_rs --cursor-file "$T/rs.cursor" -o cat)"
ctl publish -s svc_rs "rs 5"
follow again -s svc_rs -o cat --cursor-file "$T/rs.cursor"
AGAIN=$FOLLOW_PID
eventually "-f --cursor-file: starts after the file's cursor" has_line "$T/again.out" "rs 5"
ctl publish -s svc_rs "rs 6"
eventually "-f --cursor-file: then follows" has_line "$T/again.out" "rs 6"
# Saved after each burst of output, not only on exit.
CUR_NOW=$(ctl tail -n 0 -s svc_rs --show-cursor | sed -n 's/^-- cursor: //p')
eventually "-f --cursor-file: updated while following" \
	grep -qxF "$CUR_NOW" "$T/rs.cursor"
stop_follower "-f --cursor-file" TERM "$AGAIN"
expect_eq "-f --cursor-file: each record once" "$(printf 'rs 5\nrs 6')" \
	"$(cat "$T/again.out")"
ctl publish -s svc_rs "rs 7"
expect_eq "--cursor-file: a later snapshot goes on from there" "rs 7" \
	"$(ctl tail -s svc_rs --cursor-file "$T/rs.cursor" -o cat)"

# ---- --show-cursor and --after-cursor with -f -----------------------------------------------

AFTER=$(ctl tail -n 1 -s svc_rs --show-cursor -o cat | sed -n 's/^-- cursor: //p')
ctl publish -s svc_rs "rs 8"
follow after -s svc_rs -o cat --after-cursor "$AFTER" --show-cursor
AFTER_PID=$FOLLOW_PID
eventually "-f --after-cursor: from the cursor" has_line "$T/after.out" "rs 8"
ctl publish -s svc_rs "rs 9"
eventually "-f --after-cursor: then follows" has_line "$T/after.out" "rs 9"
stop_follower "-f --after-cursor" INT "$AFTER_PID"
expect_eq "-f --show-cursor: the records, then the cursor on exit" \
	"rs 8|rs 9|-- cursor: lb1-" \
	"$(head -n 2 "$T/after.out" | tr '\n' '|')$(tail -n 1 "$T/after.out" | cut -c 1-15)"

# ---- the broker is still well ---------------------------------------------------------------

if kill -0 "$BROKER_PID" 2>/dev/null; then
	pass "logbusd still running"
else
	fail "logbusd still running" "$(cat "$T/broker.err")"
fi

finish
