/*
 * forward_output.c: one [output NAME] on a thread of its own: read from
 * its position with its filter, gather a batch (batch-size records,
 * batch-bytes, or batch-wait after its first record, whichever comes
 * first), send it until the destination acknowledges it, then write the
 * position, and only then read on.
 *
 * Invariants: the position written is the cursor of the last record of an
 * acknowledged batch; a batch that was not acknowledged is sent again,
 * unchanged, after a pause that doubles from 100 ms up to retry-max; a
 * stop during the pauses or the reads loses nothing (the position stays
 * where the last acknowledgement put it).  An expired position (logbusd's
 * retention removed records before they were forwarded) is a loud ERROR
 * on stderr naming how many records were skipped, counted in the status
 * file, never silent; a position from another journal stops the output
 * with the way out in the message, since guessing where to go on would
 * send the wrong records or none.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cursor.h"
#include "forward.h"
#include "timefmt.h"

#define BACKOFF_FIRST_MS 100
#define IDLE_WAIT_MS     500

static const struct sink_ops *ops_for(enum fwd_type t)
{
	switch (t) {
	case FWD_CLICKHOUSE:
		return &sink_clickhouse;
	case FWD_RELP:
		return &sink_relp;
	case FWD_SYSLOG_TCP:
		return &sink_syslog_tcp;
	case FWD_LOKI:
		return &sink_loki;
	}
	return NULL;
}

static void set_state(struct fwd_output *o, const char *state)
{
	pthread_mutex_lock(&o->mu);
	snprintf(o->fig.state, sizeof o->fig.state, "%s", state);
	pthread_mutex_unlock(&o->mu);
}

/* An error a user must see: on stderr and in the status file. */
static void report(struct fwd_output *o, const char *state, const char *msg)
{
	pthread_mutex_lock(&o->mu);
	snprintf(o->fig.state, sizeof o->fig.state, "%s", state);
	snprintf(o->fig.last_error, sizeof o->fig.last_error, "%s", msg);
	o->fig.last_error_ns = timefmt_now_ns();
	pthread_mutex_unlock(&o->mu);
	fwd_log("output %s: %s", o->cfg->name, msg);
}

