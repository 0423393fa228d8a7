#!/usr/bin/env bash
#
# test_alerts.sh: [alert NAME] rules against a real logbusd (broker/alerts.h):
# an exec rule gets exactly the matching records (the record as JSON on its
# stdin, the main keys in its environment), a field match (error_category),
# exit records only, a storm throttled with a correct "and N more", a kill -9
# of the broker between a record's commit and its action (the action runs
# after the restart, once) and after an action (not run again), a hanging
# action killed at its timeout (the rule goes on), resolve-after, a slow
# action that delays neither ingest nor another rule, a webhook to a local
# server answering 500 then 200 (retried), a reload adding and removing a
# rule, the log directory removed and made again while logbusd runs (the
# positions follow it), and logbusctl alerts / alerts test.
#
# Usage: bash tests/test_alerts.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl).  Prints "ok - NAME" / "not ok - NAME" for each check and a last
# line "N passed, M failed"; exits 1 when any check failed.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "${1:-}"
test_init
mkdir -p "$T/acts"

# The action: its stdin to out/RULE.EVENT.SEQ.json, a line of its
# environment to out/RULE.log; "started"/"done" lines around an optional
# wait (for the kill -9 test) while $T/block exists.
cat >"$T/act.sh" <<'EOF'
#!/bin/sh
out=$(dirname "$0")/acts
echo "started $LOGBUS_SEQ $$" >>"$out/$LOGBUS_RULE.runs"
cat >"$out/$LOGBUS_RULE.$LOGBUS_EVENT.$LOGBUS_SEQ.json"
if [ -e "$(dirname "$0")/block" ]; then
	while [ ! -e "$(dirname "$0")/go" ]; do sleep 0.05; done
fi
# the message's first line: one line per action
msg=$(printf '%s\n' "$LOGBUS_MESSAGE" | head -n 1)
printf '%s|%s|%s|%s|%s|%s\n' "$LOGBUS_EVENT" "$LOGBUS_SERVICE" \
	"$LOGBUS_LEVEL" "$msg" "$LOGBUS_SUMMARY" "$LOGBUS_SEQ" \
	>>"$out/$LOGBUS_RULE.log"
echo "done $LOGBUS_SEQ" >>"$out/$LOGBUS_RULE.runs"
EOF
chmod +x "$T/act.sh"

conf() { # the rules, written to $T/logbusd.conf
	cat >"$T/logbusd.conf"
}
lines() { # lines of a file, 0 when it does not exist
	if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi
}
has_lines() { # FILE N: FILE has at least N lines
	[ "$(lines "$1")" -ge "$2" ]
}

# seq_of SERVICE: the sequence number of the service's last record.
seq_of() {
	ctl tail -s "$1" -n 1 -o json |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])'
}
# position_of RULE: the position `logbusctl alerts` shows (the saved one).
position_of() {
	ctl alerts | awk -v r="$1" '$1 == r {print $3}'
}
# position_at_least RULE SEQ
position_at_least() {
	[ "$(position_of "$1")" -ge "$2" ]
}
# says TEXT: one of logbusd's own records holds TEXT.
says() {
	ctl tail -n all -s logbusd -o cat | grep -qF -- "$1"
}
# kill9_broker: kill -9 of the test's broker, waited for.
kill9_broker() {
	kill -9 "$BROKER_PID"
	wait "$BROKER_PID" 2>/dev/null || true
	untrack_pid "$BROKER_PID"
}
# crash_while_blocked RULE: kill -9 of the broker while RULE's last action
# started waits for $T/block, and of that action's process group; then the
# block lifted and the broker started again.
crash_while_blocked() {
	kill9_broker
	kill -9 -- "-$(awk '/^started/ {p = $3} END {print p}' \
		"$T/acts/$1.runs")" 2>/dev/null || true
	rm -f "$T/block"
	start_broker --config "$T/logbusd.conf"
}

A=$T/act.sh
conf <<EOF
[alert errs]
service = svc_*|db
level = error
message = boom
exec = $A
interval = 0

[alert cat]
field.error_category = dependency
exec = $A
interval = 0

[alert exits]
exits = yes
service = runner
exec = $A
interval = 0

