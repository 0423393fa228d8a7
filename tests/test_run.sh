#!/usr/bin/env bash
#
# test_run.sh: logbusctl run, errors and rotate against a real logbusd: how
# a command's death is reported (exit status, the error report's exact
# text, the file and its previous generation, the journal's exit record),
# its output as records (streams, levels, order, long lines, bytes that
# are not UTF-8), the levels lines name themselves, the start record,
# signal forwarding, logbusctl itself killed with SIGKILL (the command and
# what it started end with it, the watcher's report), a broker that is not
# there, and service ids that must not name files.
#
# Usage: bash tests/test_run.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl, e.g. build/bin).  Prints "ok - NAME" / "not ok - NAME" for each
# check and a last line "N passed, M failed"; exits 1 when any check failed.
# Nothing waits a fixed time: every wait polls a condition every 50 ms for
# at most 10 s.  The broker, the commands and the temporary directory are
# removed on exit, whatever happens.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init

# No core files: "(core dumped)" is then never in a report.  (A core_pattern
# that pipes to a program ignores this limit: see segv below.)
ulimit -c 0

start_broker
LOG=$T/log

# has_line FILE LINE: FILE has LINE as a whole line.
has_line() {
	grep -qxF -- "$2" "$1" 2>/dev/null
}

# records SERVICE: the service's records as JSON, one per line, oldest first.
records() {
	ctl tail -s "$1" -n all -o json
}

# jq_lines EXPR < JSON lines: the Python expression EXPR of each record r
# (r["fields"] and so on), one line each; strings are printed as they are,
# anything else as JSON.
jq_lines() {
	python3 -c '
import json, sys
expr = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    v = eval(expr, {"r": r})
    print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
' "$1"
}

# mode_of FILE, size_of FILE: "" when FILE is missing (a check then fails).
mode_of() {
	stat -c %a "$1" 2>/dev/null || true
}

size_of() {
	stat -c %s "$1" 2>/dev/null || true
}

# The working directory the commands run in, with known files.
W=$T/work
mkdir "$W"
: >"$W/a.txt"
: >"$W/b.py"

# ---- errors before any report -----------------------------------------------------------

expect_exit "errors: no reports yet, exit 0" 0 ctl errors
expect_eq "errors: says there are none" "no error reports" "$(cat "$T/out")"
expect_exit "errors SERVICE: none, exit 1" 1 ctl errors svc_none
expect_err_line "errors SERVICE: one line" \
	'^logbusctl: no error report for service svc_none$'

# ---- deaths ------------------------------------------------------------------------------

# run_in_w NAME STATUS SERVICE COMMAND...: logbusctl run -s SERVICE --cwd W
# -- COMMAND, expecting exit STATUS; its stdout in $T/out, stderr in $T/err.
run_in_w() {
	local name=$1 want=$2 svc=$3
	shift 3
	expect_exit "$name: exit status $want" "$want" \
		ctl run -s "$svc" --cwd "$W" -- "$@"
}

# report_is NAME SERVICE: `logbusctl errors SERVICE` prints exactly $T/want.
report_is() {
	ctl errors "$2" >"$T/got" 2>"$T/got.err" || true
	if cmp -s "$T/want" "$T/got"; then
		pass "$1"
	else
		fail "$1" "expected:" "$(cat "$T/want")" "got:" \
			"$(cat "$T/got" "$T/got.err")"
	fi
}

run_in_w "SIGKILL" 137 svc_kill sh -c 'echo before; kill -KILL $$'
cat >"$T/want" <<EOF
Exit code: -9
Category: signal
Signal: SIGKILL
Command: sh -c echo before; kill -KILL \$\$
CWD: $W
Venv: None

--- STDERR ---
--- STDOUT ---
before
--- FILES ---
['a.txt', 'b.py']
EOF
report_is "SIGKILL: the report" svc_kill

