/*
 * args.h: strict parsing of the numbers on the tools' command lines (the
 * whole string, nothing before or after, no sign games), shared by
 * logbusctl and logbus-bench.
 */
#ifndef LOGBUS_TOOLS_ARGS_H
#define LOGBUS_TOOLS_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* A whole decimal integer in [min, max]: "5", "-3"; not " 5", "+5", "5x". */
bool args_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Seconds written as digits with at most one '.': "3", "0.5"; more than 0
 * and at most max. */
bool args_seconds(const char *s, double max, double *out);

#endif
