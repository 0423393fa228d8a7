/*
 * raw_request.c: hand-built requests on a raw req0 socket (raw_request.h).
 *
 * Each call dials a socket of its own and closes it after the reply, so a
 * test can send anything without disturbing the library's clients, and a
 * refusal is seen exactly as the broker sent it.
 */
#include "raw_request.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/protocol/reqrep0/req.h>

#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"

/* Larger than any reply a test asks for. */
#define RAW_REPLY_MAX (8 << 20)

void raw_call(const char *url, const void *body, size_t len,
              struct raw_reply *rep)
{
	nng_socket s;
	size_t off = 0;
	int rv;

	memset(rep, 0, sizeof *rep);
	assert_int_equal(nng_req0_open(&s), 0);
	assert_int_equal(
	    nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, RAW_REPLY_MAX), 0);
	assert_int_equal(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, RAW_REPLY_MS),
	                 0);
	if ((rv = nng_dial(s, url, NULL, 0)) != 0)
		fail_msg("dial %s: %s", url, nng_strerror(rv));
	if ((rv = nng_send(s, (void *)body, len, 0)) != 0)
		fail_msg("send to %s: %s", url, nng_strerror(rv));
	rv = nng_recvmsg(s, &rep->msg, 0);
	nng_close(s);
	if (rv != 0)
		fail_msg("no reply from %s: %s", url, nng_strerror(rv));
	msgpack_zone_init(&rep->zone, 4096);
	assert_int_equal(msgpack_unpack(nng_msg_body(rep->msg),
	                                nng_msg_len(rep->msg), &off, &rep->zone,
	                                &rep->o),
	                 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(rep->o.type, MSGPACK_OBJECT_MAP);
}

void raw_reply_free(struct raw_reply *rep)
{
	if (rep->msg) {
		nng_msg_free(rep->msg);
		msgpack_zone_destroy(&rep->zone);
	}
	memset(rep, 0, sizeof *rep);
}

void raw_op(const char *run_dir, const char *op, struct raw_reply *rep)
{
	char url[400];
	msgpack_sbuffer sb;
	msgpack_packer pk;

	assert_non_null(paths_socket_url(url, sizeof url, run_dir, SOCK_QUERY));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, op);
	raw_call(url, sb.data, sb.size, rep);
	msgpack_sbuffer_destroy(&sb);
}

void raw_info(const char *run_dir, struct raw_reply *rep)
{
	raw_op(run_dir, OP_INFO, rep);
}

uint64_t raw_stat(const char *run_dir, const char *key)
{
	struct raw_reply r;
	uint64_t n = 0;

	raw_op(run_dir, OP_STATS, &r);
	if (!mp_get_u64(&r.o, key, &n))
		fail_msg("stats: no \"%s\"", key);
	raw_reply_free(&r);
	return n;
}

char *raw_str(const msgpack_object *map, const char *key, char *buf, size_t len)
{
	const char *p;
	size_t n;

	if (!mp_get_bytes(map, key, &p, &n))
		snprintf(buf, len, "(no %s)", key);
	else
		snprintf(buf, len, "%.*s", (int)n, p);
	return buf;
}

void raw_pack_publish(msgpack_packer *pk, uint64_t sid, uint64_t bn,
                      uint64_t dropped, uint32_t n)
{
	msgpack_pack_map(pk, dropped != 0 ? 5 : 4);
	mp_pack_key(pk, "op");
	mp_pack_key(pk, OP_PUBLISH);
	mp_pack_key(pk, "sid");
	msgpack_pack_uint64(pk, sid);
	mp_pack_key(pk, "bn");
	msgpack_pack_uint64(pk, bn);
	if (dropped != 0) {
		mp_pack_key(pk, "dr");
		msgpack_pack_uint64(pk, dropped);
	}
	mp_pack_key(pk, "r");
	msgpack_pack_array(pk, n);
}

void raw_pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
	msgpack_pack_bin(pk, len);
	msgpack_pack_bin_body(pk, p, len);
}

/* ---- SP over ipc by hand ---- */

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

ssize_t raw_sp_read(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int raw_sp_write(int fd, const void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n =
		    send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

int raw_sp_connect(const char *run_dir, const char *sock, int proto)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = RAW_SP_MS / 1000};
	/* rep0 answers req0, pub0 answers sub0 */
	const unsigned char ours[8] = {0, 'S', 'P', 0, 0, (unsigned char)proto,
	                               0, 0};
	const unsigned char want[8] = {
	    0, 'S', 'P',
	    0, 0,   (unsigned char)(proto == RAW_SP_REQ0 ? 0x31 : 0x20),
	    0, 0};
	unsigned char peer[8];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	assert_int_equal(
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
	int n =
	    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", run_dir, sock);
	assert_true(n > 0 && (size_t)n < sizeof sa.sun_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		fail_msg("connect %s: %s", sa.sun_path, strerror(errno));
	if (proto == 0)
		return fd;
	assert_int_equal(raw_sp_write(fd, ours, sizeof ours), 0);
	assert_int_equal(raw_sp_read(fd, peer, sizeof peer), sizeof peer);
	assert_memory_equal(peer, want, sizeof want);
	return fd;
}

void raw_sp_frame_head(unsigned char h[9], uint64_t len)
{
	h[0] = 1;
	put_be(h + 1, len, 8);
}

int raw_sp_send(int fd, uint32_t id, const void *body, size_t len)
{
	unsigned char *m = malloc(13 + len);

	assert_non_null(m);
	raw_sp_frame_head(m, 4 + (uint64_t)len);
	put_be(m + 9, id | 0x80000000u, 4);
	memcpy(m + 13, body, len);
	int rv = raw_sp_write(fd, m, 13 + len);
	int saved = errno;
	free(m);
	errno = saved;
	return rv;
}

int raw_sp_recv(int fd, uint32_t id, struct raw_reply *rep)
{
	unsigned char head[9];
	ssize_t n = raw_sp_read(fd, head, sizeof head);

	memset(rep, 0, sizeof *rep);
	if (n <= 0)
		return n == 0 || errno == ECONNRESET ? 0 : -1;
	assert_int_equal(head[0], 1);
	uint64_t len = get_be(head + 1, 8);
	assert_true(len >= 4 && len < 64 * 1024 * 1024);
	assert_int_equal(nng_msg_alloc(&rep->msg, (size_t)len), 0);
	msgpack_zone_init(&rep->zone, 4096);
	unsigned char *body = nng_msg_body(rep->msg);
	assert_int_equal(raw_sp_read(fd, body, (size_t)len), (ssize_t)len);
	assert_int_equal(get_be(body, 4), id | 0x80000000u);
	assert_int_equal(nng_msg_trim(rep->msg, 4), 0);
	size_t off = 0;
	assert_int_equal(msgpack_unpack(nng_msg_body(rep->msg),
	                                nng_msg_len(rep->msg), &off, &rep->zone,
	                                &rep->o),
	                 MSGPACK_UNPACK_SUCCESS);
	return 1;
}

void raw_record(msgpack_sbuffer *out, const char *svc, const char *msg)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(out);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	mp_pack_key(&pk, "t");
	msgpack_pack_int64(&pk, 1700000000000000000LL);
	mp_pack_key(&pk, "v");
	msgpack_pack_int(&pk, LOGBUS_INFO);
	mp_pack_key(&pk, "s");
	mp_pack_key(&pk, svc);
	mp_pack_key(&pk, "n");
	mp_pack_key(&pk, "x");
	mp_pack_key(&pk, "m");
	mp_pack_key(&pk, msg);
}
