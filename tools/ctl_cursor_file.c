/*
 * ctl_cursor_file.c: tail's --cursor-file, where a reader keeps its place
 * between runs.  The file holds one cursor and a newline.  It is replaced
 * atomically (a temporary file, synced, renamed over it), so that a crash
 * leaves the old cursor or the new one, never half of one; a file that
 * holds anything else is refused rather than guessed at.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logbusctl.h"

/*
 * The cursor stored in path, into c (CURSOR_TEXT_MAX bytes): "" when there
 * is none (no file, or only white space in it).  Returns 0, or the exit
 * status after saying why the file cannot be read.
 */
int cursor_file_read(const char *path, char *c)
{
	FILE *f = fopen(path, "r");
	size_t n;
	bool more;

	c[0] = '\0';
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		return fail("cannot read the cursor file %s (%s)", path,
		            strerror(errno));
	}
	n = fread(c, 1, CURSOR_TEXT_MAX - 1, f);
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		return fail("cannot read the cursor file %s (%s)", path,
		            strerror(e));
	}
	more = fgetc(f) != EOF;
	fclose(f);
	c[n] = '\0';
	while (n > 0 && strchr(" \t\r\n", c[n - 1]) != NULL)
		c[--n] = '\0';
	if (more || strlen(c) != n)
		return fail("the cursor file %s does not hold a cursor: remove "
		            "it to start afresh",
		            path);
	return 0;
}

/* Replace the cursor file's content atomically: FILE.tmp, synced, then
 * renamed over FILE.  Returns 0 or the exit status after saying why not. */
int cursor_file_write(const char *path, const char *cursor)
{
	char tmp[PATH_MAX];
	size_t len = strlen(cursor), off = 0;
	int fd, e;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return fail("cursor file path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("cannot write the cursor file %s (%s)", tmp,
		            strerror(errno));
	while (off <= len) {
		/* the cursor, then its newline */
		const char *p = off < len ? cursor + off : "\n";
		size_t n = off < len ? len - off : 1;
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}
	if (fdatasync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		return fail("cannot replace the cursor file %s (%s)", path,
		            strerror(e));
	}
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return fail("cannot write the cursor file %s (%s)", tmp, strerror(e));
}
