/*
 * fuzz_record.c: one record's bytes, as the "r" array of a publish request
 * carries them, through the three readers of records, which must agree:
 *  - record_check (the broker's fast path, in place) accepts only what
 *    record_decode accepts, and reads the same time, level, stream,
 *    service, logger, message and number of fields;
 *  - record_peek (how readers look at stored records) reads what
 *    record_decode read from every record record_decode accepted.
 * A disagreement would store a record other readers see differently.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "record.h"

static bool str_eq(const struct lb_str *a, const struct lb_str *b)
{
	return a->len == b->len &&
	       (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* The first field two views disagree on, or NULL. */
static const char *differs(const struct record_view *a,
                           const struct record_view *b, bool nfields)
{
	if (a->time_ns != b->time_ns)
		return "time";
	if (a->level != b->level)
		return "level";
	if (a->stream != b->stream)
		return "stream";
	if (!str_eq(&a->service, &b->service))
		return "service";
	if (!str_eq(&a->logger, &b->logger))
		return "logger";
	if (!str_eq(&a->message, &b->message))
		return "message";
	if (nfields && a->nfields != b->nfields)
		return "number of fields";
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static msgpack_zone zone;
	static bool zone_ready;
	struct record_view checked, decoded, peeked;
	struct record_error e;
	const char *d = (const char *)data, *what;

	if (!zone_ready) {
		msgpack_zone_init(&zone, 4096);
		zone_ready = true;
	}
	memset(&checked, 0, sizeof checked);
	memset(&decoded, 0, sizeof decoded);
	memset(&peeked, 0, sizeof peeked);
	int c = record_check(d, size, &checked);
	int r = record_decode(d, size, &zone, &decoded, &e);
	if (r == 0 && decoded.fields != NULL &&
	    decoded.fields->size != decoded.nfields)
		fuzz_fail("record_decode: %u fields in the map, nfields %u",
		          decoded.fields->size, decoded.nfields);
	if (c == 0 && r != 0)
		fuzz_fail("record_check accepts a record record_decode "
		          "refuses (%s: %s)",
		          e.code, e.msg);
	if (c == 0 && (what = differs(&checked, &decoded, true)) != NULL)
		fuzz_fail("record_check and record_decode read another %s",
		          what);
	if (r == 0) {
		if (record_peek(d, size, &peeked) != 0)
			fuzz_fail("record_peek refuses a record record_decode "
			          "accepts");
		if ((what = differs(&peeked, &decoded, false)) != NULL)
			fuzz_fail("record_peek and record_decode read another "
			          "%s",
			          what);
	}
	msgpack_zone_clear(&zone);
	return 0;
}
