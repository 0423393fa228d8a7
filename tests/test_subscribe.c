/*
 * test_subscribe.c: following the journal through liblogbus against a real
 * logbusd: "every matching record is delivered once, in sequence order".
 *
 * Covers the replay-to-live switch under load, a stalled subscriber (pub0
 * drops for it, the journal repairs, ingest is not slowed), a broker killed
 * and restarted under a follower, fifty followers with different filters
 * checked against a predicate written here (not the library's filter code),
 * every start position in follow and snapshot mode, expired cursors, bad
 * filters at open, and snapshot subscriptions that end when caught up.
 *
 * Waiting is always on a condition with a generous bound, never a fixed
 * sleep; the only timed wait proves an absence (nothing more arrives).
 */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "logbus/logbus.h"
#include "timefmt.h"

#define WAIT_MS      60000 /* bound for conditions; generous for ASan */
#define NEXT_WAIT_MS 30000 /* bound for one logbus_reader_next */

/* ---- collecting records -------------------------------------------- */

/*
 * The broker writes its own events ("journal ...: empty", "serving ...",
 * warnings, errors) into the journal as records of this service and logger,
 * between the tests' records, and publishes them live like any other.
 */
#define SELF_SERVICE "logbusd"

static bool is_self(const logbus_record *rec)
{
	return strcmp(rec->service, SELF_SERVICE) == 0;
}

struct got {
	uint64_t seq;
	char *message;
	/* the rest, for the predicate of the fifty followers */
	bool self; /* a record of the broker's own */
	int level;
	int stream;
	int64_t time_ns;
	size_t nfields;
	char *logger; /* only for the broker's own records, else NULL */
};

/* Records delivered to a callback or a reader thread, under a mutex. */
struct got_list {
	pthread_mutex_t mu;
	struct got *v;
	size_t n, cap;
	/* The broker's own records are collected only with keep_self; the
	 * tests that count their own records do without them.  Of every
	 * record delivered, kept or not: how many of the broker's were passed
	 * over, the first and last seq, and how many times a seq was not the
	 * one after the seq before (a gap). */
	bool keep_self;
	size_t nself;
	uint64_t first_seq, last_seq;
	size_t gaps;
	/* a stalled subscriber: on the first record, wait until released
	 * (at most WAIT_MS); then sleep stall_each_us on each of the next
	 * stall_n */
	bool hold_first;
	atomic_bool holding;
	atomic_bool released;
	int stall_each_us;
	size_t stall_n;
	/* errors seen by on_error */
	int nerrors;
	int nexpired;
	int last_error;
	char last_error_msg[512];
};

static void list_init(struct got_list *l)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->mu, NULL);
	atomic_init(&l->holding, false);
	atomic_init(&l->released, false);
}

static void list_fini(struct got_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].message);
		free(l->v[i].logger);
	}
	free(l->v);
	pthread_mutex_destroy(&l->mu);
	memset(l, 0, sizeof *l);
}

static void list_add(struct got_list *l, const logbus_record *rec)
{
	bool self = is_self(rec);

	pthread_mutex_lock(&l->mu);
	if (l->first_seq == 0)
		l->first_seq = rec->seq;
	else if (rec->seq != l->last_seq + 1)
		l->gaps++;
	l->last_seq = rec->seq;
	if (self && !l->keep_self) {
		l->nself++;
		pthread_mutex_unlock(&l->mu);
		return;
	}
	char *m = strndup(rec->message, rec->message_len);
	char *lg = self ? strdup(rec->logger) : NULL;
	if (m == NULL || (self && lg == NULL))
		abort();
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct got *v = realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			abort();
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = (struct got){.seq = rec->seq,
	                          .message = m,
	                          .self = self,
	                          .level = rec->level,
	                          .stream = (int)rec->stream,
	                          .time_ns = rec->time_ns,
	                          .nfields = rec->nfields,
	                          .logger = lg};
	l->n++;
	pthread_mutex_unlock(&l->mu);
}

static size_t list_count(struct got_list *l)
{
	pthread_mutex_lock(&l->mu);
	size_t n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

static int64_t mono_ms(void)
{
	return timefmt_mono_ns() / 1000000;
}

static int collect_on_log(const logbus_record *rec, void *user)
{
	struct got_list *l = user;
	size_t n = list_count(l);

	if (n == 0 && l->hold_first) {
		int64_t end = mono_ms() + WAIT_MS;
		atomic_store(&l->holding, true);
		while (!atomic_load(&l->released) && mono_ms() < end)
			sleep_ms(10);
	} else if (n <= l->stall_n && l->stall_each_us > 0)
		usleep((useconds_t)l->stall_each_us);
	list_add(l, rec);
	return 0;
}

/* Count errors; go on after every one (expired: from the oldest kept). */
static int collect_on_error(int code, const char *message, void *user)
{
	struct got_list *l = user;

	pthread_mutex_lock(&l->mu);
	l->nerrors++;
	if (code == LOGBUS_EEXPIRED)
		l->nexpired++;
	l->last_error = code;
	snprintf(l->last_error_msg, sizeof l->last_error_msg, "%s", message);
	pthread_mutex_unlock(&l->mu);
	return 1;
}

struct count_cond {
	struct got_list *l;
	size_t want;
};

static bool has_count(void *arg)
{
	struct count_cond *c = arg;
	return list_count(c->l) >= c->want;
}

/* Wait until l holds at least want records; says how far it got if not. */
static void wait_count(struct got_list *l, size_t want, int timeout_ms)
{
	struct count_cond c = {l, want};
	if (!harness_wait(has_count, &c, timeout_ms))
		fail_msg("waited %d ms for %zu records, got %zu", timeout_ms,
		         want, list_count(l));
}

/*
 * l holds exactly n records, in strictly increasing sequence order, whose
 * messages are "<prefix><first>", "<prefix><first + 1>", ...: every one
 * once, none missing, none extra.
 */
static void check_run(struct got_list *l, const char *prefix, int first,
                      size_t n)
{
	char want[64];

	pthread_mutex_lock(&l->mu);
	if (l->n != n)
		fail_msg("expected %zu records, got %zu", n, l->n);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && l->v[i].seq <= l->v[i - 1].seq)
			fail_msg("record %zu: seq %" PRIu64 " after %" PRIu64,
			         i, l->v[i].seq, l->v[i - 1].seq);
		snprintf(want, sizeof want, "%s%d", prefix, first + (int)i);
		if (strcmp(l->v[i].message, want) != 0)
			fail_msg("record %zu (seq %" PRIu64 "): '%s', expected "
			         "'%s'",
			         i, l->v[i].seq, l->v[i].message, want);
	}
	pthread_mutex_unlock(&l->mu);
}

/* ---- broker and publishers ----------------------------------------- */

/* Log "<prefix><i>" for i in [from, to). */
static void log_range(logbus_publisher *p, const char *prefix, int from, int to)
{
	for (int i = from; i < to; i++)
		assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s%d", prefix, i),
		                 LOGBUS_OK);
}

static logbus_subscription *subscribe(const logbus_reader_options *o,
                                      struct got_list *l, bool on_error)
{
	logbus_subscription *s;
	assert_int_equal(logbus_subscribe(&s, o, collect_on_log,
	                                  on_error ? collect_on_error : NULL,
	                                  l),
	                 LOGBUS_OK);
	return s;
}

