/*
 * test_textline.c: shared/textline.c, the text layout of a record and the
 * escaping that keeps a message from forging a record line or driving a
 * terminal: every class of character it escapes, the fast path's word
 * boundaries, continuation lines, raw mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "strbuf.h"
#include "textline.h"

/* textline_escape of n bytes of s, as a NUL-terminated string to free. */
static char *escaped(const char *s, size_t n, const char *cont, bool raw)
{
	struct strbuf b = {0};

	textline_escape(&b, s, n, cont, raw);
	assert_false(b.failed);
	sb_put(&b, "", 0); /* a NUL even when nothing was written */
	return b.p;
}

static void expect_escape(const char *in, size_t n, const char *cont,
                          const char *want)
{
	char *got = escaped(in, n, cont, false);
	assert_string_equal(got, want);
	free(got);
}

/* A literal's bytes, NULs included. */
#define EXPECT(lit, cont, want) expect_escape(lit, sizeof lit - 1, cont, want)

static void test_plain_text_is_copied_as_it_is(void **state)
{
	(void)state;
	const char *s = "Creating sandbox for service_123\twith tabs, "
	                "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ~";
	expect_escape(s, strlen(s), TEXTLINE_CONT, s);
	expect_escape("", 0, TEXTLINE_CONT, "");
}

static void test_controls_are_escaped_visibly(void **state)
{
	(void)state;
	EXPECT("a\x1b[31mred", NULL, "a\\x1b[31mred");
	EXPECT("50%\rFORGED", NULL, "50%\\rFORGED");
	EXPECT("nul\0byte", NULL, "nul\\x00byte");
	EXPECT("del\x7f", NULL, "del\\x7f");
	EXPECT("\x01\x08\x0b\x0c\x1f", NULL, "\\x01\\x08\\x0b\\x0c\\x1f");
	/* C1 controls: CSI, NEL; the ends of the range; NBSP is not one */
	EXPECT("\xc2\x9b"
	       "31m \xc2\x85 \xc2\x80\xc2\x9f \xc2\xa0",
	       NULL, "\\u009b31m \\u0085 \\u0080\\u009f \xc2\xa0");
	/* line and paragraph separators end a line for some readers */
	EXPECT("a\xe2\x80\xa8"
	       "b\xe2\x80\xa9"
	       "c\xe2\x80\xa7",
	       NULL, "a\\u2028b\\u2029c\xe2\x80\xa7");
	/* bytes that are not UTF-8, a character cut short at the end */
	EXPECT("\xff\xc3(\xe2\x82", NULL, "\\xff\\xc3(\\xe2\\x82");
}

static void test_newlines_get_the_continuation_mark(void **state)
{
	(void)state;
	EXPECT("one\ntwo\n\nfour", TEXTLINE_CONT,
	       "one\n    | two\n    | \n    | four");
	EXPECT("one\ntwo", NULL, "one\\ntwo");
	EXPECT("one\ntwo", "", "one\ntwo");
}

/* Each escaped character at every position of a 40-byte run, so that the
 * word-at-a-time scan finds it whatever its offset in a word. */
static void test_every_offset_of_a_long_run_is_checked(void **state)
{
	(void)state;
	static const char *const special[] = {"\x1b", "\r",           "\x7f",
	                                      "\n",   "\xc2\x9b",     "\xff",
	                                      "\0",   "\xe2\x80\xa8", NULL};
	static const char *const want[] = {"\\x1b", "\\r",     "\\x7f",
	                                   "\\n",   "\\u009b", "\\xff",
	                                   "\\x00", "\\u2028", NULL};
	char in[64], expect[96];

	for (int k = 0; special[k]; k++) {
		size_t sl = k == 6 ? 1 : strlen(special[k]);
		for (size_t at = 0; at < 40; at++) {
			memset(in, 'x', sizeof in);
			memcpy(in + at, special[k], sl);
			size_t n = 40 + sl;
			int e = snprintf(expect, sizeof expect, "%.*s%s%.*s",
			                 (int)at, in, want[k],
			                 (int)(n - at - sl), in + at + sl);
			assert_true(e > 0);
			expect_escape(in, n, NULL, expect);
		}
	}
}

static void test_raw_keeps_every_byte_but_still_marks_lines(void **state)
{
	(void)state;
	const char in[] = "a\x1b[31m\r\0\xc2\x9b\xff\nb";
	char *got = escaped(in, sizeof in - 1, TEXTLINE_CONT, true);
	const char want[] = "a\x1b[31m\r\0\xc2\x9b\xff\n    | b";
	assert_memory_equal(got, want, sizeof want - 1);
	assert_int_equal(got[sizeof want - 1], '\0');
	free(got);
}

static struct textline sample(const char *message, size_t len)
{
	return (struct textline){
	    .time = "2026-11-22 10:00:00,123",
	    .time_len = 23,
	    .level = 40,
	    .logger = "pactown.sandbox",
	    .logger_len = 15,
	    .service = "service_123",
	    .service_len = 11,
	    .message = message,
	    .message_len = len,
	};
}

