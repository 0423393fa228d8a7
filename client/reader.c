/*
 * reader.c: reading records back, as a snapshot of the journal or following
 * it live; every matching record once, in sequence order.
 *
 * A reader is a position (the journal id and `after`, the sequence number
 * up to which every record has been handed out or was not wanted) and a
 * filter.  It gets records two ways:
 *
 *  - replay: read requests on the query socket for records after the
 *    position, filtered by the broker; each reply moves the position to the
 *    last record the broker examined, matching or not;
 *  - live (follow mode): the broker publishes every committed record once,
 *    as runs of one service's consecutive records (broker/live.c).  A
 *    reader of one service subscribes to that service's topic and knows it
 *    missed nothing when a run's "prev" (the service's previous record) is
 *    at or before its position; a reader of several services subscribes to
 *    everything and knows it when a run starts right after its position.
 *
 * Whenever live cannot prove that nothing was missed (pub0 dropped a
 * message because this reader was slow, the broker restarted, the live
 * socket was not connected yet, or nothing came for a second and the last
 * message may have been lost), or a run comes as a stub (its records are
 * committed but live had no room for them), the reader replays from its
 * position until it has caught up, then goes on with live runs, skipping
 * what the replay already handed out.  The journal is the truth; live is a
 * shortcut.
 *
 * A follower dials the live socket only after a first read reply, and only
 * when that reply does not say "own": a reader outside the broker's reader
 * group sees only its own uid's records, and the live socket, which
 * carries everyone's, would refuse it.  Such a reader follows with long
 * polls instead: a read with "wait" that the broker answers as soon as a
 * record it may see is committed.  What is committed before live connects
 * is caught by the gap check like any other miss.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "cursor.h"
#include "filter.h"
#include "fork.h"
#include "frame.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "redial.h"
#include "reqconn.h"
#include "view.h"

#define DEFAULT_TIMEOUT_MS 5000
#define IDLE_POLL_MS       1000 /* no live message this long: replay */
#define RETRY_MS           250  /* after a passing error */
#define SLICE_MS           100  /* waits look at stop and the dialer */
#define LIVE_RECVBUF       8192 /* messages queued in the sub socket */
#define LONG_POLL_MS                                                           \
	1000 /* a follower without live waits this long                        \
	        in the broker per request */

enum source { NONE, QUERY, LIVE };

/* fetch_once: the broker answered ERR_UNREAD (not a LOGBUS_* code). */
#define UNREAD_RETRY 1

struct logbus_reader {
	struct reqconn conn;
	struct filter flt;
	enum logbus_start start;
	uint64_t tail_n;
	int timeout_ms;
	bool follow;

	bool positioned; /* jid and after are known */
	unsigned char jid[CURSOR_ID_LEN];
	uint64_t after;
	bool replaying; /* the next records come from the query socket */
	bool caught_up; /* a snapshot reached the journal's end */
	uint64_t oldest;

	/* the message whose frames are being handed out */
	nng_msg *msg;
	enum source source;
	const unsigned char *frames;
	size_t frames_len, off;
	uint64_t msg_next; /* position once all its frames are handed out */
	bool msg_eof;

	/* follow mode */
	char *dir; /* the run directory, for the live socket */
	bool own;  /* the broker said "own": long polls, never live */
	bool live_open;
	nng_socket live;
	struct redial live_rd;
	int live_fd;
	bool one_service;
	int64_t idle_at;  /* replay if no live message until then */
	int64_t retry_at; /* no request before then after a passing error */
	atomic_bool stop;

	struct view view;
	char cursor[CURSOR_STR_LEN + 1];
	char error[512];
	msgpack_sbuffer req;
	msgpack_zone zone;
	msgpack_zone rec_zone;
};

static int fetch(struct logbus_reader *r, int wait_ms);

static void open_error(const logbus_reader_options *o, const char *msg)
{
	if (o->error && o->error_len)
		snprintf(o->error, o->error_len, "%s", msg);
}