/* The cursor after the newest record of the journal (which is not empty). */
static void end_cursor(const char *run_dir, char *buf, size_t len)
{
	logbus_reader *r;
	const logbus_record *rec;
	logbus_reader_options o = {
	    .run_dir = run_dir, .start = LOGBUS_START_TAIL, .tail_n = 1};

	assert_int_equal(logbus_reader_open(&r, &o), LOGBUS_OK);
	assert_int_equal(logbus_reader_next(r, &rec, NEXT_WAIT_MS), 1);
	snprintf(buf, len, "%s", rec->cursor);
	assert_int_equal(logbus_reader_next(r, &rec, NEXT_WAIT_MS), 0);
	logbus_reader_close(r);
}

/* logbus_reader_next, passing over the broker's own records. */
static int next_not_self(logbus_reader *r, const logbus_record **rec,
                         int timeout_ms)
{
	int rv;

	while ((rv = logbus_reader_next(r, rec, timeout_ms)) == 1 &&
	       is_self(*rec))
		;
	return rv;
}

/* A snapshot of the whole journal, unfiltered (the broker's own records
 * only if l->keep_self). */
static void read_journal(const char *run_dir, struct got_list *l)
{
	logbus_reader *r;
	const logbus_record *rec;
	logbus_reader_options o = {.run_dir = run_dir,
	                           .start = LOGBUS_START_HEAD};
	int rv;

	assert_int_equal(logbus_reader_open(&r, &o), LOGBUS_OK);
	while ((rv = logbus_reader_next(r, &rec, NEXT_WAIT_MS)) == 1)
		list_add(l, rec);
	assert_int_equal(rv, 0);
	logbus_reader_close(r);
}

/* ---- 1. replay then live ------------------------------------------- */

struct pub_job {
	logbus_publisher *p;
	const char *prefix;
	int from, to;
	int flush_every; /* flush after this many records (0: at the end) */
	int rv;          /* flush result */
	int64_t ms;      /* time to log and flush */
};

static void *pub_job_run(void *arg)
{
	struct pub_job *j = arg;
	int64_t t0 = mono_ms();

	j->rv = 0;
	for (int i = j->from; i < j->to && j->rv == 0; i++) {
		j->rv = logbus_log(j->p, LOGBUS_INFO, "%s%d", j->prefix, i);
		if (j->rv == 0 && j->flush_every > 0 &&
		    (i - j->from) % j->flush_every == j->flush_every - 1)
			j->rv = logbus_flush(j->p, WAIT_MS);
	}
	if (j->rv == 0)
		j->rv = logbus_flush(j->p, WAIT_MS);
	j->ms = mono_ms() - t0;
	return NULL;
}

static void test_replay_then_live_switch_has_no_gap_or_duplicate(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "switch");
	struct got_list l;
	pthread_t th;

	list_init(&l);
	log_range(p, "r-", 0, 20000);
	assert_int_equal(logbus_flush(p, WAIT_MS), LOGBUS_OK);

	/* The follower replays 20,000 from the journal while 20,000 more are
	 * committed and published live: it must switch without a hole or a
	 * repeat. */
	logbus_reader_options o = {
	    .run_dir = b->run_dir, .start = LOGBUS_START_HEAD, .follow = 1};
	logbus_subscription *s = subscribe(&o, &l, false);
	/* small batches: many live runs arrive while the replay runs */
	struct pub_job j = {.p = p,
	                    .prefix = "r-",
	                    .from = 20000,
	                    .to = 40000,
	                    .flush_every = 50};
	assert_int_equal(pthread_create(&th, NULL, pub_job_run, &j), 0);
	wait_count(&l, 40000, WAIT_MS);
	pthread_join(th, NULL);
	assert_int_equal(j.rv, LOGBUS_OK);
	logbus_subscription_close(s);

	check_run(&l, "r-", 0, 40000);
	/* No gap either in what the unfiltered follower got in all, the
	 * broker's own records included: every seq from the first on. */
	assert_true(l.first_seq == 1 && l.gaps == 0);
	assert_int_equal(logbus_publisher_close(p, WAIT_MS), LOGBUS_OK);
	list_fini(&l);
}

/* ---- 2. a stalled subscriber --------------------------------------- */

static void
test_stalled_callback_gets_all_100000_in_order_without_slowing_ingest(
    void **state)
{
	struct broker_proc *b = *state;
	struct got_list l;
	char cursor[128];
	pthread_t th;

	/*
	 * The publisher flushes every 10 records, so each run of the 100,000
	 * makes 10,000 live messages: more than the 8,192 a follower's sub0
	 * socket queues, so the stalled follower loses some of them for sure
	 * (sub0 drops the oldest, pub0 drops when its queue is full) and
	 * must repair from the journal.  Baseline first: nobody follows.
	 */
	logbus_publisher *p0 = harness_publisher(b->run_dir, "ingest");
	struct pub_job base = {.p = p0,
	                       .prefix = "b-",
	                       .from = 0,
	                       .to = 100000,
	                       .flush_every = 10};
	assert_int_equal(pthread_create(&th, NULL, pub_job_run, &base), 0);
	pthread_join(th, NULL);
	assert_int_equal(base.rv, LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p0, WAIT_MS), LOGBUS_OK);

	/* A follower from the end of the baseline whose callback blocks on
	 * its first record until the whole second run is committed, then
	 * crawls through 200 more. */
	end_cursor(b->run_dir, cursor, sizeof cursor);
	list_init(&l);
	l.hold_first = true;
	l.stall_each_us = 1000;
	l.stall_n = 200;
	logbus_reader_options o = {.run_dir = b->run_dir,
	                           .start = LOGBUS_START_CURSOR,
	                           .cursor = cursor,
	                           .follow = 1};
	logbus_subscription *s = subscribe(&o, &l, false);

	logbus_publisher *p1 = harness_publisher(b->run_dir, "ingest");
	struct pub_job slow = {.p = p1,
	                       .prefix = "s-",
	                       .from = 0,
	                       .to = 100000,
	                       .flush_every = 10};
	assert_int_equal(pthread_create(&th, NULL, pub_job_run, &slow), 0);
	pthread_join(th, NULL);
	logbus_publisher_stats st;
	logbus_publisher_get_stats(p1, &st);
	/* one live message per batch, sent while the follower held */
	bool held = atomic_load(&l.holding) && list_count(&l) == 0;
	atomic_store(&l.released, true);
	assert_true(held);
	assert_int_equal(slow.rv, LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p1, WAIT_MS), LOGBUS_OK);
	assert_true(st.batches >= 10000);

	/*
	 * Bound: with the stalled follower attached, ingest may take at most
	 * 3x the baseline + 2 s (noise on a loaded 2-core machine under
	 * ASan).  The point is that pub0 drops for the slow subscriber
	 * instead of blocking ingest: a broker that waited for it would not
	 * finish before the follower is released, i.e. not before WAIT_MS.
	 */
	print_message("ingest of 100,000 in %" PRIu64 " batches: %" PRId64
	              " ms alone, %" PRId64 " ms with a stalled follower\n",
	              st.batches, base.ms, slow.ms);
	assert_true(slow.ms <= 3 * base.ms + 2000);

	/* What was dropped for it, the follower repairs from the journal. */
	wait_count(&l, 100000, WAIT_MS);
	assert_int_equal(logbus_subscription_wait(s, 0), LOGBUS_ETIMEDOUT);
	logbus_subscription_close(s);
	check_run(&l, "s-", 0, 100000);
	list_fini(&l);
}

