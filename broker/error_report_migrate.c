/*
 * error_report_migrate.c: error reports of the old names renamed, once per
 * log directory, at start (error_report.h).
 *
 * Until 0.1 the report of service S was service_S_error.log, so the README's
 * service_123_error.log was really written service_service_123_error.log.
 * Now it is S_error.log.  The two schemes share names (service_7_error.log
 * was service 7's and is now service_7's), so a name alone cannot say which
 * scheme wrote it: the mark file MARK says the directory's reports have the
 * new names, and is made by the migration and before every report.
 *
 * Invariants:
 *  - without MARK, every regular file service_S_error.log or
 *    service_S_error.log.1 (S a valid service id) is an old report and goes
 *    to S_error.log(.1); with MARK, nothing is renamed;
 *  - shortest names first: service_service_7_error.log's new name is
 *    service_7_error.log, which by then has moved to 7_error.log;
 *  - a rename never replaces a file: a new name that is taken leaves the old
 *    report where it is, with a WARNING saying how to rename it;
 *  - each rename is said in a record of logbusd, never done silently;
 *  - a crash in between loses nothing and renames nothing twice: the list
 *    is written to PLAN (synced) before the first rename, and a start that
 *    finds PLAN finishes that list instead of reading the directory again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "error_report.h"
#include "record.h"
#include "selflog.h"

#define MARK       ".error-report-names"
#define PLAN       MARK ".plan"
#define OLD_PREFIX "service_"

struct names {
	char **v;
	size_t n, cap;
};

/* name is service_S_error.log or service_S_error.log.1, S a service id. */
static bool old_name(const char *name)
{
	const size_t pre = sizeof OLD_PREFIX - 1,
	             suf = sizeof REPORT_SUFFIX - 1;
	size_t end = strlen(name);

	if (end > 2 && strcmp(name + end - 2, ".1") == 0)
		end -= 2;
	return end > pre + suf && strncmp(name, OLD_PREFIX, pre) == 0 &&
	       strncmp(name + end - suf, REPORT_SUFFIX, suf) == 0 &&
	       service_id_valid(name + pre, end - pre - suf);
}

static int names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		char **v = realloc(ns->v, cap * sizeof *v);
		if (v == NULL)
			return -1;
		ns->v = v;
		ns->cap = cap;
	}
	if ((ns->v[ns->n] = strdup(name)) == NULL)
		return -1;
	ns->n++;
	return 0;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static int shortest_first(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

/* The old reports in the log directory (regular files only). */
static int scan(struct broker *b, struct names *ns)
{
	int fd =
	    openat(b->dirs.log_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat st;
	int rc = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (old_name(de->d_name) &&
		    fstatat(b->dirs.log_fd, de->d_name, &st,
		            AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			rc = names_add(ns, de->d_name);
	closedir(d);
	return rc;
}

/* The list a migration that did not finish wrote: 1 read, 0 none. */
static int read_plan(struct broker *b, struct names *ns)
{
	int fd = openat(b->dirs.log_fd, PLAN,
	                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char line[NAME_MAX + 2];

	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (old_name(line) && names_add(ns, line) < 0)
			break;
	}
	fclose(f);
	return 1;
}

/* A small file made whole under name (through name.tmp), synced: 0 or -1
 * with errno. */
static int write_synced(struct broker *b, const char *name, const char *text,
                        size_t len)
{
	char tmp[NAME_MAX + 1];
	int dfd = b->dirs.log_fd;
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;

	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = openat(dfd, tmp, flags, 0640);
	if (fd < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
		fd = openat(dfd, tmp, flags, 0640);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || fdatasync(fd) < 0 ||
	    close(fd) < 0 || renameat(dfd, tmp, dfd, name) < 0 ||
	    fsync(dfd) < 0) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}

static int write_plan(struct broker *b, const struct names *ns)
{
	size_t len = 0, off = 0;

	for (size_t i = 0; i < ns->n; i++)
		len += strlen(ns->v[i]) + 1;
	char *text = malloc(len + 1);
	if (text == NULL)
		return -1;
	for (size_t i = 0; i < ns->n; i++)
		off += (size_t)sprintf(text + off, "%s\n", ns->v[i]);
	int rc = write_synced(b, PLAN, text, len);
	free(text);
	return rc;
}

/* One old report to its new name, said either way. */
static void rename_one(struct broker *b, const char *from)
{
	const char *to = from + sizeof OLD_PREFIX - 1;
	const char *dir = b->cfg.log_dir;
	int dfd = b->dirs.log_fd;
	struct stat st;

	if (fstatat(dfd, from, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return; /* renamed before a crash */
	if (fstatat(dfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		size_t n = strlen(to),
		       svc = strlen(to) - (sizeof REPORT_SUFFIX - 1);
		if (strcmp(to + n - 2, ".1") == 0)
			svc -= 2;
		broker_log(b, LOGBUS_WARNING,
		           "error report: kept %s (service %.*s's, by the old "
		           "names) as it is: its new name %s exists already; "
		           "look at both and rename it by hand, e.g. mv %s/%s "
		           "%s/%s.old",
		           from, (int)svc, to, to, dir, from, dir, to);
		return;
	}
	if (renameat(dfd, from, dfd, to) < 0) {
		broker_log(b, LOGBUS_WARNING,
		           "error report: cannot rename %s/%s to %s: %s; "
		           "rename it by hand",
		           dir, from, to, strerror(errno));
		return;
	}
	broker_log(b, LOGBUS_INFO,
	           "error report: renamed %s to %s (reports are now named "
	           "<service>" REPORT_SUFFIX ")",
	           from, to);
}

int error_report_mark(struct broker *b)
{
	static const char text[] =
	    "logbusd: the error reports here are named <service>" REPORT_SUFFIX
	    "\n";
	struct stat st;

	if (fstatat(b->dirs.log_fd, MARK, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (write_synced(b, MARK, text, sizeof text - 1) == 0)
		return 0;
	broker_log(b, LOGBUS_WARNING,
	           "error report: cannot write %s/%s: %s (until it exists, "
	           "a start takes service_<id>" REPORT_SUFFIX
	           " for a report of the old names)",
	           b->cfg.log_dir, MARK, strerror(errno));
	return -1;
}

void error_report_migrate(struct broker *b)
{
	struct names ns = {0};
	struct stat st;
	int dfd = b->dirs.log_fd;

	int planned = read_plan(b, &ns);
	if (!planned && fstatat(dfd, MARK, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return;
	if (!planned && scan(b, &ns) < 0) {
		broker_log(b, LOGBUS_WARNING,
		           "error report: cannot look for reports of the old "
		           "names in %s: %s; they are left as they are",
		           b->cfg.log_dir, strerror(errno));
		names_free(&ns);
		return;
	}
	if (ns.n > 1)
		qsort(ns.v, ns.n, sizeof *ns.v, shortest_first);
	if (!planned && ns.n > 0 && write_plan(b, &ns) < 0) {
		broker_log(b, LOGBUS_WARNING,
		           "error report: cannot write %s/%s: %s; %zu reports "
		           "of the old names (service_<service>" REPORT_SUFFIX
		           ") are left as they are",
		           b->cfg.log_dir, PLAN, strerror(errno), ns.n);
		names_free(&ns);
		return;
	}
	for (size_t i = 0; i < ns.n; i++)
		rename_one(b, ns.v[i]);
	names_free(&ns);
	/* the list is kept until the mark says it is done */
	if (error_report_mark(b) == 0 && unlinkat(dfd, PLAN, 0) == 0)
		fsync(dfd);
}
