/*
 * test_notify.c: logbusd speaks the sd_notify(3) protocol to a real
 * AF_UNIX datagram socket, as systemd's would be: READY=1 once it serves,
 * the watchdog from its loop, a status line, STOPPING=1 at SIGTERM; an
 * abstract address; another process's watchdog left alone; a malformed or
 * vanished NOTIFY_SOCKET reported and otherwise ignored.  The messages a
 * reload sends, and the no-op without NOTIFY_SOCKET, are tested on
 * broker/notify.c directly.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "logbus/logbus.h"
#include "notify.h"
#include "timefmt.h"

/* What the broker is told: a ping every 100 ms. */
#define WATCHDOG_USEC "200000"
/* Long enough for ten pings: a fed watchdog would have shown by then. */
#define SILENCE_MS 1000

#define MAX_MSGS 4096

/* The service manager's side: a bound datagram socket and every message
 * it received, in order. */
struct listener {
	int fd;
	char dir[64];      /* temporary directory of a path socket, or "" */
	char address[128]; /* the NOTIFY_SOCKET value */
	char *msgs[MAX_MSGS];
	size_t n;
};

struct fixture {
	struct broker_proc *b;
	struct listener l;
	char *log; /* the broker's stderr, last read */
};

static long now_ms(void)
{
	return (long)(timefmt_mono_ns() / 1000000);
}

static void listener_bind(struct listener *l, bool abstract)
{
	static unsigned counter;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;

	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	if (abstract) {
		snprintf(l->address, sizeof l->address,
		         "@logbus-test-notify-%ld-%u", (long)getpid(),
		         counter++);
		memcpy(sa.sun_path, l->address, strlen(l->address));
		sa.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		                  strlen(l->address));
	} else {
		snprintf(l->dir, sizeof l->dir, "/tmp/logbus-notify-XXXXXX");
		assert_non_null(mkdtemp(l->dir));
		snprintf(l->address, sizeof l->address, "%s/notify", l->dir);
		assert_true(strlen(l->address) < sizeof sa.sun_path);
		memcpy(sa.sun_path, l->address, strlen(l->address) + 1);
		len = sizeof sa;
	}
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, len), 0);
}

static void listener_close(struct listener *l)
{
	if (l->fd > 0)
		close(l->fd);
	l->fd = -1;
	if (l->dir[0]) {
		unlink(l->address);
		rmdir(l->dir);
		l->dir[0] = '\0';
	}
	for (size_t i = 0; i < l->n; i++)
		free(l->msgs[i]);
	l->n = 0;
}

/* Take every datagram waiting, or wait up to timeout_ms for one. */
static void listener_recv(struct listener *l, int timeout_ms)
{
	struct pollfd p = {.fd = l->fd, .events = POLLIN};
	char buf[4096];

	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	for (;;) {
		ssize_t n = recv(l->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
		if (n < 0)
			break;
		assert_true(l->n < MAX_MSGS);
		buf[n] = '\0';
		l->msgs[l->n++] = strdup(buf);
	}
}

/* Whether msg has a line that starts with prefix. */
static bool has_line(const char *msg, const char *prefix)
{
	size_t len = strlen(prefix);

	for (const char *s = msg; s; s = strchr(s, '\n'), s = s ? s + 1 : s)
		if (strncmp(s, prefix, len) == 0)
			return true;
	return false;
}

/* Index of the first message from `from` with a line starting with
 * prefix, or -1. */
static long find_msg(const struct listener *l, size_t from, const char *prefix)
{
	for (size_t i = from; i < l->n; i++)
		if (has_line(l->msgs[i], prefix))
			return (long)i;
	return -1;
}

static size_t count_msgs(const struct listener *l, const char *prefix)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += has_line(l->msgs[i], prefix);
	return n;
}

/* Receive until a message from `from` has a line starting with prefix;
 * its index, or -1 after the harness's bound. */
