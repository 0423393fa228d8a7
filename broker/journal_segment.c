/*
 * journal_segment.c: one segment file of the journal, and the table of them.
 *
 * Owns the file format of a segment, its name, its header, and the making of
 * a new one; the table j->segs (sorted by first_seq, oldest first, the last
 * one active) and the one cached descriptor of a sealed segment.
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
 * Invariants:
 *  - a segment's first_seq is in its name and in its header and both must
 *    agree; every segment carries the same journal id;
 *  - a new segment is made with O_EXCL and its header written before it
 *    becomes the active one; its header and directory entry are durable no
 *    later than the first sync that covers its data.
 */
#include "journal_int.h"

#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crc32c.h"

#define SEG_MAGIC    "LOGBUSJ1"
#define SEG_VERSION  2u  /* 2: record body headers carry comm (48 bytes) */
#define SEG_HDR_CRC  60u /* the checksum covers the bytes before it */
#define SEG_NAME_HEX 16u
#define SEG_SUFFIX   ".journal"
#define SEG_NAME_LEN (SEG_NAME_HEX + sizeof(SEG_SUFFIX) - 1)
#define SEG_MODE     0640

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

ssize_t seg_pread(int fd, void *buf, size_t len, uint64_t off)
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

/* writev all of iov[0..cnt), at most IOV_MAX entries a call, resuming
 * after partial writes.  Consumes the iov array. */
int seg_writev(int fd, struct iovec *iov, size_t cnt)
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

/* --- headers and names --------------------------------------------------- */

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
/* Headers in a format this logbusd must not guess at: never "damage". */
static const char HDR_V1[] =
    "segment version 1 (records without a process name), which this "
    "logbusd no longer reads: move that journal directory away to start a "
    "new journal";
static const char HDR_NEWER[] =
    "unsupported segment version (written by a newer logbusd?)";

bool seg_header_damaged(const char *why)
{
	return why != HDR_V1 && why != HDR_NEWER;
}

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
		return HDR_V1;
	if (le_get32(h + 8) != SEG_VERSION)
		return HDR_NEWER;
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

int seg_name_parse(const char *name, uint64_t *first_seq)
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

int seg_load_header(struct segment *s, struct seg_header *sh, const char **why,
                    char *err, size_t errlen)
{
	unsigned char h[SEG_HDR];
	struct stat st;
	ssize_t got;
	int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		journal_errf(err, errlen, "open %s: %s", s->path,
		             strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		journal_errf(err, errlen, "stat %s: %s", s->path,
		             strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		journal_errf(err, errlen, "%s: not a regular file", s->path);
		close(fd);
		return -1;
	}
	got = seg_pread(fd, h, SEG_HDR, 0);
	if (got < 0) {
		journal_errf(err, errlen, "read %s: %s", s->path,
		             strerror(errno));
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

int seg_header_zero(const struct segment *s)
{
	unsigned char h[SEG_HDR];
	int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t got = fd >= 0 ? seg_pread(fd, h, SEG_HDR, 0) : -1;

	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)SEG_HDR)
		return 0;
	for (size_t i = 0; i < SEG_HDR; i++)
		if (h[i])
			return 0;
	return 1;
}

/* --- the segment table --------------------------------------------------- */

void seg_free(struct segment *s)
{
	free(s->path);
	free(s->cps);
	free(s->skips);
	free(s->blindmap);
}

struct segment *seg_push(struct journal *j, uint64_t first_seq, char *err,
                         size_t errlen)
{
	struct segment *segs, *s;

	segs = journal_grow(j->segs, &j->segcap, j->nsegs + 1, sizeof(*segs));
	if (!segs) {
		journal_errf(err, errlen, "journal %s: out of memory", j->dir);
		return NULL;
	}
	j->segs = segs;
	s = &segs[j->nsegs];
	memset(s, 0, sizeof(*s));
	s->path = seg_path(j->dir, first_seq);
	if (!s->path) {
		journal_errf(err, errlen, "journal %s: out of memory", j->dir);
		return NULL;
	}
	s->first_seq = first_seq;
	s->last_seq = first_seq - 1;
	j->nsegs++;
	return s;
}

void seg_pop(struct journal *j)
{
	seg_free(&j->segs[--j->nsegs]);
}

void seg_remove_at(struct journal *j, size_t idx)
{
	if (j->rfd >= 0 && j->rfd_seq == j->segs[idx].first_seq) {
		close(j->rfd);
		j->rfd = -1;
	}
	seg_free(&j->segs[idx]);
	memmove(&j->segs[idx], &j->segs[idx + 1],
	        (j->nsegs - idx - 1) * sizeof(j->segs[0]));
	j->nsegs--;
}

size_t seg_find(const struct journal *j, uint64_t seq)
{
	size_t n = journal_count_upto(j->segs, j->nsegs, sizeof j->segs[0],
	                              offsetof(struct segment, first_seq), seq);

	return n ? n - 1 : 0;
}

int seg_fd(struct journal *j, size_t idx, char *err, size_t errlen)
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
	fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		journal_errf(err, errlen, "open %s: %s", s->path,
		             strerror(errno));
		return -1;
	}
	j->rfd = fd;
	j->rfd_seq = s->first_seq;
	return fd;
}

