/*
 * test_routes.c: broker/routes.c, the routed files: rotation by size with
 * a bounded number of backups, reopening after logrotate moved a file, and
 * a file that cannot be written (disk full) reported once, skipped, and
 * caught up from the journal when it works again; a symbolic link at a
 * route's name, at by-logger/ or at a route's directory is never written
 * through.
 *
 * tests/test_routes.sh covers the same files through a running logbusd
 * (its ctest is test_routes_cli).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout.h"
#include "files.h"
#include "journal.h"
#include "routes.h"
#include "unit_broker.h"

/*
 * A full disk for one file: this program is linked with -Wl,--wrap=write,
 * so routes.c's write(2) comes here and fails with ENOSPC on the file whose
 * inode full_ino names.
 */
static ino_t full_ino;
ssize_t __real_write(int fd, const void *p, size_t n);
ssize_t __wrap_write(int fd, const void *p, size_t n);

ssize_t __wrap_write(int fd, const void *p, size_t n)
{
	struct stat st;

	if (full_ino && fstat(fd, &st) == 0 && st.st_ino == full_ino) {
		errno = ENOSPC;
		return -1;
	}
	return __real_write(fd, p, n);
}

/* Routes from one --route spec, without all.log and by-logger/. */
static struct routes *routes_of(struct unit_broker *u, const char *spec)
{
	const char *specs[] = {spec};
	struct routes_config rc = {.specs = specs, .nspecs = 1};
	char err[256];
	struct routes *r = routes_new(&u->b, &rc, err, sizeof err);

	if (r == NULL)
		fail_msg("routes_new(%s): %s", spec, err);
	return r;
}

/* Commit records "line <first>".."line <first+n-1>" and route them. */
static void write_lines(struct unit_broker *u, struct routes *r, int first,
                        int n)
{
	char msg[32];

	for (int i = first; i < first + n; i++) {
		snprintf(msg, sizeof msg, "line %02d", i);
		unit_batch_add(u, "svc", "app", LOGBUS_INFO, msg);
	}
	unit_batch_commit(u);
	routes_write(r, &u->batch);
	unit_batch_clear(u);
}

/* The file's contents (empty when missing) and its size. */
static char *slurp(struct unit_broker *u, const char *name, size_t *size)
{
	char path[256];
	FILE *f = fopen(unit_path(u, name, path, sizeof path), "r");
	char *text = calloc(1, 64 * 1024);

	assert_non_null(text);
	*size = f ? fread(text, 1, 64 * 1024 - 1, f) : 0;
	if (f)
		fclose(f);
	return text;
}

static bool exists(struct unit_broker *u, const char *name)
{
	char path[256];
	struct stat st;

	return lstat(unit_path(u, name, path, sizeof path), &st) == 0;
}

/* The numbers of the "line NN" lines of a file, in order; how many. */
static int lines_of(struct unit_broker *u, const char *name, int *nums, int max)
{
	size_t size;
	char *text = slurp(u, name, &size);
	int n = 0;

	for (char *p = text; (p = strstr(p, ": line ")) != NULL && n < max;
	     p += 7)
		nums[n++] = atoi(p + 7);
	free(text);
	return n;
}

static void test_route_rotates_by_size_and_keeps_that_many_backups(void **state)
{
	struct unit_broker *u = *state;
	/* a line: "2023-11-14 22:13:20,123 [INFO] app svc: line 00\n", 48
	 * bytes: two fit in 100 */
	struct routes *r = routes_of(u, "app.log:max-size=100,backups=2");
	struct routes_stats st;
	int nums[64];
	size_t size;

	for (int i = 0; i < 10; i++)
		write_lines(u, r, i, 1);
	write_lines(u, r, 10, 5); /* and within one batch */
	routes_get_stats(r, &st);
	assert_int_equal(st.rotations, 7);
	/* the newest lines, two per file, the oldest in the last backup */
	assert_int_equal(lines_of(u, "app.log.2", nums, 64), 2);
	assert_int_equal(nums[0], 10);
	assert_int_equal(nums[1], 11);
	assert_int_equal(lines_of(u, "app.log.1", nums, 64), 2);
	assert_int_equal(nums[0], 12);
	assert_int_equal(nums[1], 13);
	assert_int_equal(lines_of(u, "app.log", nums, 64), 1);
	assert_int_equal(nums[0], 14);
	assert_false(exists(u, "app.log.3"));
	free(slurp(u, "app.log.1", &size));
	assert_true(size > 50 && size <= 100);
	routes_free(r);
}

