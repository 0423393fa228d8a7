#!/usr/bin/env bash
#
# test_tail_uid.sh: logbusctl tail's matches on the publisher's uid with
# two uids, root and nobody (clients run as nobody through setpriv), and
# the administrators' --vacuum-*:
#
#  - root's _UID=N (and -F uid=N) shows that uid's records only, and an OR
#    of two uids both;
#  - nobody, outside the reader group, still sees only its own records:
#    _UID=0 gives it nothing, never root's;
#  - --disk-usage is open to nobody, --vacuum-* is denied to it and
#    removes nothing.
#
# Usage: bash tests/test_tail_uid.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl).  Needs root and setpriv: otherwise it says why and exits 77
# (ctest: skipped).
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
need_nobody
test_init
unset NO_COLOR
chmod 0755 "$T" # nobody must reach the sockets

NOBODY_UID=$(id -u nobody)
NOGROUP=$(id -gn nobody)
nctl() {
	setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups -- \
		"$BIN/logbusctl" --run-dir "$T/run" "$@"
}

# A reader group nobody is not in (root's).
start_broker --segment-size 4096 --reader-group root

# nobody claims svc_u first; root may publish as any service
nctl publish -s svc_u "nobody one"
ctl publish -s svc_u "root one"
ctl publish -s svc_u "root two"

u() { ctl tail -n all -s svc_u -o cat "$@" | tr '\n' ' '; }
expect_eq "root, _UID=nobody: nobody's records only" "nobody one " \
	"$(u "_UID=$NOBODY_UID")"
expect_eq "root, _UID=0: root's records only" "root one root two " "$(u _UID=0)"
expect_eq "root, -F uid=nobody: the same" "nobody one " \
	"$(u -F "uid=$NOBODY_UID")"
expect_eq "root, _UID= twice: both uids" "nobody one root one root two " \
	"$(u _UID=0 "_UID=$NOBODY_UID")"
expect_eq "root, -n 1 _UID=nobody: counts nobody's records" "nobody one" \
	"$(ctl tail -n 1 -s svc_u -o cat "_UID=$NOBODY_UID")"

expect_eq "nobody, _UID=0: nothing, never root's records" "" \
	"$(nctl tail -n all -s svc_u -o cat _UID=0)"
expect_eq "nobody, its own _UID: its records" "nobody one" \
	"$(nctl tail -n all -s svc_u -o cat "_UID=$NOBODY_UID")"
expect_eq "nobody, no match: its own records as before" "nobody one" \
	"$(nctl tail -n all -s svc_u -o cat)"

check "nobody, --disk-usage: allowed (it names no service)" \
	nctl tail --disk-usage
# Batches of 40 records over 4 KiB: a segment each.
for i in 1 2 3 4; do
	seq 1 40 | sed "s/\$/ of batch $i, padding to fill 4 KiB/" |
		ctl publish -s svc_fill -
done
BEFORE=$(ctl tail --disk-usage)
expect_exit "nobody, --vacuum-size: exit 1" 1 nctl tail --vacuum-size=1K
expect_err_line "nobody, --vacuum-size: denied, for root and the reader group" \
	"^logbusctl: cannot vacuum the journal: vacuum is for root and the reader group"
expect_eq "nobody, --vacuum-size: nothing removed" "$BEFORE" "$(ctl tail --disk-usage)"
expect_exit "root, --vacuum-size: allowed" 0 ctl tail --vacuum-size=1K
check "root, --vacuum-size: removed segments" grep -q '^Deleted segment' "$T/out"

finish
