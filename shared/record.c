/*
 * record.c: encode, decode and validate records (record.h).
 *
 * record_decode is the broker's gate: nothing reaches the journal that it
 * did not accept, and the service id it accepted is safe to put in a file
 * name (service_<id>_error.log), so its rules are strict and explicit:
 *  - required keys t, v, s, n, m with their types; o and f optional;
 *  - unknown keys are kept but ignored, so newer clients still work;
 *  - every string is valid UTF-8; the service id is [A-Za-z0-9._-]{1,128}
 *    not starting with '.'; the logger has no control characters.
 */
#include "record.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "exitinfo.h"
#include "proto.h"
#include "utf8.h"

void record_pack(msgpack_packer *pk, const struct record_in *r)
{
	size_t n = 5 + (r->stream != LOGBUS_STREAM_LOG) + (r->nfields > 0) +
	           (r->exit != NULL);

	msgpack_pack_map(pk, n);
	mp_pack_key(pk, RK_TIME);
	msgpack_pack_int64(pk, r->time_ns);
	mp_pack_key(pk, RK_LEVEL);
	msgpack_pack_int(pk, r->level);
	mp_pack_key(pk, RK_SERVICE);
	mp_pack_str(pk, r->service.p, r->service.len);
	mp_pack_key(pk, RK_LOGGER);
	mp_pack_str(pk, r->logger.p, r->logger.len);
	mp_pack_key(pk, RK_MESSAGE);
	mp_pack_str(pk, r->message.p, r->message.len);
	if (r->stream != LOGBUS_STREAM_LOG) {
		mp_pack_key(pk, RK_STREAM);
		msgpack_pack_int(pk, r->stream);
	}
	if (r->exit != NULL) {
		mp_pack_key(pk, RK_EXIT);
		exit_pack(pk, r->exit);
	}
	if (r->nfields == 0)
		return;
	mp_pack_key(pk, RK_FIELDS);
	msgpack_pack_map(pk, r->nfields);
	for (size_t i = 0; i < r->nfields; i++) {
		const logbus_field *f = &r->fields[i];
		mp_pack_key(pk, f->key);
		switch (f->type) {
		case LOGBUS_FIELD_STR:
			mp_pack_key(pk, f->v.s ? f->v.s : "");
			break;
		case LOGBUS_FIELD_INT:
			msgpack_pack_int64(pk, f->v.i);
			break;
		case LOGBUS_FIELD_FLOAT:
			msgpack_pack_double(pk, f->v.f);
			break;
		case LOGBUS_FIELD_BOOL:
			if (f->v.b)
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
			break;
		}
	}
}

bool service_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > LOGBUS_SERVICE_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

