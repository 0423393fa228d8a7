/*
 * test_journal.c: unit tests of the journal (broker/journal*.c), through
 * journal.h only.
 *
 * Each test gets its own mkdtemp directory under /tmp (removed by the
 * teardown) and opens the journal in a subdirectory that journal_open must
 * create.  Every record's payload starts with "record <seq> ", so a reader
 * callback can tell a record served under the wrong seq.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timefmt.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "files.h"
#include "frame.h"
#include "journal.h"
#include "record.h"

#define T_PID  4242u
#define T_UID  1000u
#define T_GID  1001u
#define T_COMM "t-publisher"

/* The trusted fields every test record is stamped with. */
static struct frame_record t_stamp(int64_t recv_ns)
{
	struct frame_record s = {
	    .pid = T_PID, .uid = T_UID, .gid = T_GID, .recv_ns = recv_ns};
	memcpy(s.comm, T_COMM, sizeof T_COMM);
	return s;
}
#define T_MAX_RECORD 65536u
#define T_SESSION    77u
#define MAX_BATCHES  4096

struct fixture {
	char root[64];
	char dir[128];
	struct journal_config cfg;
	struct frame_batch batches[MAX_BATCHES]; /* what on_batch saw */
	size_t nbatches;
	char damage[16][512]; /* what on_damage said, in order */
	size_t ndamage;
	uint64_t next_batch; /* batch numbers used by append_records */
	/* The last batch of each session, as broker/sessions.c keeps them,
	 * for cfg.each_batch (remember_batch fills it). */
	struct frame_batch table[16];
	size_t ntable;
};

/* What a read callback saw. */
struct seen {
	uint64_t *seqs;
	size_t n, cap;
	size_t stop_at; /* return 1 after this many records; 0 = never */
	size_t bad;     /* records whose fields or payload were wrong */
};

static void on_batch(void *arg, const struct frame_batch *b)
{
	struct fixture *fx = arg;

	if (fx->nbatches < MAX_BATCHES)
		fx->batches[fx->nbatches++] = *b;
}

static void on_damage(void *arg, const char *what)
{
	struct fixture *fx = arg;

	if (fx->ndamage < 16)
		snprintf(fx->damage[fx->ndamage], sizeof fx->damage[0], "%s",
		         what);
	fx->ndamage++;
}

/* How many damage reports hold text. */
static size_t damage_saying(const struct fixture *fx, const char *text)
{
	size_t n = 0;

	for (size_t i = 0; i < fx->ndamage && i < 16; i++)
		n += strstr(fx->damage[i], text) != NULL;
	return n;
}

