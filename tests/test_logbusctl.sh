#!/usr/bin/env bash
#
# test_logbusctl.sh: logbusctl publish and tail against a real logbusd
# (tail -f has its own file, test_tail_follow.sh).
#
# Usage: bash tests/test_logbusctl.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl, e.g. build/bin).  Starts a broker in a temporary directory,
# runs the checks, prints "ok - NAME" / "not ok - NAME" for each and a last
# line "N passed, M failed"; exits 1 when any check failed.  The broker and
# the temporary directory are removed on exit, whatever happens.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init

start_broker

# json_get KEY < one JSON object per line: KEY of each, one per line
# (fields.X for a field, with its Python type: "int 5").
json_get() {
	python3 -c '
import json, sys
key = sys.argv[1]
for line in sys.stdin:
    if line.startswith("-- cursor: "):
        continue
    obj = json.loads(line)
    if key.startswith("fields."):
        v = obj["fields"][key[7:]]
        print(type(v).__name__, v)
    else:
        print(obj[key])
' "$1"
}

# ---- publish and tail -n 1 -o json -------------------------------------------

check "publish exits 0" ctl publish -s svc_json -l app.main "hello json"
ctl tail -n 1 -o json >"$T/json1"
expect_eq "json: one line" 1 "$(wc -l <"$T/json1")"
expect_eq "json: message" "hello json" "$(json_get message <"$T/json1")"
expect_eq "json: service" svc_json "$(json_get service <"$T/json1")"
expect_eq "json: logger" app.main "$(json_get logger <"$T/json1")"
expect_eq "json: level" INFO "$(json_get level <"$T/json1")"
check "json: seq is a number" \
	grep -Eq '^[0-9]+$' <<<"$(json_get seq <"$T/json1")"
check "json: cursor is lb1-" \
	grep -Eq '^lb1-[0-9a-f]{32}-[0-9a-f]{16}$' <<<"$(json_get cursor <"$T/json1")"
check "json: pid is a number" \
	grep -Eq '^[0-9]+$' <<<"$(json_get pid <"$T/json1")"
expect_eq "json: uid is ours" "$(id -u)" "$(json_get uid <"$T/json1")"

check "publish: logger defaults to the service id" \
	ctl publish -s svc_default "default logger"
expect_eq "json: default logger" svc_default \
	"$(ctl tail -n 1 -o json -s svc_default | json_get logger)"

# ---- the text layout -----------------------------------------------------------

check "publish with -l and -p warning" \
	ctl publish -s service_123 -l pactown.sandbox -p warning "Creating sandbox"
ctl tail -n 1 >"$T/text1"
check "text: Python logging layout" grep -Eq \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} \[WARNING\] pactown\.sandbox service_123: Creating sandbox$' \
	"$T/text1"
expect_eq "text: one line" 1 "$(wc -l <"$T/text1")"

# ---- fields ----------------------------------------------------------------------

check "publish with fields" ctl publish -s svc_fields \
	-f user=user123 -f n=5 -f ok=true -f ratio=0.5 -f neg=-12 \
	-f zip=007 -f big=99999999999999999999 -f empty= -f exp=1e3 "fields"
ctl tail -n 1 -o json -s svc_fields >"$T/fields"
expect_eq "fields: string" "str user123" "$(json_get fields.user <"$T/fields")"
expect_eq "fields: int" "int 5" "$(json_get fields.n <"$T/fields")"
expect_eq "fields: bool" "bool True" "$(json_get fields.ok <"$T/fields")"
expect_eq "fields: float" "float 0.5" "$(json_get fields.ratio <"$T/fields")"
expect_eq "fields: negative int" "int -12" "$(json_get fields.neg <"$T/fields")"
expect_eq "fields: leading zero stays a string" "str 007" \
	"$(json_get fields.zip <"$T/fields")"
expect_eq "fields: int beyond 64 bits stays a string" \
	"str 99999999999999999999" "$(json_get fields.big <"$T/fields")"
expect_eq "fields: empty value is a string" "str " \
	"$(json_get fields.empty <"$T/fields")"
expect_eq "fields: exponent is a float" "float 1000.0" \
	"$(json_get fields.exp <"$T/fields")"
