#!/usr/bin/env bash
#
# test_tail_journalctl.sh: the habits of journalctl users in logbusctl tail,
# against a real logbusd: -r, -u, -e, --utc, -o short/short-iso/
# short-precise/json-pretty, "-- No entries --" and -q, -p with syslog
# names, numbers and ranges, _PID=/_UID=/_GID=/_COMM= matches (and -F), and
# --disk-usage, --vacuum-size, --vacuum-time.
#
# Usage: bash tests/test_tail_journalctl.sh BIN_DIR   (BIN_DIR holds logbusd
# and logbusctl).  Prints "ok - NAME" / "not ok - NAME" for each check and a
# last line "N passed, M failed"; exits 1 when any check failed.  Nothing
# waits a fixed time.  Matches by another uid are in test_tail_uid.sh.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init
unset NO_COLOR

# Small segments, so that a few hundred records make several.
start_broker --segment-size 4096

# json_get KEY < one JSON object per line: KEY of each, one per line.
json_get() {
	python3 -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)[sys.argv[1]])
' "$1"
}

# ---- -r, -u, -e --------------------------------------------------------------

for i in 1 2 3 4; do ctl publish -s svc_r "r $i"; done
expect_eq "-r -n 3: the newest 3, newest first" "$(printf 'r 4\nr 3\nr 2')" \
	"$(ctl tail -r -n 3 -s svc_r -o cat)"
expect_eq "-r -n all: all of them, newest first" \
	"$(printf 'r 4\nr 3\nr 2\nr 1')" "$(ctl tail -r -n all -s svc_r -o cat)"
expect_eq "--reverse: the last 10 by default, newest first" \
	"$(printf 'r 4\nr 3\nr 2\nr 1')" "$(ctl tail --reverse -s svc_r -o cat)"
CUR=$(ctl tail -n 3 -s svc_r -o json | head -n 1 | json_get cursor) # r 2's
expect_eq "-r --after-cursor: what came after, newest first" \
	"$(printf 'r 4\nr 3')" "$(ctl tail -r --after-cursor "$CUR" -s svc_r -o cat)"
expect_exit "-r with -f: exit 2" 2 ctl tail -r -f
expect_err_line "-r with -f: says so" "^logbusctl: -r/--reverse and -f/--follow do not go together"

expect_eq "-u is -s" "$(ctl tail -s svc_r -o cat)" "$(ctl tail -u svc_r -o cat)"
expect_eq "--unit is -s" "r 4" "$(ctl tail --unit svc_r -n 1 -o cat)"

seq 1 1005 | ctl publish -s svc_e -
ctl tail -e -s svc_e -o cat >"$T/e.out"
expect_eq "-e: the last 1000" 1000 "$(wc -l <"$T/e.out")"
expect_eq "-e: from record 6 to 1005" "6 1005" \
	"$(head -n 1 "$T/e.out") $(tail -n 1 "$T/e.out")"
expect_eq "-e -n 3: -n wins" "$(printf '1003\n1004\n1005')" \
	"$(ctl tail -e -n 3 -s svc_e -o cat)"

# ---- times: --utc, short-iso, short-precise ------------------------------------

# A zone nine hours east of UTC, so that local time and UTC differ.
export TZ=UTC-9
ctl publish -s svc_t -l app.t -p warning "timed"
J=$(ctl tail -n 1 -s svc_t -o json)
UTC_S=$(json_get time <<<"$J") # 2026-11-22T10:00:00.123456Z
DAY=${UTC_S:0:10} CLOCK=${UTC_S:11:8} US=${UTC_S:20:6}
LOCAL=$(date -d "@$(($(json_get time_ns <<<"$J") / 1000000000))" '+%Y-%m-%d %H:%M:%S')
LOCAL_ISO=$(date -d "@$(($(json_get time_ns <<<"$J") / 1000000000))" '+%Y-%m-%dT%H:%M:%S%z')
expect_eq "text: local time" "$LOCAL,${US:0:3} [WARNING] app.t svc_t: timed" \
	"$(ctl tail -n 1 -s svc_t)"
expect_eq "--utc: text in UTC" "$DAY $CLOCK,${US:0:3} [WARNING] app.t svc_t: timed" \
	"$(ctl tail -n 1 -s svc_t --utc)"
expect_eq "-o short is text" "$(ctl tail -n 1 -s svc_t)" \
	"$(ctl tail -n 1 -s svc_t -o short)"
expect_eq "-o short-iso: journalctl's time, local" \
	"$LOCAL_ISO [WARNING] app.t svc_t: timed" "$(ctl tail -n 1 -s svc_t -o short-iso)"
