/*
 * logbusctl.h: what logbusctl's files share.  logbusctl.c holds main() and
 * the table of commands; a file per command holds its options, its work
 * and its help text (ctl_publish.c, ctl_tail.c, ctl_run.c, ctl_errors.c,
 * ctl_stats.c, ctl_rotate.c); the rest is what several commands use:
 * ctl_messages.c (what a user reads on stderr), ctl_options.c (the options
 * every command takes), ctl_output.c (standard output and records as
 * text), ctl_time.c (times on the command line), ctl_cursor_file.c (tail's
 * --cursor-file), and tail's journalctl habits: ctl_priority.c (-p),
 * ctl_matches.c (_PID=, _UID=, ...), ctl_journal.c (--disk-usage,
 * --vacuum-*).
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
#include <stdio.h>

#include <logbus/logbus.h>

#include "strbuf.h"

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

#define BAD_TIME                                                               \
	"bad %s '%s': use 2026-11-22T10:00:00Z, '2026-11-22 10:00:00', "       \
	"2026-11-22, -10min, '2h ago', today, yesterday or now"

/* ---- the commands (a file each) ---------------------------------------- */

int cmd_publish(int argc, char **argv); /* ctl_publish.c */
int cmd_tail(int argc, char **argv);    /* ctl_tail.c */
int cmd_run(int argc, char **argv);     /* ctl_run.c */
int cmd_errors(int argc, char **argv);  /* ctl_errors.c */
int cmd_stats(int argc, char **argv);   /* ctl_stats.c */
int cmd_services(int argc, char **argv);
int cmd_rotate(int argc, char **argv); /* ctl_rotate.c */
int cmd_query(int argc, char **argv);  /* ctl_query.c */
int cmd_alerts(int argc, char **argv); /* ctl_alerts.c */
extern const char ctl_publish_help[], ctl_tail_help[], ctl_run_help[],
    ctl_errors_help[], ctl_stats_help[], ctl_services_help[], ctl_rotate_help[],
    ctl_query_help[], ctl_alerts_help[];

/* COMMAND's help text on f (logbusctl.c). */
void command_help(const char *name, FILE *f);

/* ---- messages (ctl_messages.c) ----------------------------------------- */

/* A wrong command line: one line with a pointer to the help; returns 2. */
__attribute__((format(printf, 2, 3))) int usage_error(const char *cmd,
                                                      const char *fmt, ...);

/* A failed operation: one line; returns 1. */
__attribute__((format(printf, 1, 2))) int fail(const char *fmt, ...);

/* A warning: one line; the command goes on. */
__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...);

/* The run directory the library will use, for messages. */
const char *run_dir_name(const char *run_dir, char *buf, size_t len);

/* A handle's error text, or the code's name when the handle has none. */
const char *detail_or(const char *detail, int rc);

/* An administration call's failure (what: "cannot ..."), as one line;
 * returns 1. */
int admin_failed(const char *what, const char *run_dir, int rc,
                 const char *err);

/* ---- options (ctl_options.c) ------------------------------------------- */

/* What a parse function returns when the command is to run; any other
 * value is the exit status to return at once. */
#define PARSE_OK -1

/*
 * The next of a command's own options, as getopt_long returns it.  The
 * options several commands share are handled here: --run-dir into *run_dir,
 * --timeout into *timeout_ms (NULL when the command has none), --help
 * printed, getopt's errors said.  Returns -1 after the last option, or
 * OPT_STOP when the command is to return *status at once.
 */
#define OPT_STOP -2
int command_getopt(int argc, char **argv, const char *optstring,
                   const struct option *longopts, char **run_dir,
                   int *timeout_ms, int *status);

/* getopt_long's '?' and ':' results as a usage error (returns 2). */
int option_error(const char *cmd, int c, char **argv,
                 const struct option *longopts);

/* The checks of parse functions: PARSE_OK, else the status of the usage
 * error they said. */

/* A command that takes only the shared options. */
int common_options_only(int argc, char **argv, char **run_dir);
/* Nothing left after the options. */
int no_arguments(int argc, char **argv);
/* A valid service id. */
int service_arg(const char *cmd, const char *arg);
/* -s SERVICE given and valid. */
int require_service(const char *cmd, const char *service);
/* -o text|json into *json. */
int output_text_or_json(const char *cmd, const char *arg, bool *json);
/* --timeout SEC: "5", "0.5", more than 0 and at most a day, into *ms. */
int timeout_arg(const char *cmd, const char *arg, int *ms);
/* A level name or number into *level. */
int level_arg(const char *cmd, const char *arg, int *level);

/* "log", "stdout" or "stderr": the n bytes at s. */
bool parse_stream(const char *s, size_t n, enum logbus_stream *out);

/* ---- standard output (ctl_output.c) ------------------------------------ */

enum out_result { OUT_OK = 0, OUT_CLOSED = 1, OUT_ERROR = -1 };