static int open_live(struct logbus_reader *r, const char *dir)
{
	char url[160];
	int rv;

	if (paths_socket_url(url, sizeof url, dir, SOCK_LIVE) == NULL) {
		snprintf(r->error, sizeof r->error,
		         "run directory path too "
		         "long: %s",
		         dir);
		return LOGBUS_EINVAL;
	}
	/* One service: its topic, "<id>\0".  Several or all: everything,
	 * filtered here, so that runs of all services arrive in order. */
	r->one_service = r->flt.nservices == 1;
	const void *topic = r->one_service ? r->flt.services[0].p : "";
	size_t topic_len = r->one_service ? r->flt.services[0].len + 1 : 0;
	if ((rv = nng_sub0_open(&r->live)) != 0) {
		snprintf(r->error, sizeof r->error, "cannot open a socket: %s",
		         nng_strerror(rv));
		return LOGBUS_ESYS;
	}
	if ((rv = nng_socket_set(r->live, NNG_OPT_SUB_SUBSCRIBE, topic,
	                         topic_len)) ||
	    (rv = nng_socket_set_int(r->live, NNG_OPT_RECVBUF, LIVE_RECVBUF)) ||
	    (rv = nng_socket_set_size(r->live, NNG_OPT_RECVMAXSZ,
	                              INGEST_RECV_MAX + 64 * 1024)) ||
	    (rv = nng_socket_get_int(r->live, NNG_OPT_RECVFD, &r->live_fd)) ||
	    (rv = redial_start(&r->live_rd, r->live, url))) {
		snprintf(r->error, sizeof r->error, "cannot follow %s/%s: %s",
		         dir, SOCK_LIVE, nng_strerror(rv));
		nng_close(r->live); /* nothing in flight yet */
		free(r->live_rd.pipes);
		r->live_rd.pipes = NULL;
		return LOGBUS_ESYS;
	}
	r->live_open = true;
	return 0;
}

/* In a child of fork() the sockets are the parent's, and nng cannot close
 * them here: only the memory goes (a message is plain memory to nng). */
static void reader_free(struct logbus_reader *r)
{
	if (r->msg)
		nng_msg_free(r->msg);
	if (r->live_open && !fork_forked())
		redial_close(&r->live_rd);
	free(r->dir);
	filter_fini(&r->flt);
	view_fini(&r->view);
	msgpack_sbuffer_destroy(&r->req);
	msgpack_zone_destroy(&r->zone);
	msgpack_zone_destroy(&r->rec_zone);
	free(r);
}

LOGBUS_API int logbus_reader_open(logbus_reader **out,
                                  const logbus_reader_options *o)
{
	char run_dir[4096], err[256];
	int rv;

	*out = NULL;
	if (o == NULL || o->start > LOGBUS_START_SINCE) {
		if (o)
			open_error(o, "unknown start position");
		return LOGBUS_EINVAL;
	}
	fork_watch(); /* before nng starts */
	if (fork_forked()) {
		fork_error(err, sizeof err, "a reader");
		open_error(o, err);
		return LOGBUS_EFORKED;
	}
	const char *dir = o->run_dir
	                      ? o->run_dir
	                      : paths_default_run_dir(run_dir, sizeof run_dir);
	if (dir == NULL) {
		open_error(o, "run directory path too long");
		return LOGBUS_EINVAL;
	}
	struct logbus_reader *r = calloc(1, sizeof *r);
	if (r == NULL)
		return LOGBUS_ENOMEM;
	r->start = o->start;
	r->tail_n = o->start == LOGBUS_START_NEW ? 0 : o->tail_n;
	r->follow = o->follow != 0;
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	r->replaying = true;
	atomic_init(&r->stop, false);
	view_init(&r->view);
	msgpack_sbuffer_init(&r->req);
	msgpack_zone_init(&r->zone, 1024);
	msgpack_zone_init(&r->rec_zone, 4096);
	if (o->start == LOGBUS_START_CURSOR) {
		if (cursor_parse(o->cursor, r->jid, &r->after) < 0) {
			open_error(o, "malformed cursor: expected lb1-<32 "
			              "hex>-<16 hex>");
			rv = LOGBUS_ECURSOR;
			goto fail;
		}
		r->positioned = true;
	}
	if ((rv = filter_from_public(&r->flt, &o->filter, err, sizeof err)) !=
	    0) {
		open_error(o, err);
		goto fail;
	}
	if (o->start == LOGBUS_START_SINCE && o->since_ns > r->flt.since_ns)
		r->flt.since_ns = o->since_ns;
	char url[160];
	if (r->follow &&
	    (paths_socket_url(url, sizeof url, dir, SOCK_LIVE) == NULL ||
	     (r->dir = strdup(dir)) == NULL)) {
		open_error(o, "run directory path too long");
		rv = LOGBUS_EINVAL;
		goto fail;
	}
	if ((rv = reqconn_open(&r->conn, dir, SOCK_QUERY, QUERY_RECV_MAX,
	                       r->error, sizeof r->error)) != 0) {
		open_error(o, r->error);
		goto fail;
	}
	r->conn.fail_fast = true;
	/* "From now on" and "the last N" mean as of open, not as of the
	 * first next(): place the reader now.  A broker not reachable yet
	 * leaves that to the first next(), which says why if it fails. */
	if (o->start == LOGBUS_START_NEW || o->start == LOGBUS_START_TAIL) {
		rv = fetch(r, 0);
		if (rv != 0 && rv != LOGBUS_EUNREACHABLE &&
		    rv != LOGBUS_ETIMEDOUT) {
			open_error(o, r->error);
			logbus_reader_close(r);
			return rv;
		}
	}
	*out = r;
	return 0;
fail:
	reader_free(r);
	return rv;
}