run_in_w "SIGTERM" 143 svc_term sh -c 'echo out; echo err >&2; kill -TERM $$'
expect_eq "SIGTERM: stdout reached the terminal" out "$(cat "$T/out")"
expect_eq "SIGTERM: stderr reached the terminal" err "$(cat "$T/err")"
cat >"$T/want" <<EOF
Exit code: -15
Category: signal
Signal: SIGTERM
Command: sh -c echo out; echo err >&2; kill -TERM \$\$
CWD: $W
Venv: None

--- STDERR ---
err
--- STDOUT ---
out
--- FILES ---
['a.txt', 'b.py']
EOF
report_is "SIGTERM: the report" svc_term
cp "$T/want" "$T/want_term1"
records svc_term >"$T/term.json" || true
expect_eq "SIGTERM: the journal's last record is the exit, then stderr" \
	'ERROR|log|Process killed by SIGTERM (exit code: -15)\nerr' \
	"$(tail -n 1 "$T/term.json" |
		jq_lines 'r["level"] + "|" + r["stream"] + "|" + r["message"].replace("\n", "\\n")')"

run_in_w "SIGSEGV" 139 svc_segv sh -c 'kill -SEGV $$'
cat >"$T/want" <<EOF
Exit code: -11
Category: crash
Signal: SIGSEGV
Command: sh -c kill -SEGV \$\$
CWD: $W
Venv: None

--- STDERR ---
--- STDOUT ---
--- FILES ---
['a.txt', 'b.py']
EOF
if [[ $(cat /proc/sys/kernel/core_pattern) == '|'* ]]; then
	# The kernel hands the core to a program whatever the limit says.
	sed -i 's/^Signal: SIGSEGV$/Signal: SIGSEGV (core dumped)/' "$T/want"
fi
report_is "SIGSEGV: the report" svc_segv

run_in_w "exit 3" 3 svc_exit3 sh -c 'echo three; echo oops >&2; exit 3'
cat >"$T/want" <<EOF
Exit code: 3
Category: exit
Command: sh -c echo three; echo oops >&2; exit 3
CWD: $W
Venv: None

--- STDERR ---
oops
--- STDOUT ---
three
--- FILES ---
['a.txt', 'b.py']
EOF
report_is "exit 3: the report" svc_exit3
expect_eq "exit 3: the exit record" \
	'ERROR|Process exited with code 3\noops' \
	"$(records svc_exit3 | tail -n 1 |
		jq_lines 'r["level"] + "|" + r["message"].replace("\n", "\\n")')"

# ---- the report file and its previous generation --------------------------------------------

F=$LOG/svc_term_error.log
check "report file: exists" test -f "$F"
expect_eq "report file: mode 0640" 640 "$(mode_of "$F")"
check "report file: what errors prints" cmp -s "$T/want_term1" "$F"
run_in_w "SIGTERM again" 143 svc_term sh -c 'echo second >&2; kill -TERM $$'
cat >"$T/want" <<EOF
Exit code: -15
Category: signal
Signal: SIGTERM
Command: sh -c echo second >&2; kill -TERM \$\$
CWD: $W
Venv: None

--- STDERR ---
second
--- STDOUT ---
--- FILES ---
['a.txt', 'b.py']
EOF
report_is "second report: the latest" svc_term
check "second report: the previous one is .1" cmp -s "$T/want_term1" "$F.1"
expect_eq "second report: .1 has mode 0640" 640 "$(mode_of "$F.1")"
ctl errors --all svc_term >"$T/all" || true
{
	cat "$T/want"
	echo "==== previous report (written TIME) ===="
	cat "$T/want_term1"
} >"$T/want_all"
sed -E 's/^==== previous report \(written [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\) ====$/==== previous report (written TIME) ====/' \
	"$T/all" >"$T/all.norm"
check "errors --all: latest, separator, previous" cmp "$T/want_all" "$T/all.norm"

expect_exit "errors: exit 0" 0 ctl errors
expect_eq "errors: the services, newest last" \
	"$(printf 'svc_kill\nsvc_segv\nsvc_exit3\nsvc_term')" \
	"$(awk '{print $1}' "$T/out")"
