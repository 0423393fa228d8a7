#!/usr/bin/env bash
#
# test_trust.sh: trust and access against a real logbusd, with two uids:
# root and nobody (clients run as nobody through setpriv).
#
#  - socket files get the owner, group and modes the options say;
#  - every record carries the publisher's pid, uid, gid and process name
#    from the socket, and fields named pid/uid/comm cannot pass for them;
#  - a reader outside the reader group sees only its own uid's records on
#    every path: tail, tail -n, cursor resume, errors, tail -f and
#    logbus_subscribe (which follow without the live socket, promptly);
#    ops meant for the reader group are refused to it;
#  - root and a member of the reader group see everything;
#  - an unknown group stops the start with a clear message.
#
# Usage: bash tests/test_trust.sh BIN_DIR   (BIN_DIR holds logbusd,
# logbusctl and trust_subscriber).  Needs root and setpriv: otherwise it
# says why and exits 77 (ctest: skipped).  Every wait polls a condition
# every 20-50 ms, at most 10 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl trust_subscriber -- "$@"
need_nobody
test_init
unset NO_COLOR
chmod 0755 "$T" # nobody must reach the sockets
mkdir "$T/nobody" && chown nobody "$T/nobody"

NOBODY_UID=$(id -u nobody)
NOGROUP=$(id -gn nobody)
# The reader group: an existing group nobody is not a member of.
READERS=$(group_without_nobody) ||
	{ echo "skip: no group for the readers" >&2; exit 77; }

# "${NOBODY[@]}" CMD...: CMD as nobody:nogroup with no other group;
# "${READER[@]}" CMD...: as nobody whose group is the reader group.  Arrays,
# not functions: "${NOBODY[@]}" CMD & is the command's own pid in $!
# (setpriv execs it), which stop_pid and cleanup can end; a function in the
# background would be a subshell whose child outlives it.
# The library never dials live for nobody (its first read reply says
# "own"); the raw live client below does, on purpose, and the broker's
# closing its pipe leaks inside nng 1.5.2: that one client runs with
# lsan-refused-live.supp (nng's frames only).
SUPP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lsan-refused-live.supp
NOBODY=(setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups --)
NOBODY_RAW=("${NOBODY[@]}"
	env "LSAN_OPTIONS=suppressions=$SUPP:print_suppressions=0")
READER=(setpriv --reuid=nobody --regid="$READERS" --clear-groups --)
as_nobody() { "${NOBODY[@]}" "$@"; }
as_reader() { "${READER[@]}" "$@"; }
nctl() { as_nobody "$BIN/logbusctl" --run-dir "$T/run" "$@"; }

# json_all KEY: KEY of each JSON line on stdin, one per line.
json_all() {
	python3 -c '
import json, sys
for line in sys.stdin:
    obj = json.loads(line)
    v = obj
    for part in sys.argv[1].split("/"):
        v = v[part]
    print(v)
' "$1"
}

