/*
 * dirs.h: the directories logbusd owns (the run directory: its sockets and
 * its lock; the log directory: the journal, the routed files, the error
 * reports) and the checks it makes on them before it writes anything.
 *
 * Like sshd's StrictModes, a directory is accepted only when no user but
 * root and logbusd's own could change what is in it: the directory is
 * owned by root or by logbusd's user (a root logbusd also accepts the
 * service user "logbus", whose directories the unit and tmpfiles make),
 * has no group or other write bit, and every directory above it is owned
 * by root or logbusd's user and writable by nobody else, or else sticky
 * (/tmp: others cannot move what they do not own).  Otherwise logbusd does
 * not start, and says which path, why, and the chown or chmod that fixes
 * it.
 *
 * Invariant: the broker keeps a descriptor of each directory and makes,
 * opens, renames and removes its files through it (openat, renameat,
 * linkat, unlinkat), never through a symbolic link (O_NOFOLLOW, and
 * O_EXCL for temporary files): a link or a directory planted at a file's
 * name makes that write fail, never write elsewhere.
 */
#ifndef LOGBUS_DIRS_H
#define LOGBUS_DIRS_H

#include <stddef.h>

/* The service account the unit runs logbusd as (logbus.sysusers.conf). */
#define DIRS_SERVICE_USER "logbus"

struct dirs {
	int run_fd, log_fd; /* -1: not open */
};

/* Check and open both directories (they exist: broker_init makes them).
 * 0, or -1 with err saying which path, why and what to do. */
int dirs_open(struct dirs *d, const char *run_dir, const char *log_dir,
              char *err, size_t errlen);
/* The log directory again, after it was removed and made anew while the
 * broker ran: the old descriptor is replaced only when the new one passes
 * the checks.  0, or -1 with err. */
int dirs_reopen_log(struct dirs *d, const char *log_dir, char *err,
                    size_t errlen);
void dirs_close(struct dirs *d);

/* Open the directory path and check it and the directories above it;
 * what names it in err ("log directory").  A descriptor, or -1 with err. */
int dirs_open_checked(const char *path, const char *what, char *err,
                      size_t errlen);

/* The directory that holds rel (a relative path of plain components)
 * under dirfd, made with mode where missing, never through a symbolic
 * link: a new descriptor, and *base pointing at rel's last component; -1
 * with errno (ELOOP or ENOTDIR where a link or a file stands). */
int dirs_open_parent(int dirfd, const char *rel, unsigned mode,
                     const char **base);

/* Write all n bytes of p to fd (a file of these directories), again after
 * EINTR and short writes: 0, or -1 with errno. */
int dirs_write_all(int fd, const void *p, size_t n);

#endif
