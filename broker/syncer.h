/*
 * syncer.h: the journal's fdatasync calls, on a thread of their own.
 *
 * An fdatasync takes 10-50 ms on this kind of disk; on the loop thread that
 * stalled every ack and every live record behind it once a second (measured:
 * p99 live latency 7.8 ms at 20,000 records/s; 0.53 ms with the sync moved).
 * The journal hands over a dup()ed descriptor (journal_config.sync_async);
 * the thread syncs and closes it, so a segment the loop closes meanwhile
 * stays valid.  Syncs that a reply waits for (a CRITICAL record) and the
 * last one at shutdown stay synchronous in the loop.
 *
 * Error reports are synced here too, when there is room (syncer_offer).
 *
 * The thread also closes the last descriptor of removed files (a rotated
 * file's oldest backup, a segment dropped by retention): freeing a large
 * file's blocks is done by that close, and on a filesystem mounted with
 * `discard` it waits for the disk (measured: rotation of the routed files
 * put the loop in D state a fifth of the time during an ingest at
 * 400,000 records/s).
 */
#ifndef LOGBUS_SYNCER_H
#define LOGBUS_SYNCER_H

#include <stdint.h>

#include <ev.h>

struct syncer;

struct syncer_stats {
	uint64_t syncs, errors;
	uint64_t last_ns;   /* duration of the last sync */
	int64_t last_at_ns; /* when it ended, CLOCK_MONOTONIC */
};

/* on_error runs in the loop (through an ev_async) with the failure's text. */
struct syncer *syncer_new(struct ev_loop *loop,
                          void (*on_error)(void *arg, const char *msg),
                          void *arg);
/* Queue a sync of fd (which the syncer closes); path names it in errors.
 * A directory gets fsync, a file fdatasync. */
void syncer_submit(void *syncer, int fd, const char *path);
/* Queue a sync of fd if the queue is less than half full, and return 1;
 * else return 0 and leave fd to the caller.  For files whose sync may be
 * left to the kernel (error reports): they never take the room the
 * journal's syncs need, nor make the caller wait. */
int syncer_offer(void *syncer, int fd, const char *path);
/* Queue the close of fd, a removed file's last descriptor (no sync). */
void syncer_release(void *syncer, int fd);
void syncer_get_stats(struct syncer *s, struct syncer_stats *st);
/* Finish what is queued, stop the thread, free. */
void syncer_free(struct syncer *s);

#endif
