/*
 * endpoint.h: the sockets the broker listens on (listener.c): ingest and
 * query (raw rep0, requests dispatched by request.c) and live (pub0).
 *
 * nng's own threads touch only the atomic pipe counters and tell closed
 * pipes to the unread replies' list (pipe notifications); everything else
 * is the loop's.
 */
#ifndef LOGBUS_ENDPOINT_H
#define LOGBUS_ENDPOINT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>
#include <nng/nng.h>

#include "access.h"
#include "request.h" /* the ops an endpoint dispatches to */

struct broker;

/*
 * A socket the broker listens on (listener.c): a raw rep0 socket, its
 * listener, the libev watchers on its descriptors, replies parked while nng
 * cannot take them, and the self-dial probe that notices a listener stopped
 * by nng bug #1518.
 */
struct endpoint {
	struct broker *b;
	const char *name; /* "ingest", "query" */
	char url[128];
	char path[128];              /* socket file */
	struct socket_access access; /* owner, group, mode of the file */
	size_t recv_max;
	nng_socket sock;
	nng_listener listener;
	bool open;
	ev_io recv_w, send_w;
	const struct request_op *ops; /* NULL-terminated; NULL for live */
	/* replies each connection has not read (unread.h); NULL: not
	 * counted (ingest, live) */
	struct unread *unread;
	/* replies that got NNG_EAGAIN, sent when SENDFD says there is room */
	nng_msg **parked;
	size_t nparked, parked_cap;
	/* bug #1518 probe (listener.c); times are ev_time(), not ev_now() */
	atomic_uint_fast64_t pipes_added; /* written by nng's threads */
	int probe_fd;       /* a raw connection that speaks the handshake; -1 */
	ev_io probe_io;     /* reads the broker's side of the handshake */
	size_t probe_got;   /* bytes of the broker's handshake read back */
	ev_tstamp probe_at; /* connected */
	ev_tstamp probe_answered_at; /* 0: not answered yet */
	bool probing;                /* until a verdict: alive or a miss */
	uint64_t probe_base;         /* pipes_added when the probe started */
	uint32_t probe_seq;          /* names the probe's address */
	unsigned probe_misses;       /* in a row; two make a re-listen */
	unsigned npinned;            /* missed probes whose pipes nng keeps */
	uint32_t pinned[2];          /* their probe_seq */
	uint64_t pinned_base;        /* pipes_added when the first began */
	bool listening;              /* false: a re-listen failed, retried */
	uint64_t relistens;
	/* what the last re-listen left pinned in nng, closed later */
	unsigned nreclaim;
	uint32_t reclaim[2]; /* probe_seq of the pinned probes */
	int reclaim_fd;      /* the old listening socket, or -1 */
	dev_t reclaim_dev;
	ino_t reclaim_ino;
	ev_tstamp reclaim_at;
	/* requests refused before they were one: not msgpack, cut short,
	 * nested too deep (the loop's count) */
	uint64_t bad_requests;
	/* nng's counts of listeners a re-listen closed (endpoint_refusals) */
	uint64_t bad_frames_before, timeouts_before;
	/* connected pipes, for stats (the probe's own pipe not counted) */
	atomic_int_fast64_t pipes;
	atomic_uint_fast32_t self_pipe; /* id of the probe's pipe, or 0 */
};

int endpoint_open(struct endpoint *ep, struct broker *b, const char *name,
                  const char *run_dir, const char *sock_name,
                  const struct socket_access *access, size_t recv_max,
                  const struct request_op *ops, bool count_unread, char *err,
                  size_t errlen);
/* Stop taking requests, at a stop: with b->stopping set nothing starts
 * them again.  Replies parked or sent later still go out. */
void endpoint_pause(struct endpoint *ep);
/* Send a reply (takes msg); parks it if nng has no room right now. */
void endpoint_reply(struct endpoint *ep, nng_msg *msg);
/* Receive and handle up to max messages nng already holds; returns how many
 * were handled. */
int endpoint_drain(struct endpoint *ep, int max);
/* The probe (listener.c): endpoint_probe_start dials the socket once
 * (judging the previous probe first if it was still open), and
 * endpoint_probe_check judges it when it can: alive when a pipe reached the
 * socket, a miss when none did well after the broker's side answered the
 * handshake; two misses in a row re-listen. */
void endpoint_probe_start(struct endpoint *ep);
void endpoint_probe_check(struct endpoint *ep);
void endpoint_close(struct endpoint *ep);

/* What a socket refused before it was a request, since the start. */
struct endpoint_refusals {
	uint64_t bad_requests; /* answered bad_request: not a request */
	/* Counted by nng, which closes the connection: bytes that are not
	 * SP (a bad handshake, a frame of no known type), and handshakes
	 * not finished within nng's 10 s.  nng counts one only when its
	 * listener is waiting for a connection, not in the 100 ms it pauses
	 * after an error: a storm of them is undercounted. */
	uint64_t bad_frames;
	uint64_t handshake_timeouts;
};
/* The refusals of each of the n endpoints, into out[0..n-1]. */
void endpoint_refusals(struct endpoint *const *eps, size_t n,
                       struct endpoint_refusals *out);

#endif
