/*
 * waiters.h: reads the broker holds (the long poll).
 *
 * A read request with "wait" that finds nothing new at the end of the
 * journal is not answered at once: it is parked until records the reader
 * may see are committed, or its wait ends, or the broker stops.  The query
 * socket is raw rep0, so a reply may go out any time later.  This is how a
 * reader that may not use the live socket (access.h) follows promptly.
 *
 * The waiters do not read the journal themselves: they call back the serve
 * function they were made with (query.c's read_serve) to answer a waiter
 * or learn that it waits on.
 *
 * Bounded: at most WAITERS_MAX parked, first in first out; past that the
 * oldest is answered (empty, at the end) to make room.  Loop thread only.
 */
#ifndef LOGBUS_WAITERS_H
#define LOGBUS_WAITERS_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>
#include <nng/nng.h>

#include "filter.h"
#include "request.h"

#define WAITERS_MAX 1024
#define WAIT_MAX_MS 60000 /* a longer "wait" is cut to this */

struct endpoint;

/* One read request, decoded (query.c). */
struct read_req {
	struct filter flt;
	uint64_t after; /* records with seq > after */
	uint64_t max, maxb;
	uint64_t wait_ms;
	struct reader reader; /* who asks: which records it may see */
};

enum read_result { READ_ANSWERED, READ_PARK };

/* Read for rq and reply to msg; or, when may_park and nothing new is there
 * yet, move rq->after to the end and return READ_PARK without replying. */
typedef enum read_result waiters_serve_fn(struct endpoint *ep, nng_msg *msg,
                                          struct read_req *rq, bool may_park);

struct waiters;

struct waiters *waiters_new(struct ev_loop *loop, waiters_serve_fn *serve);
void waiters_free(struct waiters *w);

/* Hold rq (its filter becomes the waiter's) and msg's routing header.
 * Returns 0, or -1 when out of memory (nothing was taken). */
int waiters_park(struct waiters *w, struct endpoint *ep, nng_msg *msg,
                 struct read_req *rq);

/* Records of this uid were committed: wake the waiters that may see them
 * (after the current loop iteration, so that a burst wakes them once). */
void waiters_committed(struct waiters *w, uint32_t uid);

/* Answer every waiter now (the broker is stopping). */
void waiters_release(struct waiters *w);

#endif
