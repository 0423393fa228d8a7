#!/usr/bin/env bash
#
# test_category.sh: error categories through logbusctl run against a real
# logbusd: real failures (a Python script with a missing module, one that
# binds a port in use, one that may not exec a file, one that segfaults, a
# command killed by SIGKILL or stopped at --time-limit, an exit 1 that says
# nothing known, an exit 0) each get their category in the report file's
# Category line, in `logbusctl errors` and `services` (text and JSON), and
# in the exit record's field error_category, which `tail -F` filters on.
# Then real programs, each checked by its report file's Category line: a
# Python script importing a module that is not installed, a Python server
# binding a port the test holds, a Python worker killed with kill -9 from
# outside while it runs, and a C program (compiled here with cc) that
# dereferences NULL.
#
# Usage: bash tests/test_category.sh BIN_DIR   (BIN_DIR holds logbusd and
# logbusctl).  Prints "ok - NAME" / "not ok - NAME" for each check and a
# last line "N passed, M failed"; exits 1 when any check failed.  Nothing
# waits a fixed time: logbusctl run returns once logbusd has the report.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "$@"
test_init
ulimit -c 0

start_broker

W=$T/work
mkdir "$W"
printf 'echo hi\n' >"$W/noexec.sh"
chmod 644 "$W/noexec.sh"

# run_as NAME STATUS SERVICE COMMAND...: logbusctl run in W, expecting
# exit STATUS.
run_as() {
	local name=$1 want=$2 svc=$3
	shift 3
	expect_exit "$name: exit status $want" "$want" \
		ctl run -s "$svc" --cwd "$W" -- "$@"
}

# category_line SERVICE: the second line of the service's report.
category_line() {
	ctl errors "$1" 2>/dev/null | sed -n 2p
}

# field_of SERVICE: the error_category field of the service's last record
# ("-" when it has none).
field_of() {
	ctl tail -s "$1" -n 1 -o json | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
print(r.get("fields", {}).get("error_category", "-"))'
}

# ---- one death of each kind ---------------------------------------------------

run_as "missing module" 1 svc_dep python3 -c 'import logbus_no_such_module'
expect_eq "missing module: the report's first lines" \
	"$(printf 'Exit code: 1\nCategory: dependency\nCommand: python3 -c import logbus_no_such_module')" \
	"$(ctl errors svc_dep | head -n 3)"
expect_eq "missing module: the record's field" dependency "$(field_of svc_dep)"

run_as "port in use" 1 svc_port python3 -c '
import socket
a = socket.socket()
a.bind(("127.0.0.1", 0))
a.listen()
b = socket.socket()
b.bind(a.getsockname())'
check "port in use: Python said so" grep -q "Address already in use" "$T/err"
expect_eq "port in use: the Category line" "Category: port" \
	"$(category_line svc_port)"

run_as "PermissionError" 1 svc_perm python3 -c "
import os
os.execv('$W/noexec.sh', ['noexec.sh'])"
expect_eq "PermissionError: the Category line" "Category: permission" \
	"$(category_line svc_perm)"

run_as "SIGKILL" 137 svc_kill sh -c 'kill -KILL $$'
expect_eq "SIGKILL: the Category line" "Category: signal" \
	"$(category_line svc_kill)"
expect_eq "SIGKILL: the record's field" signal "$(field_of svc_kill)"

run_as "segfault" 139 svc_segv python3 -c 'import ctypes; ctypes.string_at(0)'
expect_eq "segfault: the Category line" "Category: crash" \
	"$(category_line svc_segv)"

start=$SECONDS
expect_exit "time limit: exit status 143" 143 \
	ctl run -s svc_slow --time-limit 1 --cwd "$W" -- sleep 60
check "time limit: stopped long before the command's end" \
	test $((SECONDS - start)) -lt 30
expect_eq "time limit: the Category line" "Category: timeout" \
	"$(category_line svc_slow)"
expect_eq "time limit: the signal line" "Signal: SIGTERM" \
	"$(ctl errors svc_slow | sed -n 3p)"
expect_exit "--time-limit 0: a usage error" 2 \
	ctl run -s svc_slow --time-limit 0 -- true

run_as "exit 1" 1 svc_exit sh -c 'echo "nothing to see" >&2; exit 1'
expect_eq "exit 1: the Category line" "Category: exit" \
	"$(category_line svc_exit)"

run_as "exit 0" 0 svc_ok true
expect_eq "exit 0: no Category line" "Command: true" \
	"$(category_line svc_ok)"
expect_eq "exit 0: no field" - "$(field_of svc_ok)"

# The OOM killer: a command that outgrows a memory cgroup made for the run
# (cgroup v1; as root, else skipped).
oom_run() {
	local cg=$1
	shift
	(
		echo "$BASHPID" >"$cg/cgroup.procs"
		exec "$BIN/logbusctl" --run-dir "$T/run" "$@"
	)
}
MEMCG=/sys/fs/cgroup/memory$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup)
MEMCG=${MEMCG%/}/logbus-test-$$
if [ "$(id -u)" -eq 0 ] && mkdir "$MEMCG" 2>/dev/null; then
	echo $((200 << 20)) >"$MEMCG/memory.limit_in_bytes"
	echo $((200 << 20)) >"$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null ||
		true
	expect_exit "OOM killer: exit status 137" 137 oom_run "$MEMCG" \
		run -s svc_oom --cwd "$W" -- python3 -c 'b = b"x" * (1 << 30)'
	expect_eq "OOM killer: the Category line" "Category: memory" \
		"$(category_line svc_oom)"
	wait_for 10 rmdir "$MEMCG" || true
