/*
 * journal_index.c: the in-memory index of each segment.
 *
 * Owns, per segment, the checkpoints, their service filters, the blind map
 * and the ranges a scan found bad; the index build (a scan of a whole
 * segment file, which start-up's recovery also relies on); and the choice
 * of which blocks a read that names services must read.
 *
 * The index: a checkpoint per CP_EVERY bytes of file, each with a Bloom
 * filter of the services of its block (its record up to the next
 * checkpoint's), filled by append and by the index build alike.  A filter
 * has no cap and no table of names to keep bounded: 32 bytes a checkpoint
 * (512 KiB per GiB of journal) whatever the services; a block of many
 * services only lets fewer reads pass over it.  A record whose service
 * cannot be read (not a record_decode one) makes its block "any service".
 * Start-up's scan does not read services (it would double its time): a read
 * that chooses blocks by services reads a block's when it first meets it.
 * Reads that name services pass over blocks that cannot hold them; every
 * block they do not pass over is read as before, so skipping changes which
 * records reach the caller's filter, never what it matches.
 *
 * Invariants:
 *  - checkpoints are in file order with increasing seqs, and a block's
 *    filter holds at least the bits of every record in it ("any" when in
 *    doubt): a filter may let a read in for nothing, never keep it out;
 *  - the bad ranges are the ones the scan found, and readers skip exactly
 *    those; a record out of order is judged bad, never indexed.
 */
#include "journal_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fnv1a.h"
#include "record.h"

const struct svc_bloom svc_bloom_any = {{UINT64_MAX, UINT64_MAX}};

/* The bits of one service id: FNV-1a, then a finalizer to spread it. */
struct svc_bloom svc_bloom_of(const char *svc, size_t len)
{
	struct svc_bloom b = {{0, 0}};
	uint64_t h = fnv1a64(svc, len);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	for (int i = 0; i < SVC_BLOOM_K; i++) {
		unsigned bit = (unsigned)(h >> (7 * i)) & 127u;
		b.w[bit >> 6] |= 1ull << (bit & 63);
	}
	return b;
}

struct svc_bloom svc_bloom_record(const char *data, uint32_t len)
{
	struct record_view v;

	if (record_peek(data, len, &v) < 0)
		return svc_bloom_any;
	return svc_bloom_of(v.service.p, v.service.len);
}

/* Whether a block of this filter may hold a record of a service whose bits
 * are want[0..n) (n = 0: any service is wanted). */
static int svc_bloom_may(const struct svc_bloom *blk,
                         const struct svc_bloom *want, size_t n)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if ((blk->w[0] & want[i].w[0]) == want[i].w[0] &&
		    (blk->w[1] & want[i].w[1]) == want[i].w[1])
			return 1;
	return 0;
}

/* --- checkpoints --------------------------------------------------------- */

/* Note a record at off, of the service whose bits are svc.  A checkpoint
 * goes at the first record at or after each CP_EVERY boundary; losing one
 * to ENOMEM only makes reads walk longer (the block before it then covers
 * the record), so it is not an error. */
void seg_note_record(struct segment *s, uint64_t off, uint64_t seq,
                     int64_t recv_ns, const struct svc_bloom *svc)
{
	if (off >= s->next_cp) {
		struct checkpoint *cps =
		    journal_grow(s->cps, &s->cpcap, s->ncps + 1, sizeof(*cps));
		if (cps) {
			s->cps = cps;
			s->cps[s->ncps].seq = seq;
			s->cps[s->ncps].off = off;
			s->cps[s->ncps].svcs = (struct svc_bloom){{0, 0}};
			s->ncps++;
			s->next_cp = (off / CP_EVERY + 1) * CP_EVERY;
		}
	}
	if (s->ncps) {
		struct svc_bloom *b = &s->cps[s->ncps - 1].svcs;
		b->w[0] |= svc->w[0];
		b->w[1] |= svc->w[1];
	}
	s->last_seq = seq;
	if (recv_ns > s->newest_ns)
		s->newest_ns = recv_ns;
}

