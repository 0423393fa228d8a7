/*
 * broker_proc.h: a real logbusd as a child process, in a temporary
 * directory of its own.  logbus-bench (tools/bench/bench_broker.c) and the
 * integration tests (tests/harness.c) both start their brokers with it.
 */
#ifndef LOGBUS_TOOLS_BROKER_PROC_H
#define LOGBUS_TOOLS_BROKER_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BROKER_PROC_EXTRA_MAX 16

struct broker_proc {
	pid_t pid;     /* 0 or -1: not running */
	char dir[256]; /* the temporary directory; "" once removed */
	char run_dir[320];
	char log_dir[320];
	char journal_dir[340];
	char stderr_path[320];
	char bin[4096]; /* the logbusd to run: the caller fills it in */
	/* more logbusd arguments, NULL-terminated */
	const char *extra[BROKER_PROC_EXTRA_MAX];
	int64_t spawn_ns; /* CLOCK_MONOTONIC just before the last spawn */
	/* its wait status when broker_proc_wait found it dead (EXITED),
	 * -1 when that wait did not reap it */
	int exit_status;
};

enum broker_proc_wait {
	BROKER_PROC_SERVING, /* it said "logbusd: serving ..., pid N" */
	BROKER_PROC_EXITED,  /* it died (reaped; pid is -1) */
	BROKER_PROC_TIMEOUT, /* neither within the time, or told to stop */
};

/* Make the directory tmpdir/<prefix>XXXXXX and name run/, log/,
 * log/journal/ and logbusd.stderr in it (logbusd makes them).  -1 with
 * errno set (ENAMETOOLONG for a tmpdir too long) and b->dir "". */
int broker_proc_init(struct broker_proc *b, const char *tmpdir,
                     const char *prefix);

/* Start "bin --run-dir R --log-dir L extra..." with stdin and stdout on
 * /dev/null and stderr appended to stderr_path; does not wait.  An errno
 * value when posix_spawn failed (pid is then -1), else 0. */
int broker_proc_spawn(struct broker_proc *b);

/* Wait until it serves, dies, timeout_ms passes or *stop (when not NULL)
 * becomes nonzero, looking every 10 ms.  A death's wait status is left in
 * exit_status. */
enum broker_proc_wait broker_proc_wait(struct broker_proc *b, int timeout_ms,
                                       const volatile sig_atomic_t *stop);

/* Send sig and wait for the exit, with SIGKILL after kill_after_ms (never
 * when negative).  Its wait status, or -1 when it was not running. */
int broker_proc_stop(struct broker_proc *b, int sig, int kill_after_ms);

/* The last line of its stderr, or "nothing on its stderr". */
void broker_proc_last_line(const struct broker_proc *b, char *buf, size_t len);

/* Remove the directory (stop the broker first). */
void broker_proc_remove(struct broker_proc *b);

#endif
