#!/usr/bin/env bash
#
# test_forward_crash.sh: at-least-once under crashes.  N records (200,000
# unless a second argument says otherwise) are published while one
# logbus-forward sends them to a real ClickHouse, a real rsyslogd over
# RELP and the Loki stand-in; the forwarder is killed with SIGKILL five
# times along the way (and started again), and ClickHouse, rsyslogd and
# the Loki receiver are each restarted once.  Then: every record is in
# ClickHouse exactly once (FINAL), in rsyslog's file at least once (the
# duplicates counted and printed), and at the Loki receiver at least once
# with its labels and its nanosecond timestamp.  Skipped (77) without
# clickhouse-server or rsyslogd's imrelp.
#
# Usage: bash tests/test_forward_crash.sh BIN_DIR [N].  Waits poll, with
# bounds that scale with N (a minute per 20,000 records at most).
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=forward_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/forward_lib.sh"

need_bin_dir logbusd logbusctl logbus-forward -- "${1:-}"
N=${2:-200000}
need_clickhouse
need_rsyslog_relp
test_init
start_broker --max-total 4G
start_clickhouse
start_rsyslog
start_loki
bound=$((60 + N / 20000 * 60))

write_conf() {
	fwd_conf <<EOF
[output ch]
type = clickhouse
url = $CH_URL
table = logs
service = load
batch-wait = 0.2

[output relp]
type = relp
port = $RELP_PORT
service = load
batch-wait = 0.2
retry-max = 2

[output loki]
type = loki
url = $LOKI_URL
service = load
batch-wait = 0.2
retry-max = 2
hostname = host-a
EOF
}
write_conf

start=$(date +%s.%N)
seq -f 'rec %07g' 1 "$N" | ctl publish -s load -l load - &
PUB_PID=$!
track_pid "$PUB_PID"
start_forwarder

ch_raw() { ch "SELECT count() FROM logs" 2>/dev/null || echo 0; }
at_least() { [ "$("$1")" -ge "$2" ]; }
kills=0
for k in 1 2 3 4 5; do
	# a kill at every sixth of the way, while batches are in flight
	if ! wait_for "$bound" at_least ch_raw $((N * k / 6)); then
		fail "progress before kill $k" "ClickHouse has $(ch_raw) rows"
		break
	fi
	kill -KILL "$FWD_PID"
	wait "$FWD_PID" || true
	untrack_pid "$FWD_PID"
	kills=$((kills + 1))
	if [ "$k" -eq 3 ]; then # each destination restarted once
		stop_clickhouse
		stop_rsyslog
		kill "$LOKI_PID"
		wait "$LOKI_PID" || true
		untrack_pid "$LOKI_PID"
		start_clickhouse
		start_rsyslog
		start_loki
		write_conf # the receiver's new port
	fi
	start_forwarder
done
expect_eq "the forwarder was killed with SIGKILL five times" 5 "$kills"
wait "$PUB_PID"
untrack_pid "$PUB_PID"

# distinct records, not lines: with the duplicates, the lines reach N
# while the last batches are still on their way
ch_final() { ch "SELECT count() FROM logs FINAL" 2>/dev/null || echo 0; }
relp_distinct() { awk '/ rec / { print $NF }' "$T/rs/relp.log" | sort -u | wc -l; }
loki_distinct() { grep -o '"line": "rec [0-9]*"' "$T/loki.jsonl" | sort -u | wc -l; }
check "ClickHouse has them all" wait_for "$bound" at_least ch_final "$N"
check "rsyslog has them all" wait_for "$bound" at_least relp_distinct "$N"
check "the Loki receiver has them all" wait_for "$bound" at_least loki_distinct "$N"
end=$(date +%s.%N)

expect_eq "ClickHouse: every record exactly once (FINAL)" "$N $N $N" \
	"$(ch "SELECT count(), uniqExact(seq), uniqExact(message) FROM logs FINAL" | tr '\t' ' ')"
ch "OPTIMIZE TABLE logs FINAL"
expect_eq "ClickHouse: once after OPTIMIZE ... FINAL too" "$N" "$(ch_raw)"

# rsyslog: the message of each line, every one of rec 1..N at least once
awk '{ print $NF }' "$T/rs/relp.log" | sort | uniq -c |
	awk -v n="$N" '{ distinct++; dup += $1 - 1 } END {
		print distinct, dup > "/dev/stderr"; exit !(distinct == n) }' \
	2>"$T/relp.count" &&
	pass "rsyslog: every record at least once" ||
	fail "rsyslog: every record at least once" "$(cat "$T/relp.count")"
read -r _ relp_dups <"$T/relp.count"
echo "# rsyslog: $relp_dups duplicate lines (sent again after a kill or the restart)"

ctl tail -n all -o json -s load >"$T/journal.json"
python3 - "$T/journal.json" "$T/loki.jsonl" "$N" >"$T/loki.out" 2>&1 <<'EOF' &&
import json, sys
ts = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    ts[r["message"]] = str(r["time_ns"])
seen, dups = set(), 0
for l in open(sys.argv[2]):
    e = json.loads(l)
    assert "violation" not in e, e
    assert e["labels"] == {"service": "load", "level": "info",
                           "logger": "load", "host": "host-a"}, e
    assert ts[e["line"]] == e["ts"], (e, ts.get(e["line"]))
    dups += e["line"] in seen
    seen.add(e["line"])
assert len(seen) == int(sys.argv[3]) == len(ts), (len(seen), len(ts))
print(dups)
EOF
	pass "Loki: every record, its labels and its ns timestamp" ||
	fail "Loki: every record, its labels and its ns timestamp" "$(tail -3 "$T/loki.out")"
echo "# Loki: $(tail -1 "$T/loki.out") duplicate entries"
awk -v n="$N" -v a="$start" -v b="$end" 'BEGIN {
	printf "# %d records through 5 kills and 3 restarts in %.1f s\n", n, b - a }'

finish
