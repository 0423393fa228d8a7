/*
 * logbus_bench.c: logbus-bench, the benchmarks of logbus against a real
 * logbusd.
 *
 * Built only on liblogbus's public API (logbus/logbus.h), like any program
 * that logs: a figure measured here is one a user can get.
 *
 * Shape: one table of modes (--mode NAME); each is a function that runs
 * against the broker's run directory and prints its own results with the
 * shared helpers below (broker start and stop, percentiles, JSON).  By
 * default the program starts its own logbusd, the one next to its own
 * executable, in a fresh temporary directory, and removes both at the end,
 * on error paths too; with --run-dir it uses a broker that already runs.
 *
 * Modes:
 *   live  publish at fixed rates and measure how long a record takes from
 *         the logging call to a follower's on_log (logbus_subscribe).
 *
 * Exit status: 0 done, 1 the benchmark failed (no broker, records lost or
 * delivered twice, interrupted), 2 the command line is wrong.  Every
 * message is one line on stderr starting "logbus-bench: ".
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "args.h"

extern char **environ;

#define EXIT_FAIL  1
#define EXIT_USAGE 2

#define NS_PER_S  1000000000LL
#define NS_PER_MS 1000000LL

#define MAX_RATES        16
#define MAX_RATE         10000000L /* records/s */
#define MAX_SECONDS      3600
#define MAX_SIZE         65536 /* message bytes */
#define MAX_LINGER_MS    60000
#define MAX_RECORDS_RATE 20000000L /* measured records per rate (memory) */

#define DEFAULT_RATES   "1000,20000,100000"
#define DEFAULT_SECONDS 3.0
#define DEFAULT_SIZE    200

#define BROKER_WAIT_MS 10000 /* for "serving ... pid N" */
#define BROKER_STOP_MS 10000 /* after SIGTERM, then SIGKILL */

/* Options long only get values above any character. */
enum {
	OPT_MODE = 0x100,
	OPT_RUN_DIR,
	OPT_RATES,
	OPT_SECONDS,
	OPT_SIZE,
	OPT_LINGER_MS,
	OPT_JSON,
	OPT_RECORDS,
};

struct bench_opts {
	const char *mode;
	const char *run_dir; /* NULL: start our own logbusd */
	long rates[MAX_RATES];
	size_t nrates;
	double seconds;
	int size;
	int linger_ms; /* 0: the library's default */
	bool json;
	long records; /* ingest */
};

struct mode {
	const char *name;
	int (*run)(const struct bench_opts *o, const char *run_dir);
	const char *summary;
};

/*
 * Set by SIGINT and SIGTERM: the loops that wait look at it and end, so
 * that the broker and the temporary directory are still cleaned up.  A
 * signal handler has nowhere else to write.
 */
static volatile sig_atomic_t interrupted;

/* ---- messages ---------------------------------------------------------- */

__attribute__((format(printf, 1, 0))) static void vsay(const char *fmt,
                                                       va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "logbus-bench: %s\n", msg);
}

/* A wrong command line: one line with a pointer to the help, exit 2. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
                                                             ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "logbus-bench: %s (see logbus-bench --help)\n", msg);
	return EXIT_USAGE;
}

/* A failed benchmark: one line, exit 1. */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

/* ---- time -------------------------------------------------------------- */

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Sleep until the CLOCK_MONOTONIC time `at` (ns). */
static void sleep_until(int64_t at)
{
	struct timespec ts = {.tv_sec = (time_t)(at / NS_PER_S),
	                      .tv_nsec = (long)(at % NS_PER_S)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	           EINTR &&
	       !interrupted)
		;
}

static void sleep_ms(int ms)
{
	sleep_until(clock_ns(CLOCK_MONOTONIC) + ms * NS_PER_MS);
}

/* ---- the broker -------------------------------------------------------- */

struct bench_broker {
	pid_t pid;     /* -1: not running */
	char dir[256]; /* the temporary directory; "" once removed */
	char run_dir[320];
	char log_dir[320];
	char stderr_path[320];
};

/* A whole file, malloc'd and NUL-terminated, or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0, got;
	char *buf;

	if (f == NULL)
		return NULL;
	buf = malloc(cap);
	while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf != NULL)
		buf[n] = '\0';
	return buf;
}

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

/* The broker's stderr has "logbusd: serving ..., pid N" for our child. */
static bool broker_serving(const struct bench_broker *b)
{
	char want[64];
	char *log = slurp(b->stderr_path);
	bool ok = false;

	if (log == NULL)
		return false;
	snprintf(want, sizeof want, ", pid %ld\n", (long)b->pid);
	for (char *line = log; line != NULL && *line != '\0' && !ok;) {
		char *end = strchr(line, '\n');
		if (end == NULL)
			break; /* a line still being written */
		if (strncmp(line, "logbusd: serving ", 17) == 0 &&
		    (size_t)(end + 1 - line) >= strlen(want) &&
		    strncmp(end + 1 - strlen(want), want, strlen(want)) == 0)
			ok = true;
		line = end + 1;
	}
	free(log);
	return ok;
}

