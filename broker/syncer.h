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
/* Queue a sync of fd (which the syncer closes); path names it in errors. */
void syncer_submit(void *syncer, int fd, const char *path);
void syncer_get_stats(struct syncer *s, struct syncer_stats *st);
/* Finish what is queued, stop the thread, free. */
void syncer_free(struct syncer *s);

#endif
