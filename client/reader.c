/*
 * reader.c: reading the journal back through the query socket.
 *
 * A reader is a position (journal id and the sequence number after which to
 * read) and a filter.  Each request asks for records after the position; the
 * reply's frames are handed out one by one, then the position moves to the
 * reply's "next" (the last record the broker examined, matching or not), so
 * a paged read never repeats and never skips.  The first request carries the
 * start (head, tail N, or a cursor); later ones always a position.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "cursor.h"
#include "filter.h"
#include "frame.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "reqconn.h"
#include "view.h"

#define DEFAULT_TIMEOUT_MS 5000

struct logbus_reader {
	struct reqconn conn;
	struct filter flt;
	enum logbus_start start;
	uint64_t tail_n;
	int timeout_ms;
	bool positioned; /* jid and after are known */
	unsigned char jid[CURSOR_ID_LEN];
	uint64_t after;
	bool eof;
	uint64_t oldest;
	nng_msg *reply;
	const unsigned char *frames;
	size_t frames_len, off;
	uint64_t next; /* position once this reply's frames are handed out */
	struct view view;
	char cursor[CURSOR_STR_LEN + 1];
	char error[512];
	msgpack_sbuffer req;
	msgpack_zone zone;
};

LOGBUS_API int logbus_reader_open(logbus_reader **out,
				  const logbus_reader_options *o)
{
	char run_dir[4096];
	int rv;

	*out = NULL;
	if (o == NULL || o->start > LOGBUS_START_CURSOR)
		return LOGBUS_EINVAL;
	const char *dir = o->run_dir ? o->run_dir
				     : paths_default_run_dir(run_dir,
							     sizeof run_dir);
	if (dir == NULL)
		return LOGBUS_EINVAL;
	struct logbus_reader *r = calloc(1, sizeof *r);
	if (r == NULL)
		return LOGBUS_ENOMEM;
	r->start = o->start;
	r->tail_n = o->tail_n;
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	view_init(&r->view);
	msgpack_sbuffer_init(&r->req);
	msgpack_zone_init(&r->zone, 1024);
	if (o->start == LOGBUS_START_CURSOR) {
		if (cursor_parse(o->cursor, r->jid, &r->after) < 0) {
			rv = LOGBUS_ECURSOR;
			goto fail;
		}
		r->positioned = true;
	}
	if ((rv = filter_from_public(&r->flt, &o->filter)) != 0)
		goto fail;
	if ((rv = reqconn_open(&r->conn, dir, SOCK_QUERY, QUERY_RECV_MAX,
			       r->error, sizeof r->error)) != 0) {
		filter_fini(&r->flt);
		goto fail;
	}
	r->conn.fail_fast = true;
	*out = r;
	return 0;
fail:
	view_fini(&r->view);
	msgpack_sbuffer_destroy(&r->req);
	msgpack_zone_destroy(&r->zone);
	free(r);
	return rv;
}

LOGBUS_API void logbus_reader_close(logbus_reader *r)
{
	if (r == NULL)
		return;
	if (r->reply)
		nng_msg_free(r->reply);
	reqconn_close(&r->conn);
	filter_fini(&r->flt);
	view_fini(&r->view);
	msgpack_sbuffer_destroy(&r->req);
	msgpack_zone_destroy(&r->zone);
	free(r);
}

static void build_read(struct logbus_reader *r)
{
	msgpack_packer pk;
	bool tail = !r->positioned && r->start == LOGBUS_START_TAIL;

	msgpack_sbuffer_clear(&r->req);
	msgpack_packer_init(&pk, &r->req, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2 + (r->positioned ? 2 : 0) + tail);
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, OP_READ);
	mp_pack_key(&pk, "flt");
	filter_pack(&pk, &r->flt);
	if (r->positioned) {
		mp_pack_key(&pk, "jid");
		msgpack_pack_bin(&pk, CURSOR_ID_LEN);
		msgpack_pack_bin_body(&pk, r->jid, CURSOR_ID_LEN);
		mp_pack_key(&pk, "after");
		msgpack_pack_uint64(&pk, r->after);
	}
	if (tail) {
		mp_pack_key(&pk, "tail");
		msgpack_pack_uint64(&pk, r->tail_n);
	}
}

