/*
 * services.h: what the broker knows about each service it has seen since it
 * started: the sequence number of its last record (the "prev" every live
 * record carries, so that a subscriber sees a gap) and its counters.
 *
 * Bounded: past SERVICES_MAX entries the least recently active is forgotten.
 * prev is then reported as the "horizon": the highest sequence number for
 * which the table may be incomplete (the journal's last at start, or the
 * last seq of an evicted service), an upper bound of the true previous
 * record, so a subscriber that is behind the horizon repairs from the
 * journal: conservative, never wrong.
 */
#ifndef LOGBUS_SERVICES_H
#define LOGBUS_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#define SERVICES_MAX 100000

struct service {
	char *id;
	size_t len;
	uint64_t last_seq;
	int64_t first_time_ns, last_time_ns; /* the records' own times */
	uint64_t records, bytes;
	uint64_t by_level[6]; /* <DEBUG.. DEBUG, INFO, WARNING, ERROR, >=CRIT */
	/* The last error report written for it (0: none since start). */
	int64_t report_ns;    /* when, broker's clock */
	int64_t exit_code;    /* >= 0 exit status, -N killed by signal N */
	char *exit_summary;   /* first line of the exit record's message */
	const char *category; /* its error category (category.h's), or NULL */
	/* rate limit (ratelimit.c): the current window, monotonic ns */
	int64_t rate_start_ns;
	uint64_t rate_count;      /* records seen in the window */
	uint64_t rate_suppressed; /* of them dropped, not yet reported */
};

struct services;

struct services *services_new(uint32_t max, uint64_t horizon);
void services_free(struct services *s);

/* Find or add (NULL when out of memory).  Marks it most recently used. */
struct service *services_get(struct services *s, const char *id, size_t len);
/* The prev to publish for a service's next record. */
uint64_t services_prev(const struct services *s, const struct service *svc);
uint64_t services_horizon(const struct services *s);

/* The entry of a service, or NULL; does not change the LRU order. */
const struct service *services_find(const struct services *s, const char *id,
                                    size_t len);

/* Count a committed record of len bytes. */
void services_count(struct service *svc, uint64_t seq, int level,
                    int64_t time_ns, uint32_t len);

/* Remember the error report just written for svc; summary is copied (at
 * most SERVICE_SUMMARY_MAX bytes); category is category.h's name or NULL. */
#define SERVICE_SUMMARY_MAX 200
void services_report(struct service *svc, int64_t when_ns, int64_t exit_code,
                     const char *category, const char *summary, size_t len);

/* Visit every known service (for stats), most recent first. */
void services_each(const struct services *s,
                   void (*fn)(void *arg, const struct service *svc), void *arg);
uint32_t services_size(const struct services *s);
/* The same, for changing a service's state (not the table). */
void services_each_mut(struct services *s,
                       void (*fn)(void *arg, struct service *svc), void *arg);

#endif
