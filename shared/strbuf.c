/*
 * strbuf.c: growable text and JSON output (strbuf.h).
 */
#include "strbuf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct strbuf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void sb_put(struct strbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_puts(struct strbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_put(b, tmp,
		       (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void sb_reset(struct strbuf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->p)
		b->p[0] = '\0';
}

void sb_free(struct strbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void sb_json_str(struct strbuf *b, const char *s, size_t n)
{
	size_t run = 0;

	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sb_put(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			sb_puts(b, "\\\"");
			break;
		case '\\':
			sb_puts(b, "\\\\");
			break;
		case '\n':
			sb_puts(b, "\\n");
			break;
		case '\r':
			sb_puts(b, "\\r");
			break;
		case '\t':
			sb_puts(b, "\\t");
			break;
		default:
			sb_printf(b, "\\u%04x", c);
			break;
		}
	}
	sb_put(b, s + run, n - run);
	sb_put(b, "\"", 1);
}

void sb_double(struct strbuf *b, double d)
{
	char buf[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	sb_puts(b, buf);
}

void sb_json_float(struct strbuf *b, double d)
{
	size_t start = b->len;

	if (d != d || d - d != 0) {
		sb_puts(b, "null");
		return;
	}
	sb_double(b, d);
	if (!b->failed && !strpbrk(b->p + start, ".e"))
		sb_puts(b, ".0");
}

void sb_json_scalar(struct strbuf *b, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		sb_json_str(b, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		sb_printf(b, "%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		sb_printf(b, "%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		sb_json_float(b, o->via.f64);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		sb_puts(b, o->via.boolean ? "true" : "false");
		break;
	default:
		sb_puts(b, "null");
		break;
	}
}

void sb_json_field_value(struct strbuf *b, const logbus_field *f)
{
	switch (f->type) {
	case LOGBUS_FIELD_STR:
		sb_json_str(b, f->v.s, strlen(f->v.s));
		break;
	case LOGBUS_FIELD_INT:
		sb_printf(b, "%" PRId64, f->v.i);
		break;
	case LOGBUS_FIELD_FLOAT:
		sb_json_float(b, f->v.f);
		break;
	case LOGBUS_FIELD_BOOL:
		sb_puts(b, f->v.b ? "true" : "false");
		break;
	}
}
