/*
 * fuzz_request.c: any bytes as a request to a real broker, through
 * request_dispatch on the ingest socket (pub: the batch decoder, its
 * records, sync) or the query socket (read with its filter and cursor,
 * info, errors, report, rotate, stats, services).
 *
 * The broker is broker_init's, in a directory of the fuzzer's own, without
 * its loop running: the target hands it each request as nng delivered it,
 * then runs what the request left for the loop (a tail's slices, a parked
 * read).  A request carries the pipe of a connection this process made, so
 * that the broker reads the peer's credentials as for any client (its own
 * user: a trusted reader); with the first byte's bit 1 set it carries no
 * pipe, a reader without credentials (restricted to records of no uid).
 * Replies go back on that connection and are thrown away.  The broker's
 * count of unread replies (unread.h) is left out: this client never says
 * it read one.
 *
 * Input: one byte (bit 0: the ingest socket, else query; bit 1: no pipe),
 * then the request's body.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "broker.h"
#include "config.h"
#include "fuzz_util.h"
#include "paths.h"
#include "proto.h"
#include "unread.h"

static struct broker b;
static struct config_source src;
static struct broker_config cfg;
static struct config_override ov[4];
static char run_dir[300], log_dir[300];
static struct unread *unread_kept[2];

struct client {
	struct endpoint *ep;
	nng_socket sock;
	nng_pipe pipe; /* the broker's side of this connection */
	pthread_t drain;
};
static struct client clients[2];

static void *drain_main(void *arg)
{
	struct client *c = arg;
	nng_msg *m;

	while (nng_recvmsg(c->sock, &m, 0) == 0)
		nng_msg_free(m);
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect to ep and learn the pipe the broker sees: one request is sent
 * and taken off the broker's socket here (the loop is not running). */
static void client_connect(struct client *c, struct endpoint *ep,
                           const char *sock_name)
{
	char url[400];
	nng_msg *m;
	int rv;

	c->ep = ep;
	if (paths_socket_url(url, sizeof url, run_dir, sock_name) == NULL)
		fuzz_fail("run directory too long");
	if ((rv = nng_req0_open_raw(&c->sock)) != 0 ||
	    (rv = nng_dial(c->sock, url, NULL, 0)) != 0 ||
	    (rv = nng_msg_alloc(&m, 0)) != 0 ||
	    (rv = nng_msg_header_append_u32(m, 0x80000001u)) != 0 ||
	    (rv = nng_sendmsg(c->sock, m, 0)) != 0)
		fuzz_fail("cannot connect to %s: %s", url, nng_strerror(rv));
	for (int64_t end = now_ms() + 10000;;) {
		rv = nng_recvmsg(ep->sock, &m, NNG_FLAG_NONBLOCK);
		if (rv == 0)
			break;
		if (rv != NNG_EAGAIN || now_ms() > end)
			fuzz_fail("no request arrived on %s: %s", url,
			          nng_strerror(rv));
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	c->pipe = nng_msg_get_pipe(m);
	nng_msg_free(m);
	if (pthread_create(&c->drain, NULL, drain_main, c) != 0)
		fuzz_fail("cannot start a thread");
}

static void broker_down(void)
{
	for (int i = 0; i < 2; i++) {
		nng_close(clients[i].sock);
		pthread_join(clients[i].drain, NULL);
	}
	b.ingest.unread = unread_kept[0];
	b.query.unread = unread_kept[1];
	broker_fini(&b);
	config_fini(&cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];

	(void)argc;
	(void)argv;
	snprintf(run_dir, sizeof run_dir, "%s/run", fuzz_dir());
	snprintf(log_dir, sizeof log_dir, "%s/log", fuzz_dir());
	if (mkdir(run_dir, 0700) < 0 || mkdir(log_dir, 0700) < 0)
		fuzz_fail("cannot make %s and %s", run_dir, log_dir);
	/* a small journal that retention keeps small, no routed files */
	ov[0] = (struct config_override){"run-dir", run_dir};
	ov[1] = (struct config_override){"log-dir", log_dir};
	ov[2] = (struct config_override){"segment-size", "1M"};
	ov[3] = (struct config_override){"max-total", "16M"};
	src = (struct config_source){.overrides = ov, .noverrides = 4};
	if (config_build(&cfg, &src, err, sizeof err) < 0)
		fuzz_fail("configuration: %s", err);
	cfg.quiet = true;
	cfg.default_routes = false;
	if (broker_init(&b, &cfg) < 0)
		fuzz_fail("broker_init failed in %s", fuzz_dir());
	unread_kept[0] = b.ingest.unread;
	unread_kept[1] = b.query.unread;
	b.ingest.unread = b.query.unread = NULL;
	client_connect(&clients[0], &b.ingest, SOCK_INGEST);
	client_connect(&clients[1], &b.query, SOCK_QUERY);
	atexit(broker_down);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nng_msg *m;

	if (size < 1)
		return 0;
	struct client *c = &clients[(data[0] & 1) ? 0 : 1];
	/* nng closes a connection that sends more than the socket takes */
	if (size - 1 > c->ep->recv_max)
		return 0;
	bool piped = !(data[0] & 2);
	uint32_t pipe_id = piped ? nng_pipe_id(c->pipe) : 0;
	if (nng_msg_alloc(&m, size - 1) != 0)
		return 0;
	memcpy(nng_msg_body(m), data + 1, size - 1);
	if (nng_msg_header_append_u32(m, pipe_id) != 0 ||
	    nng_msg_header_append_u32(m, 0x80000002u) != 0) {
		nng_msg_free(m);
		return 0;
	}
	if (piped)
		nng_msg_set_pipe(m, c->pipe);
	request_dispatch(c->ep, m);
	/* what the request left to the loop: a tail's slices, a read
	 * parked until a record commits or its time is up */
	for (int i = 0; i < 1000 && b.tails.n > 0; i++)
		ev_run(b.loop, EVRUN_NOWAIT);
	ev_run(b.loop, EVRUN_NOWAIT);
	return 0;
}
