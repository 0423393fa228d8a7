/*
 * query.c: reads from the journal by cursor and filter, and journal info.
 *
 * A read reply carries the matching record frames exactly as the journal
 * holds them (shared/frame.h), concatenated in one bin, plus where to go on
 * ("next": the last sequence number examined) and whether that reached the
 * journal's end as of the request ("eof").  Each request does bounded work
 * (records, reply bytes, bytes scanned), so a reader with a rare filter over
 * a large journal pages through it without stalling the loop for others.
 *
 * A position older than the oldest record kept is "cursor_expired" with the
 * oldest sequence number; a position from another journal, or beyond its end
 * (the journal lost its tail, e.g. to a power loss), is "bad_cursor".  Never
 * a silent skip.
 *
 * A reader outside the reader group (access.h) reads only its own uid's
 * records: the uid is a predicate of the scan, next to the filter, so
 * limits and tails count its records only, and the reply says "own".  A
 * read with "wait" that finds nothing new at the end of the journal is
 * parked (waiters.c) until records it may see are committed: the long poll
 * such a reader follows with, since the live socket is not for it.
 *
 * Scans are cheap where they can be: a read that names services lets the
 * journal pass over blocks its index proves hold none of them (a skipped
 * stretch still moves "next"), and a record is first judged on the keys
 * record_peek reads in place; only a record that passes (or a filter on
 * structured fields) is decoded in full, and the full decode has the last
 * word, so the answers are those of decoding every record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

#include "broker.h"
#include "error_report.h"
#include "filter.h"
#include "proto.h"
#include "record.h"
#include "request.h"
#include "routes.h"
#include "selflog.h"
#include "stats.h"
#include "syncer.h"
#include "waiters.h"

#define SCAN_BUDGET (64u * 1024 * 1024) /* frame bytes examined per read */

struct read_state {
	struct broker *b;
	const struct read_req *rq;
	const struct filter *flt;
	uint64_t max, maxb, last;
	uint64_t count, bytes, scanned, next;
	size_t used;        /* bytes of frames in b->scratch */
	bool full;          /* stopped by a limit, not by the end */
	uint64_t tail_left; /* reverse scan: matches still wanted */
	uint64_t floor;     /* reverse scan: stop at or below this seq */
	uint64_t tail_start;
};

static bool matches(const struct read_state *st, const struct frame_record *rec)
{
	struct broker *b = st->b;
	const struct filter *flt = st->flt;
	struct record_view v;
	struct record_error e;

	if (!reader_may_see(&st->rq->reader, rec->uid))
		return false;
	/* A peek that fails proves nothing: the full decode judges then. */
	if (flt->nfields == 0 && record_peek(rec->data, rec->len, &v) == 0 &&
	    !filter_match(flt, &v))
		return false;
	bool ok =
	    record_decode(rec->data, rec->len, &b->rec_zone, &v, &e) == 0 &&
	    filter_match(flt, &v);
	msgpack_zone_clear(&b->rec_zone);
	return ok;
}

static bool reserve_scratch(struct broker *b, size_t need)
{
	if (need <= b->scratch_cap)
		return true;
	size_t cap = b->scratch_cap ? b->scratch_cap : 64 * 1024;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->scratch, cap);
	if (p == NULL)
		return false;
	b->scratch = p;
	b->scratch_cap = cap;
	return true;
}

static int on_forward(void *arg, const struct frame_record *rec,
                      const unsigned char *frame, uint32_t frame_len)
{
	struct read_state *st = arg;

	if (rec->seq > st->last)
		return 1;
	if (st->count >= st->max || st->scanned >= SCAN_BUDGET) {
		st->full = true;
		return 1;
	}
	if (matches(st, rec)) {
		if (st->count > 0 && st->used + frame_len > st->maxb) {
			st->full = true;
			return 1;
		}
		if (!reserve_scratch(st->b, st->used + frame_len)) {
			st->full = true;
			return 1;
		}
		memcpy(st->b->scratch + st->used, frame, frame_len);
		st->used += frame_len;
		st->count++;
	}
	st->scanned += frame_len;
	st->next = rec->seq;
	return 0;
}

/* The journal passed over records up to last that cannot match. */
static int on_skip(void *arg, uint64_t last)
{
	struct read_state *st = arg;

	if (last >= st->last) {
		st->next = st->last;
		return 1;
	}
	st->next = last;
	return 0;
}

static int on_reverse(void *arg, const struct frame_record *rec,
                      const unsigned char *frame, uint32_t frame_len)
{
	struct read_state *st = arg;

	(void)frame;
	(void)frame_len;
	if (rec->seq <= st->floor)
		return 1;
	if (matches(st, rec)) {
		st->tail_start = rec->seq;
		if (--st->tail_left == 0)
			return 1;
	}
	return 0;
}

