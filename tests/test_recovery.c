/*
 * test_recovery.c: failures the broker survives.
 *
 * nng 1.5.2's bug #1518 (a connection closed during the handshake stops a
 * listener), SIGKILL in the middle of a publishing stream, a second broker
 * started on the same run directory, SIGTERM, a torn journal tail, and a
 * publisher that logs while the broker is down.  Each test runs its own
 * logbusd (tests/harness.c) and checks through the public library that
 * every acknowledged record is served exactly once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <poll.h>

#include "harness.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "raw_request.h"
#include "timefmt.h"

extern char **environ;

/* ---- fixtures ---- */

/* The self-probe every 0.6 s instead of every second.  (Not below the
 * probe's 0.5 s check delay: one probe at a time.) */
static int setup_fast_probe(void **state)
{
	static const char *const extra[] = {"--probe-interval", "0.6", NULL};
	return harness_setup_with(state, extra);
}

/* ---- helpers ---- */

struct rec_copy {
	uint64_t seq;
	char *message;
};

struct rec_list {
	struct rec_copy *v;
	size_t n, cap;
};

static void rec_list_free(struct rec_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].message);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static void rec_list_add(const logbus_record *rec, void *arg)
{
	struct rec_list *out = arg;

	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 1024;
		out->v = realloc(out->v, out->cap * sizeof *out->v);
		assert_non_null(out->v);
	}
	out->v[out->n].seq = rec->seq;
	out->v[out->n].message = strdup(rec->message);
	assert_non_null(out->v[out->n].message);
	out->n++;
}

/* Every record of service svc (NULL: all but the broker's own), from the
 * journal's head.  The broker writes its own events (start, signals, the
 * torn tail it truncated, "listening again") as records of the service
 * "logbusd" among the tests' records; the checks here are about what the
 * tests published, so an unfiltered read passes over them. */
static void read_all(const struct broker_proc *b, const char *svc,
                     struct rec_list *out)
{
	const char *svcs[] = {svc};
	logbus_reader_options ro = {
	    .run_dir = b->run_dir,
	    .start = LOGBUS_START_HEAD,
	    .filter = {.services = svc ? svcs : NULL, .nservices = svc ? 1 : 0},
	    .timeout_ms = 15000,
	};

	memset(out, 0, sizeof *out);
	harness_read_each(&ro, rec_list_add, out);
}

/* Log "<prefix>-<i>" for i in [from, to). */
static void log_numbered(logbus_publisher *p, const char *prefix, int from,
                         int to)
{
	for (int i = from; i < to; i++)
		assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s-%d", prefix, i),
		                 LOGBUS_OK);
}

/* The records of svc are exactly "<prefix>-0" .. "<prefix>-<n-1>", each
 * once, in that order, with strictly increasing seq. */
static void assert_exactly_once(const struct broker_proc *b, const char *svc,
                                const char *prefix, int n)
{
	struct rec_list l;
	char want[64];

	read_all(b, svc, &l);
	if (l.n != (size_t)n) {
		size_t shown = 0;
		for (size_t i = 0; i < l.n && shown < 20; i++) {
			snprintf(want, sizeof want, "%s-%zu", prefix, i);
			if (strcmp(l.v[i].message, want) != 0) {
				print_message("  [%zu] seq %llu: %s\n", i,
				              (unsigned long long)l.v[i].seq,
				              l.v[i].message);
				shown++;
			}
		}
		fail_msg("%s: %zu records, expected %d", svc, l.n, n);
	}
	for (size_t i = 0; i < l.n; i++) {
		snprintf(want, sizeof want, "%s-%zu", prefix, i);
		assert_string_equal(l.v[i].message, want);
		if (i > 0)
			assert_true(l.v[i].seq > l.v[i - 1].seq);
	}
	rec_list_free(&l);
}

/* svc has exactly one record, and its message is text. */
static void assert_exactly_once_text(const struct broker_proc *b,
                                     const char *svc, const char *text)
{
	struct rec_list l;

	read_all(b, svc, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].message, text);
	rec_list_free(&l);
}

/* A fresh publisher and reader: one record published, flushed within 5 s,
 * and read back once. */
