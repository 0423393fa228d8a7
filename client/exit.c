/*
 * exit.c: reporting a process's death (logbus_report_exit) and keeping the
 * tail of its output (logbus_tail).
 *
 * The record's message is what a person reads first in `logbusctl tail`:
 * how the process ended, then the last lines of its stderr.  The whole
 * report (command, cwd, venv, both tails, files) rides in the record's "x"
 * map, from which logbusd writes <service>_error.log.  Captured output is
 * whatever the process wrote, so it is made valid UTF-8 (U+FFFD for what is
 * not) before it leaves.
 *
 * A failure's error category (category.h) is derived here, where every
 * publisher of exits passes (logbusctl run, the Python binding, C
 * supervisors), from how the process ended, what the supervisor says it
 * knows (a time limit, the OOM killer) and the cleaned tails; it rides in
 * the exit map and as the field error_category, so that filters and
 * alert rules see it.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <msgpack.h>

#include "category.h"
#include "exitinfo.h"
#include "logbus/logbus.h"
#include "publisher.h"
#include "timefmt.h"
#include "utf8.h"

#define TAIL_DEFAULT  (64 * 1024)
#define MESSAGE_TAIL  4096 /* bytes of stderr in the record's message */
#define MESSAGE_LINES 20
/* A record must stay under LOGBUS_RECORD_MAX whatever the output was. */
#define TAIL_SENT_MAX (96 * 1024)
#define FILES_BYTES   (32 * 1024)

/* ---- tails --------------------------------------------------------------- */

struct logbus_tail {
	char *buf; /* a ring of max bytes */
	size_t max, start, len;
	uint64_t cut;
	char *flat; /* the ring in order, for logbus_tail_data */
};

LOGBUS_API logbus_tail *logbus_tail_new(size_t max)
{
	logbus_tail *t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->max = max ? max : TAIL_DEFAULT;
	t->buf = malloc(t->max);
	t->flat = malloc(t->max);
	if (t->buf == NULL || t->flat == NULL) {
		logbus_tail_free(t);
		return NULL;
	}
	return t;
}

LOGBUS_API void logbus_tail_add(logbus_tail *t, const void *data, size_t len)
{
	const char *d = data;

	if (len >= t->max) { /* only the last max bytes can stay */
		t->cut += t->len + (len - t->max);
		memcpy(t->buf, d + len - t->max, t->max);
		t->start = 0;
		t->len = t->max;
		return;
	}
	size_t over = t->len + len > t->max ? t->len + len - t->max : 0;
	t->start = (t->start + over) % t->max;
	t->len -= over;
	t->cut += over;
	size_t end = (t->start + t->len) % t->max;
	size_t first = len < t->max - end ? len : t->max - end;
	memcpy(t->buf + end, d, first);
	memcpy(t->buf, d + first, len - first);
	t->len += len;
}

LOGBUS_API const char *logbus_tail_data(logbus_tail *t, size_t *len,
                                        uint64_t *cut)
{
	size_t first = t->len < t->max - t->start ? t->len : t->max - t->start;

	memcpy(t->flat, t->buf + t->start, first);
	memcpy(t->flat + first, t->buf, t->len - first);
	*len = t->len;
	if (cut)
		*cut = t->cut;
	return t->flat;
}

LOGBUS_API void logbus_tail_free(logbus_tail *t)
{
	if (t == NULL)
		return;
	free(t->buf);
	free(t->flat);
	free(t);
}

/* ---- the report ---------------------------------------------------------- */

