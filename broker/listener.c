/*
 * listener.c: the broker's listening sockets, driven by libev, and their
 * recovery from nng 1.5.2's bug #1518.
 *
 * A request endpoint (ingest, query) is a raw rep0 socket (cooked rep0 loses
 * replies sent with NNG_FLAG_NONBLOCK; ../shared/nng-1.5-facts.md section 2):
 * requests carry nng's header, which the reply copies, so replies may go in any
 * order. RECVFD is level-triggered; the callback drains up to a bound and
 * returns, so one busy client cannot starve the loop.  The live endpoint is a
 * pub0 socket: nothing to receive, and sending never blocks (pub0 drops for a
 * subscriber whose queue is full; subscribers repair from the journal).
 *
 * Bug #1518: a connection closed during the SP handshake stops an ipc
 * listener for good, silently.  The only reliable sign is that the socket
 * stops seeing NNG_PIPE_EV_ADD_POST: the dialing side still completes its
 * handshake.  So every probe interval the broker connects to itself and
 * checks that its own socket saw a new pipe soon after the handshake was
 * answered; after two such misses in a row it closes the listener, listens
 * again on the same path, and closes the descriptors nng keeps of the old
 * one (below, "What a re-listen leaves behind").  Clients on pipes that
 * survive are not disturbed.
 *
 * Every listen, the first and each re-listen, gives the socket file its
 * configured owner, group and mode.  The live socket broadcasts every
 * record, so it cannot filter per reader: a pipe from a reader outside the
 * reader group is closed before the socket sees it (access.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker.h"
#include "endpoint.h"
#include "live.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>

#include "paths.h"
#include "unread.h"

#define DRAIN_MAX 64 /* messages per wake-up, then let other watchers run */
/* Replies waiting for room in nng: past this the endpoint stops taking
 * requests until they have left, so a client that sends and never reads
 * cannot make the broker hold replies without bound. */
#define PARKED_MAX 256
/* Requests nng holds for the loop.  A req0 client has one in flight, so
 * memory is (REQ_RECVBUF + connected clients) x their request size at most:
 * a deep queue buys nothing but memory. */
#define REQ_RECVBUF 64

static void on_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct endpoint *ep = arg;

	(void)p;
	(void)ev;
	atomic_fetch_add(&ep->pipes_added, 1);
}

/* A reader outside the reader group never joins live: pub0 sends every
 * record to every pipe, so it cannot be filtered per reader. */
static bool live_refuses(struct endpoint *ep, nng_pipe p)
{
	uint64_t uid, gid;

	return ep->ops == NULL &&
	       (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0 ||
	        nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &gid) != 0 ||
	        !access_trusted(&ep->b->access_cfg, (uint32_t)uid,
	                        (uint32_t)gid));
}

/* nng's threads.  Connected pipes for stats: ADD_PRE and REM_POST come in
 * pairs for every pipe (nng runs REM_POST for every pipe that saw ADD_PRE,
 * one closed here included).  The probe's pipe, whose peer is this very
 * process, is not counted. */
static void on_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct endpoint *ep = arg;
	uint64_t pid;

	if (ev == NNG_PIPE_EV_ADD_PRE) {
		if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0 &&
		    pid == (uint64_t)getpid())
			atomic_store(&ep->self_pipe, nng_pipe_id(p));
		else
			atomic_fetch_add(&ep->pipes, 1);
		if (live_refuses(ep, p))
			nng_pipe_close(p);
	} else {
		uint_fast32_t id = (uint_fast32_t)nng_pipe_id(p);
		if (!atomic_compare_exchange_strong(&ep->self_pipe, &id, 0))
			atomic_fetch_sub(&ep->pipes, 1);
		if (ep->unread)
			unread_pipe_closed(ep->unread,
			                   (uint32_t)nng_pipe_id(p));
	}
}

static int start_listener(struct endpoint *ep, char *err, size_t errlen)
{
	int rv;

	ep->listening = false;
	if ((rv = nng_listener_create(&ep->listener, ep->sock, ep->url)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", ep->path,
		         nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_listener_set_size(ep->listener, NNG_OPT_RECVMAXSZ,
	                                ep->recv_max)) != 0 ||
	    (rv = nng_listener_set_int(ep->listener, NNG_OPT_IPC_PERMISSIONS,
	                               ep->access.mode)) != 0 ||
	    (rv = nng_listener_start(ep->listener, 0)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", ep->path,
		         nng_strerror(rv));
		nng_listener_close(ep->listener);
		return -1;
	}
	ep->listening = true;
	return access_apply(ep->path, &ep->access, err, errlen);
}