static void assert_round_trip(const struct broker_proc *b, const char *tag)
{
	logbus_publisher *p = harness_publisher(b->run_dir, "roundtrip");
	struct rec_list l;
	char want[128];
	int found = 0;
	char err[256];

	snprintf(want, sizeof want, "round trip %s", tag);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "%s", want), LOGBUS_OK);
	int rv = logbus_flush(p, 5000);
	if (rv != LOGBUS_OK)
		fail_msg("flush: %s: %s", logbus_strerror(rv),
		         logbus_publisher_error(p, err, sizeof err));
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
	read_all(b, "roundtrip", &l);
	for (size_t i = 0; i < l.n; i++)
		found += strcmp(l.v[i].message, want) == 0;
	rec_list_free(&l);
	assert_int_equal(found, 1);
}

struct file_has {
	const char *path;
	const char *const *needles; /* all of them, each on some line */
	size_t nneedles;
	const char *line_with; /* each needle's line must also hold this */
	size_t from;           /* ignore the file before this offset */
};

static bool line_has_both(const char *text, const char *a, const char *b)
{
	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		char *line = strndup(l, len);
		bool ok = line && strstr(line, a) && (!b || strstr(line, b));
		free(line);
		if (ok)
			return true;
		l = end ? end + 1 : NULL;
	}
	return false;
}

static bool file_has_all(void *arg)
{
	const struct file_has *fh = arg;
	size_t len = 0;
	char *text = files_slurp(fh->path, &len);
	bool ok = text != NULL && len >= fh->from;

	for (size_t i = 0; ok && i < fh->nneedles; i++)
		ok = line_has_both(text + fh->from, fh->needles[i],
		                   fh->line_with);
	free(text);
	return ok;
}

static size_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static bool path_exists(const char *dir, const char *name)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static void print_file(const char *what, const char *path)
{
	char *text = files_slurp(path, NULL);
	print_message("---- %s (%s) ----\n%s----\n", what, path,
	              text ? text : "(none)\n");
	free(text);
}

/* ---- bug #1518 ---- */

/* What kills an nng 1.5.2 ipc listener: a connection closed before the SP
 * handshake.  Non-blocking, so that a full backlog behind a dead listener
 * cannot hang the test; returns whether the connect went through. */
