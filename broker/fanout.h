/*
 * fanout.h: how far the fan-out of committed records (routed files, error
 * reports) had got, kept in journal/fanout so that a start after a crash
 * writes what the crash cost it, once (routes.c, error_report.c use it).
 *
 * The file holds a header (the journal's id; `routes`, the last record
 * whose lines every healthy route had written; `reports`, the last record
 * whose error report was written, or the one before the oldest report
 * still waiting to be) and a slot per routed file: its name, the last
 * record it wrote (`done`), the file those lines went to (device, inode)
 * and that file's size after them, and whether it was failing.  A slot is
 * rewritten with one pwrite(2) after each write to its file and when its
 * file is opened; the header after each batch's fan-out.  No fsync: a
 * kill -9 leaves the page cache behind, and a power cut costs at most
 * what the journal's own fsync interval costs (a slot that then fails its
 * checksum is as if missing).
 *
 * The invariant a saved slot keeps: the first `size` bytes of the file
 * (device, inode) hold the route's lines of the records up to `done`, and
 * whatever follows them are lines of later records, in order (inode 0:
 * no file was open, nothing after `done` was written).  So at start the
 * bytes after `size` tell exactly which lines of the journal's tail are
 * already there (routes_resume).
 *
 * Slots are 256 bytes at offsets of 256, so a slot never straddles a page
 * and one pwrite is one slot, whole or not at all for a crash of the
 * process.
 */
#ifndef LOGBUS_FANOUT_H
#define LOGBUS_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FANOUT_FILE     "fanout"
#define FANOUT_NAME_MAX 200 /* a route's file name (routes.c) fits */

/* Where one routed file had got. */
struct fanout_pos {
	uint64_t done;     /* its last record written, or not wanted */
	uint64_t dev, ino; /* the file the lines went to; ino 0: none */
	uint64_t size;     /* that file's size after those lines */
	bool failing;      /* behind on its own: catches up from done */
};

struct fanout;

/* Open journal/fanout under the log directory log_fd for the journal id
 * (JOURNAL_ID_LEN bytes) and load it.  A missing file is made; one of
 * another journal, or with a damaged header, is started again empty, and
 * note says so (with what it means); damaged slots are dropped, also
 * said.  NULL only out of memory; a file that cannot be written leaves
 * positions unsaved (fanout_error says why). */
struct fanout *fanout_open(int log_fd, const char *log_dir,
                           const unsigned char *journal_id, char *note,
                           size_t notelen);
void fanout_free(struct fanout *f);

/* Whether positions were loaded, with the header's routes and reports
 * marks: false for a new, damaged or foreign file (nothing to replay). */
bool fanout_loaded(const struct fanout *f, uint64_t *routes, uint64_t *reports);

/* The slot of the file name, made when new; -1 when the name is too long
 * or out of memory.  *pos gets its saved position, and the return is
 * then the slot; found says whether there was one. */
int fanout_slot(struct fanout *f, const char *name, struct fanout_pos *pos,
                bool *found);
/* The names of the slots loaded, in turn (i = 0, 1, ... until NULL). */
const char *fanout_name(const struct fanout *f, size_t i);

/* Save a route's position / the header's marks (one pwrite each). */
void fanout_save(struct fanout *f, int slot, const struct fanout_pos *pos);
void fanout_mark(struct fanout *f, uint64_t routes, uint64_t reports);

/* Write the whole file again (the journal directory was made anew after
 * rm -rf): 0, or -1 (fanout_error says why). */
int fanout_rewrite(struct fanout *f);

/* The last problem writing the file, "" when none. */
const char *fanout_error(const struct fanout *f);

#endif
