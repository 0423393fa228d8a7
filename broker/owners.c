/*
 * owners.c: who may publish as which service (owners.h says the rules).
 *
 * The claims are a chained hash table of service id -> uid, entries
 * allocated once per claim, plus a count per uid for the limit
 * (uidcount.h); both live in the broker's loop only.  The file holds one line
 * per claim, "UID SERVICE CRC\n", CRC the CRC-32C of "UID SERVICE" in 8 hex
 * digits, after a comment line: small, readable, and damage shows.  It is
 * opened with O_APPEND through the journal directory's descriptor, never
 * through a link.  A batch's claims go out in one write(2) and one
 * fdatasync; a write that fails is cut back so that no half line stays.
 * If the file was removed while the broker ran (rm -rf of the log
 * directory), the next commit writes the whole table to a new one.
 */
#include "owners.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "broker.h"
#include "crc32c.h"
#include "dirs.h"
#include "fnv1a.h"
#include "proto.h"
#include "record.h"
#include "strbuf.h"
#include "uidcount.h"

#define CLAIMS_HEADER                                                          \
	"# logbusd's service claims: UID SERVICE CRC32C, one per line. "       \
	"Assign services in [owners] instead of editing this file.\n"
#define CLAIMS_TMP      OWNERS_FILE ".tmp"
#define CLAIMS_READ_MAX (256u << 20)
#define LINE_MAX_BYTES  (10 + 1 + LOGBUS_SERVICE_MAX + 1 + 8 + 1)

/* An assignment of the configuration, its names looked up. */
struct rule {
	char pattern[LOGBUS_SERVICE_MAX + 1];
	size_t len;
	bool prefix;
	bool group;
	uint32_t id;
	char name[64];  /* as written, without the '@' */
	char shown[64]; /* "alice", "@security"; "" for a number without
	                   a name */
};

struct claim {
	struct claim *next;
	uint64_t hash;
	uint32_t uid;
	uint32_t len;
	char svc[]; /* NUL-terminated */
};

struct owners {
	const struct dirs *dirs;
	char path[4096]; /* for messages */
	int fd;          /* the claims file, O_APPEND; -1: write it anew */
	uint32_t self_uid;
	struct rule *rules;
	size_t nrules;
	uint64_t max_per_uid;
	struct claim **buckets;
	size_t nbuckets, count;
	struct uid_counts counts; /* claims per uid */
	struct claim **pending;   /* claimed since the last commit */
	size_t npending, pending_cap;
	/* the last uid named (a services listing is mostly a few uids) */
	uint32_t named_uid;
	time_t named_until;
	char named[64];
};

/* ---- assignments ---------------------------------------------------------
 */

/* Split "SERVICE=NAME" into r (names not looked up).  0, or -1 with err. */
static int rule_parse(const char *spec, struct rule *r, char *err,
                      size_t errlen)
{
	const char *eq = strchr(spec, '=');
	const char *name;

	memset(r, 0, sizeof *r);
	if (eq == NULL) {
		snprintf(err, errlen,
		         "'%.200s' is not SERVICE=USER or SERVICE=@GROUP",
		         spec);
		return -1;
	}
	r->len = (size_t)(eq - spec);
	if (r->len > 0 && spec[r->len - 1] == '*') {
		r->prefix = true;
		r->len--;
	}
	if (r->len == 0 || r->len > LOGBUS_SERVICE_MAX ||
	    !service_id_valid(spec, r->len) || memchr(spec, '*', r->len)) {
		snprintf(err, errlen,
		         "'%.*s' is not a service id or a prefix ending in * "
		         "(like service_*): [A-Za-z0-9._-], not starting with "
		         "'.'",
		         (int)(eq - spec > 200 ? 200 : eq - spec), spec);
		return -1;
	}
	memcpy(r->pattern, spec, r->len);
	name = eq + 1;
	r->group = *name == '@';
	name += r->group;
	if (*name == '\0' || strlen(name) >= sizeof r->name ||
	    strpbrk(name, ":/ \t@=")) {
		snprintf(err, errlen,
		         "'%.200s' is not a user or @group name for %.*s%s",
		         eq + 1, (int)r->len, r->pattern, r->prefix ? "*" : "");
		return -1;
	}
	snprintf(r->name, sizeof r->name, "%s", name);
	return 0;
}

