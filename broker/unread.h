/*
 * unread.h: the replies each connection of a request socket has not read
 * yet (unread.c), so that the broker bounds them in bytes and in number.
 *
 * nng 1.5.2's raw rep0 keeps a 64-deep send queue per connection and
 * drops a reply silently when it is full; the broker cannot see that
 * queue.  So every reply carries a random token ("tok", the reply map's
 * last key) and the client echoes the token of the last reply it received
 * in its next request: a connection's stream is ordered, so that reply and
 * every one sent before it on that connection have been read.  Replies
 * sent since are unread: the broker sums their bytes per connection, per
 * uid and in total, and counts them per connection.
 *
 * Invariants: a connection's unread replies are in the order they were
 * handed to nng; the sums are the sums of the listed replies; a closed
 * connection's replies are released (its nng queue went with it).
 */
#ifndef LOGBUS_UNREAD_H
#define LOGBUS_UNREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <nng/nng.h>

#include "frame.h"
#include "logbus/logbus.h"

struct unread;

/* The room kept for small replies (info, stats, rotate: a few KiB each),
 * which need no more: so that a uid whose readers hold what reads may, or
 * the operator when all readers do, still gets the counters. */
#define UNREAD_SMALL_ROOM (16 * 1024)
/* The least room any other reply needs: a read returns at least one
 * record, and one may be LOGBUS_RECORD_MAX; it leaves the small room. */
#define UNREAD_ROOM_MIN                                                        \
	(LOGBUS_RECORD_MAX + FRAME_OVERHEAD + 1024 + UNREAD_SMALL_ROOM)

/* What to do with a request (unread_request). */
enum unread_verdict {
	UNREAD_SERVE, /* answer it */
	UNREAD_BUSY,  /* answer it with "unread_replies" (why says why) */
	UNREAD_CLOSE, /* close the connection: it sends and does not read */
	UNREAD_GONE,  /* the connection is gone already: drop it */
};

/* The released connections are told by nng's threads
 * (unread_pipe_closed) and handled on loop. */
struct unread *unread_new(struct ev_loop *loop);
void unread_free(struct unread *u);

/* A request came on pipe p echoing tok (has_tok false: none): release
 * what it proves read, then judge it by the number of replies its
 * connection has not read (the room is the op's: unread_room). */
enum unread_verdict unread_request(struct unread *u, nng_pipe p, bool has_tok,
                                   uint64_t tok, char *why, size_t whylen);
/* Bytes a reply on pipe may still have: the least of the connection's,
 * its uid's and the total room; why (if not NULL) says whose it is. */
size_t unread_room(struct unread *u, uint32_t pipe, char *why, size_t whylen);
/* A reply of len bytes goes out on pipe: its token (0 when the pipe is not
 * known: a reply nng will drop). */
uint64_t unread_charge(struct unread *u, uint32_t pipe, size_t len);
/* nng's threads: pipe closed (NNG_PIPE_EV_REM_POST). */
void unread_pipe_closed(struct unread *u, uint32_t pipe);
/* Forget the pipes nng no longer knows (a close told before their first
 * request was handled); run now and then. */
void unread_sweep(struct unread *u);
/* Unread bytes in total, for stats and tests. */
uint64_t unread_total(const struct unread *u);

#endif
