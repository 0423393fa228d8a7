/*
 * filter.h: which records a reader wants.  The same filter is applied by the
 * broker when it replays the journal and by the library to live records, so
 * it has one definition, one wire encoding and one matching function.
 *
 * Wire form (the "flt" map of a read request, PROTOCOL.md):
 *   "svc":   [str...]        service ids, any of them
 *   "lvl":   int             minimum level
 *   "lvlmax": int            maximum level (a range: -p warning..err)
 *   "lg":    str             logger prefix, hierarchical (a.b: a.b, a.b.c)
 *   "st":    int             stream bit mask (1 << stream)
 *   "fld":   [[str, str]...] field KEY written as text equals VALUE
 *   "re":    str             PCRE2 pattern on the message
 *   "since": int, "until": int   record time range [since, until), ns
 *   "pid", "uid", "gid": [int...]  the publisher's (the frame's trusted
 *                           fields), any of them
 *   "comm":  [str...]        the publisher's process name, any of them
 * An unknown key is an error, never ignored: a broker that cannot apply a
 * filter must not hand back records the caller did not ask for.
 */
#ifndef LOGBUS_FILTER_H
#define LOGBUS_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "frame.h"
#include "logbus/logbus.h"
#include "record.h"
#include "regexp.h"

struct filter_field {
	struct lb_str key, value; /* owned copies */
};

/* Matches on one of the publisher's ids (pid, uid or gid): any of them. */
struct filter_ids {
	uint32_t *v; /* owned */
	size_t n;
};

struct filter {
	struct lb_str *services; /* owned copies */
	size_t nservices;
	int min_level;
	int max_level;       /* 0: no upper bound */
	char *logger_prefix; /* owned, NULL for none */
	size_t prefix_len;
	unsigned streams; /* 0: all */
	struct filter_field *fields;
	size_t nfields;
	char *regex;      /* the pattern, owned */
	struct regexp re; /* compiled, when regex is set */
	int64_t since_ns, until_ns;
	/* The publisher, as the broker stamped it: journalctl's _PID=,
	 * _UID=, _GID= and _COMM=.  Each kind is an OR of its values, the
	 * kinds AND. */
	struct filter_ids pids, uids, gids;
	struct lb_str *comms; /* owned copies */
	size_t ncomms;
};

/* From the public description (client side).  Returns 0, or LOGBUS_EINVAL /
 * LOGBUS_ENOMEM with err saying why. */
int filter_from_public(struct filter *f, const logbus_filter *pub, char *err,
                       size_t errlen);

/* Encode as the "flt" map value. */
void filter_pack(msgpack_packer *pk, const struct filter *f);

/* Decode a "flt" map (broker side).  Returns 0, or -1 with err set. */
int filter_unpack(struct filter *f, const msgpack_object *o, char *err,
                  size_t errlen);

/*
 * Whether a record passes: FILTER_YES or FILTER_NO, or FILTER_LIMIT when the
 * regular expression gave up on this message at its match limit
 * (FILTER_MATCH_LIMIT steps, a bounded JIT stack): a pattern such as
 * ^(a|a?)+$ that backtracks without end costs at most about a millisecond a
 * record, whoever wrote it.  The caller says so; it is never a silent "no".
 */
enum filter_result { FILTER_NO = 0, FILTER_YES = 1, FILTER_LIMIT = -1 };
#define FILTER_MATCH_LIMIT REGEXP_MATCH_LIMIT
enum filter_result filter_test(const struct filter *f,
                               const struct record_view *v);
/* filter_test(f, v) == FILTER_YES. */
bool filter_match(const struct filter *f, const struct record_view *v);

/* filter_test of a record read from its frame, whose trusted fields the
 * pid, uid, gid and comm matches look at.  filter_test is this without a
 * frame: a filter with such matches then passes nothing, as it cannot
 * know who published the record. */
enum filter_result filter_test_frame(const struct filter *f,
                                     const struct record_view *v,
                                     const struct frame_record *fr);
bool filter_match_frame(const struct filter *f, const struct record_view *v,
                        const struct frame_record *fr);

/* True when a record of this logger is under the prefix. */
bool logger_under(const char *logger, size_t len, const char *prefix,
                  size_t plen);

void filter_fini(struct filter *f);

#endif
