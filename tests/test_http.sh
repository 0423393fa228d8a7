#!/usr/bin/env bash
# test_http.sh BIN_DIR: logbus-http against a real logbusd, with curl and
# Python's standard library: every /v1/logs parameter, logs.json, services,
# error reports, stats and errors; follow as chunked text and as SSE with
# heartbeats; SSE resumed by Last-Event-ID across a restart of logbus-http
# and of logbusd, every record exactly once; token scoping on every
# endpoint; SIGHUP reads the token file again; the stream cap's 503; a
# stalled client dropped while another follower gets everything; a Unix
# socket; no open address without tokens.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_bin_dir logbusd logbusctl logbus-http -- "$@"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
test_init
command -v curl >/dev/null || {
	echo "curl not found: skipped"
	exit 77
}

HTTP_PID= PORT=0
# start_http CONFIG [OPTION...]: logbus-http on 127.0.0.1 (the port of the
# last start, or any free one the first time) with CONFIG; sets HTTP_PID,
# PORT and URL once it listens.
start_http() {
	local conf=$1
	shift
	: >"$T/http.err"
	"$BIN/logbus-http" --run-dir "$T/run" --config "$conf" \
		--listen "127.0.0.1:$PORT" "$@" 2>>"$T/http.err" &
	HTTP_PID=$!
	track_pid "$HTTP_PID"
	wait_for 10 grep -q 'listening on' "$T/http.err" || {
		cat "$T/http.err" >&2
		return 1
	}
	PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' \
		"$T/http.err")
	URL=http://127.0.0.1:$PORT
}
stop_http() {
	stop_pid "$HTTP_PID"
	HTTP_PID=
}
get() { curl -sS --max-time 20 "$@"; }
status() { curl -s -o "$T/body" -w '%{http_code}' --max-time 20 "$@"; }
pub() { ctl publish "$@" >/dev/null; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

cat >"$T/http.conf" <<EOF
[limits]
max-streams = 3
stall-timeout = 2
heartbeat = 1
stream-buffer = 4K
EOF

start_broker
start_http "$T/http.conf"

# ---- snapshots and every parameter --------------------------------------
pub -s svc_a -l app.db -p info "first of a"
pub -s svc_a -l app.web -p warning "second of a"
pub -s svc_b -l other -p error "only of b"
pub -s svc_a -l app.db -p error --stream stderr "third of a: Failed"
mid=$(date +%s)
sleep 1.1 # records after a whole second, for since and until
pub -s svc_a -l app.db -p info $'fourth of a\nwith a second line'

get "$URL/v1/logs" >"$T/all"
expect_eq "/v1/logs: the whole journal, a line per record" 5 \
	"$(grep -c -E ' (svc_a|svc_b): ' "$T/all")"
check "/v1/logs: logbusctl's text layout, continuation marked" \
	grep -qx '    | with a second line' "$T/all"
expect_eq "tail=2: the last two" "third of a: Failed|fourth of a" \
	"$(get "$URL/v1/logs?tail=2&service=svc_a" | grep -o -E '(third|fourth) of a(: Failed)?' | paste -sd'|')"
expect_eq "service=, repeatable" 5 \
	"$(get "$URL/v1/logs?service=svc_a&service=svc_b" | grep -c -E '(svc_a|svc_b): ')"
expect_eq "service=svc_b" "only of b" \
	"$(get "$URL/v1/logs?service=svc_b" | grep -o 'only of b')"
expect_eq "level=warning" 3 \
	"$(get "$URL/v1/logs?level=warning&service=svc_a&service=svc_b" | grep -c -E '\[(WARNING|ERROR)\]')"
expect_eq "logger=app.db: the logger and its children" 3 \
	"$(get "$URL/v1/logs?logger=app.db" | grep -c ' app.db ')"
expect_eq "q=: a regex on the message" "third of a: Failed" \
	"$(get "$URL/v1/logs?q=%28%3Fi%29failed" | grep -o 'third of a: Failed')"
expect_eq "stream=stderr" 1 "$(get "$URL/v1/logs?stream=stderr" | grep -c 'of a')"
expect_eq "stderr=1 (Docker's)" 1 "$(get "$URL/v1/logs?stderr=1" | grep -c 'of a')"
expect_eq "stdout=1 alone: none here" 0 \
	"$(get "$URL/v1/logs?stdout=1" | grep -c 'of a' || true)"
expect_eq "since=UNIX SECONDS" 1 \
	"$(get "$URL/v1/logs?since=$((mid + 1))&service=svc_a" | grep -c 'of a')"
expect_eq "until=UNIX SECONDS" 3 \
	"$(get "$URL/v1/logs?until=$((mid + 1))&service=svc_a" | grep -c 'of a')"
since3339=$(date -u -d "@$((mid + 1))" +%Y-%m-%dT%H:%M:%SZ)
expect_eq "since=RFC 3339" 1 \
	"$(get "$URL/v1/logs?since=$since3339&service=svc_a" | grep -c 'of a')"
expect_eq "since=10m (a span before now)" 4 \
	"$(get "$URL/v1/logs?since=10m&service=svc_a" | grep -c 'of a')"
expect_eq "sinceSeconds=3600" 4 \
	"$(get "$URL/v1/logs?sinceSeconds=3600&service=svc_a" | grep -c 'of a')"
expect_eq "timestamps=1: RFC 3339 first" 1 \
	"$(get "$URL/v1/logs?timestamps=1&tail=1" | grep -c -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z [0-9]{4}-')"
first_line=$(get "$URL/v1/logs?service=svc_a" | head -1)
expect_eq "limitBytes: whole lines within the limit" "$first_line" \
	"$(get "$URL/v1/logs?service=svc_a&limitBytes=$((${#first_line} + 5))")"
cur=$(get "$URL/v1/logs.json?service=svc_a&tail=2" |
	json 'd["records"][0]["cursor"]')
expect_eq "cursor=: after that record" "fourth of a" \
	"$(get "$URL/v1/logs?service=svc_a&cursor=$cur" | grep -o 'fourth of a')"
expect_eq "format=json: a record per line" svc_b \
	"$(get "$URL/v1/logs?format=json&service=svc_b" | json 'd["service"]')"
expect_eq "tail=all" 5 "$(get "$URL/v1/logs?tail=all" | grep -c -E '(svc_a|svc_b): ')"

# ---- logs.json, services, reports, stats ----------------------------------
get "$URL/v1/logs.json?service=svc_a&tail=2" >"$T/j"
expect_eq "logs.json: logs, records and a cursor" "2 2 True" \
	"$(json 'len(d["logs"]), len(d["records"]), d["cursor"].startswith("lb1-")' <"$T/j" | tr -d '(),')"
expect_eq "logs.json: the logs are the text lines" "fourth of a" \
	"$(json 'd["logs"][1]' <"$T/j" | grep -o 'fourth of a')"
more=$(get "$URL/v1/logs.json?service=svc_a&cursor=$cur")
expect_eq "logs.json: its cursor goes on from the last" 0 \
	"$(get "$URL/v1/logs.json?service=svc_a&cursor=$(echo "$more" | json 'd["cursor"]')" | json 'len(d["records"])')"
ctl run -s svc_err -- sh -c 'echo boom >&2; exit 3' >/dev/null 2>&1 || true
wait_for 10 get -f "$URL/v1/services/svc_err/error"
check "/v1/services/ID/error: the report" \
	bash -c "curl -s '$URL/v1/services/svc_err/error' | grep -q '^Exit code: 3'"
expect_eq "/v1/services/ID/error: none is a 404" 404 \
	"$(status "$URL/v1/services/svc_a/error")"
expect_eq "/v1/services lists them" "True True" \
	"$(get "$URL/v1/services" | json '"svc_a" in [s["service"] for s in d], "svc_b" in [s["service"] for s in d]' | tr -d '(),')"
expect_eq "/v1/stats: logbusd's and the gateway's" "True 3" \
	"$(get "$URL/v1/stats" | json 'd["logbusd"]["committed"]["records"] > 5, d["http"]["max_streams"]' | tr -d '(),')"
expect_eq "a bad parameter is a 400" 400 "$(status "$URL/v1/logs?tail=x")"
check "a 400 says which parameter, as JSON" \
	bash -c "json() { python3 -c \"import json,sys; print(json.load(sys.stdin)['message'])\"; }; json <'$T/body' | grep -q '^tail: '"
expect_eq "a malformed cursor is a 400" 400 "$(status "$URL/v1/logs?cursor=lb1-x")"
expect_eq "an unknown path is a 404" 404 "$(status "$URL/v1/nothing")"
expect_eq "POST is a 405" 405 "$(status -X POST "$URL/v1/logs")"
expect_eq "loki: labels" "level,logger,service,stream" \
	"$(get "$URL/loki/api/v1/labels" | json '",".join(sorted(d["data"]))')"
expect_eq "loki: query_range of a LogQL query, streams of its service" \
	"success streams svc_a" \
	"$(get -G "$URL/loki/api/v1/query_range" --data-urlencode 'query={service="svc_a"}' --data-urlencode 'start=0' |
		json '" ".join([d["status"], d["data"]["resultType"]] + sorted({r["stream"]["service"] for r in d["data"]["result"]}))')"
expect_eq "loki: a bad query is a 400" 400 \
	"$(status -G "$URL/loki/api/v1/query_range" --data-urlencode 'query={service="svc_a"')"
expect_eq "the Logs page at /" 200 "$(status "$URL/")"
check "the page is ours, with its script" grep -q 'src="app.js"' "$T/body"
expect_eq "its script" 200 "$(status "$URL/app.js")"

# ---- follow: chunked text and SSE --------------------------------------------
streams_are() {
	wait_for 30 bash -c "curl -s '$URL/v1/stats' | grep -q '\"streams\":$1'"
}
curl -sN "$URL/v1/logs?follow=1&tail=0&service=svc_f" >"$T/follow" &
fpid=$!
track_pid "$fpid"
check "follow=1: the stream is open" streams_are 1
pub -s svc_f "followed text"
check "follow=1: chunked text as it is committed" \
	wait_for 10 grep -q 'svc_f: followed text' "$T/follow"
stop_pid "$fpid"
curl -sN -H 'Accept: text/event-stream' "$URL/v1/logs?tail=0&service=svc_f" >"$T/sse" &
fpid=$!
track_pid "$fpid"
check "SSE: a heartbeat comment while idle" wait_for 10 grep -q '^: keep-alive' "$T/sse"
pub -s svc_f -p error $'an event\nof two lines'
check "SSE: event: log, id: cursor, a data: line per line" \
	wait_for 10 grep -qx 'data:     | of two lines' "$T/sse"
check "SSE: the id is the record's cursor" grep -q '^id: lb1-' "$T/sse"
check "SSE: event: log" grep -qx 'event: log' "$T/sse"
stop_pid "$fpid"
check "format=sse without Accept is SSE too" \
	bash -c "curl -sN --max-time 2 '$URL/v1/logs?format=sse&tail=1' | grep -q '^event: log'"

# ---- SSE across restarts of logbus-http and logbusd --------------------------
check "the earlier streams have ended" streams_are 0
python3 "$here/http_sse_client.py" "$URL/v1/logs?format=json&tail=0&service=svc_r" \
	60 90 >"$T/seqs" 2>"$T/sse.err" &
cpid=$!
track_pid "$cpid"
check "the SSE client's stream is open" streams_are 1
for i in $(seq 1 20); do pub -s svc_r "r $i"; done
wait_for 10 test "$(wc -l <"$T/seqs")" -ge 20 || true
stop_http
for i in $(seq 21 35); do pub -s svc_r "r $i"; done
start_http "$T/http.conf"
wait_for 15 test "$(wc -l <"$T/seqs")" -ge 35 || true
stop_broker
start_broker
for i in $(seq 36 60); do pub -s svc_r "r $i"; done
rc=0
wait "$cpid" || rc=$?
untrack_pid "$cpid"
expect_eq "SSE across both restarts: 60 records" "0 60" "$rc $(wc -l <"$T/seqs")"
expect_eq "SSE across both restarts: each exactly once" 60 \
	"$(sort -u "$T/seqs" | wc -l)"
check "SSE across both restarts: it did reconnect" \
	grep -Eq 'reconnects [1-9]' "$T/sse.err"
expect_eq "SSE: the records in order" "$(sort -n "$T/seqs")" "$(cat "$T/seqs")"

# ---- the stream cap and a stalled client ----------------------------------
check "the streams of clients that went away have ended" \
	wait_for 30 bash -c "curl -s '$URL/v1/stats' | grep -q '\"streams\":0,'"
for i in 1 2; do
	curl -sN "$URL/v1/logs?follow=1&tail=0&service=svc_s" >"$T/cap$i" &
	track_pid $!
done
python3 "$here/http_stall_client.py" 127.0.0.1 "$PORT" \
	"/v1/logs?follow=1&tail=0&service=svc_s" >"$T/stall" &
spid=$!
track_pid "$spid"
check "three streams open, a stalled one among them" \
	wait_for 30 bash -c "grep -q connected '$T/stall' && curl -s '$URL/v1/stats' | grep -q '\"streams\":3'" ||
	curl -s "$URL/v1/stats" >&2
expect_eq "the 4th stream over max-streams=3 is a 503" 503 \
	"$(status "$URL/v1/logs?follow=1")"
check "the 503 says why" grep -q 'max-streams' "$T/body"
big=$(head -c 2000 /dev/zero | tr '\0' x)
for i in $(seq 1 300); do echo "s $i $big"; done | ctl publish -s svc_s - >/dev/null
check "a stalled client is dropped (stats: stalled_dropped)" \
	wait_for 30 bash -c "curl -s '$URL/v1/stats' | grep -q '\"stalled_dropped\":[1-9]'"
check "another follower got all 300 meanwhile" \
	wait_for 20 bash -c "test \$(grep -c 'svc_s: s ' '$T/cap1') -eq 300"
check "a stream is free again after the drop" \
	wait_for 10 bash -c "curl -s '$URL/v1/stats' | grep -q '\"streams\":2'"

stop_http

# ---- tokens -----------------------------------------------------------------
tok_a=aaaaaaaaaaaaaaaaaaaaaaaa
tok_star=ssssssssssssssssssssssss
printf '# test tokens\n%s svc_a\n%s svc_*\n' "$tok_a" "$tok_star" >"$T/tokens"
chmod 600 "$T/tokens"
printf '[http]\ntokens = %s\n' "$T/tokens" >"$T/tok.conf"
start_http "$T/tok.conf"
A=(-H "Authorization: Bearer $tok_a")
expect_eq "tokens: none is a 401" 401 "$(status "$URL/v1/logs")"
expect_eq "tokens: a wrong one is a 401" 401 \
	"$(status -H 'Authorization: Bearer nope' "$URL/v1/logs")"
services_of() { python3 -c 'import json,sys; print(",".join(sorted({json.loads(l)["service"] for l in sys.stdin})))'; }
expect_eq "token A reads only svc_a" "svc_a" \
	"$(get "${A[@]}" "$URL/v1/logs?format=json" | services_of)"
expect_eq "token A: service=svc_b is a 403" 403 \
	"$(status "${A[@]}" "$URL/v1/logs?service=svc_b")"
expect_eq "token A: logs.json of svc_b is a 403" 403 \
	"$(status "${A[@]}" "$URL/v1/logs.json?service=svc_b")"
expect_eq "token A: logs.json holds only svc_a" "svc_a" \
	"$(get "${A[@]}" "$URL/v1/logs.json?tail=all" | json '",".join(sorted({r["service"] for r in d["records"]}))')"
expect_eq "token A: svc_err's report is a 403" 403 \
	"$(status "${A[@]}" "$URL/v1/services/svc_err/error")"
expect_eq "?token= works (EventSource)" 200 \
	"$(status "$URL/v1/logs?token=$tok_a&tail=1")"
expect_eq "svc_* token: svc_a, svc_b, svc_err, svc_f, svc_r, svc_s; not logbusd" \
	"svc_a,svc_b,svc_err,svc_f,svc_r,svc_s" \
	"$(get -H "Authorization: Bearer $tok_star" "$URL/v1/logs?format=json" | services_of)"
expect_eq "token A: loki query_range of svc_.* holds only svc_a" "svc_a" \
	"$(get "${A[@]}" -G "$URL/loki/api/v1/query_range" --data-urlencode 'query={service=~"svc_.*"}' --data-urlencode 'start=0' |
		json '",".join(sorted({r["stream"]["service"] for r in d["data"]["result"]}))')"
expect_eq "token A: loki label values of service: only svc_a" "svc_a" \
	"$(get "${A[@]}" -G "$URL/loki/api/v1/label/service/values" --data-urlencode 'start=0' | json '",".join(d["data"])')"
curl -sN -H "Authorization: Bearer $tok_a" -H 'Accept: text/event-stream' \
	"$URL/v1/logs?tail=0&format=json" >"$T/tsse" &
fpid=$!
track_pid "$fpid"
check "token A's SSE stream is open" \
	wait_for 30 bash -c "curl -s '$URL/v1/stats?token=$tok_a' | grep -q '\"streams\":1'"
pub -s svc_b "b must not show"
pub -s svc_a "a shows"
check "token A's SSE: its record" wait_for 10 grep -q 'a shows' "$T/tsse"
check "token A's SSE: not another service's" bash -c "! grep -q 'b must not show' '$T/tsse'"
expect_eq "token A: /v1/services lists only svc_a" "svc_a" \
	"$(get "${A[@]}" "$URL/v1/services" | json '",".join(s["service"] for s in d)')"
stop_pid "$fpid"

# ---- SIGHUP reads the token file again ------------------------------------
tok_new=nnnnnnnnnnnnnnnnnnnnnnnn
printf '%s svc_*\n%s svc_b\n' "$tok_star" "$tok_new" >"$T/tokens.new"
chmod 600 "$T/tokens.new"
mv "$T/tokens.new" "$T/tokens"
kill -HUP "$HTTP_PID"
check "SIGHUP: the token file is read again" \
	wait_for 10 grep -q 'SIGHUP: 2 tokens from' "$T/http.err"
expect_eq "SIGHUP: a new token works" "svc_b" \
	"$(get -H "Authorization: Bearer $tok_new" "$URL/v1/logs?format=json" | services_of)"
expect_eq "SIGHUP: a removed token is a 401" 401 "$(status "${A[@]}" "$URL/v1/logs")"
expect_eq "SIGHUP: a kept token still works" 200 \
	"$(status -H "Authorization: Bearer $tok_star" "$URL/v1/logs?tail=1")"
chmod 644 "$T/tokens"
kill -HUP "$HTTP_PID"
check "SIGHUP: a token file it cannot take is reported" \
	wait_for 10 grep -q 'SIGHUP: .*chmod o-rwx.*keeping the 2 tokens' "$T/http.err"
expect_eq "... and the tokens it had keep working" 200 \
	"$(status -H "Authorization: Bearer $tok_new" "$URL/v1/logs?tail=1")"
chmod 600 "$T/tokens"
stop_http

# ---- where it listens ---------------------------------------------------------
expect_exit "no tokens: a non-loopback address is refused" 1 \
	"$BIN/logbus-http" --run-dir "$T/run" --config "$T/http.conf" \
	--listen 0.0.0.0:0
check "... saying why" grep -q 'not a loopback address' "$T/err"
chmod 644 "$T/tokens"
expect_exit "a token file others can read is refused" 2 \
	"$BIN/logbus-http" --run-dir "$T/run" --config "$T/tok.conf"
check "... saying how to fix it" grep -q 'chmod o-rwx' "$T/err"
"$BIN/logbus-http" --run-dir "$T/run" --config "$T/http.conf" \
	--listen "unix:$T/http.sock" 2>"$T/unix.err" &
upid=$!
track_pid "$upid"
wait_for 10 test -S "$T/http.sock"
expect_eq "unix:PATH serves too" "only of b" \
	"$(curl -s --unix-socket "$T/http.sock" 'http://x/v1/logs?service=svc_b' | grep -o 'only of b')"
stop_pid "$upid"
check "its socket file is removed at exit" test ! -e "$T/http.sock"

finish
