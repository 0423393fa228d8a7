/*
 * syncer.c: fdatasync on a thread (syncer.h).  A small fixed queue under a
 * mutex; when it is full the sync is done at once on the caller's thread,
 * which is slower but never loses one.
 */
#include "syncer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timefmt.h"

#define QUEUE 64

struct job {
	int fd;
	bool sync; /* false: only close */
	char path[200];
};

struct syncer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job q[QUEUE];
	size_t head, n;
	bool stopping;
	struct syncer_stats st;
	char error[300]; /* first error not yet reported to the loop */
	struct ev_loop *loop;
	ev_async async_w;
	void (*on_error)(void *arg, const char *msg);
	void *arg;
};

/* Sync one job; called without the lock held, records under it. */
static void run_job(struct syncer *s, struct job *j)
{
	struct stat st;

	if (!j->sync) {
		close(j->fd);
		return;
	}
	int64_t t0 = timefmt_mono_ns();
	bool dir = fstat(j->fd, &st) == 0 && S_ISDIR(st.st_mode);
	int rv = dir ? fsync(j->fd) : fdatasync(j->fd);
	int err = errno;
	int64_t t1 = timefmt_mono_ns(), dt = t1 - t0;

	close(j->fd);
	pthread_mutex_lock(&s->mu);
	s->st.syncs++;
	s->st.last_ns = (uint64_t)dt;
	s->st.last_at_ns = t1;
	if (rv < 0) {
		s->st.errors++;
		if (!s->error[0])
			snprintf(s->error, sizeof s->error, "%s %s: %s",
			         dir ? "fsync" : "fdatasync", j->path,
			         strerror(err));
	}
	pthread_mutex_unlock(&s->mu);
	if (rv < 0)
		ev_async_send(s->loop, &s->async_w);
}

static void *sync_main(void *arg)
{
	struct syncer *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->n == 0 && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->n == 0)
			break;
		struct job j = s->q[s->head];
		s->head = (s->head + 1) % QUEUE;
		s->n--;
		pthread_mutex_unlock(&s->mu);
		run_job(s, &j);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	struct syncer *s = w->data;
	char msg[sizeof s->error];

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&s->mu);
	memcpy(msg, s->error, sizeof msg);
	s->error[0] = '\0';
	pthread_mutex_unlock(&s->mu);
	if (msg[0] && s->on_error)
		s->on_error(s->arg, msg);
}

struct syncer *syncer_new(struct ev_loop *loop,
                          void (*on_error)(void *arg, const char *msg),
                          void *arg)
{
	struct syncer *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->loop = loop;
	s->on_error = on_error;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	ev_async_init(&s->async_w, on_async);
	s->async_w.data = s;
	ev_async_start(loop, &s->async_w);
	if (pthread_create(&s->thread, NULL, sync_main, s) != 0) {
		ev_async_stop(loop, &s->async_w);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s);
		return NULL;
	}
	return s;
}

/* Queue j when fewer than limit jobs wait; whether it was queued. */
static bool enqueue(struct syncer *s, const struct job *j, size_t limit)
{
	pthread_mutex_lock(&s->mu);
	bool queued = s->n < limit && !s->stopping;
	if (queued) {
		s->q[(s->head + s->n) % QUEUE] = *j;
		s->n++;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return queued;
}

static void submit(struct syncer *s, const struct job *job)
{
	struct job j = *job;

	if (!enqueue(s, &j, QUEUE))
		run_job(s, &j);
}

void syncer_submit(void *arg, int fd, const char *path)
{
	struct job j = {.fd = fd, .sync = true};

	if (fd < 0)
		return;
	snprintf(j.path, sizeof j.path, "%s", path);
	submit(arg, &j);
}

int syncer_offer(void *arg, int fd, const char *path)
{
	struct job j = {.fd = fd, .sync = true};

	snprintf(j.path, sizeof j.path, "%s", path);
	return enqueue(arg, &j, QUEUE / 2);
}

void syncer_release(void *arg, int fd)
{
	struct job j = {.fd = fd, .sync = false};

	if (fd < 0)
		return;
	if (arg == NULL) {
		close(fd);
		return;
	}
	submit(arg, &j);
}

void syncer_get_stats(struct syncer *s, struct syncer_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}

void syncer_free(struct syncer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	on_async(s->loop, &s->async_w, 0); /* report a last error */
	ev_async_stop(s->loop, &s->async_w);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
