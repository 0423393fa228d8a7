/*
 * test_stats.c: logbus_broker_stats and logbus_services report exactly
 * what the test did to a real logbusd: records and bytes received and
 * committed, refusals by reason, drops reported by publishers, resent
 * batches, the journal's newest record, subscribers while a follower is
 * attached, per-service counts by level and the last error report.
 *
 * The broker journals its own events as records of the service "logbusd";
 * committed figures are checked as the test's records plus those, which the
 * services list counts separately.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <nng/nng.h>

#include "harness.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "raw_request.h"
#include "record.h"

#define SERVICE      "statsvc"
#define RAW_SERVICE  "rawsvc"
#define SELF_SERVICE "logbusd"
#define TIME_NS      INT64_C(1795322771514149569) /* any time of this era */

static void stats(const struct broker_proc *b, logbus_stats *st)
{
	char err[512] = "";
	int rv = logbus_broker_stats(b->run_dir, st, err, sizeof err);

	if (rv != LOGBUS_OK)
		fail_msg("logbus_broker_stats: %s: %s", logbus_strerror(rv),
		         err);
}

static uint64_t rejected(const logbus_stats *st, const char *code)
{
	for (size_t i = 0; i < st->nrejected_by; i++)
		if (strcmp(st->rejected_by[i].code, code) == 0)
			return st->rejected_by[i].count;
	fail_msg("no refusal code %s in the stats", code);
	return 0;
}

/* One service's figures; fails the test when logbusd has none. */
static void service(const struct broker_proc *b, const char *id,
                    logbus_service_info *out)
{
	logbus_service_info *v;
	size_t n, total;
	char err[512] = "";
	int rv =
	    logbus_services(b->run_dir, id, &v, &n, &total, err, sizeof err);

	if (rv != LOGBUS_OK)
		fail_msg("logbus_services(%s): %s: %s", id, logbus_strerror(rv),
		         err);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].service, id);
	*out = v[0];
	logbus_services_free(v);
}

/* The size of a record as the library encodes it. */
static size_t encoded_size(const char *svc, const char *logger, int level,
                           const char *msg)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct record_in in = {
	    .time_ns = TIME_NS,
	    .level = level,
	    .service = {svc, (uint32_t)strlen(svc)},
	    .logger = {logger, (uint32_t)strlen(logger)},
	    .message = {msg, (uint32_t)strlen(msg)},
	};

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	record_pack(&pk, &in);
	size_t n = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static void pack_record_bin(msgpack_packer *pk, const char *svc, int level,
                            const char *msg, size_t *size)
{
	msgpack_sbuffer sb;
	msgpack_packer rp;
	struct record_in in = {
	    .time_ns = TIME_NS,
	    .level = level,
	    .service = {svc, (uint32_t)strlen(svc)},
	    .logger = {"raw", 3},
	    .message = {msg, (uint32_t)strlen(msg)},
	};

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&rp, &sb, msgpack_sbuffer_write);
	record_pack(&rp, &in);
	raw_pack_bin(pk, sb.data, sb.size);
	*size = sb.size;
	msgpack_sbuffer_destroy(&sb);
}

/* Send a request on the ingest socket; returns the reply's "n" (records
 * committed) and the number of refused records. */
static void raw_publish(const struct broker_proc *b, const void *body,
                        size_t len, uint64_t *n, size_t *nrej, bool *dup)
{
	char url[400];
	struct raw_reply r;
	bool ok = false;

	assert_non_null(
	    paths_socket_url(url, sizeof url, b->run_dir, SOCK_INGEST));
	raw_call(url, body, len, &r);
	assert_true(mp_get_bool(&r.o, "ok", &ok) && ok);
	assert_true(mp_get_u64(&r.o, "n", n));
	assert_true(mp_get_bool(&r.o, "dup", dup));
	const msgpack_object *rej = mp_get(&r.o, "rej");
	assert_non_null(rej);
	*nrej = rej->via.array.size;
	raw_reply_free(&r);
}

/* The newest sequence number in the journal, as a reader sees it. */
static uint64_t journal_newest(const struct broker_proc *b)
{
	logbus_reader_options ro = {.run_dir = b->run_dir,
	                            .start = LOGBUS_START_HEAD};

	return harness_read_each(&ro, NULL, NULL);
}

static const struct {
	int level;
	const char *msg;
} published[] = {
    {LOGBUS_DEBUG, "d1"},
    {LOGBUS_DEBUG, "debug two"},
    {LOGBUS_DEBUG, "debug number three"},
    {LOGBUS_INFO, "i"},
    {LOGBUS_INFO, "info 2"},
    {LOGBUS_INFO, "info three, a bit longer"},
    {LOGBUS_INFO, "info four \xc3\xa9\xc3\xa8"},
    {LOGBUS_WARNING, "careful"},
    {LOGBUS_ERROR, "it failed"},
    {LOGBUS_CRITICAL, "it is all on fire"},
};
#define NPUB (sizeof published / sizeof published[0])

