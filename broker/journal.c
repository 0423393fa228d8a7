/*
 * journal.c: the broker's append-only journal (interface in journal.h).
 *
 * Owns the segment files under cfg->dir, every descriptor on them, the
 * in-memory index of each segment and the buffers reads and appends use.
 *
 * Invariants:
 *  - sequence numbers are strictly increasing: within a segment, across
 *    segments (sorted by first_seq; a segment's records all lie below the
 *    next segment's first_seq) and across restarts;
 *  - a batch (marker and records) is one writev sequence at the end of the
 *    active segment, never split across segments; append returns 0 only
 *    after write(2) took every byte, and a failed write is truncated back so
 *    that nothing of the batch stays and the sequence does not move;
 *  - only the active (newest) segment is written, truncated or fsync'ed;
 *    older segments are sealed and unchanged until retention unlinks them,
 *    oldest first, never the active one;
 *  - frame_check is the only judge of a frame; the ranges the index build
 *    found bad are kept per segment and every reader skips exactly those,
 *    so all readers serve the same records;
 *  - a record is acknowledged only after write(2) returned.
 *
 * Start-up reads every segment's header but scans (and checksums) only the
 * newest segment, and the one before it for the batch markers the ingest
 * dedup table needs; older segments are indexed on their first read.
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
 * Segment file "<first_seq as %016" PRIx64 ">.journal": a 64-byte header,
 * then frames (shared/frame.h) up to the end of the file.  The header,
 * little-endian:
 *
 *   offset  size  field
 *        0     8  magic "LOGBUSJ1"
 *        8     4  u32 version = 2 (1 had 32-byte record headers, no
 *                  comm: refused, never misread)
 *       12     4  u32 header_len = 64
 *       16    16  journal id (getrandom(2) when the journal was created)
 *       32     8  u64 first_seq: seq of the segment's first record
 *       40     8  i64 created_ns: CLOCK_REALTIME when the segment was made
 *       48    12  zero
 *       60     4  u32 CRC-32C of bytes 0..59
 *
 * A segment's first_seq is in its name and in its header and both must
 * agree; every segment carries the same journal id.
 */
#include "journal.h"
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "record.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

#define SEG_MAGIC     "LOGBUSJ1"
#define SEG_VERSION   2u /* 2: record body headers carry comm (48 bytes) */
#define SEG_HDR       64u
#define SEG_HDR_CRC   60u /* the checksum covers the bytes before it */
#define SEG_NAME_HEX  16u
#define SEG_SUFFIX    ".journal"
#define SEG_NAME_LEN  (SEG_NAME_HEX + sizeof(SEG_SUFFIX) - 1)
#define SEG_MODE      0640
#define DIR_MODE      0750
#define CP_EVERY      (64u * 1024u) /* file bytes between checkpoints */
#define READ_BUF_INIT (1024u * 1024u)
#define NS_PER_S      1000000000LL

/* Services as a 128-bit Bloom filter: each sets SVC_BLOOM_K bits. */
struct svc_bloom {
	uint64_t w[2];
};
#define SVC_BLOOM_K 3

/* A sparse index entry: the record with this seq starts at this offset;
 * svcs holds the services of the records from it to the next entry. */
struct checkpoint {
	uint64_t seq, off;
	struct svc_bloom svcs;
};

/* Bytes [off, end) of a segment that the index build judged bad. */
struct skip {
	uint64_t off, end;
};

struct segment {
	char *path;
	uint64_t first_seq;
	uint64_t last_seq;  /* first_seq - 1 while it holds no record */
	int64_t created_ns; /* from the header */
	int64_t mtime_ns;   /* at open: bounds the newest record of a sealed
	                       segment that is not indexed yet */
	int64_t newest_ns;  /* newest recv_ns, valid when indexed */
	uint64_t size;      /* file size */
	uint64_t end;       /* frames readers may serve end here */
	int indexed;
	struct checkpoint *cps;
	size_t ncps, cpcap;
	/* Blocks indexed without reading their services ("any" until a read
	 * that chooses by services learns them): a bit for each of the first
	 * blindbits checkpoints, and how many are set; NULL and 0 when none. */
	uint64_t *blindmap;
	size_t blindbits, blind;
	uint64_t next_cp; /* first file offset that gets a checkpoint next */
	struct skip *skips;
	size_t nskips, skipcap;
};

struct journal {
	struct journal_config cfg; /* cfg.dir points at dir */
	char *dir;
	int dirfd;
	unsigned char id[JOURNAL_ID_LEN];
	uint32_t max_body;

	struct segment *segs; /* oldest first; the last one is active */
	size_t nsegs, segcap;
	int afd;          /* active segment, O_APPEND */
	int rfd;          /* one sealed segment open for reading, or -1 */
	uint64_t rfd_seq; /* which one: its first_seq */

	uint64_t last_seq;
	int dirty;        /* written since the last fdatasync */
	int broken;       /* a failed append could not be truncated back */
	int dir_unsynced; /* a segment was created; a sync must cover it */

	unsigned char *buf; /* read buffer; callbacks see frames inside it */
	size_t bufcap;
	unsigned char *hdrs; /* append: frame headers of one batch */
	size_t hdrcap;
	struct iovec *iov;
	size_t iovcap;
	uint64_t *offs; /* reverse read: record offsets of one interval */
	size_t offcap;
	struct svc_bloom *want; /* a read's wanted services */
	size_t nwant, wantcap;

	uint64_t fsyncs, last_fsync_ns, segments_removed;
	int64_t last_fsync_at_ns;
};

/* Batch markers seen by a scan, for cfg->on_batch. */
struct batchvec {
	struct frame_batch *v;
	size_t n, cap;
};

