# shellcheck shell=bash
#
# forward_lib.sh: the destinations the logbus-forward tests start, each in
# the test's temporary directory with its own configuration, on free ports
# of 127.0.0.1: never the system's own services.  Sourced after lib.sh and
# test_init.
#
#   free_port                 prints a TCP port nobody listens on now
#   need_clickhouse           exit 77 (skip) with a message when Debian's
#                             clickhouse-server is not installed
#   start_clickhouse          starts clickhouse-server in $T/ch, sets CH_PID
#                             and CH_URL (its HTTP interface), waits for
#                             /ping; again after stop_clickhouse: the same
#                             data and port
#   stop_clickhouse           SIGTERM and wait
#   ch QUERY                  runs QUERY, prints the answer
#   need_rsyslog_relp         exit 77 when rsyslogd or its imrelp is missing
#   start_rsyslog             rsyslogd -n in $T/rs with imrelp on RELP_PORT
#                             and imtcp on TCP_PORT (set on first start);
#                             RELP lines go to $T/rs/relp.log, TCP ones to
#                             $T/rs/tcp.log, as "APP PROCID SD MSG"; sets
#                             RS_PID
#   stop_rsyslog              SIGTERM and wait
#   start_loki [--answer N]...  tests/loki_receiver.py, entries in
#                             $T/loki.jsonl; sets LOKI_PID and LOKI_URL
#   start_forwarder           logbus-forward --config $T/fwd.conf in the
#                             background, stderr appended to $T/fwd.err; sets
#                             FWD_PID
#   fwd_stat OUTPUT KEY       the value of KEY in OUTPUT's block of the
#                             status file ($T/state/positions.status)

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

need_clickhouse() {
	if ! command -v clickhouse-server >/dev/null; then
		echo "SKIP: clickhouse-server is not installed (apt-get install clickhouse-server, or tools/dev.sh deps)" >&2
		exit 77
	fi
}

start_clickhouse() {
	local d=$T/ch
	if [ -z "${CH_PORT:-}" ]; then
		CH_PORT=$(free_port)
		mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/schemas"
		# Debian's users.xml: user default, no password, from localhost
		cat >"$d/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/server.log</log>
    <errorlog>$d/server.err.log</errorlog><console>0</console></logger>
  <http_port>$CH_PORT</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709120</mark_cache_size>
</yandex>
EOF
	fi
	CH_URL=http://127.0.0.1:$CH_PORT/
	clickhouse-server --config-file="$d/config.xml" >>"$d/stdout" 2>&1 &
	CH_PID=$!
	track_pid "$CH_PID"
	if ! wait_for 60 curl -sf "${CH_URL}ping"; then
		echo "clickhouse-server did not answer on $CH_URL within 60 s:" >&2
		tail -5 "$d/stdout" "$d/server.err.log" >&2 || true
		return 1
	fi
}

stop_clickhouse() {
	stop_pid "$CH_PID"
	CH_PID=
}

ch() {
	curl -sS --fail-with-body "$CH_URL" --data-binary "$1"
}

need_rsyslog_relp() {
	local rs
	rs=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
	if [ ! -x "$rs" ] || [ ! -e /usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so ] &&
		! ls /usr/lib/*/rsyslog/imrelp.so >/dev/null 2>&1; then
		echo "SKIP: rsyslogd with imrelp is not installed (apt-get install rsyslog rsyslog-relp, or tools/dev.sh deps)" >&2
		exit 77
	fi
	RSYSLOGD=$rs
}

start_rsyslog() {
	local d=$T/rs
	if [ -z "${RELP_PORT:-}" ]; then
		RELP_PORT=$(free_port)
		TCP_PORT=$(free_port)
		mkdir -p "$d/work"
		cat >"$d/rsyslog.conf" <<EOF
global(workDirectory="$d/work")
# RELP acknowledges what rsyslogd received; what it still queues when it
# is stopped is dropped after queue.timeoutShutdown (1.5 s by default), so
# the test gives its queue time to drain (a real setup: a disk-assisted
# queue with queue.saveOnShutdown).
main_queue(queue.timeoutShutdown="60000")
module(load="imrelp")
input(type="imrelp" port="$RELP_PORT" address="127.0.0.1")
module(load="imtcp")
input(type="imtcp" port="$TCP_PORT" address="127.0.0.1")
template(name="fwd" type="string"
         string="%app-name% %procid% %structured-data% %msg%\n")
if \$inputname == "imrelp" then {
	action(type="omfile" file="$d/relp.log" template="fwd")
} else {
	action(type="omfile" file="$d/tcp.log" template="fwd")
}
EOF
	fi
	"$RSYSLOGD" -n -f "$d/rsyslog.conf" -i "$d/rsyslogd.pid" \
		>>"$d/stderr" 2>&1 &
	RS_PID=$!
	track_pid "$RS_PID"
	if ! wait_for 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RELP_PORT"; then
		echo "rsyslogd did not listen on $RELP_PORT within 30 s:" >&2
		tail -5 "$d/stderr" >&2
		return 1
	fi
}

stop_rsyslog() {
	stop_pid "$RS_PID"
	RS_PID=
}

start_loki() {
	rm -f "$T/loki.port"
	python3 "$(dirname "${BASH_SOURCE[0]}")/loki_receiver.py" \
		"$T/loki.port" "$T/loki.jsonl" "$@" 2>>"$T/loki.err" &
	LOKI_PID=$!
	track_pid "$LOKI_PID"
	wait_for 30 test -s "$T/loki.port"
	LOKI_URL=http://127.0.0.1:$(cat "$T/loki.port")/loki/api/v1/push
}

# fwd_conf: $T/fwd.conf, the file start_forwarder runs: the [forward]
# section (this test's broker, and the state file whose status fwd_stat
# and stop_forwarder read), then the [output ...] sections from stdin.
fwd_conf() {
	{
		printf '[forward]\nrun-dir = %s\nstate-file = %s\n\n' \
			"$T/run" "$T/state/positions"
		cat
	} >"$T/fwd.conf"
}

start_forwarder() {
	mkdir -p "$T/state"
	"$BIN/logbus-forward" --config "$T/fwd.conf" 2>>"$T/fwd.err" &
	FWD_PID=$!
	track_pid "$FWD_PID"
}

# The stopped forwarder's status file goes with it: fwd_stat must not
# answer from it before the next forwarder writes its own (a wait for a
# figure would pass at once on the old one's).
stop_forwarder() {
	stop_pid "$FWD_PID"
	FWD_PID=
	rm -f "$T/state/positions.status"
}

fwd_stat() {
	awk -v out="$1" -v key="$2" '
		$1 == "output" { cur = $2 }
		cur == out && $1 == key { $1 = ""; sub(/^ +/, ""); print; exit }
	' "$T/state/positions.status" 2>/dev/null
}
