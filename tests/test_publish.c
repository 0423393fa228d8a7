/*
 * test_publish.c: publishing through liblogbus to a real logbusd and reading
 * it back: order, every field, threads and processes, tail and filters,
 * cursors, expiry, drop accounting, trusted credentials.
 */
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
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

extern char **environ;

/* ---- helpers --------------------------------------------------------- */

struct got {
	uint64_t seq;
	char *service, *logger, *message, *cursor;
	int level;
	uint32_t pid, uid;
	size_t nfields;
};

struct got_list {
	struct got *v;
	size_t n, cap;
	int rv; /* last logbus_reader_next result */
	char cursor[128];
	/* Every record read, the broker's own (skipped, see read_all)
	 * included: how many were skipped, the first and last seq, and
	 * whether each seq was the one after the seq before (no gap). */
	size_t nself;
	uint64_t first_seq, last_seq;
	bool gapless;
};

/* The broker writes its own events ("journal ...: empty", "serving ...",
 * warnings) into the journal as records of this service; their sequence
 * numbers interleave with the tests' records. */
#define SELF_SERVICE "logbusd"

static void got_free(struct got_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].service);
		free(l->v[i].logger);
		free(l->v[i].message);
		free(l->v[i].cursor);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Read a snapshot with the given options into l.  The broker's own records
 * (service "logbusd") are not collected: the tests here expect exactly the
 * records they published, and the broker adds its events whenever it has
 * some (at start, at a signal, a warning).  They are counted, and their
 * sequence numbers take part in first_seq, last_seq and gapless, so that
 * an unfiltered read still proves the journal has no gap. */
static void read_all(logbus_reader_options *o, struct got_list *l)
{
	logbus_reader *r;
	const logbus_record *rec;

	memset(l, 0, sizeof *l);
	l->gapless = true;
	assert_int_equal(logbus_reader_open(&r, o), LOGBUS_OK);
	while ((l->rv = logbus_reader_next(r, &rec, -1)) == 1) {
		if (l->first_seq == 0)
			l->first_seq = rec->seq;
		else if (rec->seq != l->last_seq + 1)
			l->gapless = false;
		l->last_seq = rec->seq;
		if (strcmp(rec->service, SELF_SERVICE) == 0) {
			l->nself++;
			continue;
		}
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 1024;
			l->v = realloc(l->v, l->cap * sizeof *l->v);
			assert_non_null(l->v);
		}
		struct got *g = &l->v[l->n++];
		g->seq = rec->seq;
		g->service = strdup(rec->service);
		g->logger = strdup(rec->logger);
		g->message = strdup(rec->message);
		g->cursor = strdup(rec->cursor);
		g->level = rec->level;
		g->pid = rec->pid;
		g->uid = rec->uid;
		g->nfields = rec->nfields;
	}
	const char *c = logbus_reader_cursor(r);
	snprintf(l->cursor, sizeof l->cursor, "%s", c ? c : "");
	logbus_reader_close(r);
}

static void read_head(const char *run_dir, struct got_list *l)
{
	logbus_reader_options o = {.run_dir = run_dir,
	                           .start = LOGBUS_START_HEAD};
	read_all(&o, l);
	assert_int_equal(l->rv, 0);
}

/* A journal that keeps almost nothing: retention drops old records. */
static int setup_small_journal(void **state)
{
	static const char *const extra[] = {"--segment-size", "8K",
	                                    "--max-total", "32K", NULL};
	return harness_setup_with(state, extra);
}

/* ---- tests ----------------------------------------------------------- */

