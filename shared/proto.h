/*
 * proto.h: the wire protocol between liblogbus and logbusd, in constants.
 * shared/PROTOCOL.md is the prose version; keep the two together.
 *
 * Every message body is one msgpack map with short string keys.  Requests
 * carry "op"; replies carry "ok" (true, or false with "code" and "error").
 */
#ifndef LOGBUS_PROTO_H
#define LOGBUS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1

/* Socket files in the run directory. */
#define SOCK_INGEST "ingest.sock"
#define SOCK_QUERY  "query.sock"
#define SOCK_LIVE   "live.sock"
#define RUN_LOCK    "logbusd.lock"

/* Sizes.  The library never builds an ingest batch over BATCH_MAX; the
 * broker refuses (closes) messages over the receive limits. */
#define BATCH_MAX       (1024 * 1024)
#define INGEST_RECV_MAX (BATCH_MAX + 64 * 1024)
#define QUERY_REQ_MAX   (64 * 1024)
#define QUERY_REPLY_MAX (4 * 1024 * 1024)
#define QUERY_RECV_MAX  (QUERY_REPLY_MAX + 64 * 1024)
/* Keys in one request map: every op knows fewer; more is bad_request. */
#define REQUEST_KEYS_MAX 32
#define READ_RECORDS_MAX 10000 /* records in one read reply */
/* Records in one ingest batch: the library never sends more, the broker
 * refuses a batch with more whole (batch_too_big). */
#define BATCH_RECORDS_MAX 10000
/* An ack lists every refused record, but only the first REJ_TEXT_MAX carry
 * a sentence, so that an ack of BATCH_RECORDS_MAX refusals stays far below
 * what the library receives (INGEST_REPLY_MAX). */
#define REJ_TEXT_MAX     16
#define INGEST_REPLY_MAX (512 * 1024)

/* Replies a query connection has not read (broker/unread.c): every reply
 * ends with "tok", which the client echoes in its next request to say it
 * read that reply and all before it.  Past these bytes (per connection,
 * per uid, in total) requests are answered ERR_UNREAD and a read's reply
 * is cut to the room; with UNREAD_REPLIES_BUSY replies unread a
 * connection's requests are answered ERR_UNREAD, and a request that finds
 * UNREAD_REPLIES_MAX unread (nng keeps 64 per connection, then drops)
 * closes the connection. */
#define UNREAD_PIPE_MAX     (8u * 1024 * 1024)
#define UNREAD_UID_MAX      (64u * 1024 * 1024)
#define UNREAD_TOTAL_MAX    (256u * 1024 * 1024)
#define UNREAD_REPLIES_BUSY 32
#define UNREAD_REPLIES_MAX  64
#define REPLY_TOK           "tok"

/* The service of the broker's own records (selflog.c, ratelimit.c): no
 * publisher may use it, so that nobody can write what reads as the broker
 * speaking. */
#define SELF_SERVICE "logbusd"

/* Record map keys (client-set). */
#define RK_TIME    "t" /* int: ns since the epoch, publisher's clock */
#define RK_LEVEL   "v" /* int 0..255 */
#define RK_SERVICE "s" /* str: service id */
#define RK_LOGGER  "n" /* str: logger name */
#define RK_MESSAGE "m" /* str: UTF-8 message */
#define RK_STREAM  "o" /* int: 0 log, 1 stdout, 2 stderr (optional) */
#define RK_FIELDS  "f" /* map: str -> str|int|float|bool (optional) */
#define RK_EXIT    "x" /* map: a process exit (exitinfo.h, optional) */

/* Request ops. */
#define OP_PUBLISH "pub"          /* ingest */
#define OP_SYNC    "sync"         /* ingest: answered after the fan-out */
#define OP_CLAIM   "claim"        /* ingest: may the caller publish as svc */
#define OP_READ    "read"         /* query */
#define OP_INFO    "info"         /* query */
#define OP_ERRORS  "errors"       /* query: list error reports */
#define OP_REPORT  "error_report" /* query: one error report */
#define OP_ROTATE  "rotate"       /* query: reopen every routed file */
#define OP_VACUUM  "vacuum"       /* query: retention now, given limits */