/* The last line of the broker's stderr, for a message. */
static void broker_last_words(const struct bench_broker *b, char *buf,
                              size_t len)
{
	char *log = slurp(b->stderr_path);
	char *end, *start;

	snprintf(buf, len, "nothing on its stderr");
	if (log == NULL)
		return;
	end = log + strlen(log);
	while (end > log && end[-1] == '\n')
		end--;
	*end = '\0';
	start = strrchr(log, '\n');
	start = start ? start + 1 : log;
	if (*start != '\0')
		snprintf(buf, len, "%s", start);
	free(log);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* SIGTERM, wait (SIGKILL after BROKER_STOP_MS), remove the directory. */
static void broker_cleanup(struct bench_broker *b)
{
	if (b->pid > 0) {
		int status;
		kill(b->pid, SIGTERM);
		for (int waited = 0;; waited += 10) {
			pid_t w = waitpid(b->pid, &status, WNOHANG);
			if (w == b->pid || (w < 0 && errno != EINTR))
				break;
			if (waited == BROKER_STOP_MS) {
				kill(b->pid, SIGKILL);
				while (waitpid(b->pid, &status, 0) < 0 &&
				       errno == EINTR)
					;
				break;
			}
			sleep_ms(10);
		}
		b->pid = -1;
	}
	if (b->dir[0] != '\0')
		nftw(b->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	b->dir[0] = '\0';
}

/* Start logbusd in a new temporary directory and wait until it serves.
 * On failure everything is cleaned up already. */
static int broker_start(struct bench_broker *b)
{
	char bin[PATH_MAX + 16], why[512];
	const char *tmp = getenv("TMPDIR");
	posix_spawn_file_actions_t fa;
	int rv;

	b->pid = -1;
	b->dir[0] = '\0';
	if ((rv = broker_path(bin, sizeof bin)) != 0)
		return rv;
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(b->dir, sizeof b->dir, "%s/logbus-bench.XXXXXX",
	                     tmp) >= sizeof b->dir) {
		b->dir[0] = '\0';
		return fail("TMPDIR too long: %s", tmp);
	}
	if (mkdtemp(b->dir) == NULL) {
		rv = fail("cannot make a temporary directory %s (%s)", b->dir,
		          strerror(errno));
		b->dir[0] = '\0';
		return rv;
	}
	snprintf(b->run_dir, sizeof b->run_dir, "%s/run", b->dir);
	snprintf(b->log_dir, sizeof b->log_dir, "%s/log", b->dir);
	snprintf(b->stderr_path, sizeof b->stderr_path, "%s/logbusd.stderr",
	         b->dir);

	char *argv[] = {bin,         "--run-dir", b->run_dir,
	                "--log-dir", b->log_dir,  NULL};
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, b->stderr_path,
	                                 O_WRONLY | O_CREAT | O_APPEND, 0644);
	rv = posix_spawn(&b->pid, bin, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0) {
		b->pid = -1;
		broker_cleanup(b);
		return fail("cannot start %s (%s)", bin, strerror(rv));
	}

	for (int waited = 0;; waited += 10) {
		int status;
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = -1;
			broker_last_words(b, why, sizeof why);
			broker_cleanup(b);
			return fail("%s exited at start: %s", bin, why);
		}
		if (broker_serving(b))
			return 0;
		if (waited >= BROKER_WAIT_MS || interrupted) {
			broker_last_words(b, why, sizeof why);
			broker_cleanup(b);
			if (interrupted)
				return fail("interrupted");
			return fail("%s did not say it serves within %d s: %s",
			            bin, BROKER_WAIT_MS / 1000, why);
		}
		sleep_ms(10);
	}
}

/* ---- statistics -------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sort v in place for percentile(). */
static void samples_sort(int64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_i64);
}

/* Nearest rank: the smallest sample with at least p of them at or below
 * it.  v sorted; NAN when there is none. */
static double percentile(const int64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return NAN;
	rank = (size_t)ceil(p * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1];
}

/* ---- JSON output ------------------------------------------------------- */

/* One object written as it is built; keys are the caller's, plain ASCII. */
struct json {
	FILE *f;
	int depth;
	bool first[16]; /* nothing written yet at this depth */
};

static void json_key(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (key != NULL)
		fprintf(j->f, "\"%s\":", key);
}

