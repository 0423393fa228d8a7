/*
 * journal_sessions.c: the journal's sessions file, the last batch of each
 * publisher session kept across retention.
 *
 * The ingest dedup table (broker/sessions.h) is rebuilt at start from batch
 * markers; a marker lives in the segment its batch was written to, and
 * retention removes segments.  A publisher whose batch was written just
 * before a crash, and that gets no connection until retention has removed
 * that segment, would have its resend written twice.  So at each rotation,
 * and before retention removes a segment the file does not cover yet, the
 * journal asks its owner for every session's last batch
 * (cfg->each_batch) and saves them here; at open they go to cfg->on_batch
 * first, and only the markers of the segments written since follow.
 *
 * Why a file beside the segments rather than markers carried into the next
 * segment: it needs no new frame type that every reader of segments would
 * have to pass over, a rotation writes the table once whatever its size,
 * and retention never removes it.
 *
 * File "sessions" in the journal directory: a 64-byte header, then count
 * batch marker frames exactly as segments hold them (shared/frame.h, each
 * with its own checksum), least recently used session first.  The header,
 * little-endian:
 *
 *   offset  size  field
 *        0     8  magic "LOGBUSS1"
 *        8     4  u32 version = 1
 *       12     4  u32 count
 *       16    16  journal id
 *       32     8  u64 through: every batch up to this seq is covered
 *       40    20  zero
 *       60     4  u32 CRC-32C of bytes 0..59
 *
 * Invariants:
 *  - the file is replaced whole (written to "sessions.tmp", then renamed
 *    over it), so a crash leaves the old file or the new one, never a mix;
 *  - a segment retention removes is covered by the file first (its last
 *    seq is at most through), or the failure to save was reported;
 *  - a file that is damaged, of another journal or of another version is
 *    ignored and reported: start-up then replays markers as without one.
 */
#include "journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"

#define SESS_FILE    "sessions"
#define SESS_TMP     SESS_FILE ".tmp"
#define SESS_MAGIC   "LOGBUSS1"
#define SESS_VERSION 1u
#define SESS_HDR     64u
#define SESS_HDR_CRC 60u
#define SESS_MODE    0640
/* Far above any table the broker keeps (sessions.h): more is damage. */
#define SESS_MAX (1u << 20)

/* The file being built: the header's room, then the markers. */
struct sess_buf {
	unsigned char *p;
	size_t len, cap;
	uint32_t count;
	bool oom;
};

static void sess_emit(void *ctx, const struct frame_batch *b)
{
	struct sess_buf *sb = ctx;
	unsigned char *p;

	if (sb->oom || sb->count >= SESS_MAX)
		return;
	p = journal_grow(sb->p, &sb->cap, sb->len + FRAME_OVERHEAD, 1);
	if (p == NULL) {
		sb->oom = true;
		return;
	}
	sb->p = p;
	frame_batch_encode(sb->p + sb->len, b);
	sb->len += FRAME_OVERHEAD;
	sb->count++;
}

static void sess_header(unsigned char h[SESS_HDR], const struct journal *j,
                        uint32_t count, uint64_t through)
{
	memset(h, 0, SESS_HDR);
	memcpy(h, SESS_MAGIC, 8);
	le_put32(h + 8, SESS_VERSION);
	le_put32(h + 12, count);
	memcpy(h + 16, j->id, JOURNAL_ID_LEN);
	le_put64(h + 32, through);
	le_put32(h + SESS_HDR_CRC, crc32c(0, h, SESS_HDR_CRC));
}

/* Write sb to SESS_TMP and rename it over SESS_FILE.  0, or -1 with err. */
static int sess_replace(struct journal *j, struct sess_buf *sb, char *err,
                        size_t errlen)
{
	int fd = openat(j->dirfd, SESS_TMP,
	                O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	                SESS_MODE);
	struct iovec iov = {sb->p, sb->len};
	int rc = -1;

	if (fd < 0) {
		journal_errf(err, errlen, "create %s/%s: %s", j->dir, SESS_TMP,
		             strerror(errno));
		return -1;
	}
	if (seg_writev(fd, &iov, 1) < 0) {
		journal_errf(err, errlen, "write %s/%s: %s", j->dir, SESS_TMP,
		             strerror(errno));
		goto out;
	}
	if (renameat(j->dirfd, SESS_TMP, j->dirfd, SESS_FILE) < 0) {
		journal_errf(err, errlen, "rename %s/%s to %s: %s", j->dir,
		             SESS_TMP, SESS_FILE, strerror(errno));
		goto out;
	}
	/* Durable with the journal's next sync, like a new segment: until
	 * then a power cut leaves the old file, or one that load ignores. */
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", j->dir, SESS_FILE);
	rc = journal_sync_new(j, fd, path, true, err, errlen);
out:
	close(fd);
	if (rc < 0)
		(void)unlinkat(j->dirfd, SESS_TMP, 0);
	return rc;
}

