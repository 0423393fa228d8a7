#!/usr/bin/env bash
# tools/bench/compare.sh [RECORDS] [SIZE]: the same workload, side by side,
# in one run.
#
# RECORDS records (default 1000000) with a SIZE-byte message (default 200),
# one record per line, through:
#   logbus    logbus-bench --mode ingest, 1 producer, against a logbusd this
#             script starts in a temporary directory (default routes);
#             records counted in its journal with logbusctl afterwards
#   rsyslog   Debian's rsyslogd started here: -n, its own config, pidfile
#             and imuxsock socket, rate limiting off, omfile output; fed by
#             logbus-syslog-sender (blocking datagram sends), lines counted
#             on disk until they reach RECORDS or stop growing
#   journald  systemd-journald run standalone in a journal namespace of its
#             own (rate limiting off), fed the same datagrams; the time ends
#             when `journalctl --sync` returns, records counted afterwards
#   direct    buffered fwrite of the same lines (logbus-bench --mode direct)
# and prints each result, the ratios logbus/rsyslog, logbus/journald and
# logbus/direct, and the records any of them lost.
#
# Programs come from $LOGBUS_BIN_DIR, else build-rel/bin, else build/bin.
# A peer that is not installed is reported as such and skipped.  Exit 0 when
# every run finished (a peer's lost lines are a result), 1 when one failed
# or logbus or direct lost a record, 2 bad arguments.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
records=${1:-1000000}
size=${2:-200}
if ! [[ $records =~ ^[1-9][0-9]{0,9}$ && $size =~ ^[1-9][0-9]{0,3}$ ]] ||
	[ "$size" -gt 8000 ]; then
	echo "compare.sh: usage: compare.sh [RECORDS] [SIZE]" \
		"(RECORDS >= 1, SIZE 1..8000 bytes)" >&2
	exit 2
fi
bin=${LOGBUS_BIN_DIR:-}
if [ -z "$bin" ]; then
	bin=$top/build-rel/bin
	[ -x "$bin/logbus-bench" ] || bin=$top/build/bin
fi
for p in logbusd logbusctl logbus-bench logbus-syslog-sender; do
	if [ ! -x "$bin/$p" ]; then
		echo "compare.sh: no $bin/$p: build first (see README," \
			"Performance) or set LOGBUS_BIN_DIR" >&2
		exit 1
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/logbus-compare.XXXXXX")
pids=()
jns="lbcmp$$" # journald namespace
jconf=/etc/systemd/journald@$jns.conf
jdir=""
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$T"
	if [ -n "$jdir" ]; then
		rm -rf "$jdir" "/run/systemd/journal.$jns" "$jconf"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# stop PID: SIGTERM and wait for it, then forget it.
