/*
 * test_storm.c: hostile connections on every socket of a real logbusd
 * (ingest, query, live; broker/listener.c): a thousand idle connections on
 * each, of two kinds, and garbage of every kind.  Throughout and afterwards
 * the broker must answer a publisher, a query and a live follower within a
 * second, keep its memory bounded, and count what it refused per socket
 * ("sockets" in the stats reply, shared/PROTOCOL.md).
 *
 * The idle kinds: nng sockets of the protocol each socket serves (req0,
 * sub0) whose pipes are up and never send, and plain Unix connections
 * that read the broker's half of the SP handshake and never send theirs
 * (nng closes those after its 10 s negotiation timeout).  A connection is
 * closed only after the broker's half of the handshake was read: closing
 * one before is nng 1.5.2's bug #1518, which test_listener.c covers.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "raw_request.h"
#include "timefmt.h"

#define IDLE_N 1000 /* idle connections of each kind on each socket */
/* What the issue asks: every answer within a second.  Not scaled under
 * valgrind (harness_ms): there the bound is ten times as long. */
#define ANSWER_MS 1000
/* The broker's growth with 6,000 idle connections; generous for ASan,
 * whose allocator keeps freed memory in quarantine (the figure measured
 * in a Release build is in README, "Reliability"). */
#define IDLE_RSS_MAX (96u << 20)
/* nng's own bound on an SP handshake (ipc.c) */
#define HANDSHAKE_TIMEOUT_MS 10000

static const char *const socks[3] = {SOCK_INGEST, SOCK_QUERY, SOCK_LIVE};
static const char *const names[3] = {"ingest", "query", "live"};
static const int protos[3] = {RAW_SP_REQ0, RAW_SP_REQ0, RAW_SP_SUB0};

static double now_ms(void)
{
	return (double)timefmt_mono_ns() / 1e6;
}

/* ---- the follower: counts the messages of the probes it saw ---- */

struct follower {
	logbus_subscription *sub;
	pthread_mutex_t mu;
	unsigned seen; /* the highest probe number delivered */
};

static int follower_on_log(const logbus_record *rec, void *arg)
{
	struct follower *f = arg;
	unsigned n;

	if (sscanf(rec->message, "probe %u", &n) == 1) {
		pthread_mutex_lock(&f->mu);
		if (n > f->seen)
			f->seen = n;
		pthread_mutex_unlock(&f->mu);
	}
	return 0;
}

static void follower_open(struct follower *f, const struct broker_proc *b)
{
	static const char *svcs[] = {"storm-probe"};
	logbus_reader_options o = {
	    .run_dir = b->run_dir,
	    .start = LOGBUS_START_NEW,
	    .follow = 1,
	    .filter = {.services = svcs, .nservices = 1}};

	memset(f, 0, sizeof *f);
	pthread_mutex_init(&f->mu, NULL);
	assert_int_equal(
	    logbus_subscribe(&f->sub, &o, follower_on_log, NULL, f), LOGBUS_OK);
}

static void follower_close(struct follower *f)
{
	logbus_subscription_close(f->sub);
	pthread_mutex_destroy(&f->mu);
}

struct seen_arg {
	struct follower *f;
	unsigned want;
};

static bool follower_saw(void *arg)
{
	struct seen_arg *a = arg;
	pthread_mutex_lock(&a->f->mu);
	bool saw = a->f->seen >= a->want;
	pthread_mutex_unlock(&a->f->mu);
	return saw;
}

/* One socket's counter: "sockets" -> name -> key. */
static uint64_t socket_stat(const struct broker_proc *b, int s, const char *key)
{
	struct raw_reply r;
	uint64_t n = 0;

	raw_op(b->run_dir, OP_STATS, &r);
	const msgpack_object *all = mp_get(&r.o, "sockets");
	const msgpack_object *one = mp_get(all, names[s]);
	if (one == NULL || !mp_get_u64(one, key, &n))
		fail_msg("stats: no sockets.%s.%s", names[s], key);
	raw_reply_free(&r);
	return n;
}

struct stat_arg {
	const struct broker_proc *b;
	int s;
	const char *key;
	uint64_t want;
};

static bool socket_stat_reached(void *arg)
{
	struct stat_arg *a = arg;
	return socket_stat(a->b, a->s, a->key) >= a->want;
}

static void wait_socket_stat(const struct broker_proc *b, int s,
                             const char *key, uint64_t want)
{
	struct stat_arg a = {.b = b, .s = s, .key = key, .want = want};
	if (!harness_wait(socket_stat_reached, &a, harness_wait_ms()))
		fail_msg("sockets.%s.%s stayed at %llu, %llu expected",
		         names[s], key,
		         (unsigned long long)socket_stat(b, s, key),
		         (unsigned long long)want);
}

