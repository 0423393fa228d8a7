/*
 * redial.c: dialers that recover from nng bug #1518 (redial.h).
 */
#include "redial.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

int64_t redial_now_ms(void)
{
	return timefmt_mono_ns() / 1000000;
}

static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	atomic_int *pipes = arg;

	(void)p;
	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(pipes, 1);
	else if (ev == NNG_PIPE_EV_REM_POST)
		atomic_fetch_sub(pipes, 1);
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
	d->redials = 0;
	if ((d->pipes = malloc(sizeof *d->pipes)) == NULL)
		return NNG_ENOMEM;
	atomic_init(d->pipes, 0);
	if ((rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 50)) ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 500)) ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, on_pipe,
	                          d->pipes)) ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, on_pipe,
	                          d->pipes)) ||
	    (rv = dial(d)))
		return rv;
	d->last_pipe_ms = redial_now_ms();
	return 0;
}

bool redial_connected(struct redial *d)
{
	return d->pipes != NULL && atomic_load(d->pipes) > 0;
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

/* One close in flight: the caller and the closing thread each hold a
 * reference; the last to let go frees it. */
struct close_job {
	nng_socket sock;
	atomic_int *pipes; /* freed once the socket is closed */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int refs;
};

static void close_job_put(struct close_job *j)
{
	pthread_mutex_lock(&j->mu);
	bool last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (last) {
		pthread_cond_destroy(&j->cv);
		pthread_mutex_destroy(&j->mu);
		free(j);
	}
}

/* The pipe count goes after the socket: no callback can come then. */
static void close_now(nng_socket sock, atomic_int *pipes)
{
	nng_close(sock);
	free(pipes);
}

static void *close_main(void *arg)
{
	struct close_job *j = arg;

	close_now(j->sock, j->pipes);
	pthread_mutex_lock(&j->mu);
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	close_job_put(j);
	return NULL;
}

void redial_close(struct redial *d)
{
	struct close_job *j = calloc(1, sizeof *j);
	atomic_int *pipes = d->pipes;
	pthread_condattr_t ca;
	pthread_t th;
	struct timespec until;

	d->pipes = NULL;
	if (j == NULL) {
		close_now(d->sock, pipes); /* no memory for the guard */
		return;
	}
	j->sock = d->sock;
	j->pipes = pipes;
	j->refs = 2;
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&th, NULL, close_main, j) != 0) {
		j->refs = 1;
		close_job_put(j);
		close_now(d->sock, pipes); /* no thread for the guard */
		return;
	}
	pthread_detach(th);
	timefmt_deadline(&until, CLOCK_MONOTONIC, REDIAL_CLOSE_MS);
	pthread_mutex_lock(&j->mu);
	while (!j->done &&
	       pthread_cond_timedwait(&j->cv, &j->mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&j->mu);
	close_job_put(j); /* not done: the thread frees it if it ever ends */
}
