/*
 * textline.c: the text layout of a record and its escaping (textline.h
 * says what they promise).
 *
 * One scan: plain_len finds how much of the text is written as it is,
 * sixteen bytes at a time while they are printable ASCII (the common
 * message), else a character at a time through tabs and UTF-8 characters
 * that need no escape; textline_escape copies that run at once and then
 * writes the one character that ended it.
 */
#include "textline.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "record.h"
#include "timefmt.h"
#include "utf8.h"

/* Sixteen bytes at a time (GCC's and clang's vector extensions: SSE2 on
 * x86-64, NEON on arm64, plain code elsewhere). */
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint64_t u64x2 __attribute__((vector_size(16)));

/* Whether the 16 bytes at s are all printable ASCII, 0x20..0x7e: below
 * 0x20 the subtraction wraps to 0xe0 and up; DEL and bytes with the high
 * bit come to 0x5f and up. */
static inline bool printable16(const unsigned char *s)
{
	u8x16 v;

	memcpy(&v, s, sizeof v);
	u64x2 bad = (u64x2)((v - 0x20) >= 0x5f);
	return (bad[0] | bad[1]) == 0;
}

/* Whether the n-byte character at s is escaped though it is valid UTF-8:
 * a C1 control (C2 80..C2 9F) or U+2028/U+2029 (E2 80 A8, E2 80 A9). */
static inline bool special_char(const unsigned char *s, int n)
{
	return (n == 2 && s[0] == 0xc2 && s[1] < 0xa0) ||
	       (n == 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	        (s[2] == 0xa8 || s[2] == 0xa9));
}

/* The length of the run at s that is written as it is. */
static size_t plain_len(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (n - i >= 16) {
			if (printable16(s + i)) {
				i += 16;
				continue;
			}
		} else if (n >= 16 && printable16(s + n - 16)) {
			return n; /* the last 16, overlapping plain bytes */
		}
		unsigned char c = s[i];
		if ((c >= 0x20 && c < 0x7f) || c == '\t') {
			i++;
			continue;
		}
		if (c < 0x80)
			return i;
		int k = utf8_char_len((const char *)s + i, n - i);
		if (k <= 0 || special_char(s + i, k))
			return i;
		i += (size_t)k;
	}
	return n;
}

/* Write the character at s that ended a run (n bytes are left); returns
 * how many bytes it took. */
static size_t escape_one(struct strbuf *b, const unsigned char *s, size_t n,
                         const char *cont)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = {'\\', 'x'};
	int k;

	if (s[0] == '\n') {
		if (cont == NULL) {
			sb_put(b, "\\n", 2);
		} else {
			sb_put(b, "\n", 1);
			sb_puts(b, cont);
		}
		return 1;
	}
	if (s[0] == '\r') {
		sb_put(b, "\\r", 2);
		return 1;
	}
	if (s[0] >= 0x80 && (k = utf8_char_len((const char *)s, n)) > 0) {
		/* a C1 control or U+2028/U+2029 (plain_len let the rest by) */
		unsigned cp = k == 2 ? (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu)
		                     : (s[0] & 0x0fu) << 12 |
		                           (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
		char u[6] = {'\\',
		             'u',
		             hex[cp >> 12 & 15],
		             hex[cp >> 8 & 15],
		             hex[cp >> 4 & 15],
		             hex[cp & 15]};
		sb_put(b, u, sizeof u);
		return (size_t)k;
	}
	/* a C0 control, DEL, or a byte that is not UTF-8 */
	e[2] = hex[s[0] >> 4];
	e[3] = hex[s[0] & 15];
	sb_put(b, e, 4);
	return 1;
}

void textline_escape(struct strbuf *b, const char *str, size_t n,
                     const char *cont, bool raw)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		size_t run;
		if (raw) {
			const unsigned char *nl = memchr(s + i, '\n', n - i);
			run = nl ? (size_t)(nl - (s + i)) : n - i;
		} else {
			run = plain_len(s + i, n - i);
		}
		sb_put(b, str + i, run);
		i += run;
		if (i < n)
			i += escape_one(b, s + i, n - i, cont);
	}
}

size_t textline_format(struct strbuf *b, const struct textline *t, bool raw)
{
	char lv[16], head[TIMEFMT_MAX + sizeof lv + 4];
	const char *name = level_name(t->level, lv, sizeof lv);
	size_t n = t->message_len, at, h, len;

	while (n > 0 &&
	       (t->message[n - 1] == '\n' || t->message[n - 1] == '\r'))
		n--;
	/* "TIME [LEVEL] " in one piece: this runs for every record */
	h = t->time_len < TIMEFMT_MAX ? t->time_len : TIMEFMT_MAX;
	memcpy(head, t->time, h);
	memcpy(head + h, " [", 2);
	h += 2;
	len = strnlen(name, sizeof lv - 1);
	memcpy(head + h, name, len);
	h += len;
	memcpy(head + h, "] ", 2);
	sb_put(b, head, h + 2);
	textline_escape(b, t->logger, t->logger_len, NULL, raw);
	sb_put(b, " ", 1);
	/* [A-Za-z0-9._-], as record_check made sure: nothing to escape */
	sb_put(b, t->service, t->service_len);
	if (t->not_owner)
		sb_printf(b, "[uid=%" PRIu32 "]", t->uid);
	sb_put(b, ": ", 2);
	at = b->len;
	textline_escape(b, t->message, n, TEXTLINE_CONT, raw);
	sb_put(b, "\n", 1);
	return at;
}

/* r's time as form says into t (TIMEFMT_MAX bytes); its length. */
static size_t format_time(char *t, int64_t ns, const struct textline_time *form)
{
	static const struct textline_time python = {TEXTLINE_TIME_PYTHON,
	                                            false};

	if (form == NULL)
		form = &python;
	if (form->style == TEXTLINE_TIME_ISO)
		return timefmt_iso(t, TIMEFMT_MAX, ns, form->utc);
	return timefmt_text(t, TIMEFMT_MAX, ns, form->utc,
	                    form->style == TEXTLINE_TIME_PRECISE ? 6 : 3);
}

size_t textline_format_record(struct strbuf *b, const logbus_record *r,
                              const struct textline_time *form, bool raw)
{
	char t[TIMEFMT_MAX];
	struct textline tl = {
	    .time = t,
	    .time_len = format_time(t, r->time_ns, form),
	    .level = r->level,
	    .logger = r->logger,
	    .logger_len = strlen(r->logger),
	    .service = r->service,
	    .service_len = strlen(r->service),
	    .not_owner = r->not_owner,
	    .uid = r->uid,
	    .message = r->message,
	    .message_len = r->message_len,
	};

	return textline_format(b, &tl, raw);
}
