/*
 * filter.c: build, encode, decode and match record filters (filter.h).
 *
 * The regular expression is compiled once per filter with PCRE2 in UTF mode
 * (and JIT when the platform has it); messages are valid UTF-8 by the time
 * they are stored, so matching skips PCRE2's own UTF check.
 */
#include "filter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "proto.h"
#include "utf8.h"

#define FILTER_SERVICES_MAX 1024
#define FILTER_FIELDS_MAX   LOGBUS_FIELDS_MAX
#define FILTER_REGEX_MAX    4096
#define FILTER_KEYS_MAX     8 /* svc lvl lg st fld re since until */

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
	int code;
	PCRE2_SIZE at;

	if (len > FILTER_REGEX_MAX) {
		snprintf(err, errlen, "regular expression longer than %d bytes",
		         FILTER_REGEX_MAX);
		return -1;
	}
	/* The pattern is a C string everywhere else (filter_pack, the
	 * public filter): one read two ways is refused. */
	if (memchr(re, '\0', len) != NULL) {
		snprintf(err, errlen,
		         "regular expression holds a NUL byte: write it as "
		         "\\x00");
		return -1;
	}
	f->code =
	    pcre2_compile((PCRE2_SPTR)re, len, PCRE2_UTF, &code, &at, NULL);
	if (f->code == NULL) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof msg);
		snprintf(err, errlen,
		         "bad regular expression at offset %zu: %s", (size_t)at,
		         (const char *)msg);
		return -1;
	}
	pcre2_jit_compile(f->code, PCRE2_JIT_COMPLETE); /* best effort */
	f->match = pcre2_match_data_create_from_pattern(f->code, NULL);
	/* Bounds on one match, interpreted or JIT: steps, and the memory
	 * backtracking may use (the depth and heap limits apply where the
	 * JIT does not, which has its own 32 KiB stack). */
	f->mctx = pcre2_match_context_create(NULL);
	if (f->mctx != NULL) {
		pcre2_set_match_limit(f->mctx, FILTER_MATCH_LIMIT);
		pcre2_set_depth_limit(f->mctx, FILTER_MATCH_LIMIT / 10);
		pcre2_set_heap_limit(f->mctx, 8 * 1024); /* KiB */
	}
	struct lb_str tmp;
	if (f->match == NULL || f->mctx == NULL ||
	    copy_str(&tmp, re, len) < 0) {
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

int filter_from_public(struct filter *f, const logbus_filter *pub, char *err,
                       size_t errlen)
{
	int rv = 0;

	memset(f, 0, sizeof *f);
	snprintf(err, errlen, "out of memory");
	if (pub == NULL)
		return 0;
	if (pub->min_level < 0 || pub->min_level > 255) {
		snprintf(err, errlen, "level %d is not 0..255", pub->min_level);
		return LOGBUS_EINVAL;
	}
	if (pub->streams & ~7u) {
		snprintf(err, errlen, "unknown stream bits 0x%x", pub->streams);
		return LOGBUS_EINVAL;
	}
	f->min_level = pub->min_level;
	f->streams = pub->streams;
	f->since_ns = pub->since_ns;
	f->until_ns = pub->until_ns;
	if ((pub->nservices > 0 &&
	     (rv = public_services(f, pub, err, errlen)) != 0) ||
	    (pub->nfields > 0 &&
	     (rv = public_fields(f, pub, err, errlen)) != 0))
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

static void pack_i64(msgpack_packer *pk, const char *key, int64_t v)
{
	mp_pack_key(pk, key);
	msgpack_pack_int64(pk, v);
}

void filter_pack(msgpack_packer *pk, const struct filter *f)
{
	size_t n = (f->nservices > 0) + (f->min_level > 0) +
	           (f->logger_prefix != NULL) + (f->streams != 0) +
	           (f->nfields > 0) + (f->regex != NULL) + (f->since_ns != 0) +
	           (f->until_ns != 0);

	msgpack_pack_map(pk, n);
	if (f->nservices > 0) {
		mp_pack_key(pk, "svc");
		msgpack_pack_array(pk, f->nservices);
		for (size_t i = 0; i < f->nservices; i++)
			mp_pack_str(pk, f->services[i].p, f->services[i].len);
	}
	if (f->min_level > 0)
		pack_i64(pk, "lvl", f->min_level);
	if (f->logger_prefix != NULL) {
		mp_pack_key(pk, "lg");
		mp_pack_str(pk, f->logger_prefix, f->prefix_len);
	}
	if (f->streams != 0)
		pack_i64(pk, "st", f->streams);
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
		pack_i64(pk, "since", f->since_ns);
	if (f->until_ns != 0)
		pack_i64(pk, "until", f->until_ns);
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
	if (mp_key_is(k, "lvl") || mp_key_is(k, "st")) {
		bool lvl = mp_key_is(k, "lvl");
		if (!get_i64(v, &n) || n < 0 || n > (lvl ? 255 : 7)) {
			snprintf(err, errlen, "filter %s is not 0..%d",
			         lvl ? "lvl" : "st", lvl ? 255 : 7);
			return -1;
		}
		if (lvl)
			f->min_level = (int)n;
		else
			f->streams = (unsigned)n;
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

enum filter_result filter_test(const struct filter *f,
                               const struct record_view *v)
{
	if (v->level < f->min_level)
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
	if (f->code == NULL)
		return FILTER_YES;
	int rc = pcre2_match(f->code, (PCRE2_SPTR)v->message.p, v->message.len,
	                     0, PCRE2_NO_UTF_CHECK, f->match, f->mctx);
	if (rc >= 0)
		return FILTER_YES;
	if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL)
		return FILTER_NO;
	return FILTER_LIMIT; /* match, depth, heap or JIT stack limit */
}

bool filter_match(const struct filter *f, const struct record_view *v)
{
	return filter_test(f, v) == FILTER_YES;
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
	free(f->logger_prefix);
	free(f->regex);
	if (f->match)
		pcre2_match_data_free(f->match);
	if (f->code)
		pcre2_code_free(f->code);
	if (f->mctx)
		pcre2_match_context_free(f->mctx);
	memset(f, 0, sizeof *f);
}
