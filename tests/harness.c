/*
 * harness.c: start, stop and clean up a real logbusd for integration tests
 * (harness.h).  The broker is started with posix_spawn, so that a test
 * process that already runs nng threads never forks without exec.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *harness_bin(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", LOGBUS_BIN_DIR, name);
	return buf;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

char *harness_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		if (len)
			*len = n;
	}
	return buf;
}

struct serving {
	struct broker_proc *b;
};

/* The broker says "serving ... pid N" once every socket listens. */
static bool is_serving(void *arg)
{
	struct broker_proc *b = arg;
	char want[64];
	int status;

	if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
		b->pid = -1;
		return true; /* died: stop waiting, the caller checks pid */
	}
	snprintf(want, sizeof want, "), pid %ld\n", (long)b->pid);
	char *log = harness_slurp(b->stderr_path, NULL);
	bool ok = log && strstr(log, want);
	free(log);
	return ok;
}

static int spawn_broker(struct broker_proc *b)
{
	char bin[512];
	const char *argv[32];
	int n = 0;
	posix_spawn_file_actions_t fa;

	argv[n++] = harness_bin("logbusd", bin, sizeof bin);
	argv[n++] = "--run-dir";
	argv[n++] = b->run_dir;
	argv[n++] = "--log-dir";
	argv[n++] = b->log_dir;
	for (int i = 0; b->extra[i] && n < 30; i++)
		argv[n++] = b->extra[i];
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, b->stderr_path,
	                                 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int rv =
	    posix_spawn(&b->pid, argv[0], &fa, NULL, (char **)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0) {
		fprintf(stderr, "harness: cannot start %s: %s\n", argv[0],
		        strerror(rv));
		b->pid = -1;
		return -1;
	}
	if (!harness_wait(is_serving, b, HARNESS_WAIT_MS) || b->pid < 0) {
		char *log = harness_slurp(b->stderr_path, NULL);
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
	snprintf(b->dir, sizeof b->dir, "/tmp/logbus-test-XXXXXX");
	if (mkdtemp(b->dir) == NULL) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(b->run_dir, sizeof b->run_dir, "%s/run", b->dir);
	snprintf(b->log_dir, sizeof b->log_dir, "%s/log", b->dir);
	snprintf(b->stderr_path, sizeof b->stderr_path, "%s/logbusd.stderr",
	         b->dir);
	return spawn_broker(b);
}

int harness_restart(struct broker_proc *b)
{
	return spawn_broker(b);
}

int harness_stop(struct broker_proc *b, int sig)
{
	int status = -1;

	if (b->pid <= 0)
		return -1;
	kill(b->pid, sig);
	while (waitpid(b->pid, &status, 0) < 0 && errno == EINTR)
		;
	b->pid = -1;
	return status;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void harness_cleanup(struct broker_proc *b)
{
	if (b->pid > 0)
		harness_stop(b, SIGKILL);
	if (b->dir[0])
		nftw(b->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	b->dir[0] = '\0';
}

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
