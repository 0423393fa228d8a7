/*
 * utf8.c: UTF-8 validation for every text field the broker stores, and the
 * repair (U+FFFD for each byte that is not part of a character) that the
 * library and logbusctl apply to text they did not make.  One decoder,
 * char_len (RFC 3629, Table 3), serves all of them.
 *
 * Messages are mostly ASCII, so 32 and then eight bytes at a time are checked
 * for a high bit before falling back to the decoder.
 */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/*
 * The length of the valid character at s[0..len), len > 0: 1 to 4; 0 when
 * s does not start one; -1 when s starts one that len cuts short.
 */
static inline int char_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	int n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((size_t)i >= len)
			return -1;
		if (i == 1 ? s[1] < lo || s[1] > hi : (s[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

int utf8_char_len(const char *s, size_t len)
{
	return char_len((const unsigned char *)s, len);
}

bool utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *end = s + len;

	while (s < end) {
		if (end - s >= 32) { /* a run of ASCII, 32 bytes at a time */
			uint64_t w[4];
			memcpy(w, s, 32);
			if (((w[0] | w[1] | w[2] | w[3]) &
			     0x8080808080808080ull) == 0) {
				s += 32;
				continue;
			}
		}
		if (end - s >= 8) {
			uint64_t w;
			memcpy(&w, s, 8);
			if ((w & 0x8080808080808080ull) == 0) {
				s += 8;
				continue;
			}
		}
		int n = char_len(s, (size_t)(end - s));
		if (n <= 0)
			return false;
		s += n;
	}
	return true;
}

size_t utf8_cut(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = len;

	/* Step back over at most three continuation bytes to a lead byte. */
	while (i > 0 && len - i < 4 && (s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || s[i - 1] < 0x80)
		return len;
	unsigned char lead = s[i - 1];
	size_t need = lead >= 0xf0   ? 4
	              : lead >= 0xe0 ? 3
	              : lead >= 0xc0 ? 2
	                             : 1;
	return (len - (i - 1) >= need) ? len : i - 1;
}

size_t utf8_sanitize_piece(const char *str, size_t len, bool at_end, char *out,
                           size_t max, size_t *outlen, bool *full)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, o = 0;

	*full = false;
	while (i < len) {
		int n = char_len(s + i, len - i);
		if (n < 0 && !at_end)
			break;
		size_t w = n > 0 ? (size_t)n : 3;
		if (w > max - o) {
			*full = true;
			break;
		}
		if (n > 0)
			memcpy(out + o, s + i, w);
		else
			memcpy(out + o, "\xef\xbf\xbd", 3);
		o += w;
		i += n > 0 ? (size_t)n : 1;
	}
	*outlen = o;
	return i;
}

size_t utf8_sanitize(const char *s, size_t len, char *out)
{
	size_t o;
	bool full;

	utf8_sanitize_piece(s, len, true, out, SIZE_MAX, &o, &full);
	return o;
}