/* ---- 3. broker restart --------------------------------------------- */

/* A pull-API follower on a thread of its own. */
struct puller {
	logbus_reader *r;
	struct got_list l;
	atomic_bool stop;
	atomic_int passing; /* passing errors seen */
	int fatal;          /* the error that ended it, or 0 */
};

static void *puller_run(void *arg)
{
	struct puller *pl = arg;
	const logbus_record *rec;

	while (!atomic_load(&pl->stop)) {
		int rv = logbus_reader_next(pl->r, &rec, 200);
		if (rv == 1) {
			list_add(&pl->l, rec);
		} else if (rv == LOGBUS_EUNREACHABLE ||
		           rv == LOGBUS_ETIMEDOUT) {
			atomic_fetch_add(&pl->passing, 1);
		} else if (rv == LOGBUS_ECLOSED) {
			break;
		} else if (rv < 0) {
			pl->fatal = rv;
			break;
		}
	}
	return NULL;
}

static bool saw_passing_error(void *arg)
{
	struct puller *pl = arg;
	return atomic_load(&pl->passing) > 0;
}

static void test_follower_survives_broker_restart(void **state)
{
	struct broker_proc *b = *state;
	struct got_list l;
	struct puller pl;
	pthread_t th;

	/* Two followers: a subscription (passing errors retried since
	 * on_error is NULL) and a pull reader that calls again after them.
	 * A short request timeout, so that they meet the dead broker. */
	list_init(&l);
	logbus_reader_options o = {.run_dir = b->run_dir,
	                           .start = LOGBUS_START_HEAD,
	                           .follow = 1,
	                           .timeout_ms = 500};
	logbus_subscription *s = subscribe(&o, &l, false);
	memset(&pl, 0, sizeof pl);
	list_init(&pl.l);
	atomic_init(&pl.stop, false);
	atomic_init(&pl.passing, 0);
	assert_int_equal(logbus_reader_open(&pl.r, &o), LOGBUS_OK);
	assert_int_equal(pthread_create(&th, NULL, puller_run, &pl), 0);

	logbus_publisher *p = harness_publisher(b->run_dir, "restart");
	log_range(p, "k-", 0, 5000);
	/* Kill while the followers are live and batches may be in flight:
	 * what was written is kept, an unacknowledged batch is resent and
	 * must not be committed twice. */
	wait_count(&l, 2500, WAIT_MS);
	assert_true(WIFSIGNALED(harness_stop(b, SIGKILL)));
	log_range(p, "k-", 5000, 7500);
	/* down until a follower was told so (its idle poll failed) */
	if (!harness_wait(saw_passing_error, &pl, WAIT_MS))
		fail_msg("the pull follower saw no error with the broker down");
	assert_int_equal(harness_restart(b), 0);
	log_range(p, "k-", 7500, 10000);
	assert_int_equal(logbus_flush(p, WAIT_MS), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, WAIT_MS), LOGBUS_OK);

	struct got_list journal;
	list_init(&journal);
	read_journal(b->run_dir, &journal);
	check_run(&journal, "k-", 0, 10000); /* the truth, first */
	list_fini(&journal);

	wait_count(&l, 10000, WAIT_MS);
	wait_count(&pl.l, 10000, WAIT_MS);
	/* passing errors did not end the subscription */
	assert_int_equal(logbus_subscription_wait(s, 0), LOGBUS_ETIMEDOUT);
	logbus_subscription_close(s);
	atomic_store(&pl.stop, true);
	logbus_reader_interrupt(pl.r);
	pthread_join(th, NULL);
	logbus_reader_close(pl.r);
	assert_int_equal(pl.fatal, 0);

	check_run(&l, "k-", 0, 10000);
	check_run(&pl.l, "k-", 0, 10000);
	/* and, the broker's own records included, no gap */
	assert_true(l.first_seq == 1 && l.gaps == 0);
	assert_true(pl.l.first_seq == 1 && pl.l.gaps == 0);
	list_fini(&l);
	list_fini(&pl.l);
}

/* ---- 4. fifty filters ---------------------------------------------- */

#define MIX_BEFORE 500  /* published before the followers start */
#define MIX_AFTER  2000 /* published while they follow */
#define MIX_TOTAL  (MIX_BEFORE + MIX_AFTER)
#define NSPECS     50

static const char *const mix_services[] = {"svc0", "svc1", "svc2", "svc3",
                                           "svc4"};
static const char *const mix_loggers[] = {"app", "app.db", "apps", "other"};
static const int mix_levels[] = {10, 20, 30, 35, 40, 50};
static const char *const mix_users[] = {"u0", "u1", "u2", NULL};

/* Record i of the mix, derived from i alone; or, for the predicate, one of
 * the broker's own records as read (see self_mix). */
struct mix {
	int svc;             /* index in mix_services; -1: the broker's */
	const char *service; /* mix_services[svc], or SELF_SERVICE */
	int level;
	const char *logger;
	enum logbus_stream stream;
	const char *user; /* NULL: no user field */
	bool has_n;       /* the int field n is there */
	int n;            /* int field n */
	int64_t time_ns;
	char message[64];
	const char *text; /* the message: this->message, or the broker's */
};

static void mix_record(int i, int64_t t0, struct mix *m)
{
	uint32_t x = (uint32_t)i * 2654435761u;
	static const char *const kinds[] = {
	    "ERROR in step", "step failed", "an error here", "step ok",
	    "step ok",       "all fine",    "Failed again",  "done"};

	m->svc = i % 5;
	m->service = mix_services[m->svc];
	m->level = mix_levels[(x >> 8) % 6];
	m->logger = mix_loggers[(x >> 12) % 4];
	m->stream = (enum logbus_stream)((x >> 16) % 3);
	m->user = mix_users[(x >> 20) % 4];
	m->has_n = true;
	m->n = (int)((x >> 24) % 3);
	m->time_ns = t0 + (int64_t)i * 1000000;
	snprintf(m->message, sizeof m->message, "m%05d %s", i,
	         kinds[(x >> 27) % 8]);
	m->text = m->message;
}

/* One of the broker's own records, as read from the journal, for the
 * predicate: a filter without services matches them like any other record
 * (they have no fields, so no field condition holds for them). */
static void self_mix(const struct got *g, struct mix *m)
{
	assert_true(g->self);
	assert_int_equal(g->nfields, 0);
	memset(m, 0, sizeof *m);
	m->svc = -1;
	m->service = SELF_SERVICE;
	m->level = g->level;
	m->logger = g->logger;
	m->stream = (enum logbus_stream)g->stream;
	m->user = NULL;
	m->has_n = false;
	m->time_ns = g->time_ns;
	m->text = g->message;
}

/* One follower's filter, as offsets from t0 for the time window. */
struct spec {
	const char *svc[2];
	int min_level;
	const char *prefix;
	unsigned streams;
	const char *fields[2];
	const char *regex;
	int since_ms, until_ms; /* -1: none */
};

#define STREAM_BIT(s) (1u << (s))
#define RE_ERR        "(?i)(error|failed)"
#define NOTIME        .since_ms = -1, .until_ms = -1