int endpoint_drain(struct endpoint *ep, int max)
{
	int i;

	for (i = 0; i < max && ep->open; i++) {
		nng_msg *msg;
		int rv = nng_recvmsg(ep->sock, &msg, NNG_FLAG_NONBLOCK);
		if (rv == NNG_EAGAIN)
			break;
		if (rv != 0) {
			broker_log(ep->b, LOGBUS_ERROR,
			           "%s: receive failed: %s", ep->name,
			           nng_strerror(rv));
			break;
		}
		request_dispatch(ep, msg);
	}
	return i;
}

static void on_recv(struct ev_loop *loop, ev_io *w, int revents)
{
	struct endpoint *ep =
	    (struct endpoint *)((char *)w - offsetof(struct endpoint, recv_w));
	(void)loop;
	(void)revents;
	endpoint_drain(ep, DRAIN_MAX);
}

static int flush_parked(struct endpoint *ep)
{
	size_t i = 0;

	while (i < ep->nparked) {
		int rv =
		    nng_sendmsg(ep->sock, ep->parked[i], NNG_FLAG_NONBLOCK);
		if (rv == NNG_EAGAIN)
			break;
		if (rv != 0)
			nng_msg_free(ep->parked[i]);
		i++;
	}
	memmove(ep->parked, ep->parked + i,
	        (ep->nparked - i) * sizeof *ep->parked);
	ep->nparked -= i;
	return ep->nparked == 0;
}

static void on_send(struct ev_loop *loop, ev_io *w, int revents)
{
	struct endpoint *ep =
	    (struct endpoint *)((char *)w - offsetof(struct endpoint, send_w));
	(void)revents;
	if (flush_parked(ep)) {
		ev_io_stop(loop, w);
		if (!ep->b->stopping)
			ev_io_start(loop, &ep->recv_w); /* after PARKED_MAX */
	}
}

void endpoint_reply(struct endpoint *ep, nng_msg *msg)
{
	if (ep->nparked == 0) {
		int rv = nng_sendmsg(ep->sock, msg, NNG_FLAG_NONBLOCK);
		if (rv == 0)
			return;
		if (rv != NNG_EAGAIN) {
			/* The pipe went away: the client will resend. */
			nng_msg_free(msg);
			return;
		}
	}
	if (ep->nparked == ep->parked_cap) {
		size_t cap = ep->parked_cap ? ep->parked_cap * 2 : 16;
		nng_msg **p = realloc(ep->parked, cap * sizeof *p);
		if (p == NULL) {
			broker_log(ep->b, LOGBUS_ERROR,
			           "%s: out of memory parking a reply",
			           ep->name);
			nng_msg_free(msg);
			return;
		}
		ep->parked = p;
		ep->parked_cap = cap;
	}
	ep->parked[ep->nparked++] = msg;
	ev_io_start(ep->b->loop, &ep->send_w);
	if (ep->nparked >= PARKED_MAX)
		ev_io_stop(ep->b->loop, &ep->recv_w);
}

