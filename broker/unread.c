/*
 * unread.c: the replies each connection has not read (unread.h says why
 * and how a client proves it read them).
 *
 * Per connection (nng pipe): its uid and a ring of its unread replies,
 * oldest first, each its token and size; per uid and in total: the sums.
 * A request echoing one of the ring's tokens releases that reply and every
 * older one.  A token nobody was given (forged, stale, another
 * connection's) releases nothing; tokens come from arc4random, so a client
 * learns one only by reading the reply that carries it, to its last byte
 * (the token is the reply's last key).
 *
 * The bounds (shared/proto.h, PROTOCOL.md): UNREAD_PIPE_MAX bytes per
 * connection, UNREAD_UID_MAX per uid, UNREAD_TOTAL_MAX in total, checked
 * before a request is served (request.c: small replies need
 * UNREAD_SMALL_ROOM, others UNREAD_ROOM_MIN, and a read's reply is cut to
 * the room, query.c);
 * UNREAD_REPLIES_BUSY unread replies make a connection's requests busy, and
 * a request with UNREAD_REPLIES_MAX unread closes the connection, before
 * nng's own queue of 64 would drop a reply in silence.
 *
 * nng's threads tell closed pipes through a locked list and an ev_async;
 * everything else is the loop's.  A pipe whose first request is handled
 * after its close was told (it sat in nng's queue) is found by the sweep.
 */
#include "unread.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct unread_reply {
	uint64_t tok;
	uint64_t len;
};

struct uid_sum {
	uint32_t uid;
	unsigned pipes;
	uint64_t bytes;
	struct uid_sum *next;
};

struct pipe_state {
	uint32_t id;
	struct uid_sum *uid;
	uint64_t bytes;
	unsigned head, n; /* ring of unread replies */
	struct unread_reply ring[UNREAD_REPLIES_MAX];
	struct pipe_state *next;
};

struct unread {
	struct ev_loop *loop;
	struct pipe_state **pipes; /* chained, by pipe id */
	size_t npipes, pipes_cap;  /* cap: a power of two */
	struct uid_sum **uids;     /* chained, by uid; UID_BUCKETS */
	uint64_t total;
	/* closed pipes, from nng's threads */
	pthread_mutex_t mu;
	uint32_t *closed;
	size_t nclosed, closed_cap;
	ev_async closed_w;
};

#define UID_BUCKETS 256

static size_t pipe_slot(const struct unread *u, uint32_t id)
{
	return (id * 2654435761u) & (u->pipes_cap - 1);
}

static struct pipe_state *pipe_find(const struct unread *u, uint32_t id)
{
	struct pipe_state *p = u->pipes[pipe_slot(u, id)];

	while (p && p->id != id)
		p = p->next;
	return p;
}

static void pipes_grow(struct unread *u)
{
	size_t cap = u->pipes_cap * 2;
	struct pipe_state **t = calloc(cap, sizeof *t);

	if (t == NULL)
		return; /* longer chains, still correct */
	struct pipe_state **old = u->pipes;
	size_t old_cap = u->pipes_cap;
	u->pipes = t;
	u->pipes_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		for (struct pipe_state *p = old[i], *next; p; p = next) {
			next = p->next;
			size_t s = pipe_slot(u, p->id);
			p->next = t[s];
			t[s] = p;
		}
	free(old);
}

static struct uid_sum *uid_get(struct unread *u, uint32_t uid)
{
	struct uid_sum **head = &u->uids[uid % UID_BUCKETS], *s;

	for (s = *head; s; s = s->next)
		if (s->uid == uid)
			return s;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->uid = uid;
	s->next = *head;
	*head = s;
	return s;
}

static void uid_put(struct unread *u, struct uid_sum *s)
{
	if (--s->pipes > 0)
		return;
	struct uid_sum **pp = &u->uids[s->uid % UID_BUCKETS];
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	free(s);
}

