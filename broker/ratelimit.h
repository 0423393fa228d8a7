/*
 * ratelimit.h: per-service windows of cfg.rate_burst records per
 * cfg.rate_interval_s (ratelimit.c says how journald's semantics are kept).
 */
#ifndef LOGBUS_RATELIMIT_H
#define LOGBUS_RATELIMIT_H

#include <stdint.h>

#include <ev.h>

struct batch;
struct broker;

struct ratelimit {
	ev_timer sweep_w;     /* ends windows each second */
	uint32_t suppressing; /* services with suppressed > 0 (or more) */
};

/* Start the sweep: a window that ended with records suppressed is reported
 * ("Suppressed N records from service X") within a second. */
void ratelimit_init(struct broker *b);
/* Drop from bt the records over their service's limit (the rest keep
 * their order) and count them in b->stats.rate_limited. */
void ratelimit_batch(struct broker *b, struct batch *bt);
/* Report every suppressed count now, windows ended or not (at a stop). */
void ratelimit_flush(struct broker *b);

#endif
