/*
 * timefmt.c: time layouts (timefmt.h).
 */
#include "timefmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

static void split(int64_t ns, time_t *sec, long *frac_ns)
{
	int64_t s = ns / 1000000000, f = ns % 1000000000;

	if (f < 0) {
		f += 1000000000;
		s--;
	}
	*sec = (time_t)s;
	*frac_ns = (long)f;
}

/* ns as a calendar time, local or UTC, and the fraction of its second. */
static void broken_down(int64_t ns, bool utc, struct tm *tm, long *frac_ns)
{
	time_t sec;

	split(ns, &sec, frac_ns);
	if (utc)
		gmtime_r(&sec, tm);
	else
		localtime_r(&sec, tm);
}

/* ns as layout (strftime), local time or UTC, then sep and the fraction of
 * the second in digits digits, then suffix. */
static size_t format(char *buf, size_t len, int64_t ns, bool utc,
                     const char *layout, char sep, int digits,
                     const char *suffix)
{
	long f, unit = 1000000000;
	struct tm tm;

	broken_down(ns, utc, &tm, &f);
	for (int i = 0; i < digits; i++)
		unit /= 10;
	size_t n = strftime(buf, len, layout, &tm);
	int m = snprintf(buf + n, len - n, "%c%0*ld%s", sep, digits, f / unit,
	                 suffix);
	return n + (size_t)(m > 0 ? m : 0);
}

size_t timefmt_python(char *buf, size_t len, int64_t ns)
{
	return timefmt_text(buf, len, ns, false, 3);
}

size_t timefmt_text(char *buf, size_t len, int64_t ns, bool utc, int digits)
{
	return format(buf, len, ns, utc, "%Y-%m-%d %H:%M:%S", ',', digits, "");
}

size_t timefmt_iso(char *buf, size_t len, int64_t ns, bool utc)
{
	long f;
	struct tm tm;

	broken_down(ns, utc, &tm, &f);
	return strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

size_t timefmt_rfc3339(char *buf, size_t len, int64_t ns)
{
	return format(buf, len, ns, true, "%Y-%m-%dT%H:%M:%S", '.', 6, "Z");
}

int64_t timefmt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t timefmt_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void timefmt_deadline(struct timespec *ts, clockid_t clock, int ms)
{
	clock_gettime(clock, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}