check "-o short-iso: the zone is +0900" \
	grep -q '^....-..-..T..:..:..+0900 ' <<<"$(ctl tail -n 1 -s svc_t -o short-iso)"
expect_eq "-o short-iso --utc" "${DAY}T$CLOCK+0000 [WARNING] app.t svc_t: timed" \
	"$(ctl tail -n 1 -s svc_t -o short-iso --utc)"
expect_eq "-o short-precise: microseconds" \
	"$LOCAL,$US [WARNING] app.t svc_t: timed" "$(ctl tail -n 1 -s svc_t -o short-precise)"
expect_eq "-o short-precise --utc" "$DAY $CLOCK,$US [WARNING] app.t svc_t: timed" \
	"$(ctl tail -n 1 -s svc_t -o short-precise --utc)"
expect_eq "--utc leaves json as it was" "$J" \
	"$(ctl tail -n 1 -s svc_t -o json --utc)"
unset TZ

# ---- -o json-pretty --------------------------------------------------------------

ctl publish -s svc_p -f user=u1 -f n=5 "pretty: {\"a\": [1, 2]}, x"
ctl publish -s svc_p "second"
ctl tail -n 2 -s svc_p -o json-pretty >"$T/pretty"
ctl tail -n 2 -s svc_p -o json >"$T/plain"
check "json-pretty: the same objects as json" python3 -c '
import json, sys
text = open(sys.argv[1]).read()
dec, objs, i = json.JSONDecoder(), [], 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        break
    o, i = dec.raw_decode(text, i)
    objs.append(o)
plain = [json.loads(l) for l in open(sys.argv[2])]
sys.exit(0 if objs == plain else 1)
' "$T/pretty" "$T/plain"
expect_eq "json-pretty: an object opens its own line" "{" "$(head -n 1 "$T/pretty")"
check "json-pretty: a key per line, indented by 8" \
	grep -qx '        "service" : "svc_p",' "$T/pretty"
check "json-pretty: nested fields indented by 16" \
	grep -qx '                "user" : "u1",' "$T/pretty"
expect_eq "json-pretty: the last line closes the object" "}" "$(tail -n 1 "$T/pretty")"

# ---- -- No entries -- -------------------------------------------------------------

expect_eq "empty result, text: -- No entries --" "-- No entries --" \
	"$(ctl tail -s svc_none)"
expect_eq "empty result, verbose: -- No entries --" "-- No entries --" \
	"$(ctl tail -s svc_none -o verbose)"
expect_eq "empty result, short-iso: -- No entries --" "-- No entries --" \
	"$(ctl tail -s svc_none -o short-iso)"
expect_eq "empty result, json: nothing (journalctl's)" "" \
	"$(ctl tail -s svc_none -o json)"
expect_eq "empty result, json-pretty: nothing" "" "$(ctl tail -s svc_none -o json-pretty)"
expect_eq "empty result, cat: nothing" "" "$(ctl tail -s svc_none -o cat)"
expect_eq "empty result, -q: nothing" "" "$(ctl tail -q -s svc_none)"
expect_eq "-n 0: -- No entries --" "-- No entries --" "$(ctl tail -n 0 -s svc_r)"
expect_exit "empty result: exit 0" 0 ctl tail -s svc_none
expect_eq "empty result: nothing on stderr" "" "$(cat "$T/err")"
ctl tail -s svc_none --show-cursor >"$T/nc"
expect_eq "empty result with --show-cursor: the line, then the cursor" \
	"-- No entries --" "$(head -n 1 "$T/nc")"
check "empty result with --show-cursor: the cursor last" \
	grep -Eq '^-- cursor: lb1-' <<<"$(tail -n 1 "$T/nc")"

# ---- -p: journalctl's priorities, Python's levels, ranges ---------------------------