LOGBUS_API void logbus_reader_close(logbus_reader *r)
{
	if (r == NULL)
		return;
	if (!fork_forked())
		reqconn_close(&r->conn);
	reader_free(r);
}

LOGBUS_API void logbus_reader_interrupt(logbus_reader *r)
{
	atomic_store(&r->stop, true);
}

static void drop_msg(struct logbus_reader *r)
{
	if (r->msg)
		nng_msg_free(r->msg);
	r->msg = NULL;
	r->source = NONE;
	r->frames_len = r->off = 0;
}

/* ---- replay -------------------------------------------------------------- */

static void build_read(struct logbus_reader *r, int wait_ms)
{
	msgpack_packer pk;
	bool tail = !r->positioned && (r->start == LOGBUS_START_TAIL ||
	                               r->start == LOGBUS_START_NEW);

	msgpack_sbuffer_clear(&r->req);
	msgpack_packer_init(&pk, &r->req, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2 + (r->positioned ? 2 : 0) + tail +
	                          (wait_ms > 0) + (r->conn.tok != 0));
	if (r->conn.tok != 0) { /* the last reply was read */
		mp_pack_key(&pk, REPLY_TOK);
		msgpack_pack_uint64(&pk, r->conn.tok);
	}
	if (wait_ms > 0) {
		mp_pack_key(&pk, "wait");
		msgpack_pack_uint64(&pk, (uint64_t)wait_ms);
	}
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
	if (clen == strlen(ERR_UNREAD) && !memcmp(code, ERR_UNREAD, clen))
		return UNREAD_RETRY;
	return LOGBUS_EREJECTED;
}

/* One read request and its reply: fetch's, which retries once after
 * UNREAD_RETRY. */
/* The frames of the message now held (r->msg) are handed out next, from
 * the first; then the reader stands at next (and at the end when eof). */
static void hand_out(struct logbus_reader *r, enum source src, const char *recs,
                     size_t len, uint64_t next, bool eof)
{
	r->source = src;
	r->frames = (const unsigned char *)recs;
	r->frames_len = len;
	r->off = 0;
	r->msg_next = next;
	r->msg_eof = eof;
}

static int fetch_once(struct logbus_reader *r, int wait_ms)
{
	msgpack_object o;
	size_t off = 0;
	bool ok = false, eof = false;
	const char *jid, *recs;
	size_t jidlen, recslen;
	uint64_t next;
	nng_msg *reply = NULL;
	int rv;

	drop_msg(r);
	build_read(r, wait_ms);
	rv = reqconn_call(&r->conn, r->req.data, r->req.size, &reply,
	                  r->timeout_ms + wait_ms, &r->stop, r->error,
	                  sizeof r->error);
	if (rv != 0)
		return rv;
	r->msg = reply;
	msgpack_zone_clear(&r->zone);
	if (mp_unpack(nng_msg_body(reply), nng_msg_len(reply), &off, &r->zone,
	              &o) != MSGPACK_UNPACK_SUCCESS ||
	    !mp_get_bool(&o, "ok", &ok))
		goto proto;
	reqconn_take_tok(&r->conn, &o);
	if (!ok) {
		rv = broker_error(r, &o);
		drop_msg(r);
		return rv;
	}
	if (!mp_get_bytes(&o, "jid", &jid, &jidlen) ||
	    jidlen != CURSOR_ID_LEN || !mp_get_u64(&o, "next", &next) ||
	    !mp_get_bool(&o, "eof", &eof) ||
	    !mp_get_bytes(&o, "recs", &recs, &recslen))
		goto proto;
	if (mp_get(&o, "own") != NULL) {
		/* Only our own records: live is not for us, long polls are. */
		r->own = true;
		if (r->live_open) /* the broker's reader group changed */
			redial_close(&r->live_rd);
		r->live_open = false;
	} else if (r->follow && !r->live_open && !r->own &&
	           (rv = open_live(r, r->dir)) != 0) {
		drop_msg(r);
		return rv;
	}
	memcpy(r->jid, jid, CURSOR_ID_LEN);
	r->positioned = true;
	hand_out(r, QUERY, recs, recslen, next, eof);
	return 0;
proto:
	drop_msg(r);
	snprintf(r->error, sizeof r->error,
	         "logbusd sent a read reply this library cannot read");
	return LOGBUS_EPROTO;
}

