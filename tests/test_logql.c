/*
 * test_logql.c: LogQL's parser and matcher (shared/logql.c): every
 * operator, Go's escapes and raw strings, errors that point at the column
 * of the mistake, refusals that name what is outside the subset, and what
 * logbusd is handed plus what the client tests selecting exactly what the
 * query names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filter.h"
#include "logql.h"

static logbus_record rec(const char *service, int level, const char *logger,
                         int stream, const char *message)
{
	logbus_record r;

	memset(&r, 0, sizeof r);
	r.service = service;
	r.level = level;
	r.logger = logger;
	r.stream = (enum logbus_stream)stream;
	r.message = message;
	r.message_len = strlen(message);
	return r;
}

static struct logql *parse_ok(const char *text)
{
	struct logql *q = NULL;
	struct logql_error e;

	if (logql_parse(text, &q, &e) != 0)
		fail_msg("%s: col %d: %s", text, e.col, e.msg);
	return q;
}

/* Whether the query (nothing pushed) selects r. */
static bool selects(const char *text, const logbus_record *r)
{
	struct logql *q = parse_ok(text);
	enum filter_result res = logql_test(q, r);

	logql_free(q);
	assert_int_not_equal(res, FILTER_LIMIT);
	return res == FILTER_YES;
}

static void test_logql_label_matchers_take_all_four_operators(void **state)
{
	(void)state;
	logbus_record api = rec("api", 20, "pactown.sandbox", 0, "hello");
	logbus_record web = rec("web", 20, "pactown", 0, "hello");

	assert_true(selects("{service=\"api\"}", &api));
	assert_false(selects("{service=\"api\"}", &web));
	assert_false(selects("{service!=\"api\"}", &api));
	assert_true(selects("{service!=\"api\"}", &web));
	assert_true(selects("{service=~\"a.*\"}", &api));
	assert_false(selects("{service=~\"a.*\"}", &web));
	assert_false(selects("{service!~\"a.*\"}", &api));
	assert_true(selects("{service!~\"a.*\"}", &web));
	/* a label regex matches the whole value, as in Loki */
	assert_false(selects("{service=~\"ap\"}", &api));
	assert_false(selects("{service=~\"pi\"}", &api));
	assert_true(selects("{logger=\"pactown.sandbox\"}", &api));
	assert_false(selects("{logger=\"pactown\"}", &api));
	assert_true(selects("{logger=\"pactown\"}", &web));
	assert_true(selects("{logger=~\"pactown(\\\\..*)?\"}", &api));
	/* matchers and blanks, newlines and comments between them */
	assert_true(
	    selects(" { service = \"api\" ,\n logger != \"x\" } # c", &api));
	assert_false(selects("{service=\"api\", logger=\"pactown\"}", &api));
}

static void test_logql_levels_are_lowercase_names(void **state)
{
	(void)state;
	logbus_record err = rec("api", 40, "l", 0, "m");
	logbus_record warn = rec("api", 30, "l", 0, "m");
	logbus_record odd = rec("api", 25, "l", 0, "m");
	char buf[16];

	assert_string_equal(logql_level_label(40, buf, sizeof buf), "error");
	assert_string_equal(logql_level_label(50, buf, sizeof buf), "critical");
	assert_string_equal(logql_level_label(25, buf, sizeof buf), "level25");
	assert_true(selects("{level=\"error\"}", &err));
	assert_false(selects("{level=\"error\"}", &warn));
	assert_true(selects("{level!=\"error\"}", &warn));
	assert_true(selects("{level=~\"error|critical\"}", &err));
	assert_false(selects("{level=~\"error|critical\"}", &warn));
	assert_true(selects("{level!~\"error|critical\"}", &warn));
	assert_false(selects("{level=~\"ERROR\"}", &err));
	/* = and != also take logbus's other names and numbers */
	assert_true(selects("{level=\"warn\"}", &warn));
	assert_true(selects("{level=\"40\"}", &err));
	assert_true(selects("{level=\"level25\"}", &odd));
	assert_true(selects("{level=~\"level2.\"}", &odd));
}

