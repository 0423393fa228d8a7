/*
 * record.c: encode, decode and validate records (record.h).
 *
 * record_decode is the broker's gate: nothing reaches the journal that it
 * did not accept, and the service id it accepted is safe to put in a file
 * name (<service>_error.log), so its rules are strict and explicit:
 *  - required keys t, v, s, n, m with their types; o and f optional;
 *  - unknown keys are kept but ignored, so newer clients still work;
 *  - every string is valid UTF-8; the service id is [A-Za-z0-9._-]{1,128}
 *    not starting with '.'; the logger has no control characters;
 *  - an exit report's category is one of category.h's names, and its
 *    field error_category, when it has one, says the same (other records
 *    may carry a field of that name as they please).
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

/* --- encoding without a packer ------------------------------------------ */

/* msgpack's smallest form of each, as msgpack-c chooses it. */
static char *put_be(char *w, unsigned char type, uint64_t v, int n)
{
	*w++ = (char)type;
	for (int i = n - 1; i >= 0; i--)
		*w++ = (char)(v >> (8 * i));
	return w;
}

static char *put_int(char *w, int64_t d)
{
	if (d < -(1LL << 5)) {
		if (d < -(1LL << 15))
			return d < -(1LL << 31)
			           ? put_be(w, 0xd3, (uint64_t)d, 8)
			           : put_be(w, 0xd2, (uint64_t)d, 4);
		return d < -(1LL << 7) ? put_be(w, 0xd1, (uint64_t)d, 2)
		                       : put_be(w, 0xd0, (uint64_t)d, 1);
	}
	if (d < (1LL << 7)) {
		*w++ = (char)d; /* positive or negative fixint */
		return w;
	}
	if (d < (1LL << 16))
		return d < (1LL << 8) ? put_be(w, 0xcc, (uint64_t)d, 1)
		                      : put_be(w, 0xcd, (uint64_t)d, 2);
	return d < (1LL << 32) ? put_be(w, 0xce, (uint64_t)d, 4)
	                       : put_be(w, 0xcf, (uint64_t)d, 8);
}

static char *put_str(char *w, const char *s, size_t len)
{
	if (len < 32)
		*w++ = (char)(0xa0 | len);
	else if (len < 256)
		w = put_be(w, 0xd9, len, 1);
	else if (len < 65536)
		w = put_be(w, 0xda, len, 2);
	else
		w = put_be(w, 0xdb, len, 4);
	memcpy(w, s, len);
	return w + len;
}

static char *put_map(char *w, size_t n)
{
	if (n < 16) {
		*w++ = (char)(0x80 | n);
		return w;
	}
	return n < 65536 ? put_be(w, 0xde, n, 2) : put_be(w, 0xdf, n, 4);
}

/* A one-letter key (proto.h's RK_*). */
static char *put_key(char *w, const char *k)
{
	w[0] = (char)0xa1;
	w[1] = k[0];
	return w + 2;
}

size_t record_encoded_max(const struct record_in *r)
{
	size_t n = 64 + r->service.len + r->logger.len + r->message.len;

	for (size_t i = 0; i < r->nfields; i++) {
		const logbus_field *f = &r->fields[i];
		n += 14 + strlen(f->key);
		if (f->type == LOGBUS_FIELD_STR)
			n += strlen(f->v.s ? f->v.s : "");
	}
	return n;
}