expect_exit "fields: KEY without = is exit 2" 2 ctl publish -s svc -f novalue m
expect_err_line "fields: KEY without = says so" "no '='.*--help"
expect_exit "fields: bad key is exit 2" 2 ctl publish -s svc -f 'a b=1' m

# ---- stdin ------------------------------------------------------------------------

expect_exit "stdin: publish - exits 0" 0 \
	bash -c "printf 'a\nb\nc\n' | \"$BIN/logbusctl\" --run-dir '$T/run' publish -s svc -"
expect_eq "stdin: three records in order" "$(printf 'a\nb\nc')" \
	"$(ctl tail -n 3 -s svc -o json | json_get message)"
expect_eq "stdin: text lines end in the messages" "$(printf 'a\nb\nc')" \
	"$(ctl tail -n 3 -s svc | sed 's/.*svc: //')"
expect_exit "stdin: last line without newline" 0 \
	bash -c "printf 'x\n\ny' | \"$BIN/logbusctl\" --run-dir '$T/run' publish -s svc_nl -"
expect_eq "stdin: empty middle line kept, no empty trailing record" \
	"$(printf 'x\n\ny')" "$(ctl tail -n all -s svc_nl -o json | json_get message)"
expect_exit "stdin: invalid UTF-8 is repaired" 0 \
	bash -c "printf 'bad \\377 byte\n' | \"$BIN/logbusctl\" --run-dir '$T/run' publish -s svc_utf8 -"
expect_eq "stdin: U+FFFD in place of the bad byte" "bad $(printf '\xef\xbf\xbd') byte" \
	"$(ctl tail -n 1 -s svc_utf8 -o json | json_get message)"
seq 1 5000 >"$T/many"
expect_exit "stdin: 5000 lines" 0 ctl publish -s svc_many - <"$T/many"
expect_eq "stdin: all 5000 lines, in order" "$(cat "$T/many")" \
	"$(ctl tail -n all -s svc_many -o json | json_get message)"

# ---- filters ------------------------------------------------------------------------

ctl publish -s svc_lvl -p info "lvl info"
ctl publish -s svc_lvl -p warning "lvl warning"
ctl publish -s svc_lvl -p error "lvl error"
ctl publish -s svc_lvl -p critical "lvl critical"
expect_eq "-p error: error and above only" "$(printf 'lvl error\nlvl critical')" \
	"$(ctl tail -n all -s svc_lvl -p error -o json | json_get message)"
expect_eq "-p 30: numeric level" "$(printf 'lvl warning\nlvl error\nlvl critical')" \
	"$(ctl tail -n all -s svc_lvl -p 30 -o json | json_get message)"

ctl publish -s svc_lg -l pactown "lg pactown"
ctl publish -s svc_lg -l pactown.sandbox "lg sandbox"
ctl publish -s svc_lg -l pactownx "lg pactownx"
expect_eq "-l pactown: itself and children, not pactownx" \
	"$(printf 'lg pactown\nlg sandbox')" \
	"$(ctl tail -n all -s svc_lg -l pactown -o json | json_get message)"

ctl publish -s svc_a "from a"
ctl publish -s svc_b "from b"
ctl publish -s svc_c "from c"
expect_eq "-s twice: both services, not a third" "$(printf 'from a\nfrom b')" \
	"$(ctl tail -n all -s svc_a -s svc_b -o json | json_get message)"
expect_eq "-n 1 counts after filtering" "from b" \
	"$(ctl tail -n 1 -s svc_a -s svc_b -o json | json_get message)"

# ---- -g, --stream, -F -------------------------------------------------------------------

ctl publish -s svc_g "all good"
ctl publish -s svc_g "An ERROR happened"
ctl publish -s svc_g "Exception in thread main"
ctl publish -s svc_g "job FAILED twice"
ctl publish -s svc_g "fine again"
expect_eq "-g: a case-insensitive PCRE2 regex" \
	"$(printf 'An ERROR happened\nException in thread main\njob FAILED twice')" \
	"$(ctl tail -n all -s svc_g -g '(?i)(error|exception|failed)' -o cat)"
expect_eq "-g: case-sensitive without (?i)" "" \
	"$(ctl tail -n all -s svc_g -g 'exception' -o cat)"
