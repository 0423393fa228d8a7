/*
 * fork.c: the library's atfork handlers, the list of open publishers they
 * walk, and the flag that says nng is out of bounds (fork.h says why).
 */
#include "fork.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "publisher.h"

static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fork_hook list = {&list, &list};
static atomic_bool forked;

static void on_prepare(void)
{
	pthread_mutex_lock(&list_mu);
	for (struct fork_hook *h = list.next; h != &list; h = h->next)
		publisher_atfork_prepare(h);
}

static void on_parent(void)
{
	for (struct fork_hook *h = list.next; h != &list; h = h->next)
		publisher_atfork_parent(h);
	pthread_mutex_unlock(&list_mu);
}

/* Only this thread exists in the child: what it locked in on_prepare it
 * may unlock. */
static void on_child(void)
{
	atomic_store(&forked, true);
	for (struct fork_hook *h = list.next; h != &list; h = h->next)
		publisher_atfork_child(h);
	pthread_mutex_unlock(&list_mu);
}

/* Should this fail (no memory for the handler), forks go unseen, as before
 * this file: the child's nng calls panic.  There is no caller to tell. */
static void watch(void)
{
	pthread_atfork(on_prepare, on_parent, on_child);
}

void fork_watch(void)
{
	pthread_once(&watch_once, watch);
}

bool fork_forked(void)
{
	return atomic_load(&forked);
}

void fork_error(char *err, size_t errlen, const char *what)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen,
		         "%s cannot work in a child of fork(): nng, which it "
		         "uses, cannot be used after a fork; open it in the "
		         "parent, or after exec (publishers work in the child)",
		         what);
}

void fork_track(struct fork_hook *h)
{
	pthread_mutex_lock(&list_mu);
	h->next = &list;
	h->prev = list.prev;
	list.prev->next = h;
	list.prev = h;
	pthread_mutex_unlock(&list_mu);
}

void fork_untrack(struct fork_hook *h)
{
	pthread_mutex_lock(&list_mu);
	if (h->next != NULL) {
		h->prev->next = h->next;
		h->next->prev = h->prev;
		h->next = h->prev = NULL;
	}
	pthread_mutex_unlock(&list_mu);
}
