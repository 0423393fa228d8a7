/*
 * error_report.c: per-service error reports, in the layout users of the
 * sandbox manager already know:
 *
 *   Exit code: -15
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
 * Invariants: the file name comes from a service id that record_decode
 * accepted ([A-Za-z0-9._-], not starting with '.'), so it never leaves the
 * log directory; a reader never sees half a report (written to a temporary
 * file, then renamed over the old one, which is kept as .1 by a hard link
 * made first); a report is opened, written and closed, so ten thousand
 * services cost no descriptors.  A failure is logged and nothing else
 * stops: the record is in the journal whatever happens here.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "batch.h"
#include "broker.h"
#include "exitinfo.h"
#include "proto.h"
#include "record.h"
#include "request.h"
#include "selflog.h"
#include "services.h"
#include "strbuf.h"
#include "timefmt.h"

#define REPORT_MODE 0640
#define UID_XATTR   "user.logbus.uid"

/* A section's body, ending in a newline. */
static void section(struct strbuf *t, const char *name, struct lb_str s,
                    uint64_t cut)
{
	sb_printf(t, "--- %s ---\n", name);
	if (cut)
		sb_printf(t, "[... %" PRIu64 " earlier bytes not kept ...]\n",
		          cut);
	sb_put(t, s.p, s.len);
	if (s.len > 0 && s.p[s.len - 1] != '\n')
		sb_put(t, "\n", 1);
}

/* Python's repr() of a str, as the layout's file list prints it. */
static void py_repr(struct strbuf *t, const char *s, size_t n)
{
	bool dq = memchr(s, '\'', n) && !memchr(s, '"', n);
	char q = dq ? '"' : '\'';

	sb_put(t, &q, 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == (unsigned char)q) {
			sb_put(t, "\\", 1);
			sb_put(t, s + i, 1);
		} else if (c == '\n') {
			sb_puts(t, "\\n");
		} else if (c == '\t') {
			sb_puts(t, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			sb_printf(t, "\\x%02x", c);
		} else {
			sb_put(t, s + i, 1);
		}
	}
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
			sb_put(t, s->ptr, s->size);
	}
}

/* The report of an exit record as text (malloc'd) and its exit code; 0 or
 * -1. */