stop() {
	local p=$1 keep=() q
	kill -TERM "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for q in "${pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
	pids=("${keep[@]+"${keep[@]}"}")
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
wait_for() {
	local limit=$(($1 * 100)) i=0
	shift
	until "$@"; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || return 1
		sleep 0.01
	done
}

# json FILE KEY: a value of the one-line JSON object in FILE.
json() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$1" "$2"
}

now_ns() { date +%s%N; }

declare -A rate mbps lines lost note

echo "compare: $records records of $size bytes, one per line;" \
	"$(nproc) CPUs; programs from $bin"

# --- logbus --------------------------------------------------------------------
mkdir -p "$T/lb"
# Rate limiting off, as for rsyslog and journald below.
"$bin/logbusd" --run-dir "$T/lb/run" --log-dir "$T/lb/log" --max-total 64G \
	--rate-burst 0 --config /dev/null 2>"$T/lb/stderr" &
pids+=($!)
lbpid=$!
if ! wait_for 10 grep -q "^logbusd: serving .*pid $lbpid\$" "$T/lb/stderr"; then
	echo "compare.sh: logbusd did not start: $(tail -1 "$T/lb/stderr")" >&2
	exit 1
fi
if ! "$bin/logbus-bench" --mode ingest --producers 1 --records "$records" \
	--size "$size" --json --run-dir "$T/lb/run" >"$T/lb.json" 2>"$T/lb.err"; then
	echo "compare.sh: logbus-bench failed: $(cat "$T/lb.err")" >&2
	exit 1
fi
# The journal holds the records and a warm-up record before them.
n=$("$bin/logbusctl" --run-dir "$T/lb/run" tail -n all -s bench_ingest.0 \
	-o cat --no-color | wc -l)
rate[logbus]=$(json "$T/lb.json" ingest_records_per_s)
mbps[logbus]=$(json "$T/lb.json" ingest_mb_per_s)
lines[logbus]=$((n - 1))
lost[logbus]=$((records - (n - 1)))
stop "$lbpid"

# --- rsyslog -------------------------------------------------------------------
rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
if [ -x "$rsyslogd" ]; then
	mkdir -p "$T/rs/work"
	cat >"$T/rs/rsyslog.conf" <<EOF
global(workDirectory="$T/rs/work")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$T/rs/log.sock" RateLimit.Interval="0")
action(type="omfile" file="$T/rs/out.log")
EOF
	"$rsyslogd" -n -f "$T/rs/rsyslog.conf" -i "$T/rs/rsyslogd.pid" \
		>"$T/rs/stderr" 2>&1 &
	pids+=($!)
	rspid=$!
	if ! wait_for 10 test -S "$T/rs/log.sock"; then
		echo "compare.sh: rsyslogd did not open $T/rs/log.sock:" \
			"$(tail -3 "$T/rs/stderr")" >&2
		exit 1
	fi
	if ! "$bin/logbus-syslog-sender" "$T/rs/log.sock" "$records" "$size" \
		"$T/rs/out.log" >"$T/rs.json" 2>"$T/rs.err"; then
		echo "compare.sh: the syslog sender failed: $(cat "$T/rs.err")" >&2
		exit 1
	fi
	rate[rsyslog]=$(json "$T/rs.json" records_per_s)
	mbps[rsyslog]=$(json "$T/rs.json" mb_per_s)
	lines[rsyslog]=$(json "$T/rs.json" lines)
	lost[rsyslog]=$(json "$T/rs.json" lost)
	stop "$rspid"
else
	note[rsyslog]="not installed (apt-get install rsyslog)"
fi

# --- journald ------------------------------------------------------------------
journald=/lib/systemd/systemd-journald
if [ -x "$journald" ] && command -v journalctl >/dev/null &&
	[ -r /etc/machine-id ] && [ "$(id -u)" -eq 0 ]; then
	jdir=/var/log/journal/$(cat /etc/machine-id).$jns
	printf '[Journal]\nRateLimitIntervalSec=0\nStorage=persistent\n' >"$jconf"
	SYSTEMD_LOG_TARGET=console "$journald" "$jns" >"$T/jd.stderr" 2>&1 &
	pids+=($!)
	jdpid=$!
	if wait_for 10 test -S "/run/systemd/journal.$jns/dev-log"; then
		t0=$(now_ns)
		if ! "$bin/logbus-syslog-sender" "/run/systemd/journal.$jns/dev-log" \
			"$records" "$size" - >"$T/jd.json" 2>"$T/jd.err"; then
			echo "compare.sh: the syslog sender failed:" \
				"$(cat "$T/jd.err")" >&2
			exit 1
		fi
		journalctl --namespace="$jns" --sync
		t1=$(now_ns)
		n=$(journalctl --namespace="$jns" -t bench -o cat -q \
			--no-pager | wc -l)
		rate[journald]=$(awk -v n="$n" -v t="$((t1 - t0))" \
			'BEGIN { printf "%.0f", n / (t / 1e9) }')
		mbps[journald]=$(awk -v n="$n" -v s="$size" -v t="$((t1 - t0))" \
			'BEGIN { printf "%.1f", n * s / (t / 1e3) }')
		lines[journald]=$n
		lost[journald]=$((records - n))
	else
		note[journald]="did not start: $(tail -1 "$T/jd.stderr")"
	fi
	stop "$jdpid"
else
	note[journald]="not run: needs root, $journald and journalctl"
fi

# --- direct --------------------------------------------------------------------
if ! "$bin/logbus-bench" --mode direct --records "$records" --size "$size" \
	--json >"$T/direct.json" 2>"$T/direct.err"; then
	echo "compare.sh: logbus-bench --mode direct failed:" \
		"$(cat "$T/direct.err")" >&2
	exit 1
fi
rate[direct]=$(json "$T/direct.json" direct_records_per_s)
mbps[direct]=$(json "$T/direct.json" direct_mb_per_s)
lines[direct]=$(json "$T/direct.json" direct_lines)
lost[direct]=$((records - lines[direct]))

# --- results -------------------------------------------------------------------
printf '%-9s %12s %9s %12s %10s\n' peer records/s MB/s lines lost
for p in logbus rsyslog journald direct; do
	if [ -n "${rate[$p]:-}" ]; then
		printf '%-9s %12s %9s %12s %10s\n' "$p" "${rate[$p]}" \
			"${mbps[$p]}" "${lines[$p]}" "${lost[$p]}"
	else
		printf '%-9s %s\n' "$p" "${note[$p]}"
	fi
done
for p in rsyslog journald direct; do
	[ -n "${rate[$p]:-}" ] || continue
	awk -v a="${rate[logbus]}" -v b="${rate[$p]}" -v p="$p" \
		'BEGIN { if (b > 0) printf "ratio logbus/%s %.2f\n", p, a / b }'
done
status=0
for p in logbus rsyslog journald direct; do
	if [ -n "${lost[$p]:-}" ] && [ "${lost[$p]}" -ne 0 ]; then
		echo "lost: $p lost ${lost[$p]} of $records records"
		case $p in logbus | direct) status=1 ;; esac
	fi
done
exit $status
