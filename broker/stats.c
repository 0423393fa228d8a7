/*
 * stats.c: the ingest rate's ticker and the query ops "stats" and
 * "services" (stats.h; the reply layouts are in shared/PROTOCOL.md).
 *
 * Everything here runs on the loop thread and reads counters the loop owns;
 * the only figures written elsewhere are the syncer's (read under its
 * mutex) and the endpoints' pipe counts (atomics written by nng's threads).
 * Per-service figures are those of the services table: since the broker
 * started, for at most SERVICES_MAX services (the least recently active are
 * forgotten first).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"

#include "broker.h"
#include "journal.h"
#include "proto.h"
#include "request.h"
#include "routes.h"
#include "owners.h"
#include "services.h"
#include "syncer.h"
#include "timefmt.h"

/* ---- the rate ---------------------------------------------------------- */

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct broker *b = w->data;
	struct stats_rate *r = &b->rate;

	(void)revents;
	r->head = (r->head + 1) % (STATS_WINDOW + 1);
	r->records[r->head] = b->stats.records_committed;
	r->bytes[r->head] = b->stats.bytes_committed;
	r->at[r->head] = ev_now(loop);
	if (r->ticks < STATS_WINDOW)
		r->ticks++;
}

void stats_init(struct broker *b)
{
	struct stats_rate *r = &b->rate;

	memset(r, 0, sizeof *r);
	r->started_mono_ns = timefmt_mono_ns();
	r->records[0] = b->stats.records_committed;
	r->bytes[0] = b->stats.bytes_committed;
	r->at[0] = ev_now(b->loop);
	ev_timer_init(&r->tick_w, on_tick, 1., 1.);
	r->tick_w.data = b;
	ev_timer_start(b->loop, &r->tick_w);
}

void stats_fini(struct broker *b)
{
	if (b->loop)
		ev_timer_stop(b->loop, &b->rate.tick_w);
}

/* Records and bytes per second over the last `span` ticks (0 before the
 * first tick). */
static void rate_over(const struct stats_rate *r, unsigned span,
                      double *records, double *bytes)
{
	*records = *bytes = 0;
	if (span > r->ticks)
		span = r->ticks;
	if (span == 0)
		return;
	unsigned old = (r->head + STATS_WINDOW + 1 - span) % (STATS_WINDOW + 1);
	double dt = r->at[r->head] - r->at[old];
	if (dt <= 0)
		return;
	*records = (double)(r->records[r->head] - r->records[old]) / dt;
	*bytes = (double)(r->bytes[r->head] - r->bytes[old]) / dt;
}

void stats_count_batch(struct broker *b, const msgpack_object_array *recs,
                       const msgpack_object *req)
{
	uint64_t dropped;

	b->stats.records_received += recs->size;
	for (uint32_t i = 0; i < recs->size; i++)
		if (recs->ptr[i].type == MSGPACK_OBJECT_BIN)
			b->stats.bytes_received += recs->ptr[i].via.bin.size;
	if (mp_get_u64(req, "dr", &dropped))
		b->stats.client_dropped += dropped;
}

/* ---- the "stats" op ---------------------------------------------------- */

static void pack_double(msgpack_packer *pk, const char *key, double v)
{
	mp_pack_key(pk, key);
	msgpack_pack_double(pk, v);
}

/* VmRSS and VmHWM of this process in bytes (0 when /proc cannot say). */
static void memory_use(uint64_t *rss, uint64_t *peak)
{
	char line[256];
	unsigned long long kb;
	FILE *f = fopen("/proc/self/status", "re");

	*rss = *peak = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			*rss = (uint64_t)kb * 1024;
		else if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
			*peak = (uint64_t)kb * 1024;
	}
	fclose(f);
}

static uint64_t pipes(const struct endpoint *ep)
{
	int_fast64_t n = atomic_load(&ep->pipes);
	return n > 0 ? (uint64_t)n : 0;
}

/* "sockets": what each socket refused before it was a request
 * (endpoint.h); the connections nng closed are also counted among the
 * refusals, as "bad_frame" and "handshake_timeout" (rej, summed). */
static void pack_sockets(struct broker *b, msgpack_packer *pk,
                         struct endpoint_refusals *sum)
{
	struct endpoint *const eps[3] = {&b->ingest, &b->query, &b->live};
	struct endpoint_refusals *r = b->rate.wire;

