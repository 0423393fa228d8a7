/*
 * owners.h: who may publish as which service, the way journald trusts
 * _UID and systemd owns units.
 *
 * A service id belongs to somebody:
 *  - the configuration can assign ids or prefixes to a user or a group
 *    ([owners] `checker = @security`, `service_* = sandbox`, or --owner):
 *    an exact id wins over a prefix, a longer prefix over a shorter one;
 *  - otherwise the uid that published it first owns it (a claim), root
 *    and logbusd's own user included;
 *  - the service "logbusd" is the broker's (ingest refuses it anyway).
 * Root and logbusd's own user may publish as any service; their records
 * of a service they do not own carry FRAME_REC_NOT_OWNER, so that readers
 * see who wrote them.  Anybody else may publish as a service nobody owns
 * yet (and then owns it), or one it owns or whose group it is in;
 * otherwise the record is refused (ERR_NOT_OWNER) with a sentence that
 * says who owns it and how to change that.
 *
 * Claims are kept in <log-dir>/journal/claims, one line each, appended
 * and fdatasync'ed (owners_commit) before the batch that made them is
 * acknowledged: one write and one sync per batch that claims anything,
 * which is rare (a new service).  Retention and vacuuming never touch
 * claims.  A claims file that does not read back (a line that is not
 * "UID SERVICE CRC", a checksum that does not match) stops the start with
 * its line and what to do: ownership is never reset in silence.  A last
 * line without its newline was never acknowledged (a crash between write
 * and sync): it is cut, and said so.
 *
 * A uid other than root and logbusd's own claims at most
 * max-claims-per-uid services ([limits]): the table and the file are
 * bounded by the users of the host.  Configured assignments cost nothing.
 */
#ifndef LOGBUS_OWNERS_H
#define LOGBUS_OWNERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct access;
struct broker_config;
struct dirs;

#define OWNERS_FILE "claims" /* in the journal directory */

/* What owns a service, for `logbusctl services`. */
enum owner_how {
	OWNER_NONE = 0,
	OWNER_CLAIMED = 1,    /* its first publisher's uid */
	OWNER_CONFIGURED = 2, /* [owners] or --owner */
	OWNER_BROKER = 3,     /* "logbusd", the broker's own */
};

struct owner_info {
	enum owner_how how;
	bool group;    /* id is a gid */
	uint32_t id;   /* uid or gid */
	char name[64]; /* user name, "@group", or "" when it has none */
};

/* What a publisher may do with a service. */
enum owner_verdict {
	OWNER_MAY,       /* it owns it (or just claimed it) */
	OWNER_MAY_OTHER, /* root or logbusd's user, as somebody else's */
	OWNER_REFUSED,
};

/* One assignment: "SERVICE=NAME", SERVICE an id or a prefix ending in
 * '*', NAME a user, a uid, or "@group".  0, or -1 with err. */
int owners_spec_check(const char *spec, char *err, size_t errlen);

/* Look up the names cfg's assignments use: 0, or -1 with err naming the
 * assignment and the unknown name. */
int owners_config_check(const struct broker_config *cfg, char *err,
                        size_t errlen);

struct owners;

/*
 * Read the claims file in the journal directory of dirs (made when
 * missing) and apply cfg's assignments.  self_uid is logbusd's own user.
 * note gets what was recovered, if anything ("" otherwise).  NULL with
 * err when the file is damaged or cannot be read.
 */
struct owners *owners_open(const struct dirs *dirs, const char *log_dir,
                           const struct broker_config *cfg, uint32_t self_uid,
                           char *note, size_t notelen, char *err,
                           size_t errlen);
void owners_free(struct owners *o);

/* Take cfg's assignments and limit (a reload); nothing changes on error. */
int owners_configure(struct owners *o, const struct broker_config *cfg,
                     char *err, size_t errlen);

/*
 * May the publisher (uid, with the peer's gid) use the service?  A service
 * nobody owns is claimed for uid at once (further records see it), and
 * made durable by owners_commit.  When refused and msg is not NULL, msg
 * says who owns it and how to change that.
 */
enum owner_verdict owners_check(struct owners *o, struct access *a,
                                const char *svc, size_t len, uint32_t uid,
                                uint32_t gid, char *msg, size_t msglen);

/* Write and sync the claims owners_check made since the last commit.  0,
 * or -1 with err: those claims are withdrawn (their records must not be
 * acknowledged). */
int owners_commit(struct owners *o, char *err, size_t errlen);

/* Who owns the service now. */
void owners_info(struct owners *o, const char *svc, size_t len,
                 struct owner_info *out);

#endif
