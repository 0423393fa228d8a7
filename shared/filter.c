/*
 * filter.c: build, encode, decode and match record filters (filter.h).
 */
#include "filter.h"

#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_service(struct filter *f, const char *s, size_t len)
{
	char *copy = malloc(len + 1);
	if (copy == NULL)
		return LOGBUS_ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	f->services[f->nservices].p = copy;
	f->services[f->nservices].len = (uint32_t)len;
	f->nservices++;
	return 0;
}

static int set_prefix(struct filter *f, const char *s, size_t len)
{
	f->logger_prefix = malloc(len + 1);
	if (f->logger_prefix == NULL)
		return LOGBUS_ENOMEM;
	memcpy(f->logger_prefix, s, len);
	f->logger_prefix[len] = '\0';
	f->prefix_len = len;
	return 0;
}

int filter_from_public(struct filter *f, const logbus_filter *pub)
{
	memset(f, 0, sizeof *f);
	if (pub == NULL)
		return 0;
	if (pub->min_level < 0 || pub->min_level > 255)
		return LOGBUS_EINVAL;
	f->min_level = pub->min_level;
	if (pub->nservices > 0) {
		f->services = calloc(pub->nservices, sizeof *f->services);
		if (f->services == NULL)
			return LOGBUS_ENOMEM;
		for (size_t i = 0; i < pub->nservices; i++) {
			const char *s = pub->services[i];
			if (s == NULL || !service_id_valid(s, strlen(s))) {
				filter_fini(f);
				return LOGBUS_EINVAL;
			}
			if (add_service(f, s, strlen(s)) < 0) {
				filter_fini(f);
				return LOGBUS_ENOMEM;
			}
		}
	}
	if (pub->logger_prefix && *pub->logger_prefix &&
	    set_prefix(f, pub->logger_prefix, strlen(pub->logger_prefix)) < 0) {
		filter_fini(f);
		return LOGBUS_ENOMEM;
	}
	return 0;
}

void filter_pack(msgpack_packer *pk, const struct filter *f)
{
	size_t n = (f->nservices > 0) + (f->min_level > 0) +
		   (f->logger_prefix != NULL);

	msgpack_pack_map(pk, n);
	if (f->nservices > 0) {
		mp_pack_key(pk, "svc");
		msgpack_pack_array(pk, f->nservices);
		for (size_t i = 0; i < f->nservices; i++) {
			mp_pack_str(pk, f->services[i].p, f->services[i].len);
		}
	}
	if (f->min_level > 0) {
		mp_pack_key(pk, "lvl");
		msgpack_pack_int(pk, f->min_level);
	}
	if (f->logger_prefix != NULL) {
		mp_pack_key(pk, "lg");
		mp_pack_str(pk, f->logger_prefix, f->prefix_len);
	}
}

static int unpack_services(struct filter *f, const msgpack_object *v,
			   char *err, size_t errlen)
{
	if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > 1024) {
		snprintf(err, errlen, "filter svc is not an array of services");
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
			snprintf(err, errlen, "filter svc holds an invalid "
					      "service id");
			return -1;
		}
		if (add_service(f, s->via.str.ptr, s->via.str.size) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int unpack_entry(struct filter *f, const msgpack_object *k,
			const msgpack_object *v, char *err, size_t errlen)
{
	if (mp_key_is(k, "svc"))
		return unpack_services(f, v, err, errlen);
	if (mp_key_is(k, "lvl")) {
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    v->via.u64 > 255) {
			snprintf(err, errlen, "filter lvl is not 0..255");
			return -1;
		}
		f->min_level = (int)v->via.u64;
		return 0;
	}
	if (mp_key_is(k, "lg")) {
		if (v->type != MSGPACK_OBJECT_STR ||
		    v->via.str.size > LOGBUS_LOGGER_MAX) {
			snprintf(err, errlen, "filter lg is not a logger name");
			return -1;
		}
		if (v->via.str.size == 0)
			return 0;
		if (set_prefix(f, v->via.str.ptr, v->via.str.size) < 0) {
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

bool filter_match(const struct filter *f, const struct record_view *v)
{
	if (v->level < f->min_level)
		return false;
	if (f->nservices > 0) {
		size_t i;
		for (i = 0; i < f->nservices; i++)
			if (f->services[i].len == v->service.len &&
			    memcmp(f->services[i].p, v->service.p,
				   v->service.len) == 0)
				break;
		if (i == f->nservices)
			return false;
	}
	if (f->logger_prefix != NULL &&
	    !logger_under(v->logger.p, v->logger.len, f->logger_prefix,
			  f->prefix_len))
		return false;
	return true;
}

void filter_fini(struct filter *f)
{
	for (size_t i = 0; i < f->nservices; i++)
		free((void *)f->services[i].p);
	free(f->services);
	free(f->logger_prefix);
	memset(f, 0, sizeof *f);
}
