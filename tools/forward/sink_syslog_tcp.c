/*
 * sink_syslog_tcp.c: records as RFC 5424 messages over plain TCP with
 * octet-counting framing (RFC 6587 3.4.1: "LEN SP MSG"), which rsyslog's
 * imtcp reads.
 *
 * There is no acknowledgement in this protocol: a batch counts as
 * delivered once the kernel took all of it (write(2) returned), and what
 * a receiver that dies then had not read is lost.  To narrow that, the
 * connection is checked before each batch (a peer that closed is seen and
 * the connection made again, so the batch is not written into a dead
 * socket).  Use RELP where loss is not acceptable.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "forward.h"

struct sink {
	const struct fwd_output_config *cfg;
	int fd;
	struct strbuf frames, msg;
};

static struct sink *tcp_open(const struct fwd_output_config *oc)
{
	struct sink *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->cfg = oc;
	s->fd = -1;
	return s;
}

static void tcp_add(struct sink *s, const logbus_record *r)
{
	sb_reset(&s->msg);
	syslog_format(&s->msg, r, s->cfg->hostname, s->cfg->facility);
	sb_printf(&s->frames, "%zu ", s->msg.len);
	sb_put(&s->frames, s->msg.p, s->msg.len);
	if (s->msg.failed)
		s->frames.failed = true;
}

static size_t tcp_size(struct sink *s)
{
	return s->frames.len;
}

static void disconnect(struct sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Whether the connection is still open: the peer sends nothing, so
 * readable means it closed (or reset). */
static bool still_open(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	if (poll(&p, 1, 0) <= 0)
		return true;
	return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}

static int connect_to(struct sink *s, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc = getaddrinfo(s->cfg->host, s->cfg->port, &hints, &res);
	int e = 0;
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s (%s)", s->cfg->host,
		         gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		s->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		               ai->ai_protocol);
		if (s->fd >= 0 &&
		    connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		disconnect(s);
	}
	freeaddrinfo(res);
	if (s->fd < 0) {
		snprintf(err, errlen,
		         "cannot connect to %s port %s (%s): is the syslog "
		         "server listening there?",
		         s->cfg->host, s->cfg->port, strerror(e));
		return -1;
	}
	struct timeval tv = {.tv_sec = s->cfg->timeout_ms / 1000,
	                     .tv_usec = s->cfg->timeout_ms % 1000 * 1000};
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return 0;
}

static enum sink_result tcp_send(struct sink *s, char *err, size_t errlen)
{
	size_t off = 0;
	if (s->frames.failed) {
		snprintf(err, errlen, "out of memory for a batch");
		return SINK_RETRY;
	}
	if (s->fd >= 0 && !still_open(s->fd))
		disconnect(s);
	if (s->fd < 0 && connect_to(s, err, errlen) < 0)
		return SINK_RETRY;
	while (off < s->frames.len) {
		ssize_t w = send(s->fd, s->frames.p + off, s->frames.len - off,
		                 MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "cannot send to %s port %s (%s)",
			         s->cfg->host, s->cfg->port,
			         w < 0 ? strerror(errno) : "nothing written");
			disconnect(s);
			return SINK_RETRY;
		}
		off += (size_t)w;
	}
	return SINK_OK;
}

static void tcp_clear(struct sink *s)
{
	sb_reset(&s->frames);
}

static void tcp_close(struct sink *s)
{
	disconnect(s);
	sb_free(&s->frames);
	sb_free(&s->msg);
	free(s);
}

const struct sink_ops sink_syslog_tcp = {
    .open = tcp_open,
    .add = tcp_add,
    .size = tcp_size,
    .send = tcp_send,
    .clear = tcp_clear,
    .close = tcp_close,
};
