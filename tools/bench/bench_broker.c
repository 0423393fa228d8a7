/*
 * bench_broker.c: a real logbusd for logbus-bench, in a temporary directory.
 *
 * The broker is the logbusd next to logbus-bench's own executable, started
 * (tools/broker_proc.c) with default options except --max-total (a
 * benchmark's journal must not lose its oldest segments half-way), no rate
 * limit and no configuration file, and waited for until it serves.
 * broker_cleanup() stops it and removes the directory on every path, error
 * paths included.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

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

int broker_stop(struct broker_proc *b)
{
	int status;

	if (b->pid <= 0)
		return 0;
	status = broker_proc_stop(b, SIGTERM, BROKER_STOP_MS);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return fail("logbusd in %s did not stop cleanly (status 0x%x)", b->dir,
	            (unsigned)status);
}

void broker_cleanup(struct broker_proc *b)
{
	if (b->pid > 0)
		broker_stop(b);
	broker_proc_remove(b);
}

int broker_spawn(struct broker_proc *b)
{
	int rv = broker_proc_spawn(b);

	if (rv != 0)
		return fail("cannot start %s (%s)", b->bin, strerror(rv));
	return 0;
}

int broker_start(struct broker_proc *b)
{
	static const char *const extra[] = {"--max-total",
	                                    BROKER_MAX_TOTAL,
	                                    "--rate-burst",
	                                    BROKER_RATE_BURST,
	                                    "--config",
	                                    "/dev/null",
	                                    NULL};
	const char *tmp = getenv("TMPDIR");
	char why[512];
	int rv;

	memset(b, 0, sizeof *b);
	b->pid = -1;
	if ((rv = broker_path(b->bin, sizeof b->bin)) != 0)
		return rv;
	for (size_t i = 0; extra[i] != NULL; i++)
		b->extra[i] = extra[i];
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (broker_proc_init(b, tmp, "logbus-bench.") < 0)
		return fail("cannot make a temporary directory in %s (%s)", tmp,
		            strerror(errno));
	if ((rv = broker_spawn(b)) != 0) {
		broker_cleanup(b);
		return rv;
	}
	switch (broker_proc_wait(b, BROKER_WAIT_MS, &bench_interrupted)) {
	case BROKER_PROC_SERVING:
		return 0;
	case BROKER_PROC_EXITED:
		broker_proc_last_line(b, why, sizeof why);
		broker_cleanup(b);
		return fail("%s exited at start: %s", b->bin, why);
	case BROKER_PROC_TIMEOUT:
		break;
	}
	broker_proc_last_line(b, why, sizeof why);
	broker_cleanup(b);
	if (bench_interrupted)
		return fail("interrupted");
	return fail("%s did not say it serves within %d s: %s", b->bin,
	            BROKER_WAIT_MS / 1000, why);
}