static void test_records_read_back_in_order_with_every_field(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "service_123");
	struct got_list l;
	logbus_field f[] = {LOGBUS_STR("user", "user123"), LOGBUS_INT("n", 5),
	                    LOGBUS_FLOAT("ratio", 0.5), LOGBUS_BOOL("ok", 1)};

	for (int i = 0; i < 5000; i++)
		assert_int_equal(logbus_log(p, LOGBUS_INFO, "line %d", i), 0);
	assert_int_equal(logbus_log_fields(p, LOGBUS_WARNING, "pactown.sandbox",
	                                   f, 4, "Creating sandbox for %s",
	                                   "service_123"),
	                 0);
	logbus_entry e = {.level = LOGBUS_ERROR,
	                  .stream = LOGBUS_STREAM_STDERR,
	                  .message = "multi\nline\tmessage",
	                  .message_len = (size_t)-1};
	assert_int_equal(logbus_write(p, &e), 0);
	assert_int_equal(logbus_flush(p, harness_ms(10000)), LOGBUS_OK);
	logbus_publisher_stats st;
	logbus_publisher_get_stats(p, &st);
	assert_true(st.committed == 5002 && st.rejected == 0);
	assert_int_equal(logbus_publisher_close(p, harness_ms(5000)),
	                 LOGBUS_OK);

	read_head(b->run_dir, &l);
	assert_int_equal(l.n, 5002);
	/* no gap: the journal starts at 1 and, with the broker's own records
	 * in between, every number follows the one before */
	assert_true(l.first_seq == 1 && l.gapless);
	assert_true(l.last_seq == l.n + l.nself);
	for (size_t i = 0; i < 5000; i++) {
		char want[32];
		snprintf(want, sizeof want, "line %zu", i);
		assert_string_equal(l.v[i].message, want);
		assert_string_equal(l.v[i].logger, "service_123");
		assert_int_equal(l.v[i].level, LOGBUS_INFO);
	}
	assert_string_equal(l.v[5000].message,
	                    "Creating sandbox for service_123");
	assert_string_equal(l.v[5000].logger, "pactown.sandbox");
	assert_int_equal(l.v[5000].nfields, 4);
	assert_string_equal(l.v[5001].message, "multi\nline\tmessage");
	/* trusted fields come from the socket, not from the client */
	assert_int_equal(l.v[0].pid, (uint32_t)getpid());
	assert_int_equal(l.v[0].uid, (uint32_t)getuid());
	got_free(&l);
}

struct thread_arg {
	logbus_publisher *p;
	int id, count;
};

static void *publish_thread(void *arg)
{
	struct thread_arg *t = arg;
	for (int i = 0; i < t->count; i++)
		if (logbus_log(t->p, LOGBUS_INFO, "t%d-%d", t->id, i) != 0)
			return (void *)1;
	return NULL;
}

static pid_t spawn_child(const char *run_dir, const char *tag, int count)
{
	char n[16], self[4096];
	pid_t pid;
	snprintf(n, sizeof n, "%d", count);
	/* This program again; not /proc/self/exe, which is valgrind's own
	 * under valgrind (and the child is checked like its parent). */
	harness_bin("test_publish", self, sizeof self);
	const char *argv[] = {self, "child", run_dir, tag, n, NULL};
	assert_int_equal(
	    posix_spawn(&pid, argv[0], NULL, NULL, (char **)argv, environ), 0);
	return pid;
}

/* The child process: publish count records "<tag>-<i>" and flush. */
static int child_main(const char *run_dir, const char *tag, int count)
{
	logbus_publisher *p;
	logbus_publisher_options o = {.run_dir = run_dir, .service = tag};
	if (logbus_publisher_open(&p, &o) != 0)
		return 1;
	for (int i = 0; i < count; i++)
		if (logbus_log(p, LOGBUS_INFO, "%s-%d", tag, i) != 0)
			return 1;
	return logbus_publisher_close(p, harness_ms(30000)) == LOGBUS_OK ? 0
	                                                                 : 1;
}

/* Records "<tag>-<i>" must appear once each, i in increasing order. */
static void check_sequence(const struct got_list *l, const char *tag, int count)
{
	size_t tl = strlen(tag);
	int next = 0;
	for (size_t i = 0; i < l->n; i++) {
		const char *m = l->v[i].message;
		if (strncmp(m, tag, tl) != 0 || m[tl] != '-')
			continue;
		assert_int_equal(atoi(m + tl + 1), next);
		next++;
	}
	assert_int_equal(next, count);
}