for l in 10 20 30 40 50; do ctl publish -s svc_lv -p "$l" "lv $l"; done
lv() { ctl tail -n all -s svc_lv -o cat -p "$1" | tr '\n' ' '; }
expect_eq "-p 3: err (error and critical), not Python level 3" "lv 40 lv 50 " "$(lv 3)"
expect_eq "-p err" "lv 40 lv 50 " "$(lv err)"
expect_eq "-p 0: emerg is CRITICAL" "lv 50 " "$(lv 0)"
expect_eq "-p alert" "lv 50 " "$(lv alert)"
expect_eq "-p crit" "lv 50 " "$(lv crit)"
expect_eq "-p 4: warning" "lv 30 lv 40 lv 50 " "$(lv 4)"
expect_eq "-p notice: INFO and up" "lv 20 lv 30 lv 40 lv 50 " "$(lv notice)"
expect_eq "-p 6: info" "lv 20 lv 30 lv 40 lv 50 " "$(lv 6)"
expect_eq "-p 7: debug, everything" "lv 10 lv 20 lv 30 lv 40 lv 50 " "$(lv 7)"
expect_eq "-p warning..err: a range" "lv 30 lv 40 " "$(lv warning..err)"
expect_eq "-p err..warning: either order" "lv 30 lv 40 " "$(lv err..warning)"
expect_eq "-p 4..3: numbers too" "lv 30 lv 40 " "$(lv 4..3)"
expect_eq "-p info..critical: Python names" "lv 20 lv 30 lv 40 lv 50 " "$(lv info..critical)"
expect_eq "-p 20..30: Python numbers, themselves" "lv 20 lv 30 " "$(lv 20..30)"
expect_eq "-p 40: Python's number as before" "lv 40 lv 50 " "$(lv 40)"
expect_eq "-p ERROR: any case" "lv 40 lv 50 " "$(lv ERROR)"
expect_eq "--priority is -p" "lv 50 " \
	"$(ctl tail -n all -s svc_lv -o cat --priority crit | tr '\n' ' ')"
expect_eq "-n counts within the range (the broker's filter)" "lv 30" \
	"$(ctl tail -n 1 -s svc_lv -o cat -p warning..warning)"
for bad in 9 256 -1 loud 3.. ..3 err..loud '' 8; do
	expect_exit "-p '$bad': exit 2" 2 ctl tail -p "$bad"
done
expect_err_line "-p 8: says what -p takes" "^logbusctl: bad -p '8': use a level .*0\.\.7.*10\.\.255"

# ---- matches on the publisher ------------------------------------------------------

ctl publish -s svc_m "m one"
ctl publish -s svc_m -f pid=7 -f comm=faker "m two"
ctl publish -s svc_m "m three"
ctl tail -n all -s svc_m -o json >"$T/m.json"
P1=$(sed -n 1p "$T/m.json" | json_get pid)
P2=$(sed -n 2p "$T/m.json" | json_get pid)
GID=$(sed -n 1p "$T/m.json" | json_get gid)
m() { ctl tail -n all -s svc_m -o cat "$@" | tr '\n' ' '; }
expect_eq "_PID=: that publisher's records" "m one " "$(m "_PID=$P1")"
expect_eq "_PID= twice: either (OR)" "m one m two " "$(m "_PID=$P1" "_PID=$P2")"
expect_eq "_PID= and _COMM=: both (AND)" "m one " "$(m "_PID=$P1" "_COMM=$CTL_COMM")"
expect_eq "_PID= and another _UID: none" "" "$(m -q "_PID=$P1" _UID=4242)"
expect_eq "_UID=: ours" "m one m two m three " "$(m "_UID=$(id -u)")"
expect_eq "_GID=: ours" "m one m two m three " "$(m "_GID=$GID")"
expect_eq "_COMM=: the process name" "m one m two m three " "$(m "_COMM=$CTL_COMM")"
expect_eq "_COMM= of a field's value: none (the field is not the publisher)" "" \
	"$(m -q _COMM=faker)"
expect_eq "-F _PID=: the same as _PID=" "m two " "$(m -F "_PID=$P2")"
expect_eq "-F pid=: the publisher's pid (verbose's pid=)" "m two " "$(m -F "pid=$P2")"
expect_eq "-F pid=7: not the field named pid" "" "$(m -q -F pid=7)"
expect_eq "-F field.pid=7: the field named pid" "m two " "$(m -F field.pid=7)"
expect_eq "-F field.comm=faker: the field named comm" "m two " "$(m -F field.comm=faker)"
expect_eq "-F uid=: the publisher's uid" "m one m two m three " "$(m -F "uid=$(id -u)")"
expect_eq "-n 1 _PID=: counts the matches (the broker filters)" "m one" \
	"$(ctl tail -n 1 -s svc_m -o cat "_PID=$P1")"
expect_eq "-r with a match" "m two m one " "$(m -r "_PID=$P1" "_PID=$P2")"
expect_exit "_PID=x: exit 2" 2 ctl tail _PID=x
expect_err_line "_PID=x: says the value is a number" "^logbusctl: bad match '_PID=x': the value is a number"
expect_exit "_COMM= over 15 bytes: exit 2" 2 ctl tail _COMM=a_name_of_16_byt
expect_err_line "_COMM= over 15 bytes: says why" "at most 15 bytes"
expect_exit "_HOSTNAME=x: exit 2" 2 ctl tail _HOSTNAME=x
expect_err_line "an unknown argument: names the matches" \
	"^logbusctl: unexpected argument '_HOSTNAME=x': matches are _PID=, _UID=, _GID= and _COMM="

