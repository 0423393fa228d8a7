/*
 * fnv1a.h: FNV-1a, 64 bits, the hash of service ids in the broker's tables
 * (services, owners' claims) and, finalised, its journal index's Bloom
 * bits.  Not for anything a peer could aim at a table with: the tables it
 * serves are bounded and their chains short by their own limits.
 */
#ifndef LOGBUS_FNV1A_H
#define LOGBUS_FNV1A_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t fnv1a64(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

#endif
