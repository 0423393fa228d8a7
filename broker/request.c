/*
 * request.c: what every request endpoint does the same way: decode the
 * request map, dispatch on its "op", build replies (which in raw rep0 must
 * carry the request's routing header) and count refusals by reason.
 *
 * Handlers build their reply body in b->out (reply_begin) and send it with
 * reply_send; a handler never frees the request, the dispatcher does.
 *
 * On the query socket the dispatcher also says who is asking: a struct
 * reader made from the pipe's credentials (access.h), passed to the op.  It
 * refuses a reader outside the reader group every op but those in
 * open_ops, which restrict what they return to the reader's own records:
 * an op added later is closed to such readers until it does the same.
 *
 * On a socket that counts unread replies (unread.h: both request sockets)
 * every reply ends with "tok", and a request is first judged by what its
 * connection has not read: served, answered ERR_UNREAD, or, from a
 * connection with UNREAD_REPLIES_MAX unread, not answered and the
 * connection closed.  On the ingest socket a connection over its bound is
 * always closed, never answered ERR_UNREAD: a publisher takes an error it
 * does not know as a refusal of its batch, and a closed connection makes
 * it send the batch again on a fresh one (acknowledged once: sessions.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "request.h"

#include "broker.h"
#include "proto.h"
#include "selflog.h"
#include "unread.h"

/* What a reader outside the reader group may ask: its own records and
 * reports, and the broker-wide counters (which name no service).  The
 * services list names every service and its last failure: trusted only. */
static const char *const open_ops[] = {OP_READ,   OP_INFO,   OP_STATS,
                                       OP_ERRORS, OP_REPORT, NULL};

/* Ops whose replies are a few KiB at most: they need only
 * UNREAD_SMALL_ROOM (unread.h). */
static const char *const small_ops[] = {OP_INFO, OP_STATS, OP_ROTATE, NULL};

static bool op_in(const char *const *ops, const char *name)
{
	for (int i = 0; ops[i]; i++)
		if (strcmp(ops[i], name) == 0)
			return true;
	return false;
}

static bool op_small(const char *name)
{
	return op_in(small_ops, name);
}

/* The room a reply to op on ep may need: an ack at most INGEST_REPLY_MAX,
 * a small op's reply a few KiB, a read's at least one largest record. */
static size_t room_needed(const struct endpoint *ep, const char *op)
{
	if (ep == &ep->b->ingest)
		return INGEST_REPLY_MAX;
	return op_small(op) ? UNREAD_SMALL_ROOM : UNREAD_ROOM_MIN;
}

static bool op_open(const char *name)
{
	return op_in(open_ops, name);
}

/* A reply map's header is always a map16 (0xde, count big-endian), so
 * that reply_send can add the token as the map's last key. */
static void reply_map(msgpack_sbuffer *out, size_t nkeys)
{
	unsigned char h[3] = {0xde, (unsigned char)(nkeys >> 8),
	                      (unsigned char)nkeys};

	msgpack_sbuffer_clear(out);
	msgpack_sbuffer_write(out, (const char *)h, sizeof h);
}

/* The pipe a raw rep0 request came on (or a reply goes to): the first
 * four bytes of nng's header, big-endian. */
uint32_t reply_pipe(nng_msg *req)
{
	const unsigned char *h = nng_msg_header(req);

	if (nng_msg_header_len(req) < 4)
		return 0;
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	       (uint32_t)h[2] << 8 | h[3];
}

/* On a socket that counts unread replies: "tok" as the last key, the
 * reply charged to its pipe (unread.h). */
static void reply_add_tok(struct endpoint *ep, nng_msg *req)
{
	msgpack_sbuffer *out = &ep->b->out;
	unsigned char t[13] = {0xa3, 't', 'o', 'k', 0xcf};
	uint64_t tok =
	    unread_charge(ep->unread, reply_pipe(req), out->size + sizeof t);

	for (int i = 0; i < 8; i++)
		t[5 + i] = (unsigned char)(tok >> (56 - 8 * i));
	msgpack_sbuffer_write(out, (const char *)t, sizeof t);
	/* the count, once the write (which may move the buffer) is done */
	unsigned char *h = (unsigned char *)out->data;
	unsigned n = ((unsigned)h[1] << 8 | h[2]) + 1;
	h[1] = (unsigned char)(n >> 8);
	h[2] = (unsigned char)n;
}

