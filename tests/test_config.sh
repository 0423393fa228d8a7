#!/usr/bin/env bash
#
# test_config.sh: logbusd's configuration file (broker/config.c): the shipped
# sample, every kind of mistake stopping the start with the file, the line
# and the reason, options overriding the file, --check-config, and SIGHUP
# reloading routes and rate limits (and refusing a broken file without
# changing anything).
#
# Usage: bash tests/test_config.sh BIN_DIR SOURCE_DIR   (BIN_DIR holds
# logbusd and logbusctl; SOURCE_DIR is the project, for broker/logbusd.conf).
# Prints "ok - NAME" / "not ok - NAME" for each check and a last line
# "N passed, M failed"; exits 1 when any check failed.
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=${2:-}
need_bin_dir logbusd logbusctl -- "${1:-}"
test_init

# ---- the sample and --check-config -------------------------------------------

expect_exit "the shipped sample checks" 0 \
	"$BIN/logbusd" --config "$SRC/broker/logbusd.conf" --check-config
# Every commented key of the sample, uncommented, is a valid setting (with
# names this machine has: the logbus user comes with the system service).
sed 's/^#\([a-z]\)/\1/; s/^#\[/[/; s/= logbus$/= root/' \
	"$SRC/broker/logbusd.conf" >"$T/full.conf"
expect_exit "every key of the sample is valid" 0 \
	"$BIN/logbusd" --config "$T/full.conf" --check-config

# bad_config NAME REGEX: logbusd --check-config on $T/bad.conf (written by the
# caller) exits 2 with one line on stderr matching REGEX.
bad_config() {
	expect_exit "$1: exit 2" 2 \
		"$BIN/logbusd" --config "$T/bad.conf" --check-config
	expect_err_line "$1: message" "$2"
}

B="logbusd: $T/bad.conf"
printf '[journal]\nsegment-size = 1M\nsegmnt-size = 2M\n' >"$T/bad.conf"
bad_config "unknown key" "^$B:3: unknown key 'segmnt-size' in \[journal\]$"
printf '# x\n[journl]\nsegment-size = 1M\n' >"$T/bad.conf"
bad_config "unknown section" "^$B:3: unknown section \[journl\]"
printf '[journal]\n\nsegment-size = 1X\n' >"$T/bad.conf"
bad_config "bad size" \
	"^$B:3: \[journal\] segment-size: bad value '1X': a size of at least 4K"
printf '[journal]\nfsync-interval = 0\n' >"$T/bad.conf"
bad_config "out of range" "^$B:2: \[journal\] fsync-interval: bad value '0'"
printf '[journal]\nmax-age = 3 days\n' >"$T/bad.conf"
bad_config "bad duration" "^$B:2: \[journal\] max-age: bad value '3 days'"
printf '[routes]\ndefaults = maybe\n' >"$T/bad.conf"
bad_config "bad boolean" "^$B:2: \[routes\] defaults: bad value 'maybe'"
printf '[journal]\nsegment-size 1M\n' >"$T/bad.conf"
bad_config "not key = value" "^$B:2: not a \[section\] or key = value$"
printf 'segment-size = 1M\n' >"$T/bad.conf"
bad_config "key outside a section" "^$B:1: 'segment-size' is outside"
printf '[route x]\nfile = x.log\nlevel = loud\n' >"$T/bad.conf"
bad_config "bad route option" "^$B:3: \[route x\] level: unknown level 'loud'$"
printf '[route x]\nfile = x.log\nmax-size = 10X\n' >"$T/bad.conf"
bad_config "bad route size" "^$B:3: \[route x\] max-size: bad max-size '10X'$"
# A route's max-size is written as every other size in the file.
printf '[journal]\nsegment-size = 1MiB\n[route x]\nfile = x.log\nmax-size = 1MiB\n[route y]\nfile = y.log\nmax-size = 1T\n' >"$T/sizes.conf"
expect_exit "route sizes take the file's units (MiB, T)" 0 \
	"$BIN/logbusd" --config "$T/sizes.conf" --check-config
printf '[route x]\nlogger = a.b\n' >"$T/bad.conf"
bad_config "route without file" "^$B: \[route x\] has no file =$"
printf '[route x]\nfile = ../x.log\n' >"$T/bad.conf"
bad_config "route file outside the log directory" \
	"^$B: \[route x\]: route file '../x.log' must be a relative path"