/* Ask for the next page (wait_ms > 0: the broker may hold the request that
 * long for records to come); on success its frames are the current
 * message.  The broker answers ERR_UNREAD when this connection, this uid
 * or all readers have too many replies not read yet: the connection is
 * dialled afresh (nothing unread on it) and the request tried once more;
 * a second refusal is the broker's sentence, LOGBUS_EREJECTED. */
static int fetch(struct logbus_reader *r, int wait_ms)
{
	int rv = fetch_once(r, wait_ms);

	if (rv != UNREAD_RETRY)
		return rv;
	if ((rv = reqconn_reopen(&r->conn, r->error, sizeof r->error)) != 0)
		return rv;
	rv = fetch_once(r, wait_ms);
	return rv == UNREAD_RETRY ? LOGBUS_EREJECTED : rv;
}

/* ---- live ---------------------------------------------------------------- */

/*
 * Take a live message: returns true when its frames became the current
 * message; false when it was dropped (old, or it showed a gap, in which
 * case the reader replays first).
 */
static bool take_live(struct logbus_reader *r, nng_msg *m)
{
	const char *body = nng_msg_body(m);
	size_t len = nng_msg_len(m);
	const char *nul = memchr(body, '\0', len);
	msgpack_object o;
	size_t off;
	uint64_t first, last, prev;
	const char *jid, *recs;
	size_t jidlen, recslen;

	if (nul == NULL)
		goto drop;
	off = (size_t)(nul + 1 - body);
	msgpack_zone_clear(&r->zone);
	if (mp_unpack(body, len, &off, &r->zone, &o) !=
	        MSGPACK_UNPACK_SUCCESS ||
	    !mp_get_bytes(&o, "jid", &jid, &jidlen) ||
	    jidlen != CURSOR_ID_LEN || !mp_get_u64(&o, "first", &first) ||
	    !mp_get_u64(&o, "last", &last) || !mp_get_u64(&o, "prev", &prev))
		goto drop;
	bool stub = mp_get(&o, "recs") == NULL;
	if (!stub && !mp_get_bytes(&o, "recs", &recs, &recslen))
		goto drop;
	if (!r->positioned || memcmp(jid, r->jid, CURSOR_ID_LEN) != 0 ||
	    last <= r->after)
		goto drop; /* not placed yet, another journal, or old */
	if (stub || (r->one_service ? prev > r->after : first > r->after + 1)) {
		/* records only the journal has, or something was missed */
		r->replaying = true;
		goto drop;
	}
	drop_msg(r);
	r->msg = m;
	hand_out(r, LIVE, recs, recslen, last, false);
	return true;
drop:
	nng_msg_free(m);
	return false;
}

/* Wait for a live message until `until` (ms, monotonic).  Returns 1 when a
 * message became current, 0 when the time is up, LOGBUS_ECLOSED. */
static int wait_live(struct logbus_reader *r, int64_t until)
{
	while (!r->live_open) { /* long polls: only the pause */
		int64_t left = until - redial_now_ms();
		if (atomic_load(&r->stop))
			return LOGBUS_ECLOSED;
		if (left <= 0)
			return 0;
		poll(NULL, 0, left < SLICE_MS ? (int)left : SLICE_MS);
	}
	for (;;) {
		nng_msg *m;
		if (nng_recvmsg(r->live, &m, NNG_FLAG_NONBLOCK) == 0) {
			r->idle_at = redial_now_ms() + IDLE_POLL_MS;
			if (take_live(r, m))
				return 1;
			if (r->replaying)
				return 0;
			continue;
		}
		if (atomic_load(&r->stop))
			return LOGBUS_ECLOSED;
		int64_t left = until - redial_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = {.fd = r->live_fd, .events = POLLIN};
		poll(&pfd, 1, left < SLICE_MS ? (int)left : SLICE_MS);
		redial_watch(&r->live_rd);
	}
}

/* ---- handing out --------------------------------------------------------- */

/* The next wanted record of the current message, or false when it has no
 * more.  Live records are filtered here, replayed ones by the broker. */
