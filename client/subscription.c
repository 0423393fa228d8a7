/*
 * subscription.c: a reader driven by a thread of its own, its records handed
 * to an on_log callback (logbus_subscribe).
 *
 * The thread owns the reader; the caller may only ask for the cursor (under
 * the mutex), wait for the end, or close.  Close interrupts the reader and
 * joins the thread, so on_log never runs after close returned.
 *
 * In a child of fork() the thread is not there (nor may the child's reader
 * use nng): wait says LOGBUS_EFORKED, the cursor is read without the lock
 * the thread may have held, and close frees without joining.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cursor.h"
#include "logbus/logbus.h"
#include "timefmt.h"

#define RETRY_PAUSE_MS 250

struct logbus_subscription {
	logbus_reader *reader;
	logbus_on_log_fn on_log;
	logbus_on_error_fn on_error;
	void *user;
	bool follow;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t ended_cv;
	bool ended;
	int result;
	char cursor[CURSOR_STR_LEN + 1];
	atomic_bool closing;
	pid_t pid; /* the process whose thread this is */
};

/* A subscription of the parent, seen in a child of fork(). */
static bool inherited(const struct logbus_subscription *s)
{
	return s->pid != getpid();
}

static bool passing(int rv)
{
	return rv == LOGBUS_EUNREACHABLE || rv == LOGBUS_ETIMEDOUT;
}

static void save_cursor(struct logbus_subscription *s)
{
	const char *c = logbus_reader_cursor(s->reader);
	pthread_mutex_lock(&s->mu);
	snprintf(s->cursor, sizeof s->cursor, "%s", c ? c : "");
	pthread_mutex_unlock(&s->mu);
}

/* An error: ask on_error whether to go on.  Returns true to go on. */
static bool go_on_after(struct logbus_subscription *s, int rv)
{
	bool again;

	if (s->on_error != NULL)
		again = s->on_error(rv, logbus_reader_error(s->reader),
		                    s->user) != 0;
	else
		again = passing(rv);
	if (!again || atomic_load(&s->closing))
		return false;
	if (rv == LOGBUS_EEXPIRED)
		return logbus_reader_skip_expired(s->reader) == 0;
	if (passing(rv)) {
		struct timespec ts = {0, RETRY_PAUSE_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	return passing(rv) || rv == LOGBUS_EEXPIRED;
}

static void *run(void *arg)
{
	struct logbus_subscription *s = arg;
	const logbus_record *rec;
	int result = 0;

	for (;;) {
		int rv = logbus_reader_next(s->reader, &rec, 500);
		if (rv == 1) {
			int stop = s->on_log(rec, s->user);
			save_cursor(s);
			if (stop)
				break;
		} else if (rv == 0) {
			save_cursor(s);
			if (!s->follow)
				break;
		} else if (rv == LOGBUS_ECLOSED || !go_on_after(s, rv)) {
			result = rv == LOGBUS_ECLOSED ? 0 : rv;
			break;
		}
	}
	pthread_mutex_lock(&s->mu);
	s->ended = true;
	s->result = result;
	pthread_cond_broadcast(&s->ended_cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

LOGBUS_API int logbus_subscribe(logbus_subscription **out,
                                const logbus_reader_options *opts,
                                logbus_on_log_fn on_log,
                                logbus_on_error_fn on_error, void *user)
{
	*out = NULL;
	if (opts == NULL || on_log == NULL)
		return LOGBUS_EINVAL;
	struct logbus_subscription *s = calloc(1, sizeof *s);
	if (s == NULL)
		return LOGBUS_ENOMEM;
	int rv = logbus_reader_open(&s->reader, opts);
	if (rv != 0) {
		free(s);
		return rv;
	}
	s->on_log = on_log;
	s->on_error = on_error;
	s->user = user;
	s->follow = opts->follow != 0;
	s->pid = getpid();
	atomic_init(&s->closing, false);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->ended_cv, NULL);
	if (pthread_create(&s->thread, NULL, run, s) != 0) {
		logbus_reader_close(s->reader);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->ended_cv);
		free(s);
		return LOGBUS_ESYS;
	}
	*out = s;
	return 0;
}

LOGBUS_API int logbus_subscription_wait(logbus_subscription *s, int timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	if (inherited(s))
		return LOGBUS_EFORKED;
	if (timeout_ms >= 0)
		timefmt_deadline(&ts, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&s->mu);
	while (!s->ended && rv == 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&s->ended_cv, &s->mu);
		else if (pthread_cond_timedwait(&s->ended_cv, &s->mu, &ts) ==
		         ETIMEDOUT)
			rv = LOGBUS_ETIMEDOUT;
	}
	if (s->ended)
		rv = s->result;
	pthread_mutex_unlock(&s->mu);
	return rv;
}

LOGBUS_API const char *logbus_subscription_cursor(logbus_subscription *s,
                                                  char *buf, size_t len)
{
	if (inherited(s)) {
		snprintf(buf, len, "%s", s->cursor);
		return buf;
	}
	pthread_mutex_lock(&s->mu);
	snprintf(buf, len, "%s", s->cursor);
	pthread_mutex_unlock(&s->mu);
	return buf;
}

LOGBUS_API void logbus_subscription_close(logbus_subscription *s)
{
	if (s == NULL)
		return;
	if (inherited(s)) {
		logbus_reader_close(s->reader);
		free(s);
		return;
	}
	atomic_store(&s->closing, true);
	logbus_reader_interrupt(s->reader);
	pthread_join(s->thread, NULL);
	logbus_reader_close(s->reader);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->ended_cv);
	free(s);
}