check "errors: SERVICE  TIME  SIZE  CATEGORY  (N kept)" grep -Eqx \
	'svc_term +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} +[0-9]+  signal  \(2 kept\)' \
	"$T/out"
check "errors: one kept for svc_kill" grep -Eq '^svc_kill .*\(1 kept\)$' "$T/out"
expect_eq "errors: the size is the file's" "$(size_of "$F")" \
	"$(awk '$1 == "svc_term" {print $4}' "$T/out")"
expect_exit "errors -o json: exit 0" 0 ctl errors -o json
expect_eq "errors -o json: an object per service" \
	"svc_term $(size_of "$F") 2" \
	"$(grep '"svc_term"' "$T/out" |
		jq_lines 'r["service"] + " " + str(r["size"]) + " " + str(r["kept"])')"
check "errors -o json: written is RFC 3339" grep -Eq \
	'"written":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"' "$T/out"

# ---- output as records --------------------------------------------------------------------

expect_exit "output: exit 0" 0 ctl run -s svc_out -- \
	sh -c 'echo o1; echo e1 >&2; echo o2; echo e2 >&2; printf "no newline"'
expect_eq "output: stdout reached the terminal" \
	"$(printf 'o1\no2\nno newline')" "$(cat "$T/out")"
expect_eq "output: stderr reached the terminal" \
	"$(printf 'e1\ne2')" "$(cat "$T/err")"
records svc_out >"$T/out.json" || true
expect_eq "output: stdout lines are INFO records, in order" \
	"$(printf 'INFO o1\nINFO o2\nINFO no newline')" \
	"$(jq_lines 'r["level"] + " " + r["message"] if r["stream"] == "stdout" else ""' \
		<"$T/out.json" | grep .)"
expect_eq "output: stderr lines are WARNING records, in order" \
	"$(printf 'WARNING e1\nWARNING e2')" \
	"$(jq_lines 'r["level"] + " " + r["message"] if r["stream"] == "stderr" else ""' \
		<"$T/out.json" | grep .)"
expect_eq "output: the start record comes first" \
	"log INFO Process started with PID: " \
	"$(head -n 1 "$T/out.json" |
		jq_lines 'r["stream"] + " " + r["level"] + " " + r["message"].rstrip("0123456789")')"
expect_eq "output: the exit record comes last, with the end of stderr" \
	'log INFO Process exited with code 0\ne1\ne2' \
	"$(tail -n 1 "$T/out.json" |
		jq_lines 'r["stream"] + " " + r["level"] + " " + r["message"].replace("\n", "\\n")')"
expect_eq "output: logger is the service id, no fields" "svc_out 0" \
	"$(sed -n 2p "$T/out.json" | jq_lines 'r["logger"] + " " + str(len(r["fields"]))')"

expect_exit "levels: exit 0" 0 ctl run -s svc_lv -l app.worker \
	--stdout-level debug --stderr-level error -- sh -c 'echo d; echo e >&2'
expect_eq "levels: --stdout-level, --stderr-level and -l" \
	"$(printf 'app.worker DEBUG d\napp.worker ERROR e')" \
	"$(records svc_lv | jq_lines 'r["logger"] + " " + r["level"] + " " + r["message"] if r["stream"] != "log" else ""' | grep . | sort)"

# ---- long lines ------------------------------------------------------------------------------

expect_exit "100 KiB line: exit 0" 0 ctl run -s svc_long -- \
	python3 -c "print('x' * 102400)"
expect_eq "100 KiB line: reached the terminal whole" 102401 "$(wc -c <"$T/out")"
records svc_long >"$T/long.json" || true
expect_eq "100 KiB line: two pieces, part 1 more, part 2 last" \
	"1 true 65536|2 false 36864" \
	"$(jq_lines 'str(r["fields"]["part"]) + " " + str(r["fields"]["more"]).lower() + " " + str(len(r["message"])) if r["stream"] == "stdout" else ""' \
		<"$T/long.json" | grep . | paste -sd '|')"
