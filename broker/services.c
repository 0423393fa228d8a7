/*
 * services.c: service id -> last seq and counters (services.h); a chained
 * hash table with an intrusive LRU list, entries allocated once per new
 * service, never per record.
 */
#include "services.h"

#include <stdlib.h>

#include "fnv1a.h"
#include "lru.h"
#include <string.h>

struct entry {
	struct service svc;
	uint64_t hash;
	struct entry *next;
	struct lru_node lru;
};

struct services {
	struct entry **buckets;
	uint32_t nbuckets, count, max;
	struct lru lru;
	uint64_t horizon;
};

struct services *services_new(uint32_t max, uint64_t horizon)
{
	struct services *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->max = max ? max : 1;
	s->horizon = horizon;
	s->buckets = lru_buckets_new(s->max, sizeof *s->buckets, &s->nbuckets);
	if (s->buckets == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void entry_free(struct entry *e)
{
	free(e->svc.id);
	free(e->svc.exit_summary);
	free(e);
}

void services_free(struct services *s)
{
	if (s == NULL)
		return;
	for (struct lru_node *n = s->lru.head, *next; n; n = next) {
		struct entry *e = lru_entry(n, struct entry, lru);
		next = n->next;
		entry_free(e);
	}
	free(s->buckets);
	free(s);
}

static void evict_oldest(struct services *s)
{
	struct entry *v = lru_entry(s->lru.tail, struct entry, lru);
	struct entry **pp = &s->buckets[v->hash & (s->nbuckets - 1)];

	while (*pp != v)
		pp = &(*pp)->next;
	*pp = v->next;
	lru_unlink(&s->lru, &v->lru);
	if (v->svc.last_seq > s->horizon)
		s->horizon = v->svc.last_seq;
	entry_free(v);
	s->count--;
}

static struct entry *lookup(const struct services *s, const char *id,
                            size_t len, uint64_t h)
{
	for (struct entry *e = s->buckets[h & (s->nbuckets - 1)]; e;
	     e = e->next)
		if (e->hash == h && e->svc.len == len &&
		    memcmp(e->svc.id, id, len) == 0)
			return e;
	return NULL;
}

const struct service *services_find(const struct services *s, const char *id,
                                    size_t len)
{
	struct entry *e = lookup(s, id, len, fnv1a64(id, len));
	return e ? &e->svc : NULL;
}

struct service *services_get(struct services *s, const char *id, size_t len)
{
	uint64_t h = fnv1a64(id, len);
	struct entry **head = &s->buckets[h & (s->nbuckets - 1)];
	struct entry *e = lookup(s, id, len, h);

	if (e != NULL) {
		lru_touch(&s->lru, &e->lru);
		return &e->svc;
	}
	if (s->count >= s->max)
		evict_oldest(s);
	e = calloc(1, sizeof *e);
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
	lru_push(&s->lru, &e->lru);
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
                    int64_t time_ns, uint32_t len)
{
	int slot = level < 10 ? 0 : level >= 50 ? 5 : level / 10;
	if (svc->records == 0)
		svc->first_time_ns = time_ns;
	svc->last_seq = seq;
	svc->last_time_ns = time_ns;
	svc->records++;
	svc->bytes += len;
	svc->by_level[slot]++;
}

void services_report(struct service *svc, int64_t when_ns, int64_t exit_code,
                     const char *category, const char *summary, size_t len)
{
	if (len > SERVICE_SUMMARY_MAX) { /* cut at a character's start */
		len = SERVICE_SUMMARY_MAX;
		while (len > 0 && ((unsigned char)summary[len] & 0xc0) == 0x80)
			len--;
	}
	char *p = realloc(svc->exit_summary, len + 1);
	if (p != NULL) { /* out of memory: the old summary stays */
		if (len > 0)
			memcpy(p, summary, len);
		p[len] = '\0';
		svc->exit_summary = p;
	}
	svc->report_ns = when_ns;
	svc->exit_code = exit_code;
	svc->category = category;
}

void services_each(const struct services *s,
                   void (*fn)(void *arg, const struct service *svc), void *arg)
{
	for (const struct lru_node *n = s->lru.head; n; n = n->next)
		fn(arg, &lru_entry(n, const struct entry, lru)->svc);
}

uint32_t services_size(const struct services *s)
{
	return s->count;
}

void services_each_mut(struct services *s,
                       void (*fn)(void *arg, struct service *svc), void *arg)
{
	for (struct lru_node *n = s->lru.head; n; n = n->next)
		fn(arg, &lru_entry(n, struct entry, lru)->svc);
}
