/*
 * query.h: reads from the journal by cursor and filter, journal info, the
 * rotate op (query.c).
 */
#ifndef LOGBUS_QUERY_H
#define LOGBUS_QUERY_H

#include <stdbool.h>

#include <nng/nng.h>

#include "request.h"
#include "waiters.h"

struct endpoint;

/* The ops of the query socket (some live in stats.c and error_report.c). */
extern const struct request_op query_ops[];

/* Read for rq and reply; or, when may_park and nothing new is there yet,
 * move rq->after to the end and return READ_PARK without replying.  The
 * waiters serve parked reads with it. */
enum read_result read_serve(struct endpoint *ep, nng_msg *msg,
                            struct read_req *rq, bool may_park);

struct broker;
/* The tails being scanned in slices (b->tails): set up before the loop
 * runs; answered "shutting down" and freed at a stop (release), freed
 * without a word when the endpoints are closed (fini). */
void query_init(struct broker *b);
void query_release(struct broker *b);
void query_fini(struct broker *b);

#endif