static bool raw_connect_close(const char *dir, const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", dir, sock);
	assert_true(n > 0 && (size_t)n < sizeof sa.sun_path);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

struct relisten_wait {
	const struct broker_proc *b;
	size_t from;      /* the broker's stderr before the test */
	bool reported[2]; /* ingest, query: "listening again" was logged */
	unsigned polls;
	unsigned extra[2]; /* raw connects after the first round */
};

static const char *const relisten_names[2] = {"ingest", "query"};
static const char *const relisten_socks[2] = {SOCK_INGEST, SOCK_QUERY};

/*
 * Whether the broker reported listening again on both sockets.  Whether
 * one raw connect kills a listener is a race inside nng (the handshake
 * must fail on a write, not a read), so a socket whose listener has not been
 * reported yet gets another raw connect every 100 ms: the report, not the
 * kill, is what this test waits for.
 */
static bool both_relistened(void *arg)
{
	struct relisten_wait *w = arg;
	char *text = files_slurp(w->b->stderr_path, NULL);

	for (int i = 0; i < 2; i++) {
		if (!w->reported[i] && text != NULL)
			w->reported[i] =
			    line_has_both(text + w->from, relisten_names[i],
			                  "listening again");
		if (!w->reported[i] && ++w->polls % 10 == 0) {
			raw_connect_close(w->b->run_dir, relisten_socks[i]);
			w->extra[i]++;
		}
	}
	free(text);
	return w->reported[0] && w->reported[1];
}

static void test_bug1518_raw_connect_close_does_not_stop_listeners(void **state)
{
	struct broker_proc *b = *state;
	struct relisten_wait w = {.b = b, .from = file_size(b->stderr_path)};

	for (int i = 0; i < 5; i++) {
		assert_true(raw_connect_close(b->run_dir, SOCK_INGEST));
		assert_true(raw_connect_close(b->run_dir, SOCK_QUERY));
	}
	/* The broker's probe notices both listeners stopped and listens
	 * again. */
	bool ok = harness_wait(both_relistened, &w, HARNESS_WAIT_MS);
	print_message("  raw connects after the first 5: ingest %u, query "
	              "%u\n",
	              w.extra[0], w.extra[1]);
	if (!ok) {
		print_file("logbusd stderr", b->stderr_path);
		fail_msg("logbusd did not report listening again on%s%s",
		         w.reported[0] ? "" : " ingest",
		         w.reported[1] ? "" : " query");
	}

	/* And serves new connections on both sockets. */
	logbus_publisher *p = harness_publisher(b->run_dir, "after1518");
	char err[256];
	assert_int_equal(logbus_log(p, LOGBUS_WARNING, "after-1518-%d", 0),
	                 LOGBUS_OK);
	int rv = logbus_flush(p, 5000);
	if (rv != LOGBUS_OK)
		fail_msg("flush after #1518: %s: %s", logbus_strerror(rv),
		         logbus_publisher_error(p, err, sizeof err));
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
	assert_exactly_once(b, "after1518", "after-1518", 1);
}

/* ---- SIGKILL while publishing ---- */

#define KILL9_MAX      200000
#define KILL9_BEFORE   5000
#define KILL9_AFTER    20000
#define KILL9_FLUSH_MS 2000

struct kill9 {
	logbus_publisher *pub;
	atomic_bool stop;
	atomic_bool done;
	atomic_int acked; /* records "rec-0".."rec-<acked-1>" acknowledged */
	int logged;       /* written by the thread, read after join */
	int log_error;    /* first logging error, 0 if none */
	uint64_t flush_timeouts;
};

static void *kill9_publisher(void *arg)
{
	struct kill9 *k = arg;
	int i;

	for (i = 0; i < KILL9_MAX && !atomic_load(&k->stop); i++) {
		int rv = logbus_log(k->pub, LOGBUS_INFO, "rec-%d", i);
		if (rv != LOGBUS_OK) {
			k->log_error = rv;
			break;
		}
		if ((i + 1) % 1000 == 0) {
			rv = logbus_flush(k->pub, KILL9_FLUSH_MS);
			if (rv == LOGBUS_OK)
				atomic_store(&k->acked, i + 1);
			else if (rv == LOGBUS_ETIMEDOUT)
				k->flush_timeouts++;
			else {
				k->log_error = rv;
				i++;
				break;
			}
		}
	}
	k->logged = i;
	atomic_store(&k->done, true);
	return NULL;
}

struct acked_at_least {
	struct kill9 *k;
	int n;
};

static bool acked_at_least(void *arg)
{
	struct acked_at_least *a = arg;
	return atomic_load(&a->k->acked) >= a->n || atomic_load(&a->k->done);
}

static void
test_kill9_while_publishing_loses_no_acknowledged_record(void **state)
{
	struct broker_proc *b = *state;
	struct kill9 k = {0};
	pthread_t th;
	char err[256];

	atomic_init(&k.stop, false);
	atomic_init(&k.done, false);
	atomic_init(&k.acked, 0);
	k.pub = harness_publisher(b->run_dir, "kill9");
	assert_int_equal(pthread_create(&th, NULL, kill9_publisher, &k), 0);

	struct acked_at_least w = {&k, KILL9_BEFORE};
	bool ok = harness_wait(acked_at_least, &w, HARNESS_WAIT_MS);
	int acked_at_kill = atomic_load(&k.acked);
	int st = harness_stop(b, SIGKILL);
	print_message("  SIGKILL at %d acknowledged\n", acked_at_kill);
	if (!ok || atomic_load(&k.done)) {
		atomic_store(&k.stop, true);
		pthread_join(th, NULL);
		logbus_publisher_close(k.pub, 0);
		fail_msg("publisher: %d acknowledged before the kill (error "
		         "%d)",
		         acked_at_kill, k.log_error);
	}
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* The stale socket files must not keep it from starting again. */
	assert_true(path_exists(b->run_dir, SOCK_INGEST));
	assert_int_equal(harness_restart(b), 0);

	w.n = acked_at_kill + KILL9_AFTER;
	ok = harness_wait(acked_at_least, &w, 4 * HARNESS_WAIT_MS);
	atomic_store(&k.stop, true);
	pthread_join(th, NULL);
	print_message("  logged %d, acknowledged %d, %llu flush timeouts\n",
	              k.logged, atomic_load(&k.acked),
	              (unsigned long long)k.flush_timeouts);
	int rv = logbus_flush(k.pub, 30000);
	logbus_publisher_stats ps;
	logbus_publisher_get_stats(k.pub, &ps);
	print_message(
	    "  publisher: logged %llu committed %llu rejected %llu "
	    "resends %llu batches %llu\n",
	    (unsigned long long)ps.logged, (unsigned long long)ps.committed,
	    (unsigned long long)ps.rejected, (unsigned long long)ps.resends,
	    (unsigned long long)ps.batches);
	if (rv != LOGBUS_OK)
		fail_msg("final flush: %s: %s", logbus_strerror(rv),
		         logbus_publisher_error(k.pub, err, sizeof err));
	assert_int_equal(logbus_publisher_close(k.pub, 30000), LOGBUS_OK);
	assert_int_equal(k.log_error, 0);
	assert_true(ok);
	assert_true(k.logged >= acked_at_kill + KILL9_AFTER);

	/* Every logged number exactly once, in order, seq increasing. */
	assert_exactly_once(b, "kill9", "rec", k.logged);
}

/* ---- a second broker ---- */

struct child {
	pid_t pid;
	int status;
};

static bool child_exited(void *arg)
{
	struct child *c = arg;
	return waitpid(c->pid, &c->status, WNOHANG) == c->pid;
}

/* Start a second logbusd on run_dir and log_dir; it must exit non-zero,
 * saying `why` on stderr, and the first broker must go on serving. */
static void assert_second_broker_refused(struct broker_proc *b,
                                         const char *run_dir,
                                         const char *log_dir, const char *why)
{
	char bin[512], err_path[400];
	posix_spawn_file_actions_t fa;
	struct child c = {0};

	snprintf(err_path, sizeof err_path, "%s/second.stderr", b->dir);
	const char *argv[] = {harness_bin("logbusd", bin, sizeof bin),
	                      "--run-dir",
	                      run_dir,
	                      "--log-dir",
	                      log_dir,
	                      NULL};
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, err_path,
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int rv =
	    posix_spawn(&c.pid, argv[0], &fa, NULL, (char **)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(rv, 0);
	if (!harness_wait(child_exited, &c, HARNESS_WAIT_MS)) {
		kill(c.pid, SIGKILL);
		waitpid(c.pid, &c.status, 0);
		print_file("second logbusd stderr", err_path);
		fail_msg("a second logbusd kept running");
	}
	print_file("second logbusd stderr", err_path);
	assert_true(WIFEXITED(c.status));
	assert_int_not_equal(WEXITSTATUS(c.status), 0);
	char *text = files_slurp(err_path, NULL);
	assert_non_null(text);
	bool says = strstr(text, why) != NULL;
	free(text);
	assert_true(says);

	/* The first broker still serves, through the listeners it had: the
	 * second one never listened, so no listener had to be repaired. */
	int status;
	assert_int_equal(waitpid(b->pid, &status, WNOHANG), 0);
	assert_true(path_exists(b->run_dir, SOCK_INGEST));
	assert_true(path_exists(b->run_dir, SOCK_QUERY));
	assert_round_trip(b, "after a second broker");
	text = files_slurp(b->stderr_path, NULL);
	assert_non_null(text);
	bool relistened = strstr(text, "listening again") != NULL;
	if (relistened)
		print_file("logbusd stderr", b->stderr_path);
	free(text);
	assert_false(relistened);
}

static void test_second_broker_on_same_run_dir_refuses_to_start(void **state)
{
	struct broker_proc *b = *state;
	char log2[400];

	snprintf(log2, sizeof log2, "%s/log2", b->dir);
	assert_second_broker_refused(b, b->run_dir, log2, "already serves");
}

/* Two brokers must never write one journal, whatever their run dirs. */
static void test_second_broker_on_same_journal_refuses_to_start(void **state)
{
	struct broker_proc *b = *state;
	char run2[400];

	snprintf(run2, sizeof run2, "%s/run2", b->dir);
	assert_second_broker_refused(b, run2, b->log_dir, "in use by another");
}

/* ---- SIGTERM ---- */

static void test_sigterm_drains_and_removes_sockets(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "sigterm");

	log_numbered(p, "term", 0, 500);
	assert_int_equal(logbus_flush(p, 15000), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);

	int st = harness_stop(b, SIGTERM);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		print_file("logbusd stderr", b->stderr_path);
		fail_msg("logbusd did not exit 0 on SIGTERM (wait status "
		         "0x%x)",
		         st);
	}
	assert_false(path_exists(b->run_dir, SOCK_INGEST));
	assert_false(path_exists(b->run_dir, SOCK_QUERY));

	assert_int_equal(harness_restart(b), 0);
	assert_exactly_once(b, "sigterm", "term", 500);
	assert_round_trip(b, "after SIGTERM");
}

