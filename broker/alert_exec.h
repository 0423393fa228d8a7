/*
 * alert_exec.h: run an alert's command (exec =) without a shell, with the
 * record on its standard input, and wait for it, at most a timeout.
 *
 * Called on a rule's worker thread (alerts.c), never on the broker's loop.
 * The command is started with posix_spawn (nng is not fork-safe: the child
 * does nothing before exec) in a process group of its own, so that a
 * timeout or a stopping broker kills what it started too.  Its standard
 * output goes to /dev/null; the last ALERT_STDERR_MAX bytes of its
 * standard error are kept for the journal.
 */
#ifndef LOGBUS_ALERT_EXEC_H
#define LOGBUS_ALERT_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define ALERT_STDERR_MAX 1024

struct alert_exec_result {
	int status;      /* waitpid's, when the command ran */
	bool timed_out;  /* killed at the timeout */
	bool cancelled;  /* killed because *cancel was set */
	char error[256]; /* it could not be started: why; else "" */
	char err[ALERT_STDERR_MAX + 1]; /* its stderr's last bytes */
	size_t err_len;
};

/* Run argv (PATH searched) with environ plus env (NULL-terminated
 * "KEY=VALUE"), in (inlen bytes) on its stdin.  Returns 0 when it ran
 * (res says how it ended), -1 when it could not be started. */
int alert_exec_run(char *const argv[], char *const env[], const char *in,
                   size_t inlen, double timeout_s, const atomic_bool *cancel,
                   struct alert_exec_result *res);

/* "exited with 0", "exited with 3", "killed by SIGKILL (timeout 30s)". */
void alert_exec_describe(const struct alert_exec_result *res, double timeout_s,
                         char *buf, size_t len);

#endif