/* '{' or '['; key NULL inside an array or for the outermost object. */
static void json_open(struct json *j, const char *key, char bracket)
{
	if (j->depth > 0 || !j->first[0])
		json_key(j, key);
	fputc(bracket, j->f);
	j->first[++j->depth] = true;
}

static void json_close(struct json *j, char bracket)
{
	fputc(bracket, j->f);
	j->depth--;
}

static void json_begin(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
	json_open(j, NULL, '{');
}

static void json_end(struct json *j)
{
	json_close(j, '}');
	fputc('\n', j->f);
}

static void json_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	fputc('"', j->f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(j->f, "\\%c", c);
		else if (c < 0x20)
			fprintf(j->f, "\\u%04x", c);
		else
			fputc(c, j->f);
	}
	fputc('"', j->f);
}

static void json_int(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%lld", (long long)v);
}

static void json_null(struct json *j, const char *key)
{
	json_key(j, key);
	fputs("null", j->f);
}

/* A number with `decimals` places; NaN and infinities are null. */
static void json_num(struct json *j, const char *key, double v, int decimals)
{
	if (!isfinite(v)) {
		json_null(j, key);
		return;
	}
	json_key(j, key);
	fprintf(j->f, "%.*f", decimals, v);
}

/* ---- live: latency from the logging call to a follower's on_log -------- */

#define LIVE_WARMUP_NS  (NS_PER_S / 2)
#define LIVE_TICK_NS    NS_PER_MS /* log what is due every tick */
#define LIVE_PROBE_MS   20        /* a probe record this often ... */
#define LIVE_READY_MS   10000     /* ... until the follower sees one */
#define LIVE_STRAGGLERS 5000      /* ms to wait for the last records */
#define LIVE_FLUSH_MS   10000
#define LIVE_NFIELDS    3

/* Field "n" of a record: which record of the run it is. */
#define N_PROBE  (-2)
#define N_WARMUP (-1)

/* One rate: what both sides share. */
struct live_run {
	long rate;
	char service[LOGBUS_SERVICE_MAX + 1];
	char *message;
	size_t message_len;

	/* measured records: planned, then logged (publisher thread) */
	size_t planned;
	size_t published;
	int64_t measure_ns; /* how long logging them took, at least planned */
	logbus_publisher *pub;
	int log_error; /* first failed logging call */

	/* written by on_log only; the counts read by the main thread */
	int64_t *latency_ns; /* [planned], in arrival order */
	unsigned char *seen; /* [planned], by n */
	atomic_size_t received;
	atomic_size_t duplicates;
	atomic_size_t probes;
	bool follower_said; /* on_error reported once (its thread only) */
};

struct live_result {
	long rate;
	size_t published, received, duplicates;
	double publish_rate;
	double p50_us, p99_us, p999_us, max_us;
};

static int live_on_log(const logbus_record *rec, void *user)
{
	int64_t now = clock_ns(CLOCK_REALTIME);
	struct live_run *r = user;
	int64_t n = INT64_MIN;

	for (size_t i = 0; i < rec->nfields; i++)
		if (rec->fields[i].type == LOGBUS_FIELD_INT &&
		    strcmp(rec->fields[i].key, "n") == 0)
			n = rec->fields[i].v.i;
	if (n == N_PROBE) {
		atomic_fetch_add(&r->probes, 1);
	} else if (n >= 0 && (size_t)n < r->planned) {
		size_t got =
		    atomic_load_explicit(&r->received, memory_order_relaxed);
		if (r->seen[n]) {
			atomic_fetch_add(&r->duplicates, 1);
			return 0;
		}
		r->seen[n] = 1;
		r->latency_ns[got] = now - rec->time_ns;
		atomic_store_explicit(&r->received, got + 1,
		                      memory_order_release);
	}
	return 0;
}

/* A record of the run: n >= 0 measured, N_WARMUP or N_PROBE. */
static int live_log(struct live_run *r, int64_t n)
{
	logbus_field fields[LIVE_NFIELDS] = {
	    LOGBUS_INT("n", n),
	    LOGBUS_STR("phase", n >= 0          ? "measure"
	                        : n == N_WARMUP ? "warmup"
	                                        : "probe"),
	    LOGBUS_INT("rate", r->rate),
	};
	logbus_entry e = {
	    .level = LOGBUS_INFO,
	    .message = r->message,
	    .message_len = r->message_len,
	    .fields = fields,
	    .nfields = LIVE_NFIELDS,
	};

	return logbus_write(r->pub, &e);
}

/*
 * The publisher thread: record i is due at start + i / rate; every tick it
 * logs what is due, so a late tick catches up and the rate holds on
 * average.  The first half second is warm-up, not measured.
 */
