/*
 * test_error_report.c: broker/error_report.c, the writing side: report
 * files per uid are capped (max-reports-per-uid), the cap is told once,
 * root is not capped, a report taken over by another uid moves its count,
 * the count survives a restart (it is read back from the files), and a
 * link at a report's name or its temporary name is never written through;
 * a report is <service>_error.log, and reports of the old names
 * (service_<service>_error.log) are renamed at start, each said in a
 * record, or left with a WARNING saying how when the new name is taken.
 *
 * tests/test_run.sh covers the reports' text through logbusctl run, and
 * tests/test_files.sh the cap as an unprivileged user of a real logbusd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error_report.h"
#include "exitinfo.h"
#include "unit_broker.h"

/* Add an exit record of service (killed by SIGKILL) to the batch. */
static void add_exit(struct unit_broker *u, const char *service)
{
	static const char *const argv[] = {"sh", "-c", "kill -KILL $$"};
	struct exit_in x = {.code = -9,
	                    .argv = argv,
	                    .argc = 3,
	                    .cwd = "/srv/w",
	                    .err = "bye\n",
	                    .err_len = 4};
	struct record_in in = {
	    .time_ns = 1700000000123456789,
	    .level = LOGBUS_ERROR,
	    .service = {service, (uint32_t)strlen(service)},
	    .logger = {"run", 3},
	    .message = {"Process killed by SIGKILL", 25},
	    .exit = &x,
	};

	unit_batch_add_record(u, &in);
}

/* One batch of uid with an exit record of each service, reported. */
static void exits(struct unit_broker *u, uint32_t uid,
                  const char *const *services, size_t n)
{
	u->uid = uid;
	for (size_t i = 0; i < n; i++)
		add_exit(u, services[i]);
	unit_batch_commit(u);
	error_report_write(&u->b, &u->batch);
	unit_batch_clear(u);
}

static bool report_exists(struct unit_broker *u, const char *service)
{
	char name[128], path[256];
	struct stat st;

	snprintf(name, sizeof name, "%s_error.log", service);
	return lstat(unit_path(u, name, path, sizeof path), &st) == 0 &&
	       S_ISREG(st.st_mode);
}

static void
test_reports_past_the_limit_are_not_written_and_told_once(void **state)
{
	struct unit_broker *u = *state;
	static const char *const first[] = {"s0", "s1", "s2", "s3", "s4"};
	static const char *const later[] = {"s5", "s0"};

	u->b.cfg.max_reports_per_uid = 3;
	exits(u, 5001, first, 5);
	assert_true(report_exists(u, "s0"));
	assert_true(report_exists(u, "s2"));
	assert_false(report_exists(u, "s3"));
	assert_false(report_exists(u, "s4"));
	assert_int_equal(u->b.stats.error_reports, 3);
	exits(u, 5001, later, 2); /* s5 refused, s0 rewritten */
	assert_false(report_exists(u, "s5"));
	assert_int_equal(u->b.stats.error_reports, 4);
	assert_int_equal(unit_broker_logged(u, "max-reports-per-uid"), 1);
	const struct unit_event *ev =
	    unit_broker_event(u, "error reports: uid 5001 has 3 report files");
	assert_non_null(ev);
	assert_int_equal(ev->level, LOGBUS_WARNING);
}

static void test_root_has_no_report_limit(void **state)
{
	struct unit_broker *u = *state;
	static const char *const svcs[] = {"r0", "r1", "r2", "r3"};

	u->b.cfg.max_reports_per_uid = 2;
	exits(u, 0, svcs, 4);
	assert_true(report_exists(u, "r3"));
	assert_int_equal(unit_broker_logged(u, "max-reports-per-uid"), 0);
}

static void test_a_report_taken_over_counts_for_its_new_uid(void **state)
{
	struct unit_broker *u = *state;
	static const char *const a[] = {"a"}, *const b[] = {"b"};

	u->b.cfg.max_reports_per_uid = 1;
	exits(u, 5001, a, 1);
	exits(u, 5001, b, 1);
	assert_false(report_exists(u, "b"));
	exits(u, 5002, a, 1); /* a is 5002's now: 5001 has none */
	exits(u, 5001, b, 1);
	assert_true(report_exists(u, "b"));
}