static void pack_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
	mp_pack_key(pk, key);
	msgpack_pack_uint64(pk, v);
}

static void pack_jid(msgpack_packer *pk, const struct journal *j)
{
	mp_pack_key(pk, "jid");
	msgpack_pack_bin(pk, JOURNAL_ID_LEN);
	msgpack_pack_bin_body(pk, journal_id(j), JOURNAL_ID_LEN);
}

static void info(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
                 const struct reader *rd)
{
	struct broker *b = ep->b;
	msgpack_packer pk;

	struct journal_stats js;
	struct syncer_stats ss;

	(void)req;
	(void)rd; /* journal-wide figures: no record, no service */
	b->stats.queries++;
	journal_get_stats(b->journal, &js);
	syncer_get_stats(b->syncer, &ss);
	reply_begin(b, &pk, 8);
	pack_jid(&pk, b->journal);
	pack_u64(&pk, "fsyncs", js.fsyncs + ss.syncs);
	pack_u64(&pk, "committed", b->stats.records_committed);
	mp_pack_key(&pk, "rejected");
	msgpack_pack_map(&pk, REJ_COUNT);
	for (int i = 0; i < REJ_COUNT; i++)
		pack_u64(&pk, reject_names[i], b->stats.rejected[i]);
	stats_pack_routes(b, &pk);
	pack_u64(&pk, "first", journal_first_seq(b->journal));
	pack_u64(&pk, "last", journal_last_seq(b->journal));
	mp_pack_key(&pk, "version");
	mp_pack_key(&pk, LOGBUS_VERSION);
	reply_send(ep, msg);
}

/* Where a read starts: the seq after which records are returned.  Returns 0,
 * or -1 after replying with an error. */
static int read_start(struct endpoint *ep, nng_msg *msg,
                      const msgpack_object *req, uint64_t *after)
{
	struct journal *j = ep->b->journal;
	uint64_t first = journal_first_seq(j), last = journal_last_seq(j);
	const char *jid;
	size_t jidlen;

	if (mp_get_bytes(req, "jid", &jid, &jidlen) &&
	    (jidlen != JOURNAL_ID_LEN ||
	     memcmp(jid, journal_id(j), JOURNAL_ID_LEN) != 0)) {
		reply_error(ep, msg, ERR_CURSOR,
		            "cursor is from another journal");
		return -1;
	}
	if (!mp_get_u64(req, "after", after)) {
		*after = first - 1;
		return 0;
	}
	if (*after > last) {
		reply_error(ep, msg, ERR_CURSOR,
		            "cursor at seq %llu is beyond the journal's last "
		            "record %llu (the journal lost its tail?)",
		            (unsigned long long)*after,
		            (unsigned long long)last);
		return -1;
	}
	if (*after + 1 < first) {
		reply_error_with(
		    ep, msg, ERR_EXPIRED, "oldest", first,
		    "cursor expired: records up to seq %llu were "
		    "removed by retention; the oldest kept is %llu",
		    (unsigned long long)first - 1, (unsigned long long)first);
		return -1;
	}
	/* Inside a gap (a segment removed or damaged): the same answer as
	 * expiry, naming what is missing; reads stop in front of a gap, so a
	 * reader paging on asks here. */
	uint64_t gap_last;
	char err[256];
	int gap = journal_gap(j, *after + 1, &gap_last, err, sizeof err);
	if (gap < 0) {
		reply_error(ep, msg, ERR_JOURNAL, "journal read failed: %s",
		            err);
		return -1;
	}
	if (gap > 0) {
		reply_error_with(
		    ep, msg, ERR_EXPIRED, "oldest", gap_last + 1,
		    "records %llu..%llu are not in the journal (a segment was "
		    "removed or damaged, see logbusd's own records); the next "
		    "kept is %llu",
		    (unsigned long long)*after + 1,
		    (unsigned long long)gap_last,
		    (unsigned long long)gap_last + 1);
		return -1;
	}
	return 0;
}

static void read_reply(struct endpoint *ep, nng_msg *msg,
                       const struct read_state *st)
{
	struct broker *b = ep->b;
	const struct reader *rd = &st->rq->reader;
	msgpack_packer pk;

	reply_begin(b, &pk, 6 + !rd->trusted);
	if (!rd->trusted)
		pack_u64(&pk, "own", rd->uid);
	pack_jid(&pk, b->journal);
	pack_u64(&pk, "first", journal_first_seq(b->journal));
	pack_u64(&pk, "last", st->last);
	pack_u64(&pk, "next", st->next);
	mp_pack_key(&pk, "eof");
	if (!st->full && st->next >= st->last)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	mp_pack_key(&pk, "recs");
	msgpack_pack_bin(&pk, st->used);
	msgpack_pack_bin_body(&pk, b->scratch, st->used);
	reply_send(ep, msg);
}

