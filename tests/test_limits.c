/*
 * test_limits.c: the broker's limits, through the real library and raw
 * requests: per-service rate limiting (drops over the burst, one
 * "Suppressed N records" notice per window, other services untouched),
 * the record size and field count limits (refused alone, with the limit and
 * the actual value), the batch record limit (refused whole), and the
 * library's own refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <nng/nng.h>

#include "harness.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "raw_request.h"

#define SELF_SERVICE "logbusd"
#define RATE_SECONDS "2"
#define RATE_NS      2000000000LL
#define RATE_BURST   10

/* ---- fixtures ---- */

static int setup_rate(void **state)
{
	static const char *const args[] = {"--rate-interval", RATE_SECONDS,
	                                   "--rate-burst", "10", NULL};
	return harness_setup_with(state, args);
}

static int setup_no_rate(void **state)
{
	static const char *const args[] = {"--rate-burst", "0", NULL};
	return harness_setup_with(state, args);
}

static int setup_small_records(void **state)
{
	static const char *const args[] = {"--max-record-size", "1K",
	                                   "--max-fields", "4", NULL};
	return harness_setup_with(state, args);
}

/* ---- helpers ---- */

static void log_n(logbus_publisher *p, const char *tag, int from, int n)
{
	for (int i = from; i < from + n; i++)
		assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s-%d", tag, i),
		                 LOGBUS_OK);
}

struct found {
	int n;            /* records of the service */
	char first[64];   /* message of its first record */
	char last[64];    /* message of its last record */
	int64_t first_ns; /* time of its first record */
	int notices;      /* "Suppressed ... from service <svc>" */
	int64_t notice_ns[8];
	int64_t notice_n[8]; /* its "suppressed" field */
	bool notice_svc_ok;  /* every notice's "service" field is svc */
};

static const logbus_field *field(const logbus_record *r, const char *key)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (strcmp(r->fields[i].key, key) == 0)
			return &r->fields[i];
	return NULL;
}

/* Scan the whole journal for svc's records and the notices about it. */
static void scan(const struct broker_proc *b, const char *svc, struct found *f)
{
	logbus_reader_options ro = {.run_dir = b->run_dir,
	                            .start = LOGBUS_START_HEAD,
	                            .timeout_ms = 15000};
	logbus_reader *r;
	const logbus_record *rec;
	char suffix[160];
	int rv;

	memset(f, 0, sizeof *f);
	f->notice_svc_ok = true;
	snprintf(suffix, sizeof suffix, " records from service %s", svc);
	assert_int_equal(logbus_reader_open(&r, &ro), LOGBUS_OK);
	while ((rv = logbus_reader_next(r, &rec, -1)) == 1) {
		if (strcmp(rec->service, svc) == 0) {
			if (f->n == 0) {
				snprintf(f->first, sizeof f->first, "%s",
				         rec->message);
				f->first_ns = rec->time_ns;
			}
			snprintf(f->last, sizeof f->last, "%s", rec->message);
			f->n++;
			continue;
		}
		size_t ml = strlen(rec->message), sl = strlen(suffix);
		if (strcmp(rec->service, SELF_SERVICE) != 0 ||
		    strncmp(rec->message, "Suppressed ", 11) != 0 || ml < sl ||
		    strcmp(rec->message + ml - sl, suffix) != 0)
			continue;
		assert_int_equal(rec->level, LOGBUS_WARNING);
		assert_string_equal(rec->logger, "logbus");
		const logbus_field *fs = field(rec, "service");
		const logbus_field *fn = field(rec, "suppressed");
		if (fs == NULL || fs->type != LOGBUS_FIELD_STR ||
		    strcmp(fs->v.s, svc) != 0)
			f->notice_svc_ok = false;
		assert_non_null(fn);
		assert_int_equal(fn->type, LOGBUS_FIELD_INT);
		char want[200];
		snprintf(want, sizeof want, "Suppressed %lld%s",
		         (long long)fn->v.i, suffix);
		assert_string_equal(rec->message, want);
		if (f->notices < 8) {
			f->notice_ns[f->notices] = rec->time_ns;
			f->notice_n[f->notices] = fn->v.i;
		}
		f->notices++;
	}
	if (rv != 0)
		fail_msg("reader: %s: %s", logbus_strerror(rv),
		         logbus_reader_error(r));
	logbus_reader_close(r);
}

