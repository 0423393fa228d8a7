/*
 * test_local_dos.c: what one local user may do to the broker that everyone
 * shares, against a real logbusd: a read that would run for a minute on the
 * loop (a regular expression that backtracks without end) is refused, and
 * publishers' acknowledgements are not held up by reads meanwhile; nobody
 * publishes as the broker itself; one user's sessions do not push out
 * another's; connections that ask and never read
 * their replies, and a follower that stalls, hold a bounded amount of the
 * broker's memory (VmRSS), and other readers are answered meanwhile.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

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
	char url[512], flood[4096];
	struct raw_reply r;
	uint64_t first = 0, again = 0;
	bool dup = true;

	harness_need_nobody();
	assert_int_equal(chmod(b->dir, 0755), 0); /* nobody reaches run/ */
	assert_non_null(
	    paths_socket_url(url, sizeof url, b->run_dir, SOCK_INGEST));
	publish_raw(url, 0x5e55, 1, "the one and only", &r);
	assert_true(mp_get_u64(&r.o, "first", &first));
	assert_true(mp_get_bool(&r.o, "dup", &dup));
	assert_false(dup);
	raw_reply_free(&r);

	const char *const argv[] = {
	    harness_bin("session_flood", flood, sizeof flood), url, "70000",
	    NULL};
	char *o = NULL, *e = NULL;
	int status = harness_run_as_nobody(argv, &o, &e);
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

/* ---- replies nobody reads, and a follower that stalls (issue 18) ---------
 *
 * The reproduction: records of 250 KiB, then connections that send
 * 64 reads each and never read the replies (the broker reached 260 MiB for
 * one connection, 2.6 GiB for 32); a follower that stalls while such records
 * commit (255 MiB).  Here reads ask for two records (500 KiB) so that the
 * unbounded broker would hold 32 MiB per connection, not 256. */
#define BIG_BYTES     (250 * 1024)
#define BIG_RECS      20
#define HOARD_READS   64
#define HOARD_READERS 6 /* x 8 MiB per connection: under the uid's 64 */
#define MIB           (1024L * 1024)

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	assert_true(kb > 0);
	return kb;
}

static void publish_big(const struct broker_proc *b, const char *service, int n)
{
	logbus_publisher *p = harness_publisher(b->run_dir, service);
	char *msg = malloc(BIG_BYTES);

	assert_non_null(msg);
	memset(msg, 'x', BIG_BYTES);
	logbus_entry e = {
	    .level = LOGBUS_INFO, .message = msg, .message_len = BIG_BYTES};
	for (int i = 0; i < n; i++) {
		msg[0] = (char)('a' + i % 26);
		assert_int_equal(logbus_write(p, &e), LOGBUS_OK);
	}
	assert_int_equal(logbus_flush(p, HARNESS_WAIT_MS * 4), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);
	free(msg);
}

/* Requests the broker handled: served reads and the ones refused
 * because their connection (or uid) did not read (stats, through the
 * library). */
static uint64_t handled(const char *run_dir)
{
	logbus_stats st;
	char err[256];
	uint64_t n;

	assert_int_equal(logbus_broker_stats(run_dir, &st, err, sizeof err),
	                 LOGBUS_OK);
	n = st.queries;
	for (size_t i = 0; i < st.nrejected_by; i++)
		if (strcmp(st.rejected_by[i].code, ERR_UNREAD) == 0)
			n += st.rejected_by[i].count;
	return n;
}

struct handled_wait {
	const char *run_dir;
	uint64_t want, polls;
};

/* Each poll is a query itself: counted out. */
static bool all_handled(void *arg)
{
	struct handled_wait *w = arg;
	return handled(w->run_dir) - ++w->polls >= w->want;
}

static uint64_t unread_refusals(const char *run_dir)
{
	logbus_stats st;
	char err[256];

	assert_int_equal(logbus_broker_stats(run_dir, &st, err, sizeof err),
	                 LOGBUS_OK);
	for (size_t i = 0; i < st.nrejected_by; i++)
		if (strcmp(st.rejected_by[i].code, ERR_UNREAD) == 0)
			return st.rejected_by[i].count;
	return 0;
}