static void each_batch(void *arg,
                       void (*emit)(void *ctx, const struct frame_batch *b),
                       void *ctx)
{
	struct fixture *fx = arg;

	for (size_t i = 0; i < fx->ntable; i++)
		emit(ctx, &fx->table[i]);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	strcpy(fx->root, "/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	snprintf(fx->dir, sizeof(fx->dir), "%s/log/journal", fx->root);
	fx->cfg.dir = fx->dir;
	fx->cfg.segment_bytes = 1u << 20;
	fx->cfg.max_total_bytes = 0;
	fx->cfg.max_age_s = 0;
	fx->cfg.max_record = T_MAX_RECORD;
	fx->cfg.on_batch = on_batch;
	fx->cfg.on_damage = on_damage;
	fx->cfg.arg = fx;
	fx->next_batch = 1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	files_remove_tree(fx->root);
	free(fx);
	return 0;
}

static struct journal *jopen(struct fixture *fx, struct journal_recovery *rec)
{
	struct journal *j = NULL;
	char err[512] = "";
	int rc = journal_open(&j, &fx->cfg, rec, err, sizeof(err));

	if (rc)
		print_error("journal_open: %s\n", err);
	assert_int_equal(rc, 0);
	assert_non_null(j);
	return j;
}

/* "record <seq> " padded with 'x' to pad bytes (or more). */
static uint32_t payload(char *buf, size_t cap, uint64_t seq, size_t pad)
{
	int n = snprintf(buf, cap, "record %" PRIu64 " ", seq);

	assert_true(n > 0 && (size_t)n < cap && pad < cap);
	while ((size_t)n < pad)
		buf[n++] = 'x';
	return (uint32_t)n;
}

/* Append one batch of n records of pad bytes; checks the seqs it got. */
static uint64_t append_batch(struct journal *j, uint64_t session,
                             uint64_t batch, size_t n, size_t pad,
                             int64_t recv_ns)
{
	struct journal_rec *recs = calloc(n, sizeof(*recs));
	char *bufs = malloc(n * (pad + 32));
	uint64_t want = journal_last_seq(j) + 1, first = 0;
	char err[512] = "";
	int rc;

	assert_non_null(recs);
	assert_non_null(bufs);
	for (size_t i = 0; i < n; i++) {
		char *b = bufs + i * (pad + 32);
		recs[i].data = b;
		recs[i].len = payload(b, pad + 32, want + i, pad);
	}
	struct frame_record st = t_stamp(recv_ns);
	rc = journal_append_batch(j, session, batch, recs, n, &st, &first, err,
	                          sizeof(err));
	if (rc)
		print_error("journal_append_batch: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(first, want);
	assert_int_equal(journal_last_seq(j), want + n - 1);
	free(recs);
	free(bufs);
	return first;
}

/* Append count records in batches of per. */
static void append_records(struct fixture *fx, struct journal *j, size_t count,
                           size_t per, size_t pad, int64_t recv_ns)
{
	for (size_t done = 0; done < count; done += per) {
		size_t n = count - done < per ? count - done : per;
		append_batch(j, T_SESSION, fx->next_batch++, n, pad, recv_ns);
	}
}

/* Append a batch of n records as the next batch of session and remember
 * it in the fixture's table, as ingest does after each append. */
static void remember_batch(struct fixture *fx, struct journal *j,
                           uint64_t session, size_t n, size_t pad)
{
	uint64_t bn = fx->next_batch++;
	uint64_t first = append_batch(j, session, bn, n, pad, timefmt_now_ns());
	size_t i = 0;

	while (i < fx->ntable && fx->table[i].session != session)
		i++;
	assert_true(i < sizeof fx->table / sizeof fx->table[0]);
	fx->ntable += i == fx->ntable;
	fx->table[i] = (struct frame_batch){.count = (uint32_t)n,
	                                    .session = session,
	                                    .batch = bn,
	                                    .first_seq = first,
	                                    .uid = T_UID,
	                                    .has_uid = true};
}

/* A journal of 4 KiB segments (saving its sessions file when sessions),
 * after an early batch of EARLY_SESSION (when early) and then n batches
 * of T_SESSION, each remembered. */
#define EARLY_SESSION 5u /* not T_SESSION */
static struct journal *turn_over(struct fixture *fx, bool sessions, bool early,
                                 int n)
{
	struct journal *j;

	fx->cfg.segment_bytes = 4096;
	fx->cfg.each_batch = sessions ? each_batch : NULL;
	j = jopen(fx, NULL);
	if (early)
		remember_batch(fx, j, EARLY_SESSION, 4, 100);
	for (int i = 0; i < n; i++)
		remember_batch(fx, j, T_SESSION, 4, 100);
	return j;
}

/* How many times on_batch was told of exactly this batch. */
static size_t replayed(const struct fixture *fx, uint64_t session,
                       uint64_t batch, uint64_t first_seq, uint32_t count)
{
	size_t n = 0;

	for (size_t i = 0; i < fx->nbatches; i++)
		n += fx->batches[i].session == session &&
		     fx->batches[i].batch == batch &&
		     fx->batches[i].first_seq == first_seq &&
		     fx->batches[i].count == count;
	return n;
}

static int collect(void *arg, const struct frame_record *r,
                   const unsigned char *frame, uint32_t frame_len)
{
	struct seen *s = arg;
	char want[32];
	int n = snprintf(want, sizeof(want), "record %" PRIu64 " ", r->seq);
	int type = 0;
	uint32_t total = 0;

	if (r->len < (uint32_t)n || memcmp(r->data, want, (size_t)n) != 0 ||
	    r->pid != T_PID || r->uid != T_UID || r->gid != T_GID ||
	    strcmp(r->comm, T_COMM) != 0 ||
	    frame_len != FRAME_OVERHEAD + r->len ||
	    frame_check(frame, frame_len, FRAME_BODY_HDR + T_MAX_RECORD, &type,
	                &total) != FRAME_OK ||
	    type != FRAME_RECORD || total != frame_len)
		s->bad++;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->seqs = realloc(s->seqs, s->cap * sizeof(*s->seqs));
		assert_non_null(s->seqs);
	}
	s->seqs[s->n++] = r->seq;
	return s->stop_at && s->n >= s->stop_at;
}

static void seen_free(struct seen *s)
{
	free(s->seqs);
	memset(s, 0, sizeof(*s));
}

/* What a read from seq saw (journal_read, or journal_read_reverse when
 * reverse), stopped after stop_at records (0: never). */
static struct seen read_from(struct journal *j, bool reverse, uint64_t seq,
                             size_t stop_at)
{
	struct seen s = {.stop_at = stop_at};
	char err[512] = "";
	int rc = (reverse ? journal_read_reverse : journal_read)(
	    j, seq, collect, &s, err, sizeof(err));

	if (rc)
		print_error("%s: %s\n",
		            reverse ? "journal_read_reverse" : "journal_read",
		            err);
	assert_int_equal(rc, 0);
	assert_int_equal(s.bad, 0);
	return s;
}

static struct seen read_after(struct journal *j, uint64_t after, size_t stop_at)
{
	return read_from(j, false, after, stop_at);
}

static struct seen read_before(struct journal *j, uint64_t before,
                               size_t stop_at)
{
	return read_from(j, true, before, stop_at);
}

/* s saw exactly from, from+1, ..., to (nothing when from > to). */
static void assert_seqs_up(const struct seen *s, uint64_t from, uint64_t to)
{
	assert_int_equal(s->n, from > to ? 0 : to - from + 1);
	for (size_t i = 0; i < s->n; i++)
		assert_int_equal(s->seqs[i], from + i);
}

/* s saw exactly from, from-1, ..., to. */
static void assert_seqs_down(const struct seen *s, uint64_t from, uint64_t to)
{
	assert_int_equal(s->n, from < to ? 0 : from - to + 1);
	for (size_t i = 0; i < s->n; i++)
		assert_int_equal(s->seqs[i], from - i);
}

/* A read after seq after (stopped after stop_at records, 0: never) saw
 * exactly from..to. */
static void check_read_up(struct journal *j, uint64_t after, size_t stop_at,
                          uint64_t from, uint64_t to)
{
	struct seen s = read_after(j, after, stop_at);

	assert_seqs_up(&s, from, to);
	seen_free(&s);
}

/* A read before seq before saw exactly from, from-1, ..., to. */
static void check_read_down(struct journal *j, uint64_t before, size_t stop_at,
                            uint64_t from, uint64_t to)
{
	struct seen s = read_before(j, before, stop_at);

	assert_seqs_down(&s, from, to);
	seen_free(&s);
}

static void check_read_all(struct journal *j, uint64_t from, uint64_t to)
{
	check_read_up(j, 0, 0, from, to);
}

/* j holds exactly from..to, and so does the journal reopened; closes it. */
static void check_read_all_across_reopen(struct fixture *fx, struct journal *j,
                                         uint64_t from, uint64_t to)
{
	check_read_all(j, from, to);
	journal_close(j);
	j = jopen(fx, NULL);
	check_read_all(j, from, to);
	journal_close(j);
}

/* What an open found and mended. */
static void assert_recovered(const struct journal_recovery *rec,
                             uint64_t truncated_bytes, uint64_t corrupt_skipped,
                             int sealed_corrupt)
{
	assert_int_equal(rec->truncated_bytes, truncated_bytes);
	assert_int_equal(rec->corrupt_skipped, corrupt_skipped);
	assert_int_equal(rec->sealed_corrupt, sealed_corrupt);
}

/* An open that fails, saying why in err. */
static void jopen_fails(struct fixture *fx, char *err, size_t errlen)
{
	struct journal *j = NULL;

	assert_int_equal(journal_open(&j, &fx->cfg, NULL, err, errlen), -1);
	assert_null(j);
}

/* A batch of one record, the payload of seq, that must be refused; why in
 * err. */
static void append_one_refused(struct journal *j, uint64_t batch, uint64_t seq,
                               char *err, size_t errlen)
{
	char data[64];
	struct journal_rec rec = {.data = data};
	uint64_t first = 0;
	struct frame_record st = t_stamp(timefmt_now_ns());

	rec.len = payload(data, sizeof data, seq, 30);
	assert_int_equal(journal_append_batch(j, T_SESSION, batch, &rec, 1, &st,
	                                      &first, err, errlen),
	                 -1);
}

static int is_segment_name(const char *name)
{
	size_t n = strlen(name);

	return n == 24 && strcmp(name + 16, ".journal") == 0;
}

/* Number of segment files; the newest one's path in newest. */
static size_t list_segments(const struct fixture *fx, char *newest, size_t cap)
{
	DIR *d = opendir(fx->dir);
	char best[256] = "";
	size_t n = 0;
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!is_segment_name(de->d_name))
			continue;
		n++;
		if (strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	if (newest)
		snprintf(newest, cap, "%s/%s", fx->dir, best);
	return n;
}

/* A journal of count records appended in batches of per, then closed; the
 * path of its newest segment in path. */
static void closed_journal(struct fixture *fx, size_t count, size_t per,
                           size_t pad, char *path, size_t cap)
{
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, count, per, pad, timefmt_now_ns());
	journal_close(j);
	list_segments(fx, path, cap);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void read_file(const char *path, unsigned char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	*len = (size_t)file_size(path);
	*buf = malloc(*len + 1);
	assert_non_null(*buf);
	assert_int_equal(fread(*buf, 1, *len, f), *len);
	fclose(f);
}

/* File offset of the first occurrence of text in path. */
static uint64_t find_in_file(const char *path, const char *text)
{
	unsigned char *buf;
	size_t len;
	read_file(path, &buf, &len);
	unsigned char *p = memmem(buf, len, text, strlen(text));
	assert_non_null(p);
	uint64_t off = (uint64_t)(p - buf);
	free(buf);
	return off;
}

static void xor_byte(const char *path, uint64_t off, unsigned char mask)
{
	int fd = open(path, O_RDWR);
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= mask;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

/* Write len bytes at the start of path, or at its end when mode is "ab". */
static void write_file(const char *path, const char *mode, const void *data,
                       size_t len)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* --- tests
 * ------------------------------------------------------------------------ */

static void test_append_then_read_back_in_order(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = jopen(fx, NULL);
	struct journal_stats st;

	assert_int_equal(journal_last_seq(j), 0);
	assert_int_equal(journal_first_seq(j), 1);
	check_read_all(j, 1, 0);
	append_records(fx, j, 10, 3, 50, timefmt_now_ns());
	check_read_all(j, 1, 10);
	journal_get_stats(j, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.first_seq, 1);
	assert_int_equal(st.last_seq, 10);
	assert_int_equal(list_segments(fx, NULL, 0), 1);
	journal_close(j);
}

static void test_sequence_survives_reopen(void **state)
{
	struct fixture *fx = *state;
	struct journal_recovery rec;
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, 10, 4, 40, timefmt_now_ns());
	journal_close(j);

	j = jopen(fx, &rec);
	assert_recovered(&rec, 0, 0, 0);
	assert_int_equal(journal_last_seq(j), 10);
	assert_int_equal(journal_first_seq(j), 1);
	append_records(fx, j, 5, 2, 40, timefmt_now_ns());
	check_read_all(j, 1, 15);
	journal_close(j);
}

static void test_rotation_by_size_keeps_every_record(void **state)
{
	struct fixture *fx = *state;
	const size_t per = 7, pad = 100;
	/* A segment is rotated before the batch that finds it full. */
	const uint64_t slack = FRAME_OVERHEAD + per * (FRAME_OVERHEAD + pad);
	struct journal_stats st;
	char path[256];
	struct journal *j;

	fx->cfg.segment_bytes = 4096;
	j = jopen(fx, NULL);
	append_records(fx, j, 500, per, pad, timefmt_now_ns());
	journal_get_stats(j, &st);
	assert_true(st.segments > 5);
	assert_int_equal(st.segments, list_segments(fx, path, sizeof(path)));
	assert_true(file_size(path) < 4096 + slack);
	check_read_all(j, 1, 500);
	journal_close(j);

	/* Sealed segments are indexed on first read after a restart. */
	j = jopen(fx, NULL);
	assert_int_equal(journal_last_seq(j), 500);
	check_read_all(j, 1, 500);
	append_records(fx, j, 20, per, pad, timefmt_now_ns());
	check_read_all(j, 1, 520);
	journal_close(j);
}

static void test_retention_drops_oldest_segments_never_active(void **state)
{
	struct fixture *fx = *state;
	struct journal_stats st;
	char newest[256];
	struct journal *j;
	uint64_t first;

	fx->cfg.segment_bytes = 4096;
	fx->cfg.max_total_bytes = 5 * 4096;
	j = jopen(fx, NULL);
	append_records(fx, j, 500, 5, 100, timefmt_now_ns());
	journal_retain(j);
	journal_get_stats(j, &st);
	assert_true(st.segments_removed > 0);
	assert_true(st.bytes <= fx->cfg.max_total_bytes);
	assert_int_equal(st.segments, list_segments(fx, NULL, 0));
	first = journal_first_seq(j);
	assert_true(first > 1);
	assert_int_equal(st.first_seq, first);
	check_read_all(j, first, 500);
	/* A read from an expired cursor starts at the oldest kept record. */
	struct seen s = read_after(j, 3, 1);
	assert_int_equal(s.seqs[0], first);
	seen_free(&s);
	journal_close(j);

	/* A limit below one segment leaves the active one alone. */
	fx->cfg.max_total_bytes = 1;
	j = jopen(fx, NULL);
	journal_retain(j);
	journal_get_stats(j, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(list_segments(fx, newest, sizeof(newest)), 1);
	assert_int_equal(st.bytes, file_size(newest));
	assert_int_equal(journal_last_seq(j), 500);
	first = journal_first_seq(j);
	assert_true(first > 1 && first <= 500);
	append_records(fx, j, 3, 3, 100, timefmt_now_ns());
	journal_retain(j);
	/* Whether the append rotated depends on the frame sizes; either way
	 * the active segment, holding 501..503, stays. */
	first = journal_first_seq(j);
	assert_true(first > 1 && first <= 501);
	check_read_all(j, first, 503);
	journal_close(j);
}

static void test_retention_by_age_drops_segments_with_old_records(void **state)
{
	struct fixture *fx = *state;
	const int64_t hour = 3600LL * 1000000000;
	struct journal_stats st;
	struct journal *j;
	uint64_t first;

	fx->cfg.segment_bytes = 4096;
	fx->cfg.max_age_s = 3600;
	j = jopen(fx, NULL);
	append_records(fx, j, 100, 5, 100, timefmt_now_ns() - 2 * hour);
	append_records(fx, j, 100, 5, 100, timefmt_now_ns());
	journal_retain(j);
	journal_get_stats(j, &st);
	assert_true(st.segments_removed > 0);
	first = journal_first_seq(j);
	assert_true(first > 1 && first <= 101);
	check_read_all(j, first, 200);
	journal_close(j);
}

static void test_read_after_seq_starts_mid_segment(void **state)
{
	struct fixture *fx = *state;
	/* 2000 records of ~190 bytes: several 64 KiB checkpoints. */
	const uint64_t afters[] = {0,   1,    63,   340,  341,
	                           500, 1234, 1999, 2000, 5000};
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, 2000, 10, 150, timefmt_now_ns());
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(afters) / sizeof(afters[0]);
		     i++) {
			check_read_up(j, afters[i], 0, afters[i] + 1, 2000);
		}
		/* Second round: the index comes from the scan at open. */
		journal_close(j);
		j = jopen(fx, NULL);
	}
	journal_close(j);
}

