/*
 * textline.h: the text layout of a record, the one every text file the
 * broker writes (all.log, by-logger/, text routes) and logbusctl's text
 * output share, and the escaping that keeps a record from forging another
 * or driving a terminal:
 *
 *   2026-11-22 10:00:00,123 [ERROR] pactown.sandbox service_123: Traceback:
 *       |   File "main.py", line 3
 *
 * A record that root or logbusd's user published of somebody else's service
 * (FRAME_REC_NOT_OWNER) names its publisher after the service:
 * "service_7[uid=0]: ".
 *
 * Invariants, whatever a publisher puts in a record:
 *  - a record's first line starts with its time (a digit) and each further
 *    line with TEXTLINE_CONT (a space), so no message makes a line that
 *    reads as a record;
 *  - unless raw, no byte is written that a terminal or a line reader takes
 *    as a control: C0 controls but tab and newline, DEL, C1 controls
 *    (U+0080-U+009F), U+2028 and U+2029 (which Python's splitlines() and
 *    some editors take as line ends) and bytes that are not UTF-8 become
 *    visible escapes: \r, \x1b, \x00, \u009b, \u2028, \xff.  A backslash
 *    is not doubled: the text is for people; the exact bytes are in the
 *    journal and in JSON output;
 *  - the common message, printable ASCII (and tabs) on one line, costs one
 *    scan, sixteen bytes at a time, and one copy.
 */
#ifndef LOGBUS_TEXTLINE_H
#define LOGBUS_TEXTLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logbus/logbus.h"
#include "strbuf.h"

/* What starts each further line of a multi-line message. */
#define TEXTLINE_CONT "    | "

/* A record's parts, as the text layout shows them. */
struct textline {
	const char *time; /* "2026-11-22 10:00:00,123", < TIMEFMT_MAX */
	size_t time_len;
	int level;
	const char *logger;
	size_t logger_len;
	const char *service;
	size_t service_len;
	bool not_owner; /* the publisher, uid, is not the service's owner */
	uint32_t uid;
	const char *message;
	size_t message_len;
};

/*
 * Append t's text to b: "TIME [LEVEL] LOGGER SERVICE: MESSAGE\n", the
 * message's trailing newlines and CRs dropped (the line ends it), further
 * lines after TEXTLINE_CONT, escaped unless raw.  Returns the offset in b
 * where the message starts (colour goes from there to the final '\n').
 */
size_t textline_format(struct strbuf *b, const struct textline *t, bool raw);

/* How a line's time reads (shared/timefmt.h): Python's logging layout
 * (milliseconds), with microseconds (logbusctl tail -o short-precise) or
 * journalctl's short-iso (whole seconds and the zone); in local time
 * unless utc (logbusctl tail --utc). */
enum textline_time_style {
	TEXTLINE_TIME_PYTHON,
	TEXTLINE_TIME_PRECISE,
	TEXTLINE_TIME_ISO
};
struct textline_time {
	enum textline_time_style style;
	bool utc;
};

/* A library record in the text layout, its time in form (NULL: as
 * Python's logging writes it, local time and milliseconds, like the
 * broker's text files): textline_format of its parts. */
size_t textline_format_record(struct strbuf *b, const logbus_record *r,
                              const struct textline_time *form, bool raw);

/*
 * Append n bytes of s to b: each '\n' as a newline followed by cont, or,
 * when cont is NULL, as the two characters \n (for a value that must stay
 * on its line); unless raw, every other character the invariants name as
 * its escape.
 */
void textline_escape(struct strbuf *b, const char *s, size_t n,
                     const char *cont, bool raw);

#endif
