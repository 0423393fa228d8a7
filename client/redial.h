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
	atomic_int pipes;     /* written by nng's pipe callbacks */
	int64_t last_pipe_ms; /* when a pipe was last seen */
	int64_t last_dial_ms;
	uint64_t redials;
};

/* Register the pipe callbacks on sock and dial url without blocking.
 * Returns 0 or an nng error. */
int redial_start(struct redial *d, nng_socket sock, const char *url);
void redial_watch(struct redial *d);
bool redial_connected(struct redial *d);

int64_t redial_now_ms(void);

#endif
