/*
 * error_report.c: per-service error reports, in the layout users of the
 * sandbox manager already know:
 *
 *   Exit code: -15
 *   Category: signal                   (the error category, unless exit 0)
 *   Signal: SIGTERM                    (when killed by a signal)
 *   Command: uvicorn main:app --host 0.0.0.0 --port 8001
 *   CWD: /tmp/pactown-sandboxes/service_123
 *   Venv: /tmp/pactown-sandboxes/service_123/.venv
 *
 *   --- STDERR ---
 *   ...
 *   --- STDOUT ---
 *   ...
 *   --- FILES ---
 *   ['main.py', 'requirements.txt', '.venv']
 *
 * A report is <service>_error.log (service_123_error.log for the service
 * service_123).  The category is the exit map's own (the library derives
 * it, category.h; record_decode refused any name not in the table), or,
 * for a client that sent none, derived here by the same table.  Until 0.1
 * it was service_<service>_error.log: reports of
 * those names are renamed once, at start (error_report_migrate.c).
 *
 * Every value on a header line is written with its newlines as \n and
 * every part with its control characters escaped (textline.h): a process
 * cannot add a header line or drive the terminal of whoever reads the
 * report; the STDERR and STDOUT sections keep their lines as they were.
 *
 * Invariants: the file name comes from a service id that record_decode
 * accepted ([A-Za-z0-9._-], not starting with '.'), so it never leaves the
 * log directory (and no route may write a name ending in _error.log); a reader
 * never sees half a report (written to a temporary file, then renamed over the
 * old one, which is kept as .1 by a hard link made first); every name is made,
 * opened, linked and renamed through the log directory's descriptor and never
 * through a symbolic link (dirs.h), the temporary file with O_EXCL; a report is
 * opened, written and closed, so ten thousand services cost no descriptors, and
 * its fdatasync runs on the sync thread (syncer.h), never in the loop.  A
 * failure stops nothing else (the record is in the journal whatever happens
 * here): it is counted (stats error_report_errors), told in one WARNING
 * while the problem lasts, and the service is remembered with its exit
 * record's seq; error_report_tick writes its report from the journal once
 * it can (a full disk, a read-only directory), unless a newer report of the
 * service was written first.  At most RETRY_MAX services wait so; past that
 * a failed report is only counted (its exit record is in the journal).
 *
 * A uid other than root and logbusd's own has at most max-reports-per-uid
 * report files ([limits]); past that its services' new reports are not
 * written, and one WARNING record of logbusd says so when it reaches the
 * limit.  A report rewritten for the same uid does not count again.  A
 * batch gets one report per service, from its last exit record, so a
 * batch's work here is bounded by its services, not its records.
 *
 * Each report carries the uid of the record it came from in the extended
 * attribute user.logbus.uid (the .1 is a hard link, so it keeps its own);
 * readers outside the reader group see only their uid's reports.  A report
 * without the attribute (a file system without user xattrs) is shown to
 * trusted readers only: closed, not open, when in doubt.
 */
#include "error_report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "batch.h"
#include "broker.h"
#include "category.h"
#include "exitinfo.h"
#include "fault.h"
#include "proto.h"
#include "record.h"
#include "request.h"
#include "selflog.h"
#include "services.h"
#include "strbuf.h"
#include "syncer.h"
#include "textline.h"
#include "timefmt.h"
#include "uidcount.h"

#define REPORT_MODE   0640
#define UID_XATTR     "user.logbus.uid"
#define CATEGORY_LINE "Category: "
/* How far into a report its Category line can be: "Exit code: -128\n"
 * and the longest name. */
#define CATEGORY_HEAD 64

/* A section's body, ending in a newline: the process's lines as it wrote
 * them, control characters escaped (textline.h), so that the report reads
 * the same in an editor and on a terminal. */
static void section(struct strbuf *t, const char *name, struct lb_str s,
                    uint64_t cut)
{
	sb_printf(t, "--- %s ---\n", name);
	if (cut)
		sb_printf(t, "[... %" PRIu64 " earlier bytes not kept ...]\n",
		          cut);
	textline_escape(t, s.p, s.len, "", false);
	if (s.len > 0 && s.p[s.len - 1] != '\n')
		sb_put(t, "\n", 1);
}

/* A value on its header line: a newline in it is written \n, so that it
 * cannot add a header line ("Exit code: 0"). */
