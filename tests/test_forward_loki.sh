#!/usr/bin/env bash
#
# test_forward_loki.sh: logbus-forward against a stand-in for Loki's push
# endpoint (tests/loki_receiver.py, which checks Loki's documented JSON
# schema: no Loki server can be installed here), and what every output
# shares: the configuration's errors, positions kept across a restart
# (nothing sent twice after a clean stop), retries with backoff on 429
# and 500, a 400 counted as rejected and passed, an expired position a
# loud error with the count of records skipped, and --stats.
#
# Usage: bash tests/test_forward_loki.sh BIN_DIR (with logbusd, logbusctl
# and logbus-forward).  Every wait polls a condition, at most 30 s.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=forward_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/forward_lib.sh"

need_bin_dir logbusd logbusctl logbus-forward -- "$@"
test_init

# ---- the configuration's errors -------------------------------------------------
printf '[output a]\ntype = loki\ncolour = red\n' >"$T/bad.conf"
expect_exit "an unknown key stops the start (2)" 2 \
	"$BIN/logbus-forward" --config "$T/bad.conf" --check-config
expect_err_line "it names the file, the line and the key" \
	"^logbus-forward: $T/bad.conf:3: \[output a\]: unknown key 'colour'$"
printf '[output a]\nlevel = info\n[forward]\nstate-file = /x\n' >"$T/bad.conf"
expect_exit "an output without a type stops the start" 2 \
	"$BIN/logbus-forward" --config "$T/bad.conf" --check-config
expect_err_line "it says which and what to write" \
	"\[output a\] has no type = \(clickhouse, relp, syslog-tcp or loki\)"
printf '[output a]\ntype = relp\nport = 99999\n' >"$T/bad.conf"
expect_exit "a bad port stops the start" 2 \
	"$BIN/logbus-forward" --config "$T/bad.conf" --check-config
expect_err_line "it says what a port is" \
	":3: \[output a\] port: bad value '99999': a port, 1 to 65535$"

# ---- records reach Loki with their labels and timestamps ----------------------
start_broker --segment-size 4K
start_loki --answer 429 --answer 500
fwd_conf <<EOF
# fields in the line (logfmt)
[output lk]
type = loki
url = $LOKI_URL
service = svc1
batch-wait = 0.05
hostname = host-a

# fields as structured metadata
[output lm]
type = loki
url = $LOKI_URL
service = svc2
fields = metadata
batch-wait = 0.05
hostname = host-a
EOF
expect_exit "--check-config accepts it" 0 \
	"$BIN/logbus-forward" --config "$T/fwd.conf" --check-config
ctl publish -s svc1 -l app.web -p warning -f user=u1 -f port=8001 "first one"
ctl publish -s svc1 -l app.web -p warning "second, same stream"
ctl publish -s svc2 -l app.db -p error -f query='select 1' "db failed"
start_forwarder

entries() { grep -vc violation "$T/loki.jsonl" 2>/dev/null || true; }
at_least() { [ "$("$1")" -ge "$2" ]; }
check "every record reaches the receiver" wait_for 30 at_least entries 3
expect_eq "no push broke Loki's schema" 0 \
	"$(grep -c violation "$T/loki.jsonl" || true)"

# what logbusd has, as the receiver should have it
ctl tail -n all -o json -s svc1 -s svc2 >"$T/journal.json"
python3 - "$T/journal.json" "$T/loki.jsonl" >"$T/compare.out" 2>&1 <<'EOF' &&
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2]) if "violation" not in l]
want = []
for r in recs:
    labels = {"service": r["service"], "level": r["level"].lower(),
              "logger": r["logger"], "host": "host-a"}
    f = r["fields"]
    if r["service"] == "svc1":
        line = r["message"] + "".join(" %s=%s" % (k, v) for k, v in f.items())
        meta = {}
    else:
        line, meta = r["message"], {k: str(v) for k, v in f.items()}
    want.append({"labels": labels, "ts": str(r["time_ns"]), "line": line,
                 "meta": meta})