struct notices_wait {
	const struct broker_proc *b;
	const char *svc;
	int n;
};

static bool have_notices(void *arg)
{
	struct notices_wait *w = arg;
	struct found f;
	scan(w->b, w->svc, &f);
	return f.notices >= w->n;
}

/* ---- rate limiting ---- */

static void test_rate_limit_drops_over_burst_and_reports_once(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *noisy = harness_publisher(b->run_dir, "noisy");
	logbus_publisher *quiet = harness_publisher(b->run_dir, "quiet");
	logbus_publisher_stats st;
	struct found f;

	/* One window: 25 records of which the burst, 10, are kept; the
	 * publisher is acknowledged for all and told 15 were limited: its
	 * flush says so, once. */
	log_n(noisy, "noisy", 0, 25);
	assert_int_equal(logbus_flush(noisy, 15000), LOGBUS_ELIMITED);
	assert_int_equal(logbus_flush(noisy, 15000), LOGBUS_OK);
	char why[256];
	assert_non_null(strstr(logbus_publisher_error(noisy, why, sizeof why),
	                       "rate limit"));
	logbus_publisher_get_stats(noisy, &st);
	assert_int_equal(st.logged, 25);
	assert_int_equal(st.committed, RATE_BURST);
	assert_int_equal(st.limited, 15);
	assert_int_equal(st.rejected, 0);
	/* Another service has its own window. */
	log_n(quiet, "quiet", 0, RATE_BURST);
	assert_int_equal(logbus_flush(quiet, 15000), LOGBUS_OK);
	logbus_publisher_get_stats(quiet, &st);
	assert_int_equal(st.committed, RATE_BURST);
	assert_int_equal(st.limited, 0);

	/* The first ten are journaled, in order; the notice comes once the
	 * window has ended, by the sweep (nothing else arrives). */
	struct notices_wait w = {b, "noisy", 1};
	assert_true(harness_wait(have_notices, &w, HARNESS_WAIT_MS));
	scan(b, "noisy", &f);
	assert_int_equal(f.n, RATE_BURST);
	assert_string_equal(f.first, "noisy-0");
	assert_string_equal(f.last, "noisy-9");
	assert_int_equal(f.notices, 1);
	assert_int_equal(f.notice_n[0], 15);
	assert_true(f.notice_svc_ok);
	print_message("  notice %.3f s after the first record\n",
	              (double)(f.notice_ns[0] - f.first_ns) / 1e9);
	assert_true(f.notice_ns[0] - f.first_ns >= RATE_NS);
	scan(b, "quiet", &f);
	assert_int_equal(f.n, RATE_BURST);
	assert_int_equal(f.notices, 0);

	/* A new window: the burst again, and its own single notice. */
	log_n(noisy, "noisy", 25, 12);
	assert_int_equal(logbus_flush(noisy, 15000), LOGBUS_ELIMITED);
	logbus_publisher_get_stats(noisy, &st);
	assert_int_equal(st.committed, 2 * RATE_BURST);
	assert_int_equal(st.limited, 17);
	w.n = 2;
	assert_true(harness_wait(have_notices, &w, HARNESS_WAIT_MS));
	/* Two sweeps later there is still exactly one per window. */
	usleep(2500 * 1000);
	scan(b, "noisy", &f);
	assert_int_equal(f.n, 2 * RATE_BURST);
	assert_string_equal(f.last, "noisy-34");
	assert_int_equal(f.notices, 2);
	assert_int_equal(f.notice_n[1], 2);

	assert_int_equal(logbus_publisher_close(noisy, 5000), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(quiet, 5000), LOGBUS_OK);
}