static void value(struct strbuf *t, const char *s, size_t n)
{
	textline_escape(t, s, n, NULL, false);
}

/* Python's repr() of a str, as the layout's file list prints it (control
 * characters as textline_escape writes them). */
static void py_repr(struct strbuf *t, const char *s, size_t n)
{
	bool dq = memchr(s, '\'', n) && !memchr(s, '"', n);
	char q = dq ? '"' : '\'';
	size_t run = 0;

	sb_put(t, &q, 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' && s[i] != q && s[i] != '\t')
			continue;
		value(t, s + run, i - run);
		sb_put(t, "\\", 1);
		sb_put(t, s[i] == '\t' ? "t" : s + i, 1);
		run = i + 1;
	}
	value(t, s + run, n - run);
	sb_put(t, &q, 1);
}

static void str_list(struct strbuf *t, const msgpack_object_array *a,
                     const char *sep, bool repr)
{
	for (uint32_t i = 0; a && i < a->size; i++) {
		const msgpack_object_str *s = &a->ptr[i].via.str;
		if (i)
			sb_puts(t, sep);
		if (repr)
			py_repr(t, s->ptr, s->size);
		else
			value(t, s->ptr, s->size);
	}
}

/* The report of an exit record as text (malloc'd), its exit code and
 * category (NULL: none); 0 or -1. */
static int render(const struct record_view *v, char **out, size_t *outlen,
                  int64_t *code, const char **category)
{
	struct record_error e;
	struct exit_view x;
	struct strbuf t = {0};
	char sig[32];

	if (v->exit == NULL || exit_decode(v->exit, &x, &e) < 0)
		return -1;
	sb_printf(&t, "Exit code: %" PRId64 "\n", x.code);
	*category = exit_category(&x);
	if (*category != NULL)
		sb_printf(&t, CATEGORY_LINE "%s\n", *category);
	if (x.code < 0)
		sb_printf(&t, "Signal: %s%s\n",
		          exit_signal_name((int)-x.code, sig, sizeof sig),
		          x.core ? " (core dumped)" : "");
	sb_puts(&t, "Command: ");
	str_list(&t, x.argv, " ", false);
	sb_puts(&t, "\nCWD: ");
	value(&t, x.cwd.p, x.cwd.len);
	sb_puts(&t, "\nVenv: ");
	if (x.venv.len)
		value(&t, x.venv.p, x.venv.len);
	else
		sb_puts(&t, "None");
	sb_puts(&t, "\n\n");
	section(&t, "STDERR", x.err, x.err_cut);
	section(&t, "STDOUT", x.out, x.out_cut);
	sb_puts(&t, "--- FILES ---\n[");
	str_list(&t, x.files, ", ", true);
	sb_puts(&t, "]\n");
	if (t.failed) {
		free(t.p);
		return -1;
	}
	*out = t.p;
	*outlen = t.len;
	*code = x.code;
	return 0;
}

/* The uid in an open report's attribute: 1 with *uid, or 0 when it has
 * none or is not a regular file. */
static int fd_uid(int fd, uint32_t *uid)
{
	char v[16], *end;
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	ssize_t n = fgetxattr(fd, UID_XATTR, v, sizeof v - 1);
	if (n <= 0)
		return 0;
	v[n] = '\0';
	unsigned long u = strtoul(v, &end, 10);
	if (*end != '\0' || end == v || u > UINT32_MAX)
		return 0;
	*uid = (uint32_t)u;
	return 1;
}

