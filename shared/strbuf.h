/*
 * strbuf.h: a growable text buffer and the JSON pieces written into it,
 * shared by the library's record formatting and the broker's routed files
 * so that both escape JSON the same way.  Out of memory sets `failed` and
 * makes every later call a no-op: check once at the end.
 */
#ifndef LOGBUS_STRBUF_H
#define LOGBUS_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "logbus/logbus.h"

struct strbuf {
	char *p; /* NUL-terminated while not failed */
	size_t len, cap;
	bool failed;
};

void sb_put(struct strbuf *b, const char *s, size_t n);
void sb_puts(struct strbuf *b, const char *s);
void sb_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sb_reset(struct strbuf *b); /* empty, keeps the memory */
void sb_free(struct strbuf *b);

/* The shortest %g text reading back as d: "1", "0.1", "1e+300". */
void sb_double(struct strbuf *b, double d);

/* A JSON string with quotes; '"', '\\' and control characters escaped. */
void sb_json_str(struct strbuf *b, const char *s, size_t n);
/* The shortest text reading back as d, always a float ("1.0"); NaN and
 * infinities, which JSON lacks, as null. */
void sb_json_float(struct strbuf *b, double d);
/* A structured field's value as JSON (string, integer, float, bool). */
void sb_json_field_value(struct strbuf *b, const logbus_field *f);
/* A msgpack scalar (str, int, float, bool, nil) as JSON. */
void sb_json_scalar(struct strbuf *b, const msgpack_object *o);

#endif