static nng_msg *reply_new(nng_msg *req, const msgpack_sbuffer *body)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, 0) != 0)
		return NULL;
	if (nng_msg_header_append(m, nng_msg_header(req),
	                          nng_msg_header_len(req)) != 0 ||
	    nng_msg_append(m, body->data, body->size) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	return m;
}

void reply_begin(struct broker *b, msgpack_packer *pk, size_t nkeys)
{
	reply_map(&b->out, nkeys + 1);
	msgpack_packer_init(pk, &b->out, msgpack_sbuffer_write);
	mp_pack_key(pk, "ok");
	msgpack_pack_true(pk);
}

void reply_send(struct endpoint *ep, nng_msg *req)
{
	if (ep->unread)
		reply_add_tok(ep, req);
	nng_msg *m = reply_new(req, &ep->b->out);

	if (m == NULL)
		broker_log(ep->b, LOGBUS_ERROR, "%s: out of memory for a reply",
		           ep->name);
	else
		endpoint_reply(ep, m);
}

const char *const reject_names[REJ_COUNT] = {
    [REJ_BAD_REQUEST] = ERR_BAD_REQUEST,
    [REJ_BAD_RECORD] = ERR_BAD_RECORD,
    [REJ_BAD_SERVICE] = ERR_BAD_SERVICE,
    [REJ_BAD_UTF8] = ERR_BAD_UTF8,
    [REJ_TOO_BIG] = ERR_TOO_BIG,
    [REJ_UNKNOWN_OP] = ERR_UNKNOWN_OP,
    [REJ_JOURNAL] = ERR_JOURNAL,
    [REJ_TOO_MANY_FIELDS] = ERR_TOO_MANY_FIELDS,
    [REJ_BATCH_TOO_BIG] = ERR_BATCH_TOO_BIG,
    [REJ_UNREAD] = ERR_UNREAD,
    [REJ_NOT_OWNER] = ERR_NOT_OWNER,
};

void count_reject(struct broker *b, const char *code)
{
	for (int i = 0; i < REJ_COUNT; i++)
		if (strcmp(reject_names[i], code) == 0) {
			b->stats.rejected[i]++;
			return;
		}
}

static void vreply_error(struct endpoint *ep, nng_msg *req, const char *code,
                         const char *extra_key, uint64_t extra, const char *fmt,
                         va_list ap)
{
	struct broker *b = ep->b;
	msgpack_packer pk;
	char text[512];

	vsnprintf(text, sizeof text, fmt, ap);
	count_reject(b, code);
	reply_map(&b->out, extra_key ? 4 : 3);
	msgpack_packer_init(&pk, &b->out, msgpack_sbuffer_write);
	mp_pack_key(&pk, "ok");
	msgpack_pack_false(&pk);
	mp_pack_key(&pk, "code");
	mp_pack_key(&pk, code);
	mp_pack_key(&pk, "error");
	mp_pack_key(&pk, text);
	if (extra_key) {
		mp_pack_key(&pk, extra_key);
		msgpack_pack_uint64(&pk, extra);
	}
	reply_send(ep, req);
}

void reply_error(struct endpoint *ep, nng_msg *req, const char *code,
                 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply_error(ep, req, code, NULL, 0, fmt, ap);
	va_end(ap);
}

void reply_error_with(struct endpoint *ep, nng_msg *req, const char *code,
                      const char *key, uint64_t value, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply_error(ep, req, code, key, value, fmt, ap);
	va_end(ap);
}

