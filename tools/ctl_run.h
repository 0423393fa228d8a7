/*
 * ctl_run.h: what the parts of `logbusctl run` share.  ctl_run.c is the
 * supervisor (the command, its output, its exit report; the level a line
 * names itself is logbus_line_level's); ctl_run_watch.c is the
 * watcher, a second process that reports the command's end when logbusctl
 * run itself is killed (with SIGKILL nothing else can).
 */
#ifndef LOGBUS_TOOLS_CTL_RUN_H
#define LOGBUS_TOOLS_CTL_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <logbus/logbus.h>

/* The command line of a run, as parsed (the watcher gets it again on its
 * own command line). */
struct run_args {
	char *run_dir;
	const char *service;
	const char *logger; /* NULL: the service id */
	const char *cwd;    /* as given; NULL: ours */
	const char *venv;
	int stdout_level, stderr_level;
	bool detect_level; /* a line's own level before the stream's */
	size_t tail_bytes;
	int timeout_ms;
	int64_t time_limit_ms; /* --time-limit; 0: none */
	char **argv;           /* the command, NULL-terminated */
	int argc;
};

/* How the command ended, for its exit report. */
struct run_end {
	pid_t pid;
	int status;      /* the wait status */
	bool timed_out;  /* we stopped it at --time-limit */
	bool oom_killed; /* SIGKILL while our cgroup's OOM kills rose */
};

/*
 * The exit report of a's command, ended as end says: its command line,
 * cwd and venv (absolute, NULL: none) made UTF-8, the tails, a's logger.
 * logbus_report_exit's result; LOGBUS_ENOMEM when a copy could not be
 * made.
 */
int run_report_send(logbus_publisher *pub, const struct run_args *a,
                    const char *cwd, const char *venv,
                    const struct run_end *end, logbus_tail *err,
                    logbus_tail *out, int timeout_ms);

/* ---- ctl_run_watch.c ----------------------------------------------------- */

struct run_watch;

/*
 * Start the watcher of a's command, pid, run in cwd with venv (NULL:
 * none); group is the process group to kill with the command (0: none).
 * mask is the signal mask the watcher starts with.  NULL, after a
 * warning, when it could not be started: the command then only dies with
 * us (PR_SET_PDEATHSIG) and nothing reports it.
 */
struct run_watch *run_watch_start(const struct run_args *a, const char *cwd,
                                  const char *venv, pid_t pid, pid_t group,
                                  const sigset_t *mask);

/* Bytes the command wrote on stream (stdout or stderr): the watcher's copy
 * of the tails.  w may be NULL. */
void run_watch_output(struct run_watch *w, enum logbus_stream stream,
                      const void *p, size_t n);

/* The command ended with wait status status (before it is reaped). */
void run_watch_ended(struct run_watch *w, int status);

/* Our exit report is done (or given up): the watcher leaves without a
 * word.  Frees w. */
void run_watch_done(struct run_watch *w);

/* `logbusctl run --as-watcher ...`: the watcher process itself. */
int run_watch_main(int argc, char **argv);
#define RUN_WATCH_ARG "--as-watcher"

#endif
