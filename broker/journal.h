/*
 * journal.h: the broker's append-only store, the truth every reader and every
 * derived file comes from.
 *
 * Invariants:
 *  - sequence numbers are strictly increasing, across segments and restarts;
 *  - a batch is appended by one write(2) of its marker and its records; when
 *    journal_append_batch returns 0 the bytes are in the kernel (a broker
 *    crash cannot lose them); journal_sync makes them survive power loss;
 *  - a torn tail (short frame, or a batch with fewer records than its marker
 *    says) is truncated at open and never served; a corrupt frame with valid
 *    frames after it is skipped by every reader, and appends go to a new
 *    segment;
 *  - the journal id (16 random bytes, made when the journal is created) is in
 *    every segment's header; cursors name it;
 *  - one journal has one writer: journal_open takes an exclusive flock(2) on
 *    the directory and fails while another process holds it.
 *
 * On disk, under cfg->dir: one file per segment, "<first seq, 16 hex>.journal",
 * each a 64-byte header then frames (shared/frame.h).
 *
 * In memory, per segment: a checkpoint every 64 KiB of file (the first
 * record at or after each boundary) with a 128-bit Bloom filter of the
 * services of the records from it to the next checkpoint, 32 bytes in all.
 * A read that names the services it wants (struct journal_want) passes over
 * the blocks whose filter rules them all out, unread.
 */
#ifndef LOGBUS_JOURNAL_H
#define LOGBUS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define JOURNAL_ID_LEN 16

struct journal;

struct journal_config {
	const char *dir;          /* created if missing (mode 0750) */
	uint64_t segment_bytes;   /* rotate once a segment reaches this */
	uint64_t max_total_bytes; /* retention: drop oldest segments above */
	uint64_t max_age_s;       /* retention by age, 0 = off */
	uint32_t max_record;      /* largest record body accepted from disk */
	/* Called at open for every batch marker in the newest segments, oldest
	 * first, so that the ingest dedup table survives a restart. */
	void (*on_batch)(void *arg, const struct frame_batch *b);
	/* ... from the newest segments that hold at least this many bytes,
	 * and at least the two newest (0: the two newest only); with a
	 * sessions file (each_batch), only from the segments written since
	 * it was saved, within the same bound. */
	uint64_t replay_bytes;
	/* If set, asked (with arg) for the last batch of every publisher
	 * session the caller remembers, each through emit(ctx, b), least
	 * recently used first.  The journal saves them in its sessions file
	 * (journal_sessions.c) at each rotation and before retention removes
	 * a segment the file does not cover, and hands them to on_batch at
	 * open ahead of the newer markers: a batch sent again after a
	 * restart is known even when its marker's segment is gone. */
	void (*each_batch)(void *arg,
	                   void (*emit)(void *ctx, const struct frame_batch *b),
	                   void *ctx);
	void *arg;
	/* If set, the periodic sync (journal_sync_later) and the sync of a
	 * segment sealed by rotation are handed over as a dup()ed descriptor
	 * that sync_async fdatasyncs and closes elsewhere (broker/syncer.c),
	 * so that appends never wait for the disk. */
	void (*sync_async)(void *sync_arg, int fd, const char *path);
	void *sync_arg;
	/* If set, the last descriptor of a segment retention removed is
	 * closed there (with sync_arg): freeing a large file's blocks can
	 * wait for the disk. */
	void (*release_async)(void *sync_arg, int fd);
	/* If set, told of each segment started by rotation (removed = 0) and
	 * each one retention removed (removed = 1), with arg. */
	void (*on_segment)(void *arg, const char *path, uint64_t first_seq,
	                   int removed);
	/* If set, told once, with arg, of each damage found and what was done
	 * about it, in a sentence: a segment set aside for a damaged header,
	 * corrupt frames skipped in a sealed segment, a gap between segments
	 * (one removed or set aside), the directory or the active segment
	 * removed while open. */
	void (*on_damage)(void *arg, const char *what);
};