static void test_logql_streams(void **state)
{
	(void)state;
	logbus_record out = rec("api", 20, "l", 1, "m");
	logbus_record err = rec("api", 20, "l", 2, "m");

	assert_true(selects("{stream=\"stderr\"}", &err));
	assert_false(selects("{stream=\"stderr\"}", &out));
	assert_true(selects("{stream!=\"stderr\"}", &out));
	assert_true(selects("{stream=~\"std.*\"}", &out));
	assert_false(selects("{stream!~\"std.*\"}", &err));
	assert_string_equal(logql_stream_label(0), "log");
}

static void test_logql_line_filters_chain(void **state)
{
	(void)state;
	const char *q = "{service=\"api\"} |= \"sandbox\" != \"health\" "
	                "|~ \"(?i)ERROR\" !~ \"^debug\"";
	logbus_record yes = rec("api", 40, "l", 0, "error in sandbox 12");
	logbus_record health = rec("api", 40, "l", 0, "sandbox health error");
	logbus_record nocase = rec("api", 40, "l", 0, "sandbox: Error");
	logbus_record dbg = rec("api", 40, "l", 0, "debug: sandbox error");
	logbus_record other = rec("api", 40, "l", 0, "error elsewhere");

	assert_true(selects(q, &yes));
	assert_false(selects(q, &health));
	assert_true(selects(q, &nocase));
	assert_false(selects(q, &dbg));
	assert_false(selects(q, &other));
	/* |= is case-sensitive; an empty one passes everything */
	assert_false(selects("{service=\"api\"} |= \"Sandbox\"", &yes));
	assert_true(selects("{service=\"api\"} |= \"\"", &yes));
	assert_false(selects("{service=\"api\"} != \"\"", &yes));
}

static void test_logql_strings_take_go_escapes_and_raw_strings(void **state)
{
	(void)state;
	logbus_record r =
	    rec("api", 20, "l", 0, "say \"hi\"\tA\xc3\xa9 \\d+ 42 caf\xc3\xa9");

	assert_true(selects("{service=\"api\"} |= \"say \\\"hi\\\"\\t\"", &r));
	assert_true(selects("{service=\"api\"} |= \"\\x41\\u00e9\"", &r));
	assert_true(selects("{service=\"api\"} |= \"\\101\\303\\251\"", &r));
	assert_true(selects("{service=\"api\"} |= \"caf\\U000000e9\"", &r));
	/* a raw string keeps its backslashes: a regex without doubling */
	assert_true(selects("{service=\"api\"} |~ `\\d+$`", &r) == false);
	assert_true(selects("{service=\"api\"} |~ `\\d{2}`", &r));
	assert_true(selects("{service=\"api\"} |= `\\d+`", &r));
	assert_true(selects("{service=~`a.i`}", &r));
}

struct bad {
	const char *query;
	int line, col;
	const char *says;
};

static void check_bad(const struct bad *b)
{
	struct logql *q = NULL;
	struct logql_error e;

	if (logql_parse(b->query, &q, &e) == 0)
		fail_msg("accepted: %s", b->query);
	assert_null(q);
	if (e.line != b->line || e.col != b->col ||
	    strstr(e.msg, b->says) == NULL)
		fail_msg("%s: got line %d col %d \"%s\", want line %d col %d "
		         "\"%s\"",
		         b->query, e.line, e.col, e.msg, b->line, b->col,
		         b->says);
}

