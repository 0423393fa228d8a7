/*
 * ingest.c: publish batches in, acknowledgements out.
 *
 * The data path, in order: decode the request -> validate each record into
 * a struct batch -> dedup by (session, batch) -> rate limits -> one journal
 * append for the records left (ingest_append) -> fsync at once if a record
 * is CRITICAL -> reply with the first sequence number, the count committed
 * and the records refused with their reasons -> the fan-out
 * (ingest_fanout): live followers, routed files, error reports, long
 * polls.  The reply goes first so that the publisher's next batch travels
 * while the broker fans this one out; a `sync` request (the library's
 * flush sends one) is answered after the fan-out of every batch
 * acknowledged before it, since the loop does one thing at a time.  The
 * broker's own records (selflog.c) join the same path at ingest_append.
 *
 * Ownership (owners.h): a record whose publisher may not use its service
 * is refused alone (not_owner); one of root or the broker's user as
 * somebody else's service is stored with FRAME_REC_NOT_OWNER; the services
 * a batch claims are written and synced before its ack, in one write.
 *
 * Limits: a record over cfg.max_record_bytes or with more than
 * cfg.max_fields fields is refused like any bad record (alone); a batch of
 * more than BATCH_RECORDS_MAX records is refused whole; records over a
 * service's rate limit are dropped after validation and counted in the
 * ack's "limited" (ratelimit.c).
 *
 * Invariants: an acknowledgement is sent only after the journal's write(2)
 * returned (the fan-out follows in the same loop callback); a refused
 * record never reaches the journal and never affects the other records of
 * its batch.  A batch sent again (req0's resend, a reconnect, a broker
 * restart) whose number is not above the last one committed for its
 * session is acknowledged as "dup" and not written again: with that last
 * batch's sequence numbers when it is that batch; an older one, whose
 * numbers the dedup table no longer keeps (one batch per session,
 * sessions.h), with first 0.  The client's record bytes are stored as they
 * came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"

#include "alerts.h"
#include "batch.h"
#include "broker.h"
#include "error_report.h"
#include "fanout.h"
#include "fault.h"
#include "live.h"
#include "owners.h"
#include "proto.h"
#include "ratelimit.h"
#include "record.h"
#include "routes.h"
#include "selflog.h"
#include "sessions.h"
#include "timefmt.h"
#include "waiters.h"

void ingest_on_journal_batch(void *arg, const struct frame_batch *fb)
{
	struct broker *b = arg;
	struct session_batch sb = {
	    .batch = fb->batch,
	    .first_seq = fb->first_seq,
	    .count = fb->count,
	};
	sessions_commit(b->sessions,
	                fb->has_uid ? fb->uid : SESSIONS_UID_UNKNOWN,
	                fb->session, &sb);
}

struct emit_ctx {
	void (*emit)(void *ctx, const struct frame_batch *b);
	void *ctx;
};

static void emit_session(void *arg, uint32_t uid, uint64_t session,
                         const struct session_batch *sb)
{
	const struct emit_ctx *e = arg;
	struct frame_batch fb = {
	    .count = sb->count,
	    .session = session,
	    .batch = sb->batch,
	    .first_seq = sb->first_seq,
	    .uid = uid == SESSIONS_UID_UNKNOWN ? 0 : uid,
	    .has_uid = uid != SESSIONS_UID_UNKNOWN,
	};
	e->emit(e->ctx, &fb);
}

void ingest_each_journal_batch(
    void *arg, void (*emit)(void *ctx, const struct frame_batch *b), void *ctx)
{
	struct broker *b = arg;
	struct emit_ctx e = {emit, ctx};

	if (b->sessions != NULL)
		sessions_each(b->sessions, emit_session, &e);
}

struct reject {
	uint32_t index;
	const char *code;
	char msg[256];
};

/* The records of a publish refused, with why (the accepted ones are in the
 * batch). */
struct sorted {
	struct reject *rej;
	size_t nrej;
	bool critical; /* an accepted record is CRITICAL: fsync at once */
};