/* --- making a segment ---------------------------------------------------- */

int journal_dir_sync(struct journal *j, char *err, size_t errlen)
{
	if (fsync(j->dirfd) < 0) {
		journal_errf(err, errlen, "fsync directory %s: %s", j->dir,
		             strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Make a new segment's header and directory entry durable.  At open they are
 * synced here.  A rotation (later) hands both to the syncer before any of
 * the segment's data, so they become durable with its first sync, and a
 * synchronous sync (CRITICAL) does both; until then a power loss leaves no
 * segment, a short one or one whose header is zeros, and journal_load
 * removes it.  The sessions file (journal_sessions.c) goes the same way.
 */
int journal_sync_new(struct journal *j, int fd, const char *path, bool later,
                     char *err, size_t errlen)
{
	int hfd = -1, dfd = -1;

	if (later && j->cfg.sync_async && (hfd = dup(fd)) >= 0 &&
	    (dfd = dup(j->dirfd)) >= 0) {
		j->cfg.sync_async(j->cfg.sync_arg, hfd, path);
		j->cfg.sync_async(j->cfg.sync_arg, dfd, j->dir);
		j->dir_unsynced = 1; /* until a synchronous sync */
	} else {
		if (hfd >= 0)
			close(hfd);
		if (fdatasync(fd) < 0) {
			journal_errf(err, errlen, "fdatasync %s: %s", path,
			             strerror(errno));
			return -1;
		}
		if (journal_dir_sync(j, err, errlen))
			return -1;
		j->dir_unsynced = 0;
	}
	return 0;
}

int seg_create(struct journal *j, uint64_t first_seq, bool later, char *err,
               size_t errlen)
{
	unsigned char h[SEG_HDR];
	struct seg_header sh;
	struct segment *s;
	int fd;

	s = seg_push(j, first_seq, err, errlen);
	if (!s)
		return -1;
	fd = open(s->path,
	          O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
	          SEG_MODE);
	if (fd < 0) {
		journal_errf(err, errlen, "create %s: %s", s->path,
		             strerror(errno));
		seg_pop(j);
		return -1;
	}
	if (later)
		FAULT_POINT("segment_rotate"); /* an empty newest segment */
	memcpy(sh.id, j->id, JOURNAL_ID_LEN);
	sh.first_seq = first_seq;
	sh.created_ns = journal_clock_ns(CLOCK_REALTIME);
	header_encode(h, &sh);
	if (seg_writev(fd, &(struct iovec){h, SEG_HDR}, 1) < 0) {
		journal_errf(err, errlen, "write %s: %s", s->path,
		             strerror(errno));
		goto fail;
	}
	if (journal_sync_new(j, fd, s->path, later, err, errlen))
		goto fail;
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
