/*
 * timefmt.c: time layouts (timefmt.h).
 */
#include "timefmt.h"

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

size_t timefmt_python(char *buf, size_t len, int64_t ns)
{
	time_t sec;
	long f;
	struct tm tm;

	split(ns, &sec, &f);
	localtime_r(&sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	int m = snprintf(buf + n, len - n, ",%03ld", f / 1000000);
	return n + (size_t)(m > 0 ? m : 0);
}

size_t timefmt_rfc3339(char *buf, size_t len, int64_t ns)
{
	time_t sec;
	long f;
	struct tm tm;

	split(ns, &sec, &f);
	gmtime_r(&sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	int m = snprintf(buf + n, len - n, ".%06ldZ", f / 1000);
	return n + (size_t)(m > 0 ? m : 0);
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
