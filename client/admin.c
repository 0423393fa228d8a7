/*
 * admin.c: one-request calls on the query socket for administration
 * (error reports, rotate, statistics, vacuum), each opening its own
 * connection: they are rare, and a handle would only be something more
 * to close.  A claim of a service goes to the ingest socket, where
 * publishers are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "admin.h"
#include "fork.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "reqconn.h"

#define ADMIN_TIMEOUT_MS 5000

/* Send {op, + the pairs packed by add} on the socket sock (SOCK_QUERY, or
 * SOCK_INGEST for what publishers may ask) and decode an ok reply into c. */
static int call_on(const char *run_dir, const char *sock, int timeout_ms,
                   const char *op,
                   void (*add)(msgpack_packer *pk, const void *arg),
                   size_t nadd, const void *arg, struct call *c, char *err,
                   size_t errlen)
{
	char buf[4096];
	struct reqconn conn;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t off = 0;
	bool ok = false, retried = false;
	int rv;

	const char *dir =
	    run_dir ? run_dir : paths_default_run_dir(buf, sizeof buf);
	if (dir == NULL) {
		snprintf(err, errlen, "run directory path too long");
		return LOGBUS_EINVAL;
	}
	fork_watch(); /* before nng starts */
	if (fork_forked()) {
		fork_error(err, errlen, "a call to logbusd's query socket");
		return LOGBUS_EFORKED;
	}
again:
	if ((rv = reqconn_open(&conn, dir, sock,
	                       strcmp(sock, SOCK_INGEST) == 0 ? INGEST_REPLY_MAX
	                                                      : QUERY_RECV_MAX,
	                       err, errlen)) != 0)
		return rv;
	conn.fail_fast = true;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1 + nadd);
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, op);
	if (add)
		add(&pk, arg);
	rv = reqconn_call(&conn, sb.data, sb.size, &c->reply, timeout_ms, NULL,
	                  err, errlen);
	msgpack_sbuffer_destroy(&sb);
	reqconn_close(&conn);
	if (rv != 0)
		return rv;
	off = 0;
	msgpack_zone_init(&c->zone, 4096);
	if (mp_unpack(nng_msg_body(c->reply), nng_msg_len(c->reply), &off,
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
		if (!retried && clen == strlen(ERR_UNREAD) &&
		    memcmp(code, ERR_UNREAD, clen) == 0) {
			/* Too much unread on this uid or in all: once more,
			 * on a fresh connection (each call has its own). */
			retried = true;
			msgpack_zone_destroy(&c->zone);
			nng_msg_free(c->reply);
			goto again;
		}
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

int call(const char *run_dir, const char *op,
         void (*add)(msgpack_packer *pk, const void *arg), size_t nadd,
         const void *arg, struct call *c, char *err, size_t errlen)
{
	return call_on(run_dir, SOCK_QUERY, ADMIN_TIMEOUT_MS, op, add, nadd,
	               arg, c, err, errlen);
}

void call_done(struct call *c)
{
	msgpack_zone_destroy(&c->zone);
	nng_msg_free(c->reply);
}

/* An error category as logbusd names it: a word of [a-z], else "". */
static void take_category(const msgpack_object *o, char *buf, size_t len)
{
	uint32_t n = o && o->type == MSGPACK_OBJECT_STR ? o->via.str.size : 0;

	buf[0] = '\0';
	if (n == 0 || n >= len)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (o->via.str.ptr[i] < 'a' || o->via.str.ptr[i] > 'z')
			return;
	memcpy(buf, o->via.str.ptr, n);
	buf[n] = '\0';
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
	/* each row's category, in the rows' order (an older logbusd: none) */
	const msgpack_object *cats = mp_get(&c.o, "categories");
	if (cats != NULL && (cats->type != MSGPACK_OBJECT_ARRAY ||
	                     cats->via.array.size != rows->via.array.size))
		cats = NULL;
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
		if (cats)
			take_category(&cats->via.array.ptr[i], ri->category,
			              sizeof ri->category);
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

/* ---- statistics ---- */

uint64_t get_u64(const msgpack_object *m, const char *key)
{
	uint64_t v = 0;
	mp_get_u64(m, key, &v);
	return v;
}

int64_t get_i64(const msgpack_object *m, const char *key)
{
	const msgpack_object *v = mp_get(m, key);
	if (v != NULL && (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	                  v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER))
		return v->via.i64;
	return 0;
}

static double get_double(const msgpack_object *m, const char *key)
{
	const msgpack_object *v = mp_get(m, key);
	if (v != NULL && (v->type == MSGPACK_OBJECT_FLOAT64 ||
	                  v->type == MSGPACK_OBJECT_FLOAT32))
		return v->via.f64;
	if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (double)v->via.u64;
	return 0;
}

/* A str value copied into buf (cut to fit), "" when absent. */
void get_str(const msgpack_object *m, const char *key, char *buf, size_t len)
{
	const char *p;
	size_t n;

	if (!mp_get_bytes(m, key, &p, &n))
		n = 0;
	if (n >= len)
		n = len - 1;
	if (n > 0)
		memcpy(buf, p, n);
	buf[n] = '\0';
}

static void take_rejected(const msgpack_object *o, logbus_stats *st)
{
	const msgpack_object *rej = mp_get(o, "rejected");

	if (rej == NULL || rej->type != MSGPACK_OBJECT_MAP)
		return;
	for (uint32_t i = 0; i < rej->via.map.size; i++) {
		const msgpack_object_kv *kv = &rej->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR ||
		    kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			continue;
		st->rejected += kv->val.via.u64;
		if (st->nrejected_by == LOGBUS_STATS_CODES_MAX)
			continue;
		size_t n = kv->key.via.str.size;
		char *code = st->rejected_by[st->nrejected_by].code;
		if (n >= sizeof st->rejected_by[0].code)
			n = sizeof st->rejected_by[0].code - 1;
		memcpy(code, kv->key.via.str.ptr, n);
		code[n] = '\0';
		st->rejected_by[st->nrejected_by++].count = kv->val.via.u64;
	}
}

LOGBUS_API int logbus_broker_stats(const char *run_dir, logbus_stats *st,
                                   char *err, size_t errlen)
{
	struct call c;
	int rv = call(run_dir, OP_STATS, NULL, 0, NULL, &c, err, errlen);

	memset(st, 0, sizeof *st);
	if (rv != 0)
		return rv;
	const msgpack_object *o = &c.o, *routes = mp_get(o, "routes");
	if (!mp_get_u64(o, "committed", &st->committed) || routes == NULL ||
	    routes->type != MSGPACK_OBJECT_MAP) {
		call_done(&c);
		snprintf(err, errlen,
		         "logbusd sent no statistics (is it older than this "
		         "library?)");
		return LOGBUS_EPROTO;
	}
	get_str(o, "version", st->version, sizeof st->version);
	st->pid = get_u64(o, "pid");
	st->started_ns = get_i64(o, "started");
	st->uptime_ns = get_u64(o, "uptime_ns");
	st->rss_bytes = get_u64(o, "rss");
	st->rss_peak_bytes = get_u64(o, "rss_peak");
	st->received = get_u64(o, "received");
	st->received_bytes = get_u64(o, "received_bytes");
	st->committed_bytes = get_u64(o, "committed_bytes");
	take_rejected(o, st);
	st->rate_limited = get_u64(o, "rate_limited");
	st->client_dropped = get_u64(o, "client_dropped");
	st->batches = get_u64(o, "batches");
	st->batches_resent = get_u64(o, "batches_dup");
	st->rate_1s = get_double(o, "rate_1s");
	st->rate_60s = get_double(o, "rate_60s");
	st->bytes_rate_1s = get_double(o, "rate_bytes_1s");
	st->bytes_rate_60s = get_double(o, "rate_bytes_60s");
	st->publishers = get_u64(o, "publishers");
	st->readers = get_u64(o, "readers");
	st->subscribers = get_u64(o, "subscribers");
	st->journal_segments = get_u64(o, "segments");
	st->journal_bytes = get_u64(o, "journal_bytes");
	st->first_seq = get_u64(o, "first");
	st->last_seq = get_u64(o, "last");
	st->fsyncs = get_u64(o, "fsyncs");
	st->fsync_errors = get_u64(o, "fsync_errors");
	st->last_fsync_ns = get_u64(o, "fsync_last_ns");
	st->route_files = get_u64(routes, "files");
	st->route_open = get_u64(routes, "open");
	st->route_errors = get_u64(routes, "errors");
	st->route_failing = get_u64(routes, "failing");
	st->route_rotations = get_u64(routes, "rotations");
	st->services = get_u64(o, "services");
	st->services_max = get_u64(o, "services_max");
	st->error_reports = get_u64(o, "error_reports");
	st->queries = get_u64(o, "queries");
	call_done(&c);
	return 0;
}

static void add_service(msgpack_packer *pk, const void *arg)
{
	mp_pack_key(pk, "svc");
	mp_pack_key(pk, arg);
}

static void take_service(const msgpack_object *m, logbus_service_info *s)
{
	memset(s, 0, sizeof *s);
	get_str(m, "svc", s->service, sizeof s->service);
	s->records = get_u64(m, "records");
	s->bytes = get_u64(m, "bytes");
	s->debug = get_u64(m, "debug");
	s->info = get_u64(m, "info");
	s->warning = get_u64(m, "warning");
	s->error = get_u64(m, "error");
	s->critical = get_u64(m, "critical");
	s->first_ns = get_i64(m, "first");
	s->last_ns = get_i64(m, "last");
	s->last_seq = get_u64(m, "last_seq");
	s->report_ns = get_i64(m, "report");
	s->exit_code = get_i64(m, "exit_code");
	get_str(m, "exit", s->exit_summary, sizeof s->exit_summary);
	take_category(mp_get(m, "category"), s->error_category,
	              sizeof s->error_category);
	s->owner_how = (int)get_u64(m, "owner_how");
	s->owner_id = (uint32_t)get_u64(m, "owner_id");
	bool group = false;
	s->owner_is_group = mp_get_bool(m, "owner_group", &group) && group;
	get_str(m, "owner", s->owner_name, sizeof s->owner_name);
}

LOGBUS_API int logbus_services(const char *run_dir, const char *service,
                               logbus_service_info **out, size_t *n,
                               size_t *total, char *err, size_t errlen)
{
	struct call c;
	int rv;

	*out = NULL;
	*n = 0;
	if (total)
		*total = 0;
	if (service != NULL && logbus_service_valid(service) != 0) {
		snprintf(err, errlen, "invalid service id '%.*s'",
		         LOGBUS_SERVICE_MAX, service);
		return LOGBUS_EINVAL;
	}
	rv = call(run_dir, OP_SERVICES, service ? add_service : NULL,
	          service ? 1 : 0, service, &c, err, errlen);
	if (rv != 0)
		return rv;
	const msgpack_object *rows = mp_get(&c.o, "services");
	if (rows == NULL || rows->type != MSGPACK_OBJECT_ARRAY) {
		call_done(&c);
		snprintf(err, errlen,
		         "logbusd sent no list of services (is it older than "
		         "this library?)");
		return LOGBUS_EPROTO;
	}
	*out = calloc(rows->via.array.size + 1, sizeof **out);
	if (*out == NULL) {
		call_done(&c);
		return LOGBUS_ENOMEM;
	}
	for (uint32_t i = 0; i < rows->via.array.size; i++)
		if (rows->via.array.ptr[i].type == MSGPACK_OBJECT_MAP)
			take_service(&rows->via.array.ptr[i], &(*out)[(*n)++]);
	if (total)
		*total = (size_t)get_u64(&c.o, "total");
	call_done(&c);
	return 0;
}

LOGBUS_API void logbus_services_free(logbus_service_info *v)
{
	free(v);
}

/* ---- vacuum ---- */

struct vacuum_args {
	int64_t max_bytes, max_age_s;
};

static void add_vacuum(msgpack_packer *pk, const void *arg)
{
	const struct vacuum_args *a = arg;

	if (a->max_bytes >= 0) {
		mp_pack_key(pk, "size");
		msgpack_pack_uint64(pk, (uint64_t)a->max_bytes);
	}
	if (a->max_age_s >= 0) {
		mp_pack_key(pk, "age");
		msgpack_pack_uint64(pk, (uint64_t)a->max_age_s);
	}
}

LOGBUS_API int logbus_vacuum(const char *run_dir, int64_t max_bytes,
                             int64_t max_age_s, logbus_vacuum_result *res,
                             char *err, size_t errlen)
{
	struct vacuum_args a = {max_bytes, max_age_s};
	struct call c;
	int rv;

	memset(res, 0, sizeof *res);
	if (max_bytes < 0 && max_age_s < 0) {
		snprintf(err, errlen,
		         "a vacuum needs a size or an age to keep");
		return LOGBUS_EINVAL;
	}
	rv = call(run_dir, OP_VACUUM, add_vacuum,
	          (max_bytes >= 0) + (max_age_s >= 0), &a, &c, err, errlen);
	if (rv != 0)
		return rv;
	const msgpack_object *rows = mp_get(&c.o, "removed");
	if (rows == NULL || rows->type != MSGPACK_OBJECT_ARRAY) {
		call_done(&c);
		snprintf(err, errlen,
		         "logbusd sent no list of removed segments");
		return LOGBUS_EPROTO;
	}
	res->removed = calloc(rows->via.array.size + 1, sizeof *res->removed);
	if (res->removed == NULL) {
		call_done(&c);
		return LOGBUS_ENOMEM;
	}
	for (uint32_t i = 0; i < rows->via.array.size; i++) {
		const msgpack_object *r = &rows->via.array.ptr[i];
		logbus_vacuumed *v = &res->removed[res->nremoved];
		if (r->type != MSGPACK_OBJECT_MAP)
			continue;
		get_str(r, "file", v->file, sizeof v->file);
		v->first_seq = get_u64(r, "first");
		v->last_seq = get_u64(r, "last");
		v->bytes = get_u64(r, "bytes");
		res->nremoved++;
	}
	res->count = get_u64(&c.o, "count");
	res->freed_bytes = get_u64(&c.o, "freed");
	res->segments = get_u64(&c.o, "segments");
	res->bytes = get_u64(&c.o, "bytes");
	res->first_seq = get_u64(&c.o, "first");
	res->last_seq = get_u64(&c.o, "last");
	call_done(&c);
	return 0;
}

LOGBUS_API void logbus_vacuum_free(logbus_vacuum_result *res)
{
	free(res->removed);
	res->removed = NULL;
	res->nremoved = 0;
}

LOGBUS_API int logbus_service_claim(const char *run_dir, const char *service,
                                    int timeout_ms, char *err, size_t errlen)
{
	struct call c;
	int rv;

	if (service == NULL || logbus_service_valid(service) != 0) {
		snprintf(err, errlen, "invalid service id '%.*s'",
		         LOGBUS_SERVICE_MAX, service ? service : "(null)");
		return LOGBUS_EINVAL;
	}
	rv = call_on(run_dir, SOCK_INGEST, timeout_ms, OP_CLAIM, add_service, 1,
	             service, &c, err, errlen);
	if (rv == 0)
		call_done(&c);
	return rv;
}
