/*
 * admin.c: one-request calls on the query socket for administration
 * (error reports, rotate), each opening its own connection: they are rare,
 * and a handle would only be something more to close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "reqconn.h"

#define ADMIN_TIMEOUT_MS 5000

struct call {
	nng_msg *reply;
	msgpack_zone zone;
	msgpack_object o;
};

/* Send {op, + the pairs packed by add} and decode an ok reply into c. */
static int call(const char *run_dir, const char *op,
                void (*add)(msgpack_packer *pk, const void *arg), size_t nadd,
                const void *arg, struct call *c, char *err, size_t errlen)
{
	char buf[4096];
	struct reqconn conn;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t off = 0;
	bool ok = false;
	int rv;

	const char *dir =
	    run_dir ? run_dir : paths_default_run_dir(buf, sizeof buf);
	if (dir == NULL) {
		snprintf(err, errlen, "run directory path too long");
		return LOGBUS_EINVAL;
	}
	if ((rv = reqconn_open(&conn, dir, SOCK_QUERY, QUERY_RECV_MAX, err,
	                       errlen)) != 0)
		return rv;
	conn.fail_fast = true;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1 + nadd);
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, op);
	if (add)
		add(&pk, arg);
	rv = reqconn_call(&conn, sb.data, sb.size, &c->reply, ADMIN_TIMEOUT_MS,
	                  NULL, err, errlen);
	msgpack_sbuffer_destroy(&sb);
	reqconn_close(&conn);
	if (rv != 0)
		return rv;
	msgpack_zone_init(&c->zone, 4096);
	if (msgpack_unpack(nng_msg_body(c->reply), nng_msg_len(c->reply), &off,
	                   &c->zone, &c->o) != MSGPACK_UNPACK_SUCCESS ||
	    !mp_get_bool(&c->o, "ok", &ok)) {
		snprintf(err, errlen,
		         "logbusd sent a reply this library "
		         "cannot read");
		rv = LOGBUS_EPROTO;
	} else if (!ok) {
		const char *code = "", *text = "";
		size_t clen = 0, tlen = 0;
		mp_get_bytes(&c->o, "code", &code, &clen);
		mp_get_bytes(&c->o, "error", &text, &tlen);
		snprintf(err, errlen, "%.*s", (int)tlen, text);
		rv = clen == strlen(ERR_NOT_FOUND) &&
		             memcmp(code, ERR_NOT_FOUND, clen) == 0
		         ? LOGBUS_ENOTFOUND
		         : LOGBUS_EREJECTED;
	}
	if (rv != 0) {
		msgpack_zone_destroy(&c->zone);
		nng_msg_free(c->reply);
	}
	return rv;
}

static void call_done(struct call *c)
{
	msgpack_zone_destroy(&c->zone);
	nng_msg_free(c->reply);
}

LOGBUS_API int logbus_error_reports(const char *run_dir,
                                    logbus_report_info **out, size_t *n,
                                    char *err, size_t errlen)
{
	struct call c;
	int rv = call(run_dir, OP_ERRORS, NULL, 0, NULL, &c, err, errlen);

	*out = NULL;
	*n = 0;
	if (rv != 0)
		return rv;
	const msgpack_object *rows = mp_get(&c.o, "reports");
	if (rows == NULL || rows->type != MSGPACK_OBJECT_ARRAY) {
		call_done(&c);
		snprintf(err, errlen, "logbusd sent no list of reports");
		return LOGBUS_EPROTO;
	}
	*out = calloc(rows->via.array.size + 1, sizeof **out);
	if (*out == NULL) {
		call_done(&c);
		return LOGBUS_ENOMEM;
	}
	for (uint32_t i = 0; i < rows->via.array.size; i++) {
		const msgpack_object *r = &rows->via.array.ptr[i];
		if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 4 ||
		    r->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
			continue;
		const msgpack_object *f = r->via.array.ptr;
		logbus_report_info *ri = &(*out)[*n];
		snprintf(ri->service, sizeof ri->service, "%.*s",
		         (int)f[0].via.str.size, f[0].via.str.ptr);
		ri->written_ns = f[1].via.i64;
		ri->size = f[2].via.u64;
		ri->kept = (int)f[3].via.i64;
		(*n)++;
	}
	call_done(&c);
	return 0;
}

struct report_args {
	const char *service;
	int generation;
};

static void add_report(msgpack_packer *pk, const void *arg)
{
	const struct report_args *a = arg;

	mp_pack_key(pk, "svc");
	mp_pack_key(pk, a->service);
	mp_pack_key(pk, "gen");
	msgpack_pack_int(pk, a->generation);
}

LOGBUS_API int logbus_error_report(const char *run_dir, const char *service,
                                   int generation, char **text, size_t *len,
                                   int64_t *written_ns, char *err,
                                   size_t errlen)
{
	struct report_args a = {service, generation};
	struct call c;
	const char *t;
	size_t tl;
	uint64_t when = 0;

	*text = NULL;
	if (logbus_service_valid(service) != 0 || generation < 0 ||
	    generation > 1) {
		snprintf(err, errlen, "invalid service id or generation");
		return LOGBUS_EINVAL;
	}
	int rv = call(run_dir, OP_REPORT, add_report, 2, &a, &c, err, errlen);
	if (rv != 0)
		return rv;
	if (!mp_get_bytes(&c.o, "text", &t, &tl)) {
		call_done(&c);
		snprintf(err, errlen, "logbusd sent no report text");
		return LOGBUS_EPROTO;
	}
	const msgpack_object *tm = mp_get(&c.o, "time");
	if (tm && (tm->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	           tm->type == MSGPACK_OBJECT_NEGATIVE_INTEGER))
		when = (uint64_t)tm->via.i64;
	*text = malloc(tl + 1);
	if (*text != NULL) {
		memcpy(*text, t, tl);
		(*text)[tl] = '\0';
		if (len)
			*len = tl;
		if (written_ns)
			*written_ns = (int64_t)when;
	}
	call_done(&c);
	return *text ? 0 : LOGBUS_ENOMEM;
}

LOGBUS_API int logbus_rotate(const char *run_dir, unsigned *files, char *err,
                             size_t errlen)
{
	struct call c;
	uint64_t n = 0;
	int rv = call(run_dir, OP_ROTATE, NULL, 0, NULL, &c, err, errlen);

	if (rv != 0)
		return rv;
	mp_get_u64(&c.o, "files", &n);
	if (files)
		*files = (unsigned)n;
	call_done(&c);
	return 0;
}
