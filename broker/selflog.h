/*
 * selflog.h: the broker's own events (selflog.c): a line on stderr, and
 * once the journal is open a record of the service "logbusd", logger
 * "logbus", committed after the current request is done.
 *
 * selflog does not know how a batch is committed: broker.c installs the
 * commit (ingest's append and fan-out, as for a publisher's batch).
 */
#ifndef LOGBUS_SELFLOG_H
#define LOGBUS_SELFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "batch.h"
#include "logbus/logbus.h"

struct broker;
struct self_event;

/* Commit bt as batch bn of session: 0, or -1 with err. */
typedef int selflog_commit_fn(void *arg, struct batch *bt, uint64_t session,
                              uint64_t bn, char *err, size_t errlen);

struct selflog {
	struct self_event *events; /* waiting to become records */
	size_t nevents;
	uint64_t dropped; /* past the queue's bound */
	bool done;        /* selflog_fini ran: events go to stderr only */
	uint64_t session, bn;
	ev_check flush_w;
	struct batch batch;
	selflog_commit_fn *commit; /* NULL until selflog_init */
	void *commit_arg;
};

/* An event at a level (LOGBUS_*). */
void broker_log(struct broker *b, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with up to SELFLOG_FIELDS structured fields (string values
 * copied, keys must be literals). */
void broker_log_fields(struct broker *b, int level, const logbus_field *f,
                       size_t nf, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The same under another logger than "logbus" (a literal: alerts.c's
 * "logbus.alert"). */
void broker_log_as(struct broker *b, const char *logger, int level,
                   const logbus_field *f, size_t nf, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The longest event text; longer ones are cut. */
#define SELFLOG_TEXT_MAX 512

/* The journal is open: commit queued events with commit(arg, ...) after
 * each loop iteration. */
void selflog_init(struct broker *b, selflog_commit_fn *commit, void *arg);
/* Commit queued events now. */
void selflog_flush(struct broker *b);
void selflog_fini(struct broker *b);

#endif
