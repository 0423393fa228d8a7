/*
 * broker_proc.c: start, watch and stop a logbusd child in a temporary
 * directory (broker_proc.h).
 *
 * posix_spawn, never fork: the programs that start brokers run nng threads,
 * and nng is not fork-safe.  A broker is serving once its stderr has the
 * line "logbusd: serving ..., pid N" with its own pid: every socket listens
 * by then, and a line from an earlier broker in the same file (a restart)
 * names another pid.
 */
#include "broker_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "timefmt.h"

extern char **environ;

#define POLL_MS 10

static void sleep_poll(void)
{
	struct timespec ts = {0, POLL_MS * 1000000L};

	nanosleep(&ts, NULL);
}

int broker_proc_init(struct broker_proc *b, const char *tmpdir,
                     const char *prefix)
{
	b->pid = -1;
	if ((size_t)snprintf(b->dir, sizeof b->dir, "%s/%sXXXXXX", tmpdir,
	                     prefix) >= sizeof b->dir) {
		b->dir[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdtemp(b->dir) == NULL) {
		int e = errno;
		b->dir[0] = '\0';
		errno = e;
		return -1;
	}
	snprintf(b->run_dir, sizeof b->run_dir, "%s/run", b->dir);
	snprintf(b->log_dir, sizeof b->log_dir, "%s/log", b->dir);
	snprintf(b->journal_dir, sizeof b->journal_dir, "%s/journal",
	         b->log_dir);
	snprintf(b->stderr_path, sizeof b->stderr_path, "%s/logbusd.stderr",
	         b->dir);
	return 0;
}

int broker_proc_spawn(struct broker_proc *b)
{
	const char *argv[5 + BROKER_PROC_EXTRA_MAX + 1];
	posix_spawn_file_actions_t fa;
	size_t n = 0;
	int rv;

	argv[n++] = b->bin;
	argv[n++] = "--run-dir";
	argv[n++] = b->run_dir;
	argv[n++] = "--log-dir";
	argv[n++] = b->log_dir;
	for (size_t i = 0; i < BROKER_PROC_EXTRA_MAX && b->extra[i]; i++)
		argv[n++] = b->extra[i];
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, b->stderr_path,
	                                 O_WRONLY | O_CREAT | O_APPEND, 0644);
	b->spawn_ns = timefmt_mono_ns();
	rv = posix_spawn(&b->pid, b->bin, &fa, NULL, (char **)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0)
		b->pid = -1;
	return rv;
}

/* Its stderr has a whole line "logbusd: serving ..., pid N" for our N. */
static bool is_serving(const struct broker_proc *b)
{
	char want[64];
	size_t wlen;
	char *log = files_slurp(b->stderr_path, NULL);
	bool ok = false;

	if (log == NULL)
		return false;
	wlen = (size_t)snprintf(want, sizeof want, ", pid %ld\n", (long)b->pid);
	for (char *line = log; *line != '\0' && !ok;) {
		char *end = strchr(line, '\n');
		if (end == NULL)
			break; /* a line still being written */
		if (strncmp(line, "logbusd: serving ", 17) == 0 &&
		    (size_t)(end + 1 - line) >= wlen &&
		    strncmp(end + 1 - wlen, want, wlen) == 0)
			ok = true;
		line = end + 1;
	}
	free(log);
	return ok;
}

enum broker_proc_wait broker_proc_wait(struct broker_proc *b, int timeout_ms,
                                       const volatile sig_atomic_t *stop)
{
	int64_t end = timefmt_mono_ns() + (int64_t)timeout_ms * 1000000;
	int status;

	b->exit_status = -1;
	for (;;) {
		if (b->pid <= 0) {
			b->pid = -1;
			return BROKER_PROC_EXITED;
		}
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = -1;
			b->exit_status = status;
			return BROKER_PROC_EXITED;
		}
		if (is_serving(b))
			return BROKER_PROC_SERVING;
		if (timefmt_mono_ns() >= end || (stop != NULL && *stop))
			return BROKER_PROC_TIMEOUT;
		sleep_poll();
	}
}

int broker_proc_stop(struct broker_proc *b, int sig, int kill_after_ms)
{
	int64_t end = timefmt_mono_ns() + (int64_t)kill_after_ms * 1000000;
	int status = -1;

	if (b->pid <= 0)
		return -1;
	kill(b->pid, sig);
	for (;;) {
		pid_t w =
		    waitpid(b->pid, &status, kill_after_ms < 0 ? 0 : WNOHANG);
		if (w == b->pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && timefmt_mono_ns() >= end) {
			kill(b->pid, SIGKILL);
			while (waitpid(b->pid, &status, 0) < 0 &&
			       errno == EINTR)
				;
			break;
		}
		if (w == 0)
			sleep_poll();
	}
	b->pid = -1;
	return status;
}

void broker_proc_last_line(const struct broker_proc *b, char *buf, size_t len)
{
	char *log = files_slurp(b->stderr_path, NULL);
	char *end, *start;

	snprintf(buf, len, "nothing on its stderr");
	if (log == NULL)
		return;
	end = log + strlen(log);
	while (end > log && end[-1] == '\n')
		end--;
	*end = '\0';
	start = strrchr(log, '\n');
	start = start ? start + 1 : log;
	if (*start != '\0')
		snprintf(buf, len, "%s", start);
	free(log);
}

void broker_proc_remove(struct broker_proc *b)
{
	if (b->dir[0] != '\0')
		files_remove_tree(b->dir);
	b->dir[0] = '\0';
}