/* A connection that sends requests and never reads a reply: a raw req0
 * socket that lets nng take one reply off the wire at most. */
struct hoarder {
	nng_socket s;
};

static void hoarder_open(struct hoarder *h, const char *url)
{
	assert_int_equal(nng_req0_open_raw(&h->s), 0);
	assert_int_equal(nng_socket_set_int(h->s, NNG_OPT_RECVBUF, 1), 0);
	assert_int_equal(
	    nng_socket_set_size(h->s, NNG_OPT_RECVMAXSZ, QUERY_RECV_MAX), 0);
	assert_int_equal(nng_dial(h->s, url, NULL, 0), 0);
}

/* n requests of body, pipelined, each with its own request id. */
static void hoarder_send(struct hoarder *h, int n, const msgpack_sbuffer *body)
{
	for (int i = 0; i < n; i++) {
		nng_msg *m;
		assert_int_equal(nng_msg_alloc(&m, 0), 0);
		assert_int_equal(
		    nng_msg_header_append_u32(m, 0x80000000u | (uint32_t)i), 0);
		assert_int_equal(nng_msg_append(m, body->data, body->size), 0);
		assert_int_equal(nng_sendmsg(h->s, m, 0), 0);
	}
}

/* {"op": "read", "max": 2, "flt": {"svc": [service]}} */
static void pack_big_read(msgpack_sbuffer *sb, const char *service)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, OP_READ);
	mp_pack_key(&pk, "max");
	msgpack_pack_uint64(&pk, 2);
	mp_pack_key(&pk, "flt");
	msgpack_pack_map(&pk, 1);
	mp_pack_key(&pk, "svc");
	msgpack_pack_array(&pk, 1);
	mp_pack_key(&pk, service);
}

/* n hoarders, each HOARD_READS reads of service's records, all handled.
 */
static void hoard(const struct broker_proc *b, struct hoarder *h, int n,
                  const char *service)
{
	char url[512];
	msgpack_sbuffer body;
	struct handled_wait w = {.run_dir = b->run_dir};

	assert_non_null(
	    paths_socket_url(url, sizeof url, b->run_dir, SOCK_QUERY));
	pack_big_read(&body, service);
	w.want = handled(b->run_dir) + (uint64_t)n * HOARD_READS;
	for (int i = 0; i < n; i++) {
		hoarder_open(&h[i], url);
		hoarder_send(&h[i], HOARD_READS, &body);
	}
	msgpack_sbuffer_destroy(&body);
	assert_true(harness_wait(all_handled, &w, HARNESS_WAIT_MS * 4));
}

/* A reader of service's records to the end: how many, or a LOGBUS_E*
 * code (its message in err). */
static int read_all(const char *run_dir, const char *service, char *err,
                    size_t errlen)
{
	const char *const svc[1] = {service};
	logbus_reader_options o = {.run_dir = run_dir,
	                           .start = LOGBUS_START_HEAD,
	                           .error = err,
	                           .error_len = errlen};
	logbus_reader *r;
	const logbus_record *rec;
	int n = 0, rv;

	o.filter.services = svc;
	o.filter.nservices = 1;
	if ((rv = logbus_reader_open(&r, &o)) != LOGBUS_OK)
		return rv;
	while ((rv = logbus_reader_next(r, &rec, HARNESS_WAIT_MS)) == 1)
		n++;
	if (rv < 0)
		snprintf(err, errlen, "%s", logbus_reader_error(r));
	logbus_reader_close(r);
	return rv < 0 ? rv : n;
}

static void test_replies_nobody_reads_are_bounded(void **state)
{
	struct broker_proc *b = *state;
	struct hoarder h[HOARD_READERS];
	char err[512];

	publish_big(b, "big", BIG_RECS);
	long before = rss_kb(b->pid);
	hoard(b, h, HOARD_READERS, "big");
	long grew = rss_kb(b->pid) - before;
	print_message("  %d connections x %d reads of 500 KiB, none read: "
	              "VmRSS grew %ld KiB\n",
	              HOARD_READERS, HOARD_READS, grew);
	/* 8 MiB per connection, and room for the allocator's slack; the
	 * unbounded broker held 6 x 32 MiB. */
	assert_true(grew < (HOARD_READERS * 8 + 16) * 1024);
	/* Meanwhile a reader that reads is answered, all of it. */
	assert_int_equal(read_all(b->run_dir, "big", err, sizeof err),
	                 BIG_RECS);
	for (int i = 0; i < HOARD_READERS; i++)
		nng_close(h[i].s);
}

