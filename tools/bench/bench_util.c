/*
 * bench_util.c: messages, clocks, percentiles, /proc readings and the
 * report (JSON object or table) of logbus-bench.
 *
 * The report writes as it goes: a JSON object is never held whole, so a
 * benchmark that fails half-way still leaves what it measured on stdout,
 * and the table shows each figure as soon as it is known.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "strbuf.h"

volatile sig_atomic_t bench_interrupted;

/* ---- messages ---------------------------------------------------------- */

__attribute__((format(printf, 1, 0))) static void vsay(const char *fmt,
                                                       va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "logbus-bench: %s\n", msg);
}

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

int usage_error(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "logbus-bench: %s (see logbus-bench --help)\n", msg);
	return EXIT_USAGE;
}

/* ---- time -------------------------------------------------------------- */

int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void sleep_until(int64_t at)
{
	struct timespec ts = {.tv_sec = (time_t)(at / NS_PER_S),
	                      .tv_nsec = (long)(at % NS_PER_S)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	           EINTR &&
	       !bench_interrupted)
		;
}

void sleep_ms(int ms)
{
	sleep_until(clock_ns(CLOCK_MONOTONIC) + ms * NS_PER_MS);
}

int bench_flush(logbus_publisher *pub, int timeout_ms)
{
	int64_t end = clock_ns(CLOCK_MONOTONIC) + timeout_ms * NS_PER_MS;

	for (;;) {
		int64_t left = (end - clock_ns(CLOCK_MONOTONIC)) / NS_PER_MS;
		int rv = logbus_flush(
		    pub, left < 500 ? (left > 0 ? (int)left : 0) : 500);
		if (rv != LOGBUS_ETIMEDOUT || left <= 500)
			return rv;
		if (bench_interrupted)
			return LOGBUS_ECLOSED;
	}
}

/* ---- samples ----------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void samples_sort(int64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_i64);
}

/* The smallest sample with at least p of them at or below it. */
double percentile(const int64_t *v, size_t n, double p)
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

double median_double(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

char *bench_message(size_t n)
{
	static const char text[] = "logbus-bench record, payload "
	                           "0123456789abcdefghijklmnopqrstuvwxyz ";
	char *m = malloc(n + 1);

	if (m == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		m[i] = text[i % (sizeof text - 1)];
	m[n] = '\0';
	return m;
}

/* ---- files and /proc --------------------------------------------------- */

/* nftw has no user pointer: the walk of one thread at a time adds here. */
static _Thread_local int64_t walk_bytes;

static int add_entry(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		walk_bytes += (int64_t)st->st_size;
	return 0;
}

int64_t dir_bytes(const char *dir)
{
	walk_bytes = 0;
	if (nftw(dir, add_entry, 16, FTW_PHYS) != 0)
		return -1;
	return walk_bytes;
}

double proc_cpu_seconds(pid_t pid)
{
	char path[64], *stat, *p;
	unsigned long long utime, stime;
	long hz = sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((stat = files_slurp(path, NULL)) == NULL)
		return NAN;
	/* The command may hold spaces and ')': fields follow the last ')'.
	 * After it: state (3) ... utime (14), stime (15). */
	p = strrchr(stat, ')');
	if (p == NULL || hz <= 0 ||
	    sscanf(p + 1,
	           " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	           &utime, &stime) != 2) {
		free(stat);
		return NAN;
	}
	free(stat);
	return (double)(utime + stime) / (double)hz;
}

int64_t proc_peak_rss(pid_t pid)
{
	char path[64], *status, *p;
	long long kb;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((status = files_slurp(path, NULL)) == NULL)
		return -1;
	p = strstr(status, "\nVmHWM:");
	if (p == NULL || sscanf(p + 7, "%lld", &kb) != 1) {
		free(status);
		return -1;
	}
	free(status);
	return kb * 1024;
}

/* ---- the report -------------------------------------------------------- */

static void json_key(struct report *r, const char *key)
{
	if (!r->first[r->depth])
		fputc(',', r->f);
	r->first[r->depth] = false;
	if (key != NULL)
		fprintf(r->f, "\"%s\":", key);
}

void report_open(struct report *r, const char *key, char bracket)
{
	if (!r->json)
		return;
	if (r->depth > 0)
		json_key(r, key);
	fputc(bracket, r->f);
	r->first[++r->depth] = true;
}

void report_close(struct report *r, char bracket)
{
	if (!r->json)
		return;
	fputc(bracket, r->f);
	r->depth--;
}

void report_begin(struct report *r, bool json, FILE *f)
{
	r->json = json;
	r->f = f;
	r->depth = 0;
	report_open(r, NULL, '{');
}

void report_end(struct report *r)
{
	if (r->json) {
		report_close(r, '}');
		fputc('\n', r->f);
	}
	fflush(r->f);
}

void report_section(struct report *r, const char *title)
{
	if (!r->json)
		fprintf(r->f, "\n%s\n", title);
}

void report_note(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->json)
		return;
	fputs("  ", r->f);
	va_start(ap, fmt);
	vfprintf(r->f, fmt, ap);
	va_end(ap);
	fputc('\n', r->f);
	fflush(r->f);
}

void report_str(struct report *r, const char *key, const char *s)
{
	struct strbuf b = {0};

	if (!r->json)
		return;
	json_key(r, key);
	sb_json_str(&b, s, strlen(s));
	fputs(b.failed ? "null" : b.p, r->f);
	sb_free(&b);
}

void report_num(struct report *r, const char *key, const char *label, double v,
                int decimals, const char *unit)
{
	if (r->json) {
		json_key(r, key);
		if (isfinite(v))
			fprintf(r->f, "%.*f", decimals, v);
		else
			fputs("null", r->f);
		return;
	}
	if (label == NULL)
		return;
	if (isfinite(v))
		fprintf(r->f, "  %-40s %14.*f %s\n", label, decimals, v, unit);
	else
		fprintf(r->f, "  %-40s %14s %s\n", label, "-", unit);
	fflush(r->f);
}

void report_int(struct report *r, const char *key, const char *label, int64_t v,
                const char *unit)
{
	if (r->json) {
		json_key(r, key);
		fprintf(r->f, "%lld", (long long)v);
		return;
	}
	if (label != NULL) {
		fprintf(r->f, "  %-40s %14lld %s\n", label, (long long)v, unit);
		fflush(r->f);
	}
}