static void test_the_count_is_read_back_from_the_files(void **state)
{
	struct unit_broker *u = *state;
	static const char *const two[] = {"c0", "c1"}, *const third[] = {"c2"};

	u->b.cfg.max_reports_per_uid = 2;
	exits(u, 5001, two, 2);
	error_report_fini(&u->b); /* as after a restart: counted again */
	exits(u, 5001, third, 1);
	assert_false(report_exists(u, "c2"));
}

static void test_a_batch_writes_one_report_per_service(void **state)
{
	struct unit_broker *u = *state;
	static const char *const svcs[] = {"d", "e", "d", "d"};

	exits(u, 5001, svcs, 4);
	assert_int_equal(u->b.stats.error_reports, 2);
	assert_true(report_exists(u, "d"));
	assert_true(report_exists(u, "e"));
	char path[256];
	struct stat st;
	/* d's report of the batch's first exit never existed: no .1 */
	assert_int_equal(
	    lstat(unit_path(u, "d_error.log.1", path, sizeof path), &st), -1);
}

static void test_links_at_a_report_are_never_followed(void **state)
{
	struct unit_broker *u = *state;
	static const char *const svcs[] = {"x", "y"};
	struct unit_victim v;
	char path[256], text[64];

	unit_victim_make(&v);
	unit_plant(u, v.file, "x_error.log.tmp");
	unit_plant(u, v.file, "x_error.log.1");
	unit_plant(u, v.file, "y_error.log");
	exits(u, 5001, svcs, 2);
	unit_victim_untouched(&v);
	assert_true(report_exists(u, "x"));
	assert_true(report_exists(u, "y"));
	FILE *f = fopen(unit_path(u, "y_error.log", path, sizeof path), "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof text, f));
	fclose(f);
	assert_string_equal(text, "Exit code: -9\n");
	unit_victim_remove(&v);
}

/* A report that cannot be written (here a directory at its temporary
 * name; a full disk in tests/test_disk_faults.sh) is counted, told once
 * while the problem lasts, and written from the journal by the next tick
 * once the way is clear: the last exit record's report, not an older one. */
static void test_a_failed_report_is_counted_and_written_later(void **state)
{
	struct unit_broker *u = *state;
	static const char *const x[] = {"x"};
	char path[256], text[64];

	assert_int_equal(
	    mkdir(unit_path(u, "x_error.log.tmp", path, sizeof path), 0700), 0);
	assert_int_equal(
	    mkdir(unit_path(u, "x_error.log.tmp/in", path, sizeof path), 0700),
	    0);
	exits(u, 5001, x, 1);
	exits(u, 5001, x, 1);
	assert_false(report_exists(u, "x"));
	assert_int_equal(u->b.stats.error_report_errors, 2);
	assert_int_equal(u->b.stats.error_reports, 0);
	assert_int_equal(unit_broker_logged(u, "error report: create"), 1);
	const struct unit_event *ev =
	    unit_broker_event(u, "error report: create");
	assert_int_equal(ev->level, LOGBUS_WARNING);

	error_report_tick(&u->b); /* still in the way: nothing changes */
	assert_false(report_exists(u, "x"));
	assert_int_equal(unit_broker_logged(u, "error report: create"), 1);

	assert_int_equal(
	    rmdir(unit_path(u, "x_error.log.tmp/in", path, sizeof path)), 0);
	assert_int_equal(
	    rmdir(unit_path(u, "x_error.log.tmp", path, sizeof path)), 0);
	error_report_tick(&u->b);
	assert_true(report_exists(u, "x"));
	assert_int_equal(u->b.stats.error_reports, 1);
	FILE *f = fopen(unit_path(u, "x_error.log", path, sizeof path), "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof text, f));
	fclose(f);
	assert_string_equal(text, "Exit code: -9\n");
	assert_int_equal(unit_broker_logged(u, "error reports: writing again"),
	                 1);
	error_report_tick(&u->b); /* written once */
	assert_int_equal(u->b.stats.error_reports, 1);
}

/* A regular file name holding text, under the log directory. */
static void plant_file(struct unit_broker *u, const char *name,
                       const char *text)
{
	char path[256];
	FILE *f = fopen(unit_path(u, name, path, sizeof path), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The first line of name, or "" when there is no such file. */
static const char *first_line(struct unit_broker *u, const char *name,
                              char *buf, size_t len)
{
	char path[256];
	FILE *f = fopen(unit_path(u, name, path, sizeof path), "r");

	buf[0] = '\0';
	if (f && fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	if (f)
		fclose(f);
	return buf;
}

static void test_a_report_is_named_after_its_service(void **state)
{
	struct unit_broker *u = *state;
	static const char *const svcs[] = {"service_123", "7"};
	char path[256];
	struct stat st;

	exits(u, 5001, svcs, 2);
	assert_true(report_exists(u, "service_123"));
	assert_true(report_exists(u, "7"));
	assert_int_equal(lstat(unit_path(u, "service_service_123_error.log",
	                                 path, sizeof path),
	                       &st),
	                 -1);
}

static void test_reports_of_the_old_names_are_renamed_and_said(void **state)
{
	struct unit_broker *u = *state;
	char line[64];

	/* service 7, service service_7 and service abc, by the old names */
	plant_file(u, "service_7_error.log", "seven\n");
	plant_file(u, "service_7_error.log.1", "seven before\n");
	plant_file(u, "service_service_7_error.log", "service_7\n");
	plant_file(u, "service_abc_error.log", "abc\n");
	error_report_migrate(&u->b);
	assert_string_equal(first_line(u, "7_error.log", line, sizeof line),
	                    "seven\n");
	assert_string_equal(first_line(u, "7_error.log.1", line, sizeof line),
	                    "seven before\n");
	assert_string_equal(
	    first_line(u, "service_7_error.log", line, sizeof line),
	    "service_7\n");
	assert_string_equal(first_line(u, "abc_error.log", line, sizeof line),
	                    "abc\n");
	assert_false(report_exists(u, "service_abc"));
	assert_false(report_exists(u, "service_service_7"));
	assert_int_equal(unit_broker_logged(u, "error report: renamed"), 4);
	assert_non_null(unit_broker_event(
	    u, "renamed service_service_7_error.log to service_7_error.log"));

	/* Done once: service_7's report is a new name now, left alone. */
	error_report_migrate(&u->b);
	assert_string_equal(
	    first_line(u, "service_7_error.log", line, sizeof line),
	    "service_7\n");
	assert_int_equal(unit_broker_logged(u, "error report: renamed"), 4);
}

static void test_an_old_name_whose_new_name_is_taken_is_told(void **state)
{
	struct unit_broker *u = *state;
	char line[64];

	plant_file(u, "service_q_error.log", "old q\n");
	plant_file(u, "q_error.log", "new q\n");
	error_report_migrate(&u->b);
	assert_string_equal(first_line(u, "q_error.log", line, sizeof line),
	                    "new q\n");
	assert_string_equal(
	    first_line(u, "service_q_error.log", line, sizeof line), "old q\n");
	const struct unit_event *ev =
	    unit_broker_event(u, "error report: kept service_q_error.log");
	assert_non_null(ev);
	assert_int_equal(ev->level, LOGBUS_WARNING);
	assert_non_null(strstr(ev->message, "mv "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_reports_past_the_limit_are_not_written_and_told_once,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_failed_report_is_counted_and_written_later,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(test_root_has_no_report_limit,
	                                    unit_broker_setup,
	                                    unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_report_taken_over_counts_for_its_new_uid,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_the_count_is_read_back_from_the_files, unit_broker_setup,
	        unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_batch_writes_one_report_per_service, unit_broker_setup,
	        unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_links_at_a_report_are_never_followed, unit_broker_setup,
	        unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_report_is_named_after_its_service, unit_broker_setup,
	        unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reports_of_the_old_names_are_renamed_and_said,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_an_old_name_whose_new_name_is_taken_is_told,
	        unit_broker_setup, unit_broker_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