check "100 KiB line: the pieces rejoin to the line" python3 -c '
import json, sys
parts = [json.loads(l) for l in open(sys.argv[1])]
parts = [r for r in parts if r["stream"] == "stdout"]
sys.exit(0 if "".join(r["message"] for r in parts) == "x" * 102400 else 1)
' "$T/long.json"

# Three-byte characters: 65536 is no multiple of 3, so a cut must move.
expect_exit "long UTF-8 line: exit 0" 0 ctl run -s svc_euro -- \
	python3 -c "print('\u20ac' * 50000)"
check "long UTF-8 line: whole characters in each piece, rejoined" python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
rs = [r for r in rs if r["stream"] == "stdout"]
ok = ("".join(r["message"] for r in rs) == "\u20ac" * 50000
      and all(len(r["message"].encode()) <= 65536 for r in rs)
      and [r["fields"]["part"] for r in rs] == list(range(1, len(rs) + 1))
      and [r["fields"]["more"] for r in rs] == [True] * (len(rs) - 1) + [False]
      and "\ufffd" not in "".join(r["message"] for r in rs))
sys.exit(0 if ok else 1)
' <(records svc_euro)

# ---- bytes that are not UTF-8 ----------------------------------------------------------------

expect_exit "not UTF-8: exit 0" 0 ctl run -s svc_bad -- printf '\xff\xfe ok\n'
check "not UTF-8: the terminal gets the bytes" cmp -s "$T/out" <(printf '\xff\xfe ok\n')
expect_eq "not UTF-8: the record has U+FFFD" \
	"$(printf '\xef\xbf\xbd\xef\xbf\xbd ok')" \
	"$(records svc_bad | jq_lines 'r["message"] if r["stream"] == "stdout" else ""' | grep .)"

# ---- the start record ---------------------------------------------------------------------------

expect_exit "start: exit 0" 0 ctl run -s svc_pid -- sh -c 'echo $$'
CHILD=$(cat "$T/out")
records svc_pid >"$T/pid.json" || true
expect_eq "start: the first record names the child's pid" \
	"Process started with PID: $CHILD" "$(head -n 1 "$T/pid.json" | jq_lines 'r["message"]')"
expect_eq "start: fields pid and cmd" "$CHILD|sh -c echo \$\$" \
	"$(head -n 1 "$T/pid.json" | jq_lines 'str(r["fields"]["pid"]) + "|" + r["fields"]["cmd"]')"

# ---- --venv -------------------------------------------------------------------------------------

mkdir -p "$T/venv/bin"
# shellcheck disable=SC2016 # expanded by the script, not here
printf '#!/bin/sh\necho "venv=$VIRTUAL_ENV"\n' >"$T/venv/bin/venv-hello"
chmod +x "$T/venv/bin/venv-hello"
expect_exit "--venv: VENV/bin is searched first, exit 0" 0 \
	ctl run -s svc_venv --venv "$T/venv" -- venv-hello
expect_eq "--venv: VIRTUAL_ENV is set" "venv=$T/venv" "$(cat "$T/out")"
expect_exit "--venv: a failing command" 4 ctl run -s svc_venv3 --cwd "$W" --venv "$T/venv" -- sh -c 'exit 4'
check "--venv: the report's Venv line" has_line "$LOG/svc_venv3_error.log" "Venv: $T/venv"

# ---- signals ----------------------------------------------------------------------------------

"$BIN/logbusctl" --run-dir "$T/run" run -s svc_sig -- \
	sh -c 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done' \
	>"$T/sig.out" 2>"$T/sig.err" &
SIG=$!
track_pid "$SIG"
if poll has_line "$T/sig.out" ready; then
	pass "signal: the command is running"
else
	fail "signal: the command is running" "no 'ready' within 10 s"
fi
kill -TERM "$SIG"
rc=0
wait "$SIG" || rc=$?
untrack_pid "$SIG"
expect_eq "signal: SIGTERM reached the command, its status is ours" 7 "$rc"
expect_eq "signal: its trap's output is a record" "got TERM" \
	"$(records svc_sig | jq_lines 'r["message"] if r["stream"] == "stdout" else ""' | grep . | tail -n 1)"