size_t record_encode(char *out, const struct record_in *r)
{
	char *w = put_map(out, 5 + (r->stream != LOGBUS_STREAM_LOG) +
	                           (r->nfields > 0));

	w = put_int(put_key(w, RK_TIME), r->time_ns);
	w = put_int(put_key(w, RK_LEVEL), r->level);
	w = put_str(put_key(w, RK_SERVICE), r->service.p, r->service.len);
	w = put_str(put_key(w, RK_LOGGER), r->logger.p, r->logger.len);
	w = put_str(put_key(w, RK_MESSAGE), r->message.p, r->message.len);
	if (r->stream != LOGBUS_STREAM_LOG)
		w = put_int(put_key(w, RK_STREAM), r->stream);
	if (r->nfields == 0)
		return (size_t)(w - out);
	w = put_map(put_key(w, RK_FIELDS), r->nfields);
	for (size_t i = 0; i < r->nfields; i++) {
		const logbus_field *f = &r->fields[i];
		w = put_str(w, f->key, strlen(f->key));
		switch (f->type) {
		case LOGBUS_FIELD_STR: {
			const char *v = f->v.s ? f->v.s : "";
			w = put_str(w, v, strlen(v));
			break;
		}
		case LOGBUS_FIELD_INT:
			w = put_int(w, f->v.i);
			break;
		case LOGBUS_FIELD_FLOAT: {
			uint64_t u;
			memcpy(&u, &f->v.f, 8);
			w = put_be(w, 0xcb, u, 8);
			break;
		}
		case LOGBUS_FIELD_BOOL:
			*w++ = (char)(f->v.b ? 0xc3 : 0xc2);
			break;
		}
	}
	return (size_t)(w - out);
}

/* Every byte of s is a letter, a digit, '.', '_' or '-'. */
static bool name_chars_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

bool service_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > LOGBUS_SERVICE_MAX || s[0] == '.')
		return false;
	return name_chars_valid(s, len);
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
	return name_chars_valid(s, len);
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
	const msgpack_object *twice = mp_repeated_key(o);
	if (twice != NULL)
		return fail(e, ERR_BAD_RECORD, "field '%.*s' appears twice",
		            (int)twice->via.str.size, twice->via.str.ptr);
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

enum {
	HAVE_T = 1,
	HAVE_V = 2,
	HAVE_S = 4,
	HAVE_N = 8,
	HAVE_M = 16,
	HAVE_O = 32,
	HAVE_F = 64,
	HAVE_X = 128
};

/* The bit of a key the record model names, 0 for an unknown key.  A named
 * key may appear once: a record whose "s" appears twice would be one
 * service to the broker and perhaps another to a reader that takes the
 * first. */
static unsigned key_bit(const char *k, size_t len)
{
	switch (len == 1 ? k[0] : 0) {
	case 't':
		return HAVE_T;
	case 'v':
		return HAVE_V;
	case 's':
		return HAVE_S;
	case 'n':
		return HAVE_N;
	case 'm':
		return HAVE_M;
	case 'o':
		return HAVE_O;
	case 'f':
		return HAVE_F;
	case 'x':
		return HAVE_X;
	default:
		return 0;
	}
}

static int decode_key(const msgpack_object *k, const msgpack_object *val,
                      struct record_view *v, struct record_error *e)
{
	int64_t n;

	if (mp_key_is(k, RK_TIME)) {
		if (!get_int(val, &n))
			return fail(e, ERR_BAD_RECORD,
			            "time is not an integer");
		v->time_ns = n;
	} else if (mp_key_is(k, RK_LEVEL)) {
		if (!get_int(val, &n) || n < 0 || n > 255)
			return fail(e, ERR_BAD_RECORD,
			            "level is not an integer 0..255");
		v->level = (int)n;
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
		v->nfields = val->via.map.size;
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
	}
	return 0;
}

/* An exit report's field error_category is its exit map's "cat", so
 * that a filter on the field finds what the report says. */
static int check_exit_category(const struct record_view *v,
                               struct record_error *e)
{
	const msgpack_object *cat = mp_get(v->exit, "cat");

