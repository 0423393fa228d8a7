/*
 * sessions.c: session -> last committed batch, a chained hash table with an
 * intrusive LRU list (sessions.h).  Entries are allocated once per new
 * session, never per batch.
 */
#include "sessions.h"

#include <stdlib.h>

#include "lru.h"

struct entry {
	uint64_t session;
	struct session_batch b;
	struct entry *next; /* hash chain */
	struct lru_node lru;
};

struct sessions {
	struct entry **buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t count, max;
	struct lru lru;
};

static uint32_t bucket_of(const struct sessions *s, uint64_t session)
{
	/* Session ids are random, but mix anyway in case a client's are not. */
	uint64_t h = session * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (s->nbuckets - 1);
}

struct sessions *sessions_new(uint32_t max)
{
	struct sessions *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->max = max ? max : 1;
	s->nbuckets = 1024;
	while (s->nbuckets < s->max && s->nbuckets < (1u << 20))
		s->nbuckets <<= 1;
	s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
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
	free(s->buckets);
	free(s);
}

static struct entry *lookup(struct sessions *s, uint64_t session)
{
	for (struct entry *e = s->buckets[bucket_of(s, session)]; e;
	     e = e->next)
		if (e->session == session)
			return e;
	return NULL;
}

static void evict_oldest(struct sessions *s)
{
	struct entry *victim = lru_entry(s->lru.tail, struct entry, lru);
	struct entry **pp = &s->buckets[bucket_of(s, victim->session)];

	while (*pp != victim)
		pp = &(*pp)->next;
	*pp = victim->next;
	lru_unlink(&s->lru, &victim->lru);
	free(victim);
	s->count--;
}

const struct session_batch *sessions_find(struct sessions *s, uint64_t session)
{
	struct entry *e = lookup(s, session);
	if (e == NULL)
		return NULL;
	lru_touch(&s->lru, &e->lru);
	return &e->b;
}

int sessions_commit(struct sessions *s, uint64_t session,
                    const struct session_batch *b)
{
	struct entry *e = lookup(s, session);

	if (e != NULL) {
		if (b->batch >= e->b.batch)
			e->b = *b;
		lru_touch(&s->lru, &e->lru);
		return 0;
	}
	if (s->count >= s->max)
		evict_oldest(s);
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return -1;
	e->session = session;
	e->b = *b;
	uint32_t i = bucket_of(s, session);
	e->next = s->buckets[i];
	s->buckets[i] = e;
	lru_push(&s->lru, &e->lru);
	s->count++;
	return 0;
}

uint32_t sessions_count(const struct sessions *s)
{
	return s->count;
}
