/*
 * test_local_dos.c: what one local user may do to the broker that everyone
 * shares, against a real logbusd: a read that would run for a minute on the
 * loop (a regular expression that backtracks without end) is refused, and
 * publishers' acknowledgements are not held up by reads meanwhile; nobody
 * publishes as the broker itself.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <nng/nng.h>

#include "harness.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "raw_request.h"
#include "record.h"
#include "timefmt.h"

/* The reproduction: 2,000 records of 'a' x 40 and '!', and a read
 * filtered by ^(a|a?)+$, which backtracks 2^40 ways on each of them.  It ran
 * 62 s on the broker's loop; a publisher's batch waited 61.5 s for its ack. */
#define RUNAWAY_RE   "^(a|a?)+$"
#define RUNAWAY_RECS 2000
/* A publisher's flush while such reads go on: the bound is generous (the
 * slice is 4 ms; sanitizer builds on a loaded machine), the old stall was
 * a minute. */
#define FLUSH_BOUND_MS 2000

static double now_ms(void)
{
	return (double)timefmt_mono_ns() / 1e6;
}

static void publish_runaway_bait(const struct broker_proc *b)
{
	logbus_publisher *p = harness_publisher(b->run_dir, "bait");
	char msg[64];

	memset(msg, 'a', 40);
	strcpy(msg + 40, "!");
	for (int i = 0; i < RUNAWAY_RECS; i++)
		assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s", msg),
		                 LOGBUS_OK);
	assert_int_equal(logbus_flush(p, HARNESS_WAIT_MS), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);
}

/* A read request with the runaway filter; tail > 0 asks for the last
 * ones (the backward scan), 0 reads forward from the oldest. */
static void runaway_read(const char *url, uint64_t tail, struct raw_reply *r)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2 + (tail > 0));
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, OP_READ);
	mp_pack_key(&pk, "flt");
	msgpack_pack_map(&pk, 1);
	mp_pack_key(&pk, "re");
	mp_pack_key(&pk, RUNAWAY_RE);
	if (tail > 0) {
		mp_pack_key(&pk, "tail");
		msgpack_pack_uint64(&pk, tail);
	}
	raw_call(url, sb.data, sb.size, r);
	msgpack_sbuffer_destroy(&sb);
}

static void assert_gave_up(const struct raw_reply *r)
{
	bool ok = true;
	char buf[512];

	assert_true(mp_get_bool(&r->o, "ok", &ok));
	assert_false(ok);
	assert_string_equal(raw_str(&r->o, "code", buf, sizeof buf),
	                    ERR_BAD_REQUEST);
	raw_str(&r->o, "error", buf, sizeof buf);
	print_message("  refused: %s\n", buf);
	assert_non_null(strstr(buf, "gave up on record"));
}

static void test_a_runaway_regex_is_refused_at_once(void **state)
{
	struct broker_proc *b = *state;
	char url[512];
	struct raw_reply r;

	publish_runaway_bait(b);
	assert_non_null(
	    paths_socket_url(url, sizeof url, b->run_dir, SOCK_QUERY));
	runaway_read(url, 0, &r);
	assert_gave_up(&r);
	raw_reply_free(&r);
	runaway_read(url, 10, &r);
	assert_gave_up(&r);
	raw_reply_free(&r);
}

struct reads {
	const char *url;
	volatile bool stop;
	int n;
};

static void *read_on(void *arg)
{
	struct reads *rd = arg;
	struct raw_reply r;

	while (!rd->stop) {
		runaway_read(rd->url, rd->n % 2 ? 10 : 0, &r);
		raw_reply_free(&r);
		rd->n++;
	}
	return NULL;
}

static void test_publishers_are_not_held_up_by_reads(void **state)
{
	struct broker_proc *b = *state;
	char url[512];
	struct reads rd = {.url = url};
	pthread_t t;
	double worst = 0;

	publish_runaway_bait(b);
	assert_non_null(
	    paths_socket_url(url, sizeof url, b->run_dir, SOCK_QUERY));
	logbus_publisher *p = harness_publisher(b->run_dir, "victim");
	assert_int_equal(pthread_create(&t, NULL, read_on, &rd), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(logbus_log(p, LOGBUS_INFO, "ack %d", i),
		                 LOGBUS_OK);
		double t0 = now_ms();
		assert_int_equal(logbus_flush(p, HARNESS_WAIT_MS), LOGBUS_OK);
		double took = now_ms() - t0;
		if (took > worst)
			worst = took;
	}
	rd.stop = true;
	pthread_join(t, NULL);
	print_message("  %d reads beside 50 flushes; the slowest flush took "
	              "%.1f ms\n",
	              rd.n, worst);
	assert_true(rd.n > 0);
	assert_true(worst < FLUSH_BOUND_MS);
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);
}