static void test_read_reverse_yields_newest_first_across_segments(void **state)
{
	struct fixture *fx = *state;
	struct journal *j;

	fx->cfg.segment_bytes = 4096;
	j = jopen(fx, NULL);
	append_records(fx, j, 300, 4, 100, timefmt_now_ns());
	for (int round = 0; round < 2; round++) {
		check_read_down(j, UINT64_MAX, 0, 300, 1);
		check_read_down(j, 150, 0, 149, 1);
		check_read_down(j, 1000, 0, 300, 1);
		struct seen s = read_before(j, 1, 0);
		assert_int_equal(s.n, 0);
		seen_free(&s);
		/* Second round: sealed segments are indexed lazily. */
		journal_close(j);
		j = jopen(fx, NULL);
	}
	journal_close(j);
}

static void test_torn_tail_is_truncated_on_restart(void **state)
{
	struct fixture *fx = *state;
	const size_t pad = 60;
	struct journal_recovery rec;
	char path[256];
	struct journal *j;

	closed_journal(fx, 4, 1, pad, path, sizeof(path));
	assert_int_equal(truncate(path, (off_t)(file_size(path) - 3)), 0);

	j = jopen(fx, &rec);
	/* The last batch (marker and one record) goes, less the 3 bytes. */
	assert_recovered(&rec, 2 * FRAME_OVERHEAD + pad - 3, 0, 0);
	assert_int_equal(journal_last_seq(j), 3);
	check_read_all(j, 1, 3);
	append_records(fx, j, 1, 1, pad, timefmt_now_ns());
	check_read_all(j, 1, 4);
	journal_close(j);
}

static void test_torn_batch_is_truncated_whole(void **state)
{
	struct fixture *fx = *state;
	const size_t pad = 80, rec_bytes = FRAME_OVERHEAD + pad;
	struct journal_recovery rec;
	uint64_t size, marker_off, cut;
	char path[256];
	struct journal *j = jopen(fx, NULL);

	append_batch(j, 5, 1, 1, pad, timefmt_now_ns());
	append_batch(j, 5, 2, 3, pad, timefmt_now_ns()); /* seqs 2, 3, 4 */
	journal_close(j);
	list_segments(fx, path, sizeof(path));
	size = file_size(path);
	marker_off = size - 3 * rec_bytes - FRAME_OVERHEAD;
	cut = marker_off + FRAME_OVERHEAD + rec_bytes + 20; /* in seq 3 */
	assert_int_equal(truncate(path, (off_t)cut), 0);

	fx->nbatches = 0;
	j = jopen(fx, &rec);
	assert_int_equal(rec.truncated_bytes, cut - marker_off);
	assert_int_equal(file_size(path), marker_off);
	assert_int_equal(journal_last_seq(j), 1);
	check_read_all(j, 1, 1);
	/* The torn batch was never acknowledged: dedup must not know it. */
	assert_int_equal(fx->nbatches, 1);
	assert_int_equal(fx->batches[0].batch, 1);
	append_batch(j, 5, 2, 3, pad, timefmt_now_ns());
	check_read_all(j, 1, 4);
	journal_close(j);
}

static void test_flipped_byte_in_middle_of_last_segment_is_skipped(void **state)
{
	struct fixture *fx = *state;
	struct journal_recovery rec;
	struct seen s;
	char path[256];
	struct journal *j;

	closed_journal(fx, 10, 2, 60, path, sizeof(path));
	xor_byte(path, find_in_file(path, "record 5 ") + 12, 0x20);

	fx->nbatches = 0;
	j = jopen(fx, &rec);
	assert_recovered(&rec, 0, 1, 1);
	assert_int_equal(fx->nbatches, 5);
	assert_int_equal(journal_last_seq(j), 10);
	assert_int_equal(list_segments(fx, NULL, 0), 2);

	const uint64_t up[] = {1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13};
	append_records(fx, j, 3, 3, 60, timefmt_now_ns());
	for (int round = 0; round < 2; round++) {
		s = read_after(j, 0, 0);
		assert_int_equal(s.n, 12);
		assert_memory_equal(s.seqs, up, sizeof(up));
		seen_free(&s);
		s = read_before(j, UINT64_MAX, 0);
		assert_int_equal(s.n, 12);
		for (size_t i = 0; i < s.n; i++)
			assert_int_equal(s.seqs[i], up[11 - i]);
		seen_free(&s);
		s = read_after(j, 4, 1);
		assert_int_equal(s.seqs[0], 6);
		seen_free(&s);
		/* Second round: the sealed segment is the older one now. */
		journal_close(j);
		j = jopen(fx, &rec);
		assert_int_equal(rec.sealed_corrupt, 0);
		assert_int_equal(list_segments(fx, NULL, 0), 2);
	}
	journal_close(j);
}

static void
test_corrupt_tail_with_nothing_valid_after_is_truncated(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char zeros[100];
	struct journal_recovery rec;
	char path[256];
	struct journal *j;

	closed_journal(fx, 6, 3, 60, path, sizeof(path));
	write_file(path, "ab", zeros, sizeof(zeros));

	j = jopen(fx, &rec);
	assert_recovered(&rec, sizeof(zeros), 0, 0);
	check_read_all(j, 1, 6);
	journal_close(j);
}

static void test_batch_markers_replayed_at_open(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = jopen(fx, NULL);

	assert_int_equal(fx->nbatches, 0);
	append_batch(j, 1, 10, 1, 30, timefmt_now_ns());
	append_batch(j, 1, 11, 2, 30, timefmt_now_ns());
	append_batch(j, 2, 5, 3, 30, timefmt_now_ns());
	journal_close(j);

	j = jopen(fx, NULL);
	assert_int_equal(fx->nbatches, 3);
	const struct frame_batch want[3] = {
	    {.session = 1, .batch = 10, .count = 1, .first_seq = 1},
	    {.session = 1, .batch = 11, .count = 2, .first_seq = 2},
	    {.session = 2, .batch = 5, .count = 3, .first_seq = 4}};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(fx->batches[i].session, want[i].session);
		assert_int_equal(fx->batches[i].batch, want[i].batch);
		assert_int_equal(fx->batches[i].count, want[i].count);
		assert_int_equal(fx->batches[i].first_seq, want[i].first_seq);
	}
	journal_close(j);
}

static void test_batch_markers_replayed_from_last_two_segments(void **state)
{
	struct fixture *fx = *state;
	struct journal *j;
	size_t total;

	fx->cfg.segment_bytes = 4096;
	j = jopen(fx, NULL);
	append_records(fx, j, 400, 4, 100, timefmt_now_ns());
	total = fx->next_batch - 1;
	journal_close(j);

	fx->nbatches = 0;
	j = jopen(fx, NULL);
	assert_true(fx->nbatches > 0 && fx->nbatches < total);
	/* Oldest first, contiguous, ending with the last batch. */
	for (size_t i = 1; i < fx->nbatches; i++) {
		const struct frame_batch *a = &fx->batches[i - 1];
		assert_int_equal(fx->batches[i].batch, a->batch + 1);
		assert_int_equal(fx->batches[i].first_seq,
		                 a->first_seq + a->count);
	}
	const struct frame_batch *last = &fx->batches[fx->nbatches - 1];
	assert_int_equal(last->batch, total);
	assert_int_equal(last->first_seq + last->count - 1, 400);
	journal_close(j);
}

/* A batch committed, then two segments and more of other batches before a
 * crash (the campaign found it with 64K segments): its resend after the
 * restart must still be known, or it is written twice. */
static void test_batch_markers_replayed_from_replay_bytes(void **state)
{
	struct fixture *fx = *state;
	struct journal *j;

	fx->cfg.segment_bytes = 4096;
	fx->cfg.replay_bytes = 256 * 1024;
	j = jopen(fx, NULL);
	append_batch(j, 77, 5, 4, 100, timefmt_now_ns());
	append_records(fx, j, 400, 4, 100, timefmt_now_ns());
	assert_true(journal_last_seq(j) == 404);
	journal_close(j);

	fx->nbatches = 0;
	j = jopen(fx, NULL);
	size_t found = 0;
	for (size_t i = 0; i < fx->nbatches; i++)
		found += fx->batches[i].session == 77 &&
		         fx->batches[i].batch == 5 &&
		         fx->batches[i].first_seq == 1;
	assert_int_equal(found, 1);
	journal_close(j);
}

