/*
 * test_loki.c: Loki's endpoints (tools/http/loki.c) called directly against
 * a real logbusd, without the HTTP server: every answer is checked against
 * the shape Loki's HTTP API documents (by tests/loki_schema.py, which
 * validates the JSON and prints what it holds), and the records it holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "http/loki.h"

#ifndef LOKI_SCHEMA
#error "LOKI_SCHEMA: the path of tests/loki_schema.py"
#endif

struct answer {
	int status;
	char *body;  /* as loki_serve made it */
	char *shape; /* what loki_schema.py printed */
};

static void answer_free(struct answer *a)
{
	free(a->body);
	free(a->shape);
}

/* GET path with key=value pairs (NULL-terminated), checked by the schema
 * of kind: streams, labels or error. */
static struct answer get(const char *run_dir, const char *kind,
                         http_allow_fn allow, const char *path, ...)
{
	struct http_arg args[16];
	size_t n = 0, len;
	struct answer a;
	va_list ap;
	char *err = NULL;

	va_start(ap, path);
	while (n < 16 && (args[n].key = va_arg(ap, const char *)) != NULL)
		args[n++].value = va_arg(ap, const char *);
	va_end(ap);
	a.status =
	    loki_serve(run_dir, path, args, n, allow, NULL, &a.body, &len);
	assert_non_null(a.body);
	assert_int_equal(strlen(a.body), len);
	const char *argv[] = {"/usr/bin/python3", LOKI_SCHEMA, kind, NULL};
	int st = harness_run(argv, a.body, &a.shape, &err);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s: not Loki's %s shape: %s\nbody: %s", path, kind,
		         err, a.body);
	free(err);
	return a;
}

static void publish(const char *run_dir)
{
	logbus_publisher *p = harness_publisher(run_dir, "api");
	static const struct {
		const char *service, *logger, *message;
		int level;
		enum logbus_stream stream;
		int64_t t;
	} recs[] = {
	    {"api", "pactown.api", "api started", 20, LOGBUS_STREAM_LOG, 1},
	    {"api", "pactown.api", "Traceback: ValueError exception", 40,
	     LOGBUS_STREAM_STDERR, 2},
	    {"api", "pactown.api", "quote \" and\nnewline", 20,
	     LOGBUS_STREAM_LOG, 3},
	    {"api", "pactown.api", "Process failed: SIGKILL", 40,
	     LOGBUS_STREAM_STDERR, 4},
	    {"worker", "worker", "tick", 10, LOGBUS_STREAM_LOG, 5},
	    {"service_123", "pactown.sandbox", "Creating sandbox failed", 40,
	     LOGBUS_STREAM_STDERR, 6},
	};
	for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
		logbus_entry e = {
		    .time_ns = INT64_C(1764000000000000000) +
		               recs[i].t * INT64_C(1000000000),
		    .level = recs[i].level,
		    .stream = recs[i].stream,
		    .logger = recs[i].logger,
		    .message = recs[i].message,
		    .message_len = (size_t)-1,
		    .service = recs[i].service,
		};
		assert_int_equal(logbus_write(p, &e), LOGBUS_OK);
	}
	assert_int_equal(logbus_publisher_close(p, 10000), LOGBUS_OK);
}

static int setup(void **state)
{
	if (harness_setup(state) != 0)
		return -1;
	publish(((struct broker_proc *)*state)->run_dir);
	return 0;
}

/* The records are at 1764000001..6 s; the range covers them all. */
#define START "1764000000000000000"
#define END   "1764000100"