/* ---- what must answer within a second ---- */

struct answers {
	double publish_ms, query_ms, live_ms;
};

/* A new publisher's record acknowledged, a query answered, and the
 * record delivered to the follower; each timed, none may fail. */
static void answer_all(const struct broker_proc *b, struct follower *f,
                       unsigned *probe, struct answers *a)
{
	logbus_publisher_options po = {.run_dir = b->run_dir,
	                               .service = "storm-probe"};
	logbus_publisher *p;
	char err[256];

	double t0 = now_ms();
	assert_int_equal(logbus_publisher_open(&p, &po), LOGBUS_OK);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "probe %u", ++*probe),
	                 LOGBUS_OK);
	int rv = logbus_flush(p, harness_wait_ms());
	if (rv != LOGBUS_OK)
		fail_msg("flush: %s: %s", logbus_strerror(rv),
		         logbus_publisher_error(p, err, sizeof err));
	double t1 = now_ms();
	struct seen_arg s = {.f = f, .want = *probe};
	if (!harness_wait(follower_saw, &s, harness_wait_ms()))
		fail_msg("the follower never got probe %u", *probe);
	double t2 = now_ms();
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
	double t3 = now_ms();
	(void)raw_stat(b->run_dir, "committed");
	a->publish_ms = t1 - t0;
	a->live_ms = t2 - t1;
	a->query_ms = now_ms() - t3;
}

