/*
 * test_owners.c: one publisher for many services (a service per record, in
 * logbus_write and logbus_report_exit), checked against who owns each
 * service, record by record (broker/owners.h).
 */
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "logbus/logbus.h"

#define NSERVICES 200

struct seen {
	int per_service[NSERVICES]; /* records of sandbox_NNN */
	int mismatched;             /* a message under another service */
	uint32_t uid;               /* of the last record */
	int others;                 /* records of any other service */
	char services[4][64];       /* the others' services, in order */
};

static void see(const logbus_record *rec, void *arg)
{
	struct seen *s = arg;
	unsigned n;
	char expect[160];

	if (sscanf(rec->service, "sandbox_%3u", &n) == 1 && n < NSERVICES) {
		snprintf(expect, sizeof expect, "record of %s", rec->service);
		s->per_service[n]++;
		s->mismatched += strcmp(rec->message, expect) != 0;
	} else {
		if (s->others < 4)
			snprintf(s->services[s->others], sizeof s->services[0],
			         "%s", rec->service);
		s->others++;
	}
	s->uid = rec->uid;
}

/* A supervisor of 200 sandboxes: one connection, one thread, every record
 * under its own service. */
static void test_one_publisher_writes_200_services(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "supervisor");
	char svc[64], msg[96];

	for (int i = 0; i < NSERVICES; i++) {
		snprintf(svc, sizeof svc, "sandbox_%03d", i);
		snprintf(msg, sizeof msg, "record of %s", svc);
		logbus_entry e = {.level = LOGBUS_INFO,
		                  .message = msg,
		                  .message_len = (size_t)-1,
		                  .service = svc};
		assert_int_equal(logbus_write(p, &e), LOGBUS_OK);
	}
	assert_int_equal(logbus_flush(p, HARNESS_WAIT_MS), LOGBUS_OK);

	struct seen s = {0};
	logbus_reader_options ro = {.run_dir = b->run_dir};
	harness_read_each(&ro, see, &s);
	for (int i = 0; i < NSERVICES; i++)
		assert_int_equal(s.per_service[i], 1);
	assert_int_equal(s.mismatched, 0);
	assert_int_equal(s.others, 0); /* nothing under "supervisor" */
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);
}

/* logbus_report_exit with e->service writes that service's report. */
static void test_exit_report_of_a_named_service(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "supervisor");
	const char *files[] = {"main.py"};
	logbus_exit e = {.exit_code = 3,
	                 .files = files,
	                 .nfiles = 1,
	                 .service = "sandbox_042"};
	char *text = NULL, why[256];
	size_t len;
	int64_t when;

	assert_int_equal(logbus_report_exit(p, &e, HARNESS_WAIT_MS), LOGBUS_OK);
	assert_int_equal(logbus_error_report(b->run_dir, "sandbox_042", 0,
	                                     &text, &len, &when, why,
	                                     sizeof why),
	                 LOGBUS_OK);
	assert_non_null(strstr(text, "Exit code: 3\n"));
	free(text);
	assert_int_equal(logbus_error_report(b->run_dir, "supervisor", 0, &text,
	                                     &len, &when, why, sizeof why),
	                 LOGBUS_ENOTFOUND);
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);
}

/* A record's service is checked like the publisher's, before it is
 * queued. */
static void test_bad_service_of_a_record_is_refused_at_once(void **state)
{
	struct broker_proc *b = *state;
	logbus_publisher *p = harness_publisher(b->run_dir, "supervisor");
	char why[256];
	logbus_entry e = {.level = LOGBUS_INFO,
	                  .message = "x",
	                  .message_len = 1,
	                  .service = "../etc"};
	logbus_exit x = {.exit_code = 1, .nfiles = 0, .service = ".hidden"};

	assert_int_equal(logbus_write(p, &e), LOGBUS_EINVAL);
	assert_non_null(strstr(logbus_publisher_error(p, why, sizeof why),
	                       "service '../etc'"));
	assert_int_equal(logbus_report_exit(p, &x, HARNESS_WAIT_MS),
	                 LOGBUS_EINVAL);
	logbus_publisher_stats st;
	logbus_publisher_get_stats(p, &st);
	assert_int_equal(st.logged, 0);
	/* and the publisher goes on */
	e.service = "sandbox_1";
	assert_int_equal(logbus_write(p, &e), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);
}

struct by_service {
	const char *service;
	int n;
	uint32_t uid;
};

static void count_service(const logbus_record *rec, void *arg)
{
	struct by_service *c = arg;

	for (; c->service != NULL; c++)
		if (strcmp(rec->service, c->service) == 0) {
			c->n++;
			c->uid = rec->uid;
		}
}

/* Another user's batch holds a record of root's service between two of
 * services nobody owns: that one is refused, saying whose it is; the two
 * others are committed. */
static void test_refused_service_does_not_lose_the_others(void **state)
{
	struct broker_proc *b = *state;
	const struct passwd *pw = getpwnam("nobody");
	char helper[4096];

	harness_need_nobody();
	assert_int_equal(chmod(b->dir, 0755), 0); /* nobody reaches run/ */
	logbus_publisher *p = harness_publisher(b->run_dir, "taken");
	assert_int_equal(logbus_log(p, LOGBUS_INFO, "root's own"), LOGBUS_OK);
	assert_int_equal(logbus_flush(p, HARNESS_WAIT_MS), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(p, HARNESS_WAIT_MS), LOGBUS_OK);

	const char *const argv[] = {
	    harness_bin("owners_publisher", helper, sizeof helper),
	    b->run_dir,
	    "free_a",
	    "taken",
	    "free_b",
	    NULL};
	char *o = NULL, *e = NULL;
	int status = harness_run_as_nobody(argv, &o, &e);
	print_message("  owners_publisher: %s%s", o ? o : "", e ? e : "");
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	char expect[64];
	snprintf(expect, sizeof expect, "flush=%d committed=2 rejected=1",
	         LOGBUS_EREJECTED);
	assert_non_null(strstr(o, expect));
	assert_non_null(strstr(o, "(not_owner): service taken belongs to "
	                          "root (uid 0), who published it first"));
	assert_non_null(strstr(o, "[owners]"));
	free(o);
	free(e);

	struct by_service c[] = {
	    {"free_a", 0, 0}, {"taken", 0, 0}, {"free_b", 0, 0}, {NULL, 0, 0}};
	logbus_reader_options ro = {.run_dir = b->run_dir};
	harness_read_each(&ro, count_service, c);
	assert_int_equal(c[0].n, 1);
	assert_int_equal(c[0].uid, pw->pw_uid);
	assert_int_equal(c[1].n, 1); /* root's only */
	assert_int_equal(c[1].uid, 0);
	assert_int_equal(c[2].n, 1);
	assert_int_equal(c[2].uid, pw->pw_uid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_one_publisher_writes_200_services, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(test_exit_report_of_a_named_service,
	                                    harness_setup, harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_service_of_a_record_is_refused_at_once, harness_setup,
	        harness_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_refused_service_does_not_lose_the_others, harness_setup,
	        harness_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
