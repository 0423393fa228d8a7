/*
 * cursor.c: format and parse cursor strings (format in cursor.h).
 * A cursor is the only thing a reader keeps between runs, so parsing
 * rejects every string that cursor_format could not have produced.
 */
#include "cursor.h"

#include <stdio.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

void cursor_format(char out[CURSOR_STR_LEN + 1],
                   const unsigned char id[CURSOR_ID_LEN], uint64_t seq)
{
	char *p = out;

	memcpy(p, "lb1-", 4);
	p += 4;
	for (int i = 0; i < CURSOR_ID_LEN; i++) {
		*p++ = hexdig[id[i] >> 4];
		*p++ = hexdig[id[i] & 15];
	}
	*p++ = '-';
	for (int shift = 60; shift >= 0; shift -= 4)
		*p++ = hexdig[(seq >> shift) & 15];
	*p = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cursor_parse(const char *s, unsigned char id[CURSOR_ID_LEN], uint64_t *seq)
{
	if (s == NULL || strlen(s) != CURSOR_STR_LEN ||
	    memcmp(s, "lb1-", 4) != 0 || s[4 + 2 * CURSOR_ID_LEN] != '-')
		return -1;
	const char *p = s + 4;
	for (int i = 0; i < CURSOR_ID_LEN; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		id[i] = (unsigned char)(hi << 4 | lo);
	}
	p += 2 * CURSOR_ID_LEN + 1;
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		int d = hexval(p[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*seq = v;
	return 0;
}
