#!/usr/bin/env bash
#
# test_inject.sh: no record can forge a line or drive a terminal (issue 12,
# item 2).  A publisher sends every injection the issue found: a newline
# followed by a record line of another service at CRITICAL, an escape
# sequence, a CR, a NUL, C1 controls, U+2028, DEL, an over-long line, a
# logger with a C1 control, and a process whose stderr, command line and
# directory carry the same.  Then, in all.log, by-logger/, a text route and
# the error report, and in `logbusctl tail` (text, verbose, cat) through a
# pipe and on a pseudo-terminal, and `logbusctl errors` on one:
#  - no line reads as a record of service_123 (nobody published one) and
#    every line of a text file is a record line or a marked continuation;
#  - no raw control byte is written (a terminal's colour codes aside);
# and -o json, -o cat through a pipe, the JSON route and --all keep the
# bytes exact.
#
# Usage: bash tests/test_inject.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl).  Prints "ok - NAME" / "not ok - NAME" for each check and a
# last line "N passed, M failed"; exits 1 when any check failed.  Nothing
# waits a fixed time.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init

start_broker --route 'evil.log:service=svc_evil' \
	--route 'evil.json:service=svc_evil,format=json'
L=$T/log

# inspect KIND FILE: one line per problem in FILE, nothing when clean.
# Every KIND: no raw control byte (C0 but tab and newline, DEL, C1,
# U+2028/9), valid UTF-8.  records: every line is a record line or starts
# with the continuation mark, and none is a record of service_123.
# verbose: every line at the margin is a "TIME [CURSOR]" header.  The
# -raw kinds skip the control check (--all).
inspect() {
	python3 - "$@" <<'EOF'
import re, sys
kind, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
problems = []
if not kind.endswith("-raw"):
    m = re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]", data)
    if m:
        problems.append("raw control %r at byte %d" % (m.group(), m.start()))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        problems.append("not UTF-8: %s" % e)
record = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[[A-Z0-9]+\] \S+ (\S+): ")
header = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[lb1-")
for n, line in enumerate(data.split(b"\n")[:-1], 1):
    if kind.startswith("records"):
        m = record.match(line)
        if m is None and not line.startswith(b"    | "):
            problems.append("line %d is neither a record nor marked: %r" % (n, line[:100]))
        elif m is not None and m.group(1) == b"service_123":
            problems.append("line %d is a forged record: %r" % (n, line[:100]))
    elif kind.startswith("verbose"):
        if not line.startswith(b" ") and not header.match(line):
            problems.append("line %d at the margin is not a header: %r" % (n, line[:100]))
for p in problems[:5]:
    print(p)
EOF
}

# on_tty FILE COMMAND...: run COMMAND with its stdout on a pseudo-terminal
# (output post-processing off, so that the bytes are the program's own),
# everything it wrote into FILE; its exit status.
on_tty() {
	python3 - "$@" <<'EOF'
import os, pty, subprocess, sys, termios
out_path, argv = sys.argv[1], sys.argv[2:]
master, slave = pty.openpty()
attrs = termios.tcgetattr(slave)
attrs[1] &= ~termios.OPOST
termios.tcsetattr(slave, termios.TCSANOW, attrs)
p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave)
os.close(slave)
out = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the program closed the terminal
        break
    if not chunk:
        break
    out += chunk
os.close(master)
open(out_path, "wb").write(out)
sys.exit(p.wait())
EOF
}

# ---- the injections --------------------------------------------------------

FORGED='2026-12-06 04:19:00,000 [CRITICAL] pactown.sandbox service_123: FORGED'
LONG=$(head -c 100000 /dev/zero | tr '\0' x)
M=(
	$'hello\n'"$FORGED"
	$'red \e[31mRED\e[0m and a title \e]0;owned\a'
	$'progress 10%\r'"$FORGED by CR"
	"nul-placeholder"
	$'c1 \xc2\x9b31m csi, \xc2\x85 nel, \xe2\x80\xa8 ls, \x7f del'
	"$LONG"$'\n'"$FORGED after 100000 bytes"
)
# the messages' exact bytes, one file each, for the checks in Python
for i in 0 1 2 4 5; do
	printf '%s' "${M[i]}" >"$T/m$i"
done
printf 'nul \0 byte' >"$T/m3"

for i in 0 1 2; do
	ctl publish -s svc_evil -l pactown.sandbox "${M[i]}"
done
printf 'nul \0 byte\n' | ctl publish -s svc_evil -l pactown.sandbox -
for i in 4 5; do
	ctl publish -s svc_evil -l pactown.sandbox "${M[i]}"
