/*
 * unit_broker.c: the unit tests' broker (unit_broker.h).
 *
 * The broker's own events take selflog's real path up to the commit, which
 * here decodes them into u->events instead of appending them to the journal
 * and fanning them out.
 */
#include "unit_broker.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error_report.h"
#include "fanout.h"
#include "files.h"
#include "journal.h"
#include "logbus/logbus.h"
#include "services.h"

static void field_into(struct unit_event *ev, const msgpack_object_kv *kv)
{
	const msgpack_object_str *k = &kv->key.via.str;

	if (k->size == 7 && memcmp(k->ptr, "service", 7) == 0 &&
	    kv->val.type == MSGPACK_OBJECT_STR)
		snprintf(ev->service, sizeof ev->service, "%.*s",
		         (int)kv->val.via.str.size, kv->val.via.str.ptr);
	if (k->size == 10 && memcmp(k->ptr, "suppressed", 10) == 0 &&
	    kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		ev->suppressed = (int64_t)kv->val.via.u64;
}

static int capture(void *arg, struct batch *bt, uint64_t session, uint64_t bn,
                   char *err, size_t errlen)
{
	struct unit_broker *u = arg;

	(void)session;
	(void)bn;
	(void)err;
	(void)errlen;
	for (size_t i = 0; i < bt->n && u->nevents < UNIT_EVENTS_MAX; i++) {
		const struct record_view *v = &bt->views[i];
		struct unit_event *ev = &u->events[u->nevents++];
		memset(ev, 0, sizeof *ev);
		ev->level = v->level;
		ev->suppressed = -1;
		snprintf(ev->message, sizeof ev->message, "%.*s",
		         (int)v->message.len, v->message.p);
		for (uint32_t k = 0; v->fields && k < v->fields->size; k++)
			field_into(ev, &v->fields->ptr[k]);
	}
	return 0;
}

void unit_broker_init(struct unit_broker *u)
{
	char jdir[128], err[256];
	struct journal_recovery rec;

	memset(u, 0, sizeof *u);
	snprintf(u->dir, sizeof u->dir, "/tmp/logbus-unit-XXXXXX");
	assert_non_null(mkdtemp(u->dir));
	snprintf(jdir, sizeof jdir, "%s/journal", u->dir);
	struct broker *b = &u->b;
	b->cfg.log_dir = u->dir;
	b->cfg.quiet = true;
	b->lock_fd = -1;
	b->dirs.run_fd = -1;
	b->dirs.log_fd = open(u->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(b->dirs.log_fd >= 0);
	struct journal_config jc = {
	    .dir = jdir,
	    .segment_bytes = 1 << 20,
	    .max_total_bytes = 64 << 20,
	    .max_record = LOGBUS_RECORD_MAX,
	};
	assert_int_equal(journal_open(&b->journal, &jc, &rec, err, sizeof err),
	                 0);
	b->services = services_new(SERVICES_MAX, 0);
	assert_non_null(b->services);
	b->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(b->loop);
	selflog_init(b, capture, u);
	batch_init(&u->batch);
	u->session = 99;
	u->uid = 1000;
}

void unit_broker_fini(struct unit_broker *u)
{
	struct broker *b = &u->b;

	unit_batch_clear(u);
	batch_fini(&u->batch);
	selflog_fini(b);
	services_free(b->services);
	journal_close(b->journal);
	error_report_fini(b);
	fanout_free(b->fanout);
	b->fanout = NULL;
	dirs_close(&b->dirs);
	ev_loop_destroy(b->loop);
	files_remove_tree(u->dir);
}

int unit_broker_setup(void **state)
{
	static struct unit_broker u; /* one test at a time */

	unit_broker_init(&u);
	*state = &u;
	return 0;
}

int unit_broker_teardown(void **state)
{
	unit_broker_fini(*state);
	return 0;
}

size_t unit_broker_logged(struct unit_broker *u, const char *text)
{
	size_t n = 0;

	selflog_flush(&u->b);
	for (size_t i = 0; i < u->nevents; i++)
		n += strstr(u->events[i].message, text) != NULL;
	return n;
}

const struct unit_event *unit_broker_event(struct unit_broker *u,
                                           const char *text)
{
	selflog_flush(&u->b);
	for (size_t i = u->nevents; i-- > 0;)
		if (strstr(u->events[i].message, text))
			return &u->events[i];
	return NULL;
}

void unit_batch_add(struct unit_broker *u, const char *service,
                    const char *logger, int level, const char *message)
{
	struct record_in in = {
	    .time_ns = 1700000000123456789,
	    .level = level,
	    .service = {service, (uint32_t)strlen(service)},
	    .logger = {logger, (uint32_t)strlen(logger)},
	    .message = {message, (uint32_t)strlen(message)},
	};

	unit_batch_add_record(u, &in);
}

void unit_batch_add_record(struct unit_broker *u, const struct record_in *in)
{
	struct batch *bt = &u->batch;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct record_error e;

	assert_true(u->nbytes < UNIT_RECS_MAX);
	assert_true(batch_reserve(bt, bt->n + 1));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	record_pack(&pk, in);
	u->bytes[u->nbytes++] = sb.data; /* the batch points into it */
	struct journal_rec *r = &bt->recs[bt->n];
	struct record_view *v = &bt->views[bt->n];
	r->data = sb.data;
	r->len = (uint32_t)sb.size;
	assert_int_equal(record_decode(r->data, r->len, &bt->zone, v, &e), 0);
	r->svc = v->service.p;
	r->svc_len = v->service.len;
	r->flags = 0;
	bt->n++;
}

void unit_batch_commit(struct unit_broker *u)
{
	struct batch *bt = &u->batch;
	char err[256];

	bt->stamp = (struct frame_record){
	    .pid = 4242, .uid = u->uid, .gid = 1000, .comm = "unit"};
	assert_int_equal(journal_append_batch(u->b.journal, u->session, ++u->bn,
	                                      bt->recs, bt->n, &bt->stamp,
	                                      &bt->first_seq, err, sizeof err),
	                 0);
}

void unit_batch_clear(struct unit_broker *u)
{
	while (u->nbytes > 0)
		free(u->bytes[--u->nbytes]);
	batch_clear(&u->batch);
}

const char *unit_path(struct unit_broker *u, const char *name, char *buf,
                      size_t len)
{
	snprintf(buf, len, "%s/%s", u->dir, name);
	return buf;
}

void unit_victim_make(struct unit_victim *v)
{
	snprintf(v->dir, sizeof v->dir, "/tmp/logbus-victim-XXXXXX");
	assert_non_null(mkdtemp(v->dir));
	snprintf(v->file, sizeof v->file, "%s/precious", v->dir);
	FILE *f = fopen(v->file, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
}

void unit_victim_untouched(struct unit_victim *v)
{
	char text[64];
	FILE *f = fopen(v->file, "r");
	struct dirent *de;
	int entries = 0;

	assert_non_null(f);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_string_equal(text, "precious\n");
	DIR *d = opendir(v->dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		entries += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 1);
}

void unit_victim_remove(struct unit_victim *v)
{
	unlink(v->file);
	rmdir(v->dir);
}

void unit_plant(struct unit_broker *u, const char *target, const char *name)
{
	char path[256];

	if (symlink(target, unit_path(u, name, path, sizeof path)) < 0)
		fail_msg("symlink %s: %m", path);
}