int endpoint_open(struct endpoint *ep, struct broker *b, const char *name,
                  const char *run_dir, const char *sock_name,
                  const struct socket_access *access, size_t recv_max,
                  const struct request_op *ops, bool count_unread, char *err,
                  size_t errlen)
{
	int rv, rfd = -1, sfd = -1;

	memset(ep, 0, sizeof *ep);
	ep->b = b;
	ep->name = name;
	ep->access = *access;
	ep->recv_max = recv_max;
	ep->ops = ops;
	atomic_init(&ep->pipes_added, 0);
	atomic_init(&ep->pipes, 0);
	atomic_init(&ep->self_pipe, 0);
	ep->probe_fd = -1;
	ep->reclaim_fd = -1;
	if (paths_socket_url(ep->url, sizeof ep->url, run_dir, sock_name) ==
	        NULL ||
	    (size_t)snprintf(ep->path, sizeof ep->path, "%s/%s", run_dir,
	                     sock_name) >= sizeof ep->path) {
		snprintf(err, errlen,
		         "run directory path too long for a "
		         "socket: %s",
		         run_dir);
		return -1;
	}
	bool rep = ops != NULL;
	if (count_unread && (ep->unread = unread_new(b->loop)) == NULL) {
		snprintf(err, errlen, "%s socket: out of memory", name);
		return -1;
	}
	if ((rv = rep ? nng_rep0_open_raw(&ep->sock)
	              : nng_pub0_open(&ep->sock)) != 0 ||
	    (rv = nng_socket_set_size(ep->sock, NNG_OPT_RECVMAXSZ, recv_max)) !=
	        0 ||
	    (rv = nng_socket_set_int(ep->sock, NNG_OPT_SENDBUF,
	                             rep ? 1024 : LIVE_SENDBUF)) != 0 ||
	    (rep && (rv = nng_socket_set_int(ep->sock, NNG_OPT_RECVBUF,
	                                     REQ_RECVBUF)) != 0) ||
	    (rv = nng_pipe_notify(ep->sock, NNG_PIPE_EV_ADD_POST, on_pipe_added,
	                          ep)) != 0 ||
	    (rv = nng_pipe_notify(ep->sock, NNG_PIPE_EV_ADD_PRE, on_pipe_event,
	                          ep)) != 0 ||
	    (rv = nng_pipe_notify(ep->sock, NNG_PIPE_EV_REM_POST, on_pipe_event,
	                          ep)) != 0 ||
	    (rep &&
	     (rv = nng_socket_get_int(ep->sock, NNG_OPT_RECVFD, &rfd)) != 0) ||
	    (rep &&
	     (rv = nng_socket_get_int(ep->sock, NNG_OPT_SENDFD, &sfd)) != 0)) {
		snprintf(err, errlen, "%s socket: %s", name, nng_strerror(rv));
		unread_free(ep->unread);
		ep->unread = NULL;
		return -1;
	}
	ep->open = true;
	if (start_listener(ep, err, errlen) < 0)
		return -1;
	if (rep) {
		ev_io_init(&ep->recv_w, on_recv, rfd, EV_READ);
		ev_io_init(&ep->send_w, on_send, sfd, EV_READ);
		ev_io_start(b->loop, &ep->recv_w);
	}
	return 0;
}

void endpoint_pause(struct endpoint *ep)
{
	if (ep->ops)
		ev_io_stop(ep->b->loop, &ep->recv_w);
}

/*
 * The probe is a plain AF_UNIX connection that speaks the SP handshake
 * itself (8 bytes each way: 0, 'S', 'P', 0, the protocol as u16 big-endian,
 * 0, 0), not an nng socket: closing an nng socket whose pipe is still
 * starting can block nng's reaper for good in 1.5.2 (seen with a thousand
 * clients connecting: every later nng_close, shutdown's included, then
 * hung).  The connection is closed only once the broker's side has
 * answered the handshake, or gave up on it, or the listener is replaced:
 * closing it in the middle of the handshake is exactly what triggers #1518.
 *
 * The verdict.  The broker's side answering is not a sign of life: nng's
 * ipc transport accepts and answers the handshake by itself, dead listener
 * or not (ipc.c sends its header first, then parks the finished pipe until
 * the listener asks for one, which a dead one never does).  It is the
 * start of the measurement: a listener is alive when a pipe reached the
 * socket (NNG_PIPE_EV_ADD_POST, the probe's or anyone's) since the probe
 * began; it missed when none did PROBE_GRACE_S after the probe saw the
 * answer.  Both are measured with ev_time(): ev_now() is the time the loop
 * woke up, which a busy loop leaves far behind.  A probe not answered yet
 * is pending, however late the loop is.  Two misses in a row re-listen.
 */
#define PROBE_GRACE_S   0.3 /* answered, and still no pipe: a miss */
#define PROBE_GIVE_UP_S 30  /* never answered: a miss too */
#define PROBE_MISSES    2   /* in a row, to re-listen */

enum probe_verdict { PROBE_PENDING, PROBE_ALIVE, PROBE_MISS, PROBE_VOID };

/* The probe's own address (abstract, unique in this process): what finds
 * its pipe among the broker's descriptors when nng keeps it (relisten). */
static socklen_t probe_addr(const struct endpoint *ep, uint32_t seq,
                            struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1,
	                 "logbusd.%ld.%s.probe.%u", (long)getpid(), ep->name,
	                 (unsigned)seq);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	                   (size_t)n);
}