expect_eq "signal: nothing on stderr" "" "$(cat "$T/sig.err")"

# ---- levels the lines carry -------------------------------------------------------------

# A line that starts like Python logging, uvicorn or gunicorn output keeps
# its own level; any other line takes the stream's (stderr WARNING, stdout
# INFO).  The lines are written by one script, each stream in its order.
cat >"$T/levels.sh" <<'EOF'
e() { printf '%s\n' "$1" >&2; }
o() { printf '%s\n' "$1"; }
e 'INFO:     Started server process [42]'
e 'ERROR:    Exception in ASGI application'
e 'DEBUG:app.db:query took 3 ms'
e 'CRITICAL:root:out of memory'
e 'INFO:'
e '[ERROR] cannot bind'
e '[INFO] ready'
e '2026-12-06 10:00:00,123 [ERROR] app: boom'
e '2026-12-06 10:00:00.123456 [DEBUG] app: detail'
e '2026-12-06 10:00:00,123 - app.db - ERROR - boom'
e '2026-12-06 10:00:00,123 - INFO - ready'
e '2026-12-06T10:00:00Z INFO app ready'
e '2026-12-06 10:00:00+01:00 CRITICAL: gone'
e '[2026-12-06 10:00:00 +0000] [42] [INFO] Booting worker with pid: 42'
e 'FATAL: cannot start'
e 'x INFO: y'
e ' INFO: indented'
e 'info: lower case'
e 'INFOS: a longer word'
e 'INFO no colon'
e '[INFO no bracket'
e '[NOTICE] not a Python level'
e '2026-12-06 10:00:00,123 app ERROR later in the line'
e '2026-12-06 10:00:00,123 - app - INFO no dash after'
e '2026-12-06 1:00:00 INFO short hour'
e '[42] [INFO] no time first'
o 'WARNING:root:disk almost full'
o 'WARN: old config'
o '[WARNING] retrying'
o 'ERROR:x'
o 'plain stdout'
EOF
cat >"$T/levels.err" <<'EOF'
INFO INFO:     Started server process [42]
ERROR ERROR:    Exception in ASGI application
DEBUG DEBUG:app.db:query took 3 ms
CRITICAL CRITICAL:root:out of memory
INFO INFO:
ERROR [ERROR] cannot bind
INFO [INFO] ready
ERROR 2026-12-06 10:00:00,123 [ERROR] app: boom
DEBUG 2026-12-06 10:00:00.123456 [DEBUG] app: detail
ERROR 2026-12-06 10:00:00,123 - app.db - ERROR - boom
INFO 2026-12-06 10:00:00,123 - INFO - ready
INFO 2026-12-06T10:00:00Z INFO app ready
CRITICAL 2026-12-06 10:00:00+01:00 CRITICAL: gone
INFO [2026-12-06 10:00:00 +0000] [42] [INFO] Booting worker with pid: 42
CRITICAL FATAL: cannot start
WARNING x INFO: y
WARNING  INFO: indented
WARNING info: lower case
WARNING INFOS: a longer word
WARNING INFO no colon
WARNING [INFO no bracket
WARNING [NOTICE] not a Python level
WARNING 2026-12-06 10:00:00,123 app ERROR later in the line
WARNING 2026-12-06 10:00:00,123 - app - INFO no dash after
WARNING 2026-12-06 1:00:00 INFO short hour
WARNING [42] [INFO] no time first
EOF
cat >"$T/levels.out" <<'EOF'
WARNING WARNING:root:disk almost full
WARNING WARN: old config
WARNING [WARNING] retrying
ERROR ERROR:x
INFO plain stdout
EOF

# stream_levels SERVICE STREAM: "LEVEL message" of the service's records of
# STREAM, oldest first.
stream_levels() {
	records "$1" | jq_lines "r[\"level\"] + \" \" + r[\"message\"] if r[\"stream\"] == \"$2\" else \"\"" |
		grep -v '^$' || true
}

expect_exit "detected levels: exit 0" 0 ctl run -s svc_det -- sh "$T/levels.sh"
expect_eq "detected levels: stderr lines, each pattern and its look-alikes" \
	"$(cat "$T/levels.err")" "$(stream_levels svc_det stderr)"
expect_eq "detected levels: stdout lines" \
	"$(cat "$T/levels.out")" "$(stream_levels svc_det stdout)"
expect_eq "detected levels: the lines are kept exactly" \
	"$(sh "$T/levels.sh" 2>&1 >/dev/null)" "$(cat "$T/err")"

expect_exit "--no-detect-level: exit 0" 0 \
	ctl run -s svc_nodet --no-detect-level -- sh "$T/levels.sh"
expect_eq "--no-detect-level: every stderr line WARNING" \
	"$(sed 's/^[A-Z]* /WARNING /' "$T/levels.err")" \
	"$(stream_levels svc_nodet stderr)"
expect_eq "--no-detect-level: every stdout line INFO" \
	"$(sed 's/^[A-Z]* /INFO /' "$T/levels.out")" \
	"$(stream_levels svc_nodet stdout)"

expect_exit "detected level, --stderr-level: exit 0" 0 \
	ctl run -s svc_det2 --stderr-level error -- sh -c 'echo "INFO: ok" >&2; echo other >&2'
expect_eq "detected level, --stderr-level: the line's own, else the option's" \
	"$(printf 'INFO INFO: ok\nERROR other')" "$(stream_levels svc_det2 stderr)"

expect_exit "detected level, long line: exit 0" 0 ctl run -s svc_det_long -- \
	python3 -c "import sys; sys.stderr.write('ERROR:' + 'x' * 70000 + '\n')"
expect_eq "detected level, long line: every piece has the line's level" \
	"ERROR 1|ERROR 2" \
	"$(records svc_det_long | jq_lines 'r["level"] + " " + str(r["fields"]["part"]) if r["stream"] == "stderr" else ""' | grep . | paste -sd '|')"

# ---- logbusctl run killed with SIGKILL ----------------------------------------------------

# gone PID: PID has ended (no such process, or a zombie).
gone() {
	local state
	state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 1) || true
	[ -z "$state" ] || [ "$state" = Z ]
}

