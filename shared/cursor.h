/*
 * cursor.h: the opaque position strings handed to readers.
 *
 * Format: "lb1-" 32 lowercase hex digits of the journal id, "-", 16 lowercase
 * hex digits of a sequence number: the position just after that record.
 * Sequence 0 means "before the first record".  Parsing is strict: it
 * accepts exactly the strings cursor_format writes, so a cursor that parses
 * formats back to itself (issue 15, finding 4; test_shared and
 * tests/fuzz/fuzz_cursor check it).  Anything else, upper case, white
 * space or a sign included, is not a cursor; the newline after a cursor in
 * logbusctl's --cursor-file belongs to the file, not to the cursor.
 */
#ifndef LOGBUS_CURSOR_H
#define LOGBUS_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#define CURSOR_ID_LEN  16
#define CURSOR_STR_LEN 53 /* without the NUL */

void cursor_format(char out[CURSOR_STR_LEN + 1],
                   const unsigned char id[CURSOR_ID_LEN], uint64_t seq);

/* 0 on success, -1 when s is not a cursor. */
int cursor_parse(const char *s, unsigned char id[CURSOR_ID_LEN], uint64_t *seq);

#endif
