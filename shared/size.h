/*
 * size.h: a size in bytes as people write it in a configuration file or on
 * a command line: "4096", "64M", "1GiB", "2T".  logbusd's sizes and
 * logbus-bench's read the same way.
 */
#ifndef LOGBUS_SIZE_H
#define LOGBUS_SIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Digits, then K, M, G or T (either case, powers of 1024), then B or iB,
 * each optional, nothing else: no space, no sign.  false when s is not
 * that or the size does not fit in a uint64_t below UINT64_MAX. */
bool size_parse(const char *s, uint64_t *out);

#endif
