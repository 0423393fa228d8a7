/*
 * sessions.h: the broker's memory of each publisher session's last batch,
 * so that a batch req0 sends twice (resend timer, reconnect, broker restart)
 * is acknowledged again without being written twice.
 *
 * A publisher has one batch in flight at a time, so one entry per session
 * (its highest committed batch) is enough.  The table is bounded: past
 * SESSIONS_MAX entries the least recently used is forgotten.  At start-up
 * the journal's batch markers refill it (journal_config.on_batch).
 */
#ifndef LOGBUS_SESSIONS_H
#define LOGBUS_SESSIONS_H

#include <stdint.h>

#define SESSIONS_MAX 65536

struct sessions;

struct session_batch {
	uint64_t batch;     /* highest committed batch number */
	uint64_t first_seq; /* its first record's sequence number */
	uint32_t count;     /* records it committed */
};

struct sessions *sessions_new(uint32_t max);
void sessions_free(struct sessions *s);

/* The last committed batch of a session, or NULL.  Marks it used. */
const struct session_batch *sessions_find(struct sessions *s, uint64_t session);

/* Remember a committed batch (keeps the highest batch number).  Returns 0, or
 * -1 when out of memory (dedup is then best effort for that session). */
int sessions_commit(struct sessions *s, uint64_t session,
                    const struct session_batch *b);

uint32_t sessions_count(const struct sessions *s);

#endif