/* A file of the log directory for reading, never through a link. */
static int open_report(struct broker *b, const char *name)
{
	return openat(b->dirs.log_fd, name,
	              O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}

/* Whose is the report name: 1 with *uid; 0 when it says nobody's (or
 * something else stands there); -1 when there is none. */
static int report_uid(struct broker *b, const char *name, uint32_t *uid)
{
	int fd = open_report(b, name);

	if (fd < 0)
		return errno == ENOENT ? -1 : 0;
	int rc = fd_uid(fd, uid);
	close(fd);
	return rc;
}

/* The log directory, to list. */
static DIR *log_dir_list(struct broker *b)
{
	int fd =
	    openat(b->dirs.log_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d == NULL && fd >= 0)
		close(fd);
	return d;
}

static bool report_name(const char *name, const char **svc, size_t *len);

/* ---- how many reports each uid has --------------------------------------
 *
 * Counted from the directory's attributes at the first report after start,
 * then kept as reports are written: one more for the uid when its report
 * is new, or replaces another uid's (one less for that one).  A report
 * without the attribute counts for nobody, so on a file system without
 * user xattrs the limit counts the reports made since start.  A report
 * removed by hand is counted until the next start.
 */

/* A report that could not be written: its service and exit record. */
struct report_retry {
	char service[LOGBUS_SERVICE_MAX + 1];
	uint64_t seq;
};

#define RETRY_MAX 1024

struct report_owners {
	struct uid_counts counts;
	struct report_retry *retry; /* failed reports, oldest first */
	size_t nretry;
	bool failing; /* told in a WARNING, not written since */
};

/* The table, counted from the directory the first time; NULL when out of
 * memory (reports are then written uncounted). */
static struct report_owners *owners(struct broker *b)
{
	struct report_owners *o = b->report_owners;
	struct dirent *de;
	const char *svc;
	size_t len;
	uint32_t uid;

	if (o != NULL)
		return o;
	if ((o = calloc(1, sizeof *o)) == NULL)
		return NULL;
	b->report_owners = o;
	DIR *d = log_dir_list(b);
	while (d && (de = readdir(d)) != NULL) {
		struct uid_count *w;
		if (report_name(de->d_name, &svc, &len) &&
		    report_uid(b, de->d_name, &uid) == 1 &&
		    (w = uid_counts_get(&o->counts, uid)) != NULL)
			w->n++;
	}
	if (d)
		closedir(d);
	return o;
}

void error_report_fini(struct broker *b)
{
	if (b->report_owners) {
		uid_counts_fini(&b->report_owners->counts);
		free(b->report_owners->retry);
	}
	free(b->report_owners);
	b->report_owners = NULL;
}

/* May uid have one more report?  Root and logbusd's own user always may;
 * the first refusal after a uid reached the limit is told. */
static bool report_allowed(struct broker *b, uint32_t uid, struct uid_count *w)
{
	uint64_t max = b->cfg.max_reports_per_uid;

	if (w == NULL || max == 0 || uid == 0 || uid == (uint32_t)geteuid() ||
	    w->n < max) {
		if (w)
			w->told = false;
		return true;
	}
	if (!w->told) {
		logbus_field f[] = {
		    LOGBUS_INT("uid", uid),
		    LOGBUS_INT("reports", w->n),
		};
		w->told = true;
		broker_log_fields(
		    b, LOGBUS_WARNING, f, 2,
		    "error reports: uid %" PRIu32 " has %" PRIu32
		    " report files, the limit "
		    "(max-reports-per-uid); reports of its other "
		    "services are not written (their exit records "
		    "are in the journal)",
		    uid, w->n);
	}
	return false;
}

/* ---- writing ------------------------------------------------------------- */

/* A new temporary file; one a crash left (or anything else at its name, a
 * link included) is removed first, never followed. */
static int create_tmp(int dfd, const char *tmp)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dfd, tmp, flags, REPORT_MODE);

	if (fd < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
		fd = openat(dfd, tmp, flags, REPORT_MODE);
	return fd;
}

/* Put text in place of the report name atomically, keeping the old one as
 * name.1.  The data is synced on the sync thread afterwards, or left to
 * the kernel's writeback when that thread is busy: the loop never waits
 * for the disk, and the journal has the record whatever happens. */
static int replace_file(struct broker *b, const char *name, const char *text,
                        size_t len, uint32_t uid, char *err, size_t errlen)
{
	const char *dir = b->cfg.log_dir;
	int dfd = b->dirs.log_fd;
	char uidtext[16];
	char tmp[NAME_MAX + 1], old[NAME_MAX + 1];

	/* name has room for the suffixes (write_one) */
	snprintf(tmp, sizeof tmp, "%.*s.tmp", NAME_MAX - 4, name);
	snprintf(old, sizeof old, "%.*s.1", NAME_MAX - 4, name);
	int fd = create_tmp(dfd, tmp);
	if (fd < 0) {
		snprintf(err, errlen, "create %s/%s: %s", dir, tmp,
		         strerror(errno));
		return -1;
	}
	int un = snprintf(uidtext, sizeof uidtext, "%u", uid);
	if (fsetxattr(fd, UID_XATTR, uidtext, (size_t)un, 0) < 0) {
		snprintf(err, errlen,
		         "cannot set %s on %s/%s: %s (only root and the reader "
		         "group will see this report)",
		         UID_XATTR, dir, tmp, strerror(errno));
		/* logged below as a warning, the report is still written */
	}
	const char *what = "write", *at = tmp;
	if (dirs_write_all(fd, text, len) < 0)
		goto fail;
	/* The previous report becomes .1 without ever being absent. */
	what = "remove", at = old;
	if (unlinkat(dfd, old, 0) < 0 && errno != ENOENT)
		goto fail;
	FAULT_POINT("error_report_keep"); /* no .1 for a moment */
	what = "keep as .1", at = name;
	if (linkat(dfd, name, dfd, old, 0) < 0 && errno != ENOENT)
		goto fail;
	FAULT_POINT("error_report_replace"); /* new one aside, old as .1 */
	what = "rename", at = tmp;
	if (renameat(dfd, tmp, dfd, name) < 0)
		goto fail;
	if (b->syncer == NULL || !syncer_offer(b->syncer, fd, name))
		close(fd);
	return 0;
fail:
	snprintf(err, errlen, "%s %s/%s: %s", what, dir, at, strerror(errno));
	close(fd);
	unlinkat(dfd, tmp, 0);
	return -1;
}

