/*
 * reqconn.c: a req0 connection that keeps working across broker restarts
 * and nng bug #1518 (reqconn.h says why it is built this way).
 */
#include "reqconn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/protocol/reqrep0/req.h>

#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"

#define SLICE_MS  100  /* how often a waiting call looks around */
#define RESEND_MS 5000 /* req0 resends an unanswered request this often */
#define DRAIN_MS  2000 /* close waits this long for a pending reply */

static int dial(struct reqconn *c, char *err, size_t errlen)
{
	int rv;

	c->pending = false;
	c->tok = 0;
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		snprintf(err, errlen, "cannot open a socket: %s",
		         nng_strerror(rv));
		return LOGBUS_ESYS;
	}
	if ((rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	                              c->recv_max)) ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	                            RESEND_MS)) ||
	    (rv = nng_socket_get_int(c->sock, NNG_OPT_RECVFD, &c->recvfd)) ||
	    (rv = nng_socket_get_int(c->sock, NNG_OPT_SENDFD, &c->sendfd)) ||
	    (rv = redial_start(&c->rd, c->sock, c->url))) {
		snprintf(err, errlen, "cannot set up a connection to %s: %s",
		         c->path, nng_strerror(rv));
		nng_close(c->sock); /* nothing in flight yet */
		free(c->rd.pipes);
		c->rd.pipes = NULL;
		return LOGBUS_ESYS;
	}
	return 0;
}

int reqconn_open(struct reqconn *c, const char *run_dir, const char *sock,
                 size_t recv_max, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	if (paths_socket_url(c->url, sizeof c->url, run_dir, sock) == NULL ||
	    (size_t)snprintf(c->path, sizeof c->path, "%s/%s", run_dir, sock) >=
	        sizeof c->path) {
		snprintf(err, errlen, "run directory path too long: %s",
		         run_dir);
		return LOGBUS_EINVAL;
	}
	c->recv_max = recv_max;
	return dial(c, err, errlen);
}

int reqconn_reopen(struct reqconn *c, char *err, size_t errlen)
{
	reqconn_close(c);
	memset(&c->rd, 0, sizeof c->rd);
	return dial(c, err, errlen);
}

void reqconn_take_tok(struct reqconn *c, const msgpack_object *reply)
{
	uint64_t tok;

	if (mp_get_u64(reply, REPLY_TOK, &tok))
		c->tok = tok;
}

void reqconn_take_tok_msg(struct reqconn *c, nng_msg *reply)
{
	uint64_t tok;

	if (mp_body_get_u64(nng_msg_body(reply), nng_msg_len(reply), REPLY_TOK,
	                    &tok))
		c->tok = tok;
}

/*
 * nng 1.5.2 can block nng_close for good when the reply to an outstanding
 * request arrives while the socket closes (seen with gdb: the reaper waits
 * on the pipe's receive; fixed upstream after 1.5.2).  So a request left
 * pending, typically a long poll the broker holds for up to a second, is
 * answered and taken before the close; a broker that never answers costs
 * DRAIN_MS, one that is gone (no connection: no reply can come) nothing.
 * Should the close block all the same, redial_close gives up on it.
 */
void reqconn_close(struct reqconn *c)
{
	int64_t deadline = redial_now_ms() + DRAIN_MS;

	while (c->pending && reqconn_connected(c) &&
	       redial_now_ms() < deadline) {
		struct pollfd pfd = {.fd = c->recvfd, .events = POLLIN};
		nng_msg *m;
		if (poll(&pfd, 1, SLICE_MS) > 0 &&
		    nng_recvmsg(c->sock, &m, NNG_FLAG_NONBLOCK) == 0) {
			nng_msg_free(m);
			c->pending = false;
		}
	}
	redial_close(&c->rd);
}

bool reqconn_connected(struct reqconn *c)
{
	return redial_connected(&c->rd);
}

