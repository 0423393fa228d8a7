#!/usr/bin/env bash
#
# test_journal_damage.sh: a journal damaged or removed under a real logbusd
# (broker/journal_recover.c, journal.c's healing): a deleted old segment is a
# gap that logbusd reports by itself and that a cursor inside it is told of
# (never a silent skip); a segment with a damaged header is set aside and
# the broker starts; the log directory removed while logbusd runs is made
# again, and what was acknowledged after that survives a restart.
#
# Usage: bash tests/test_journal_damage.sh BIN_DIR (with logbusd and
# logbusctl).  Prints "ok - NAME" / "not ok - NAME" for each check and a last
# line "N passed, M failed"; exits 1 when any check failed.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "${1:-}"
test_init

# self_says REGEX: one of logbusd's own records matches.
self_says() {
	{ ctl tail -n all -s logbusd -o cat 2>/dev/null || true; } |
		grep -q -- "$1"
}

# cursor_after SEQ: the cursor of the record with that seq.
cursor_after() {
	{ ctl tail -n all -o json 2>/dev/null || true; } |
		python3 -c 'import json,sys
want=int(sys.argv[1])
for l in sys.stdin:
    r=json.loads(l)
    if r["seq"]==want: print(r["cursor"])' "$1"
}

# first_seqs: the first seq of each segment, from the file names, in order.
first_seqs() {
	for f in "$T/log/journal/"*.journal; do
		echo $((16#$(basename "$f" .journal)))
	done
}

# ---- a deleted old segment ------------------------------------------------------

# One batch a publish, and a segment is rotated before the batch that
# finds it full: eight publishes of 4.5K make several segments.
start_broker --segment-size 4K
for i in 1 2 3 4 5 6 7 8; do
	seq 1 50 | sed "s/^/line $i./" | ctl publish -s app - >/dev/null
done
stop_broker
mapfile -t firsts < <(first_seqs)
check "the journal has several segments" test "${#firsts[@]}" -ge 4
gap_first=${firsts[1]}
gap_last=$((firsts[2] - 1))
rm "$T/log/journal/$(printf %016x "$gap_first").journal"
start_broker --segment-size 4K

check "logbusd reports the gap by itself, soon after start" \
	wait_for 10 self_says "records $gap_first\\.\\.$gap_last are missing between"
cur=$(cursor_after $((gap_first - 1)))
check "a record just before the gap has a cursor" test -n "$cur"
expect_exit "a cursor in front of the gap is an error, not a skip" 1 \
	ctl tail -n all --after-cursor "$cur" -o cat
check "... that names what is missing" \
	grep -q "records $gap_first\\.\\.$gap_last are not in the journal" "$T/err"
expect_exit "reading all from the oldest says so, and exits 1" 1 \
	ctl tail -n all -s app -o cat
check "... naming the gap" \
	grep -q "records $gap_first\\.\\.$gap_last are not in the journal.*going on from number $((gap_last + 1))" "$T/err"
both_sides() {
	{ ctl tail -n all -s app -o json 2>/dev/null || true; } |
		python3 -c 'import json,sys
gf,gl=int(sys.argv[1]),int(sys.argv[2])
seqs=[json.loads(l)["seq"] for l in sys.stdin]
sys.exit(not (any(q<gf for q in seqs) and any(q>gl for q in seqs) and
              all(q<gf or q>gl for q in seqs)))' "$gap_first" "$gap_last"
}
check "... and prints the records kept on both sides of it" both_sides
# A cursor after the gap reads on as before.
cur=$(cursor_after $((gap_last + 1)))
check "a cursor after the gap reads on" \
	ctl tail -n all --after-cursor "$cur" -s app -o cat
stop_broker

# ---- a damaged header of an old segment --------------------------------------

seg="$T/log/journal/$(printf %016x "${firsts[0]}").journal"
printf '\xff' | dd of="$seg" bs=1 seek=40 count=1 conv=notrunc status=none
start_broker --segment-size 4K
check "logbusd starts with a damaged segment header" kill -0 "$BROKER_PID"
check "... sets the segment aside" test -f "$seg.damaged"
check "... and says so" wait_for 10 self_says "has a damaged header"
stop_broker

# ---- the log directory removed while logbusd runs ----------------------------

rm -rf "$T/log"
start_broker
seq 1 10 | sed 's/^/before /' | ctl publish -s app - >/dev/null
rm -rf "$T/log"
seq 1 10 | sed 's/^/after /' | ctl publish -s app - >/dev/null
check "logbusd says the journal was removed and made again" \
	wait_for 10 self_says "was removed while logbusd ran"
check "the journal directory is there again" test -d "$T/log/journal"
stop_broker
start_broker
expect_eq "every record acknowledged after the removal survives a restart" \
	"$(seq 1 10 | sed 's/^/after /')" \
	"$(ctl tail -n all -s app -o cat | grep '^after ')"
stop_broker

finish
