#!/usr/bin/env bash
#
# bench_forward.sh BIN_DIR [N]: logbus-forward's throughput to each
# destination and the time from publish to visible in ClickHouse, on this
# machine, with the destinations the tests use (tests/forward_lib.sh: a
# ClickHouse and an rsyslogd of their own in a temporary directory, the
# Loki stand-in).
#
# Throughput: N records (default 200,000) are in the journal first; one
# forwarder per destination then starts from the head, and the time until
# the destination has all N gives records/s.  Latency: 20 records published
# one at a time with the forwarder running (batch-wait = 0.05), each timed
# from `logbusctl publish` returning to the row answering a SELECT (polled
# every 10 ms); the median and the largest are printed.
set -eEuo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../tests/lib.sh
. "$src/tests/lib.sh"
# shellcheck source=../../tests/forward_lib.sh
. "$src/tests/forward_lib.sh"

need_bin_dir logbusd logbusctl logbus-forward -- "${1:-}"
N=${2:-200000}
need_clickhouse
need_rsyslog_relp
test_init
start_broker --max-total 4G
start_clickhouse
start_rsyslog
start_loki

conf() { # conf TYPE KEY=VALUE...: one output, named o (for fwd_conf)
	printf '[output o]\ntype = %s\nservice = load\nbatch-wait = 0.05\n' "$1"
	shift
	printf '%s\n' "$@" | sed 's/=/ = /'
}

seq -f 'rec %07g with a little more text to make a usual line' 1 "$N" |
	ctl publish -s load -l load.bench -
ch_rows() { ch "SELECT count() FROM logs" 2>/dev/null || echo 0; }
relp_rows() { grep -c ' rec ' "$T/rs/relp.log" 2>/dev/null || echo 0; }
loki_rows() { grep -c '"line": "rec ' "$T/loki.jsonl" 2>/dev/null || echo 0; }
at_least() { [ "$("$1")" -ge "$2" ]; }

run() { # run NAME COUNTER TYPE KEY=VALUE...
	local name=$1 counter=$2
	shift 2
	rm -rf "$T/state"
	mkdir -p "$T/state"
	conf "$@" | fwd_conf
	local t0 t1
	t0=$(date +%s.%N)
	start_forwarder
	wait_for 600 at_least "$counter" "$N"
	t1=$(date +%s.%N)
	stop_forwarder
	awk -v n="$N" -v a="$t0" -v b="$t1" -v d="$name" 'BEGIN {
		printf "%-24s %8d records in %6.2f s: %8.0f records/s\n",
		       d, n, b - a, n / (b - a) }'
}
run "clickhouse (HTTP)" ch_rows clickhouse "url=$CH_URL" "table=logs"
run "rsyslog (RELP)" relp_rows relp "port=$RELP_PORT"
run "loki (stand-in)" loki_rows loki "url=$LOKI_URL"

# publish -> visible in ClickHouse
conf clickhouse "url=$CH_URL" "table=logs" | fwd_conf
start_forwarder
for i in $(seq 20); do
	t0=$(date +%s%N)
	ctl publish -s load -l load.bench "latency probe $i"
	until [ "$(ch "SELECT count() FROM logs WHERE message = 'latency probe $i'")" -ge 1 ]; do
		sleep 0.01
	done
	echo $((($(date +%s%N) - t0) / 1000000))
done | sort -n | awk '{ v[NR] = $1 } END {
	printf "publish -> visible in ClickHouse: median %d ms, max %d ms (20 records)\n",
	       v[int((NR + 1) / 2)], v[NR] }'
stop_forwarder
