#!/usr/bin/env bash
#
# test_owners.sh: service ownership against a real logbusd, with root and
# two unprivileged users: nobody, and "other", a uid with no passwd entry
# (4242), both through setpriv.
#
#  - a service belongs to the uid that published it first: another user's
#    publish and run are refused (run before the command starts) with who
#    owns it and how to change that; root may publish anywhere, and its
#    records of another's service show "[uid=0]" in text output;
#  - error reports are written only from records of an owner: a root
#    report cannot be replaced by another user;
#  - logbusctl services shows each owner, claimed or configured;
#  - [owners] assigns ids and prefixes to users and @groups (an exact id
#    wins over a prefix, and wins over a claim), also at a reload; an
#    unknown name stops the start;
#  - claims survive a restart; a damaged claims file stops the start
#    with its line, an unfinished last line is cut and said so;
#  - max-claims-per-uid bounds what one user claims.
#
# Usage: bash tests/test_owners.sh BIN_DIR (with logbusd, logbusctl and
# owners_publisher).  Needs root and setpriv: otherwise it says why and
# exits 77 (ctest: skipped).  Every wait polls a condition, at most 10 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl owners_publisher -- "$@"
need_nobody
OTHER=4242
if getent passwd "$OTHER" >/dev/null; then
	echo "skip: test_owners needs uid $OTHER to be nobody's" >&2
	exit 77
fi
test_init
unset NO_COLOR
chmod 0755 "$T" # the other users must reach the sockets
mkdir "$T/nobody" && chown nobody "$T/nobody"

NOBODY_UID=$(id -u nobody)
NOGROUP=$(id -gn nobody)
# A group nobody is not in, to assign services to.
TEAM=$(group_without_nobody) ||
	{ echo "skip: no group to assign services to" >&2; exit 77; }
TEAM_GID=$(getent group "$TEAM" | cut -d: -f3)

NOBODY=(setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups --)
IN_TEAM=(setpriv --reuid=nobody --regid="$TEAM" --clear-groups --)
OTHER_USER=(setpriv --reuid="$OTHER" --regid="$OTHER" --clear-groups --)
nctl() { "${NOBODY[@]}" "$BIN/logbusctl" --run-dir "$T/run" "$@"; }
octl() { "${OTHER_USER[@]}" "$BIN/logbusctl" --run-dir "$T/run" "$@"; }
# svc_json SERVICE KEY: KEY of the service's object in services -o json
svc_json() {
	ctl services -s "$1" -o json | python3 -c '
import json, sys
v = json.load(sys.stdin)[0]
for k in sys.argv[1].split("/"):
    v = v[k] if v is not None else None
print(v)' "$2"
}
self_says() { ctl tail -n all -s logbusd -o cat | grep -qF -- "$1"; }

cat >"$T/logbusd.conf" <<EOF
[owners]
checker = @$TEAM
web_* = nobody
web_admin = $OTHER
EOF

# ---- unknown owners stop the start ------------------------------------------

expect_exit "[owners] with an unknown user: start fails" 1 \
	"$BIN/logbusd" --run-dir "$T/bad" --log-dir "$T/badlog" \
	--owner 'svc_*=no_such_user_lb'
check "... naming the assignment and the user" \
	grep -q "owner of svc_\*: no user 'no_such_user_lb'" "$T/err"
expect_exit "--check-config: an unknown @group" 2 \
	"$BIN/logbusd" --check-config --owner 'svc=@no_such_group_lb'
check "... named" grep -q "no group 'no_such_group_lb'" "$T/err"
expect_exit "--owner that is not SERVICE=NAME: usage error" 2 \
	"$BIN/logbusd" --owner 'svc*x=root'

start_broker --config "$T/logbusd.conf" --max-claims-per-uid 3

# ---- the first publisher owns a service -------------------------------------

ctl publish -s svc_root "root's first"
expect_exit "nobody publishing as root's service: refused" 1 \
	nctl publish -s svc_root "FORGED"
check "... saying whose it is and how to change that" \
	grep -q "service svc_root belongs to root (uid 0), who published it first; uid $NOBODY_UID may not publish as it.*\[owners\]" "$T/err"
expect_eq "... and nothing of it was written" "root's first" \
	"$(ctl tail -n all -s svc_root -o cat)"

nctl publish -s svc_n "nobody's first"
nctl publish -s svc_n "nobody's second"
expect_exit "the other user publishing as nobody's service: refused" 1 \
	octl publish -s svc_n "FORGED"
