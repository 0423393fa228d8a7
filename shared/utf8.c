/*
 * utf8.c: UTF-8 validation for every text field the broker stores.
 *
 * Messages are mostly ASCII, so 32 and then eight bytes at a time are checked
 * for a high bit before falling back to the byte-wise state machine (RFC
 * 3629, Table 3).
 */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

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
		unsigned char c = *s;
		if (c < 0x80) {
			s++;
			continue;
		}
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if ((size_t)(end - s) <= n)
			return false;
		if (s[1] < lo || s[1] > hi)
			return false;
		for (size_t i = 2; i <= n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return false;
		s += n + 1;
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

size_t utf8_sanitize(const char *str, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, o = 0;

	while (i < len) {
		/* The longest valid sequence starting here: 1 to 4 bytes. */
		size_t n = 1;
		if (s[i] >= 0x80) {
			n = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : 2;
			if (i + n > len || !utf8_valid(str + i, n))
				n = 0;
		}
		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	return o;
}