	if (b->rate.wire_at == 0 || ev_now(b->loop) - b->rate.wire_at >= 1.) {
		endpoint_refusals(eps, 3, r);
		b->rate.wire_at = ev_now(b->loop);
	}
	for (int i = 0; i < 3; i++) /* the loop's own count is never late */
		r[i].bad_requests = eps[i]->bad_requests;
	memset(sum, 0, sizeof *sum);
	mp_pack_key(pk, "sockets");
	msgpack_pack_map(pk, 3);
	for (int i = 0; i < 3; i++) {
		mp_pack_key(pk, eps[i]->name);
		msgpack_pack_map(pk, 3);
		mp_put_u64(pk, "bad_requests", r[i].bad_requests);
		mp_put_u64(pk, "bad_frames", r[i].bad_frames);
		mp_put_u64(pk, "handshake_timeouts", r[i].handshake_timeouts);
		sum->bad_frames += r[i].bad_frames;
		sum->handshake_timeouts += r[i].handshake_timeouts;
	}
}

void stats_pack_routes(struct broker *b, msgpack_packer *pk)
{
	struct routes_stats rs;

	routes_get_stats(b->routes, &rs);
	mp_pack_key(pk, "routes");
	msgpack_pack_map(pk, 5);
	mp_put_u64(pk, "files", rs.routes);
	mp_put_u64(pk, "open", rs.open_files);
	mp_put_u64(pk, "errors", rs.errors);
	mp_put_u64(pk, "failing", rs.failing);
	mp_put_u64(pk, "rotations", rs.rotations);
}

void stats_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
              const struct reader *rd)
{
	struct broker *b = ep->b;
	const struct broker_stats *st = &b->stats;
	struct journal_stats js;
	struct syncer_stats ss;
	uint64_t rss, peak;
	double r1, b1, r60, b60;
	msgpack_packer pk;

	(void)req;
	(void)rd; /* the counters name no service: open to every reader */
	b->stats.queries++;
	journal_get_stats(b->journal, &js);
	syncer_get_stats(b->syncer, &ss);
	memory_use(&rss, &peak);
	rate_over(&b->rate, 1, &r1, &b1);
	rate_over(&b->rate, STATS_WINDOW, &r60, &b60);
	/* The last fdatasync is the syncer's or the journal's own (a
	 * CRITICAL record's), whichever ended later. */
	uint64_t last_sync = ss.last_at_ns >= js.last_fsync_at_ns
	                         ? ss.last_ns
	                         : js.last_fsync_ns;
	int64_t up = timefmt_mono_ns() - b->rate.started_mono_ns;

	reply_begin(b, &pk, 37);
	mp_pack_key(&pk, "version");
	mp_pack_key(&pk, LOGBUS_VERSION);
	mp_put_u64(&pk, "pid", (uint64_t)getpid());
	mp_put_i64(&pk, "started", st->started_ns);
	mp_put_u64(&pk, "uptime_ns", up > 0 ? (uint64_t)up : 0);
	mp_put_u64(&pk, "rss", rss);
	mp_put_u64(&pk, "rss_peak", peak);
	mp_put_u64(&pk, "received", st->records_received);
	mp_put_u64(&pk, "received_bytes", st->bytes_received);
	mp_put_u64(&pk, "committed", st->records_committed);
	mp_put_u64(&pk, "committed_bytes", st->bytes_committed);
	struct endpoint_refusals wire;
	pack_sockets(b, &pk, &wire);
	mp_pack_key(&pk, "rejected");
	msgpack_pack_map(&pk, REJ_COUNT + 2);
	for (int i = 0; i < REJ_COUNT; i++)
		mp_put_u64(&pk, reject_names[i], st->rejected[i]);
	mp_put_u64(&pk, "bad_frame", wire.bad_frames);
	mp_put_u64(&pk, "handshake_timeout", wire.handshake_timeouts);
	mp_put_u64(&pk, "rate_limited", st->rate_limited);
	mp_put_u64(&pk, "client_dropped", st->client_dropped);
	mp_put_u64(&pk, "batches", st->batches);
	mp_put_u64(&pk, "batches_dup", st->batches_dup);
	pack_double(&pk, "rate_1s", r1);
	pack_double(&pk, "rate_bytes_1s", b1);
	pack_double(&pk, "rate_60s", r60);
	pack_double(&pk, "rate_bytes_60s", b60);
	mp_put_u64(&pk, "publishers", pipes(&b->ingest));
	mp_put_u64(&pk, "readers", pipes(&b->query));
	mp_put_u64(&pk, "subscribers", pipes(&b->live));
	mp_put_u64(&pk, "relistens",
	           b->ingest.relistens + b->query.relistens +
	               b->live.relistens);
	mp_put_u64(&pk, "segments", js.segments);
	mp_put_u64(&pk, "journal_bytes", js.bytes);
	mp_put_u64(&pk, "first", js.first_seq);
	mp_put_u64(&pk, "last", js.last_seq);
	mp_put_u64(&pk, "fsyncs", js.fsyncs + ss.syncs);
	mp_put_u64(&pk, "fsync_errors", ss.errors);
	mp_put_u64(&pk, "fsync_last_ns", last_sync);
	stats_pack_routes(b, &pk);
	mp_put_u64(&pk, "services", services_size(b->services));
	mp_put_u64(&pk, "services_max", SERVICES_MAX);
	mp_put_u64(&pk, "error_reports", st->error_reports);
	mp_put_u64(&pk, "error_report_errors", st->error_report_errors);
	mp_put_u64(&pk, "queries", st->queries);
	reply_send(ep, msg);
}

