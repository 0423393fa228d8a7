/*
 * alerts.c: the rules' workers, their queues, their positions and their
 * actions (alerts.h says what is promised).
 *
 * Threads: the loop owns struct alerts and every run's `fed` (the last seq
 * handed to the worker); a worker owns its rule's state (position,
 * throttle) and its current rule.  They share, under the run's mutex, the
 * queue, the flags (stop, a new rule, a test, a save owed) and a copy of
 * the status for `logbusctl alerts`.  Workers tell the loop what to
 * journal through a bounded list and an ev_async (broker_log is the
 * loop's).  The alerts directory's descriptor is the loop's to replace
 * (the log directory made again) under dir_lock, which workers hold to
 * read and write their files through it.
 *
 * A chunk is the frames of consecutive records (the journal's bytes: frame
 * header, body header, the client's msgpack), shared by every rule it was
 * handed to and freed by the last.
 */
#include "alerts.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alert_exec.h"
#include "alert_rule.h"
#include "alert_state.h"
#include "alert_webhook.h"
#include "batch.h"
#include "broker.h"
#include "cursor.h"
#include "journal.h"
#include "proto.h"
#include "record_json.h"
#include "selflog.h"
#include "strbuf.h"
#include "timefmt.h"

#define QUEUE_CHUNKS  256
#define CHUNK_BYTES   (1u << 20) /* a catch-up read's slice */
#define CHUNK_RECORDS 4096
#define CATCHUP_S     0.1          /* the loop's look at rules behind */
#define SAVE_EVERY_NS 1000000000LL /* a position without actions */
#define EVENTS_MAX    1000         /* journal records waiting for the loop */
#define MESSAGE_ENV   4096         /* bytes of LOGBUS_MESSAGE */
#define ALERT_DIR     "alerts"

struct chunk {
	atomic_uint refs;
	uint64_t first, last;
	size_t len;
	unsigned char data[];
};

/* What `logbusctl alerts` shows of a rule, kept by its worker. */
struct run_status {
	uint64_t pos, fired, failed, held, tests;
	int64_t last_fired_ns;
	char last_service[LOGBUS_SERVICE_MAX + 1];
	char last_result[256];
};

struct run {
	struct alerts *a;
	char name[ALERT_NAME_MAX + 1];
	char *text;   /* the rule's keys, for status (loop only) */
	int kind;     /* enum alert_kind, for status (loop only) */
	uint64_t fed; /* loop only */
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct alert_rule *next_rule;
	struct chunk *q[QUEUE_CHUNKS];
	size_t qhead, qn, qbytes;
	bool stop, retire;
	bool resave; /* the directory is new: save the state there */
	unsigned tests_asked;
	struct run_status st;
	/* the worker's */
	atomic_bool cancel;
	struct alert_rule *rule;
	struct alert_state state;
	msgpack_zone zone;
	bool dirty;
	int64_t saved_ns;
	struct run *next_retiring; /* loop: removed, not joined yet */
};

struct event {
	int level;
	char text[SELFLOG_TEXT_MAX];
	char rule[ALERT_NAME_MAX + 1];
	char service[LOGBUS_SERVICE_MAX + 1];
	char kind[16];
	uint64_t seq, held;
};

struct alerts {
	struct broker *b;
	int dirfd; /* <log dir>/alerts; replaced under dir_lock */
	pthread_rwlock_t dir_lock;
	unsigned char journal_id[CURSOR_ID_LEN];
	struct run *runs[ALERTS_MAX];
	size_t n;
	struct run *retiring;
	bool stopped;
	ev_timer catchup_w;
	ev_async event_w;
	pthread_mutex_t ev_mu;
	struct event *events;
	size_t nevents;
	uint64_t events_dropped;
};

/* ---- the worker's journal records, through the loop ------------------- */

static void post_event(struct alerts *a, const struct event *e)
{
	pthread_mutex_lock(&a->ev_mu);
	if (a->nevents < EVENTS_MAX)
		a->events[a->nevents++] = *e;
	else
		a->events_dropped++;
	pthread_mutex_unlock(&a->ev_mu);
	ev_async_send(a->b->loop, &a->event_w);
}

static void flush_events(struct alerts *a)
{
	struct event *v;
	size_t n;
	uint64_t dropped;

	pthread_mutex_lock(&a->ev_mu);
	n = a->nevents;
	dropped = a->events_dropped;
	v = n ? malloc(n * sizeof *v) : NULL;
	if (v)
		memcpy(v, a->events, n * sizeof *v);
	a->nevents = 0;
	a->events_dropped = 0;
	pthread_mutex_unlock(&a->ev_mu);
	for (size_t i = 0; v && i < n; i++) {
		logbus_field f[] = {
		    LOGBUS_STR("rule", v[i].rule),
		    LOGBUS_STR("event", v[i].kind),
		    LOGBUS_STR("service", v[i].service),
		    LOGBUS_INT("seq", (int64_t)v[i].seq),
		    LOGBUS_INT("held", (int64_t)v[i].held),
		};
		broker_log_as(a->b, ALERT_LOGGER, v[i].level, f,
		              v[i].service[0] ? 5 : 2, "%s", v[i].text);
	}
	if (dropped)
		broker_log_as(a->b, ALERT_LOGGER, LOGBUS_WARNING, NULL, 0,
		              "alerts: %" PRIu64 " journal records of alert "
		              "actions were dropped (too many at once)",
		              dropped);
	free(v);
}