/* A uid whose connections hold 64 MiB unread: its next read is refused
 * with the broker's sentence after the library tried once more on a
 * fresh connection; once those connections close, it reads again. */
static void test_a_uid_that_does_not_read_is_told_and_released(void **state)
{
	struct broker_proc *b = *state;
	struct hoarder h[9]; /* 9 x 8 MiB: over the uid's 64 MiB */
	char err[512];

	publish_big(b, "big", BIG_RECS);
	hoard(b, h, 9, "big");
	uint64_t refused = unread_refusals(b->run_dir);
	int rv = read_all(b->run_dir, "big", err, sizeof err);
	print_message("  refused: %s\n", err);
	assert_int_equal(rv, LOGBUS_EREJECTED);
	assert_non_null(strstr(err, "has not read"));
	/* the first try and the one on a fresh connection */
	assert_int_equal(unread_refusals(b->run_dir) - refused, 2);
	for (int i = 0; i < 9; i++)
		nng_close(h[i].s);
	assert_int_equal(read_all(b->run_dir, "big", err, sizeof err),
	                 BIG_RECS);
}

/* A connection of the SP protocol spoken by hand (nng's ipc framing: a
 * byte 1, a 64-bit big-endian length, the message), as peer proto. */
static int sp_connect(const char *run_dir, const char *sock, uint8_t proto)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	unsigned char hdr[8] = {0, 'S', 'P', 0, 0, proto, 0, 0}, got[8];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", run_dir, sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
	assert_int_equal(read(fd, got, sizeof got), (ssize_t)sizeof got);
	return fd;
}

/* Read n bytes within HARNESS_WAIT_MS: n, 0 when the peer closed (a
 * close with our requests still unread reaches us as ECONNRESET), -1 on
 * timeout or another error. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, HARNESS_WAIT_MS) <= 0)
			return -1;
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return 0;
		if (r < 0)
			return -1;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* More requests in flight than nng keeps replies for (64): the broker
 * answers 64, refusing those past 32 unread, then closes the connection
 * rather than let nng drop replies in silence (the unbounded broker
 * answered ~400 of 500 and dropped the rest). */
/* Send body as count requests on one raw connection to sock, pipelined,
 * then read what comes back until the broker closes the connection (a
 * read that times out fails the test: never closed).  Returns how many
 * whole replies came. */
static int pipeline_unread(const struct broker_proc *b, const char *sock,
                           const msgpack_sbuffer *body, uint32_t count)
{
	int fd = sp_connect(b->run_dir, sock, 0x30), replies = 0;
	unsigned char *m = malloc(13 + body->size);

	assert_non_null(m);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t len = 4 + body->size;
		m[0] = 1;
		for (int k = 0; k < 8; k++)
			m[1 + k] = (unsigned char)(len >> (56 - 8 * k));
		uint32_t id = 0x80000000u | i;
		for (int k = 0; k < 4; k++)
			m[9 + k] = (unsigned char)(id >> (24 - 8 * k));
		memcpy(m + 13, body->data, body->size);
		if (send(fd, m, 13 + body->size, MSG_NOSIGNAL) < 0)
			break; /* closed already */
	}
	free(m);
	for (;;) {
		unsigned char h[9];
		ssize_t n = read_full(fd, h, sizeof h);
		assert_true(n >= 0); /* a timeout: not closed */
		if (n == 0)
			break;
		uint64_t len = 0;
		for (int k = 0; k < 8; k++)
			len = len << 8 | h[1 + k];
		char *r = malloc(len);
		assert_non_null(r);
		n = read_full(fd, r, len);
		free(r);
		if (n == 0) /* closed part way through it */
			break;
		assert_int_equal(n, (ssize_t)len);
		replies++;
	}
	close(fd);
	return replies;
}

