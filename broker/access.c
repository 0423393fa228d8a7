/*
 * access.c: socket ownership, publisher identity and the reader policy
 * (access.h says what each is for).
 *
 * Both caches are direct-mapped arrays of fixed size, touched only from the
 * broker's loop: a collision costs a look-up again, never a wrong answer,
 * because each slot is checked against the full key.  Nothing here grows
 * with the number of clients.
 */
#include "access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "owners.h"

#define COMM_SLOTS  1024 /* pipes whose process name is remembered */
#define TRUST_SLOTS 256  /* (uid, gid) pairs whose trust is remembered */
#define TRUST_TTL_S 30   /* group changes are seen this late at most */
#define GROUPS_MAX  4096

struct comm_slot {
	uint32_t pipe; /* 0: empty (nng ids start at 1) */
	uint32_t pid, uid, gid;
	char comm[FRAME_COMM_LEN];
};

struct trust_slot {
	uint32_t uid, gid;
	bool used, trusted;
	time_t until;
};

/* A (uid, gid) pair's membership of a group ([owners] NAME = @group). */
struct member_slot {
	uint32_t uid, gid, group;
	bool used, in;
	time_t until;
};

struct access {
	struct access_config cfg;
	struct comm_slot comm[COMM_SLOTS];
	struct trust_slot trust[TRUST_SLOTS];
	struct member_slot member[TRUST_SLOTS];
};

/* ---- names ---------------------------------------------------------------
 */

static bool numeric_id(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v >= ACCESS_NONE)
		return false;
	*out = (uint32_t)v;
	return true;
}

int access_user_id(const char *name, uint32_t *uid)
{
	char buf[4096];
	struct passwd pw, *res = NULL;

	if (getpwnam_r(name, &pw, buf, sizeof buf, &res) == 0 && res) {
		*uid = (uint32_t)pw.pw_uid;
		return 0;
	}
	return numeric_id(name, uid) ? 0 : -1;
}

int access_group_id(const char *name, uint32_t *gid)
{
	char buf[16384];
	struct group gr, *res = NULL;

	if (getgrnam_r(name, &gr, buf, sizeof buf, &res) == 0 && res) {
		*gid = (uint32_t)gr.gr_gid;
		return 0;
	}
	return numeric_id(name, gid) ? 0 : -1;
}

static int resolve_group(const char *opt, const char *name, uint32_t dflt,
                         uint32_t *gid, char *err, size_t errlen)
{
	if (name == NULL || *name == '\0') {
		*gid = dflt;
		return 0;
	}
	if (access_group_id(name, gid) < 0) {
		snprintf(err, errlen,
		         "%s: no group '%s' on this system (see getent group; "
		         "create it or name another)",
		         opt, name);
		return -1;
	}
	return 0;
}

/* Whether this process may give a file to group gid (chown(2)): root, or
 * a member of it. */
static bool may_give_to_group(uint32_t gid)
{
	gid_t groups[256];
	int n;

	if (geteuid() == 0 || getegid() == (gid_t)gid)
		return true;
	n = getgroups(256, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == (gid_t)gid)
			return true;
	return false;
}

int access_resolve(const struct broker_config *cfg, struct access_config *out,
                   char *err, size_t errlen)
{
	uint32_t owner = ACCESS_NONE;
	const char *rg = cfg->reader_group;

	memset(out, 0, sizeof *out);
	if (cfg->socket_user && *cfg->socket_user &&
	    access_user_id(cfg->socket_user, &owner) < 0) {
		snprintf(err, errlen,
		         "socket-user: no user '%s' on this system (see getent "
		         "passwd)",
		         cfg->socket_user);
		return -1;
	}
	/* Default: "adm" where it exists (Debian's group for reading logs)
	 * and the broker may give live.sock to it (root, or a member: a user's
	 * own broker is not), else nobody but root and the broker's own
	 * user. */
	out->reader_gid = ACCESS_NONE;
	if (rg == NULL) {
		if (access_group_id("adm", &out->reader_gid) == 0 &&
		    may_give_to_group(out->reader_gid))
			rg = "adm";
		else
			out->reader_gid = ACCESS_NONE;
	} else if (strcmp(rg, "none") == 0) {
		rg = NULL;
	} else if (resolve_group("reader-group", rg, ACCESS_NONE,
	                         &out->reader_gid, err, errlen) < 0) {
		return -1;
	}
	snprintf(out->reader_group, sizeof out->reader_group, "%s",
	         rg ? rg : "none");
	out->ingest = (struct socket_access){cfg->ingest_mode, owner, 0};
	out->query = (struct socket_access){cfg->query_mode, owner, 0};
	out->live = (struct socket_access){cfg->live_mode, owner, 0};
	if (resolve_group("ingest-group", cfg->ingest_group, ACCESS_NONE,
	                  &out->ingest.gid, err, errlen) < 0 ||
	    resolve_group("query-group", cfg->query_group, ACCESS_NONE,
	                  &out->query.gid, err, errlen) < 0 ||
	    resolve_group("live-group", cfg->live_group, out->reader_gid,
	                  &out->live.gid, err, errlen) < 0)
		return -1;
	return owners_config_check(cfg, err, errlen);
}