static void on_event(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)revents;
	flush_events(w->data);
}

/* ---- chunks ---------------------------------------------------------------
 */

static void chunk_unref(struct chunk *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		free(c);
}

/* Hand c to r when there is room: true, or false (r catches up later). */
static bool run_push(struct run *r, struct chunk *c)
{
	bool ok;

	pthread_mutex_lock(&r->mu);
	ok = r->qn < QUEUE_CHUNKS &&
	     (r->qn == 0 || r->qbytes + c->len <= ALERT_QUEUE_BYTES);
	if (ok) {
		atomic_fetch_add(&c->refs, 1);
		r->q[(r->qhead + r->qn++) % QUEUE_CHUNKS] = c;
		r->qbytes += c->len;
		r->fed = c->last;
		pthread_cond_signal(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return ok;
}

static bool run_has_room(struct run *r)
{
	bool room;

	pthread_mutex_lock(&r->mu);
	room = r->qn < QUEUE_CHUNKS && r->qbytes < ALERT_QUEUE_BYTES;
	pthread_mutex_unlock(&r->mu);
	return room;
}

void alerts_committed(struct alerts *a, const struct batch *bt)
{
	struct chunk *c = NULL;

	if (a == NULL || a->n == 0 || a->stopped || bt->n == 0)
		return;
	for (size_t i = 0; i < a->n; i++) {
		struct run *r = a->runs[i];
		if (r->fed + 1 != bt->first_seq)
			continue; /* behind: the catch-up timer reads it */
		if (c == NULL) {
			const unsigned char *h =
			    journal_last_headers(a->b->journal);
			size_t len = 0;
			for (size_t k = 0; k < bt->n; k++)
				len += FRAME_OVERHEAD + bt->recs[k].len;
			if ((c = malloc(sizeof *c + len)) == NULL)
				return;
			atomic_init(&c->refs, 1);
			c->first = bt->first_seq;
			c->last = bt->first_seq + bt->n - 1;
			c->len = len;
			unsigned char *p = c->data;
			for (size_t k = 0; k < bt->n; k++) {
				memcpy(p, h + k * FRAME_OVERHEAD,
				       FRAME_OVERHEAD);
				memcpy(p + FRAME_OVERHEAD, bt->recs[k].data,
				       bt->recs[k].len);
				p += FRAME_OVERHEAD + bt->recs[k].len;
			}
		}
		run_push(r, c);
	}
	chunk_unref(c);
}

/* ---- catching up from the journal (the loop) ----------------------------- */

struct slice {
	struct strbuf buf;
	size_t n;
	uint64_t first, last;
};

static int slice_add(void *arg, const struct frame_record *fr,
                     const unsigned char *frame, uint32_t frame_len)
{
	struct slice *s = arg;

	if (s->n == 0)
		s->first = fr->seq;
	s->last = fr->seq;
	s->n++;
	sb_put(&s->buf, (const char *)frame, frame_len);
	return s->buf.len >= CHUNK_BYTES || s->n >= CHUNK_RECORDS;
}

/* Read the next slice of what r has not been handed yet. */
static void catch_up(struct alerts *a, struct run *r)
{
	struct journal *j = a->b->journal;
	struct slice s;
	char err[256];
	uint64_t gap_end;

	memset(&s, 0, sizeof s);

	if (r->fed < journal_first_seq(j) - 1) {
		broker_log_as(a->b, ALERT_LOGGER, LOGBUS_WARNING, NULL, 0,
		              "alert %s: records %" PRIu64 "..%" PRIu64
		              " were removed by retention before the rule "
		              "saw them; it goes on from %" PRIu64,
		              r->name, r->fed + 1, journal_first_seq(j) - 1,
		              journal_first_seq(j));
		r->fed = journal_first_seq(j) - 1;
	}
	if (journal_read(j, r->fed, slice_add, &s, err, sizeof err) < 0) {
		broker_log_as(a->b, ALERT_LOGGER, LOGBUS_ERROR, NULL, 0,
		              "alert %s: cannot read the journal after %" PRIu64
		              ": %s; trying again",
		              r->name, r->fed, err);
	} else if (s.n == 0 &&
	           journal_gap(j, r->fed + 1, &gap_end, err, sizeof err) == 1) {
		broker_log_as(a->b, ALERT_LOGGER, LOGBUS_WARNING, NULL, 0,
		              "alert %s: records %" PRIu64 "..%" PRIu64
		              " are missing from the journal; the rule goes on "
		              "after them",
		              r->name, r->fed + 1, gap_end);
		r->fed = gap_end;
	} else if (s.n > 0 && !s.buf.failed) {
		struct chunk *c = malloc(sizeof *c + s.buf.len);
		if (c != NULL) {
			atomic_init(&c->refs, 1);
			c->first = s.first;
			c->last = s.last;
			c->len = s.buf.len;
			memcpy(c->data, s.buf.p, s.buf.len);
			run_push(r, c);
			chunk_unref(c);
		}
	}
	sb_free(&s.buf);
}

static void run_free(struct run *r);

static void reap_retiring(struct alerts *a)
{
	struct run **pp = &a->retiring;

	while (*pp) {
		struct run *r = *pp;
		if (pthread_tryjoin_np(r->th, NULL) == 0) {
			*pp = r->next_retiring;
			r->started = false;
			run_free(r);
		} else {
			pp = &r->next_retiring;
		}
	}
}

static void on_catchup(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct alerts *a = w->data;

	(void)loop;
	(void)revents;
	uint64_t last = journal_last_seq(a->b->journal);
	for (size_t i = 0; i < a->n; i++)
		if (a->runs[i]->fed < last && run_has_room(a->runs[i]))
			catch_up(a, a->runs[i]);
	reap_retiring(a);
}

/* ---- actions (the worker) ------------------------------------------------ */

enum act_kind { ACT_ALERT, ACT_RESOLVED, ACT_TEST };
static const char *const act_names[] = {"alert", "resolved", "test"};

/* What one action is about. */
struct act {
	enum act_kind kind;
	const struct record_view *v; /* NULL: resolved */
	const struct frame_record *fr;
	const char *service;
	uint64_t held;
	int64_t held_since_ns;
};

/* "10:00:00", local time. */
static void clock_text(char *buf, size_t len, int64_t ns)
{
	char t[TIMEFMT_MAX];

	timefmt_python(t, sizeof t, ns);
	snprintf(buf, len, "%.8s", t + 11);
}

static void summary_text(char *buf, size_t len, const struct act *x)
{
	char since[16];

	buf[0] = '\0';
	if (x->held == 0)
		return;
	clock_text(since, sizeof since, x->held_since_ns);
	snprintf(buf, len, "and %" PRIu64 " more since %s", x->held, since);
}

/* The record's message: its first line, at most max bytes, for one line
 * of text. */
static void first_line(char *buf, size_t len, const struct record_view *v)
{
	const char *nl = memchr(v->message.p, '\n', v->message.len);
	size_t n = nl ? (size_t)(nl - v->message.p) : v->message.len;
	if (n >= len)
		n = len - 1;
	memcpy(buf, v->message.p, n);
	buf[n] = '\0';
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* "alert crash: service_1: Traceback ... (and 3 more since 10:00:00)" */
static void action_text(struct strbuf *b, const struct run *r,
                        const struct act *x, const char *summary)
{
	char line[300];

	if (x->kind == ACT_RESOLVED) {
		sb_printf(b, "alert %s: %s resolved: no match for %gs", r->name,
		          x->service, r->rule->resolve_after_s);
		if (*summary)
			sb_printf(b, " (%s)", summary + 4); /* "N more..." */
		return;
	}
	first_line(line, sizeof line, x->v);
	sb_printf(b, "alert %s%s: %s: %s", r->name,
	          x->kind == ACT_TEST ? " (test)" : "", x->service, line);
	if (*summary)
		sb_printf(b, " (%s)", summary);
}

static void env_add(char **env, size_t *n, const char *key, const char *value,
                    size_t vlen)
{
	struct strbuf b = {0};

	sb_printf(&b, "%s=", key);
	/* an environment string ends at its first NUL */
	size_t stop = strnlen(value, vlen);
	sb_put(&b, value, stop > MESSAGE_ENV ? MESSAGE_ENV : stop);
	if (!b.failed)
		env[(*n)++] = b.p;
}

static void run_exec(struct run *r, const struct act *x, const char *summary,
                     const char *json, size_t jlen, struct strbuf *outcome,
                     bool *ok)
{
	char *env[16] = {0}, num[32], lv[16], cur[CURSOR_STR_LEN + 1],
	     t[TIMEFMT_MAX];
	size_t n = 0;
	struct alert_exec_result res;
	const struct record_view *v = x->v;

	env_add(env, &n, "LOGBUS_RULE", r->name, strlen(r->name));
	env_add(env, &n, "LOGBUS_EVENT", act_names[x->kind],
	        strlen(act_names[x->kind]));
	env_add(env, &n, "LOGBUS_SERVICE", x->service, strlen(x->service));
	env_add(env, &n, "LOGBUS_SUMMARY", summary, strlen(summary));
	snprintf(num, sizeof num, "%" PRIu64, x->held);
	env_add(env, &n, "LOGBUS_HELD", num, strlen(num));
	if (v != NULL) {
		const char *name = level_name(v->level, lv, sizeof lv);
		env_add(env, &n, "LOGBUS_LEVEL", name, strlen(name));
		env_add(env, &n, "LOGBUS_LOGGER", v->logger.p, v->logger.len);
		env_add(env, &n, "LOGBUS_MESSAGE", v->message.p,
		        v->message.len);
		timefmt_rfc3339(t, sizeof t, v->time_ns);
		env_add(env, &n, "LOGBUS_TIME", t, strlen(t));
	}
	if (x->fr != NULL && x->fr->seq > 0) {
		snprintf(num, sizeof num, "%" PRIu64, x->fr->seq);
		env_add(env, &n, "LOGBUS_SEQ", num, strlen(num));
		cursor_format(cur, r->a->journal_id, x->fr->seq);
		env_add(env, &n, "LOGBUS_CURSOR", cur, strlen(cur));
	}
	env[n] = NULL;
	alert_exec_run(r->rule->argv, env, json, jlen, r->rule->timeout_s,
	               &r->cancel, &res);
	char how[300];
	alert_exec_describe(&res, r->rule->timeout_s, how, sizeof how);
	*ok = !res.error[0] && !res.timed_out && !res.cancelled &&
	      WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0;
	sb_printf(outcome, "%s %s", r->rule->argv[0], how);
	if (res.err_len) {
		while (res.err_len && (res.err[res.err_len - 1] == '\n'))
			res.err[--res.err_len] = '\0';
		sb_printf(outcome, "; stderr: %s", res.err);
	}
	for (size_t i = 0; i < n; i++)
		free(env[i]);
}

static void run_webhook(struct run *r, const struct act *x, const char *summary,
                        const char *json, size_t jlen, const char *text,
                        struct strbuf *outcome, bool *ok)
{
	struct strbuf body = {0};
	struct alert_webhook_result res;
	char t[TIMEFMT_MAX];

	sb_puts(&body, "{\"rule\":");
	sb_json_str(&body, r->name, strlen(r->name));
	sb_printf(&body, ",\"event\":\"%s\",\"service\":", act_names[x->kind]);
	sb_json_str(&body, x->service, strlen(x->service));
	sb_puts(&body, ",\"text\":");
	sb_json_str(&body, text, strlen(text));
	sb_puts(&body, ",\"summary\":");
	sb_json_str(&body, summary, strlen(summary));
	sb_printf(&body, ",\"held\":%" PRIu64 ",\"held_since\":", x->held);
	if (x->held) {
		timefmt_rfc3339(t, sizeof t, x->held_since_ns);
		sb_json_str(&body, t, strlen(t));
	} else {
		sb_puts(&body, "null");
	}
	sb_puts(&body, ",\"record\":");
	if (json)
		sb_put(&body, json, jlen - 1); /* without its newline */
	else
		sb_puts(&body, "null");
	sb_puts(&body, "}");
	if (body.failed) {
		sb_printf(outcome, "out of memory for the webhook's body");
		*ok = false;
		sb_free(&body);
		return;
	}
	*ok = alert_webhook_post(r->rule->url, body.p, body.len,
	                         r->rule->timeout_s, r->rule->retries,
	                         &r->cancel, &res) == 0;
	if (*ok)
		sb_printf(outcome, "webhook: HTTP %ld after %u attempt%s",
		          res.http, res.attempts, res.attempts > 1 ? "s" : "");
	else if (res.http)
		sb_printf(outcome,
		          "webhook failed: HTTP %ld after %u attempt%s",
		          res.http, res.attempts, res.attempts > 1 ? "s" : "");
	else
		sb_printf(outcome, "webhook failed after %u attempt%s: %s",
		          res.attempts, res.attempts > 1 ? "s" : "", res.error);
	sb_free(&body);
}

/* Run r's action for x and journal how it went.  Returns when it is
 * done (or killed). */
static void act(struct run *r, const struct act *x)
{
	struct strbuf json = {0}, text = {0}, outcome = {0};
	char summary[96];
	bool ok = true;

	summary_text(summary, sizeof summary, x);
	action_text(&text, r, x, summary);
	if (x->v != NULL) {
		record_json(&json, x->v, x->fr->seq, x->fr);
	} else {
		char t[TIMEFMT_MAX];
		sb_puts(&json, "{\"event\":\"resolved\",\"rule\":");
		sb_json_str(&json, r->name, strlen(r->name));
		sb_puts(&json, ",\"service\":");
		sb_json_str(&json, x->service, strlen(x->service));
		sb_printf(&json, ",\"held\":%" PRIu64, x->held);
		timefmt_rfc3339(t, sizeof t, timefmt_now_ns());
		sb_printf(&json, ",\"timestamp\":\"%s\"}\n", t);
	}
	if (r->rule->kind == ALERT_EXEC)
		run_exec(r, x, summary, json.p, json.len, &outcome, &ok);
	else if (r->rule->kind == ALERT_WEBHOOK)
		run_webhook(r, x, summary, json.p, json.len,
		            text.p ? text.p : "", &outcome, &ok);
	else
		sb_puts(&outcome, "journaled");

	struct event e = {.level = !ok                    ? LOGBUS_ERROR
	                           : x->kind == ACT_ALERT ? LOGBUS_WARNING
	                                                  : LOGBUS_INFO,
	                  .seq = x->fr ? x->fr->seq : 0,
	                  .held = x->held};
	snprintf(e.text, sizeof e.text, "%s; %s", text.p ? text.p : "",
	         outcome.p ? outcome.p : "");
	snprintf(e.rule, sizeof e.rule, "%s", r->name);
	snprintf(e.service, sizeof e.service, "%s", x->service);
	snprintf(e.kind, sizeof e.kind, "%s", act_names[x->kind]);
	post_event(r->a, &e);

	pthread_mutex_lock(&r->mu);
	if (x->kind == ACT_TEST)
		r->st.tests++;
	else
		r->st.fired++;
	r->st.failed += !ok;
	r->st.last_fired_ns = timefmt_now_ns();
	snprintf(r->st.last_service, sizeof r->st.last_service, "%s",
	         x->service);
	snprintf(r->st.last_result, sizeof r->st.last_result, "%s%s%s",
	         act_names[x->kind], ": ", outcome.p ? outcome.p : "");
	pthread_mutex_unlock(&r->mu);
	sb_free(&json);
	sb_free(&text);
	sb_free(&outcome);
}

/* ---- the worker -----------------------------------------------------------
 */

static void save(struct run *r)
{
	char err[512];
	uint64_t held = 0;

	for (size_t i = 0; i < r->state.n; i++)
		held += r->state.svcs[i].held;
	pthread_mutex_lock(&r->mu);
	r->st.pos = r->state.pos;
	r->st.held = held;
	pthread_mutex_unlock(&r->mu);
	pthread_rwlock_rdlock(&r->a->dir_lock);
	int rc =
	    alert_state_save(r->a->dirfd, r->name, &r->state, err, sizeof err);
	pthread_rwlock_unlock(&r->a->dir_lock);
	if (rc < 0) {
		struct event e = {.level = LOGBUS_ERROR};
		snprintf(e.text, sizeof e.text,
		         "alert %s: %.300s; after a restart the rule may act "
		         "on records again",
		         r->name, err);
		snprintf(e.rule, sizeof e.rule, "%s", r->name);
		snprintf(e.kind, sizeof e.kind, "state");
		post_event(r->a, &e);
	}
	r->dirty = false;
	r->saved_ns = timefmt_mono_ns();
}

/* A matching record: act, or hold it back within the interval. */
static void on_match(struct run *r, const struct record_view *v,
                     const struct frame_record *fr)
{
	struct alert_svc *e =
	    alert_state_service(&r->state, v->service.p, v->service.len);
	int64_t interval = (int64_t)(r->rule->interval_s * 1e9);

	if (e == NULL)
		return;
	e->last_match_ns = fr->recv_ns;
	if (interval > 0 && e->last_sent_ns != 0 &&
	    fr->recv_ns < e->last_sent_ns + interval) {
		if (e->held++ == 0)
			e->held_since_ns = fr->recv_ns;
		return;
	}
	struct act x = {ACT_ALERT,  v,       fr,
	                e->service, e->held, e->held_since_ns};
	act(r, &x);
	e->last_sent_ns = fr->recv_ns;
	e->held = 0;
	e->active = true;
	r->state.pos = fr->seq;
	save(r); /* the action is done: never again for this record */
}

/* resolve-after: services quiet long enough.  Returns when the next one
 * is due (INT64_MAX: none). */
static int64_t resolve_due(struct run *r)
{
	int64_t after = (int64_t)(r->rule->resolve_after_s * 1e9),
	        next = INT64_MAX, now = timefmt_now_ns();

	if (after <= 0)
		return INT64_MAX;
	for (size_t i = 0; i < r->state.n && !atomic_load(&r->cancel); i++) {
		struct alert_svc *e = &r->state.svcs[i];
		if (!e->active)
			continue;
		if (now < e->last_match_ns + after) {
			if (e->last_match_ns + after < next)
				next = e->last_match_ns + after;
			continue;
		}
		struct act x = {ACT_RESOLVED, NULL,    NULL,
		                e->service,   e->held, e->held_since_ns};
		act(r, &x);
		e->active = false;
		e->held = 0;
		save(r);
	}
	return next;
}

static bool own_record(const struct record_view *v)
{
	return service_is_self(v->service.p, v->service.len) &&
	       logger_under(v->logger.p, v->logger.len, ALERT_LOGGER,
	                    sizeof ALERT_LOGGER - 1);
}

static void process(struct run *r, const struct chunk *c)
{
	const unsigned char *p = c->data, *end = c->data + c->len;

	while (p < end && !atomic_load(&r->cancel)) {
		struct frame_record fr;
		struct record_view v;
		struct record_error e;

		frame_record_decode(p, &fr);
		p += FRAME_HDR + le_get32(p);
		if (fr.seq <= r->state.pos)
			continue;
		msgpack_zone_clear(&r->zone);
		if (record_decode(fr.data, fr.len, &r->zone, &v, &e) == 0 &&
		    !own_record(&v) &&
		    alert_rule_match(r->rule, &v, &fr) == FILTER_YES)
			on_match(r, &v, &fr);
		r->state.pos = fr.seq;
		r->dirty = true;
	}
	if (r->dirty && timefmt_mono_ns() - r->saved_ns >= SAVE_EVERY_NS)
		save(r);
}

static void test_action(struct run *r)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone zone;
	struct record_view v;
	struct record_error e;
	char msg[200];

	snprintf(msg, sizeof msg,
	         "test of alert rule %s (logbusctl alerts test)", r->name);
	struct record_in in = {
	    .time_ns = timefmt_now_ns(),
	    .level = r->rule->flt.min_level > 0 ? r->rule->flt.min_level
	                                        : LOGBUS_WARNING,
	    .service = {SELF_SERVICE, sizeof SELF_SERVICE - 1},
	    .logger = {ALERT_LOGGER, sizeof ALERT_LOGGER - 1},
	    .message = {msg, (uint32_t)strlen(msg)},
	};
	struct frame_record fr = {.pid = (uint32_t)getpid(),
	                          .uid = (uint32_t)getuid(),
	                          .gid = (uint32_t)getgid(),
	                          .comm = "logbusd",
	                          .recv_ns = in.time_ns};
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	record_pack(&pk, &in);
	msgpack_zone_init(&zone, 1024);
	if (record_decode(sb.data, sb.size, &zone, &v, &e) == 0) {
		struct act x = {ACT_TEST, &v, &fr, SELF_SERVICE, 0, 0};
		act(r, &x);
	}
	msgpack_zone_destroy(&zone);
	msgpack_sbuffer_destroy(&sb);
}

static void *run_main(void *arg)
{
	struct run *r = arg;
	int64_t due = INT64_MAX;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		if (r->resave) {
			r->resave = false;
			r->dirty = true;
		}
		if (r->next_rule) {
			alert_rule_free(r->rule);
			r->rule = r->next_rule;
			r->next_rule = NULL;
		}
		if (r->stop)
			break;
		if (r->tests_asked) {
			r->tests_asked--;
			pthread_mutex_unlock(&r->mu);
			test_action(r);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		if (r->qn) {
			struct chunk *c = r->q[r->qhead];
			r->qhead = (r->qhead + 1) % QUEUE_CHUNKS;
			r->qn--;
			r->qbytes -= c->len;
			pthread_mutex_unlock(&r->mu);
			process(r, c);
			chunk_unref(c);
			due = resolve_due(r);
			pthread_mutex_lock(&r->mu);
			continue;
		}
		pthread_mutex_unlock(&r->mu);
		if (r->dirty)
			save(r);
		due = resolve_due(r);
		pthread_mutex_lock(&r->mu);
		if (r->stop || r->qn || r->tests_asked || r->next_rule ||
		    r->resave)
			continue;
		/* a second at most: a resolve comes due, a save is owed */
		int64_t until = timefmt_now_ns() + 1000000000LL;
		if (due < until)
			until = due;
		struct timespec ts = {until / 1000000000LL,
		                      until % 1000000000LL};
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
	pthread_mutex_unlock(&r->mu);
	if (r->retire) {
		pthread_rwlock_rdlock(&r->a->dir_lock);
		alert_state_remove(r->a->dirfd, r->name);
		pthread_rwlock_unlock(&r->a->dir_lock);
	} else if (r->dirty) {
		save(r);
	}
	return NULL;
}

/* ---- rules from the configuration ---------------------------------------- */

/* cfg->alerts holds NAME, key, value triples, in the file's order. */
static int rules_from(const struct broker_config *cfg,
                      struct alert_rule **rules, size_t *n, char *err,
                      size_t errlen)
{
	const char **kv =
	    calloc(cfg->nalerts ? cfg->nalerts * 2 / 3 : 1, sizeof *kv);
	char why[512];

	*n = 0;
	if (kv == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->nalerts; i += 3) {
		const char *name = cfg->alerts[i];
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k += 3)
			seen = strcmp(cfg->alerts[k], name) == 0;
		if (seen)
			continue;
		size_t np = 0;
		for (size_t k = i; k < cfg->nalerts; k += 3)
			if (strcmp(cfg->alerts[k], name) == 0) {
				kv[2 * np] = cfg->alerts[k + 1];
				kv[2 * np + 1] = cfg->alerts[k + 2];
				np++;
			}
		if (*n >= ALERTS_MAX) {
			snprintf(err, errlen,
			         "more than %d [alert] rules (each has a "
			         "thread of its own)",
			         ALERTS_MAX);
			goto fail;
		}
		rules[*n] = alert_rule_new(name, kv, np, why, sizeof why);
		if (rules[*n] == NULL) {
			snprintf(err, errlen, "[alert %s] %s", name, why);
			goto fail;
		}
		(*n)++;
	}
	free(kv);
	return 0;
fail:
	for (size_t i = 0; i < *n; i++)
		alert_rule_free(rules[i]);
	*n = 0;
	free(kv);
	return -1;
}

int alerts_check(const struct broker_config *cfg, char *err, size_t errlen)
{
	struct alert_rule *rules[ALERTS_MAX];
	size_t n;

	if (rules_from(cfg, rules, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		alert_rule_free(rules[i]);
	return 0;
}

/* ---- runs ------------------------------------------------------------------
 */

static void run_free(struct run *r)
{
	if (r->started) {
		pthread_join(r->th, NULL);
		r->started = false;
	}
	for (size_t i = 0; i < r->qn; i++)
		chunk_unref(r->q[(r->qhead + i) % QUEUE_CHUNKS]);
	alert_rule_free(r->rule);
	alert_rule_free(r->next_rule);
	alert_state_fini(&r->state);
	msgpack_zone_destroy(&r->zone);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->text);
	free(r);
}

/* The state a rule starts from: its file, or the journal's end for a rule
 * never seen (or one of another journal). */
static void run_position(struct alerts *a, struct run *r)
{
	struct journal *j = a->b->journal;
	char err[512];
	int rc =
	    alert_state_load(a->dirfd, r->name, &r->state, err, sizeof err);

	if (rc < 0)
		broker_log_as(a->b, ALERT_LOGGER, LOGBUS_ERROR, NULL, 0,
		              "alert %s: %s; it starts from the journal's end",
		              r->name, err);
	if (rc == 1 &&
	    memcmp(r->state.journal, a->journal_id, CURSOR_ID_LEN) != 0) {
		broker_log_as(a->b, ALERT_LOGGER, LOGBUS_WARNING, NULL, 0,
		              "alert %s: its saved position is of another "
		              "journal; it starts from this one's end",
		              r->name);
		alert_state_fini(&r->state);
		rc = 0;
	}
	if (rc == 1 && r->state.pos > journal_last_seq(j))
		r->state.pos = journal_last_seq(j);
	if (rc != 1) {
		memcpy(r->state.journal, a->journal_id, CURSOR_ID_LEN);
		r->state.pos = journal_last_seq(j);
		r->dirty = true; /* saved by the worker at once */
	}
	r->fed = r->state.pos;
	r->st.pos = r->state.pos;
}

static struct run *run_start(struct alerts *a, struct alert_rule *rule)
{
	struct run *r = calloc(1, sizeof *r);
	sigset_t all, old;

	if (r == NULL)
		return NULL;
	r->a = a;
	snprintf(r->name, sizeof r->name, "%s", rule->name);
	r->text = strdup(rule->text);
	r->kind = rule->kind;
	r->rule = rule;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	atomic_init(&r->cancel, false);
	msgpack_zone_init(&r->zone, 4096);
	run_position(a, r);
	/* signals are the loop's: the worker blocks them all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r->started = pthread_create(&r->th, NULL, run_main, r) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!r->started || r->text == NULL) {
		r->rule = NULL; /* the caller's still */
		run_free(r);
		return NULL;
	}
	return r;
}

/* Ask r's worker to end: at once, killing a running action. */
static void run_stop(struct run *r, bool retire)
{
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	r->retire = retire;
	atomic_store(&r->cancel, true);
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static const char *kind_name(int kind)
{
	return kind == ALERT_EXEC      ? "exec"
	       : kind == ALERT_WEBHOOK ? "webhook"
	                               : "journal";
}

static int open_dir(struct broker *b, char *err, size_t errlen)
{
	int fd;

	if (mkdirat(b->dirs.log_fd, ALERT_DIR, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make %s/%s: %s", b->cfg.log_dir,
		         ALERT_DIR, strerror(errno));
		return -1;
	}
	fd = openat(b->dirs.log_fd, ALERT_DIR,
	            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "cannot open %s/%s: %s", b->cfg.log_dir,
		         ALERT_DIR, strerror(errno));
	return fd;
}

struct alerts *alerts_new(struct broker *b, char *err, size_t errlen)
{
	struct alerts *a = calloc(1, sizeof *a);

	if (a == NULL ||
	    (a->events = calloc(EVENTS_MAX, sizeof *a->events)) == NULL) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->b = b;
	a->dirfd = -1;
	memcpy(a->journal_id, journal_id(b->journal), CURSOR_ID_LEN);
	pthread_mutex_init(&a->ev_mu, NULL);
	pthread_rwlock_init(&a->dir_lock, NULL);
	ev_async_init(&a->event_w, on_event);
	a->event_w.data = a;
	ev_async_start(b->loop, &a->event_w);
	ev_timer_init(&a->catchup_w, on_catchup, CATCHUP_S, CATCHUP_S);
	a->catchup_w.data = a;
	ev_timer_start(b->loop, &a->catchup_w);
	if (alert_webhook_init(err, errlen) < 0 ||
	    alerts_configure(a, &b->cfg, err, errlen) < 0) {
		alerts_stop(a);
		alerts_free(a);
		return NULL;
	}
	return a;
}

int alerts_configure(struct alerts *a, const struct broker_config *cfg,
                     char *err, size_t errlen)
{
	struct alert_rule *rules[ALERTS_MAX];
	struct run *keep[ALERTS_MAX];
	size_t n, nkeep = 0;

	if (rules_from(cfg, rules, &n, err, errlen) < 0)
		return -1;
	if (n > 0 && a->dirfd < 0 &&
	    (a->dirfd = open_dir(a->b, err, errlen)) < 0) {
		for (size_t i = 0; i < n; i++)
			alert_rule_free(rules[i]);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct run *r = NULL;
		for (size_t k = 0; k < a->n && r == NULL; k++)
			if (a->runs[k] &&
			    strcmp(a->runs[k]->name, rules[i]->name) == 0)
				r = a->runs[k];
		if (r != NULL) {
			/* the same name: it goes on, with the new rule */
			for (size_t k = 0; k < a->n; k++)
				if (a->runs[k] == r)
					a->runs[k] = NULL;
			if (strcmp(r->text, rules[i]->text) != 0) {
				char *t = strdup(rules[i]->text);
				if (t) {
					free(r->text);
					r->text = t;
				}
				r->kind = rules[i]->kind;
				pthread_mutex_lock(&r->mu);
				alert_rule_free(r->next_rule);
				r->next_rule = rules[i];
				pthread_cond_signal(&r->cv);
				pthread_mutex_unlock(&r->mu);
			} else {
				alert_rule_free(rules[i]);
			}
		} else if ((r = run_start(a, rules[i])) == NULL) {
			broker_log_as(a->b, ALERT_LOGGER, LOGBUS_ERROR, NULL, 0,
			              "alert %s: cannot start its worker "
			              "thread; the rule does nothing",
			              rules[i]->name);
			alert_rule_free(rules[i]);
			continue;
		}
		keep[nkeep++] = r;
	}
	for (size_t k = 0; k < a->n; k++) {
		struct run *r = a->runs[k];
		if (r == NULL)
			continue;
		run_stop(r, true);
		r->next_retiring = a->retiring;
		a->retiring = r;
	}
	memcpy(a->runs, keep, nkeep * sizeof *keep);
	a->n = nkeep;
	return 0;
}

void alerts_reopen(struct alerts *a)
{
	char err[1024];
	int fd, old;

	if (a == NULL || a->dirfd < 0 || a->stopped)
		return;
	if ((fd = open_dir(a->b, err, sizeof err)) < 0) {
		broker_log_as(a->b, ALERT_LOGGER, LOGBUS_ERROR, NULL, 0,
		              "alerts: %s; until it is fixed the rules' "
		              "positions go to the removed directory, and "
		              "a restart starts them from the journal's end",
		              err);
		return;
	}
	pthread_rwlock_wrlock(&a->dir_lock);
	old = a->dirfd;
	a->dirfd = fd;
	pthread_rwlock_unlock(&a->dir_lock);
	close(old);
	for (size_t i = 0; i < a->n; i++) {
		struct run *r = a->runs[i];
		pthread_mutex_lock(&r->mu);
		r->resave = true;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
}

size_t alerts_count(const struct alerts *a)
{
	return a ? a->n : 0;
}

void alerts_stop(struct alerts *a)
{
	if (a == NULL || a->stopped)
		return;
	a->stopped = true;
	ev_timer_stop(a->b->loop, &a->catchup_w);
	for (size_t i = 0; i < a->n; i++)
		run_stop(a->runs[i], false);
	for (size_t i = 0; i < a->n; i++)
		if (a->runs[i]->started) {
			pthread_join(a->runs[i]->th, NULL);
			a->runs[i]->started = false;
		}
	for (struct run *r = a->retiring; r; r = r->next_retiring)
		if (r->started) {
			pthread_join(r->th, NULL);
			r->started = false;
		}
	flush_events(a);
}

void alerts_free(struct alerts *a)
{
	if (a == NULL)
		return;
	alerts_stop(a);
	ev_async_stop(a->b->loop, &a->event_w);
	for (size_t i = 0; i < a->n; i++)
		run_free(a->runs[i]);
	while (a->retiring) {
		struct run *r = a->retiring;
		a->retiring = r->next_retiring;
		run_free(r);
	}
	if (a->dirfd >= 0)
		close(a->dirfd);
	alert_webhook_fini();
	pthread_mutex_destroy(&a->ev_mu);
	pthread_rwlock_destroy(&a->dir_lock);
	free(a->events);
	free(a);
}

/* ---- query ops ------------------------------------------------------------
 */

static void pack_str(msgpack_packer *pk, const char *key, const char *s)
{
	mp_pack_key(pk, key);
	mp_pack_str(pk, s, strlen(s));
}

void alerts_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
               const struct reader *rd)
{
	struct broker *b = ep->b;
	struct alerts *a = b->alerts;
	msgpack_packer pk;
	size_t n = a ? a->n : 0;

	(void)req;
	(void)rd;
	reply_begin(b, &pk, 2);
	mp_put_u64(&pk, "last", journal_last_seq(b->journal));
	mp_pack_key(&pk, "rules");
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++) {
		struct run *r = a->runs[i];
		struct run_status st;
		uint64_t queued;
		pthread_mutex_lock(&r->mu);
		st = r->st;
		queued = r->qbytes;
		pthread_mutex_unlock(&r->mu);
		msgpack_pack_map(&pk, 13);
		pack_str(&pk, "name", r->name);
		pack_str(&pk, "action", kind_name(r->kind));
		pack_str(&pk, "rule", r->text);
		mp_put_u64(&pk, "pos", st.pos);
		mp_put_u64(&pk, "fed", r->fed);
		mp_put_u64(&pk, "queued", queued);
		mp_put_u64(&pk, "fired", st.fired);
		mp_put_u64(&pk, "failed", st.failed);
		mp_put_u64(&pk, "held", st.held);
		mp_put_u64(&pk, "tests", st.tests);
		mp_pack_key(&pk, "last_fired");
		msgpack_pack_int64(&pk, st.last_fired_ns);
		pack_str(&pk, "last_service", st.last_service);
		pack_str(&pk, "last_result", st.last_result);
	}
	reply_send(ep, msg);
}

void alert_test_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
                   const struct reader *rd)
{
	struct broker *b = ep->b;
	struct alerts *a = b->alerts;
	msgpack_packer pk;
	const char *name;
	size_t len;

	(void)rd;
	if (!mp_get_bytes(req, "rule", &name, &len)) {
		reply_error(ep, msg, ERR_BAD_REQUEST, "alert_test needs rule");
		return;
	}
	for (size_t i = 0; a && i < a->n; i++) {
		struct run *r = a->runs[i];
		if (strlen(r->name) != len || memcmp(r->name, name, len) != 0)
			continue;
		pthread_mutex_lock(&r->mu);
		uint64_t done = r->st.tests + r->tests_asked;
		r->tests_asked++;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		reply_begin(b, &pk, 1);
		mp_put_u64(&pk, "tests", done); /* done when tests passes it */
		reply_send(ep, msg);
		return;
	}
	reply_error(ep, msg, ERR_NOT_FOUND,
	            "no alert rule '%.*s' (logbusctl alerts lists them)",
	            (int)(len > 64 ? 64 : len), name);
}
