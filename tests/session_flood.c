/*
 * session_flood.c: what a local user did to push other publishers out of
 * the broker's memory of sessions (issue 18): empty publish batches, each
 * under a fresh session id, as fast as the broker answers.  Run by
 * test_local_dos as another user (setpriv); nng is not fork-safe, so it is
 * a program of its own.
 *
 * Usage: session_flood INGEST_URL COUNT.  Exits 0 when every batch was
 * acknowledged, 1 (saying why) otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "proto.h"

int main(int argc, char **argv)
{
	nng_socket s;
	uint64_t base;
	long count;
	int rv;

	if (argc != 3 || (count = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: session_flood INGEST_URL COUNT\n");
		return 2;
	}
	if (getrandom(&base, sizeof base, 0) != sizeof base ||
	    (rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 15000)) != 0 ||
	    (rv = nng_dial(s, argv[1], NULL, 0)) != 0) {
		fprintf(stderr, "session_flood: cannot reach %s\n", argv[1]);
		return 1;
	}
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint64_t tok = 0; /* echoed, as the protocol asks: read replies */
	for (long i = 0; i < count; i++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_map(&pk, 5);
		mp_pack_key(&pk, REPLY_TOK);
		msgpack_pack_uint64(&pk, tok);
		mp_pack_key(&pk, "op");
		mp_pack_key(&pk, OP_PUBLISH);
		mp_pack_key(&pk, "sid");
		msgpack_pack_uint64(&pk, base + (uint64_t)i);
		mp_pack_key(&pk, "bn");
		msgpack_pack_uint64(&pk, 1);
		mp_pack_key(&pk, "r");
		msgpack_pack_array(&pk, 0);
		nng_msg *m;
		if ((rv = nng_send(s, sb.data, sb.size, 0)) != 0 ||
		    (rv = nng_recvmsg(s, &m, 0)) != 0) {
			fprintf(stderr, "session_flood: batch %ld: %s\n", i,
			        nng_strerror(rv));
			return 1;
		}
		mp_body_get_u64(nng_msg_body(m), nng_msg_len(m), REPLY_TOK,
		                &tok);
		nng_msg_free(m);
	}
	msgpack_sbuffer_destroy(&sb);
	nng_close(s);
	return 0;
}