int owners_spec_check(const char *spec, char *err, size_t errlen)
{
	struct rule r;
	return rule_parse(spec, &r, err, errlen);
}

static int rule_resolve(struct rule *r, char *err, size_t errlen)
{
	char tmp[4096];
	int rc = r->group ? access_group_id(r->name, &r->id)
	                  : access_user_id(r->name, &r->id);

	if (rc < 0) {
		snprintf(err, errlen,
		         "owner of %.*s%s: no %s '%s' on this system (see "
		         "getent %s; create it or name another)",
		         (int)r->len, r->pattern, r->prefix ? "*" : "",
		         r->group ? "group" : "user", r->name,
		         r->group ? "group" : "passwd");
		return -1;
	}
	/* A number is shown by its name, if it has one. */
	r->shown[0] = '\0';
	if (r->group) {
		struct group gr, *res = NULL;
		if (getgrgid_r((gid_t)r->id, &gr, tmp, sizeof tmp, &res) == 0 &&
		    res)
			snprintf(r->shown, sizeof r->shown, "@%s", gr.gr_name);
	} else {
		struct passwd pw, *res = NULL;
		if (getpwuid_r((uid_t)r->id, &pw, tmp, sizeof tmp, &res) == 0 &&
		    res)
			snprintf(r->shown, sizeof r->shown, "%s", pw.pw_name);
	}
	return 0;
}

/* cfg's assignments, parsed and looked up: 0 with *out (malloc'd), or -1
 * with err. */
static int rules_build(const struct broker_config *cfg, struct rule **out,
                       size_t *n, char *err, size_t errlen)
{
	struct rule *v = calloc(cfg->nowners ? cfg->nowners : 1, sizeof *v);

	*out = NULL;
	*n = 0;
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->nowners; i++) {
		char why[512];
		if (rule_parse(cfg->owners[i], &v[i], why, sizeof why) < 0 ||
		    rule_resolve(&v[i], why, sizeof why) < 0) {
			snprintf(err, errlen, "[owners] %s", why);
			free(v);
			return -1;
		}
	}
	*out = v;
	*n = cfg->nowners;
	return 0;
}

int owners_config_check(const struct broker_config *cfg, char *err,
                        size_t errlen)
{
	struct rule *v;
	size_t n;

	if (rules_build(cfg, &v, &n, err, errlen) < 0)
		return -1;
	free(v);
	return 0;
}

/* The rule for svc: an exact id first, else the longest prefix; of two
 * for the same, the later (an option after the file's). */
static const struct rule *rule_find(const struct owners *o, const char *svc,
                                    size_t len)
{
	const struct rule *best = NULL;

	for (size_t i = 0; i < o->nrules; i++) {
		const struct rule *r = &o->rules[i];
		if ((r->prefix ? len < r->len : len != r->len) ||
		    memcmp(svc, r->pattern, r->len) != 0)
			continue;
		if (best == NULL || (!r->prefix && best->prefix) ||
		    (r->prefix == best->prefix && r->len >= best->len))
			best = r;
	}
	return best;
}

/* ---- the claims table ----------------------------------------------------
 */

static struct claim *claim_find(const struct owners *o, const char *svc,
                                size_t len)
{
	uint64_t h = fnv1a64(svc, len);

	for (struct claim *c = o->buckets[h & (o->nbuckets - 1)]; c;
	     c = c->next)
		if (c->hash == h && c->len == len &&
		    memcmp(c->svc, svc, len) == 0)
			return c;
	return NULL;
}

