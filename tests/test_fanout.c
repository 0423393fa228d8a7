/*
 * test_fanout.c: broker/fanout.c, journal/fanout: positions kept across a
 * restart; a missing file made; a damaged header, a damaged slot, a torn
 * last slot and a file of another journal never used as positions, and
 * said in the note.
 *
 * routes_resume's use of them is in test_routes.c; the crashes themselves
 * in the crash campaign's fault tests (tests/CMakeLists.txt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout.h"
#include "journal.h"
#include "unit_broker.h"

static struct fanout *open_as(struct unit_broker *u, const unsigned char *id,
                              char *note, size_t len)
{
	struct fanout *f = fanout_open(u->b.dirs.log_fd, u->dir, id, note, len);
	assert_non_null(f);
	assert_string_equal(fanout_error(f), "");
	return f;
}

static struct fanout *open_fanout(struct unit_broker *u, char *note, size_t len)
{
	return open_as(u, journal_id(u->b.journal), note, len);
}

/* a.log done at 7, b.log at 9 (failing), marks 9 and 8. */
static void save_two(struct unit_broker *u)
{
	char note[512];
	struct fanout_pos pos, a = {.done = 7, .dev = 1, .ino = 2, .size = 300},
	                       b = {.done = 9, .failing = true};
	bool found;
	struct fanout *f = open_fanout(u, note, sizeof note);

	int sa = fanout_slot(f, "a.log", &pos, &found);
	assert_false(found);
	int sb = fanout_slot(f, "by-logger/b.log", &pos, &found);
	assert_true(sa >= 1 && sb >= 1 && sa != sb);
	fanout_save(f, sa, &a);
	fanout_save(f, sb, &b);
	fanout_mark(f, 9, 8);
	fanout_free(f);
}

/* Flip a byte of journal/fanout at off. */
static void damage(struct unit_broker *u, off_t off)
{
	char path[256];
	unsigned char c;

	unit_path(u, "journal/" FANOUT_FILE, path, sizeof path);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void test_positions_survive_a_restart(void **state)
{
	struct unit_broker *u = *state;
	char note[512];
	struct fanout_pos pos;
	uint64_t routes, reports;
	bool found;

	save_two(u);
	struct fanout *f = open_fanout(u, note, sizeof note);
	assert_string_equal(note, "");
	assert_true(fanout_loaded(f, &routes, &reports));
	assert_int_equal(routes, 9);
	assert_int_equal(reports, 8);
	assert_true(fanout_slot(f, "a.log", &pos, &found) >= 1 && found);
	assert_int_equal(pos.done, 7);
	assert_int_equal(pos.dev, 1);
	assert_int_equal(pos.ino, 2);
	assert_int_equal(pos.size, 300);
	assert_false(pos.failing);
	assert_true(fanout_slot(f, "by-logger/b.log", &pos, &found) >= 1 &&
	            found);
	assert_int_equal(pos.done, 9);
	assert_true(pos.failing);
	assert_string_equal(fanout_name(f, 0), "a.log");
	assert_string_equal(fanout_name(f, 1), "by-logger/b.log");
	assert_null(fanout_name(f, 2));
	fanout_free(f);
}

static void test_a_missing_file_is_made_with_nothing_to_replay(void **state)
{
	struct unit_broker *u = *state;
	char note[512], path[256];
	uint64_t routes, reports;
	struct stat st;

	struct fanout *f = open_fanout(u, note, sizeof note);
	assert_string_equal(note, "");
	assert_false(fanout_loaded(f, &routes, &reports));
	unit_path(u, "journal/" FANOUT_FILE, path, sizeof path);
	assert_int_equal(stat(path, &st), 0);
	fanout_free(f);
}

static void test_a_damaged_header_is_started_again_and_said(void **state)
{
	struct unit_broker *u = *state;
	char note[512];
	struct fanout_pos pos;
	uint64_t routes, reports;
	bool found;

	save_two(u);
	damage(u, 33); /* the routes mark */
	struct fanout *f = open_fanout(u, note, sizeof note);
	assert_non_null(strstr(note, "damaged header"));
	assert_false(fanout_loaded(f, &routes, &reports));
	fanout_slot(f, "a.log", &pos, &found);
	assert_false(found);
	fanout_free(f);
	/* and it was written again whole */
	f = open_fanout(u, note, sizeof note);
	assert_string_equal(note, "");
	fanout_free(f);
}

static void test_a_damaged_slot_is_dropped_and_the_rest_kept(void **state)
{
	struct unit_broker *u = *state;
	char note[512], path[256];
	struct fanout_pos pos;
	uint64_t routes, reports;
	bool found;

	save_two(u);
	damage(u, 256 + 200); /* a.log's done */
	/* and a torn last slot: a slot's worth that never got whole */
	unit_path(u, "journal/" FANOUT_FILE, path, sizeof path);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "by-logger/c.log", 15), 15);
	close(fd);
	struct fanout *f = open_fanout(u, note, sizeof note);
	assert_non_null(strstr(note, "1 damaged slot(s) dropped"));
	assert_true(fanout_loaded(f, &routes, &reports));
	fanout_slot(f, "a.log", &pos, &found);
	assert_false(found);
	fanout_slot(f, "by-logger/b.log", &pos, &found);
	assert_true(found);
	assert_int_equal(pos.done, 9);
	fanout_slot(f, "by-logger/c.log", &pos, &found);
	assert_false(found);
	fanout_free(f);
}

static void test_positions_of_another_journal_are_not_used(void **state)
{
	struct unit_broker *u = *state;
	unsigned char other[JOURNAL_ID_LEN];
	char note[512];
	struct fanout_pos pos;
	uint64_t routes, reports;
	bool found;

	save_two(u);
	memcpy(other, journal_id(u->b.journal), sizeof other);
	other[0] ^= 1;
	struct fanout *f = open_as(u, other, note, sizeof note);
	assert_non_null(strstr(note, "another journal"));
	assert_false(fanout_loaded(f, &routes, &reports));
	fanout_slot(f, "a.log", &pos, &found);
	assert_false(found);
	fanout_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_positions_survive_a_restart,
	                                    unit_broker_setup,
	                                    unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_missing_file_is_made_with_nothing_to_replay,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_damaged_header_is_started_again_and_said,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_damaged_slot_is_dropped_and_the_rest_kept,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_positions_of_another_journal_are_not_used,
	        unit_broker_setup, unit_broker_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