printf '[route x]\nfile = all.log\n' >"$T/bad.conf"
bad_config "route clashing with all.log" "clashes with the default all.log"
{
	printf '[route x]\nfile = x.log\nservice = '
	printf 'svc_%03d|' $(seq 60)
	printf 'svc_end\n'
} >"$T/bad.conf"
bad_config "line too long" "^$B:3: line longer than 199 characters$"

expect_exit "a missing --config file stops the start" 2 \
	"$BIN/logbusd" --config "$T/absent.conf" --run-dir "$T/r0"
expect_err_line "missing file: message" \
	"^logbusd: $T/absent.conf: No such file or directory$"
check "missing file: nothing was created" test ! -e "$T/r0"
expect_exit "a bad option value names the option" 2 \
	"$BIN/logbusd" --segment-size 2K --check-config
expect_err_line "bad option: message" \
	"^logbusd: --segment-size: bad value '2K': a size of at least 4K"
# A size is digits, then a unit: strtoull's " -5" was 2^64 - 5 bytes, a
# --max-total that never removed anything.
expect_exit "a size with a space and a sign is refused" 2 \
	"$BIN/logbusd" --max-total ' -5' --check-config
expect_exit "a size with a plus is refused" 2 \
	"$BIN/logbusd" --segment-size +64M --check-config

# ---- systemd's directories ---------------------------------------------------

# Under the unit, RuntimeDirectory= and LogsDirectory= name the directories
# (the first of a list); the file or an option still wins.
RUNTIME_DIRECTORY="$T/sd-run:$T/other" LOGS_DIRECTORY="$T/sd-log" \
	start_logbusd "$T/sd.err" "$T/sd-run" --config /dev/null
# (start_logbusd passes --run-dir; check the log directory, which it does not)
check "LOGS_DIRECTORY is the log directory" test -d "$T/sd-log/journal"
stop_pid "$LOGBUSD_PID"
RUNTIME_DIRECTORY="$T/sd-run2" LOGS_DIRECTORY="$T/sd-log2" \
	"$BIN/logbusd" --config /dev/null --log-dir "$T/sd-opt" 2>"$T/sd2.err" &
SD2=$!
track_pid "$SD2"
check "RUNTIME_DIRECTORY is the run directory" \
	wait_sockets "$SD2" "$T/sd-run2" "$T/sd2.err"
check "an option wins over LOGS_DIRECTORY" test -d "$T/sd-opt/journal"
check "... which is left alone" test ! -e "$T/sd-log2"
stop_pid "$SD2"

# ---- a running broker --------------------------------------------------------

R=$T/run
L=$T/log
write_conf() { # write_conf ROUTE_SECTIONS...: $T/logbusd.conf
	{
		printf '[paths]\nrun-dir = %s\nlog-dir = %s\n' "$T/ignored" "$L"
		printf '[journal]\nfsync-interval = 0.5\n'
		printf '%b' "$@"
	} >"$T/logbusd.conf"
}
write_conf '[route one]\nfile = one.log\nservice = svc_one\n'
# --run-dir overrides the file's run-dir; log-dir comes from the file.
start_logbusd "$T/broker.err" "$R" --config "$T/logbusd.conf"
BROKER=$LOGBUSD_PID
check "options override the file" test ! -e "$T/ignored"
check "log-dir from the file" test -d "$L/journal"

ctl publish -s svc_one "first" >/dev/null
ctl publish -s svc_two "second" >/dev/null
check "the route of the file writes" wait_for 10 grep -q "first" "$L/one.log"

# count_lines PATTERN FILE N: FILE has exactly N lines matching PATTERN.
count_lines() { [ "$(grep -c -- "$1" "$2" 2>/dev/null)" -eq "$3" ]; }
# reload N: SIGHUP, then wait for the broker's Nth reload (each ends with
# one "applied" or "unchanged" line).
reload() {
	kill -HUP "$BROKER"
	wait_for 10 count_lines "reload: .*\(applied\|unchanged\)" \
		"$T/broker.err" "$1"
}

write_conf '[route two]\nfile = two.log\nservice = svc_two\nformat = json\n'
check "SIGHUP reloads" reload 1
check "reload: says it applied" \
	grep -q "reload: configuration from $T/logbusd.conf applied; 1 routes" \
	"$T/broker.err"