/*
 * SIGTERM while publishers push as fast as they can: the broker finishes
 * what nng already holds and exits 0 within a second (5 s asserted, the
 * real figure printed); after a restart every record the publishers logged,
 * acknowledged before the stop or resent after it, is there exactly once.
 */
#define TERM_PUBLISHERS 3
#define TERM_EXIT_MS    5000

struct exited {
	pid_t pid;
	int status;
};

static bool broker_exited(void *arg)
{
	struct exited *e = arg;
	return waitpid(e->pid, &e->status, WNOHANG) == e->pid;
}

static double now_s(void)
{
	return (double)timefmt_mono_ns() / 1e9;
}

static void
test_sigterm_under_load_exits_at_once_and_loses_no_record(void **state)
{
	struct broker_proc *b = *state;
	struct kill9 k[TERM_PUBLISHERS];
	pthread_t th[TERM_PUBLISHERS];
	char svc[TERM_PUBLISHERS][32], err[256];

	memset(k, 0, sizeof k);
	for (int i = 0; i < TERM_PUBLISHERS; i++) {
		atomic_init(&k[i].stop, false);
		atomic_init(&k[i].done, false);
		atomic_init(&k[i].acked, 0);
		snprintf(svc[i], sizeof svc[i], "term-load-%d", i);
		k[i].pub = harness_publisher(b->run_dir, svc[i]);
		assert_int_equal(
		    pthread_create(&th[i], NULL, kill9_publisher, &k[i]), 0);
	}
	/* Under load: every publisher has had acknowledgements. */
	for (int i = 0; i < TERM_PUBLISHERS; i++) {
		struct acked_at_least w = {&k[i], KILL9_BEFORE};
		assert_true(harness_wait(acked_at_least, &w, HARNESS_WAIT_MS));
		assert_false(atomic_load(&k[i].done));
	}
	struct exited e = {.pid = b->pid};
	double t0 = now_s();
	assert_int_equal(kill(b->pid, SIGTERM), 0);
	bool gone = harness_wait(broker_exited, &e, TERM_EXIT_MS);
	double took = now_s() - t0;
	if (!gone) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, &e.status, 0);
	}
	b->pid = -1;
	print_message("  SIGTERM under load: exited in %.3f s, status 0x%x\n",
	              took, e.status);
	if (!gone || !WIFEXITED(e.status) || WEXITSTATUS(e.status) != 0) {
		print_file("logbusd stderr", b->stderr_path);
		fail_msg("logbusd did not exit 0 within %d ms of SIGTERM under "
		         "load (wait status 0x%x)",
		         TERM_EXIT_MS, e.status);
	}

	/* The publishers go on logging into their queues; after the restart
	 * they resend and carry on. */
	assert_int_equal(harness_restart(b), 0);
	for (int i = 0; i < TERM_PUBLISHERS; i++) {
		struct acked_at_least w = {&k[i], atomic_load(&k[i].acked) +
		                                      KILL9_BEFORE};
		assert_true(
		    harness_wait(acked_at_least, &w, 4 * HARNESS_WAIT_MS));
	}
	for (int i = 0; i < TERM_PUBLISHERS; i++) {
		atomic_store(&k[i].stop, true);
		pthread_join(th[i], NULL);
		int rv = logbus_flush(k[i].pub, 30000);
		if (rv != LOGBUS_OK)
			fail_msg(
			    "%s: final flush: %s: %s", svc[i],
			    logbus_strerror(rv),
			    logbus_publisher_error(k[i].pub, err, sizeof err));
		assert_int_equal(logbus_publisher_close(k[i].pub, 30000),
		                 LOGBUS_OK);
		assert_int_equal(k[i].log_error, 0);
		print_message("  %s: logged %d\n", svc[i], k[i].logged);
		assert_exactly_once(b, svc[i], "rec", k[i].logged);
	}
}