static void seg_index_reset(struct segment *s)
{
	s->ncps = 0;
	s->nskips = 0;
	s->next_cp = 0;
	s->last_seq = s->first_seq - 1;
	s->newest_ns = 0;
	s->end = s->size;
	s->indexed = 0;
	free(s->blindmap);
	s->blindmap = NULL;
	s->blindbits = s->blind = 0;
}

size_t cp_count_upto(const struct segment *s, uint64_t seq)
{
	return journal_count_upto(s->cps, s->ncps, sizeof s->cps[0],
	                          offsetof(struct checkpoint, seq), seq);
}

/* --- the index build ----------------------------------------------------- */

static int batchvec_push(struct batchvec *bv, const struct frame_batch *b)
{
	struct frame_batch *v =
	    journal_grow(bv->v, &bv->cap, bv->n + 1, sizeof(*v));

	if (!v)
		return -1;
	bv->v = v;
	bv->v[bv->n++] = *b;
	return 0;
}

static int skip_add(struct segment *s, uint64_t off, uint64_t end)
{
	struct skip *v =
	    journal_grow(s->skips, &s->skipcap, s->nskips + 1, sizeof(*v));

	if (!v)
		return -1;
	s->skips = v;
	s->skips[s->nskips].off = off;
	s->skips[s->nskips].end = end;
	s->nskips++;
	return 0;
}

/* The index as it stood just before a batch marker, to drop a torn batch. */
struct mark {
	uint64_t off, left; /* records still expected; 0 = no batch open */
	uint64_t last_seq;
	int64_t newest_ns;
	size_t ncps, nbatches;
};

static void mark_open(struct mark *m, const struct segment *s, uint64_t off,
                      const struct frame_batch *b, size_t nbatches)
{
	m->off = off;
	m->left = b->count;
	m->last_seq = s->last_seq;
	m->newest_ns = s->newest_ns;
	m->ncps = s->ncps;
	m->nbatches = nbatches;
}

/* Forget a batch whose records the file ends before: it was never
 * acknowledged. */
static void mark_rollback(struct segment *s, const struct mark *m,
                          struct batchvec *bv)
{
	s->end = m->off;
	s->last_seq = m->last_seq;
	s->newest_ns = m->newest_ns;
	s->ncps = m->ncps;
	s->next_cp =
	    s->ncps ? (s->cps[s->ncps - 1].off / CP_EVERY + 1) * CP_EVERY : 0;
	if (bv)
		bv->n = m->nbatches;
}

/* Handle the good frame f at off during a scan; svcs says whether to read
 * the record's service or leave its block "any service". */
static int scan_frame(struct segment *s, const struct frame_view *f,
                      uint64_t off, struct mark *m, struct batchvec *bv,
                      int svcs)
{
	if (f->type == FRAME_RECORD) {
		struct frame_record r;
		frame_record_decode(f->p, &r);
		struct svc_bloom svc =
		    svcs ? svc_bloom_record(r.data, r.len) : svc_bloom_any;
		seg_note_record(s, off, r.seq, r.recv_ns, &svc);
		if (m->left)
			m->left--;
	} else if (f->type == FRAME_BATCH) {
		struct frame_batch b;
		frame_batch_decode(f->p, &b);
		mark_open(m, s, off, &b, bv ? bv->n : 0);
		if (bv && batchvec_push(bv, &b))
			return -1;
	}
	return 0;
}

/* Mark every block of s blind: a scan without svcs left it "any service",
 * and block_learn reads its services when a read first chooses by them. */
