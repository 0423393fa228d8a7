/*
 * journal_read.c: reads of the journal by sequence number, forward from a
 * seq and backward from one (journal_read*, journal_read_reverse*).
 *
 * Owns no state of its own: it walks the segments through their index
 * (journal_index.c) and their good frames (journal_walk.c), and hands each
 * record to the caller's callback in place in the read buffer, or decoded
 * (journal_read_records).
 *
 * Invariants:
 *  - a forward read yields seqs in increasing order, a reverse read in
 *    decreasing order, each record at most once, never one the index
 *    judged bad and never one past a segment's served end;
 *  - a block passed over because no wanted service can be in it is told to
 *    on_skip (forward reads), in order with the records, so that a paged
 *    reader knows how far it got.
 */
#include "journal_int.h"

#include <msgpack.h>

#include "record.h"

struct fwd {
	journal_read_cb cb;
	int (*on_skip)(void *arg, uint64_t last_seq);
	void *arg;
	uint64_t after;
	int stop;
};

/* Records of [it->off, it->end) with seq > after, in order. */
static int fwd_records(struct iter *it, struct fwd *fw, char *err,
                       size_t errlen)
{
	struct frame_view f;
	uint64_t at;
	int rc;

	while ((rc = iter_next_record(it, &f, &at, err, errlen)) == 1) {
		struct frame_record r;
		frame_record_decode(f.p, &r);
		if (r.seq <= fw->after)
			continue;
		if (fw->cb(fw->arg, &r, f.p, f.total)) {
			fw->stop = 1;
			return 0;
		}
	}
	return rc;
}

/* Records of segs[idx] with seq > after, in order, from the checkpoint
 * closest below after + 1, block by block: a block that holds no wanted
 * service is passed over unread (and told to on_skip). */
static int seg_read_forward(struct journal *j, size_t idx, struct fwd *fw,
                            char *err, size_t errlen)
{
	const struct segment *s = &j->segs[idx];
	struct iter it;
	uint64_t from = SEG_HDR;
	size_t c;
	int fd;

	if (s->last_seq <= fw->after)
		return 0;
	if (seg_ensure_index(j, idx, err, errlen))
		return -1;
	fd = seg_fd(j, idx, err, errlen);
	if (fd < 0)
		return -1;
	c = cp_count_upto(s, fw->after + 1);
	if (c)
		from = s->cps[c - 1].off;
	iter_init(&it, j, s, fd, from, s->end);
	/* Block b-1 runs from checkpoint b-1 (the header for b = 0, whose
	 * records no filter covers) to checkpoint b (the end of the frames). */
	for (size_t b = c;; b++) {
		int may =
		    b > 0 ? block_may(j, idx, b - 1, &it.w, err, errlen) : 1;
		if (may < 0)
			return -1;
		it.end = b < s->ncps ? s->cps[b].off : s->end;
		if (!may) {
			uint64_t last = block_last_seq(s, b - 1);
			iter_seek(&it, it.end);
			if (fw->on_skip && last > fw->after &&
			    fw->on_skip(fw->arg, last)) {
				fw->stop = 1;
				return 0;
			}
		} else if (fwd_records(&it, fw, err, errlen) < 0) {
			return -1;
		}
		if (fw->stop || b >= s->ncps)
			return 0;
	}
}

int journal_read_want(struct journal *j, uint64_t after,
                      const struct journal_want *want, journal_read_cb cb,
                      void *arg, char *err, size_t errlen)
{
	struct fwd fw = {cb, want ? want->on_skip : NULL, arg, after, 0};

	if (after >= j->last_seq)
		return 0;
	if (want_load(j, want, err, errlen))
		return -1;
	for (size_t i = seg_find(j, after + 1); i < j->nsegs; i++) {
		if (seg_read_forward(j, i, &fw, err, errlen))
			return -1;
		/* Never across a gap: the reader pages on to its first seq
		 * and journal_gap tells it what is missing. */
		if (fw.stop || seg_gap_after(j, i))
			break;
	}
	return 0;
}

int journal_read(struct journal *j, uint64_t after, journal_read_cb cb,
                 void *arg, char *err, size_t errlen)
{
	return journal_read_want(j, after, NULL, cb, arg, err, errlen);
}

struct decoded {
	journal_record_cb cb;
	void *arg;
	msgpack_zone zone;
};

