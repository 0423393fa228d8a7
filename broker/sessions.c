/*
 * sessions.c: session -> last committed batch, a chained hash table with an
 * intrusive LRU list (sessions.h).  Entries are allocated once per new
 * session, never per batch.
 */
#include "sessions.h"

#include <stdlib.h>

struct entry {
	uint64_t session;
	struct session_batch b;
	struct entry *next;              /* hash chain */
	struct entry *lru_prev, *lru_next; /* most recent at head */
};

struct sessions {
	struct entry **buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t count, max;
	struct entry *lru_head, *lru_tail;
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
	for (struct entry *e = s->lru_head, *n; e; e = n) {
		n = e->lru_next;
		free(e);
	}
	free(s->buckets);
	free(s);
}

static void lru_unlink(struct sessions *s, struct entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		s->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		s->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct sessions *s, struct entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = s->lru_head;
	if (s->lru_head)
		s->lru_head->lru_prev = e;
	s->lru_head = e;
	if (s->lru_tail == NULL)
		s->lru_tail = e;
}

static struct entry *lookup(struct sessions *s, uint64_t session)
{
	for (struct entry *e = s->buckets[bucket_of(s, session)]; e; e = e->next)
		if (e->session == session)
			return e;
	return NULL;
}

static void evict_oldest(struct sessions *s)
{
	struct entry *victim = s->lru_tail;
	struct entry **pp = &s->buckets[bucket_of(s, victim->session)];

	while (*pp != victim)
		pp = &(*pp)->next;
	*pp = victim->next;
	lru_unlink(s, victim);
	free(victim);
	s->count--;
}

const struct session_batch *sessions_find(struct sessions *s, uint64_t session)
{
	struct entry *e = lookup(s, session);
	if (e == NULL)
		return NULL;
	lru_unlink(s, e);
	lru_push(s, e);
	return &e->b;
}

int sessions_commit(struct sessions *s, uint64_t session,
		    const struct session_batch *b)
{
	struct entry *e = lookup(s, session);

	if (e != NULL) {
		if (b->batch >= e->b.batch)
			e->b = *b;
		lru_unlink(s, e);
		lru_push(s, e);
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
	lru_push(s, e);
	s->count++;
	return 0;
}

uint32_t sessions_count(const struct sessions *s)
{
	return s->count;
}
