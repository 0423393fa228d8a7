#!/usr/bin/env bash
#
# test_bench_smoke.sh: logbus-bench runs end to end and reports sane figures.
#
# Usage: bash tests/test_bench_smoke.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbus-bench, e.g. build/bin).  Runs a short live benchmark against the
# broker logbus-bench starts itself and checks that its JSON parses, that
# every record published arrived and that the latencies are positive: a
# sanity check, not a timing one (the machine may be shared and noisy).
# Also checks the command line's errors and that the temporary directory is
# gone afterwards.  Prints "ok - NAME" / "not ok - NAME" for each check and a
# last line "N passed, M failed"; exits 1 when any check failed.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbus-bench -- "$@"
test_init

unset LOGBUS_RUN_DIR LOGBUS_LOG_DIR
# logbus-bench makes its temporary directory here, so that we can see it go.
mkdir "$T/tmp"
export TMPDIR="$T/tmp"

# --- a short live run ---------------------------------------------------------

rc=0
"$BIN/logbus-bench" --mode live --rates 1000 --seconds 1 --json \
	>"$T/live.json" 2>"$T/live.err" || rc=$?
if [ "$rc" -eq 0 ]; then
	pass "live_run_exits_0"
else
	fail "live_run_exits_0" "exit status $rc" "$(cat "$T/live.err")"
fi

# check_json NAME PYTHON_CONDITION: the condition on the parsed object j and
# its one result r holds (the detail printed otherwise is the JSON).
check_json() {
	local name=$1 cond=$2
	if python3 - "$T/live.json" "$cond" >"$T/py.out" 2>&1 <<'EOF'; then
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
r = j["results"][0]
if not eval(sys.argv[2]):
    print("false: " + sys.argv[2])
    sys.exit(1)
EOF
		pass "$name"
	else
		fail "$name" "$(cat "$T/py.out")" "output: $(cat "$T/live.json")"
	fi
}

check_json "live_json_parses_with_one_result" \
	'j["mode"] == "live" and len(j["results"]) == 1 and r["rate"] == 1000'
check_json "live_every_record_published_arrives" \
	'r["published"] > 0 and r["received"] == r["published"] and r["lost"] == 0'
check_json "live_latencies_are_positive_and_ordered" \
	'0 < r["live_latency_us_p50"] <= r["live_latency_us_p99"] <= r["live_latency_us_p999"] <= r["live_latency_us_max"]'
check_json "live_top_level_p99_matches_result" \
	'j["live_latency_us_p99_at_1000"] == r["live_latency_us_p99"]'

# --- a short ingest run -------------------------------------------------------

rc=0
"$BIN/logbus-bench" --mode ingest --records 2000 --json \
	>"$T/ingest.json" 2>"$T/ingest.err" || rc=$?
if [ "$rc" -eq 0 ]; then
	pass "ingest_run_exits_0"
else
	fail "ingest_run_exits_0" "exit status $rc" "$(cat "$T/ingest.err")"
fi
if python3 - "$T/ingest.json" >"$T/py.out" 2>&1 <<'EOF'; then
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
assert j["mode"] == "ingest" and j["records"] == 2000 and j["size"] == 200
assert j["seconds"] > 0 and j["ingest_records_per_s"] > 0
assert abs(j["ingest_records_per_s"] * j["seconds"] / 2000 - 1) < 0.01
EOF
	pass "ingest_json_is_sane"
else
	fail "ingest_json_is_sane" "$(cat "$T/py.out")" \
		"output: $(cat "$T/ingest.json")"
fi

if [ -z "$(ls -A "$TMPDIR")" ]; then
	pass "temporary_directory_is_removed"
else
	fail "temporary_directory_is_removed" "left: $(ls -A "$TMPDIR")"
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
check_usage "missing_mode_is_a_usage_error" "no --mode given"
check_usage "bad_rate_is_a_usage_error" "bad rate '0'" \
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

rc=0
"$BIN/logbus-bench" --help >"$T/h.out" 2>&1 || rc=$?
if [ "$rc" -eq 0 ] && grep -q "^usage: logbus-bench" "$T/h.out"; then
	pass "help_exits_0"
else
	fail "help_exits_0" "exit $rc: $(head -3 "$T/h.out")"
fi

finish
