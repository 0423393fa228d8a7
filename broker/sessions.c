/*
 * sessions.c: (uid, session) -> last committed batch, a chained hash table
 * with two intrusive LRU lists: one over every entry and one per uid
 * (sessions.h).  Entries are allocated once per new session, never per
 * batch.
 *
 * Invariants: an entry is on the global list and on its uid's list; a uid
 * slot exists while it has entries; no uid holds more than per_uid_max
 * entries, so one user's new sessions evict only that user's old ones.
 */
#include "sessions.h"

#include <stdlib.h>

#include "lru.h"

#define UID_BUCKETS 256

struct uid_slot {
	uint32_t uid, count;
	struct lru lru; /* this uid's entries */
	struct uid_slot *next;
};

struct entry {
	uint64_t session;
	struct session_batch b;
	struct uid_slot *owner;
	struct entry *next; /* hash chain */
	struct lru_node lru, uid_lru;
};

struct sessions {
	struct entry **buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t count, max, per_uid_max;
	struct lru lru;
	struct uid_slot *uids[UID_BUCKETS];
};

static uint32_t bucket_of(const struct sessions *s, uint32_t uid,
                          uint64_t session)
{
	/* Session ids are random, but mix anyway in case a client's are not. */
	uint64_t h =
	    (session ^ ((uint64_t)uid << 32 | uid)) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (s->nbuckets - 1);
}

struct sessions *sessions_new(uint32_t max, uint32_t per_uid_max)
{
	struct sessions *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->max = max ? max : 1;
	s->per_uid_max = per_uid_max ? per_uid_max : 1;
	s->buckets = lru_buckets_new(s->max, sizeof *s->buckets, &s->nbuckets);
	if (s->buckets == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void sessions_free(struct sessions *s)
{
	if (s == NULL)
		return;
	for (struct lru_node *n = s->lru.head, *next; n; n = next) {
		struct entry *e = lru_entry(n, struct entry, lru);
		next = n->next;
		free(e);
	}
	for (size_t i = 0; i < UID_BUCKETS; i++)
		for (struct uid_slot *u = s->uids[i], *next; u; u = next) {
			next = u->next;
			free(u);
		}
	free(s->buckets);
	free(s);
}

static struct uid_slot **uid_link(struct sessions *s, uint32_t uid)
{
	struct uid_slot **pp = &s->uids[uid % UID_BUCKETS];
	while (*pp && (*pp)->uid != uid)
		pp = &(*pp)->next;
	return pp;
}

static struct entry *lookup(struct sessions *s, uint32_t uid, uint64_t session)
{
	for (struct entry *e = s->buckets[bucket_of(s, uid, session)]; e;
	     e = e->next)
		if (e->session == session && e->owner->uid == uid)
			return e;
	return NULL;
}

static void evict(struct sessions *s, struct entry *victim)
{
	struct uid_slot *u = victim->owner;
	struct entry **pp = &s->buckets[bucket_of(s, u->uid, victim->session)];

	while (*pp != victim)
		pp = &(*pp)->next;
	*pp = victim->next;
	lru_unlink(&s->lru, &victim->lru);
	lru_unlink(&u->lru, &victim->uid_lru);
	free(victim);
	s->count--;
	if (--u->count == 0) {
		struct uid_slot **up = uid_link(s, u->uid);
		*up = u->next;
		free(u);
	}
}

const struct session_batch *sessions_find(struct sessions *s, uint32_t uid,
                                          uint64_t session)
{
	struct entry *e = lookup(s, uid, session);
	if (e == NULL && uid != SESSIONS_UID_UNKNOWN)
		e = lookup(s, SESSIONS_UID_UNKNOWN, session);
	if (e == NULL)
		return NULL;
	lru_touch(&s->lru, &e->lru);
	lru_touch(&e->owner->lru, &e->uid_lru);
	return &e->b;
}

int sessions_commit(struct sessions *s, uint32_t uid, uint64_t session,
                    const struct session_batch *b)
{
	struct entry *e = lookup(s, uid, session);

	if (e != NULL) {
		if (b->batch >= e->b.batch)
			e->b = *b;
		lru_touch(&s->lru, &e->lru);
		lru_touch(&e->owner->lru, &e->uid_lru);
		return 0;
	}
	struct uid_slot **up = uid_link(s, uid), *u = *up;
	if (u != NULL && u->count >= s->per_uid_max)
		evict(s, lru_entry(u->lru.tail, struct entry, uid_lru));
	else if (s->count >= s->max)
		evict(s, lru_entry(s->lru.tail, struct entry, lru));
	up = uid_link(s, uid); /* an eviction may have freed or moved it */
	u = *up;
	if (u == NULL) {
		if ((u = calloc(1, sizeof *u)) == NULL)
			return -1;
		u->uid = uid;
		*up = u;
	}
	e = calloc(1, sizeof *e);
	if (e == NULL) {
		if (u->count == 0) {
			*uid_link(s, uid) = u->next;
			free(u);
		}
		return -1;
	}
	e->session = session;
	e->b = *b;
	e->owner = u;
	uint32_t i = bucket_of(s, uid, session);
	e->next = s->buckets[i];
	s->buckets[i] = e;
	lru_push(&s->lru, &e->lru);
	lru_push(&u->lru, &e->uid_lru);
	u->count++;
	s->count++;
	return 0;
}

uint32_t sessions_count(const struct sessions *s)
{
	return s->count;
}

void sessions_each(const struct sessions *s,
                   void (*each)(void *arg, uint32_t uid, uint64_t session,
                                const struct session_batch *b),
                   void *arg)
{
	for (const struct lru_node *n = s->lru.tail; n; n = n->prev) {
		const struct entry *e = lru_entry(n, struct entry, lru);
		each(arg, e->owner->uid, e->session, &e->b);
	}
}
