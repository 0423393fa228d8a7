/*
 * access.h: trust and access.  Who may connect to which socket file (owner,
 * group, mode), who a publisher is (pid, uid, gid from the socket's peer
 * credentials, the process name from /proc, read once per connection), and
 * what a reader may read.
 *
 * The reader policy is journald's: root, the broker's own user and members
 * of the reader group are trusted and read everything; anybody else reads
 * only the records whose uid is their own.  Membership is the peer's gid or
 * the user's groups (getgrouplist on its passwd entry), cached with a bound
 * and an age, so a change to /etc/group is seen within TRUST_TTL_S.  The
 * same look-up decides who is in a group that owns services (owners.h).
 */
#ifndef LOGBUS_ACCESS_H
#define LOGBUS_ACCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "frame.h"

#define ACCESS_NONE ((uint32_t)-1) /* no owner / group / reader group */

/* Who may open a socket file: applied after every listen. */
struct socket_access {
	int mode;
	uint32_t uid, gid; /* ACCESS_NONE: leave as created */
};

/* The resolved settings (user and group names looked up at start). */
struct access_config {
	struct socket_access ingest, query, live;
	uint32_t reader_gid; /* ACCESS_NONE: only root and the broker's user */
	char reader_group[64];
};

struct broker_config;

/* Look up the names in cfg (the [owners] assignments' too); an unknown user
 * or group is an error that says which option named it.  Returns 0, or -1
 * with err set. */
int access_resolve(const struct broker_config *cfg, struct access_config *out,
                   char *err, size_t errlen);

/* chown and chmod a socket file as sa says.  Returns 0, or -1 with err. */
int access_apply(const char *path, const struct socket_access *sa, char *err,
                 size_t errlen);

struct access;

struct access *access_new(const struct access_config *cfg);
void access_free(struct access *a);

/* The trusted fields of a record sent on pipe p: pid, uid, gid from the
 * peer credentials, comm from /proc/<pid>/comm (read once per pipe). */
void access_stamp(struct access *a, nng_pipe p, struct frame_record *stamp);

/* The reader on pipe p: true when it may read every record; otherwise it
 * reads only records of *uid (its own; ACCESS_NONE when unknown: nothing). */
bool access_reader(struct access *a, nng_pipe p, uint32_t *uid);

/* The same decision, uncached and thread-safe, for nng's pipe callbacks. */
bool access_trusted(const struct access_config *cfg, uint32_t uid,
                    uint32_t gid);

/* Whether a publisher (uid, with the peer's gid) is in group: its gid, or
 * the user's groups, looked up again after TRUST_TTL_S (cached). */
bool access_member(struct access *a, uint32_t uid, uint32_t gid,
                   uint32_t group);

/* A user or group name (or a number) to its id: 0, or -1 when unknown. */
int access_user_id(const char *name, uint32_t *uid);
int access_group_id(const char *name, uint32_t *gid);

#endif