static void *live_publisher_main(void *arg)
{
	struct live_run *r = arg;
	size_t warmup = (size_t)(r->rate * LIVE_WARMUP_NS / NS_PER_S);
	size_t total = warmup + r->planned, i = 0;
	int64_t start = clock_ns(CLOCK_MONOTONIC);
	int64_t measure_start = start + LIVE_WARMUP_NS;
	int64_t planned_ns =
	    (int64_t)((double)r->planned * NS_PER_S / (double)r->rate);
	int64_t tick = start;
	int rv;

	while (i < total && !interrupted) {
		int64_t now = clock_ns(CLOCK_MONOTONIC);
		/* due: records whose time has come, +1 for record 0 at start */
		size_t due = (size_t)((double)(now - start) * (double)r->rate /
		                      NS_PER_S) +
		             1;
		if (due > total)
			due = total;
		for (; i < due; i++) {
			int64_t n =
			    i < warmup ? N_WARMUP : (int64_t)(i - warmup);
			if ((rv = live_log(r, n)) != LOGBUS_OK) {
				r->log_error = rv;
				goto out;
			}
			if (n >= 0)
				r->published++;
		}
		tick += LIVE_TICK_NS;
		if (tick > now)
			sleep_until(tick);
	}
out:
	r->measure_ns = clock_ns(CLOCK_MONOTONIC) - measure_start;
	if (r->measure_ns < planned_ns)
		r->measure_ns = planned_ns;
	return NULL;
}

/* Log probe records until the follower has seen one: it is then placed
 * in the journal and following live, so no measured record can be missed
 * because it subscribed late. */
static int live_wait_ready(struct live_run *r, const char *run_dir)
{
	char err[256];
	int rv;

	for (int waited = 0; atomic_load(&r->probes) == 0;
	     waited += LIVE_PROBE_MS) {
		if (interrupted)
			return fail("interrupted");
		if (waited >= LIVE_READY_MS) {
			logbus_publisher_error(r->pub, err, sizeof err);
			return fail("no record came back from logbusd at %s "
			            "within %d s: %s",
			            run_dir, LIVE_READY_MS / 1000,
			            *err ? err : "is logbusd running?");
		}
		if ((rv = live_log(r, N_PROBE)) != LOGBUS_OK) {
			logbus_publisher_error(r->pub, err, sizeof err);
			return fail("logging failed: %s",
			            *err ? err : logbus_strerror(rv));
		}
		sleep_ms(LIVE_PROBE_MS);
	}
	return 0;
}

/* A passing error (the broker restarting) is retried; say so once, as the
 * figures of this rate will show it. */
static int live_on_error(int code, const char *message, void *user)
{
	struct live_run *r = user;
	bool passing = code == LOGBUS_EUNREACHABLE || code == LOGBUS_ETIMEDOUT;

	if (!passing || !r->follower_said)
		fprintf(stderr, "logbus-bench: follower at %ld/s: %s%s\n",
		        r->rate, message ? message : logbus_strerror(code),
		        passing ? " (retrying)" : "");
	r->follower_said = true;
	return passing;
}

/* Publish at r->rate and measure; fills res. */
static int live_run_rate(const struct bench_opts *o, const char *run_dir,
                         struct live_run *r, struct live_result *res)
{
	const char *services[1] = {r->service};
	logbus_reader_options ro = {
	    .run_dir = run_dir,
	    .start = LOGBUS_START_NEW,
	    .follow = 1,
	    .filter = {.services = services, .nservices = 1},
	};
	logbus_publisher_options po = {
	    .run_dir = run_dir,
	    .service = r->service,
	    .linger_ms = o->linger_ms,
	};
	logbus_subscription *sub = NULL;
	pthread_t publisher;
	char err[256] = "";
	int rv, status = 0;

	ro.error = err;
	ro.error_len = sizeof err;
	if ((rv = logbus_subscribe(&sub, &ro, live_on_log, live_on_error, r)) !=
	    LOGBUS_OK)
		return fail("cannot follow logbusd at %s: %s", run_dir,
		            *err ? err : logbus_strerror(rv));
	if ((rv = logbus_publisher_open(&r->pub, &po)) != LOGBUS_OK) {
		logbus_subscription_close(sub);
		return fail("cannot open a publisher for %s: %s", run_dir,
		            logbus_strerror(rv));
	}
	if ((status = live_wait_ready(r, run_dir)) != 0)
		goto out;