static void probe_drop(struct endpoint *ep)
{
	if (ep->probe_fd >= 0) {
		ev_io_stop(ep->b->loop, &ep->probe_io);
		close(ep->probe_fd);
	}
	ep->probe_fd = -1;
}

/* Read what the broker's side sent; returns false once it closed. */
static bool probe_read(struct endpoint *ep)
{
	unsigned char hdr[8];

	while (ep->probe_got < sizeof hdr) {
		ssize_t n = read(ep->probe_fd, hdr, sizeof hdr - ep->probe_got);
		if (n > 0) {
			ep->probe_got += (size_t)n;
			if (ep->probe_got == sizeof hdr)
				ep->probe_answered_at = ev_time();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
	return true;
}

/* Whether the probe connection may be closed without harm: the broker's
 * side answered (or closed), or it waited too long. */
static bool probe_closable(struct endpoint *ep)
{
	return !probe_read(ep) || ep->probe_answered_at > 0 ||
	       ev_time() - ep->probe_at > PROBE_GIVE_UP_S;
}

/* On the live socket every record goes to the probe's pipe until it is
 * closed: close it as soon as the handshake is answered (the verdict needs
 * only the time of the answer). */
static void on_probe_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct endpoint *ep =
	    (struct endpoint *)((char *)w -
	                        offsetof(struct endpoint, probe_io));
	(void)loop;
	(void)revents;
	if (probe_closable(ep))
		probe_drop(ep);
}

static enum probe_verdict probe_judge(struct endpoint *ep)
{
	bool open = ep->probe_fd < 0 || probe_read(ep);

	if (atomic_load(&ep->pipes_added) != ep->probe_base)
		return PROBE_ALIVE;
	if (ep->probe_answered_at > 0)
		return ev_time() - ep->probe_answered_at < PROBE_GRACE_S
		           ? PROBE_PENDING
		           : PROBE_MISS;
	if (!open) /* closed unanswered: the transport gave up, no sign */
		return PROBE_VOID;
	return ev_time() - ep->probe_at > PROBE_GIVE_UP_S ? PROBE_MISS
	                                                  : PROBE_PENDING;
}

static void relisten(struct endpoint *ep);
static void reclaim(struct endpoint *ep);

/* Act on the probe's verdict, if it has one; returns whether it had. */
static bool probe_settle(struct endpoint *ep)
{
	enum probe_verdict v = probe_judge(ep);

	if (v == PROBE_PENDING)
		return false;
	ep->probing = false;
	if (v == PROBE_ALIVE) {
		ep->probe_misses = 0;
		ep->npinned = 0;
	} else if (v == PROBE_MISS) {
		if (ep->npinned == 0)
			ep->pinned_base = ep->probe_base;
		/* Answered: the probe's half was written at connect and stays
		 * readable after a close, so the pipe finishes its handshake,
		 * and a dead listener keeps it for good. */
		if (ep->probe_answered_at > 0 && ep->npinned < PROBE_MISSES)
			ep->pinned[ep->npinned++] = ep->probe_seq;
		probe_drop(ep);
		if (++ep->probe_misses >= PROBE_MISSES)
			relisten(ep);
		return true;
	}
	if (ep->probe_fd >= 0 && probe_closable(ep))
		probe_drop(ep);
	return true;
}

void endpoint_probe_start(struct endpoint *ep)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX}, self;
	/* A peer the socket's protocol accepts: req0 for rep0, sub0 for pub0.
	 */
	unsigned char hdr[8] = {0, 'S', 'P', 0, 0, ep->ops ? 0x30 : 0x21, 0, 0};

	if (ep->nreclaim > 0 && ev_time() >= ep->reclaim_at)
		reclaim(ep);
	if (ep->unread)
		unread_sweep(ep->unread);
	if (!ep->open || (ep->probing && !probe_settle(ep)))
		return;
	if (!ep->listening) { /* the last re-listen failed */
		char err[256];
		if (start_listener(ep, err, sizeof err) == 0)
			broker_log(ep->b, LOGBUS_INFO,
			           "%s: listening on %s again", ep->name,
			           ep->path);
		return;
	}
	if (ep->probe_fd >= 0) { /* last probe's connection still open */
		if (!probe_closable(ep))
			return;
		probe_drop(ep);
	}
	size_t len = strlen(ep->path);
	if (len >= sizeof sa.sun_path) /* nng could not listen there either */
		return;
	memcpy(sa.sun_path, ep->path, len + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	uint32_t seq = ++ep->probe_seq;
	ep->probe_base = atomic_load(&ep->pipes_added);
	if (bind(fd, (struct sockaddr *)&self, probe_addr(ep, seq, &self)) <
	        0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr) {
		/* EAGAIN: the backlog is full, the listener is busy, not dead;
		 * anything else is for the next probe to find. */
		close(fd);
		return;
	}
	ep->probe_fd = fd;
	ep->probe_got = 0;
	ep->probe_at = ev_time();
	ep->probe_answered_at = 0;
	ep->probing = true;
	ev_io_init(&ep->probe_io, on_probe_io, fd, EV_READ);
	ev_io_start(ep->b->loop, &ep->probe_io);
}

