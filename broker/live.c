/*
 * live.c: every committed record, published once on the live socket.
 *
 * A live message is one run of consecutive records of one service (a batch
 * from the library is one run, cut at LIVE_MSG_MAX bytes of message).  Its body
 * starts with the topic, the service id and a NUL, so a subscriber can ask nng
 * for one service; then a msgpack map:
 *
 *   {"jid": bin(16), "first": u64, "last": u64, "prev": u64, "recs": bin}
 *
 * "recs" holds the run's record frames exactly as the journal holds them;
 * "prev" is the sequence number of the previous record of the same service
 * (or an upper bound of it, services.h).  Since every committed record is in
 * exactly one message, in order, a subscriber of everything sees a gap as
 * first != its position + 1, and a subscriber of one service as prev > its
 * position; either repairs from the journal.  pub0 never blocks: a slow
 * subscriber loses messages, never slows ingest.
 *
 * A run live has no room for (below) is sent as a stub, the same map
 * without "recs": records first..last of the service are committed, read
 * them from the journal.  So a follower of the service repairs at once,
 * not at its next message or idle read, and every run is still announced
 * once, in order.
 *
 * Memory.  pub0 queues up to LIVE_SENDBUF messages per subscriber and
 * drops the oldest, sharing the messages between the queues, so what the
 * queues hold is among the last LIVE_SENDBUF messages sent; besides, each
 * subscriber's connection may be part way through writing one older
 * message.  A message is cut at LIVE_MSG_MAX bytes, all told, so that the
 * last LIVE_SENDBUF fit in LIVE_BYTES_MAX; but a record bigger than that
 * goes alone (up to LOGBUS_RECORD_MAX), so the broker keeps the sizes of
 * the last LIVE_SENDBUF messages sent (the window) and sends a run's
 * records only when the window with them in place of its oldest stays
 * within LIVE_BYTES_MAX; else the stub.  Stubs are always sent: a refused
 * message that sent nothing would leave the window as it was, and a window
 * full but for a small oldest entry then refused every bigger message for
 * good (a flood starved other services' followers, issue 15).  A stub
 * pushes the oldest message out of the window (and out of every full
 * queue), so room comes back.  The records' messages in the window never
 * sum over LIVE_BYTES_MAX (only admitting one adds to them), the stubs
 * over LIVE_SENDBUF * LIVE_STUB_MAX.  Worst case: that, plus one message
 * (at most a record of LOGBUS_RECORD_MAX and its map) per subscriber.
 */
#include "live.h"

#include <string.h>

#include "batch.h"
#include "broker.h"
#include "frame.h"
#include "proto.h"
#include "selflog.h"
#include "services.h"

/* A live message's bytes at most, when its records allow (a bigger record
 * goes alone): LIVE_SENDBUF of them fill the window exactly, so only
 * records that big ever make a stub. */
#define LIVE_MSG_MAX (LIVE_BYTES_MAX / LIVE_SENDBUF)
/* The topic and map before a message's frames, at most: a stub's, and
 * "recs" with a bin32 header. */
#define LIVE_HEAD_MAX (LIVE_STUB_MAX + 10)

/* Whether a message of len bytes may be sent: the window's bytes with it
 * in place of the oldest stay within LIVE_BYTES_MAX, or it is a stub
 * (always sent: at most LIVE_STUB_MAX bytes).  If so, it is in. */
static bool window_admit(struct live_window *w, size_t len, bool stub)
{
	uint64_t bytes = w->bytes - w->size[w->head] + len;

	if (!stub && bytes > LIVE_BYTES_MAX) {
		w->skipped++;
		return false;
	}
	w->bytes = bytes;
	w->size[w->head] = (uint32_t)len;
	w->head = (w->head + 1) % LIVE_SENDBUF;
	return true;
}

/* The topic and the map of records first..last of svc in b->live_out; the
 * map's "recs" only announced (frames bytes follow), or left out for a
 * stub. */