	if ((rv = pthread_create(&publisher, NULL, live_publisher_main, r)) !=
	    0) {
		status = fail("cannot start the publisher thread (%s)",
		              strerror(rv));
		goto out;
	}
	pthread_join(publisher, NULL);
	if (r->log_error != 0) {
		logbus_publisher_error(r->pub, err, sizeof err);
		status = fail("logging at %ld/s failed: %s", r->rate,
		              *err ? err : logbus_strerror(r->log_error));
		goto out;
	}
	if (interrupted) {
		status = fail("interrupted");
		goto out;
	}

	/* Stragglers: up to LIVE_STRAGGLERS from the end of publishing. */
	int64_t until = clock_ns(CLOCK_MONOTONIC) + LIVE_STRAGGLERS * NS_PER_MS;
	if ((rv = logbus_flush(r->pub, LIVE_FLUSH_MS)) != LOGBUS_OK) {
		logbus_publisher_error(r->pub, err, sizeof err);
		fprintf(stderr, "logbus-bench: flush at %ld/s: %s\n", r->rate,
		        *err ? err : logbus_strerror(rv));
	}
	while (atomic_load(&r->received) < r->published && !interrupted &&
	       clock_ns(CLOCK_MONOTONIC) < until)
		sleep_ms(1);
	if (interrupted)
		status = fail("interrupted");
out:
	logbus_subscription_close(sub); /* on_log has returned for good */
	/* Flushed already, unless this is an error path: then do not wait. */
	logbus_publisher_close(r->pub, status == 0 ? LIVE_FLUSH_MS : 0);
	r->pub = NULL;
	if (status != 0)
		return status;

	size_t got = atomic_load(&r->received);
	samples_sort(r->latency_ns, got);
	res->rate = r->rate;
	res->published = r->published;
	res->received = got;
	res->duplicates = atomic_load(&r->duplicates);
	res->publish_rate =
	    (double)r->published * NS_PER_S / (double)r->measure_ns;
	res->p50_us = percentile(r->latency_ns, got, 0.50) / 1e3;
	res->p99_us = percentile(r->latency_ns, got, 0.99) / 1e3;
	res->p999_us = percentile(r->latency_ns, got, 0.999) / 1e3;
	res->max_us = percentile(r->latency_ns, got, 1.0) / 1e3;
	return 0;
}

