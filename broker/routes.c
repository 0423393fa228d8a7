/*
 * routes.c: routed files (routes.h says what they are and promise).
 *
 * Invariants:
 *  - a route's `done` is the last sequence number it has written or had no
 *    use for; it only moves forward, and only after write(2) succeeded;
 *  - a failing route is skipped by new batches and catches up from the
 *    journal from `done`, so its file ends up with every record it should
 *    have, once; a partial write is truncated back before that;
 *  - journal/fanout (fanout.h) holds each route's `done`, its file and the
 *    file's size after those lines: saved after every write and whenever
 *    the file is opened, so that after a crash routes_resume knows which
 *    lines of the journal's tail the file already has (compared byte for
 *    byte, a torn line cut) and writes the others, once;
 *  - at most OPEN_MAX files are open (least recently written closed first)
 *    and at most AUTO_MAX by-logger files exist: ten thousand services
 *    cannot exhaust descriptors;
 *  - a file name comes from configuration checked at start, or from a
 *    logger component reduced to [A-Za-z0-9._-] under by-logger/: never
 *    outside the log directory, never the journal or an error report
 *    (no route's name at the top holds _error.log);
 *  - every file and directory is made, opened, renamed and removed through
 *    a descriptor of its directory (the log directory's, by-logger/'s, or
 *    a configured route's own while its file is open) and never through a
 *    symbolic link (dirs.h): a link or anything but a regular file at a
 *    route's name makes the route fail, it is never written through.
 */
#include "routes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "broker.h"
#include "config.h"
#include "dirs.h"
#include "error_report.h"
#include "fanout.h"
#include "fault.h"
#include "journal.h"
#include "lru.h"
#include "record.h"
#include "record_json.h"
#include "selflog.h"
#include "strbuf.h"
#include "syncer.h"
#include "textline.h"
#include "timefmt.h"

#define OPEN_MAX      64
#define AUTO_MAX      1000
#define AUTO_DIR      "by-logger"
#define AUTO_BUCKETS  256
#define CATCHUP_MAX   50000 /* records a recovering route writes per tick */
#define COMPONENT_MAX 100

struct route {
	struct route_spec spec;
	char path[4400];  /* for messages */
	const char *base; /* the file's name in its directory */
	int dirfd;        /* a nested route's directory while open; -1 */
	bool automatic;
	char component[COMPONENT_MAX + 1]; /* automatic: whose records */
	int fd;                            /* -1: closed */
	uint64_t size;
	uint64_t dev, ino; /* of the file fd was opened on; ino 0: none */
	uint64_t done;
	bool failing;
	bool behind; /* saved as failing until caught up (fanout.h) */
	int slot;    /* in journal/fanout; -1: none */
	struct fanout_pos saved; /* what journal/fanout said at start */
	bool has_saved;
	/* routes_resume: the file's bytes from voff to vend are lines of
	 * records after done, compared with the journal's before any is
	 * written again; vfd -1: nothing to compare */
	int vfd;
	uint64_t voff, vend;
	char problem[600]; /* the last problem reported */
	struct strbuf out; /* lines of the batch not written yet */
	bool touched;      /* in r->touched this batch */
	struct lru_node lru;
	struct route *hnext; /* automatic: hash chain by component */
};

struct routes {
	struct broker *b;
	struct route **v; /* every route, configured first */
	size_t n, cap;
	bool defaults;
	bool json; /* a route writes JSON: it needs the records' fields */
	size_t nauto;
	bool auto_full_reported;
	int auto_fd; /* by-logger/, or -1 */
	struct route *buckets[AUTO_BUCKETS];
	struct lru open; /* open files, most recently written first */
	size_t nopen;
	struct route **touched;
	size_t ntouched;
	char *config;       /* the specs, one per line: is a reload a change? */
	struct strbuf text; /* the text line of record text_seq */
	uint64_t text_seq;
	uint64_t max_bytes; /* routes_config's rotation, for by-logger/ */
	int backups;
	msgpack_zone zone;
	int64_t tsec; /* the second tbuf holds */
	char tbuf[TIMEFMT_MAX];
	struct routes_stats st;
};

/* ---- specs --------------------------------------------------------------- */

static bool safe_relative_path(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || *p == '/' || p[n - 1] == '/' || strstr(p, "//") ||
	    n > 200)
		return false;
	for (const char *c = p; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' ||
		      *c == '-' || *c == '/'))
			return false;
	/* no "..", no hidden or empty components */
	for (const char *c = p; *c;) {
		if (*c == '.' || *c == '/')
			return false;
		c = strchr(c, '/');
		if (c == NULL)
			break;
		c++;
	}
	if (strncmp(p, "journal/", 8) == 0 || strcmp(p, "journal") == 0 ||
	    strncmp(p, "service_", 8) == 0 || strncmp(p, AUTO_DIR "/", 10) == 0)
		return false;
	/* an error report's name (<service>_error.log), or its .1 or .tmp */
	if (strchr(p, '/') == NULL && strstr(p, REPORT_SUFFIX) != NULL)
		return false;
	return true;
}