check "... naming nobody" \
	grep -q "svc_n belongs to nobody (uid $NOBODY_UID)" "$T/err"

# root may publish anywhere; text output shows it is not the owner
ctl publish -s svc_n "root writes nobody's"
ctl tail -n 3 -s svc_n >"$T/svc_n.txt"
check "text: root's record of nobody's service shows [uid=0]" \
	grep -q " svc_n\[uid=0\]: root writes nobody's$" "$T/svc_n.txt"
check "text: the owner's records show the service alone" \
	grep -q " svc_n: nobody's second$" "$T/svc_n.txt"
# publish flushes: all.log has it
check "all.log: root's record of nobody's service shows [uid=0]" \
	grep -q " svc_n\[uid=0\]: root writes nobody's$" "$T/log/all.log"
check "all.log: the owner's records show the service alone" \
	grep -q " svc_n: nobody's second$" "$T/log/all.log"
expect_eq "json: not_owner on root's record only" "True" \
	"$(ctl tail -n 1 -s svc_n -o json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("not_owner"))')"
expect_eq "json: no not_owner on the owner's" "None" \
	"$(ctl tail -n 2 -s svc_n -o json | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin).get("not_owner"))')"

# ---- run: refused before the command starts ---------------------------------

expect_exit "nobody's run as root's service: exit 1" 1 \
	nctl run -s svc_root -- sh -c "echo ran >'$T/nobody/ran'"
expect_err_line "... one line saying why" \
	"^logbusctl: run: service svc_root belongs to root \(uid 0\).*\[owners\]$"
check "... and the command never ran" test ! -e "$T/nobody/ran"
expect_exit "nobody's run of a new service runs" 0 \
	nctl run -s svc_nrun -- sh -c "echo ran >'$T/nobody/ran'"
check "... and ran the command" test -e "$T/nobody/ran"
expect_eq "... and claimed it" "nobody claimed" \
	"$(svc_json svc_nrun owner/name) $(svc_json svc_nrun owner/how)"

# ---- error reports ------------------------------------------------------------

# The report as stored, and whether a previous one was kept: through
# logbusctl errors, whatever the file is called.
report() { ctl errors --all svc_rep; }
ctl run -s svc_rep -- sh -c 'echo REAL >&2; exit 3' >/dev/null 2>&1 || true
check "root's report is written" \
	wait_for 10 bash -c "'$BIN/logbusctl' --run-dir '$T/run' errors svc_rep | grep -qx 'Exit code: 3'"
expect_exit "nobody's run as svc_rep: refused" 1 \
	nctl run -s svc_rep -- sh -c 'echo FORGED >&2; exit 9'
expect_exit "nobody's exit report of svc_rep (library): refused" 1 \
	"${NOBODY[@]}" "$BIN/owners_publisher" "$T/run" --exit svc_rep
check "... as not_owner" grep -q "(not_owner): service svc_rep belongs to root" "$T/out"
report >"$T/report.txt"
check "root's report is still root's" grep -qx "Exit code: 3" "$T/report.txt"
check "... not pushed to the previous one" \
	bash -c "! grep -q '^==== previous report' '$T/report.txt'"
check "... and says nothing forged" \
	bash -c "! grep -q FORGED '$T/report.txt'"

# ---- [owners]: configured users, groups and prefixes ------------------------

expect_exit "checker is @$TEAM's: nobody outside it is refused" 1 \
	nctl publish -s checker "not in the team"
check "... saying the group" \
	grep -q "checker belongs to group @$TEAM (gid $TEAM_GID), by \[owners\]" "$T/err"
"${IN_TEAM[@]}" "$BIN/logbusctl" --run-dir "$T/run" publish -s checker "in the team"
expect_eq "a member of @$TEAM publishes as checker" "in the team" \
	"$(ctl tail -n all -s checker -o cat)"
nctl publish -s web_shop "web_* is nobody's"
expect_exit "web_* is nobody's: the other user is refused" 1 \
	octl publish -s web_shop "FORGED"
octl publish -s web_admin "web_admin is the other user's"
expect_exit "... an exact id wins over the prefix" 1 \
	nctl publish -s web_admin "FORGED"
ctl publish -s web_shop "root writes web_shop"
expect_eq "root may publish as a configured service" \
	"root writes web_shop" "$(ctl tail -n 1 -s web_shop -o cat)"

# ---- logbusctl services shows the owners --------------------------------------