/* Add a claim (NULL when out of memory). */
static struct claim *claim_add(struct owners *o, const char *svc, size_t len,
                               uint32_t uid)
{
	if (o->count >= o->nbuckets) {
		size_t nb = o->nbuckets * 2;
		struct claim **b = calloc(nb, sizeof *b);
		if (b == NULL)
			return NULL;
		for (size_t i = 0; i < o->nbuckets; i++)
			for (struct claim *c = o->buckets[i], *next; c;
			     c = next) {
				next = c->next;
				c->next = b[c->hash & (nb - 1)];
				b[c->hash & (nb - 1)] = c;
			}
		free(o->buckets);
		o->buckets = b;
		o->nbuckets = nb;
	}
	struct uid_count *n = uid_counts_get(&o->counts, uid);
	struct claim *c = malloc(sizeof *c + len + 1);
	if (c == NULL || n == NULL) {
		free(c);
		return NULL;
	}
	c->hash = fnv1a64(svc, len);
	c->uid = uid;
	c->len = (uint32_t)len;
	memcpy(c->svc, svc, len);
	c->svc[len] = '\0';
	c->next = o->buckets[c->hash & (o->nbuckets - 1)];
	o->buckets[c->hash & (o->nbuckets - 1)] = c;
	o->count++;
	n->n++;
	return c;
}

static void claim_remove(struct owners *o, struct claim *c)
{
	struct claim **pp = &o->buckets[c->hash & (o->nbuckets - 1)];

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	uid_counts_get(&o->counts, c->uid)
	    ->n--; /* exists: the claim counted in it */
	o->count--;
	free(c);
}

/* ---- the file ------------------------------------------------------------
 */

static int claim_line(char *buf, size_t len, uint32_t uid, const char *svc,
                      size_t svc_len)
{
	char head[LINE_MAX_BYTES];
	int n = snprintf(head, sizeof head, "%" PRIu32 " %.*s", uid,
	                 (int)svc_len, svc);

	return snprintf(buf, len, "%s %08" PRIx32 "\n", head,
	                crc32c(0, head, (size_t)n));
}