[alert storm]
service = storm
exec = $A
interval = 3s
EOF
start_broker --config "$T/logbusd.conf"

# ---- exactly the matching records --------------------------------------------

ctl publish -s svc_a -p error "boom 1"
ctl publish -s svc_a -p info "boom, but only info"
ctl publish -s web -p error "boom from another service"
ctl publish -s svc_b -p error "no match in the message"
ctl publish -s db -p critical "boom 2"
ctl publish -s svc_c -p error "last boom"
check "errs: three actions" wait_for 20 has_lines "$T/acts/errs.log" 3
ctl publish -s svc_d -p error "boom after"
wait_for 20 has_lines "$T/acts/errs.log" 4 || true
expect_eq "errs: exactly the matching records, in order" \
	"alert|svc_a|ERROR|boom 1|
alert|db|CRITICAL|boom 2|
alert|svc_c|ERROR|last boom|
alert|svc_d|ERROR|boom after|" \
	"$(cut -d'|' -f1-5 "$T/acts/errs.log")"
seq1=$(head -1 "$T/acts/errs.log" | cut -d'|' -f6)
check "errs: the record as JSON on stdin" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["service"] == "svc_a" and r["message"] == "boom 1", r
assert r["level"] == "ERROR" and r["seq"] == int(sys.argv[2]), r
assert r["comm"] == sys.argv[3], r
' "$T/acts/errs.alert.$seq1.json" "$seq1" "$CTL_COMM"

# ---- a field match: error_category -------------------------------------------

ctl publish -s svc_x -f error_category=port "bind failed"
ctl publish -s svc_x -f error_category=dependency "No module named fastapi"
check "cat: the record with error_category=dependency" \
	wait_for 20 has_lines "$T/acts/cat.log" 1
ctl publish -s svc_x -f error_category=dependency "again"
wait_for 20 has_lines "$T/acts/cat.log" 2 || true
expect_eq "cat: only error_category=dependency" \
	"No module named fastapi
again" "$(cut -d'|' -f4 "$T/acts/cat.log")"

# ---- exit records only ---------------------------------------------------------

ctl publish -s runner -p error "an error that is not an exit"
ctl run -s runner -- sh -c 'echo oops >&2; exit 3' 2>/dev/null || true
check "exits: the exit record" wait_for 20 has_lines "$T/acts/exits.log" 1
ctl run -s runner -- sh -c 'exit 4' 2>/dev/null || true
wait_for 20 has_lines "$T/acts/exits.log" 2 || true
expect_eq "exits: exit records only" \
	"Process exited with code 3
Process exited with code 4" \
	"$(cut -d'|' -f4 "$T/acts/exits.log" | cut -c1-26)"

# ---- a storm: one action per interval, "and N more" --------------------------

seq 1 40 | sed 's/^/crash /' | ctl publish -s storm -p error -
check "storm: the first action" wait_for 20 has_lines "$T/acts/storm.log" 1
first_at=$(date +%s)
# the interval (3 s, by commit time) passes, then one more record
while [ $(($(date +%s) - first_at)) -lt 4 ]; do sleep 0.2; done
ctl publish -s storm -p error "crash 41"
check "storm: the second action" wait_for 20 has_lines "$T/acts/storm.log" 2
expect_eq "storm: two actions for 41 records" 2 "$(lines "$T/acts/storm.log")"
second=$(sed -n 2p "$T/acts/storm.log")
expect_eq "storm: the second is crash 41" "crash 41" \
	"$(echo "$second" | cut -d'|' -f4)"
check "storm: and 39 more since HH:MM:SS" \
	grep -Eq '^alert\|storm\|ERROR\|crash 41\|and 39 more since [0-2][0-9]:[0-5][0-9]:[0-5][0-9]\|' \
	<<<"$second"
check "storm: journaled as logbus.alert records" \
	wait_for 30 sh -c "'$BIN/logbusctl' --run-dir '$T/run' tail -s logbusd -n 200 |
		grep -q 'logbus.alert logbusd: alert storm: storm: crash 41 (and 39 more since'"

# ---- logbusctl alerts and alerts test ------------------------------------------