/* What open found and did, for the broker's start-up log line. */
struct journal_recovery {
	uint64_t truncated_bytes; /* torn tail removed */
	uint64_t corrupt_skipped; /* corrupt frames that readers will skip */
	int sealed_corrupt;       /* the last segment had corruption: sealed */
	uint64_t
	    damaged_segments; /* headers damaged: set aside, <name>.damaged */
};

int journal_open(struct journal **out, const struct journal_config *cfg,
                 struct journal_recovery *rec, char *err, size_t errlen);
void journal_close(struct journal *j);

const unsigned char *journal_id(const struct journal *j);
uint64_t journal_last_seq(const struct journal *j);  /* 0 when empty */
uint64_t journal_first_seq(const struct journal *j); /* oldest kept; last+1
                                                         when empty */

struct journal_rec {
	const char *data; /* client's msgpack record */
	uint32_t len;
	/* Its service id when the caller decoded it already; NULL: the
	 * journal reads it from data. */
	const char *svc;
	uint32_t svc_len;
	uint8_t flags; /* FRAME_REC_* (frame.h): the broker's word on it */
};

/*
 * Append one batch: a marker (session, batch, count) and n records that get
 * consecutive sequence numbers starting at *first_seq, each stamped with
 * stamp's trusted fields (pid, uid, gid, comm) and recv_ns, and its own
 * flags.  Rotates first when
 * the segment is full.  On error nothing of the batch stays in the journal (a
 * short write is truncated back) and err says why (disk full, ...).
 */
int journal_append_batch(struct journal *j, uint64_t session, uint64_t batch,
                         const struct journal_rec *recs, size_t n,
                         const struct frame_record *stamp, uint64_t *first_seq,
                         char *err, size_t errlen);

/* The frame headers (FRAME_OVERHEAD bytes each, CRC included) of the last
 * appended batch's records, in order: valid until the next append.  Live
 * publishing sends the frames the journal wrote without computing them
 * again. */
const unsigned char *journal_last_headers(const struct journal *j);

/* fdatasync the active segment if anything was written since the last one.
 * Returns 0, or -1 with err set. */
int journal_sync(struct journal *j, char *err, size_t errlen);
int journal_dirty(const struct journal *j);
/* Hand the active segment's sync to cfg->sync_async if anything was written
 * since the last sync (inline when there is no sync_async). */
void journal_sync_later(struct journal *j);

/*
 * Damage, and getting past it.
 *
 * journal_gap: whether seq lies in a gap, records that were written once but
 * are in no segment now (a segment removed or set aside): 1 with *last the
 * gap's last seq, 0 when not, -1 with err set on an I/O error.  Forward
 * reads never cross a gap: they stop in front of it, so a reader that
 * pages on asks about the gap's first seq next.
 *
 * journal_index_next: index the oldest segment start-up left unindexed (a
 * segment per call, reporting its damage to cfg->on_damage); 1 while more
 * are left, 0 when all are indexed, -1 with err set.
 *
 * journal_check: notice the directory or the active segment removed (rm -rf
 * of the log directory) and make the journal again in a new directory and
 * segment, with the same id and the sequence going on; and retry a journal
 * left broken by a write that could not be undone.  0: nothing to do; 1: it
 * was made whole again (err says what happened); -1: it is still broken
 * (err says why; appends are refused meanwhile, and tried again at most
 * every few seconds).  Appends do the same checks themselves.
 */
int journal_gap(struct journal *j, uint64_t seq, uint64_t *last, char *err,
                size_t errlen);
int journal_index_next(struct journal *j, char *err, size_t errlen);
int journal_check(struct journal *j, char *err, size_t errlen);

/* Apply retention now (also done after each rotation). */
void journal_retain(struct journal *j);

/* A segment journal_vacuum removed; path is valid during the call only. */
struct journal_removed {
	const char *path;
	uint64_t first_seq, last_seq, bytes;
};