static void
test_threads_and_processes_publish_without_gap_or_duplicate(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *shared = harness_publisher(b->run_dir, "threads");
	pthread_t th[4];
	struct thread_arg ta[4];
	pid_t kids[2];
	struct got_list l;

	kids[0] = spawn_child(b->run_dir, "procA", 20000);
	kids[1] = spawn_child(b->run_dir, "procB", 20000);
	for (int i = 0; i < 4; i++) {
		ta[i] =
		    (struct thread_arg){.p = shared, .id = i, .count = 10000};
		pthread_create(&th[i], NULL, publish_thread, &ta[i]);
	}
	for (int i = 0; i < 4; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	assert_int_equal(logbus_publisher_close(shared, harness_ms(30000)),
	                 LOGBUS_OK);
	for (int i = 0; i < 2; i++) {
		int status;
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	read_head(b->run_dir, &l);
	assert_int_equal(l.n, 4 * 10000 + 2 * 20000);
	/* no gap over the whole journal, the broker's own records included;
	 * the published ones are in order, once each (check_sequence) */
	assert_true(l.first_seq == 1 && l.gapless);
	assert_true(l.last_seq == l.n + l.nself);
	check_sequence(&l, "t0", 10000);
	check_sequence(&l, "t3", 10000);
	check_sequence(&l, "procA", 20000);
	check_sequence(&l, "procB", 20000);
	got_free(&l);
}

static void publish_mix(const char *run_dir)
{
	struct {
		const char *svc, *logger;
		int level;
	} mix[] = {
	    {"svc_a", "pactown", LOGBUS_INFO},
	    {"svc_a", "pactown.sandbox", LOGBUS_ERROR},
	    {"svc_b", "pactownx", LOGBUS_ERROR},
	    {"svc_b", "other", LOGBUS_WARNING},
	    {"svc_c", "pactown.sandbox.deep", LOGBUS_CRITICAL},
	};
	logbus_publisher *p[3] = {harness_publisher(run_dir, "svc_a"),
	                          harness_publisher(run_dir, "svc_b"),
	                          harness_publisher(run_dir, "svc_c")};
	for (int round = 0; round < 20; round++)
		for (size_t i = 0; i < sizeof mix / sizeof *mix; i++) {
			int k = mix[i].svc[4] - 'a';
			assert_int_equal(
			    logbus_log_fields(p[k], mix[i].level, mix[i].logger,
			                      NULL, 0, "r%d-%zu", round, i),
			    0);
			/* one flush per record keeps the global order fixed */
			assert_int_equal(logbus_flush(p[k], harness_ms(10000)),
			                 LOGBUS_OK);
		}
	for (int k = 0; k < 3; k++)
		logbus_publisher_close(p[k], harness_ms(5000));
}

/* logbus_log as the format check does not see it: a NULL "%s" is undefined
 * for printf (gcc says so at a checked call), but "(null)" in glibc and so
 * in logbus_log's fast path, which is what the test below proves. */
static int log_unchecked(logbus_publisher *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rv = logbus_logv(p, LOGBUS_INFO, NULL, NULL, 0, fmt, ap);
	va_end(ap);
	return rv;
}

/* logbus_log formats like printf, with or without its fast paths ("%s",
 * and a format without conversions). */
static void test_log_formats_like_printf(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "fmt");
	const char *null_str = NULL;
	struct got_list l = {0};

	assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s", "pre-formatted"), 0);
	assert_int_equal(log_unchecked(p, "%s", null_str), 0);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "no conversions"), 0);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "100%% sure"), 0);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s=%d", "n", 42), 0);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s!", "bang"), 0);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s", "caf\xc3"),
	                 LOGBUS_EUTF8);
	assert_int_equal(logbus_flush(p, harness_ms(5000)), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, harness_ms(5000)),
	                 LOGBUS_OK);
	read_head(b->run_dir, &l);
	const char *want[] = {"pre-formatted", "(null)", "no conversions",
	                      "100% sure",     "n=42",   "bang!"};
	assert_int_equal(l.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(l.v[i].message, want[i]);
	got_free(&l);
}

static void test_tail_returns_last_n_matching_records(void **state)
{
	struct broker_proc *b = *state;
	struct got_list l;
	const char *svc_b[] = {"svc_b"};

	publish_mix(b->run_dir);
	/* The three services, not the broker's own records, which may come
	 * at any time (a listener probe's warning). */
	const char *mine[] = {"svc_a", "svc_b", "svc_c"};
	logbus_reader_options o = {
	    .run_dir = b->run_dir,
	    .start = LOGBUS_START_TAIL,
	    .tail_n = 3,
	    .filter = {.services = mine, .nservices = 3}};
	read_all(&o, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].message, "r19-2");
	assert_string_equal(l.v[2].message, "r19-4");
	got_free(&l);

	o.filter = (logbus_filter){.services = svc_b, .nservices = 1};
	o.tail_n = 4;
	read_all(&o, &l);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.v[0].message, "r18-2");
	assert_string_equal(l.v[3].message, "r19-3");
	got_free(&l);

	o.filter = (logbus_filter){.min_level = LOGBUS_ERROR};
	o.tail_n = 1000;
	read_all(&o, &l);
	assert_int_equal(l.n, 60);
	for (size_t i = 0; i < l.n; i++)
		assert_true(l.v[i].level >= LOGBUS_ERROR);
	got_free(&l);

	/* "pactown" matches pactown and pactown.sandbox(.deep), not
	 * pactownx */
	o.filter = (logbus_filter){.logger_prefix = "pactown"};
	read_all(&o, &l);
	assert_int_equal(l.n, 60);
	for (size_t i = 0; i < l.n; i++)
		assert_string_not_equal(l.v[i].logger, "pactownx");
	got_free(&l);

	o.filter = (logbus_filter){.logger_prefix = "pactown.sandbox",
	                           .min_level = LOGBUS_CRITICAL};
	read_all(&o, &l);
	assert_int_equal(l.n, 20);
	got_free(&l);
}