static void test_stats_match_what_was_published(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher_options po = {.run_dir = b->run_dir,
	                               .service = SERVICE};
	logbus_publisher *pub;
	logbus_publisher_stats ps;
	logbus_stats before, st;
	logbus_service_info self, svc, raw;
	size_t pub_bytes = 0;

	stats(b, &before);
	assert_int_equal(before.received, 0);
	assert_int_equal(before.received_bytes, 0);
	assert_int_equal(before.client_dropped, 0);
	assert_int_equal(before.rate_limited, 0);

	/* N records of known sizes through the library. */
	assert_int_equal(logbus_publisher_open(&pub, &po), LOGBUS_OK);
	for (size_t i = 0; i < NPUB; i++) {
		assert_int_equal(
		    logbus_log(pub, published[i].level, "%s", published[i].msg),
		    LOGBUS_OK);
		pub_bytes += encoded_size(SERVICE, SERVICE, published[i].level,
		                          published[i].msg);
	}
	assert_int_equal(logbus_flush(pub, 10000), LOGBUS_OK);
	logbus_publisher_get_stats(pub, &ps);
	assert_int_equal(ps.committed, NPUB);

	/* A raw batch: one good record, one bad_utf8, one bad_service, and
	 * 7 records its publisher says it dropped. */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t good, bad_utf8, bad_svc;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	raw_pack_publish(&pk, 0x5747, 1, 7, 3);
	pack_record_bin(&pk, RAW_SERVICE, LOGBUS_WARNING, "raw ok", &good);
	pack_record_bin(&pk, RAW_SERVICE, LOGBUS_INFO, "bad \xc0\xaf",
	                &bad_utf8);
	pack_record_bin(&pk, "bad service", LOGBUS_INFO, "x", &bad_svc);
	uint64_t n;
	size_t nrej;
	bool dup;
	raw_publish(b, sb.data, sb.size, &n, &nrej, &dup);
	assert_int_equal(n, 1);
	assert_int_equal(nrej, 2);
	assert_false(dup);
	/* The same batch again, as after a lost reply: counted as a resend
	 * only. */
	raw_publish(b, sb.data, sb.size, &n, &nrej, &dup);
	assert_true(dup);
	msgpack_sbuffer_destroy(&sb);

	uint64_t newest = journal_newest(b);
	stats(b, &st);
	service(b, SELF_SERVICE, &self);
	service(b, SERVICE, &svc);
	service(b, RAW_SERVICE, &raw);

	assert_int_equal(st.received, NPUB + 3);
	assert_int_equal(st.received_bytes,
	                 pub_bytes + good + bad_utf8 + bad_svc);
	assert_int_equal(st.committed, NPUB + 1 + self.records);
	assert_int_equal(st.committed_bytes, pub_bytes + good + self.bytes);
	assert_int_equal(rejected(&st, ERR_BAD_UTF8), 1);
	assert_int_equal(rejected(&st, ERR_BAD_SERVICE), 1);
	assert_int_equal(rejected(&st, ERR_TOO_BIG), 0);
	assert_int_equal(st.rejected, 2);
	assert_int_equal(st.client_dropped, 7);
	assert_int_equal(st.rate_limited, 0);
	assert_int_equal(st.batches_resent, 1);
	assert_int_equal(st.last_seq, newest);
	assert_int_equal(st.first_seq, 1);
	assert_true(st.journal_segments >= 1);
	assert_true(st.journal_bytes > st.committed_bytes);
	/* the CRITICAL record was synced before its acknowledgement */
	assert_true(st.fsyncs >= 1);
	assert_true(st.last_fsync_ns > 0);
	assert_int_equal(st.pid, (uint64_t)b->pid);
	assert_string_equal(st.version, LOGBUS_VERSION_STRING);
	assert_true(st.uptime_ns > 0);
	assert_true(st.rss_bytes > 0 && st.rss_peak_bytes >= st.rss_bytes);
	assert_int_equal(st.services, 3);
	assert_true(st.publishers >= 1); /* pub is still open */
	logbus_publisher_close(pub, 5000);

	assert_int_equal(svc.records, NPUB);
	assert_int_equal(svc.bytes, pub_bytes);
	assert_int_equal(svc.debug, 3);
	assert_int_equal(svc.info, 4);
	assert_int_equal(svc.warning, 1);
	assert_int_equal(svc.error, 1);
	assert_int_equal(svc.critical, 1);
	assert_int_equal(svc.last_seq, ps.last_seq);
	assert_true(svc.first_ns > 0 && svc.first_ns <= svc.last_ns);
	assert_int_equal(svc.report_ns, 0);
	assert_int_equal(raw.records, 1);
	assert_int_equal(raw.warning, 1);
	assert_int_equal(raw.bytes, good);
	assert_int_equal(raw.first_ns, TIME_NS);
	assert_int_equal(raw.last_ns, TIME_NS);
}

static bool subscribers_are(void *arg)
{
	const struct broker_proc *b = ((void **)arg)[0];
	uint64_t want = *(const uint64_t *)((void **)arg)[1];
	logbus_stats st;

	stats(b, &st);
	return st.subscribers == want;
}