/* For `logbusctl services`: the service's last report and how it ended. */
static void report_seen(struct broker *b, const struct record_view *v,
                        int64_t code, const char *category)
{
	struct service *svc =
	    services_get(b->services, v->service.p, v->service.len);
	const char *nl =
	    v->message.len ? memchr(v->message.p, '\n', v->message.len) : NULL;
	size_t len = nl ? (size_t)(nl - v->message.p) : v->message.len;

	if (svc != NULL)
		services_report(svc, timefmt_now_ns(), code, category,
		                v->message.p, len);
}

/* Remember that service's report failed at its exit record seq (the
 * latest failure of a service replaces its earlier one). */
static void retry_add(struct report_owners *o, const struct lb_str *service,
                      uint64_t seq)
{
	size_t i;

	for (i = 0; i < o->nretry; i++)
		if (strlen(o->retry[i].service) == service->len &&
		    memcmp(o->retry[i].service, service->p, service->len) == 0)
			break;
	if (i == o->nretry) {
		if (o->nretry == RETRY_MAX || service->len > LOGBUS_SERVICE_MAX)
			return;
		if (o->retry == NULL &&
		    (o->retry = calloc(RETRY_MAX, sizeof *o->retry)) == NULL)
			return;
		o->nretry++;
	}
	snprintf(o->retry[i].service, sizeof o->retry[i].service, "%.*s",
	         (int)service->len, service->p);
	o->retry[i].seq = seq;
}

/* A report of service was written: an older failure of it is moot. */
static void retry_drop(struct report_owners *o, const struct lb_str *service)
{
	for (size_t i = 0; i < o->nretry; i++)
		if (strlen(o->retry[i].service) == service->len &&
		    memcmp(o->retry[i].service, service->p, service->len) ==
		        0) {
			o->retry[i] = o->retry[--o->nretry];
			return;
		}
}

/* Whether the report name holds text already (written before a crash). */
static bool report_holds(struct broker *b, const char *name, const char *text,
                         size_t len)
{
	struct stat st;
	int fd = open_report(b, name);
	bool same = false;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == len) {
		char *got = malloc(len ? len : 1);
		same = got && pread(fd, got, len, 0) == (ssize_t)len &&
		       memcmp(got, text, len) == 0;
		free(got);
	}
	close(fd);
	return same;
}

/* The report of one exit record (its seq), published by uid; unless_held:
 * not when the file holds that report already (error_report_resume). */