static void test_cursor_resumes_exactly_after_the_record(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "svc");
	struct got_list first, rest, none;

	for (int i = 0; i < 100; i++)
		logbus_log(p, LOGBUS_INFO, "a%d", i);
	assert_int_equal(logbus_flush(p, harness_ms(10000)), 0);
	read_head(b->run_dir, &first);
	assert_int_equal(first.n, 100);

	for (int i = 0; i < 50; i++)
		logbus_log(p, LOGBUS_INFO, "b%d", i);
	assert_int_equal(logbus_publisher_close(p, harness_ms(10000)), 0);

	/* resume from the reader's end position */
	logbus_reader_options o = {.run_dir = b->run_dir,
	                           .start = LOGBUS_START_CURSOR,
	                           .cursor = first.cursor};
	read_all(&o, &rest);
	assert_int_equal(rest.rv, 0);
	assert_int_equal(rest.n, 50);
	assert_string_equal(rest.v[0].message, "b0");
	/* exactly after the last record the first reader read (the broker's
	 * own records are read but not collected) */
	assert_true(rest.first_seq == first.last_seq + 1 && rest.gapless);

	/* resume from one record's own cursor */
	o.cursor = first.v[97].cursor;
	read_all(&o, &none);
	assert_int_equal(none.n, 52);
	assert_string_equal(none.v[0].message, "a98");
	got_free(&none);

	/* at the end: nothing of svc, and the cursor does not go back */
	const char *svc[] = {"svc"};
	o.filter = (logbus_filter){.services = svc, .nservices = 1};
	o.cursor = rest.cursor;
	read_all(&o, &none);
	assert_int_equal(none.rv, 0);
	assert_int_equal(none.n, 0);
	/* same journal, a position at or after the last one (only the
	 * broker's own records can have come in between) */
	size_t cl = strlen(rest.cursor);
	assert_int_equal(strlen(none.cursor), cl);
	assert_memory_equal(none.cursor, rest.cursor, cl - 16);
	assert_true(strtoull(none.cursor + cl - 16, NULL, 16) >=
	            strtoull(rest.cursor + cl - 16, NULL, 16));
	got_free(&none);
	got_free(&first);
	got_free(&rest);
}

/* The seq that a cursor of the journal (any of its records') names set to
 * seq: the id stays, the 16 hex digits at the end change. */
static void cursor_at(char *cursor, uint64_t seq)
{
	char hex[17];

	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)seq);
	memcpy(cursor + strlen(cursor) - 16, hex, 16);
}

/*
 * The broker adds records of its own whenever it has something to say (a
 * segment made or dropped, a warning), and in a journal this small one more
 * record can rotate the oldest segment away between two reads.  So each
 * round reads the head, asks with the expired cursor, and reads the head
 * again; the answer is judged in a round where the head did not move, the
 * only one where "the oldest kept record" has one value.
 */
#define EXPIRY_ROUNDS 20

