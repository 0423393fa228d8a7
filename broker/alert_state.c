/*
 * alert_state.c: an alert rule's position and throttle on disk
 * (alert_state.h has the layout and the promise).
 */
#include "alert_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirs.h"
#include "record.h"
#include "strbuf.h"

#define STATE_MAGIC "logbus-alert-state 1"

static void file_name(char *buf, size_t len, const char *name, const char *ext)
{
	snprintf(buf, len, "%s.state%s", name, ext);
}

static int hex_id(const char *s, unsigned char id[CURSOR_ID_LEN])
{
	if (strlen(s) != 2 * CURSOR_ID_LEN)
		return -1;
	for (int i = 0; i < CURSOR_ID_LEN; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		id[i] = (unsigned char)v;
	}
	return 0;
}

struct alert_svc *alert_state_service(struct alert_state *st,
                                      const char *service, size_t len)
{
	size_t quiet = 0;

	for (size_t i = 0; i < st->n; i++) {
		if (strlen(st->svcs[i].service) == len &&
		    memcmp(st->svcs[i].service, service, len) == 0)
			return &st->svcs[i];
		if (st->svcs[i].last_match_ns < st->svcs[quiet].last_match_ns)
			quiet = i;
	}
	if (len > LOGBUS_SERVICE_MAX)
		return NULL;
	struct alert_svc *e;
	if (st->n >= ALERT_SERVICES_MAX) {
		e = &st->svcs[quiet];
	} else {
		e = realloc(st->svcs, (st->n + 1) * sizeof *e);
		if (e == NULL)
			return NULL;
		st->svcs = e;
		e = &st->svcs[st->n++];
	}
	memset(e, 0, sizeof *e);
	memcpy(e->service, service, len);
	return e;
}

int alert_state_load(int dirfd, const char *name, struct alert_state *st,
                     char *err, size_t errlen)
{
	char file[ALERT_FILE_MAX], line[512];
	int lineno = 0, fd;
	FILE *f;

	memset(st, 0, sizeof *st);
	file_name(file, sizeof file, name, "");
	if ((fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "alerts/%s: %s", file, strerror(errno));
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		snprintf(err, errlen, "alerts/%s: %s", file, strerror(errno));
		return -1;
	}
	bool magic = false, id = false, pos = false;
	while (fgets(line, sizeof line, f)) {
		char a[80], svc[LOGBUS_SERVICE_MAX + 1];
		struct alert_svc e = {0};
		int active;
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (lineno == 1) {
			magic = strcmp(line, STATE_MAGIC) == 0;
			if (!magic)
				break;
		} else if (sscanf(line, "journal %79s", a) == 1) {
			id = hex_id(a, st->journal) == 0;
			if (!id)
				break;
		} else if (sscanf(line, "pos %" SCNu64, &st->pos) == 1) {
			pos = true;
		} else if (sscanf(line,
		                  "svc %128s %" SCNd64 " %" SCNu64 " %" SCNd64
		                  " %" SCNd64 " %d",
		                  svc, &e.last_sent_ns, &e.held,
		                  &e.held_since_ns, &e.last_match_ns,
		                  &active) == 6 &&
		           service_id_valid(svc, strlen(svc))) {
			struct alert_svc *s =
			    alert_state_service(st, svc, strlen(svc));
			if (s == NULL)
				break;
			memcpy(e.service, s->service, sizeof e.service);
			e.active = active != 0;
			*s = e;
		} else {
			pos = false; /* a line we do not know: damaged */
			break;
		}
	}
	fclose(f);
	if (!magic || !id || !pos) {
		snprintf(
		    err, errlen,
		    "alerts/%s: damaged at line %d (remove it to start the "
		    "rule from the journal's end)",
		    file, lineno);
		alert_state_fini(st);
		return -1;
	}
	return 1;
}

int alert_state_save(int dirfd, const char *name, const struct alert_state *st,
                     char *err, size_t errlen)
{
	char file[ALERT_FILE_MAX], tmp[ALERT_FILE_MAX];
	struct strbuf b = {0};
	int fd;

	file_name(file, sizeof file, name, "");
	file_name(tmp, sizeof tmp, name, ".tmp");
	sb_printf(&b, STATE_MAGIC "\njournal ");
	for (int i = 0; i < CURSOR_ID_LEN; i++)
		sb_printf(&b, "%02x", st->journal[i]);
	sb_printf(&b, "\npos %" PRIu64 "\n", st->pos);
	for (size_t i = 0; i < st->n; i++) {
		const struct alert_svc *e = &st->svcs[i];
		sb_printf(&b,
		          "svc %s %" PRId64 " %" PRIu64 " %" PRId64 " %" PRId64
		          " %d\n",
		          e->service, e->last_sent_ns, e->held,
		          e->held_since_ns, e->last_match_ns, e->active);
	}
	if (b.failed) {
		snprintf(err, errlen, "alerts/%s: out of memory", file);
		return -1;
	}
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp,
	            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 || dirs_write_all(fd, b.p, b.len) < 0 || fdatasync(fd) < 0 ||
	    renameat(dirfd, tmp, dirfd, file) < 0 || fsync(dirfd) < 0) {
		snprintf(err, errlen, "cannot write alerts/%s: %s", file,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		unlinkat(dirfd, tmp, 0);
		sb_free(&b);
		return -1;
	}
	close(fd);
	sb_free(&b);
	return 0;
}

void alert_state_remove(int dirfd, const char *name)
{
	char file[ALERT_FILE_MAX];

	file_name(file, sizeof file, name, "");
	unlinkat(dirfd, file, 0);
}

void alert_state_fini(struct alert_state *st)
{
	free(st->svcs);
	st->svcs = NULL;
	st->n = 0;
}
