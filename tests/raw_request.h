/*
 * raw_request.h: requests built by hand and sent on a raw req0 socket, for
 * the integration tests that must say what liblogbus never would (bad
 * input, limits, counters the public API does not show).  The layout is
 * shared/proto.h's; msgpack keys go through its mp_* helpers.
 */
#ifndef LOGBUS_TEST_RAW_REQUEST_H
#define LOGBUS_TEST_RAW_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <nng/nng.h>

/* A bound for one reply; generous for sanitizer builds. */
#define RAW_REPLY_MS 15000

struct raw_reply {
	nng_msg *msg;
	msgpack_zone zone;
	msgpack_object o; /* the reply: always a map */
};

/* One request on a fresh req0 socket dialled to url (paths_socket_url);
 * fails the test when it cannot be sent, no reply comes within
 * RAW_REPLY_MS or the reply is not a msgpack map. */
void raw_call(const char *url, const void *body, size_t len,
              struct raw_reply *rep);
void raw_reply_free(struct raw_reply *rep);

/* The broker's "info" reply, from the query socket of run_dir. */
void raw_info(const char *run_dir, struct raw_reply *rep);

/* The string (or bin) under key as text in buf, or "(no <key>)". */
char *raw_str(const msgpack_object *map, const char *key, char *buf,
              size_t len);

/* The start of a publish request: op, sid, bn, "dr" when dropped is not 0,
 * and the array header of n records, which the caller packs next with
 * raw_pack_bin. */
void raw_pack_publish(msgpack_packer *pk, uint64_t sid, uint64_t bn,
                      uint64_t dropped, uint32_t n);
/* One record of a publish request: its encoded bytes as a bin. */
void raw_pack_bin(msgpack_packer *pk, const void *p, size_t len);
/* A minimal valid record (a fixed time, INFO, logger "x") of service svc
 * saying msg, encoded into out (initialised here; destroy it). */
void raw_record(msgpack_sbuffer *out, const char *svc, const char *msg);

#endif