static int render(const struct record_view *v, char **out, size_t *outlen,
                  int64_t *code)
{
	struct record_error e;
	struct exit_view x;
	struct strbuf t = {0};
	char sig[32];

	if (v->exit == NULL || exit_decode(v->exit, &x, &e) < 0)
		return -1;
	sb_printf(&t, "Exit code: %" PRId64 "\n", x.code);
	if (x.code < 0)
		sb_printf(&t, "Signal: %s%s\n",
		          exit_signal_name((int)-x.code, sig, sizeof sig),
		          x.core ? " (core dumped)" : "");
	sb_puts(&t, "Command: ");
	str_list(&t, x.argv, " ", false);
	sb_puts(&t, "\nCWD: ");
	sb_put(&t, x.cwd.p, x.cwd.len);
	sb_puts(&t, "\nVenv: ");
	if (x.venv.len)
		sb_put(&t, x.venv.p, x.venv.len);
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

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Put text in place of path atomically, keeping the old one as path.1. */
static int replace_file(const char *path, const char *text, size_t len,
                        uint32_t uid, char *err, size_t errlen)
{
	char uidtext[16];
	char tmp[4200], old[4200];

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	snprintf(old, sizeof old, "%s.1", path);
	int fd =
	    open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, REPORT_MODE);
	if (fd < 0) {
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	int un = snprintf(uidtext, sizeof uidtext, "%u", uid);
	if (fsetxattr(fd, UID_XATTR, uidtext, (size_t)un, 0) < 0) {
		snprintf(err, errlen,
		         "cannot set %s on %s: %s (only root and the reader "
		         "group will see this report)",
		         UID_XATTR, tmp, strerror(errno));
		/* logged below as a warning, the report is still written */
	}
	if (write_all(fd, text, len) < 0 || fdatasync(fd) < 0) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	/* The previous report becomes .1 without ever being absent. */
	if (unlink(old) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "remove %s: %s", old, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (link(path, old) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "keep %s as .1: %s", path,
		         strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* For `logbusctl services`: the service's last report and how it ended. */
static void report_seen(struct broker *b, const struct record_view *v,
                        int64_t code)
{
	struct service *svc =
	    services_get(b->services, v->service.p, v->service.len);
	const char *nl =
	    v->message.len ? memchr(v->message.p, '\n', v->message.len) : NULL;
	size_t len = nl ? (size_t)(nl - v->message.p) : v->message.len;

	if (svc != NULL)
		services_report(svc, timefmt_now_ns(), code, v->message.p, len);
}

/* The report of one exit record. */
static void write_one(struct broker *b, const struct record_view *v,
                      uint32_t uid)
{
	char path[4096], err[4400] = "";
	char *text;
	size_t tlen;
	int64_t code;

	int n = snprintf(path, sizeof path, "%s/service_%.*s_error.log",
	                 b->cfg.log_dir, (int)v->service.len, v->service.p);
	if (n < 0 || (size_t)n >= sizeof path) {
		broker_log(b, LOGBUS_WARNING, "error report: path too long");
		return;
	}
	if (render(v, &text, &tlen, &code) < 0) {
		broker_log(b, LOGBUS_WARNING,
		           "error report %s: cannot render it", path);
		return;
	}
	if (replace_file(path, text, tlen, uid, err, sizeof err) < 0) {
		broker_log(b, LOGBUS_WARNING, "error report: %s", err);
	} else {
		b->stats.error_reports++;
		report_seen(b, v, code);
		if (*err)
			broker_log(b, LOGBUS_WARNING, "error report: %s", err);
	}
	free(text);
}

void error_report_write(struct broker *b, const struct batch *bt)
{
	for (size_t i = 0; i < bt->n; i++)
		if (bt->views[i].exit)
			write_one(b, &bt->views[i], bt->stamp.uid);
}

/* May the reader see the report at path? */
static bool report_visible(const struct reader *rd, const char *path)
{
	char v[16];
	ssize_t n;

	if (rd->trusted)
		return true;
	n = getxattr(path, UID_XATTR, v, sizeof v - 1);
	if (n <= 0)
		return false;
	v[n] = '\0';
	char *end;
	unsigned long uid = strtoul(v, &end, 10);
	return *end == '\0' && uid <= UINT32_MAX &&
	       reader_may_see(rd, (uint32_t)uid);
}

/* ---- the query ops that read reports back ---- */

static bool report_name(const char *name, const char **svc, size_t *len)
{
	static const char pre[] = "service_", suf[] = "_error.log";
	size_t n = strlen(name);

	if (n <= sizeof pre - 1 + sizeof suf - 1 ||
	    strncmp(name, pre, sizeof pre - 1) != 0 ||
	    strcmp(name + n - (sizeof suf - 1), suf) != 0)
		return false;
	*svc = name + sizeof pre - 1;
	*len = n - (sizeof pre - 1) - (sizeof suf - 1);
	return service_id_valid(*svc, *len);
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* {"op": "errors"} -> {"reports": [[service, written_ns, size, kept]...]} */
void error_report_list_op(struct endpoint *ep, nng_msg *msg,
                          const msgpack_object *req, const struct reader *rd)
{
	struct broker *b = ep->b;
	DIR *d = opendir(b->cfg.log_dir);
	struct dirent *de;
	msgpack_sbuffer rows;
	msgpack_packer rp, pk;
	size_t n = 0;

	(void)req;
	if (d == NULL) {
		reply_error(ep, msg, ERR_JOURNAL, "cannot read %s: %s",
		            b->cfg.log_dir, strerror(errno));
		return;
	}
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&rp, &rows, msgpack_sbuffer_write);
	while ((de = readdir(d)) != NULL) {
		const char *svc;
		size_t len;
		struct stat st, st1;
		char path[4200];
		if (!report_name(de->d_name, &svc, &len))
			continue;
		snprintf(path, sizeof path, "%s/%s", b->cfg.log_dir,
		         de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    !report_visible(rd, path))
			continue;
		strncat(path, ".1", sizeof path - strlen(path) - 1);
		bool older = report_visible(rd, path) && stat(path, &st1) == 0;
		msgpack_pack_array(&rp, 4);
		mp_pack_str(&rp, svc, len);
		msgpack_pack_int64(&rp, mtime_ns(&st));
		msgpack_pack_uint64(&rp, (uint64_t)st.st_size);
		msgpack_pack_int(&rp, older ? 2 : 1);
		n++;
	}
	closedir(d);
	reply_begin(b, &pk, 1);
	mp_pack_key(&pk, "reports");
	msgpack_pack_array(&pk, n);
	msgpack_sbuffer_write(&b->out, rows.data, rows.size);
	msgpack_sbuffer_destroy(&rows);
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
	char path[4200];
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
	snprintf(path, sizeof path, "%s/service_%.*s_error.log%s",
	         b->cfg.log_dir, (int)len, svc, gen ? ".1" : "");
	int fd =
	    report_visible(rd, path) ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
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
		reply_error(ep, msg, ERR_JOURNAL, "cannot read %s", path);
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
