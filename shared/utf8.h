/* utf8.h: strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF).
 */
#ifndef LOGBUS_UTF8_H
#define LOGBUS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t len);

/* The length of the valid character at s (len > 0): 1 to 4; 0 when s does
 * not start one; -1 when s starts one that len cuts short. */
int utf8_char_len(const char *s, size_t len);

/* Length of the longest prefix of s (at most len) that does not end inside a
 * multi-byte sequence: where a long line can be cut without splitting a
 * character. */
size_t utf8_cut(const char *s, size_t len);

/* Copy s into out (room for 3 * len bytes) with every byte that is not part
 * of a valid sequence replaced by U+FFFD; returns the length written. */
size_t utf8_sanitize(const char *s, size_t len, char *out);

/*
 * utf8_sanitize into at most max bytes of out, never splitting a character:
 * returns how many bytes of s it used, *outlen how many it wrote.  A
 * character that len cuts short becomes U+FFFD when at_end, else it is left
 * for the next call.  *full: it stopped because the next character did not
 * fit in max.
 */
size_t utf8_sanitize_piece(const char *s, size_t len, bool at_end, char *out,
                           size_t max, size_t *outlen, bool *full);

#endif