static const struct spec specs[NSPECS] = {
    {NOTIME},
    {.svc = {"svc0"}, NOTIME},
    {.svc = {"svc1"}, NOTIME},
    {.svc = {"svc2"}, NOTIME},
    {.svc = {"svc3"}, NOTIME},
    {.svc = {"svc4"}, NOTIME},
    {.svc = {"svc0", "svc1"}, NOTIME},
    {.svc = {"svc2", "svc4"}, NOTIME},
    {.min_level = 20, NOTIME},
    {.min_level = 30, NOTIME},
    {.min_level = 40, NOTIME},
    {.min_level = 50, NOTIME},
    {.prefix = "app", NOTIME},
    {.prefix = "app.db", NOTIME},
    {.prefix = "apps", NOTIME},
    {.prefix = "other", NOTIME},
    {.streams = STREAM_BIT(LOGBUS_STREAM_STDERR), NOTIME},
    {.streams =
         STREAM_BIT(LOGBUS_STREAM_STDOUT) | STREAM_BIT(LOGBUS_STREAM_STDERR),
     NOTIME},
    {.streams = STREAM_BIT(LOGBUS_STREAM_LOG), NOTIME},
    {.fields = {"user=u1"}, NOTIME},
    {.fields = {"user=u0"}, NOTIME},
    {.fields = {"n=2"}, NOTIME},
    {.fields = {"user=u2", "n=1"}, NOTIME},
    {.regex = RE_ERR, NOTIME},
    {.regex = "failed$", NOTIME},
    {.since_ms = 500, .until_ms = -1},
    {.since_ms = -1, .until_ms = 800},
    {.since_ms = 1000, .until_ms = 1600},
    {.svc = {"svc1"}, .min_level = 30, NOTIME},
    {.svc = {"svc2"}, .prefix = "app", NOTIME},
    {.svc = {"svc0", "svc3"},
     .streams = STREAM_BIT(LOGBUS_STREAM_STDERR),
     NOTIME},
    {.svc = {"svc4"}, .fields = {"user=u1"}, NOTIME},
    {.svc = {"svc0"}, .regex = RE_ERR, NOTIME},
    {.min_level = 40, .regex = RE_ERR, NOTIME},
    {.prefix = "app", .streams = STREAM_BIT(LOGBUS_STREAM_STDERR), NOTIME},
    {.prefix = "app.db", .min_level = 30, NOTIME},
    {.fields = {"user=u0"}, .regex = RE_ERR, NOTIME},
    {.streams = STREAM_BIT(LOGBUS_STREAM_STDOUT),
     .since_ms = 700,
     .until_ms = 2100},
    {.svc = {"svc3"}, .since_ms = 300, .until_ms = 1900},
    {.svc = {"svc1", "svc2"},
     .min_level = 20,
     .prefix = "app",
     .fields = {"user=u2"},
     NOTIME},
    {.svc = {"svc0", "svc1"},
     .min_level = 30,
     .prefix = "app",
     .streams =
         STREAM_BIT(LOGBUS_STREAM_STDOUT) | STREAM_BIT(LOGBUS_STREAM_STDERR),
     .regex = RE_ERR,
     .since_ms = 200,
     .until_ms = -1},
    {.svc = {"svc2"}, .streams = STREAM_BIT(LOGBUS_STREAM_STDOUT), NOTIME},
    {.min_level = 10, NOTIME},
    {.regex = "ERROR", NOTIME},
    {.prefix = "app", .fields = {"user=u1", "n=0"}, NOTIME},
    {.svc = {"svc4"}, .since_ms = -1, .until_ms = 1200},
    {.min_level = 40, .streams = STREAM_BIT(LOGBUS_STREAM_LOG), NOTIME},
    {.svc = {"svc3", "svc4"}, .regex = RE_ERR, NOTIME},
    {.fields = {"user=nobody"}, NOTIME},
    {.svc = {"svc0"},
     .prefix = "other",
     .streams = STREAM_BIT(LOGBUS_STREAM_STDOUT),
     NOTIME},
};

static size_t spec_nsvc(const struct spec *sp)
{
	return sp->svc[1] ? 2 : sp->svc[0] ? 1 : 0;
}

static size_t spec_nfields(const struct spec *sp)
{
	return sp->fields[1] ? 2 : sp->fields[0] ? 1 : 0;
}

static bool has_ci(const char *s, const char *word)
{
	size_t wl = strlen(word);
	for (; *s; s++) {
		size_t k = 0;
		while (k < wl && s[k] &&
		       tolower((unsigned char)s[k]) == (unsigned char)word[k])
			k++;
		if (k == wl)
			return true;
	}
	return false;
}

/* The test's own reading of each regex used above. */
static bool regex_holds(const char *re, const char *msg)
{
	if (strcmp(re, RE_ERR) == 0)
		return has_ci(msg, "error") || has_ci(msg, "failed");
	if (strcmp(re, "failed$") == 0) {
		size_t n = strlen(msg);
		return n >= 6 && strcmp(msg + n - 6, "failed") == 0;
	}
	if (strcmp(re, "ERROR") == 0)
		return strstr(msg, "ERROR") != NULL;
	fail_msg("no predicate for regex %s", re);
	return false;
}

static bool field_holds(const char *kv, const struct mix *m)
{
	char nbuf[16];
	if (strncmp(kv, "user=", 5) == 0)
		return m->user && strcmp(kv + 5, m->user) == 0;
	if (strncmp(kv, "n=", 2) == 0) {
		if (!m->has_n)
			return false;
		snprintf(nbuf, sizeof nbuf, "%d", m->n);
		return strcmp(kv + 2, nbuf) == 0;
	}
	return false;
}

static bool logger_holds(const char *prefix, const char *logger)
{
	size_t pl = strlen(prefix);
	return strncmp(logger, prefix, pl) == 0 &&
	       (logger[pl] == '\0' || logger[pl] == '.');
}

/* Written here, independently of shared/filter.c. */
static bool spec_holds(const struct spec *sp, const struct mix *m, int64_t t0)
{
	size_t ns = spec_nsvc(sp), nf = spec_nfields(sp);

	if (ns > 0) {
		bool any = false;
		for (size_t i = 0; i < ns; i++)
			any |= strcmp(sp->svc[i], m->service) == 0;
		if (!any)
			return false;
	}
	if (m->level < sp->min_level)
		return false;
	if (sp->prefix && !logger_holds(sp->prefix, m->logger))
		return false;
	if (sp->streams && !(sp->streams & STREAM_BIT(m->stream)))
		return false;
	for (size_t i = 0; i < nf; i++)
		if (!field_holds(sp->fields[i], m))
			return false;
	if (sp->regex && !regex_holds(sp->regex, m->text))
		return false;
	if (sp->since_ms >= 0 &&
	    m->time_ns < t0 + (int64_t)sp->since_ms * 1000000)
		return false;
	if (sp->until_ms >= 0 &&
	    m->time_ns >= t0 + (int64_t)sp->until_ms * 1000000)
		return false;
	return true;
}