bool logger_valid(const char *s, size_t len)
{
	if (len == 0 || len > LOGBUS_LOGGER_MAX || !utf8_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

bool field_key_valid(const char *s, size_t len)
{
	if (len == 0 || len > LOGBUS_KEY_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

__attribute__((format(printf, 3, 4))) static int
fail(struct record_error *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static bool get_int(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return false;
		*out = (int64_t)o->via.u64;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return true;
	}
	return false;
}

static int check_fields(const msgpack_object *o, struct record_error *e)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return fail(e, ERR_BAD_RECORD, "fields are not a map");
	if (o->via.map.size > LOGBUS_FIELDS_MAX)
		return fail(e, ERR_TOO_MANY_FIELDS,
		            "record has %u fields, over the limit of %d",
		            o->via.map.size, LOGBUS_FIELDS_MAX);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR ||
		    !field_key_valid(k->via.str.ptr, k->via.str.size))
			return fail(e, ERR_BAD_RECORD,
			            "field key is not [A-Za-z0-9._-]{1,64}");
		switch (v->type) {
		case MSGPACK_OBJECT_STR:
			if (!utf8_valid(v->via.str.ptr, v->via.str.size))
				return fail(e, ERR_BAD_UTF8,
				            "field value is not UTF-8");
			break;
		case MSGPACK_OBJECT_POSITIVE_INTEGER:
		case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		case MSGPACK_OBJECT_FLOAT32:
		case MSGPACK_OBJECT_FLOAT64:
		case MSGPACK_OBJECT_BOOLEAN:
		case MSGPACK_OBJECT_NIL:
			break;
		default:
			return fail(e, ERR_BAD_RECORD,
			            "field value is not a scalar");
		}
	}
	return 0;
}

enum { HAVE_T = 1, HAVE_V = 2, HAVE_S = 4, HAVE_N = 8, HAVE_M = 16 };

static int decode_key(const msgpack_object *k, const msgpack_object *val,
                      struct record_view *v, unsigned *have,
                      struct record_error *e)
{
	int64_t n;

	if (mp_key_is(k, RK_TIME)) {
		if (!get_int(val, &n))
			return fail(e, ERR_BAD_RECORD,
			            "time is not an integer");
		v->time_ns = n;
		*have |= HAVE_T;
	} else if (mp_key_is(k, RK_LEVEL)) {
		if (!get_int(val, &n) || n < 0 || n > 255)
			return fail(e, ERR_BAD_RECORD,
			            "level is not an integer 0..255");
		v->level = (int)n;
		*have |= HAVE_V;
	} else if (mp_key_is(k, RK_STREAM)) {
		if (!get_int(val, &n) || n < 0 || n > 2)
			return fail(e, ERR_BAD_RECORD,
			            "stream is not 0, 1 or 2");
		v->stream = (int)n;
	} else if (mp_key_is(k, RK_EXIT)) {
		struct exit_view xv;
		if (exit_decode(val, &xv, e) < 0)
			return -1;
		v->exit = val;
	} else if (mp_key_is(k, RK_FIELDS)) {
		if (check_fields(val, e) < 0)
			return -1;
		v->fields = val->via.map.size ? &val->via.map : NULL;
	} else {
		struct lb_str *dst = mp_key_is(k, RK_SERVICE)   ? &v->service
		                     : mp_key_is(k, RK_LOGGER)  ? &v->logger
		                     : mp_key_is(k, RK_MESSAGE) ? &v->message
		                                                : NULL;
		if (dst == NULL)
			return 0; /* unknown key: kept, ignored */
		if (val->type != MSGPACK_OBJECT_STR)
			return fail(e, ERR_BAD_RECORD, "%s is not a string",
			            dst == &v->service  ? "service"
			            : dst == &v->logger ? "logger"
			                                : "message");
		dst->p = val->via.str.ptr;
		dst->len = val->via.str.size;
		*have |= dst == &v->service  ? HAVE_S
		         : dst == &v->logger ? HAVE_N
		                             : HAVE_M;
	}
	return 0;
}

int record_decode(const char *data, size_t len, msgpack_zone *zone,
                  struct record_view *v, struct record_error *e)
{
	msgpack_object obj;
	size_t off = 0;
	unsigned have = 0;

	memset(v, 0, sizeof *v);
	if (msgpack_unpack(data, len, &off, zone, &obj) !=
	    MSGPACK_UNPACK_SUCCESS)
		return fail(e, ERR_BAD_RECORD, "record is not msgpack");
	if (off != len)
		return fail(e, ERR_BAD_RECORD, "bytes after the record's map");
	if (obj.type != MSGPACK_OBJECT_MAP)
		return fail(e, ERR_BAD_RECORD, "record is not a map");
	for (uint32_t i = 0; i < obj.via.map.size; i++) {
		const msgpack_object *k = &obj.via.map.ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR)
			return fail(e, ERR_BAD_RECORD,
			            "record key is not a string");
		if (decode_key(k, &obj.via.map.ptr[i].val, v, &have, e) < 0)
			return -1;
	}
	if ((have & (HAVE_T | HAVE_V | HAVE_S | HAVE_N | HAVE_M)) !=
	    (HAVE_T | HAVE_V | HAVE_S | HAVE_N | HAVE_M))
		return fail(e, ERR_BAD_RECORD,
		            "record lacks one of time, level, service, logger, "
		            "message");
	if (!service_id_valid(v->service.p, v->service.len))
		return fail(e, ERR_BAD_SERVICE,
		            "service id must be 1..128 of [A-Za-z0-9._-], not "
		            "starting with '.'");
	if (!logger_valid(v->logger.p, v->logger.len))
		return fail(e, ERR_BAD_RECORD,
		            "logger must be 1..256 bytes of UTF-8 without "
		            "control characters");
	if (!utf8_valid(v->message.p, v->message.len))
		return fail(e, ERR_BAD_UTF8, "message is not valid UTF-8");
	return 0;
}

const char *stream_name(int stream)
{
	return stream == LOGBUS_STREAM_STDOUT   ? "stdout"
	       : stream == LOGBUS_STREAM_STDERR ? "stderr"
	                                        : "log";
}

static const struct {
	const char *name;
	int level;
} level_names[] = {
    {"DEBUG", LOGBUS_DEBUG},       {"INFO", LOGBUS_INFO},
    {"WARNING", LOGBUS_WARNING},   {"ERROR", LOGBUS_ERROR},
    {"CRITICAL", LOGBUS_CRITICAL},
};

const char *level_name(int level, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	snprintf(buf, len, "LEVEL%d", level);
	return buf;
}

int level_parse(const char *s)
{
	if (s == NULL || *s == '\0')
		return -1;
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
		if (strcasecmp(s, level_names[i].name) == 0)
			return level_names[i].level;
	if (strcasecmp(s, "warn") == 0)
		return LOGBUS_WARNING;
	if (strcasecmp(s, "fatal") == 0 || strcasecmp(s, "crit") == 0)
		return LOGBUS_CRITICAL;
	if (strcasecmp(s, "err") == 0)
		return LOGBUS_ERROR;
	int v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > 255)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v <= 255 ? v : -1;
}
