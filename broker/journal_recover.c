/*
 * journal_recover.c: what journal_open finds on disk, and what it repairs.
 *
 * Owns start-up's reading of the journal directory: listing the segment
 * files, checking every header against the newest one's journal id,
 * removing a newest segment that a crash or a power cut left without a
 * header, scanning the newest segment to truncate its torn tail and recover
 * the last seq, sealing it when it holds a bad range, and replaying the
 * sessions file (journal_sessions.c) and the batch markers written since
 * to cfg->on_batch.
 *
 * Start-up reads every segment's header but scans (and checksums) only the
 * newest segment, and the one before it for the batch markers the ingest
 * dedup table needs; older segments are indexed on their first read.
 *
 * Invariants:
 *  - a torn tail (a short frame, or a batch the file ends inside) is cut
 *    from the file and synced before anything is appended: it was never
 *    acknowledged and is never served;
 *  - a corrupt frame with valid frames after it is never truncated (that
 *    would throw acknowledged records away): readers skip it and appends
 *    go to a new segment;
 *  - a segment of another journal, or whose name and header disagree,
 *    fails the open instead of being guessed at.
 */
#include "journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int seg_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

int journal_list(struct journal *j, char *err, size_t errlen)
{
	DIR *d = opendir(j->dir);
	int rc = 0;

	if (!d) {
		journal_errf(err, errlen, "open directory %s: %s", j->dir,
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
				journal_errf(err, errlen,
				             "read directory %s: %s", j->dir,
				             strerror(errno));
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

/* Check one header against the journal; newest says it sets the id. */
static int seg_accept_header(struct journal *j, struct segment *s,
                             const struct seg_header *sh, int newest, char *err,
                             size_t errlen)
{
	if (sh->first_seq != s->first_seq) {
		journal_errf(
		    err, errlen,
		    "bad segment header in %s: it says first sequence %" PRIu64
		    ", the file name says %" PRIu64,
		    s->path, sh->first_seq, s->first_seq);
		return -1;
	}
	if (newest)
		memcpy(j->id, sh->id, JOURNAL_ID_LEN);
	else if (memcmp(j->id, sh->id, JOURNAL_ID_LEN) != 0) {
		journal_errf(
		    err, errlen,
		    "%s belongs to another journal: its id differs from the "
		    "newest segment's",
		    s->path);
		return -1;
	}
	s->created_ns = sh->created_ns;
	return 0;
}

/* Remove the newest segment s, which a crash or a power cut left without
 * a header.  Nothing to lose in a short one; one of zeros is kept aside as
 * <name>.torn, in case. */
static int seg_remove_torn(struct journal *j, struct segment *s, char *err,
                           size_t errlen)
{
	char aside[PATH_MAX];

	snprintf(aside, sizeof aside, "%s.torn", s->path);
	if (s->size < SEG_HDR ? unlink(s->path) : rename(s->path, aside)) {
		journal_errf(err, errlen, "remove torn segment %s: %s", s->path,
		             strerror(errno));
		return -1;
	}
	seg_pop(j);
	return journal_dir_sync(j, err, errlen);
}

/*
 * Set the segment with a damaged header aside as <name>.damaged: its
 * records are lost to readers (a gap, or expired when it was the oldest),
 * and the journal starts.  *restart_seq is raised above any seq it could
 * hold, so that no number it used is given again.
 */
static int seg_set_aside(struct journal *j, size_t k, const char *why,
                         uint64_t *restart_seq, struct journal_recovery *rec,
                         char *err, size_t errlen)
{
	struct segment *s = &j->segs[k];
	char aside[PATH_MAX];
	uint64_t frames =
	    s->size > SEG_HDR ? (s->size - SEG_HDR) / FRAME_OVERHEAD : 0;

	snprintf(aside, sizeof aside, "%s.damaged", s->path);
	if (rename(s->path, aside) < 0) {
		journal_errf(err, errlen,
		             "bad segment header in %s: %s; setting it aside "
		             "failed: %s",
		             s->path, why, strerror(errno));
		return -1;
	}
	journal_damage(j,
	               "journal: segment %s has a damaged header (%s): set "
	               "aside as %s; the records it held, from seq %" PRIu64
	               ", are lost",
	               s->path, why, aside, s->first_seq);
	if (s->first_seq + frames + 1 > *restart_seq)
		*restart_seq = s->first_seq + frames + 1;
	rec->damaged_segments++;
	seg_remove_at(j, k);
	return journal_dir_sync(j, err, errlen);
}

/*
 * Read every header, newest first (it holds the id all must carry).  A
 * newest segment shorter than a header, or whose header is zeros, was being
 * created when the broker died or the power went (nothing in it was ever
 * synced), and is removed (one of zeros renamed to <name>.torn);
 * *restart_seq is then its first_seq in case no segment is left.  Any other
 * damaged header is set aside (seg_set_aside); a format this logbusd does
 * not read fails the open.
 */
int journal_load(struct journal *j, uint64_t *restart_seq,
                 struct journal_recovery *rec, char *err, size_t errlen)
{
	size_t top = j->nsegs - 1; /* the newest file, the only torn one */

	for (size_t k = j->nsegs; k-- > 0;) {
		struct segment *s = &j->segs[k];
		struct seg_header sh;
		const char *why;
		int rc = seg_load_header(s, &sh, &why, err, errlen);
		if (rc < 0)
			return -1;
		if (rc && k == top &&
		    (s->size < SEG_HDR || seg_header_zero(s))) {
			*restart_seq = s->first_seq;
			if (seg_remove_torn(j, s, err, errlen))
				return -1;
			continue;
		}
		if (rc && seg_header_damaged(why)) {
			if (seg_set_aside(j, k, why, restart_seq, rec, err,
			                  errlen))
				return -1;
			continue;
		}
		if (rc) {
			journal_errf(err, errlen,
			             "bad segment header in %s: %s", s->path,
			             why);
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

/* Drop the newest segment's torn tail (and torn batch) from the file. */
static int seg_truncate_tail(struct journal *j, struct segment *s,
                             struct journal_recovery *rec, char *err,
                             size_t errlen)
{
	if (ftruncate(j->afd, (off_t)s->end) < 0) {
		journal_errf(err, errlen,
		             "truncate %s to %" PRIu64 " bytes: %s", s->path,
		             s->end, strerror(errno));
		return -1;
	}
	if (fdatasync(j->afd) < 0) {
		journal_errf(err, errlen, "fdatasync %s: %s", s->path,
		             strerror(errno));
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
 * in it).  Batch markers of the newest segments go to cfg->on_batch once
 * nothing can fail any more: of the two newest, and of older ones while
 * those read hold less than cfg->replay_bytes (a batch committed just
 * before a crash whose ack was lost may have had segments of other
 * batches written after it, and is sent again after the restart).  The
 * sessions file's batches go first, and then only the markers of segments
 * it does not cover (normally the newest alone).
 */
int journal_recover(struct journal *j, struct journal_recovery *rec, char *err,
                    size_t errlen)
{
	size_t last = j->nsegs - 1;
	struct batchvec *prev = NULL, newest = {0}, saved = {0};
	size_t nprev = 0;
	int want = j->cfg.on_batch != NULL, rc = -1, have_saved = 0;
	uint64_t through = 0;
	uint64_t bad = 0;
	struct segment *s = &j->segs[last];

	j->afd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (j->afd < 0) {
		journal_errf(err, errlen, "open %s: %s", s->path,
		             strerror(errno));
		return -1;
	}
	if (seg_index(j, last, want ? &newest : NULL, &bad, 0, err, errlen))
		goto out;
	if (s->end < s->size && seg_truncate_tail(j, s, rec, err, errlen))
		goto out;
	rec->corrupt_skipped = bad;
	j->last_seq = s->last_seq;
	if (want && (have_saved = journal_sessions_load(j, &saved, &through,
	                                                err, errlen)) < 0)
		goto out;
	/* prev[0] is the segment before the newest, prev[1] the one
	 * before that, ... */
	uint64_t bytes = s->size;
	for (size_t k = last; k > 0; k--) {
		uint64_t prev_bad = 0;
		if (k < last && (!want || bytes >= j->cfg.replay_bytes))
			break;
		struct batchvec *v = realloc(prev, (nprev + 1) * sizeof *prev);
		if (v == NULL) {
			journal_errf(err, errlen, "out of memory");
			goto out;
		}
		prev = v;
		memset(&prev[nprev], 0, sizeof prev[nprev]);
		nprev++;
		/* The sessions file holds what its markers said. */
		bool covered = have_saved && j->segs[k - 1].last_seq <= through;
		if (seg_index(j, k - 1,
		              want && !covered ? &prev[nprev - 1] : NULL,
		              &prev_bad, 0, err, errlen))
			goto out;
		seg_report(j, k - 1, prev_bad);
		bytes += j->segs[k - 1].size;
	}
	if (bad && seg_has_records(s)) {
		if (seg_create(j, j->last_seq + 1, false, err, errlen))
			goto out;
		rec->sealed_corrupt = 1;
	}
	if (want) {
		replay_batches(j, &saved);
		for (size_t k = nprev; k > 0; k--)
			replay_batches(j, &prev[k - 1]);
		replay_batches(j, &newest);
	}
	rc = 0;
out:
	for (size_t k = 0; k < nprev; k++)
		free(prev[k].v);
	free(prev);
	free(newest.v);
	free(saved.v);
	return rc;
}
