/*
 * harness.h: integration tests run a real logbusd in a temporary directory
 * and talk to it through the real library and CLI.  Waiting is always on a
 * condition with a generous bound, never a fixed sleep.
 */
#ifndef LOGBUS_TEST_HARNESS_H
#define LOGBUS_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_WAIT_MS 15000

struct broker_proc {
	pid_t pid;
	char dir[256]; /* the temporary directory, removed at cleanup */
	char run_dir[320];
	char log_dir[320];
	char stderr_path[320];
	const char *extra[16]; /* extra logbusd arguments, NULL-terminated */
};

/* Make the temporary directory and start logbusd; waits until it serves. */
int harness_start(struct broker_proc *b);
/* Start again on the same directories (after a stop or a kill). */
int harness_restart(struct broker_proc *b);
/* Send sig and wait for the process; returns its wait status. */
int harness_stop(struct broker_proc *b, int sig);
/* Stop if running and remove the directory. */
void harness_cleanup(struct broker_proc *b);

/* Poll cond every 10 ms until it is true or timeout_ms passed. */
bool harness_wait(bool (*cond)(void *), void *arg, int timeout_ms);

/* Run a program (argv[0] a path), capture stdout and stderr (malloc'd,
 * NUL-terminated; free them) and return its wait status.  stdin_text, if
 * not NULL, is written to its standard input. */
int harness_run(const char *const argv[], const char *stdin_text, char **out,
                char **err);

/* A whole file, malloc'd and NUL-terminated, or NULL. */
char *harness_slurp(const char *path, size_t *len);

/* Path of a built program (logbusd, logbusctl). */
const char *harness_bin(const char *name, char *buf, size_t len);

#endif