/* A tail as valid UTF-8 (malloc'd; *len set), or NULL when there is none. */
static char *clean_tail(logbus_tail *t, size_t *len, uint64_t *cut)
{
	size_t n;

	*len = 0;
	*cut = 0;
	if (t == NULL)
		return NULL;
	const char *d = logbus_tail_data(t, &n, cut);
	char *out = malloc(3 * n + 1);
	if (out == NULL)
		return NULL;
	*len = utf8_sanitize(d, n, out);
	if (*len > TAIL_SENT_MAX) { /* replacements grew it: keep the end */
		size_t drop = *len - TAIL_SENT_MAX;
		while (drop < *len && (out[drop] & 0xc0) == 0x80)
			drop++;
		memmove(out, out + drop, *len - drop);
		*len -= drop;
		*cut += drop;
	}
	return out;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted, at most EXIT_FILES_MAX (malloc'd). */
static char **list_dir(const char *dir, size_t *n)
{
	DIR *d = dir ? opendir(dir) : NULL;
	char **v = NULL;
	struct dirent *de;

	*n = 0;
	if (d == NULL)
		return NULL;
	size_t bytes = 0;
	v = calloc(EXIT_FILES_MAX, sizeof *v);
	while (v && *n < EXIT_FILES_MAX && bytes < FILES_BYTES &&
	       (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		size_t l = strlen(de->d_name);
		if ((v[*n] = malloc(3 * l + 1)) == NULL)
			break;
		v[*n][utf8_sanitize(de->d_name, l, v[*n])] = '\0';
		bytes += strlen(v[*n]) + 4;
		(*n)++;
	}
	closedir(d);
	if (v)
		qsort(v, *n, sizeof *v, cmp_names);
	return v;
}

/* "<summary>\n<the last lines of stderr>", bounded. */
static size_t compose_message(char *buf, size_t cap, int64_t code, bool core,
                              const char *err, size_t err_len)
{
	size_t n = exit_summary(buf, cap, code, core);
	if (err == NULL || err_len == 0)
		return n;
	/* the last MESSAGE_LINES lines, at most MESSAGE_TAIL bytes */
	size_t from = err_len > MESSAGE_TAIL ? err_len - MESSAGE_TAIL : 0;
	size_t end = err_len;
	while (end > from && err[end - 1] == '\n')
		end--;
	size_t start = end;
	for (int lines = 0; start > from; start--)
		if (err[start - 1] == '\n' && ++lines == MESSAGE_LINES)
			break;
	while (start < end && (err[start] & 0xc0) == 0x80)
		start++; /* never begin inside a character */
	if (start == end || n + 1 + (end - start) >= cap)
		return n;
	buf[n++] = '\n';
	memcpy(buf + n, err + start, end - start);
	return n + (end - start);
}

LOGBUS_API int logbus_report_exit(logbus_publisher *pub, const logbus_exit *e,
                                  int timeout_ms)
{
	struct exit_in x = {.pid = e->pid,
	                    .argv = e->argv,
	                    .argc = e->argc,
	                    .cwd = e->cwd,
	                    .venv = e->venv,
	                    .files = e->files,
	                    .nfiles = e->nfiles};
	struct lb_str service, logger;
	char **listed = NULL;
	size_t nlisted = 0;
	int rv;

	if (pub == NULL || e == NULL)
		return LOGBUS_EINVAL;
	if (e->has_wait_status && WIFSIGNALED(e->wait_status)) {
		x.code = -WTERMSIG(e->wait_status);
		x.core = WCOREDUMP(e->wait_status) != 0;
	} else {
		x.code = e->has_wait_status ? WEXITSTATUS(e->wait_status)
		                            : e->exit_code;
	}
	if (x.code < -128 || x.code > 255)
		return LOGBUS_EINVAL;
	if (e->logger && !logger_valid(e->logger, strlen(e->logger)))
		return LOGBUS_EINVAL;
	if (e->service && !service_id_valid(e->service, strlen(e->service)))
		return LOGBUS_EINVAL;
	char *err = clean_tail(e->stderr_tail, &x.err_len, &x.err_cut);
	char *out = clean_tail(e->stdout_tail, &x.out_len, &x.out_cut);
	x.err = err;
	x.out = out;
	if (e->files == NULL && e->nfiles == 0) {
		listed = list_dir(e->cwd, &nlisted);
		x.files = (const char *const *)listed;
		x.nfiles = nlisted;
	}
	struct category_in ci = {.code = x.code,
	                         .core = x.core,
	                         .timed_out = e->timed_out != 0,
	                         .oom_killed = e->oom_killed != 0,
	                         .err = err,
	                         .err_len = x.err_len,
	                         .out = out,
	                         .out_len = x.out_len};
	x.category = category_of(&ci);
	logbus_field cat = LOGBUS_STR("error_category", x.category);
	char message[MESSAGE_TAIL + 256];
	size_t mlen = compose_message(message, sizeof message, x.code, x.core,
	                              err, x.err_len);
	publisher_names(pub, &service, &logger);
	if (e->service) /* one supervisor, many services */
		service =
		    (struct lb_str){e->service, (uint32_t)strlen(e->service)};
	struct record_in in = {
	    .time_ns = timefmt_now_ns(),
	    .level = x.code == 0 ? LOGBUS_INFO : LOGBUS_ERROR,
	    .service = service,
	    .logger = e->logger ? (struct lb_str){e->logger,
	                                          (uint32_t)strlen(e->logger)}
	                        : logger,
	    .message = {message, (uint32_t)mlen},
	    .fields = x.category ? &cat : NULL,
	    .nfields = x.category ? 1 : 0,
	    .exit = &x,
	};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	record_pack(&pk, &in);
	rv = publisher_put_encoded(pub, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	for (size_t i = 0; i < nlisted; i++)
		free(listed[i]);
	free(listed);
	free(err);
	free(out);
	return rv != 0 ? rv : logbus_flush(pub, timeout_ms);
}

/* ---- the OOM killer's count ---------------------------------------------- */

/* The number after "key " on a line of the file path; 0, or -1. */
static int read_counter(const char *path, const char *key, uint64_t *n)
{
	FILE *f = fopen(path, "re");
	char line[256];
	size_t kl = strlen(key);
	int rc = -1;

	if (f == NULL)
		return -1;
	while (rc < 0 && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ' &&
		    sscanf(line + kl + 1, "%" SCNu64, n) == 1)
			rc = 0;
	fclose(f);
	return rc;
}

/* The count in the cgroup hierarchy mounted at root, at the cgroup path
 * /proc/self/cgroup names; at root itself when that path is not there (a
 * container shows its own cgroup as the mount's root). */
static int cgroup_count(const char *root, const char *path, const char *file,
                        const char *key, uint64_t *n)
{
	char p[4096];

	snprintf(p, sizeof p, "%s%s/%s", root, path, file);
	if (read_counter(p, key, n) == 0)
		return 0;
	snprintf(p, sizeof p, "%s/%s", root, file);
	return read_counter(p, key, n);
}

LOGBUS_API int logbus_oom_kill_count(uint64_t *count)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4200], v1[4200] = "", v2[4200] = "";

	if (count == NULL)
		return LOGBUS_EINVAL;
	if (f == NULL)
		return LOGBUS_ENOTFOUND;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *ctl = strchr(line, ':');
		char *path = ctl ? strchr(ctl + 1, ':') : NULL;
		if (path == NULL)
			continue;
		*path++ = '\0';
		ctl++;
		if (strncmp(line, "0", 2) == 0 && *ctl == '\0')
			snprintf(v2, sizeof v2, "%s", path);
		char *save = NULL;
		for (char *c = strtok_r(ctl, ",", &save); c;
		     c = strtok_r(NULL, ",", &save))
			if (strcmp(c, "memory") == 0)
				snprintf(v1, sizeof v1, "%s", path);
	}
	fclose(f);
	if (strcmp(v2, "/") == 0)
		v2[0] = '\0';
	if (strcmp(v1, "/") == 0)
		v1[0] = '\0';
	if (cgroup_count("/sys/fs/cgroup", v2, "memory.events", "oom_kill",
	                 count) == 0 ||
	    cgroup_count("/sys/fs/cgroup/memory", v1, "memory.oom_control",
	                 "oom_kill", count) == 0)
		return LOGBUS_OK;
	return LOGBUS_ENOTFOUND;
}
