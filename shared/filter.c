/*
 * filter.c: build, encode, decode and match record filters (filter.h).
 *
 * The regular expression is compiled once per filter (regexp.c: PCRE2 with
 * logbus's limits); messages are valid UTF-8 by the time they are stored,
 * so matching skips PCRE2's own UTF check.
 */
#include "filter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "utf8.h"

#define FILTER_SERVICES_MAX 1024
#define FILTER_FIELDS_MAX   LOGBUS_FIELDS_MAX
/* svc lvl lvlmax lg st fld re since until pid uid gid comm */
#define FILTER_KEYS_MAX 13
#define FILTER_IDS_MAX  256 /* pids, uids, gids or comms, each */
#define FILTER_COMM_MAX (FRAME_COMM_LEN - 1)

static int copy_str(struct lb_str *dst, const char *s, size_t len)
{
	char *p = malloc(len + 1);
	if (p == NULL)
		return -1;
	memcpy(p, s, len);
	p[len] = '\0';
	dst->p = p;
	dst->len = (uint32_t)len;
	return 0;
}

static int set_prefix(struct filter *f, const char *s, size_t len)
{
	struct lb_str tmp;
	if (copy_str(&tmp, s, len) < 0)
		return -1;
	f->logger_prefix = (char *)tmp.p;
	f->prefix_len = len;
	return 0;
}

