/*
 * view.c: record frames to logbus_record, and the public formatting of a
 * record as a text or JSON line.
 */
#include "view.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "record.h"
#include "strbuf.h"
#include "textline.h"
#include "timefmt.h"

void view_init(struct view *v)
{
	memset(v, 0, sizeof *v);
	msgpack_zone_init(&v->zone, 4096);
}

void view_fini(struct view *v)
{
	free(v->arena);
	msgpack_zone_destroy(&v->zone);
}

static size_t fields_bytes(const msgpack_object_map *m)
{
	size_t n = 0;
	for (uint32_t i = 0; m && i < m->size; i++) {
		n += m->ptr[i].key.via.str.size + 1;
		if (m->ptr[i].val.type == MSGPACK_OBJECT_STR)
			n += m->ptr[i].val.via.str.size + 1;
	}
	return n;
}

static const char *copy(char **w, const char *s, size_t len)
{
	char *out = *w;
	memcpy(out, s, len);
	out[len] = '\0';
	*w += len + 1;
	return out;
}

static void fill_field(logbus_field *f, const msgpack_object *k,
                       const msgpack_object *val, char **w)
{
	f->key = copy(w, k->via.str.ptr, k->via.str.size);
	switch (val->type) {
	case MSGPACK_OBJECT_STR:
		f->type = LOGBUS_FIELD_STR;
		f->v.s = copy(w, val->via.str.ptr, val->via.str.size);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		f->type = LOGBUS_FIELD_INT;
		f->v.i = (int64_t)val->via.u64;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		f->type = LOGBUS_FIELD_INT;
		f->v.i = val->via.i64;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		f->type = LOGBUS_FIELD_FLOAT;
		f->v.f = val->via.f64;
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		f->type = LOGBUS_FIELD_BOOL;
		f->v.b = val->via.boolean;
		break;
	default: /* nil */
		f->type = LOGBUS_FIELD_STR;
		f->v.s = copy(w, "", 0);
		break;
	}
}

int view_fill(struct view *v, const unsigned char *frame,
              const unsigned char jid[CURSOR_ID_LEN])
{
	struct frame_record fr;
	struct record_view rv;
	struct record_error e;

	frame_record_decode(frame, &fr);
	msgpack_zone_clear(&v->zone);
	if (record_decode(fr.data, fr.len, &v->zone, &rv, &e) < 0)
		return LOGBUS_EPROTO;
	size_t need = rv.service.len + rv.logger.len + rv.message.len + 3 +
	              fields_bytes(rv.fields) + 1;
	if (need > v->arena_cap) {
		char *a = realloc(v->arena, need);
		if (a == NULL)
			return LOGBUS_ENOMEM;
		v->arena = a;
		v->arena_cap = need;
	}
	char *w = v->arena;
	logbus_record *r = &v->rec;
	r->seq = fr.seq;
	r->time_ns = rv.time_ns;
	r->recv_ns = fr.recv_ns;
	r->level = rv.level;
	r->stream = (enum logbus_stream)rv.stream;
	r->service = copy(&w, rv.service.p, rv.service.len);
	r->logger = copy(&w, rv.logger.p, rv.logger.len);
	r->message = copy(&w, rv.message.p, rv.message.len);
	r->message_len = rv.message.len;
	r->nfields = rv.fields ? rv.fields->size : 0;
	for (size_t i = 0; i < r->nfields; i++)
		fill_field(&v->fields[i], &rv.fields->ptr[i].key,
		           &rv.fields->ptr[i].val, &w);
	r->fields = v->fields;
	r->pid = fr.pid;
	r->uid = fr.uid;
	r->gid = fr.gid;
	memcpy(r->comm, fr.comm, sizeof r->comm);
	r->not_owner = (fr.flags & FRAME_REC_NOT_OWNER) != 0;
	cursor_format(v->cursor, jid, fr.seq);
	r->cursor = v->cursor;
	return 0;
}

_Static_assert(sizeof(((logbus_record *)0)->comm) == FRAME_COMM_LEN,
               "logbus_record.comm is the frame's comm");

/* ---- formatting ---------------------------------------------------------- */

static void out_json_field(struct strbuf *o, const logbus_field *f)
{
	sb_json_str(o, f->key, strlen(f->key));
	sb_put(o, ":", 1);
	sb_json_field_value(o, f);
}

static void format_json(struct strbuf *o, const logbus_record *r)
{
	char t[TIMEFMT_MAX], lv[16];

	timefmt_rfc3339(t, sizeof t, r->time_ns);
	sb_printf(o, "{\"seq\":%" PRIu64 ",\"cursor\":", r->seq);
	sb_json_str(o, r->cursor, strlen(r->cursor));
	sb_printf(o, ",\"time\":\"%s\",\"time_ns\":%" PRId64, t, r->time_ns);
	sb_puts(o, ",\"level\":");
	const char *name = level_name(r->level, lv, sizeof lv);
	sb_json_str(o, name, strlen(name));
	sb_printf(o, ",\"level_no\":%d,\"service\":", r->level);
	sb_json_str(o, r->service, strlen(r->service));
	sb_puts(o, ",\"logger\":");
	sb_json_str(o, r->logger, strlen(r->logger));
	sb_puts(o, ",\"message\":");
	sb_json_str(o, r->message, r->message_len);
	sb_printf(o, ",\"stream\":\"%s\",\"fields\":{", stream_name(r->stream));
	for (size_t i = 0; i < r->nfields; i++) {
		if (i)
			sb_put(o, ",", 1);
		out_json_field(o, &r->fields[i]);
	}
	sb_printf(o,
	          "},\"pid\":%" PRIu32 ",\"uid\":%" PRIu32 ",\"gid\":%" PRIu32
	          ",\"comm\":",
	          r->pid, r->uid, r->gid);
	sb_json_str(o, r->comm, strlen(r->comm));
	if (r->not_owner)
		sb_puts(o, ",\"not_owner\":true");
	sb_puts(o, "}\n");
}

LOGBUS_API long logbus_record_format(const logbus_record *r,
                                     enum logbus_format format, char **buf,
                                     size_t *cap)
{
	struct strbuf o = {.p = *buf, .cap = *cap};

	if (format == LOGBUS_FORMAT_JSON)
		format_json(&o, r);
	else
		textline_format_record(&o, r, NULL, false);
	*buf = o.p;
	*cap = o.cap;
	return o.failed ? LOGBUS_ENOMEM : (long)o.len;
}

LOGBUS_API size_t logbus_format_time(int64_t ns, enum logbus_time_style style,
                                     char *buf, size_t len)
{
	return style == LOGBUS_TIME_RFC3339 ? timefmt_rfc3339(buf, len, ns)
	                                    : timefmt_python(buf, len, ns);
}