static void test_query_range_groups_streams_newest_first(void **state)
{
	struct broker_proc *b = *state;
	struct answer a =
	    get(b->run_dir, "streams", NULL, "/loki/api/v1/query_range",
	        "query", "{service=\"api\"}", "start", START, "end", END,
	        "step", "60", NULL);

	assert_int_equal(a.status, 200);
	/* a stream per label set, each stream's values newest first, the
	 * streams in the order of their first value */
	assert_string_equal(
	    a.shape,
	    "level=error logger=pactown.api service=api stream=stderr\n"
	    "  1764000004000000000 Process failed: SIGKILL\n"
	    "  1764000002000000000 Traceback: ValueError exception\n"
	    "level=info logger=pactown.api service=api stream=log\n"
	    "  1764000003000000000 quote \" and\\nnewline\n"
	    "  1764000001000000000 api started\n");
	answer_free(&a);
}

static void test_query_range_forward_and_limit(void **state)
{
	struct broker_proc *b = *state;
	struct answer a =
	    get(b->run_dir, "streams", NULL, "/loki/api/v1/query_range",
	        "query", "{service=~\"api|worker\"} != \"started\"", "start",
	        START, "end", END, "limit", "2", "direction", "forward", NULL);

	assert_int_equal(a.status, 200);
	assert_string_equal(
	    a.shape,
	    "level=error logger=pactown.api service=api stream=stderr\n"
	    "  1764000002000000000 Traceback: ValueError exception\n"
	    "level=info logger=pactown.api service=api stream=log\n"
	    "  1764000003000000000 quote \" and\\nnewline\n");
	answer_free(&a);
	/* backward: the last two, counted after the client's filter */
	a = get(b->run_dir, "streams", NULL, "/loki/api/v1/query_range",
	        "query", "{level=\"error\"} !~ \"Creating\"", "start", START,
	        "end", END, "limit", "1", NULL);
	assert_string_equal(
	    a.shape,
	    "level=error logger=pactown.api service=api stream=stderr\n"
	    "  1764000004000000000 Process failed: SIGKILL\n");
	answer_free(&a);
	/* end is exclusive, start inclusive, RFC 3339 both */
	a = get(b->run_dir, "streams", NULL, "/loki/api/v1/query_range",
	        "query", "{service=\"api\"}", "start", "2025-11-24T16:00:02Z",
	        "end", "2025-11-24T17:00:04+01:00", NULL);
	assert_string_equal(
	    a.shape,
	    "level=info logger=pactown.api service=api stream=log\n"
	    "  1764000003000000000 quote \" and\\nnewline\n"
	    "level=error logger=pactown.api service=api stream=stderr\n"
	    "  1764000002000000000 Traceback: ValueError exception\n");
	answer_free(&a);
}

static void test_pactown_query_and_instant_query(void **state)
{
	struct broker_proc *b = *state;
	struct answer a = get(
	    b->run_dir, "streams", NULL, "/loki/api/v1/query_range", "query",
	    "{service=\"api\"} |~ \"(?i)(error|exception|failed|stderr)\"",
	    "start", START, "end", END, NULL);

	assert_string_equal(
	    a.shape,
	    "level=error logger=pactown.api service=api stream=stderr\n"
	    "  1764000004000000000 Process failed: SIGKILL\n"
	    "  1764000002000000000 Traceback: ValueError exception\n");
	answer_free(&a);
	/* instant: the hour up to time, time included */
	a = get(b->run_dir, "streams", NULL, "/loki/api/v1/query", "query",
	        "{service=\"service_123\", level=\"error\"}", "time",
	        "1764000006", NULL);
	assert_int_equal(a.status, 200);
	assert_string_equal(
	    a.shape, "level=error logger=pactown.sandbox service=service_123 "
	             "stream=stderr\n"
	             "  1764000006000000000 Creating sandbox failed\n");
	answer_free(&a);
}

static bool only_api(void *ctx, const char *service)
{
	(void)ctx;
	return strcmp(service, "api") == 0;
}

