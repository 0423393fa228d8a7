/*
 * fork.h: what liblogbus does when its process forks.
 *
 * nng 1.5.2 registers a pthread_atfork child handler when it starts, and
 * in the child every later nng call that needs the library panics ("nng is
 * not fork-reentrant safe").  So the library watches forks too, from its
 * own atfork handlers, registered once (fork_watch) before any handle
 * first starts nng:
 *
 *  - fork_forked() is true in a child (and grandchild...) of a process
 *    where the library had started: nng must not be called there.  Readers
 *    and administration calls then return LOGBUS_EFORKED; publishers use
 *    their own transport (spconn.h).
 *  - every open publisher is on a list; around fork() the handlers take
 *    each one's locks (prepare), release them in the parent, and in the
 *    child make each a publisher of the child's own (publisher.h,
 *    publisher_atfork_*).  So no lock is left held by a thread the child
 *    does not have.
 *
 * The list and the flag are the library's only process-wide state: a fork
 * is process-wide.  Lock order: the list's lock, then a publisher's.
 */
#ifndef LOGBUS_CLIENT_FORK_H
#define LOGBUS_CLIENT_FORK_H

#include <stdbool.h>
#include <stddef.h>

/* A publisher's place on the list; it embeds one. */
struct fork_hook {
	struct fork_hook *prev, *next;
};

/* Register the atfork handlers, once per process; call before nng. */
void fork_watch(void);
/* This process is a child of fork() of one that had started nng. */
bool fork_forked(void);
/* The sentence for LOGBUS_EFORKED: what cannot work, and what to do. */
void fork_error(char *err, size_t errlen, const char *what);

void fork_track(struct fork_hook *h);
void fork_untrack(struct fork_hook *h);

#endif
