/*
 * filter.h: which records a reader wants.  The same filter is applied by the
 * broker when it replays the journal and by the library to live records, so
 * it has one definition, one wire encoding and one matching function.
 *
 * Wire form (the "flt" map of a read request, PROTOCOL.md):
 *   "svc": [str...]   service ids, any of them
 *   "lvl": int        minimum level
 *   "lg":  str        logger prefix, hierarchical ("a.b" matches a.b, a.b.c)
 * An unknown key is an error, never ignored: a broker that cannot apply a
 * filter must not hand back records the caller did not ask for.
 */
#ifndef LOGBUS_FILTER_H
#define LOGBUS_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "logbus/logbus.h"
#include "record.h"

struct filter {
	struct lb_str *services; /* owned copies */
	size_t nservices;
	int min_level;
	char *logger_prefix; /* owned, NULL for none */
	size_t prefix_len;
};

/* From the public description (client side).  Returns 0 or LOGBUS_EINVAL /
 * LOGBUS_ENOMEM. */
int filter_from_public(struct filter *f, const logbus_filter *pub);

/* Encode as the "flt" map value. */
void filter_pack(msgpack_packer *pk, const struct filter *f);

/* Decode a "flt" map (broker side).  Returns 0, or -1 with err set. */
int filter_unpack(struct filter *f, const msgpack_object *o, char *err,
		  size_t errlen);

bool filter_match(const struct filter *f, const struct record_view *v);

/* True when a record of this logger is under the prefix. */
bool logger_under(const char *logger, size_t len, const char *prefix,
		  size_t plen);

void filter_fini(struct filter *f);

#endif
