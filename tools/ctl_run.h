/*
 * ctl_run.h: what the parts of `logbusctl run` share.  ctl_run.c is the
 * supervisor (the command, its output, its exit report); ctl_run_level.c
 * reads the level a line of output names itself.
 */
#ifndef LOGBUS_TOOLS_CTL_RUN_H
#define LOGBUS_TOOLS_CTL_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include <logbus/logbus.h>

/* The command line of a run, as parsed. */
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
	char **argv; /* the command, NULL-terminated */
	int argc;
};

/* ---- ctl_run_level.c ----------------------------------------------------- */

/* The level the line s (n bytes, no newline) starts with, or -1. */
int run_line_level(const char *s, size_t n);

#endif
