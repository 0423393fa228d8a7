/*
 * fuzz_cursor.c: cursor_parse on any string, and the round trip both ways:
 * a string it accepts formats back to exactly that string (it accepts the
 * canonical form only, cursor.h), and whatever cursor_format writes parses
 * back to the same journal id and sequence.
 *
 * Input: the string (up to its first NUL); its first 24 bytes are also
 * used as an id and a sequence to format.
 */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char id[CURSOR_ID_LEN], id2[CURSOR_ID_LEN];
	char out[CURSOR_STR_LEN + 1];
	uint64_t seq, seq2;
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (cursor_parse(s, id, &seq) == 0) {
		cursor_format(out, id, seq);
		if (strcmp(out, s) != 0)
			fuzz_fail("cursor '%s' parses but formats as '%s'", s,
			          out);
	}
	free(s);
	if (size >= CURSOR_ID_LEN + 8) {
		memcpy(id, data, CURSOR_ID_LEN);
		memcpy(&seq, data + CURSOR_ID_LEN, 8);
		cursor_format(out, id, seq);
		if (cursor_parse(out, id2, &seq2) != 0 ||
		    memcmp(id, id2, sizeof id) != 0 || seq != seq2)
			fuzz_fail("cursor_format wrote '%s', which does not "
			          "parse back",
			          out);
	}
	return 0;
}