static void test_logql_errors_point_at_the_column(void **state)
{
	(void)state;
	static const struct bad bad[] = {
	    {"", 1, 1, "empty"},
	    {"service=\"api\"", 1, 1, "metric queries"},
	    {"\"api\"", 1, 1, "starts with a stream selector"},
	    {"{}", 1, 2, "at least one matcher"},
	    {"{service=\"api\"", 1, 15, "expected , or }"},
	    {"{service=\"api\" level=\"error\"}", 1, 16, "expected , or }"},
	    {"{service=api}", 1, 10, "expected a string"},
	    {"{service==\"api\"}", 1, 10, "expected a string"},
	    {"{service:\"api\"}", 1, 9, "expected =, !=, =~ or !~"},
	    {"{job=\"api\"}", 1, 2, "unknown label \"job\""},
	    {"{,}", 1, 2, "expected a label name"},
	    {"{service=\"api}", 1, 10, "not closed"},
	    {"{service=`api}", 1, 10, "not closed"},
	    {"{service=\"a\npi\"}", 1, 12, "ends on its line"},
	    {"{service=\"a\\qb\"}", 1, 12, "unknown escape \\q"},
	    {"{service=\"a\\x4\"}", 1, 12, "\\x takes 2 hexadecimal"},
	    {"{service=\"a\\ud800\"}", 1, 12, "not a Unicode character"},
	    {"{service=\"a\\18\"}", 1, 12, "octal escape"},
	    {"{service=\"\\x00\"}", 1, 10, "NUL"},
	    {"{service=\"\\xff\"}", 1, 10, "not UTF-8"},
	    {"{service=\"my api\"}", 1, 10, "not a service id"},
	    {"{service=~\"a(\"}", 1, 11, "bad regular expression at offset"},
	    {"{level=\"fatl\"}", 1, 8, "unknown level \"fatl\""},
	    {"{stream=\"err\"}", 1, 9, "unknown stream \"err\""},
	    {"{service=\"api\"} |~ \"(?<\"", 1, 20, "bad regular expression"},
	    {"{service=\"api\"}\n  |= \"x\" ?", 2, 10,
	     "expected a line filter"},
	    {"{service=\"\xc3\xa9\" x", 1, 10, "not a service id"},
	    /* columns count characters, not bytes */
	    {"{service=\"api\"} |= \"\xc3\xa9\" ?", 1, 24,
	     "expected a line filter"},
	    {"{service=\"api\"} |=", 1, 19, "expected a string"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_bad(&bad[i]);
}

static void test_logql_refuses_what_is_outside_the_subset(void **state)
{
	(void)state;
	static const struct bad bad[] = {
	    {"{service=\"api\"} | json", 1, 17, "the | json stage is not"},
	    {"{service=\"api\"} |logfmt", 1, 17, "the | logfmt stage"},
	    {"{service=\"api\"} | line_format \"{{.x}}\"", 1, 17,
	     "| line_format"},
	    {"{service=\"api\"} | level=\"error\"", 1, 17,
	     "label filters after the selector (| level"},
	    {"{service=\"api\"} |> \"<_> error\"", 1, 17, "pattern line"},
	    {"{service=\"api\"} !> \"<_>\"", 1, 17, "pattern line"},
	    {"{service=\"api\"} |= \"a\" or \"b\"", 1, 24, "\"or\" between"},
	    {"{service=\"api\"} |= ip(\"1.2.3.4\")", 1, 20, "ip(...)"},
	    {"rate({service=\"api\"}[5m])", 1, 1, "metric queries (rate"},
	    {"count_over_time({service=\"api\"}[5m])", 1, 1,
	     "metric queries (count_over_time"},
	    {"sum by (service) (rate({service=\"api\"}[1m]))", 1, 1,
	     "metric queries (sum"},
	    {"{service=\"api\"}[5m]", 1, 16, "range like [5m]"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_bad(&bad[i]);
}

/* The view filter_test reads, of a record. */
static struct record_view view_of(const logbus_record *r)
{
	struct record_view v;

	memset(&v, 0, sizeof v);
	v.level = r->level;
	v.stream = (int)r->stream;
	v.service.p = r->service;
	v.service.len = (uint32_t)strlen(r->service);
	v.logger.p = r->logger;
	v.logger.len = (uint32_t)strlen(r->logger);
	v.message.p = r->message;
	v.message.len = (uint32_t)r->message_len;
	return v;
}

/* What logbusd is handed, then what the client tests, against the whole
 * query tested by the client alone: the same records, for every query and
 * record here.  pushed_any: whether the broker got something to do. */
static void check_split(const char *text, const logbus_record *recs, size_t n,
                        bool pushed_any)
{
	struct logql *whole = parse_ok(text), *split = parse_ok(text);
	logbus_filter pub;
	struct filter f;
	char err[256];

	memset(&pub, 0, sizeof pub);
	logql_push(split, &pub);
	if (filter_from_public(&f, &pub, err, sizeof err) != 0)
		fail_msg("%s: the pushed filter is refused: %s", text, err);
	bool any = pub.nservices || pub.min_level || pub.max_level ||
	           pub.logger_prefix || pub.streams || pub.message_regex;
	if (any != pushed_any)
		fail_msg("%s: pushed %s", text, any ? "something" : "nothing");
	for (size_t i = 0; i < n; i++) {
		struct record_view v = view_of(&recs[i]);
		bool want = logql_test(whole, &recs[i]) == FILTER_YES;
		bool got = filter_test(&f, &v) == FILTER_YES &&
		           logql_test(split, &recs[i]) == FILTER_YES;
		if (want != got)
			fail_msg(
			    "%s: record %zu (%s %d %s %d \"%s\"): whole %d, "
			    "split %d",
			    text, i, recs[i].service, recs[i].level,
			    recs[i].logger, (int)recs[i].stream,
			    recs[i].message, want, got);
	}
	filter_fini(&f);
	logql_free(whole);
	logql_free(split);
}

static void test_logql_broker_and_client_split_selects_the_same(void **state)
{
	(void)state;
	static const char *const services[] = {"api", "web", "service_1",
	                                       "api.v2"};
	static const int levels[] = {0, 10, 20, 25, 30, 40, 50, 60};
	static const char *const loggers[] = {"pactown", "pactown.sandbox",
	                                      "pactownx", "other"};
	static const char *const messages[] = {
	    "Creating sandbox for service_123", "ERROR: failed to start",
	    "health ok", "a.b (c) [d] *e* ?", "caf\xc3\xa9 Exception"};
	static logbus_record recs[4 * 8 * 4 * 3 * 5];
	size_t n = 0;

	for (size_t s = 0; s < 4; s++)
		for (size_t l = 0; l < 8; l++)
			for (size_t g = 0; g < 4; g++)
				for (int st = 0; st < 3; st++)
					for (size_t m = 0; m < 5; m++)
						recs[n++] =
						    rec(services[s], levels[l],
						        loggers[g], st,
						        messages[m]);
	static const struct {
		const char *q;
		bool pushed;
	} queries[] = {
	    {"{service=\"api\"}", true},
	    {"{service!=\"api\"}", false},
	    {"{service=~\"api|web\"}", true},
	    {"{service=~\"api\\\\.v2|web\"}", true},
	    {"{service=~\"api.v2\"}", false},
	    {"{service=~\"a.*\"}", false},
	    {"{service=\"api\", service=\"web\"}", true},
	    {"{level=\"error\"}", true},
	    {"{level=~\"error|critical\"}", true},
	    {"{level=~\"warning|critical\"}", true},
	    {"{level!=\"info\"}", false},
	    {"{level=\"level0\"}", false},
	    {"{level=~\"debug|level0\"}", true},
	    {"{stream=\"stderr\"}", true},
	    {"{stream!=\"log\", stream!=\"stdout\"}", true},
	    {"{logger=\"pactown\"}", true},
	    {"{logger=~\"pactown.*\"}", false},
	    {"{service=\"api\"} |= \"a.b (c) [d] *e* ?\"", true},
	    {"{service=\"api\"} |= \"caf\xc3\xa9\" |~ \"Exc\"", true},
	    {"{service=\"api\"} != \"health\" |= \"sandbox\"", true},
	    {"{service=~\".+\"} !~ \"(?i)error\"", false},
	    {"{service=\"api\"} |~ \"(?i)(error|exception|failed|stderr)\"",
	     true},
	};
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
		check_split(queries[i].q, recs, n, queries[i].pushed);
}

static void test_logql_a_query_nothing_can_match_is_empty(void **state)
{
	(void)state;
	struct logql *q = parse_ok("{level=\"error\", level=\"info\"}");
	logbus_record r = rec("api", 40, "l", 0, "m");
	logbus_filter pub = {0};

	assert_true(logql_empty(q));
	logql_push(q, &pub);
	assert_int_equal(logql_test(q, &r), FILTER_NO);
	logql_free(q);
	q = parse_ok("{stream=\"log\", stream=\"stderr\"}");
	assert_true(logql_empty(q));
	logql_free(q);
	q = parse_ok("{level!=\"info\"}");
	assert_false(logql_empty(q));
	logql_free(q);
}

static void test_logql_regex_gives_up_at_its_limit(void **state)
{
	(void)state;
	char msg[64];
	memset(msg, 'a', sizeof msg - 2);
	msg[sizeof msg - 2] = 'b';
	msg[sizeof msg - 1] = '\0';
	logbus_record r = rec("api", 20, "l", 0, msg);
	struct logql *q = parse_ok("{service=\"api\"} != \"x\" |~ "
	                           "\"^(a|a?)+$\"");

	assert_int_equal(logql_test(q, &r), FILTER_LIMIT);
	logql_free(q);
}

/* The queries of the pactown logging guide, verbatim: the issue quotes
 * the first; the other three are typical ones on service, level and a
 * line filter (the guide's text is not in the tracker). */
static void test_logql_pactown_queries(void **state)
{
	(void)state;
	logbus_record crash =
	    rec("api", 40, "pactown.sandbox", 2, "Process failed: exit 1");
	logbus_record ok = rec("api", 20, "pactown.sandbox", 0, "started");
	logbus_record svc = rec("service_123", 40, "pactown.sandbox", 2,
	                        "Traceback: Exception");

	assert_true(selects(
	    "{service=\"api\"} |~ \"(?i)(error|exception|failed|stderr)\"",
	    &crash));
	assert_false(selects(
	    "{service=\"api\"} |~ \"(?i)(error|exception|failed|stderr)\"",
	    &ok));
	assert_true(
	    selects("{service=\"service_123\", level=\"error\"}", &svc));
	assert_true(
	    selects("{service=~\"service_.*\", stream=\"stderr\"}", &svc));
	assert_false(
	    selects("{service=~\"service_.*\", stream=\"stderr\"}", &crash));
	assert_true(selects("{logger=\"pactown.sandbox\", level=~\"error|"
	                    "critical\"} |= \"Exception\"",
	                    &svc));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_logql_label_matchers_take_all_four_operators),
	    cmocka_unit_test(test_logql_levels_are_lowercase_names),
	    cmocka_unit_test(test_logql_streams),
	    cmocka_unit_test(test_logql_line_filters_chain),
	    cmocka_unit_test(
	        test_logql_strings_take_go_escapes_and_raw_strings),
	    cmocka_unit_test(test_logql_errors_point_at_the_column),
	    cmocka_unit_test(test_logql_refuses_what_is_outside_the_subset),
	    cmocka_unit_test(
	        test_logql_broker_and_client_split_selects_the_same),
	    cmocka_unit_test(test_logql_a_query_nothing_can_match_is_empty),
	    cmocka_unit_test(test_logql_regex_gives_up_at_its_limit),
	    cmocka_unit_test(test_logql_pactown_queries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