/* ---- a torn journal tail ---- */

static bool is_segment_name(const char *n)
{
	if (strlen(n) != 16 + strlen(".journal") ||
	    strcmp(n + 16, ".journal") != 0)
		return false;
	for (int i = 0; i < 16; i++)
		if (!((n[i] >= '0' && n[i] <= '9') ||
		      (n[i] >= 'a' && n[i] <= 'f')))
			return false;
	return true;
}

/* The newest segment file: the lexicographically largest name. */
static void newest_segment(const struct broker_proc *b, char *out, size_t len)
{
	char dir[400], best[256] = "";
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof dir, "%s/journal", b->log_dir);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (is_segment_name(de->d_name) && strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof best, "%s", de->d_name);
	closedir(d);
	assert_true(best[0] != '\0');
	snprintf(out, len, "%s/%s", dir, best);
}

static void test_torn_journal_tail_after_crash_is_truncated(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "torn");
	char seg[512];
	struct rec_list l;

	log_numbered(p, "torn", 0, 300);
	assert_int_equal(logbus_flush(p, 15000), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
	read_all(b, "torn", &l);
	assert_int_equal(l.n, 300);
	uint64_t old_last = l.v[l.n - 1].seq;
	rec_list_free(&l);

	int st = harness_stop(b, SIGKILL);
	assert_true(WIFSIGNALED(st));
	newest_segment(b, seg, sizeof seg);
	size_t good_size;
	char *good = files_slurp(seg, &good_size);
	assert_non_null(good);
	unsigned char junk[37];
	memset(junk, 0xab, sizeof junk);
	int fd = open(seg, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
	close(fd);
	assert_int_equal(file_size(seg), good_size + sizeof junk);

	size_t from = file_size(b->stderr_path);
	if (harness_restart(b) != 0) {
		print_file("logbusd stderr", b->stderr_path);
		fail_msg("logbusd did not start on a journal with a torn tail");
	}
	const char *const needles[] = {"truncated"};
	struct file_has fh = {.path = b->stderr_path,
	                      .needles = needles,
	                      .nneedles = 1,
	                      .from = from};
	if (!file_has_all(&fh)) {
		print_file("logbusd stderr", b->stderr_path);
		fail_msg("logbusd did not say it truncated the torn tail");
	}
	/* The garbage is gone from the file, nothing else is.  (The restarted
	 * broker may already have appended its own records, such as the
	 * WARNING saying it truncated: what follows the good part must then be
	 * anything but the junk.) */
	size_t now_size;
	char *now = files_slurp(seg, &now_size);
	assert_non_null(now);
	assert_true(now_size >= good_size);
	assert_memory_equal(now, good, good_size);
	if (now_size > good_size)
		assert_memory_not_equal(now + good_size, junk,
		                        now_size - good_size < sizeof junk
		                            ? now_size - good_size
		                            : sizeof junk);
	free(now);
	free(good);
	assert_exactly_once(b, "torn", "torn", 300);

	/* New records continue after the old last seq. */
	p = harness_publisher(b->run_dir, "torn2");
	log_numbered(p, "after", 0, 50);
	assert_int_equal(logbus_flush(p, 15000), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
	read_all(b, "torn2", &l);
	assert_int_equal(l.n, 50);
	assert_true(l.v[0].seq > old_last);
	rec_list_free(&l);
	assert_exactly_once(b, "torn2", "after", 50);
	assert_exactly_once(b, "torn", "torn", 300);
}

/* ---- a publisher across a broker restart ---- */

static void
test_publisher_survives_broker_restart_with_unsent_records(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "restart");
	char err[256];

	/* Connected and working first. */
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "before-0"), LOGBUS_OK);
	assert_int_equal(logbus_flush(p, 5000), LOGBUS_OK);

	int st = harness_stop(b, SIGTERM);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	log_numbered(p, "down", 0, 1000);
	int rv = logbus_flush(p, 200);
	logbus_publisher_error(p, err, sizeof err);
	print_message("  flush while down: %s; error: \"%s\"\n",
	              logbus_strerror(rv), err);
	assert_int_equal(rv, LOGBUS_ETIMEDOUT);
	/* Checked at the end, so that a missing message does not hide whether
	 * the records themselves survive. */
	bool error_names_logbusd = strstr(err, "logbusd") != NULL;
	char err_at_timeout[256];
	snprintf(err_at_timeout, sizeof err_at_timeout, "%s", err);

	assert_int_equal(harness_restart(b), 0);
	rv = logbus_flush(p, 15000);
	if (rv != LOGBUS_OK)
		fail_msg("flush after restart: %s: %s", logbus_strerror(rv),
		         logbus_publisher_error(p, err, sizeof err));
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);

	/* "before-0", then the 1000 logged while it was down, each once,
	 * in order, with increasing seq. */
	struct rec_list l;
	read_all(b, "restart", &l);
	assert_int_equal(l.n, 1001);
	assert_string_equal(l.v[0].message, "before-0");
	for (size_t i = 1; i < l.n; i++) {
		char want[32];
		snprintf(want, sizeof want, "down-%zu", i - 1);
		assert_string_equal(l.v[i].message, want);
		assert_true(l.v[i].seq > l.v[i - 1].seq);
	}
	rec_list_free(&l);

	if (!error_names_logbusd)
		fail_msg("after logbus_flush timed out with the broker down, "
		         "logbus_publisher_error said \"%s\", which does not "
		         "mention logbusd",
		         err_at_timeout);
}