/* "root:adm" */
static const char *owner_text(const struct stat *st, char *out, size_t len)
{
	struct passwd pw, *pr = NULL;
	struct group gr, *gres = NULL;
	char pbuf[1024], gbuf[4096], u[32], g[32];

	if (getpwuid_r(st->st_uid, &pw, pbuf, sizeof pbuf, &pr) != 0 || !pr)
		snprintf(u, sizeof u, "%u", (unsigned)st->st_uid);
	if (getgrgid_r(st->st_gid, &gr, gbuf, sizeof gbuf, &gres) != 0 || !gres)
		snprintf(g, sizeof g, "%u", (unsigned)st->st_gid);
	snprintf(out, len, "%s:%s", pr ? pw.pw_name : u, gres ? gr.gr_name : g);
	return out;
}

/* The first directory of path's parents, from the top, that this process
 * may not enter: "permission denied: ..." in err, true; else false. */
static bool dir_denied(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX], who[96];
	struct stat st;

	snprintf(dir, sizeof dir, "%s", path);
	for (char *p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		bool denied = faccessat(AT_FDCWD, dir, X_OK, AT_EACCESS) < 0 &&
		              errno == EACCES;
		if (denied && stat(dir, &st) == 0) {
			snprintf(
			    err, errlen,
			    "cannot reach logbusd at %s (permission "
			    "denied: this user may not enter %s, mode "
			    "%04o, owner %s): run as a user it lets in, or "
			    "use another run directory",
			    path, dir, (unsigned)(st.st_mode & 07777),
			    owner_text(&st, who, sizeof who));
			return true;
		}
		if (denied) {
			snprintf(err, errlen,
			         "cannot reach logbusd at %s (permission "
			         "denied: this user may not enter %s)",
			         path, dir);
			return true;
		}
		*p = '/';
	}
	return false;
}

/* reqconn_absent for a socket path (no nng call: spconn uses it too). */
static bool absent_path(const char *path, char *err, size_t errlen)
{
	struct stat st;
	char who[96];

	if (stat(path, &st) < 0) {
		if (errno == EACCES && dir_denied(path, err, errlen))
			return true;
		snprintf(err, errlen,
		         "cannot reach logbusd at %s (%s): is logbusd "
		         "running?",
		         path,
		         errno == ENOENT ? "no socket file" : strerror(errno));
		return true;
	}
	/* connect(2) to a Unix socket needs write permission on it */
	if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) < 0 &&
	    errno == EACCES) {
		snprintf(err, errlen,
		         "cannot reach logbusd at %s (permission denied: the "
		         "socket is mode %04o, owner %s): run as a user its "
		         "mode lets in, or change the mode ([sockets] in "
		         "logbusd.conf)",
		         path, (unsigned)(st.st_mode & 07777),
		         owner_text(&st, who, sizeof who));
		return true;
	}
	return false;
}

bool reqconn_absent(struct reqconn *c, char *err, size_t errlen)
{
	return absent_path(c->path, err, errlen);
}

void reqconn_unreachable_path(const char *path, char *err, size_t errlen)
{
	if (!absent_path(path, err, errlen))
		snprintf(err, errlen,
		         "cannot reach logbusd at %s (no answer): is logbusd "
		         "running?",
		         path);
}

void reqconn_unreachable(struct reqconn *c, char *err, size_t errlen)
{
	reqconn_unreachable_path(c->path, err, errlen);
}

static bool stopped(const atomic_bool *stop)
{
	return stop != NULL && atomic_load(stop);
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? INT64_MAX : redial_now_ms() + timeout_ms;
}

nng_msg *reqconn_msg(const void *body, size_t len)
{
	nng_msg *msg;

	if (nng_msg_alloc(&msg, len) != 0)
		return NULL;
	memcpy(nng_msg_body(msg), body, len);
	return msg;
}

int reqconn_send(struct reqconn *c, const void *body, size_t len,
                 int timeout_ms, const atomic_bool *stop, char *err,
                 size_t errlen)
{
	nng_msg *msg = reqconn_msg(body, len);

	if (msg == NULL) {
		snprintf(err, errlen, "out of memory");
		return LOGBUS_ENOMEM;
	}
	return reqconn_send_msg(c, msg, timeout_ms, stop, err, errlen);
}

