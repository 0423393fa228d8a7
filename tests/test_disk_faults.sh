#!/usr/bin/env bash
#
# test_disk_faults.sh: a real logbusd on file systems that fail under it
# (issue 15 item 2).  The log directory and its journal/ are two small
# tmpfs mounts, so that each can be filled alone:
#
#  - the journal's file system full: publishers are held back (their
#    batches refused with journal_error and sent again, never acknowledged
#    and lost), reads go on, and the held records are committed exactly once
#    as soon as space returns;
#  - the file system of the routed files and error reports full: publishing
#    goes on, a routed file and a report fail with a WARNING record of
#    logbusd, and both catch up from the journal by themselves when space
#    returns (the route every record once, the report of the exit);
#  - the journal's directory read-only (chattr +i: the kernel refuses to
#    remount a file system read-only while logbusd holds its segment open
#    for writing, EBUSY): appends that need a new segment are held back,
#    reads go on, and everything held is committed once it is writable.
#
# The log directory removed while logbusd runs is test_journal_damage.sh's.
# Needs root (mount); exits 77 with a message otherwise, or when the machine
# does not allow a tmpfs mount or chattr on it.
#
# Usage: bash tests/test_disk_faults.sh BIN_DIR (with logbusd and logbusctl).
set -eEuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_bin_dir logbusd logbusctl -- "${1:-}"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: test_disk_faults mounts small tmpfs file systems: run as root"
	exit 77
fi
test_init

MOUNTS=()
test_cleanup() {
	local i
	chattr -i "$T/log/journal" 2>/dev/null || true
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}"
	done
}

# mount_small DIR SIZE: a tmpfs of SIZE at DIR (made), or skip the test.
mount_small() {
	mkdir -p "$1"
	if ! mount -t tmpfs -o "size=$2,mode=0750" tmpfs "$1" 2>"$T/mount.err"; then
		echo "SKIP: cannot mount a tmpfs here: $(cat "$T/mount.err")"
		exit 77
	fi
	MOUNTS+=("$1")
}

# fill DIR: a file in DIR takes every free block (dd stops at ENOSPC).
fill() {
	dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null || true
	sync
}

self_says() {
	{ ctl tail -n all -s logbusd -o cat 2>/dev/null || true; } |
		grep -q -- "$1"
}

# lines PREFIX N: N numbered lines.
lines() {
	seq 1 "$2" | sed "s/^/$1 /"
}

# once_each PREFIX N FILE...: FILE (records of app, or a routed file) holds
# every line of lines PREFIX N exactly once.
once_each() {
	local prefix=$1 n=$2
	shift 2
	diff <(lines "$prefix" "$n") \
		<(cat "$@" | grep -oE -- "(^| )$prefix [0-9]+\$" | sed 's/^ //' |
			sort -k2,2n)
}

app_records() {
	ctl tail -n all -s app -o cat
}

mount_small "$T/log" 4m
mount_small "$T/log/journal" 4m
start_broker --route 'app.log:service=app'

# ---- the journal's file system full ----------------------------------------

lines before 100 | ctl publish -s app - >/dev/null
fill "$T/log/journal"
lines held 2000 | ctl publish -s app --timeout 300 - >/dev/null 2>"$T/pub.err" &
pub=$!
track_pid "$pub"
check "a full journal refuses the batch and says why" \
	wait_for 20 grep -q "No space left on device" "$T/broker.err"
check "the publisher is held back, not failed" kill -0 "$pub"
check "reads go on while the journal is full" once_each before 100 <(app_records)
check "... and stats answer" ctl stats
rm "$T/log/journal/filler"
rc=0
wait "$pub" || rc=$?
untrack_pid "$pub"
expect_eq "the held publish ends well once space returns" 0 "$rc"
check "every held record is in the journal exactly once" \
	once_each held 2000 <(app_records)
check "... and in the routed file" once_each held 2000 "$T/log/app.log"

# ---- the routed files' and reports' file system full -----------------------

fill "$T/log"
lines routed 300 | ctl publish -s app - >/dev/null
expect_exit "a command's exit is published with the files' disk full" 3 \
	ctl run -s svc_full -- sh -c 'echo about to fail >&2; exit 3'
check "the journal took them" once_each routed 300 <(app_records)
check "the routed file's failure is a WARNING record" \
	wait_for 20 self_says "route app.log: cannot write"
check "the report's failure is a WARNING record" \
	wait_for 20 self_says "error report: .*No space left on device"
check "no report was written" test ! -e "$T/log/svc_full_error.log"
rm "$T/log/filler"
check "the report is written by itself once space returns" \
	wait_for 30 test -s "$T/log/svc_full_error.log"
check "... the report of that exit" \
	grep -q "^Exit code: 3$" "$T/log/svc_full_error.log"
check "the routed file catches up by itself" \
	wait_for 30 once_each routed 300 "$T/log/app.log"
check "... with the earlier records still once" \
	once_each held 2000 "$T/log/app.log"
check "logbusd says the route works again" \
	wait_for 20 self_says "route app.log: writing again"
check "... and the reports" wait_for 20 self_says "error reports: writing again"
stop_broker

# ---- the journal's directory read-only -------------------------------------

# Small segments: a batch soon needs a new segment file.
# newest_full: the newest segment is at its size, so the next batch needs
# a new segment file.
newest_full() {
	local f
	f=$(find "$T/log/journal" -name '*.journal' | sort | tail -n 1)
	[ "$(stat -c %s "$f")" -ge 4096 ]
}
start_broker --segment-size 4K
lines early 100 | ctl publish -s app - >/dev/null
for _ in 1 2 3 4 5 6 7 8; do
	newest_full && break
	lines pad 40 | ctl publish -s pad - >/dev/null
done
check "the newest segment is full" newest_full
if ! chattr +i "$T/log/journal" 2>"$T/chattr.err"; then
	echo "SKIP: chattr +i on a tmpfs is not allowed here: $(cat "$T/chattr.err")"
	exit 77
fi
lines rdonly 500 | ctl publish -s app --timeout 300 - >/dev/null 2>"$T/pub.err" &
pub=$!
track_pid "$pub"
check "a read-only journal directory refuses the batch and says why" \
	wait_for 20 grep -q "Operation not permitted" "$T/broker.err"
check "the publisher is held back, not failed" kill -0 "$pub"
check "reads go on while the journal is read-only" \
	once_each early 100 <(app_records)
chattr -i "$T/log/journal"
rc=0
wait "$pub" || rc=$?
untrack_pid "$pub"
expect_eq "the held publish ends well once the directory is writable" 0 "$rc"
check "every held record is in the journal exactly once" \
	once_each rdonly 500 <(app_records)
stop_broker
start_broker --segment-size 4K
check "... and after a restart" once_each rdonly 500 <(app_records)
check "... with what came before" once_each held 2000 <(app_records)
stop_broker

finish