/* ---- the library's side of bug #1518 ---- */

/* A server that accepts on a socket path and closes each connection at once,
 * as a broker killed during the SP handshake does: after that, nng 1.5.2's
 * dialer never reconnects by itself. */
struct closer {
	int fd;
	atomic_int accepted;
	atomic_bool stop;
	pthread_t thread;
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;

	while (!atomic_load(&c->stop)) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		int s = accept(c->fd, NULL, NULL);
		if (s >= 0) {
			close(s);
			atomic_fetch_add(&c->accepted, 1);
		}
	}
	return NULL;
}

static bool closer_accepted(void *arg)
{
	return atomic_load(&((struct closer *)arg)->accepted) > 0;
}

static void
test_library_redials_after_a_peer_closed_during_handshake(void **state)
{
	struct broker_proc *b = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct closer c;
	char err[256];

	assert_int_equal(WEXITSTATUS(harness_stop(b, SIGTERM)), 0);
	int n = snprintf(sun.sun_path, sizeof sun.sun_path, "%.80s/%s",
	                 b->run_dir, SOCK_INGEST);
	assert_true(n > 0 && (size_t)n < sizeof sun.sun_path);
	c.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(c.fd >= 0);
	assert_int_equal(bind(c.fd, (struct sockaddr *)&sun, sizeof sun), 0);
	assert_int_equal(listen(c.fd, 16), 0);
	atomic_init(&c.accepted, 0);
	atomic_init(&c.stop, false);
	assert_int_equal(pthread_create(&c.thread, NULL, closer_main, &c), 0);

	logbus_publisher *p = harness_publisher(b->run_dir, "redial");
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "after a dead handshake"),
	                 LOGBUS_OK);
	assert_true(harness_wait(closer_accepted, &c, HARNESS_WAIT_MS));
	atomic_store(&c.stop, true);
	pthread_join(c.thread, NULL);
	close(c.fd);
	unlink(sun.sun_path);

	/* The real broker comes back on the same path: the library must
	 * notice its dialer is dead and dial again (about a second). */
	assert_int_equal(harness_restart(b), 0);
	int rv = logbus_flush(p, 10000);
	if (rv != LOGBUS_OK)
		fail_msg("flush: %s: %s", logbus_strerror(rv),
		         logbus_publisher_error(p, err, sizeof err));
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
	assert_exactly_once_text(b, "redial", "after a dead handshake");
}

