/*
 * journal_int.h: what the parts of the journal share, and nothing the rest
 * of the broker may use (its API is journal.h).
 *
 * The parts, one concern each:
 *   journal.c          the struct, open and close, append, sync, rotation,
 *                      stats: the write path
 *   journal_segment.c  one segment file: its name, its 64-byte header,
 *                      creating it, a descriptor to read it; the table of
 *                      segments
 *   journal_walk.c     the frames of one segment file as frame_check judges
 *                      them: a window of the file in the read buffer, resync
 *                      after a bad frame, iteration over the good records
 *   journal_index.c    each segment's in-memory index: checkpoints, their
 *                      service filters, the bad ranges; building it by a scan
 *   journal_read.c     reads forward from a seq and backward from one
 *   journal_vacuum.c   retention by total size and by age
 *   journal_recover.c  start-up: listing and checking the segments, torn
 *                      segments and torn tails, replaying batch markers
 *   journal_sessions.c the sessions file: every publisher session's last
 *                      batch, saved so that retention cannot take it
 *
 * Every function here keeps the invariants journal.c states; each part's
 * first comment says which of them it is the one to keep.
 */
#ifndef LOGBUS_JOURNAL_INT_H
#define LOGBUS_JOURNAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "frame.h"
#include "journal.h"

#define SEG_HDR       64u           /* segment header bytes; frames follow */
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
	int reported;     /* its damage went to cfg.on_damage */
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
	int dirty;  /* written since the last fdatasync */
	int broken; /* a failed append could not be truncated back */
	int lost;   /* the active segment or the directory was removed */
	int64_t heal_at_ns,
	    heal_wait_ns; /* backoff of journal_heal, MONOTONIC */
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

	/* The sessions file (journal_sessions.c): whether one is on disk,
	 * the seq it covers through, and whether its last save failed. */
	bool sessions_saved, sessions_failing;
	uint64_t sessions_seq;
};

/* Batch markers seen by a scan, for cfg->on_batch. */
struct batchvec {
	struct frame_batch *v;
	size_t n, cap;
};

/* --- used by every part (journal.c, or inline here) ---------------------- */

void journal_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Room for need (>= 1) elements of elem bytes: the array, maybe moved, or
 * NULL with the old one intact. */
void *journal_grow(void *p, size_t *cap, size_t need, size_t elem);

/* How many of the n elements (elem bytes each) at base have a key at most
 * key, where the elements are sorted by the uint64_t key at key_off in
 * each: the binary search behind both seg_find and cp_count_upto. */