static void test_a_record_line_carries_the_service(void **state)
{
	(void)state;
	struct strbuf b = {0};
	struct textline t = sample("Creating sandbox", 16);

	size_t at = textline_format(&b, &t, false);
	assert_string_equal(b.p, "2026-11-22 10:00:00,123 [ERROR] "
	                         "pactown.sandbox service_123: Creating "
	                         "sandbox\n");
	assert_string_equal(b.p + at, "Creating sandbox\n");
	sb_free(&b);
}

/* The injection: a newline and a record line of another service
 * at CRITICAL.  No line of the text may start like a record but the
 * first. */
static void test_a_message_cannot_forge_a_record_line(void **state)
{
	(void)state;
	struct strbuf b = {0};
	const char *m = "hello\n2026-12-06 04:19:00,000 [CRITICAL] "
	                "pactown.sandbox service_123: FORGED\r\n\n";
	struct textline t = sample(m, strlen(m));

	textline_format(&b, &t, false);
	assert_string_equal(b.p,
	                    "2026-11-22 10:00:00,123 [ERROR] pactown.sandbox "
	                    "service_123: hello\n"
	                    "    | 2026-12-06 04:19:00,000 [CRITICAL] "
	                    "pactown.sandbox service_123: FORGED\n");
	sb_reset(&b);
	/* raw too: the layout is kept, only controls pass */
	const char *r = "x\x1b[31m\ny\r";
	t = sample(r, strlen(r));
	size_t at = textline_format(&b, &t, true);
	assert_string_equal(b.p + at, "x\x1b[31m\n    | y\n");
	sb_free(&b);
}

static void test_the_logger_is_escaped_too(void **state)
{
	(void)state;
	struct strbuf b = {0};
	struct textline t = sample("m", 1);

	t.logger = "evil\xc2\x9b"
	           "31m";
	t.logger_len = 9;
	textline_format(&b, &t, false);
	assert_string_equal(b.p, "2026-11-22 10:00:00,123 [ERROR] "
	                         "evil\\u009b31m service_123: m\n");
	sb_free(&b);
}

/* A library record's line, its time in form (NULL: Python's). */
static void expect_record_line(const struct textline_time *form,
                               const char *want)
{
	struct strbuf b = {0};
	logbus_record r = {
	    .time_ns = 1764000000123456789, /* 2025-11-24 16:00:00 UTC */
	    .level = LOGBUS_WARNING,
	    .logger = "app.t",
	    .service = "svc_t",
	    .message = "timed",
	    .message_len = 5,
	};

	size_t at = textline_format_record(&b, &r, form, false);
	assert_false(b.failed);
	assert_string_equal(b.p, want);
	assert_string_equal(b.p + at, "timed\n");
	sb_free(&b);
}

/* The time is written once, in the form asked: Python's (local time,
 * milliseconds) by default, microseconds, journalctl's short-iso, each in
 * local time or UTC. */
static void test_a_record_line_has_its_time_in_the_form_asked(void **state)
{
	(void)state;
	const char *tz = getenv("TZ");
	char *saved = tz ? strdup(tz) : NULL;

	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	expect_record_line(NULL, "2025-11-25 01:00:00,123 [WARNING] app.t "
	                         "svc_t: timed\n");
	expect_record_line(&(struct textline_time){TEXTLINE_TIME_PYTHON, true},
	                   "2025-11-24 16:00:00,123 [WARNING] app.t svc_t: "
	                   "timed\n");
	expect_record_line(
	    &(struct textline_time){TEXTLINE_TIME_PRECISE, false},
	    "2025-11-25 01:00:00,123456 [WARNING] app.t svc_t: timed\n");
	expect_record_line(
	    &(struct textline_time){TEXTLINE_TIME_PRECISE, true},
	    "2025-11-24 16:00:00,123456 [WARNING] app.t svc_t: timed\n");
	expect_record_line(&(struct textline_time){TEXTLINE_TIME_ISO, false},
	                   "2025-11-25T01:00:00+0900 [WARNING] app.t svc_t: "
	                   "timed\n");
	expect_record_line(&(struct textline_time){TEXTLINE_TIME_ISO, true},
	                   "2025-11-24T16:00:00+0000 [WARNING] app.t svc_t: "
	                   "timed\n");
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_text_is_copied_as_it_is),
	    cmocka_unit_test(test_controls_are_escaped_visibly),
	    cmocka_unit_test(test_newlines_get_the_continuation_mark),
	    cmocka_unit_test(test_every_offset_of_a_long_run_is_checked),
	    cmocka_unit_test(test_raw_keeps_every_byte_but_still_marks_lines),
	    cmocka_unit_test(test_a_record_line_carries_the_service),
	    cmocka_unit_test(test_a_message_cannot_forge_a_record_line),
	    cmocka_unit_test(test_the_logger_is_escaped_too),
	    cmocka_unit_test(test_a_record_line_has_its_time_in_the_form_asked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