static void write_one(struct broker *b, const struct record_view *v,
                      uint32_t uid, uint64_t seq, bool unless_held)
{
	char name[NAME_MAX + 1], err[4400] = "";
	char *text;
	size_t tlen;
	int64_t code;
	const char *category;
	uint32_t prev = 0;

	int n = snprintf(name, sizeof name - 4, "%.*s" REPORT_SUFFIX,
	                 (int)v->service.len, v->service.p);
	if (n < 0 || (size_t)n >= sizeof name - 4) {
		broker_log(b, LOGBUS_WARNING, "error report: name too long");
		return;
	}
	/* A new report for uid, or one taken over from another uid, counts
	 * against uid's limit. */
	int had = report_uid(b, name, &prev);
	bool adds = had < 0 || (had == 1 && prev != uid);
	struct report_owners *o = owners(b);
	struct uid_count *w = o ? uid_counts_get(&o->counts, uid) : NULL;
	if (adds && !report_allowed(b, uid, w))
		return;
	error_report_mark(b);
	if (render(v, &text, &tlen, &code, &category) < 0) {
		broker_log(b, LOGBUS_WARNING,
		           "error report %s/%s: cannot render it",
		           b->cfg.log_dir, name);
		return;
	}
	if (unless_held && report_holds(b, name, text, tlen)) {
		report_seen(b, v, code, category);
		free(text);
		return;
	}
	if (replace_file(b, name, text, tlen, uid, err, sizeof err) < 0) {
		b->stats.error_report_errors++;
		if (o && !o->failing)
			broker_log(
			    b, LOGBUS_WARNING,
			    "error report: %s; the reports that cannot be "
			    "written now are written from the journal "
			    "when it works again",
			    err);
		else if (o == NULL)
			broker_log(b, LOGBUS_WARNING, "error report: %s", err);
		if (o) {
			o->failing = true;
			retry_add(o, &v->service, seq);
		}
	} else {
		if (o) {
			retry_drop(o, &v->service);
			if (o->failing && o->nretry == 0)
				broker_log(b, LOGBUS_INFO,
				           "error reports: writing again");
			o->failing = o->nretry > 0;
		}
		struct uid_count *pw;
		if (adds && w)
			w->n++;
		if (adds && had == 1 &&
		    (pw = uid_counts_get(&o->counts, prev)) != NULL &&
		    pw->n > 0)
			pw->n--;
		b->stats.error_reports++;
		report_seen(b, v, code, category);
		if (*err)
			broker_log(b, LOGBUS_WARNING, "error report: %s", err);
	}
	free(text);
}

static uint32_t svc_hash(const struct lb_str *s)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < s->len; i++)
		h = (h ^ (unsigned char)s->p[i]) * 16777619u;
	return h;
}

/* Mark in last[] the exit records of bt that are their service's last in
 * the batch (a set of services, open addressing): 0, or -1 when out of
 * memory. */
static int last_exits(const struct batch *bt, bool *last)
{
	size_t cap = 16;

	while (cap < 2 * bt->n)
		cap *= 2;
	const struct lb_str **set = calloc(cap, sizeof *set);
	if (set == NULL)
		return -1;
	for (size_t i = bt->n; i-- > 0;) {
		const struct lb_str *svc = &bt->views[i].service;
		last[i] = false;
		if (bt->views[i].exit == NULL)
			continue;
		size_t k = svc_hash(svc) & (cap - 1);
		while (set[k] && !(set[k]->len == svc->len &&
		                   memcmp(set[k]->p, svc->p, svc->len) == 0))
			k = (k + 1) & (cap - 1);
		if (set[k] == NULL) {
			set[k] = svc;
			last[i] = true;
		}
	}
	free(set);
	return 0;
}

/* One report per service and batch, from its last exit record: the
 * earlier ones are in the journal, and a batch of exits of one service
 * costs one file's writing, not one per record. */
void error_report_write(struct broker *b, const struct batch *bt)
{
	bool *last;
	size_t i;

	for (i = 0; i < bt->n && bt->views[i].exit == NULL; i++)
		;
	if (i == bt->n)
		return; /* the common case: no exit in the batch */
	if ((last = malloc(bt->n * sizeof *last)) == NULL ||
	    last_exits(bt, last) < 0) {
		free(last);
		broker_log(b, LOGBUS_WARNING,
		           "error reports: out of memory, %zu records' reports "
		           "not written",
		           bt->n);
		return;
	}
	for (; i < bt->n; i++)
		if (last[i])
			write_one(b, &bt->views[i], bt->stamp.uid,
			          bt->first_seq + i, false);
	free(last);
}

struct retry_read {
	struct broker *b;
	const struct report_retry *r;
	bool found;
	bool unless_held;
};

static int retry_one(void *arg, const struct frame_record *fr,
                     const struct record_view *v)
{
	struct retry_read *rr = arg;

	if (fr->seq != rr->r->seq)
		return 1; /* gone (retention, a damaged segment) */
	if (v != NULL && v->exit != NULL &&
	    v->service.len == strlen(rr->r->service) &&
	    memcmp(v->service.p, rr->r->service, v->service.len) == 0) {
		rr->found = true;
		write_one(rr->b, v, fr->uid, fr->seq, rr->unless_held);
	}
	return 1;
}

