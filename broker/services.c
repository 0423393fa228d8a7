/*
 * services.c: service id -> last seq and counters (services.h); a chained
 * hash table with an intrusive LRU list, entries allocated once per new
 * service, never per record.
 */
#include "services.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct service svc;
	uint64_t hash;
	struct entry *next;
	struct entry *lru_prev, *lru_next;
};

struct services {
	struct entry **buckets;
	uint32_t nbuckets, count, max;
	struct entry *lru_head, *lru_tail;
	uint64_t horizon;
};

static uint64_t hash_id(const char *id, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
	return h;
}

struct services *services_new(uint32_t max, uint64_t horizon)
{
	struct services *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->max = max ? max : 1;
	s->horizon = horizon;
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

static void entry_free(struct entry *e)
{
	free(e->svc.id);
	free(e);
}

void services_free(struct services *s)
{
	if (s == NULL)
		return;
	for (struct entry *e = s->lru_head, *n; e; e = n) {
		n = e->lru_next;
		entry_free(e);
	}
	free(s->buckets);
	free(s);
}

static void lru_unlink(struct services *s, struct entry *e)
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

static void lru_push(struct services *s, struct entry *e)
{
	e->lru_next = s->lru_head;
	if (s->lru_head)
		s->lru_head->lru_prev = e;
	s->lru_head = e;
	if (s->lru_tail == NULL)
		s->lru_tail = e;
}

static void evict_oldest(struct services *s)
{
	struct entry *v = s->lru_tail;
	struct entry **pp = &s->buckets[v->hash & (s->nbuckets - 1)];

	while (*pp != v)
		pp = &(*pp)->next;
	*pp = v->next;
	lru_unlink(s, v);
	if (v->svc.last_seq > s->horizon)
		s->horizon = v->svc.last_seq;
	entry_free(v);
	s->count--;
}

struct service *services_get(struct services *s, const char *id, size_t len)
{
	uint64_t h = hash_id(id, len);
	struct entry **head = &s->buckets[h & (s->nbuckets - 1)];

	for (struct entry *e = *head; e; e = e->next)
		if (e->hash == h && e->svc.len == len &&
		    memcmp(e->svc.id, id, len) == 0) {
			if (s->lru_head != e) {
				lru_unlink(s, e);
				lru_push(s, e);
			}
			return &e->svc;
		}
	if (s->count >= s->max)
		evict_oldest(s);
	struct entry *e = calloc(1, sizeof *e);
	if (e == NULL || (e->svc.id = malloc(len + 1)) == NULL) {
		free(e);
		return NULL;
	}
	memcpy(e->svc.id, id, len);
	e->svc.id[len] = '\0';
	e->svc.len = len;
	e->hash = h;
	e->next = *head;
	*head = e;
	lru_push(s, e);
	s->count++;
	return &e->svc;
}

uint64_t services_prev(const struct services *s, const struct service *svc)
{
	return svc->last_seq ? svc->last_seq : s->horizon;
}

uint64_t services_horizon(const struct services *s)
{
	return s->horizon;
}

void services_count(struct service *svc, uint64_t seq, int level,
		    int64_t time_ns)
{
	int slot = level < 10 ? 0 : level >= 50 ? 5 : level / 10;
	svc->last_seq = seq;
	svc->last_time_ns = time_ns;
	svc->records++;
	svc->by_level[slot]++;
}

void services_each(const struct services *s,
		   void (*fn)(void *arg, const struct service *svc), void *arg)
{
	for (const struct entry *e = s->lru_head; e; e = e->lru_next)
		fn(arg, &e->svc);
}

uint32_t services_size(const struct services *s)
{
	return s->count;
}