expect_eq "-g with -n 1: the last match" "job FAILED twice" \
	"$(ctl tail -n 1 -s svc_g --grep '(?i)(error|exception|failed)' -o cat)"
expect_exit "-g: a bad regex is exit 2" 2 ctl tail -g '(?i)(error|unclosed'
expect_err_line "-g: a bad regex is one line with PCRE2's reason" \
	"^logbusctl: bad -g '\(\?i\)\(error\|unclosed'.*missing closing parenthesis"

ctl publish -s svc_st "to log"
ctl publish -s svc_st --stream stdout "to stdout"
ctl publish -s svc_st --stream stderr "to stderr"
expect_eq "--stream stderr" "to stderr" \
	"$(ctl tail -n all -s svc_st --stream stderr -o cat)"
expect_eq "--stream stdout,stderr: a list" "$(printf 'to stdout\nto stderr')" \
	"$(ctl tail -n all -s svc_st --stream stdout,stderr -o cat)"
expect_eq "--stream repeated" "$(printf 'to log\nto stderr')" \
	"$(ctl tail -n all -s svc_st --stream log --stream stderr -o cat)"
expect_exit "--stream pipe: exit 2" 2 ctl tail --stream stdout,pipe
expect_err_line "--stream pipe: one line" "bad --stream 'stdout,pipe'"

ctl publish -s svc_fl -f user=user123 -f port=8001 -f ok=true "user123 on 8001"
ctl publish -s svc_fl -f user=user456 -f port=8001 "user456 on 8001"
ctl publish -s svc_fl "no user"
expect_eq "-F user=user123" "user123 on 8001" \
	"$(ctl tail -n all -s svc_fl -F user=user123 -o cat)"
expect_eq "-F user=nobody: nothing" "" \
	"$(ctl tail -n all -s svc_fl -F user=nobody -o cat)"
expect_eq "-F on an int field, as text" "$(printf 'user123 on 8001\nuser456 on 8001')" \
	"$(ctl tail -n all -s svc_fl -F port=8001 -o cat)"
expect_eq "-F twice: both must hold" "user123 on 8001" \
	"$(ctl tail -n all -s svc_fl -F port=8001 -F ok=true -o cat)"
expect_eq "-F twice, one does not hold: nothing" "" \
	"$(ctl tail -n all -s svc_fl -F user=user123 -F port=8002 -o cat)"
expect_exit "-F without '=': exit 2" 2 ctl tail -F user
expect_err_line "-F without '=': one line" "bad -F 'user'"

# ---- --since and --until ----------------------------------------------------------------