/* A batch written, then enough of another session's batches to rotate
 * several times, then retention removing every sealed segment: its marker
 * is gone with its segment, and the sessions file must still tell a
 * reopened journal of it (a resend after a restart is then acknowledged,
 * not written twice).  Only the markers written since the last save are
 * replayed from segments. */
static void test_last_batch_outlives_its_segment_in_sessions_file(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = turn_over(fx, true, true, 100);
	const struct frame_batch early = fx->table[0];
	char path[256];

	assert_true(journal_vacuum(j, 0, INT64_MIN, NULL, NULL) >= 3);
	assert_true(journal_first_seq(j) > early.first_seq + early.count);
	const struct frame_batch last = fx->table[1];
	journal_close(j);
	snprintf(path, sizeof path, "%s/sessions", fx->dir);
	assert_int_equal(file_size(path), 64 + 2 * FRAME_OVERHEAD);

	fx->nbatches = 0;
	j = jopen(fx, NULL);
	assert_int_equal(replayed(fx, EARLY_SESSION, early.batch,
	                          early.first_seq, early.count),
	                 1);
	assert_int_equal(
	    replayed(fx, T_SESSION, last.batch, last.first_seq, last.count), 1);
	/* The sessions file first, then the newest segment's markers only:
	 * far fewer than the 100 batches written. */
	assert_int_equal(fx->batches[0].session, EARLY_SESSION);
	assert_true(fx->nbatches < 40);
	assert_int_equal(fx->ndamage, 0);
	journal_close(j);
}

/* A journal written by a logbusd without the sessions file: the first
 * retention saves it before it removes a segment. */
static void test_retention_saves_sessions_file_before_removing(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = turn_over(fx, false, true, 60);
	const struct frame_batch early = fx->table[0];

	journal_close(j);

	fx->cfg.each_batch = each_batch;
	j = jopen(fx, NULL);
	assert_true(journal_vacuum(j, 0, INT64_MIN, NULL, NULL) >= 2);
	journal_close(j);
	fx->nbatches = 0;
	j = jopen(fx, NULL);
	assert_int_equal(replayed(fx, EARLY_SESSION, early.batch,
	                          early.first_seq, early.count),
	                 1);
	journal_close(j);
}

/* A damaged sessions file is reported and ignored: the newest segments'
 * markers are replayed as without one. */
static void test_damaged_sessions_file_is_reported_and_ignored(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = turn_over(fx, true, false, 60);
	const struct frame_batch last = fx->table[0];
	char path[256];

	journal_close(j);
	snprintf(path, sizeof path, "%s/sessions", fx->dir);
	xor_byte(path, 64 + 20, 0x01); /* inside the only marker */

	fx->nbatches = 0;
	j = jopen(fx, NULL);
	assert_int_equal(damage_saying(fx, "sessions file"), 1);
	assert_int_equal(damage_saying(fx, "is corrupt"), 1);
	assert_int_equal(
	    replayed(fx, T_SESSION, last.batch, last.first_seq, last.count), 1);
	journal_close(j);
}

/* A save that fails (a directory where its temporary file goes) is
 * reported once, and appends and rotations go on. */
static void test_failing_sessions_save_is_reported_once(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = turn_over(fx, true, false, 0);
	char path[256];

	snprintf(path, sizeof path, "%s/sessions.tmp", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (int i = 0; i < 60; i++)
		remember_batch(fx, j, T_SESSION, 4, 100);
	assert_true(list_segments(fx, NULL, 0) >= 3);
	assert_int_equal(damage_saying(fx, "cannot save"), 1);
	check_read_all(j, 1, 240);
	/* Once it can save again, it does, and says nothing more. */
	assert_int_equal(rmdir(path), 0);
	for (int i = 0; i < 20; i++)
		remember_batch(fx, j, T_SESSION, 4, 100);
	snprintf(path, sizeof path, "%s/sessions", fx->dir);
	assert_int_equal(file_size(path), 64 + FRAME_OVERHEAD);
	assert_int_equal(fx->ndamage, 1);
	journal_close(j);
}

static void test_journal_id_stable_across_reopen(void **state)
{
	struct fixture *fx = *state;
	unsigned char id[JOURNAL_ID_LEN], zero[JOURNAL_ID_LEN] = {0};
	unsigned char *hdr;
	size_t len;
	char path[256];
	struct journal *j = jopen(fx, NULL);

	memcpy(id, journal_id(j), sizeof(id));
	assert_memory_not_equal(id, zero, sizeof(id));
	append_records(fx, j, 3, 3, 30, timefmt_now_ns());
	journal_close(j);

	j = jopen(fx, NULL);
	assert_memory_equal(journal_id(j), id, sizeof(id));
	journal_close(j);

	/* The id is in the header, at the offset the format gives. */
	list_segments(fx, path, sizeof(path));
	read_file(path, &hdr, &len);
	assert_true(len >= 64);
	assert_memory_equal(hdr, "LOGBUSJ1", 8);
	assert_int_equal(le_get32(hdr + 8), 2);
	assert_int_equal(le_get32(hdr + 12), 64);
	assert_memory_equal(hdr + 16, id, sizeof(id));
	assert_int_equal(le_get64(hdr + 32), 1);
	assert_int_equal(le_get32(hdr + 60), crc32c(0, hdr, 60));
	free(hdr);

	/* Another journal gets another id. */
	snprintf(fx->dir, sizeof(fx->dir), "%s/other", fx->root);
	j = jopen(fx, NULL);
	assert_memory_not_equal(journal_id(j), id, sizeof(id));
	journal_close(j);
}

static void test_append_failure_leaves_journal_unchanged(void **state)
{
	struct fixture *fx = *state;
	struct journal_rec recs[5];
	char data[5][400], err[512] = "", path[256];
	struct rlimit old, lim;
	uint64_t size, first = 0;
	void (*oldsig)(int);
	struct journal *j = jopen(fx, NULL);
	int rc;

	append_records(fx, j, 10, 5, 100, timefmt_now_ns());
	list_segments(fx, path, sizeof(path));
	size = file_size(path);
	for (int i = 0; i < 5; i++) {
		recs[i].data = data[i];
		recs[i].len = payload(data[i], sizeof(data[i]), 11 + i, 300);
	}

	/* The batch crosses the file size limit: a short write, then EFBIG. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)(size + 700);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	struct frame_record st = t_stamp(timefmt_now_ns());
	rc = journal_append_batch(j, T_SESSION, 99, recs, 5, &st, &first, err,
	                          sizeof(err));
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);

	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "write "));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "File too large"));
	assert_int_equal(file_size(path), size);
	assert_int_equal(journal_last_seq(j), 10);
	check_read_all(j, 1, 10);

	append_records(fx, j, 5, 5, 300, timefmt_now_ns());
	check_read_all_across_reopen(fx, j, 1, 15);
}

/* Set or clear a file's immutable flag (chattr +i); false where the file
 * system or our privileges do not allow it. */
static bool set_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY);
	int flags = 0;
	bool ok = fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
	if (ok) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		ok = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A write failed and cutting the segment back failed too (the file made
 * immutable): the journal used to refuse every append until a restart.
 * The next append starts a new segment instead; the cause still there
 * changes nothing for it. */
static void
test_append_goes_on_in_a_new_segment_after_an_undo_failed(void **state)
{
	struct fixture *fx = *state;
	char err[512] = "", path[256];
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, 10, 5, 30, timefmt_now_ns());
	list_segments(fx, path, sizeof(path));
	if (!set_immutable(path, true)) {
		journal_close(j);
		skip(); /* not root, or no FS_IMMUTABLE_FL here (tmpfs) */
	}
	append_one_refused(j, 100, 11, err, sizeof err);
	assert_non_null(strstr(err, path));
	/* Still immutable: the next append goes to a new segment. */
	uint64_t first =
	    append_batch(j, T_SESSION, 101, 1, 30, timefmt_now_ns());
	assert_int_equal(first, 11);
	assert_int_equal(list_segments(fx, NULL, 0), 2);
	check_read_all(j, 1, 11);
	journal_close(j);
	assert_true(set_immutable(path, false));
	j = jopen(fx, NULL);
	check_read_all(j, 1, 11);
	journal_close(j);
}

/* rm -rf of the log directory while the broker ran: records went on being
 * acknowledged into the unlinked segment and were gone after a restart.
 * Now an append notices, says so, and the journal is made again in a new
 * directory; what it acknowledges from then on survives. */
static void test_removed_directory_is_noticed_and_made_again(void **state)
{
	struct fixture *fx = *state;
	char root_log[200];
	struct journal *j = jopen(fx, NULL);
	const unsigned char *id0 = journal_id(j);
	unsigned char id[JOURNAL_ID_LEN];
	memcpy(id, id0, sizeof id);

	append_records(fx, j, 10, 5, 30, timefmt_now_ns());
	snprintf(root_log, sizeof root_log, "%s/log", fx->root);
	files_remove_tree(root_log);
	assert_int_equal(access(fx->dir, F_OK), -1);

	/* The periodic check notices it with nothing to append. */
	char err[512] = "";
	assert_int_equal(journal_check(j, err, sizeof err), 1);
	assert_non_null(strstr(err, "removed"));
	assert_int_equal(damage_saying(fx, "removed"), 1);
	assert_int_equal(access(fx->dir, F_OK), 0);
	assert_int_equal(journal_check(j, err, sizeof err), 0);

	uint64_t first =
	    append_batch(j, T_SESSION, 200, 3, 30, timefmt_now_ns());
	assert_int_equal(first, 11);
	assert_int_equal(journal_first_seq(j), 11);
	assert_memory_equal(journal_id(j), id, sizeof id);
	check_read_all(j, 11, 13);
	journal_close(j);
	j = jopen(fx, NULL);
	check_read_all(j, 11, 13);
	assert_memory_equal(journal_id(j), id, sizeof id);
	journal_close(j);
}