static int add_reject(struct sorted *s, uint32_t index, const char *code,
                      const char *msg)
{
	if ((s->nrej & (s->nrej - 1)) == 0) { /* 0, 1, 2, 4...: grow */
		size_t cap = s->nrej ? s->nrej * 2 : 1;
		struct reject *r = realloc(s->rej, cap * sizeof *r);
		if (r == NULL)
			return -1;
		s->rej = r;
	}
	struct reject *r = &s->rej[s->nrej++];
	r->index = index;
	r->code = code;
	/* Only the first few carry a sentence in the ack (proto.h). */
	snprintf(r->msg, sizeof r->msg, "%s",
	         s->nrej <= REJ_TEXT_MAX ? msg : "");
	return 0;
}

/* The last service whose ownership was looked at: a batch is mostly runs
 * of one service, so a run costs one look-up. */
struct owner_run {
	const char *svc;
	uint32_t len;
	enum owner_verdict verdict;
	char msg[256];
};

/* May the batch's publisher (bt->stamp) use v's service (owners.h)?  The
 * sentence of a refusal (user names looked up) only while the ack still
 * carries sentences (REJ_TEXT_MAX). */
static enum owner_verdict owner_of(struct broker *b, const struct batch *bt,
                                   const struct record_view *v,
                                   const struct sorted *s,
                                   struct owner_run *run)
{
	if (run->svc == NULL || run->len != v->service.len ||
	    memcmp(run->svc, v->service.p, run->len) != 0) {
		bool told = s->nrej < REJ_TEXT_MAX;
		run->svc = v->service.p;
		run->len = v->service.len;
		run->msg[0] = '\0';
		run->verdict =
		    owners_check(b->owners, b->access, v->service.p,
		                 v->service.len, bt->stamp.uid, bt->stamp.gid,
		                 told ? run->msg : NULL, sizeof run->msg);
	}
	return run->verdict;
}

/* Check each record of arr: the valid ones go to bt (in order, decoded
 * once), the others to s with their reasons.  bt->stamp says who sent
 * them.  0, or -1 out of memory. */
static int sort_records(struct broker *b, const msgpack_object_array *arr,
                        struct batch *bt, struct sorted *s)
{
	struct record_error e;
	uint32_t max_bytes = b->cfg.max_record_bytes,
	         max_fields = b->cfg.max_fields;
	struct owner_run run = {0};
	enum owner_verdict own = OWNER_MAY;
	char msg[128];

	memset(s, 0, sizeof *s);
	if (!batch_reserve(bt, arr->size))
		return -1;
	for (uint32_t i = 0; i < arr->size; i++) {
		const msgpack_object *o = &arr->ptr[i];
		const msgpack_object_bin *bin = &o->via.bin;
		struct record_view *v = &bt->views[bt->n];
		int rv = 0;
		if (o->type != MSGPACK_OBJECT_BIN) {
			rv = add_reject(s, i, ERR_BAD_RECORD,
			                "record is not a msgpack bin");
		} else if (bin->size > max_bytes) {
			snprintf(msg, sizeof msg,
			         "record of %u bytes is over the limit of %u "
			         "bytes (max-record-size)",
			         bin->size, max_bytes);
			rv = add_reject(s, i, ERR_TOO_BIG, msg);
		} else if (record_check(bin->ptr, bin->size, v) < 0 &&
		           record_decode(bin->ptr, bin->size, &bt->zone, v,
		                         &e) < 0) {
			/* in place first; objects only for what needs them */
			rv = add_reject(s, i, e.code, e.msg);
		} else if (service_is_self(v->service.p, v->service.len)) {
			rv = add_reject(
			    s, i, ERR_BAD_SERVICE,
			    "service '" SELF_SERVICE "' is the "
			    "broker's own: publish under another id");
		} else if (v->nfields > max_fields) {
			snprintf(msg, sizeof msg,
			         "record has %u fields, over the limit of %u "
			         "(max-fields)",
			         v->nfields, max_fields);
			rv = add_reject(s, i, ERR_TOO_MANY_FIELDS, msg);
		} else if ((own = owner_of(b, bt, v, s, &run)) ==
		           OWNER_REFUSED) {
			rv = add_reject(s, i, ERR_NOT_OWNER, run.msg);
		} else {
			struct journal_rec *r = &bt->recs[bt->n++];
			r->data = bin->ptr;
			r->len = bin->size;
			r->svc = v->service.p;
			r->svc_len = v->service.len;
			r->flags =
			    own == OWNER_MAY_OTHER ? FRAME_REC_NOT_OWNER : 0;
			if (v->level >= LOGBUS_CRITICAL)
				s->critical = true;
		}
		if (rv < 0)
			return -1;
	}
	return 0;
}

