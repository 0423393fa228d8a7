/*
 * bench_broker.c: a real logbusd for logbus-bench, in a temporary directory.
 *
 * The broker is the logbusd next to logbus-bench's own executable, started
 * with default options except --max-total (a benchmark's journal must not
 * lose its oldest segments half-way) and waited for until its stderr says
 * "logbusd: serving ..., pid N".  broker_cleanup() stops it and removes the
 * directory on every path, error paths included.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

#define BROKER_WAIT_MS   10000 /* for "serving ... pid N" */
#define BROKER_STOP_MS   10000 /* after SIGTERM, then SIGKILL */
#define BROKER_MAX_TOTAL "64G"
/* The per-service rate limit (1,000,000 records per 30 s by default) would
 * drop part of a run of a million records from one service: a benchmark
 * measures throughput, so its broker has none. */
#define BROKER_RATE_BURST "0"

/* logbusd next to this program's executable. */
static int broker_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;

	if (n < 0)
		return fail("cannot read /proc/self/exe (%s)", strerror(errno));
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/logbusd", exe) >= len)
		return fail("path of logbusd too long: %s/logbusd", exe);
	if (access(buf, X_OK) < 0)
		return fail("cannot run %s (%s): build it, or give the run "
		            "directory of a running logbusd with --run-dir",
		            buf, strerror(errno));
	return 0;
}

/* The broker's stderr has "logbusd: serving ..., pid N" for our child. */
static bool broker_serving(const struct bench_broker *b)
{
	char want[64];
	char *log = slurp(b->stderr_path);
	bool ok = false;

	if (log == NULL)
		return false;
	snprintf(want, sizeof want, ", pid %ld\n", (long)b->pid);
	for (char *line = log; line != NULL && *line != '\0' && !ok;) {
		char *end = strchr(line, '\n');
		if (end == NULL)
			break; /* a line still being written */
		if (strncmp(line, "logbusd: serving ", 17) == 0 &&
		    (size_t)(end + 1 - line) >= strlen(want) &&
		    strncmp(end + 1 - strlen(want), want, strlen(want)) == 0)
			ok = true;
		line = end + 1;
	}
	free(log);
	return ok;
}

/* The last line of the broker's stderr, for a message. */
static void broker_last_words(const struct bench_broker *b, char *buf,
                              size_t len)
{
	char *log = slurp(b->stderr_path);
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

int broker_stop(struct bench_broker *b)
{
	int status = 0;

	if (b->pid <= 0)
		return 0;
	kill(b->pid, SIGTERM);
	for (int waited = 0;; waited += 10) {
		pid_t w = waitpid(b->pid, &status, WNOHANG);
		if (w == b->pid || (w < 0 && errno != EINTR))
			break;
		if (waited == BROKER_STOP_MS) {
			kill(b->pid, SIGKILL);
			while (waitpid(b->pid, &status, 0) < 0 &&
			       errno == EINTR)
				;
			break;
		}
		sleep_ms(10);
	}
	b->pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return fail("logbusd in %s did not stop cleanly (status 0x%x)", b->dir,
	            (unsigned)status);
}

void broker_cleanup(struct bench_broker *b)
{
	if (b->pid > 0)
		broker_stop(b);
	if (b->dir[0] != '\0')
		remove_tree(b->dir);
	b->dir[0] = '\0';
}

int broker_spawn(struct bench_broker *b)
{
	posix_spawn_file_actions_t fa;
	int rv;
	char *argv[] = {b->bin,           "--run-dir",    b->run_dir,
	                "--log-dir",      b->log_dir,     "--max-total",
	                BROKER_MAX_TOTAL, "--rate-burst", BROKER_RATE_BURST,
	                "--config",       "/dev/null",    NULL};

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, b->stderr_path,
	                                 O_WRONLY | O_CREAT | O_APPEND, 0644);
	b->exec_ns = clock_ns(CLOCK_MONOTONIC);
	rv = posix_spawn(&b->pid, b->bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0) {
		b->pid = -1;
		return fail("cannot start %s (%s)", b->bin, strerror(rv));
	}
	return 0;
}

int broker_start(struct bench_broker *b)
{
	const char *tmp = getenv("TMPDIR");
	char why[512];
	int rv;

	b->pid = -1;
	b->dir[0] = '\0';
	if ((rv = broker_path(b->bin, sizeof b->bin)) != 0)
		return rv;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(b->dir, sizeof b->dir, "%s/logbus-bench.XXXXXX",
	                     tmp) >= sizeof b->dir) {
		b->dir[0] = '\0';
		return fail("TMPDIR too long: %s", tmp);
	}
	if (mkdtemp(b->dir) == NULL) {
		rv = fail("cannot make a temporary directory %s (%s)", b->dir,
		          strerror(errno));
		b->dir[0] = '\0';
		return rv;
	}
	snprintf(b->run_dir, sizeof b->run_dir, "%s/run", b->dir);
	snprintf(b->log_dir, sizeof b->log_dir, "%s/log", b->dir);
	snprintf(b->journal_dir, sizeof b->journal_dir, "%s/journal",
	         b->log_dir);
	snprintf(b->stderr_path, sizeof b->stderr_path, "%s/logbusd.stderr",
	         b->dir);

	if ((rv = broker_spawn(b)) != 0) {
		broker_cleanup(b);
		return rv;
	}
	for (int waited = 0;; waited += 10) {
		int status;
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = -1;
			broker_last_words(b, why, sizeof why);
			broker_cleanup(b);
			return fail("%s exited at start: %s", b->bin, why);
		}
		if (broker_serving(b))
			return 0;
		if (waited >= BROKER_WAIT_MS || bench_interrupted) {
			broker_last_words(b, why, sizeof why);
			broker_cleanup(b);
			if (bench_interrupted)
				return fail("interrupted");
			return fail("%s did not say it serves within %d s: %s",
			            b->bin, BROKER_WAIT_MS / 1000, why);
		}
		sleep_ms(10);
	}
}