static int parse_list(const char *v, struct filter *f, bool services, char *err,
                      size_t errlen)
{
	char buf[1024];

	if (*v == '\0' || strstr(v, "||") || *v == '|' ||
	    v[strlen(v) - 1] == '|') {
		snprintf(err, errlen, "empty %s list",
		         services ? "service" : "stream");
		return -1;
	}
	snprintf(buf, sizeof buf, "%s", v);
	for (char *save = NULL, *t = strtok_r(buf, "|", &save); t;
	     t = strtok_r(NULL, "|", &save)) {
		if (!services) {
			int s = strcmp(t, "log") == 0      ? 0
			        : strcmp(t, "stdout") == 0 ? 1
			        : strcmp(t, "stderr") == 0 ? 2
			                                   : -1;
			if (s < 0) {
				snprintf(err, errlen, "unknown stream '%s'", t);
				return -1;
			}
			f->streams |= 1u << s;
			continue;
		}
		if (!service_id_valid(t, strlen(t))) {
			snprintf(err, errlen, "invalid service id '%s'", t);
			return -1;
		}
		struct lb_str *n =
		    realloc(f->services, (f->nservices + 1) * sizeof *n);
		char *copy = strdup(t);
		if (n == NULL || copy == NULL) {
			free(copy);
			if (n)
				f->services = n;
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		f->services = n;
		n[f->nservices].p = copy;
		n[f->nservices].len = (uint32_t)strlen(copy);
		f->nservices++;
	}
	return 0;
}

static int spec_option(struct route_spec *s, const char *k, const char *v,
                       char *err, size_t errlen)
{
	char *end;

	if (strcmp(k, "service") == 0)
		return parse_list(v, &s->flt, true, err, errlen);
	if (strcmp(k, "stream") == 0)
		return parse_list(v, &s->flt, false, err, errlen);
	if (strcmp(k, "level") == 0) {
		if ((s->flt.min_level = level_parse(v)) < 0) {
			snprintf(err, errlen, "unknown level '%s'", v);
			return -1;
		}
	} else if (strcmp(k, "logger") == 0) {
		free(s->flt.logger_prefix);
		s->flt.logger_prefix = NULL;
		if (!logger_valid(v, strlen(v)) ||
		    (s->flt.logger_prefix = strdup(v)) == NULL) {
			snprintf(err, errlen, "bad logger prefix '%s'", v);
			return -1;
		}
		s->flt.prefix_len = strlen(v);
	} else if (strcmp(k, "format") == 0) {
		if (strcmp(v, "text") == 0)
			s->format = ROUTE_TEXT;
		else if (strcmp(v, "json") == 0)
			s->format = ROUTE_JSON;
		else {
			snprintf(err, errlen, "format is text or json");
			return -1;
		}
	} else if (strcmp(k, "max-size") == 0) {
		if ((s->max_bytes = config_parse_size(v)) == UINT64_MAX) {
			snprintf(err, errlen, "bad max-size '%s'", v);
			return -1;
		}
		s->max_set = true;
	} else if (strcmp(k, "backups") == 0) {
		long n = strtol(v, &end, 10);
		if (*v == '\0' || *end || n < 0 || n > 100) {
			snprintf(err, errlen, "backups is 0..100");
			return -1;
		}
		s->backups = (int)n;
		s->backups_set = true;
	} else if (strcmp(k, "mode") == 0) {
		long m = strtol(v, &end, 8);
		if (*v == '\0' || *end || m < 0 || m > 0777) {
			snprintf(err, errlen, "mode is octal, like 0640");
			return -1;
		}
		s->mode = (int)m;
	} else {
		snprintf(err, errlen, "unknown route option '%s'", k);
		return -1;
	}
	return 0;
}

/* The spec of a route that said nothing yet; its rotation is routes_config's
 * (the caller's max_bytes and backups). */
static void spec_defaults(struct route_spec *s, uint64_t max_bytes, int backups)
{
	memset(s, 0, sizeof *s);
	s->format = ROUTE_TEXT;
	s->max_bytes = max_bytes;
	s->backups = backups;
	s->mode = 0640;
}

int route_spec_parse(struct route_spec *s, const char *text, char *err,
                     size_t errlen)
{
	char buf[2048];

	spec_defaults(s, 0, 0);
	snprintf(buf, sizeof buf, "%s", text);
	char *opts = strchr(buf, ':');
	if (opts)
		*opts++ = '\0';
	if (!safe_relative_path(buf)) {
		snprintf(err, errlen,
		         "route file '%s' must be a relative path "
		         "of [A-Za-z0-9._-/] under the log "
		         "directory, outside journal/, %s/, "
		         "service_* and *" REPORT_SUFFIX "*",
		         buf, AUTO_DIR);
		return -1;
	}
	snprintf(s->file, sizeof s->file, "%.200s", buf);
	for (char *save = NULL, *kv = opts ? strtok_r(opts, ",", &save) : NULL;
	     kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (eq == NULL) {
			snprintf(err, errlen,
			         "route option '%s' is not "
			         "key=value",
			         kv);
			route_spec_fini(s);
			return -1;
		}
		*eq = '\0';
		if (spec_option(s, kv, eq + 1, err, errlen) < 0) {
			route_spec_fini(s);
			return -1;
		}
	}
	return 0;
}

void route_spec_fini(struct route_spec *s)
{
	filter_fini(&s->flt);
}

/* ---- routes -------------------------------------------------------------- */

static struct route *route_add(struct routes *r, const struct route_spec *spec,
                               bool automatic, uint64_t done)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct route **v = realloc(r->v, cap * sizeof *v);
		struct route **t = realloc(r->touched, cap * sizeof *t);
		if (v)
			r->v = v;
		if (t)
			r->touched = t;
		if (v == NULL || t == NULL)
			return NULL;
		r->cap = cap;
	}
	struct route *rt = calloc(1, sizeof *rt);
	if (rt == NULL)
		return NULL;
	rt->spec = *spec;
	rt->automatic = automatic;
	rt->fd = -1;
	rt->dirfd = -1;
	rt->vfd = -1;
	rt->done = done;
	rt->slot =
	    fanout_slot(r->b->fanout, spec->file, &rt->saved, &rt->has_saved);
	const char *slash = strrchr(rt->spec.file, '/');
	rt->base = slash ? slash + 1 : rt->spec.file;
	snprintf(rt->path, sizeof rt->path, "%s/%s", r->b->cfg.log_dir,
	         spec->file);
	r->json |= spec->format == ROUTE_JSON;
	r->v[r->n++] = rt;
	return rt;
}