expect_exit "alerts: lists the rules" 0 ctl alerts
check "alerts: storm fired twice" grep -Eq '^storm +exec +[0-9]+ +0 +2 ' "$T/out"
expect_exit "alerts test: runs the action" 0 ctl alerts test errs
check "alerts test: the action saw event test" \
	grep -q '^test|logbusd|' "$T/acts/errs.log"
expect_exit "alerts test: an unknown rule" 1 ctl alerts test nosuch
expect_err_line "alerts test: says so" "no alert rule 'nosuch'"
stop_broker

# ---- kill -9 between a record and its action -------------------------------------

rm -f "$T/acts"/*
conf <<EOF
[alert once]
service = once
exec = $A
interval = 0
EOF
start_broker --config "$T/logbusd.conf"
touch "$T/block"
ctl publish -s once -p error "first"
check "kill -9: the first action started" \
	wait_for 20 grep -q '^started' "$T/acts/once.runs"
ctl publish -s once -p error "second" # committed, not acted on yet
seq2=$(seq_of once)
# the window: "second" is in the journal, its action has not started (the
# rule's worker waits for the first one, which is blocked)
expect_eq "kill -9: the second's action not started before the kill" 1 \
	"$(grep -c '^started' "$T/acts/once.runs")"
crash_while_blocked once # the interrupted action goes too
check "kill -9: both actions done after the restart" \
	wait_for 20 has_lines "$T/acts/once.log" 2
expect_eq "kill -9: the second's action started once" 1 \
	"$(grep -c "^started $seq2 " "$T/acts/once.runs")"
ctl publish -s once -p error "third"
check "kill -9: and a new one" wait_for 20 has_lines "$T/acts/once.log" 3
# kill -9 again once the third's action is done and its position saved:
# that action is not run again
seq3=$(seq_of once)
check "kill -9: the third's position saved" \
	wait_for 20 position_at_least once "$seq3"
kill9_broker
start_broker --config "$T/logbusd.conf"
check "kill -9 after the action: its position kept" \
	position_at_least once "$seq3"
stop_broker
start_broker --config "$T/logbusd.conf"
ctl publish -s once -p error "fourth"
check "restart: the next record acted on" \
	wait_for 20 has_lines "$T/acts/once.log" 4
expect_eq "kill -9 and restarts: each record acted on once" \
	"first
second
third
fourth" "$(cut -d'|' -f4 "$T/acts/once.log")"
expect_eq "kill -9 and restarts: the third's action started once" 1 \
	"$(grep -c "^started $seq3 " "$T/acts/once.runs")"
expect_eq "kill -9: the interrupted action was started twice (documented)" \
	2 "$(grep -c "^started $(head -1 "$T/acts/once.log" | cut -d'|' -f6) " \
		"$T/acts/once.runs")"
stop_broker

# ---- a hanging action is killed at its timeout; resolve-after -----------------------

rm -f "$T/acts"/*
# "hang..." records: sleep 600 (its pid kept); others: a line in hang.log
cat >"$T/hang.sh" <<'HANG'
#!/bin/sh
out=$(dirname "$0")/acts
case $LOGBUS_MESSAGE in
hang*) echo $$ >"$out/hang.pid" && exec sleep 600 ;;
esac
echo "$LOGBUS_MESSAGE" >>"$out/hang.log"
HANG
chmod +x "$T/hang.sh"
conf <<EOF
[alert hang]
service = hang
exec = $T/hang.sh
timeout = 1s
interval = 0

[alert quiet]
service = quiet|quiet_b
exec = $A
interval = 1m
resolve-after = 2s
EOF
start_broker --config "$T/logbusd.conf"
start=$(date +%s%N)
ctl publish -s hang -p error "hang now"
ctl publish -s hang -p error "after it"
check "timeout: the rule goes on with the next record" \
	wait_for 30 has_lines "$T/acts/hang.log" 1
took=$((($(date +%s%N) - start) / 1000000))
check "timeout: not before the timeout of 1 s (${took} ms)" \
	test "$took" -ge 1000
expect_eq "timeout: the next record's action" "after it" \
	"$(cat "$T/acts/hang.log")"
check "timeout: the sleep 600 is gone" \
	wait_for 20 sh -c "! kill -0 $(cat "$T/acts/hang.pid")"
check "timeout: journaled" wait_for 20 says \
	"alert hang: hang: hang now; $T/hang.sh killed at its timeout of 1s"

# three records in one interval: one alert (two held back), then, quiet
# for 2 s, one resolved action carrying the two
start=$(date +%s%N)
printf 'q1\nq2\nq3\n' | ctl publish -s quiet -p error -
check "resolve-after: the alert and the resolved action" \
	wait_for 30 has_lines "$T/acts/quiet.log" 2
took=$((($(date +%s%N) - start) / 1000000))
check "resolve-after: not before 2 s quiet (${took} ms)" test "$took" -ge 2000
expect_eq "resolve-after: the alert" "alert|quiet|ERROR|q1|" \
	"$(sed -n 1p "$T/acts/quiet.log" | cut -d'|' -f1-5)"
check "resolve-after: resolved, with what was held back" \
	grep -Eq '^resolved\|quiet\|\|\|and 2 more since [0-2][0-9]:[0-5][0-9]:[0-5][0-9]\|$' \
	<<<"$(sed -n 2p "$T/acts/quiet.log")"
check "resolve-after: journaled" wait_for 20 says \
	"alert quiet: quiet resolved: no match for 2s (2 more since"
# once: quiet_b's cycle ends more than 2 s after quiet's resolved action
ctl publish -s quiet_b -p error "b1"
check "resolve-after: quiet_b resolved too" \
	wait_for 30 has_lines "$T/acts/quiet.log" 4
expect_eq "resolve-after: one resolved action per quiet time" \
	"alert|quiet
resolved|quiet
alert|quiet_b
resolved|quiet_b" "$(cut -d'|' -f1-2 "$T/acts/quiet.log")"
stop_broker

# ---- a slow action delays neither ingest nor another rule --------------------------

rm -f "$T/acts"/*
conf <<EOF
[alert slow]
service = busy
exec = sleep $((30 * WAIT_SCALE))
timeout = $((60 * WAIT_SCALE))s
interval = 0

[alert fast]
service = busy
message = ^(one|two)\$
exec = $A
interval = 0
EOF
start_broker --config "$T/logbusd.conf"
ctl publish -s busy -p error "one"
check "slow: the fast rule acts meanwhile" wait_for 20 has_lines "$T/acts/fast.log" 1
start=$(date +%s%N)
seq 1 2000 | sed 's/^/line /' | ctl publish -s busy -p error -
for i in 1 2 3 4 5; do ctl publish -s busy -p error "ping $i"; done
took=$((($(date +%s%N) - start) / 1000000))
# Ingest held up by the slow action would take its 30 s: publishing ends
# well before, however loaded the machine (all of it ten times slower
# under valgrind, WAIT_SCALE, the action too).
check "slow: 2,005 records for it published before its action ends (${took} ms)" \
	test "$took" -lt $((25000 * WAIT_SCALE))
ctl publish -s busy -p error "two"
check "slow: the fast rule goes on meanwhile" \
	wait_for 20 has_lines "$T/acts/fast.log" 2
check "slow: still busy with its first action" \
	sh -c "'$BIN/logbusctl' --run-dir '$T/run' alerts | grep -Eq '^slow +exec .* 0 +-'"
stop_broker # kills the sleep: acted on again after the next start

# ---- a webhook: 500, then 200 ------------------------------------------------------

rm -f "$T/acts"/*
cat >"$T/hook.py" <<'EOF'
import http.server, json, sys
out, portfile = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        H.n += 1
        with open(out, "a") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(500 if H.n == 1 else 200)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
s.serve_forever()
EOF
python3 "$T/hook.py" "$T/acts/posts" "$T/port" &
track_pid $!
HOOK_PID=$!
wait_for 20 test -s "$T/port"
conf <<EOF
[alert hook]
service = web
webhook = http://127.0.0.1:$(cat "$T/port")/hook
interval = 0
EOF
start_broker --config "$T/logbusd.conf"
ctl publish -s web -p error "page me"
check "webhook: retried after the 500" wait_for 20 has_lines "$T/acts/posts" 2
check "webhook: the POST carries the rule and the record" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    b = json.loads(line)
    assert b["rule"] == "hook" and b["event"] == "alert", b
    assert b["record"]["message"] == "page me", b
    assert b["record"]["service"] == "web", b
' "$T/acts/posts"
check "webhook: journaled as done after 2 attempts" wait_for 20 sh -c \
	"'$BIN/logbusctl' --run-dir '$T/run' tail -s logbusd -n 50 |
	 grep -q 'alert hook: web: page me; webhook: HTTP 200 after 2 attempts'"
stop_pid "$HOOK_PID"

# ---- reload: a rule added, a rule removed ------------------------------------------

conf <<EOF
[alert hook]
service = web
webhook = http://127.0.0.1:1/unused
interval = 0

[alert added]
service = web
exec = $A
interval = 0
EOF
kill -HUP "$BROKER_PID"
check "reload: the new rule is listed" wait_for 20 sh -c \
	"'$BIN/logbusctl' --run-dir '$T/run' alerts | grep -q '^added '"
ctl publish -s web -p error "after the reload"
check "reload: the added rule acts on new records only" \
	wait_for 20 has_lines "$T/acts/added.log" 1
expect_eq "reload: only the record after it" "after the reload" \
	"$(cut -d'|' -f4 "$T/acts/added.log")"
test -e "$T/log/alerts/hook.state"
conf <<EOF
[alert added]
service = web
exec = $A
interval = 0
EOF
kill -HUP "$BROKER_PID"
check "reload: the removed rule is gone" wait_for 20 sh -c \
	"! '$BIN/logbusctl' --run-dir '$T/run' alerts | grep -q '^hook '"
check "reload: its state file removed" wait_for 20 test ! -e "$T/log/alerts/hook.state"
ctl publish -s web -p error "after the removal"
check "reload: the kept rule goes on" wait_for 20 has_lines "$T/acts/added.log" 2
expect_eq "reload: the removed rule's webhook was not called again" 2 \
	"$(lines "$T/acts/posts")"
stop_broker

# ---- the log directory removed and made again ----------------------------------------

rm -f "$T/acts"/* "$T/block" "$T/go"
conf <<EOF
[alert moved]
service = moved
exec = $A
interval = 0
EOF
start_broker --config "$T/logbusd.conf"
ctl publish -s moved -p error "r1"
check "log dir: the first action" wait_for 20 has_lines "$T/acts/moved.log" 1
check "log dir: its position saved" \
	wait_for 20 position_at_least moved "$(seq_of moved)"
rm -rf "$T/log"
check "log dir: logbusd made the journal again" \
	wait_for 20 says "was removed while logbusd ran"
check "log dir: the rule's position saved in the new directory" \
	wait_for 20 test -s "$T/log/alerts/moved.state"
# a kill -9 now, r2's action running and r3's not started: both done after
# the restart, from the position saved in the new directory
touch "$T/block"
ctl publish -s moved -p error "r2"
check "log dir: the second action started" \
	wait_for 20 grep -q "^started $(seq_of moved) " "$T/acts/moved.runs"
ctl publish -s moved -p error "r3"
crash_while_blocked moved
check "log dir: r2 and r3 acted on after the restart" \
	wait_for 20 has_lines "$T/acts/moved.log" 3
expect_eq "log dir: none lost, none repeated" "r1
r2
r3" "$(cut -d'|' -f4 "$T/acts/moved.log")"
stop_broker

# ---- configuration mistakes -----------------------------------------------------------

printf '[alert x]\nexec = "unclosed\n' >"$T/bad.conf"
expect_exit "bad exec quoting: refused" 2 \
	"$BIN/logbusd" --config "$T/bad.conf" --check-config
expect_err_line "bad exec quoting: says where" \
	"bad.conf:2: \[alert x\] exec: unclosed \" in"
printf '[alert x]\nexec = a\nwebhook = http://h/\n' >"$T/bad.conf"
expect_exit "two actions: refused" 2 \
	"$BIN/logbusd" --config "$T/bad.conf" --check-config
expect_err_line "two actions: says so" "one action per rule"
printf '[alert x]\nintervall = 5m\n' >"$T/bad.conf"
expect_exit "unknown key: refused" 2 \
	"$BIN/logbusd" --config "$T/bad.conf" --check-config
expect_err_line "unknown key: says so" \
	"bad.conf:2: \[alert x\] intervall: unknown key 'intervall'"

finish
