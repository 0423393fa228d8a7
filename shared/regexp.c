/*
 * regexp.c: PCRE2 with logbus's limits (regexp.h).
 */
#include "regexp.h"

#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

int regexp_compile(struct regexp *re, const char *pattern, size_t len,
                   bool whole, char *err, size_t errlen)
{
	uint32_t opts = PCRE2_UTF;
	PCRE2_SIZE at;
	int code;

	memset(re, 0, sizeof *re);
	if (len > REGEXP_MAX) {
		snprintf(err, errlen, "regular expression longer than %d bytes",
		         REGEXP_MAX);
		return -1;
	}
	if (whole)
		opts |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;
	re->code =
	    pcre2_compile((PCRE2_SPTR)pattern, len, opts, &code, &at, NULL);
	if (re->code == NULL) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof msg);
		snprintf(err, errlen,
		         "bad regular expression at offset %zu: %s", (size_t)at,
		         (const char *)msg);
		return -1;
	}
	pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* best effort */
	re->match = pcre2_match_data_create_from_pattern(re->code, NULL);
	/* Bounds on one match, interpreted or JIT: steps, and the memory
	 * backtracking may use (the depth and heap limits apply where the
	 * JIT does not, which has its own 32 KiB stack). */
	re->mctx = pcre2_match_context_create(NULL);
	if (re->match == NULL || re->mctx == NULL) {
		regexp_fini(re);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pcre2_set_match_limit(re->mctx, REGEXP_MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, REGEXP_MATCH_LIMIT / 10);
	pcre2_set_heap_limit(re->mctx, 8 * 1024); /* KiB */
	return 0;
}

enum regexp_result regexp_test(const struct regexp *re, const char *text,
                               size_t len)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)text, len, 0,
	                     PCRE2_NO_UTF_CHECK, re->match, re->mctx);
	if (rc >= 0)
		return REGEXP_YES;
	if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL)
		return REGEXP_NO;
	return REGEXP_LIMIT; /* match, depth, heap or JIT stack limit */
}

void regexp_fini(struct regexp *re)
{
	if (re->match)
		pcre2_match_data_free(re->match);
	if (re->code)
		pcre2_code_free(re->code);
	if (re->mctx)
		pcre2_match_context_free(re->mctx);
	memset(re, 0, sizeof *re);
}