/* Two routes writing one file (or one's backups) would double lines and
 * rotate each other's files. */
static bool files_clash(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > lb)
		return files_clash(b, a);
	if (strncmp(a, b, la) != 0)
		return false;
	if (la == lb)
		return true;
	if (b[la] != '.' || b[la + 1] == '\0')
		return false;
	return strspn(b + la + 1, "0123456789") == lb - la - 1;
}

/* "defaults\nspec\nspec...": a configuration as one comparable string. */
static char *config_text(const struct routes_config *cfg)
{
	struct strbuf sb = {0};

	sb_printf(&sb, "%s %" PRIu64 "x%d", cfg->defaults ? "defaults" : "none",
	          cfg->max_bytes, cfg->backups);
	for (size_t i = 0; i < cfg->nspecs; i++) {
		sb_puts(&sb, "\n");
		sb_puts(&sb, cfg->specs[i]);
	}
	if (sb.failed || sb.p == NULL) {
		sb_free(&sb);
		return NULL;
	}
	return sb.p;
}

/* Parse every spec of cfg into specs[] (cfg->nspecs of them) and check that
 * no two write one file.  0, or -1 with err and nothing left to free. */
static int parse_specs(const struct routes_config *cfg,
                       struct route_spec *specs, char *err, size_t errlen)
{
	size_t n = 0;

	for (; n < cfg->nspecs; n++) {
		struct route_spec *s = &specs[n];
		if (route_spec_parse(s, cfg->specs[n], err, errlen) < 0)
			goto fail;
		if (!s->max_set)
			s->max_bytes = cfg->max_bytes;
		if (!s->backups_set)
			s->backups = cfg->backups;
	}
	for (size_t i = 0; i < n; i++) {
		const char *f = specs[i].file;
		if (cfg->defaults && files_clash(f, "all.log")) {
			snprintf(err, errlen,
			         "route file %s clashes with the "
			         "default all.log (see "
			         "--no-default-routes)",
			         f);
			goto fail;
		}
		for (size_t k = 0; k < i; k++)
			if (files_clash(f, specs[k].file)) {
				snprintf(err, errlen,
				         "route file %s clashes with %s", f,
				         specs[k].file);
				goto fail;
			}
	}
	return 0;
fail:
	while (n--)
		route_spec_fini(&specs[n]);
	return -1;
}