static void assert_answers(const char *when, const struct answers *a)
{
	int bound = harness_ms(ANSWER_MS);

	print_message("  %s: publish %.1f ms, live %.1f ms, query %.1f ms\n",
	              when, a->publish_ms, a->live_ms, a->query_ms);
	if (a->publish_ms > bound || a->live_ms > bound || a->query_ms > bound)
		fail_msg("%s: an answer took over %d ms", when, bound);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	struct rlimit rl;

	/* 6,000 connections from this process. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	return harness_setup(state);
}

static int teardown(void **state)
{
	return harness_teardown(state);
}

/* ---- a thousand idle connections per socket, of each kind ---- */

struct pipes_arg {
	const struct broker_proc *b;
	uint64_t at_least, at_most;
};

static bool pipes_reached(void *arg)
{
	struct pipes_arg *a = arg;
	uint64_t pub = raw_stat(a->b->run_dir, "publishers");
	uint64_t rd = raw_stat(a->b->run_dir, "readers");
	uint64_t sub = raw_stat(a->b->run_dir, "subscribers");
	if (a->at_most)
		return pub <= a->at_most && rd <= a->at_most &&
		       sub <= a->at_most;
	return pub >= a->at_least && rd >= a->at_least && sub >= a->at_least;
}

/* The broker closes a connection that never finished its handshake: the
 * peer reads the end of the stream (each read waits RAW_SP_MS at most;
 * false when it did not come by deadline_ms). */
static bool closed_by_peer(int fd, double deadline_ms)
{
	char c;

	for (;;) {
		ssize_t n = recv(fd, &c, 1, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n > 0 || now_ms() > deadline_ms ||
		    (errno != EAGAIN && errno != EINTR))
			return false;
	}
}

static void
test_a_thousand_idle_connections_per_socket_leave_it_answering(void **state)
{
	struct broker_proc *b = *state;
	struct follower f;
	struct answers a;
	unsigned probe = 0;
	nng_socket idle[3];
	static int raw[3][IDLE_N];
	char url[512];

	follower_open(&f, b);
	answer_all(b, &f, &probe, &a);
	assert_answers("before", &a);
	uint64_t rss_before = raw_stat(b->run_dir, "rss");

	/* SP-level: one nng socket per broker socket, a dialer per
	 * connection; wait until the broker counts every pipe. */
	for (int s = 0; s < 3; s++) {
		assert_int_equal(s == 2 ? nng_sub0_open(&idle[s])
		                        : nng_req0_open(&idle[s]),
		                 0);
		assert_non_null(
		    paths_socket_url(url, sizeof url, b->run_dir, socks[s]));
		for (int i = 0; i < IDLE_N; i++)
			assert_int_equal(
			    nng_dial(idle[s], url, NULL, NNG_FLAG_NONBLOCK), 0);
	}
	struct pipes_arg up = {.b = b, .at_least = IDLE_N};
	if (!harness_wait(pipes_reached, &up, 4 * harness_wait_ms()))
		fail_msg(
		    "the broker counts %llu publishers, %llu readers, "
		    "%llu subscribers; %d of each expected",
		    (unsigned long long)raw_stat(b->run_dir, "publishers"),
		    (unsigned long long)raw_stat(b->run_dir, "readers"),
		    (unsigned long long)raw_stat(b->run_dir, "subscribers"),
		    IDLE_N);
	/* Below SP: the broker's half of the handshake read, ours never
	 * sent. */
	unsigned char hdr[8];
	for (int s = 0; s < 3; s++)
		for (int i = 0; i < IDLE_N; i++) {
			raw[s][i] = raw_sp_connect(b->run_dir, socks[s], 0);
			assert_int_equal(
			    raw_sp_read(raw[s][i], hdr, sizeof hdr),
			    sizeof hdr);
		}
	double held_at = now_ms();
	uint64_t rss_held = raw_stat(b->run_dir, "rss");
	answer_all(b, &f, &probe, &a);
	assert_answers("6,000 idle connections held", &a);
	print_message("  broker RSS %.1f MiB before, %.1f MiB with %d idle "
	              "connections of each kind on each socket\n",
	              rss_before / 1048576.0, rss_held / 1048576.0, IDLE_N);
	assert_true(rss_held < rss_before + IDLE_RSS_MAX);

	/* Half of the raw ones closed by this side before nng's 10 s
	 * negotiation timeout: the broker answers at once. */
	for (int s = 0; s < 3; s++)
		for (int i = 0; i < IDLE_N / 2; i++)
			close(raw[s][i]);
	answer_all(b, &f, &probe, &a);
	assert_answers("right after closing 1,500 unfinished handshakes", &a);

	/* The other half: nng ends a handshake not finished within 10 s,
	 * and the broker counts it. */
	double deadline = held_at + HANDSHAKE_TIMEOUT_MS + harness_wait_ms();
	for (int s = 0; s < 3; s++)
		for (int i = IDLE_N / 2; i < IDLE_N; i++) {
			if (!closed_by_peer(raw[s][i], deadline))
				fail_msg("%s: connection %d still open %.0f ms "
				         "after its handshake began",
				         names[s], i, now_ms() - held_at);
			close(raw[s][i]);
		}
	for (int s = 0; s < 3; s++) {
		uint64_t n = socket_stat(b, s, "handshake_timeouts");
		print_message("  %s: %llu handshake timeouts counted\n",
		              names[s], (unsigned long long)n);
		assert_true(n > 0);
	}
	answer_all(b, &f, &probe, &a);
	assert_answers("after the handshakes timed out", &a);

	/* The SP-level ones closed all at once. */
	for (int s = 0; s < 3; s++)
		nng_close(idle[s]);
	answer_all(b, &f, &probe, &a);
	assert_answers("right after closing 3,000 idle pipes", &a);
	struct pipes_arg down = {.b = b, .at_most = 4};
	assert_true(harness_wait(pipes_reached, &down, harness_wait_ms()));
	answer_all(b, &f, &probe, &a);
	assert_answers("once they are gone", &a);
	follower_close(&f);
}

/* ---- garbage on every socket ---- */

/* Bytes of no protocol, never starting like an SP handshake. */
static void noise(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (unsigned char)(seed >> 24);
	}
	p[0] = 0xc1;
}

/* The broker drops the connection (reads its handshake half first, when
 * it sent one). */
static void expect_dropped(int fd, const char *what, int s)
{
	unsigned char buf[256];
	double until = now_ms() + RAW_SP_MS;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0 || now_ms() > until)
			fail_msg("%s on %s: the connection was not dropped",
			         what, names[s]);
	}
	close(fd);
}

/* A request socket's answer to a request of garbage: bad_request, and the
 * reason says what was wrong. */
static void expect_bad_request(int fd, const char *what, int s,
                               const char *reason)
{
	struct raw_reply r;
	bool ok = true;
	char code[64], text[256];

	if (raw_sp_recv(fd, 7, &r) != 1)
		fail_msg("%s on %s: no answer", what, names[s]);
	assert_true(mp_get_bool(&r.o, "ok", &ok));
	assert_false(ok);
	raw_str(&r.o, "code", code, sizeof code);
	raw_str(&r.o, "error", text, sizeof text);
	print_message("  %s on %s: %s: %s\n", what, names[s], code, text);
	assert_string_equal(code, ERR_BAD_REQUEST);
	if (strstr(text, reason) == NULL)
		fail_msg("%s on %s: the error does not say \"%s\"", what,
		         names[s], reason);
	raw_reply_free(&r);
	close(fd);
}

