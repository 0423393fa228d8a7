/*
 * spconn.c: req0 over a Unix socket without nng, for a child of fork()
 * (spconn.h has the wire format and the rules).
 *
 * Written from nng's description of its IPC transport and req0 protocol;
 * the socket is non-blocking and every step waits in poll(2) for at most
 * SLICE_MS, so that a stop flag is seen and no deadline is passed.
 */
#include "spconn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "logbus/logbus.h"
#include "reqconn.h" /* reqconn_unreachable_path: no nng call */
#include "timefmt.h"

#define SLICE_MS     100
#define HANDSHAKE_MS 5000  /* the broker's half of the handshake */
#define STALL_MS     10000 /* a write that makes no progress this long */
#define BACKOFF_MIN  50    /* between connect attempts, doubling */
#define BACKOFF_MAX  500
#define PROTO_REQ0   0x30
#define PROTO_REP0   0x31
#define MSG_TYPE     1
#define ID_BIT       0x80000000u

static int64_t now_ms(void)
{
	return timefmt_mono_ns() / 1000000;
}

static bool stopped(const atomic_bool *stop)
{
	return stop != NULL && atomic_load(stop);
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
}

/* Milliseconds to wait in one poll before looking around again. */
static int slice(int64_t deadline)
{
	int64_t left = deadline - now_ms();
	return left < SLICE_MS ? (int)(left > 0 ? left : 0) : SLICE_MS;
}

static void put_be64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void put_be32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (24 - 8 * i));
}

static uint32_t get_be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

int spconn_init(struct spconn *c, const char *path, size_t recv_max, char *err,
                size_t errlen)
{
	struct sockaddr_un sa;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	atomic_init(&c->up, false);
	if (strlen(path) >= sizeof sa.sun_path ||
	    strlen(path) >= sizeof c->path) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return LOGBUS_EINVAL;
	}
	memcpy(c->path, path, strlen(path) + 1);
	c->recv_max = recv_max;
	c->next_id = (uint32_t)timefmt_mono_ns();
	c->backoff_ms = BACKOFF_MIN;
	return 0;
}

void spconn_disconnect(struct spconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	atomic_store(&c->up, false);
	c->want_id = 0;
	c->got_head = c->rx_got = 0;
}

void spconn_fini(struct spconn *c)
{
	spconn_disconnect(c);
	free(c->rx);
	c->rx = NULL;
}

bool spconn_connected(struct spconn *c)
{
	return atomic_load(&c->up);
}

void spconn_unreachable(struct spconn *c, char *err, size_t errlen)
{
	reqconn_unreachable_path(c->path, err, errlen);
}

/* Write all of iov (advancing it) by deadline.  0, or -1 with errno
 * (ETIMEDOUT, ECANCELED for stop). */
static int write_all(struct spconn *c, struct iovec *iov, int niov,
                     int64_t deadline, const atomic_bool *stop)
{
	int64_t progress_at = now_ms();

	while (niov > 0) {
		if (iov->iov_len == 0) {
			iov++;
			niov--;
			continue;
		}
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)niov};
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n > 0) {
			progress_at = now_ms();
			for (size_t left = (size_t)n; left > 0;) {
				size_t k =
				    left < iov->iov_len ? left : iov->iov_len;
				iov->iov_base = (char *)iov->iov_base + k;
				iov->iov_len -= k;
				left -= k;
				if (iov->iov_len == 0) {
					iov++;
					niov--;
				}
			}
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (stopped(stop)) {
			errno = ECANCELED;
			return -1;
		}
		if (now_ms() >= deadline ||
		    now_ms() - progress_at >= STALL_MS) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		poll(&pfd, 1, slice(deadline));
	}
	return 0;
}

/* Read exactly len bytes for the handshake by deadline: 0 or -1. */
static int read_all(struct spconn *c, unsigned char *b, size_t len,
                    int64_t deadline, const atomic_bool *stop)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(c->fd, b + got, len - got, 0);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (stopped(stop)) {
			errno = ECANCELED;
			return -1;
		}
		if (now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		poll(&pfd, 1, slice(deadline));
	}
	return 0;
}