/* Release p's oldest k unread replies. */
static void release(struct unread *u, struct pipe_state *p, unsigned k)
{
	for (unsigned i = 0; i < k; i++) {
		uint64_t len = p->ring[p->head].len;
		p->bytes -= len;
		p->uid->bytes -= len;
		u->total -= len;
		p->head = (p->head + 1) % UNREAD_REPLIES_MAX;
	}
	p->n -= k;
}

static void pipe_drop(struct unread *u, uint32_t id)
{
	struct pipe_state **pp = &u->pipes[pipe_slot(u, id)], *p;

	while ((p = *pp) != NULL && p->id != id)
		pp = &p->next;
	if (p == NULL)
		return;
	release(u, p, p->n);
	*pp = p->next;
	uid_put(u, p->uid);
	free(p);
	u->npipes--;
}

/* The state of pipe np, made at its first request; NULL when the pipe is
 * gone (its peer's uid cannot be had) or memory is short. */
static struct pipe_state *pipe_get(struct unread *u, nng_pipe np)
{
	uint32_t id = (uint32_t)nng_pipe_id(np);
	struct pipe_state *p = pipe_find(u, id);
	uint64_t uid;

	if (p != NULL)
		return p;
	if (nng_pipe_get_uint64(np, NNG_OPT_IPC_PEER_UID, &uid) != 0 ||
	    (p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	if ((p->uid = uid_get(u, (uint32_t)uid)) == NULL) {
		free(p);
		return NULL;
	}
	p->uid->pipes++;
	p->id = id;
	size_t s = pipe_slot(u, id);
	p->next = u->pipes[s];
	u->pipes[s] = p;
	if (++u->npipes > u->pipes_cap)
		pipes_grow(u);
	return p;
}

static void on_closed(struct ev_loop *loop, ev_async *w, int revents)
{
	struct unread *u =
	    (struct unread *)((char *)w - offsetof(struct unread, closed_w));
	uint32_t batch[64];
	size_t n;

	(void)loop;
	(void)revents;
	do {
		pthread_mutex_lock(&u->mu);
		n = u->nclosed < 64 ? u->nclosed : 64;
		u->nclosed -= n;
		memcpy(batch, u->closed + u->nclosed, n * sizeof *batch);
		pthread_mutex_unlock(&u->mu);
		for (size_t i = 0; i < n; i++)
			pipe_drop(u, batch[i]);
	} while (n == 64);
}

struct unread *unread_new(struct ev_loop *loop)
{
	struct unread *u = calloc(1, sizeof *u);

	if (u == NULL)
		return NULL;
	u->loop = loop;
	u->pipes_cap = 64;
	u->pipes = calloc(u->pipes_cap, sizeof *u->pipes);
	u->uids = calloc(UID_BUCKETS, sizeof *u->uids);
	if (u->pipes == NULL || u->uids == NULL) {
		free(u->pipes);
		free(u->uids);
		free(u);
		return NULL;
	}
	pthread_mutex_init(&u->mu, NULL);
	ev_async_init(&u->closed_w, on_closed);
	ev_async_start(loop, &u->closed_w);
	return u;
}

void unread_free(struct unread *u)
{
	if (u == NULL)
		return;
	ev_async_stop(u->loop, &u->closed_w);
	for (size_t i = 0; i < u->pipes_cap; i++)
		while (u->pipes[i])
			pipe_drop(u, u->pipes[i]->id);
	free(u->pipes);
	free(u->uids); /* every uid_sum went with its last pipe */
	free(u->closed);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

void unread_pipe_closed(struct unread *u, uint32_t pipe)
{
	pthread_mutex_lock(&u->mu);
	if (u->nclosed == u->closed_cap) {
		size_t cap = u->closed_cap ? u->closed_cap * 2 : 64;
		uint32_t *c = realloc(u->closed, cap * sizeof *c);
		if (c == NULL) { /* its replies stay counted until a restart */
			pthread_mutex_unlock(&u->mu);
			return;
		}
		u->closed = c;
		u->closed_cap = cap;
	}
	u->closed[u->nclosed++] = pipe;
	pthread_mutex_unlock(&u->mu);
	ev_async_send(u->loop, &u->closed_w);
}

static uint64_t room_of(uint64_t used, uint64_t max)
{
	return used < max ? max - used : 0;
}

size_t unread_room(struct unread *u, uint32_t pipe, char *why, size_t whylen)
{
	const struct pipe_state *p = pipe_find(u, pipe);
	uint64_t room = room_of(u->total, UNREAD_TOTAL_MAX);

	if (why)
		snprintf(why, whylen,
		         "logbusd holds %llu bytes of replies its readers have "
		         "not read (at most %u MiB in all): try again later",
		         (unsigned long long)u->total, UNREAD_TOTAL_MAX >> 20);
	if (p == NULL)
		return 0; /* closed: nng drops its replies */
	uint64_t r = room_of(p->uid->bytes, UNREAD_UID_MAX);
	if (r < room) {
		room = r;
		if (why)
			snprintf(why, whylen,
			         "uid %u has %llu bytes of replies it has not "
			         "read on its connections (at most %u MiB): "
			         "read them, or close those connections",
			         (unsigned)p->uid->uid,
			         (unsigned long long)p->uid->bytes,
			         UNREAD_UID_MAX >> 20);
	}
	r = room_of(p->bytes, UNREAD_PIPE_MAX);
	if (r < room) {
		room = r;
		if (why)
			snprintf(why, whylen,
			         "this connection has %llu bytes of replies it "
			         "has not read (at most %u MiB): read them, or "
			         "reconnect",
			         (unsigned long long)p->bytes,
			         UNREAD_PIPE_MAX >> 20);
	}
	return room;
}

enum unread_verdict unread_request(struct unread *u, nng_pipe np, bool has_tok,
                                   uint64_t tok, char *why, size_t whylen)
{
	struct pipe_state *p = pipe_get(u, np);

	if (p == NULL)
		return UNREAD_GONE;
	for (unsigned i = 0; has_tok && i < p->n; i++)
		if (p->ring[(p->head + i) % UNREAD_REPLIES_MAX].tok == tok) {
			release(u, p, i + 1);
			break;
		}
	if (p->n >= UNREAD_REPLIES_MAX) {
		pipe_drop(u, p->id);
		return UNREAD_CLOSE;
	}
	if (p->n >= UNREAD_REPLIES_BUSY) {
		snprintf(why, whylen,
		         "this connection has %u replies it has not read (at "
		         "most %d requests in flight): read them, or reconnect",
		         p->n, UNREAD_REPLIES_BUSY);
		return UNREAD_BUSY;
	}
	return UNREAD_SERVE;
}

uint64_t unread_charge(struct unread *u, uint32_t pipe, size_t len)
{
	struct pipe_state *p = pipe_find(u, pipe);
	uint64_t tok = 0;

	if (p == NULL || p->n == UNREAD_REPLIES_MAX)
		return 0;
	while (tok == 0)
		arc4random_buf(&tok, sizeof tok);
	struct unread_reply *r =
	    &p->ring[(p->head + p->n++) % UNREAD_REPLIES_MAX];
	r->tok = tok;
	r->len = len;
	p->bytes += len;
	p->uid->bytes += len;
	u->total += len;
	return tok;
}

void unread_sweep(struct unread *u)
{
	for (size_t i = 0; i < u->pipes_cap; i++)
		for (struct pipe_state *p = u->pipes[i], *next; p; p = next) {
			nng_pipe np = NNG_PIPE_INITIALIZER;
			uint64_t uid;
			next = p->next;
			np.id = p->id;
			if (nng_pipe_get_uint64(np, NNG_OPT_IPC_PEER_UID,
			                        &uid) != 0)
				pipe_drop(u, p->id);
		}
}

uint64_t unread_total(const struct unread *u)
{
	return u->total;
}
