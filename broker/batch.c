/*
 * batch.c: a batch's reusable storage (batch.h).
 *
 * The arrays grow by doubling and never shrink: a broker that once took a
 * batch of BATCH_RECORDS_MAX records keeps room for the next one.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_ZONE_CHUNK (64 * 1024)

void batch_init(struct batch *bt)
{
	memset(bt, 0, sizeof *bt);
	msgpack_zone_init(&bt->zone, BATCH_ZONE_CHUNK);
}

void batch_fini(struct batch *bt)
{
	msgpack_zone_destroy(&bt->zone);
	free(bt->recs);
	free(bt->views);
	bt->recs = NULL;
	bt->views = NULL;
	bt->n = bt->cap = 0;
}

bool batch_reserve(struct batch *bt, size_t n)
{
	if (n <= bt->cap)
		return true;
	size_t cap = bt->cap ? bt->cap : 1024;
	while (cap < n)
		cap *= 2;
	struct journal_rec *r = realloc(bt->recs, cap * sizeof *r);
	if (r == NULL)
		return false;
	bt->recs = r;
	struct record_view *v = realloc(bt->views, cap * sizeof *v);
	if (v == NULL)
		return false;
	bt->views = v;
	bt->cap = cap;
	return true;
}

void batch_clear(struct batch *bt)
{
	msgpack_zone_clear(&bt->zone);
	bt->n = 0;
	bt->first_seq = 0;
	memset(&bt->stamp, 0, sizeof bt->stamp);
}