static void ack(struct endpoint *ep, nng_msg *req, uint64_t batch,
                uint64_t first, uint64_t n, uint64_t limited,
                const struct sorted *s, bool dup)
{
	msgpack_packer pk;

	reply_begin(ep->b, &pk, 6);
	mp_pack_key(&pk, "bn");
	msgpack_pack_uint64(&pk, batch);
	mp_pack_key(&pk, "first");
	msgpack_pack_uint64(&pk, first);
	mp_pack_key(&pk, "n");
	msgpack_pack_uint64(&pk, n);
	mp_pack_key(&pk, "dup");
	if (dup)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	mp_pack_key(&pk, "limited");
	msgpack_pack_uint64(&pk, limited);
	mp_pack_key(&pk, "rej");
	msgpack_pack_array(&pk, s->nrej);
	for (size_t i = 0; i < s->nrej; i++) {
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint32(&pk, s->rej[i].index);
		mp_pack_key(&pk, s->rej[i].code);
		mp_pack_key(&pk, s->rej[i].msg);
	}
	reply_send(ep, req);
}

int ingest_append(struct broker *b, uint64_t session, uint64_t bn,
                  struct batch *bt, char *err, size_t errlen)
{
	if (journal_append_batch(b->journal, session, bn, bt->recs, bt->n,
	                         &bt->stamp, &bt->first_seq, err, errlen) < 0)
		return -1;
	b->stats.records_committed += bt->n;
	for (size_t i = 0; i < bt->n; i++)
		b->stats.bytes_committed += bt->recs[i].len;
	return 0;
}

void ingest_fanout(struct broker *b, const struct batch *bt)
{
	live_publish(b, bt);
	if (b->routes) /* NULL while the broker starts or stops */
		routes_write(b->routes, bt);
	error_report_write(b, bt);
	if (b->routes) { /* journal/fanout: so far, for a start after a crash */
		uint64_t last = bt->first_seq + bt->n - 1;
		fanout_mark(b->fanout, last, error_report_through(b, last));
	}
	waiters_committed(b->waiters, bt->stamp.uid);
	alerts_committed(b->alerts, bt);
}