static void test_rate_limit_off_keeps_everything(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "unlimited");
	logbus_publisher_stats st;
	struct found f;

	log_n(p, "u", 0, 3000);
	assert_int_equal(logbus_flush(p, 15000), LOGBUS_OK);
	logbus_publisher_get_stats(p, &st);
	assert_int_equal(st.committed, 3000);
	assert_int_equal(st.limited, 0);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
	scan(b, "unlimited", &f);
	assert_int_equal(f.n, 3000);
	assert_int_equal(f.notices, 0);
}

/* ---- record and batch limits ---- */

/* The broker's count of refusals with code (info's "rejected"). */
static uint64_t rejected_count(const struct broker_proc *b, const char *code)
{
	struct raw_reply r;
	uint64_t v = 0;

	raw_info(b->run_dir, &r);
	const msgpack_object *rej = mp_get(&r.o, "rejected");
	assert_non_null(rej);
	assert_true(mp_get_u64(rej, code, &v));
	raw_reply_free(&r);
	return v;
}

static void
test_record_over_size_or_fields_is_refused_alone_naming_limit(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "limits");
	logbus_publisher_stats st;
	char err[256], big[2001];
	struct found f;

	/* Over the broker's 1K: the library cannot know it, the broker
	 * refuses that record only and says which limit and by how much. */
	memset(big, 'b', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "before"), LOGBUS_OK);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s", big), LOGBUS_OK);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "after"), LOGBUS_OK);
	assert_int_equal(logbus_flush(p, 15000), LOGBUS_EREJECTED);
	logbus_publisher_error(p, err, sizeof err);
	print_message("  %s\n", err);
	assert_non_null(strstr(err, ERR_TOO_BIG));
	assert_non_null(strstr(err, "limit of 1024 bytes"));
	assert_non_null(strstr(err, "record of 20"));

	logbus_field fl[5] = {LOGBUS_INT("a", 1), LOGBUS_INT("b", 2),
	                      LOGBUS_INT("c", 3), LOGBUS_INT("d", 4),
	                      LOGBUS_INT("e", 5)};
	assert_int_equal(
	    logbus_log_fields(p, LOGBUS_INFO, NULL, fl, 5, "five fields"),
	    LOGBUS_OK);
	assert_int_equal(
	    logbus_log_fields(p, LOGBUS_INFO, NULL, fl, 4, "four fields"),
	    LOGBUS_OK);
	assert_int_equal(logbus_flush(p, 15000), LOGBUS_EREJECTED);
	logbus_publisher_error(p, err, sizeof err);
	print_message("  %s\n", err);
	assert_non_null(strstr(err, ERR_TOO_MANY_FIELDS));
	assert_non_null(strstr(err, "5 fields, over the limit of 4"));
	assert_int_equal(rejected_count(b, ERR_TOO_BIG), 1);
	assert_int_equal(rejected_count(b, ERR_TOO_MANY_FIELDS), 1);

	/* A whole batch of refused records: the ack (every refusal listed)
	 * still reaches the library, which gives up on them and goes on. */
	for (int i = 0; i < 3000; i++)
		assert_int_equal(logbus_log(p, LOGBUS_INFO, "%d %s", i, big),
		                 LOGBUS_OK);
	assert_int_equal(logbus_flush(p, 30000), LOGBUS_EREJECTED);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "last"), LOGBUS_OK);
	assert_int_equal(logbus_flush(p, 15000), LOGBUS_OK);
	logbus_publisher_get_stats(p, &st);
	assert_int_equal(st.rejected, 3002);
	assert_int_equal(st.committed, 4);
	assert_int_equal(rejected_count(b, ERR_TOO_BIG), 3001);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);

	scan(b, "limits", &f);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.first, "before");
	assert_string_equal(f.last, "last");
}

