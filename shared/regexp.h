/*
 * regexp.h: a PCRE2 pattern compiled with logbus's limits, the one way
 * logbus matches regular expressions: the filters' message regex (filter.c)
 * and LogQL's label and line matchers (logql.c).
 *
 * Invariants: patterns are compiled in UTF mode (and JIT where the platform
 * has it) and matched against valid UTF-8 without PCRE2's own check; one
 * match costs at most REGEXP_MATCH_LIMIT steps of backtracking and a
 * bounded heap, so a pattern such as ^(a|a?)+$ gives up (REGEXP_LIMIT)
 * instead of taking the caller's time without end.  A compiled pattern
 * keeps its match data: regexp_test is not for two threads at once.
 */
#ifndef LOGBUS_REGEXP_H
#define LOGBUS_REGEXP_H

#include <stdbool.h>
#include <stddef.h>

#define REGEXP_MAX         4096 /* bytes of a pattern */
#define REGEXP_MATCH_LIMIT 100000

struct regexp {
	/* pcre2_code_8 *, pcre2_match_data_8 *, pcre2_match_context_8 * */
	void *code, *match, *mctx;
};

enum regexp_result { REGEXP_NO = 0, REGEXP_YES = 1, REGEXP_LIMIT = -1 };

/* whole: the pattern must match all of the text (LogQL's label matchers,
 * anchored at both ends as in Loki); else anywhere in it.  Returns 0, or
 * -1 with err saying why ("bad regular expression at offset 3: ..."). */
int regexp_compile(struct regexp *re, const char *pattern, size_t len,
                   bool whole, char *err, size_t errlen);

/* Whether text (valid UTF-8) matches; REGEXP_LIMIT when the match gave up
 * at its limits. */
enum regexp_result regexp_test(const struct regexp *re, const char *text,
                               size_t len);

void regexp_fini(struct regexp *re);

#endif
