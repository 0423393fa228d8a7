/*
 * bench.h: what the parts of logbus-bench share.
 *
 * logbus-bench is one program with a file per measurement (bench_ingest.c,
 * bench_call.c, bench_live.c, bench_query.c, bench_restart.c,
 * bench_direct.c) and two of helpers: bench_broker.c starts and stops a
 * real logbusd in a temporary directory (through tools/broker_proc.c, which
 * the integration tests use too), bench_util.c has the messages,
 * clocks, percentiles, /proc readings and the report.  logbus_bench.c reads
 * the command line and runs the modes.
 *
 * A mode writes its figures through report_*(): with --json they become keys
 * of the one JSON object on stdout (each key names its unit, e.g.
 * call_ns_p99), otherwise lines of a table for people.
 */
#ifndef LOGBUS_BENCH_H
#define LOGBUS_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "broker_proc.h"
#include "logbus/logbus.h"
#include "files.h"

#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define NS_PER_S  1000000000LL
#define NS_PER_MS 1000000LL

#define MAX_RATES     16
#define MAX_PRODUCERS 64

/* Every record: a message of --size bytes and three fields. */
#define BENCH_NFIELDS 3

struct bench_opts {
	const char *mode;
	const char *run_dir; /* NULL: start our own logbusd */
	long rates[MAX_RATES];
	size_t nrates;
	long producers[MAX_RATES];
	size_t nproducers;
	double seconds;
	int size;
	int linger_ms; /* 0: the library's default */
	bool json;
	long records;          /* ingest, call, direct */
	long query_records;    /* query: records in the journal */
	long query_services;   /* query: services they are spread over */
	int64_t restart_bytes; /* restart: journal size */
};

/* ---- messages (one line on stderr, "logbus-bench: ...") ---------------- */

__attribute__((format(printf, 1, 2))) void say(const char *fmt, ...);
/* say() and return EXIT_FAIL. */
__attribute__((format(printf, 1, 2))) int fail(const char *fmt, ...);
/* A wrong command line: say() with a pointer to --help, EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...);

/* Set by SIGINT and SIGTERM: loops that wait look at it and end. */
extern volatile sig_atomic_t bench_interrupted;
/* logbus_flush(pub, timeout_ms) that bench_interrupted ends (then
 * LOGBUS_ECLOSED): a flush waits out its whole timeout when the broker
 * died with the bench, so it waits in slices and looks between them. */
int bench_flush(logbus_publisher *pub, int timeout_ms);

/* ---- time -------------------------------------------------------------- */

int64_t clock_ns(clockid_t clock);
void sleep_until(int64_t monotonic_ns);
void sleep_ms(int ms);

/* ---- samples ----------------------------------------------------------- */

void samples_sort(int64_t *v, size_t n);
/* Nearest rank on sorted v; NAN when n is 0. */
double percentile(const int64_t *v, size_t n, double p);
double median_double(double *v, size_t n); /* sorts v */

/* The message of a bench record: n bytes of printable text. */
char *bench_message(size_t n);

/* ---- files and /proc --------------------------------------------------- */

/* Bytes of the regular files under dir (recursively); -1 on error. */
int64_t dir_bytes(const char *dir);
/* utime + stime of pid in seconds, or NAN. */
double proc_cpu_seconds(pid_t pid);
/* VmHWM of pid in bytes, or -1. */
int64_t proc_peak_rss(pid_t pid);

/* ---- the broker (a struct broker_proc with logbus-bench's options) ----- */

/* A new temporary directory, logbusd started in it and serving.  On
 * failure everything is cleaned up already. */
int broker_start(struct broker_proc *b);
/* Start logbusd again on the same directories (it must be stopped); does
 * not wait for it to serve. */
int broker_spawn(struct broker_proc *b);
/* SIGTERM and wait for the exit (SIGKILL after 10 s); 0 if it exited 0. */
int broker_stop(struct broker_proc *b);
/* Stop it if it runs and remove the directory. */
void broker_cleanup(struct broker_proc *b);

/* ---- the report -------------------------------------------------------- */

struct report {
	bool json;
	FILE *f;
	int depth;
	bool first[16]; /* nothing written yet at this depth */
};

void report_begin(struct report *r, bool json, FILE *f);
void report_end(struct report *r);
/* A heading of the table (nothing in JSON). */
void report_section(struct report *r, const char *title);
/* A line of the table (nothing in JSON). */
__attribute__((format(printf, 2, 3))) void report_note(struct report *r,
                                                       const char *fmt, ...);
/* A figure: key in JSON (null when not finite), "label  value unit" in the
 * table ("-" when not finite). */
void report_num(struct report *r, const char *key, const char *label, double v,
                int decimals, const char *unit);
void report_int(struct report *r, const char *key, const char *label, int64_t v,
                const char *unit);
/* JSON only: a string, and nested objects and arrays. */
void report_str(struct report *r, const char *key, const char *s);
void report_open(struct report *r, const char *key, char bracket);
void report_close(struct report *r, char bracket);

/* ---- the modes --------------------------------------------------------- */

/*
 * What a mode gets: the options, the run directory of the broker to use,
 * and that broker when logbus-bench started it (NULL with --run-dir: then
 * the figures that need its pid or its files are left out).
 */
struct bench_ctx {
	const struct bench_opts *o;
	const char *run_dir;
	struct broker_proc *broker;
	bool own; /* no --run-dir: a mode may start brokers of its own */
	struct report *rep;
};

int mode_ingest(struct bench_ctx *c);
int mode_footprint(struct bench_ctx *c);
int mode_call(struct bench_ctx *c);
int mode_live(struct bench_ctx *c);
int mode_query(struct bench_ctx *c);
int mode_restart(struct bench_ctx *c);
int mode_direct(struct bench_ctx *c);

#endif
