/*
 * journal_vacuum.c: retention, by the journal's total size and by the age
 * of its records (journal_retain, journal_set_limits), and the same on
 * request with other limits (journal_vacuum: logbusctl tail --vacuum-*).
 *
 * Owns the removal of segments: it unlinks the oldest ones while the
 * journal is over max_total_bytes or their newest record is older than
 * max_age_s, tells cfg->on_segment and leaves the last close of a removed
 * file to cfg->release_async when there is one.  Before a segment goes,
 * the sessions file (journal_sessions.c) is made to cover its batch
 * markers.
 *
 * Invariants:
 *  - segments go oldest first and never the active one, so the journal
 *    stays contiguous from its first kept seq to its last;
 *  - a segment goes only when its newest record (or a bound above it, for
 *    one not indexed yet) is past the age limit: never a record younger.
 */
#include "journal_int.h"

#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

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
	uint64_t max =
	    j->cfg.max_total_bytes ? j->cfg.max_total_bytes : UINT64_MAX;
	int64_t cutoff = INT64_MIN;

	if (j->cfg.max_age_s && j->cfg.max_age_s < INT64_MAX / NS_PER_S)
		cutoff = journal_clock_ns(CLOCK_REALTIME) -
		         (int64_t)j->cfg.max_age_s * NS_PER_S;
	journal_vacuum(j, max, cutoff, NULL, NULL);
}

size_t journal_vacuum(struct journal *j, uint64_t max_bytes, int64_t cutoff_ns,
                      void (*removed)(void *arg,
                                      const struct journal_removed *r),
                      void *arg)
{
	uint64_t total = 0;
	size_t n = 0;

	for (size_t i = 0; i < j->nsegs; i++)
		total += j->segs[i].size;
	while (j->nsegs > 1) {
		const struct segment *s = &j->segs[0];
		int over = total > max_bytes;
		int old = seg_newest_ns(j, 0) < cutoff_ns;
		if (!over && !old)
			break;
		/* Its batch markers go with it: the sessions file keeps the
		 * last batch of each session first. */
		journal_sessions_cover(j, j->segs[1].first_seq - 1);
		/* No way to report here: a segment we cannot unlink stays,
		 * and so do the newer ones, keeping the journal contiguous.
		 * Freeing its blocks can wait for the disk: the last close
		 * is left to release_async. */
		int keep =
		    j->cfg.release_async
		        ? open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
		        : -1;
		if (unlink(s->path) < 0 && errno != ENOENT) {
			if (keep >= 0)
				close(keep);
			break;
		}
		FAULT_POINT("retention"); /* unlinked, still in the table */
		total -= s->size;
		if (removed != NULL) {
			struct journal_removed r = {
			    .path = s->path,
			    .first_seq = s->first_seq,
			    .last_seq = j->segs[1].first_seq - 1,
			    .bytes = s->size,
			};
			removed(arg, &r);
		}
		n++;
		seg_drop_oldest(j);
		if (keep >= 0)
			j->cfg.release_async(j->cfg.sync_arg, keep);
	}
	return n;
}