int journal_sessions_save(struct journal *j)
{
	struct sess_buf sb = {0};
	char err[512];
	int rc = -1;

	if (j->cfg.each_batch == NULL)
		return 0;
	sb.p = journal_grow(NULL, &sb.cap, SESS_HDR + 64 * FRAME_OVERHEAD, 1);
	if (sb.p == NULL) {
		journal_errf(err, sizeof err, "out of memory");
		goto out;
	}
	sb.len = SESS_HDR;
	j->cfg.each_batch(j->cfg.arg, sess_emit, &sb);
	if (sb.oom) {
		journal_errf(err, sizeof err, "out of memory");
		goto out;
	}
	sess_header(sb.p, j, sb.count, j->last_seq);
	if (sess_replace(j, &sb, err, sizeof err) < 0)
		goto out;
	j->sessions_saved = true;
	j->sessions_seq = j->last_seq;
	j->sessions_failing = false;
	rc = 0;
out:
	if (rc < 0 && !j->sessions_failing) {
		j->sessions_failing = true;
		journal_damage(j,
		               "journal: cannot save the publishers' last "
		               "batches in %s/%s: %s; a batch sent again after "
		               "a restart may be written twice if retention "
		               "removed its segment (tried again at each "
		               "rotation)",
		               j->dir, SESS_FILE, err);
	}
	free(sb.p);
	return rc;
}

void journal_sessions_cover(struct journal *j, uint64_t last_seq)
{
	if (j->cfg.each_batch != NULL &&
	    (!j->sessions_saved || j->sessions_seq < last_seq))
		(void)journal_sessions_save(j);
}

/* Why the file's bytes (len of them, header included) cannot be used, or
 * NULL; *through and *count are set when they can. */
static const char *sess_check(const struct journal *j, const unsigned char *p,
                              size_t len, uint64_t *through, uint32_t *count)
{
	if (len < SESS_HDR)
		return "shorter than its header";
	if (memcmp(p, SESS_MAGIC, 8) != 0)
		return "not a sessions file (bad magic)";
	if (le_get32(p + SESS_HDR_CRC) != crc32c(0, p, SESS_HDR_CRC))
		return "header checksum mismatch";
	if (le_get32(p + 8) != SESS_VERSION)
		return "unsupported version (written by a newer logbusd?)";
	if (memcmp(p + 16, j->id, JOURNAL_ID_LEN) != 0)
		return "it belongs to another journal";
	*count = le_get32(p + 12);
	*through = le_get64(p + 32);
	if (*count > SESS_MAX ||
	    len != SESS_HDR + (size_t)*count * FRAME_OVERHEAD)
		return "its size does not match its count";
	for (uint32_t i = 0; i < *count; i++) {
		const unsigned char *f =
		    p + SESS_HDR + (size_t)i * FRAME_OVERHEAD;
		uint32_t total;
		int type;
		if (frame_check(f, FRAME_OVERHEAD, FRAME_BODY_HDR, &type,
		                &total) != FRAME_OK ||
		    type != FRAME_BATCH)
			return "a batch marker in it is corrupt";
	}
	return NULL;
}

/* The whole file in a malloc'd buffer: 1 with *out and *len set, 0 when
 * there is none, -1 with err set. */
static int sess_read(struct journal *j, unsigned char **out, size_t *len,
                     char *err, size_t errlen)
{
	int fd = openat(j->dirfd, SESS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	unsigned char *p = NULL;
	ssize_t got;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		journal_errf(err, errlen, "open %s/%s: %s", j->dir, SESS_FILE,
		             strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size >
	    SESS_HDR + (uint64_t)SESS_MAX * FRAME_OVERHEAD) {
		journal_errf(err, errlen, "%s/%s: %lld bytes, too big", j->dir,
		             SESS_FILE, (long long)st.st_size);
		close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	p = malloc(*len ? *len : 1);
	if (p == NULL) {
		journal_errf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	got = seg_pread(fd, p, *len, 0);
	close(fd);
	if (got < 0) {
		journal_errf(err, errlen, "read %s/%s: %s", j->dir, SESS_FILE,
		             strerror(errno));
		free(p);
		return -1;
	}
	*len = (size_t)got;
	*out = p;
	return 1;
}

int journal_sessions_load(struct journal *j, struct batchvec *bv,
                          uint64_t *through, char *err, size_t errlen)
{
	unsigned char *p = NULL;
	size_t len = 0;
	uint32_t count = 0;
	const char *why;
	char what[512];
	int rc = sess_read(j, &p, &len, what, sizeof what);

	if (rc == 0)
		return 0;
	why = rc < 0 ? what : sess_check(j, p, len, through, &count);
	if (why != NULL) {
		journal_damage(j,
		               "journal: the sessions file %s/%s is ignored: "
		               "%s; the last batch of each publisher comes "
		               "from the newest segments' markers only, so a "
		               "batch sent again after its segment was removed "
		               "may be written twice",
		               j->dir, SESS_FILE, why);
		free(p);
		return 0;
	}
	bv->v = malloc((count ? count : 1) * sizeof *bv->v);
	if (bv->v == NULL) {
		journal_errf(err, errlen, "out of memory");
		free(p);
		return -1;
	}
	bv->cap = count;
	bv->n = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct frame_batch b;
		frame_batch_decode(p + SESS_HDR + (size_t)i * FRAME_OVERHEAD,
		                   &b);
		/* Not above what the journal holds (records a power cut took
		 * with the segment's unsynced tail): better written again
		 * than acknowledged and missing. */
		if (b.first_seq <= j->last_seq)
			bv->v[bv->n++] = b;
	}
	free(p);
	j->sessions_saved = true;
	j->sessions_seq = *through;
	return 1;
}