pgid_of() {
	ps -o pgid= -p "$1" 2>/dev/null | tr -d ' '
}

# killed_case NAME SERVICE HOW: logbusctl run SIGKILLed while its command
# (a shell that started a sleep) runs.  HOW is "leader": logbusctl leads
# a process group (setsid made one for it, as systemd or Python's
# start_new_session do), which the command then shares; or "member":
# logbusctl is in its parent's group, and the command gets its own.  No
# controlling terminal either way, whatever terminal the test runs from.
killed_case() {
	local name=$1 svc=$2 how=$3 rc=0 wrapper
	: >"$T/killed.pid"
	# shellcheck disable=SC2016 # expanded by the command's shell
	set -- "$BIN/logbusctl" --run-dir "$T/run" run -s "$svc" --cwd "$W" -- \
		sh -c 'sleep 300 & echo "$$ $!"; echo boom >&2; wait'
	if [ "$how" = leader ]; then
		setsid "$@" >"$T/killed.out" 2>"$T/killed.err" &
		echo $! >"$T/killed.pid"
	else
		# shellcheck disable=SC2016 # expanded by the shell it starts
		setsid sh -c '"$@" & echo $! >"$0"; wait' "$T/killed.pid" "$@" \
			>"$T/killed.out" 2>"$T/killed.err" &
	fi
	wrapper=$!
	track_pid "$wrapper"
	if poll grep -q . "$T/killed.pid" && poll grep -q . "$T/killed.out" &&
		poll grep -qx boom "$T/killed.err"; then
		pass "$name: the command runs"
	else
		fail "$name: the command runs" "no output within 10 s"
	fi
	KPID=$(cat "$T/killed.pid")
	read -r KCMD KGRAND <"$T/killed.out" || true
	expect_eq "$name: the pid is logbusctl's" "$CTL_COMM" \
		"$(cat "/proc/$KPID/comm" 2>/dev/null)"
	if [ "$how" = leader ]; then
		expect_eq "$name: the command is in logbusctl's group" \
			"$KPID" "$(pgid_of "$KCMD")"
	else
		expect_eq "$name: the command leads a group of its own" \
			"$KCMD" "$(pgid_of "$KCMD")"
	fi
	{
		kill -KILL "$KPID"
		wait "$wrapper" || rc=$?
	} 2>/dev/null
	untrack_pid "$wrapper"
	if [ "$how" = leader ]; then
		expect_eq "$name: logbusctl died of SIGKILL" 137 "$rc"
	fi
	check "$name: the command ended with it" wait_for 10 gone "$KCMD"
	check "$name: what the command started ended too" \
		wait_for 10 gone "$KGRAND"
	check "$name: an error report was written" wait_for 10 ctl errors "$svc"
	cat >"$T/want" <<EOF
Exit code: -9
Category: signal
Signal: SIGKILL
Command: sh -c sleep 300 & echo "\$\$ \$!"; echo boom >&2; wait
CWD: $W
Venv: None

--- STDERR ---
boom
logbusctl run (pid $KPID) was killed; the command was ended with it (SIGKILL)
--- STDOUT ---
$KCMD $KGRAND
--- FILES ---
['a.txt', 'b.py']
EOF
	report_is "$name: the report says logbusctl was killed" "$svc"
	records "$svc" >"$T/killed.json" || true
	expect_eq "$name: the journal's last record is the exit" \
		"ERROR|log|Process killed by SIGKILL (exit code: -9)\\nboom\\nlogbusctl run (pid $KPID) was killed; the command was ended with it (SIGKILL)" \
		"$(tail -n 1 "$T/killed.json" |
			jq_lines 'r["level"] + "|" + r["stream"] + "|" + r["message"].replace("\n", "\\n")')"
	expect_eq "$name: one exit record" 1 \
		"$(grep -c '"message":"Process killed' "$T/killed.json" || true)"
}

