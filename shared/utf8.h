/* utf8.h: strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF). */
#ifndef LOGBUS_UTF8_H
#define LOGBUS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t len);

/* Length of the longest prefix of s (at most len) that does not end inside a
 * multi-byte sequence: where a long line can be cut without splitting a
 * character. */
size_t utf8_cut(const char *s, size_t len);

#endif