key = lambda e: (e["ts"], e["line"])
if sorted(want, key=key) != sorted(got, key=key):
    print("want", want, "\ngot", got)
    sys.exit(1)
EOF
	pass "labels service, level, logger, host; ns timestamps; fields in the line or as metadata" ||
	fail "labels service, level, logger, host; ns timestamps; fields in the line or as metadata" \
		"$(cat "$T/compare.out")"

retries() { echo $(($(fwd_stat lk retries) + $(fwd_stat lm retries))); }
check "429 and 500 were retried (status file)" wait_for 30 at_least retries 2
check "the retries are on stderr, with the answer" \
	grep -q "Loki at $LOKI_URL answered 429: try later; batch of [0-9]* sent again in" "$T/fwd.err"
"$BIN/logbus-forward" --config "$T/fwd.conf" --stats >"$T/stats.out"
check "--stats: running, with each output's counts" \
	grep -Eq '^running +yes$' "$T/stats.out"
check "--stats: lk forwarded 2" grep -Eq '^forwarded +2$' "$T/stats.out"

# ---- positions: a restart sends nothing twice, and goes on ----------------
stop_forwarder
ctl publish -s svc1 "after the restart"
start_forwarder
check "the record published while it was stopped arrives" \
	wait_for 30 at_least entries 4
sleep 0.5 # would a duplicate come? (a second push of the same batch)
expect_eq "nothing arrived twice" 4 "$(entries)"

# ---- 400: refused for good, counted, passed ---------------------------------
stop_forwarder
kill "$LOKI_PID"
wait "$LOKI_PID" || true
untrack_pid "$LOKI_PID"
start_loki --answer 400
sed -i "s|^url = .*|url = $LOKI_URL|" "$T/fwd.conf"
ctl publish -s svc1 "refused by Loki"
start_forwarder
rejected() { fwd_stat lk rejected; }
check "a batch answered 400 is counted as rejected" wait_for 30 at_least rejected 1
check "and said loudly on stderr" \
	wait_for 30 grep -q "refused the batch of 1 records for good" "$T/fwd.err"
ctl publish -s svc1 "after the refusal"
check "the next record goes through" \
	wait_for 30 grep -q '"line": "after the refusal"' "$T/loki.jsonl"

# ---- an expired position: loud, with the count ------------------------------
stop_forwarder
for i in $(seq 300); do echo "filler $i with some text to fill segments"; done |
	ctl publish -s svc3 -
ctl publish -s svc3 "a batch of its own: the segment above is closed"
at_seq=$((16#$(awk '$1 == "lk" { print substr($2, length($2) - 15) }' "$T/state/positions")))
ctl tail --vacuum-size=1 >/dev/null
first=$(ctl stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["journal"]["first_seq"])')
start_forwarder
skipped() { fwd_stat lk skipped; }
check "an expired position is counted" wait_for 30 at_least skipped 1
expect_eq "the count is every record removed after the position" \
	$((first - at_seq - 1)) "$(fwd_stat lk skipped)"
check "and it is an ERROR on stderr naming the records" \
	wait_for 30 grep -q "output lk: ERROR: position expired: logbusd's retention removed records $((at_seq + 1))\.\.$((first - 1)) ($((first - at_seq - 1)) records of the journal)" "$T/fwd.err"
ctl publish -s svc1 "after the gap"
check "forwarding goes on after the gap" \
	wait_for 30 grep -q '"line": "after the gap"' "$T/loki.jsonl"

# ---- a clean stop: exit 0, the status file says it stopped ------------------
kill -TERM "$FWD_PID"
rc=0
wait "$FWD_PID" || rc=$?
untrack_pid "$FWD_PID"
expect_eq "SIGTERM: exit status 0" 0 "$rc"
expect_exit "--stats of a stopped forwarder: status 3" 3 \
	"$BIN/logbus-forward" --config "$T/fwd.conf" --stats
check "and it says so" grep -Eq '^running +no' "$T/out"

finish