/* Write the reports waiting in the retry table from the journal. */
static void retry_pass(struct broker *b, bool unless_held)
{
	struct report_owners *o = b->report_owners;
	char err[256];

	if (o == NULL || o->nretry == 0)
		return;
	/* write_one reorders the table: work on a copy */
	size_t n = o->nretry;
	struct report_retry *todo = malloc(n * sizeof *todo);
	if (todo == NULL)
		return;
	memcpy(todo, o->retry, n * sizeof *todo);
	for (size_t i = 0; i < n; i++) {
		struct retry_read rr = {
		    .b = b, .r = &todo[i], .unless_held = unless_held};
		uint64_t before = b->stats.error_report_errors;
		int rc = journal_read_records(b->journal, todo[i].seq - 1,
		                              retry_one, &rr, err, sizeof err);
		if (rc == 0 && !rr.found) {
			struct lb_str s = {todo[i].service,
			                   (uint32_t)strlen(todo[i].service)};
			broker_log(b, LOGBUS_WARNING,
			           "error report %s/%s" REPORT_SUFFIX
			           ": its exit record (seq %" PRIu64
			           ") is no longer in the journal; not written",
			           b->cfg.log_dir, todo[i].service,
			           todo[i].seq);
			retry_drop(o, &s);
		}
		if (b->stats.error_report_errors != before)
			break; /* still failing: the rest waits too */
	}
	free(todo);
	if (o->failing && o->nretry == 0)
		o->failing = false;
}

void error_report_tick(struct broker *b)
{
	retry_pass(b, false);
}

uint64_t error_report_through(struct broker *b, uint64_t last)
{
	const struct report_owners *o = b->report_owners;
	uint64_t through = last;

	for (size_t i = 0; o && i < o->nretry; i++)
		if (o->retry[i].seq - 1 < through)
			through = o->retry[i].seq - 1;
	return through;
}

static int exit_scan_one(void *arg, const struct frame_record *fr,
                         const struct record_view *v)
{
	struct report_owners *o = arg;

	if (v != NULL && v->exit != NULL)
		retry_add(o, &v->service, fr->seq); /* a later one wins */
	return 0;
}

void error_report_resume(struct broker *b, uint64_t after)
{
	struct report_owners *o = owners(b);
	char err[256];

	if (o == NULL || after >= journal_last_seq(b->journal))
		return;
	if (journal_read_records(b->journal, after, exit_scan_one, o, err,
	                         sizeof err) < 0)
		broker_log(b, LOGBUS_ERROR,
		           "error reports: cannot read the journal after seq "
		           "%" PRIu64 " for the reports the last crash may "
		           "have cost: %s",
		           after, err);
	retry_pass(b, true);
}

/* The report name, open, when it is a regular file the reader may see
 * (st filled); else -1. */
