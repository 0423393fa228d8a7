/*
 * journal.c: the broker's append-only journal (interface in journal.h):
 * the struct, open and close, the write path (append, sync, rotation) and
 * the figures journal_get_stats reports.
 *
 * Owns struct journal: the segment files under cfg->dir, every descriptor
 * on them, the in-memory index of each segment and the buffers reads and
 * appends use.  The other parts (journal_int.h lists them) work on it for
 * the concern their file is named after.
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
 */
#include "journal_int.h"
#include "paths.h"

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
#include <unistd.h>

#define DIR_MODE 0750

void journal_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void *journal_grow(void *p, size_t *cap, size_t need, size_t elem)
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

/* --- open and close ------------------------------------------------------ */

static int config_check(const struct journal_config *cfg, char *err,
                        size_t errlen)
{
	if (!cfg || !cfg->dir || !*cfg->dir) {
		journal_errf(err, errlen, "journal: no directory configured");
		return -1;
	}
	if (cfg->segment_bytes == 0) {
		journal_errf(err, errlen,
		             "journal %s: segment_bytes must be above 0",
		             cfg->dir);
		return -1;
	}
	if (cfg->max_record == 0 ||
	    cfg->max_record > UINT32_MAX - FRAME_OVERHEAD) {
		journal_errf(err, errlen,
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
		journal_errf(err, errlen, "journal %s: out of memory",
		             cfg->dir);
		return NULL;
	}
	j->afd = j->rfd = j->dirfd = -1;
	j->cfg = *cfg;
	j->max_body = FRAME_BODY_HDR + cfg->max_record;
	j->dir = strdup(cfg->dir);
	j->buf = malloc(READ_BUF_INIT);
	if (!j->dir || !j->buf) {
		journal_errf(err, errlen, "journal %s: out of memory",
		             cfg->dir);
		journal_free(j);
		return NULL;
	}
	j->cfg.dir = j->dir;
	j->bufcap = READ_BUF_INIT;
	return j;
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
			journal_errf(err, errlen, "journal %s: getrandom: %s",
			             dir, strerror(errno));
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* Make the journal's directory if missing, open it, and take the lock
 * that makes this the journal's only writer. */
static int journal_lock_dir(struct journal *j, char *err, size_t errlen)
{
	if (paths_mkdir_p(j->dir, DIR_MODE) < 0) {
		journal_errf(err, errlen, "mkdir %s: %s", j->dir,
		             strerror(errno));
		return -1;
	}
	j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		journal_errf(err, errlen, "open directory %s: %s", j->dir,
		             strerror(errno));
		return -1;
	}
	/* One writer per journal, whatever run directory it serves: held
	 * until the directory is closed. */
	if (flock(j->dirfd, LOCK_EX | LOCK_NB) < 0) {
		journal_errf(err, errlen, "%s is in use by another logbusd%s",
		             j->dir,
		             errno == EWOULDBLOCK ? "" : " (cannot lock it)");
		return -1;
	}
	return 0;
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
	if (journal_lock_dir(j, err, errlen))
		goto fail;
	if (journal_list(j, err, errlen) ||
	    journal_load(j, &restart_seq, rec, err, errlen))
		goto fail;
	if (j->nsegs == 0) {
		if (make_id(j->id, j->dir, err, errlen) ||
		    seg_create(j, restart_seq, false, err, errlen))
			goto fail;
		j->last_seq = restart_seq - 1;
	} else if (journal_recover(j, rec, err, errlen)) {
		goto fail;
	} else if (restart_seq > j->last_seq + 1) {
		/* The newest segment was set aside: go on above any seq it
		 * could have used, and say what is missing. */
		size_t below = j->nsegs - 1;
		if (seg_create(j, restart_seq, false, err, errlen))
			goto fail;
		j->last_seq = restart_seq - 1;
		j->segs[below].reported = 0;
		seg_report(j, below, 0);
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

/* --- sync and rotation --------------------------------------------------- */

static int active_sync(struct journal *j, char *err, size_t errlen)
{
	int64_t t0 = journal_clock_ns(CLOCK_MONOTONIC);

	if (j->dir_unsynced) {
		if (journal_dir_sync(j, err, errlen))
			return -1;
		j->dir_unsynced = 0;
	}
	if (fdatasync(j->afd) < 0) {
		journal_errf(err, errlen, "fdatasync %s: %s",
		             j->segs[j->nsegs - 1].path, strerror(errno));
		return -1;
	}
	j->last_fsync_at_ns = journal_clock_ns(CLOCK_MONOTONIC);
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
	/* The sealed segments' markers, as the sessions table holds them,
	 * before retention can take one: a failure is reported there. */
	(void)journal_sessions_save(j);
	if (seg_create(j, j->last_seq + 1, true, err, errlen))
		return -1;
	if (j->cfg.on_segment)
		j->cfg.on_segment(j->cfg.arg, j->segs[j->nsegs - 1].path,
		                  j->segs[j->nsegs - 1].first_seq, 0);
	journal_retain(j);
	return 0;
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

/* --- append -------------------------------------------------------------- */

static int append_check(const struct journal *j, const struct journal_rec *recs,
                        size_t n, char *err, size_t errlen)
{
	const char *path = j->segs[j->nsegs - 1].path;

	if (n > UINT32_MAX) {
		journal_errf(err, errlen,
		             "append to %s: batch of %zu records is too big",
		             path, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (recs[i].len > j->cfg.max_record) {
			journal_errf(err, errlen,
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
	h = journal_grow(j->hdrs, &j->hdrcap, (n + 1) * FRAME_OVERHEAD, 1);
	if (!h)
		return -1;
	j->hdrs = h;
	iov = journal_grow(j->iov, &j->iovcap, 2 * n + 1, sizeof(*iov));
	if (!iov)
		return -1;
	j->iov = iov;
	cps = journal_grow(s->cps, &s->cpcap, s->ncps + ncp, sizeof(*cps));
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
	struct frame_batch b = {.count = (uint32_t)n,
	                        .session = a->session,
	                        .batch = a->batch,
	                        .first_seq = a->seq0,
	                        .uid = a->stamp->uid,
	                        .has_uid = true};
	unsigned char *h = j->hdrs;

	frame_batch_encode(h, &b);
	j->iov[0].iov_base = h;
	j->iov[0].iov_len = FRAME_OVERHEAD;
	for (size_t i = 0; i < n; i++) {
		struct frame_record r = *a->stamp;
		r.flags = recs[i].flags;
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
		journal_errf(err, errlen, "write %s: %s", s->path, why);
		return;
	}
	j->broken = 1;
	journal_errf(err, errlen,
	             "write %s: %s; truncating it back to %" PRIu64
	             " bytes failed too (%s): the next append starts a new "
	             "segment",
	             s->path, why, s->size, strerror(errno));
}

/* --- damage, and making the journal whole again -------------------------- */

#define HEAL_WAIT_MIN_NS (100 * 1000000LL)
#define HEAL_WAIT_MAX_NS (5 * NS_PER_S)

void journal_damage(struct journal *j, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	if (j->cfg.on_damage == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	j->cfg.on_damage(j->cfg.arg, what);
}

/* Whether the active segment or the directory went from under the journal
 * (rm -rf of the log directory, or the directory moved away). */
static bool journal_removed(const struct journal *j)
{
	struct stat a, d, p;

	if (fstat(j->afd, &a) == 0 && a.st_nlink == 0)
		return true;
	if (stat(j->dir, &p) < 0)
		return true;
	return fstat(j->dirfd, &d) == 0 &&
	       (d.st_ino != p.st_ino || d.st_dev != p.st_dev);
}

/* Drop the active segment from the table when it holds no record: the new
 * active segment needs its name. */
static int drop_empty_active(struct journal *j, char *err, size_t errlen)
{
	if (j->nsegs == 0 || seg_has_records(&j->segs[j->nsegs - 1]))
		return 0;
	size_t last = j->nsegs - 1;
	const struct segment *s = &j->segs[last];

	if (unlink(s->path) < 0 && errno != ENOENT) {
		journal_errf(err, errlen, "remove %s: %s", s->path,
		             strerror(errno));
		return -1;
	}
	seg_remove_at(j, last);
	return 0;
}

/*
 * Make a journal that lost its directory or could not undo a failed write
 * whole again: the directory made and locked anew (when it was removed),
 * the segments whose files are gone forgotten, and a new active segment at
 * last_seq + 1, with the same id.  Tried at most once per backoff (100 ms,
 * doubling up to 5 s) while it fails.  On success err says what was done.
 */
static int journal_heal(struct journal *j, char *err, size_t errlen)
{
	int64_t now = journal_clock_ns(CLOCK_MONOTONIC);
	char old[PATH_MAX];
	bool lost = j->lost;

	if (now < j->heal_at_ns) {
		journal_errf(err, errlen,
		             "journal %s: appends refused until it can be made "
		             "whole again (next try in %" PRId64 " ms)",
		             j->dir, (j->heal_at_ns - now) / 1000000);
		return -1;
	}
	snprintf(old, sizeof old, "%s", j->segs[j->nsegs - 1].path);
	if (j->dirty && !lost)
		(void)fdatasync(j->afd);
	if (lost) {
		if (j->dirfd >= 0)
			close(j->dirfd);
		j->dirfd = -1;
		if (journal_lock_dir(j, err, errlen))
			goto wait;
		for (size_t i = j->nsegs; i-- > 0;)
			if (access(j->segs[i].path, F_OK) < 0 &&
			    errno == ENOENT)
				seg_remove_at(j, i);
	}
	if (drop_empty_active(j, err, errlen) ||
	    seg_create(j, j->last_seq + 1, false, err, errlen))
		goto wait;
	if (lost) /* the sessions file went with the directory */
		j->sessions_saved = false;
	j->broken = j->lost = 0;
	j->heal_wait_ns = j->heal_at_ns = 0;
	j->dirty = 0;
	if (lost)
		journal_errf(
		    err, errlen,
		    "journal: %s was removed while logbusd ran (the log "
		    "directory deleted?): the records it held are gone; "
		    "made the journal again, appends go on from seq "
		    "%" PRIu64 " in %s",
		    old, j->last_seq + 1, j->segs[j->nsegs - 1].path);
	else
		journal_errf(err, errlen,
		             "journal: %s could not be cut back after a failed "
		             "write; appends go on from seq %" PRIu64 " in %s",
		             old, j->last_seq + 1, j->segs[j->nsegs - 1].path);
	journal_damage(j, "%s", err);
	return 0;
wait:
	j->heal_wait_ns = j->heal_wait_ns == 0 ? HEAL_WAIT_MIN_NS
	                  : j->heal_wait_ns >= HEAL_WAIT_MAX_NS / 2
	                      ? HEAL_WAIT_MAX_NS
	                      : 2 * j->heal_wait_ns;
	j->heal_at_ns = now + j->heal_wait_ns;
	return -1;
}

int journal_check(struct journal *j, char *err, size_t errlen)
{
	if (!j->broken && !j->lost && journal_removed(j))
		j->lost = 1;
	if (!j->broken && !j->lost)
		return 0;
	return journal_heal(j, err, errlen) < 0 ? -1 : 1;
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

	if ((j->broken || j->lost) && journal_heal(j, err, errlen))
		return -1;
	a.seq0 = j->last_seq + 1;
	s = &j->segs[j->nsegs - 1];
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
		journal_errf(err, errlen, "append to %s: out of memory",
		             j->segs[j->nsegs - 1].path);
		return -1;
	}
	batch_build(j, &a, recs, n);
	if (seg_writev(j->afd, j->iov, 2 * n + 1) < 0) {
		append_undo(j, errno, err, errlen);
		return -1;
	}
	/* Written into a file nobody can open again: not acknowledged. */
	struct stat st;
	if (fstat(j->afd, &st) == 0 && st.st_nlink == 0) {
		j->lost = 1;
		journal_errf(
		    err, errlen,
		    "journal: %s was removed while logbusd ran (the log "
		    "directory deleted?): this batch is not kept; the "
		    "journal is made again at the next append",
		    j->segs[j->nsegs - 1].path);
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
