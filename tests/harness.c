/*
 * harness.c: the integration tests' fixture (harness.h): start, stop and
 * clean up a real logbusd, open clients on it, run programs.  Brokers are
 * started by tools/broker_proc.c (posix_spawn, so that a test process that
 * already runs nng threads never forks without exec); this file adds the
 * test's choices: the built logbusd, a directory under /tmp, its stderr
 * shown when it does not start.
 */
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "timefmt.h"

extern char **environ;

static bool under_valgrind(void)
{
	const char *v = getenv("LOGBUS_VALGRIND");
	return v != NULL && strcmp(v, "1") == 0;
}

/* With LOGBUS_VALGRIND=1 (tools/dev.sh valgrind) every program is the
 * script of its name in the bin directory's valgrind/, which runs it under
 * valgrind memcheck, and the test program itself starts again that way
 * before main (glibc passes argv to constructors). */
const char *harness_bin(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s/%s", LOGBUS_BIN_DIR,
	         under_valgrind() ? "/valgrind" : "", name);
	return buf;
}

__attribute__((constructor)) static void harness_reexec(int argc, char **argv)
{
	char self[4096];
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	if (!under_valgrind() || getenv("LOGBUS_VALGRIND_INNER") != NULL)
		return;
	setenv("LOGBUS_VALGRIND_INNER", "1", 1);
	harness_bin(base ? base + 1 : argv[0], self, sizeof self);
	execv(self, argv);
	fprintf(stderr, "harness: cannot run %s: %s\n", self, strerror(errno));
	_exit(1);
}

int harness_ms(int ms)
{
	return under_valgrind() ? 10 * ms : ms;
}

int harness_wait_ms(void)
{
	return harness_ms(HARNESS_WAIT_MS);
}

static long now_ms(void)
{
	return (long)(timefmt_mono_ns() / 1000000);
}

bool harness_wait(bool (*cond)(void *), void *arg, int timeout_ms)
{
	long end = now_ms() + timeout_ms;

	for (;;) {
		if (cond(arg))
			return true;
		if (now_ms() >= end)
			return false;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

bool harness_has_subscriber(void *run_dir)
{
	logbus_stats st;
	char err[256];

	return logbus_broker_stats(run_dir, &st, err, sizeof err) ==
	           LOGBUS_OK &&
	       st.subscribers > 0;
}

/* ---- the broker ------------------------------------------------------ */

static int spawn_and_wait(struct broker_proc *b)
{
	int rv = broker_proc_spawn(b);

	if (rv != 0) {
		fprintf(stderr, "harness: cannot start %s: %s\n", b->bin,
		        strerror(rv));
		return -1;
	}
	if (broker_proc_wait(b, harness_wait_ms(), NULL) !=
	    BROKER_PROC_SERVING) {
		char *log = files_slurp(b->stderr_path, NULL);
		fprintf(stderr,
		        "harness: logbusd did not start; its stderr:\n%s",
		        log ? log : "(none)\n");
		free(log);
		if (b->pid > 0)
			harness_stop(b, SIGKILL);
		return -1;
	}
	return 0;
}

int harness_start(struct broker_proc *b)
{
	harness_bin("logbusd", b->bin, sizeof b->bin);
	if (broker_proc_init(b, "/tmp", "logbus-test-") < 0) {
		fprintf(stderr, "harness: mkdtemp in /tmp: %s\n",
		        strerror(errno));
		return -1;
	}
	return spawn_and_wait(b);
}

int harness_restart(struct broker_proc *b)
{
	return spawn_and_wait(b);
}

int harness_stop(struct broker_proc *b, int sig)
{
	return broker_proc_stop(b, sig, -1);
}

void harness_cleanup(struct broker_proc *b)
{
	if (b->pid > 0)
		harness_stop(b, SIGKILL);
	broker_proc_remove(b);
}

/* ---- the fixture ----------------------------------------------------- */

struct broker_proc *harness_new(const char *const *extra)
{
	struct broker_proc *b = calloc(1, sizeof *b);

	if (b == NULL)
		return NULL;
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (i + 1 == BROKER_PROC_EXTRA_MAX) {
			fprintf(stderr, "harness: more than %d arguments\n",
			        BROKER_PROC_EXTRA_MAX - 1);
			free(b);
			return NULL;
		}
		b->extra[i] = extra[i];
	}
	if (harness_start(b) < 0) {
		harness_free(b);
		return NULL;
	}
	return b;
}

void harness_free(struct broker_proc *b)
{
	if (b == NULL)
		return;
	harness_cleanup(b);
	free(b);
}

int harness_setup_with(void **state, const char *const *extra)
{
	*state = harness_new(extra);
	return *state != NULL ? 0 : -1;
}

int harness_setup(void **state)
{
	return harness_setup_with(state, NULL);
}

int harness_teardown(void **state)
{
	harness_free(*state);
	*state = NULL;
	return 0;
}

logbus_publisher *harness_publisher(const char *run_dir, const char *service)
{
	logbus_publisher_options o = {.run_dir = run_dir, .service = service};
	logbus_publisher *p = NULL;

	assert_int_equal(logbus_publisher_open(&p, &o), LOGBUS_OK);
	return p;
}

uint64_t harness_read_each(const logbus_reader_options *o,
                           void (*each)(const logbus_record *, void *),
                           void *arg)
{
	logbus_reader *r;
	const logbus_record *rec;
	uint64_t last = 0;
	int rv;

	assert_int_equal(logbus_reader_open(&r, o), LOGBUS_OK);
	while ((rv = logbus_reader_next(r, &rec, -1)) == 1) {
		last = rec->seq;
		if (each != NULL &&
		    strcmp(rec->service, HARNESS_SELF_SERVICE) != 0)
			each(rec, arg);
	}
	if (rv != 0)
		fail_msg("logbus_reader_next: %s: %s", logbus_strerror(rv),
		         logbus_reader_error(r));
	logbus_reader_close(r);
	return last;
}

/* ---- programs -------------------------------------------------------- */

/* Read two pipes to the end without deadlocking on either. */
static void read_both(int fo, int fe, char **out, char **err)
{
	size_t cap[2] = {4096, 4096}, len[2] = {0, 0};
	char *buf[2] = {malloc(cap[0]), malloc(cap[1])};
	struct pollfd pfd[2] = {{.fd = fo, .events = POLLIN},
	                        {.fd = fe, .events = POLLIN}};
	int open_fds = 2;

	while (open_fds > 0 && poll(pfd, 2, -1) >= 0) {
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (len[i] + 4096 + 1 > cap[i]) {
				cap[i] *= 2;
				buf[i] = realloc(buf[i], cap[i]);
			}
			ssize_t n = read(pfd[i].fd, buf[i] + len[i], 4096);
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
			} else {
				len[i] += (size_t)n;
			}
		}
	}
	buf[0][len[0]] = '\0';
	buf[1][len[1]] = '\0';
	*out = buf[0];
	*err = buf[1];
}