static void live_print_json(const struct bench_opts *o,
                            const struct live_result *res, size_t n)
{
	struct json j;
	char key[64];

	json_begin(&j, stdout);
	json_str(&j, "mode", "live");
	json_int(&j, "size", o->size);
	json_int(&j, "fields", LIVE_NFIELDS);
	json_num(&j, "seconds", o->seconds, 3);
	json_num(&j, "warmup_seconds", (double)LIVE_WARMUP_NS / NS_PER_S, 3);
	if (o->linger_ms > 0)
		json_int(&j, "linger_ms", o->linger_ms);
	else
		json_null(&j, "linger_ms"); /* the library's default */
	json_open(&j, "results", '[');
	for (size_t i = 0; i < n; i++) {
		json_open(&j, NULL, '{');
		json_int(&j, "rate", res[i].rate);
		json_num(&j, "publish_rate_per_s", res[i].publish_rate, 1);
		json_int(&j, "published", (int64_t)res[i].published);
		json_int(&j, "received", (int64_t)res[i].received);
		json_int(&j, "lost",
		         (int64_t)res[i].published - (int64_t)res[i].received);
		json_int(&j, "duplicates", (int64_t)res[i].duplicates);
		json_num(&j, "live_latency_us_p50", res[i].p50_us, 1);
		json_num(&j, "live_latency_us_p99", res[i].p99_us, 1);
		json_num(&j, "live_latency_us_p999", res[i].p999_us, 1);
		json_num(&j, "live_latency_us_max", res[i].max_us, 1);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	for (size_t i = 0; i < n; i++) {
		bool again = false;
		for (size_t k = 0; k < i; k++)
			again = again || res[k].rate == res[i].rate;
		if (again)
			continue; /* a key once: the first run at this rate */
		snprintf(key, sizeof key, "live_latency_us_p99_at_%ld",
		         res[i].rate);
		json_num(&j, key, res[i].p99_us, 1);
	}
	json_end(&j);
}

static void live_print_table(const struct bench_opts *o,
                             const struct live_result *res, size_t n)
{
	char linger[32];

	if (o->linger_ms > 0)
		snprintf(linger, sizeof linger, "%d ms", o->linger_ms);
	else
		snprintf(linger, sizeof linger, "library default");
	printf("live latency: logging call -> follower's on_log; %d-byte "
	       "messages, %d fields,\n%g s per rate after %g s of warm-up, "
	       "linger %s\n\n",
	       o->size, LIVE_NFIELDS, o->seconds,
	       (double)LIVE_WARMUP_NS / NS_PER_S, linger);
	printf("%10s %10s %10s %10s %6s %10s %10s %10s %10s\n", "rate/s",
	       "achieved/s", "published", "received", "lost", "p50 us",
	       "p99 us", "p99.9 us", "max us");
	for (size_t i = 0; i < n; i++)
		printf("%10ld %10.0f %10zu %10zu %6lld %10.1f %10.1f %10.1f "
		       "%10.1f\n",
		       res[i].rate, res[i].publish_rate, res[i].published,
		       res[i].received,
		       (long long)res[i].published - (long long)res[i].received,
		       res[i].p50_us, res[i].p99_us, res[i].p999_us,
		       res[i].max_us);
}

static void live_run_free(struct live_run *r)
{
	free(r->message);
	free(r->latency_ns);
	free(r->seen);
}

/* Set up one rate: the message, and the arrays touched now so that on_log
 * takes no page faults while it measures. */
static int live_run_init(struct live_run *r, const struct bench_opts *o,
                         size_t idx)
{
	static const char text[] = "logbus-bench live record, payload "
	                           "0123456789abcdefghijklmnopqrstuvwxyz ";
	long rate = o->rates[idx];

	memset(r, 0, sizeof *r);
	r->rate = rate;
	/* A service of its own per rate: nothing else matches the filter. */
	snprintf(r->service, sizeof r->service, "logbus-bench.%ld.%zu.%ld",
	         (long)getpid(), idx, rate);
	r->planned = (size_t)llround((double)rate * o->seconds);
	if (r->planned == 0)
		r->planned = 1;
	r->message_len = (size_t)o->size;
	r->message = malloc(r->message_len + 1);
	r->latency_ns = malloc(r->planned * sizeof *r->latency_ns);
	r->seen = malloc(r->planned);
	if (r->message == NULL || r->latency_ns == NULL || r->seen == NULL) {
		live_run_free(r);
		return fail("out of memory for %zu records at %ld/s",
		            r->planned, rate);
	}
	for (size_t i = 0; i < r->message_len; i++)
		r->message[i] = text[i % (sizeof text - 1)];
	r->message[r->message_len] = '\0';
	memset(r->latency_ns, 0, r->planned * sizeof *r->latency_ns);
	memset(r->seen, 0, r->planned);
	atomic_init(&r->received, 0);
	atomic_init(&r->duplicates, 0);
	atomic_init(&r->probes, 0);
	return 0;
}

static int mode_live(const struct bench_opts *o, const char *run_dir)
{
	struct live_result res[MAX_RATES];
	int status = 0;

	for (size_t i = 0; i < o->nrates; i++) {
		struct live_run r;
		if ((status = live_run_init(&r, o, i)) != 0)
			return status;
		status = live_run_rate(o, run_dir, &r, &res[i]);
		live_run_free(&r);
		if (status != 0)
			return status;
	}
	if (o->json)
		live_print_json(o, res, o->nrates);
	else
		live_print_table(o, res, o->nrates);
	if (fflush(stdout) != 0)
		return fail("cannot write to standard output (%s)",
		            strerror(errno));
	for (size_t i = 0; i < o->nrates; i++) {
		if (res[i].received < res[i].published)
			status = fail("%zu of %zu records published at %ld/s "
			              "never reached the follower",
			              res[i].published - res[i].received,
			              res[i].published, res[i].rate);
		if (res[i].duplicates > 0)
			status = fail("%zu records published at %ld/s reached "
			              "the follower twice",
			              res[i].duplicates, res[i].rate);
	}
	return status;
}

/* ---- the table of modes ------------------------------------------------ */

/* ---- ingest -------------------------------------------------------------- */

/*
 * One producer logs o->records records (o->size bytes of message, three
 * fields) as fast as the queue takes them; the clock runs from the first
 * logging call to the return of the flush that saw the last acknowledged.
 */
static int mode_ingest(const struct bench_opts *o, const char *run_dir)
{
	logbus_publisher *p;
	logbus_publisher_options po = {.run_dir = run_dir,
	                               .service = "bench_ingest",
	                               .on_full = LOGBUS_ON_FULL_BLOCK,
	                               .linger_ms = o->linger_ms};
	char *msg = malloc((size_t)o->size + 1);
	char why[512];
	int rv;

	if (msg == NULL)
		return fail("out of memory");
	memset(msg, 'x', (size_t)o->size);
	msg[o->size] = '\0';
	if ((rv = logbus_publisher_open(&p, &po)) != LOGBUS_OK) {
		free(msg);
		return fail("cannot open a publisher: %s", logbus_strerror(rv));
	}
	int64_t t0 = clock_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < o->records && !interrupted; i++) {
		logbus_field f[3] = {LOGBUS_INT("n", i),
		                     LOGBUS_STR("user", "user123"),
		                     LOGBUS_BOOL("ok", 1)};
		logbus_entry e = {.level = LOGBUS_INFO,
		                  .message = msg,
		                  .message_len = (size_t)o->size,
		                  .fields = f,
		                  .nfields = 3};
		if ((rv = logbus_write(p, &e)) != LOGBUS_OK)
			break;
	}
	if (rv == LOGBUS_OK)
		rv = logbus_flush(p, -1);
	int64_t dt = clock_ns(CLOCK_MONOTONIC) - t0;
	logbus_publisher_error(p, why, sizeof why);
	logbus_publisher_close(p, 5000);
	free(msg);
	if (interrupted)
		return fail("interrupted");
	if (rv != LOGBUS_OK)
		return fail("ingest failed: %s: %s", logbus_strerror(rv), why);
	double secs = (double)dt / 1e9;
	double rps = (double)o->records / secs;
	double mbps = rps * o->size / 1e6;
	if (o->json) {
		struct json j;
		json_begin(&j, stdout);
		json_str(&j, "mode", "ingest");
		json_int(&j, "producers", 1);
		json_int(&j, "records", o->records);
		json_int(&j, "size", o->size);
		json_num(&j, "seconds", secs, 6);
		json_num(&j, "ingest_records_per_s", rps, 0);
		json_num(&j, "ingest_mb_per_s", mbps, 1);
		json_end(&j);
	} else {
		printf("ingest: 1 producer, %ld records of %d bytes + 3 "
		       "fields, acknowledged\n",
		       o->records, o->size);
		printf("  %.3f s  %.0f records/s  %.1f MB/s of messages\n",
		       secs, rps, mbps);
	}
	return 0;
}

