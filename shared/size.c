/*
 * size.c: sizes with a unit (size.h).
 *
 * strtoull alone is too kind: it skips white space and takes a sign, so
 * " -5" read as 2^64 - 5.  Only a digit may start a size.
 */
#include "size.h"

#include <errno.h>
#include <stdlib.h>

bool size_parse(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	}
	if (shift != 0)
		end++;
	if (end[0] == 'i' && end[1] == 'B')
		end += 2;
	else if (end[0] == 'B')
		end++;
	if (*end != '\0' || v >= (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}
