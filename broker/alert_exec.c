/*
 * alert_exec.c: an alert's command, run and waited for (alert_exec.h).
 *
 * The record goes to the command through a socket pair, not a pipe:
 * send(MSG_NOSIGNAL) makes a command that exits without reading its input
 * an EPIPE here instead of a SIGPIPE that would end the broker.  One poll
 * loop writes the input, reads stderr and notices the end; the command's
 * exit is checked every POLL_MS, so a grandchild that keeps stderr open
 * cannot hold the rule's worker.
 *
 * Invariant: every command started is waited for (no zombie), and killed
 * with its whole process group when the timeout passes or *cancel is set.
 * The broker's loop is not libev's default loop, which would reap children
 * it does not know (broker.c).
 */
#include "alert_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitinfo.h"

#define POLL_MS 50

extern char **environ;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* environ with env's entries in front (the first of a name wins in
 * getenv, and env's names are ours: LOGBUS_*). */
static char **merged_env(char *const env[])
{
	size_t n = 0, m = 0;

	while (env[n])
		n++;
	while (environ && environ[m])
		m++;
	char **v = calloc(n + m + 1, sizeof *v);
	if (v == NULL)
		return NULL;
	memcpy(v, env, n * sizeof *v);
	size_t k = n;
	for (size_t i = 0; i < m; i++)
		if (strncmp(environ[i], "LOGBUS_", 7) != 0)
			v[k++] = environ[i];
	v[k] = NULL;
	return v;
}

/* Keep the last ALERT_STDERR_MAX bytes of what the command wrote. */
static void keep_err(struct alert_exec_result *res, const char *p, size_t n)
{
	if (n >= ALERT_STDERR_MAX) {
		memcpy(res->err, p + n - ALERT_STDERR_MAX, ALERT_STDERR_MAX);
		res->err_len = ALERT_STDERR_MAX;
		return;
	}
	if (res->err_len + n > ALERT_STDERR_MAX) {
		size_t drop = res->err_len + n - ALERT_STDERR_MAX;
		memmove(res->err, res->err + drop, res->err_len - drop);
		res->err_len -= drop;
	}
	memcpy(res->err + res->err_len, p, n);
	res->err_len += n;
}

static int spawn(pid_t *pid, char *const argv[], char *const env[], int in_fd,
                 int err_fd, struct alert_exec_result *res)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	char **envp = merged_env(env);
	int rv;

	if (envp == NULL) {
		snprintf(res->error, sizeof res->error, "out of memory");
		return -1;
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	posix_spawnattr_init(&at);
	/* a group of its own, a clean signal mask and default dispositions
	 * (the broker's ignored signals are not the command's business) */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	                                  POSIX_SPAWN_SETSIGMASK |
	                                  POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	rv = posix_spawnp(pid, argv[0], &fa, &at, argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	if (rv != 0) {
		snprintf(res->error, sizeof res->error, "cannot run %s: %s",
		         argv[0], strerror(rv));
		return -1;
	}
	return 0;
}

int alert_exec_run(char *const argv[], char *const env[], const char *in,
                   size_t inlen, double timeout_s, const atomic_bool *cancel,
                   struct alert_exec_result *res)
{
	int sv[2] = {-1, -1}, ep[2] = {-1, -1};
	size_t sent = 0;
	pid_t pid;
	int status = 0;
	bool exited = false;

	memset(res, 0, sizeof *res);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(res->error, sizeof res->error,
		         "cannot make the command's pipes: %s",
		         strerror(errno));
		goto fail;
	}
	if (spawn(&pid, argv, env, sv[1], ep[1], res) < 0)
		goto fail;
	close(sv[1]);
	close(ep[1]);
	sv[1] = ep[1] = -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(ep[0], F_SETFL, O_NONBLOCK);
	if (inlen == 0)
		shutdown(sv[0], SHUT_WR);
	double deadline = now_s() + timeout_s;
	while (!exited) {
		struct pollfd p[2] = {
		    {.fd = ep[0], .events = POLLIN},
		    {.fd = sent < inlen ? sv[0] : -1, .events = POLLOUT}};
		if (poll(p, 2, POLL_MS) > 0) {
			if (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
				ssize_t n = send(sv[0], in + sent, inlen - sent,
				                 MSG_NOSIGNAL | MSG_DONTWAIT);
				if (n > 0)
					sent += (size_t)n;
				else if (n < 0 && errno != EAGAIN &&
				         errno != EINTR)
					sent = inlen; /* it does not read */
				if (sent == inlen)
					shutdown(sv[0], SHUT_WR);
			}
			if (p[0].revents & (POLLIN | POLLHUP)) {
				char buf[4096];
				ssize_t n = read(ep[0], buf, sizeof buf);
				if (n > 0)
					keep_err(res, buf, (size_t)n);
				else if (n == 0 || errno != EAGAIN) {
					close(ep[0]); /* poll skips fd -1 */
					ep[0] = -1;
				}
			}
		}
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			exited = true;
			break;
		}
		bool stop = cancel && atomic_load(cancel);
		if (stop || now_s() >= deadline) {
			res->cancelled = stop;
			res->timed_out = !stop;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			exited = true;
		}
	}
	/* what it wrote just before it ended */
	if (ep[0] >= 0) {
		char buf[4096];
		ssize_t n;
		while ((n = read(ep[0], buf, sizeof buf)) > 0)
			keep_err(res, buf, (size_t)n);
	}
	res->err[res->err_len] = '\0';
	res->status = status;
	close(sv[0]);
	if (ep[0] >= 0)
		close(ep[0]);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	return -1;
}

void alert_exec_describe(const struct alert_exec_result *res, double timeout_s,
                         char *buf, size_t len)
{
	char sig[32];

	if (res->error[0])
		snprintf(buf, len, "%s", res->error);
	else if (res->timed_out)
		snprintf(buf, len, "killed at its timeout of %gs", timeout_s);
	else if (res->cancelled)
		snprintf(buf, len,
		         "killed: logbusd is stopping or the rule "
		         "was removed");
	else if (WIFEXITED(res->status))
		snprintf(buf, len, "exited with %d", WEXITSTATUS(res->status));
	else if (WIFSIGNALED(res->status))
		snprintf(
		    buf, len, "killed by %s",
		    exit_signal_name(WTERMSIG(res->status), sig, sizeof sig));
	else
		snprintf(buf, len, "ended with status %d", res->status);
}
