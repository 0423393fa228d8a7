/*
 * lru.h: an intrusive list kept in order of use, most recent first, for the
 * broker's bounded tables (sessions.c, services.c): touch on use, evict
 * from the tail.  Entries embed a struct lru_node.  Their hash tables'
 * bucket arrays come from lru_buckets_new.
 */
#ifndef LOGBUS_LRU_H
#define LOGBUS_LRU_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct lru_node {
	struct lru_node *prev, *next;
};

struct lru {
	struct lru_node *head, *tail;
};

#define lru_entry(node, type, member)                                          \
	((type *)((char *)(node)-offsetof(type, member)))

static inline void lru_unlink(struct lru *l, struct lru_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

static inline void lru_push(struct lru *l, struct lru_node *n)
{
	n->prev = NULL;
	n->next = l->head;
	if (l->head)
		l->head->prev = n;
	l->head = n;
	if (l->tail == NULL)
		l->tail = n;
}

/* Mark n as the most recently used. */
static inline void lru_touch(struct lru *l, struct lru_node *n)
{
	if (l->head != n) {
		lru_unlink(l, n);
		lru_push(l, n);
	}
}

/* A zeroed array of *n bucket heads of size each for a table of at most max
 * entries: a power of two from 1024, one a bucket up to 2^20; NULL when out
 * of memory. */
static inline void *lru_buckets_new(uint32_t max, size_t size, uint32_t *n)
{
	*n = 1024;
	while (*n < max && *n < (1u << 20))
		*n <<= 1;
	return calloc(*n, size);
}

#endif