static void publish_mix(logbus_publisher *const pubs[5], int from, int to,
                        int64_t t0)
{
	for (int i = from; i < to; i++) {
		struct mix m;
		logbus_field f[2];
		size_t nf = 0;

		mix_record(i, t0, &m);
		if (m.user)
			f[nf++] = LOGBUS_STR("user", m.user);
		f[nf++] = LOGBUS_INT("n", m.n);
		logbus_entry e = {.time_ns = m.time_ns,
		                  .level = m.level,
		                  .stream = m.stream,
		                  .logger = m.logger,
		                  .message = m.message,
		                  .message_len = (size_t)-1,
		                  .fields = f,
		                  .nfields = nf};
		assert_int_equal(logbus_write(pubs[m.svc], &e), LOGBUS_OK);
	}
}

struct follower {
	struct got_list l;
	logbus_subscription *s;
	size_t want;
	uint64_t *seqs; /* expected, in order */
	const char **msgs;
};

static bool all_have_their_count(void *arg)
{
	struct follower *f = arg;
	for (int i = 0; i < NSPECS; i++)
		if (list_count(&f[i].l) < f[i].want)
			return false;
	return true;
}

static size_t total_count(struct follower *f)
{
	size_t n = 0;
	for (int i = 0; i < NSPECS; i++)
		n += list_count(&f[i].l);
	return n;
}

struct quiet {
	struct follower *f;
	size_t last;
	int64_t since;
};

/* Nothing new for 1.5 s, longer than a reader's 1 s idle poll. */
static bool quiet_for_1500ms(void *arg)
{
	struct quiet *q = arg;
	size_t n = total_count(q->f);
	if (n != q->last) {
		q->last = n;
		q->since = mono_ms();
	}
	return mono_ms() - q->since >= 1500;
}

static void open_follower(const char *run_dir, const struct spec *sp,
                          int64_t t0, struct follower *f)
{
	logbus_reader_options o = {
	    .run_dir = run_dir,
	    .start = LOGBUS_START_HEAD,
	    .follow = 1,
	    .filter = {
	        .services = spec_nsvc(sp) ? sp->svc : NULL,
	        .nservices = spec_nsvc(sp),
	        .min_level = sp->min_level,
	        .logger_prefix = sp->prefix,
	        .streams = sp->streams,
	        .fields = spec_nfields(sp) ? sp->fields : NULL,
	        .nfields = spec_nfields(sp),
	        .message_regex = sp->regex,
	        .since_ns = sp->since_ms >= 0
	                        ? t0 + (int64_t)sp->since_ms * 1000000
	                        : 0,
	        .until_ns = sp->until_ms >= 0
	                        ? t0 + (int64_t)sp->until_ms * 1000000
	                        : 0,
	    }};
	list_init(&f->l);
	f->l.keep_self = true; /* the filter decides, as for any record */
	f->s = subscribe(&o, &f->l, false);
}

static void test_fifty_followers_with_different_filters_each_get_exactly_theirs(
    void **state)
{
	struct broker_proc *b = *state;
	int64_t t0 = timefmt_now_ns();
	logbus_publisher *pubs[5];
	struct follower *f = calloc(NSPECS, sizeof *f);
	struct got_list journal;

	assert_non_null(f);
	for (int k = 0; k < 5; k++)
		pubs[k] = harness_publisher(b->run_dir, mix_services[k]);
	publish_mix(pubs, 0, MIX_BEFORE, t0);
	for (int k = 0; k < 5; k++)
		assert_int_equal(logbus_flush(pubs[k], WAIT_MS), LOGBUS_OK);

	for (int i = 0; i < NSPECS; i++)
		open_follower(b->run_dir, &specs[i], t0, &f[i]);
	publish_mix(pubs, MIX_BEFORE, MIX_TOTAL, t0);
	for (int k = 0; k < 5; k++)
		assert_int_equal(logbus_publisher_close(pubs[k], WAIT_MS),
		                 LOGBUS_OK);

	/* The journal says which seq each record got; the test's predicate
	 * says which records each follower wants.  The journal holds the
	 * broker's own records too, and the followers' filters match them
	 * like any other: they are in the expected sets as the predicate
	 * says. */
	list_init(&journal);
	journal.keep_self = true;
	read_journal(b->run_dir, &journal);
	assert_true(journal.first_seq == 1 && journal.gaps == 0);
	size_t nown = 0;
	for (size_t j = 0; j < journal.n; j++)
		nown += !journal.v[j].self;
	assert_int_equal(nown, MIX_TOTAL);
	size_t nonempty = 0;
	for (int i = 0; i < NSPECS; i++) {
		f[i].seqs = calloc(journal.n, sizeof *f[i].seqs);
		f[i].msgs = calloc(journal.n, sizeof *f[i].msgs);
		assert_true(f[i].seqs && f[i].msgs);
		for (size_t j = 0; j < journal.n; j++) {
			struct mix m;
			if (journal.v[j].self) {
				self_mix(&journal.v[j], &m);
			} else {
				int id = atoi(journal.v[j].message + 1);
				assert_true(id >= 0 && id < MIX_TOTAL);
				mix_record(id, t0, &m);
				assert_string_equal(m.message,
				                    journal.v[j].message);
			}
			if (spec_holds(&specs[i], &m, t0)) {
				f[i].seqs[f[i].want] = journal.v[j].seq;
				f[i].msgs[f[i].want] = journal.v[j].message;
				f[i].want++;
			}
		}
		nonempty += f[i].want > 0;
	}
	assert_int_equal(f[0].want, journal.n);
	assert_true(nonempty >= NSPECS - 1); /* only user=nobody is empty */

	if (!harness_wait(all_have_their_count, f, WAIT_MS))
		for (int i = 0; i < NSPECS; i++)
			if (list_count(&f[i].l) < f[i].want)
				fail_msg("follower %d has %zu of %zu records",
				         i, list_count(&f[i].l), f[i].want);
	/* None extra: nothing more arrives through an idle poll. */
	struct quiet q = {f, total_count(f), mono_ms()};
	assert_true(harness_wait(quiet_for_1500ms, &q, WAIT_MS));

	for (int i = 0; i < NSPECS; i++) {
		assert_int_equal(logbus_subscription_wait(f[i].s, 0),
		                 LOGBUS_ETIMEDOUT);
		logbus_subscription_close(f[i].s);
	}
	for (int i = 0; i < NSPECS; i++) {
		struct got_list *l = &f[i].l;
		if (l->n != f[i].want)
			fail_msg("follower %d got %zu records, expected %zu", i,
			         l->n, f[i].want);
		for (size_t j = 0; j < l->n; j++)
			if (l->v[j].seq != f[i].seqs[j] ||
			    strcmp(l->v[j].message, f[i].msgs[j]) != 0)
				fail_msg("follower %d record %zu: seq %" PRIu64
				         " '%s', expected seq %" PRIu64 " '%s'",
				         i, j, l->v[j].seq, l->v[j].message,
				         f[i].seqs[j], f[i].msgs[j]);
	}
	for (int i = 0; i < NSPECS; i++) {
		list_fini(&f[i].l);
		free(f[i].seqs);
		free(f[i].msgs);
	}
	list_fini(&journal);
	free(f);
}

/* ---- 5. start positions -------------------------------------------- */

/* What the test published, in order, and the seq the journal gave each
 * (the broker's own records take seqs too, so read back, see
 * model_learn_seqs). */
struct model {
	const char *run_dir;
	int n;
	int level[512];
	int64_t time_ns[512];
	char message[512][24];
	uint64_t seq[512];
	int64_t t0;
};