else
	echo "# skip: OOM killer (needs root and a cgroup v1 memory hierarchy)"
fi

# ---- where the category shows ----------------------------------------------------

expect_exit "errors: exit 0" 0 ctl errors
expect_eq "errors: the CATEGORY column" \
	"$(printf '%s\n' 'svc_dep dependency' 'svc_exit exit' 'svc_kill signal' \
		'svc_ok -' 'svc_perm permission' 'svc_port port' 'svc_segv crash' \
		'svc_slow timeout')" \
	"$(awk '$1 != "svc_oom" {print $1, $5}' "$T/out" | sort)"
expect_exit "errors -o json: exit 0" 0 ctl errors -o json
expect_eq "errors -o json: category, null for none" \
	"$(printf 'svc_dep dependency\nsvc_ok None')" \
	"$(grep -E '"svc_(dep|ok)"' "$T/out" | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["service"], r["category"])' | sort)"

ctl services >"$T/services.txt"
check "services: the last report's category before its summary" \
	grep -Eq '^svc_dep .* \[dependency\] Process exited with code 1$' \
	"$T/services.txt"
check "services: none after an exit 0" \
	grep -Eq '^svc_ok .*[0-9] Process exited with code 0$' \
	"$T/services.txt"
expect_eq "services -o json: last_error_report.category" \
	"crash None" \
	"$(for s in svc_segv svc_ok; do ctl services -s "$s" -o json; done |
		python3 -c '
import json, sys
text = sys.stdin.read().replace("]\n[", ",")
print(" ".join(str(v["last_error_report"]["category"])
               for v in json.loads(text)))')"

expect_eq "tail -F error_category=port: the port failure's exit record" \
	"svc_port|Process exited with code 1" \
	"$(ctl tail -n all -F error_category=port -o json | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["service"] + "|" + r["message"].split("\n")[0])')"
expect_eq "tail -F error_category=crash: the segfault" svc_segv \
	"$(ctl tail -n all -F error_category=crash -o json | python3 -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["service"])')"

# ---- real programs, as a user runs them -------------------------------------------

# report_category SERVICE: the Category line of the service's report file.
report_category() {
	sed -n 2p "$T/log/$1_error.log"
}

cat >"$W/app.py" <<'PY'
import json
import logbus_test_not_installed  # a dependency nobody installed

print(json.dumps({"app": "started"}))
PY
run_as "app.py, a module not installed" 1 app_dep python3 app.py
check "app.py: Python said so" \
	grep -q "ModuleNotFoundError: No module named 'logbus_test_not_installed'" \
	"$T/log/app_dep_error.log"
expect_eq "app.py: Category dependency" "Category: dependency" \
	"$(report_category app_dep)"

# the port: held by the test, then asked for by the server
cat >"$T/hold_port.py" <<'PY'
import os, signal, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.pause()
PY
python3 "$T/hold_port.py" "$T/port" &
HOLDER=$!
track_pid "$HOLDER"
wait_for 20 test -s "$T/port"
cat >"$W/server.py" <<'PY'
import socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen()
print("listening on", sys.argv[1])
PY
run_as "server.py, its port in use" 1 app_port python3 server.py "$(cat "$T/port")"
check "server.py: Python said so" \
	grep -q "Address already in use" "$T/log/app_port_error.log"
expect_eq "server.py: Category port" "Category: port" \
	"$(report_category app_port)"
stop_pid "$HOLDER"

# kill -9 from outside, while it works
cat >"$W/worker.py" <<'PY'
import os, sys, time
print("working", flush=True)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
PY
"$BIN/logbusctl" --run-dir "$T/run" run -s app_kill --cwd "$W" -- \
	python3 worker.py "$T/worker.pid" >/dev/null 2>&1 &
RUNNER=$!
track_pid "$RUNNER"
wait_for 20 test -s "$T/worker.pid"
kill -9 "$(cat "$T/worker.pid")"
rc=0
wait "$RUNNER" || rc=$?
untrack_pid "$RUNNER"
expect_eq "worker.py, kill -9: logbusctl run's status" 137 "$rc"
expect_eq "worker.py, kill -9: Category signal" "Category: signal" \
	"$(report_category app_kill)"
check "worker.py, kill -9: the signal line" \
	grep -qx "Signal: SIGKILL" "$T/log/app_kill_error.log"

# a C program that dereferences NULL
if command -v cc >/dev/null; then
	cat >"$W/segv.c" <<'C'
#include <stdio.h>

int main(void)
{
	volatile int *p = NULL;

	fprintf(stderr, "reading the configuration\n");
	return *p;
}
C
	cc -O0 -o "$W/segv" "$W/segv.c"
	run_as "segv, a C program" 139 app_segv ./segv
	expect_eq "segv: Category crash" "Category: crash" \
		"$(report_category app_segv)"
	check "segv: the signal line" \
		grep -qx "Signal: SIGSEGV" "$T/log/app_segv_error.log"
else
	echo "# skip: segv, a C program (no cc)"
fi

finish
