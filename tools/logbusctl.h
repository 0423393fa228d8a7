/*
 * logbusctl.h: what logbusctl's command files share (logbusctl.c holds the
 * table of commands, the shared option handling and the messages;
 * ctl_run.c holds `logbusctl run`).
 *
 * Every message a user sees is one line on stderr starting "logbusctl: ";
 * exit status 0 done, 1 the operation failed, 2 the command line is wrong.
 */
#ifndef LOGBUS_TOOLS_LOGBUSCTL_H
#define LOGBUS_TOOLS_LOGBUSCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_S      86400

/* Long-only options get values above any character; a command file's own
 * start at OPT_COMMAND_BASE. */
enum {
	OPT_RUN_DIR = 0x100,
	OPT_TIMEOUT,
	OPT_STREAM,
	OPT_AFTER_CURSOR,
	OPT_SHOW_CURSOR,
	OPT_CURSOR_FILE,
	OPT_NO_COLOR,
	OPT_NO_PAGER,
	OPT_COMMAND_BASE = 0x200,
};

/* The options every command takes, at the end of each command's table. */
/* clang-format off */
#define COMMON_LONG_OPTIONS \
	{"run-dir", required_argument, NULL, OPT_RUN_DIR}, \
	{"help", no_argument, NULL, 'h'}
/* clang-format on */

#define RUN_DIR_HELP                                                           \
	"      --run-dir DIR      logbusd's run directory (default: "          \
	"$LOGBUS_RUN_DIR,\n"                                                   \
	"                         /run/logbus as root, "                       \
	"$XDG_RUNTIME_DIR/logbus,\n"                                           \
	"                         /tmp/logbus-$UID)\n"

#define BAD_LEVEL                                                              \
	"unknown level '%s': use debug, info, warning, error, critical or "    \
	"0..255"
#define BAD_SERVICE                                                            \
	"invalid service id '%s': use 1 to %d letters, digits, '.', '_' or "   \
	"'-', not starting with '.'"
#define BAD_TIMEOUT "bad --timeout '%s': seconds, more than 0 and at most %d"

/* -s SERVICE given and valid: PARSE_OK, else the usage error's status. */
int require_service(const char *cmd, const char *service);

/* What a parse function returns when the command is to run; any other
 * value is the exit status to return at once. */
#define PARSE_OK   -1
#define NOT_COMMON -2

/* A wrong command line: one line with a pointer to the help; returns 2. */
__attribute__((format(printf, 2, 3))) int usage_error(const char *cmd,
                                                      const char *fmt, ...);

/* A failed operation: one line; returns 1. */
__attribute__((format(printf, 1, 2))) int fail(const char *fmt, ...);

/* A warning: one line; the command goes on. */
__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...);

/* -o text|json into *json: PARSE_OK, else the usage error's status. */
int output_text_or_json(const char *cmd, const char *arg, bool *json);

/* getopt_long's '?' and ':' results as a usage error (returns 2). */
int option_error(const char *cmd, int c, char **argv,
                 const struct option *longopts);

/* An option every command shares, or a getopt error: NOT_COMMON when c is
 * none of those, PARSE_OK when handled, else the exit status. */
int common_option(int c, char **argv, char **run_dir,
                  const struct option *longopts);

/* "5", "0.5": seconds, more than 0 and at most a day, in ms. */
bool parse_timeout(const char *s, int *ms);

/* A level name or number into *level. */
bool parse_level(const char *s, int *level);

/* The run directory the library will use, for messages. */
const char *run_dir_name(const char *run_dir, char *buf, size_t len);

/* A handle's error text, or the code's name when the handle has none. */
const char *detail_or(const char *detail, int rc);

/* "2026-11-22 10:00:00", local time. */
void local_time_text(int64_t ns, char *buf, size_t len);

/* An administration call's failure (what: "cannot ..."), as one line;
 * returns 1. */
int admin_failed(const char *what, const char *run_dir, int rc,
                 const char *err);

/* logbusctl stats and services (ctl_stats.c). */
int cmd_stats(int argc, char **argv);
int cmd_services(int argc, char **argv);
extern const char ctl_stats_help[], ctl_services_help[];

/* logbusctl run (ctl_run.c). */
int cmd_run(int argc, char **argv);
extern const char ctl_run_help[];

#endif
