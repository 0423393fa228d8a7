#!/usr/bin/env bash
#
# test_bench_smoke.sh: logbus-bench runs end to end and reports sane figures.
#
# Usage: bash tests/test_bench_smoke.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbus-bench, e.g. build/bin).  Runs every mode once with small sizes
# against the brokers logbus-bench starts itself and checks that its JSON
# parses, that every record published arrived and that each figure is
# there and sane (positive, ordered): a sanity check, not a timing one (the
# machine may be shared and noisy).  Then one mode against a broker that
# runs already (--run-dir).
# Also checks the command line's errors and that the temporary directory is
# gone afterwards.  Prints "ok - NAME" / "not ok - NAME" for each check and a
# last line "N passed, M failed"; exits 1 when any check failed.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl logbus-bench -- "$@"
test_init

# logbus-bench makes its temporary directory here, so that we can see it go.
mkdir "$T/tmp"
export TMPDIR="$T/tmp"

# --- every mode once, small ---------------------------------------------------

# The default mode runs them all into one JSON object; small sizes, as the
# ASan build is slow.
rc=0
"$BIN/logbus-bench" --json --records 2000 --producers 1,2 --rates 1000 \
	--seconds 1 --query-records 2000 --query-services 20 \
	--restart-bytes 1M >"$T/all.json" 2>"$T/all.err" || rc=$?
if [ "$rc" -eq 0 ]; then
	pass "all_modes_run_exits_0"
else
	fail "all_modes_run_exits_0" "exit status $rc" "$(cat "$T/all.err")"
fi

# check_json NAME PYTHON_CONDITION: the condition on the parsed object j
# (r: its one live result) holds (the detail printed otherwise is the JSON).
check_json() {
	local name=$1 cond=$2
	if python3 - "$T/all.json" "$cond" >"$T/py.out" 2>&1 <<'EOF'; then
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
r = j["live_results"][0]
if not eval(sys.argv[2]):
    print("false: " + sys.argv[2])
    sys.exit(1)
EOF
		pass "$name"
	else
		fail "$name" "$(cat "$T/py.out")" "output: $(cat "$T/all.json")"
	fi
}

check_json "all_json_parses_and_says_ok" \
	'j["mode"] == "all" and j["status"] == "ok" and j["cpus"] >= 1'
check_json "ingest_figures_for_each_producer_count" \
	'j["records"] == 2000 and j["size"] == 200 and j["ingest_records_per_s"] > 0 and j["ingest2_records_per_s"] > 0 and j["ingest_mb_per_s"] > 0'
check_json "ingest_rate_is_records_over_seconds" \
	'abs(j["ingest_records_per_s"] * j["ingest_seconds"] / 2000 - 1) < 0.01'
check_json "footprint_is_measured" \
	'j["broker_cpu_s_per_million"] >= 0 and j["broker_peak_rss_mib"] > 0 and j["journal_bytes_per_record"] > 200'
check_json "call_cost_percentiles_are_positive_and_ordered" \
	'j["call_records"] == 2000 and 0 < j["call_ns_p50"] <= j["call_ns_p99"] <= j["call_ns_p999"] <= j["call_ns_max"]'
check_json "live_every_record_published_arrives" \
	'r["rate"] == 1000 and r["published"] > 0 and r["received"] == r["published"] and r["lost"] == 0'
check_json "live_latencies_are_positive_and_ordered" \
	'0 < r["live_latency_us_p50"] <= r["live_latency_us_p99"] <= r["live_latency_us_p999"] <= r["live_latency_us_max"]'
check_json "live_top_level_p99_matches_result" \
	'j["live_latency_us_p99_at_1000"] == r["live_latency_us_p99"]'
check_json "query_tail_and_regex_scan_are_measured" \
	'j["query_records"] == 2000 and j["query_journal_mib"] > 0 and j["query_tail_ms"] > 0 and j["regex_scan_mb_per_s"] > 0 and j["regex_scan_matches"] == 0'