/* A first miss is confirmed at once by a second probe, which the next
 * round judges: a dead listener is replaced a probe interval after it was
 * first found dead, not two. */
void endpoint_probe_check(struct endpoint *ep)
{
	if (ep->probing && probe_settle(ep) && ep->probe_misses > 0)
		endpoint_probe_start(ep);
}

/*
 * What a re-listen leaves behind in nng 1.5.2.  Closing a listener closes
 * its pipes, but a pipe that finished its handshake with a dead listener is
 * never freed (it waits for an accept that never comes), and while one
 * waits the listener itself is never freed either: its listening
 * descriptor stays open.  Each re-listen left two descriptors (the old
 * listening socket and the probe's pipe) and a storm of connect+close ran
 * the broker out of files.  nng will not touch those descriptors again, so
 * the broker closes them itself, and only those it knows are pinned: the
 * pipes of the missed probes that were answered, found by their peer's
 * address, and the listening socket that was the only one on the path
 * before the re-listen (by device and inode).  It does so RECLAIM_S after
 * the re-listen: a pipe nng was still negotiating when the listener closed
 * is freed by nng's reaper meanwhile, and is then no longer there to be
 * found; one still there is pinned, and so is its listener.  A client's own
 * pipe stuck the same way is not recognisable and stays, one descriptor per
 * such client.
 */
#define RECLAIM_S 1.0

/* The listening socket bound to path: its descriptor (and in *where its
 * device and inode), or -1 when there is not exactly one. */
static int find_listening(const char *path, struct stat *where)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = -1, n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		struct sockaddr_un sa;
		socklen_t sl = sizeof sa;
		struct stat st;
		int fd = atoi(de->d_name), on = 0;
		socklen_t ol = sizeof on;

		if (de->d_name[0] == '.' || fd == dirfd(d) ||
		    fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) < 0 ||
		    !on || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 ||
		    sl <= offsetof(struct sockaddr_un, sun_path) ||
		    strncmp(sa.sun_path, path, sizeof sa.sun_path) != 0)
			continue;
		found = fd;
		*where = st;
		n++;
	}
	closedir(d);
	return n == 1 ? found : -1;
}

/* Close the broker's ends of the pinned probes' pipes; returns how many. */
static int close_pinned_pipes(const struct endpoint *ep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int closed = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		struct sockaddr_un peer, want;
		socklen_t pl = sizeof peer;
		struct stat st;
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d) ||
		    fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
		    getpeername(fd, (struct sockaddr *)&peer, &pl) < 0)
			continue;
		for (unsigned i = 0; i < ep->nreclaim; i++) {
			socklen_t wl = probe_addr(ep, ep->reclaim[i], &want);
			if (pl == wl && memcmp(&peer, &want, wl) == 0) {
				close(fd);
				closed++;
				break;
			}
		}
	}
	closedir(d);
	return closed;
}

/* Close what the last re-listen left pinned in nng (see above). */
static void reclaim(struct endpoint *ep)
{
	struct stat st;

	if (close_pinned_pipes(ep) > 0 && ep->reclaim_fd >= 0 &&
	    fstat(ep->reclaim_fd, &st) == 0 && st.st_dev == ep->reclaim_dev &&
	    st.st_ino == ep->reclaim_ino)
		close(ep->reclaim_fd);
	ep->nreclaim = 0;
	ep->reclaim_fd = -1;
}

