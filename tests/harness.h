/*
 * harness.h: integration tests run a real logbusd in a temporary directory
 * and talk to it through the real library and CLI.  Every test gets its
 * broker from the one fixture below (harness_setup and harness_teardown,
 * or harness_new and harness_free inside a bigger fixture).  Waiting is
 * always on a condition with a generous bound, never a fixed sleep.
 */
#ifndef LOGBUS_TEST_HARNESS_H
#define LOGBUS_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "broker_proc.h" /* tools/: the same spawner as logbus-bench's */
#include "files.h"       /* tools/: files_slurp, files_remove_tree */
#include "logbus/logbus.h"

#define HARNESS_WAIT_MS 15000
/* HARNESS_WAIT_MS, or ten times it under valgrind (LOGBUS_VALGRIND=1). */
int harness_wait_ms(void);
/* A bound on a wait that should end well before it: ms, or ten times ms
 * under valgrind, where everything runs that much slower (lib.sh's
 * WAIT_SCALE).  Not for a wait a test expects to time out. */
int harness_ms(int ms);

/* Make a temporary directory and start logbusd in it with b->extra;
 * waits until it serves.  On failure the broker is stopped and its stderr
 * shown; harness_cleanup still removes the directory. */
int harness_start(struct broker_proc *b);
/* Start again on the same directories (after a stop or a kill). */
int harness_restart(struct broker_proc *b);
/* Send sig and wait for the process; returns its wait status. */
int harness_stop(struct broker_proc *b, int sig);
/* Stop if running (SIGKILL) and remove the directory. */
void harness_cleanup(struct broker_proc *b);

/*
 * The fixture of every integration test.  harness_new: a started broker
 * with the extra logbusd arguments (NULL-terminated, or NULL), malloc'd, or
 * NULL with nothing left behind; harness_free: stop it, remove its
 * directory, free it (NULL is fine).  As cmocka setups and teardown, *state
 * is that broker:
 *
 *	static int setup_small_journal(void **state)
 *	{
 *		static const char *const extra[] = {"--max-total", "32K", NULL};
 *		return harness_setup_with(state, extra);
 *	}
 */
struct broker_proc *harness_new(const char *const *extra);
void harness_free(struct broker_proc *b);
int harness_setup(void **state);
int harness_setup_with(void **state, const char *const *extra);
int harness_teardown(void **state);

/* A publisher of service on the broker of run_dir; fails the test when it
 * cannot open. */
logbus_publisher *harness_publisher(const char *run_dir, const char *service);

/* The service of the records the broker writes itself (its start, signals,
 * warnings), among the tests' records. */
#define HARNESS_SELF_SERVICE "logbusd"

/* Read to the end what o selects, calling each(rec, arg) (when not NULL)
 * for every record but the broker's own; fails the test when the reader
 * cannot open or ends with an error.  The seq of the last record read, the
 * broker's included (0: none). */
uint64_t harness_read_each(const logbus_reader_options *o,
                           void (*each)(const logbus_record *, void *),
                           void *arg);

/* Poll cond every 10 ms until it is true or timeout_ms passed. */
bool harness_wait(bool (*cond)(void *), void *arg, int timeout_ms);
/* A cond for harness_wait: the broker of run_dir (a char *) has a live
 * subscriber connected. */
bool harness_has_subscriber(void *run_dir);

/* Run a program (argv[0] a path), capture stdout and stderr (malloc'd,
 * NUL-terminated; free them) and return its wait status.  stdin_text, if
 * not NULL, is written to its standard input. */
int harness_run(const char *const argv[], const char *stdin_text, char **out,
                char **err);

/* Skip the test (cmocka's skip, with a line saying why) unless programs
 * can run as the user nobody: root, /usr/bin/setpriv and a user nobody. */
void harness_need_nobody(void);
/* harness_run as nobody (its uid and primary group, no other group)
 * through setpriv; argv[0] a path, at most 16 arguments.  Call
 * harness_need_nobody first. */
int harness_run_as_nobody(const char *const argv[], char **out, char **err);

/* A malloc'd string of n times c; fails the test when out of memory. */
char *harness_filled(char c, size_t n);

/* Path of a built program (logbusd, logbusctl). */
const char *harness_bin(const char *name, char *buf, size_t len);

#endif
