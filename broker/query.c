/*
 * query.c: reads from the journal by cursor and filter, journal info, and
 * the administrators' ops on the files it owns (rotate, vacuum).
 *
 * A read reply carries the matching record frames exactly as the journal
 * holds them (shared/frame.h), concatenated in one bin, plus where to go on
 * ("next": the last sequence number examined) and whether that reached the
 * journal's end as of the request ("eof").  Each request does bounded work
 * (records, reply bytes, bytes scanned), so a reader with a rare filter over
 * a large journal pages through it without stalling the loop for others.
 * The reply bytes are also cut to the room its connection, its uid and all
 * readers have for replies not read yet (unread.h).
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

#include "alerts.h"

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
#include "timefmt.h"
#include "unread.h"
#include "waiters.h"

#define SCAN_BUDGET (64u * 1024 * 1024) /* frame bytes examined per read */
/* The loop time one read may take before it yields: a forward read then
 * replies with what it has (not at the end: the reader asks again), a
 * tail's backward scan goes on in the next loop iteration.  So no reader
 * holds up a publisher's ack by more than about this (plus one record's
 * regular expression, bounded by FILTER_MATCH_LIMIT). */
#define READ_SLICE_NS (4 * 1000000LL)
#define TAIL_JOBS_MAX 64 /* tails scanning at once; more: try again */
/* A read reply's bytes besides its frames, with room to spare: its keys,
 * the journal id, "own" and the token. */
#define READ_REPLY_KEYS 1024

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
	/* the slice: when it ends, records examined, and where a reverse
	 * scan that yielded goes on (records below resume) */
	int64_t deadline_ns;
	uint64_t examined, resume;
	bool yielded;
	uint64_t gave_up; /* the record whose regex hit its limit, or 0 */
};

/* Whether the slice is over: the clock is read every 16 records when a
 * regular expression runs on each (one that nears its match limit costs
 * up to about a millisecond; one that reaches it ends the read), else
 * every 128 (a record costs well under a microsecond).  Reading it at every
 * record cost a sixth of a regex scan's speed. */
static bool slice_over(struct read_state *st)
{
	unsigned every = st->flt->regex != NULL ? 16 : 128;

	if (st->examined++ == 0)
		return false; /* always a record's progress */
	if (st->examined % every != 0)
		return false;
	return timefmt_mono_ns() > st->deadline_ns;
}

/* Whether the reader may see rec and it passes the filter; a regex that
 * gave up on it stops the read (st->gave_up) and says no. */