/* One attempt to connect and shake hands.  0, or an error with err. */
static int connect_once(struct spconn *c, const atomic_bool *stop, char *err,
                        size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	unsigned char hs[8] = {0, 'S', 'P', 0, 0, PROTO_REQ0, 0, 0};
	unsigned char peer[8];

	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		snprintf(err, errlen, "cannot make a socket for %s: %s",
		         c->path, strerror(errno));
		return LOGBUS_ESYS;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		/* ENOENT, ECONNREFUSED (a stale file), EAGAIN (the
		 * broker's backlog is full), EACCES: try again later */
		int e = errno;
		spconn_disconnect(c);
		snprintf(err, errlen,
		         "cannot reach logbusd at %s (%s): is logbusd "
		         "running?",
		         c->path, strerror(e));
		return LOGBUS_EUNREACHABLE;
	}
	/* The broker's half is bounded on its own: giving up during the
	 * handshake is what stops an nng 1.5.2 listener (bug #1518). */
	int64_t deadline = now_ms() + HANDSHAKE_MS;
	struct iovec iov = {hs, sizeof hs};
	if (write_all(c, &iov, 1, deadline, stop) < 0 ||
	    read_all(c, peer, sizeof peer, deadline, stop) < 0) {
		int e = errno;
		spconn_disconnect(c);
		if (e == ECANCELED) {
			snprintf(err, errlen, "closing");
			return LOGBUS_ECLOSED;
		}
		snprintf(err, errlen,
		         "no handshake from logbusd at %s (%s): is "
		         "logbusd running?",
		         c->path, strerror(e));
		return LOGBUS_EUNREACHABLE;
	}
	if (peer[0] != 0 || peer[1] != 'S' || peer[2] != 'P' || peer[3] != 0 ||
	    peer[4] != 0 || peer[5] != PROTO_REP0 || peer[6] != 0 ||
	    peer[7] != 0) {
		spconn_disconnect(c);
		snprintf(err, errlen,
		         "%s does not speak logbusd's request/reply protocol "
		         "(a wrong --run-dir?)",
		         c->path);
		return LOGBUS_EPROTO;
	}
	c->tok = 0;
	atomic_store(&c->up, true);
	return 0;
}