killed_case "killed, leading a group" svc_killed leader
killed_case "killed, in its parent's group" svc_killed2 member

# logbusctl killed once the command had ended, before logbusd took the
# report: the broker is stopped meanwhile, so the report cannot go out.
mkfifo "$T/go"
# shellcheck disable=SC2016 # expanded by the command's shell
setsid "$BIN/logbusctl" --run-dir "$T/run" run -s svc_late --cwd "$W" \
	--timeout 60 -- sh -c 'echo $$; read -r x <"$1"; echo late >&2; exit 3' \
	sh "$T/go" >"$T/late.out" 2>"$T/late.err" &
LPID=$!
track_pid "$LPID"
started() {
	ctl tail -s svc_late -n all -o cat | grep -q '^Process started'
}
check "late: the command runs, logbusd has the start" poll started
LCMD=$(cat "$T/late.out")
kill -STOP "$BROKER_PID"
echo go >"$T/go"
# Reaped: logbusctl has read the command's output and told its watcher.
check "late: the command ended" wait_for 10 test ! -e "/proc/$LCMD"
# (bash's "Killed" notice goes to /dev/null)
{
	kill -KILL "$LPID"
	wait "$LPID" || true
} 2>/dev/null
untrack_pid "$LPID"
kill -CONT "$BROKER_PID"
late_report() {
	ctl errors --all svc_late | grep -qx "logbusctl run (pid $LPID) was killed before it had reported the end of the command"
}
check "late: the watcher's report says logbusctl was killed" wait_for 10 late_report
ctl errors --all svc_late >"$T/late.rep" 2>&1 || true
expect_eq "late: every report has the command's own exit code" "Exit code: 3" \
	"$(grep '^Exit code' "$T/late.rep" | sort -u)"
