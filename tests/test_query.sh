#!/usr/bin/env bash
#
# test_query.sh: logbusctl query 'LOGQL' against a real logbusd: each label
# and operator, chained line filters, the pactown guide's queries verbatim,
# the last N of what a query leaves to the client, --since/--until, -o json,
# -f with records published while it follows, and the errors: a bad query
# with its column, what is outside the subset, tail's filters refused.
#
# Usage: bash tests/test_query.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl).  Prints "ok - NAME" / "not ok - NAME" for each check and a
# last line "N passed, M failed"; exits 1 when any check failed.  Nothing
# waits a fixed time: a follower is waited for with a bound of 10 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init

start_broker

# q QUERY [ARGS...]: the messages the query selects, all of them, a line each.
q() {
	local query=$1
	shift
	ctl query -n all -o cat "$@" "$query"
}

# pub SERVICE LEVEL STREAM LOGGER MESSAGE
pub() {
	ctl publish -s "$1" -p "$2" --stream "$3" -l "$4" "$5"
}

pub api info log pactown.api "api started"
pub api error stderr pactown.api "Traceback: ValueError exception"
pub api warning stdout pactown.api "health check slow"
pub api critical log pactown.sandbox "Process failed: killed by SIGKILL"
pub service_123 error stderr pactown.sandbox "Creating sandbox failed"
pub service_123 info stdout pactown.sandbox "Creating sandbox for service_123"
pub worker debug log worker "tick 1 error-free"
pub worker 25 log worker.jobs "between info and warning"

# ---- labels and operators ------------------------------------------------------

expect_eq "service =" "$(printf 'api started\nTraceback: ValueError exception\nhealth check slow\nProcess failed: killed by SIGKILL')" \
	"$(q '{service="api"}')"
expect_eq "service != with level =" "Creating sandbox failed" \
	"$(q '{service!="api", level="error"}')"
expect_eq "service =~ is anchored" "" "$(q '{service=~"serv"}')"
expect_eq "service =~ list" "$(printf 'tick 1 error-free\nbetween info and warning')" \
	"$(q '{service=~"worker|nothing"}')"
expect_eq "service !~" "$(printf 'tick 1 error-free\nbetween info and warning')" \
	"$(q '{service!~"api|service_.*|logbusd"}')"
expect_eq "level =~ a set with a hole" \
	"$(printf 'health check slow\nProcess failed: killed by SIGKILL')" \
	"$(q '{service!="logbusd", level=~"warning|critical"}')"
expect_eq "level between two names" "between info and warning" \
	"$(q '{level="level25"}')"
expect_eq "level = warn (an alias)" "health check slow" "$(q '{level="warn", service!="logbusd"}')"
expect_eq "stream =" "$(printf 'Traceback: ValueError exception\nCreating sandbox failed')" \
	"$(q '{stream="stderr", service!="logbusd"}')"
expect_eq "logger = is not a prefix" "tick 1 error-free" "$(q '{logger="worker"}')"
expect_eq "logger =~" "$(printf 'tick 1 error-free\nbetween info and warning')" \
	"$(q '{logger=~"worker(\\..*)?"}')"

# ---- line filters ----------------------------------------------------------------

expect_eq "|= != chained" "Creating sandbox failed" \
	"$(q '{service="service_123"} |= "sandbox" != "for"')"
expect_eq "|~ !~ chained" "Traceback: ValueError exception" \
	"$(q '{service="api"} |~ "(?i)EXCEPTION|failed" !~ "^Process"')"
expect_eq "|= is case-sensitive" "" "$(q '{service="api"} |= "traceback"')"
expect_eq "a raw string" "tick 1 error-free" "$(q '{service="worker"} |~ `\d error`')"
expect_eq "a Go escape" "Process failed: killed by SIGKILL" \
	"$(q '{service="api"} |= "\x53IGKILL"')"

# ---- the pactown guide's queries, verbatim ----------------------------------------

expect_eq "pactown: errors of a service" \
	"$(printf 'Traceback: ValueError exception\nProcess failed: killed by SIGKILL')" \
	"$(q '{service="api"} |~ "(?i)(error|exception|failed|stderr)"')"
expect_eq "pactown: a sandbox's errors" "Creating sandbox failed" \
	"$(q '{service="service_123", level="error"}')"
expect_eq "pactown: every sandbox's stderr" "Creating sandbox failed" \
	"$(q '{service=~"service_.*", stream="stderr"}')"