done
ctl publish -s svc_evil -l $'pactown.\xc2\x9b[2Jevil' "logger with a C1 control"
printf '%s' "logger with a C1 control" >"$T/m6"

# same_messages FILE: the messages of FILE's JSON lines are the published
# bytes, in order.
same_messages() {
	python3 - "$T" "$1" <<'EOF'
import json, sys
t = sys.argv[1]
want = [open("%s/m%d" % (t, i), "rb").read() for i in range(7)]
got = [json.loads(l)["message"].encode("utf-8") for l in open(sys.argv[2])]
sys.exit(0 if got == want else "got %r" % [g[:60] for g in got])
EOF
}

# has_bytes FILE BYTES: FILE holds BYTES (a Python bytes literal).
has_bytes() {
	python3 -c 'import sys; sys.exit(eval(sys.argv[2]) not in open(sys.argv[1], "rb").read())' "$1" "$2"
}

ctl tail -n all -s svc_evil -o json >"$T/json"
check "-o json: the messages exactly as published" same_messages "$T/json"
check "the JSON route: the messages exactly as published" \
	same_messages "$L/evil.json"

ctl tail -n all -s svc_evil -o cat >"$T/cat"
python3 - "$T" >"$T/cat.want" <<'EOF'
import sys
t = sys.argv[1]
sys.stdout.buffer.write(b"".join(open("%s/m%d" % (t, i), "rb").read() + b"\n" for i in range(7)))
EOF
check "-o cat through a pipe: the bytes exactly" cmp "$T/cat.want" "$T/cat"

# ---- a process's death -----------------------------------------------------

# stderr with the injections, an argument and a directory with newlines
# that try to add lines to the report's header
CWD="$T/cwd"$'\nVenv: /forged'
mkdir -p "$CWD"
ctl run -s svc_evil --cwd "$CWD" -- sh -c \
	'printf "boom \033[31m red\r\n%s\n\302\233 c1 \000 nul\n" "$1" >&2; exit 3' \
	$'sh\nExit code: 0' "$FORGED" || true
# the report's name, whichever scheme this logbusd uses for service ids
# (service_<id>_error.log or <id>_error.log)
report_name() {
	find "$L" -maxdepth 1 -name "*$1_error.log" -printf '%p\n' | head -n 1
}
has_report() {
	[ -n "$(report_name "$1")" ]
}
check "run: the report is written" wait_for 10 has_report svc_evil
REPORT=$(report_name svc_evil)
check "run: the report is not empty" test -s "$REPORT"
expect_eq "report: no raw control byte" "" "$(inspect plain "$REPORT")"
expect_eq "report: one Exit code line, the real one" "Exit code: 3" \
	"$(grep '^Exit code:' "$REPORT")"
expect_eq "report: one Venv line" 1 "$(grep -c '^Venv:' "$REPORT")"
check "report: the argument's newline shown as \\n" \
	grep -qF 'sh\nExit code: 0' "$REPORT"
check "report: the escape sequence shown as \\x1b" \
	grep -qF 'boom \x1b[31m red\r' "$REPORT"
check "report: the C1 control and the NUL shown" \
	grep -qF '\u009b c1 \x00 nul' "$REPORT"
check "report: stderr's lines as they were (readable)" \
	grep -qxF "$FORGED" "$REPORT"
check "errors SERVICE through a pipe: the file as stored" \
	bash -c "'$BIN/logbusctl' --run-dir '$T/run' errors svc_evil | cmp - '$REPORT'"

# ---- the files ----------------------------------------------------------------

for f in all.log by-logger/pactown.log evil.log; do
	expect_eq "$f: no forged record line, no raw control byte" "" \
		"$(inspect records "$L/$f")"
	check "$f: the newline's record line is marked as a continuation" \
		grep -qxF "    | $FORGED" "$L/$f"
	check "$f: ESC written as \\x1b" grep -qF 'red \x1b[31mRED\x1b[0m' "$L/$f"
	check "$f: CR written as \\r" grep -qF 'progress 10%\r2026-12-06' "$L/$f"
	check "$f: NUL written as \\x00" grep -qF 'nul \x00 byte' "$L/$f"
	check "$f: C1, U+2028 and DEL escaped" \
		grep -qF 'c1 \u009b31m csi, \u0085 nel, \u2028 ls, \x7f del' "$L/$f"
	check "$f: the line after 100000 bytes is marked" \
		grep -qxF "    | $FORGED after 100000 bytes" "$L/$f"
	check "$f: the logger's C1 control escaped" \
		grep -qF 'pactown.\u009b[2Jevil svc_evil: logger with a C1' "$L/$f"