ctl publish -s svc_time "t1"
ctl publish -s svc_time "t2"
ctl publish -s svc_time "t3"
ctl tail -n all -s svc_time -o json >"$T/times"
T2=$(sed -n 2p "$T/times" | json_get time)
T3=$(sed -n 3p "$T/times" | json_get time)
SEC1=$(($(sed -n 1p "$T/times" | json_get time_ns) / 1000000000))
# The same instants as RFC 3339 with a +02:00 offset.
T2_OFF=$(python3 -c '
import datetime, sys
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ")
t = t.replace(tzinfo=datetime.timezone.utc)
print(t.astimezone(datetime.timezone(datetime.timedelta(hours=2))).isoformat())
' "$T2")
expect_eq "--since T2 --until T3 (RFC 3339, Z): only t2" "t2" \
	"$(ctl tail -s svc_time --since "$T2" --until "$T3" -o cat)"
expect_eq "--since with a +02:00 offset: t2 and t3" "$(printf 't2\nt3')" \
	"$(ctl tail -s svc_time --since "$T2_OFF" -o cat)"
expect_eq "--until T3: t1 and t2" "$(printf 't1\nt2')" \
	"$(ctl tail -s svc_time --until "$T3" -o cat)"
expect_eq "-n 1 with --since: the last of the range" "t3" \
	"$(ctl tail -s svc_time --since "$T2" -n 1 -o cat)"
expect_eq "-S and -U: the short forms" "t2" \
	"$(ctl tail -s svc_time -S "$T2" -U "$T3" -o cat)"
# Local time: in Kolkata (+05:30) a parser that took UTC would be 5.5 h off.
LOCAL1=$(TZ=Asia/Kolkata date -d "@$SEC1" '+%Y-%m-%d %H:%M:%S')
DAY1=$(TZ=Asia/Kolkata date -d "@$SEC1" '+%Y-%m-%d')
expect_eq "--since 'YYYY-MM-DD HH:MM:SS' is local time" "$(printf 't1\nt2\nt3')" \
	"$(TZ=Asia/Kolkata "$BIN/logbusctl" --run-dir "$T/run" tail -s svc_time --since "$LOCAL1" -o cat)"
expect_eq "--until 'YYYY-MM-DD HH:MM:SS' is local time" "" \
	"$(TZ=Asia/Kolkata "$BIN/logbusctl" --run-dir "$T/run" tail -s svc_time --until "$LOCAL1" -o cat)"
expect_eq "--since YYYY-MM-DD: from local midnight" "$(printf 't1\nt2\nt3')" \
	"$(TZ=Asia/Kolkata "$BIN/logbusctl" --run-dir "$T/run" tail -s svc_time --since "$DAY1" -o cat)"
expect_eq "--until YYYY-MM-DD: before local midnight" "" \
	"$(TZ=Asia/Kolkata "$BIN/logbusctl" --run-dir "$T/run" tail -s svc_time --until "$DAY1" -o cat)"
expect_eq "--since -1h: all three" "$(printf 't1\nt2\nt3')" \
	"$(ctl tail -s svc_time --since -1h -o cat)"
expect_eq "--until -1h: none" "" "$(ctl tail -s svc_time --until -1h -o cat)"
expect_eq "--since '10min ago': all three" "$(printf 't1\nt2\nt3')" \
	"$(ctl tail -s svc_time --since '10min ago' -o cat)"
expect_eq "--since tomorrow: none" "" "$(ctl tail -s svc_time --since tomorrow -o cat)"
for t in -10min -2h -30s -1d -1w "1h 30min ago" today yesterday now \
	2026-11-22T10:00:00Z 2026-11-22T10:00:00.123456+02:00 \
	"2026-11-22 10:00:00" 2026-11-22 @1700000000; do
	expect_exit "--since '$t' is understood" 0 ctl tail -n 0 --since "$t"
done
for t in 10min -10parsecs yesterdayish 2026-13-01 2026-02-30 \
	"2026-11-22T25:00:00Z" "2026-11-22T10:00:00+02:" ""; do
	expect_exit "--since '$t': exit 2" 2 ctl tail --since "$t"
	expect_err_line "--since '$t': one line" "^logbusctl: bad --since"
done
expect_exit "--until before --since: exit 2" 2 ctl tail --since -1h --until -2h
expect_err_line "--until before --since: says so" "is not before --until"

# ---- cursors ---------------------------------------------------------------------------

ctl tail -n 1 --show-cursor >"$T/cur"
CURSOR=$(sed -n 's/^-- cursor: //p' "$T/cur")
check "--show-cursor prints a cursor line last" \
	grep -Eq '^lb1-[0-9a-f]{32}-[0-9a-f]{16}$' <<<"$CURSOR"
expect_eq "--show-cursor: record then cursor" 2 "$(wc -l <"$T/cur")"
expect_eq "--after-cursor: nothing new yet" "" \
	"$(ctl tail --after-cursor "$CURSOR" -o json | json_get message)"
ctl publish -s svc_cur "after 1"
ctl publish -s svc_cur "after 2"
ctl publish -s svc_cur "after 3"
expect_eq "--after-cursor: only later records" \
	"$(printf 'after 1\nafter 2\nafter 3')" \
	"$(ctl tail --after-cursor "$CURSOR" -o json | json_get message)"
expect_eq "--after-cursor with -n 2: the last 2 of them" \
	"$(printf 'after 2\nafter 3')" \
	"$(ctl tail --after-cursor "$CURSOR" -n 2 -o json | json_get message)"
expect_eq "--after-cursor with -n 0: none" "" \
	"$(ctl tail --after-cursor "$CURSOR" -n 0 -o json | json_get message)"
NEXT=$(ctl tail --after-cursor "$CURSOR" --show-cursor | sed -n 's/^-- cursor: //p')
# (the text format's "-- No entries --" is a line like the cursor's)
expect_eq "--after-cursor from the new cursor: nothing" "" \
	"$(ctl tail --after-cursor "$NEXT" | sed '/^-- cursor/d; /^-- No entries --$/d')"
JSON_CURSOR=$(ctl tail -n 2 -s svc_cur -o json | head -n 1 | json_get cursor)
expect_eq "a JSON record's cursor resumes after it" "after 3" \
	"$(ctl tail --after-cursor "$JSON_CURSOR" -s svc_cur -o json | json_get message)"

expect_exit "malformed cursor: exit non-zero" nonzero \
	ctl tail --after-cursor nonsense
expect_err_line "malformed cursor: one line" "^logbusctl: .*cursor"
expect_exit "cursor of another journal: exit non-zero" nonzero \
	ctl tail --after-cursor lb1-00000000000000000000000000000000-0000000000000001
expect_err_line "cursor of another journal: one line" "^logbusctl: .*cursor"

# ---- --cursor-file ---------------------------------------------------------------------

CF=$T/cursor.state
for i in 1 2 3; do ctl publish -s svc_cf "cf $i"; done
expect_eq "--cursor-file, no file yet: like -n" "$(printf 'cf 2\ncf 3')" \
	"$(ctl tail -s svc_cf --cursor-file "$CF" -n 2 -o cat)"
check "--cursor-file: the file holds a cursor" \
	grep -Eqx 'lb1-[0-9a-f]{32}-[0-9a-f]{16}' "$CF"
check "--cursor-file: no FILE.tmp left behind" test ! -e "$CF.tmp"
ctl publish -s svc_cf "cf 4"
ctl publish -s svc_cf "cf 5"
expect_eq "--cursor-file, second run: only what came since" \
	"$(printf 'cf 4\ncf 5')" "$(ctl tail -s svc_cf --cursor-file "$CF" -o cat)"
expect_eq "--cursor-file, third run: nothing new, nothing shown" "" \
	"$(ctl tail -s svc_cf --cursor-file "$CF" -o cat)"
ctl publish -s svc_cf "cf 6"
expect_eq "--cursor-file, fourth run: the one new record" "cf 6" \
	"$(ctl tail -s svc_cf --cursor-file "$CF" -o cat)"
seq 1 12 | ctl publish -s svc_cf10 -
: >"$T/empty.state"
expect_eq "--cursor-file, empty file: the last 10 like tail" "$(seq 3 12)" \
	"$(ctl tail -s svc_cf10 --cursor-file "$T/empty.state" -o cat)"
echo "not a cursor" >"$T/junk.state"
expect_exit "--cursor-file with junk in it: exit 1" 1 \
	ctl tail --cursor-file "$T/junk.state"
expect_err_line "--cursor-file with junk: names the file" "cursor in .*junk\.state"
expect_exit "--cursor-file and --after-cursor: exit 2" 2 \
	ctl tail --cursor-file "$CF" --after-cursor "$CURSOR"

# ---- output formats and colour -------------------------------------------------------------

ctl publish -s svc_out -l app.out -p warning -f user=user123 -f n=5 "out one"
ctl publish -s svc_out -p error "$(printf 'out two\nsecond line')"
expect_eq "-o cat: the messages only" "$(printf 'out one\nout two\nsecond line')" \
	"$(ctl tail -n 2 -s svc_out -o cat)"
ctl tail -n 2 -s svc_out -o verbose >"$T/verbose"
check "-o verbose: a header with the time and cursor" grep -Eqx \
	'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z \[lb1-[0-9a-f]{32}-[0-9a-f]{16}\]' \
	"$T/verbose"
expect_eq "-o verbose: the first record's lines" \
	"$(printf '    seq=%s\n    service=svc_out\n    logger=app.out\n    level=WARNING\n    stream=log\n    pid=%s\n    uid=%s\n    gid=%s\n    comm=%s\n    user=user123\n    n=5\n    message=out one' \
		"$(ctl tail -n 2 -s svc_out -o json | head -n 1 | json_get seq)" \
		"$(ctl tail -n 2 -s svc_out -o json | head -n 1 | json_get pid)" \
		"$(id -u)" "$(id -g)" "$CTL_COMM")" \
	"$(sed -n 2,13p "$T/verbose")"
expect_eq "-o verbose: a message's second line is indented" \
	"$(printf '    message=out two\n        second line')" "$(tail -n 2 "$T/verbose")"
expect_eq "-o verbose: two headers for two records" 2 \
	"$(grep -c '^[^ ]' "$T/verbose")"
check "-o json: every line is JSON (all filters)" bash -c "\"$BIN/logbusctl\" --run-dir '$T/run' tail -n all \
	-o json --stream log,stderr -p info -g '.' --since -1h --no-pager | python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    json.loads(line)
    n += 1
sys.exit(0 if n > 0 else 1)
'"
ctl tail -n all >"$T/plain"
check "not a terminal: no escape codes" bash -c "! grep -q \$'\\033' '$T/plain'"
if command -v script >/dev/null; then
	# script(1) runs the command on a pseudo-terminal.
	script -qec "\"$BIN/logbusctl\" --run-dir '$T/run' tail -n 2 -s svc_out" \
		/dev/null >"$T/tty" </dev/null
	check "a terminal: WARNING in bold yellow" \
		grep -qF $'\033[1;33mout one\033[0m' "$T/tty"
	check "a terminal: ERROR in bold red" grep -qF $'\033[1;31mout two' "$T/tty"
	NO_COLOR=1 script -qec "\"$BIN/logbusctl\" --run-dir '$T/run' tail -n 2 -s svc_out" \
		/dev/null >"$T/tty" </dev/null
	check "a terminal with NO_COLOR: no escape codes" \
		bash -c "grep -q 'out one' '$T/tty' && ! grep -q \$'\\033' '$T/tty'"
	script -qec "\"$BIN/logbusctl\" --run-dir '$T/run' tail -n 2 -s svc_out --no-color" \
		/dev/null >"$T/tty" </dev/null
	check "a terminal with --no-color: no escape codes" \
		bash -c "grep -q 'out one' '$T/tty' && ! grep -q \$'\\033' '$T/tty'"
else
	echo "ok - # skip colour on a terminal: no script(1)"
fi

# ---- bad arguments ---------------------------------------------------------------------

expect_exit "publish without -s: exit 2" 2 ctl publish "no service"
expect_err_line "publish without -s: says so" "^logbusctl: .*-s.*publish --help"
expect_exit "bad level: exit 2" 2 ctl publish -s svc -p loud "msg"
expect_err_line "bad level: one line" "level 'loud'"
expect_exit "bad service id: non-zero" nonzero ctl publish -s ../x "msg"
expect_err_line "bad service id: says service id" "service id '\.\./x'"
expect_exit "publish without MESSAGE: exit 2" 2 ctl publish -s svc
expect_exit "publish with two MESSAGEs: exit 2" 2 ctl publish -s svc a b
expect_exit "bad --stream: exit 2" 2 ctl publish -s svc --stream pipe msg
expect_exit "bad --timeout: exit 2" 2 ctl publish -s svc --timeout 1x msg
expect_err_line "bad --timeout: says why" "^logbusctl: bad --timeout '1x': seconds, more than 0 and at most 86400 \(see logbusctl publish --help\)$"
expect_exit "tail --timeout 0: exit 2" 2 ctl tail --timeout 0
expect_err_line "tail --timeout 0: says why" "^logbusctl: bad --timeout '0': .*logbusctl tail --help"
expect_exit "run --timeout over a day: exit 2" 2 ctl run -s svc --timeout 99999999 -- true
expect_err_line "run --timeout over a day: says why" "^logbusctl: bad --timeout '99999999': .*logbusctl run --help"
expect_exit "errors takes no --timeout: exit 2" 2 ctl errors --timeout 1
expect_err_line "errors takes no --timeout: says so" "unknown option --timeout"
expect_exit "unknown option: exit 2" 2 ctl publish -s svc --bogus msg
expect_err_line "unknown option: named" "unknown option --bogus"
expect_exit "option without value: exit 2" 2 ctl tail -n
expect_err_line "option without value: named" "option -n needs a value"
expect_exit "bad -n: exit 2" 2 ctl tail -n -3
expect_exit "bad -o: exit 2" 2 ctl tail -o xml
expect_exit "unknown command: exit 2" 2 ctl frobnicate
expect_err_line "unknown command: named" "unknown command 'frobnicate'"
expect_exit "no command: exit 2" 2 "$BIN/logbusctl"
expect_exit "--help: exit 0" 0 "$BIN/logbusctl" --help
check "--help lists the commands" grep -q "publish" "$T/out"
expect_exit "publish --help: exit 0" 0 "$BIN/logbusctl" publish --help
check "publish --help shows its usage" grep -q "usage: logbusctl publish" "$T/out"
expect_exit "--version: exit 0" 0 "$BIN/logbusctl" --version
check "--version prints the version" grep -Eq '^logbusctl [0-9]+\.[0-9]+' "$T/out"

# ---- --run-dir after the command, and $LOGBUS_RUN_DIR ------------------------------------

expect_exit "--run-dir after the command" 0 \
	"$BIN/logbusctl" publish -s svc_rd "run dir after" --run-dir "$T/run"
expect_eq "\$LOGBUS_RUN_DIR is honoured" "run dir after" \
	"$(LOGBUS_RUN_DIR="$T/run" "$BIN/logbusctl" tail -n 1 -s svc_rd -o json | json_get message)"

# ---- a closed pipe ---------------------------------------------------------------------------

expect_exit "tail | head -n 1: exit 0, quiet" 0 \
	bash -c "set -o pipefail; \"$BIN/logbusctl\" --run-dir '$T/run' tail -n all | head -n 1 >/dev/null"
expect_eq "tail | head: nothing on stderr" "" "$(cat "$T/err")"

# ---- -n all ---------------------------------------------------------------------------------

ctl tail -n all -o json >"$T/all"
SEQS=$(json_get seq <"$T/all")
expect_eq "-n all: in sequence order" "$(sort -n <<<"$SEQS")" "$SEQS"
expect_eq "-n all: no gaps from the first" \
	"$(seq "$(head -n 1 <<<"$SEQS")" "$(tail -n 1 <<<"$SEQS")")" "$SEQS"
# The journal starts with the broker's own records (service logbusd); the
# first record published here comes right after them.
expect_eq "-n all: starts with the broker's own records" "logbusd" \
	"$(json_get service <"$T/all" | head -n 1)"
expect_eq "-n all: the first record published comes first after them" \
	"hello json" \
	"$(python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["service"] != "logbusd":
        print(r["message"]); break' <"$T/all")"

# ---- an expired cursor (a broker that keeps almost nothing) ---------------------------------

start_logbusd "$T/small.err" "$T/small" --log-dir "$T/small-log" \
	--segment-size 4K --max-total 16K
SMALL_PID=$LOGBUSD_PID
"$BIN/logbusctl" --run-dir "$T/small" publish -s svc "soon gone"
OLD=$("$BIN/logbusctl" --run-dir "$T/small" tail -n 1 --show-cursor |
	sed -n 's/^-- cursor: //p')
for _ in $(seq 30); do
	seq 1 100 | "$BIN/logbusctl" --run-dir "$T/small" publish -s svc -
done
expect_exit "expired cursor: exit 1" 1 \
	"$BIN/logbusctl" --run-dir "$T/small" tail --after-cursor "$OLD"
expect_err_line "expired cursor: names the oldest kept, suggests -n all" \
	"expired.*oldest record kept \(number [0-9]+\).*-n all"
stop_pid "$SMALL_PID"

# ---- no broker ---------------------------------------------------------------------------------

mkdir -p "$T/norun"
start=$SECONDS
expect_exit "no broker: publish fails" nonzero \
	"$BIN/logbusctl" --run-dir "$T/norun" publish -s svc --timeout 1 "lost"
expect_err_line "no broker: publish names logbusd" "logbusd"
check "no broker: publish gives up within a few seconds" \
	test $((SECONDS - start)) -le 4
start=$SECONDS
expect_exit "no broker: tail fails" nonzero \
	"$BIN/logbusctl" --run-dir "$T/norun" tail --timeout 1
expect_err_line "no broker: tail names logbusd" "logbusd"
check "no broker: tail gives up within a few seconds" \
	test $((SECONDS - start)) -le 4

# ---- the broker is still well ------------------------------------------------------------------

check "logbusd still running" kill -0 "$BROKER_PID"

finish