	for (uint32_t i = 0; v->fields && i < v->fields->size; i++) {
		const msgpack_object *k = &v->fields->ptr[i].key;
		const msgpack_object *f = &v->fields->ptr[i].val;
		if (!mp_key_is(k, "error_category"))
			continue;
		if (cat == NULL || f->type != MSGPACK_OBJECT_STR ||
		    f->via.str.size != cat->via.str.size ||
		    memcmp(f->via.str.ptr, cat->via.str.ptr, f->via.str.size) !=
		        0)
			return fail(e, ERR_BAD_RECORD,
			            "exit report: field error_category is not "
			            "its exit map's category");
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
	if (!mp_counts_fit(data, len))
		return fail(e, ERR_BAD_RECORD,
		            "record declares more elements than it has bytes");
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
		unsigned bit = key_bit(k->via.str.ptr, k->via.str.size);
		if (have & bit)
			return fail(e, ERR_BAD_RECORD,
			            "record key '%c' appears twice",
			            k->via.str.ptr[0]);
		have |= bit;
		if (decode_key(k, &obj.via.map.ptr[i].val, v, e) < 0)
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
	if (v->exit != NULL && check_exit_category(v, e) < 0)
		return -1;
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

/* --- peeking at stored records ------------------------------------------ */

/* A cursor over msgpack bytes for record_peek. */
struct mp_cur {
	const unsigned char *p, *end;
};

static inline bool cur_take(struct mp_cur *c, size_t n,
                            const unsigned char **at)
{
	if ((size_t)(c->end - c->p) < n)
		return false;
	*at = c->p;
	c->p += n;
	return true;
}

static uint64_t be_get(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The object at c: its kind and c past it, except that for an array or a
 * map c is past its header only and n counts its elements (a map's keys
 * and values); n is a str's length (str points at its bytes) or a uint's
 * value, i an int's. */
enum mp_kind { MPK_INT, MPK_UINT, MPK_STR, MPK_OTHER, MPK_ARRAY, MPK_MAP };

struct mp_item {
	enum mp_kind kind;
	uint64_t n; /* str length, element count or uint value */
	int64_t i;  /* int value */
	const unsigned char *str;
};

static bool cur_sized(struct mp_cur *c, size_t lenbytes, size_t extra,
                      struct mp_item *it, enum mp_kind kind)
{
	const unsigned char *h;

	if (!cur_take(c, lenbytes, &h))
		return false;
	it->kind = kind;
	it->n = be_get(h, lenbytes);
	if (kind == MPK_STR || kind == MPK_OTHER) {
		/* bin, str, ext: pass the payload (ext has a type byte) */
		return cur_take(c, (size_t)it->n + extra, &it->str);
	}
	if (kind == MPK_MAP)
		it->n *= 2;
	return true;
}

/* cur_item for the header bytes that are not "fix" forms. */
static bool cur_item_slow(struct mp_cur *c, unsigned t, struct mp_item *it)
{
	const unsigned char *h;

	switch (t) {
	case 0xc0: /* nil, false, true */
	case 0xc2:
	case 0xc3:
		return true;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return cur_sized(c, 1u << (t - 0xc4), 0, it, MPK_OTHER);
	case 0xc7:
	case 0xc8:
	case 0xc9:
		return cur_sized(c, 1u << (t - 0xc7), 1, it, MPK_OTHER);
	case 0xca:
		return cur_take(c, 4, &h);
	case 0xcb:
		return cur_take(c, 8, &h);
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		if (!cur_take(c, 1u << (t - 0xcc), &h))
			return false;
		it->kind = MPK_UINT;
		it->n = be_get(h, 1u << (t - 0xcc));
		return true;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		size_t n = 1u << (t - 0xd0);
		if (!cur_take(c, n, &h))
			return false;
		uint64_t u = be_get(h, n);
		if (n < 8 && (u >> (8 * n - 1)))
			u |= ~0ull << (8 * n); /* sign-extend */
		it->kind = MPK_INT;
		it->i = (int64_t)u;
		return true;
	}
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		return cur_take(c, 1 + (1u << (t - 0xd4)), &h);
	case 0xd9:
	case 0xda:
	case 0xdb:
		return cur_sized(c, 1u << (t - 0xd9), 0, it, MPK_STR);
	case 0xdc:
	case 0xdd:
		return cur_sized(c, 2u << (t - 0xdc), 0, it, MPK_ARRAY);
	case 0xde:
	case 0xdf:
		return cur_sized(c, 2u << (t - 0xde), 0, it, MPK_MAP);
	default: /* 0xc1 is never used */
		return false;
	}
}

/* Inline: most of a record is fixints, fixstrs and a fixmap. */
static inline bool cur_item(struct mp_cur *c, struct mp_item *it)
{
	const unsigned char *b;

	if (!cur_take(c, 1, &b))
		return false;
	unsigned t = *b;
	if (t >= 0xa0 && t <= 0xbf) {
		it->kind = MPK_STR;
		it->n = t & 0x1f;
		return cur_take(c, (size_t)it->n, &it->str);
	}
	if (t <= 0x7f || t >= 0xe0) {
		it->kind = t <= 0x7f ? MPK_UINT : MPK_INT;
		it->n = t;
		it->i = (int8_t)t;
		return true;
	}
	if (t <= 0x9f) {
		it->kind = t <= 0x8f ? MPK_MAP : MPK_ARRAY;
		it->n = (t & 0x0f) * (t <= 0x8f ? 2u : 1u);
		return true;
	}
	if (t == 0xd9) { /* str8: a message of 32..255 bytes */
		const unsigned char *h;
		if (!cur_take(c, 1, &h))
			return false;
		it->kind = MPK_STR;
		it->n = *h;
		return cur_take(c, *h, &it->str);
	}
	it->kind = MPK_OTHER;
	return cur_item_slow(c, t, it);
}

/* Pass over one whole object, nested ones included, without recursion. */
static bool cur_skip(struct mp_cur *c)
{
	uint64_t left = 1;

	while (left > 0) {
		struct mp_item it;
		left--;
		if (!cur_item(c, &it))
			return false;
		if (it.kind == MPK_ARRAY || it.kind == MPK_MAP) {
			/* every element takes at least a byte */
			if (it.n > (uint64_t)(c->end - c->p))
				return false;
			left += it.n;
		}
	}
	return true;
}

/* An int as record_decode's get_int reads it. */
static bool item_int(const struct mp_item *it, int64_t *out)
{
	if (it->kind == MPK_UINT && it->n <= INT64_MAX) {
		*out = (int64_t)it->n;
		return true;
	}
	if (it->kind == MPK_INT) {
		*out = it->i;
		return true;
	}
	return false;
}

static bool key_is(const struct mp_item *k, char name)
{
	return k->n == 1 && k->str[0] == (unsigned char)name;
}

static bool peek_str(const struct mp_item *val, struct lb_str *dst,
                     unsigned *have, unsigned bit)
{
	if (val->kind != MPK_STR)
		return false;
	dst->p = (const char *)val->str;
	dst->len = (uint32_t)val->n;
	*have |= bit;
	return true;
}

/* Whether k is one of the keys peek_value reads. */
static bool peeked_key(const struct mp_item *k)
{
	switch (k->n == 1 ? k->str[0] : 0) {
	case 't':
	case 'v':
	case 'o':
	case 's':
	case 'n':
	case 'm':
		return true;
	default:
		return false;
	}
}

/* The value of a peeked key k; false when record_decode would refuse it. */
static bool peek_value(struct mp_cur *c, const struct mp_item *k,
                       struct record_view *v, unsigned *have)
{
	struct mp_item val;
	int64_t n;

	/* No key peeked at may hold a container: record_decode refuses it. */
	if (!cur_item(c, &val) || val.kind == MPK_ARRAY || val.kind == MPK_MAP)
		return false;
	if (key_is(k, 't')) {
		*have |= HAVE_T;
		return item_int(&val, &v->time_ns);
	}
	if (key_is(k, 'v') || key_is(k, 'o')) {
		bool lvl = key_is(k, 'v');
		if (!item_int(&val, &n) || n < 0 || n > (lvl ? 255 : 2))
			return false;
		if (lvl) {
			v->level = (int)n;
			*have |= HAVE_V;
		} else {
			v->stream = (int)n;
		}
		return true;
	}
	return peek_str(&val,
	                key_is(k, 's')   ? &v->service
	                : key_is(k, 'n') ? &v->logger
	                                 : &v->message,
	                have,
	                key_is(k, 's')   ? HAVE_S
	                : key_is(k, 'n') ? HAVE_N
	                                 : HAVE_M);
}

/* One key and its value; false when record_decode would refuse them. */
static bool peek_entry(struct mp_cur *c, struct record_view *v, unsigned *have)
{
	struct mp_item k;

	if (!cur_item(c, &k) || k.kind != MPK_STR)
		return false;
	if (!peeked_key(&k)) /* f, x and unknown keys: checked when stored */
		return cur_skip(c);
	return peek_value(c, &k, v, have);
}

/* A record's map, one entry_fn call per key; 0 when every entry and the
 * required keys are there. */
typedef bool entry_fn(struct mp_cur *c, struct record_view *v, unsigned *have);

static inline int walk(const char *data, size_t len, struct record_view *v,
                       entry_fn *entry)
{
	struct mp_cur c = {(const unsigned char *)data,
	                   (const unsigned char *)data + len};
	struct mp_item map;
	unsigned have = 0;

	memset(v, 0, sizeof *v);
	if (!cur_item(&c, &map) || map.kind != MPK_MAP)
		return -1;
	for (uint64_t i = 0; i < map.n / 2; i++)
		if (!entry(&c, v, &have))
			return -1;
	if (c.p != c.end)
		return -1;
	if ((have & (HAVE_T | HAVE_V | HAVE_S | HAVE_N | HAVE_M)) !=
	    (HAVE_T | HAVE_V | HAVE_S | HAVE_N | HAVE_M))
		return -1;
	return 0;
}

int record_peek(const char *data, size_t len, struct record_view *v)
{
	return walk(data, len, v, peek_entry);
}

/* --- checking a publisher's record in place ------------------------------ */

/* A field's value as check_fields takes it: a scalar, a string in UTF-8. */
static bool check_field_value(struct mp_cur *c)
{
	struct mp_item it;
	const unsigned char *t = c->p;

	if (!cur_item(c, &it))
		return false;
	switch (it.kind) {
	case MPK_STR:
		return utf8_valid((const char *)it.str, (size_t)it.n);
	case MPK_INT:
	case MPK_UINT:
		return true;
	case MPK_OTHER: /* nil, false, true, float 32, float 64: not bin/ext */
		return *t == 0xc0 || *t == 0xc2 || *t == 0xc3 || *t == 0xca ||
		       *t == 0xcb;
	default:
		return false;
	}
}

static bool field_key_seen(const struct mp_item *keys, size_t n,
                           const struct mp_item *k)
{
	for (size_t i = 0; i < n; i++)
		if (keys[i].n == k->n && memcmp(keys[i].str, k->str, k->n) == 0)
			return true;
	return false;
}

static bool check_field_map(struct mp_cur *c, struct record_view *v)
{
	struct mp_item map, keys[LOGBUS_FIELDS_MAX];

	if (!cur_item(c, &map) || map.kind != MPK_MAP ||
	    map.n / 2 > LOGBUS_FIELDS_MAX)
		return false;
	for (uint64_t i = 0; i < map.n / 2; i++) {
		struct mp_item *k = &keys[i];
		if (!cur_item(c, k) || k->kind != MPK_STR ||
		    !field_key_valid((const char *)k->str, (size_t)k->n) ||
		    field_key_seen(keys, i, k) || !check_field_value(c))
			return false;
	}
	v->nfields = (uint32_t)(map.n / 2);
	return true;
}

/* One key and its value, or false: let record_decode judge the record. */
static bool check_entry(struct mp_cur *c, struct record_view *v, unsigned *have)
{
	struct mp_item k, val;

	if (!cur_item(c, &k) || k.kind != MPK_STR)
		return false;
	unsigned bit = key_bit((const char *)k.str, (size_t)k.n);
	if (*have & bit)
		return false; /* repeated: record_decode says which */
	*have |= bit;
	if (peeked_key(&k))
		return peek_value(c, &k, v, have);
	if (key_is(&k, RK_FIELDS[0]))
		return check_field_map(c, v);
	if (key_is(&k, RK_EXIT[0]))
		return false; /* an exit report: record_decode checks it */
	/* An unknown key is kept and ignored; one holding a container is
	 * left to record_decode (msgpack-c's nesting limit). */
	return cur_item(c, &val) && val.kind != MPK_ARRAY &&
	       val.kind != MPK_MAP;
}

int record_check(const char *data, size_t len, struct record_view *v)
{
	if (walk(data, len, v, check_entry) < 0 ||
	    !service_id_valid(v->service.p, v->service.len) ||
	    !logger_valid(v->logger.p, v->logger.len) ||
	    !utf8_valid(v->message.p, v->message.len))
		return -1;
	return 0;
}
