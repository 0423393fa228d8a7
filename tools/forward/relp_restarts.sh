#!/usr/bin/env bash
#
# relp_restarts.sh BIN_DIR [N] [RESTARTS]: logbus-forward's RELP output
# while rsyslogd is stopped (SIGTERM) and started again RESTARTS times
# (default 10) during N records (default 200,000), each stop once its file
# holds another 1/(RESTARTS+1) of them; then, within 120 s, every record
# must be in rsyslog's file.  Prints the records missing (0, or the
# command fails), the duplicate lines, and how many times the forwarder
# found messages of a session unanswered and sent the batch again.
#
# rsyslogd is tests/forward_lib.sh's: its main queue waits 60 s on
# shutdown, so what imrelp acknowledged reaches the file.  A stop is when
# librelp 1.11 ends a session without a word (sink_relp.c): a forwarder
# that took the session's close as the acknowledgement lost records in
# three runs of five here (357, 1,407 and 120 of 200,000).
set -eEuo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tests/lib.sh
. "$src/tests/lib.sh"
# shellcheck source=../../tests/forward_lib.sh
. "$src/tests/forward_lib.sh"

need_bin_dir logbusd logbusctl logbus-forward -- "${1:-}"
N=${2:-200000}
R=${3:-10}
need_rsyslog_relp
test_init
start_broker --max-total 4G
start_rsyslog
fwd_conf <<EOF
[output relp]
type = relp
port = $RELP_PORT
service = load
batch-wait = 0.2
retry-max = 1
EOF
seq -f 'rec %07g' 1 "$N" | ctl publish -s load -l load -
start_forwarder

lines() { wc -l <"$T/rs/relp.log" 2>/dev/null || echo 0; }
distinct() { awk '{ print $NF }' "$T/rs/relp.log" | sort -u | wc -l; }
at_least() { [ "$("$1")" -ge "$2" ]; }
for k in $(seq "$R"); do
	wait_for 120 at_least lines $((N * k / (R + 1)))
	stop_rsyslog
	start_rsyslog
done
wait_for 120 at_least distinct "$N" || true
have=$(distinct)
echo "$N records, rsyslogd stopped and started $R times:" \
	"$((N - have)) missing, $(($(lines) - have)) duplicate lines," \
	"$(grep -c 'not acknowledged' "$T/fwd.err" || true) batches sent" \
	"again for unanswered messages"
[ "$have" -eq "$N" ] || exit 1