static void pack_head(struct broker *b, const struct service *svc,
                      uint64_t first, uint64_t last, uint64_t prev,
                      size_t frames, bool stub)
{
	msgpack_sbuffer *out = &b->live_out;
	msgpack_packer pk;

	msgpack_sbuffer_clear(out);
	msgpack_sbuffer_write(out, svc->id, svc->len + 1);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, stub ? 4 : 5);
	mp_pack_key(&pk, "jid");
	msgpack_pack_bin(&pk, JOURNAL_ID_LEN);
	msgpack_pack_bin_body(&pk, journal_id(b->journal), JOURNAL_ID_LEN);
	mp_put_u64(&pk, "first", first);
	mp_put_u64(&pk, "last", last);
	mp_put_u64(&pk, "prev", prev);
	if (stub)
		return;
	mp_pack_key(&pk, "recs");
	msgpack_pack_bin(&pk, frames);
}

/* Send b->live_out, then the frames of records [from, to) of bt. */
static void send_msg(struct broker *b, const struct batch *bt, size_t from,
                     size_t to, size_t frames, const unsigned char *hdrs)
{
	const msgpack_sbuffer *out = &b->live_out;
	const struct journal_rec *recs = bt->recs;
	nng_msg *m;

	if (nng_msg_alloc(&m, out->size + frames) != 0) {
		broker_log(b, LOGBUS_ERROR, "live: out of memory");
		return;
	}
	unsigned char *p = nng_msg_body(m);
	memcpy(p, out->data, out->size);
	p += out->size;
	for (size_t i = from; i < to; i++) {
		memcpy(p, hdrs + i * FRAME_OVERHEAD, FRAME_OVERHEAD);
		memcpy(p + FRAME_OVERHEAD, recs[i].data, recs[i].len);
		p += FRAME_OVERHEAD + recs[i].len;
	}
	if (nng_sendmsg(b->live.sock, m, NNG_FLAG_NONBLOCK) != 0)
		nng_msg_free(m); /* subscribers repair from the journal */
}

/* Publish records [from, to) of bt, all of one service: the map's keys
 * packed in b->live_out, then the frames the journal wrote copied once,
 * straight into the message; a stub instead when the window has no room
 * for them. */
static void publish_run(struct broker *b, const struct batch *bt, size_t from,
                        size_t to, struct service *svc,
                        const unsigned char *hdrs)
{
	uint64_t first = bt->first_seq + from, last = bt->first_seq + to - 1;
	uint64_t prev = services_prev(b->services, svc);
	size_t frames = 0;

	for (size_t i = from; i < to; i++) {
		frames += FRAME_OVERHEAD + bt->recs[i].len;
		services_count(svc, bt->first_seq + i, bt->views[i].level,
		               bt->views[i].time_ns, bt->recs[i].len);
	}
	pack_head(b, svc, first, last, prev, frames, false);
	if (window_admit(&b->live_window, b->live_out.size + frames, false)) {
		send_msg(b, bt, from, to, frames, hdrs);
		return;
	}
	pack_head(b, svc, first, last, prev, 0, true);
	window_admit(&b->live_window, b->live_out.size, true);
	send_msg(b, bt, from, from, 0, hdrs);
}

static bool same_service(const struct lb_str *a, const struct lb_str *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

void live_publish(struct broker *b, const struct batch *bt)
{
	const struct lb_str *svc_id;
	size_t from = 0, n = bt->n;

	while (from < n) {
		size_t to = from + 1;
		size_t bytes =
		    LIVE_HEAD_MAX + FRAME_OVERHEAD + bt->recs[from].len;
		svc_id = &bt->views[from].service;
		while (to < n && same_service(&bt->views[to].service, svc_id) &&
		       bytes + FRAME_OVERHEAD + bt->recs[to].len <=
		           LIVE_MSG_MAX)
			bytes += FRAME_OVERHEAD + bt->recs[to++].len;
		struct service *svc =
		    services_get(b->services, svc_id->p, svc_id->len);
		if (svc == NULL) {
			broker_log(b, LOGBUS_ERROR, "live: out of memory");
			return;
		}
		publish_run(b, bt, from, to, svc,
		            journal_last_headers(b->journal));
		from = to;
	}
}