/* Query ops for logbusctl stats and services (broker/stats.c). */
#define OP_STATS    "stats"
#define OP_SERVICES "services"
/* Query ops for logbusctl alerts (broker/alerts.c), admin only. */
#define OP_ALERTS     "alerts"     /* the rules, positions, counts */
#define OP_ALERT_TEST "alert_test" /* one test action of "rule" */

/* Error codes in replies ("code"). */
#define ERR_BAD_REQUEST     "bad_request"
#define ERR_UNKNOWN_OP      "unknown_op"
#define ERR_BAD_RECORD      "bad_record"
#define ERR_BAD_SERVICE     "bad_service"
#define ERR_BAD_UTF8        "bad_utf8"
#define ERR_TOO_BIG         "too_big"
#define ERR_TOO_MANY_FIELDS "too_many_fields"
#define ERR_BATCH_TOO_BIG   "batch_too_big"
#define ERR_JOURNAL         "journal_error"
#define ERR_CURSOR          "bad_cursor"
#define ERR_EXPIRED         "cursor_expired"
#define ERR_SHUTTING_DOWN   "shutting_down"
#define ERR_NOT_FOUND       "not_found"
#define ERR_DENIED          "denied"         /* op for the reader group only */
#define ERR_UNREAD          "unread_replies" /* read your replies first */
#define ERR_NOT_OWNER       "not_owner"      /* the service is another user's */

/* ---- msgpack helpers for protocol maps (proto.c) ---- */

#include <stdbool.h>
#include <string.h>

#include <msgpack.h>

/*
 * Whether every array and map that the msgpack object at data declares
 * could have its elements in the bytes after its header, at one byte an
 * element.  msgpack-c allocates a container's elements as soon as it reads
 * the header, so five bytes (a map32 of 2^32-1 pairs) ask it for 128 GiB:
 * every decoder of bytes from a peer or a file checks this first (mp_unpack
 * does).  Bytes that are not msgpack at all pass: msgpack-c says so.  One
 * pass, no allocation.
 */
bool mp_counts_fit(const void *data, size_t len);
/* msgpack_unpack of the object at data + *off (*off: then where it
 * ended), refusing what mp_counts_fit refuses with
 * MSGPACK_UNPACK_PARSE_ERROR. */
msgpack_unpack_return mp_unpack(const char *data, size_t len, size_t *off,
                                msgpack_zone *zone, msgpack_object *obj);

void mp_pack_str(msgpack_packer *pk, const char *s, size_t len);
void mp_pack_key(msgpack_packer *pk, const char *key); /* NUL-terminated */
/* One entry of a map being packed: key, then v (mp_get_u64 reads it). */
void mp_put_u64(msgpack_packer *pk, const char *key, uint64_t v);
/* The same with a signed value: times, levels, exit codes. */
void mp_put_i64(msgpack_packer *pk, const char *key, int64_t v);

/* The value under key in a map object, or NULL. */
const msgpack_object *mp_get(const msgpack_object *map, const char *key);
/* Inline so that a literal name's strlen folds away: it is called for
 * every key of every record on the ingest path. */
static inline bool mp_key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, name, n) == 0;
}
/* The first string key that map holds more than once, or NULL.  Every
 * decoder of a protocol map refuses such a map, so that no value is taken
 * twice, and no two readers of the same bytes disagree on what it says.
 * Quadratic in the map's size: for requests and filters, not records. */
const msgpack_object *mp_repeated_key(const msgpack_object *map);
bool mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
/* mp_get_u64 on the map a message body holds (len bytes at body). */
bool mp_body_get_u64(const void *body, size_t len, const char *key,
                     uint64_t *out);
bool mp_get_bool(const msgpack_object *map, const char *key, bool *out);
/* A str or bin value: pointer into the message and length. */
bool mp_get_bytes(const msgpack_object *map, const char *key, const char **p,
                  size_t *len);

/* Whether a service id is SELF_SERVICE. */
static inline bool service_is_self(const char *p, size_t len)
{
	return len == sizeof SELF_SERVICE - 1 &&
	       memcmp(p, SELF_SERVICE, len) == 0;
}

#endif