/* Connect by deadline, pausing between attempts. */
static int ensure_connected(struct spconn *c, int64_t deadline,
                            const atomic_bool *stop, char *err, size_t errlen)
{
	int rv = LOGBUS_EUNREACHABLE;

	while (c->fd < 0) {
		if (stopped(stop)) {
			snprintf(err, errlen, "closing");
			return LOGBUS_ECLOSED;
		}
		if (now_ms() >= c->next_try_ms) {
			/* Also after a success: a broker that closes
			 * every connection at once is not hammered.  A
			 * reply resets the pause. */
			rv = connect_once(c, stop, err, errlen);
			c->next_try_ms = now_ms() + c->backoff_ms;
			c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX
			                    ? BACKOFF_MAX
			                    : c->backoff_ms * 2;
			if (rv == 0 || rv == LOGBUS_ECLOSED)
				return rv;
		}
		if (now_ms() >= deadline)
			return rv;
		int64_t until =
		    c->next_try_ms < deadline ? c->next_try_ms : deadline;
		int ms = slice(until);
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

int spconn_send(struct spconn *c, const void *body, size_t len, int timeout_ms,
                const atomic_bool *stop, char *err, size_t errlen)
{
	int64_t deadline = deadline_of(timeout_ms);
	unsigned char head[13];
	int rv;

	for (;;) {
		if ((rv = ensure_connected(c, deadline, stop, err, errlen)) !=
		    0)
			return rv;
		uint32_t id = ID_BIT | (c->next_id++ & ~ID_BIT);
		head[0] = MSG_TYPE;
		put_be64(head + 1, (uint64_t)len + 4);
		put_be32(head + 9, id);
		struct iovec iov[2] = {{head, sizeof head},
		                       {(void *)body, len}};
		/* A write cut short leaves the stream unusable: only a whole
		 * request, or a new connection. */
		if (write_all(c, iov, 2, INT64_MAX, stop) == 0) {
			c->want_id = id;
			return 0;
		}
		int e = errno;
		spconn_disconnect(c);
		if (e == ECANCELED) {
			snprintf(err, errlen, "closing");
			return LOGBUS_ECLOSED;
		}
		snprintf(err, errlen, "send to logbusd at %s failed: %s",
		         c->path, strerror(e));
		if (now_ms() >= deadline)
			return LOGBUS_EUNREACHABLE;
	}
}

/* Read what is there of the reply being read.  1: a whole message in rx;
 * 0: not yet; < 0: the connection failed (closed, with err). */
static int read_some(struct spconn *c, char *err, size_t errlen)
{
	for (;;) {
		unsigned char *dst;
		size_t want;
		if (c->got_head < sizeof c->head) {
			dst = c->head + c->got_head;
			want = sizeof c->head - c->got_head;
		} else {
			dst = c->rx + c->rx_got;
			want = c->rx_len - c->rx_got;
		}
		ssize_t n = recv(c->fd, dst, want, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			snprintf(err, errlen,
			         "logbusd at %s closed the connection%s%s",
			         c->path, n < 0 ? ": " : "",
			         n < 0 ? strerror(errno) : "");
			spconn_disconnect(c);
			return LOGBUS_EUNREACHABLE;
		}
		if (c->got_head < sizeof c->head) {
			c->got_head += (size_t)n;
			if (c->got_head < sizeof c->head)
				continue;
			uint64_t mlen = get_be64(c->head + 1);
			if (c->head[0] != MSG_TYPE || mlen < 4 ||
			    mlen > c->recv_max + 4) {
				snprintf(err, errlen,
				         "logbusd at %s sent a message this "
				         "library cannot read",
				         c->path);
				spconn_disconnect(c);
				return LOGBUS_EPROTO;
			}
			if (mlen > c->rx_cap) {
				unsigned char *r = realloc(c->rx, mlen);
				if (r == NULL) {
					snprintf(err, errlen, "out of memory");
					spconn_disconnect(c);
					return LOGBUS_ENOMEM;
				}
				c->rx = r;
				c->rx_cap = mlen;
			}
			c->rx_len = mlen;
			c->rx_got = 0;
		} else {
			c->rx_got += (size_t)n;
		}
		if (c->got_head == sizeof c->head && c->rx_got == c->rx_len) {
			c->got_head = c->rx_got = 0;
			return 1;
		}
	}
}

int spconn_wait(struct spconn *c, const void **body, size_t *len,
                int timeout_ms, const atomic_bool *stop, char *err,
                size_t errlen)
{
	int64_t deadline = deadline_of(timeout_ms);

	if (c->fd < 0 || c->want_id == 0) {
		snprintf(err, errlen,
		         "the connection to logbusd at %s was lost", c->path);
		return LOGBUS_EUNREACHABLE;
	}
	for (;;) {
		int rv = read_some(c, err, errlen);
		if (rv < 0)
			return rv;
		if (rv == 1) {
			if (get_be32(c->rx) != c->want_id)
				continue; /* a reply given up on */
			c->want_id = 0;
			c->backoff_ms = BACKOFF_MIN;
			*body = c->rx + 4;
			*len = c->rx_len - 4;
			return 0;
		}
		if (stopped(stop)) {
			snprintf(err, errlen, "closing");
			return LOGBUS_ECLOSED;
		}
		if (now_ms() >= deadline) {
			snprintf(err, errlen,
			         "logbusd at %s did not answer in time",
			         c->path);
			return LOGBUS_ETIMEDOUT;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		poll(&pfd, 1, slice(deadline));
	}
}