/* Sleep ms in short steps; false when told to stop meanwhile. */
static bool pause_ms(struct fwd_output *o, int ms)
{
	while (ms > 0 && !*o->stop) {
		int step = ms < 100 ? ms : 100;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return !*o->stop;
}

static int next_backoff(const struct fwd_output *o, int ms)
{
	return ms * 2 < o->cfg->retry_max_ms ? ms * 2 : o->cfg->retry_max_ms;
}

static uint64_t cursor_seq(const char *c)
{
	unsigned char id[CURSOR_ID_LEN];
	uint64_t seq = 0;
	if (c == NULL || cursor_parse(c, id, &seq) < 0)
		return 0;
	return seq;
}

/* Open the reader at the output's position.  0, 1 to try again later, or
 * -1 when the output cannot go on (reported). */
static int open_reader(struct fwd_output *o)
{
	const struct fwd_output_config *c = o->cfg;
	char cursor[FWD_CURSOR_MAX], why[FWD_ERR_MAX] = "", msg[FWD_MSG_MAX];
	logbus_reader_options ro = {
	    .run_dir = o->run_dir[0] ? o->run_dir : NULL,
	    .follow = 1,
	    .error = why,
	    .error_len = sizeof why,
	    .filter = {.services = (const char *const *)c->services,
	               .nservices = c->nservices,
	               .min_level = c->min_level,
	               .logger_prefix = c->logger[0] ? c->logger : NULL,
	               .streams = c->streams,
	               .message_regex = c->regex[0] ? c->regex : NULL}};
	logbus_reader *r = NULL;

	state_get(o->state, c->name, cursor);
	if (cursor[0] != '\0') {
		ro.start = LOGBUS_START_CURSOR;
		ro.cursor = cursor;
	} else {
		ro.start = c->start_new ? LOGBUS_START_NEW : LOGBUS_START_HEAD;
	}
	int rc = logbus_reader_open(&r, &ro);
	if (rc == LOGBUS_OK) {
		pthread_mutex_lock(&o->mu);
		o->reader = r;
		o->fig.position_seq = cursor_seq(cursor);
		pthread_mutex_unlock(&o->mu);
		return 0;
	}
	if (rc == LOGBUS_ECURSOR) {
		snprintf(
		    msg, sizeof msg,
		    "ERROR: its position %s is not of logbusd's journal "
		    "(%s): the journal was made anew; remove the line "
		    "'%s ...' from %s to forward from the journal's start, "
		    "and restart",
		    cursor, why, c->name, o->state_path);
		report(o, "stopped", msg);
		return -1;
	}
	if (rc == LOGBUS_EINVAL) { /* a filter logbusd refuses: a regex */
		snprintf(msg, sizeof msg, "its filter is refused: %s", why);
		report(o, "stopped", msg);
		return -1;
	}
	snprintf(msg, sizeof msg, "cannot read from logbusd: %s (%s)",
	         logbus_strerror(rc), why);
	report(o, "waiting for logbusd", msg);
	return 1;
}

static void close_reader(struct fwd_output *o)
{
	pthread_mutex_lock(&o->mu);
	logbus_reader *r = o->reader;
	o->reader = NULL;
	pthread_mutex_unlock(&o->mu);
	if (r != NULL)
		logbus_reader_close(r);
}

/* The journal no longer has the records after the reader's position:
 * say how many are lost, then go on from the oldest kept. */
static void skip_expired(struct fwd_output *o)
{
	uint64_t at = cursor_seq(logbus_reader_cursor(o->reader));
	uint64_t oldest = logbus_reader_oldest_seq(o->reader);
	uint64_t lost = oldest > at + 1 ? oldest - at - 1 : 0;
	char msg[FWD_MSG_MAX];

	snprintf(msg, sizeof msg,
	         "ERROR: position expired: logbusd's retention removed "
	         "records %" PRIu64 "..%" PRIu64 " (%" PRIu64
	         " records of the journal) before they were forwarded; they "
	         "are skipped, and forwarding goes on from record %" PRIu64,
	         at + 1, oldest - 1, lost, oldest);
	pthread_mutex_lock(&o->mu);
	o->fig.skipped += lost;
	pthread_mutex_unlock(&o->mu);
	report(o, "ok", msg);
	logbus_reader_skip_expired(o->reader);
}

struct batch {
	size_t n;
	char last_cursor[FWD_CURSOR_MAX];
	uint64_t last_seq;
};

/* Gather a batch into the sink.  Returns 0 (possibly with n 0), or -1 when
 * the reader must be opened again (the batch is dropped: it is read again
 * from the position). */
static int gather(struct fwd_output *o, const struct sink_ops *ops,
                  struct sink *sink, struct batch *b)
{
	const struct fwd_output_config *c = o->cfg;
	int64_t deadline = 0;
	char msg[FWD_MSG_MAX];

	while (!*o->stop && b->n < c->batch_records &&
	       ops->size(sink) < c->batch_bytes) {
		int wait = IDLE_WAIT_MS;
		if (b->n > 0) {
			int64_t left = (deadline - timefmt_mono_ns()) / 1000000;
			if (left <= 0)
				break;
			wait = (int)left;
		}
		const logbus_record *rec;
		int rc = logbus_reader_next(o->reader, &rec, wait);
		if (rc == 1) {
			ops->add(sink, rec);
			snprintf(b->last_cursor, sizeof b->last_cursor, "%s",
			         rec->cursor);
			b->last_seq = rec->seq;
			if (b->n++ == 0) {
				deadline = timefmt_mono_ns() +
				           (int64_t)c->batch_wait_ms * 1000000;
				pthread_mutex_lock(&o->mu);
				o->fig.oldest_pending_recv_ns = rec->recv_ns;
				pthread_mutex_unlock(&o->mu);
			}
		} else if (rc == 0) {
			if (b->n == 0)
				set_state(o, "ok");
		} else if (rc == LOGBUS_EUNREACHABLE ||
		           rc == LOGBUS_ETIMEDOUT) {
			set_state(o, "waiting for logbusd");
			if (b->n > 0)
				break;
			pause_ms(o, 200);
		} else if (rc == LOGBUS_EEXPIRED) {
			skip_expired(o);
		} else if (rc == LOGBUS_ECLOSED) {
			break;
		} else {
			snprintf(
			    msg, sizeof msg,
			    "reading from logbusd failed: %s (%s); reading "
			    "again from the last acknowledged position",
			    logbus_strerror(rc),
			    logbus_reader_error(o->reader));
			report(o, "waiting for logbusd", msg);
			return -1;
		}
	}
	return 0;
}

/* Send the batch until it is acknowledged (true), or until told to stop
 * (false: nothing advances). */
static bool deliver(struct fwd_output *o, const struct sink_ops *ops,
                    struct sink *sink, const struct batch *b)
{
	int backoff = BACKOFF_FIRST_MS, attempts = 0;
	char err[FWD_ERR_MAX], msg[FWD_MSG_MAX];
	enum sink_result res;

	while ((res = ops->send(sink, err, sizeof err)) == SINK_RETRY) {
		attempts++;
		snprintf(msg, sizeof msg,
		         "%s; batch of %zu sent again in %d ms", err, b->n,
		         backoff);
		pthread_mutex_lock(&o->mu);
		o->fig.retries++;
		pthread_mutex_unlock(&o->mu);
		report(o, "retrying", msg);
		if (!pause_ms(o, backoff))
			return false;
		backoff = next_backoff(o, backoff);
	}
	if (res == SINK_REJECTED) {
		snprintf(msg, sizeof msg,
		         "ERROR: %s; the destination refused the batch of %zu "
		         "records for good: they are counted as rejected and "
		         "skipped",
		         err, b->n);
		report(o, "ok", msg);
	}
	if (state_set(o->state, o->cfg->name, b->last_cursor, err, sizeof err) <
	    0) {
		/* the batch is delivered; a restart sends it again */
		snprintf(msg, sizeof msg, "cannot keep the position: %s", err);
		report(o, "ok", msg);
	}
	pthread_mutex_lock(&o->mu);
	if (res == SINK_REJECTED)
		o->fig.rejected += b->n;
	else
		o->fig.forwarded += b->n;
	if (attempts > 0)
		o->fig.sent_again += b->n;
	o->fig.batches++;
	o->fig.position_seq = b->last_seq;
	o->fig.oldest_pending_recv_ns = 0;
	o->fig.last_ack_ns = timefmt_now_ns();
	if (res == SINK_OK)
		snprintf(o->fig.state, sizeof o->fig.state, "ok");
	pthread_mutex_unlock(&o->mu);
	return true;
}

static void *output_main(void *arg)
{
	struct fwd_output *o = arg;
	struct sink *sink = o->ops->open(o->cfg);
	int backoff = BACKOFF_FIRST_MS;

	if (sink == NULL) {
		report(o, "stopped",
		       "cannot set up the destination: out of "
		       "memory");
		__atomic_store_n(&o->failed, true, __ATOMIC_RELAXED);
		return NULL;
	}
	while (!*o->stop) {
		if (o->reader == NULL) {
			int rc = open_reader(o);
			if (rc < 0) {
				__atomic_store_n(&o->failed, true,
				                 __ATOMIC_RELAXED);
				break;
			}
			if (rc > 0) {
				pause_ms(o, backoff);
				backoff = next_backoff(o, backoff);
				continue;
			}
			backoff = BACKOFF_FIRST_MS;
		}
		struct batch b = {0};
		int rc = gather(o, o->ops, sink, &b);
		if (rc == 0 && b.n > 0 && !deliver(o, o->ops, sink, &b))
			break;
		o->ops->clear(sink);
		if (rc < 0)
			close_reader(o);
	}
	close_reader(o);
	o->ops->close(sink);
	return NULL;
}

int output_start(struct fwd_output *o)
{
	o->ops = ops_for(o->cfg->type);
	pthread_mutex_init(&o->mu, NULL);
	snprintf(o->fig.state, sizeof o->fig.state, "starting");
	return pthread_create(&o->thread, NULL, output_main, o);
}

void output_join(struct fwd_output *o)
{
	pthread_mutex_lock(&o->mu);
	if (o->reader != NULL)
		logbus_reader_interrupt(o->reader);
	pthread_mutex_unlock(&o->mu);
	pthread_join(o->thread, NULL);
	pthread_mutex_destroy(&o->mu);
}

bool output_failed(struct fwd_output *o)
{
	return __atomic_load_n(&o->failed, __ATOMIC_RELAXED);
}

void output_figures(struct fwd_output *o, struct fwd_figures *out)
{
	pthread_mutex_lock(&o->mu);
	*out = o->fig;
	pthread_mutex_unlock(&o->mu);
}