static bool matches(struct read_state *st, const struct frame_record *rec)
{
	struct broker *b = st->b;
	const struct filter *flt = st->flt;
	struct record_view v;
	struct record_error e;
	enum filter_result r = FILTER_NO;

	if (!reader_may_see(&st->rq->reader, rec->uid))
		return false;
	/* A peek that fails proves nothing: the full decode judges then. */
	if (flt->nfields == 0 && record_peek(rec->data, rec->len, &v) == 0 &&
	    (r = filter_test_frame(flt, &v, rec)) != FILTER_YES)
		goto out;
	if (record_decode(rec->data, rec->len, &b->rec_zone, &v, &e) == 0)
		r = filter_test_frame(flt, &v, rec);
	msgpack_zone_clear(&b->rec_zone);
out:
	if (r == FILTER_LIMIT)
		st->gave_up = rec->seq;
	return r == FILTER_YES;
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
	if (st->count >= st->max || st->scanned >= SCAN_BUDGET ||
	    slice_over(st)) {
		st->full = true;
		return 1;
	}
	bool match = matches(st, rec);
	if (st->gave_up)
		return 1;
	if (match) {
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
	if (slice_over(st)) {
		st->yielded = true;
		st->resume = rec->seq + 1;
		return 1;
	}
	bool match = matches(st, rec);
	if (st->gave_up)
		return 1;
	if (match) {
		st->tail_start = rec->seq;
		if (--st->tail_left == 0)
			return 1;
	}
	return 0;
}

/* The read stopped at a record its regular expression gave up on. */
static void reply_gave_up(struct endpoint *ep, nng_msg *msg, uint64_t seq)
{
	reply_error(ep, msg, ERR_BAD_REQUEST,
	            "the regular expression gave up on record %llu (over %d "
	            "steps of backtracking): simplify it, e.g. without "
	            "nested or overlapping repeats like (a|a?)+",
	            (unsigned long long)seq, FILTER_MATCH_LIMIT);
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
	mp_put_u64(&pk, "fsyncs", js.fsyncs + ss.syncs);
	mp_put_u64(&pk, "committed", b->stats.records_committed);
	mp_pack_key(&pk, "rejected");
	msgpack_pack_map(&pk, REJ_COUNT);
	for (int i = 0; i < REJ_COUNT; i++)
		mp_put_u64(&pk, reject_names[i], b->stats.rejected[i]);
	stats_pack_routes(b, &pk);
	mp_put_u64(&pk, "first", journal_first_seq(b->journal));
	mp_put_u64(&pk, "last", journal_last_seq(b->journal));
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
		mp_put_u64(&pk, "own", rd->uid);
	pack_jid(&pk, b->journal);
	mp_put_u64(&pk, "first", journal_first_seq(b->journal));
	mp_put_u64(&pk, "last", st->last);
	mp_put_u64(&pk, "next", st->next);
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
	if (ep->unread) { /* the room may have shrunk since a wait began */
		size_t room =
		    unread_room(ep->unread, reply_pipe(msg), err, sizeof err);
		if (room < UNREAD_ROOM_MIN) {
			reply_error(ep, msg, ERR_UNREAD, "%s", err);
			return READ_ANSWERED;
		}
		room -= UNREAD_SMALL_ROOM + READ_REPLY_KEYS;
		if (room < st.maxb)
			st.maxb = room;
	}
	st.next = rq->after;
	st.deadline_ns = timefmt_mono_ns() + READ_SLICE_NS;
	struct journal_want want = {rq->flt.services, rq->flt.nservices,
	                            on_skip};
	if (journal_read_want(b->journal, rq->after, &want, on_forward, &st,
	                      err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR, "query: %s", err);
		reply_error(ep, msg, ERR_JOURNAL, "journal read failed: %s",
		            err);
		return READ_ANSWERED;
	}
	if (st.gave_up) {
		reply_gave_up(ep, msg, st.gave_up);
		return READ_ANSWERED;
	}
	if (may_park && st.count == 0 && !st.full && st.next >= st.last) {
		rq->after = st.next;
		return READ_PARK;
	}
	read_reply(ep, msg, &st);
	return READ_ANSWERED;
}

/* ---- tails, in slices ----------------------------------------------------
 *
 * A tail's backward scan may cross the whole journal (a rare filter): it
 * runs a slice (READ_SLICE_NS) when the request comes, and then a slice per
 * loop iteration, round robin, until it found its records; the forward
 * read that answers it is sliced like any other.
 */
struct tail_job {
	struct endpoint *ep;
	nng_msg *hdr; /* the request's routing header, once parked */
	struct read_req rq;
	uint64_t left, start, before; /* matches wanted, first found, resume */
	struct tail_job *next;
};

static void serve_or_park(struct endpoint *ep, nng_msg *msg,
                          struct read_req *rq);

/* One slice of tj's backward scan: 1 when it is done (tj->rq.after set),
 * 0 when there is more, -1 when it replied to msg with an error. */
static int tail_slice(struct tail_job *tj, nng_msg *msg)
{
	struct endpoint *ep = tj->ep;
	struct broker *b = ep->b;
	struct read_state st = {
	    .b = b,
	    .rq = &tj->rq,
	    .flt = &tj->rq.flt,
	    .tail_left = tj->left,
	    .floor = tj->rq.after,
	    .tail_start = tj->start,
	    .deadline_ns = timefmt_mono_ns() + READ_SLICE_NS,
	};
	struct journal_want want = {tj->rq.flt.services, tj->rq.flt.nservices,
	                            NULL};
	char err[256];

	if (journal_read_reverse_want(b->journal, tj->before, &want, on_reverse,
	                              &st, err, sizeof err) < 0) {
		broker_log(b, LOGBUS_ERROR, "query: %s", err);
		reply_error(ep, msg, ERR_JOURNAL, "journal read failed: %s",
		            err);
		return -1;
	}
	if (st.gave_up) {
		reply_gave_up(ep, msg, st.gave_up);
		return -1;
	}
	tj->left = st.tail_left;
	tj->start = st.tail_start;
	if (st.yielded) {
		tj->before = st.resume;
		return 0;
	}
	if (tj->start - 1 > tj->rq.after)
		tj->rq.after = tj->start - 1;
	return 1;
}

static void tail_append(struct broker *b, struct tail_job *tj)
{
	tj->next = NULL;
	if (b->tails.last)
		b->tails.last->next = tj;
	else
		b->tails.first = tj;
	b->tails.last = tj;
	b->tails.n++;
	ev_check_start(b->loop, &b->tails.w);
}

/* Keep tj (a copy, with msg's routing header) for the next slices: 0, or
 * -1 when there are too many or no memory (nothing was taken). */
static int tail_park(struct broker *b, const struct tail_job *tj, nng_msg *msg)
{
	struct tail_job *p;

	if (b->tails.n >= TAIL_JOBS_MAX || (p = malloc(sizeof *p)) == NULL)
		return -1;
	*p = *tj;
	if (nng_msg_alloc(&p->hdr, 0) != 0) {
		free(p);
		return -1;
	}
	if (nng_msg_header_append(p->hdr, nng_msg_header(msg),
	                          nng_msg_header_len(msg)) != 0) {
		nng_msg_free(p->hdr);
		free(p);
		return -1;
	}
	tail_append(b, p);
	return 0;
}

static struct tail_job *tail_take(struct broker *b)
{
	struct tail_job *tj = b->tails.first;

	if (tj == NULL)
		return NULL;
	b->tails.first = tj->next;
	if (b->tails.first == NULL)
		b->tails.last = NULL;
	if (--b->tails.n == 0)
		ev_check_stop(b->loop, &b->tails.w);
	return tj;
}

/* A slice of the oldest tail per loop iteration; it goes to the back. */
static void on_tails(struct ev_loop *loop, ev_check *w, int revents)
{
	struct broker *b =
	    (struct broker *)((char *)w - offsetof(struct broker, tails.w));
	struct tail_job *tj = tail_take(b);
	int rc;

	(void)loop;
	(void)revents;
	if (tj == NULL)
		return;
	rc = tail_slice(tj, tj->hdr);
	if (rc == 0) {
		tail_append(b, tj);
		return;
	}
	if (rc > 0)
		serve_or_park(tj->ep, tj->hdr, &tj->rq);
	else
		filter_fini(&tj->rq.flt);
	nng_msg_free(tj->hdr);
	free(tj);
}

void query_init(struct broker *b)
{
	ev_check_init(&b->tails.w, on_tails);
}

/* Every tail job gone; told so when reply. */
static void tails_end(struct broker *b, bool reply)
{
	struct tail_job *tj;

	while ((tj = tail_take(b)) != NULL) {
		if (reply)
			reply_error(tj->ep, tj->hdr, ERR_SHUTTING_DOWN,
			            "logbusd is stopping");
		filter_fini(&tj->rq.flt);
		nng_msg_free(tj->hdr);
		free(tj);
	}
}

void query_release(struct broker *b)
{
	tails_end(b, true);
}

void query_fini(struct broker *b)
{
	tails_end(b, false);
}

static void do_read(struct endpoint *ep, nng_msg *msg,
                    const msgpack_object *req, const struct reader *rd)
{
	struct broker *b = ep->b;
	struct read_req rq;
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
		/* The last `tail` matches after `after`: found by a backward
		 * scan, in slices (tail_job). */
		struct tail_job tj = {
		    .ep = ep,
		    .rq = rq,
		    .left = tail,
		    .start = journal_last_seq(b->journal) + 1,
		    .before = UINT64_MAX,
		};
		int rc = tail_slice(&tj, msg);
		if (rc == 0 && tail_park(b, &tj, msg) == 0)
			return; /* the job owns the filter now */
		if (rc == 0)
			reply_error(ep, msg, ERR_SHUTTING_DOWN,
			            "too many tails are being read (%d): try "
			            "again",
			            TAIL_JOBS_MAX);
		if (rc <= 0) {
			filter_fini(&tj.rq.flt);
			return;
		}
		rq = tj.rq;
	} else if (mp_get_u64(req, "tail", &tail)) {
		rq.after = journal_last_seq(b->journal);
	}
	serve_or_park(ep, msg, &rq);
}