/* The seq of every model record, from a head snapshot of the journal: the
 * model's records are there in order, once each, and with the broker's
 * own records every seq from 1 on, without a gap. */
static void model_learn_seqs(struct model *md)
{
	logbus_reader *r;
	const logbus_record *rec;
	logbus_reader_options o = {.run_dir = md->run_dir,
	                           .start = LOGBUS_START_HEAD};
	uint64_t want_seq = 1;
	int k = 0, rv;

	assert_int_equal(logbus_reader_open(&r, &o), LOGBUS_OK);
	while ((rv = logbus_reader_next(r, &rec, NEXT_WAIT_MS)) == 1) {
		if (rec->seq != want_seq)
			fail_msg("journal: seq %" PRIu64 " where %" PRIu64
			         " was next",
			         rec->seq, want_seq);
		want_seq++;
		if (is_self(rec))
			continue;
		if (k >= md->n || strcmp(rec->message, md->message[k]) != 0)
			fail_msg("journal: '%s' (seq %" PRIu64 "), expected "
			         "p%d",
			         rec->message, rec->seq, k);
		md->seq[k++] = rec->seq;
	}
	assert_int_equal(rv, 0);
	assert_int_equal(k, md->n);
	logbus_reader_close(r);
}

static int model_level(int k)
{
	return k % 2 ? LOGBUS_ERROR : LOGBUS_INFO;
}

static void model_publish(logbus_publisher *p, struct model *md, int count)
{
	for (int c = 0; c < count; c++) {
		int k = md->n++;
		assert_true(k < 512);
		md->level[k] = model_level(k);
		md->time_ns[k] = md->t0 + (int64_t)k * 1000000;
		snprintf(md->message[k], sizeof md->message[k], "p%d", k);
		logbus_entry e = {.time_ns = md->time_ns[k],
		                  .level = md->level[k],
		                  .message = md->message[k],
		                  .message_len = (size_t)-1};
		assert_int_equal(logbus_write(p, &e), LOGBUS_OK);
	}
	assert_int_equal(logbus_flush(p, WAIT_MS), LOGBUS_OK);
	model_learn_seqs(md);
}

/* Next record from r, but the broker's own, must be model record k. */
static void expect_record(logbus_reader *r, const struct model *md, int k)
{
	const logbus_record *rec;
	int rv = next_not_self(r, &rec, NEXT_WAIT_MS);
	if (rv != 1)
		fail_msg("expected record p%d, logbus_reader_next said %d (%s)",
		         k, rv, logbus_reader_error(r));
	if (rec->seq != md->seq[k] || strcmp(rec->message, md->message[k]))
		fail_msg("expected p%d (seq %" PRIu64
		         "), got '%s' (seq %" PRIu64 ")",
		         k, md->seq[k], rec->message, rec->seq);
}

/* Which model records a start position wants, as a predicate. */
struct position {
	const char *name;
	enum logbus_start start;
	uint64_t tail_n;
	int after_k;   /* CURSOR: after record after_k */
	int since_k;   /* SINCE: time of record since_k */
	int min_level; /* filter */
};

static bool position_wants(const struct position *ps, const struct model *md,
                           int k, int first_k)
{
	if (md->level[k] < ps->min_level)
		return false;
	switch (ps->start) {
	case LOGBUS_START_CURSOR:
		return k > ps->after_k;
	case LOGBUS_START_SINCE:
		return md->time_ns[k] >= md->time_ns[ps->since_k];
	case LOGBUS_START_NEW:
	case LOGBUS_START_TAIL:
		return k >= first_k;
	default:
		return true;
	}
}

/* For TAIL: the first model record of the last tail_n matching. */
static int tail_first(const struct position *ps, const struct model *md)
{
	uint64_t left = ps->tail_n;
	int k = md->n;
	while (k > 0 && left > 0) {
		k--;
		if (md->level[k] >= ps->min_level)
			left--;
	}
	return left > 0 ? 0 : k;
}

static void check_position(const char *run_dir, logbus_publisher *p,
                           struct model *md, const struct position *ps,
                           const char *cursor, bool follow)
{
	logbus_reader *r;
	const logbus_record *rec;
	logbus_reader_options o = {.run_dir = run_dir,
	                           .start = ps->start,
	                           .tail_n = ps->tail_n,
	                           .cursor = cursor,
	                           .since_ns = ps->start == LOGBUS_START_SINCE
	                                           ? md->time_ns[ps->since_k]
	                                           : 0,
	                           .filter = {.min_level = ps->min_level},
	                           .follow = follow};
	int first_k = ps->start == LOGBUS_START_NEW    ? md->n
	              : ps->start == LOGBUS_START_TAIL ? tail_first(ps, md)
	                                               : 0;

	print_message("%s, %s\n", ps->name, follow ? "follow" : "snapshot");
	assert_int_equal(logbus_reader_open(&r, &o), LOGBUS_OK);
	if (follow && ps->start == LOGBUS_START_NEW) {
		/* "from now on" is from the open: these come. */
		model_publish(p, md, 3);
	}
	for (int k = 0; k < md->n; k++)
		if (position_wants(ps, md, k, first_k))
			expect_record(r, md, k);
	if (!follow) {
		int rv = next_not_self(r, &rec, NEXT_WAIT_MS);
		if (rv != 0)
			fail_msg("snapshot did not end: %d (seq %" PRIu64 ")",
			         rv, rv == 1 ? rec->seq : 0);
		logbus_reader_close(r);
		return;
	}
	/* Following: new records come next, right after the old ones. */
	int from = md->n;
	model_publish(p, md, 6);
	for (int k = from; k < md->n; k++)
		if (position_wants(ps, md, k, from))
			expect_record(r, md, k);
	logbus_reader_close(r);
}

static void test_each_start_position(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "positions");
	struct model model;
	struct model *md = &model;
	char cursor40[128];
	logbus_reader *r;
	const logbus_record *rec;

	memset(md, 0, sizeof *md);
	md->run_dir = b->run_dir;
	md->t0 = timefmt_now_ns();
	model_publish(p, md, 100);

	/* The cursor of record p40, from a head reader. */
	logbus_reader_options ho = {.run_dir = b->run_dir,
	                            .start = LOGBUS_START_HEAD};
	assert_int_equal(logbus_reader_open(&r, &ho), LOGBUS_OK);
	for (int k = 0; k <= 40; k++)
		assert_int_equal(next_not_self(r, &rec, NEXT_WAIT_MS), 1);
	assert_true(rec->seq == md->seq[40]);
	assert_string_equal(rec->message, "p40");
	snprintf(cursor40, sizeof cursor40, "%s", rec->cursor);
	logbus_reader_close(r);

	const struct position positions[] = {
	    {.name = "HEAD", .start = LOGBUS_START_HEAD},
	    {.name = "HEAD, level >= ERROR",
	     .start = LOGBUS_START_HEAD,
	     .min_level = LOGBUS_ERROR},
	    {.name = "TAIL 7", .start = LOGBUS_START_TAIL, .tail_n = 7},
	    {.name = "TAIL 7 of level >= ERROR",
	     .start = LOGBUS_START_TAIL,
	     .tail_n = 7,
	     .min_level = LOGBUS_ERROR},
	    {.name = "CURSOR after p40",
	     .start = LOGBUS_START_CURSOR,
	     .after_k = 40},
	    {.name = "SINCE p60", .start = LOGBUS_START_SINCE, .since_k = 60},
	    {.name = "NEW", .start = LOGBUS_START_NEW},
	    {.name = "TAIL 0", .start = LOGBUS_START_TAIL, .tail_n = 0},
	};
	for (size_t i = 0; i < sizeof positions / sizeof *positions; i++) {
		check_position(b->run_dir, p, md, &positions[i], cursor40,
		               false);
		check_position(b->run_dir, p, md, &positions[i], cursor40,
		               true);
	}
	assert_int_equal(logbus_publisher_close(p, WAIT_MS), LOGBUS_OK);
}

