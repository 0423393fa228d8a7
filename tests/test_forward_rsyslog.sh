#!/usr/bin/env bash
#
# test_forward_rsyslog.sh: logbus-forward into a real rsyslogd (Debian's,
# started here with its own configuration, imrelp and imtcp on free ports
# of 127.0.0.1): RFC 5424 over RELP and over TCP with octet counting,
# the structured data (logbus@32473 with seq, journal, logger, level, ...;
# fields@32473 with the fields, escaped as RFC 5424 says), a message with
# newlines kept whole, and rsyslogd down: RELP retried, delivered once it
# is back.  Skipped (77) without rsyslogd and imrelp.
#
# Usage: bash tests/test_forward_rsyslog.sh BIN_DIR.  Waits poll, at most
# 30 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=forward_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/forward_lib.sh"

need_bin_dir logbusd logbusctl logbus-forward -- "$@"
need_rsyslog_relp
test_init
start_broker
start_rsyslog
fwd_conf <<EOF
[output relp]
type = relp
host = 127.0.0.1
port = $RELP_PORT
service = svc1
batch-wait = 0.05
hostname = host-a

[output tcp]
type = syslog-tcp
host = 127.0.0.1
port = $TCP_PORT
service = svc1
batch-wait = 0.05
facility = local0
EOF

ctl publish -s svc1 -l app.web -p warning -f user=u1 -f 'note=a "b" ]c\' \
	"first: one"
ctl publish -s svc1 -l app.web $'two\nlines'
start_forwarder

lines() { [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
check "RELP: the records reach rsyslog's file" wait_for 30 lines "$T/rs/relp.log" 2
check "TCP: the records reach rsyslog's file" wait_for 30 lines "$T/rs/tcp.log" 2

seq1=$(ctl tail -n all -o json -s svc1 | head -1 |
	python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["seq"], r["pid"], r["cursor"].split("-")[1], r["uid"], r["gid"], r["comm"])')
read -r seq pid journal uid gid comm <<<"$seq1"
want="svc1 $pid [logbus@32473 seq=\"$seq\" journal=\"$journal\" service=\"svc1\" logger=\"app.web\" level=\"30\" stream=\"log\" uid=\"$uid\" gid=\"$gid\" comm=\"$comm\"][fields@32473 user=\"u1\" note=\"a \\\"b\\\" \\]c\\\\\"] first: one"
expect_eq "RELP: APP-NAME, PROCID, the structured data, the message" \
	"$want" "$(head -1 "$T/rs/relp.log")"
expect_eq "TCP: the same" "$want" "$(head -1 "$T/rs/tcp.log")"
check "a message's lines stay one message (rsyslog shows \\n as #012)" \
	grep -q ' two#012lines$' "$T/rs/relp.log"

# ---- rsyslogd down: RELP retried, then delivered ------------------------------
stop_rsyslog
ctl publish -s svc1 "while rsyslog is down"
retrying() { [ "$(fwd_stat relp state)" = retrying ]; }
check "the RELP output says it is retrying" wait_for 30 retrying
check "and why, on stderr" grep -q "output relp: cannot open a RELP session with 127.0.0.1 port $RELP_PORT" "$T/fwd.err"
start_rsyslog
check "the record arrives over RELP once rsyslog is back" \
	wait_for 30 grep -q 'while rsyslog is down' "$T/rs/relp.log"
expect_eq "once" 1 "$(grep -c 'while rsyslog is down' "$T/rs/relp.log")"

finish
