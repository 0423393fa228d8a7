/*
 * batch.h: the records of one batch on their way from the journal append
 * to everything that follows a commit (live, the routed files, the error
 * reports, the long polls).
 *
 * A batch is passed explicitly down the data path; nothing reaches for it
 * through the broker.  Its arrays and zone are scratch reused from one batch
 * to the next (no per-record allocation): the one that owns a batch
 * (ingest.c for publishes, selflog.c for the broker's own events) fills it,
 * commits it and clears it before the next.
 *
 * Invariant: recs[i] and views[i] are the same record; views[i] points into
 * recs[i].data and into zone, so the batch lives as long as both.
 */
#ifndef LOGBUS_BATCH_H
#define LOGBUS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "frame.h"
#include "journal.h"
#include "record.h"

struct batch {
	struct journal_rec *recs;  /* the records, as the journal takes them */
	struct record_view *views; /* parallel to recs: decoded once */
	size_t n;
	struct frame_record stamp; /* trusted fields and receive time */
	uint64_t first_seq;        /* of recs[0], once committed */
	/* storage */
	size_t cap;
	msgpack_zone zone; /* the views' objects */
};

void batch_init(struct batch *bt);
void batch_fini(struct batch *bt);
/* Room for n records in recs and views: true, or false when out of memory
 * (the batch is unchanged). */
bool batch_reserve(struct batch *bt, size_t n);
/* Empty, ready for the next batch: the views' objects are freed. */
void batch_clear(struct batch *bt);

#endif