static int open_visible(struct broker *b, const char *name,
                        const struct reader *rd, struct stat *st)
{
	uint32_t uid;
	int fd = open_report(b, name);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
	    !(rd->trusted ||
	      (fd_uid(fd, &uid) == 1 && reader_may_see(rd, uid)))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the query ops that read reports back ---- */

static bool report_name(const char *name, const char **svc, size_t *len)
{
	const size_t suf = sizeof REPORT_SUFFIX - 1;
	size_t n = strlen(name);

	if (n <= suf || strcmp(name + n - suf, REPORT_SUFFIX) != 0)
		return false;
	*svc = name;
	*len = n - suf;
	return service_id_valid(*svc, *len);
}

/* The category an open report names on its second line, or NULL (a
 * report of exit status 0, or one written before categories were). */
static const char *fd_category(int fd)
{
	const size_t ll = sizeof CATEGORY_LINE - 1;
	char head[CATEGORY_HEAD];
	ssize_t n = pread(fd, head, sizeof head, 0);
	const char *nl = n > 0 ? memchr(head, '\n', (size_t)n) : NULL;

	if (nl == NULL || (size_t)(head + n - (nl + 1)) < ll ||
	    memcmp(nl + 1, CATEGORY_LINE, ll) != 0)
		return NULL;
	const char *name = nl + 1 + ll;
	const char *end = memchr(name, '\n', (size_t)(head + n - name));
	return end ? category_name(name, (size_t)(end - name)) : NULL;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* {"op": "errors"} -> {"reports": [[service, written_ns, size, kept]...],
 * "categories": [category or "", ...]}, the categories in the reports'
 * order (beside the rows, which older clients take only as they were). */
void error_report_list_op(struct endpoint *ep, nng_msg *msg,
                          const msgpack_object *req, const struct reader *rd)
{
	struct broker *b = ep->b;
	DIR *d = log_dir_list(b);
	struct dirent *de;
	msgpack_sbuffer rows, cats;
	msgpack_packer rp, cp, pk;
	size_t n = 0;

	(void)req;
	if (d == NULL) {
		reply_error(ep, msg, ERR_JOURNAL, "cannot read %s: %s",
		            b->cfg.log_dir, strerror(errno));
		return;
	}
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&rp, &rows, msgpack_sbuffer_write);
	msgpack_sbuffer_init(&cats);
	msgpack_packer_init(&cp, &cats, msgpack_sbuffer_write);
	while ((de = readdir(d)) != NULL) {
		const char *svc;
		size_t len;
		struct stat st, st1;
		char older_name[NAME_MAX + 1];
		int fd;
		if (!report_name(de->d_name, &svc, &len) ||
		    (fd = open_visible(b, de->d_name, rd, &st)) < 0)
			continue;
		const char *cat = fd_category(fd);
		close(fd);
		snprintf(older_name, sizeof older_name, "%.*s.1", NAME_MAX - 2,
		         de->d_name);
		bool older = (fd = open_visible(b, older_name, rd, &st1)) >= 0;
		if (older)
			close(fd);
		msgpack_pack_array(&rp, 4);
		mp_pack_str(&rp, svc, len);
		msgpack_pack_int64(&rp, mtime_ns(&st));
		msgpack_pack_uint64(&rp, (uint64_t)st.st_size);
		msgpack_pack_int(&rp, older ? 2 : 1);
		mp_pack_key(&cp, cat ? cat : "");
		n++;
	}
	closedir(d);
	reply_begin(b, &pk, 2);
	mp_pack_key(&pk, "reports");
	msgpack_pack_array(&pk, n);
	msgpack_sbuffer_write(&b->out, rows.data, rows.size);
	mp_pack_key(&pk, "categories");
	msgpack_pack_array(&pk, n);
	msgpack_sbuffer_write(&b->out, cats.data, cats.size);
	msgpack_sbuffer_destroy(&rows);
	msgpack_sbuffer_destroy(&cats);
	reply_send(ep, msg);
}

#define REPORT_READ_MAX (1024 * 1024)

/* {"op": "error_report", "svc": str, "gen": 0|1} -> {"text", "time"} */
void error_report_get_op(struct endpoint *ep, nng_msg *msg,
                         const msgpack_object *req, const struct reader *rd)
{
	struct broker *b = ep->b;
	const char *svc;
	size_t len;
	uint64_t gen = 0;
	char name[NAME_MAX + 1];
	struct stat st;
	msgpack_packer pk;

	if (!mp_get_bytes(req, "svc", &svc, &len) ||
	    !service_id_valid(svc, len)) {
		reply_error(ep, msg, ERR_BAD_SERVICE,
		            "error_report needs a valid service id");
		return;
	}
	mp_get_u64(req, "gen", &gen);
	if (gen > 1) {
		reply_error(ep, msg, ERR_BAD_REQUEST,
		            "gen is 0 (latest) or 1 (the one before)");
		return;
	}
	snprintf(name, sizeof name, "%.*s" REPORT_SUFFIX "%s", (int)len, svc,
	         gen ? ".1" : "");
	int fd = open_visible(b, name, rd, &st);
	if (fd < 0) {
		reply_error(ep, msg, ERR_NOT_FOUND,
		            "no %serror report for service %.*s",
		            gen ? "earlier " : "", (int)len, svc);
		return;
	}
	size_t size =
	    st.st_size > REPORT_READ_MAX ? REPORT_READ_MAX : (size_t)st.st_size;
	char *text = malloc(size ? size : 1);
	ssize_t got = text ? pread(fd, text, size, 0) : -1;
	close(fd);
	if (got < 0) {
		free(text);
		reply_error(ep, msg, ERR_JOURNAL, "cannot read %s/%s",
		            b->cfg.log_dir, name);
		return;
	}
	reply_begin(b, &pk, 2);
	mp_pack_key(&pk, "text");
	mp_pack_str(&pk, text, (size_t)got);
	mp_pack_key(&pk, "time");
	msgpack_pack_int64(&pk, mtime_ns(&st));
	free(text);
	reply_send(ep, msg);
}
