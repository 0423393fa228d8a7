/*
 * record_json.h: a stored record as one JSON object, the layout of the
 * broker's JSON routes (routes.c) and of what an alert action reads on its
 * standard input (alerts.c): the keys of a common Python JSON formatter
 * (timestamp, level, logger, message), then ours (service, seq, stream and
 * the publisher's trusted pid, uid, gid, comm, not_owner), then the
 * structured fields, "field." in front of one whose key would collide.
 */
#ifndef LOGBUS_RECORD_JSON_H
#define LOGBUS_RECORD_JSON_H

#include <stdint.h>

#include "frame.h"
#include "record.h"
#include "strbuf.h"

/* Append v (seq, its frame's trusted fields fr) to out as one object and
 * a newline; the message's trailing newlines are dropped. */
void record_json(struct strbuf *out, const struct record_view *v, uint64_t seq,
                 const struct frame_record *fr);

#endif