static const struct mode modes[] = {
    {"ingest", mode_ingest,
     "records/s from the first logging call to the last acknowledgement"},
    {"live", mode_live,
     "latency from the logging call to a follower, at fixed rates"},
};

static const struct mode *mode_find(const char *name)
{
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(modes[i].name, name) == 0)
			return &modes[i];
	return NULL;
}

/* ---- command line ------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: logbus-bench --mode MODE [options]\n"
	      "\n"
	      "Benchmarks of logbus through liblogbus's public API, against a "
	      "logbusd it\n"
	      "starts in a temporary directory (the logbusd next to this "
	      "program) or one\n"
	      "that runs already (--run-dir).\n"
	      "\n"
	      "Modes:\n",
	      f);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		fprintf(f, "  %-10s %s\n", modes[i].name, modes[i].summary);
	fputs("\n"
	      "Options:\n"
	      "      --mode MODE        what to measure (required)\n"
	      "      --run-dir DIR      use the logbusd serving DIR instead "
	      "of starting one\n"
	      "      --rates LIST       records/s, comma-separated "
	      "(default " DEFAULT_RATES ")\n"
	      "      --seconds S        measured seconds per rate, after 0.5 "
	      "s of warm-up\n"
	      "                         (default 3; fractions allowed)\n"
	      "      --size BYTES       message bytes per record (default 200; "
	      "1..65536);\n"
	      "                         every record has 3 fields too\n"
	      "      --linger-ms MS     the publisher's linger_ms (default 0: "
	      "the library's\n"
	      "                         default)\n"
	      "      --records N        ingest: records to publish (default "
	      "1000000)\n"
	      "      --json             one JSON object on stdout instead of a "
	      "table; each\n"
	      "                         figure's key names its unit, e.g.\n"
	      "                         live_latency_us_p99\n"
	      "  -h, --help             this text\n"
	      "\n"
	      "live: a follower (logbus_subscribe, follow, new records of the "
	      "bench's\n"
	      "service) takes CLOCK_REALTIME minus the record's time in "
	      "on_log; a publisher\n"
	      "thread logs at the rate, each millisecond the records due. "
	      "Reports p50, p99,\n"
	      "p99.9 and max in microseconds, the rate achieved, and records "
	      "received\n"
	      "against published after waiting up to 5 s for the last.\n"
	      "\n"
	      "Exit status: 0 done; 1 the benchmark failed (no broker, records "
	      "lost or\n"
	      "delivered twice, interrupted); 2 bad arguments.\n",
	      f);
}

/* A whole decimal integer in [min, max], nothing else. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	int64_t v;

	if (!args_int64(s, min, max, &v))
		return false;
	*out = (long)v;
	return true;
}

/* "1000,20000": 1 to MAX_RATES rates; returns PARSE_OK or exit 2. */
static int parse_rates(const char *s, struct bench_opts *o)
{
	char item[32];
	const char *p = s;

	o->nrates = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		long v;
		if (len == 0 || len >= sizeof item)
			return usage_error(
			    "bad --rates '%s': records/s, "
			    "comma-separated, like " DEFAULT_RATES,
			    s);
		memcpy(item, p, len);
		item[len] = '\0';
		if (!parse_long(item, 1, MAX_RATE, &v))
			return usage_error(
			    "bad rate '%s' in --rates: records/s, "
			    "1 to %ld",
			    item, MAX_RATE);
		if (o->nrates == MAX_RATES)
			return usage_error("more than %d rates in --rates",
			                   MAX_RATES);
		o->rates[o->nrates++] = v;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* getopt_long's '?' and ':' as one line; opterr is 0. */
static int option_error(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (strncmp(arg, "--", 2) == 0) {
		int n = (int)strcspn(arg + 2, "=");
		if (c == ':')
			return usage_error("option --%.*s needs a value", n,
			                   arg + 2);
		if (optopt != 0)
			return usage_error("option --%.*s takes no value", n,
			                   arg + 2);
		return usage_error("unknown option --%.*s", n, arg + 2);
	}
	if (c == ':')
		return usage_error("option -%c needs a value", optopt);
	return usage_error("unknown option -%c", optopt);
}

/* Returns -1 when the benchmark is to run, else the exit status. */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
	    {"mode", required_argument, NULL, OPT_MODE},
	    {"run-dir", required_argument, NULL, OPT_RUN_DIR},
	    {"rates", required_argument, NULL, OPT_RATES},
	    {"seconds", required_argument, NULL, OPT_SECONDS},
	    {"size", required_argument, NULL, OPT_SIZE},
	    {"linger-ms", required_argument, NULL, OPT_LINGER_MS},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"records", required_argument, NULL, OPT_RECORDS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long v;
	int c, rv;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MODE:
			o->mode = optarg;
			break;
		case OPT_RUN_DIR:
			if (*optarg == '\0')
				return usage_error("--run-dir is empty");
			o->run_dir = optarg;
			break;
		case OPT_RATES:
			if ((rv = parse_rates(optarg, o)) != 0)
				return rv;
			break;
		case OPT_SECONDS:
			if (!args_seconds(optarg, MAX_SECONDS, &o->seconds))
				return usage_error(
				    "bad --seconds '%s': "
				    "seconds, more than 0 and at "
				    "most %d",
				    optarg, MAX_SECONDS);
			break;
		case OPT_SIZE:
			if (!parse_long(optarg, 1, MAX_SIZE, &v))
				return usage_error("bad --size '%s': message "
				                   "bytes, 1 to %d",
				                   optarg, MAX_SIZE);
			o->size = (int)v;
			break;
		case OPT_LINGER_MS:
			if (!parse_long(optarg, 0, MAX_LINGER_MS, &v))
				return usage_error("bad --linger-ms '%s': "
				                   "milliseconds, 0 (the "
				                   "library's default) to %d",
				                   optarg, MAX_LINGER_MS);
			o->linger_ms = (int)v;
			break;
		case OPT_RECORDS:
			if (!parse_long(optarg, 1, 1000000000L, &o->records))
				return usage_error("bad --records '%s': 1 to "
				                   "1000000000",
				                   optarg);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
		default:
			return option_error(c, argv);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->mode == NULL)
		return usage_error("no --mode given");
	if (mode_find(o->mode) == NULL)
		return usage_error("unknown mode '%s'", o->mode);
	if (o->nrates == 0 && parse_rates(DEFAULT_RATES, o) != 0)
		return EXIT_FAIL;
	for (size_t i = 0; i < o->nrates; i++)
		if ((double)o->rates[i] * o->seconds > MAX_RECORDS_RATE)
			return usage_error("%ld records/s for %g s is more "
			                   "than %ld records per rate",
			                   o->rates[i], o->seconds,
			                   MAX_RECORDS_RATE);
	return -1;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
	    .seconds = DEFAULT_SECONDS,
	    .size = DEFAULT_SIZE,
	    .records = 1000000,
	};
	struct bench_broker broker = {.pid = -1};
	struct sigaction sa = {.sa_handler = on_signal};
	const struct mode *mode;
	int rv;

	if ((rv = parse_args(argc, argv, &o)) >= 0)
		return rv;
	mode = mode_find(o.mode);

	/* No SA_RESTART: a wait in progress sees the flag soon. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.run_dir == NULL) {
		if ((rv = broker_start(&broker)) != 0)
			return rv;
		o.run_dir = broker.run_dir;
	}
	rv = mode->run(&o, o.run_dir);
	broker_cleanup(&broker);
	return rv;
}