static void test_a_connection_that_never_reads_is_closed(void **state)
{
	struct broker_proc *b = *state;
	msgpack_sbuffer body;
	msgpack_packer pk;
	struct raw_reply r;
	bool ok = false;

	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, OP_INFO);
	int replies = pipeline_unread(b, SOCK_QUERY, &body, 500);
	msgpack_sbuffer_destroy(&body);
	print_message("  500 requests, none read: %d replies, then closed\n",
	              replies);
	assert_true(replies <= UNREAD_REPLIES_MAX);
	raw_info(b->run_dir, &r); /* and the broker serves others */
	assert_true(mp_get_bool(&r.o, "ok", &ok) && ok);
	raw_reply_free(&r);
}

/* The same on the ingest socket, with the largest acks a publisher can
 * make the broker write: a batch of 10,000 refused records (each listed
 * in the ack).  A publisher would take an error it does not know as a
 * refusal of its batch, so such a connection is closed, not answered. */
static void test_a_publisher_that_never_reads_its_acks_is_closed(void **state)
{
	struct broker_proc *b = *state;
	msgpack_sbuffer body;
	msgpack_packer pk;

	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	raw_pack_publish(&pk, 0xacc, 1, 0, BATCH_RECORDS_MAX);
	for (int i = 0; i < BATCH_RECORDS_MAX; i++)
		msgpack_pack_nil(&pk); /* not a bin: refused, listed */
	long before = rss_kb(b->pid);
	int replies = pipeline_unread(b, SOCK_INGEST, &body, 300);
	long grew = rss_kb(b->pid) - before;
	msgpack_sbuffer_destroy(&body);
	print_message("  300 batches of 10,000 refusals, no ack read: %d acks, "
	              "then closed; VmRSS grew %ld KiB\n",
	              replies, grew);
	assert_true(replies <= UNREAD_REPLIES_MAX);
	assert_true(grew < 64 * 1024);
	/* and publishers are served */
	logbus_publisher *p = harness_publisher(b->run_dir, "after");
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "still served"), LOGBUS_OK);
	assert_int_equal(logbus_flush(p, HARNESS_WAIT_MS), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);
}

/* 400 records of 250 KiB: 100 MiB that the unbounded broker kept for
 * the stalled follower; the live socket holds at most 32 MiB, plus the
 * message its connection is part way through. */
static void test_a_stalled_follower_holds_bounded_memory(void **state)
{
	struct broker_proc *b = *state;
	char err[512];

	/* a trusted follower that stops reading: it never reads a byte
	 */
	int fd = sp_connect(b->run_dir, SOCK_LIVE, 0x21);
	assert_true(harness_wait(harness_has_subscriber, (void *)b->run_dir,
	                         HARNESS_WAIT_MS));
	long before = rss_kb(b->pid);
	publish_big(b, "big", 400);
	long grew = rss_kb(b->pid) - before;
	print_message("  400 records of 250 KiB, one follower stalled: "
	              "VmRSS grew %ld KiB\n",
	              grew);
	assert_true(grew < 48 * 1024);
	/* and a reader gets every record from the journal */
	assert_int_equal(read_all(b->run_dir, "big", err, sizeof err), 400);
	close(fd);
}

int main(void)
{
	/* The brokers started here measure their VmRSS: in a sanitizer
	 * build, ASan would keep up to 256 MiB of freed memory resident
	 * (its quarantine), and memcheck 20 MB (its freelist) under
	 * tools/dev.sh valgrind, neither the broker's to bound. */
	const char *asan = getenv("ASAN_OPTIONS");
	const char *vg = getenv("VALGRIND_OPTS");
	char opts[1024];
	snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0",
	         asan ? asan : "", asan && *asan ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	snprintf(opts, sizeof opts, "%s%s--freelist-vol=0", vg ? vg : "",
	         vg && *vg ? " " : "");
	setenv("VALGRIND_OPTS", opts, 1);

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
	    cmocka_unit_test_setup_teardown(
	        test_replies_nobody_reads_are_bounded, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_uid_that_does_not_read_is_told_and_released,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_connection_that_never_reads_is_closed, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_publisher_that_never_reads_its_acks_is_closed,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_stalled_follower_holds_bounded_memory, harness_setup,
	        harness_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
