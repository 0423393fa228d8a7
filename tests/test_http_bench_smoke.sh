#!/usr/bin/env bash
# test_http_bench_smoke.sh BIN_DIR SOURCE_DIR: tools/bench/http_sse.py (the
# README's logbus-http figures) runs end to end, small: its JSON parses,
# every figure is there and sane (positive, p99 >= p50), and every follower
# got every record (the script fails otherwise).  Not a timing check.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_bin_dir logbusd logbusctl logbus-http logbus-bench -- "${1:-}"
SRC=${2:?usage: $0 BIN_DIR SOURCE_DIR}
test_init
export TMPDIR=$T

expect_exit "http_sse.py runs: 1 s at 1000/s, 5 followers, 1 round" 0 \
	python3 "$SRC/tools/bench/http_sse.py" --bin "$BIN" --seconds 1 \
	--followers 5 --rounds 1 --json
cp "$T/out" "$T/figures.json"
sane() {
	python3 - "$T/figures.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
L, F = d["latency"], d["followers"]
for k in ("sse", "tail", "liblogbus"):
    assert 0 < L[k + "_p50_us"] <= L[k + "_p99_us"], (k, L)
assert L["records"] >= 1000, L
assert F["followers"] == 5 and F["records"] >= 1000, F
assert F["cpu_percent"] > 0 and 0 < F["rss_idle_kib"] <= F["hwm_kib"], F
assert F["threads"] > 5, F
PY
}
check "its figures are there and sane" sane
check "it left no temporary directory" \
	bash -c "[ -z \"\$(ls '$T' | grep logbus-http-bench)\" ]"
finish