# ---- --disk-usage and --vacuum-* ----------------------------------------------------

# fill N: N batches of 40 records, over 4 KiB each: a segment each.
fill() {
	local i
	for ((i = 1; i <= $1; i++)); do
		seq 1 40 | sed "s/\$/ of batch $i, padding to fill 4 KiB/" |
			ctl publish -s svc_v -
	done
}
fill 6
ctl tail --disk-usage >"$T/du"
check "--disk-usage: journalctl's sentence" grep -Eq \
	'^Archived and active journal segments take up [0-9.]+ (B|KiB|MiB) in the file system \([0-9]+ segments, records 1\.\.[0-9]+\)\.$' "$T/du"
SEGS=$(sed -E 's/.*\(([0-9]+) segments.*/\1/' "$T/du")
check "--disk-usage: several segments to vacuum ($SEGS)" test "$SEGS" -gt 2
LAST=$(ctl tail -n 1 -s svc_v -o json | json_get seq)

ctl tail --vacuum-time=1h >"$T/vt"
expect_eq "--vacuum-time=1h: nothing that new goes" \
	"Vacuuming done, freed 0 B; the journal keeps" "$(head -c 44 "$T/vt")"
expect_eq "--vacuum-time=1h: the journal as it was" "1" \
	"$(ctl tail -n all -o json | head -n 1 | json_get seq)"

ctl tail --vacuum-size=8K >"$T/vs"
check "--vacuum-size: names each segment removed" \
	grep -Eq '^Deleted segment 0000000000000001\.journal \(records 1\.\.[0-9]+, [0-9.]+ KiB\)\.$' "$T/vs"
check "--vacuum-size: the total" grep -q '^Vacuuming done, freed ' "$T/vs"
FIRST=$(ctl tail -n all -o json | head -n 1 | json_get seq)
check "--vacuum-size: the oldest records are gone" test "$FIRST" -gt 1
check "--vacuum-size: the newest record stays" test "$FIRST" -le "$LAST"
check "--vacuum-size: at most 8 KiB kept, or only the segment being written" \
	grep -Eq 'keeps ([0-9]+ B|[0-7]\.[0-9] KiB) in [0-9]+ segments?|keeps .* in 1 segment,' "$T/vs"

fill 3
ctl tail --vacuum-time=0 >"$T/v0"
check "--vacuum-time=0: every sealed segment goes" grep -q '^Deleted segment ' "$T/v0"
check "--vacuum-time=0: the segment being written stays" \
	grep -q 'keeps .* in 1 segment, records' "$T/v0"
# (logbusd's own records, such as the one saying it started a segment,
# may have followed the last batch into a segment of their own: the
# segment kept is the one being written, whatever it holds)
KEPT=$(sed -nE 's/.* in 1 segment, records ([0-9]+)\.\..*/\1/p' "$T/v0")
expect_eq "--vacuum-time=0: what it keeps is still read, from its first record" \
	"$KEPT" "$(ctl tail -n all -o json | head -n 1 | json_get seq)"
check "logbusd says what a vacuum removed" \
	poll sh -c "'$BIN/logbusctl' --run-dir '$T/run' tail -n all -s logbusd -o cat | grep -q '^vacuum: removed [1-9][0-9]* segments'"

expect_exit "--vacuum-size=lots: exit 2" 2 ctl tail --vacuum-size=lots
expect_err_line "--vacuum-size=lots: says what it takes" "^logbusctl: bad --vacuum-size 'lots': a size to keep"
expect_exit "--vacuum-time=soon: exit 2" 2 ctl tail --vacuum-time=soon
expect_exit "--disk-usage with -f: exit 2" 2 ctl tail --disk-usage -f
expect_exit "--disk-usage with --vacuum-size: exit 2" 2 ctl tail --disk-usage --vacuum-size=1G

# ---- --help lists them ---------------------------------------------------------------

ctl tail --help >"$T/help"
for opt in -r, --reverse -e, --pager-end -u, --unit --utc short-iso short-precise \
	json-pretty "No entries" _PID=N _UID=N _GID=N _COMM=NAME warning..err \
	--disk-usage --vacuum-size=BYTES --vacuum-time=TIME -q,; do
	check "--help lists $opt" grep -qF -- "$opt" "$T/help"
done

finish