static void test_subscribers_counted_while_a_follower_is_attached(void **state)
{
	struct broker_proc *b = *state;
	logbus_reader_options ro = {
	    .run_dir = b->run_dir, .start = LOGBUS_START_NEW, .follow = 1};
	logbus_reader *r;
	const logbus_record *rec;
	uint64_t want = 1;
	void *arg[2] = {b, &want};

	assert_int_equal(logbus_reader_open(&r, &ro), LOGBUS_OK);
	assert_int_equal(logbus_reader_next(r, &rec, 100), 0);
	if (!harness_wait(subscribers_are, arg, HARNESS_WAIT_MS))
		fail_msg("stats never showed 1 subscriber with a follower");
	logbus_reader_close(r);
	want = 0;
	if (!harness_wait(subscribers_are, arg, HARNESS_WAIT_MS))
		fail_msg("stats still show a subscriber after it closed");
}

struct drops {
	const struct broker_proc *b;
	uint64_t want;
};

static bool drops_arrived(void *arg)
{
	struct drops *d = arg;
	logbus_stats st;

	stats(d->b, &st);
	return st.client_dropped == d->want;
}

static void test_publisher_drops_reach_the_broker(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher_options po = {.run_dir = b->run_dir,
	                               .service = SERVICE,
	                               .queue_bytes = 64 * 1024,
	                               .on_full = LOGBUS_ON_FULL_DROP};
	logbus_publisher *pub;
	logbus_publisher_stats ps;
	char msg[1024];
	int full = 0;

	memset(msg, 'x', sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	assert_int_equal(logbus_publisher_open(&pub, &po), LOGBUS_OK);
	/* A stopped broker answers nothing: the queue fills and the
	 * publisher drops, counting. */
	assert_int_equal(kill(b->pid, SIGSTOP), 0);
	for (int i = 0; i < 10000 && full < 25; i++) {
		int rv = logbus_log(pub, LOGBUS_INFO, "%s", msg);
		if (rv == LOGBUS_EFULL)
			full++;
		else
			assert_int_equal(rv, LOGBUS_OK);
	}
	assert_int_equal(kill(b->pid, SIGCONT), 0);
	assert_int_equal(full, 25);
	assert_int_equal(logbus_flush(pub, 20000), LOGBUS_OK);
	logbus_publisher_get_stats(pub, &ps);
	assert_int_equal(ps.dropped, 25);
	struct drops d = {b, 25};
	if (!harness_wait(drops_arrived, &d, HARNESS_WAIT_MS))
		fail_msg("the broker never counted the 25 dropped records");
	logbus_publisher_close(pub, 5000);
}

static void test_services_show_the_last_error_report(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher_options po = {.run_dir = b->run_dir,
	                               .service = SERVICE};
	logbus_publisher *pub;
	logbus_service_info svc;
	logbus_stats st;
	const char *argv[] = {"sleep", "100"};
	logbus_exit e = {
	    .pid = 4242,
	    .exit_code = -15,
	    .argv = argv,
	    .argc = 2,
	    .cwd = "/",
	    .files = argv,
	    .nfiles = 0,
	};

	assert_int_equal(logbus_publisher_open(&pub, &po), LOGBUS_OK);
	assert_int_equal(logbus_report_exit(pub, &e, 10000), LOGBUS_OK);
	logbus_publisher_close(pub, 5000);

	service(b, SERVICE, &svc);
	assert_int_equal(svc.records, 1);
	assert_int_equal(svc.error, 1);
	assert_true(svc.report_ns > 0);
	assert_int_equal(svc.exit_code, -15);
	assert_non_null(strstr(svc.exit_summary, "SIGTERM"));
	assert_null(strchr(svc.exit_summary, '\n'));
	stats(b, &st);
	assert_int_equal(st.error_reports, 1);

	/* An unknown service is "not found", an invalid one a bad argument. */
	logbus_service_info *v;
	size_t n, total;
	char err[512] = "";
	assert_int_equal(logbus_services(b->run_dir, "never-seen", &v, &n,
	                                 &total, err, sizeof err),
	                 LOGBUS_ENOTFOUND);
	assert_non_null(strstr(err, "never-seen"));
	assert_int_equal(logbus_services(b->run_dir, "bad id", &v, &n, &total,
	                                 err, sizeof err),
	                 LOGBUS_EINVAL);
	/* All of them, the most recently active first. */
	assert_int_equal(
	    logbus_services(b->run_dir, NULL, &v, &n, &total, err, sizeof err),
	    LOGBUS_OK);
	assert_int_equal(n, 2);
	assert_int_equal(total, 2);
	assert_string_equal(v[0].service, SERVICE);
	assert_string_equal(v[1].service, SELF_SERVICE);
	logbus_services_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stats_match_what_was_published,
	                                    harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_subscribers_counted_while_a_follower_is_attached,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_publisher_drops_reach_the_broker, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_services_show_the_last_error_report, harness_setup,
	        harness_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