/* A user wrote 3.4 M forged "journal: removed ..." lines as the broker's
 * own service in 3 s: that service is the broker's alone now. */
static void test_nobody_may_publish_as_the_broker(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "logbusd");
	char why[256];

	assert_int_equal(
	    logbus_log(p, LOGBUS_INFO, "journal: removed everything (forged)"),
	    LOGBUS_OK);
	assert_int_equal(logbus_flush(p, HARNESS_WAIT_MS), LOGBUS_EREJECTED);
	assert_non_null(strstr(logbus_publisher_error(p, why, sizeof why),
	                       "the broker's own"));
	logbus_publisher_stats st;
	logbus_publisher_get_stats(p, &st);
	assert_int_equal(st.committed, 0);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);
}

/* ---- sessions ---- */

/* One record of service "victim" with message text, published raw under
 * session sid, batch bn; the ack in r. */
static void publish_raw(const char *url, uint64_t sid, uint64_t bn,
                        const char *text, struct raw_reply *r)
{
	msgpack_sbuffer sb, rec;
	msgpack_packer pk, rpk;
	struct record_in in = {.time_ns = 1,
	                       .level = LOGBUS_INFO,
	                       .service = {"victim", 6},
	                       .logger = {"victim", 6},
	                       .message = {text, (uint32_t)strlen(text)}};

	msgpack_sbuffer_init(&rec);
	msgpack_packer_init(&rpk, &rec, msgpack_sbuffer_write);
	record_pack(&rpk, &in);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	raw_pack_publish(&pk, sid, bn, 0, 1);
	raw_pack_bin(&pk, rec.data, rec.size);
	raw_call(url, sb.data, sb.size, r);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&rec);
}

struct count_text {
	const char *text;
	int n;
};

static void count_text(const logbus_record *rec, void *arg)
{
	struct count_text *c = arg;
	c->n += rec->message_len == strlen(c->text) &&
	        memcmp(rec->message, c->text, rec->message_len) == 0;
}

/* 70,000 empty batches with fresh session ids, from another user, pushed
 * a real publisher out of the broker's memory of sessions, and its resend
 * was stored twice.  Now one uid's sessions evict only its own. */
static void test_one_user_cannot_push_out_anothers_sessions(void **state)
{
	struct broker_proc *b = *state;
	const struct passwd *pw = getpwnam("nobody");
	char url[512], uid[16], gid[16], flood[4096];
	struct raw_reply r;
	uint64_t first = 0, again = 0;
	bool dup = true;

	if (geteuid() != 0 || pw == NULL ||
	    access("/usr/bin/setpriv", X_OK) != 0) {
		print_message("  skipped: needs root, /usr/bin/setpriv and a "
		              "user nobody\n");
		skip();
	}
	assert_int_equal(chmod(b->dir, 0755), 0); /* nobody reaches run/ */
	assert_non_null(
	    paths_socket_url(url, sizeof url, b->run_dir, SOCK_INGEST));
	publish_raw(url, 0x5e55, 1, "the one and only", &r);
	assert_true(mp_get_u64(&r.o, "first", &first));
	assert_true(mp_get_bool(&r.o, "dup", &dup));
	assert_false(dup);
	raw_reply_free(&r);

	snprintf(uid, sizeof uid, "%u", (unsigned)pw->pw_uid);
	snprintf(gid, sizeof gid, "%u", (unsigned)pw->pw_gid);
	const char *const argv[] = {
	    "/usr/bin/setpriv",
	    "--reuid",
	    uid,
	    "--regid",
	    gid,
	    "--clear-groups",
	    harness_bin("session_flood", flood, sizeof flood),
	    url,
	    "70000",
	    NULL};
	char *o = NULL, *e = NULL;
	int status = harness_run(argv, NULL, &o, &e);
	if (status != 0)
		print_error("session_flood: %s%s\n", o ? o : "", e ? e : "");
	free(o);
	free(e);
	assert_int_equal(status, 0);

	/* The same batch again, as a resend after a lost ack would be. */
	publish_raw(url, 0x5e55, 1, "the one and only", &r);
	assert_true(mp_get_bool(&r.o, "dup", &dup));
	assert_true(dup);
	assert_true(mp_get_u64(&r.o, "first", &again));
	assert_int_equal(again, first);
	raw_reply_free(&r);
	struct count_text c = {"the one and only", 0};
	logbus_reader_options ro = {.run_dir = b->run_dir};
	harness_read_each(&ro, count_text, &c);
	assert_int_equal(c.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_a_runaway_regex_is_refused_at_once, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_publishers_are_not_held_up_by_reads, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_nobody_may_publish_as_the_broker, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_one_user_cannot_push_out_anothers_sessions, harness_setup,
	        harness_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
