/*
 * fuzz_journal.c: a journal segment damaged on disk, any bytes at all,
 * opened by the broker's journal (recovery: a damaged header set aside, a
 * torn tail truncated, corrupt frames skipped), indexed, read forward and
 * backward, asked about gaps, then appended to and read again.
 *
 * Properties besides not crashing: reads give strictly increasing (forward)
 * and decreasing (backward) sequence numbers past their starting point, and
 * a batch appended after recovery gets the sequence numbers after the last
 * one kept and reads back.
 *
 * Input: the bytes of the segment file 0000000000000001.journal.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "files.h"
#include "fuzz_util.h"
#include "journal.h"
#include "logbus/logbus.h"
#include "record.h"

struct walk {
	uint64_t last, n;
	bool reverse;
};

static int on_record(void *arg, const struct frame_record *rec,
                     const unsigned char *frame, uint32_t frame_len)
{
	struct walk *w = arg;

	(void)frame;
	if (frame_len < FRAME_OVERHEAD + rec->len)
		fuzz_fail("a frame of %u bytes holds a record of %u", frame_len,
		          rec->len);
	if (w->n > 0 &&
	    (w->reverse ? rec->seq >= w->last : rec->seq <= w->last))
		fuzz_fail("%s read gave seq %llu after %llu",
		          w->reverse ? "a backward" : "a forward",
		          (unsigned long long)rec->seq,
		          (unsigned long long)w->last);
	w->last = rec->seq;
	w->n++;
	return 0;
}

static void on_damage(void *arg, const char *what)
{
	(void)arg;
	(void)what;
}

static uint64_t read_all(struct journal *j, bool reverse, uint64_t from)
{
	struct walk w = {.reverse = reverse};
	char err[256];
	int rv =
	    reverse
	        ? journal_read_reverse(j, from, on_record, &w, err, sizeof err)
	        : journal_read(j, from, on_record, &w, err, sizeof err);
	(void)rv; /* an I/O error on a damaged file is an answer too */
	return w.n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[300], seg[400];
	static msgpack_sbuffer one; /* a record to append */
	struct journal *j;
	struct journal_recovery rec;
	char err[256];

	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "%s/journal", fuzz_dir());
		snprintf(seg, sizeof seg, "%s/0000000000000001.journal", dir);
		struct record_in in = {.time_ns = 1700000000000000000,
		                       .level = LOGBUS_INFO,
		                       .service = {"fuzz", 4},
		                       .logger = {"fuzz", 4},
		                       .message = {"appended", 8}};
		msgpack_packer pk;
		msgpack_sbuffer_init(&one);
		msgpack_packer_init(&pk, &one, msgpack_sbuffer_write);
		record_pack(&pk, &in);
	}
	files_remove_tree(dir);
	if (mkdir(dir, 0700) < 0)
		fuzz_fail("cannot make %s (%s)", dir, strerror(errno));
	fuzz_write_file(seg, data, size);
	struct journal_config jc = {
	    .dir = dir,
	    .segment_bytes = 1 << 20,
	    .max_total_bytes = 64 << 20,
	    .max_record = LOGBUS_RECORD_MAX,
	    .on_damage = on_damage,
	};
	if (journal_open(&j, &jc, &rec, err, sizeof err) < 0)
		return 0; /* refused, with a reason: fine */
	while (journal_index_next(j, err, sizeof err) > 0)
		;
	uint64_t first = journal_first_seq(j), last = journal_last_seq(j), gl;
	read_all(j, false, 0);
	read_all(j, true, UINT64_MAX);
	if (last > 2) {
		read_all(j, false, last / 2);
		read_all(j, true, last / 2);
	}
	(void)journal_gap(j, first, &gl, err, sizeof err);
	(void)journal_gap(j, last, &gl, err, sizeof err);

	struct journal_rec r = {.data = one.data, .len = (uint32_t)one.size};
	struct frame_record stamp = {
	    .pid = 1, .uid = 2, .gid = 3, .comm = "fuzz"};
	uint64_t seq;
	if (journal_append_batch(j, 7, 1, &r, 1, &stamp, &seq, err,
	                         sizeof err) == 0) {
		if (seq != last + 1 || journal_last_seq(j) != seq)
			fuzz_fail("appended after seq %llu, got %llu",
			          (unsigned long long)last,
			          (unsigned long long)seq);
		if (read_all(j, false, seq - 1) != 1)
			fuzz_fail("the record appended at %llu does not read "
			          "back",
			          (unsigned long long)seq);
	}
	journal_close(j);
	return 0;
}
