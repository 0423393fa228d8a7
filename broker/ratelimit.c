/*
 * ratelimit.c: per-service rate limiting with journald's semantics.
 *
 * A service's window starts with its first record; within
 * cfg.rate_interval_s at most cfg.rate_burst of its records are journaled
 * and the rest are dropped and counted.  When the window has ended, exactly
 * one WARNING record of the service "logbusd", logger "logbus", says
 * "Suppressed N records from service X" (fields service=X, suppressed=N),
 * written by whichever comes first: the service's next record (which starts
 * a new window) or the sweep that runs every second.  The publisher is
 * acknowledged for dropped records (they were received, and dropped by
 * policy, like journald's): the ack's "limited" says how many.
 *
 * Cost on the ingest path: one service lookup per run of records of one
 * service in a batch (a library batch is one run), nothing per record but
 * the copy that closes the gap.  The broker's own service is never limited.
 * Limits are read from b->cfg at each use, so a reload takes effect at once.
 */
#include "ratelimit.h"

#include <string.h>

#include "batch.h"
#include "broker.h"
#include "proto.h"
#include "selflog.h"
#include "services.h"
#include "timefmt.h"

#define RATE_SWEEP_S 1.0

static int64_t interval_ns(const struct broker *b)
{
	return (int64_t)(b->cfg.rate_interval_s * 1e9);
}

static void report(struct broker *b, struct service *svc)
{
	logbus_field f[] = {
	    LOGBUS_STR("service", svc->id),
	    LOGBUS_INT("suppressed", (int64_t)svc->rate_suppressed),
	};

	broker_log_fields(b, LOGBUS_WARNING, f, 2,
	                  "Suppressed %llu records from service %s",
	                  (unsigned long long)svc->rate_suppressed, svc->id);
	svc->rate_suppressed = 0;
}

/* How many of n more records of svc its window lets through at now. */
static uint64_t admit(struct broker *b, struct service *svc, uint64_t n,
                      int64_t now)
{
	uint64_t burst = b->cfg.rate_burst;

	if (svc->rate_count == 0 ||
	    now - svc->rate_start_ns >= interval_ns(b)) {
		if (svc->rate_suppressed > 0) {
			report(b, svc);
			if (b->ratelimit.suppressing > 0)
				b->ratelimit.suppressing--;
		}
		svc->rate_start_ns = now;
		svc->rate_count = 0;
	}
	uint64_t room = svc->rate_count < burst ? burst - svc->rate_count : 0;
	uint64_t k = n < room ? n : room;
	svc->rate_count += n;
	if (k < n) {
		if (svc->rate_suppressed == 0)
			b->ratelimit.suppressing++;
		svc->rate_suppressed += n - k;
	}
	return k;
}

void ratelimit_batch(struct broker *b, struct batch *bt)
{
	size_t from = 0, out = 0, n = bt->n;
	int64_t now;

	if (b->cfg.rate_burst == 0 || n == 0)
		return;
	now = timefmt_mono_ns();
	while (from < n) {
		const struct lb_str *svc_id = &bt->views[from].service;
		size_t to = from + 1;
		while (to < n && bt->views[to].service.len == svc_id->len &&
		       memcmp(bt->views[to].service.p, svc_id->p,
		              svc_id->len) == 0)
			to++;
		size_t keep = to - from;
		if (!service_is_self(svc_id->p, svc_id->len)) {
			struct service *svc =
			    services_get(b->services, svc_id->p, svc_id->len);
			if (svc != NULL) /* out of memory: not limited */
				keep = (size_t)admit(b, svc, to - from, now);
		}
		if (out != from && keep > 0) {
			memmove(&bt->recs[out], &bt->recs[from],
			        keep * sizeof *bt->recs);
			memmove(&bt->views[out], &bt->views[from],
			        keep * sizeof *bt->views);
		}
		out += keep;
		b->stats.rate_limited += to - from - keep;
		from = to;
	}
	bt->n = out;
}

struct sweep {
	struct broker *b;
	int64_t now;
	bool all; /* report every window, ended or not (shutdown) */
	uint32_t pending;
};

static void sweep_one(void *arg, struct service *svc)
{
	struct sweep *sw = arg;

	if (svc->rate_suppressed == 0)
		return;
	if (sw->all || sw->now - svc->rate_start_ns >= interval_ns(sw->b))
		report(sw->b, svc);
	else
		sw->pending++;
}

/* ratelimit.suppressing is an upper bound (a service forgotten by the LRU
 * takes its count along); the sweep sets it right. */
static void sweep(struct broker *b, bool all)
{
	struct sweep sw = {.b = b, .now = timefmt_mono_ns(), .all = all};

	if (b->ratelimit.suppressing == 0 || b->services == NULL)
		return;
	services_each_mut(b->services, sweep_one, &sw);
	b->ratelimit.suppressing = sw.pending;
}

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	sweep(w->data, false);
}

void ratelimit_init(struct broker *b)
{
	ev_timer *w = &b->ratelimit.sweep_w;

	ev_timer_init(w, on_sweep, RATE_SWEEP_S, RATE_SWEEP_S);
	w->data = b;
	ev_timer_start(b->loop, w);
}

void ratelimit_flush(struct broker *b)
{
	sweep(b, true);
}
