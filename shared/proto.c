/*
 * proto.c: small msgpack helpers for the protocol's maps, so that the broker
 * and the library read and write them the same way.
 */
#include "proto.h"

#include <string.h>

static uint64_t be_n(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The headers 0xc0-0xdf: how many bytes of length or count follow the
 * type byte (n), payload bytes besides (fixed: a number's, an ext's type),
 * and what the length counts. */
enum { MP_BYTES, MP_ITEMS, MP_PAIRS };
static const struct {
	unsigned char n, fixed, counts;
} mp_long[32] = {
    [0x04] = {1, 0, MP_BYTES},  [0x05] = {2, 0, MP_BYTES}, /* bin */
    [0x06] = {4, 0, MP_BYTES},  [0x07] = {1, 1, MP_BYTES}, /* ext */
    [0x08] = {2, 1, MP_BYTES},  [0x09] = {4, 1, MP_BYTES},
    [0x0a] = {0, 4, MP_BYTES},  [0x0b] = {0, 8, MP_BYTES}, /* float */
    [0x0c] = {0, 1, MP_BYTES},  [0x0d] = {0, 2, MP_BYTES}, /* uint */
    [0x0e] = {0, 4, MP_BYTES},  [0x0f] = {0, 8, MP_BYTES},
    [0x10] = {0, 1, MP_BYTES},  [0x11] = {0, 2, MP_BYTES}, /* int */
    [0x12] = {0, 4, MP_BYTES},  [0x13] = {0, 8, MP_BYTES},
    [0x14] = {0, 2, MP_BYTES},  [0x15] = {0, 3, MP_BYTES}, /* fixext */
    [0x16] = {0, 5, MP_BYTES},  [0x17] = {0, 9, MP_BYTES},
    [0x18] = {0, 17, MP_BYTES}, [0x19] = {1, 0, MP_BYTES}, /* str */
    [0x1a] = {2, 0, MP_BYTES},  [0x1b] = {4, 0, MP_BYTES},
    [0x1c] = {2, 0, MP_ITEMS},  [0x1d] = {4, 0, MP_ITEMS}, /* array */
    [0x1e] = {2, 0, MP_PAIRS},  [0x1f] = {4, 0, MP_PAIRS}, /* map */
};

/* One object's header at *p: how many bytes of payload follow it (skip)
 * and how many objects it contains (elements).  False when the header
 * itself is cut short. */
static bool mp_header(const unsigned char **p, const unsigned char *end,
                      uint64_t *skip, uint64_t *elements)
{
	unsigned char c = *(*p)++;

	*skip = *elements = 0;
	if (c <= 0x7f || c >= 0xe0) /* fixint */
		return true;
	if (c <= 0x8f) /* fixmap */
		*elements = 2u * (c & 15u);
	else if (c <= 0x9f) /* fixarray */
		*elements = c & 15u;
	else if (c <= 0xbf) /* fixstr */
		*skip = c & 31u;
	else {
		unsigned t = c - 0xc0u, n = mp_long[t].n;
		if ((size_t)(end - *p) < n)
			return false;
		uint64_t v = be_n(*p, (int)n);
		*p += n;
		*skip = mp_long[t].fixed;
		if (mp_long[t].counts == MP_BYTES)
			*skip += v;
		else
			*elements = mp_long[t].counts == MP_PAIRS ? 2 * v : v;
	}
	return true;
}

bool mp_counts_fit(const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	uint64_t want = 1; /* objects still to come */
	uint64_t skip, elements;

	while (want > 0 && p < end) {
		want--;
		if (!mp_header(&p, end, &skip, &elements))
			return true; /* cut short: msgpack-c refuses it */
		if (skip > (uint64_t)(end - p))
			return true;
		p += skip;
		uint64_t left = (uint64_t)(end - p);
		if (elements > 0 && (elements > left || want > left - elements))
			return false;
		want += elements;
	}
	return true;
}

msgpack_unpack_return mp_unpack(const char *data, size_t len, size_t *off,
                                msgpack_zone *zone, msgpack_object *obj)
{
	if (*off > len || !mp_counts_fit(data + *off, len - *off))
		return MSGPACK_UNPACK_PARSE_ERROR;
	return msgpack_unpack(data, len, off, zone, obj);
}

void mp_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void mp_pack_key(msgpack_packer *pk, const char *key)
{
	mp_pack_str(pk, key, strlen(key));
}

void mp_put_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
	mp_pack_key(pk, key);
	msgpack_pack_uint64(pk, v);
}

void mp_put_i64(msgpack_packer *pk, const char *key, int64_t v)
{
	mp_pack_key(pk, key);
	msgpack_pack_int64(pk, v);
}

const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	size_t n = strlen(key);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, key, n) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

const msgpack_object *mp_repeated_key(const msgpack_object *map)
{
	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 1; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR)
			continue;
		for (uint32_t j = 0; j < i; j++) {
			const msgpack_object *e = &map->via.map.ptr[j].key;
			/* an empty string's pointer may be NULL */
			if (e->type == MSGPACK_OBJECT_STR &&
			    e->via.str.size == k->via.str.size &&
			    (k->via.str.size == 0 ||
			     memcmp(e->via.str.ptr, k->via.str.ptr,
			            k->via.str.size) == 0))
				return k;
		}
	}
	return NULL;
}

bool mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
	const msgpack_object *v = mp_get(map, key);
	if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return false;
	*out = v->via.u64;
	return true;
}

bool mp_body_get_u64(const void *body, size_t len, const char *key,
                     uint64_t *out)
{
	msgpack_zone zone;
	msgpack_object o;
	size_t off = 0;
	bool got = false;

	msgpack_zone_init(&zone, 256);
	if (mp_unpack(body, len, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS)
		got = mp_get_u64(&o, key, out);
	msgpack_zone_destroy(&zone);
	return got;
}

bool mp_get_bool(const msgpack_object *map, const char *key, bool *out)
{
	const msgpack_object *v = mp_get(map, key);
	if (v == NULL || v->type != MSGPACK_OBJECT_BOOLEAN)
		return false;
	*out = v->via.boolean;
	return true;
}

bool mp_get_bytes(const msgpack_object *map, const char *key, const char **p,
                  size_t *len)
{
	const msgpack_object *v = mp_get(map, key);
	if (v == NULL)
		return false;
	if (v->type == MSGPACK_OBJECT_STR) {
		*p = v->via.str.ptr;
		*len = v->via.str.size;
		return true;
	}
	if (v->type == MSGPACK_OBJECT_BIN) {
		*p = v->via.bin.ptr;
		*len = v->via.bin.size;
		return true;
	}
	return false;
}
