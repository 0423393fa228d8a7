/*
 * selflog.c: the broker's own events, followed like any other record.
 *
 * An event is written to stderr at once (systemd's journal keeps it, and it
 * is all there is before the journal opens) and queued; an ev_check watcher
 * commits the queue as one batch of records of the service "logbusd", the
 * logger "logbus", after the loop has finished what it was doing, so that an
 * event raised in the middle of an ingest batch never re-enters it.  The
 * queue is bounded: past SELFLOG_MAX waiting events the rest are counted and
 * summarised in one more record.
 *
 * A batch of events is committed through the function broker.c installs
 * (selflog_init): the same append and fan-out as a publisher's batch, with
 * the broker's own pid, uid and gid as the trusted fields.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "selflog.h"

#include "batch.h"
#include "broker.h"
#include "logbus/logbus.h"
#include "proto.h"
#include "timefmt.h"
#include "utf8.h"

#define SELFLOG_MAX    1000
#define SELFLOG_LOGGER "logbus"
#define SELFLOG_TEXT   SELFLOG_TEXT_MAX
#define SELFLOG_FIELDS 5   /* structured fields of an event */
#define SELFLOG_FSTR   160 /* bytes of a string field's value, copied */

struct self_event {
	int64_t time_ns;
	int level;
	const char *logger; /* a literal */
	char text[SELFLOG_TEXT];
	size_t nfields;
	logbus_field f[SELFLOG_FIELDS]; /* a string points into fstr */
	char fstr[SELFLOG_FIELDS][SELFLOG_FSTR];
};