/* One frame as frame_check judged it, p pointing into the read buffer. */
struct frame_view {
	enum frame_status st;
	int type;
	uint32_t total;
	const unsigned char *p;
};

/* A window of one segment file loaded into j->buf. */
struct walk {
	struct journal *j;
	int fd;
	const char *path;
	uint64_t end;  /* nothing at or past end is read */
	uint64_t boff; /* file offset of j->buf[0] */
	size_t blen;   /* bytes of j->buf holding file data */
};

/* Reader over the good frames of an indexed segment. */
struct iter {
	struct walk w;
	const struct segment *s;
	size_t k; /* next skip range */
	uint64_t off, end;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Room for need (>= 1) elements of elem bytes: the array, maybe moved, or
 * NULL with the old one intact. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return p;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / elem)
		return NULL;
	p = realloc(p, n * elem);
	if (p)
		*cap = n;
	return p;
}

static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r =
		    pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = write(fd, (const char *)buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

/* writev all of iov[0..cnt), at most IOV_MAX entries a call, resuming
 * after partial writes.  Consumes the iov array. */
static int writev_full(int fd, struct iovec *iov, size_t cnt)
{
	while (cnt > 0) {
		int c = cnt > IOV_MAX ? IOV_MAX : (int)cnt;
		ssize_t w = writev(fd, iov, c);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		size_t left = (size_t)w;
		while (cnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (left) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

/* --- segment headers and names ------------------------------------------ */

struct seg_header {
	unsigned char id[JOURNAL_ID_LEN];
	uint64_t first_seq;
	int64_t created_ns;
};

static void header_encode(unsigned char h[SEG_HDR], const struct seg_header *sh)
{
	memset(h, 0, SEG_HDR);
	memcpy(h, SEG_MAGIC, 8);
	le_put32(h + 8, SEG_VERSION);
	le_put32(h + 12, SEG_HDR);
	memcpy(h + 16, sh->id, JOURNAL_ID_LEN);
	le_put64(h + 32, sh->first_seq);
	le_put64(h + 40, (uint64_t)sh->created_ns);
	le_put32(h + SEG_HDR_CRC, crc32c(0, h, SEG_HDR_CRC));
}

/* NULL when h (len bytes) is a valid header, else what is wrong with it. */
static const char *header_decode(const unsigned char *h, size_t len,
                                 struct seg_header *sh)
{
	if (len < SEG_HDR)
		return "shorter than the 64-byte header";
	if (memcmp(h, SEG_MAGIC, 8) != 0)
		return "bad magic, not a logbus journal segment";
	if (crc32c(0, h, SEG_HDR_CRC) != le_get32(h + SEG_HDR_CRC))
		return "header checksum mismatch";
	if (le_get32(h + 8) == 1)
		return "segment version 1 (records without a process name), "
		       "which this logbusd no longer reads: move that journal "
		       "directory away to start a new journal";
	if (le_get32(h + 8) != SEG_VERSION)
		return "unsupported segment version (written by a newer "
		       "logbusd?)";
	if (le_get32(h + 12) != SEG_HDR)
		return "unsupported header length";
	memcpy(sh->id, h + 16, JOURNAL_ID_LEN);
	sh->first_seq = le_get64(h + 32);
	sh->created_ns = (int64_t)le_get64(h + 40);
	if (sh->first_seq == 0)
		return "first sequence number is 0";
	return NULL;
}

static char *seg_path(const char *dir, uint64_t first_seq)
{
	size_t n = strlen(dir) + 1 + SEG_NAME_LEN + 1;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%016" PRIx64 SEG_SUFFIX, dir, first_seq);
	return p;
}

/* Is name a segment file name?  Then *first_seq is the seq it names. */
static int seg_name_parse(const char *name, uint64_t *first_seq)
{
	if (strlen(name) != SEG_NAME_LEN ||
	    strcmp(name + SEG_NAME_HEX, SEG_SUFFIX) != 0)
		return 0;
	for (size_t i = 0; i < SEG_NAME_HEX; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return 0;
	*first_seq = strtoull(name, NULL, 16);
	return 1;
}

/* --- the segment table ---------------------------------------------------- */

static void seg_free(struct segment *s)
{
	free(s->path);
	free(s->cps);
	free(s->skips);
	free(s->blindmap);
}

/* Append an empty, unindexed entry for the segment starting at first_seq. */
static struct segment *seg_push(struct journal *j, uint64_t first_seq,
                                char *err, size_t errlen)
{
	struct segment *segs, *s;

	segs = grow(j->segs, &j->segcap, j->nsegs + 1, sizeof(*segs));
	if (!segs) {
		errf(err, errlen, "journal %s: out of memory", j->dir);
		return NULL;
	}
	j->segs = segs;
	s = &segs[j->nsegs];
	memset(s, 0, sizeof(*s));
	s->path = seg_path(j->dir, first_seq);
	if (!s->path) {
		errf(err, errlen, "journal %s: out of memory", j->dir);
		return NULL;
	}
	s->first_seq = first_seq;
	s->last_seq = first_seq - 1;
	j->nsegs++;
	return s;
}

static void seg_pop(struct journal *j)
{
	seg_free(&j->segs[--j->nsegs]);
}

static int seg_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* The segment that would hold seq: the last one whose first_seq is at most
 * seq, or 0 when seq is below them all. */
static size_t seg_find(const struct journal *j, uint64_t seq)
{
	size_t lo = 0, hi = j->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (j->segs[mid].first_seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

/* How many of s's checkpoints have a seq at most seq. */
static size_t cp_count_upto(const struct segment *s, uint64_t seq)
{
	size_t lo = 0, hi = s->ncps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->cps[mid].seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int seg_has_records(const struct segment *s)
{
	return s->last_seq >= s->first_seq;
}

static const struct svc_bloom svc_bloom_any = {{UINT64_MAX, UINT64_MAX}};

/* The bits of one service id: FNV-1a, then a finalizer to spread it. */
static struct svc_bloom svc_bloom_of(const char *svc, size_t len)
{
	struct svc_bloom b = {{0, 0}};
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)svc[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	for (int i = 0; i < SVC_BLOOM_K; i++) {
		unsigned bit = (unsigned)(h >> (7 * i)) & 127u;
		b.w[bit >> 6] |= 1ull << (bit & 63);
	}
	return b;
}

/* The bits of a stored record's service: "any" when it cannot be read. */
static struct svc_bloom svc_bloom_record(const char *data, uint32_t len)
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

/* Note a record at off, of the service whose bits are svc.  A checkpoint
 * goes at the first record at or after each CP_EVERY boundary; losing one
 * to ENOMEM only makes reads walk longer (the block before it then covers
 * the record), so it is not an error. */
static void seg_note_record(struct segment *s, uint64_t off, uint64_t seq,
                            int64_t recv_ns, const struct svc_bloom *svc)
{
	if (off >= s->next_cp) {
		struct checkpoint *cps =
		    grow(s->cps, &s->cpcap, s->ncps + 1, sizeof(*cps));
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

/* The descriptor to read segs[idx] through: the active one, or the single
 * cached descriptor of a sealed segment. */
static int seg_fd(struct journal *j, size_t idx, char *err, size_t errlen)
{
	const struct segment *s = &j->segs[idx];
	int fd;

	if (idx == j->nsegs - 1)
		return j->afd;
	if (j->rfd >= 0 && j->rfd_seq == s->first_seq)
		return j->rfd;
	if (j->rfd >= 0)
		close(j->rfd);
	j->rfd = -1;
	fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errf(err, errlen, "open %s: %s", s->path, strerror(errno));
		return -1;
	}
	j->rfd = fd;
	j->rfd_seq = s->first_seq;
	return fd;
}

/* --- reading frames ---------------------------------------------------------
 */

static void walk_init(struct walk *w, struct journal *j, int fd,
                      const char *path, uint64_t end)
{
	w->j = j;
	w->fd = fd;
	w->path = path;
	w->end = end;
	w->boff = 0;
	w->blen = 0;
}

static int buf_reserve(struct journal *j, size_t need, const char *path,
                       char *err, size_t errlen)
{
	unsigned char *b;

	if (need <= j->bufcap)
		return 0;
	b = realloc(j->buf, need);
	if (!b) {
		errf(err, errlen, "read %s: out of memory for %zu bytes", path,
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
	got = pread_full(w->fd, j->buf, want, off);
	if (got < 0) {
		errf(err, errlen, "read %s: %s", w->path, strerror(errno));
		return -1;
	}
	w->boff = off;
	w->blen = (size_t)got;
	return 0;
}

/* Judge the frame at off, loading the file as needed.  FRAME_SHORT means
 * the bytes from off to the walk's end do not hold the whole frame. */
static int walk_check(struct walk *w, uint64_t off, struct frame_view *f,
                      char *err, size_t errlen)
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

static uint64_t frame_seq(const unsigned char *frame)
{
	return le_get64(frame + FRAME_HDR + 16);
}

/* After a bad frame at bad: the next offset where frames are good again,
 * the first that frame_check accepts and, for a record, whose seq is above
 * last_seq.  *next = the walk's end when there is none. */
static int walk_resync(struct walk *w, uint64_t bad, uint64_t last_seq,
                       uint64_t *next, char *err, size_t errlen)
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

static void iter_init(struct iter *it, struct journal *j,
                      const struct segment *s, int fd, uint64_t from,
                      uint64_t end)
{
	walk_init(&it->w, j, fd, s->path, end);
	it->s = s;
	it->off = from;
	it->end = end;
	it->k = 0;
	while (it->k < s->nskips && s->skips[it->k].off < from)
		it->k++;
}

/* Go on from off, a frame boundary at or after the iterator's place. */
static void iter_seek(struct iter *it, uint64_t off)
{
	it->off = off;
	while (it->k < it->s->nskips && it->s->skips[it->k].off < off)
		it->k++;
}

/* The next record frame: 1 with f and *at set, 0 at the end, -1 on error.
 * Markers and unknown types are passed over, bad ranges skipped. */
static int iter_next_record(struct iter *it, struct frame_view *f, uint64_t *at,
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
			errf(err, errlen,
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

/* --- indexing (and recovery's scan) --------------------------------------- */

static int batchvec_push(struct batchvec *bv, const struct frame_batch *b)
{
	struct frame_batch *v = grow(bv->v, &bv->cap, bv->n + 1, sizeof(*v));

	if (!v)
		return -1;
	bv->v = v;
	bv->v[bv->n++] = *b;
	return 0;
}

static int skip_add(struct segment *s, uint64_t off, uint64_t end)
{
	struct skip *v = grow(s->skips, &s->skipcap, s->nskips + 1, sizeof(*v));

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
static int seg_index(struct journal *j, size_t idx, struct batchvec *bv,
                     uint64_t *bad, int svcs, char *err, size_t errlen)
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
	if (!svcs && s->ncps > 0) {
		/* Without the map the blocks just stay "any service". */
		size_t words = (s->ncps + 63) / 64;
		s->blindmap = malloc(words * sizeof(*s->blindmap));
		if (s->blindmap) {
			memset(s->blindmap, 0xff, words * sizeof(*s->blindmap));
			s->blindbits = s->blind = s->ncps;
		}
	}
	if (bad)
		*bad = nbad;
	return 0;
nomem:
	errf(err, errlen, "index %s: out of memory", s->path);
	return -1;
}

/* --- creating, syncing and retiring segments ------------------------------ */

static int dir_sync(struct journal *j, char *err, size_t errlen)
{
	if (fsync(j->dirfd) < 0) {
		errf(err, errlen, "fsync directory %s: %s", j->dir,
		     strerror(errno));
		return -1;
	}
	return 0;
}

/* Create the segment starting at first_seq and make it the active one. */
static int seg_create(struct journal *j, uint64_t first_seq, bool later,
                      char *err, size_t errlen)
{
	unsigned char h[SEG_HDR];
	struct seg_header sh;
	struct segment *s;
	int fd;

	s = seg_push(j, first_seq, err, errlen);
	if (!s)
		return -1;
	fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
	          SEG_MODE);
	if (fd < 0) {
		errf(err, errlen, "create %s: %s", s->path, strerror(errno));
		seg_pop(j);
		return -1;
	}
	memcpy(sh.id, j->id, JOURNAL_ID_LEN);
	sh.first_seq = first_seq;
	sh.created_ns = clock_ns(CLOCK_REALTIME);
	header_encode(h, &sh);
	if (write_full(fd, h, SEG_HDR) < 0) {
		errf(err, errlen, "write %s: %s", s->path, strerror(errno));
		goto fail;
	}
	/* At open the header and the directory entry are synced here.  A
	 * rotation (later) hands both to the syncer before any of the
	 * segment's data, so they become durable with its first sync, and a
	 * synchronous sync (CRITICAL) does both; until then a power loss
	 * leaves no segment, a short one or one whose header is zeros, and
	 * journal_load removes it. */
	int hfd = -1, dfd = -1;
	if (later && j->cfg.sync_async && (hfd = dup(fd)) >= 0 &&
	    (dfd = dup(j->dirfd)) >= 0) {
		j->cfg.sync_async(j->cfg.sync_arg, hfd, s->path);
		j->cfg.sync_async(j->cfg.sync_arg, dfd, j->dir);
		j->dir_unsynced = 1; /* until a synchronous sync */
	} else {
		if (hfd >= 0)
			close(hfd);
		if (fdatasync(fd) < 0) {
			errf(err, errlen, "fdatasync %s: %s", s->path,
			     strerror(errno));
			goto fail;
		}
		if (dir_sync(j, err, errlen))
			goto fail;
		j->dir_unsynced = 0;
	}
	s->created_ns = sh.created_ns;
	s->mtime_ns = sh.created_ns;
	s->size = s->end = SEG_HDR;
	s->indexed = 1;
	if (j->afd >= 0)
		close(j->afd);
	j->afd = fd;
	j->dirty = 0;
	return 0;
fail:
	close(fd);
	unlink(s->path);
	seg_pop(j);
	return -1;
}

static int active_sync(struct journal *j, char *err, size_t errlen)
{
	int64_t t0 = clock_ns(CLOCK_MONOTONIC);

	if (j->dir_unsynced) {
		if (dir_sync(j, err, errlen))
			return -1;
		j->dir_unsynced = 0;
	}
	if (fdatasync(j->afd) < 0) {
		errf(err, errlen, "fdatasync %s: %s",
		     j->segs[j->nsegs - 1].path, strerror(errno));
		return -1;
	}
	j->last_fsync_at_ns = clock_ns(CLOCK_MONOTONIC);
	j->last_fsync_ns = (uint64_t)(j->last_fsync_at_ns - t0);
	j->fsyncs++;
	j->dirty = 0;
	return 0;
}

/* Seal the active segment and start the next one. */
static int journal_rotate(struct journal *j, char *err, size_t errlen)
{
	if (j->dirty && j->cfg.sync_async)
		journal_sync_later(j);
	else if (j->dirty && active_sync(j, err, errlen))
		return -1;
	if (seg_create(j, j->last_seq + 1, true, err, errlen))
		return -1;
	if (j->cfg.on_segment)
		j->cfg.on_segment(j->cfg.arg, j->segs[j->nsegs - 1].path,
		                  j->segs[j->nsegs - 1].first_seq, 0);
	journal_retain(j);
	return 0;
}

/* The newest recv_ns in segs[i] (not the active one), or a bound above it:
 * a sealed segment that is not indexed was last written before its next
 * segment was made and before its mtime. */
static int64_t seg_newest_ns(const struct journal *j, size_t i)
{
	const struct segment *s = &j->segs[i];
	int64_t bound = j->segs[i + 1].created_ns;

	if (s->indexed && seg_has_records(s))
		return s->newest_ns;
	return s->mtime_ns < bound ? s->mtime_ns : bound;
}

static void seg_drop_oldest(struct journal *j)
{
	if (j->cfg.on_segment)
		j->cfg.on_segment(j->cfg.arg, j->segs[0].path,
		                  j->segs[0].first_seq, 1);
	if (j->rfd >= 0 && j->rfd_seq == j->segs[0].first_seq) {
		close(j->rfd);
		j->rfd = -1;
	}
	seg_free(&j->segs[0]);
	memmove(&j->segs[0], &j->segs[1], (j->nsegs - 1) * sizeof(j->segs[0]));
	j->nsegs--;
	j->segments_removed++;
}

void journal_set_limits(struct journal *j, uint64_t segment_bytes,
                        uint64_t max_total_bytes, uint64_t max_age_s)
{
	j->cfg.segment_bytes = segment_bytes;
	j->cfg.max_total_bytes = max_total_bytes;
	j->cfg.max_age_s = max_age_s;
	journal_retain(j);
}

/* max_total_bytes == 0 means no size limit, max_age_s == 0 no age limit. */
void journal_retain(struct journal *j)
{
	uint64_t total = 0, max = j->cfg.max_total_bytes;
	int64_t cutoff = INT64_MIN;

	for (size_t i = 0; i < j->nsegs; i++)
		total += j->segs[i].size;
	if (j->cfg.max_age_s && j->cfg.max_age_s < INT64_MAX / NS_PER_S)
		cutoff = clock_ns(CLOCK_REALTIME) -
		         (int64_t)j->cfg.max_age_s * NS_PER_S;
	while (j->nsegs > 1) {
		const struct segment *s = &j->segs[0];
		int over = max && total > max;
		int old = seg_newest_ns(j, 0) < cutoff;
		if (!over && !old)
			break;
		/* No way to report here: a segment we cannot unlink stays,
		 * and so do the newer ones, keeping the journal contiguous.
		 * Freeing its blocks can wait for the disk: the last close
		 * is left to release_async. */
		int keep = j->cfg.release_async
		               ? open(s->path, O_RDONLY | O_CLOEXEC)
		               : -1;
		if (unlink(s->path) < 0 && errno != ENOENT) {
			if (keep >= 0)
				close(keep);
			break;
		}
		total -= s->size;
		seg_drop_oldest(j);
		if (keep >= 0)
			j->cfg.release_async(j->cfg.sync_arg, keep);
	}
}

/* --- open ---------------------------------------------------------------- */

static int config_check(const struct journal_config *cfg, char *err,
                        size_t errlen)
{
	if (!cfg || !cfg->dir || !*cfg->dir) {
		errf(err, errlen, "journal: no directory configured");
		return -1;
	}
	if (cfg->segment_bytes == 0) {
		errf(err, errlen, "journal %s: segment_bytes must be above 0",
		     cfg->dir);
		return -1;
	}
	if (cfg->max_record == 0 ||
	    cfg->max_record > UINT32_MAX - FRAME_OVERHEAD) {
		errf(err, errlen,
		     "journal %s: max_record must be between 1 and %u",
		     cfg->dir, UINT32_MAX - FRAME_OVERHEAD);
		return -1;
	}
	return 0;
}

static void journal_free(struct journal *j)
{
	if (j->afd >= 0)
		close(j->afd);
	if (j->rfd >= 0)
		close(j->rfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	for (size_t i = 0; i < j->nsegs; i++)
		seg_free(&j->segs[i]);
	free(j->segs);
	free(j->buf);
	free(j->hdrs);
	free(j->iov);
	free(j->offs);
	free(j->want);
	free(j->dir);
	free(j);
}

static struct journal *journal_new(const struct journal_config *cfg, char *err,
                                   size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));

	if (!j) {
		errf(err, errlen, "journal %s: out of memory", cfg->dir);
		return NULL;
	}
	j->afd = j->rfd = j->dirfd = -1;
	j->cfg = *cfg;
	j->max_body = FRAME_BODY_HDR + cfg->max_record;
	j->dir = strdup(cfg->dir);
	j->buf = malloc(READ_BUF_INIT);
	if (!j->dir || !j->buf) {
		errf(err, errlen, "journal %s: out of memory", cfg->dir);
		journal_free(j);
		return NULL;
	}
	j->cfg.dir = j->dir;
	j->bufcap = READ_BUF_INIT;
	return j;
}

/* Find the segment files and sort them by first_seq. */
static int journal_list(struct journal *j, char *err, size_t errlen)
{
	DIR *d = opendir(j->dir);
	int rc = 0;

	if (!d) {
		errf(err, errlen, "open directory %s: %s", j->dir,
		     strerror(errno));
		return -1;
	}
	for (;;) {
		struct dirent *de;
		uint64_t seq;
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				errf(err, errlen, "read directory %s: %s",
				     j->dir, strerror(errno));
				rc = -1;
			}
			break;
		}
		if (seg_name_parse(de->d_name, &seq) &&
		    !seg_push(j, seq, err, errlen)) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	if (j->nsegs)
		qsort(j->segs, j->nsegs, sizeof(j->segs[0]), seg_cmp);
	return rc;
}

/* Read segs[i]'s header and size.  Returns 0, 1 when the header is bad
 * (*why says how), -1 with err set when the file cannot be read. */
static int seg_load_header(struct segment *s, struct seg_header *sh,
                           const char **why, char *err, size_t errlen)
{
	unsigned char h[SEG_HDR];
	struct stat st;
	ssize_t got;
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		errf(err, errlen, "open %s: %s", s->path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		errf(err, errlen, "stat %s: %s", s->path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errf(err, errlen, "%s: not a regular file", s->path);
		close(fd);
		return -1;
	}
	got = pread_full(fd, h, SEG_HDR, 0);
	if (got < 0) {
		errf(err, errlen, "read %s: %s", s->path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	s->size = s->end = (uint64_t)st.st_size;
	s->mtime_ns =
	    (int64_t)st.st_mtim.tv_sec * NS_PER_S + st.st_mtim.tv_nsec;
	*why = header_decode(h, (size_t)got, sh);
	return *why ? 1 : 0;
}

/* Whether the segment's header is all zeros: written, never synced, and
 * lost to a power cut while the file's size survived. */
static int seg_header_zero(const struct segment *s)
{
	unsigned char h[SEG_HDR];
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	ssize_t got = fd >= 0 ? pread_full(fd, h, SEG_HDR, 0) : -1;

	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)SEG_HDR)
		return 0;
	for (size_t i = 0; i < SEG_HDR; i++)
		if (h[i])
			return 0;
	return 1;
}

/* Check one header against the journal; newest says it sets the id. */
static int seg_accept_header(struct journal *j, struct segment *s,
                             const struct seg_header *sh, int newest, char *err,
                             size_t errlen)
{
	if (sh->first_seq != s->first_seq) {
		errf(err, errlen,
		     "bad segment header in %s: it says first sequence %" PRIu64
		     ", the file name says %" PRIu64,
		     s->path, sh->first_seq, s->first_seq);
		return -1;
	}
	if (newest)
		memcpy(j->id, sh->id, JOURNAL_ID_LEN);
	else if (memcmp(j->id, sh->id, JOURNAL_ID_LEN) != 0) {
		errf(err, errlen,
		     "%s belongs to another journal: its id differs from the "
		     "newest segment's",
		     s->path);
		return -1;
	}
	s->created_ns = sh->created_ns;
	return 0;
}

/*
 * Read every header, newest first (it holds the id all must carry).  A
 * newest segment shorter than a header, or whose header is zeros, was being
 * created when the broker died or the power went (nothing in it was ever
 * synced), and is removed (one of zeros renamed to <name>.torn);
 * *restart_seq is then its first_seq in case no segment is left.
 */
static int journal_load(struct journal *j, uint64_t *restart_seq, char *err,
                        size_t errlen)
{
	int removed = 0;

	for (size_t k = j->nsegs; k-- > 0;) {
		struct segment *s = &j->segs[k];
		struct seg_header sh;
		const char *why;
		int rc = seg_load_header(s, &sh, &why, err, errlen);
		if (rc < 0)
			return -1;
		if (rc && !removed && k == j->nsegs - 1 &&
		    (s->size < SEG_HDR || seg_header_zero(s))) {
			/* Nothing to lose in a short one; one of zeros is
			 * kept aside as <name>.torn, in case. */
			char aside[PATH_MAX];
			snprintf(aside, sizeof aside, "%s.torn", s->path);
			if (s->size < SEG_HDR ? unlink(s->path)
			                      : rename(s->path, aside)) {
				errf(err, errlen, "remove torn segment %s: %s",
				     s->path, strerror(errno));
				return -1;
			}
			*restart_seq = s->first_seq;
			seg_pop(j);
			removed = 1;
			if (dir_sync(j, err, errlen))
				return -1;
			continue;
		}
		if (rc) {
			errf(err, errlen, "bad segment header in %s: %s",
			     s->path, why);
			return -1;
		}
		if (seg_accept_header(j, s, &sh, k == j->nsegs - 1, err,
		                      errlen))
			return -1;
	}
	for (size_t k = 0; k + 1 < j->nsegs; k++)
		j->segs[k].last_seq = j->segs[k + 1].first_seq - 1;
	return 0;
}

static int make_id(unsigned char id[JOURNAL_ID_LEN], const char *dir, char *err,
                   size_t errlen)
{
	size_t got = 0;

	while (got < JOURNAL_ID_LEN) {
		ssize_t r = getrandom(id + got, JOURNAL_ID_LEN - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			errf(err, errlen, "journal %s: getrandom: %s", dir,
			     strerror(errno));
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Drop the newest segment's torn tail (and torn batch) from the file. */
static int seg_truncate_tail(struct journal *j, struct segment *s,
                             struct journal_recovery *rec, char *err,
                             size_t errlen)
{
	if (ftruncate(j->afd, (off_t)s->end) < 0) {
		errf(err, errlen, "truncate %s to %" PRIu64 " bytes: %s",
		     s->path, s->end, strerror(errno));
		return -1;
	}
	if (fdatasync(j->afd) < 0) {
		errf(err, errlen, "fdatasync %s: %s", s->path, strerror(errno));
		return -1;
	}
	rec->truncated_bytes = s->size - s->end;
	s->size = s->end;
	return 0;
}

static void replay_batches(const struct journal *j, const struct batchvec *bv)
{
	for (size_t i = 0; i < bv->n; i++)
		j->cfg.on_batch(j->cfg.arg, &bv->v[i]);
}

/*
 * Scan the newest segment: truncate its torn tail, recover the last seq,
 * and seal it when it holds a bad range (appends then go to a new segment;
 * when it holds no record there is no new name to give, so appends stay
 * in it).  Batch markers of the last two segments go to cfg->on_batch once
 * nothing can fail any more.
 */
static int journal_recover(struct journal *j, struct journal_recovery *rec,
                           char *err, size_t errlen)
{
	size_t last = j->nsegs - 1;
	struct batchvec prev = {0}, newest = {0};
	int want = j->cfg.on_batch != NULL, rc = -1;
	uint64_t bad = 0;
	struct segment *s = &j->segs[last];

	j->afd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (j->afd < 0) {
		errf(err, errlen, "open %s: %s", s->path, strerror(errno));
		return -1;
	}
	if (seg_index(j, last, want ? &newest : NULL, &bad, 0, err, errlen))
		goto out;
	if (s->end < s->size && seg_truncate_tail(j, s, rec, err, errlen))
		goto out;
	rec->corrupt_skipped = bad;
	j->last_seq = s->last_seq;
	if (last > 0 &&
	    seg_index(j, last - 1, want ? &prev : NULL, NULL, 0, err, errlen))
		goto out;
	if (bad && seg_has_records(s)) {
		if (seg_create(j, j->last_seq + 1, false, err, errlen))
			goto out;
		rec->sealed_corrupt = 1;
	}
	if (want) {
		replay_batches(j, &prev);
		replay_batches(j, &newest);
	}
	rc = 0;
out:
	free(prev.v);
	free(newest.v);
	return rc;
}

int journal_open(struct journal **out, const struct journal_config *cfg,
                 struct journal_recovery *rec, char *err, size_t errlen)
{
	struct journal_recovery ignored;
	uint64_t restart_seq = 1;
	struct journal *j;

	*out = NULL;
	if (!rec)
		rec = &ignored;
	memset(rec, 0, sizeof(*rec));
	if (config_check(cfg, err, errlen))
		return -1;
	j = journal_new(cfg, err, errlen);
	if (!j)
		return -1;
	if (paths_mkdir_p(j->dir, DIR_MODE) < 0) {
		errf(err, errlen, "mkdir %s: %s", j->dir, strerror(errno));
		goto fail;
	}
	j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		errf(err, errlen, "open directory %s: %s", j->dir,
		     strerror(errno));
		goto fail;
	}
	/* One writer per journal, whatever run directory it serves: held
	 * until the directory is closed. */
	if (flock(j->dirfd, LOCK_EX | LOCK_NB) < 0) {
		errf(err, errlen, "%s is in use by another logbusd%s", j->dir,
		     errno == EWOULDBLOCK ? "" : " (cannot lock it)");
		goto fail;
	}
	if (journal_list(j, err, errlen) ||
	    journal_load(j, &restart_seq, err, errlen))
		goto fail;
	if (j->nsegs == 0) {
		if (make_id(j->id, j->dir, err, errlen) ||
		    seg_create(j, restart_seq, false, err, errlen))
			goto fail;
		j->last_seq = restart_seq - 1;
	} else if (journal_recover(j, rec, err, errlen)) {
		goto fail;
	}
	*out = j;
	return 0;
fail:
	journal_free(j);
	return -1;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	/* Nobody to tell if this fails: journal_sync first to know. */
	if (j->dirty && j->afd >= 0)
		(void)fdatasync(j->afd);
	journal_free(j);
}

const unsigned char *journal_id(const struct journal *j)
{
	return j->id;
}

uint64_t journal_last_seq(const struct journal *j)
{
	return j->last_seq;
}

uint64_t journal_first_seq(const struct journal *j)
{
	for (size_t i = 0; i < j->nsegs; i++)
		if (seg_has_records(&j->segs[i]))
			return j->segs[i].first_seq;
	return j->last_seq + 1;
}

/* --- append ------------------------------------------------------------------
 */

static int append_check(const struct journal *j, const struct journal_rec *recs,
                        size_t n, char *err, size_t errlen)
{
	const char *path = j->segs[j->nsegs - 1].path;

	if (j->broken) {
		errf(err, errlen,
		     "append to %s: refused since a failed write could not be "
		     "truncated back; reopen the journal",
		     path);
		return -1;
	}
	if (n > UINT32_MAX) {
		errf(err, errlen,
		     "append to %s: batch of %zu records is too big", path, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (recs[i].len > j->cfg.max_record) {
			errf(err, errlen,
			     "append to %s: record %zu is %" PRIu32
			     " bytes, over max_record %" PRIu32,
			     path, i, recs[i].len, j->cfg.max_record);
			return -1;
		}
	}
	return 0;
}

/* Scratch for one batch's headers and iovecs, and room in the active
 * segment's index for the checkpoints it can add. */
static int append_reserve(struct journal *j, size_t n, uint64_t bytes)
{
	struct segment *s = &j->segs[j->nsegs - 1];
	size_t ncp = n < bytes / CP_EVERY + 2 ? n : bytes / CP_EVERY + 2;
	unsigned char *h;
	struct iovec *iov;
	struct checkpoint *cps;

	if (n + 1 > SIZE_MAX / FRAME_OVERHEAD)
		return -1;
	h = grow(j->hdrs, &j->hdrcap, (n + 1) * FRAME_OVERHEAD, 1);
	if (!h)
		return -1;
	j->hdrs = h;
	iov = grow(j->iov, &j->iovcap, 2 * n + 1, sizeof(*iov));
	if (!iov)
		return -1;
	j->iov = iov;
	cps = grow(s->cps, &s->cpcap, s->ncps + ncp, sizeof(*cps));
	if (!cps)
		return -1;
	s->cps = cps;
	return 0;
}

struct batch_args {
	uint64_t session, batch, seq0;
	const struct frame_record *stamp;
};

/* Encode the marker and the record headers into j->hdrs and j->iov. */
static void batch_build(struct journal *j, const struct batch_args *a,
                        const struct journal_rec *recs, size_t n)
{
	struct frame_batch b = {(uint32_t)n, a->session,    a->batch,
	                        a->seq0,     a->stamp->uid, true};
	unsigned char *h = j->hdrs;

	frame_batch_encode(h, &b);
	j->iov[0].iov_base = h;
	j->iov[0].iov_len = FRAME_OVERHEAD;
	for (size_t i = 0; i < n; i++) {
		struct frame_record r = *a->stamp;
		r.seq = a->seq0 + i;
		r.data = recs[i].data;
		r.len = recs[i].len;
		h += FRAME_OVERHEAD;
		frame_record_header(h, &r);
		j->iov[1 + 2 * i].iov_base = h;
		j->iov[1 + 2 * i].iov_len = FRAME_OVERHEAD;
		j->iov[2 + 2 * i].iov_base = (void *)recs[i].data;
		j->iov[2 + 2 * i].iov_len = recs[i].len;
	}
}

/* The write failed with werr: cut the segment back to its size before. */
static void append_undo(struct journal *j, int werr, char *err, size_t errlen)
{
	const struct segment *s = &j->segs[j->nsegs - 1];
	char why[128];

	snprintf(why, sizeof(why), "%s", strerror(werr));
	if (ftruncate(j->afd, (off_t)s->size) == 0) {
		errf(err, errlen, "write %s: %s", s->path, why);
		return;
	}
	j->broken = 1;
	errf(err, errlen,
	     "write %s: %s; truncating it back to %" PRIu64
	     " bytes failed too (%s): reopen the journal",
	     s->path, why, s->size, strerror(errno));
}

/* The batch is in the file: index its records. */
static void append_commit(struct journal *j, const struct batch_args *a,
                          const struct journal_rec *recs, size_t n)
{
	struct segment *s = &j->segs[j->nsegs - 1];
	uint64_t off = s->size + FRAME_OVERHEAD;

	/* A batch is mostly one service: hash each run of it once. */
	const char *run = NULL;
	size_t run_len = 0;
	struct svc_bloom svc = svc_bloom_any;

	for (size_t i = 0; i < n; i++) {
		if (recs[i].svc == NULL) {
			svc = svc_bloom_record(recs[i].data, recs[i].len);
			run = NULL;
		} else if (run == NULL || recs[i].svc_len != run_len ||
		           memcmp(recs[i].svc, run, run_len) != 0) {
			run = recs[i].svc;
			run_len = recs[i].svc_len;
			svc = svc_bloom_of(run, run_len);
		}
		seg_note_record(s, off, a->seq0 + i, a->stamp->recv_ns, &svc);
		off += FRAME_OVERHEAD + recs[i].len;
	}
	s->size = s->end = off;
	j->last_seq = a->seq0 + n - 1;
	j->dirty = 1;
}

int journal_append_batch(struct journal *j, uint64_t session, uint64_t batch,
                         const struct journal_rec *recs, size_t n,
                         const struct frame_record *stamp, uint64_t *first_seq,
                         char *err, size_t errlen)
{
	struct batch_args a = {
	    .session = session,
	    .batch = batch,
	    .seq0 = j->last_seq + 1,
	    .stamp = stamp,
	};
	const struct segment *s = &j->segs[j->nsegs - 1];
	uint64_t bytes = FRAME_OVERHEAD;

	if (append_check(j, recs, n, err, errlen))
		return -1;
	if (n == 0) {
		*first_seq = a.seq0; /* nothing to number, nothing to write */
		return 0;
	}
	if (s->size >= j->cfg.segment_bytes && seg_has_records(s) &&
	    journal_rotate(j, err, errlen))
		return -1;
	for (size_t i = 0; i < n; i++)
		bytes += FRAME_OVERHEAD + recs[i].len;
	if (append_reserve(j, n, bytes)) {
		errf(err, errlen, "append to %s: out of memory",
		     j->segs[j->nsegs - 1].path);
		return -1;
	}
	batch_build(j, &a, recs, n);
	if (writev_full(j->afd, j->iov, 2 * n + 1) < 0) {
		append_undo(j, errno, err, errlen);
		return -1;
	}
	append_commit(j, &a, recs, n);
	*first_seq = a.seq0;
	return 0;
}

const unsigned char *journal_last_headers(const struct journal *j)
{
	return j->hdrs + FRAME_OVERHEAD; /* after the batch marker */
}

int journal_sync(struct journal *j, char *err, size_t errlen)
{
	if (!j->dirty)
		return 0;
	return active_sync(j, err, errlen);
}

void journal_sync_later(struct journal *j)
{
	char err[256];

	if (!j->dirty || j->afd < 0)
		return;
	if (j->cfg.sync_async == NULL) {
		(void)active_sync(j, err, sizeof err);
		return;
	}
	int fd = dup(j->afd);
	if (fd < 0) {
		(void)active_sync(j, err, sizeof err);
		return;
	}
	j->dirty = 0;
	j->cfg.sync_async(j->cfg.sync_arg, fd, j->segs[j->nsegs - 1].path);
}

int journal_dirty(const struct journal *j)
{
	return j->dirty;
}

/* --- reads
 * ---------------------------------------------------------------------- */

static int seg_ensure_index(struct journal *j, size_t idx, char *err,
                            size_t errlen)
{
	if (j->segs[idx].indexed)
		return 0;
	return seg_index(j, idx, NULL, NULL, 1, err, errlen);
}

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

/* The wanted services' bits in j->want (j->nwant = 0: no choice to make).
 * Returns 0, or -1 with err set. */
static int want_load(struct journal *j, const struct journal_want *want,
                     char *err, size_t errlen)
{
	struct svc_bloom *w;

	j->nwant = 0;
	if (!want || want->nsvcs == 0 || want->nsvcs > JOURNAL_WANT_SVCS_MAX)
		return 0;
	w = grow(j->want, &j->wantcap, want->nsvcs, sizeof(*w));
	if (!w) {
		errf(err, errlen, "read %s: out of memory", j->dir);
		return -1;
	}
	j->want = w;
	for (size_t i = 0; i < want->nsvcs; i++)
		w[i] = svc_bloom_of(want->svcs[i].p, want->svcs[i].len);
	j->nwant = want->nsvcs;
	return 0;
}

/* Whether block b of segs[idx] (from checkpoint b to the next) may hold a
 * wanted record: 1 or 0, or -1 with err set.  Learning a blind block's
 * services reloads the read buffer: w (if set) then forgets its window. */
static int block_may(struct journal *j, size_t idx, size_t b, struct walk *w,
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

/* The seq of block b's last record. */
static uint64_t block_last_seq(const struct segment *s, size_t b)
{
	return b + 1 < s->ncps ? s->cps[b + 1].seq - 1 : s->last_seq;
}

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
		if (fw.stop)
			break;
	}
	return 0;
}

int journal_read(struct journal *j, uint64_t after, journal_read_cb cb,
                 void *arg, char *err, size_t errlen)
{
	return journal_read_want(j, after, NULL, cb, arg, err, errlen);
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
		    grow(j->offs, &j->offcap, n + 1, sizeof(*offs));
		if (!offs) {
			errf(err, errlen, "read %s: out of memory", s->path);
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

void journal_get_stats(const struct journal *j, struct journal_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->segments = j->nsegs;
	for (size_t i = 0; i < j->nsegs; i++)
		st->bytes += j->segs[i].size;
	st->first_seq = journal_first_seq(j);
	st->last_seq = j->last_seq;
	st->fsyncs = j->fsyncs;
	st->last_fsync_ns = j->last_fsync_ns;
	st->last_fsync_at_ns = j->last_fsync_at_ns;
	st->segments_removed = j->segments_removed;
}
