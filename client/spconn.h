/*
 * spconn.h: a req0 client of our own, without nng, for a child of fork().
 *
 * nng 1.5.2 cannot be used in a forked child at all (its atfork handler
 * marks the library forked, and the next call panics), so a publisher in
 * such a child talks to the broker's rep0 socket through this: a blocking
 * Unix stream socket speaking nng's SP-over-IPC wire format, which the
 * broker's nng listener cannot tell from nng's own dialer.
 *
 *   handshake, both ways:  00 'S' 'P' 00, u16 protocol (ours req0 0x30,
 *                          the peer's rep0 0x31), u16 0
 *   each message:          01, u64 length (big-endian), then the bytes;
 *                          a request begins with a u32 request id with the
 *                          high bit set, and its reply begins with the same
 *
 * One request at a time.  A reply that does not carry the id of the last
 * request (the answer to one given up on) is skipped, as req0 does.  Any
 * failure closes the connection; the next send connects again, and the
 * caller sends the same request again (the broker deduplicates batches).
 * Every wait is bounded and watches a stop flag; writes use MSG_NOSIGNAL,
 * so a broker that went away never raises SIGPIPE in the caller.
 */
#ifndef LOGBUS_SPCONN_H
#define LOGBUS_SPCONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spconn {
	char path[160]; /* the socket file */
	size_t recv_max;
	int fd;              /* -1: not connected */
	atomic_bool up;      /* connected and handshaken (read by stats) */
	uint32_t next_id;    /* request ids, high bit set */
	uint32_t want_id;    /* the id of the request out (0: none) */
	uint64_t tok;        /* as reqconn's: the last reply token taken */
	int64_t next_try_ms; /* no connect attempt before then */
	int backoff_ms;
	/* a reply being read: header bytes, then the payload into rx */
	unsigned char head[9];
	size_t got_head;
	unsigned char *rx;
	size_t rx_cap, rx_len, rx_got;
};

/* Prepare to talk to the socket file at path; nothing is connected yet. */
int spconn_init(struct spconn *c, const char *path, size_t recv_max, char *err,
                size_t errlen);
void spconn_fini(struct spconn *c);
/* Drop the connection without a word (a child's copy of its parent's
 * connection, after another fork). */
void spconn_disconnect(struct spconn *c);

/* The same contracts as reqconn_send and reqconn_wait (reqconn.h): 0, or
 * LOGBUS_EUNREACHABLE, LOGBUS_ETIMEDOUT, LOGBUS_ECLOSED (stop became true),
 * LOGBUS_ESYS, LOGBUS_EPROTO, with a sentence in err.  A reply is *body,
 * *len, valid until the next call. */
int spconn_send(struct spconn *c, const void *body, size_t len, int timeout_ms,
                const atomic_bool *stop, char *err, size_t errlen);
int spconn_wait(struct spconn *c, const void **body, size_t *len,
                int timeout_ms, const atomic_bool *stop, char *err,
                size_t errlen);

bool spconn_connected(struct spconn *c);

/* "cannot reach logbusd at PATH (why): is logbusd running?" */
void spconn_unreachable(struct spconn *c, char *err, size_t errlen);

#endif
