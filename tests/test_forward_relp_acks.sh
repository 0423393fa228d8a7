#!/usr/bin/env bash
#
# test_forward_relp_acks.sh: logbus-forward's RELP output moves its
# position only after the RELP answer "rsp 200" to every message of a
# batch.  tests/relp_server.py answers only the first message of the first
# session and meets the client's close with "serverclose", as rsyslogd's
# imrelp does when it is stopped while a client waits for the answers to
# the end of its session (librelp 1.11 tells its caller nothing then): the
# unanswered records must be sent again, and all of them must arrive.
#
# Usage: bash tests/test_forward_relp_acks.sh BIN_DIR.  Waits poll, at
# most 30 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=forward_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/forward_lib.sh"

need_bin_dir logbusd logbusctl logbus-forward -- "$@"
test_init
start_broker
N=200
seq -f 'rec %03g' 1 "$N" | ctl publish -s svc1 -l app -

python3 "$(dirname "${BASH_SOURCE[0]}")/relp_server.py" \
	"$T/relp.port" "$T/relp.log" --hold 1 2>>"$T/relp.err" &
track_pid $!
wait_for 30 test -s "$T/relp.port"
fwd_conf <<EOF
[output relp]
type = relp
port = $(cat "$T/relp.port")
service = svc1
batch-wait = 0.05
retry-max = 1
EOF
start_forwarder

distinct() { awk '{ print $NF }' "$T/relp.log" 2>/dev/null | sort -u | wc -l; }
at_least() { [ "$("$1")" -ge "$2" ]; }
check "every record reaches the server, the unanswered ones sent again" \
	wait_for 30 at_least distinct "$N"
expect_eq "the batch was sent twice: the first record arrived twice" \
	"2 $((N + 1))" "$(grep -c ' rec 001$' "$T/relp.log") $(wc -l <"$T/relp.log")"
sent_again() { [ "$(fwd_stat relp sent_again)" = "$N" ]; }
check "the status counts the records sent again" wait_for 30 sent_again
expect_eq "the status says why" "1" \
	"$(fwd_stat relp last_error | grep -c 'not acknowledged' || true)"

finish