static bool next_frame(struct logbus_reader *r, int *err)
{
	while (r->off < r->frames_len) {
		int type;
		uint32_t total;
		const unsigned char *f = r->frames + r->off;
		if (frame_check(f, r->frames_len - r->off,
		                FRAME_BODY_HDR + LOGBUS_RECORD_MAX, &type,
		                &total) != FRAME_OK ||
		    type != FRAME_RECORD) {
			snprintf(r->error, sizeof r->error,
			         "a record from logbusd failed its checksum");
			*err = LOGBUS_EPROTO;
			return false;
		}
		r->off += total;
		struct frame_record fr;
		frame_record_decode(f, &fr);
		if (fr.seq <= r->after)
			continue;
		if (r->source == LIVE) {
			struct record_view v;
			struct record_error e;
			msgpack_zone_clear(&r->rec_zone);
			bool want = record_decode(fr.data, fr.len, &r->rec_zone,
			                          &v, &e) == 0 &&
			            filter_match_frame(&r->flt, &v, &fr);
			if (!want) {
				r->after = fr.seq;
				continue;
			}
		}
		if ((*err = view_fill(&r->view, f, r->jid)) != 0) {
			snprintf(r->error, sizeof r->error,
			         "a record from logbusd does not decode");
			return false;
		}
		r->after = fr.seq;
		return true;
	}
	*err = 0;
	return false;
}

/* All frames of the current message are handed out: move the position. */
static void finish_msg(struct logbus_reader *r)
{
	if (r->msg_next > r->after)
		r->after = r->msg_next;
	if (r->source == QUERY && r->msg_eof) {
		r->replaying = false;
		r->caught_up = true;
		r->idle_at = redial_now_ms() + IDLE_POLL_MS;
	}
	drop_msg(r);
}

static bool passing(int rv)
{
	return rv == LOGBUS_EUNREACHABLE || rv == LOGBUS_ETIMEDOUT;
}

LOGBUS_API int logbus_reader_next(logbus_reader *r, const logbus_record **rec,
                                  int timeout_ms)
{
	int64_t deadline =
	    timeout_ms < 0 ? INT64_MAX : redial_now_ms() + timeout_ms;
	int rv;

	if (fork_forked()) {
		fork_error(r->error, sizeof r->error,
		           "a reader opened before fork()");
		return LOGBUS_EFORKED;
	}
	for (;;) {
		if (atomic_load(&r->stop))
			return LOGBUS_ECLOSED;
		if (next_frame(r, &rv)) {
			*rec = &r->view.rec;
			return 1;
		}
		if (rv != 0)
			return rv;
		if (r->source != NONE)
			finish_msg(r);
		if (!r->follow && r->caught_up)
			return 0;
		if (r->replaying) {
			if (redial_now_ms() < r->retry_at) {
				/* only followers retry: live_open */
				int64_t until = r->retry_at < deadline
				                    ? r->retry_at
				                    : deadline;
				if ((rv = wait_live(r, until)) < 0)
					return rv;
				if (rv == 0 && redial_now_ms() >= deadline)
					return 0;
				continue;
			}
			if ((rv = fetch(r, 0)) != 0) {
				if (r->follow && passing(rv))
					r->retry_at =
					    redial_now_ms() + RETRY_MS;
				return rv;
			}
			continue;
		}
		if (!r->live_open) {
			/* following without live: a long poll at the end */
			int64_t left = deadline - redial_now_ms();
			if (left <= 0)
				return 0;
			r->replaying = true; /* until a reply says eof */
			if ((rv = fetch(r, left < LONG_POLL_MS
			                       ? (int)left
			                       : LONG_POLL_MS)) != 0) {
				if (passing(rv))
					r->retry_at =
					    redial_now_ms() + RETRY_MS;
				return rv;
			}
			continue;
		}
		/* following, caught up: live until idle or the deadline */
		int64_t until = r->idle_at < deadline ? r->idle_at : deadline;
		if ((rv = wait_live(r, until)) < 0)
			return rv;
		if (rv == 1 || r->replaying)
			continue;
		if (redial_now_ms() >= r->idle_at) {
			r->replaying = true; /* the tail may hold a lost run */
			continue;
		}
		return 0;
	}
}

LOGBUS_API int logbus_reader_skip_expired(logbus_reader *r)
{
	if (r->oldest == 0 || !r->positioned)
		return LOGBUS_EINVAL;
	r->after = r->oldest - 1;
	r->oldest = 0;
	r->replaying = true;
	return 0;
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
