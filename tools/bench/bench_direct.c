/*
 * bench_direct.c: the in-process ceiling, buffered fwrite(3) of the same
 * lines to a file.
 *
 * Each line is the --size-byte message of the other modes and a newline;
 * stdio buffers them and the clock runs from the first fwrite to the return
 * of fclose (all bytes handed to the kernel with write(2), no fsync: what
 * the broker has done when it acknowledges a record).  The lines are then
 * counted on disk, and the file removed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* Newlines in the file at path, or -1. */
static long count_lines(const char *path)
{
	char buf[65536];
	FILE *f = fopen(path, "rb");
	long n = 0;
	size_t got;

	if (f == NULL)
		return -1;
	while ((got = fread(buf, 1, sizeof buf, f)) > 0)
		for (char *p = buf;
		     (p = memchr(p, '\n', got - (size_t)(p - buf))); p++)
			n++;
	fclose(f);
	return n;
}

int mode_direct(struct bench_ctx *c)
{
	const struct bench_opts *o = c->o;
	const char *tmp = getenv("TMPDIR");
	char dir[256], path[300];
	char *line = bench_message((size_t)o->size + 1);
	FILE *f;
	int64_t t0, dt;
	long lines;
	int status = 0;

	if (line == NULL)
		return fail("out of memory");
	line[o->size] = '\n';
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/logbus-bench-direct.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		free(line);
		return fail("cannot make a temporary directory in %s (%s)", tmp,
		            strerror(errno));
	}
	snprintf(path, sizeof path, "%s/direct.log", dir);
	if ((f = fopen(path, "w")) == NULL) {
		status = fail("cannot create %s (%s)", path, strerror(errno));
		goto out;
	}
	t0 = clock_ns(CLOCK_MONOTONIC);
	/* SIGINT and SIGTERM looked at every 4,096 lines: not a cost */
	for (long i = 0; i < o->records; i++)
		if (((i & 4095) == 0 && bench_interrupted) ||
		    fwrite(line, (size_t)o->size + 1, 1, f) != 1)
			break;
	if (ferror(f) | (fclose(f) != 0)) {
		status = fail("cannot write %s (%s)", path, strerror(errno));
		goto out;
	}
	if (bench_interrupted) {
		status = fail("interrupted");
		goto out;
	}
	dt = clock_ns(CLOCK_MONOTONIC) - t0;
	lines = count_lines(path);

	report_section(c->rep, "direct: buffered fwrite of the same lines to a "
	                       "file (the in-process ceiling)");
	report_note(c->rep,
	            "%ld lines of %d bytes + newline, to fclose, no "
	            "fsync",
	            o->records, o->size);
	report_num(c->rep, "direct_records_per_s", "records/s",
	           (double)o->records * 1e9 / (double)dt, 0, "records/s");
	report_num(c->rep, "direct_mb_per_s", "message MB/s",
	           (double)o->records * o->size * 1e3 / (double)dt, 1, "MB/s");
	report_num(c->rep, "direct_seconds", "time", (double)dt / 1e9, 6, "s");
	report_int(c->rep, "direct_lines", "lines on disk", lines, "");
	if (lines != o->records)
		status =
		    fail("%s has %ld lines, not %ld", path, lines, o->records);
out:
	files_remove_tree(dir);
	free(line);
	return status;
}
