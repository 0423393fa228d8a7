/*
 * request.h: what every request endpoint does the same way (request.c):
 * decode a request, dispatch it on its "op", build the reply, count
 * refusals.
 */
#ifndef LOGBUS_REQUEST_H
#define LOGBUS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <nng/nng.h>

struct broker;
struct endpoint;

/* Who sent the request being handled, from its pipe's credentials
 * (access.h).  Made per request on the query socket; the ingest socket's
 * handlers get NULL. */
struct reader {
	bool trusted; /* root or the reader group: every record */
	uint32_t uid; /* otherwise: only the records of this uid */
};

/* The reader may see a record (or report) of this uid. */
static inline bool reader_may_see(const struct reader *rd, uint32_t uid)
{
	return rd->trusted || uid == rd->uid;
}

/* A request handler: replies (reply_begin/reply_send or reply_error); the
 * dispatcher frees msg. */
struct request_op {
	const char *name;
	void (*fn)(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
	           const struct reader *rd);
};

/* Decode a request, run its op's handler, free it. */
void request_dispatch(struct endpoint *ep, nng_msg *msg);
/* Start a reply {"ok": true, + nkeys more} in b->out; reply_send sends it. */
void reply_begin(struct broker *b, msgpack_packer *pk, size_t nkeys);
void reply_send(struct endpoint *ep, nng_msg *req);
/* {"ok": false, "code", "error"} (+ one u64 key), counted by code. */
void reply_error(struct endpoint *ep, nng_msg *req, const char *code,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void reply_error_with(struct endpoint *ep, nng_msg *req, const char *code,
                      const char *key, uint64_t value, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The pipe a raw rep0 request came on, from its header (a request kept
 * as a copy of its header has no nng_msg_get_pipe). */
uint32_t reply_pipe(nng_msg *req);
/* Count a refusal by its ERR_* code (b->stats.rejected). */
void count_reject(struct broker *b, const char *code);
extern const char *const reject_names[]; /* the ERR_* codes, by REJ_* */

#endif
