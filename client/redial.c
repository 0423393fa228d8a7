/*
 * redial.c: dialers that recover from nng bug #1518 (redial.h).
 */
#include "redial.h"

#include <stdio.h>
#include <string.h>

#include "timefmt.h"

int64_t redial_now_ms(void)
{
	return timefmt_mono_ns() / 1000000;
}

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct redial *d = arg;

	(void)p;
	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(&d->pipes, 1);
	else if (ev == NNG_PIPE_EV_REM_POST)
		atomic_fetch_sub(&d->pipes, 1);
}

static int dial(struct redial *d)
{
	d->last_dial_ms = redial_now_ms();
	return nng_dial(d->sock, d->url, &d->dialer, NNG_FLAG_NONBLOCK);
}

int redial_start(struct redial *d, nng_socket sock, const char *url)
{
	int rv;

	d->sock = sock;
	snprintf(d->url, sizeof d->url, "%s", url);
	atomic_init(&d->pipes, 0);
	d->redials = 0;
	if ((rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 50)) ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 500)) ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, on_pipe, d)) ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, on_pipe, d)) ||
	    (rv = dial(d)))
		return rv;
	d->last_pipe_ms = redial_now_ms();
	return 0;
}

bool redial_connected(struct redial *d)
{
	return atomic_load(&d->pipes) > 0;
}

void redial_watch(struct redial *d)
{
	int64_t now = redial_now_ms();

	if (redial_connected(d)) {
		d->last_pipe_ms = now;
		return;
	}
	if (now - d->last_pipe_ms < REDIAL_MS ||
	    now - d->last_dial_ms < REDIAL_MS)
		return;
	nng_dialer_close(d->dialer);
	if (dial(d) == 0)
		d->redials++;
}