int routes_check(const struct routes_config *cfg, char *err, size_t errlen)
{
	struct route_spec *specs = calloc(cfg->nspecs + 1, sizeof *specs);

	if (specs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = parse_specs(cfg, specs, err, errlen);
	for (size_t i = 0; rc == 0 && i < cfg->nspecs; i++)
		route_spec_fini(&specs[i]);
	free(specs);
	return rc;
}

struct routes *routes_new(struct broker *b, const struct routes_config *cfg,
                          char *err, size_t errlen)
{
	struct routes *r = calloc(1, sizeof *r);
	struct route_spec *specs = calloc(cfg->nspecs + 1, sizeof *specs);
	uint64_t last = journal_last_seq(b->journal);
	size_t i = 0;

	if (r == NULL || specs == NULL) {
		free(r);
		free(specs);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->b = b;
	r->auto_fd = -1;
	r->defaults = cfg->defaults;
	r->max_bytes = cfg->max_bytes;
	r->backups = cfg->backups;
	r->tsec = -1;
	msgpack_zone_init(&r->zone, 4096);
	if ((r->config = config_text(cfg)) == NULL) {
		free(specs);
		routes_free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (parse_specs(cfg, specs, err, errlen) < 0) {
		free(specs);
		routes_free(r);
		return NULL;
	}
	if (cfg->defaults) {
		struct route_spec all;
		spec_defaults(&all, cfg->max_bytes, cfg->backups);
		snprintf(all.file, sizeof all.file, "all.log");
		if (route_add(r, &all, false, last) == NULL)
			goto oom;
	}
	/* Each route takes its spec (and the filter's memory) over. */
	for (; i < cfg->nspecs; i++)
		if (route_add(r, &specs[i], false, last) == NULL)
			goto oom;
	free(specs);
	return r;
oom:
	for (; i < cfg->nspecs; i++)
		route_spec_fini(&specs[i]);
	free(specs);
	snprintf(err, errlen, "out of memory");
	routes_free(r);
	return NULL;
}

bool routes_config_same(const struct routes *r, const struct routes_config *cfg)
{
	char *text = config_text(cfg);
	bool same = text && strcmp(text, r->config) == 0;
	free(text);
	return same;
}

/* journal/fanout: where rt has got (the invariant of fanout.h holds
 * after every write, open and failure). */
static void route_save(struct routes *r, const struct route *rt)
{
	struct fanout_pos pos = {
	    .done = rt->done,
	    .dev = rt->dev,
	    .ino = rt->ino,
	    .size = rt->size,
	    .failing = rt->behind,
	};

	fanout_save(r->b->fanout, rt->slot, &pos);
}

void routes_inherit(struct routes *r, const struct routes *old)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 0; k < old->n; k++) {
			struct route *to = r->v[i];
			const struct route *from = old->v[k];
			if (strcmp(to->spec.file, from->spec.file) != 0)
				continue;
			to->done = from->done;
			to->failing = from->failing;
			to->behind = from->behind;
			memcpy(to->problem, from->problem, sizeof to->problem);
		}
	/* a slot may hold an older route's position of the same file */
	for (size_t i = 0; i < r->n; i++)
		route_save(r, r->v[i]);
}

static void route_close(struct routes *r, struct route *rt)
{
	if (rt->dirfd >= 0)
		close(rt->dirfd);
	rt->dirfd = -1;
	if (rt->fd < 0)
		return;
	close(rt->fd);
	rt->fd = -1;
	lru_unlink(&r->open, &rt->lru);
	r->nopen--;
}

void routes_free(struct routes *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		route_close(r, r->v[i]);
		if (r->v[i]->vfd >= 0)
			close(r->v[i]->vfd);
		route_spec_fini(&r->v[i]->spec);
		sb_free(&r->v[i]->out);
		free(r->v[i]);
	}
	if (r->auto_fd >= 0)
		close(r->auto_fd);
	free(r->v);
	free(r->touched);
	free(r->config);
	sb_free(&r->text);
	msgpack_zone_destroy(&r->zone);
	free(r);
}

/* A failure: remembered, reported once per distinct problem. */
static void route_failed(struct routes *r, struct route *rt, const char *what)
{
	char problem[sizeof rt->problem];

	snprintf(problem, sizeof problem, "%s %.400s: %s", what, rt->path,
	         strerror(errno));
	rt->failing = true;
	r->st.errors++;
	if (!rt->behind) {
		rt->behind = true;
		route_save(r, rt);
	}
	if (strcmp(problem, rt->problem) != 0) {
		snprintf(rt->problem, sizeof rt->problem, "%s", problem);
		broker_log(r->b, LOGBUS_WARNING,
		           "route %s: cannot %s; its records stay in the "
		           "journal and are written when it works again",
		           rt->spec.file, problem);
	}
	route_close(r, rt);
}

/* The descriptor of the directory rt's file is in, made where missing:
 * the log directory's, by-logger/'s (kept until a reopen) or a nested
 * route's (kept while its file is open); not the caller's to close.  -1
 * with errno. */
static int route_dirfd(struct routes *r, struct route *rt)
{
	int log_fd = r->b->dirs.log_fd;
	const char *base;

	if (rt->automatic) {
		if (r->auto_fd < 0)
			r->auto_fd = dirs_open_parent(log_fd, rt->spec.file,
			                              0750, &base);
		return r->auto_fd;
	}
	if (rt->base == rt->spec.file)
		return log_fd;
	if (rt->dirfd < 0)
		rt->dirfd =
		    dirs_open_parent(log_fd, rt->spec.file, 0750, &base);
	return rt->dirfd;
}