ctl publish -s svc_one "third" >/dev/null
ctl publish -s svc_two "fourth" >/dev/null
check "reload: the new route writes" \
	wait_for 10 grep -q '"message":"fourth"' "$L/two.log"
check "reload: the new route starts after the reload" \
	count_lines '"second"' "$L/two.log" 0
# all.log has "fourth" once two.log does: same batch, routes in order.
check "reload: the removed route stopped" count_lines "third" "$L/one.log" 0
check "reload: default routes still write" \
	wait_for 10 grep -q "fourth" "$L/all.log"

printf '[journal]\nsegment-size = 1\n' >"$T/logbusd.conf"
check "a broken file on reload is refused" reload 2
check "refused reload: says so" \
	grep -q "reload: $T/logbusd.conf:2: .*segment-size.*; the running configuration is unchanged" \
	"$T/broker.err"
ctl publish -s svc_two "fifth" >/dev/null
check "refused reload: the routes still write" \
	wait_for 10 grep -q '"message":"fifth"' "$L/two.log"

write_conf '[route two]\nfile = two.log\nservice = svc_two\nformat = json\n'
sed -i "s|^log-dir = .*|log-dir = $T/elsewhere|" "$T/logbusd.conf"
check "a restart-only change on reload" reload 3
check "restart-only change: named" \
	grep -q "reload: changed but kept until a restart: paths.log-dir" \
	"$T/broker.err"
ctl publish -s svc_two "sixth" >/dev/null
check "restart-only change: the log directory is kept" \
	wait_for 10 grep -q '"message":"sixth"' "$L/two.log"
check "restart-only change: nothing written elsewhere" \
	test ! -e "$T/elsewhere"
check "the broker's own records tell of reloads" \
	wait_for 10 sh -c "\"$BIN/logbusctl\" --run-dir '$R' tail -n 50 -s logbusd | grep -q 'reload: configuration'"

# ---- rate limits reloaded ---------------------------------------------------

# rate_limited: the broker's count of records its rate limits dropped.
rate_limited() {
	ctl stats -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rate_limited"])'
}
write_conf '[limits]\nrate-interval = 3600\nrate-burst = 5\n'
check "reload with a rate limit" reload 4
# publish says so: 3 of the 8 were not kept (exit 1)
seq 1 8 | sed 's/^/burst /' >"$T/burst.txt"
expect_exit "publish over the rate limit fails" 1 \
	ctl publish -s svc_rl - <"$T/burst.txt"
check "... and says how many were dropped" grep -q \
	"3 of 8 records from standard input were dropped by logbusd's rate limit" \
	"$T/err"
expect_eq "the reloaded limit drops over the burst" 3 "$(rate_limited)"
expect_eq "... and keeps the burst" 5 \
	"$(ctl tail -n all -s svc_rl -o cat | grep -c '^burst ')"
write_conf '[limits]\nrate-burst = 0\n'
check "reload without a rate limit" reload 5
seq 1 8 | sed 's/^/free /' | ctl publish -s svc_rl - >/dev/null
expect_eq "no limit after the reload: nothing more dropped" 3 "$(rate_limited)"
expect_eq "... every record kept" 8 \
	"$(ctl tail -n all -s svc_rl -o cat | grep -c '^free ')"

stop_pid "$BROKER"

# ---- the journal's own events ----------------------------------------------

# Segments started and removed are records of logbusd, followed like any.
start_logbusd "$T/small.err" "$T/small-run" --config /dev/null \
	--log-dir "$T/small-log" --segment-size 8K --max-total 32K
SMALL=$LOGBUSD_PID
# Ten publishes: ten batches (a batch is never split across segments);
# retention runs at each new segment.
for i in $(seq 10); do
	seq 1 50 | sed "s/^/filler $i record /" |
		"$BIN/logbusctl" --run-dir "$T/small-run" publish -s svc_fill - \
			>/dev/null
done
self_says() {
	"$BIN/logbusctl" --run-dir "$T/small-run" tail -n all -s logbusd -o cat |
		grep -q "$1"
}
check "a new journal segment is a record of logbusd" \
	wait_for 10 self_says '^journal: started .*journal, first record [0-9]'
check "a segment removed by retention is one too" \
	wait_for 10 self_says '^journal: removed .*journal (retention)'
stop_pid "$SMALL"
finish
