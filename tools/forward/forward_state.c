/*
 * forward_state.c: the positions file, one line "NAME CURSOR" per output,
 * the cursor after the last record that output's destination acknowledged.
 *
 * Invariants: the file on disk is always whole, the old version or the new
 * one (written to FILE.tmp, fsync'd, renamed over FILE, the directory
 * fsync'd, so the rename itself survives a power loss); it is written only
 * after an acknowledgement; one logbus-forward at a time uses it (an
 * exclusive flock on FILE.lock, held for the process's life).  Lines of
 * outputs no longer configured are kept, so that removing a section for a
 * while does not lose its place.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "forward.h"

struct position {
	char name[FWD_NAME_MAX + 1];
	char cursor[FWD_CURSOR_MAX];
};

struct fwd_state {
	char path[PATH_MAX];
	int lock_fd;
	pthread_mutex_t mu;
	struct position *v;
	size_t n;
};

static struct position *find(struct fwd_state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->v[i].name, name) == 0)
			return &st->v[i];
	return NULL;
}

static struct position *add(struct fwd_state *st, const char *name)
{
	struct position *v = realloc(st->v, (st->n + 1) * sizeof *v);
	if (v == NULL)
		return NULL;
	st->v = v;
	memset(&v[st->n], 0, sizeof *v);
	snprintf(v[st->n].name, sizeof v->name, "%s", name);
	return &v[st->n++];
}

static int load(struct fwd_state *st, char *err, size_t errlen)
{
	FILE *f = fopen(st->path, "r");
	char line[FWD_NAME_MAX + FWD_CURSOR_MAX + 8];
	int no = 0;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read the positions file %s (%s)",
		         st->path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char name[FWD_NAME_MAX + 1], cursor[FWD_CURSOR_MAX];
		struct position *p;
		no++;
		if (strchr(line, '\n') == NULL ||
		    sscanf(line, "%64s %127s", name, cursor) != 2 ||
		    (p = find(st, name)) != NULL ||
		    (p = add(st, name)) == NULL) {
			snprintf(
			    err, errlen,
			    "%s:%d: not a line 'OUTPUT CURSOR' (or a second "
			    "one for an output): fix or remove the line, "
			    "and that output starts afresh",
			    st->path, no);
			fclose(f);
			return -1;
		}
		memcpy(p->cursor, cursor, sizeof cursor);
	}
	fclose(f);
	return 0;
}

struct fwd_state *state_open(const char *path, char *err, size_t errlen)
{
	struct fwd_state *st = calloc(1, sizeof *st);
	char lock[PATH_MAX + 8];

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->lock_fd = -1;
	snprintf(st->path, sizeof st->path, "%s", path);
	pthread_mutex_init(&st->mu, NULL);
	snprintf(lock, sizeof lock, "%s.lock", path);
	st->lock_fd =
	    open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->lock_fd < 0) {
		snprintf(err, errlen,
		         "cannot open %s (%s): does its directory exist, and "
		         "may this user write there?",
		         lock, strerror(errno));
		goto fail;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(
		    err, errlen,
		    "%s is in use by another logbus-forward (flock on %s): "
		    "give each its own [forward] state-file",
		    path, lock);
		goto fail;
	}
	if (load(st, err, errlen) < 0)
		goto fail;
	return st;
fail:
	state_close(st);
	return NULL;
}

void state_get(struct fwd_state *st, const char *name, char out[FWD_CURSOR_MAX])
{
	pthread_mutex_lock(&st->mu);
	struct position *p = find(st, name);
	snprintf(out, FWD_CURSOR_MAX, "%s", p != NULL ? p->cursor : "");
	pthread_mutex_unlock(&st->mu);
}

/* Write every position to FILE.tmp, sync it, rename it over FILE and sync
 * the directory.  Called with mu held. */
static int save(struct fwd_state *st, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	FILE *f;
	int fd, dfd, e;

	snprintf(tmp, sizeof tmp, "%s.tmp", st->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		e = errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot write %s (%s)", tmp, strerror(e));
		return -1;
	}
	for (size_t i = 0; i < st->n; i++)
		fprintf(f, "%s %s\n", st->v[i].name, st->v[i].cursor);
	if (fflush(f) != 0 || fsync(fd) < 0) {
		e = errno;
		fclose(f);
		unlink(tmp);
		snprintf(err, errlen, "cannot write %s (%s)", tmp, strerror(e));
		return -1;
	}
	fclose(f);
	if (rename(tmp, st->path) < 0) {
		e = errno;
		unlink(tmp);
		snprintf(err, errlen, "cannot rename %s to %s (%s)", tmp,
		         st->path, strerror(e));
		return -1;
	}
	snprintf(dir, sizeof dir, "%s", st->path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		e = errno;
		if (dfd >= 0)
			close(dfd);
		snprintf(err, errlen, "cannot sync the directory %s (%s)", dir,
		         strerror(e));
		return -1;
	}
	close(dfd);
	return 0;
}

int state_set(struct fwd_state *st, const char *name, const char *cursor,
              char *err, size_t errlen)
{
	int rc = -1;
	pthread_mutex_lock(&st->mu);
	struct position *p = find(st, name);
	if (p == NULL && (p = add(st, name)) == NULL)
		snprintf(err, errlen, "out of memory");
	else {
		snprintf(p->cursor, sizeof p->cursor, "%s", cursor);
		rc = save(st, err, errlen);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

void state_close(struct fwd_state *st)
{
	if (st == NULL)
		return;
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	pthread_mutex_destroy(&st->mu);
	free(st->v);
	free(st);
}
