/*
 * record.h: the record model, its msgpack encoding and its validation.
 *
 * A record on the wire and in the journal is one msgpack map (keys in
 * proto.h).  The publisher's library encodes it with record_pack; the broker
 * checks it with record_decode before anything is written and then stores the
 * client's bytes unchanged; readers decode the same bytes again.
 */
#ifndef LOGBUS_RECORD_H
#define LOGBUS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "logbus/logbus.h"

struct lb_str {
	const char *p;
	uint32_t len;
};

struct exit_in;

/* What record_pack encodes.  Strings need not be NUL-terminated. */
struct record_in {
	int64_t time_ns;
	int level;
	int stream;
	struct lb_str service, logger, message;
	const logbus_field *fields;
	size_t nfields;
	const struct exit_in *exit; /* NULL: not an exit report */
};

void record_pack(msgpack_packer *pk, const struct record_in *r);

/*
 * The same bytes as record_pack, for a record without an exit report,
 * written straight to out, which must have room for them: at most
 * record_encoded_max(r).  Returns how many were written.  The publisher's
 * sender encodes every record: this is several times faster than going
 * through a packer's callback once per key and value.
 */
size_t record_encode(char *out, const struct record_in *r);
size_t record_encoded_max(const struct record_in *r);

/* A decoded record: pointers into the bytes that were decoded. */
struct record_view {
	int64_t time_ns;
	int level;
	int stream;
	struct lb_str service, logger, message;
	const msgpack_object_map *fields; /* NULL when the record has none,
	                                     or record_check did not decode */
	uint32_t nfields;                 /* how many the record has */
	const msgpack_object *exit;       /* NULL, or a valid exit map */
};

/* Why a record was refused: code is one of proto.h's ERR_* strings. */
struct record_error {
	const char *code;
	char msg[160];
};

/*
 * Decode and validate one record.  zone holds the decoded objects (clear it
 * between records).  Returns 0, or -1 with *e filled.
 */
int record_decode(const char *data, size_t len, msgpack_zone *zone,
                  struct record_view *v, struct record_error *e);

/*
 * Read a stored record's top-level keys straight from its bytes, without
 * building objects or checking UTF-8: time, level, stream, service, logger
 * and message, with the same rules as record_decode (a repeated key: the
 * last one counts).  v->fields and v->exit stay NULL even when the record
 * has them.  For bytes record_decode accepted once (the journal's); returns
 * 0, or -1 when the bytes are not such a record (decode them fully to
 * know why).  Allocates nothing.
 */
int record_peek(const char *data, size_t len, struct record_view *v);

/*
 * The publisher's record, checked in place: record_decode's checks, for a
 * record that holds only the keys t, v, o, s, n, m and f (scalar fields)
 * and unknown keys with scalar values, which is every record the library
 * makes but an exit report.  Returns 0 with v filled as record_peek fills
 * it plus v->nfields (v->fields stays NULL: decode the bytes for them), or
 * -1 when the record must go through record_decode, which accepts it or
 * says why not.  Allocates nothing.
 */
int record_check(const char *data, size_t len, struct record_view *v);

bool service_id_valid(const char *s, size_t len);
bool logger_valid(const char *s, size_t len);
bool field_key_valid(const char *s, size_t len);

/* "log", "stdout", "stderr". */
const char *stream_name(int stream);

/* Level names (logbus.h documents the rules). */
const char *level_name(int level, char *buf, size_t len);
int level_parse(const char *s);

#endif