/* Removed between appends and no check ran: the append that finds it
 * refuses its batch (it would have been acknowledged into a file nobody
 * can read) and the next one goes to the new directory. */
static void test_append_into_a_removed_directory_is_refused_once(void **state)
{
	struct fixture *fx = *state;
	char root_log[200];
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, 4, 4, 30, timefmt_now_ns());
	snprintf(root_log, sizeof root_log, "%s/log", fx->root);
	files_remove_tree(root_log);

	char err[512] = "";
	append_one_refused(j, 300, 5, err, sizeof err);
	assert_non_null(strstr(err, "removed"));
	assert_int_equal(journal_last_seq(j), 4);
	uint64_t first =
	    append_batch(j, T_SESSION, 301, 1, 30, timefmt_now_ns());
	assert_int_equal(first, 5);
	check_read_all_across_reopen(fx, j, 5, 5);
}

static void test_callback_can_stop_read(void **state)
{
	struct fixture *fx = *state;
	struct journal *j;

	fx->cfg.segment_bytes = 4096;
	j = jopen(fx, NULL);
	append_records(fx, j, 100, 3, 100, timefmt_now_ns());
	check_read_up(j, 0, 3, 1, 3);
	check_read_up(j, 50, 1, 51, 51);
	check_read_down(j, UINT64_MAX, 2, 100, 99);
	check_read_down(j, 40, 5, 39, 35);
	journal_close(j);
}

static void test_sync_runs_only_when_dirty(void **state)
{
	struct fixture *fx = *state;
	struct journal_stats st;
	char err[512] = "";
	struct journal *j = jopen(fx, NULL);

	assert_int_equal(journal_dirty(j), 0);
	assert_int_equal(journal_sync(j, err, sizeof(err)), 0);
	journal_get_stats(j, &st);
	assert_int_equal(st.fsyncs, 0);

	append_records(fx, j, 2, 2, 30, timefmt_now_ns());
	assert_int_equal(journal_dirty(j), 1);
	assert_int_equal(journal_sync(j, err, sizeof(err)), 0);
	assert_int_equal(journal_dirty(j), 0);
	assert_int_equal(journal_sync(j, err, sizeof(err)), 0);
	journal_get_stats(j, &st);
	assert_int_equal(st.fsyncs, 1);
	journal_close(j);
}

/* What sync_async was handed. */
struct handed {
	int fds[64];
	char paths[64][256];
	size_t n;
};

static void on_sync_async(void *arg, int fd, const char *path)
{
	struct handed *h = arg;

	assert_true(h->n < 64);
	h->fds[h->n] = fd;
	snprintf(h->paths[h->n], sizeof(h->paths[0]), "%s", path);
	h->n++;
}

static void test_sync_later_hands_a_descriptor_and_never_waits(void **state)
{
	struct fixture *fx = *state;
	struct handed h = {.n = 0};
	struct stat a, b;
	char newest[256];

	fx->cfg.sync_async = on_sync_async;
	fx->cfg.sync_arg = &h;
	fx->cfg.segment_bytes = 4096;
	struct journal *j = jopen(fx, NULL);

	/* open syncs its new segment itself */
	assert_int_equal(h.n, 0);
	journal_sync_later(j); /* clean: nothing handed over */
	assert_int_equal(h.n, 0);
	append_records(fx, j, 2, 2, 30, timefmt_now_ns());
	journal_sync_later(j);
	assert_int_equal(h.n, 1);
	assert_int_equal(journal_dirty(j), 0);
	/* a dup of the active segment, for the callee to sync and close */
	list_segments(fx, newest, sizeof(newest));
	assert_int_equal(fstat(h.fds[0], &a), 0);
	assert_int_equal(stat(newest, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	assert_string_equal(h.paths[0], newest);

	/* rotation hands the sealed segment over instead of syncing it, then
	 * the new segment's header and the directory */
	append_records(fx, j, 200, 10, 100, timefmt_now_ns());
	assert_true(list_segments(fx, NULL, 0) > 1);
	assert_true(h.n >= 4);
	assert_string_equal(h.paths[1], newest);
	assert_string_equal(h.paths[3], fx->dir);
	assert_int_equal(fstat(h.fds[3], &a), 0);
	assert_true(S_ISDIR(a.st_mode));
	for (size_t i = 0; i < h.n; i++) {
		assert_int_equal(fsync(h.fds[i]), 0);
		close(h.fds[i]);
	}
	check_read_all(j, 1, 202);
	journal_close(j);
}

static void on_release(void *arg, int fd)
{
	struct handed *h = arg;
	struct stat st;

	assert_true(h->n < 64);
	/* the last descriptor of a file already removed */
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	h->fds[h->n++] = fd;
}

static void test_retention_leaves_the_last_close_to_release_async(void **state)
{
	struct fixture *fx = *state;
	struct handed h = {.n = 0};
	struct journal_stats st;

	fx->cfg.release_async = on_release;
	fx->cfg.sync_arg = &h;
	fx->cfg.segment_bytes = 4096;
	fx->cfg.max_total_bytes = 3 * 4096;
	struct journal *j = jopen(fx, NULL);
	append_records(fx, j, 300, 5, 100, timefmt_now_ns());
	journal_get_stats(j, &st);
	assert_true(st.segments_removed > 0);
	assert_int_equal(h.n, st.segments_removed);
	for (size_t i = 0; i < h.n; i++)
		close(h.fds[i]);
	check_read_all(j, journal_first_seq(j), 300);
	journal_close(j);
}

static void test_second_open_of_one_journal_fails_until_closed(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = jopen(fx, NULL);
	char err[512] = "";

	jopen_fails(fx, err, sizeof(err));
	assert_non_null(strstr(err, "in use by another logbusd"));
	journal_close(j);
	j = jopen(fx, NULL);
	journal_close(j);
}

static void test_large_batch_spans_several_writev_calls(void **state)
{
	struct fixture *fx = *state;
	struct journal *j = jopen(fx, NULL);

	/* 1 + 2 * 1500 iovecs: more than IOV_MAX (1024). */
	append_batch(j, T_SESSION, 1, 1500, 20, timefmt_now_ns());
	check_read_all_across_reopen(fx, j, 1, 1500);
}

static void test_record_over_max_record_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct journal *j;
	char *big, err[512] = "";
	struct journal_rec r;
	uint64_t first;

	fx->cfg.max_record = 100;
	j = jopen(fx, NULL);
	big = calloc(1, 101);
	assert_non_null(big);
	r.data = big;
	r.len = 101;
	struct frame_record st = t_stamp(timefmt_now_ns());
	assert_int_equal(
	    journal_append_batch(j, 1, 1, &r, 1, &st, &first, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "max_record"));
	assert_int_equal(journal_last_seq(j), 0);
	free(big);
	journal_close(j);
}

static void test_newest_segment_shorter_than_header_is_removed(void **state)
{
	struct fixture *fx = *state;
	struct journal_recovery rec;
	char path[300];
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, 5, 5, 30, timefmt_now_ns());
	journal_close(j);
	/* Broker died while creating the next segment. */
	snprintf(path, sizeof(path), "%s/%016x.journal", fx->dir, 6u);
	write_file(path, "wb", "LOGBUSJ1", 8);

	j = jopen(fx, &rec);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(journal_last_seq(j), 5);
	append_records(fx, j, 2, 2, 30, timefmt_now_ns());
	check_read_all(j, 1, 7);
	journal_close(j);
}

static void test_newest_segment_with_zero_header_is_set_aside(void **state)
{
	struct fixture *fx = *state;
	char path[300], aside[310], first[300], zeros[4096] = {0};
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, 5, 5, 30, timefmt_now_ns());
	journal_close(j);
	/* The power went before the new segment's first sync: its size
	 * reached the disk, its bytes did not. */
	snprintf(path, sizeof(path), "%s/%016x.journal", fx->dir, 6u);
	write_file(path, "wb", zeros, sizeof zeros);

	j = jopen(fx, NULL);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(aside, sizeof(aside), "%s.torn", path);
	assert_int_equal(file_size(aside), sizeof zeros);
	assert_int_equal(journal_last_seq(j), 5);
	append_records(fx, j, 2, 2, 30, timefmt_now_ns());
	check_read_all(j, 1, 7);
	journal_close(j);

	/* Below a newer segment, a header of zeros is damage, not a torn
	 * tail: it is set aside as damaged, and said so. */
	snprintf(first, sizeof(first), "%s/%016x.journal", fx->dir, 1u);
	write_file(first, "r+b", zeros, 64);
	snprintf(path, sizeof(path), "%s/%016x.journal", fx->dir, 8u);
	write_file(path, "wb", zeros, 64);
	struct journal_recovery rec;
	j = jopen(fx, &rec);
	assert_int_equal(rec.damaged_segments, 1);
	assert_int_equal(damage_saying(fx, first), 1);
	snprintf(aside, sizeof(aside), "%s.damaged", first);
	assert_int_equal(access(aside, F_OK), 0);
	journal_close(j);
}