static void test_a_scope_sees_only_its_services(void **state)
{
	struct broker_proc *b = *state;
	struct answer a =
	    get(b->run_dir, "streams", only_api, "/loki/api/v1/query_range",
	        "query", "{level=\"error\"}", "start", START, "end", END, NULL);

	assert_null(strstr(a.shape, "service_123"));
	assert_non_null(strstr(a.shape, "Process failed"));
	answer_free(&a);
	a = get(b->run_dir, "labels", only_api,
	        "/loki/api/v1/label/service/values", "start", START, "end", END,
	        NULL);
	assert_string_equal(a.shape, "api\n");
	answer_free(&a);
}

static void test_labels_and_values(void **state)
{
	struct broker_proc *b = *state;
	struct answer a =
	    get(b->run_dir, "labels", NULL, "/loki/api/v1/labels", NULL);

	assert_int_equal(a.status, 200);
	assert_string_equal(a.shape, "level\nlogger\nservice\nstream\n");
	answer_free(&a);
	a = get(b->run_dir, "labels", NULL, "/loki/api/v1/label/level/values",
	        "start", START, "end", END, NULL);
	assert_string_equal(a.shape, "debug\nerror\ninfo\n");
	answer_free(&a);
	a = get(b->run_dir, "labels", NULL, "/loki/api/v1/label/service/values",
	        "start", START, "end", END, "query", "{stream=\"stderr\"}",
	        NULL);
	assert_string_equal(a.shape, "api\nservice_123\n");
	answer_free(&a);
	a = get(b->run_dir, "labels", NULL, "/loki/api/v1/label/job/values",
	        NULL);
	assert_string_equal(a.shape, "");
	answer_free(&a);
}

static void test_errors_have_lokis_shape(void **state)
{
	struct broker_proc *b = *state;
	struct answer a =
	    get(b->run_dir, "error", NULL, "/loki/api/v1/query_range", "query",
	        "{service=\"api\" | json", NULL);

	assert_int_equal(a.status, 400);
	assert_string_equal(a.shape, "bad_data: parse error at line 1, col "
	                             "16: expected , or } after a matcher\n");
	answer_free(&a);
	a = get(b->run_dir, "error", NULL, "/loki/api/v1/query_range", "query",
	        "rate({service=\"api\"}[5m])", NULL);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.shape, "metric queries (rate"));
	answer_free(&a);
	a = get(b->run_dir, "error", NULL, "/loki/api/v1/query_range", "query",
	        "{service=\"api\"}", "start", "yesterday", NULL);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.shape, "invalid start 'yesterday'"));
	answer_free(&a);
	a = get(b->run_dir, "error", NULL, "/loki/api/v1/query_range", "query",
	        "{service=\"api\"}", "direction", "sideways", NULL);
	assert_int_equal(a.status, 400);
	answer_free(&a);
	a = get(b->run_dir, "error", NULL, "/loki/api/v1/query_range", "query",
	        "{service=\"api\"}", "limit", "5001", NULL);
	assert_int_equal(a.status, 400);
	answer_free(&a);
	a = get(b->run_dir, "error", NULL, "/loki/api/v1/query_range", NULL);
	assert_int_equal(a.status, 400);
	answer_free(&a);
	a = get(b->run_dir, "error", NULL, "/loki/api/v1/series", NULL);
	assert_int_equal(a.status, 404);
	answer_free(&a);
	a = get("/nonexistent/logbus", "error", NULL,
	        "/loki/api/v1/query_range", "query", "{service=\"api\"}", NULL);
	assert_int_equal(a.status, 503);
	assert_non_null(strstr(a.shape, "unavailable: cannot read logbusd"));
	answer_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_range_groups_streams_newest_first),
	    cmocka_unit_test(test_query_range_forward_and_limit),
	    cmocka_unit_test(test_pactown_query_and_instant_query),
	    cmocka_unit_test(test_a_scope_sees_only_its_services),
	    cmocka_unit_test(test_labels_and_values),
	    cmocka_unit_test(test_errors_have_lokis_shape),
	};
	return cmocka_run_group_tests(tests, setup, harness_teardown);
}