int reqconn_send_msg(struct reqconn *c, nng_msg *msg, int timeout_ms,
                     const atomic_bool *stop, char *err, size_t errlen)
{
	int64_t deadline = deadline_of(timeout_ms);
	int rv;

	if (c->fail_fast && !reqconn_connected(c) &&
	    reqconn_absent(c, err, errlen)) {
		nng_msg_free(msg);
		return LOGBUS_EUNREACHABLE;
	}
	/* Waits for a pipe by polling SENDFD, SLICE_MS at a time, and never
	 * in nng: a send with NNG_OPT_SENDTIMEO blocked for good in nng
	 * 1.5.2 (gdb: its aio never expired, while the broker, stopping, had
	 * removed its sockets; test_shutdown's bench_call). */
	for (;;) {
		rv = nng_sendmsg(c->sock, msg, NNG_FLAG_NONBLOCK);
		if (rv == 0) {
			c->pending = true;
			return 0;
		}
		if (rv == NNG_EAGAIN) {
			struct pollfd pfd = {.fd = c->sendfd, .events = POLLIN};
			(void)poll(&pfd, 1, SLICE_MS);
		}
		redial_watch(&c->rd);
		if (rv != NNG_ETIMEDOUT && rv != NNG_EAGAIN) {
			nng_msg_free(msg);
			snprintf(err, errlen, "send to %s failed: %s", c->path,
			         nng_strerror(rv));
			return LOGBUS_ESYS;
		}
		if (stopped(stop) || redial_now_ms() >= deadline) {
			nng_msg_free(msg);
			if (stopped(stop)) {
				snprintf(err, errlen, "closing");
				return LOGBUS_ECLOSED;
			}
			reqconn_unreachable(c, err, errlen);
			return LOGBUS_EUNREACHABLE;
		}
	}
}

/* Polls RECVFD, so that giving up does not cancel anything nng would
 * otherwise finish (the next send replaces the request). */
int reqconn_wait(struct reqconn *c, nng_msg **reply, int timeout_ms,
                 const atomic_bool *stop, char *err, size_t errlen)
{
	int64_t deadline = deadline_of(timeout_ms);
	int rv;

	for (;;) {
		struct pollfd pfd = {.fd = c->recvfd, .events = POLLIN};
		int64_t left = deadline - redial_now_ms();
		int wait =
		    left < SLICE_MS ? (int)(left > 0 ? left : 0) : SLICE_MS;
		int n = poll(&pfd, 1, wait);
		if (n > 0) {
			rv = nng_recvmsg(c->sock, reply, NNG_FLAG_NONBLOCK);
			if (rv == 0) {
				c->pending = false;
				return 0;
			}
			if (rv != NNG_EAGAIN) {
				snprintf(err, errlen,
				         "receive from %s failed: "
				         "%s",
				         c->path, nng_strerror(rv));
				return LOGBUS_ESYS;
			}
		} else if (n < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return LOGBUS_ESYS;
		}
		redial_watch(&c->rd);
		if (stopped(stop)) {
			snprintf(err, errlen, "closing");
			return LOGBUS_ECLOSED;
		}
		if (redial_now_ms() >= deadline) {
			if (!reqconn_connected(c)) {
				reqconn_unreachable(c, err, errlen);
				return LOGBUS_EUNREACHABLE;
			}
			snprintf(err, errlen,
			         "logbusd at %s did not answer in "
			         "time",
			         c->path);
			return LOGBUS_ETIMEDOUT;
		}
	}
}

int reqconn_call(struct reqconn *c, const void *body, size_t len,
                 nng_msg **reply, int timeout_ms, const atomic_bool *stop,
                 char *err, size_t errlen)
{
	int64_t deadline = deadline_of(timeout_ms);
	int rv = reqconn_send(c, body, len, timeout_ms, stop, err, errlen);
	if (rv != 0)
		return rv;
	int64_t left = deadline - redial_now_ms();
	return reqconn_wait(c, reply,
	                    timeout_ms < 0 ? -1 : (int)(left > 0 ? left : 0),
	                    stop, err, errlen);
}