/* The journal directory, for openat; -1 with errno. */
static int journal_dir(const struct owners *o)
{
	return openat(o->dirs->log_fd, "journal",
	              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* One line of the file, checked: 0 and the claim added, or -1 with why. */
static int parse_line(struct owners *o, const char *p, size_t n,
                      const char **why)
{
	char line[LINE_MAX_BYTES + 1], *end;
	unsigned long long uid;
	unsigned long crc;

	*why = "not UID SERVICE CRC32C";
	if (n == 0 || n > LINE_MAX_BYTES)
		return -1;
	memcpy(line, p, n);
	line[n] = '\0';
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strrchr(line, ' ') : NULL;
	if (sp1 == NULL || sp2 == sp1 || strlen(sp2 + 1) != 8)
		return -1;
	errno = 0;
	uid = strtoull(line, &end, 10);
	if (end != sp1 || line[0] < '0' || line[0] > '9' || errno ||
	    uid >= ACCESS_NONE)
		return -1;
	crc = strtoul(sp2 + 1, &end, 16);
	if (*end != '\0')
		return -1;
	const char *svc = sp1 + 1;
	size_t len = (size_t)(sp2 - svc);
	if (!service_id_valid(svc, len)) {
		*why = "not a valid service id";
		return -1;
	}
	if (crc32c(0, line, (size_t)(sp2 - line)) != (uint32_t)crc) {
		*why = "its checksum does not match (the line was changed)";
		return -1;
	}
	struct claim *c = claim_find(o, svc, len);
	if (c != NULL) {
		if (c->uid == uid)
			return 0;
		*why = "the service is claimed twice, by two uids";
		return -1;
	}
	if (claim_add(o, svc, len, (uint32_t)uid) == NULL) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

/* Read the file open at fd into the table.  A last line without its
 * newline is cut (note says so); any other damage is an error. */
static int load(struct owners *o, int fd, char *note, size_t notelen, char *err,
                size_t errlen)
{
	struct stat st;
	char *buf;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", o->path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file: move it away",
		         o->path);
		return -1;
	}
	if ((uint64_t)st.st_size > CLAIMS_READ_MAX) {
		snprintf(err, errlen,
		         "%s: %lld bytes, larger than any claims "
		         "file logbusd writes: not read",
		         o->path, (long long)st.st_size);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	if ((buf = malloc(size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", o->path);
		return -1;
	}
	ssize_t got = size ? pread(fd, buf, size, 0) : 0;
	if (got != (ssize_t)size) {
		snprintf(err, errlen, "cannot read %s: %s", o->path,
		         got < 0 ? strerror(errno) : "short read");
		free(buf);
		return -1;
	}
	size_t line = 1, at = 0;
	while (at < size) {
		const char *nl = memchr(buf + at, '\n', size - at);
		const char *why;
		if (nl == NULL) { /* torn: written, never synced and acked */
			if (ftruncate(fd, (off_t)at) < 0) {
				snprintf(err, errlen, "cannot cut %s: %s",
				         o->path, strerror(errno));
				free(buf);
				return -1;
			}
			snprintf(note, notelen,
			         "%s:%zu: cut an unfinished last line of %zu "
			         "bytes (a claim a crash interrupted, never "
			         "acknowledged)",
			         o->path, line, size - at);
			break;
		}
		size_t n = (size_t)(nl - (buf + at));
		if (buf[at] != '#' && parse_line(o, buf + at, n, &why) < 0) {
			snprintf(err, errlen,
			         "%s:%zu: damaged service claim (%s); logbusd "
			         "does not guess who owns a service: repair or "
			         "delete that line (its service can then be "
			         "claimed by whoever publishes it first), or "
			         "move the file away to forget every claim",
			         o->path, line, why);
			free(buf);
			return -1;
		}
		at += n + 1;
		line++;
	}
	free(buf);
	return 0;
}

/* Write every claim to a new file, put it in place of the old one, and
 * append to it from now on. */
static int rewrite(struct owners *o, char *err, size_t errlen)
{
	struct strbuf t = {0};
	char line[LINE_MAX_BYTES + 1];
	int dfd = journal_dir(o), fd = -1;
	const char *what = "open the journal directory for";

	if (dfd < 0)
		goto fail;
	sb_puts(&t, CLAIMS_HEADER);
	for (size_t i = 0; i < o->nbuckets; i++)
		for (const struct claim *c = o->buckets[i]; c; c = c->next) {
			int n = claim_line(line, sizeof line, c->uid, c->svc,
			                   c->len);
			sb_put(&t, line, (size_t)n);
		}
	what = "write";
	errno = ENOMEM;
	if (t.failed)
		goto fail;
	unlinkat(dfd, CLAIMS_TMP, 0);
	fd = openat(dfd, CLAIMS_TMP,
	            O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
	                O_CLOEXEC,
	            0640);
	if (fd < 0 || dirs_write_all(fd, t.p, t.len) < 0 || fdatasync(fd) < 0 ||
	    renameat(dfd, CLAIMS_TMP, dfd, OWNERS_FILE) < 0 || fsync(dfd) < 0)
		goto fail;
	close(dfd);
	free(t.p);
	if (o->fd >= 0)
		close(o->fd);
	o->fd = fd;
	return 0;
fail:
	snprintf(err, errlen, "cannot %s %s: %s", what, o->path,
	         strerror(errno));
	if (fd >= 0) {
		close(fd);
		unlinkat(dfd, CLAIMS_TMP, 0);
	}
	if (dfd >= 0)
		close(dfd);
	free(t.p);
	return -1;
}

/* Append the pending claims in one write and sync them.  0, or -1 with
 * err and the file as it was. */
static int append_pending(struct owners *o, char *err, size_t errlen)
{
	struct strbuf t = {0};
	char line[LINE_MAX_BYTES + 1];
	struct stat st;

	if (o->fd < 0 || fstat(o->fd, &st) < 0 || st.st_nlink == 0)
		return rewrite(o, err, errlen); /* removed under us */
	for (size_t i = 0; i < o->npending; i++) {
		const struct claim *c = o->pending[i];
		int n = claim_line(line, sizeof line, c->uid, c->svc, c->len);
		sb_put(&t, line, (size_t)n);
	}
	errno = ENOMEM;
	if (t.failed || dirs_write_all(o->fd, t.p, t.len) < 0 ||
	    fdatasync(o->fd) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", o->path,
		         strerror(errno));
		if (ftruncate(o->fd, st.st_size) < 0) {
			/* a part of a line may stay: write anew next time */
			close(o->fd);
			o->fd = -1;
		}
		free(t.p);
		return -1;
	}
	free(t.p);
	return 0;
}

/* ---- the interface -------------------------------------------------------
 */

struct owners *owners_open(const struct dirs *dirs, const char *log_dir,
                           const struct broker_config *cfg, uint32_t self_uid,
                           char *note, size_t notelen, char *err, size_t errlen)
{
	struct owners *o = calloc(1, sizeof *o);
	int dfd = -1;

	if (notelen)
		note[0] = '\0';
	if (o == NULL ||
	    (o->buckets = calloc(64, sizeof *o->buckets)) == NULL) {
		free(o);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->nbuckets = 64;
	o->dirs = dirs;
	o->self_uid = self_uid;
	o->fd = -1;
	snprintf(o->path, sizeof o->path, "%s/journal/%s", log_dir,
	         OWNERS_FILE);
	if (owners_configure(o, cfg, err, errlen) < 0)
		goto fail;
	if ((dfd = journal_dir(o)) < 0) {
		snprintf(err, errlen, "cannot open the directory of %s: %s",
		         o->path, strerror(errno));
		goto fail;
	}
	o->fd = openat(dfd, OWNERS_FILE,
	               O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (o->fd < 0 && errno == ENOENT) { /* a new journal: none yet */
		close(dfd);
		dfd = -1;
		if (rewrite(o, err, errlen) < 0)
			goto fail;
		return o;
	}
	if (o->fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", o->path,
		         strerror(errno));
		goto fail;
	}
	close(dfd);
	dfd = -1;
	if (load(o, o->fd, note, notelen, err, errlen) < 0)
		goto fail;
	return o;
fail:
	if (dfd >= 0)
		close(dfd);
	owners_free(o);
	return NULL;
}

void owners_free(struct owners *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->nbuckets; i++)
		for (struct claim *c = o->buckets[i], *next; c; c = next) {
			next = c->next;
			free(c);
		}
	if (o->fd >= 0)
		close(o->fd);
	free(o->buckets);
	uid_counts_fini(&o->counts);
	free(o->pending);
	free(o->rules);
	free(o);
}

int owners_configure(struct owners *o, const struct broker_config *cfg,
                     char *err, size_t errlen)
{
	struct rule *v;
	size_t n;

	if (rules_build(cfg, &v, &n, err, errlen) < 0)
		return -1;
	free(o->rules);
	o->rules = v;
	o->nrules = n;
	o->max_per_uid = cfg->max_claims_per_uid;
	return 0;
}

/* A uid's user name, or "" when it has none; the last one is remembered
 * for NAME_TTL_S. */
#define NAME_TTL_S 30
static void uid_name(struct owners *o, uint32_t uid, char *buf, size_t len)
{
	char tmp[4096];
	struct passwd pw, *res = NULL;
	time_t now = time(NULL);

	if (uid != o->named_uid || now >= o->named_until) {
		o->named[0] = '\0';
		if (getpwuid_r((uid_t)uid, &pw, tmp, sizeof tmp, &res) == 0 &&
		    res)
			snprintf(o->named, sizeof o->named, "%s", pw.pw_name);
		o->named_uid = uid;
		o->named_until = now + NAME_TTL_S;
	}
	snprintf(buf, len, "%s", o->named);
}

void owners_info(struct owners *o, const char *svc, size_t len,
                 struct owner_info *out)
{
	const struct rule *r = rule_find(o, svc, len);
	const struct claim *c;

	memset(out, 0, sizeof *out);
	if (r != NULL) {
		out->how = OWNER_CONFIGURED;
		out->group = r->group;
		out->id = r->id;
		snprintf(out->name, sizeof out->name, "%s", r->shown);
	} else if ((c = claim_find(o, svc, len)) != NULL) {
		out->how = OWNER_CLAIMED;
		out->id = c->uid;
		uid_name(o, c->uid, out->name, sizeof out->name);
	} else if (service_is_self(svc, len)) {
		out->how = OWNER_BROKER;
		out->id = o->self_uid;
		uid_name(o, o->self_uid, out->name, sizeof out->name);
	}
}

/* "root (uid 0)", "uid 4242", "group @security (gid 27)" */
static void who(const struct owner_info *w, char *buf, size_t len)
{
	if (w->group && w->name[0])
		snprintf(buf, len, "group %s (gid %" PRIu32 ")", w->name,
		         w->id);
	else if (w->group)
		snprintf(buf, len, "group %" PRIu32, w->id);
	else if (w->name[0])
		snprintf(buf, len, "%s (uid %" PRIu32 ")", w->name, w->id);
	else
		snprintf(buf, len, "uid %" PRIu32, w->id);
}

static void refusal(struct owners *o, const char *svc, size_t len, uint32_t uid,
                    char *msg, size_t msglen)
{
	struct owner_info w;
	char owner[128];
	int shown = len > 64 ? 64 : (int)len;

	if (msg == NULL)
		return;
	owners_info(o, svc, len, &w);
	who(&w, owner, sizeof owner);
	snprintf(msg, msglen,
	         "service %.*s belongs to %s, %s; uid %" PRIu32
	         " may not publish as it: use another service id, or assign "
	         "it in logbusd's [owners]",
	         shown, svc, owner,
	         w.how == OWNER_CONFIGURED ? "by [owners]"
	                                   : "who published it first",
	         uid);
}

enum owner_verdict owners_check(struct owners *o, struct access *a,
                                const char *svc, size_t len, uint32_t uid,
                                uint32_t gid, char *msg, size_t msglen)
{
	bool privileged = uid == 0 || uid == o->self_uid;
	const struct rule *r = rule_find(o, svc, len);
	const struct claim *c;

	if (uid == ACCESS_NONE) { /* no peer credentials: nobody's */
		if (msg)
			snprintf(msg, msglen,
			         "logbusd cannot tell which user the publisher "
			         "is, so it may not publish as service %.*s",
			         len > 64 ? 64 : (int)len, svc);
		return OWNER_REFUSED;
	}
	if (r != NULL) {
		if (r->group ? access_member(a, uid, gid, r->id) : uid == r->id)
			return OWNER_MAY;
	} else if ((c = claim_find(o, svc, len)) != NULL) {
		if (c->uid == uid)
			return OWNER_MAY;
	} else { /* nobody's yet: uid's from now on */
		struct uid_count *n = uid_counts_get(&o->counts, uid);
		if (!privileged && o->max_per_uid && n &&
		    n->n >= o->max_per_uid) {
			if (msg)
				snprintf(
				    msg, msglen,
				    "uid %" PRIu32 " already owns %" PRIu32
				    " services, the limit "
				    "(max-claims-per-uid): assign a prefix "
				    "to it in logbusd's [owners] "
				    "(service_* = NAME)",
				    uid, n->n);
			return OWNER_REFUSED;
		}
		if (o->npending == o->pending_cap) {
			size_t cap = o->pending_cap ? o->pending_cap * 2 : 16;
			struct claim **p = realloc(o->pending, cap * sizeof *p);
			if (p == NULL)
				goto oom;
			o->pending = p;
			o->pending_cap = cap;
		}
		struct claim *nc = claim_add(o, svc, len, uid);
		if (nc == NULL)
			goto oom;
		o->pending[o->npending++] = nc;
		return OWNER_MAY;
	}
	if (privileged)
		return OWNER_MAY_OTHER;
	refusal(o, svc, len, uid, msg, msglen);
	return OWNER_REFUSED;
oom:
	if (msg)
		snprintf(msg, msglen,
		         "logbusd is out of memory and cannot record who owns "
		         "service %.*s",
		         len > 64 ? 64 : (int)len, svc);
	return OWNER_REFUSED;
}

int owners_commit(struct owners *o, char *err, size_t errlen)
{
	int rc = 0;

	if (o->npending == 0)
		return 0;
	if (append_pending(o, err, errlen) < 0) {
		rc = -1;
		while (o->npending > 0)
			claim_remove(o, o->pending[--o->npending]);
	}
	o->npending = 0;
	return rc;
}