/* Why a request's bytes are not a request, from msgpack-c's verdict. */
static const char *undecodable(msgpack_unpack_return ur)
{
	switch (ur) {
	case MSGPACK_UNPACK_CONTINUE:
		return "request is cut short: its msgpack ends early";
	case MSGPACK_UNPACK_NOMEM_ERROR: /* its fixed stack, in practice */
		return "request is nested deeper than 32 levels (msgpack-c's "
		       "limit)";
	case MSGPACK_UNPACK_EXTRA_BYTES:
		return "request has bytes after its msgpack map";
	default:
		return "request is not a msgpack map";
	}
}

void request_dispatch(struct endpoint *ep, nng_msg *msg)
{
	struct broker *b = ep->b;
	struct reader who, *rd = NULL;
	msgpack_object req;
	size_t off = 0, oplen;
	const char *op;
	const msgpack_object *twice;

	msgpack_unpack_return ur = mp_unpack(
	    nng_msg_body(msg), nng_msg_len(msg), &off, &b->req_zone, &req);
	bool decoded =
	    ur == MSGPACK_UNPACK_SUCCESS && req.type == MSGPACK_OBJECT_MAP;
	enum unread_verdict v = UNREAD_SERVE;
	char why[256];

	if (ep->unread) {
		uint64_t tok = 0;
		bool has_tok = decoded && mp_get_u64(&req, REPLY_TOK, &tok);
		v = unread_request(ep->unread, nng_msg_get_pipe(msg), has_tok,
		                   tok, why, sizeof why);
		if (v == UNREAD_BUSY && ep == &b->ingest)
			v = UNREAD_CLOSE;
		if (v == UNREAD_CLOSE)
			nng_pipe_close(nng_msg_get_pipe(msg));
	}
	if (v == UNREAD_CLOSE || v == UNREAD_GONE) {
		/* no reply: the connection is closed, or going */
	} else if (!decoded) {
		ep->bad_requests++;
		reply_error(ep, msg, ERR_BAD_REQUEST, "%s", undecodable(ur));
	} else if (req.via.map.size > REQUEST_KEYS_MAX) {
		reply_error(ep, msg, ERR_BAD_REQUEST,
		            "request has %u keys, more than %d",
		            req.via.map.size, REQUEST_KEYS_MAX);
	} else if ((twice = mp_repeated_key(&req)) != NULL) {
		reply_error(
		    ep, msg, ERR_BAD_REQUEST,
		    "request key '%.*s' appears twice",
		    (int)(twice->via.str.size > 32 ? 32 : twice->via.str.size),
		    twice->via.str.ptr);
	} else if (!mp_get_bytes(&req, "op", &op, &oplen)) {
		reply_error(ep, msg, ERR_BAD_REQUEST, "request has no op");
	} else if (v == UNREAD_BUSY) {
		reply_error(ep, msg, ERR_UNREAD, "%s", why);
	} else {
		const struct request_op *o = ep->ops;
		while (o->name && !(strlen(o->name) == oplen &&
		                    memcmp(o->name, op, oplen) == 0))
			o++;
		if (o->name == NULL) {
			reply_error(ep, msg, ERR_UNKNOWN_OP,
			            "unknown op '%.*s' on the %s socket",
			            (int)(oplen > 32 ? 32 : oplen), op,
			            ep->name);
		} else if (ep->unread &&
		           unread_room(ep->unread, reply_pipe(msg), why,
		                       sizeof why) < room_needed(ep, o->name)) {
			if (ep == &b->ingest)
				nng_pipe_close(nng_msg_get_pipe(msg));
			else
				reply_error(ep, msg, ERR_UNREAD, "%s", why);
		} else {
			if (ep == &b->query) {
				rd = &who;
				who.trusted = access_reader(
				    b->access, nng_msg_get_pipe(msg), &who.uid);
			}
			if (rd && !rd->trusted && !op_open(o->name))
				reply_error(
				    ep, msg, ERR_DENIED,
				    "%s is for root and the reader group (%s); "
				    "uid %u may read only its own records",
				    o->name, b->access_cfg.reader_group,
				    rd->uid);
			else
				o->fn(ep, msg, &req, rd);
		}
	}
	msgpack_zone_clear(&b->req_zone);
	nng_msg_free(msg);
}