int access_apply(const char *path, const struct socket_access *sa, char *err,
                 size_t errlen)
{
	if ((sa->uid != ACCESS_NONE || sa->gid != ACCESS_NONE) &&
	    chown(path, (uid_t)sa->uid, (gid_t)sa->gid) < 0) {
		snprintf(err, errlen,
		         "cannot give %s to uid %ld gid %ld: %s (only root "
		         "may set another owner or a group it is not in)",
		         path, sa->uid == ACCESS_NONE ? -1L : (long)sa->uid,
		         sa->gid == ACCESS_NONE ? -1L : (long)sa->gid,
		         strerror(errno));
		return -1;
	}
	/* nng creates the file with the umask's mode; make it what we said. */
	if (chmod(path, (mode_t)sa->mode) < 0) {
		snprintf(err, errlen, "cannot chmod %s: %s", path,
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- publishers ----------------------------------------------------------
 */

struct access *access_new(const struct access_config *cfg)
{
	struct access *a = calloc(1, sizeof *a);

	if (a)
		a->cfg = *cfg;
	return a;
}

void access_free(struct access *a)
{
	free(a);
}

static uint32_t pipe_u32(nng_pipe p, const char *opt, uint32_t dflt)
{
	uint64_t v;
	return nng_pipe_get_uint64(p, opt, &v) == 0 ? (uint32_t)v : dflt;
}

/* /proc/<pid>/comm without its newline; "" when the process is gone. */
static void read_comm(uint32_t pid, char comm[FRAME_COMM_LEN])
{
	char path[64];
	ssize_t n = -1;

	memset(comm, 0, FRAME_COMM_LEN);
	snprintf(path, sizeof path, "/proc/%u/comm", pid);
	int fd = pid ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		n = read(fd, comm, FRAME_COMM_LEN - 1);
		close(fd);
	}
	if (n <= 0) {
		memset(comm, 0, FRAME_COMM_LEN);
		return;
	}
	comm[strcspn(comm, "\n")] = '\0';
}

void access_stamp(struct access *a, nng_pipe p, struct frame_record *stamp)
{
	uint32_t id = (uint32_t)nng_pipe_id(p);
	struct comm_slot *s = &a->comm[id % COMM_SLOTS];

	/* A pipe's peer credentials are those of connect(2) (SO_PEERCRED):
	 * read once per connection, like the process name. */
	if (s->pipe != id) {
		s->pipe = id;
		s->pid = pipe_u32(p, NNG_OPT_IPC_PEER_PID, 0);
		s->uid = pipe_u32(p, NNG_OPT_IPC_PEER_UID, ACCESS_NONE);
		s->gid = pipe_u32(p, NNG_OPT_IPC_PEER_GID, ACCESS_NONE);
		read_comm(s->pid, s->comm);
	}
	stamp->pid = s->pid;
	stamp->uid = s->uid;
	stamp->gid = s->gid;
	memcpy(stamp->comm, s->comm, FRAME_COMM_LEN);
}

/* ---- readers -------------------------------------------------------------
 */

static bool user_in_group(uint32_t uid, uint32_t group)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	gid_t fixed[64], *groups = fixed;
	int n = 64;
	bool in = false;

	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &res) != 0 || !res)
		return false;
	if (pw.pw_gid == (gid_t)group)
		return true;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0) {
		if (n <= 0 || n > GROUPS_MAX ||
		    (groups = malloc((size_t)n * sizeof *groups)) == NULL)
			return false;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
			n = 0;
	}
	for (int i = 0; i < n && !in; i++)
		in = groups[i] == (gid_t)group;
	if (groups != fixed)
		free(groups);
	return in;
}

bool access_trusted(const struct access_config *cfg, uint32_t uid, uint32_t gid)
{
	if (uid == 0 || uid == (uint32_t)geteuid())
		return true;
	if (uid == ACCESS_NONE || cfg->reader_gid == ACCESS_NONE)
		return false;
	return gid == cfg->reader_gid || user_in_group(uid, cfg->reader_gid);
}

bool access_reader(struct access *a, nng_pipe p, uint32_t *uid)
{
	uint32_t u = pipe_u32(p, NNG_OPT_IPC_PEER_UID, ACCESS_NONE);
	uint32_t g = pipe_u32(p, NNG_OPT_IPC_PEER_GID, ACCESS_NONE);
	time_t now = time(NULL);

	*uid = u;
	struct trust_slot *s = &a->trust[(u * 31u + g) % TRUST_SLOTS];
	if (!s->used || s->uid != u || s->gid != g || now >= s->until) {
		s->used = true;
		s->uid = u;
		s->gid = g;
		s->trusted = access_trusted(&a->cfg, u, g);
		s->until = now + TRUST_TTL_S;
	}
	return s->trusted;
}

bool access_member(struct access *a, uint32_t uid, uint32_t gid, uint32_t group)
{
	time_t now = time(NULL);
	struct member_slot *s =
	    &a->member[(uid * 31u + gid * 7u + group) % TRUST_SLOTS];

	if (gid == group)
		return true;
	if (!s->used || s->uid != uid || s->gid != gid || s->group != group ||
	    now >= s->until) {
		*s = (struct member_slot){.uid = uid,
		                          .gid = gid,
		                          .group = group,
		                          .used = true,
		                          .in = uid != ACCESS_NONE &&
		                                user_in_group(uid, group),
		                          .until = now + TRUST_TTL_S};
	}
	return s->in;
}
