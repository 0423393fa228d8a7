/*
 * fanout.c: journal/fanout, the fan-out's positions (fanout.h says what
 * they mean and promise).
 *
 * Layout: slots of SLOT bytes, each ending in the CRC-32C of the rest.
 * Slot 0 is the header: MAGIC, the journal id, the routes and reports
 * marks.  Slot k >= 1 is a routed file's: its name NUL-padded (an empty
 * name is a free slot), done, dev, ino, size (u64 little-endian) and a
 * failing byte.  Memory holds every slot, so a slot is found by name
 * without reading the file and the whole file can be written again.
 *
 * Invariants: the file is only written through fd, made and renamed
 * through the journal directory's descriptor, never through a link; a
 * slot that fails its checksum is dropped at load and its number reused;
 * positions of another journal are never used.
 */
#include "fanout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "dirs.h"
#include "journal.h"

#define SLOT       256
#define CRC_AT     (SLOT - 4)
#define MAGIC      "logbus-fanout-1\n"
#define MAGIC_LEN  16
#define NAME_AT    0
#define DONE_AT    200
#define DEV_AT     208
#define INO_AT     216
#define SIZE_AT    224
#define FAILING_AT 232
#define TMP_FILE   FANOUT_FILE ".tmp"
#define SLOTS_MAX  8192 /* routes.c has at most 1,000 automatic ones */

struct fanout_slot {
	char name[FANOUT_NAME_MAX + 1]; /* "": free */
	struct fanout_pos pos;
};

struct fanout {
	int log_fd; /* not ours */
	int fd;     /* the file, O_RDWR; -1: positions not kept */
	char path[4200];
	unsigned char id[JOURNAL_ID_LEN];
	bool loaded;
	uint64_t routes, reports;
	struct fanout_slot *v; /* slot k is v[k - 1] */
	size_t n, cap;
	char error[4400];
};

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void seal(unsigned char *s)
{
	uint32_t c = crc32c(0, s, CRC_AT);
	for (int i = 0; i < 4; i++)
		s[CRC_AT + i] = (unsigned char)(c >> (8 * i));
}

static bool sealed(const unsigned char *s)
{
	uint32_t c = crc32c(0, s, CRC_AT), got = 0;
	for (int i = 3; i >= 0; i--)
		got = got << 8 | s[CRC_AT + i];
	return c == got;
}

static void encode_header(const struct fanout *f, unsigned char *s)
{
	memset(s, 0, SLOT);
	memcpy(s, MAGIC, MAGIC_LEN);
	memcpy(s + MAGIC_LEN, f->id, JOURNAL_ID_LEN);
	put64(s + 32, f->routes);
	put64(s + 40, f->reports);
	seal(s);
}

static void encode_slot(const struct fanout_slot *e, unsigned char *s)
{
	memset(s, 0, SLOT);
	memcpy(s + NAME_AT, e->name, strlen(e->name));
	put64(s + DONE_AT, e->pos.done);
	put64(s + DEV_AT, e->pos.dev);
	put64(s + INO_AT, e->pos.ino);
	put64(s + SIZE_AT, e->pos.size);
	s[FAILING_AT] = e->pos.failing;
	seal(s);
}

/* A slot read back: 1 with e, 0 when free, -1 when damaged. */
static int decode_slot(const unsigned char *s, struct fanout_slot *e)
{
	if (!sealed(s))
		return -1;
	if (memchr(s + NAME_AT, '\0', FANOUT_NAME_MAX + 1) == NULL)
		return -1;
	memset(e, 0, sizeof *e);
	memcpy(e->name, s + NAME_AT, FANOUT_NAME_MAX);
	if (e->name[0] == '\0')
		return 0;
	e->pos.done = get64(s + DONE_AT);
	e->pos.dev = get64(s + DEV_AT);
	e->pos.ino = get64(s + INO_AT);
	e->pos.size = get64(s + SIZE_AT);
	e->pos.failing = s[FAILING_AT] != 0;
	return 1;
}

static void failed(struct fanout *f, const char *what)
{
	snprintf(f->error, sizeof f->error, "%s %.4200s: %s", what, f->path,
	         strerror(errno));
}