#define NEST 5000 /* levels of nesting: msgpack-c's stack is 32 */

static void
test_garbage_on_every_socket_is_counted_and_it_answers_after(void **state)
{
	struct broker_proc *b = *state;
	struct follower f;
	struct answers a;
	unsigned probe = 0;
	unsigned char junk[4096], head[9];
	static unsigned char nested[3 * NEST + 1];

	follower_open(&f, b);
	answer_all(b, &f, &probe, &a);
	for (int s = 0; s < 3; s++) {
		uint64_t frames = socket_stat(b, s, "bad_frames");
		uint64_t reqs = socket_stat(b, s, "bad_requests");
		int fd;

		/* Bytes that are not an SP handshake. */
		noise(junk, sizeof junk, 15u + (uint32_t)s);
		fd = raw_sp_connect(b->run_dir, socks[s], 0);
		(void)raw_sp_write(fd, junk, 64);
		expect_dropped(fd, "64 bytes of noise", s);
		wait_socket_stat(b, s, "bad_frames", ++frames);

		/* A handshake, then a frame of no known type. */
		fd = raw_sp_connect(b->run_dir, socks[s], protos[s]);
		(void)raw_sp_write(fd, junk, sizeof junk);
		expect_dropped(fd, "a frame of an unknown type", s);
		wait_socket_stat(b, s, "bad_frames", ++frames);

		/* A frame cut short by a close, and one that never ends. */
		fd = raw_sp_connect(b->run_dir, socks[s], protos[s]);
		raw_sp_frame_head(head, 1000);
		assert_int_equal(raw_sp_write(fd, head, sizeof head), 0);
		assert_int_equal(raw_sp_write(fd, junk, 10), 0);
		close(fd);
		int torn = raw_sp_connect(b->run_dir, socks[s], protos[s]);
		assert_int_equal(raw_sp_write(torn, head, sizeof head), 0);

		/* A frame over every limit of the broker (64 MiB announced):
		 * nng drops the connection at the header. */
		fd = raw_sp_connect(b->run_dir, socks[s], protos[s]);
		raw_sp_frame_head(head, 64u << 20);
		assert_int_equal(raw_sp_write(fd, head, sizeof head), 0);
		expect_dropped(fd, "a frame of 64 MiB", s);

		/* Well-framed requests of garbage: the request sockets say
		 * why; pub0 drops a subscriber that sends anything. */
		for (int k = 0; k < 4; k++) {
			static const char *const what[4] = {
			    "noise in a good frame", "a request cut short",
			    "5,000 nested arrays", "5,000 nested maps"};
			static const char *const reason[4] = {
			    "not a msgpack map", "cut short", "nested deeper",
			    "nested deeper"};
			const unsigned char *body = junk;
			size_t len = 777;
			if (k == 1) {
				/* {"op": "pu... (a str of 7 bytes) */
				static const unsigned char cut[] = {
				    0x81, 0xa2, 'o', 'p', 0xa7, 'p', 'u'};
				body = cut;
				len = sizeof cut;
			} else if (k >= 2) {
				len = 0;
				for (int i = 0; i < NEST; i++) {
					if (k == 2) {
						nested[len++] = 0x91;
					} else {
						nested[len++] = 0x81;
						nested[len++] = 0xa1;
						nested[len++] = 'k';
					}
				}
				nested[len++] = 0xc0;
				body = nested;
			}
			fd = raw_sp_connect(b->run_dir, socks[s], protos[s]);
			assert_int_equal(raw_sp_send(fd, 7, body, len), 0);
			if (s == 2) {
				expect_dropped(fd, what[k], s);
				continue;
			}
			expect_bad_request(fd, what[k], s, reason[k]);
			wait_socket_stat(b, s, "bad_requests", ++reqs);
		}
		answer_all(b, &f, &probe, &a);
		assert_answers(names[s], &a);
		close(torn);
	}

	/* logbusctl stats counts them among its refusals, by kind. */
	char bin[512], *out = NULL, *err = NULL;
	const char *argv[] = {harness_bin("logbusctl", bin, sizeof bin),
	                      "stats", "--run-dir", b->run_dir, NULL};
	assert_int_equal(harness_run(argv, NULL, &out, &err), 0);
	print_message("%s", out);
	assert_non_null(strstr(out, "bad_request 8"));
	assert_non_null(strstr(out, "bad_frame 6"));
	free(out);
	free(err);
	follower_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_a_thousand_idle_connections_per_socket_leave_it_answering,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_garbage_on_every_socket_is_counted_and_it_answers_after,
	        setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