/*
 * Retention now with these limits instead of the configured ones: remove
 * the oldest segments while the journal is over max_bytes (UINT64_MAX: no
 * limit; 0 keeps only the active segment) or their newest record is older
 * than cutoff_ns (wall clock; INT64_MIN: none), never the active segment.
 * removed (if set) is told of each, oldest first.  Returns how many went.
 */
size_t journal_vacuum(struct journal *j, uint64_t max_bytes, int64_t cutoff_ns,
                      void (*removed)(void *arg,
                                      const struct journal_removed *r),
                      void *arg);
/* New size and age limits (a reload); retention applies them at once. */
void journal_set_limits(struct journal *j, uint64_t segment_bytes,
                        uint64_t max_total_bytes, uint64_t max_age_s);

/*
 * Read callbacks get each record frame in turn: the decoded header fields
 * (rec->data points at the msgpack record) and the whole frame bytes
 * (frame, frame_len) so that a reply can copy the frame as it is.  The
 * pointers are valid during the call only.  Return 0 to go on, 1 to stop.
 */
typedef int (*journal_read_cb)(void *arg, const struct frame_record *rec,
                               const unsigned char *frame, uint32_t frame_len);

/* Records with seq > after, in increasing order.  Returns 0 at the end or
 * when cb stopped, -1 with err set on an I/O error. */
int journal_read(struct journal *j, uint64_t after, journal_read_cb cb,
                 void *arg, char *err, size_t errlen);

/* Records with seq < before, in decreasing order (before = UINT64_MAX: from
 * the newest).  Same return values. */
int journal_read_reverse(struct journal *j, uint64_t before, journal_read_cb cb,
                         void *arg, char *err, size_t errlen);

struct record_view;

/*
 * journal_read with each record decoded (record_decode) for the callback:
 * v is NULL when the bytes are no record (the header fields in fr still
 * say where the read is).  v points into a zone the read owns and clears
 * between records: valid during the call only.  For the broker's own
 * walks (error reports, routed files); replies that copy frames use
 * journal_read.  Same return values.
 */
typedef int (*journal_record_cb)(void *arg, const struct frame_record *fr,
                                 const struct record_view *v);
int journal_read_records(struct journal *j, uint64_t after,
                         journal_record_cb cb, void *arg, char *err,
                         size_t errlen);

struct lb_str;

/*
 * What a read wants, so that it can pass over records unseen: only records
 * of one of these services (nsvcs > 0) reach the callback, and some records
 * of other services may too (the caller still filters).  A forward read
 * tells on_skip (when set) the seq of the last record of each stretch it
 * passed over, in order with the callback's records, so that a paged reader
 * knows how far it got; on_skip returns 0 to go on, 1 to stop.
 */
struct journal_want {
	const struct lb_str *svcs; /* at most JOURNAL_WANT_SVCS_MAX */
	size_t nsvcs;
	int (*on_skip)(void *arg, uint64_t last_seq);
};
#define JOURNAL_WANT_SVCS_MAX 4096

/* journal_read and journal_read_reverse for the records want may hold
 * (want NULL: all of them). */
int journal_read_want(struct journal *j, uint64_t after,
                      const struct journal_want *want, journal_read_cb cb,
                      void *arg, char *err, size_t errlen);
int journal_read_reverse_want(struct journal *j, uint64_t before,
                              const struct journal_want *want,
                              journal_read_cb cb, void *arg, char *err,
                              size_t errlen);

struct journal_stats {
	uint64_t segments, bytes, first_seq, last_seq, fsyncs;
	uint64_t last_fsync_ns;   /* duration of the last fdatasync */
	int64_t last_fsync_at_ns; /* when it ended, CLOCK_MONOTONIC */
	uint64_t segments_removed;
};
void journal_get_stats(const struct journal *j, struct journal_stats *st);

#endif
