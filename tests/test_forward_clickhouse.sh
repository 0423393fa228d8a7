#!/usr/bin/env bash
#
# test_forward_clickhouse.sh: logbus-forward into a real clickhouse-server
# (Debian's 18.16, started here in a temporary directory on a free port):
# the table it makes, every column of a record as logbusd has it, a batch
# sent twice stored once (FINAL, and after OPTIMIZE ... FINAL; ClickHouse
# may merge the copies away before the test looks), and a
# ClickHouse that is down: retried, said on stderr, delivered once it is
# back.  Skipped (77) without clickhouse-server.
#
# Usage: bash tests/test_forward_clickhouse.sh BIN_DIR.  Waits poll, at
# most 30 s (60 s for ClickHouse's start).
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=forward_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/forward_lib.sh"

need_bin_dir logbusd logbusctl logbus-forward -- "$@"
need_clickhouse
test_init
start_broker
start_clickhouse
fwd_conf <<EOF
[output ch]
type = clickhouse
url = $CH_URL
table = logs
service = svc1|svc2
batch-wait = 0.05
EOF

ctl publish -s svc1 -l app.web -p warning -f user=u1 -f port=8001 \
	-f ratio=0.5 -f ok=true 'quote " backslash \ and é'
ctl publish -s svc2 -l app.db -p error --stream stderr "db failed"
start_forwarder

rows() { ch "SELECT count() FROM logs FINAL" 2>/dev/null || echo 0; }
at_least() { [ "$("$1")" -ge "$2" ]; }
check "the records reach ClickHouse" wait_for 30 at_least rows 2
check "the table is a ReplacingMergeTree ordered by (journal, seq)" \
	bash -c "curl -sS '$CH_URL' --data-binary 'SHOW CREATE TABLE logs' |
		grep -q 'ReplacingMergeTree() PARTITION BY toYYYYMM(time) ORDER BY (journal, seq)'"

ctl tail -n all -o json -s svc1 -s svc2 >"$T/journal.json"
ch "SELECT * FROM logs FINAL ORDER BY seq FORMAT JSONEachRow" >"$T/rows.json"
python3 - "$T/journal.json" "$T/rows.json" >"$T/compare.out" 2>&1 <<'EOF' &&
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rows = [json.loads(l) for l in open(sys.argv[2])]
assert len(recs) == len(rows) == 2, (recs, rows)
for r, w in zip(recs, rows):
    journal = r["cursor"].split("-")[1]
    want = {"time_ns": str(r["time_ns"]), "service": r["service"],
            "level": r["level_no"], "logger": r["logger"],
            "message": r["message"], "stream": r["stream"],
            "pid": r["pid"], "uid": r["uid"], "gid": r["gid"],
            "comm": r["comm"], "journal": journal, "seq": str(r["seq"])}
    got = {k: w[k] for k in want}
    assert got == want, (got, want)
    assert json.loads(w["fields"]) == r["fields"], (w["fields"], r["fields"])
    assert w["time"].startswith(r["time"][:10]), (w["time"], r["time"])
EOF
	pass "each column is the record's (fields as a JSON string, time_ns exact)" ||
	fail "each column is the record's (fields as a JSON string, time_ns exact)" \
		"$(cat "$T/compare.out")"

# ---- a batch sent twice is stored once ---------------------------------------
stop_forwarder
cp "$T/state/positions" "$T/positions.before"
for i in 1 2 3; do ctl publish -s svc1 "again $i"; done
start_forwarder
check "three more arrive" wait_for 30 at_least rows 5
stop_forwarder
# as if the forwarder had died between the insert and the position's write
cp "$T/positions.before" "$T/state/positions"
start_forwarder
sent() { fwd_stat ch forwarded; }
check "the restarted forwarder sends the three again" wait_for 30 at_least sent 3
expect_eq "FINAL sees each record once" 5 "$(rows)"
ch "OPTIMIZE TABLE logs FINAL"
expect_eq "after OPTIMIZE ... FINAL, once" 5 "$(ch "SELECT count() FROM logs")"

# ---- ClickHouse down: retried, then delivered -------------------------------
stop_clickhouse
ctl publish -s svc2 "while ClickHouse is down"
retrying() { [ "$(fwd_stat ch state)" = retrying ]; }
check "the output says it is retrying" wait_for 30 retrying
check "and why, on stderr" wait_for 30 grep -q "is clickhouse-server running there?; batch of [0-9]* sent again in" "$T/fwd.err"
start_clickhouse
check "the record arrives once ClickHouse is back" wait_for 30 at_least rows 6
expect_eq "exactly once" 1 \
	"$(ch "SELECT count() FROM logs FINAL WHERE message = 'while ClickHouse is down'")"

finish
