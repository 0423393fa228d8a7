/*
 * waiters.c: parked long-poll reads (waiters.h).
 *
 * The waiters are an array in arrival order (first in, first out).  A
 * commit marks the ones that may see it "due"; an ev_prepare watcher, run
 * once the loop has handled everything of this iteration, reads for each
 * due waiter and answers it or, when its filter wanted none of the new
 * records, parks it again further on.  One ev_timer, set to the earliest
 * deadline, answers the waiters whose wait is over.  Reading and replying
 * is the serve callback's (query.c's read_serve in the broker).
 */
#include "waiters.h"

#include <stdlib.h>
#include <string.h>

struct waiter {
	struct endpoint *ep;
	nng_msg *hdr; /* the request's routing header, for the reply */
	struct read_req rq;
	ev_tstamp deadline;
	bool due;
};

struct waiters {
	struct ev_loop *loop;
	waiters_serve_fn *serve;
	struct waiter *v;
	size_t n;
	ev_prepare due_w;
	ev_timer expire_w;
};

static void on_due(struct ev_loop *loop, ev_prepare *w, int revents);
static void on_expire(struct ev_loop *loop, ev_timer *w, int revents);

struct waiters *waiters_new(struct ev_loop *loop, waiters_serve_fn *serve)
{
	struct waiters *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	w->v = calloc(WAITERS_MAX, sizeof *w->v);
	if (w->v == NULL) {
		free(w);
		return NULL;
	}
	w->loop = loop;
	w->serve = serve;
	ev_prepare_init(&w->due_w, on_due);
	ev_init(&w->expire_w, on_expire);
	return w;
}

static void waiter_drop(struct waiters *w, size_t i)
{
	nng_msg_free(w->v[i].hdr);
	filter_fini(&w->v[i].rq.flt);
	memmove(&w->v[i], &w->v[i + 1], (w->n - i - 1) * sizeof *w->v);
	w->n--;
}

void waiters_free(struct waiters *w)
{
	if (w == NULL)
		return;
	ev_prepare_stop(w->loop, &w->due_w);
	ev_timer_stop(w->loop, &w->expire_w);
	while (w->n > 0)
		waiter_drop(w, w->n - 1);
	free(w->v);
	free(w);
}

/* Arm the timer for the earliest deadline (none: stop it). */
static void rearm(struct waiters *w)
{
	struct ev_loop *loop = w->loop;
	ev_tstamp first = 0;

	ev_timer_stop(loop, &w->expire_w);
	for (size_t i = 0; i < w->n; i++)
		if (i == 0 || w->v[i].deadline < first)
			first = w->v[i].deadline;
	if (w->n == 0)
		return;
	ev_tstamp in = first - ev_now(loop);
	ev_timer_set(&w->expire_w, in > 0 ? in : 0, 0.);
	ev_timer_start(loop, &w->expire_w);
}

/* Read for waiter i; answered (or final): drop it.  Returns true when it
 * was dropped. */
static bool serve(struct waiters *w, size_t i, bool final)
{
	struct waiter *x = &w->v[i];

	x->due = false;
	if (w->serve(x->ep, x->hdr, &x->rq, !final) == READ_PARK)
		return false;
	waiter_drop(w, i);
	return true;
}

int waiters_park(struct waiters *w, struct endpoint *ep, nng_msg *msg,
                 struct read_req *rq)
{
	struct ev_loop *loop = w->loop;
	nng_msg *hdr;

	if (nng_msg_alloc(&hdr, 0) != 0)
		return -1;
	if (nng_msg_header_append(hdr, nng_msg_header(msg),
	                          nng_msg_header_len(msg)) != 0) {
		nng_msg_free(hdr);
		return -1;
	}
	if (w->n == WAITERS_MAX)
		serve(w, 0, true); /* the oldest makes room */
	w->v[w->n++] = (struct waiter){
	    .ep = ep,
	    .hdr = hdr,
	    .rq = *rq,
	    .deadline = ev_now(loop) + (ev_tstamp)rq->wait_ms / 1000.,
	};
	rearm(w);
	return 0;
}

void waiters_committed(struct waiters *w, uint32_t uid)
{
	bool any = false;

	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n; i++)
		if (reader_may_see(&w->v[i].rq.reader, uid))
			any = w->v[i].due = true;
	if (any)
		ev_prepare_start(w->loop, &w->due_w);
}

static void on_due(struct ev_loop *loop, ev_prepare *pw, int revents)
{
	struct waiters *w =
	    (struct waiters *)((char *)pw - offsetof(struct waiters, due_w));

	(void)revents;
	ev_prepare_stop(loop, pw);
	for (size_t i = 0; i < w->n;)
		if (!w->v[i].due || !serve(w, i, false))
			i++;
	rearm(w);
}

static void on_expire(struct ev_loop *loop, ev_timer *tw, int revents)
{
	struct waiters *w =
	    (struct waiters *)((char *)tw - offsetof(struct waiters, expire_w));
	ev_tstamp now = ev_now(loop);

	(void)revents;
	for (size_t i = 0; i < w->n;)
		if (w->v[i].deadline > now || !serve(w, i, true))
			i++;
	rearm(w);
}

void waiters_release(struct waiters *w)
{
	if (w == NULL)
		return;
	while (w->n > 0)
		serve(w, 0, true);
	rearm(w);
}