static void test_expired_cursor_names_the_oldest_kept_record(void **state)
{
	struct broker_proc *b = *state;
	logbus_reader *r;
	const logbus_record *rec;
	char pad[200];

	logbus_publisher *p = harness_publisher(b->run_dir, "svc");
	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	for (int i = 0; i < 2000; i++) {
		logbus_log(p, LOGBUS_INFO, "%d %s", i, pad);
		/* Batches of 20 (about 6 KiB): a segment holds one or two,
		 * so the journal keeps several and the broker's own
		 * records can never push the last of ours out.  With
		 * batches of 100 (30 KiB, most of the 32K kept) they
		 * sometimes did. */
		if (i % 20 == 19)
			assert_int_equal(logbus_flush(p, harness_ms(10000)), 0);
	}
	assert_int_equal(logbus_publisher_close(p, harness_ms(10000)), 0);

	struct got_list l, after, again;
	uint64_t oldest = 0, named = 0;
	char cursor[128];
	int round;
	for (round = 0; round < EXPIRY_ROUNDS; round++) {
		read_head(b->run_dir, &l);
		assert_true(l.n > 0 && l.n < 2000);
		/* the oldest kept record may be one of the broker's own */
		oldest = l.first_seq;
		assert_true(oldest > 1 && l.gapless);
		/* the newest are kept: the last record published is there */
		assert_int_equal(atoi(l.v[l.n - 1].message), 1999);

		/* a cursor at seq 1 of this journal: expired, with the
		 * oldest */
		snprintf(cursor, sizeof cursor, "%s", l.v[0].cursor);
		cursor_at(cursor, 1);
		logbus_reader_options o = {.run_dir = b->run_dir,
		                           .start = LOGBUS_START_CURSOR,
		                           .cursor = cursor};
		assert_int_equal(logbus_reader_open(&r, &o), 0);
		assert_int_equal(logbus_reader_next(r, &rec, -1),
		                 LOGBUS_EEXPIRED);
		named = logbus_reader_oldest_seq(r);
		assert_non_null(strstr(logbus_reader_error(r), "expired"));
		logbus_reader_close(r);

		/* and the caller can go on from there: everything of svc
		 * that is kept, from the one named */
		cursor_at(cursor, named - 1);
		read_all(&o, &again);
		read_head(b->run_dir, &after);
		bool still = after.first_seq == oldest;
		got_free(&after);
		if (still)
			break;
		print_message("  round %d: the journal's head moved from %llu "
		              "(the broker's own records)\n",
		              round, (unsigned long long)oldest);
		got_free(&again);
		got_free(&l);
	}
	assert_true(round < EXPIRY_ROUNDS);
	assert_true(named == oldest);
	assert_int_equal(again.rv, 0);
	assert_true(again.first_seq == oldest && again.gapless);
	assert_int_equal(again.n, l.n);
	for (size_t i = 0; i < l.n; i++)
		assert_true(again.v[i].seq == l.v[i].seq);
	got_free(&again);
	got_free(&l);
}

static void test_drop_mode_counts_and_reports_dropped_records(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p;
	logbus_publisher_options o = {.run_dir = b->run_dir,
	                              .service = "dropper",
	                              .queue_bytes = 64 * 1024,
	                              .on_full = LOGBUS_ON_FULL_DROP};
	char big[1000];
	int dropped = 0;

	/* stop the broker so that the queue fills */
	harness_stop(b, SIGTERM);
	assert_int_equal(logbus_publisher_open(&p, &o), 0);
	memset(big, 'd', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (int i = 0; i < 500; i++)
		if (logbus_log(p, LOGBUS_INFO, "%s", big) == LOGBUS_EFULL)
			dropped++;
	assert_true(dropped > 0);
	assert_int_equal(logbus_flush(p, 100), LOGBUS_ETIMEDOUT);
	assert_int_equal(harness_restart(b), 0);
	assert_int_equal(logbus_flush(p, harness_ms(20000)), LOGBUS_OK);
	logbus_publisher_stats st;
	logbus_publisher_get_stats(p, &st);
	assert_int_equal(st.dropped, (uint64_t)dropped);
	assert_int_equal(logbus_publisher_close(p, harness_ms(5000)), 0);

	struct got_list l;
	const char *svc[] = {"dropper"};
	logbus_reader_options ro = {.run_dir = b->run_dir,
	                            .start = LOGBUS_START_HEAD,
	                            .filter = {.services = svc,
	                                       .nservices = 1,
	                                       .logger_prefix = "logbus"}};
	read_all(&ro, &l);
	/* One notice per batch that had new drops: their counts add up. */
	int reported = 0;
	assert_true(l.n >= 1);
	for (size_t i = 0; i < l.n; i++) {
		int n = -1;
		assert_int_equal(sscanf(l.v[i].message,
		                        "Dropped %d records: the publisher's "
		                        "queue was full",
		                        &n),
		                 1);
		assert_int_equal(l.v[i].level, LOGBUS_WARNING);
		assert_string_equal(l.v[i].logger, "logbus.client");
		reported += n;
	}
	assert_int_equal(reported, dropped);
	got_free(&l);
}

static void
test_flush_on_unreachable_broker_times_out_with_a_reason(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p;
	char dir[512], err[512];
	logbus_reader *r;
	const logbus_record *rec;

	snprintf(dir, sizeof dir, "%s/nobroker", b->dir);
	logbus_publisher_options o = {.run_dir = dir, .service = "svc"};
	assert_int_equal(logbus_publisher_open(&p, &o), 0);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "hello"), 0);
	assert_int_equal(logbus_flush(p, 300), LOGBUS_ETIMEDOUT);
	logbus_publisher_close(p, 0);

	logbus_reader_options ro = {.run_dir = dir, .timeout_ms = 300};
	assert_int_equal(logbus_reader_open(&r, &ro), 0);
	assert_int_equal(logbus_reader_next(r, &rec, -1), LOGBUS_EUNREACHABLE);
	snprintf(err, sizeof err, "%s", logbus_reader_error(r));
	assert_non_null(strstr(err, "is logbusd running?"));
	assert_non_null(strstr(err, "nobroker/query.sock"));
	logbus_reader_close(r);
}