check_json "restart_is_measured_on_the_journal_asked" \
	'j["restart_journal_mib"] >= 1 and j["restart_ms"] > 0'
check_json "direct_writes_every_line" \
	'j["direct_lines"] == 2000 and j["direct_records_per_s"] > 0'

# --- one mode against a broker that runs already ------------------------------

start_logbusd "$T/ext.stderr" "$T/ext/run" --log-dir "$T/ext/log"
rc=0
"$BIN/logbus-bench" --mode ingest --producers 1 --records 1000 --json \
	--run-dir "$T/ext/run" >"$T/ext.json" 2>"$T/ext.err" || rc=$?
if [ "$rc" -eq 0 ] && python3 - "$T/ext.json" >"$T/py.out" 2>&1 <<'EOF'; then
import json, sys
j = json.load(open(sys.argv[1]))
assert j["mode"] == "ingest" and j["ingest_records_per_s"] > 0
# not its broker: no pid, no journal to measure
assert j["broker_peak_rss_mib"] is None
assert j["journal_bytes_per_record"] is None
EOF
	pass "run_dir_ingest_leaves_the_footprint_out"
else
	fail "run_dir_ingest_leaves_the_footprint_out" "exit $rc" \
		"$(cat "$T/ext.err" "$T/py.out" "$T/ext.json")"
fi
# The records and the warm-up record before them.
n=$("$BIN/logbusctl" --run-dir "$T/ext/run" tail -n all -s bench_ingest.0 \
	-o cat --no-color | wc -l)
expect_eq "run_dir_ingest_records_are_in_the_journal" 1001 "$n"

if [ -z "$(ls -A "$TMPDIR")" ]; then
	pass "temporary_directories_are_removed"
else
	fail "temporary_directories_are_removed" "left: $(ls -A "$TMPDIR")"
fi

# --- the command line ---------------------------------------------------------

# check_usage NAME WANT_IN_STDERR ARGS...: exit 2, one line on stderr.
check_usage() {
	local name=$1 want=$2 rc=0
	shift 2
	"$BIN/logbus-bench" "$@" >"$T/u.out" 2>"$T/u.err" || rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$T/u.err")" -eq 1 ] &&
		grep -qF -- "$want" "$T/u.err"; then
		pass "$name"
	else
		fail "$name" "exit $rc, stderr: $(cat "$T/u.err")"
	fi
}

check_usage "unknown_mode_is_a_usage_error" "unknown mode 'nosuch'" \
	--mode nosuch
check_usage "bad_rate_is_a_usage_error" "bad value '0' in --rates" \
	--mode live --rates 1000,0
check_usage "empty_rate_is_a_usage_error" "bad --rates '1000,'" \
	--mode live --rates 1000,
check_usage "bad_seconds_is_a_usage_error" "bad --seconds '-1'" \
	--mode live --seconds -1
check_usage "bad_size_is_a_usage_error" "bad --size '12x'" \
	--mode live --size 12x
check_usage "unknown_option_is_a_usage_error" "unknown option --nosuch" \
	--mode live --nosuch
check_usage "stray_argument_is_a_usage_error" "unexpected argument 'extra'" \
	--mode live extra
check_usage "bad_producers_is_a_usage_error" "bad value '0' in --producers" \
	--mode ingest --producers 1,0
check_usage "bad_restart_bytes_is_a_usage_error" "bad --restart-bytes '1X'" \
	--mode restart --restart-bytes 1X
check_usage "fewer_query_records_than_services_is_a_usage_error" \
	"--query-records 5 is fewer than --query-services 10" \
	--mode query --query-records 5 --query-services 10

rc=0
"$BIN/logbus-bench" --help >"$T/h.out" 2>&1 || rc=$?
if [ "$rc" -eq 0 ] && grep -q "^usage: logbus-bench" "$T/h.out"; then
	pass "help_exits_0"
else
	fail "help_exits_0" "exit $rc: $(head -3 "$T/h.out")"
fi

finish