check "late: its stderr is in the report" grep -qx late "$T/late.rep"

# A normal end: exactly one report, and the watcher leaves with logbusctl
# (the pipe ends once every process holding its stderr has).
ctl run -s svc_once --cwd "$W" -- sh -c 'echo once >&2; exit 4' 2>&1 |
	cat >"$T/once.out" || true
expect_eq "normal end: the output" once "$(cat "$T/once.out")"
expect_eq "normal end: one exit record" 1 \
	"$(records svc_once | grep -c '"message":"Process exited' || true)"
check "normal end: no previous report" test ! -e "$LOG/service_svc_once_error.log.1"

# ---- no broker --------------------------------------------------------------------------------

mkdir "$T/norun"
expect_exit "no broker: the command runs, exit 0" 0 \
	"$BIN/logbusctl" --run-dir "$T/norun" run -s svc -- echo hi
expect_eq "no broker: its output reaches the terminal" hi "$(cat "$T/out")"
expect_err_line "no broker: one warning line" \
	"^logbusctl: logbusd is not reachable at $T/norun/ingest.sock; .*not.*recorded"
expect_exit "no broker: the command's status" 5 \
	"$BIN/logbusctl" --run-dir "$T/norun" run -s svc -- sh -c 'exit 5'
expect_exit "no broker: errors fails" 1 "$BIN/logbusctl" --run-dir "$T/norun" errors

# ---- command lines ---------------------------------------------------------------------------

expect_exit "run: no -s, exit 2" 2 ctl run -- true
expect_err_line "run: no -s, one line" '^logbusctl: -s SERVICE is required'
expect_exit "run: no command, exit 2" 2 ctl run -s svc
expect_err_line "run: no command, one line" '^logbusctl: no command given'
expect_exit "run: --cwd that does not exist, exit 2" 2 \
	ctl run -s svc --cwd "$T/nowhere" -- true
expect_err_line "run: bad --cwd, one line" "^logbusctl: bad --cwd '$T/nowhere'"
expect_exit "run: command not found, exit 127" 127 \
	ctl run -s svc_nf -- no-such-command-here
expect_err_line "run: command not found, one line" \
	"^logbusctl: cannot run 'no-such-command-here': command not found$"
expect_exit "run: bad --tail-bytes, exit 2" 2 ctl run -s svc --tail-bytes 0 -- true
expect_exit "run: bad --stdout-level, exit 2" 2 ctl run -s svc --stdout-level loud -- true
expect_exit "errors: --all without SERVICE, exit 2" 2 ctl errors --all
expect_exit "errors: two SERVICEs, exit 2" 2 ctl errors a b

# Bad service ids create nothing, in the log directory or beside it.
: >"$T/out"
: >"$T/err"
before_parent=$(ls -A "$T")
before_log=$(ls -A "$LOG")
LONG_ID=$(printf 'a%.0s' $(seq 300))
for id in ../x a/b .hidden "$LONG_ID"; do
	expect_exit "run -s '${id:0:12}': exit 2" 2 ctl run -s "$id" -- true
	expect_err_line "run -s '${id:0:12}': one line" '^logbusctl: invalid service id'
	expect_exit "errors '${id:0:12}': exit 2" 2 ctl errors "$id"
	expect_err_line "errors '${id:0:12}': one line" '^logbusctl: invalid service id'
done
expect_eq "bad ids: nothing new beside the log directory" "$before_parent" "$(ls -A "$T")"
expect_eq "bad ids: nothing new in the log directory" "$before_log" "$(ls -A "$LOG")"

# ---- rotate -------------------------------------------------------------------------------------

expect_exit "rotate: exit 0" 0 ctl rotate
check "rotate: says how many files" grep -Eqx 'reopened [0-9]+ files?' "$T/out"
expect_exit "rotate: no broker, exit 1" 1 "$BIN/logbusctl" --run-dir "$T/norun" rotate
expect_err_line "rotate: no broker, one line" '^logbusctl: cannot reach logbusd at'

finish