/*
 * What nng refused on a listener: its statistics "proto" and "timeout"
 * (core/listener.c).  nng's snapshot holds every pipe's statistics too, so
 * it is taken once for all the endpoints asked about.  The listener's
 * scope is found by its "id" child: nng 1.5.2's nng_stat_find_listener
 * returns the first listener of any socket (its search recurses through
 * nng_stat_find, by name only).
 */
static nng_stat *find_listener(nng_stat *st, int id)
{
	if (nng_stat_type(st) != NNG_STAT_SCOPE)
		return NULL;
	if (strcmp(nng_stat_name(st), "listener") == 0) {
		nng_stat *i = nng_stat_find(st, "id");
		return i && nng_stat_value(i) == (uint64_t)id ? st : NULL;
	}
	for (nng_stat *c = nng_stat_child(st); c; c = nng_stat_next(c)) {
		nng_stat *l = find_listener(c, id);
		if (l)
			return l;
	}
	return NULL;
}

static void listener_counts(nng_stat *root, nng_listener l, uint64_t *proto,
                            uint64_t *timeouts)
{
	nng_stat *ls = root ? find_listener(root, nng_listener_id(l)) : NULL;
	nng_stat *p = ls ? nng_stat_find(ls, "proto") : NULL;
	nng_stat *t = ls ? nng_stat_find(ls, "timeout") : NULL;

	*proto = p ? nng_stat_value(p) : 0;
	*timeouts = t ? nng_stat_value(t) : 0;
}

void endpoint_refusals(struct endpoint *const *eps, size_t n,
                       struct endpoint_refusals *out)
{
	nng_stat *root = NULL;

	if (nng_stats_get(&root) != 0)
		root = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct endpoint *ep = eps[i];
		uint64_t proto = 0, timeouts = 0;
		if (ep->listening)
			listener_counts(root, ep->listener, &proto, &timeouts);
		out[i].bad_requests = ep->bad_requests;
		out[i].bad_frames = ep->bad_frames_before + proto;
		out[i].handshake_timeouts = ep->timeouts_before + timeouts;
	}
	if (root)
		nng_stats_free(root);
}

/* The listener is dead (bug #1518): close it and listen again on the same
 * path (the verified recipe); what nng keeps of it is closed later. */
static void relisten(struct endpoint *ep)
{
	char err[256];
	struct endpoint_refusals was;
	struct endpoint *self = ep;

	/* its counts go with it: kept */
	endpoint_refusals(&self, 1, &was);
	ep->bad_frames_before = was.bad_frames;
	ep->timeouts_before = was.handshake_timeouts;

	if (ep->nreclaim > 0) /* the last one's, early rather than never */
		reclaim(ep);
	/* No pipe at all reached the socket since the first pinned probe
	 * began: none of the pinned pipes can be the socket's. */
	if (ep->npinned > 0 &&
	    atomic_load(&ep->pipes_added) == ep->pinned_base) {
		struct stat st = {0};
		ep->nreclaim = ep->npinned;
		memcpy(ep->reclaim, ep->pinned, sizeof ep->reclaim);
		ep->reclaim_fd = find_listening(ep->path, &st);
		ep->reclaim_dev = st.st_dev;
		ep->reclaim_ino = st.st_ino;
		ep->reclaim_at = ev_time() + RECLAIM_S;
	}
	broker_log(ep->b, LOGBUS_WARNING,
	           "%s: listener on %s stopped accepting (nng bug "
	           "#1518); listening again",
	           ep->name, ep->path);
	nng_listener_close(ep->listener);
	if (start_listener(ep, err, sizeof err) < 0)
		broker_log(ep->b, LOGBUS_WARNING, "%s: %s (will retry)",
		           ep->name, err);
	ep->npinned = 0;
	ep->probe_misses = 0;
	ep->relistens++;
}

void endpoint_close(struct endpoint *ep)
{
	if (!ep->open)
		return;
	if (ep->ops) {
		ev_io_stop(ep->b->loop, &ep->recv_w);
		ev_io_stop(ep->b->loop, &ep->send_w);
	}
	probe_drop(ep);
	ep->probing = false;
	for (size_t i = 0; i < ep->nparked; i++)
		nng_msg_free(ep->parked[i]);
	free(ep->parked);
	ep->parked = NULL;
	ep->nparked = ep->parked_cap = 0;
	nng_close(ep->sock);
	unread_free(ep->unread); /* after nng_close: no more pipe events */
	ep->unread = NULL;
	unlink(ep->path);
	ep->open = false;
}