static void seg_blind_all(struct segment *s)
{
	size_t words = (s->ncps + 63) / 64;

	if (s->ncps == 0)
		return;
	/* Without the map the blocks just stay "any service". */
	s->blindmap = malloc(words * sizeof(*s->blindmap));
	if (s->blindmap) {
		memset(s->blindmap, 0xff, words * sizeof(*s->blindmap));
		s->blindbits = s->blind = s->ncps;
	}
}

/*
 * Walk and checksum every frame of segs[idx] up to its file size and build
 * its index.  A bad frame with good frames after it becomes a skip range
 * (counted in *bad); a bad or short frame with nothing good after it, and a
 * batch the file ends inside, end the frames readers may serve (s->end); the
 * caller decides whether to truncate the file there.  A "short" frame with
 * good frames after it is a flipped length field, not a torn tail: treating
 * it as the end would throw acknowledged records away.  Markers of the
 * served batches are added to bv when it is not NULL.  Without svcs the
 * blocks' services are left for block_learn (start-up does that: reading
 * every record's service would double its time).
 */
int seg_index(struct journal *j, size_t idx, struct batchvec *bv, uint64_t *bad,
              int svcs, char *err, size_t errlen)
{
	struct segment *s = &j->segs[idx];
	struct mark m = {0};
	struct walk w;
	uint64_t off = SEG_HDR, nbad = 0;
	int fd = seg_fd(j, idx, err, errlen);

	if (fd < 0)
		return -1;
	seg_index_reset(s);
	walk_init(&w, j, fd, s->path, s->size);
	while (off < s->size) {
		struct frame_view f;
		uint64_t next;
		if (walk_check(&w, off, &f, err, errlen))
			return -1;
		/* A record out of order is not one we wrote here. */
		if (f.st == FRAME_OK && f.type == FRAME_RECORD &&
		    frame_seq(f.p) <= s->last_seq)
			f.st = FRAME_CORRUPT;
		if (f.st == FRAME_OK) {
			if (scan_frame(s, &f, off, &m, bv, svcs))
				goto nomem;
			off += f.total;
			continue;
		}
		if (walk_resync(&w, off, s->last_seq, &next, err, errlen))
			return -1;
		if (next >= s->size)
			break; /* torn tail */
		if (skip_add(s, off, next))
			goto nomem;
		nbad++;
		m.left = 0; /* the batch's count says nothing any more */
		off = next;
	}
	s->end = off;
	if (m.left)
		mark_rollback(s, &m, bv);
	s->indexed = 1;
	if (!svcs)
		seg_blind_all(s);
	if (bad)
		*bad = nbad;
	return 0;
nomem:
	journal_errf(err, errlen, "index %s: out of memory", s->path);
	return -1;
}

int seg_ensure_index(struct journal *j, size_t idx, char *err, size_t errlen)
{
	uint64_t bad = 0;

	if (j->segs[idx].indexed)
		return 0;
	if (seg_index(j, idx, NULL, &bad, 1, err, errlen))
		return -1;
	seg_report(j, idx, bad);
	return 0;
}

bool seg_gap_after(const struct journal *j, size_t idx)
{
	return idx + 1 < j->nsegs && j->segs[idx].indexed &&
	       j->segs[idx].last_seq + 1 < j->segs[idx + 1].first_seq;
}

void seg_report(struct journal *j, size_t idx, uint64_t bad)
{
	struct segment *s = &j->segs[idx];

	if (s->reported)
		return;
	s->reported = 1;
	if (bad)
		journal_damage(j,
		               "journal: %" PRIu64 " corrupt frame%s in %s "
		               "skipped: the records in %s are lost",
		               bad, bad == 1 ? "" : "s", s->path,
		               bad == 1 ? "it" : "them");
	if (seg_gap_after(j, idx))
		journal_damage(j,
		               "journal: records %" PRIu64 "..%" PRIu64
		               " are missing between %s and %s (a segment "
		               "removed or set aside): a cursor among them is "
		               "told so",
		               s->last_seq + 1, j->segs[idx + 1].first_seq - 1,
		               s->path, j->segs[idx + 1].path);
}