/* Answer rq now, or park it when it waits for what is not there yet; the
 * filter is freed or owned by the waiter. */
static void serve_or_park(struct endpoint *ep, nng_msg *msg,
                          struct read_req *rq)
{
	if (read_serve(ep, msg, rq, rq->wait_ms > 0) == READ_PARK) {
		if (waiters_park(ep->b->waiters, ep, msg, rq) == 0)
			return; /* the waiter owns the filter now */
		read_serve(ep, msg, rq, false);
	}
	filter_fini(&rq->flt);
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
	mp_put_u64(&pk, "files", n);
	reply_send(ep, msg);
}

/* ---- vacuum: retention now, with the limits a request gives ------------ */

#define VACUUM_LIST_MAX 1000 /* removed segments named in one reply */

struct vacuum_list {
	struct {
		char name[64];
		uint64_t first, last, bytes;
	} seg[VACUUM_LIST_MAX];
	size_t n;
	uint64_t count, freed;
};

static void on_vacuumed(void *arg, const struct journal_removed *r)
{
	struct vacuum_list *l = arg;
	const char *slash = strrchr(r->path, '/');

	l->count++;
	l->freed += r->bytes;
	if (l->n == VACUUM_LIST_MAX)
		return;
	snprintf(l->seg[l->n].name, sizeof l->seg[l->n].name, "%s",
	         slash ? slash + 1 : r->path);
	l->seg[l->n].first = r->first_seq;
	l->seg[l->n].last = r->last_seq;
	l->seg[l->n].bytes = r->bytes;
	l->n++;
}

