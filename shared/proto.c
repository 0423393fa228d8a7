/*
 * proto.c: small msgpack helpers for the protocol's maps, so that the broker
 * and the library read and write them the same way.
 */
#include "proto.h"

#include <string.h>

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
			if (e->type == MSGPACK_OBJECT_STR &&
			    e->via.str.size == k->via.str.size &&
			    memcmp(e->via.str.ptr, k->via.str.ptr,
			           k->via.str.size) == 0)
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
	if (msgpack_unpack(body, len, &off, &zone, &o) ==
	    MSGPACK_UNPACK_SUCCESS)
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
