/*
 * stats.h: the broker's figures, for `logbusctl stats` and `logbusctl
 * services` (the query ops "stats" and "services", stats.c).
 *
 * The counters themselves live where they are counted (struct broker_stats,
 * the journal, the syncer, the routes, the endpoints' pipe counts, the
 * services table); this file only adds the ingest rate and reads the rest
 * when asked.  The rate costs nothing per record: a one-second timer takes a
 * snapshot of the committed count into a small ring, and a rate is the
 * difference of two snapshots over the loop's time between them.
 */
#ifndef LOGBUS_STATS_H
#define LOGBUS_STATS_H

#include <stdint.h>

#include <ev.h>
#include <msgpack.h>
#include <nng/nng.h>

#include "endpoint.h"

#define STATS_WINDOW       60   /* seconds of the longer average */
#define STATS_SERVICES_MAX 5000 /* services in one "services" reply */

struct stats_rate {
	ev_timer tick_w;
	uint64_t records[STATS_WINDOW + 1]; /* committed, at each tick */
	uint64_t bytes[STATS_WINDOW + 1];
	ev_tstamp at[STATS_WINDOW + 1];
	unsigned head, ticks;
	int64_t started_mono_ns; /* for the uptime */
	/* nng's counts of refused connections (endpoint_refusals): its
	 * snapshot copies every pipe's statistics, so it is taken at most
	 * once a second, whoever asks how often */
	struct endpoint_refusals wire[3];
	ev_tstamp wire_at;
};

struct broker;
struct endpoint;
struct reader;

/* Start and stop the rate's timer. */
void stats_init(struct broker *b);
void stats_fini(struct broker *b);

/* Count a publish batch seen for the first time (not a resend): its
 * records and their bytes, whatever becomes of them, and the records its
 * publisher dropped since its previous batch (the request's "dr"). */
void stats_count_batch(struct broker *b, const msgpack_object_array *recs,
                       const msgpack_object *req);

/* The "routes" key of the info and stats replies: the routed files' counts
 * (routes_get_stats) as a map. */
void stats_pack_routes(struct broker *b, msgpack_packer *pk);

/* The query ops "stats" (the broker-wide counters) and "services". */
void stats_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
              const struct reader *rd);
void services_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
                 const struct reader *rd);

#endif