/* ---- 6. expired cursors -------------------------------------------- */

/* cursor with its sequence part replaced by seq. */
static void cursor_at(char *cursor, uint64_t seq)
{
	char hex[17];
	size_t n = strlen(cursor);
	assert_true(n > 16);
	snprintf(hex, sizeof hex, "%016" PRIx64, seq);
	memcpy(cursor + n - 16, hex, 16);
}

/* A broker that keeps at most four 8 KiB segments. */
static int setup_small_journal(void **state)
{
	static const char *const extra[] = {"--segment-size", "8K",
	                                    "--max-total", "32K", NULL};
	return harness_setup_with(state, extra);
}

static void
test_expired_cursor_error_names_oldest_and_can_continue(void **state)
{
	struct broker_proc *b = *state;
	logbus_reader *r;
	const logbus_record *rec;
	char pad[200], cursor[128];
	struct got_list head;

	logbus_publisher *p = harness_publisher(b->run_dir, "svc");
	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	for (int i = 0; i < 2000; i++) {
		assert_int_equal(logbus_log(p, LOGBUS_INFO, "%d %s", i, pad),
		                 LOGBUS_OK);
		/* Batches of 20 (about 6 KiB): a segment holds one or two,
		 * so the journal keeps several and the broker's own
		 * records can never push the last of ours out.  With
		 * batches of 100 (30 KiB, most of the 32K kept) they
		 * sometimes did. */
		if (i % 20 == 19)
			assert_int_equal(logbus_flush(p, WAIT_MS), LOGBUS_OK);
	}
	assert_int_equal(logbus_publisher_close(p, WAIT_MS), LOGBUS_OK);

	list_init(&head);
	read_journal(b->run_dir, &head);
	assert_true(head.n > 0 && head.n < 2000);
	/* the oldest kept record may be one of the broker's own */
	uint64_t oldest = head.first_seq;
	assert_true(oldest > 1 && head.gaps == 0);
	/* the newest ones are kept: the last record published is there */
	assert_int_equal(atoi(head.v[head.n - 1].message), 1999);
	end_cursor(b->run_dir, cursor, sizeof cursor);
	cursor_at(cursor, 1);

	/* Pull API: the error, the oldest kept, then on from there. */
	logbus_reader_options o = {.run_dir = b->run_dir,
	                           .start = LOGBUS_START_CURSOR,
	                           .cursor = cursor};
	assert_int_equal(logbus_reader_open(&r, &o), LOGBUS_OK);
	assert_int_equal(logbus_reader_next(r, &rec, NEXT_WAIT_MS),
	                 LOGBUS_EEXPIRED);
	assert_true(logbus_reader_oldest_seq(r) == oldest);
	assert_non_null(strstr(logbus_reader_error(r), "expired"));
	assert_int_equal(logbus_reader_skip_expired(r), LOGBUS_OK);
	for (size_t i = 0; i < head.n; i++) {
		assert_int_equal(next_not_self(r, &rec, NEXT_WAIT_MS), 1);
		assert_true(rec->seq == head.v[i].seq);
		assert_string_equal(rec->message, head.v[i].message);
	}
	assert_int_equal(next_not_self(r, &rec, NEXT_WAIT_MS), 0);
	logbus_reader_close(r);

	/* Subscription: on_error hears LOGBUS_EEXPIRED, says go on, and the
	 * records continue from the oldest kept. */
	struct got_list l;
	list_init(&l);
	o.follow = 1;
	logbus_subscription *s = subscribe(&o, &l, true);
	wait_count(&l, head.n, WAIT_MS);
	assert_int_equal(logbus_subscription_wait(s, 0), LOGBUS_ETIMEDOUT);
	logbus_subscription_close(s);
	assert_int_equal(l.nexpired, 1);
	assert_int_equal(l.nerrors, 1);
	assert_int_equal(l.last_error, LOGBUS_EEXPIRED);
	assert_non_null(strstr(l.last_error_msg, "expired"));
	assert_int_equal(l.n, head.n);
	for (size_t i = 0; i < head.n; i++) {
		assert_true(l.v[i].seq == head.v[i].seq);
		assert_string_equal(l.v[i].message, head.v[i].message);
	}
	list_fini(&l);
	list_fini(&head);
}

/* ---- 7. bad filters ------------------------------------------------ */

static void test_bad_regex_is_an_error_at_open(void **state)
{
	struct broker_proc *b = *state;
	logbus_reader *r = NULL;
	logbus_subscription *s = NULL;
	char err[256] = "";
	const char *bad_field[] = {"noequals"};
	struct got_list l;

	logbus_reader_options o = {.run_dir = b->run_dir,
	                           .start = LOGBUS_START_HEAD,
	                           .filter = {.message_regex = "(unclosed"},
	                           .error = err,
	                           .error_len = sizeof err};
	assert_int_equal(logbus_reader_open(&r, &o), LOGBUS_EINVAL);
	assert_null(r);
	/* PCRE2's own words */
	assert_non_null(strstr(err, "missing closing parenthesis"));
	o.follow = 1;
	err[0] = '\0';
	assert_int_equal(logbus_subscribe(&s, &o, collect_on_log, NULL, NULL),
	                 LOGBUS_EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "missing closing parenthesis"));

	o.filter = (logbus_filter){.fields = bad_field, .nfields = 1};
	err[0] = '\0';
	assert_int_equal(logbus_reader_open(&r, &o), LOGBUS_EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "noequals"));

	/* The broker never saw them and serves as before. */
	logbus_publisher *p = harness_publisher(b->run_dir, "after");
	log_range(p, "ok-", 0, 10);
	assert_int_equal(logbus_publisher_close(p, WAIT_MS), LOGBUS_OK);
	list_init(&l);
	read_journal(b->run_dir, &l);
	check_run(&l, "ok-", 0, 10);
	list_fini(&l);
}

/* ---- 8. snapshot subscriptions ------------------------------------- */