/* ---- a resend after retention removed its batch's segment ---- */

#define OUTLIVED_SID 0x5e55107
#define OUTLIVED_BN  7

/* Publish batch OUTLIVED_BN of session OUTLIVED_SID, one record of service
 * "outlived", on a raw req0 socket (the library numbers its own batches):
 * its ack's dup, first and n. */
static void publish_outlived(const struct broker_proc *b, bool *dup,
                             uint64_t *first, uint64_t *n)
{
	msgpack_sbuffer sb, rec;
	msgpack_packer pk;
	struct raw_reply r;
	char url[400];
	bool ok = false;

	raw_record(&rec, "outlived", "sent before its segment went");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	raw_pack_publish(&pk, OUTLIVED_SID, OUTLIVED_BN, 0, 1);
	raw_pack_bin(&pk, rec.data, rec.size);
	assert_non_null(
	    paths_socket_url(url, sizeof url, b->run_dir, SOCK_INGEST));
	raw_call(url, sb.data, sb.size, &r);
	assert_true(mp_get_bool(&r.o, "ok", &ok));
	assert_true(ok);
	assert_true(mp_get_bool(&r.o, "dup", dup));
	assert_true(mp_get_u64(&r.o, "first", first));
	assert_true(mp_get_u64(&r.o, "n", n));
	raw_reply_free(&r);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&rec);
}

