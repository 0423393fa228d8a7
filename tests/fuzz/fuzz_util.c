/*
 * fuzz_util.c: the scratch directory and file writes of the fuzz targets
 * (fuzz_util.h).
 */
#include "fuzz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"

static char dir[256];

static void remove_dir(void)
{
	if (dir[0] != '\0')
		files_remove_tree(dir);
}

const char *fuzz_dir(void)
{
	if (dir[0] != '\0')
		return dir;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/logbus-fuzz-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		fuzz_fail("cannot make a directory %s (%s)", dir,
		          strerror(errno));
	atexit(remove_dir);
	return dir;
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;

	if (fd < 0)
		fuzz_fail("cannot write %s (%s)", path, strerror(errno));
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			fuzz_fail("cannot write %s (%s)", path,
			          strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	close(fd);
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}
