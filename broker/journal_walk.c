/*
 * journal_walk.c: the frames of one segment file, read through the
 * journal's read buffer.
 *
 * A walk loads a window of the file into j->buf and judges the frame at an
 * offset with frame_check, loading more when a frame runs past the window;
 * an iterator walks an indexed segment's good record frames in order,
 * passing over the ranges its index found bad.
 *
 * Invariants:
 *  - frame_check is the only judge of a frame: the index build and every
 *    reader see a frame through walk_check, so all readers serve the same
 *    records;
 *  - nothing at or past a walk's end is read, and a frame handed out
 *    points into j->buf, valid until the next load.
 */
#include "journal_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void walk_init(struct walk *w, struct journal *j, int fd, const char *path,
               uint64_t end)
{
	w->j = j;
	w->fd = fd;
	w->path = path;
	w->end = end;
	w->boff = 0;
	w->blen = 0;
}

int buf_reserve(struct journal *j, size_t need, const char *path, char *err,
                size_t errlen)
{
	unsigned char *b;

	if (need <= j->bufcap)
		return 0;
	b = realloc(j->buf, need);
	if (!b) {
		journal_errf(err, errlen,
		             "read %s: out of memory for %zu bytes", path,
		             need);
		return -1;
	}
	j->buf = b;
	j->bufcap = need;
	return 0;
}

/* Load the file from off into the buffer, making it hold at least need. */
static int walk_fill(struct walk *w, uint64_t off, size_t need, char *err,
                     size_t errlen)
{
	struct journal *j = w->j;
	size_t want;
	ssize_t got;

	if (buf_reserve(j, need, w->path, err, errlen))
		return -1;
	want = j->bufcap;
	if (w->end - off < want)
		want = (size_t)(w->end - off);
	got = seg_pread(w->fd, j->buf, want, off);
	if (got < 0) {
		journal_errf(err, errlen, "read %s: %s", w->path,
		             strerror(errno));
		return -1;
	}
	w->boff = off;
	w->blen = (size_t)got;
	return 0;
}

int walk_check(struct walk *w, uint64_t off, struct frame_view *f, char *err,
               size_t errlen)
{
	int filled = 0;

	for (;;) {
		const unsigned char *p = w->j->buf;
		size_t avail = 0;

		if (off >= w->boff && off < w->boff + w->blen) {
			p += off - w->boff;
			avail = (size_t)(w->boff + w->blen - off);
		}
		f->p = p;
		f->st =
		    frame_check(p, avail, w->j->max_body, &f->type, &f->total);
		if (f->st != FRAME_SHORT || filled ||
		    (avail && w->boff + w->blen >= w->end))
			return 0;
		size_t need = FRAME_HDR;
		if (avail >= FRAME_HDR)
			need += le_get32(p); /* at most max_body: it passed */
		if (walk_fill(w, off, need, err, errlen))
			return -1;
		filled = 1;
	}
}

int walk_resync(struct walk *w, uint64_t bad, uint64_t last_seq, uint64_t *next,
                char *err, size_t errlen)
{
	for (uint64_t o = bad + 1; o < w->end; o++) {
		struct frame_view f;
		if (walk_check(w, o, &f, err, errlen))
			return -1;
		if (f.st == FRAME_OK &&
		    (f.type != FRAME_RECORD || frame_seq(f.p) > last_seq)) {
			*next = o;
			return 0;
		}
	}
	*next = w->end;
	return 0;
}

/* --- the good records of an indexed segment ------------------------------ */

void iter_init(struct iter *it, struct journal *j, const struct segment *s,
               int fd, uint64_t from, uint64_t end)
{
	walk_init(&it->w, j, fd, s->path, end);
	it->s = s;
	it->off = from;
	it->end = end;
	it->k = 0;
	while (it->k < s->nskips && s->skips[it->k].off < from)
		it->k++;
}

void iter_seek(struct iter *it, uint64_t off)
{
	it->off = off;
	while (it->k < it->s->nskips && it->s->skips[it->k].off < off)
		it->k++;
}

int iter_next_record(struct iter *it, struct frame_view *f, uint64_t *at,
                     char *err, size_t errlen)
{
	const struct segment *s = it->s;

	while (it->off < it->end) {
		if (it->k < s->nskips && s->skips[it->k].off == it->off) {
			it->off = s->skips[it->k++].end;
			continue;
		}
		if (walk_check(&it->w, it->off, f, err, errlen))
			return -1;
		if (f->st != FRAME_OK) {
			journal_errf(
			    err, errlen,
			    "read %s: bad frame at offset %" PRIu64
			    " that the index does not know: was the file "
			    "changed behind the journal?",
			    s->path, it->off);
			return -1;
		}
		*at = it->off;
		it->off += f->total;
		if (f->type == FRAME_RECORD)
			return 1;
	}
	return 0;
}