/* Write to stdout.  A reader that went away (EPIPE: SIGPIPE is ignored) is
 * OUT_CLOSED; any other failure is reported here. */
enum out_result out_write(const char *p, size_t len);
enum out_result out_flush(void);

/* How tail -o writes a record. */
enum out_format { OUT_TEXT, OUT_JSON, OUT_CAT, OUT_VERBOSE };

struct textline_time;

/* A record as format's lines in *b, which it replaces, text lines with
 * their time in time's form (textline.h), the message coloured by level
 * when color; raw: control characters as they are (--all, or cat through
 * a pipe).  LOGBUS_OK or LOGBUS_ENOMEM. */
int out_format_record(const logbus_record *rec, enum out_format format,
                      const struct textline_time *time, bool color, bool raw,
                      struct strbuf *b);

/* "2026-11-22 10:00:00", local time. */
void local_time_text(int64_t ns, char *buf, size_t len);

/* A JSON line in *b laid out as journalctl -o json-pretty does: a key
 * per line, indented.  LOGBUS_OK or LOGBUS_ENOMEM. */
int out_json_pretty(struct strbuf *b);

/* "512 B", "1.5 KiB", "12.0 MiB" (ctl_stats.c). */
const char *bytes_text(double n, char *buf, size_t len);

/* ---- tail and query (ctl_tail.c, ctl_query.c) ------------------------- */

/* tail's work; query_mode: `logbusctl query LOGQL`, the same options but
 * the filters the query says. */
int tail_command(int argc, char **argv, bool query_mode);

struct logql;
/* The query's text parsed into *q, or the exit status after saying where
 * it is wrong (PARSE_OK when it is right). */
int query_compile(const char *cmd, const char *text, struct logql **q);
/* What query refuses of tail's command line: no query, or filters the
 * query says itself (-s, -p, -l, -g, --stream), or --disk-usage and
 * --vacuum-*.  PARSE_OK or the exit status. */
int query_check_args(const char *cmd, const char *text, bool services,
                     bool levels, bool others, bool journal);

/* ---- tail's -p (ctl_priority.c) ---------------------------------------- */

/* A level or range, journalctl's or Python's, into the filter's bounds
 * (*max 0: none). */
int priority_arg(const char *cmd, const char *arg, int *min, int *max);

/* ---- tail's matches on the publisher (ctl_matches.c) ------------------- */

enum match_kind { MATCH_PID, MATCH_UID, MATCH_GID, MATCH_COMM };

/* The caller gives each array room for one value per argument. */
struct publisher_matches {
	uint32_t *ids[MATCH_COMM]; /* by MATCH_PID, MATCH_UID, MATCH_GID */
	size_t nids[MATCH_COMM];
	const char **comms;
	size_t ncomms;
};

/* _PID=N, _UID=N, _GID=N or _COMM=NAME (from_field: also pid=, uid=, gid=
 * and comm=, -F's words): 1 when arg is one (added to m), 0 when it is not,
 * else the exit status after a usage error. */
int publisher_match_arg(const char *cmd, const char *arg, bool from_field,
                        struct publisher_matches *m);
/* -F field.uid=V (pid, gid, comm): "uid=V", the structured field; any
 * other arg as it is. */
const char *field_match_key(const char *arg);
void publisher_matches_filter(const struct publisher_matches *m,
                              logbus_filter *f);

/* ---- tail's --disk-usage and --vacuum-* (ctl_journal.c) ---------------- */

/* Print how much the journal takes up; an exit status. */
int journal_disk_usage(const char *run_dir);
/* Vacuum with these limits (-1: none) and print what went; an exit
 * status. */
int journal_vacuum_now(const char *run_dir, int64_t max_bytes,
                       int64_t max_age_s);

/* ---- times (ctl_time.c) ------------------------------------------------ */

#define NS_PER_S INT64_C(1000000000)

/* A --since or --until value as ns since the epoch; now is the command's
 * start, the same for both. */
bool parse_time(const char *s, int64_t now, int64_t *out);

/* A span like "2d", "1h 30min", "90" (seconds) in ns (--vacuum-time). */
bool parse_span_arg(const char *s, int64_t *ns);

/* CLOCK_MONOTONIC in ms. */
int64_t monotonic_ms(void);

/* ---- tail --cursor-file (ctl_cursor_file.c) ---------------------------- */

/* A cursor as text is 53 bytes; a cursor file holding more is not one. */
#define CURSOR_TEXT_MAX 128

/* The cursor stored in path, into buf (CURSOR_TEXT_MAX bytes): "" when
 * there is none.  Returns 0, or the exit status after saying why not. */
int cursor_file_read(const char *path, char *buf);

/* Replace the cursor file's content atomically.  Returns 0 or the exit
 * status after saying why not. */
int cursor_file_write(const char *path, const char *cursor);

#endif