/*
 * Issue 15, item 5: no wait without a deadline.  The broker killed under
 * a connected publisher in block mode: the logging call blocked on the
 * full queue, flush(-1) and close(-1) each end with LOGBUS_EUNREACHABLE
 * within a bound (5 s without a connection, then at once), where they
 * waited for good.  In a thread, so that a hang fails the test.
 */
struct gone_run {
	logbus_publisher *p;
	int log_rv, flush_rv, close_rv;
	int64_t log_ms, total_ms;
	atomic_bool done;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *gone_main(void *arg)
{
	struct gone_run *g = arg;
	int64_t t0 = mono_ms();
	int rv;

	while ((rv = logbus_log(g->p, LOGBUS_INFO, "%0200d", 7)) == LOGBUS_OK)
		;
	g->log_rv = rv;
	g->log_ms = mono_ms() - t0;
	g->flush_rv = logbus_flush(g->p, -1);
	g->close_rv = logbus_publisher_close(g->p, -1);
	g->total_ms = mono_ms() - t0;
	atomic_store(&g->done, true);
	return NULL;
}

static bool gone_done(void *arg)
{
	return atomic_load(&((struct gone_run *)arg)->done);
}

static void
test_waits_without_deadline_end_when_the_broker_is_gone(void **state)
{
	struct broker_proc *b = *state;
	struct gone_run g = {0};
	pthread_t th;
	logbus_publisher_options o = {.run_dir = b->run_dir,
	                              .service = "gone",
	                              .queue_bytes = 64 * 1024,
	                              .on_full = LOGBUS_ON_FULL_BLOCK};

	atomic_init(&g.done, false);
	assert_int_equal(logbus_publisher_open(&g.p, &o), 0);
	assert_int_equal(logbus_log(g.p, LOGBUS_INFO, "connected"), 0);
	assert_int_equal(logbus_flush(g.p, HARNESS_WAIT_MS), 0);
	harness_stop(b, SIGKILL);
	assert_int_equal(pthread_create(&th, NULL, gone_main, &g), 0);
	if (!harness_wait(gone_done, &g, harness_ms(30000)))
		fail_msg("a wait without a deadline still waits 30 s after "
		         "the broker was killed");
	pthread_join(th, NULL);
	assert_int_equal(g.log_rv, LOGBUS_EUNREACHABLE);
	assert_int_equal(g.flush_rv, LOGBUS_EUNREACHABLE);
	assert_int_equal(g.close_rv, LOGBUS_EUNREACHABLE);
	/* the flush and the close did not wait 5 s again */
	assert_true(g.total_ms - g.log_ms < 3000);
	print_message("gone: logging call %lld ms, all %lld ms\n",
	              (long long)g.log_ms, (long long)g.total_ms);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "child") == 0)
		return child_main(argv[2], argv[3], atoi(argv[4]));
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_records_read_back_in_order_with_every_field, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_threads_and_processes_publish_without_gap_or_duplicate,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(test_log_formats_like_printf,
	                                    harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_tail_returns_last_n_matching_records, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_cursor_resumes_exactly_after_the_record, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_expired_cursor_names_the_oldest_kept_record,
	        setup_small_journal, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_drop_mode_counts_and_reports_dropped_records,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_flush_on_unreachable_broker_times_out_with_a_reason,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_waits_without_deadline_end_when_the_broker_is_gone,
	        harness_setup, harness_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
