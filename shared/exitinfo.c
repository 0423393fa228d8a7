/*
 * exitinfo.c: encode, check and describe process exits (exitinfo.h).
 */
#include "exitinfo.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "category.h"
#include "proto.h"
#include "utf8.h"

static void pack_int(msgpack_packer *pk, const char *k, int64_t v)
{
	mp_pack_key(pk, k);
	msgpack_pack_int64(pk, v);
}

static void pack_strs(msgpack_packer *pk, const char *k, const char *const *v,
                      size_t n)
{
	mp_pack_key(pk, k);
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		mp_pack_key(pk, v[i] ? v[i] : "");
}

void exit_pack(msgpack_packer *pk, const struct exit_in *x)
{
	size_t nfiles = x->nfiles > EXIT_FILES_MAX ? EXIT_FILES_MAX : x->nfiles;

	msgpack_pack_map(pk, 11 + (x->category != NULL));
	pack_int(pk, "code", x->code);
	mp_pack_key(pk, "core");
	if (x->core)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	pack_int(pk, "pid", x->pid);
	pack_strs(pk, "argv", x->argv, x->argc);
	mp_pack_key(pk, "cwd");
	mp_pack_key(pk, x->cwd ? x->cwd : "");
	mp_pack_key(pk, "venv");
	mp_pack_key(pk, x->venv ? x->venv : "");
	mp_pack_key(pk, "err");
	mp_pack_str(pk, x->err ? x->err : "", x->err ? x->err_len : 0);
	mp_pack_key(pk, "out");
	mp_pack_str(pk, x->out ? x->out : "", x->out ? x->out_len : 0);
	pack_int(pk, "err_cut", (int64_t)x->err_cut);
	pack_int(pk, "out_cut", (int64_t)x->out_cut);
	pack_strs(pk, "files", x->files, nfiles);
	if (x->category != NULL) {
		mp_pack_key(pk, "cat");
		mp_pack_key(pk, x->category);
	}
}

static int bad(struct record_error *e, const char *code, const char *what)
{
	e->code = code;
	snprintf(e->msg, sizeof e->msg, "exit report: %s", what);
	return -1;
}

static bool get_int(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= INT64_MAX)
		*out = (int64_t)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*out = o->via.i64;
	else
		return false;
	return true;
}

static int str_array(const msgpack_object *o, const msgpack_object_array **out,
                     size_t max, struct record_error *e, const char *what)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > max)
		return bad(e, ERR_BAD_RECORD, what);
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *s = &o->via.array.ptr[i];
		if (s->type != MSGPACK_OBJECT_STR)
			return bad(e, ERR_BAD_RECORD, what);
		if (!utf8_valid(s->via.str.ptr, s->via.str.size))
			return bad(e, ERR_BAD_UTF8, "text is not UTF-8");
	}
	*out = &o->via.array;
	return 0;
}

static int one(const msgpack_object *k, const msgpack_object *val,
               struct exit_view *v, bool *have_code, struct record_error *e)
{
	struct lb_str *s = mp_key_is(k, "cwd")    ? &v->cwd
	                   : mp_key_is(k, "venv") ? &v->venv
	                   : mp_key_is(k, "err")  ? &v->err
	                   : mp_key_is(k, "out")  ? &v->out
	                   : mp_key_is(k, "cat")  ? &v->category
	                                          : NULL;
	if (s != NULL) {
		if (val->type != MSGPACK_OBJECT_STR)
			return bad(e, ERR_BAD_RECORD,
			           "text field is not a string");
		if (!utf8_valid(val->via.str.ptr, val->via.str.size))
			return bad(e, ERR_BAD_UTF8, "text is not UTF-8");
		s->p = val->via.str.ptr;
		s->len = val->via.str.size;
		if (s == &v->category && category_name(s->p, s->len) == NULL) {
			e->code = ERR_BAD_RECORD;
			snprintf(e->msg, sizeof e->msg,
			         "exit report: category \"%.*s\" is not one of "
			         "%s",
			         (int)(s->len > 24 ? 24 : s->len), s->p,
			         category_names());
			return -1;
		}
		return 0;
	}
	int64_t n;
	if (mp_key_is(k, "code")) {
		if (!get_int(val, &n) || n < -128 || n > 255)
			return bad(e, ERR_BAD_RECORD, "code is not -128..255");
		v->code = n;
		*have_code = true;
	} else if (mp_key_is(k, "pid")) {
		if (!get_int(val, &n) || n < 0)
			return bad(e, ERR_BAD_RECORD, "pid is not a number");
		v->pid = n;
	} else if (mp_key_is(k, "err_cut") || mp_key_is(k, "out_cut")) {
		if (!get_int(val, &n) || n < 0)
			return bad(e, ERR_BAD_RECORD, "cut is not a count");
		if (mp_key_is(k, "err_cut"))
			v->err_cut = (uint64_t)n;
		else
			v->out_cut = (uint64_t)n;
	} else if (mp_key_is(k, "core")) {
		if (val->type != MSGPACK_OBJECT_BOOLEAN)
			return bad(e, ERR_BAD_RECORD, "core is not a boolean");
		v->core = val->via.boolean;
	} else if (mp_key_is(k, "argv")) {
		return str_array(val, &v->argv, 4096, e,
		                 "argv is not a list of strings");
	} else if (mp_key_is(k, "files")) {
		return str_array(val, &v->files, EXIT_FILES_MAX, e,
		                 "files is not a list of strings");
	}
	return 0; /* unknown keys: kept, ignored */
}

int exit_decode(const msgpack_object *x, struct exit_view *v,
                struct record_error *e)
{
	bool have_code = false;

	memset(v, 0, sizeof *v);
	if (x->type != MSGPACK_OBJECT_MAP)
		return bad(e, ERR_BAD_RECORD, "not a map");
	if (x->via.map.size > EXIT_KEYS_MAX)
		return bad(e, ERR_BAD_RECORD, "more than 32 keys");
	if (mp_repeated_key(x) != NULL)
		return bad(e, ERR_BAD_RECORD, "a key appears twice");
	for (uint32_t i = 0; i < x->via.map.size; i++) {
		const msgpack_object *k = &x->via.map.ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR)
			return bad(e, ERR_BAD_RECORD, "key is not a string");
		if (one(k, &x->via.map.ptr[i].val, v, &have_code, e) < 0)
			return -1;
	}
	if (!have_code)
		return bad(e, ERR_BAD_RECORD, "no exit code");
	return 0;
}

const char *exit_signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sig > 0 ? sigabbrev_np(sig) : NULL;

	if (abbrev)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "SIG%d", sig);
	return buf;
}

size_t exit_summary(char *buf, size_t len, int64_t code, bool core)
{
	char name[32];
	int n;

	if (code >= 0)
		n = snprintf(buf, len, "Process exited with code %" PRId64,
		             code);
	else
		n = snprintf(buf, len,
		             "Process killed by %s (exit code: %" PRId64 "%s)",
		             exit_signal_name((int)-code, name, sizeof name),
		             code, core ? ", core dumped" : "");
	return n < 0 ? 0 : (size_t)n;
}

const char *exit_category(const struct exit_view *v)
{
	if (v->category.len > 0)
		return category_name(v->category.p, v->category.len);
	struct category_in in = {.code = v->code,
	                         .core = v->core,
	                         .err = v->err.p,
	                         .err_len = v->err.len,
	                         .out = v->out.p,
	                         .out_len = v->out.len};
	return category_of(&in);
}