static long wait_msg(struct listener *l, size_t from, const char *prefix)
{
	long end = now_ms() + HARNESS_WAIT_MS;
	long i;

	while ((i = find_msg(l, from, prefix)) < 0 && now_ms() < end)
		listener_recv(l, 50);
	return i;
}

static bool wait_count(struct listener *l, const char *prefix, size_t want)
{
	long end = now_ms() + HARNESS_WAIT_MS;

	while (count_msgs(l, prefix) < want && now_ms() < end)
		listener_recv(l, 50);
	return count_msgs(l, prefix) >= want;
}

/* Everything received for SILENCE_MS. */
static void listen_for_a_while(struct listener *l)
{
	long end = now_ms() + SILENCE_MS;
	long left;

	while ((left = end - now_ms()) > 0)
		listener_recv(l, (int)left);
}

static void dump(const struct listener *l)
{
	for (size_t i = 0; i < l->n; i++)
		fprintf(stderr, "  message %zu: %s\n", i, l->msgs[i]);
}

/* Start a broker whose environment has NOTIFY_SOCKET=notify_socket and,
 * when not NULL, WATCHDOG_USEC and WATCHDOG_PID. */
static int start_with_env(struct fixture *f, const char *notify_socket,
                          const char *watchdog_usec, const char *watchdog_pid)
{
	setenv("NOTIFY_SOCKET", notify_socket, 1);
	if (watchdog_usec)
		setenv("WATCHDOG_USEC", watchdog_usec, 1);
	if (watchdog_pid)
		setenv("WATCHDOG_PID", watchdog_pid, 1);
	f->b = harness_new(NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return f->b != NULL ? 0 : -1;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	f->l.fd = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	harness_free(f->b);
	listener_close(&f->l);
	free(f->log);
	free(f);
	return 0;
}

static void publish_one(const char *run_dir)
{
	logbus_publisher *p;
	logbus_publisher_options o = {.run_dir = run_dir,
	                              .service = "notify_test"};

	assert_int_equal(logbus_publisher_open(&p, &o), LOGBUS_OK);
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "after READY=1"), 0);
	assert_int_equal(logbus_flush(p, 10000), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, 5000), LOGBUS_OK);
}

/* SIGTERM: STOPPING=1 arrives and the broker exits 0. */
static void stop_says_stopping(struct fixture *f, size_t from)
{
	int status = harness_stop(f->b, SIGTERM);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	listener_recv(&f->l, 0);
	if (find_msg(&f->l, from, "STOPPING=1") < 0)
		dump(&f->l);
	assert_true(find_msg(&f->l, from, "STOPPING=1") >= 0);
}

/* The broker's stderr so far; the fixture owns it. */
static const char *broker_stderr(struct fixture *f)
{
	free(f->log);
	f->log = files_slurp(f->b->stderr_path, NULL);
	assert_non_null(f->log);
	return f->log;
}

/* ---- tests ----------------------------------------------------------- */

/* logbusd started with a watchdog, told of a listener on a path or abstract
 * socket; the index of its READY=1 message. */
static long start_until_ready(struct fixture *f, bool abstract)
{
	listener_bind(&f->l, abstract);
	assert_int_equal(start_with_env(f, f->l.address, WATCHDOG_USEC, NULL),
	                 0);
	long ready = wait_msg(&f->l, 0, "READY=1");
	if (ready < 0)
		dump(&f->l);
	assert_true(ready >= 0);
	return ready;
}