has_line() { grep -qxF -- "$2" "$1" 2>/dev/null; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- an unknown group stops the start ---------------------------------------

expect_exit "unknown --reader-group: start fails" 1 \
	"$BIN/logbusd" --run-dir "$T/bad" --log-dir "$T/badlog" \
	--reader-group no_such_group_lb
check "unknown --reader-group: names the option and the group" \
	grep -q "reader-group: no group 'no_such_group_lb'" "$T/err"
expect_exit "unknown --socket-user: start fails" 1 \
	"$BIN/logbusd" --run-dir "$T/bad" --log-dir "$T/badlog" \
	--socket-user no_such_user_lb
check "unknown --socket-user: names the user" \
	grep -q "no user 'no_such_user_lb'" "$T/err"
expect_exit "bad --live-mode: exit 2" 2 "$BIN/logbusd" --live-mode 0999

# ---- socket files -----------------------------------------------------------

start_broker --reader-group "$READERS" --socket-user nobody \
	--ingest-group "$NOGROUP" --ingest-mode 0620 --query-mode 0666
expect_eq "ingest.sock: owner, group, mode" "nobody $NOGROUP 620" \
	"$(stat -c '%U %G %a' "$T/run/ingest.sock")"
expect_eq "query.sock: owner, group (unchanged), mode" "nobody root 666" \
	"$(stat -c '%U %G %a' "$T/run/query.sock")"
expect_eq "live.sock: the reader group, 0660 by default" \
	"nobody $READERS 660" "$(stat -c '%U %G %a' "$T/run/live.sock")"
check "the start says who reads everything" \
	grep -q "readers: root and group $READERS read every record" \
	"$T/broker.err"
stop_broker

# The rest with the defaults, but a reader group we can join.
start_broker --reader-group "$READERS"
expect_eq "default modes: ingest 0666, query 0666, live 0660" \
	"666 666 660 $READERS" \
	"$(stat -c '%a' "$T/run/ingest.sock" "$T/run/query.sock" \
		"$T/run/live.sock" | tr '\n' ' ')$(stat -c %G "$T/run/live.sock")"

# ---- stamping that a client cannot forge ------------------------------------

nctl publish -s svc_n -f pid=1 -f uid=0 -f gid=0 -f comm=init "n forged"
ctl publish -s svc_r "r one"
ctl tail -s svc_n -n 1 -o json >"$T/forged.json"
expect_eq "forged: the trusted uid is nobody's" "$NOBODY_UID" \
	"$(json_all uid <"$T/forged.json")"
expect_eq "forged: the trusted gid is nogroup's" "$(id -g nobody)" \
	"$(json_all gid <"$T/forged.json")"
expect_eq "forged: comm is the process's name" "$CTL_COMM" \
	"$(json_all comm <"$T/forged.json")"
pid=$(json_all pid <"$T/forged.json")
check "forged: pid is a real pid, not the field's 1" test "$pid" -gt 1
expect_eq "forged: the fields stay fields" "1 0 init" \
	"$(json_all fields/pid <"$T/forged.json") $(json_all fields/uid \
		<"$T/forged.json") $(json_all fields/comm <"$T/forged.json")"
ctl tail -s svc_n -n 1 -o verbose >"$T/forged.verbose"
check "verbose: trusted pid, the field as field.pid" \
	grep -qx "    pid=$pid" "$T/forged.verbose"
check "verbose: field.pid=1, field.comm=init" \
	bash -c "grep -qx '    field.pid=1' '$T/forged.verbose' &&
		grep -qx '    field.comm=init' '$T/forged.verbose'"
check "verbose: comm=logbusctl" grep -qx "    comm=$CTL_COMM" \
	"$T/forged.verbose"
check "all.log (JSON route off, text) has the record" \
	grep -q "n forged" "$T/log/all.log"

# ---- a reader outside the reader group: its own records only ---------------

nctl publish -s svc_n "n two"
ctl publish -s svc_r "r two"
nctl publish -s svc_shared "n shared"
ctl publish -s svc_shared "r shared"

nctl tail -n all -o json >"$T/n_all.json"
expect_eq "nobody, tail -n all: only nobody's uid" "$NOBODY_UID" \
	"$(json_all uid <"$T/n_all.json" | sort -u)"
expect_eq "nobody, tail -n all: all of nobody's records" \
	"$(printf 'n forged\nn two\nn shared')" \
	"$(json_all message <"$T/n_all.json")"
expect_eq "nobody, tail -n 2: the last two of its own" \
	"$(printf 'n two\nn shared')" "$(nctl tail -n 2 -o cat)"
expect_eq "nobody, tail -s svc_shared: its record, not root's" "n shared" \
	"$(nctl tail -n all -s svc_shared -o cat)"
expect_eq "nobody, tail -g: the filter and the uid together" "" \
	"$(nctl tail -n all -g '^r ' -o cat)"
expect_eq "root, tail -s svc_shared: both" "$(printf 'n shared\nr shared')" \
	"$(ctl tail -n all -s svc_shared -o cat)"
expect_eq "reader group member, tail -s svc_shared: both" \
	"$(printf 'n shared\nr shared')" \
	"$(as_reader "$BIN/logbusctl" --run-dir "$T/run" tail -n all \
		-s svc_shared -o cat)"

# cursor resume
CF=$T/nobody/cursor
nctl tail --cursor-file "$CF" -n 1 -o cat >/dev/null
ctl publish -s svc_r "r three"
nctl publish -s svc_n "n three"
ctl publish -s svc_r "r four"
expect_eq "nobody, cursor resume: only its own new record" "n three" \
	"$(nctl tail --cursor-file "$CF" -o cat)"
expect_eq "nobody, cursor resume again: nothing new" "" \
	"$(nctl tail --cursor-file "$CF" -o cat)"

# error reports
ctl run -s svc_rcrash -- sh -c 'exit 3' >/dev/null 2>&1 || true
nctl run -s svc_ncrash -- sh -c 'exit 4' >/dev/null 2>&1 || true
poll test -e "$T/log/svc_ncrash_error.log"
expect_eq "nobody, errors: only the report of its own record" "svc_ncrash" \
	"$(nctl errors | awk '{print $1}')"
expect_exit "nobody, errors SERVICE of root's: not found" 1 \
	nctl errors svc_rcrash
check "nobody, errors SERVICE of its own: the report" \
	grep -q "Exit code: 4" <(nctl errors svc_ncrash)
expect_eq "root, errors: both" "$(printf 'svc_ncrash\nsvc_rcrash')" \
	"$(ctl errors | awk '{print $1}' | sort)"
expect_exit "nobody, rotate: refused" 1 nctl rotate
check "nobody, rotate: says who may" \
	grep -q "rotate is for root and the reader group ($READERS)" "$T/err"

# ---- following: tail -f and logbus_subscribe, without live -----------------

# live.sock open to everybody: the broker itself must keep nobody out.
stop_broker
start_broker --reader-group "$READERS" --live-mode 0666
"${NOBODY_RAW[@]}" "$BIN/trust_subscriber" --raw-live "$T/run" >"$T/nraw.out" \
	2>"$T/nraw.err" &
NR_PID=$!
track_pid "$NR_PID"
"$BIN/trust_subscriber" --raw-live "$T/run" >"$T/rraw.out" 2>&1 &
RR_PID=$!
track_pid "$RR_PID"
poll has_line "$T/nraw.out" ready

"${NOBODY[@]}" "$BIN/logbusctl" --run-dir "$T/run" tail -f -n 0 -o cat \
	>"$T/nf.out" 2>"$T/nf.err" &
NF_PID=$!
track_pid "$NF_PID"
"${NOBODY[@]}" "$BIN/trust_subscriber" "$T/run" >"$T/nsub.out" \
	2>"$T/nsub.err" &
NS_PID=$!
track_pid "$NS_PID"
"${READER[@]}" "$BIN/logbusctl" --run-dir "$T/run" tail -f -n 0 -o cat \
	>"$T/rf.out" 2>"$T/rf.err" &
RF_PID=$!
track_pid "$RF_PID"
poll has_line "$T/nsub.out" ready
# Each follower has placed itself once a record it may see arrives.
for i in $(seq 100); do
	nctl publish -s svc_n "warm $i"
	if has_line "$T/nf.out" "warm $i" && has_line "$T/rf.out" "warm $i" &&
		has_line "$T/nsub.out" "$NOBODY_UID warm $i"; then
		break
	fi
	sleep 0.1
done
ctl publish -s svc_r "r live"
t0=$(now_ms)
nctl publish -s svc_n "n live"
for _ in $(seq 500); do
	has_line "$T/nf.out" "n live" && has_line "$T/nsub.out" \
		"$NOBODY_UID n live" && break
	sleep 0.02
done
t1=$(now_ms)
check "nobody, tail -f: its record arrives" has_line "$T/nf.out" "n live"
check "nobody, subscription: its record arrives" \
	has_line "$T/nsub.out" "$NOBODY_UID n live"
# publish itself takes some ms; "promptly" is far under the 1 s poll
# (under valgrind, WAIT_SCALE 10, every program is ten times slower and
# this says only that it arrives)
check "nobody, following: delivered promptly ($((t1 - t0)) ms < $((900 * WAIT_SCALE)))" \
	test $((t1 - t0)) -lt $((900 * WAIT_SCALE))
check "nobody, tail -f: never root's record" \
	bash -c "! grep -q 'r live' '$T/nf.out'"
check "nobody, subscription: only uid $NOBODY_UID" \
	bash -c "! grep -v -e '^$NOBODY_UID ' -e '^ready\$' '$T/nsub.out'"
poll has_line "$T/rf.out" "r live" || true
check "reader group member, tail -f: root's record too" \
	has_line "$T/rf.out" "r live"
check "reader group member, tail -f: nobody's record" \
	has_line "$T/rf.out" "n live"
check "root's raw live subscriber got live messages" \
	grep -q '^live ' "$T/rraw.out"
check "nobody's raw live subscriber got none: the broker closed its pipes" \
	bash -c "! grep -q '^live ' '$T/nraw.out'"
stop_pid "$NR_PID"
stop_pid "$RR_PID"
stop_pid "$NF_PID"
stop_pid "$NS_PID"
stop_pid "$RF_PID"
check "nobody's followers said nothing on stderr" \
	sh -c "cat '$T/nf.err' '$T/nsub.err' >&2; test ! -s '$T/nf.err' -a ! -s '$T/nsub.err'"

stop_pid "$BROKER_PID"
# ---- a user's own broker ------------------------------------------------------

# nobody runs a logbusd of its own with the defaults: the reader group
# falls back to none where nobody may not give live.sock to adm (it used to
# stop the start with "Operation not permitted").
"${NOBODY[@]}" "$BIN/logbusd" --run-dir "$T/nobody/run" \
	--log-dir "$T/nobody/log" --quiet 2>"$T/own.err" &
OWN=$!
track_pid "$OWN"
check "a user's own broker starts with the defaults" \
	wait_sockets "$OWN" "$T/nobody/run" "$T/own.err"
"${NOBODY[@]}" "$BIN/logbusctl" --run-dir "$T/nobody/run" publish -s mine "of my own" ||
	true
expect_eq "... and serves its user" "of my own" \
	"$("${NOBODY[@]}" "$BIN/logbusctl" --run-dir "$T/nobody/run" tail -n 1 -s mine -o cat)"
stop_pid "$OWN"

finish