static void publish_batch(struct endpoint *ep, nng_msg *msg,
                          const msgpack_object *req, struct batch *bt)
{
	struct broker *b = ep->b;
	uint64_t session, batch;
	const msgpack_object *recs = mp_get(req, "r");
	struct sorted s;
	char err[256];

	if (!mp_get_u64(req, "sid", &session) ||
	    !mp_get_u64(req, "bn", &batch) || recs == NULL ||
	    recs->type != MSGPACK_OBJECT_ARRAY) {
		reply_error(ep, msg, ERR_BAD_REQUEST,
		            "publish needs sid, bn and an array r");
		return;
	}
	if (recs->via.array.size > BATCH_RECORDS_MAX) {
		reply_error_with(ep, msg, ERR_BATCH_TOO_BIG, "max",
		                 BATCH_RECORDS_MAX,
		                 "batch of %u records is over the limit of %d "
		                 "records; nothing of it was written",
		                 recs->via.array.size, BATCH_RECORDS_MAX);
		return;
	}
	b->stats.batches++;
	/* Trusted fields come from the socket, never the record; the uid also
	 * names the session (sessions.h) and says which services the records
	 * may use (owners.h). */
	bt->stamp.recv_ns = timefmt_now_ns();
	access_stamp(b->access, nng_msg_get_pipe(msg), &bt->stamp);
	if (sort_records(b, &recs->via.array, bt, &s) < 0) {
		owners_commit(b->owners, err, sizeof err);
		free(s.rej);
		reply_error(ep, msg, ERR_JOURNAL, "out of memory");
		return;
	}
	/* The services this batch claimed are on disk before it is acked. */
	if (owners_commit(b->owners, err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR, "service claims: %s", err);
		free(s.rej);
		reply_error(ep, msg, ERR_JOURNAL,
		            "cannot record who owns a new service: %s", err);
		return;
	}
	const struct session_batch *prev =
	    sessions_find(b->sessions, bt->stamp.uid, session);
	if (prev != NULL && batch <= prev->batch) {
		/* Sent again (resend, reconnect, restart): already in. */
		b->stats.batches_dup++;
		uint64_t n = batch == prev->batch ? prev->count : bt->n;
		uint64_t first = batch == prev->batch ? prev->first_seq : 0;
		ack(ep, msg, batch, first, n, 0, &s, true);
		free(s.rej);
		return;
	}
	stats_count_batch(b, &recs->via.array, req);
	for (size_t i = 0; i < s.nrej; i++)
		count_reject(b, s.rej[i].code);
	size_t valid = bt->n;
	ratelimit_batch(b, bt);
	if (bt->n > 0) {
		if (ingest_append(b, session, batch, bt, err, sizeof err) < 0) {
			broker_log(b, LOGBUS_ERROR, "journal: %s", err);
			free(s.rej);
			reply_error(ep, msg, ERR_JOURNAL,
			            "journal write failed: %s", err);
			return;
		}
		if (s.critical && journal_sync(b->journal, err, sizeof err) < 0)
			broker_log(b, LOGBUS_ERROR, "journal: %s", err);
		FAULT_POINT("ingest_ack"); /* written, not acknowledged */
	}
	struct session_batch sb = {.batch = batch,
	                           .first_seq = bt->first_seq,
	                           .count = (uint32_t)bt->n};
	sessions_commit(b->sessions, bt->stamp.uid, session, &sb);
	ack(ep, msg, batch, bt->first_seq, bt->n, valid - bt->n, &s, false);
	if (bt->n > 0)
		ingest_fanout(b, bt);
	free(s.rej);
}

static void publish(struct endpoint *ep, nng_msg *msg,
                    const msgpack_object *req, const struct reader *rd)
{
	(void)rd;
	publish_batch(ep, msg, req, &ep->b->batch);
	batch_clear(&ep->b->batch);
}

/* Nothing to do: by the time the loop reads this request, it has fanned
 * out every batch it acknowledged before. */
static void sync_op(struct endpoint *ep, nng_msg *msg,
                    const msgpack_object *req, const struct reader *rd)
{
	msgpack_packer pk;

	(void)req;
	(void)rd;
	reply_begin(ep->b, &pk, 0);
	reply_send(ep, msg);
}

/* {"op": "claim", "svc": str} -> {} when the caller may publish as svc
 * (claiming it when nobody owns it), else not_owner with who owns it:
 * `logbusctl run` asks before it starts a command, so that a command is
 * never run unrecorded. */
static void claim_op(struct endpoint *ep, nng_msg *msg,
                     const msgpack_object *req, const struct reader *rd)
{
	struct broker *b = ep->b;
	struct frame_record who = {0};
	const char *svc;
	size_t len;
	char why[256] = "", err[256];
	msgpack_packer pk;

	(void)rd;
	if (!mp_get_bytes(req, "svc", &svc, &len) ||
	    !service_id_valid(svc, len) || service_is_self(svc, len)) {
		reply_error(ep, msg, ERR_BAD_SERVICE,
		            "claim needs a valid service id that is not "
		            "logbusd's own");
		return;
	}
	access_stamp(b->access, nng_msg_get_pipe(msg), &who);
	if (owners_check(b->owners, b->access, svc, len, who.uid, who.gid, why,
	                 sizeof why) == OWNER_REFUSED) {
		reply_error(ep, msg, ERR_NOT_OWNER, "%s", why);
		return;
	}
	if (owners_commit(b->owners, err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR, "service claims: %s", err);
		reply_error(ep, msg, ERR_JOURNAL,
		            "cannot record who owns a new service: %s", err);
		return;
	}
	reply_begin(b, &pk, 0);
	reply_send(ep, msg);
}

const struct request_op ingest_ops[] = {
    {OP_PUBLISH, publish},
    {OP_SYNC, sync_op},
    {OP_CLAIM, claim_op},
    {NULL, NULL},
};
