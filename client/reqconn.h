/*
 * reqconn.h: one request/reply connection to a broker socket that survives
 * broker restarts and nng 1.5.2's bug #1518.
 *
 * A cooked req0 socket: nng resends the request by itself when its pipe
 * goes away.  The reply is awaited by polling RECVFD, never with
 * NNG_OPT_RECVTIMEO, because in 1.5.2 a timed-out receive abandons the
 * request.  While a call waits, the dialer is watched (redial.h): after
 * bug #1518 it would never reconnect by itself.
 *
 * One request at a time per connection (the caller serialises).
 */
#ifndef LOGBUS_REQCONN_H
#define LOGBUS_REQCONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <nng/nng.h>

#include "redial.h"

struct reqconn {
	nng_socket sock;
	struct redial rd;
	char path[160];
	int recvfd;
	int sendfd; /* readable when a request can go (a pipe is ready) */
	/* A call fails at once when there is no connection and no socket
	 * file (or no permission to reach it): right for a reader and a
	 * command-line tool, wrong for a publisher in a service, which
	 * waits for the broker. */
	bool fail_fast;
	/* A request went out and its reply has not been taken: a call that
	 * gave up (timeout, stop) leaves it, a long poll most often. */
	bool pending;
	/* The token of the last reply taken (0: none yet), echoed in the
	 * next request: the broker counts what a connection has not read
	 * (shared/proto.h, UNREAD_*). */
	uint64_t tok;
	char url[160];
	size_t recv_max;
};

int reqconn_open(struct reqconn *c, const char *run_dir, const char *sock,
                 size_t recv_max, char *err, size_t errlen);
/* Takes a pending reply first (at most DRAIN_MS), then closes. */
void reqconn_close(struct reqconn *c);
/* Close and dial again: a fresh connection, with nothing unread (after
 * the broker answered ERR_UNREAD).  fail_fast is kept. */
int reqconn_reopen(struct reqconn *c, char *err, size_t errlen);
/* Keep the token of a reply just taken (its "tok", if any): from the
 * decoded reply, or from the message itself. */
void reqconn_take_tok(struct reqconn *c, const msgpack_object *reply);
void reqconn_take_tok_msg(struct reqconn *c, nng_msg *reply);

/*
 * Send body and wait for the reply, up to timeout_ms (-1: no limit).
 * stop, if not NULL, is checked while waiting and ends the call with
 * LOGBUS_ECLOSED when it becomes true.  Returns 0 with *reply (free it with
 * nng_msg_free), LOGBUS_EUNREACHABLE when no connection came up in time,
 * LOGBUS_ETIMEDOUT when connected but no reply came, or LOGBUS_ENOMEM.
 * err gets a sentence for the user.
 */
int reqconn_call(struct reqconn *c, const void *body, size_t len,
                 nng_msg **reply, int timeout_ms, const atomic_bool *stop,
                 char *err, size_t errlen);

/* The two halves of reqconn_call, for a caller that works while its
 * request is out: the same results, each with its own timeout. */
int reqconn_send(struct reqconn *c, const void *body, size_t len,
                 int timeout_ms, const atomic_bool *stop, char *err,
                 size_t errlen);
int reqconn_wait(struct reqconn *c, nng_msg **reply, int timeout_ms,
                 const atomic_bool *stop, char *err, size_t errlen);
/* A request's message made ahead (NULL: out of memory), and sending one:
 * reqconn_send_msg takes msg, sent or not. */
nng_msg *reqconn_msg(const void *body, size_t len);
int reqconn_send_msg(struct reqconn *c, nng_msg *msg, int timeout_ms,
                     const atomic_bool *stop, char *err, size_t errlen);

bool reqconn_connected(struct reqconn *c);

/* Whether no connection can come up now, however long one waits: no
 * socket file, or this user may not enter the run directory (or one above
 * it) or open the socket.  true with the reason in err: "cannot reach
 * logbusd at PATH (no socket file): is logbusd running?", "... (permission
 * denied: ...)". */
bool reqconn_absent(struct reqconn *c, char *err, size_t errlen);
/* Why a call found no broker: reqconn_absent's reason, else "cannot reach
 * logbusd at PATH (no answer): is logbusd running?". */
void reqconn_unreachable(struct reqconn *c, char *err, size_t errlen);
/* The same for the socket file at path (spconn.c's too). */
void reqconn_unreachable_path(const char *path, char *err, size_t errlen);

#endif