static void test_no_backups_means_no_rotation(void **state)
{
	struct unit_broker *u = *state;
	struct routes *r = routes_of(u, "app.log:max-size=100,backups=0");
	int nums[64];

	write_lines(u, r, 0, 10);
	assert_false(exists(u, "app.log.1"));
	assert_int_equal(lines_of(u, "app.log", nums, 64), 10);
	routes_free(r);
}

/* [routes] max-size and backups: all.log and by-logger/ take them, and so
 * does a route without settings of its own; a route's own win. */
static void test_default_files_take_the_routes_rotation(void **state)
{
	struct unit_broker *u = *state;
	const char *specs[] = {"plain.log", "own.log:max-size=1M,backups=1"};
	struct routes_config rc = {.specs = specs,
	                           .nspecs = 2,
	                           .defaults = true,
	                           .max_bytes = 100,
	                           .backups = 3};
	char err[256];
	int nums[64];
	struct routes *r = routes_new(&u->b, &rc, err, sizeof err);

	assert_non_null(r);
	write_lines(u, r, 0, 10); /* 44 bytes a line: two per file */
	assert_true(exists(u, "all.log.3"));
	assert_false(exists(u, "all.log.4"));
	assert_true(exists(u, "by-logger/app.log.3"));
	assert_false(exists(u, "by-logger/app.log.4"));
	assert_true(exists(u, "plain.log.3"));
	assert_false(exists(u, "own.log.1"));
	assert_int_equal(lines_of(u, "own.log", nums, 64), 10);
	routes_free(r);
}

/* max-size = 0: logbusd never renames or removes a file (logrotate does),
 * it only opens the name again when told to. */
static void test_max_size_0_leaves_rotation_to_logrotate(void **state)
{
	struct unit_broker *u = *state;
	const char *specs[] = {"plain.log"};
	struct routes_config rc = {
	    .specs = specs, .nspecs = 1, .defaults = true, .backups = 5};
	char err[256], from[256], to[256];
	int nums[64];
	struct routes *r = routes_new(&u->b, &rc, err, sizeof err);

	assert_non_null(r);
	for (int i = 0; i < 40; i++)
		write_lines(u, r, i, 100);
	assert_false(exists(u, "all.log.1"));
	assert_false(exists(u, "by-logger/app.log.1"));
	assert_false(exists(u, "plain.log.1"));
	assert_int_equal(lines_of(u, "all.log", nums, 64), 64);
	/* logrotate moves it, then `logbusctl rotate` */
	assert_int_equal(rename(unit_path(u, "all.log", from, sizeof from),
	                        unit_path(u, "all.log.1", to, sizeof to)),
	                 0);
	routes_reopen(r);
	write_lines(u, r, 4000, 1);
	assert_int_equal(lines_of(u, "all.log", nums, 64), 1);
	assert_int_equal(nums[0], 4000);
	assert_false(exists(u, "all.log.2"));
	routes_free(r);
}

static void test_reopen_starts_a_new_file_after_logrotate_moved_it(void **state)
{
	struct unit_broker *u = *state;
	struct routes *r = routes_of(u, "app.log");
	char from[256], to[256];
	int nums[64];

	write_lines(u, r, 0, 2);
	assert_int_equal(rename(unit_path(u, "app.log", from, sizeof from),
	                        unit_path(u, "moved.log", to, sizeof to)),
	                 0);
	write_lines(u, r, 2, 1); /* still the open file, now moved.log */
	assert_false(exists(u, "app.log"));
	assert_int_equal(routes_reopen(r), 1);
	assert_int_equal(routes_reopen(r), 0); /* nothing open any more */
	write_lines(u, r, 3, 2);
	assert_int_equal(lines_of(u, "moved.log", nums, 64), 3);
	assert_int_equal(nums[2], 2);
	assert_int_equal(lines_of(u, "app.log", nums, 64), 2);
	assert_int_equal(nums[0], 3);
	assert_int_equal(nums[1], 4);
	routes_free(r);
}