static void
test_ready_watchdog_status_and_stopping_reach_a_path_socket(void **state)
{
	struct fixture *f = *state;

	long ready = start_until_ready(f, false);
	/* READY=1 carries the first status; recovery said so before it. */
	assert_true(has_line(f->l.msgs[ready], "STATUS=serving: "));
	long recovering = find_msg(&f->l, 0, "STATUS=recovering the journal");
	assert_true(recovering >= 0 && recovering < ready);
	assert_int_equal(count_msgs(&f->l, "READY=1"), 1);

	/* Ready means serving. */
	publish_one(f->b->run_dir);

	if (!wait_count(&f->l, "WATCHDOG=1", 3))
		dump(&f->l);
	assert_true(count_msgs(&f->l, "WATCHDOG=1") >= 3);
	/* The pings come from the loop, one per message, after READY=1. */
	assert_true(find_msg(&f->l, 0, "WATCHDOG=1") > ready);
	assert_string_equal(f->l.msgs[find_msg(&f->l, 0, "WATCHDOG=1")],
	                    "WATCHDOG=1");

	/* The periodic status, a message of its own. */
	long st = wait_msg(&f->l, (size_t)ready + 1, "STATUS=serving: ");
	if (st < 0)
		dump(&f->l);
	assert_true(st > ready);
	assert_false(has_line(f->l.msgs[st], "READY=1"));
	assert_non_null(strstr(f->l.msgs[st], " records/s ("));
	assert_non_null(strstr(f->l.msgs[st], " committed"));

	stop_says_stopping(f, (size_t)ready + 1);
	long stop = find_msg(&f->l, 0, "STOPPING=1");
	assert_true(has_line(f->l.msgs[stop], "STATUS=stopping"));
}

static void test_abstract_notify_socket_is_reached(void **state)
{
	struct fixture *f = *state;

	long ready = start_until_ready(f, true);
	publish_one(f->b->run_dir);
	assert_true(wait_count(&f->l, "WATCHDOG=1", 3));
	stop_says_stopping(f, (size_t)ready + 1);
}

/* WATCHDOG_PID names the process the watchdog is for; not logbusd, so no
 * pings, while READY=1 and STOPPING=1 still go out. */
static void test_watchdog_of_another_process_is_not_fed(void **state)
{
	struct fixture *f = *state;
	char pid[32];

	listener_bind(&f->l, false);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	assert_int_equal(start_with_env(f, f->l.address, WATCHDOG_USEC, pid),
	                 0);
	assert_true(wait_msg(&f->l, 0, "READY=1") >= 0);
	listen_for_a_while(&f->l);
	if (count_msgs(&f->l, "WATCHDOG=1") != 0)
		dump(&f->l);
	assert_int_equal(count_msgs(&f->l, "WATCHDOG=1"), 0);
	stop_says_stopping(f, 0);
}

