/*
 * dirs.c: the run and log directories, checked and held open (dirs.h says
 * what is accepted and why).
 *
 * The checks run on the directory's real path (realpath: a symbolic link
 * an administrator made, /var/log -> /srv/log, is fine, since what counts
 * is who can change the directories it leads to), from the directory up
 * to /.  The directory itself is checked on the descriptor the broker then
 * keeps, so the directory checked is the one written to.
 */
#include "dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Root, logbusd's user, and for a root logbusd the service user. */
static bool owner_trusted(uid_t owner)
{
	uid_t euid = geteuid();
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (owner == 0 || owner == euid)
		return true;
	return euid == 0 &&
	       getpwnam_r(DIRS_SERVICE_USER, &pw, buf, sizeof buf, &res) == 0 &&
	       res != NULL && pw.pw_uid == owner;
}

/* "nobody (uid 65534)" */
static const char *user_text(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
		snprintf(out, len, "%s (uid %u)", pw.pw_name, (unsigned)uid);
	else
		snprintf(out, len, "uid %u", (unsigned)uid);
	return out;
}

/* logbusd's user as chown(1) takes it. */
static const char *self_name(char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	uid_t euid = geteuid();

	if (getpwuid_r(euid, &pw, buf, sizeof buf, &res) == 0 && res)
		snprintf(out, len, "%s", pw.pw_name);
	else
		snprintf(out, len, "%u", (unsigned)euid);
	return out;
}

static const char *writers(mode_t mode)
{
	return (mode & 022) == 022 ? "its group and others"
	       : (mode & 020)      ? "its group"
	                           : "others";
}

/* The directory itself, as opened. */
static int check_self(const struct stat *st, const char *what, const char *path,
                      char *err, size_t errlen)
{
	char who[128], self[64];

	if (!owner_trusted(st->st_uid)) {
		snprintf(err, errlen,
		         "%s %s is owned by %s, not by root or logbusd's user: "
		         "that user could put links there that make logbusd "
		         "write to other files; chown %s %s, or use another "
		         "directory",
		         what, path, user_text(st->st_uid, who, sizeof who),
		         self_name(self, sizeof self), path);
		return -1;
	}
	if (st->st_mode & 022) {
		snprintf(err, errlen,
		         "%s %s is writable by %s (mode %04o): they could put "
		         "links there that make logbusd write to other files; "
		         "chmod go-w %s",
		         what, path, writers(st->st_mode),
		         (unsigned)(st->st_mode & 07777), path);
		return -1;
	}
	return 0;
}

/* Every directory above path (a real path): nobody else may move path
 * away and put another directory in its place. */
static int check_above(const char *what, const char *path, char *err,
                       size_t errlen)
{
	char up[PATH_MAX], who[128], self[64];
	struct stat st;

	snprintf(up, sizeof up, "%s", path);
	for (;;) {
		char *slash = strrchr(up, '/');
		if (slash == NULL || (slash == up && up[1] == '\0'))
			return 0;
		slash[slash == up ? 1 : 0] = '\0';
		if (lstat(up, &st) < 0) {
			snprintf(err, errlen, "%s %s: cannot check %s: %s",
			         what, path, up, strerror(errno));
			return -1;
		}
		if (!owner_trusted(st.st_uid)) {
			snprintf(err, errlen,
			         "%s %s: %s above it is owned by %s, who could "
			         "put another directory in its place; chown %s "
			         "%s, or use a directory elsewhere",
			         what, path, up,
			         user_text(st.st_uid, who, sizeof who),
			         self_name(self, sizeof self), up);
			return -1;
		}
		if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
			snprintf(
			    err, errlen,
			    "%s %s: %s above it is writable by %s (mode "
			    "%04o) without the sticky bit: they could put "
			    "another directory in its place; chmod go-w %s "
			    "(or chmod +t %s)",
			    what, path, up, writers(st.st_mode),
			    (unsigned)(st.st_mode & 07777), up, up);
			return -1;
		}
	}
}

int dirs_open_checked(const char *path, const char *what, char *err,
                      size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;

	if (realpath(path, real) == NULL) {
		snprintf(err, errlen, "cannot find %s %s: %s", what, path,
		         strerror(errno));
		return -1;
	}
	int fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open %s %s: %s", what, real,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (check_self(&st, what, real, err, errlen) < 0 ||
	    check_above(what, real, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int dirs_open(struct dirs *d, const char *run_dir, const char *log_dir,
              char *err, size_t errlen)
{
	d->run_fd = dirs_open_checked(run_dir, "run directory", err, errlen);
	if (d->run_fd < 0)
		return -1;
	d->log_fd = dirs_open_checked(log_dir, "log directory", err, errlen);
	if (d->log_fd < 0) {
		dirs_close(d);
		return -1;
	}
	return 0;
}

int dirs_reopen_log(struct dirs *d, const char *log_dir, char *err,
                    size_t errlen)
{
	int fd = dirs_open_checked(log_dir, "log directory", err, errlen);

	if (fd < 0)
		return -1;
	if (d->log_fd >= 0)
		close(d->log_fd);
	d->log_fd = fd;
	return 0;
}

void dirs_close(struct dirs *d)
{
	if (d->run_fd >= 0)
		close(d->run_fd);
	if (d->log_fd >= 0)
		close(d->log_fd);
	d->run_fd = d->log_fd = -1;
}

/* One component under fd, made when missing; never a link. */
static int open_component(int fd, const char *name, unsigned mode)
{
	const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int next = openat(fd, name, flags);

	if (next < 0 && errno == ENOENT) {
		if (mkdirat(fd, name, (mode_t)mode) < 0 && errno != EEXIST)
			return -1;
		next = openat(fd, name, flags);
	}
	return next;
}

int dirs_open_parent(int dirfd, const char *rel, unsigned mode,
                     const char **base)
{
	char name[NAME_MAX + 1];
	const char *p = rel, *slash;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	while (fd >= 0 && (slash = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(slash - p);
		int next = -1, e = EINVAL;
		if (n > 0 && n < sizeof name) {
			memcpy(name, p, n);
			name[n] = '\0';
			next = open_component(fd, name, mode);
			e = errno;
		}
		close(fd);
		errno = e;
		fd = next;
		p = slash + 1;
	}
	if (fd >= 0)
		*base = p;
	return fd;
}

int dirs_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
