#!/usr/bin/env bash
#
# test_files.sh: the files a root logbusd writes cannot be redirected by
# another local user (issue 18, items 5 and 10c), with two uids: root runs
# the broker, nobody (through setpriv) attacks it.
#
#  - logbusd refuses to start on a log or run directory that nobody owns,
#    that others can write, or that lies below a directory nobody owns,
#    saying which path and the chown/chmod that fixes it; the links nobody
#    planted there are never written through;
#  - in an accepted directory, a link at all.log, at by-logger/ or at a
#    report's temporary name is never followed: the route fails with a
#    WARNING record and the report is written in place;
#  - nobody's error reports stop at max-reports-per-uid, said by one
#    WARNING record; root's do not.
#
# Usage: bash tests/test_files.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl).  Needs root and setpriv: otherwise it says why and exits 77
# (ctest: skipped).  Every wait polls a condition every 50 ms, at most 10 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
need_nobody
test_init
chmod 0755 "$T" # nobody must reach the sockets
NOBODY_UID=$(id -u nobody)
as_nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$@"; }

# The files nobody wants root to overwrite.
echo precious >"$T/victim"
echo precious >"$T/victim2"
mkdir "$T/victimdir"
victims_untouched() {
	[ "$(cat "$T/victim")" == precious ] &&
		[ "$(cat "$T/victim2")" == precious ] &&
		[ -z "$(ls -A "$T/victimdir")" ]
}

# plant DIR: nobody's links at the names logbusd writes in DIR.
plant() {
	as_nobody ln -s "$T/victim" "$1/all.log"
	as_nobody ln -s "$T/victim2" "$1/x_error.log.tmp"
	as_nobody ln -s "$T/victimdir" "$1/by-logger"
}

# refuses NAME REGEX OPTION...: logbusd with OPTION... exits 1 at start
# (within 10 s) and its stderr matches the extended REGEX.
refuses() {
	local name=$1 regex=$2
	shift 2
	expect_exit "$name: logbusd does not start" 1 \
		timeout 10 "$BIN/logbusd" "$@"
	check "$name: says which path, why and the fix" \
		grep -Eq -- "$regex" "$T/err"
}

# ---- directories another user could change --------------------------------

mkdir "$T/nlog" && chown nobody "$T/nlog"
plant "$T/nlog"
refuses "log directory owned by nobody" \
	"log directory $T/nlog is owned by nobody \\(uid $NOBODY_UID\\).*chown root $T/nlog" \
	--run-dir "$T/run" --log-dir "$T/nlog"
check "... and nothing was written through nobody's links" victims_untouched
check "... nor in the directory" test ! -e "$T/nlog/journal"

mkdir "$T/nrun" && chown nobody "$T/nrun"
refuses "run directory owned by nobody" \
	"run directory $T/nrun is owned by nobody.*chown root $T/nrun" \
	--run-dir "$T/nrun" --log-dir "$T/log0"

mkdir -m 1777 "$T/wlog"
plant "$T/wlog"
refuses "log directory writable by others (even sticky)" \
	"log directory $T/wlog is writable by its group and others \\(mode 1777\\).*chmod go-w $T/wlog" \
	--run-dir "$T/run" --log-dir "$T/wlog"
check "... and nothing was written through nobody's links" victims_untouched

mkdir "$T/nparent" && chown nobody "$T/nparent"
mkdir "$T/nparent/log"
refuses "log directory below nobody's directory" \
	"log directory $T/nparent/log: $T/nparent above it is owned by nobody.*chown root $T/nparent" \
	--run-dir "$T/run" --log-dir "$T/nparent/log"

# The same directory made safe starts (the fix the message gave).
chmod go-w "$T/wlog"
start_logbusd "$T/wlog.err" "$T/wrun" --log-dir "$T/wlog"
check "after chmod go-w the same directory is accepted" kill -0 "$LOGBUSD_PID"

# ---- links in an accepted directory are never followed ----------------------

# nobody's links are still in wlog (planted while others could write it).
wctl() { "$BIN/logbusctl" --run-dir "$T/wrun" "$@"; }
wctl publish -s svc_a -l app "into all.log?"
wself() { wctl tail -n all -s logbusd -o cat 2>/dev/null | grep -q -- "$1"; }
check "all.log -> victim: a WARNING says the route cannot open it" \
	wait_for 10 wself "route all.log: cannot open $T/wlog/all.log: Too many levels of symbolic links"
check "by-logger -> a directory: a WARNING too" \
	wait_for 10 wself "route by-logger/app.log: cannot"
wctl run -s x --cwd "$T" -- sh -c 'exit 3' || true
check "a report is written in place of the planted .tmp link" \
	wait_for 10 grep -qx "Exit code: 3" "$T/wlog/x_error.log"
check "the report is a regular file" test -f "$T/wlog/x_error.log" -a ! -L "$T/wlog/x_error.log"
check "nothing was written through a link" victims_untouched
stop_pid "$LOGBUSD_PID"

# ---- error reports per uid --------------------------------------------------

start_broker --max-reports-per-uid 2
nobody_run() { as_nobody "$BIN/logbusctl" --run-dir "$T/run" run -s "$1" --cwd /tmp -- false || true; }
nobody_run n1
nobody_run n2
nobody_run n3
nobody_run n1 # its own report again: allowed
ctl run -s r1 --cwd "$T" -- false || true
ctl run -s r2 --cwd "$T" -- false || true
ctl run -s r3 --cwd "$T" -- false || true
check "root's reports are not limited" \
	wait_for 10 test -f "$T/log/r3_error.log"
check "nobody's first two reports are written" \
	test -f "$T/log/n1_error.log" -a -f "$T/log/n2_error.log"
check "nobody's report of n1 written again (the .1 kept)" \
	test -f "$T/log/n1_error.log.1"
check "nobody's third is not" test ! -e "$T/log/n3_error.log"
self_warnings() { ctl tail -n all -s logbusd -p warning -o cat | grep -c "uid $NOBODY_UID has 2 report files" || true; }
check "one WARNING record says so" wait_for 10 test "$(self_warnings)" -eq 1
nobody_run n4
check "... only once" test "$(self_warnings)" -eq 1
check "n3's exit is in the journal all the same" \
	bash -c "'$BIN/logbusctl' --run-dir '$T/run' tail -n all -s n3 -o cat | grep -q 'Process exited with code 1'"
stop_broker

finish