static void test_snapshot_subscription_ends_when_caught_up(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "snap");
	struct got_list l, rest;
	char cursor[128];

	log_range(p, "a-", 0, 300);
	assert_int_equal(logbus_flush(p, WAIT_MS), LOGBUS_OK);

	list_init(&l);
	logbus_reader_options o = {.run_dir = b->run_dir,
	                           .start = LOGBUS_START_HEAD};
	logbus_subscription *s = subscribe(&o, &l, false);
	assert_int_equal(logbus_subscription_wait(s, WAIT_MS), 0);
	check_run(&l, "a-", 0, 300);
	logbus_subscription_cursor(s, cursor, sizeof cursor);
	logbus_subscription_close(s);
	assert_true(strncmp(cursor, "lb1-", 4) == 0);

	/* The cursor resumes right after the last record delivered. */
	log_range(p, "a-", 300, 350);
	assert_int_equal(logbus_publisher_close(p, WAIT_MS), LOGBUS_OK);
	list_init(&rest);
	o.start = LOGBUS_START_CURSOR;
	o.cursor = cursor;
	s = subscribe(&o, &rest, false);
	assert_int_equal(logbus_subscription_wait(s, WAIT_MS), 0);
	logbus_subscription_close(s);
	check_run(&rest, "a-", 300, 50);
	/* right after the last record delivered, which may be one of the
	 * broker's own (delivered, not collected) */
	assert_true(rest.first_seq == l.last_seq + 1 && rest.gaps == 0);
	list_fini(&l);
	list_fini(&rest);
}

/* ---- 9. reads naming services, over many segments and a restart ---- */

/* A broker whose journal rotates every 256 KiB: a few checkpoint blocks a
 * segment, and several segments. */
static int setup_segments(void **state)
{
	static const char *const extra[] = {"--segment-size", "256K", NULL};
	return harness_setup_with(state, extra);
}

#define SVC_SEQS_MAX 8192

struct svc_seqs {
	uint64_t seq[SVC_SEQS_MAX];
	size_t n;
};

/* A snapshot read: filtered to service svc (NULL: no filter) and regex;
 * keeps the seqs of the records of service want whose message starts with
 * prefix (""), and checks that a filtered read returns nothing else. */
static void read_svc(const char *run_dir, const char *svc, const char *regex,
                     enum logbus_start start, uint64_t tail_n, const char *want,
                     const char *prefix, struct svc_seqs *out)
{
	const char *svcs[1] = {svc};
	logbus_reader_options o = {.run_dir = run_dir,
	                           .start = start,
	                           .tail_n = tail_n,
	                           .filter = {.services = svcs,
	                                      .nservices = svc ? 1 : 0,
	                                      .message_regex = regex}};
	const logbus_record *rec;
	logbus_reader *r;
	int rv;

	out->n = 0;
	assert_int_equal(logbus_reader_open(&r, &o), LOGBUS_OK);
	while ((rv = logbus_reader_next(r, &rec, NEXT_WAIT_MS)) == 1) {
		if (svc != NULL && strcmp(rec->service, svc) != 0)
			fail_msg("read of %s returned a record of %s", svc,
			         rec->service);
		if (strcmp(rec->service, want) != 0 ||
		    strncmp(rec->message, prefix, strlen(prefix)) != 0)
			continue;
		assert_true(out->n < SVC_SEQS_MAX);
		out->seq[out->n++] = rec->seq;
	}
	if (rv != 0)
		fail_msg("read of %s: %s", svc ? svc : "all",
		         logbus_reader_error(r));
	logbus_reader_close(r);
}

/* got is the last n of truth (all of it when it has fewer). */
static void assert_tail_of(const struct svc_seqs *got,
                           const struct svc_seqs *truth, size_t n)
{
	size_t want = truth->n < n ? truth->n : n;

	assert_int_equal(got->n, want);
	for (size_t i = 0; i < want; i++)
		assert_true(got->seq[i] == truth->seq[truth->n - want + i]);
}

static void assert_same(const struct svc_seqs *a, const struct svc_seqs *b)
{
	assert_tail_of(a, b, b->n);
}

static void check_service_reads(const char *run_dir, const char *svc)
{
	static struct svc_seqs truth, re_truth, got;

	/* The truth: every record, unfiltered, sorted out here. */
	read_svc(run_dir, NULL, NULL, LOGBUS_START_HEAD, 0, svc, "", &truth);
	read_svc(run_dir, NULL, NULL, LOGBUS_START_HEAD, 0, svc, "r1-",
	         &re_truth);
	read_svc(run_dir, svc, NULL, LOGBUS_START_HEAD, 0, svc, "", &got);
	assert_same(&got, &truth);
	read_svc(run_dir, svc, NULL, LOGBUS_START_TAIL, 100, svc, "", &got);
	assert_tail_of(&got, &truth, 100);
	read_svc(run_dir, svc, NULL, LOGBUS_START_TAIL, 1, svc, "", &got);
	assert_tail_of(&got, &truth, 1);
	read_svc(run_dir, svc, "^r1-", LOGBUS_START_TAIL, 100, svc, "", &got);
	assert_tail_of(&got, &re_truth, 100);
	read_svc(run_dir, svc, "^r1-", LOGBUS_START_HEAD, 0, svc, "", &got);
	assert_same(&got, &re_truth);
}

static void test_reads_of_one_service_among_many_match_a_full_scan(void **state)
{
	struct broker_proc *b = *state;
	static struct svc_seqs none;
	logbus_publisher *p[10];
	char name[10][8], pad[120];

	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	for (int s = 0; s < 10; s++) {
		snprintf(name[s], sizeof name[s], "q%d", s);
		p[s] = harness_publisher(b->run_dir, name[s]);
	}
	/* Each service's records in three stretches, then all interleaved. */
	for (int round = 0; round < 3; round++) {
		for (int s = 0; s < 10; s++) {
			for (int i = 0; i < 150; i++)
				assert_int_equal(logbus_log(p[s], LOGBUS_INFO,
				                            "r%d-%d %s", round,
				                            i, pad),
				                 LOGBUS_OK);
			assert_int_equal(logbus_flush(p[s], WAIT_MS),
			                 LOGBUS_OK);
		}
	}
	for (int i = 0; i < 40; i++) {
		for (int s = 0; s < 10; s++) {
			assert_int_equal(
			    logbus_log(p[s], LOGBUS_INFO, "mix-%d %s", i, pad),
			    LOGBUS_OK);
			assert_int_equal(logbus_flush(p[s], WAIT_MS),
			                 LOGBUS_OK);
		}
	}
	for (int s = 0; s < 10; s++)
		assert_int_equal(logbus_publisher_close(p[s], WAIT_MS),
		                 LOGBUS_OK);
	for (int pass = 0; pass < 2; pass++) {
		check_service_reads(b->run_dir, "q3");
		check_service_reads(b->run_dir, "q9");
		check_service_reads(b->run_dir, SELF_SERVICE);
		read_svc(b->run_dir, "nope", NULL, LOGBUS_START_TAIL, 100,
		         "nope", "", &none);
		assert_int_equal(none.n, 0);
		read_svc(b->run_dir, "nope", NULL, LOGBUS_START_HEAD, 0, "nope",
		         "", &none);
		assert_int_equal(none.n, 0);
		/* After a restart the older segments are indexed lazily. */
		if (pass == 0) {
			assert_int_equal(harness_stop(b, SIGTERM), 0);
			assert_int_equal(harness_restart(b), 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_replay_then_live_switch_has_no_gap_or_duplicate,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_stalled_callback_gets_all_100000_in_order_without_slowing_ingest,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_follower_survives_broker_restart, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_fifty_followers_with_different_filters_each_get_exactly_theirs,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(test_each_start_position,
	                                    harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_expired_cursor_error_names_oldest_and_can_continue,
	        setup_small_journal, harness_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_regex_is_an_error_at_open,
	                                    harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_snapshot_subscription_ends_when_caught_up, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reads_of_one_service_among_many_match_a_full_scan,
	        setup_segments, harness_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