/* Three sealed segments and an active one: records 1..30, 10 a segment. */
static void four_segments(struct fixture *fx, char paths[4][300])
{
	fx->cfg.segment_bytes = 10 * (FRAME_OVERHEAD + 100) + 64;
	struct journal *j = jopen(fx, NULL);
	for (int k = 0; k < 3; k++)
		append_records(fx, j, 10, 10, 100, timefmt_now_ns());
	append_records(fx, j, 1, 1, 100, timefmt_now_ns());
	assert_int_equal(list_segments(fx, NULL, 0), 4);
	journal_close(j);
	for (unsigned k = 0; k < 4; k++)
		snprintf(paths[k], 300, "%s/%016x.journal", fx->dir,
		         1u + 10 * k);
	for (unsigned k = 0; k < 4; k++)
		assert_int_equal(access(paths[k], F_OK), 0);
}

/* Is seq in a gap of the journal, and up to where? */
static int gap_at(struct journal *j, uint64_t seq, uint64_t *last)
{
	char err[512] = "";
	int rc = journal_gap(j, seq, last, err, sizeof err);
	if (rc < 0)
		print_error("journal_gap: %s\n", err);
	assert_true(rc >= 0);
	return rc;
}

/* One flipped byte in an old segment's header used to stop the broker from
 * starting.  The segment is set aside and reported; what it held is gone,
 * and a cursor into it says so (it is older than the oldest kept). */
static void test_damaged_old_segment_header_is_set_aside(void **state)
{
	struct fixture *fx = *state;
	char paths[4][300], aside[310];
	struct journal_recovery rec;

	four_segments(fx, paths);
	xor_byte(paths[0], 40, 0xff); /* created_ns: checksum fails */
	struct journal *j = jopen(fx, &rec);
	assert_int_equal(rec.damaged_segments, 1);
	snprintf(aside, sizeof aside, "%s.damaged", paths[0]);
	assert_int_equal(access(paths[0], F_OK), -1);
	assert_int_equal(access(aside, F_OK), 0);
	assert_int_equal(damage_saying(fx, paths[0]), 1);
	assert_int_equal(damage_saying(fx, "checksum"), 1);
	assert_int_equal(journal_first_seq(j), 11);
	check_read_all(j, 11, 31);
	append_records(fx, j, 2, 2, 100, timefmt_now_ns());
	check_read_all(j, 11, 33);
	journal_close(j);
}

/* A damaged segment between two good ones leaves a gap, found at open. */
static void test_damaged_middle_segment_is_a_gap(void **state)
{
	struct fixture *fx = *state;
	char paths[4][300];
	struct journal_recovery rec;
	uint64_t last = 0;

	four_segments(fx, paths);
	xor_byte(paths[1], 40, 0xff);
	struct journal *j = jopen(fx, &rec);
	assert_int_equal(rec.damaged_segments, 1);
	assert_int_equal(gap_at(j, 15, &last), 1);
	assert_int_equal(last, 20);
	assert_int_equal(gap_at(j, 11, &last), 1);
	assert_int_equal(gap_at(j, 10, &last), 0);
	assert_int_equal(gap_at(j, 21, &last), 0);
	/* A read stops in front of the gap; after it, it goes on. */
	check_read_up(j, 0, 0, 1, 10);
	check_read_up(j, 20, 0, 21, 31);
	journal_close(j);
}

/* A deleted old segment used to be a silent gap: a cursor inside it read on
 * from the next segment.  It is found when the segment before it is
 * indexed, reported once, and a read never crosses it. */
static void test_deleted_old_segment_is_a_gap_reported_once(void **state)
{
	struct fixture *fx = *state;
	char paths[4][300];
	uint64_t last = 0;

	four_segments(fx, paths);
	assert_int_equal(unlink(paths[1]), 0);
	struct journal *j = jopen(fx, NULL);
	assert_int_equal(gap_at(j, 11, &last), 1);
	assert_int_equal(last, 20);
	assert_int_equal(gap_at(j, 20, &last), 1);
	assert_int_equal(gap_at(j, 21, &last), 0);
	check_read_up(j, 0, 0, 1, 10);
	check_read_up(j, 5, 0, 6, 10);
	check_read_up(j, 20, 0, 21, 31);
	assert_int_equal(damage_saying(fx, "11..20"), 1);
	journal_close(j);
}

/* Start-up indexes only the newest segments; journal_index_next indexes
 * the rest, a segment a call, so that damage is reported without a read. */
static void test_index_next_reports_damage_without_a_read(void **state)
{
	struct fixture *fx = *state;
	char paths[4][300];
	char err[512] = "";
	int rc, calls = 0;

	four_segments(fx, paths);
	assert_int_equal(unlink(paths[1]), 0);
	/* and a flipped byte in a record of the oldest segment */
	xor_byte(paths[0], find_in_file(paths[0], "record 3 ") + 2, 0x20);
	struct journal *j = jopen(fx, NULL);
	assert_int_equal(fx->ndamage, 0);
	while ((rc = journal_index_next(j, err, sizeof err)) == 1)
		assert_true(++calls < 10);
	assert_int_equal(rc, 0);
	assert_int_equal(damage_saying(fx, "11..20"), 1);
	assert_int_equal(damage_saying(fx, "1 corrupt frame"), 1);
	/* both name the oldest segment: its bad frame, the gap after it */
	assert_int_equal(damage_saying(fx, paths[0]), 2);
	/* Read: nothing is reported twice. */
	size_t before = fx->ndamage;
	struct seen s = read_after(j, 0, 0);
	assert_int_equal(s.n, 9); /* 1..10 but 3 */
	seen_free(&s);
	assert_int_equal(fx->ndamage, before);
	journal_close(j);
}

/* The newest segment's header damaged: it is set aside, and the sequence
 * goes on above anything it could have held, never reusing a number. */
static void test_damaged_newest_segment_header_never_reuses_a_seq(void **state)
{
	struct fixture *fx = *state;
	char path[256], aside[300];
	struct journal_recovery rec;
	struct journal *j;

	closed_journal(fx, 3, 3, 30, path, sizeof(path));
	uint64_t size = file_size(path);
	xor_byte(path, 40, 0xff);

	j = jopen(fx, &rec);
	assert_int_equal(rec.damaged_segments, 1);
	snprintf(aside, sizeof aside, "%s.damaged", path);
	assert_int_equal(file_size(aside), size);
	assert_int_equal(damage_saying(fx, path), 1);
	assert_true(journal_last_seq(j) >= 3);
	uint64_t first =
	    append_batch(j, T_SESSION, 500, 1, 30, timefmt_now_ns());
	assert_true(first > 3);
	journal_close(j);
}

/* A segment name that is a symlink (planted where the directory was
 * writable) is never followed: the open fails naming it, and the file it
 * points at is neither read nor cut back as a torn tail. */
static void test_symlinked_segment_is_never_followed(void **state)
{
	struct fixture *fx = *state;
	char target[200], link[300], err[512] = "";
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, 3, 3, 30, timefmt_now_ns());
	journal_close(j);
	snprintf(target, sizeof target, "%s/precious", fx->root);
	const char *text = "not a journal segment, and it must stay as it is\n";
	write_file(target, "w", text, strlen(text));
	uint64_t size = file_size(target);
	snprintf(link, sizeof link, "%s/%016x.journal", fx->dir, 9u);
	assert_int_equal(symlink(target, link), 0);

	jopen_fails(fx, err, sizeof err);
	assert_non_null(strstr(err, link));
	assert_int_equal(file_size(target), size);
}

static void test_segment_from_another_journal_fails_open(void **state)
{
	struct fixture *fx = *state;
	unsigned char h[64];
	char err[512] = "", path[300];
	struct journal *j = jopen(fx, NULL);

	append_records(fx, j, 3, 3, 30, timefmt_now_ns());
	journal_close(j);
	/* A newer segment, valid on its own, from another journal. */
	memset(h, 0, sizeof(h));
	memcpy(h, "LOGBUSJ1", 8);
	le_put32(h + 8, 2);
	le_put32(h + 12, 64);
	memset(h + 16, 0xcd, JOURNAL_ID_LEN);
	le_put64(h + 32, 4);
	le_put32(h + 60, crc32c(0, h, 60));
	snprintf(path, sizeof(path), "%s/%016x.journal", fx->dir, 4u);
	write_file(path, "wb", h, 64);

	jopen_fails(fx, err, sizeof(err));
	assert_non_null(strstr(err, "0000000000000001.journal"));
	assert_non_null(strstr(err, "another journal"));
}

/* Version 1 segments had 32-byte record headers: reading them with this
 * layout would misparse every record, so open refuses and says what to do. */
static void test_version_1_segment_is_refused_not_misread(void **state)
{
	struct fixture *fx = *state;
	char err[512] = "", path[256];
	unsigned char h[4];

	closed_journal(fx, 3, 3, 30, path, sizeof(path));
	/* Make it a valid version 1 header: version, then the checksum. */
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	unsigned char hdr[64];
	assert_int_equal(fread(hdr, 1, 64, f), 64);
	le_put32(hdr + 8, 1);
	le_put32(h, crc32c(0, hdr, 60));
	memcpy(hdr + 60, h, 4);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	assert_int_equal(fwrite(hdr, 1, 64, f), 64);
	fclose(f);

	jopen_fails(fx, err, sizeof(err));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "version 1"));
	assert_non_null(strstr(err, "move that journal directory away"));
}

/* --- reads that name services ------------------------------------------ */

/* Which service each seq's record has (-1: not a record_decode one). */
struct svc_log {
	int svc[1 << 16];
	uint64_t n; /* seqs noted */
};

static void svc_name(char *buf, size_t cap, int svc)
{
	snprintf(buf, cap, "service_%d", svc);
}