int journal_gap(struct journal *j, uint64_t seq, uint64_t *last, char *err,
                size_t errlen)
{
	if (j->nsegs == 0 || seq < journal_first_seq(j) || seq > j->last_seq)
		return 0;
	size_t idx = seg_find(j, seq);
	if (seg_ensure_index(j, idx, err, errlen))
		return -1;
	if (!seg_gap_after(j, idx) || seq <= j->segs[idx].last_seq)
		return 0;
	*last = j->segs[idx + 1].first_seq - 1;
	return 1;
}

int journal_index_next(struct journal *j, char *err, size_t errlen)
{
	size_t idx = 0;

	while (idx < j->nsegs && j->segs[idx].indexed)
		idx++;
	if (idx == j->nsegs)
		return 0;
	if (seg_ensure_index(j, idx, err, errlen))
		return -1;
	while (idx < j->nsegs && j->segs[idx].indexed)
		idx++;
	return idx < j->nsegs;
}

/* --- blocks a read may pass over ----------------------------------------- */

/* Read the services of block b of segs[idx], which seg_index left blind.
 * Appends since then went to it as "any" when it was the last, so it is
 * read to its end.  Uses the read buffer. */
static int block_learn(struct journal *j, size_t idx, size_t b, char *err,
                       size_t errlen)
{
	struct segment *s = &j->segs[idx];
	struct svc_bloom acc = {{0, 0}};
	struct frame_view f;
	struct iter it;
	uint64_t at;
	int fd = seg_fd(j, idx, err, errlen), rc;

	if (fd < 0)
		return -1;
	iter_init(&it, j, s, fd, s->cps[b].off,
	          b + 1 < s->ncps ? s->cps[b + 1].off : s->end);
	while ((rc = iter_next_record(&it, &f, &at, err, errlen)) == 1) {
		struct frame_record r;
		struct svc_bloom svc;
		frame_record_decode(f.p, &r);
		svc = svc_bloom_record(r.data, r.len);
		acc.w[0] |= svc.w[0];
		acc.w[1] |= svc.w[1];
	}
	if (rc < 0)
		return -1;
	s->cps[b].svcs = acc;
	s->blindmap[b / 64] &= ~(1ull << (b % 64));
	if (--s->blind == 0) {
		free(s->blindmap);
		s->blindmap = NULL;
		s->blindbits = 0;
	}
	return 0;
}

int want_load(struct journal *j, const struct journal_want *want, char *err,
              size_t errlen)
{
	struct svc_bloom *w;

	j->nwant = 0;
	if (!want || want->nsvcs == 0 || want->nsvcs > JOURNAL_WANT_SVCS_MAX)
		return 0;
	w = journal_grow(j->want, &j->wantcap, want->nsvcs, sizeof(*w));
	if (!w) {
		journal_errf(err, errlen, "read %s: out of memory", j->dir);
		return -1;
	}
	j->want = w;
	for (size_t i = 0; i < want->nsvcs; i++)
		w[i] = svc_bloom_of(want->svcs[i].p, want->svcs[i].len);
	j->nwant = want->nsvcs;
	return 0;
}

int block_may(struct journal *j, size_t idx, size_t b, struct walk *w,
              char *err, size_t errlen)
{
	const struct segment *s = &j->segs[idx];

	if (j->nwant == 0)
		return 1;
	if (s->blindmap && b < s->blindbits &&
	    (s->blindmap[b / 64] >> (b % 64) & 1)) {
		if (w)
			w->blen = 0;
		if (block_learn(j, idx, b, err, errlen))
			return -1;
	}
	return svc_bloom_may(&s->cps[b].svcs, j->want, j->nwant);
}

uint64_t block_last_seq(const struct segment *s, size_t b)
{
	return b + 1 < s->ncps ? s->cps[b + 1].seq - 1 : s->last_seq;
}