static void test_disk_full_is_reported_once_and_caught_up_later(void **state)
{
	struct unit_broker *u = *state;
	char path[256];
	struct routes_stats st;
	int nums[64];

	struct stat fst;
	unit_path(u, "full.log", path, sizeof path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
	assert_true(fd >= 0 && fstat(fd, &fst) == 0);
	close(fd);
	full_ino = fst.st_ino; /* every write: ENOSPC */
	struct routes *r = routes_of(u, "full.log");

	write_lines(u, r, 0, 2);
	assert_int_equal(unit_broker_logged(u, "No space left on device"), 1);
	const struct unit_event *ev = unit_broker_event(u, "route full.log");
	assert_non_null(ev);
	assert_int_equal(ev->level, LOGBUS_WARNING);
	assert_non_null(strstr(ev->message, "cannot write"));
	routes_get_stats(r, &st);
	assert_int_equal(st.failing, 1);
	assert_true(st.errors >= 1);

	write_lines(u, r, 2, 2); /* skipped: its records stay in the journal */
	routes_tick(r);          /* tried again: the same problem, not said */
	assert_int_equal(unit_broker_logged(u, "No space left on device"), 1);
	routes_get_stats(r, &st);
	assert_int_equal(st.failing, 1);

	full_ino = 0; /* room again */
	routes_tick(r);
	routes_get_stats(r, &st);
	assert_int_equal(st.failing, 0);
	assert_int_equal(unit_broker_logged(u, "writing again"), 1);
	assert_int_equal(lines_of(u, "full.log", nums, 64), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(nums[i], i);
	write_lines(u, r, 4, 1); /* and new batches go straight in */
	assert_int_equal(lines_of(u, "full.log", nums, 64), 5);
	routes_free(r);
}

/* ---- after a crash: journal/fanout (routes_resume) --------------------- */

/* The broker's positions, opened as at a start. */
static void fanout_start(struct unit_broker *u)
{
	char note[512];

	fanout_free(u->b.fanout);
	u->b.fanout = fanout_open(u->b.dirs.log_fd, u->dir,
	                          journal_id(u->b.journal), note, sizeof note);
	assert_non_null(u->b.fanout);
}

/* all.log and by-logger/, as logbusd's defaults, resumed as at a start. */
static struct routes *defaults_started(struct unit_broker *u)
{
	struct routes_config rc = {.defaults = true};
	char err[256];

	fanout_start(u);
	struct routes *r = routes_new(&u->b, &rc, err, sizeof err);
	assert_non_null(r);
	routes_resume(r);
	return r;
}

/* The batch committed and fanned out, with the positions' mark, as
 * ingest_fanout does. */
static void fan_out(struct unit_broker *u, struct routes *r, int first, int n)
{
	write_lines(u, r, first, n);
	uint64_t last = journal_last_seq(u->b.journal);
	fanout_mark(u->b.fanout, last, last);
}

/* Lines first..first+n-1 committed to the journal only: the crash came
 * between the journal write and the fan-out. */
static void commit_only(struct unit_broker *u, int first, int n)
{
	char msg[32];

	for (int i = first; i < first + n; i++) {
		snprintf(msg, sizeof msg, "line %02d", i);
		unit_batch_add(u, "svc", "app", LOGBUS_INFO, msg);
	}
	unit_batch_commit(u);
	unit_batch_clear(u);
}

/* name holds lines 0..n-1, each once, in order. */
static void holds_each_once(struct unit_broker *u, const char *name, int n)
{
	int nums[64];

	assert_int_equal(lines_of(u, name, nums, 64), n);
	for (int i = 0; i < n; i++)
		assert_int_equal(nums[i], i);
}

static void test_resume_writes_the_lines_a_crash_kept_out(void **state)
{
	struct unit_broker *u = *state;
	struct routes *r = defaults_started(u);

	fan_out(u, r, 0, 3);
	commit_only(u, 3, 3);
	routes_free(r); /* the crash */
	r = defaults_started(u);
	holds_each_once(u, "all.log", 6);
	holds_each_once(u, "by-logger/app.log", 6);
	fan_out(u, r, 6, 1);
	holds_each_once(u, "all.log", 7);
	routes_free(r);
}

/* The crash came after the lines were written, before their positions:
 * journal/fanout is put back as it was before the batch. */
static void crash_after_write(struct unit_broker *u, struct routes **r,
                              off_t tear)
{
	char path[256], all[256];
	size_t len;

	fan_out(u, *r, 0, 3);
	unit_path(u, "journal/" FANOUT_FILE, path, sizeof path);
	char *before = files_slurp(path, &len);
	assert_non_null(before);
	write_lines(u, *r, 3, 3);
	routes_free(*r);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(before, 1, len, f), len);
	fclose(f);
	free(before);
	if (tear) { /* the last write(2) only partly done */
		struct stat st;
		unit_path(u, "all.log", all, sizeof all);
		assert_int_equal(stat(all, &st), 0);
		assert_int_equal(truncate(all, st.st_size - tear), 0);
	}
	*r = defaults_started(u);
}

static void test_resume_writes_no_line_twice(void **state)
{
	struct unit_broker *u = *state;
	struct routes *r = defaults_started(u);

	crash_after_write(u, &r, 0);
	holds_each_once(u, "all.log", 6);
	holds_each_once(u, "by-logger/app.log", 6);
	routes_free(r);
}

static void test_resume_cuts_a_torn_line_and_writes_it_whole(void **state)
{
	struct unit_broker *u = *state;
	struct routes *r = defaults_started(u);
	size_t size;

	crash_after_write(u, &r, 20); /* "line 05\n" and more torn off */
	holds_each_once(u, "all.log", 6);
	char *text = slurp(u, "all.log", &size);
	assert_int_equal(size, strlen(text));
	assert_int_equal(text[size - 1], '\n');
	for (char *p = text; (p = strchr(p, '\n')) != NULL && p[1]; p++)
		assert_true(p[1] >= '0' && p[1] <= '9'); /* every line whole */
	free(text);
	assert_int_equal(unit_broker_logged(u, "left torn"), 1);
	routes_free(r);
}

/* A link at name (to the victim's file, or its directory): the route of
 * spec fails, reported, and never writes through it. */
static void route_fails_at_link(struct unit_broker *u, bool to_dir,
                                const char *name, const char *spec)
{
	struct unit_victim v;
	struct routes_stats st;
	char about[64];

	unit_victim_make(&v);
	unit_plant(u, to_dir ? v.dir : v.file, name);
	struct routes *r = routes_of(u, spec);
	write_lines(u, r, 0, 2);
	unit_victim_untouched(&v);
	routes_get_stats(r, &st);
	assert_int_equal(st.failing, 1);
	snprintf(about, sizeof about, "route %s: cannot", spec);
	assert_non_null(unit_broker_event(u, about));
	routes_free(r);
	unit_victim_remove(&v);
}

static void test_a_link_at_a_route_file_is_never_followed(void **state)
{
	route_fails_at_link(*state, false, "app.log", "app.log");
	assert_non_null(unit_broker_event(*state, "symbolic links"));
}

static void test_a_link_at_a_route_directory_is_never_followed(void **state)
{
	route_fails_at_link(*state, true, "sub", "sub/precious");
}

static void test_a_link_at_by_logger_is_never_followed(void **state)
{
	struct unit_broker *u = *state;
	struct unit_victim v;
	struct routes_config rc = {.defaults = true};
	char err[256];
	size_t size;

	unit_victim_make(&v);
	unit_plant(u, v.dir, "by-logger");
	struct routes *r = routes_new(&u->b, &rc, err, sizeof err);
	assert_non_null(r);
	write_lines(u, r, 0, 2); /* logger "app": by-logger/app.log */
	unit_victim_untouched(&v);
	char *text = slurp(u, "all.log", &size); /* all.log is written */
	assert_non_null(strstr(text, "app svc: line 01"));
	free(text);
	assert_non_null(unit_broker_event(u, "route by-logger/app.log"));
	routes_free(r);
	unit_victim_remove(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_route_rotates_by_size_and_keeps_that_many_backups,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_resume_writes_the_lines_a_crash_kept_out,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(test_resume_writes_no_line_twice,
	                                    unit_broker_setup,
	                                    unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_resume_cuts_a_torn_line_and_writes_it_whole,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(test_no_backups_means_no_rotation,
	                                    unit_broker_setup,
	                                    unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_default_files_take_the_routes_rotation, unit_broker_setup,
	        unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_max_size_0_leaves_rotation_to_logrotate, unit_broker_setup,
	        unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reopen_starts_a_new_file_after_logrotate_moved_it,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_disk_full_is_reported_once_and_caught_up_later,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_link_at_a_route_file_is_never_followed,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_link_at_a_route_directory_is_never_followed,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_link_at_by_logger_is_never_followed, unit_broker_setup,
	        unit_broker_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
