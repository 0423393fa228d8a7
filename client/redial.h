/*
 * redial.h: a dialer that does not stay dead.
 *
 * nng 1.5.2 bug #1518: a dialer whose peer closed the connection during the
 * SP handshake (a broker killed mid-connect) never reconnects.  A redial
 * counts the socket's pipes through nng's pipe notifications; whoever waits
 * on the socket calls redial_watch now and then, and a dialer that has had
 * no pipe for REDIAL_MS is closed and dialled again.
 */
#ifndef LOGBUS_REDIAL_H
#define LOGBUS_REDIAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

#define REDIAL_MS 1000

struct redial {
	nng_socket sock;
	nng_dialer dialer;
	char url[160];
	/* Written by nng's pipe callbacks, so on the heap: it must outlive
	 * this struct when a close is given up (redial_close). */
	atomic_int *pipes;
	int64_t last_pipe_ms; /* when a pipe was last seen */
	int64_t last_dial_ms;
	uint64_t redials;
};

/* Register the pipe callbacks on sock and dial url without blocking.
 * Returns 0 or an nng error (then redial_close is still owed). */
int redial_start(struct redial *d, nng_socket sock, const char *url);
void redial_watch(struct redial *d);
bool redial_connected(struct redial *d);

int64_t redial_now_ms(void);

/* nng_close of the socket that cannot hang its caller.  nng 1.5.2's
 * nng_close waits until every pipe of the socket is gone, and a pipe can
 * fail to go (the #1518 family; seen with gdb on a sub0 socket that had
 * received a flood, and on req0 with a reply in flight: reqconn.c): the
 * close then blocks for good.  So the close runs on a thread of its own;
 * after REDIAL_CLOSE_MS without an end the caller goes on and the thread,
 * the socket and the pipe count are left to nng (its callbacks may still
 * run: they touch only the count, freed by the thread if the close ever
 * ends).  d is done with either way.  Not for a child of fork(): nng
 * cannot close its parent's sockets. */
#define REDIAL_CLOSE_MS 2000
void redial_close(struct redial *d);

#endif