static inline size_t journal_count_upto(const void *base, size_t n, size_t elem,
                                        size_t key_off, uint64_t key)
{
	const unsigned char *b = base;
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k;
		memcpy(&k, b + mid * elem + key_off, sizeof k);
		if (k <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline int64_t journal_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static inline int seg_has_records(const struct segment *s)
{
	return s->last_seq >= s->first_seq;
}

/* The seq of the record frame at frame (frame_check accepted it). */
static inline uint64_t frame_seq(const unsigned char *frame)
{
	return le_get64(frame + FRAME_HDR + 16);
}

/* --- journal_segment.c --------------------------------------------------- */

/* What a segment's header holds besides its format. */
struct seg_header {
	unsigned char id[JOURNAL_ID_LEN];
	uint64_t first_seq;
	int64_t created_ns;
};

/* Is name a segment file name?  Then *first_seq is the seq it names. */
int seg_name_parse(const char *name, uint64_t *first_seq);
/* Read s's header and size.  Returns 0, 1 when the header is bad (*why says
 * how), -1 with err set when the file cannot be read. */
int seg_load_header(struct segment *s, struct seg_header *sh, const char **why,
                    char *err, size_t errlen);
/* Whether a bad header (why from seg_load_header) is damage to set aside,
 * rather than a format this logbusd must not guess at (a version). */
bool seg_header_damaged(const char *why);
/* Whether the segment's header is all zeros: written, never synced, and
 * lost to a power cut while the file's size survived. */
int seg_header_zero(const struct segment *s);
/* pread until len bytes or the end of the file: how many, or -1. */
ssize_t seg_pread(int fd, void *buf, size_t len, uint64_t off);
/* writev all of iov[0..cnt), resuming after partial writes: 0, or -1 with
 * errno set.  Consumes the iov array. */
int seg_writev(int fd, struct iovec *iov, size_t cnt);

/* Append an empty, unindexed entry for the segment starting at first_seq. */
struct segment *seg_push(struct journal *j, uint64_t first_seq, char *err,
                         size_t errlen);
void seg_pop(struct journal *j);
/* Drop segs[idx] from the table (its file is gone or set aside). */
void seg_remove_at(struct journal *j, size_t idx);
void seg_free(struct segment *s);
/* The segment that would hold seq: the last one whose first_seq is at most
 * seq, or 0 when seq is below them all. */
size_t seg_find(const struct journal *j, uint64_t seq);
/* The descriptor to read segs[idx] through: the active one, or the single
 * cached descriptor of a sealed segment. */
int seg_fd(struct journal *j, size_t idx, char *err, size_t errlen);

/* Create the segment starting at first_seq and make it the active one;
 * later: hand the syncs of its header and directory entry to the syncer. */
int seg_create(struct journal *j, uint64_t first_seq, bool later, char *err,
               size_t errlen);
int journal_dir_sync(struct journal *j, char *err, size_t errlen);
/* Make a new file's data (fd, which stays open) and its directory entry
 * durable: now, or (later) handed to cfg->sync_async when there is one. */
int journal_sync_new(struct journal *j, int fd, const char *path, bool later,
                     char *err, size_t errlen);

/* --- journal_walk.c ------------------------------------------------------ */

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

void walk_init(struct walk *w, struct journal *j, int fd, const char *path,
               uint64_t end);
/* Make j->buf hold at least need bytes. */
int buf_reserve(struct journal *j, size_t need, const char *path, char *err,
                size_t errlen);
/* Judge the frame at off, loading the file as needed.  FRAME_SHORT means
 * the bytes from off to the walk's end do not hold the whole frame. */
int walk_check(struct walk *w, uint64_t off, struct frame_view *f, char *err,
               size_t errlen);
/* After a bad frame at bad: the next offset where frames are good again,
 * the first that frame_check accepts and, for a record, whose seq is above
 * last_seq.  *next = the walk's end when there is none. */
int walk_resync(struct walk *w, uint64_t bad, uint64_t last_seq, uint64_t *next,
                char *err, size_t errlen);

void iter_init(struct iter *it, struct journal *j, const struct segment *s,
               int fd, uint64_t from, uint64_t end);
/* Go on from off, a frame boundary at or after the iterator's place. */
void iter_seek(struct iter *it, uint64_t off);
/* The next record frame: 1 with f and *at set, 0 at the end, -1 on error.
 * Markers and unknown types are passed over, bad ranges skipped. */
int iter_next_record(struct iter *it, struct frame_view *f, uint64_t *at,
                     char *err, size_t errlen);

/* --- journal_index.c ----------------------------------------------------- */

extern const struct svc_bloom svc_bloom_any;
/* The bits of one service id. */
struct svc_bloom svc_bloom_of(const char *svc, size_t len);
/* The bits of a stored record's service: "any" when it cannot be read. */
struct svc_bloom svc_bloom_record(const char *data, uint32_t len);

/* Note a record at off, of the service whose bits are svc. */
void seg_note_record(struct segment *s, uint64_t off, uint64_t seq,
                     int64_t recv_ns, const struct svc_bloom *svc);
/* How many of s's checkpoints have a seq at most seq. */
size_t cp_count_upto(const struct segment *s, uint64_t seq);

/* Build segs[idx]'s index by a scan of the whole file (see the function). */
int seg_index(struct journal *j, size_t idx, struct batchvec *bv, uint64_t *bad,
              int svcs, char *err, size_t errlen);
/* Index segs[idx], services included, if start-up left it unindexed. */
int seg_ensure_index(struct journal *j, size_t idx, char *err, size_t errlen);
/* Whether indexed segs[idx] and the next segment leave seqs between them. */
bool seg_gap_after(const struct journal *j, size_t idx);
/* Tell cfg.on_damage, once, what indexing segs[idx] found: bad frames
 * skipped, a gap after it. */
void seg_report(struct journal *j, size_t idx, uint64_t bad);
/* cfg.on_damage with a formatted sentence. */
void journal_damage(struct journal *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The wanted services' bits in j->want (j->nwant = 0: no choice to make).
 * Returns 0, or -1 with err set. */
int want_load(struct journal *j, const struct journal_want *want, char *err,
              size_t errlen);
/* Whether block b of segs[idx] (from checkpoint b to the next) may hold a
 * wanted record: 1 or 0, or -1 with err set.  Learning a blind block's
 * services reloads the read buffer: w (if set) then forgets its window. */
int block_may(struct journal *j, size_t idx, size_t b, struct walk *w,
              char *err, size_t errlen);
/* The seq of block b's last record. */
uint64_t block_last_seq(const struct segment *s, size_t b);

/* --- journal_recover.c --------------------------------------------------- */

/* Find the segment files and sort them by first_seq. */
int journal_list(struct journal *j, char *err, size_t errlen);
/* Read and check every segment's header (see the function). */
int journal_load(struct journal *j, uint64_t *restart_seq,
                 struct journal_recovery *rec, char *err, size_t errlen);
/* Scan the newest segment, make it active, replay batch markers. */
int journal_recover(struct journal *j, struct journal_recovery *rec, char *err,
                    size_t errlen);

/* --- journal_sessions.c -------------------------------------------------- */

/* Save every session's last batch (cfg->each_batch) as covering the
 * journal through last_seq.  0, or -1 (reported once to cfg->on_damage
 * until a save succeeds).  Nothing to do without each_batch. */
int journal_sessions_save(struct journal *j);
/* Retention is about to remove the segments through last_seq: save first
 * unless the file covers them. */
void journal_sessions_cover(struct journal *j, uint64_t last_seq);
/* The saved batches into bv (which the caller frees) and the seq they
 * cover through: 1; 0 when there is no usable file (a damaged one is
 * reported and ignored); -1 out of memory, with err set.  Call once
 * j->last_seq is known: batches above it are dropped. */
int journal_sessions_load(struct journal *j, struct batchvec *bv,
                          uint64_t *through, char *err, size_t errlen);

#endif
