/*
 * sessions.h: the broker's memory of each publisher session's last batch,
 * so that a batch req0 sends twice (resend timer, reconnect, broker restart)
 * is acknowledged again without being written twice.
 *
 * A publisher has one batch in flight at a time, so one entry per session
 * (its highest committed batch) is enough.  A session is the publisher's
 * uid (from the socket) with its session id: another user who sends the
 * same id has a session of their own and cannot make the owner's batches
 * look resent.  The table is bounded: a uid keeps at most
 * SESSIONS_PER_UID_MAX entries (its own least recently used is forgotten),
 * and past SESSIONS_MAX in all the least recently used of anyone's.  So a
 * user who opens sessions without end pushes out only their own.  At
 * start-up the journal's sessions file and its newest batch markers refill
 * it (journal_config.on_batch); markers written before they carried the
 * uid refill it with SESSIONS_UID_UNKNOWN, found by any uid.
 */
#ifndef LOGBUS_SESSIONS_H
#define LOGBUS_SESSIONS_H

#include <stdint.h>

#define SESSIONS_MAX         65536
#define SESSIONS_PER_UID_MAX 4096
#define SESSIONS_UID_UNKNOWN UINT32_MAX

struct sessions;

struct session_batch {
	uint64_t batch;     /* highest committed batch number */
	uint64_t first_seq; /* its first record's sequence number */
	uint32_t count;     /* records it committed */
};

struct sessions *sessions_new(uint32_t max, uint32_t per_uid_max);
void sessions_free(struct sessions *s);

/* The last committed batch of uid's session, or NULL.  Marks it used. */
const struct session_batch *sessions_find(struct sessions *s, uint32_t uid,
                                          uint64_t session);

/* Remember a committed batch (keeps the highest batch number).  Returns 0, or
 * -1 when out of memory (dedup is then best effort for that session). */
int sessions_commit(struct sessions *s, uint32_t uid, uint64_t session,
                    const struct session_batch *b);

uint32_t sessions_count(const struct sessions *s);

/* Call each(arg, uid, session, b) for every entry, least recently used
 * first: committing them in that order into an empty table gives it the
 * same order (the journal's sessions file, journal_config.each_batch). */
void sessions_each(const struct sessions *s,
                   void (*each)(void *arg, uint32_t uid, uint64_t session,
                                const struct session_batch *b),
                   void *arg);

#endif