expect_eq "pactown: the sandbox logger's failures" \
	"$(printf 'Process failed: killed by SIGKILL\nCreating sandbox failed')" \
	"$(q '{logger="pactown.sandbox", level=~"error|critical"} |= "failed"')"

# ---- the last N, counted by the client when logbusd cannot --------------------------

for i in 1 2 3 4 5 6; do pub many info log many "many $i odd=$((i % 2))"; done
expect_eq "-n 2 of a query logbusd applies whole" "$(printf 'many 5 odd=1\nmany 6 odd=0')" \
	"$(ctl query -n 2 -o cat '{service="many"}')"
expect_eq "-n 2 of a query the client finishes" "$(printf 'many 1 odd=1\nmany 3 odd=1')" \
	"$(ctl query -n 2 -o cat '{service="many"} |= "odd=1" != "many 5"')"
expect_eq "default: the last 10" 10 "$(ctl query -o cat '{service=~".+"} != "zzz"' | wc -l)"
expect_eq "-r -n 2" "$(printf 'many 5 odd=1\nmany 3 odd=1')" \
	"$(ctl query -r -n 2 -o cat '{service="many"} !~ "odd=0|many 1"')"
expect_eq "no match: journalctl's line" "-- No entries --" \
	"$(ctl query '{service="many"} |= "nothing"')"

# ---- --since, --until, -o json ---------------------------------------------------------

expect_eq "--until in the past: nothing" "" \
	"$(ctl query -q -n all --until 2000-01-01 '{service="many"}')"
expect_eq "--since in the past: all six" 6 \
	"$(ctl query -o cat --since 2000-01-01 '{service="many"} != "x"' | wc -l)"
expect_eq "-o json: the records" '"api"' \
	"$(ctl query -n 1 -o json '{service="api"}' | python3 -c 'import json,sys; print(json.dumps(json.loads(sys.stdin.readline())["service"]))')"

# ---- -f: records as they come, filtered by both sides -----------------------------------

"$BIN/logbusctl" --run-dir "$T/run" query -f -n 1 -o cat \
	'{service="live", level=~"error|critical"} |= "go" != "skip"' \
	>"$T/follow.out" 2>"$T/follow.err" &
FOLLOW=$!
track_pid "$FOLLOW"
pub live error log live "go first"
has_line() { grep -qxF -- "$2" "$1" 2>/dev/null; }
if poll has_line "$T/follow.out" "go first"; then pass "-f: follows"; else fail "-f: follows" "$(cat "$T/follow.err")"; fi
pub live info log live "go but info"
pub live critical log live "go skip"
pub live critical log live "go second"
if poll has_line "$T/follow.out" "go second"; then pass "-f: more"; else fail "-f: more" "$(cat "$T/follow.err")"; fi
kill -INT "$FOLLOW"
rc=0
wait "$FOLLOW" || rc=$?
untrack_pid "$FOLLOW"
expect_eq "-f: ends with 0 on SIGINT" 0 "$rc"
expect_eq "-f: only what the query selects" "$(printf 'go first\ngo second')" "$(cat "$T/follow.out")"

# ---- errors -------------------------------------------------------------------------------

expect_exit "a bad query: exit 2" 2 ctl query '{service="api" level="error"}'
expect_err_line "a bad query: its column" '^logbusctl: bad query at column 16: expected , or } after a matcher'
expect_exit "a bad query over lines: exit 2" 2 ctl query $'{service="api"}\n  | json'
expect_err_line "a bad query over lines: line and column" '^logbusctl: bad query at line 2, column 3: the \| json stage is not supported'
expect_exit "a metric query: exit 2" 2 ctl query 'rate({service="api"}[5m])'
expect_err_line "a metric query: says so" 'metric queries \(rate'
expect_exit "an unknown label: exit 2" 2 ctl query '{job="api"}'
expect_err_line "an unknown label: names ours" 'unknown label "job": logbus.s labels are service, level, logger and stream'
expect_exit "tail's filters: exit 2" 2 ctl query -p error '{service="api"}'
expect_err_line "tail's filters: said in the query" 'are said in the query'
expect_exit "no query: exit 2" 2 ctl query -n 3
expect_err_line "no query: says how" 'give the query'
pub api info log gaveup "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"
expect_exit "a regex that gives up on a record: exit 1" 1 \
	ctl query -n all '{service="api"} !~ "^(a|a?)+$"'
expect_err_line "a regex that gives up: says on which record" 'gave up on record [0-9]+'

finish