static int setup_small_segments(void **state)
{
	static const char *const extra[] = {"--segment-size", "4K", NULL};
	return harness_setup_with(state, extra);
}

/*
 * A batch is written, its ack lost (here: the client asks again later),
 * other publishers turn the journal over until retention removes the
 * segment holding that batch and its marker, and the broker crashes.
 * After the restart the resend must still be known: acknowledged as a
 * duplicate with its first sequence number, not written a second time.
 * (The crash campaign's --retention found it: a publisher that got no
 * connection through several restarts.)
 */
static void
test_resend_after_retention_removed_its_segment_is_written_once(void **state)
{
	struct broker_proc *b = *state;
	bool dup = true;
	uint64_t first = 0, n = 0, first2 = 0, n2 = 0;
	char err[256];

	publish_outlived(b, &dup, &first, &n);
	assert_false(dup);
	assert_int_equal(n, 1);

	/* Batches of another service for several segments (a batch is
	 * never split, so one flush each), then retention on request keeps
	 * only the segment being written. */
	logbus_publisher *p = harness_publisher(b->run_dir, "turnover");
	for (int i = 0; i < 300; i += 30) {
		log_numbered(p, "turnover", i, i + 30);
		assert_int_equal(logbus_flush(p, 15000), LOGBUS_OK);
	}
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
	logbus_vacuum_result res;
	if (logbus_vacuum(b->run_dir, 0, -1, &res, err, sizeof err) !=
	    LOGBUS_OK)
		fail_msg("vacuum: %s", err);
	print_message("  batch at seq %llu; vacuum removed %llu segments, "
	              "the journal keeps %llu..%llu\n",
	              (unsigned long long)first, (unsigned long long)res.count,
	              (unsigned long long)res.first_seq,
	              (unsigned long long)res.last_seq);
	uint64_t removed = res.count, kept_from = res.first_seq;
	logbus_vacuum_free(&res);
	assert_true(removed >= 2);
	assert_true(kept_from > first);

	harness_stop(b, SIGKILL);
	assert_int_equal(harness_restart(b), 0);
	publish_outlived(b, &dup, &first2, &n2);
	assert_true(dup);
	assert_int_equal(first2, first);
	assert_int_equal(n2, 1);
	struct rec_list l;
	read_all(b, "outlived", &l);
	assert_int_equal(l.n, 0); /* retention took the one copy */
	rec_list_free(&l);
}

/* ---- CRITICAL records are synced before they are acknowledged ---- */

/* The broker's count of journal fdatasync calls (query "info"). */
static uint64_t broker_fsyncs(const struct broker_proc *b)
{
	struct raw_reply r;
	uint64_t n = UINT64_MAX;

	raw_info(b->run_dir, &r);
	assert_true(mp_get_u64(&r.o, "fsyncs", &n));
	raw_reply_free(&r);
	return n;
}

static int setup_no_periodic_sync(void **state)
{
	static const char *const extra[] = {"--fsync-interval", "3600", NULL};
	return harness_setup_with(state, extra);
}

static void test_critical_record_is_synced_before_its_ack(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "durable");

	/* The periodic sync is an hour away: only CRITICAL syncs now. */
	uint64_t before = broker_fsyncs(b);
	assert_int_equal(logbus_log(p, LOGBUS_ERROR, "not critical"), 0);
	assert_int_equal(logbus_flush(p, 10000), LOGBUS_OK);
	assert_true(broker_fsyncs(b) == before);
	assert_int_equal(logbus_log(p, LOGBUS_CRITICAL, "disk on fire"), 0);
	assert_int_equal(logbus_flush(p, 10000), LOGBUS_OK);
	assert_true(broker_fsyncs(b) == before + 1);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_bug1518_raw_connect_close_does_not_stop_listeners,
	        setup_fast_probe, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_kill9_while_publishing_loses_no_acknowledged_record,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_second_broker_on_same_run_dir_refuses_to_start,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_second_broker_on_same_journal_refuses_to_start,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sigterm_drains_and_removes_sockets, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sigterm_under_load_exits_at_once_and_loses_no_record,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_torn_journal_tail_after_crash_is_truncated, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_publisher_survives_broker_restart_with_unsent_records,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_library_redials_after_a_peer_closed_during_handshake,
	        harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_resend_after_retention_removed_its_segment_is_written_once,
	        setup_small_segments, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_critical_record_is_synced_before_its_ack,
	        setup_no_periodic_sync, harness_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