int harness_run(const char *const argv[], const char *stdin_text, char **out,
                char **err)
{
	int po[2], pe[2], pi[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = -1;

	if (pipe(po) < 0 || pipe(pe) < 0 || pipe(pi) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addclose(&fa, pi[1]);
	posix_spawn_file_actions_addclose(&fa, po[0]);
	posix_spawn_file_actions_addclose(&fa, pe[0]);
	int rv = posix_spawn(&pid, argv[0], &fa, NULL, (char **)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	if (rv == 0 && stdin_text) {
		signal(SIGPIPE, SIG_IGN);
		size_t n = strlen(stdin_text), off = 0;
		while (off < n) {
			ssize_t w = write(pi[1], stdin_text + off, n - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	close(pi[1]);
	read_both(po[0], pe[0], out, err);
	if (rv != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

char *harness_filled(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

void harness_need_nobody(void)
{
	if (geteuid() != 0 || getpwnam("nobody") == NULL ||
	    access("/usr/bin/setpriv", X_OK) != 0) {
		print_message("  skipped: needs root, /usr/bin/setpriv and a "
		              "user nobody\n");
		skip();
	}
}

int harness_run_as_nobody(const char *const argv[], char **out, char **err)
{
	const struct passwd *pw = getpwnam("nobody");
	char uid[16], gid[16];
	const char *v[24] = {"/usr/bin/setpriv", "--reuid", uid,
	                     "--regid",          gid,       "--clear-groups"};
	size_t n = 6;

	assert_non_null(pw);
	snprintf(uid, sizeof uid, "%u", (unsigned)pw->pw_uid);
	snprintf(gid, sizeof gid, "%u", (unsigned)pw->pw_gid);
	for (size_t i = 0; argv[i] != NULL; i++) {
		assert_true(n + 1 < sizeof v / sizeof v[0]);
		v[n++] = argv[i];
	}
	v[n] = NULL;
	return harness_run(v, NULL, out, err);
}
