/*
 * admin.h: the one-request call on the query socket that every
 * administration function of the library makes (admin.c), for the files
 * that hold more of them (alerts.c).  Internal: not exported.
 */
#ifndef LOGBUS_CLIENT_ADMIN_H
#define LOGBUS_CLIENT_ADMIN_H

#include <stddef.h>

#include <msgpack.h>
#include <nng/nng.h>

/* An ok reply, decoded: o is valid until call_done. */
struct call {
	nng_msg *reply;
	msgpack_zone zone;
	msgpack_object o;
};

/* Send {"op": op, + the nadd pairs add packs} to the query socket and
 * decode an ok reply into c: 0, or a LOGBUS_E* code with err (a refusal's
 * sentence; ERR_NOT_FOUND is LOGBUS_ENOTFOUND). */
int call(const char *run_dir, const char *op,
         void (*add)(msgpack_packer *pk, const void *arg), size_t nadd,
         const void *arg, struct call *c, char *err, size_t errlen);
void call_done(struct call *c);

/* A reply map's value under key: 0 or "" when it has none. */
uint64_t get_u64(const msgpack_object *m, const char *key);
int64_t get_i64(const msgpack_object *m, const char *key);
void get_str(const msgpack_object *m, const char *key, char *buf, size_t len);

#endif