/* Remove the oldest segments over "size" bytes or older than "age"
 * seconds, never the active one (trusted readers only: request.c). */
static void vacuum(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
                   const struct reader *rd)
{
	struct broker *b = ep->b;
	struct journal_stats js;
	struct vacuum_list *l;
	msgpack_packer pk;
	uint64_t size = UINT64_MAX, age;
	int64_t cutoff = INT64_MIN;
	bool has_size = mp_get_u64(req, "size", &size);
	bool has_age = mp_get_u64(req, "age", &age);

	(void)rd;
	if (!has_size && !has_age) {
		reply_error(ep, msg, ERR_BAD_REQUEST,
		            "vacuum needs \"size\" (bytes to keep) or \"age\" "
		            "(seconds of records to keep)");
		return;
	}
	if (has_age && age < (uint64_t)(INT64_MAX / 1000000000))
		cutoff = timefmt_now_ns() - (int64_t)age * 1000000000;
	if ((l = calloc(1, sizeof *l)) == NULL) {
		reply_error(ep, msg, ERR_JOURNAL, "out of memory for a vacuum");
		return;
	}
	journal_vacuum(b->journal, size, cutoff, on_vacuumed, l);
	journal_get_stats(b->journal, &js);
	broker_log(b, LOGBUS_INFO,
	           "vacuum: removed %llu segments (%llu bytes) on request; "
	           "the journal keeps %llu bytes from record %llu on",
	           (unsigned long long)l->count, (unsigned long long)l->freed,
	           (unsigned long long)js.bytes,
	           (unsigned long long)js.first_seq);
	reply_begin(b, &pk, 7);
	mp_pack_key(&pk, "removed");
	msgpack_pack_array(&pk, l->n);
	for (size_t i = 0; i < l->n; i++) {
		msgpack_pack_map(&pk, 4);
		mp_pack_key(&pk, "file");
		mp_pack_key(&pk, l->seg[i].name);
		mp_put_u64(&pk, "first", l->seg[i].first);
		mp_put_u64(&pk, "last", l->seg[i].last);
		mp_put_u64(&pk, "bytes", l->seg[i].bytes);
	}
	mp_put_u64(&pk, "count", l->count);
	mp_put_u64(&pk, "freed", l->freed);
	mp_put_u64(&pk, "segments", js.segments);
	mp_put_u64(&pk, "bytes", js.bytes);
	mp_put_u64(&pk, "first", js.first_seq);
	mp_put_u64(&pk, "last", js.last_seq);
	reply_send(ep, msg);
	free(l);
}

const struct request_op query_ops[] = {
    {OP_READ, do_read},
    {OP_INFO, info},
    {OP_ERRORS, error_report_list_op},
    {OP_REPORT, error_report_get_op},
    {OP_ROTATE, rotate},
    {OP_VACUUM, vacuum},
    {OP_STATS, stats_op},
    {OP_SERVICES, services_op},
    {OP_ALERTS, alerts_op},
    {OP_ALERT_TEST, alert_test_op},
    {NULL, NULL},
};