static int compile_regex(struct filter *f, const char *re, size_t len,
                         char *err, size_t errlen)
{
	/* The pattern is a C string everywhere else (filter_pack, the
	 * public filter): one read two ways is refused. */
	if (memchr(re, '\0', len) != NULL) {
		snprintf(err, errlen,
		         "regular expression holds a NUL byte: write it as "
		         "\\x00");
		return -1;
	}
	struct lb_str tmp;

	if (regexp_compile(&f->re, re, len, false, err, errlen) < 0)
		return -1;
	if (copy_str(&tmp, re, len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f->regex = (char *)tmp.p;
	return 0;
}

static int add_field(struct filter *f, const char *k, size_t klen,
                     const char *v, size_t vlen, char *err, size_t errlen)
{
	if (!field_key_valid(k, klen)) {
		snprintf(err, errlen,
		         "field filter key '%.*s' is not "
		         "[A-Za-z0-9._-]{1,64}",
		         (int)(klen > 64 ? 64 : klen), k);
		return -1;
	}
	if (!utf8_valid(v, vlen)) {
		snprintf(err, errlen, "field filter value is not UTF-8");
		return -1;
	}
	struct filter_field *ff = &f->fields[f->nfields];
	if (copy_str(&ff->key, k, klen) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (copy_str(&ff->value, v, vlen) < 0) {
		free((void *)ff->key.p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f->nfields++;
	return 0;
}

static int public_services(struct filter *f, const logbus_filter *pub,
                           char *err, size_t errlen)
{
	if (pub->nservices > FILTER_SERVICES_MAX) {
		snprintf(err, errlen, "more than %d services",
		         FILTER_SERVICES_MAX);
		return LOGBUS_EINVAL;
	}
	f->services = calloc(pub->nservices, sizeof *f->services);
	if (f->services == NULL)
		return LOGBUS_ENOMEM;
	for (size_t i = 0; i < pub->nservices; i++) {
		const char *s = pub->services[i];
		if (s == NULL || !service_id_valid(s, strlen(s))) {
			snprintf(err, errlen, "invalid service id '%s'",
			         s ? s : "(null)");
			return LOGBUS_EINVAL;
		}
		if (copy_str(&f->services[f->nservices], s, strlen(s)) < 0)
			return LOGBUS_ENOMEM;
		f->nservices++;
	}
	return 0;
}

static int public_fields(struct filter *f, const logbus_filter *pub, char *err,
                         size_t errlen)
{
	if (pub->nfields > FILTER_FIELDS_MAX) {
		snprintf(err, errlen, "more than %d field filters",
		         FILTER_FIELDS_MAX);
		return LOGBUS_EINVAL;
	}
	f->fields = calloc(pub->nfields, sizeof *f->fields);
	if (f->fields == NULL)
		return LOGBUS_ENOMEM;
	for (size_t i = 0; i < pub->nfields; i++) {
		const char *kv = pub->fields[i];
		const char *eq = kv ? strchr(kv, '=') : NULL;
		if (eq == NULL) {
			snprintf(err, errlen,
			         "field filter '%s' is not "
			         "KEY=VALUE",
			         kv ? kv : "(null)");
			return LOGBUS_EINVAL;
		}
		if (add_field(f, kv, (size_t)(eq - kv), eq + 1, strlen(eq + 1),
		              err, errlen) < 0)
			return LOGBUS_EINVAL;
	}
	return 0;
}

static int copy_ids(struct filter_ids *ids, const uint32_t *v, size_t n,
                    const char *what, char *err, size_t errlen)
{
	if (n > FILTER_IDS_MAX) {
		snprintf(err, errlen, "more than %d %s matches", FILTER_IDS_MAX,
		         what);
		return LOGBUS_EINVAL;
	}
	if (n == 0)
		return 0;
	if ((ids->v = malloc(n * sizeof *ids->v)) == NULL)
		return LOGBUS_ENOMEM;
	memcpy(ids->v, v, n * sizeof *ids->v);
	ids->n = n;
	return 0;
}

/* A process name the kernel could have: at most 15 bytes. */
static bool comm_valid(const char *s, size_t len, char *err, size_t errlen)
{
	if (len <= FILTER_COMM_MAX && memchr(s, '\0', len) == NULL)
		return true;
	snprintf(err, errlen,
	         "process name '%.*s' is longer than the %d bytes the kernel "
	         "keeps: give its first %d",
	         (int)(len > 64 ? 64 : len), s, FILTER_COMM_MAX,
	         FILTER_COMM_MAX);
	return false;
}

static int public_publisher(struct filter *f, const logbus_filter *pub,
                            char *err, size_t errlen)
{
	int rv;

	if ((rv = copy_ids(&f->pids, pub->pids, pub->npids, "pid", err,
	                   errlen)) != 0 ||
	    (rv = copy_ids(&f->uids, pub->uids, pub->nuids, "uid", err,
	                   errlen)) != 0 ||
	    (rv = copy_ids(&f->gids, pub->gids, pub->ngids, "gid", err,
	                   errlen)) != 0)
		return rv;
	if (pub->ncomms == 0)
		return 0;
	if (pub->ncomms > FILTER_IDS_MAX) {
		snprintf(err, errlen, "more than %d process name matches",
		         FILTER_IDS_MAX);
		return LOGBUS_EINVAL;
	}
	if ((f->comms = calloc(pub->ncomms, sizeof *f->comms)) == NULL)
		return LOGBUS_ENOMEM;
	for (size_t i = 0; i < pub->ncomms; i++) {
		const char *c = pub->comms[i] ? pub->comms[i] : "";
		if (!comm_valid(c, strlen(c), err, errlen))
			return LOGBUS_EINVAL;
		if (copy_str(&f->comms[f->ncomms], c, strlen(c)) < 0)
			return LOGBUS_ENOMEM;
		f->ncomms++;
	}
	return 0;
}

/* The level bounds: 0..255 each, the top not below the bottom. */
static bool levels_valid(int min, int max, char *err, size_t errlen)
{
	if (min < 0 || min > 255 || max < 0 || max > 255) {
		snprintf(err, errlen, "level %d is not 0..255",
		         min < 0 || min > 255 ? min : max);
		return false;
	}
	if (max > 0 && max < min) {
		snprintf(err, errlen,
		         "level range %d..%d is empty: its top is below its "
		         "bottom",
		         min, max);
		return false;
	}
	return true;
}

int filter_from_public(struct filter *f, const logbus_filter *pub, char *err,
                       size_t errlen)
{
	int rv = 0;

	memset(f, 0, sizeof *f);
	snprintf(err, errlen, "out of memory");
	if (pub == NULL)
		return 0;
	if (!levels_valid(pub->min_level, pub->max_level, err, errlen))
		return LOGBUS_EINVAL;
	if (pub->streams & ~7u) {
		snprintf(err, errlen, "unknown stream bits 0x%x", pub->streams);
		return LOGBUS_EINVAL;
	}
	f->min_level = pub->min_level;
	f->max_level = pub->max_level;
	f->streams = pub->streams;
	f->since_ns = pub->since_ns;
	f->until_ns = pub->until_ns;
	if ((pub->nservices > 0 &&
	     (rv = public_services(f, pub, err, errlen)) != 0) ||
	    (pub->nfields > 0 &&
	     (rv = public_fields(f, pub, err, errlen)) != 0) ||
	    (rv = public_publisher(f, pub, err, errlen)) != 0)
		goto fail;
	if (pub->logger_prefix && *pub->logger_prefix &&
	    set_prefix(f, pub->logger_prefix, strlen(pub->logger_prefix)) < 0) {
		rv = LOGBUS_ENOMEM;
		goto fail;
	}
	if (pub->message_regex &&
	    compile_regex(f, pub->message_regex, strlen(pub->message_regex),
	                  err, errlen) < 0) {
		rv = LOGBUS_EINVAL;
		goto fail;
	}
	return 0;
fail:
	filter_fini(f);
	return rv;
}

static void pack_ids(msgpack_packer *pk, const char *key,
                     const struct filter_ids *ids)
{
	if (ids->n == 0)
		return;
	mp_pack_key(pk, key);
	msgpack_pack_array(pk, ids->n);
	for (size_t i = 0; i < ids->n; i++)
		msgpack_pack_uint32(pk, ids->v[i]);
}

void filter_pack(msgpack_packer *pk, const struct filter *f)
{
	size_t n = (f->nservices > 0) + (f->min_level > 0) +
	           (f->max_level > 0) + (f->logger_prefix != NULL) +
	           (f->streams != 0) + (f->nfields > 0) + (f->regex != NULL) +
	           (f->since_ns != 0) + (f->until_ns != 0) + (f->pids.n > 0) +
	           (f->uids.n > 0) + (f->gids.n > 0) + (f->ncomms > 0);

	msgpack_pack_map(pk, n);
	if (f->nservices > 0) {
		mp_pack_key(pk, "svc");
		msgpack_pack_array(pk, f->nservices);
		for (size_t i = 0; i < f->nservices; i++)
			mp_pack_str(pk, f->services[i].p, f->services[i].len);
	}
	if (f->min_level > 0)
		mp_put_i64(pk, "lvl", f->min_level);
	if (f->logger_prefix != NULL) {
		mp_pack_key(pk, "lg");
		mp_pack_str(pk, f->logger_prefix, f->prefix_len);
	}
	if (f->streams != 0)
		mp_put_i64(pk, "st", f->streams);
	if (f->nfields > 0) {
		mp_pack_key(pk, "fld");
		msgpack_pack_array(pk, f->nfields);
		for (size_t i = 0; i < f->nfields; i++) {
			msgpack_pack_array(pk, 2);
			mp_pack_str(pk, f->fields[i].key.p,
			            f->fields[i].key.len);
			mp_pack_str(pk, f->fields[i].value.p,
			            f->fields[i].value.len);
		}
	}
	if (f->regex != NULL) {
		mp_pack_key(pk, "re");
		mp_pack_key(pk, f->regex);
	}
	if (f->since_ns != 0)
		mp_put_i64(pk, "since", f->since_ns);
	if (f->until_ns != 0)
		mp_put_i64(pk, "until", f->until_ns);
	if (f->max_level > 0)
		mp_put_i64(pk, "lvlmax", f->max_level);
	pack_ids(pk, "pid", &f->pids);
	pack_ids(pk, "uid", &f->uids);
	pack_ids(pk, "gid", &f->gids);
	if (f->ncomms > 0) {
		mp_pack_key(pk, "comm");
		msgpack_pack_array(pk, f->ncomms);
		for (size_t i = 0; i < f->ncomms; i++)
			mp_pack_str(pk, f->comms[i].p, f->comms[i].len);
	}
}

static int unpack_services(struct filter *f, const msgpack_object *v, char *err,
                           size_t errlen)
{
	if (v->type != MSGPACK_OBJECT_ARRAY ||
	    v->via.array.size > FILTER_SERVICES_MAX) {
		snprintf(err, errlen,
		         "filter svc is not an array of at most "
		         "%d services",
		         FILTER_SERVICES_MAX);
		return -1;
	}
	f->services = calloc(v->via.array.size + 1, sizeof *f->services);
	if (f->services == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		const msgpack_object *s = &v->via.array.ptr[i];
		if (s->type != MSGPACK_OBJECT_STR ||
		    !service_id_valid(s->via.str.ptr, s->via.str.size)) {
			snprintf(err, errlen,
			         "filter svc holds an invalid "
			         "service id");
			return -1;
		}
		if (copy_str(&f->services[f->nservices], s->via.str.ptr,
		             s->via.str.size) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		f->nservices++;
	}
	return 0;
}

static int unpack_fields(struct filter *f, const msgpack_object *v, char *err,
                         size_t errlen)
{
	if (v->type != MSGPACK_OBJECT_ARRAY ||
	    v->via.array.size > FILTER_FIELDS_MAX) {
		snprintf(err, errlen,
		         "filter fld is not an array of at most "
		         "%d [key, value] pairs",
		         FILTER_FIELDS_MAX);
		return -1;
	}
	f->fields = calloc(v->via.array.size + 1, sizeof *f->fields);
	if (f->fields == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		const msgpack_object *p = &v->via.array.ptr[i];
		if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2 ||
		    p->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
		    p->via.array.ptr[1].type != MSGPACK_OBJECT_STR) {
			snprintf(err, errlen,
			         "filter fld entry is not a "
			         "[key, value] pair of strings");
			return -1;
		}
		const msgpack_object_str *k = &p->via.array.ptr[0].via.str;
		const msgpack_object_str *val = &p->via.array.ptr[1].via.str;
		if (add_field(f, k->ptr, k->size, val->ptr, val->size, err,
		              errlen) < 0)
			return -1;
	}
	return 0;
}

/* "pid", "uid" or "gid": an array of 32-bit ids. */
static int unpack_ids(struct filter_ids *ids, const char *key,
                      const msgpack_object *v, char *err, size_t errlen)
{
	if (v->type != MSGPACK_OBJECT_ARRAY ||
	    v->via.array.size > FILTER_IDS_MAX) {
		snprintf(err, errlen,
		         "filter %s is not an array of at most %d ids", key,
		         FILTER_IDS_MAX);
		return -1;
	}
	if ((ids->v = calloc(v->via.array.size + 1, sizeof *ids->v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		const msgpack_object *id = &v->via.array.ptr[i];
		if (id->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    id->via.u64 > UINT32_MAX) {
			snprintf(err, errlen,
			         "filter %s holds a value that is "
			         "not 0..4294967295",
			         key);
			return -1;
		}
		ids->v[ids->n++] = (uint32_t)id->via.u64;
	}
	return 0;
}

static int unpack_comms(struct filter *f, const msgpack_object *v, char *err,
                        size_t errlen)
{
	if (v->type != MSGPACK_OBJECT_ARRAY ||
	    v->via.array.size > FILTER_IDS_MAX) {
		snprintf(err, errlen,
		         "filter comm is not an array of at most %d names",
		         FILTER_IDS_MAX);
		return -1;
	}
	if ((f->comms = calloc(v->via.array.size + 1, sizeof *f->comms)) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		const msgpack_object *c = &v->via.array.ptr[i];
		if (c->type != MSGPACK_OBJECT_STR) {
			snprintf(err, errlen, "filter comm holds a non-string");
			return -1;
		}
		if (!comm_valid(c->via.str.ptr, c->via.str.size, err, errlen))
			return -1;
		if (copy_str(&f->comms[f->ncomms], c->via.str.ptr,
		             c->via.str.size) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		f->ncomms++;
	}
	return 0;
}

static bool get_i64(const msgpack_object *v, int64_t *out)
{
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    v->via.u64 <= INT64_MAX)
		*out = (int64_t)v->via.u64;
	else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*out = v->via.i64;
	else
		return false;
	return true;
}

static int unpack_entry(struct filter *f, const msgpack_object *k,
                        const msgpack_object *v, char *err, size_t errlen)
{
	int64_t n;

	if (mp_key_is(k, "svc"))
		return unpack_services(f, v, err, errlen);
	if (mp_key_is(k, "fld"))
		return unpack_fields(f, v, err, errlen);
	if (mp_key_is(k, "pid"))
		return unpack_ids(&f->pids, "pid", v, err, errlen);
	if (mp_key_is(k, "uid"))
		return unpack_ids(&f->uids, "uid", v, err, errlen);
	if (mp_key_is(k, "gid"))
		return unpack_ids(&f->gids, "gid", v, err, errlen);
	if (mp_key_is(k, "comm"))
		return unpack_comms(f, v, err, errlen);
	if (mp_key_is(k, "lvl") || mp_key_is(k, "lvlmax") ||
	    mp_key_is(k, "st")) {
		bool st = mp_key_is(k, "st");
		const char *name = st                    ? "st"
		                   : mp_key_is(k, "lvl") ? "lvl"
		                                         : "lvlmax";
		if (!get_i64(v, &n) || n < 0 || n > (st ? 7 : 255)) {
			snprintf(err, errlen, "filter %s is not 0..%d", name,
			         st ? 7 : 255);
			return -1;
		}
		if (st)
			f->streams = (unsigned)n;
		else if (mp_key_is(k, "lvl"))
			f->min_level = (int)n;
		else
			f->max_level = (int)n;
		return 0;
	}
	if (mp_key_is(k, "since") || mp_key_is(k, "until")) {
		if (!get_i64(v, &n)) {
			snprintf(err, errlen, "filter time is not an integer");
			return -1;
		}
		if (mp_key_is(k, "since"))
			f->since_ns = n;
		else
			f->until_ns = n;
		return 0;
	}
	if (mp_key_is(k, "lg") || mp_key_is(k, "re")) {
		bool lg = mp_key_is(k, "lg");
		if (v->type != MSGPACK_OBJECT_STR ||
		    (lg && v->via.str.size > LOGBUS_LOGGER_MAX)) {
			snprintf(err, errlen, "filter %s is not a string",
			         lg ? "lg" : "re");
			return -1;
		}
		if (!lg)
			return compile_regex(f, v->via.str.ptr, v->via.str.size,
			                     err, errlen);
		if (v->via.str.size > 0 &&
		    set_prefix(f, v->via.str.ptr, v->via.str.size) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	}
	if (k->type == MSGPACK_OBJECT_STR)
		snprintf(err, errlen, "unknown filter key '%.*s'",
		         (int)(k->via.str.size > 32 ? 32 : k->via.str.size),
		         k->via.str.ptr);
	else
		snprintf(err, errlen, "filter key is not a string");
	return -1;
}

int filter_unpack(struct filter *f, const msgpack_object *o, char *err,
                  size_t errlen)
{
	memset(f, 0, sizeof *f);
	if (o->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "filter is not a map");
		return -1;
	}
	/* Known keys only, so a refusal comes before the map can be large. */
	if (o->via.map.size > FILTER_KEYS_MAX) {
		snprintf(err, errlen,
		         "filter has %u keys, more than the %d it "
		         "knows",
		         o->via.map.size, FILTER_KEYS_MAX);
		return -1;
	}
	const msgpack_object *twice = mp_repeated_key(o);
	if (twice != NULL) {
		/* A second svc or fld would be counted on top of the first,
		 * a second lg or re would leak the first: refuse them all. */
		snprintf(
		    err, errlen, "filter key '%.*s' appears twice",
		    (int)(twice->via.str.size > 32 ? 32 : twice->via.str.size),
		    twice->via.str.ptr);
		return -1;
	}
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		if (unpack_entry(f, &o->via.map.ptr[i].key,
		                 &o->via.map.ptr[i].val, err, errlen) < 0) {
			filter_fini(f);
			return -1;
		}
	}
	if (!levels_valid(f->min_level, f->max_level, err, errlen)) {
		filter_fini(f);
		return -1;
	}
	return 0;
}

bool logger_under(const char *logger, size_t len, const char *prefix,
                  size_t plen)
{
	if (plen == 0)
		return true;
	if (len < plen || memcmp(logger, prefix, plen) != 0)
		return false;
	return len == plen || logger[plen] == '.';
}

/* A field value as the text a user would type after KEY=. */
static bool value_equals(const msgpack_object *v, const struct lb_str *want)
{
	char buf[64];
	int n;

	switch (v->type) {
	case MSGPACK_OBJECT_STR:
		return v->via.str.size == want->len &&
		       memcmp(v->via.str.ptr, want->p, want->len) == 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		n = snprintf(buf, sizeof buf, "%" PRIu64, v->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		n = snprintf(buf, sizeof buf, "%" PRId64, v->via.i64);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		n = snprintf(buf, sizeof buf, "%s",
		             v->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: {
		char *end;
		double d = strtod(want->p, &end);
		return *want->p && *end == '\0' && d == v->via.f64;
	}
	case MSGPACK_OBJECT_NIL:
		return want->len == 0;
	default:
		return false;
	}
	return (size_t)n == want->len && memcmp(buf, want->p, want->len) == 0;
}

static bool fields_match(const struct filter *f, const struct record_view *v)
{
	for (size_t i = 0; i < f->nfields; i++) {
		const struct filter_field *ff = &f->fields[i];
		bool found = false;
		for (uint32_t j = 0; v->fields && j < v->fields->size; j++) {
			const msgpack_object *k = &v->fields->ptr[j].key;
			if (k->via.str.size == ff->key.len &&
			    memcmp(k->via.str.ptr, ff->key.p, ff->key.len) ==
			        0) {
				found = value_equals(&v->fields->ptr[j].val,
				                     &ff->value);
				break;
			}
		}
		if (!found)
			return false;
	}
	return true;
}

static bool id_in(const struct filter_ids *ids, uint32_t id)
{
	for (size_t i = 0; i < ids->n; i++)
		if (ids->v[i] == id)
			return true;
	return false;
}

/* The publisher matches: each kind given holds its id (or name). */
static bool publisher_match(const struct filter *f,
                            const struct frame_record *fr)
{
	if (f->pids.n == 0 && f->uids.n == 0 && f->gids.n == 0 &&
	    f->ncomms == 0)
		return true;
	if (fr == NULL)
		return false;
	if ((f->pids.n && !id_in(&f->pids, fr->pid)) ||
	    (f->uids.n && !id_in(&f->uids, fr->uid)) ||
	    (f->gids.n && !id_in(&f->gids, fr->gid)))
		return false;
	if (f->ncomms == 0)
		return true;
	size_t len = strnlen(fr->comm, FRAME_COMM_LEN);
	for (size_t i = 0; i < f->ncomms; i++)
		if (f->comms[i].len == len &&
		    memcmp(f->comms[i].p, fr->comm, len) == 0)
			return true;
	return false;
}

enum filter_result filter_test(const struct filter *f,
                               const struct record_view *v)
{
	return filter_test_frame(f, v, NULL);
}

enum filter_result filter_test_frame(const struct filter *f,
                                     const struct record_view *v,
                                     const struct frame_record *fr)
{
	if (v->level < f->min_level ||
	    (f->max_level > 0 && v->level > f->max_level))
		return FILTER_NO;
	if (!publisher_match(f, fr))
		return FILTER_NO;
	if (f->streams && !(f->streams & (1u << v->stream)))
		return FILTER_NO;
	if ((f->since_ns && v->time_ns < f->since_ns) ||
	    (f->until_ns && v->time_ns >= f->until_ns))
		return FILTER_NO;
	if (f->nservices > 0) {
		size_t i;
		for (i = 0; i < f->nservices; i++)
			if (f->services[i].len == v->service.len &&
			    memcmp(f->services[i].p, v->service.p,
			           v->service.len) == 0)
				break;
		if (i == f->nservices)
			return FILTER_NO;
	}
	if (f->logger_prefix != NULL &&
	    !logger_under(v->logger.p, v->logger.len, f->logger_prefix,
	                  f->prefix_len))
		return FILTER_NO;
	if (f->nfields > 0 && !fields_match(f, v))
		return FILTER_NO;
	if (f->regex == NULL)
		return FILTER_YES;
	switch (regexp_test(&f->re, v->message.p, v->message.len)) {
	case REGEXP_YES:
		return FILTER_YES;
	case REGEXP_NO:
		return FILTER_NO;
	default:
		return FILTER_LIMIT;
	}
}

bool filter_match(const struct filter *f, const struct record_view *v)
{
	return filter_test(f, v) == FILTER_YES;
}

bool filter_match_frame(const struct filter *f, const struct record_view *v,
                        const struct frame_record *fr)
{
	return filter_test_frame(f, v, fr) == FILTER_YES;
}

void filter_fini(struct filter *f)
{
	for (size_t i = 0; i < f->nservices; i++)
		free((void *)f->services[i].p);
	free(f->services);
	for (size_t i = 0; i < f->nfields; i++) {
		free((void *)f->fields[i].key.p);
		free((void *)f->fields[i].value.p);
	}
	free(f->fields);
	for (size_t i = 0; i < f->ncomms; i++)
		free((void *)f->comms[i].p);
	free(f->comms);
	free(f->pids.v);
	free(f->uids.v);
	free(f->gids.v);
	free(f->logger_prefix);
	free(f->regex);
	regexp_fini(&f->re);
	memset(f, 0, sizeof *f);
}