enum read_result read_serve(struct endpoint *ep, nng_msg *msg,
                            struct read_req *rq, bool may_park)
{
	struct broker *b = ep->b;
	struct read_state st;
	char err[256];

	memset(&st, 0, sizeof st);
	st.b = b;
	st.rq = rq;
	st.flt = &rq->flt;
	st.last = journal_last_seq(b->journal);
	st.max = rq->max;
	st.maxb = rq->maxb;
	st.next = rq->after;
	struct journal_want want = {rq->flt.services, rq->flt.nservices,
	                            on_skip};
	if (journal_read_want(b->journal, rq->after, &want, on_forward, &st,
	                      err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR, "query: %s", err);
		reply_error(ep, msg, ERR_JOURNAL, "journal read failed: %s",
		            err);
		return READ_ANSWERED;
	}
	if (may_park && st.count == 0 && !st.full && st.next >= st.last) {
		rq->after = st.next;
		return READ_PARK;
	}
	read_reply(ep, msg, &st);
	return READ_ANSWERED;
}

static void do_read(struct endpoint *ep, nng_msg *msg,
                    const msgpack_object *req, const struct reader *rd)
{
	struct broker *b = ep->b;
	struct read_req rq;
	struct read_state st;
	uint64_t tail, v;
	char err[256];
	const msgpack_object *fo = mp_get(req, "flt");

	b->stats.queries++;
	memset(&rq, 0, sizeof rq);
	if (fo != NULL && filter_unpack(&rq.flt, fo, err, sizeof err) < 0) {
		reply_error(ep, msg, ERR_BAD_REQUEST, "%s", err);
		return;
	}
	if (read_start(ep, msg, req, &rq.after) < 0) {
		filter_fini(&rq.flt);
		return;
	}
	rq.reader = *rd;
	rq.max = READ_RECORDS_MAX;
	rq.maxb = QUERY_REPLY_MAX - 4096;
	if (mp_get_u64(req, "max", &v) && v > 0 && v < rq.max)
		rq.max = v;
	if (mp_get_u64(req, "maxb", &v) && v > 0 && v < rq.maxb)
		rq.maxb = v;
	if (mp_get_u64(req, "wait", &v))
		rq.wait_ms = v < WAIT_MAX_MS ? v : WAIT_MAX_MS;
	if (mp_get_u64(req, "tail", &tail) && tail > 0) {
		/* The last `tail` matches after `after`: find the first. */
		memset(&st, 0, sizeof st);
		st.b = b;
		st.rq = &rq;
		st.flt = &rq.flt;
		st.tail_left = tail;
		st.floor = rq.after;
		st.tail_start = journal_last_seq(b->journal) + 1;
		struct journal_want want = {rq.flt.services, rq.flt.nservices,
		                            NULL};
		if (journal_read_reverse_want(b->journal, UINT64_MAX, &want,
		                              on_reverse, &st, err,
		                              sizeof err) < 0) {
			broker_log(b, LOGBUS_ERROR, "query: %s", err);
			reply_error(ep, msg, ERR_JOURNAL,
			            "journal read failed: %s", err);
			filter_fini(&rq.flt);
			return;
		}
		if (st.tail_start - 1 > rq.after)
			rq.after = st.tail_start - 1;
	} else if (mp_get_u64(req, "tail", &tail)) {
		rq.after = journal_last_seq(b->journal);
	}
	if (read_serve(ep, msg, &rq, rq.wait_ms > 0) == READ_PARK) {
		if (waiters_park(b->waiters, ep, msg, &rq) == 0)
			return; /* the waiter owns the filter now */
		read_serve(ep, msg, &rq, false);
	}
	filter_fini(&rq.flt);
}

/* Reopen every routed file (after logrotate moved them). */
static void rotate(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
                   const struct reader *rd)
{
	struct broker *b = ep->b;
	msgpack_packer pk;

	(void)req;
	(void)rd; /* trusted readers only (request.c) */
	unsigned n = routes_reopen(b->routes);
	broker_log(b, LOGBUS_INFO, "rotate: reopened %u routed files", n);
	reply_begin(b, &pk, 1);
	pack_u64(&pk, "files", n);
	reply_send(ep, msg);
}

const struct request_op query_ops[] = {
    {OP_READ, do_read},
    {OP_INFO, info},
    {OP_ERRORS, error_report_list_op},
    {OP_REPORT, error_report_get_op},
    {OP_ROTATE, rotate},
    {OP_STATS, stats_op},
    {OP_SERVICES, services_op},
    {NULL, NULL},
};