static int journal_dirfd(const struct fanout *f)
{
	return openat(f->log_fd, "journal",
	              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Read the file: positions into f when it is this journal's; the note
 * says what could not be used. */
static void load(struct fanout *f, int fd, char *note, size_t notelen)
{
	unsigned char s[SLOT];
	size_t damaged = 0;

	ssize_t got = pread(fd, s, SLOT, 0);
	if (got == 0)
		return; /* made, never written: a broker killed at once */
	if (got != SLOT || !sealed(s) || memcmp(s, MAGIC, MAGIC_LEN) != 0) {
		snprintf(note, notelen,
		         "%s has a damaged header; it is started again, so "
		         "lines of a batch a crash interrupted may be missing "
		         "from the routed files this once",
		         f->path);
		return;
	}
	if (memcmp(s + MAGIC_LEN, f->id, JOURNAL_ID_LEN) != 0) {
		snprintf(note, notelen,
		         "%s belongs to another journal; it is started again "
		         "for this one",
		         f->path);
		return;
	}
	f->loaded = true;
	f->routes = get64(s + 32);
	f->reports = get64(s + 40);
	for (off_t at = SLOT; f->n < SLOTS_MAX; at += SLOT) {
		struct fanout_slot e;
		if (pread(fd, s, SLOT, at) != SLOT)
			break;
		int rc = decode_slot(s, &e);
		damaged += rc < 0;
		if (rc <= 0)
			continue; /* its number is free again */
		if (f->n == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 64;
			struct fanout_slot *v = realloc(f->v, cap * sizeof *v);
			if (v == NULL)
				break;
			f->v = v;
			f->cap = cap;
		}
		f->v[f->n++] = e;
	}
	if (damaged)
		snprintf(note, notelen,
		         "%s: %zu damaged slot(s) dropped; those routed files "
		         "go on from the journal's end",
		         f->path, damaged);
}

struct fanout *fanout_open(int log_fd, const char *log_dir,
                           const unsigned char *journal_id, char *note,
                           size_t notelen)
{
	struct fanout *f = calloc(1, sizeof *f);

	*note = '\0';
	if (f == NULL)
		return NULL;
	f->log_fd = log_fd;
	f->fd = -1;
	memcpy(f->id, journal_id, JOURNAL_ID_LEN);
	snprintf(f->path, sizeof f->path, "%s/journal/" FANOUT_FILE, log_dir);
	int dfd = journal_dirfd(f);
	int fd = dfd < 0 ? -1
	                 : openat(dfd, FANOUT_FILE,
	                          O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0) {
		load(f, fd, note, notelen);
		close(fd);
	}
	fanout_rewrite(f); /* clean, only what was loaded */
	return f;
}

void fanout_free(struct fanout *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->v);
	free(f);
}

bool fanout_loaded(const struct fanout *f, uint64_t *routes, uint64_t *reports)
{
	*routes = f->routes;
	*reports = f->reports;
	return f->loaded;
}

int fanout_slot(struct fanout *f, const char *name, struct fanout_pos *pos,
                bool *found)
{
	*found = false;
	if (f == NULL || strlen(name) > FANOUT_NAME_MAX || *name == '\0')
		return -1;
	size_t free_at = f->n;
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->v[i].name, name) == 0) {
			*pos = f->v[i].pos;
			*found = true;
			return (int)i + 1;
		}
		if (f->v[i].name[0] == '\0' && free_at == f->n)
			free_at = i;
	}
	if (free_at == f->n) {
		if (f->n == SLOTS_MAX)
			return -1;
		if (f->n == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 64;
			struct fanout_slot *v = realloc(f->v, cap * sizeof *v);
			if (v == NULL)
				return -1;
			f->v = v;
			f->cap = cap;
		}
		f->n++;
	}
	memset(&f->v[free_at], 0, sizeof f->v[free_at]);
	snprintf(f->v[free_at].name, sizeof f->v[free_at].name, "%s", name);
	return (int)free_at + 1;
}

const char *fanout_name(const struct fanout *f, size_t i)
{
	return i < f->n ? f->v[i].name : NULL;
}

static void write_slot(struct fanout *f, const unsigned char *s, size_t k)
{
	if (f->fd < 0)
		return;
	if (pwrite(f->fd, s, SLOT, (off_t)(k * SLOT)) != SLOT) {
		if (errno == 0)
			errno = ENOSPC;
		failed(f, "write");
	}
}

void fanout_save(struct fanout *f, int slot, const struct fanout_pos *pos)
{
	unsigned char s[SLOT];

	if (f == NULL || slot < 1 || (size_t)slot > f->n)
		return;
	f->v[slot - 1].pos = *pos;
	encode_slot(&f->v[slot - 1], s);
	write_slot(f, s, (size_t)slot);
}

void fanout_mark(struct fanout *f, uint64_t routes, uint64_t reports)
{
	unsigned char s[SLOT];

	if (f == NULL || (f->routes == routes && f->reports == reports))
		return;
	f->routes = routes;
	f->reports = reports;
	encode_header(f, s);
	write_slot(f, s, 0);
}

int fanout_rewrite(struct fanout *f)
{
	unsigned char s[SLOT];
	int dfd = journal_dirfd(f), fd = -1;

	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (dfd < 0) {
		failed(f, "open the directory of");
		return -1;
	}
	unlinkat(dfd, TMP_FILE, 0); /* a crash's, never followed */
	fd = openat(dfd, TMP_FILE,
	            O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0) {
		failed(f, "create");
		goto fail;
	}
	encode_header(f, s);
	if (dirs_write_all(fd, s, SLOT) < 0)
		goto write_failed;
	for (size_t i = 0; i < f->n; i++) {
		encode_slot(&f->v[i], s);
		if (dirs_write_all(fd, s, SLOT) < 0)
			goto write_failed;
	}
	if (fdatasync(fd) < 0 || renameat(dfd, TMP_FILE, dfd, FANOUT_FILE) < 0)
		goto write_failed;
	close(dfd);
	f->fd = fd;
	f->error[0] = '\0';
	return 0;
write_failed:
	failed(f, "write");
	close(fd);
	unlinkat(dfd, TMP_FILE, 0);
fail:
	close(dfd);
	return -1;
}

const char *fanout_error(const struct fanout *f)
{
	return f->error;
}