/* Not a path, not '@': logbusd says so and serves anyway. */
static void test_malformed_notify_socket_is_reported_and_ignored(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(start_with_env(f, "run/notify", WATCHDOG_USEC, NULL),
	                 0);
	publish_one(f->b->run_dir);
	const char *log = broker_stderr(f);
	assert_non_null(strstr(log, "WARNING: NOTIFY_SOCKET=run/notify is "
	                            "neither an absolute path nor an abstract "
	                            "address"));
	int status = harness_stop(f->b, SIGTERM);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_malformed_watchdog_usec_is_reported_and_not_fed(void **state)
{
	struct fixture *f = *state;

	listener_bind(&f->l, false);
	assert_int_equal(start_with_env(f, f->l.address, "soon", NULL), 0);
	assert_true(wait_msg(&f->l, 0, "READY=1") >= 0);
	const char *log = broker_stderr(f);
	assert_non_null(strstr(log, "WARNING: WATCHDOG_USEC=soon is not a "
	                            "positive number of microseconds"));
	listen_for_a_while(&f->l);
	assert_int_equal(count_msgs(&f->l, "WATCHDOG=1"), 0);
	stop_says_stopping(f, 0);
}

static bool warned(void *arg)
{
	struct fixture *f = arg;
	char *log = files_slurp(f->b->stderr_path, NULL);
	bool ok = log && strstr(log, "cannot notify the service manager");
	free(log);
	return ok;
}

/* Nobody listens at NOTIFY_SOCKET: one warning, not one per ping, and the
 * broker serves and stops as usual. */
static void test_vanished_notify_socket_is_reported_once(void **state)
{
	struct fixture *f = *state;

	listener_bind(&f->l, false);
	char address[sizeof f->l.address];
	snprintf(address, sizeof address, "%s", f->l.address);
	listener_close(&f->l); /* gone, file and all */
	assert_int_equal(start_with_env(f, address, WATCHDOG_USEC, NULL), 0);
	assert_true(harness_wait(warned, f, HARNESS_WAIT_MS));
	publish_one(f->b->run_dir);
	struct timespec ts = {SILENCE_MS / 1000, 0};
	nanosleep(&ts, NULL); /* ten pings' time */
	const char *log = broker_stderr(f);
	const char *first = strstr(log, "cannot notify the service manager");
	assert_non_null(first);
	assert_non_null(strstr(first, address));
	assert_null(strstr(first + 1, "cannot notify the service manager"));
	int status = harness_stop(f->b, SIGTERM);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- notify.c directly ------------------------------------------------ */

static uint64_t monotonic_usec(void)
{
	return (uint64_t)timefmt_mono_ns() / 1000;
}

/* A reload: RELOADING=1 with the time it began (systemd tells reloads
 * apart by it), then READY=1. */
static void test_reload_sends_reloading_with_its_time_then_ready(void **state)
{
	struct fixture *f = *state;
	struct notify n;
	char err[256];

	listener_bind(&f->l, false);
	setenv("NOTIFY_SOCKET", f->l.address, 1);
	int rv = notify_init(&n, err, sizeof err);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(rv, 0);
	assert_true(notify_enabled(&n));
	uint64_t before = monotonic_usec();
	assert_int_equal(notify_reloading(&n, "reloading"), 0);
	uint64_t after = monotonic_usec();
	assert_int_equal(notify_ready(&n, "serving"), 0);
	notify_fini(&n);
	assert_true(wait_count(&f->l, "READY=1", 1));

	assert_int_equal(f->l.n, 2);
	unsigned long long usec;
	char status[64];
	assert_int_equal(sscanf(f->l.msgs[0],
	                        "RELOADING=1\nMONOTONIC_USEC=%llu\n"
	                        "STATUS=%63s",
	                        &usec, status),
	                 2);
	assert_true(usec >= before && usec <= after);
	assert_string_equal(status, "reloading");
	assert_string_equal(f->l.msgs[1], "READY=1\nSTATUS=serving");
}

static void test_without_notify_socket_every_call_is_a_no_op(void **state)
{
	struct notify n;
	char err[256] = "";

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", WATCHDOG_USEC, 1);
	int rv = notify_init(&n, err, sizeof err);
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(rv, 0);
	assert_string_equal(err, "");
	assert_false(notify_enabled(&n));
	assert_true(n.watchdog_usec == 0); /* nobody to ping */
	assert_int_equal(notify_ready(&n, "x"), 0);
	assert_int_equal(notify_reloading(&n, NULL), 0);
	assert_int_equal(notify_watchdog(&n), 0);
	assert_int_equal(notify_stopping(&n, NULL), 0);
	notify_fini(&n);
}

/* sun_path holds 108 bytes: a longer NOTIFY_SOCKET cannot be reached. */
static void test_too_long_notify_socket_is_refused(void **state)
{
	struct notify n;
	char err[512], path[160];

	(void)state;
	memset(path, 'x', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	setenv("NOTIFY_SOCKET", path, 1);
	int rv = notify_init(&n, err, sizeof err);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(rv, -1);
	assert_non_null(strstr(err, "too short or too long"));
	assert_false(notify_enabled(&n));
	assert_int_equal(notify_ready(&n, NULL), 0);
	notify_fini(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_ready_watchdog_status_and_stopping_reach_a_path_socket,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_abstract_notify_socket_is_reached, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_watchdog_of_another_process_is_not_fed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_malformed_notify_socket_is_reported_and_ignored, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_malformed_watchdog_usec_is_reported_and_not_fed, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_vanished_notify_socket_is_reported_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reload_sends_reloading_with_its_time_then_ready, setup,
	        teardown),
	    cmocka_unit_test(test_without_notify_socket_every_call_is_a_no_op),
	    cmocka_unit_test(test_too_long_notify_socket_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