static int route_open(struct routes *r, struct route *rt)
{
	struct stat st;

	if (rt->fd >= 0) {
		lru_touch(&r->open, &rt->lru);
		return 0;
	}
	int dfd = route_dirfd(r, rt);
	if (dfd < 0) {
		route_failed(r, rt, "create the directory of");
		return -1;
	}
	while (r->nopen >= OPEN_MAX)
		route_close(r, lru_entry(r->open.tail, struct route, lru));
	/* O_NONBLOCK: a FIFO at the name must not stop the loop. */
	rt->fd = openat(dfd, rt->base,
	                O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	                    O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
	                rt->spec.mode);
	if (rt->fd < 0 || fstat(rt->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		const char *what = "open";
		if (rt->fd >= 0) {
			if (!S_ISREG(st.st_mode)) {
				what = "write to a non-regular file at";
				errno = EINVAL;
			}
			int e = errno;
			close(rt->fd);
			errno = e;
		}
		rt->fd = -1;
		route_failed(r, rt, what);
		return -1;
	}
	rt->size = (uint64_t)st.st_size;
	rt->dev = (uint64_t)st.st_dev;
	rt->ino = (uint64_t)st.st_ino;
	lru_push(&r->open, &rt->lru);
	r->nopen++;
	route_save(r, rt);
	return 0;
}

/* Python's RotatingFileHandler: file.N-1 -> file.N ... file -> file.1.
 * The oldest backup is held open, removed, and its last close left to the
 * syncer's thread (syncer.h says why); so no rename replaces a file, which
 * ext4 answers by writing the renamed file's data out at once. */
static void route_rotate(struct routes *r, struct route *rt)
{
	char from[NAME_MAX + 1], to[NAME_MAX + 1];
	int failed = 0;

	route_close(r, rt);
	int dfd = route_dirfd(r, rt);
	if (dfd < 0) {
		route_failed(r, rt, "rotate");
		return;
	}
	snprintf(to, sizeof to, "%s.%d", rt->base, rt->spec.backups);
	int oldest =
	    openat(dfd, to, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (unlinkat(dfd, to, 0) < 0 && errno != ENOENT)
		failed = errno;
	for (int i = rt->spec.backups - 1; i >= 1; i--) {
		snprintf(from, sizeof from, "%s.%d", rt->base, i);
		snprintf(to, sizeof to, "%s.%d", rt->base, i + 1);
		if (renameat(dfd, from, dfd, to) < 0 && errno != ENOENT)
			failed = errno;
	}
	FAULT_POINT("route_rotate"); /* no .1 between .2 and the file */
	snprintf(to, sizeof to, "%s.1", rt->base);
	if (renameat(dfd, rt->base, dfd, to) < 0 && errno != ENOENT)
		failed = errno;
	syncer_release(r->b->syncer, oldest);
	if (failed) {
		errno = failed;
		route_failed(r, rt, "rotate");
	}
	r->st.rotations++;
	rt->size = 0;
	rt->ino = 0; /* the file is .1 now: the next open says which is new */
}

/* Write the route's pending lines; on failure the file is cut back to
 * where it was and the lines are dropped (the journal has them). */
static int route_flush(struct routes *r, struct route *rt)
{
	const char *p = rt->out.p;
	size_t left = rt->out.len;

	if (rt->failing) {
		sb_reset(&rt->out);
		return -1;
	}
	if (left == 0)
		return 0;
	if (route_open(r, rt) < 0) {
		sb_reset(&rt->out);
		return -1;
	}
	while (left > 0) {
		ssize_t w = write(rt->fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			if (ftruncate(rt->fd, (off_t)rt->size) < 0) {
				/* cannot undo: the catch-up may repeat a
				 * partial line; said in the warning */
			}
			errno = e;
			route_failed(r, rt, "write");
			sb_reset(&rt->out);
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	rt->size += rt->out.len;
	r->st.bytes += rt->out.len;
	sb_reset(&rt->out);
	return 0;
}

/* ---- formatting ---------------------------------------------------------- */

/* "YYYY-MM-DD HH:MM:SS,mmm" into t (TIMEFMT_MAX bytes); its length. */
static size_t time_python(struct routes *r, int64_t ns, char *t)
{
	int64_t sec = ns / 1000000000;
	int ms = (int)((ns % 1000000000) / 1000000);

	if (ns < 0)
		return timefmt_python(t, TIMEFMT_MAX, ns);
	if (sec != r->tsec) { /* once a second, not once a record */
		timefmt_python(r->tbuf, sizeof r->tbuf, sec * 1000000000);
		r->tbuf[20] = '\0'; /* "YYYY-MM-DD HH:MM:SS," */
		r->tsec = sec;
	}
	memcpy(t, r->tbuf, 20);
	t[20] = (char)('0' + ms / 100);
	t[21] = (char)('0' + ms / 10 % 10);
	t[22] = (char)('0' + ms % 10);
	return 23;
}

/* The text layout every text file shares (textline.h): Python logging's
 * with the service after the logger, further lines marked, controls
 * escaped. */
static void format_text(struct routes *r, struct strbuf *out,
                        const struct record_view *v,
                        const struct frame_record *fr)
{
	char t[TIMEFMT_MAX];
	struct textline tl = {
	    .time = t,
	    .time_len = time_python(r, v->time_ns, t),
	    .level = v->level,
	    .logger = v->logger.p,
	    .logger_len = v->logger.len,
	    .service = v->service.p,
	    .service_len = v->service.len,
	    .not_owner = (fr->flags & FRAME_REC_NOT_OWNER) != 0,
	    .uid = fr->uid,
	    .message = v->message.p,
	    .message_len = v->message.len,
	};

	textline_format(out, &tl, false);
}

/* Resuming after a crash (routes_resume): whether the file already has
 * this line where the next line after the saved position would be.  The
 * first line it does not have ends the comparing, and the file is cut
 * there (a line torn by the crash, and anything after it, is written
 * again whole). */
static bool route_has(struct routes *r, struct route *rt, const char *line,
                      size_t len)
{
	char buf[4096];
	size_t same = 0;

	while (same < len && rt->voff + same < rt->vend) {
		size_t want = len - same < sizeof buf ? len - same : sizeof buf;
		ssize_t got =
		    pread(rt->vfd, buf, want, (off_t)(rt->voff + same));
		if (got <= 0 || memcmp(buf, line + same, (size_t)got) != 0)
			break;
		same += (size_t)got;
	}
	if (same == len) {
		rt->voff += len;
		if (rt->voff >= rt->vend) { /* the file ends here */
			close(rt->vfd);
			rt->vfd = -1;
		}
		return true;
	}
	if (ftruncate(rt->fd, (off_t)rt->voff) < 0) {
		route_failed(r, rt, "cut a torn line of");
	} else {
		broker_log(r->b, LOGBUS_INFO,
		           "route %s: cut %" PRIu64 " bytes the last crash "
		           "left torn; writing from the journal",
		           rt->spec.file, rt->vend - rt->voff);
		rt->size = rt->voff;
	}
	close(rt->vfd);
	rt->vfd = -1;
	return false;
}

/* Append one record's line to the route, rotating first when the line
 * would take the file past its size. */
static void route_line(struct routes *r, struct route *rt,
                       const struct record_view *v, uint64_t seq,
                       const struct frame_record *fr)
{
	size_t before = rt->out.len;

	/* The size rotation goes by is the file's own: a file closed by a
	 * reopen may have been moved away or replaced. */
	if (rt->fd < 0 && route_open(r, rt) < 0)
		return;
	if (rt->spec.format == ROUTE_JSON) {
		record_json(&rt->out, v, seq, fr);
	} else {
		/* every text route of a record writes the same line */
		if (r->text_seq != seq) {
			sb_reset(&r->text);
			format_text(r, &r->text, v, fr);
			r->text_seq = seq;
		}
		sb_put(&rt->out, r->text.p, r->text.len);
	}
	size_t line = rt->out.len - before;
	if (rt->vfd >= 0 && route_has(r, rt, rt->out.p + before, line)) {
		rt->out.len = before;
		return;
	}
	r->st.lines++;
	if (rt->spec.max_bytes && rt->spec.backups > 0 &&
	    rt->size + before > 0 &&
	    rt->size + rt->out.len > rt->spec.max_bytes) {
		/* write what came before this line, rotate, keep the line */
		size_t keep = line;
		char *tail = malloc(keep);
		if (tail == NULL)
			return;
		memcpy(tail, rt->out.p + before, keep);
		rt->out.len = before;
		if (route_flush(r, rt) == 0) {
			rt->done = seq - 1; /* those lines are in the file */
			route_save(r, rt);
			route_rotate(r, rt);
		}
		sb_put(&rt->out, tail, keep);
		free(tail);
	}
}

/* ---- automatic routes: by-logger/<component>.log ------------------------- */

static size_t component_of(const struct lb_str *logger, char *out)
{
	size_t n = 0;

	for (uint32_t i = 0;
	     i < logger->len && logger->p[i] != '.' && n < COMPONENT_MAX; i++) {
		unsigned char c = (unsigned char)logger->p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '-';
		out[n++] = ok ? (char)c : '_';
	}
	out[n] = '\0';
	return n;
}

static unsigned bucket(const char *s)
{
	unsigned h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % AUTO_BUCKETS;
}

static struct route *auto_find(struct routes *r, const char *comp)
{
	for (struct route *rt = r->buckets[bucket(comp)]; rt; rt = rt->hnext)
		if (strcmp(rt->component, comp) == 0)
			return rt;
	return NULL;
}

/* A new by-logger route for the component comp, done up to done. */
static struct route *auto_add(struct routes *r, const char *comp, uint64_t done)
{
	char file[COMPONENT_MAX + 32];
	unsigned h = bucket(comp);

	if (r->nauto >= AUTO_MAX) {
		if (!r->auto_full_reported) {
			r->auto_full_reported = true;
			broker_log(r->b, LOGBUS_WARNING,
			           "routes: %d by-logger files already; "
			           "records of logger '%s' and later new "
			           "ones go to all.log only",
			           AUTO_MAX, comp);
		}
		return NULL;
	}
	struct route_spec s;
	spec_defaults(&s, r->max_bytes, r->backups);
	snprintf(file, sizeof file, "%s/%s.log", AUTO_DIR, comp);
	snprintf(s.file, sizeof s.file, "%s", file);
	struct route *rt = route_add(r, &s, true, done);
	if (rt == NULL) {
		route_spec_fini(&s);
		return NULL;
	}
	snprintf(rt->component, sizeof rt->component, "%s", comp);
	rt->hnext = r->buckets[h];
	r->buckets[h] = rt;
	r->nauto++;
	return rt;
}

/* The by-logger route of v's top-level component, made when first seen. */
static struct route *auto_route(struct routes *r, const struct record_view *v,
                                uint64_t seq)
{
	char comp[COMPONENT_MAX + 1];

	if (component_of(&v->logger, comp) == 0)
		return NULL;
	struct route *rt = auto_find(r, comp);
	if (rt != NULL || (rt = auto_add(r, comp, seq - 1)) == NULL)
		return rt;
	route_save(r, rt); /* its slot may hold an older position */
	return rt;
}

/* ---- the data path ------------------------------------------------------- */

/* Whether a route wants a record: its filter, or for a by-logger file the
 * reduced component (several loggers can share one file). */
static bool route_wants(const struct route *rt, const struct record_view *v)
{
	char comp[COMPONENT_MAX + 1];

	if (!rt->automatic)
		return filter_match(&rt->spec.flt, v);
	component_of(&v->logger, comp);
	return strcmp(comp, rt->component) == 0;
}

static void touch(struct routes *r, struct route *rt)
{
	if (!rt->touched) {
		rt->touched = true;
		r->touched[r->ntouched++] = rt;
	}
}

static void feed(struct routes *r, const struct record_view *v, uint64_t seq,
                 const struct frame_record *fr)
{
	for (size_t i = 0; i < r->n; i++) {
		struct route *rt = r->v[i];
		if (rt->automatic)
			break; /* configured routes come first */
		if (rt->failing || rt->done >= seq ||
		    !filter_match(&rt->spec.flt, v))
			continue;
		route_line(r, rt, v, seq, fr);
		touch(r, rt);
	}
	if (!r->defaults)
		return;
	struct route *rt = auto_route(r, v, seq);
	if (rt && !rt->failing && rt->done < seq) {
		route_line(r, rt, v, seq, fr);
		touch(r, rt);
	}
}

/* ingest checked the record in place (record_check): its fields, for JSON. */
static void decode_fields(struct routes *r, const struct journal_rec *rec,
                          struct record_view *v)
{
	struct record_view full;
	struct record_error e;

	if (record_decode(rec->data, rec->len, &r->zone, &full, &e) == 0)
		v->fields = full.fields;
}

/* Write the lines the touched routes gathered: they are done up to seq. */
static void flush_touched(struct routes *r, uint64_t seq)
{
	for (size_t i = 0; i < r->ntouched; i++) {
		struct route *rt = r->touched[i];
		rt->touched = false;
		if (route_flush(r, rt) == 0) {
			rt->done = seq;
			route_save(r, rt);
		}
	}
	r->ntouched = 0;
}

void routes_write(struct routes *r, const struct batch *bt)
{
	struct record_view v;
	struct frame_record fr = bt->stamp; /* with each record's flags */

	msgpack_zone_clear(&r->zone);
	for (size_t i = 0; i < bt->n; i++) {
		v = bt->views[i];
		if (r->json && v.nfields && !v.fields)
			decode_fields(r, &bt->recs[i], &v);
		fr.flags = bt->recs[i].flags;
		feed(r, &v, bt->first_seq + i, &fr);
	}
	uint64_t last = bt->first_seq + bt->n - 1;
	flush_touched(r, last);
	/* untouched healthy routes had no use for these records */
	for (size_t i = 0; i < r->n; i++)
		if (!r->v[i]->failing && r->v[i]->done < last)
			r->v[i]->done = last;
}

unsigned routes_reopen(struct routes *r)
{
	unsigned n = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i]->fd >= 0) {
			route_close(r, r->v[i]);
			n++;
		}
	/* by-logger/ too: it may have been moved or made again */
	if (r->auto_fd >= 0)
		close(r->auto_fd);
	r->auto_fd = -1;
	return n;
}

struct catchup {
	struct routes *r;
	struct route *rt;
	size_t written;
	uint64_t upto; /* the last record examined */
	bool failed;
};

static int catchup_one(void *arg, const struct frame_record *fr,
                       const struct record_view *v)
{
	struct catchup *c = arg;

	if (v != NULL && route_wants(c->rt, v)) {
		route_line(c->r, c->rt, v, fr->seq, fr);
		c->written++;
	}
	c->upto = fr->seq;
	if (c->rt->out.len >= 1u << 20) {
		if (route_flush(c->r, c->rt) < 0) {
			c->failed = true;
			return 1;
		}
		c->rt->done = c->upto;
		route_save(c->r, c->rt);
	}
	return c->written >= CATCHUP_MAX;
}

/* A failing route: open again and write what the journal has since done. */
static void recover(struct routes *r, struct route *rt)
{
	struct catchup c = {.r = r, .rt = rt, .upto = rt->done};
	uint64_t from = rt->done;
	char err[256];

	rt->failing = false; /* so that opening and writing are tried */
	if (route_open(r, rt) < 0)
		return;
	if (journal_read_records(r->b->journal, rt->done, catchup_one, &c, err,
	                         sizeof err) < 0 ||
	    c.failed || route_flush(r, rt) < 0) {
		sb_reset(&rt->out);
		rt->failing = true;
		return;
	}
	rt->done = c.upto;
	if (rt->done < journal_last_seq(r->b->journal)) {
		rt->failing = true; /* more next tick; new batches skip it */
		route_save(r, rt);
		return;
	}
	rt->behind = false;
	route_save(r, rt);
	broker_log(r->b, LOGBUS_INFO,
	           "route %s: writing again (caught up from seq %" PRIu64 ")",
	           rt->spec.file, from + 1);
	rt->problem[0] = '\0';
}

void routes_tick(struct routes *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i]->failing)
			recover(r, r->v[i]);
}