/* ---- the "services" op ------------------------------------------------- */

struct svc_list {
	msgpack_packer *pk;
	struct owners *owners;
	size_t n, max;
};

/* Who owns it: "owner" (name, "" when none or nameless), "owner_id" (uid,
 * or gid with "owner_group" true), "owner_how" (owners.h's enum). */
static void pack_owner(msgpack_packer *pk, struct owners *o,
                       const struct service *s)
{
	struct owner_info w;

	owners_info(o, s->id, s->len, &w);
	mp_pack_key(pk, "owner");
	mp_pack_str(pk, w.name, strlen(w.name));
	mp_put_u64(pk, "owner_id", w.id);
	mp_pack_key(pk, "owner_group");
	if (w.group)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	mp_put_u64(pk, "owner_how", (uint64_t)w.how);
}

static void pack_service(msgpack_packer *pk, struct owners *o,
                         const struct service *s)
{
	const char *sum = s->exit_summary ? s->exit_summary : "";

	msgpack_pack_map(pk, 19);
	mp_pack_key(pk, "svc");
	mp_pack_str(pk, s->id, s->len);
	mp_put_u64(pk, "records", s->records);
	mp_put_u64(pk, "bytes", s->bytes);
	/* below DEBUG counts as debug: five columns cover every level */
	mp_put_u64(pk, "debug", s->by_level[0] + s->by_level[1]);
	mp_put_u64(pk, "info", s->by_level[2]);
	mp_put_u64(pk, "warning", s->by_level[3]);
	mp_put_u64(pk, "error", s->by_level[4]);
	mp_put_u64(pk, "critical", s->by_level[5]);
	mp_put_i64(pk, "first", s->first_time_ns);
	mp_put_i64(pk, "last", s->last_time_ns);
	mp_put_u64(pk, "last_seq", s->last_seq);
	mp_put_i64(pk, "report", s->report_ns);
	mp_put_i64(pk, "exit_code", s->exit_code);
	mp_pack_key(pk, "exit");
	mp_pack_str(pk, sum, strlen(sum));
	mp_pack_key(pk, "category");
	mp_pack_key(pk, s->category ? s->category : "");
	pack_owner(pk, o, s);
}

static void add_service(void *arg, const struct service *s)
{
	struct svc_list *l = arg;

	if (l->n < l->max) {
		pack_service(l->pk, l->owners, s);
		l->n++;
	}
}

/* {"op": "services", "svc"?: str, "max"?: u64} -> {"total", "kept_max",
 * "services": [...]}, the most recently active first. */
void services_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
                 const struct reader *rd)
{
	struct broker *b = ep->b;
	uint64_t max = STATS_SERVICES_MAX;
	uint32_t total = services_size(b->services);
	const struct service *one = NULL;
	struct service owned = {0};
	struct owner_info w;
	const char *id;
	size_t len;
	msgpack_packer pk;

	(void)rd; /* trusted readers only (request.c) */
	b->stats.queries++;
	if (mp_get_bytes(req, "svc", &id, &len)) {
		if (!service_id_valid(id, len)) {
			reply_error(
			    ep, msg, ERR_BAD_SERVICE,
			    "services: '%.*s' is not a valid service id",
			    (int)(len > 128 ? 128 : len), id);
			return;
		}
		one = services_find(b->services, id, len);
		if (one == NULL) { /* no records since start, but an owner */
			owners_info(b->owners, id, len, &w);
			owned.id = (char *)id;
			owned.len = len;
			if (w.how != OWNER_NONE)
				one = &owned;
		}
		if (one == NULL) {
			reply_error(
			    ep, msg, ERR_NOT_FOUND,
			    "logbusd has no record of service %.*s since "
			    "it started (or forgot it: it keeps the %u "
			    "most recently active services)",
			    (int)len, id, SERVICES_MAX);
			return;
		}
	}
	if (mp_get_u64(req, "max", &max) &&
	    (max == 0 || max > STATS_SERVICES_MAX))
		max = STATS_SERVICES_MAX;
	reply_begin(b, &pk, 3);
	mp_put_u64(&pk, "total", total);
	mp_put_u64(&pk, "kept_max", SERVICES_MAX);
	mp_pack_key(&pk, "services");
	if (one != NULL) {
		msgpack_pack_array(&pk, 1);
		pack_service(&pk, b->owners, one);
	} else {
		struct svc_list l = {
		    .pk = &pk, .owners = b->owners, .max = max};
		msgpack_pack_array(&pk, total < max ? total : max);
		services_each(b->services, add_service, &l);
	}
	reply_send(ep, msg);
}