done
check "all.log: a line carries its service" \
	grep -qE '^[0-9-]+ [0-9:,]+ \[INFO\] pactown\.sandbox svc_evil: hello$' \
	"$L/all.log"
check "all.log: the exit record's stderr lines are marked" \
	grep -qF '    | boom \x1b[31m red\r' "$L/all.log"

# ---- logbusctl tail, errors ----------------------------------------------------

ctl tail -n all -s svc_evil >"$T/text"
expect_eq "tail text through a pipe: no forged line, no raw control" "" \
	"$(inspect records "$T/text")"
check "tail text: the newline's record line is marked" \
	grep -qxF "    | $FORGED" "$T/text"
check "tail text: ESC shown as \\x1b" grep -qF 'red \x1b[31mRED' "$T/text"
ctl tail -n all -s svc_evil -o verbose >"$T/verbose"
expect_eq "tail verbose through a pipe: only headers at the margin, no raw control" \
	"" "$(inspect verbose "$T/verbose")"
check "tail verbose: ESC shown as \\x1b" grep -qF 'red \x1b[31mRED' "$T/verbose"

TAIL=("$BIN/logbusctl" --run-dir "$T/run" tail -n all -s svc_evil)
on_tty "$T/tty.text" "${TAIL[@]}" --no-color
expect_eq "tail text on a terminal: no forged line, no raw control" "" \
	"$(inspect records "$T/tty.text")"
check "tail text on a terminal: the same as through a pipe" \
	cmp "$T/text" "$T/tty.text"
on_tty "$T/tty.verbose" "${TAIL[@]}" -o verbose
expect_eq "tail verbose on a terminal: no raw control" "" \
	"$(inspect verbose "$T/tty.verbose")"
on_tty "$T/tty.cat" "${TAIL[@]}" -o cat --no-color
expect_eq "tail cat on a terminal: no raw control" "" \
	"$(inspect plain "$T/tty.cat")"
check "tail cat on a terminal: ESC shown as \\x1b" \
	grep -qF 'red \x1b[31mRED' "$T/tty.cat"
# With colour, the only escape sequences are the level's colour and its end.
on_tty "$T/tty.color" "${TAIL[@]}"
sed -e $'s/\e\\[1;3[13]m//g' -e $'s/\e\\[0m//g' "$T/tty.color" >"$T/tty.uncolored"
check "tail text on a terminal in colour: colour codes were written" \
	grep -q $'\e\\[1;31m' "$T/tty.color"
expect_eq "tail text on a terminal in colour: no other control" "" \
	"$(inspect records "$T/tty.uncolored")"

# --all: the bytes as they are (journalctl's --all), lines still marked.
ctl tail -n all -s svc_evil --all >"$T/all.text"
expect_eq "tail --all: still no line that reads as a forged record" "" \
	"$(inspect records-raw "$T/all.text")"
check "tail --all: ESC raw" grep -qF $'red \e[31mRED\e[0m' "$T/all.text"
check "tail --all: CR raw" grep -qF $'progress 10%\r2026' "$T/all.text"
check "tail --all: NUL raw" has_bytes "$T/all.text" 'b"nul \x00 byte"'
ctl tail -n all -s svc_evil -a -o verbose >"$T/all.verbose"
check "tail -a -o verbose: ESC raw" grep -qF $'red \e[31mRED' "$T/all.verbose"
ctl tail -n all -s svc_evil -o cat >"$T/cat.all"
on_tty "$T/tty.allcat" "${TAIL[@]}" -o cat --all --no-color
check "tail --all -o cat on a terminal: the bytes exactly" \
	cmp "$T/cat.all" "$T/tty.allcat"

on_tty "$T/tty.report" "$BIN/logbusctl" --run-dir "$T/run" errors svc_evil
check "errors SERVICE on a terminal: the report as stored" \
	cmp "$REPORT" "$T/tty.report"
# A report an older logbusd wrote may hold raw bytes: escaped on a
# terminal, as stored through a pipe.
OLD=${REPORT%svc_evil_error.log}svc_old_error.log
printf 'Exit code: 1\n\n--- STDERR ---\nold \033[2J\r\n' >"$OLD"
on_tty "$T/tty.old" "$BIN/logbusctl" --run-dir "$T/run" errors svc_old
expect_eq "errors SERVICE on a terminal: an old report's controls escaped" \
	"$(printf 'Exit code: 1\n\n--- STDERR ---\nold \\x1b[2J\\r\n')" \
	"$(cat "$T/tty.old")"
check "errors SERVICE through a pipe: an old report as stored" \
	bash -c "'$BIN/logbusctl' --run-dir '$T/run' errors svc_old | cmp - '$OLD'"

finish