/* ---- after a crash: from journal/fanout's positions -------------------- */

/* The file at rt's name, when it is the one its saved position names and
 * holds more than the position says: compared line by line (route_has)
 * before anything is written to it. */
static void resume_compare(struct routes *r, struct route *rt)
{
	const struct fanout_pos *pos = &rt->saved;
	struct stat st;

	if (pos->ino == 0)
		return;
	int dfd = route_dirfd(r, rt);
	int fd = dfd < 0 ? -1
	                 : openat(dfd, rt->base,
	                          O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	                              O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return; /* moved away or gone: written anew */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_dev == pos->dev &&
	    (uint64_t)st.st_ino == pos->ino &&
	    (uint64_t)st.st_size > pos->size) {
		rt->vfd = fd;
		rt->voff = pos->size;
		rt->vend = (uint64_t)st.st_size;
		return;
	}
	close(fd);
}

struct resume {
	struct routes *r;
	uint64_t n;
};

static int resume_one(void *arg, const struct frame_record *fr,
                      const struct record_view *v)
{
	struct resume *c = arg;

	if (v != NULL)
		feed(c->r, v, fr->seq, fr);
	if (++c->n % 4096 == 0)
		flush_touched(c->r, fr->seq);
	return 0;
}

void routes_resume(struct routes *r)
{
	struct fanout *f = r->b->fanout;
	uint64_t mark, reports, last = journal_last_seq(r->b->journal);
	uint64_t from = last;
	const char *name;
	char err[256];

	if (f == NULL || !fanout_loaded(f, &mark, &reports)) {
		for (size_t i = 0; i < r->n; i++)
			route_save(r, r->v[i]);
		return;
	}
	/* by-logger/ files written before: known before the replay makes
	 * them, so that their lines are compared too */
	for (size_t i = 0; r->defaults && (name = fanout_name(f, i)); i++) {
		char comp[COMPONENT_MAX + 1];
		size_t n = strlen(name), pre = sizeof AUTO_DIR;
		if (n <= pre + 4 || n - pre - 4 > COMPONENT_MAX ||
		    strncmp(name, AUTO_DIR "/", pre) != 0 ||
		    strcmp(name + n - 4, ".log") != 0)
			continue;
		memcpy(comp, name + pre, n - pre - 4);
		comp[n - pre - 4] = '\0';
		if (auto_find(r, comp) == NULL)
			auto_add(r, comp, last);
	}
	for (size_t i = 0; i < r->n; i++) {
		struct route *rt = r->v[i];
		if (!rt->has_saved)
			continue; /* new here: from the journal's end */
		/* the mark: healthy routes had no use for the records up
		 * to it that they did not write */
		rt->done = rt->saved.failing || rt->saved.done > mark
		               ? rt->saved.done
		               : mark;
		if (rt->done > last) /* the journal lost a torn tail */
			rt->done = last;
		if (rt->saved.failing) {
			rt->failing = rt->behind = true; /* routes_tick */
			continue;
		}
		resume_compare(r, rt);
		if (rt->done < from)
			from = rt->done;
	}
	if (from < last) {
		struct resume c = {.r = r};
		uint64_t lines = r->st.lines;
		if (journal_read_records(r->b->journal, from, resume_one, &c,
		                         err, sizeof err) < 0)
			broker_log(r->b, LOGBUS_ERROR,
			           "routes: cannot read the journal after seq "
			           "%" PRIu64 " to write what the last crash "
			           "cost the routed files: %s",
			           from, err);
		flush_touched(r, last);
		if (r->st.lines != lines)
			broker_log(r->b, LOGBUS_INFO,
			           "routes: %" PRIu64 " lines of records after "
			           "seq %" PRIu64 " that the last crash kept "
			           "from the routed files written",
			           r->st.lines - lines, from);
	}
	for (size_t i = 0; i < r->n; i++) {
		struct route *rt = r->v[i];
		if (rt->vfd >= 0) { /* lines of no record the journal has */
			close(rt->vfd);
			rt->vfd = -1;
		}
		if (!rt->failing && rt->done < last)
			rt->done = last;
		route_save(r, rt);
	}
}

void routes_get_stats(const struct routes *r, struct routes_stats *st)
{
	*st = r->st;
	st->routes = r->n;
	st->open_files = r->nopen;
	st->failing = 0;
	for (size_t i = 0; i < r->n; i++)
		st->failing += r->v[i]->failing;
}
