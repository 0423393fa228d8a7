/*
 * timefmt.h: the time layouts users see.
 *   python:  "2026-11-22 10:00:00,123" local time, as Python's logging
 *   rfc3339: "2026-11-22T10:00:00.123456Z" UTC, microseconds
 *   text:    python's layout in local time or UTC, with 3 or 6 digits of
 *            the second (logbusctl tail --utc, -o short-precise)
 *   iso:     "2026-11-22T10:00:00+0100", local time or UTC, whole seconds
 *            (journalctl -o short-iso)
 * All write at most TIMEFMT_MAX bytes including the NUL.
 */
#ifndef LOGBUS_TIMEFMT_H
#define LOGBUS_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TIMEFMT_MAX 40

size_t timefmt_python(char *buf, size_t len, int64_t ns);
size_t timefmt_rfc3339(char *buf, size_t len, int64_t ns);
size_t timefmt_text(char *buf, size_t len, int64_t ns, bool utc, int digits);
size_t timefmt_iso(char *buf, size_t len, int64_t ns, bool utc);

/* CLOCK_REALTIME in ns. */
int64_t timefmt_now_ns(void);
/* CLOCK_MONOTONIC in ns: for durations and deadlines. */
int64_t timefmt_mono_ns(void);
/* *ts = ms milliseconds from now on clock (CLOCK_REALTIME or
 * CLOCK_MONOTONIC), the absolute time pthread_cond_timedwait takes. */
void timefmt_deadline(struct timespec *ts, clockid_t clock, int ms);

#endif
