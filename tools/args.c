/*
 * args.c: strict number parsing for the tools (args.h).
 */
#include "args.h"

#include <errno.h>
#include <stdlib.h>

bool args_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!((*s >= '0' && *s <= '9') ||
	      (*s == '-' && s[1] >= '0' && s[1] <= '9')))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool args_seconds(const char *s, double max, double *out)
{
	size_t dots = 0, digits = 0;
	char *end;
	double v;

	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '.')
			dots++;
		else if (*p >= '0' && *p <= '9')
			digits++;
		else
			return false;
	}
	if (digits == 0 || dots > 1)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v > 0) || v > max)
		return false;
	*out = v;
	return true;
}