static int decode_one(void *arg, const struct frame_record *fr,
                      const unsigned char *frame, uint32_t frame_len)
{
	struct decoded *d = arg;
	struct record_view v;
	struct record_error e;

	(void)frame;
	(void)frame_len;
	msgpack_zone_clear(&d->zone);
	if (record_decode(fr->data, fr->len, &d->zone, &v, &e) < 0)
		return d->cb(d->arg, fr, NULL);
	return d->cb(d->arg, fr, &v);
}

int journal_read_records(struct journal *j, uint64_t after,
                         journal_record_cb cb, void *arg, char *err,
                         size_t errlen)
{
	struct decoded d = {.cb = cb, .arg = arg};
	int rc;

	if (!msgpack_zone_init(&d.zone, 4096)) {
		journal_errf(err, errlen,
		             "read %s: out of memory to decode records",
		             j->dir);
		return -1;
	}
	rc = journal_read(j, after, decode_one, &d, err, errlen);
	msgpack_zone_destroy(&d.zone);
	return rc;
}

/* Records in [lo, hi) of segs[idx] with seq <= top, newest first.  The
 * whole interval is loaded at once, so every frame stays in the buffer. */
static int interval_reverse(struct journal *j, size_t idx, uint64_t lo,
                            uint64_t hi, uint64_t top, journal_read_cb cb,
                            void *arg, int *stop, char *err, size_t errlen)
{
	const struct segment *s = &j->segs[idx];
	struct frame_view f;
	struct iter it;
	uint64_t at;
	size_t n = 0;
	int fd, rc;

	if (hi <= lo)
		return 0;
	fd = seg_fd(j, idx, err, errlen);
	if (fd < 0 || buf_reserve(j, (size_t)(hi - lo), s->path, err, errlen))
		return -1;
	iter_init(&it, j, s, fd, lo, hi);
	while ((rc = iter_next_record(&it, &f, &at, err, errlen)) == 1) {
		if (frame_seq(f.p) > top)
			break;
		uint64_t *offs =
		    journal_grow(j->offs, &j->offcap, n + 1, sizeof(*offs));
		if (!offs) {
			journal_errf(err, errlen, "read %s: out of memory",
			             s->path);
			return -1;
		}
		j->offs = offs;
		j->offs[n++] = at;
	}
	if (rc < 0)
		return -1;
	while (n-- > 0) {
		const unsigned char *p = j->buf + (j->offs[n] - it.w.boff);
		struct frame_record r;
		frame_record_decode(p, &r);
		if (cb(arg, &r, p, le_get32(p) + FRAME_HDR)) {
			*stop = 1;
			return 0;
		}
	}
	return 0;
}

/* Records of segs[idx] with seq <= top, newest first, one checkpoint
 * interval at a time.  Interval k runs from checkpoint k-1 (the end of
 * the header for k = 0) to checkpoint k (the end of the frames). */
static int seg_read_reverse(struct journal *j, size_t idx, uint64_t top,
                            journal_read_cb cb, void *arg, int *stop, char *err,
                            size_t errlen)
{
	const struct segment *s = &j->segs[idx];
	size_t k;

	if (s->first_seq > top || !seg_has_records(s))
		return 0;
	if (seg_ensure_index(j, idx, err, errlen))
		return -1;
	for (k = cp_count_upto(s, top);; k--) {
		uint64_t lo = k ? s->cps[k - 1].off : SEG_HDR;
		uint64_t hi = k < s->ncps ? s->cps[k].off : s->end;
		int may = k ? block_may(j, idx, k - 1, NULL, err, errlen) : 1;
		if (may < 0 ||
		    (may && interval_reverse(j, idx, lo, hi, top, cb, arg, stop,
		                             err, errlen)))
			return -1;
		if (*stop || k == 0)
			return 0;
	}
}

int journal_read_reverse_want(struct journal *j, uint64_t before,
                              const struct journal_want *want,
                              journal_read_cb cb, void *arg, char *err,
                              size_t errlen)
{
	uint64_t top;

	if (before <= 1 || j->last_seq == 0)
		return 0;
	if (want_load(j, want, err, errlen))
		return -1;
	top = before - 1 < j->last_seq ? before - 1 : j->last_seq;
	for (size_t i = seg_find(j, top) + 1; i-- > 0;) {
		int stop = 0;
		if (seg_read_reverse(j, i, top, cb, arg, &stop, err, errlen))
			return -1;
		if (stop)
			break;
	}
	return 0;
}

int journal_read_reverse(struct journal *j, uint64_t before, journal_read_cb cb,
                         void *arg, char *err, size_t errlen)
{
	return journal_read_reverse_want(j, before, NULL, cb, arg, err, errlen);
}
