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
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "request.h"

#include "broker.h"
#include "proto.h"
#include "selflog.h"

/* What a reader outside the reader group may ask: its own records and
 * reports, and the broker-wide counters (which name no service).  The
 * services list names every service and its last failure: trusted only. */
static const char *const open_ops[] = {OP_READ,   OP_INFO,   OP_STATS,
                                       OP_ERRORS, OP_REPORT, NULL};

static bool op_open(const char *name)
{
	for (int i = 0; open_ops[i]; i++)
		if (strcmp(open_ops[i], name) == 0)
			return true;
	return false;
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
	msgpack_sbuffer_clear(&b->out);
	msgpack_packer_init(pk, &b->out, msgpack_sbuffer_write);
	msgpack_pack_map(pk, nkeys + 1);
	mp_pack_key(pk, "ok");
	msgpack_pack_true(pk);
}

void reply_send(struct endpoint *ep, nng_msg *req)
{
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
	msgpack_sbuffer_clear(&b->out);
	msgpack_packer_init(&pk, &b->out, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, extra_key ? 4 : 3);
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

void request_dispatch(struct endpoint *ep, nng_msg *msg)
{
	struct broker *b = ep->b;
	struct reader who, *rd = NULL;
	msgpack_object req;
	size_t off = 0, oplen;
	const char *op;
	const msgpack_object *twice;

	if (msgpack_unpack(nng_msg_body(msg), nng_msg_len(msg), &off,
	                   &b->req_zone, &req) != MSGPACK_UNPACK_SUCCESS ||
	    req.type != MSGPACK_OBJECT_MAP) {
		reply_error(ep, msg, ERR_BAD_REQUEST,
		            "request is not a msgpack map");
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
	} else {
		const struct request_op *o = ep->ops;
		while (o->name && !(strlen(o->name) == oplen &&
		                    memcmp(o->name, op, oplen) == 0))
			o++;
		if (o->name && ep == &b->query) {
			rd = &who;
			who.trusted = access_reader(
			    b->access, nng_msg_get_pipe(msg), &who.uid);
		}
		if (rd && !rd->trusted && !op_open(o->name))
			reply_error(ep, msg, ERR_DENIED,
			            "%s is for root and the reader group (%s); "
			            "uid %u may read only its own records",
			            o->name, b->access_cfg.reader_group,
			            rd->uid);
		else if (o->name)
			o->fn(ep, msg, &req, rd);
		else
			reply_error(ep, msg, ERR_UNKNOWN_OP,
			            "unknown op '%.*s' on the %s socket",
			            (int)(oplen > 32 ? 32 : oplen), op,
			            ep->name);
	}
	msgpack_zone_clear(&b->req_zone);
	nng_msg_free(msg);
}