static void vlog(struct broker *b, const char *logger, int level,
                 const logbus_field *f, size_t nf, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static void vlog(struct broker *b, const char *logger, int level,
                 const logbus_field *f, size_t nf, const char *fmt, va_list ap)
{
	struct selflog *sl = &b->selflog;
	struct self_event ev = {
	    .time_ns = timefmt_now_ns(), .level = level, .logger = logger};
	char lv[16];

	vsnprintf(ev.text, sizeof ev.text, fmt, ap);
	ev.nfields = nf < SELFLOG_FIELDS ? nf : SELFLOG_FIELDS;
	for (size_t i = 0; i < ev.nfields; i++) {
		ev.f[i] = f[i];
		if (f[i].type == LOGBUS_FIELD_STR) {
			const char *v = f[i].v.s ? f[i].v.s : "";
			size_t n = utf8_cut(v, strlen(v) < SELFLOG_FSTR - 1
			                           ? strlen(v)
			                           : SELFLOG_FSTR - 1);
			memcpy(ev.fstr[i], v, n);
			ev.fstr[i][n] = '\0';
		}
	}
	if (!b->cfg.quiet)
		fprintf(stderr, "logbusd: %s%s%s\n",
		        level >= LOGBUS_WARNING
		            ? level_name(level, lv, sizeof lv)
		            : "",
		        level >= LOGBUS_WARNING ? ": " : "", ev.text);
	if (b->journal == NULL || sl->done)
		return;
	if (sl->nevents >= SELFLOG_MAX - 1) { /* one slot for the summary */
		sl->dropped++;
		return;
	}
	if (sl->events == NULL &&
	    (sl->events = calloc(SELFLOG_MAX, sizeof *sl->events)) == NULL)
		return;
	sl->events[sl->nevents++] = ev;
}

void broker_log(struct broker *b, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(b, SELFLOG_LOGGER, level, NULL, 0, fmt, ap);
	va_end(ap);
}

void broker_log_fields(struct broker *b, int level, const logbus_field *f,
                       size_t nf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(b, SELFLOG_LOGGER, level, f, nf, fmt, ap);
	va_end(ap);
}

void broker_log_as(struct broker *b, const char *logger, int level,
                   const logbus_field *f, size_t nf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(b, logger, level, f, nf, fmt, ap);
	va_end(ap);
}

/* Point the batch's records and views at the packed events. */
static bool selflog_stage(struct batch *bt, const char *data,
                          const size_t *offs, size_t n)
{
	struct record_error e;

	if (!batch_reserve(bt, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		bt->recs[i].data = data + offs[i];
		bt->recs[i].len = (uint32_t)(offs[i + 1] - offs[i]);
		bt->recs[i].svc = NULL; /* the journal reads it */
		bt->recs[i].flags = 0;
		if (record_decode(bt->recs[i].data, bt->recs[i].len, &bt->zone,
		                  &bt->views[i], &e) < 0)
			return false; /* our own encoding: cannot happen */
	}
	bt->n = n;
	return true;
}

static void pack_event(msgpack_sbuffer *sb, const struct self_event *ev)
{
	msgpack_packer pk;
	logbus_field f[SELFLOG_FIELDS];

	for (size_t i = 0; i < ev->nfields; i++) {
		f[i] = ev->f[i];
		if (f[i].type == LOGBUS_FIELD_STR)
			f[i].v.s = ev->fstr[i];
	}
	struct record_in in = {
	    .time_ns = ev->time_ns,
	    .level = ev->level,
	    .service = {SELF_SERVICE, sizeof SELF_SERVICE - 1},
	    .logger = {ev->logger, (uint32_t)strlen(ev->logger)},
	    .message = {ev->text, (uint32_t)strlen(ev->text)},
	    .fields = f,
	    .nfields = ev->nfields,
	};
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	record_pack(&pk, &in);
}

void selflog_flush(struct broker *b)
{
	struct selflog *sl = &b->selflog;
	struct batch *bt = &sl->batch;
	msgpack_sbuffer sb;
	char err[256];
	size_t n = sl->nevents;
	size_t offs[SELFLOG_MAX + 1];

	if (n == 0 || sl->commit == NULL)
		return;
	if (sl->dropped) {
		struct self_event *ev = &sl->events[n++];
		ev->time_ns = timefmt_now_ns();
		ev->level = LOGBUS_WARNING;
		ev->logger = SELFLOG_LOGGER;
		ev->nfields = 0;
		snprintf(ev->text, SELFLOG_TEXT,
		         "%llu more events of logbusd were not recorded",
		         (unsigned long long)sl->dropped);
		sl->dropped = 0;
	}
	sl->nevents = 0;
	msgpack_sbuffer_init(&sb);
	for (size_t i = 0; i < n; i++) {
		offs[i] = sb.size;
		pack_event(&sb, &sl->events[i]);
	}
	offs[n] = sb.size;
	if (selflog_stage(bt, sb.data, offs, n)) {
		bt->stamp = (struct frame_record){.pid = (uint32_t)getpid(),
		                                  .uid = (uint32_t)getuid(),
		                                  .gid = (uint32_t)getgid(),
		                                  .comm = "logbusd",
		                                  .recv_ns = timefmt_now_ns()};
		if (sl->commit(sl->commit_arg, bt, sl->session, ++sl->bn, err,
		               sizeof err) < 0 &&
		    !b->cfg.quiet)
			fprintf(stderr, "logbusd: ERROR: journal: %s\n", err);
	}
	batch_clear(bt);
	msgpack_sbuffer_destroy(&sb);
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
	(void)loop;
	(void)revents;
	selflog_flush(w->data);
}

void selflog_init(struct broker *b, selflog_commit_fn *commit, void *arg)
{
	struct selflog *sl = &b->selflog;

	if (getrandom(&sl->session, sizeof sl->session, 0) !=
	    sizeof sl->session)
		sl->session = (uint64_t)timefmt_now_ns();
	batch_init(&sl->batch);
	sl->commit = commit;
	sl->commit_arg = arg;
	ev_check_init(&sl->flush_w, on_check);
	sl->flush_w.data = b;
	ev_check_start(b->loop, &sl->flush_w);
}

void selflog_fini(struct broker *b)
{
	struct selflog *sl = &b->selflog;

	if (sl->commit) {
		selflog_flush(b);
		ev_check_stop(b->loop, &sl->flush_w);
		batch_fini(&sl->batch);
		sl->commit = NULL;
	}
	free(sl->events);
	sl->events = NULL;
	sl->done = true;
}