static int broker_error(struct logbus_reader *r, const msgpack_object *o)
{
	const char *code = "", *text = "";
	size_t clen = 0, tlen = 0;

	mp_get_bytes(o, "code", &code, &clen);
	mp_get_bytes(o, "error", &text, &tlen);
	snprintf(r->error, sizeof r->error, "%.*s", (int)tlen, text);
	if (clen == strlen(ERR_EXPIRED) && !memcmp(code, ERR_EXPIRED, clen)) {
		mp_get_u64(o, "oldest", &r->oldest);
		return LOGBUS_EEXPIRED;
	}
	if (clen == strlen(ERR_CURSOR) && !memcmp(code, ERR_CURSOR, clen))
		return LOGBUS_ECURSOR;
	return LOGBUS_EREJECTED;
}

/* Ask for the next page; on success r->frames holds its record frames. */
static int fetch(struct logbus_reader *r)
{
	msgpack_object o;
	size_t off = 0;
	bool ok = false, eof = false;
	const char *jid, *recs;
	size_t jidlen, recslen;
	uint64_t next;
	int rv;

	if (r->reply) {
		nng_msg_free(r->reply);
		r->reply = NULL;
	}
	build_read(r);
	rv = reqconn_call(&r->conn, r->req.data, r->req.size, &r->reply,
			  r->timeout_ms, NULL, r->error, sizeof r->error);
	if (rv != 0)
		return rv;
	msgpack_zone_clear(&r->zone);
	if (msgpack_unpack(nng_msg_body(r->reply), nng_msg_len(r->reply), &off,
			   &r->zone, &o) != MSGPACK_UNPACK_SUCCESS ||
	    !mp_get_bool(&o, "ok", &ok))
		goto proto;
	if (!ok)
		return broker_error(r, &o);
	if (!mp_get_bytes(&o, "jid", &jid, &jidlen) ||
	    jidlen != CURSOR_ID_LEN || !mp_get_u64(&o, "next", &next) ||
	    !mp_get_bool(&o, "eof", &eof) ||
	    !mp_get_bytes(&o, "recs", &recs, &recslen))
		goto proto;
	memcpy(r->jid, jid, CURSOR_ID_LEN);
	r->positioned = true;
	r->frames = (const unsigned char *)recs;
	r->frames_len = recslen;
	r->off = 0;
	r->next = next;
	r->eof = eof;
	return 0;
proto:
	snprintf(r->error, sizeof r->error,
		 "logbusd sent a read reply this library cannot read");
	return LOGBUS_EPROTO;
}

LOGBUS_API int logbus_reader_next(logbus_reader *r, const logbus_record **rec)
{
	int rv;

	for (;;) {
		if (r->reply && r->off < r->frames_len) {
			int type;
			uint32_t total;
			const unsigned char *f = r->frames + r->off;
			if (frame_check(f, r->frames_len - r->off,
					FRAME_BODY_HDR + LOGBUS_RECORD_MAX,
					&type, &total) != FRAME_OK ||
			    type != FRAME_RECORD) {
				snprintf(r->error, sizeof r->error,
					 "a record from logbusd failed its "
					 "checksum");
				return LOGBUS_EPROTO;
			}
			r->off += total;
			if ((rv = view_fill(&r->view, f, r->jid)) != 0) {
				snprintf(r->error, sizeof r->error,
					 "a record from logbusd does not "
					 "decode");
				return rv;
			}
			r->after = r->view.rec.seq;
			*rec = &r->view.rec;
			return 1;
		}
		if (r->reply) {
			/* This page is handed out: move past what the broker
			 * examined, matching or not. */
			if (r->next > r->after)
				r->after = r->next;
			if (r->eof)
				return 0;
		}
		if ((rv = fetch(r)) != 0)
			return rv;
	}
}

LOGBUS_API const char *logbus_reader_cursor(logbus_reader *r)
{
	if (!r->positioned)
		return NULL;
	cursor_format(r->cursor, r->jid, r->after);
	return r->cursor;
}

LOGBUS_API uint64_t logbus_reader_oldest_seq(logbus_reader *r)
{
	return r->oldest;
}

LOGBUS_API const char *logbus_reader_error(logbus_reader *r)
{
	return r->error;
}
