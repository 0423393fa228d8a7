/*
 * logql.h: the subset of Loki's LogQL that people type to read logs, parsed
 * and matched against logbus records; used by `logbusctl query` and by
 * logbus-http's Loki endpoints (tools/http/loki.c).
 *
 *   {service="api", level=~"error|critical"} |= "sandbox" !~ "(?i)health"
 *
 * A stream selector on the labels service, level, logger and stream with
 * =, !=, =~ and !~, then line filters |=, !=, |~ and !~ on the message,
 * chained (all must hold).  Strings are "..." with Go's escapes or `...`
 * raw; # starts a comment to the end of the line.  Anything else of LogQL
 * (| json, | logfmt, |> patterns, label filters after the selector, metric
 * queries like rate(...)) is refused with a sentence naming it.
 *
 * Labels: service and logger are the record's; level is the level's name in
 * lower case (debug, info, warning, error, critical; "level25" for a level
 * between), stream is log, stdout or stderr.  Label regexes match the whole
 * value (Loki's rule), line regexes anywhere in the message.  Regexes are
 * PCRE2 with the broker's limits (regexp.h) where Loki has RE2: the same
 * for what people write (classes, alternation, (?i), \d, \b), and PCRE2
 * accepts more (backreferences, lookaround).
 *
 * Invariants: what logql_push hands the broker is implied by the query, and
 * what it hands over is no longer checked by logql_test, so that pushed and
 * tested together select exactly the records the query names.
 */
#ifndef LOGBUS_LOGQL_H
#define LOGBUS_LOGQL_H

#include <stdbool.h>
#include <stddef.h>

#include "filter.h"
#include "logbus/logbus.h"

struct logql;

/* Where a query is wrong: 1-based line and column of the mistake. */
struct logql_error {
	int line, col;
	char msg[320];
};

/* Parse text.  Returns 0 and *out (free with logql_free), or -1 with *err
 * filled (out of memory: col 0, msg "out of memory"). */
int logql_parse(const char *text, struct logql **out, struct logql_error *err);
void logql_free(struct logql *q);

/*
 * Put into f what logbusd can apply itself: one service list, the level
 * bounds, a logger prefix, the streams and one regex on the message.  f's
 * services, levels, logger_prefix, streams and message_regex must be
 * unset; the strings stay q's (valid until logql_free).  Call once.
 */
void logql_push(struct logql *q, logbus_filter *f);

/* Whether r passes what logql_push did not hand over (everything, before
 * a push); FILTER_LIMIT when a regex gave up on it (regexp.h). */
enum filter_result logql_test(const struct logql *q, const logbus_record *r);

/* True when, after logql_push, logql_test passes every record logbusd
 * hands over: the broker's filter is the whole query (a tail of N records
 * can then be the broker's; otherwise the client must count). */
bool logql_pushed_all(const struct logql *q);

/* True when no record can match (level="error", level="info"). */
bool logql_empty(const struct logql *q);

/* The label values of a record: level's in lower case into buf (16 bytes
 * are enough), stream's name. */
const char *logql_level_label(int level, char *buf, size_t len);
const char *logql_stream_label(int stream);

/* The labels, in the order Loki's responses list them. */
#define LOGQL_NLABELS 4
extern const char *const logql_labels[LOGQL_NLABELS];

#endif
