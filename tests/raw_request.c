/*
 * raw_request.c: hand-built requests on a raw req0 socket (raw_request.h).
 *
 * Each call dials a socket of its own and closes it after the reply, so a
 * test can send anything without disturbing the library's clients, and a
 * refusal is seen exactly as the broker sent it.
 */
#include "raw_request.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

void raw_info(const char *run_dir, struct raw_reply *rep)
{
	char url[400];
	msgpack_sbuffer sb;
	msgpack_packer pk;

	assert_non_null(paths_socket_url(url, sizeof url, run_dir, SOCK_QUERY));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, OP_INFO);
	raw_call(url, sb.data, sb.size, rep);
	msgpack_sbuffer_destroy(&sb);
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
