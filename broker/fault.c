/*
 * fault.c: fault points of test builds (fault.h says what they are for).
 *
 * Only compiled with the CMake option LOGBUS_FAULT_POINTS.  LOGBUS_FAULT is
 * read once, at the first point reached: "NAME:N" with N >= 1.  A value
 * that does not read so is said on stderr once and ignored; a test that
 * waits for the crash then fails, it never passes without one.
 */
#include "fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAULT_NAME_MAX 64

static struct {
	int parsed;
	char name[FAULT_NAME_MAX];
	unsigned long at; /* abort on this hit; 0: no fault set */
	unsigned long hits;
} fault;

static void fault_parse(void)
{
	const char *v = getenv("LOGBUS_FAULT");
	const char *colon;
	char *end;

	fault.parsed = 1;
	if (v == NULL || *v == '\0')
		return;
	colon = strchr(v, ':');
	if (colon == NULL || colon == v || colon - v >= FAULT_NAME_MAX)
		goto bad;
	errno = 0;
	unsigned long n = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end != '\0' || n == 0)
		goto bad;
	memcpy(fault.name, v, (size_t)(colon - v));
	fault.name[colon - v] = '\0';
	fault.at = n;
	return;
bad:
	fprintf(stderr,
	        "logbusd: LOGBUS_FAULT=%s ignored: expected NAME:N, N >= 1 "
	        "(broker/fault.h lists the names)\n",
	        v);
}

void fault_point(const char *name)
{
	if (!fault.parsed)
		fault_parse();
	if (fault.at == 0 || strcmp(name, fault.name) != 0)
		return;
	if (++fault.hits < fault.at)
		return;
	fprintf(stderr,
	        "logbusd: fault point %s reached %lu times "
	        "(LOGBUS_FAULT): abort\n",
	        name, fault.hits);
	abort();
}