/* Append one batch of n msgpack records of service svc (-1: "record <seq>"
 * text that is no record at all), each with a message of pad bytes. */
static void append_svc(struct fixture *fx, struct journal *j,
                       struct svc_log *lg, int svc, size_t n, size_t pad,
                       int pass_svc)
{
	struct journal_rec *recs = calloc(n, sizeof(*recs));
	msgpack_sbuffer *sbs = calloc(n, sizeof(*sbs));
	char name[32], msg[1024], err[512] = "";
	uint64_t first = 0, want = journal_last_seq(j) + 1;

	assert_non_null(recs);
	assert_non_null(sbs);
	svc_name(name, sizeof name, svc);
	for (size_t i = 0; i < n; i++) {
		msgpack_packer pk;
		uint32_t mlen = payload(msg, sizeof msg, want + i, pad);
		msgpack_sbuffer_init(&sbs[i]);
		msgpack_packer_init(&pk, &sbs[i], msgpack_sbuffer_write);
		if (svc >= 0) {
			struct record_in in = {
			    .time_ns = 1,
			    .level = 20,
			    .service = {name, (uint32_t)strlen(name)},
			    .logger = {"l", 1},
			    .message = {msg, mlen}};
			record_pack(&pk, &in);
		} else {
			msgpack_sbuffer_write(&sbs[i], msg, mlen);
		}
		recs[i].data = sbs[i].data;
		recs[i].len = (uint32_t)sbs[i].size;
		if (pass_svc && svc >= 0) {
			recs[i].svc = name;
			recs[i].svc_len = (uint32_t)strlen(name);
		}
		assert_true(want + i < sizeof lg->svc / sizeof lg->svc[0]);
		lg->svc[want + i] = svc;
	}
	lg->n = want + n - 1;
	struct frame_record st = t_stamp(timefmt_now_ns());
	int rc = journal_append_batch(j, T_SESSION, fx->next_batch++, recs, n,
	                              &st, &first, err, sizeof(err));
	if (rc)
		print_error("journal_append_batch: %s\n", err);
	assert_int_equal(rc, 0);
	assert_int_equal(first, want);
	for (size_t i = 0; i < n; i++)
		msgpack_sbuffer_destroy(&sbs[i]);
	free(sbs);
	free(recs);
}

/* What a read naming services saw: the seqs of the wanted records among
 * those it was handed, how many it was handed, and where it stood. */
struct want_seen {
	const struct svc_log *lg;
	const int *svcs;
	size_t nsvcs;
	struct seen s;
	uint64_t handed, skips;
	uint64_t pos; /* forward: last seq handed or passed over */
	int reverse, bad;
};

static int want_wanted(const struct want_seen *w, uint64_t seq)
{
	for (size_t i = 0; i < w->nsvcs; i++)
		if (seq <= w->lg->n && w->lg->svc[seq] == w->svcs[i])
			return 1;
	return 0;
}

static int want_collect(void *arg, const struct frame_record *r,
                        const unsigned char *frame, uint32_t frame_len)
{
	struct want_seen *w = arg;

	(void)frame;
	(void)frame_len;
	if (!w->reverse && r->seq <= w->pos)
		w->bad++; /* out of order, with the skips too */
	w->pos = r->seq;
	w->handed++;
	if (!want_wanted(w, r->seq))
		return 0;
	if (w->s.n == w->s.cap) {
		w->s.cap = w->s.cap ? 2 * w->s.cap : 256;
		w->s.seqs = realloc(w->s.seqs, w->s.cap * sizeof(*w->s.seqs));
		assert_non_null(w->s.seqs);
	}
	w->s.seqs[w->s.n++] = r->seq;
	return 0;
}

static int want_skip(void *arg, uint64_t last)
{
	struct want_seen *w = arg;

	if (w->reverse || last <= w->pos)
		w->bad++;
	for (uint64_t q = w->pos + 1; q <= last; q++)
		if (want_wanted(w, q))
			w->bad++; /* passed over a wanted record */
	w->pos = last;
	w->skips++;
	return 0;
}

static void want_free(struct want_seen *w)
{
	seen_free(&w->s);
}

/* Read with and without naming services svcs[0..n), forward from after
 * and backward from the newest, and check that both give the wanted
 * records exactly; returns how many records the forward read was handed. */
static uint64_t check_want(struct journal *j, const struct svc_log *lg,
                           uint64_t after, const int *svcs, size_t n)
{
	struct lb_str names[8];
	char buf[8][32];
	struct journal_want want = {names, n, want_skip};
	struct want_seen plain = {.lg = lg, .svcs = svcs, .nsvcs = n};
	struct want_seen fwd = plain, rev = plain, all = plain;
	char err[512] = "";

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		svc_name(buf[i], sizeof buf[i], svcs[i]);
		names[i] = (struct lb_str){buf[i], (uint32_t)strlen(buf[i])};
	}
	plain.pos = fwd.pos = after;
	assert_int_equal(
	    journal_read(j, after, want_collect, &plain, err, sizeof(err)), 0);
	assert_int_equal(journal_read_want(j, after, &want, want_collect, &fwd,
	                                   err, sizeof(err)),
	                 0);
	assert_int_equal(plain.bad, 0);
	assert_int_equal(fwd.bad, 0);
	assert_int_equal(fwd.s.n, plain.s.n);
	if (plain.s.n)
		assert_memory_equal(fwd.s.seqs, plain.s.seqs,
		                    plain.s.n * sizeof(uint64_t));
	/* It got to the end, as far as a paged reader can tell. */
	assert_int_equal(
	    fwd.pos, journal_last_seq(j) > after ? journal_last_seq(j) : after);

	/* Backward from the newest: every wanted record kept, newest first. */
	want.on_skip = NULL;
	rev.reverse = 1;
	assert_int_equal(journal_read_reverse_want(j, UINT64_MAX, &want,
	                                           want_collect, &rev, err,
	                                           sizeof(err)),
	                 0);
	assert_int_equal(rev.bad, 0);
	all.pos = journal_first_seq(j) - 1;
	assert_int_equal(
	    journal_read(j, 0, want_collect, &all, err, sizeof(err)), 0);
	assert_int_equal(rev.s.n, all.s.n);
	for (size_t i = 0; i < rev.s.n; i++)
		assert_int_equal(rev.s.seqs[i], all.s.seqs[all.s.n - 1 - i]);
	uint64_t handed = fwd.handed;
	want_free(&plain);
	want_free(&fwd);
	want_free(&rev);
	want_free(&all);
	return handed;
}

/* The path of the segment that holds seq. */
static void segment_of(const struct fixture *fx, uint64_t seq, char *path,
                       size_t cap)
{
	DIR *d = opendir(fx->dir);
	uint64_t best = 0;
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		uint64_t first;
		if (!is_segment_name(de->d_name))
			continue;
		first = strtoull(de->d_name, NULL, 16);
		if (first <= seq && first > best)
			best = first;
	}
	closedir(d);
	assert_true(best > 0);
	snprintf(path, cap, "%s/%016" PRIx64 ".journal", fx->dir, best);
}

/* The layout the bench uses: each service's records in stretches across
 * the journal, over several segments, with a stretch of many services
 * interleaved (more than a block's filter can tell apart), records that
 * are not records at all, and services passed or read from the bytes. */
static void fill_services(struct fixture *fx, struct journal *j,
                          struct svc_log *lg)
{
	for (int round = 0; round < 3; round++) {
		for (int svc = 0; svc < 20; svc++)
			append_svc(fx, j, lg, svc, 300, 150, svc % 2);
		for (int i = 0; i < 300; i++) /* one record each */
			append_svc(fx, j, lg, 100 + (i * 7) % 300, 1, 150,
			           i % 2);
		append_svc(fx, j, lg, -1, 50, 150, 0);
	}
}

static void
test_reads_naming_services_return_what_a_full_scan_does(void **state)
{
	struct fixture *fx = *state;
	struct svc_log *lg = calloc(1, sizeof(*lg));
	const int one[] = {7}, two[] = {3, 150}, none[] = {399},
	          dense[] = {107};
	struct journal *j;
	uint64_t total;

	assert_non_null(lg);
	fx->cfg.segment_bytes = 512 * 1024;
	j = jopen(fx, NULL);
	fill_services(fx, j, lg);
	total = journal_last_seq(j);
	assert_true(list_segments(fx, NULL, 0) >= 4);
	for (int round = 0; round < 2; round++) {
		/* A service in 3 stretches is handed few records besides. */
		assert_true(check_want(j, lg, 0, one, 1) < total / 5);
		check_want(j, lg, 0, two, 2);
		check_want(j, lg, 0, dense, 1);
		assert_true(check_want(j, lg, 0, none, 1) < total / 5);
		check_want(j, lg, total / 2, one, 1);
		check_want(j, lg, total - 1, one, 1);
		check_want(j, lg, total, one, 1);
		/* Again after a restart: the older segments are indexed
		 * lazily, by the reads themselves. */
		journal_close(j);
		j = jopen(fx, NULL);
	}
	/* Retention removes the oldest segments under the reads. */
	fx->cfg.max_total_bytes = 1024 * 1024;
	journal_close(j);
	j = jopen(fx, NULL);
	fill_services(fx, j, lg);
	journal_retain(j);
	assert_true(journal_first_seq(j) > 1);
	check_want(j, lg, journal_first_seq(j) - 1, one, 1);
	check_want(j, lg, journal_first_seq(j) - 1, two, 2);
	check_want(j, lg, journal_first_seq(j) - 1, dense, 1);
	journal_close(j);
	free(lg);
}

