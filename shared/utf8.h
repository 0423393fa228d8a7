/* utf8.h: strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF).
 */
#ifndef LOGBUS_UTF8_H
#define LOGBUS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t len);

/* Length of the longest prefix of s (at most len) that does not end inside a
 * multi-byte sequence: where a long line can be cut without splitting a
 * character. */
size_t utf8_cut(const char *s, size_t len);

/* Copy s into out (room for 3 * len bytes) with every byte that is not part
 * of a valid sequence replaced by U+FFFD; returns the length written. */
size_t utf8_sanitize(const char *s, size_t len, char *out);

#endif
