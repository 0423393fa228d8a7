/*
 * uidcount.c: a count per uid (uidcount.h).
 */
#include "uidcount.h"

#include <stdlib.h>

static struct uid_count *slot(struct uid_count *v, size_t cap, uint32_t uid)
{
	size_t i = (uid * 2654435761u) & (cap - 1);

	while (v[i].used && v[i].uid != uid)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

struct uid_count *uid_counts_get(struct uid_counts *t, uint32_t uid)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct uid_count *v = calloc(cap, sizeof *v);
		if (v == NULL)
			return NULL;
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].used)
				*slot(v, cap, t->v[i].uid) = t->v[i];
		free(t->v);
		t->v = v;
		t->cap = cap;
	}
	struct uid_count *c = slot(t->v, t->cap, uid);
	if (!c->used) {
		*c = (struct uid_count){.uid = uid, .used = true};
		t->n++;
	}
	return c;
}

void uid_counts_fini(struct uid_counts *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}
