#!/usr/bin/env bash
#
# test_stats.sh: logbusctl stats and services against a real logbusd: the
# JSON figures match what the test published through logbusctl (records
# and refusals, the journal's newest record, subscribers while a `tail -f`
# is attached, counts by level, the error report of a `logbusctl run` that
# failed), the text forms say the same, and bad arguments or an absent
# broker are one clear line with the documented exit status.
#
# Usage: bash tests/test_stats.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl).  Prints "ok - NAME" / "not ok - NAME" per check and a last
# line "N passed, M failed"; exits 1 when any check failed.  Every wait
# polls a condition every 50 ms for at most 10 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init
start_broker


# stat_of EXPR: the Python expression EXPR of `stats -o json` (s).
stat_of() {
	ctl stats -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(json.dumps(eval(sys.argv[1], {"s": s})))' "$1"
}

# svc_of SERVICE EXPR: EXPR of the service's object (v) in `services -o json`.
svc_of() {
	ctl services -o json | python3 -c '
import json, sys
v = [x for x in json.load(sys.stdin) if x["service"] == sys.argv[1]]
print(json.dumps(eval(sys.argv[2], {"v": v[0]})) if v else "none")' "$1" "$2"
}

# ---- figures that match what was published -----------------------------------

ctl publish -s web -p debug "one"
ctl publish -s web -p info "two"
ctl publish -s web -p info "three"
ctl publish -s web -p error "four"
printf 'a\nb\nc\n' | ctl publish -s web -p warning -
# A failing command: its output and its exit, and an error report.
ctl run -s job -- sh -c 'echo "going down" >&2; exit 3' 2>/dev/null || true

# web: 7 records; job: its start, its stderr line and its exit.
expect_eq "received counts every record published" 10 "$(stat_of 's["received"]["records"]')"
self=$(svc_of logbusd 'v["records"]')
expect_eq "committed is ours plus logbusd's own" \
	"$((10 + self))" "$(stat_of 's["committed"]["records"]')"
expect_eq "job's records" 3 "$(svc_of job 'v["records"]')"
expect_eq "nothing rejected yet" 0 "$(stat_of 's["rejected"]["total"]')"
expect_eq "web by level" '{"debug": 1, "info": 2, "warning": 3, "error": 1, "critical": 0}' \
	"$(svc_of web 'v["levels"]')"
expect_eq "web has no error report" null "$(svc_of web 'v["last_error_report"]')"
expect_eq "job's error report exit code" 3 "$(svc_of job 'v["last_error_report"]["exit_code"]')"
expect_eq "job's error report summary" '"Process exited with code 3"' \
	"$(svc_of job 'v["last_error_report"]["summary"]')"
expect_eq "error reports written" 1 "$(stat_of 's["error_reports"]')"
newest=$(ctl tail -n 1 -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
expect_eq "journal newest seq" "$newest" "$(stat_of 's["journal"]["last_seq"]')"
expect_eq "rate_limited is there and 0" 0 "$(stat_of 's["rate_limited"]')"
expect_eq "pid is logbusd's" "$LOGBUSD_PID" "$(stat_of 's["pid"]')"

# logbusctl checks what it publishes, so refusals by the broker need a raw
# client: test_stats.c covers them.

# ---- subscribers ----------------------------------------------------------------

"$BIN/logbusctl" --run-dir "$T/run" tail -f -n 0 >/dev/null 2>&1 &
TAIL=$!
track_pid "$TAIL"
subscribers_are() { [ "$(stat_of 's["connections"]["subscribers"]')" == "$1" ]; }
if poll subscribers_are 1; then
	pass "one subscriber while tail -f runs"
else
	fail "one subscriber while tail -f runs" "stats: $(ctl stats -o json)"
fi
stop_pid "$TAIL"
if poll subscribers_are 0; then
	pass "no subscriber once tail -f ended"
else
	fail "no subscriber once tail -f ended" "stats: $(ctl stats -o json)"
fi

# ---- text forms -----------------------------------------------------------------

ctl stats >"$T/stats.txt"
check "text stats: received line" grep -Eq '^received +10 records, ' "$T/stats.txt"
check "text stats: journal line" grep -Eq "^journal +1 segment, .*, seq 1\.\.$newest\$" "$T/stats.txt"
check "text stats: uptime and pid" grep -Eq "^logbusd +[0-9.]+, pid $LOGBUSD_PID, up " "$T/stats.txt"
ctl services >"$T/services.txt"
check "text services: header" grep -Eq '^SERVICE +OWNER +OWNED +RECORDS +DEBUG +INFO +WARNING +ERROR +CRITICAL +BYTES +LAST RECORD +LAST ERROR REPORT$' "$T/services.txt"
check "text services: web row" grep -Eq '^web +[a-z0-9_-]+\([0-9]+\) +claimed +7 +1 +2 +3 +1 +0 +[0-9.]+ [KM]?i?B +[0-9-]+ [0-9:]+ +-$' "$T/services.txt"
check "text services: job's report" grep -Eq '^job +.* Process exited with code 3$' "$T/services.txt"
expect_eq "services -s gives one row" 2 "$(ctl services -s web | wc -l)"
expect_eq "services -s -o json gives one object" 1 \
	"$(ctl services -s web -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

# ---- errors ---------------------------------------------------------------------

expect_exit "services -s of an unknown service" 1 ctl services -s nosuch
expect_err_line "unknown service: one line" '^logbusctl: logbusd has no record of service nosuch'
expect_exit "services -s with a bad id" 2 ctl services -s 'bad id'
expect_err_line "bad id: one line" "^logbusctl: invalid service id 'bad id'"
expect_exit "stats -o yaml" 2 ctl stats -o yaml
expect_err_line "bad output: one line" "^logbusctl: unknown output 'yaml': use text or json"
expect_exit "stats takes no -s" 2 ctl stats -s web
expect_exit "stats takes no argument" 2 ctl stats extra
check "stats --help" ctl stats --help
check "services in logbusctl help" sh -c "\"$BIN/logbusctl\" --help | grep -q '^  services '"
expect_exit "stats with no broker" 1 "$BIN/logbusctl" --run-dir "$T/none" stats
expect_err_line "no broker: one line" "^logbusctl: cannot reach logbusd at $T/none/query.sock"

finish
