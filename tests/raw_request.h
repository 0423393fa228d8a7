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
#include <sys/types.h>

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

/* The reply to {"op": op} (OP_INFO, OP_STATS...) from the query socket
 * of run_dir. */
void raw_op(const char *run_dir, const char *op, struct raw_reply *rep);
/* The broker's "info" reply. */
void raw_info(const char *run_dir, struct raw_reply *rep);
/* One top-level counter of the broker's "stats" reply (PROTOCOL.md);
 * fails the test when it is missing. */
uint64_t raw_stat(const char *run_dir, const char *key);

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

/*
 * SP over ipc spoken by hand on a plain Unix socket, for what nng's own
 * sockets cannot send safely or at all (a message over the broker's
 * receive limit: with nng 1.5.2, nng_close() of a req0 socket whose pipe
 * the peer dropped for that sometimes never returns) and for bytes that
 * are not SP.  The wire format: an 8-byte handshake {0,'S','P',0, the
 * protocol as u16 BE, 0, 0} each way, then messages framed as type 1, a
 * u64 BE length and the message; a req0 message starts with a 4-byte
 * request id with its top bit set.  Every read and write gives up after
 * RAW_SP_MS.
 */
#define RAW_SP_MS   5000
#define RAW_SP_REQ0 0x30 /* a peer of the ingest and query sockets */
#define RAW_SP_SUB0 0x21 /* a peer of the live socket */

/* A connected socket to run_dir/sock, nothing sent (fails the test when it
 * cannot connect); with proto not 0, the handshake done as that protocol
 * and the broker's answer checked. */
int raw_sp_connect(const char *run_dir, const char *sock, int proto);
/* Send all of buf; -1 with errno when the peer went away meanwhile. */
int raw_sp_write(int fd, const void *buf, size_t len);
/* Read exactly len bytes: len, 0 at end of stream, -1 with errno. */
ssize_t raw_sp_read(int fd, void *buf, size_t len);
/* A frame's 9-byte header (type 1, length len) in h. */
void raw_sp_frame_head(unsigned char h[9], uint64_t len);
/* Send one request (request id id); -1 with errno when the peer went away
 * while it was being written. */
int raw_sp_send(int fd, uint32_t id, const void *body, size_t len);
/* Receive the reply to request id into *rep.  Returns 1 with a reply, 0
 * when the broker closed the connection, -1 with errno (EAGAIN: no reply
 * within RAW_SP_MS). */
int raw_sp_recv(int fd, uint32_t id, struct raw_reply *rep);

#endif