/* Start-up indexes the newest segments without reading services; reads
 * learn each block's when they meet it, appends go on meanwhile. */
static void
test_reads_naming_services_learn_blocks_start_up_left_blind(void **state)
{
	struct fixture *fx = *state;
	struct svc_log *lg = calloc(1, sizeof(*lg));
	const int one[] = {7}, two[] = {3, 150}, none[] = {399};
	struct journal *j;

	assert_non_null(lg);
	fx->cfg.segment_bytes = 64u << 20; /* one segment, ~70 blocks */
	j = jopen(fx, NULL);
	fill_services(fx, j, lg);
	journal_close(j);
	j = jopen(fx, NULL);
	/* Reads learn the blocks as they meet them; appends go on. */
	check_want(j, lg, journal_last_seq(j) - 1, one, 1);
	fill_services(fx, j, lg);
	assert_int_equal(list_segments(fx, NULL, 0), 1);
	assert_true(check_want(j, lg, 0, one, 1) < journal_last_seq(j) / 5);
	check_want(j, lg, 0, two, 2);
	assert_true(check_want(j, lg, 0, none, 1) < journal_last_seq(j) / 5);
	journal_close(j);
	j = jopen(fx, NULL);
	fill_services(fx, j, lg);
	check_want(j, lg, 0, two, 2);
	assert_true(check_want(j, lg, 0, one, 1) < journal_last_seq(j) / 5);
	journal_close(j);
	free(lg);
}

static void test_reads_naming_services_skip_exactly_the_bad_ranges(void **state)
{
	struct fixture *fx = *state;
	struct svc_log *lg = calloc(1, sizeof(*lg));
	const int one[] = {7}, dense[] = {107};
	char path[256];
	struct journal *j;

	assert_non_null(lg);
	j = jopen(fx, NULL);
	fill_services(fx, j, lg);
	journal_close(j);
	/* A flipped byte inside a record of service 7's second stretch,
	 * in a sealed segment that the reads index lazily. */
	char needle[32];
	uint64_t victim = 0;
	for (uint64_t q = 1; q <= lg->n && !victim; q++)
		if (lg->svc[q] == 7 && q > 6000)
			victim = q + 10;
	segment_of(fx, victim, path, sizeof path);
	assert_true(list_segments(fx, NULL, 0) > 2);
	snprintf(needle, sizeof needle, "record %" PRIu64 " ", victim);
	xor_byte(path, find_in_file(path, needle) + 12, 0x20);
	/* And one in the segment before the newest, which start-up scans
	 * without reading services. */
	char newest[256];
	list_segments(fx, newest, sizeof newest);
	uint64_t first_newest = strtoull(strrchr(newest, '/') + 1, NULL, 16);
	uint64_t victim2 = first_newest - 100;
	assert_true(victim2 > victim + 1000);
	segment_of(fx, victim2, path, sizeof path);
	snprintf(needle, sizeof needle, "record %" PRIu64 " ", victim2);
	xor_byte(path, find_in_file(path, needle) + 12, 0x20);
	j = jopen(fx, NULL);
	check_want(j, lg, 0, one, 1);
	check_want(j, lg, 0, dense, 1);
	/* No read saw the victim: it was in a bad range. */
	const int gone[] = {-2};
	struct want_seen w = {.lg = lg, .svcs = gone, .nsvcs = 1};
	char err[512] = "";
	lg->svc[victim] = lg->svc[victim2] = -2;
	assert_int_equal(journal_read(j, 0, want_collect, &w, err, sizeof err),
	                 0);
	assert_int_equal(w.handed, journal_last_seq(j) - 2);
	assert_int_equal(w.s.n, 0);
	journal_close(j);
	free(lg);
}

/* What a decoded read saw: seqs, and a check of each view against the
 * service svc_log says its record has. */
struct decoded_seen {
	const struct svc_log *lg;
	struct seen s;
	size_t undecoded, bad;
};

static int decoded_collect(void *arg, const struct frame_record *r,
                           const struct record_view *v)
{
	struct decoded_seen *d = arg;
	char name[32], msg[32];
	int svc = r->seq <= d->lg->n ? d->lg->svc[r->seq] : -3;

	if (v == NULL) {
		d->undecoded++;
		d->bad += svc != -1;
	} else {
		svc_name(name, sizeof name, svc);
		int n =
		    snprintf(msg, sizeof msg, "record %" PRIu64 " ", r->seq);
		d->bad += svc < 0 || v->service.len != strlen(name) ||
		          memcmp(v->service.p, name, v->service.len) != 0 ||
		          v->message.len < (uint32_t)n ||
		          memcmp(v->message.p, msg, (size_t)n) != 0 ||
		          v->level != 20 || v->exit != NULL;
	}
	d->bad += r->uid != T_UID || r->pid != T_PID;
	if (d->s.n == d->s.cap) {
		d->s.cap = d->s.cap ? 2 * d->s.cap : 256;
		d->s.seqs = realloc(d->s.seqs, d->s.cap * sizeof(*d->s.seqs));
		assert_non_null(d->s.seqs);
	}
	d->s.seqs[d->s.n++] = r->seq;
	return d->s.stop_at && d->s.n >= d->s.stop_at;
}

/* journal_read_records hands each record decoded, in journal_read's
 * order, with NULL for bytes that are no record, and stops when told. */
static void test_read_records_hands_each_record_decoded(void **state)
{
	struct fixture *fx = *state;
	struct svc_log *lg = calloc(1, sizeof(*lg));
	struct journal *j;
	char err[512] = "";

	assert_non_null(lg);
	fx->cfg.segment_bytes = 64 * 1024;
	j = jopen(fx, NULL);
	for (int round = 0; round < 4; round++) {
		append_svc(fx, j, lg, round, 200, 150, round % 2);
		append_svc(fx, j, lg, -1, 7, 150, 0);
	}
	assert_true(list_segments(fx, NULL, 0) > 2);

	struct decoded_seen all = {.lg = lg};
	assert_int_equal(
	    journal_read_records(j, 0, decoded_collect, &all, err, sizeof err),
	    0);
	assert_seqs_up(&all.s, 1, journal_last_seq(j));
	assert_int_equal(all.undecoded, 4 * 7);
	assert_int_equal(all.bad, 0);
	seen_free(&all.s);

	struct decoded_seen some = {.lg = lg, .s = {.stop_at = 300}};
	assert_int_equal(journal_read_records(j, 150, decoded_collect, &some,
	                                      err, sizeof err),
	                 0);
	assert_seqs_up(&some.s, 151, 450);
	assert_int_equal(some.undecoded, 2 * 7); /* 201..207, 408..414 */
	assert_int_equal(some.bad, 0);
	seen_free(&some.s);
	journal_close(j);
	free(lg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	    T(test_append_then_read_back_in_order),
	    T(test_sequence_survives_reopen),
	    T(test_rotation_by_size_keeps_every_record),
	    T(test_retention_drops_oldest_segments_never_active),
	    T(test_retention_by_age_drops_segments_with_old_records),
	    T(test_retention_leaves_the_last_close_to_release_async),
	    T(test_read_after_seq_starts_mid_segment),
	    T(test_read_reverse_yields_newest_first_across_segments),
	    T(test_torn_tail_is_truncated_on_restart),
	    T(test_torn_batch_is_truncated_whole),
	    T(test_flipped_byte_in_middle_of_last_segment_is_skipped),
	    T(test_corrupt_tail_with_nothing_valid_after_is_truncated),
	    T(test_batch_markers_replayed_at_open),
	    T(test_batch_markers_replayed_from_last_two_segments),
	    T(test_batch_markers_replayed_from_replay_bytes),
	    T(test_last_batch_outlives_its_segment_in_sessions_file),
	    T(test_retention_saves_sessions_file_before_removing),
	    T(test_damaged_sessions_file_is_reported_and_ignored),
	    T(test_failing_sessions_save_is_reported_once),
	    T(test_journal_id_stable_across_reopen),
	    T(test_append_failure_leaves_journal_unchanged),
	    T(test_append_goes_on_in_a_new_segment_after_an_undo_failed),
	    T(test_removed_directory_is_noticed_and_made_again),
	    T(test_append_into_a_removed_directory_is_refused_once),
	    T(test_callback_can_stop_read),
	    T(test_sync_runs_only_when_dirty),
	    T(test_sync_later_hands_a_descriptor_and_never_waits),
	    T(test_second_open_of_one_journal_fails_until_closed),
	    T(test_large_batch_spans_several_writev_calls),
	    T(test_record_over_max_record_is_refused),
	    T(test_newest_segment_shorter_than_header_is_removed),
	    T(test_newest_segment_with_zero_header_is_set_aside),
	    T(test_damaged_old_segment_header_is_set_aside),
	    T(test_damaged_middle_segment_is_a_gap),
	    T(test_deleted_old_segment_is_a_gap_reported_once),
	    T(test_index_next_reports_damage_without_a_read),
	    T(test_damaged_newest_segment_header_never_reuses_a_seq),
	    T(test_symlinked_segment_is_never_followed),
	    T(test_segment_from_another_journal_fails_open),
	    T(test_version_1_segment_is_refused_not_misread),
	    T(test_reads_naming_services_return_what_a_full_scan_does),
	    T(test_reads_naming_services_learn_blocks_start_up_left_blind),
	    T(test_reads_naming_services_skip_exactly_the_bad_ranges),
	    T(test_read_records_hands_each_record_decoded),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
