/*
 * view.h: turning a record frame from the journal into the public
 * logbus_record, with NUL-terminated copies its owner keeps until the next
 * record.
 */
#ifndef LOGBUS_VIEW_H
#define LOGBUS_VIEW_H

#include <msgpack.h>

#include "cursor.h"
#include "logbus/logbus.h"

struct view {
	logbus_record rec;
	char cursor[CURSOR_STR_LEN + 1];
	char *arena; /* strings of rec */
	size_t arena_cap;
	logbus_field fields[LOGBUS_FIELDS_MAX];
	msgpack_zone zone;
};

void view_init(struct view *v);
void view_fini(struct view *v);

/* Fill v->rec from a checked record frame.  Returns 0, LOGBUS_EPROTO for a
 * record that does not decode, LOGBUS_ENOMEM. */
int view_fill(struct view *v, const unsigned char *frame,
              const unsigned char jid[CURSOR_ID_LEN]);

#endif