expect_eq "services: svc_root claimed by root" "root 0 claimed" \
	"$(svc_json svc_root owner/name) $(svc_json svc_root owner/id) $(svc_json svc_root owner/how)"
expect_eq "services: svc_n claimed by nobody" "nobody $NOBODY_UID claimed" \
	"$(svc_json svc_n owner/name) $(svc_json svc_n owner/id) $(svc_json svc_n owner/how)"
expect_eq "services: checker configured to @$TEAM" \
	"@$TEAM $TEAM_GID True configured" \
	"$(svc_json checker owner/name) $(svc_json checker owner/id) $(svc_json checker owner/group) $(svc_json checker owner/how)"
expect_eq "services: web_admin configured to a uid without a name" \
	"None $OTHER configured" \
	"$(svc_json web_admin owner/name) $(svc_json web_admin owner/id) $(svc_json web_admin owner/how)"
ctl services >"$T/services.txt"
check "services text: the OWNER and OWNED columns" \
	grep -Eq '^SERVICE +OWNER +OWNED +RECORDS ' "$T/services.txt"
check "services text: svc_n's row" \
	grep -Eq "^svc_n +nobody\($NOBODY_UID\) +claimed +3 " "$T/services.txt"
check "services text: logbusd is the broker's" \
	grep -Eq "^logbusd +root\(0\) +logbusd " "$T/services.txt"

# ---- the limit ----------------------------------------------------------------

octl publish -s oth_1 "1"
octl publish -s oth_2 "2"
octl publish -s oth_3 "3"
expect_exit "a fourth claim of the other user: refused (--max-claims-per-uid 3)" 1 \
	octl publish -s oth_4 "4"
check "... naming the limit and the way out" \
	grep -q "uid $OTHER already owns 3 services, the limit (max-claims-per-uid).*\[owners\]" "$T/err"
octl publish -s oth_1 "its own still"

# ---- claims survive a restart -----------------------------------------------

stop_broker
start_broker --config "$T/logbusd.conf"
expect_exit "after a restart nobody is still refused svc_root" 1 \
	nctl publish -s svc_root "FORGED"
expect_exit "... and the other user svc_n" 1 octl publish -s svc_n "FORGED"
nctl publish -s svc_n "nobody's after the restart"
expect_eq "services -s of a claim without records since the start" \
	"nobody claimed 0" \
	"$(svc_json svc_nrun owner/name) $(svc_json svc_nrun owner/how) $(svc_json svc_nrun records)"
expect_exit "services -s of a service nobody owns: still not found" 1 \
	ctl services -s no_such_service

# ---- [owners] takes effect at a reload ----------------------------------------

octl publish -s late "claimed by the other user"
echo "late = nobody" >>"$T/logbusd.conf"
kill -HUP "$BROKER_PID"
check "reload applied" wait_for 10 self_says "reload: configuration from $T/logbusd.conf applied"
expect_exit "after the reload, late is nobody's: the claimant is refused" 1 \
	octl publish -s late "FORGED"
nctl publish -s late "nobody's by [owners]"
expect_eq "... and services says configured" "nobody configured" \
	"$(svc_json late owner/name) $(svc_json late owner/how)"

# ---- the claims file ----------------------------------------------------------

CLAIMS=$T/log/journal/claims
stop_broker
check "claims file: a line per claim" \
	grep -Eq "^$NOBODY_UID svc_n [0-9a-f]{8}$" "$CLAIMS"
cp "$CLAIMS" "$T/claims.good"
line=$(grep -n " svc_root " "$CLAIMS" | cut -d: -f1)
sed -i "s/^0 svc_root /$NOBODY_UID svc_root /" "$CLAIMS"
expect_exit "a changed claim stops the start" 1 \
	"$BIN/logbusd" --run-dir "$T/run" --log-dir "$T/log"
check "... with the file, the line and what to do" \
	grep -q "$CLAIMS:$line: damaged service claim (its checksum does not match.*repair or delete that line" "$T/err"
cp "$T/claims.good" "$CLAIMS"
printf '%s svc_half' "$NOBODY_UID" >>"$CLAIMS"
start_broker --config "$T/logbusd.conf"
check "an unfinished last line is cut, and said so" \
	wait_for 10 self_says "cut an unfinished last line of"
expect_exit "... and svc_half is nobody's claim" 0 \
	octl publish -s svc_half "the other user may claim it"
stop_broker

finish