static void test_batch_over_record_limit_is_refused_whole(void **state)
{
	struct broker_proc *b = *state;
	msgpack_sbuffer sb, rec;
	msgpack_packer pk;
	struct raw_reply r;
	char url[400], code[64], text[256];
	bool ok = true;
	uint64_t max = 0;
	struct found f;
	const uint32_t n = BATCH_RECORDS_MAX + 1;

	raw_record(&rec, "bigbatch", "tiny");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	raw_pack_publish(&pk, 0xba7c4, 1, 0, n);
	for (uint32_t i = 0; i < n; i++)
		raw_pack_bin(&pk, rec.data, rec.size);
	assert_true(sb.size < INGEST_RECV_MAX);
	uint64_t before = rejected_count(b, ERR_BATCH_TOO_BIG);
	assert_non_null(
	    paths_socket_url(url, sizeof url, b->run_dir, SOCK_INGEST));
	raw_call(url, sb.data, sb.size, &r);
	assert_true(mp_get_bool(&r.o, "ok", &ok));
	assert_false(ok);
	raw_str(&r.o, "code", code, sizeof code);
	raw_str(&r.o, "error", text, sizeof text);
	print_message("  %s: %s\n", code, text);
	assert_string_equal(code, ERR_BATCH_TOO_BIG);
	assert_non_null(strstr(text, "10001 records"));
	assert_non_null(strstr(text, "limit of 10000"));
	assert_true(mp_get_u64(&r.o, "max", &max));
	assert_int_equal(max, BATCH_RECORDS_MAX);
	raw_reply_free(&r);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&rec);
	assert_int_equal(rejected_count(b, ERR_BATCH_TOO_BIG), before + 1);
	scan(b, "bigbatch", &f);
	assert_int_equal(f.n, 0);

	/* The library splits what it sends below the limit by itself. */
	logbus_publisher *p = harness_publisher(b->run_dir, "bigbatch");
	logbus_publisher_stats st;
	log_n(p, "s", 0, 25000);
	assert_int_equal(logbus_flush(p, 30000), LOGBUS_OK);
	logbus_publisher_get_stats(p, &st);
	assert_int_equal(st.committed, 25000);
	assert_true(st.batches >= 3);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
}

static void test_library_refuses_locally_naming_limit(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "local");
	logbus_publisher_stats st;
	char err[256];
	size_t big = LOGBUS_RECORD_MAX + 100;
	char *msg = harness_filled('z', big);
	logbus_entry e = {
	    .level = LOGBUS_INFO, .message = msg, .message_len = big};
	assert_int_equal(logbus_write(p, &e), LOGBUS_ETOOBIG);
	logbus_publisher_error(p, err, sizeof err);
	print_message("  %s\n", err);
	assert_non_null(strstr(err, "limit of 262144 bytes"));
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s", msg), LOGBUS_ETOOBIG);
	logbus_publisher_error(p, err, sizeof err);
	assert_non_null(strstr(err, "262244 bytes"));
	free(msg);

	logbus_field fl[LOGBUS_FIELDS_MAX + 1];
	char keys[LOGBUS_FIELDS_MAX + 1][8];
	for (int i = 0; i <= LOGBUS_FIELDS_MAX; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		fl[i] = LOGBUS_INT(keys[i], i);
	}
	assert_int_equal(logbus_log_fields(p, LOGBUS_INFO, NULL, fl,
	                                   LOGBUS_FIELDS_MAX + 1, "many"),
	                 LOGBUS_EINVAL);
	logbus_publisher_error(p, err, sizeof err);
	print_message("  %s\n", err);
	assert_non_null(strstr(err, "65 fields, over the limit of 64"));
	logbus_publisher_get_stats(p, &st);
	assert_int_equal(st.logged, 0);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_rate_limit_drops_over_burst_and_reports_once, setup_rate,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_rate_limit_off_keeps_everything, setup_no_rate,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_record_over_size_or_fields_is_refused_alone_naming_limit,
	        setup_small_records, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_batch_over_record_limit_is_refused_whole, setup_no_rate,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_library_refuses_locally_naming_limit, setup_no_rate,
	        harness_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
