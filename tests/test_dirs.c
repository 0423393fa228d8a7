/*
 * test_dirs.c: broker/dirs.c, the checks on the run and log directories
 * (a directory others can write, or one of another user, or below one, is
 * refused with the path and the chmod or chown that fixes it) and the
 * walk that makes a route's directories without following a link.  The
 * tests that give a directory to another user need root (skipped
 * otherwise); tests/test_files.sh runs the same refusals through logbusd.
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

#include "dirs.h"
#include "files.h" /* tools/ */

#define NOBODY 65534

struct tmp {
	char dir[64];
	char sub[96]; /* dir/log */
};

static int setup(void **state)
{
	static struct tmp t;

	snprintf(t.dir, sizeof t.dir, "/tmp/logbus-dirs-XXXXXX");
	assert_non_null(mkdtemp(t.dir));
	snprintf(t.sub, sizeof t.sub, "%s/log", t.dir);
	assert_int_equal(mkdir(t.sub, 0750), 0);
	*state = &t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;

	files_remove_tree(t->dir);
	return 0;
}

/* dirs_open_checked fails with an error naming path and holding text. */
static void refused(const char *path, const char *text)
{
	char err[1024] = "";
	int fd = dirs_open_checked(path, "log directory", err, sizeof err);

	if (fd >= 0)
		fail_msg("%s was accepted", path);
	if (strstr(err, path) == NULL || strstr(err, text) == NULL)
		fail_msg("error '%s' lacks '%s' or '%s'", err, path, text);
}

static void accepted(const char *path)
{
	char err[1024] = "";
	int fd = dirs_open_checked(path, "log directory", err, sizeof err);

	if (fd < 0)
		fail_msg("%s refused: %s", path, err);
	close(fd);
}

static void test_a_private_directory_is_accepted(void **state)
{
	struct tmp *t = *state;

	accepted(t->sub);
}

static void test_a_directory_others_can_write_is_refused(void **state)
{
	struct tmp *t = *state;

	assert_int_equal(chmod(t->sub, 0777), 0);
	refused(t->sub, "chmod go-w");
	assert_int_equal(chmod(t->sub, 01777), 0); /* sticky: still no */
	refused(t->sub, "writable by its group and others");
	assert_int_equal(chmod(t->sub, 0770), 0);
	refused(t->sub, "writable by its group (mode 0770)");
}

static void
test_a_directory_above_others_can_write_needs_the_sticky_bit(void **state)
{
	struct tmp *t = *state;

	assert_int_equal(chmod(t->dir, 0777), 0);
	refused(t->sub, "chmod +t");
	assert_int_equal(chmod(t->dir, 01777), 0); /* as /tmp */
	accepted(t->sub);
}

static void test_a_directory_of_another_user_is_refused(void **state)
{
	struct tmp *t = *state;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chown(t->sub, NOBODY, (gid_t)-1), 0);
	refused(t->sub, "chown root");
	assert_int_equal(chown(t->sub, 0, (gid_t)-1), 0);
	assert_int_equal(chown(t->dir, NOBODY, (gid_t)-1), 0);
	refused(t->sub, "above it is owned by");
}

static void
test_a_link_to_a_good_directory_is_checked_where_it_leads(void **state)
{
	struct tmp *t = *state;
	char link[128], err[512];

	snprintf(link, sizeof link, "%s/link", t->dir);
	assert_int_equal(symlink(t->sub, link), 0);
	accepted(link);
	assert_int_equal(chmod(t->sub, 0777), 0);
	assert_true(dirs_open_checked(link, "log directory", err, sizeof err) <
	            0);
	assert_non_null(strstr(err, t->sub)); /* names where it leads */
}

static void
test_open_parent_makes_directories_and_never_follows_links(void **state)
{
	struct tmp *t = *state;
	const char *base;
	char path[160];
	struct stat st;
	int top = open(t->sub, O_RDONLY | O_DIRECTORY);

	assert_true(top >= 0);
	int fd = dirs_open_parent(top, "a/b/c.log", 0750, &base);
	assert_true(fd >= 0);
	assert_string_equal(base, "c.log");
	close(fd);
	snprintf(path, sizeof path, "%s/a/b", t->sub);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	fd = dirs_open_parent(top, "top.log", 0750, &base); /* top itself */
	assert_true(fd >= 0);
	assert_string_equal(base, "top.log");
	close(fd);

	snprintf(path, sizeof path, "%s/l", t->sub);
	assert_int_equal(symlink(t->dir, path), 0);
	assert_int_equal(dirs_open_parent(top, "l/x.log", 0750, &base), -1);
	assert_true(errno == ENOTDIR || errno == ELOOP);
	snprintf(path, sizeof path, "%s/f", t->sub);
	close(open(path, O_WRONLY | O_CREAT, 0640));
	assert_int_equal(dirs_open_parent(top, "f/x.log", 0750, &base), -1);
	assert_int_equal(errno, ENOTDIR);
	close(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_a_private_directory_is_accepted, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_directory_others_can_write_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_directory_above_others_can_write_needs_the_sticky_bit,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_directory_of_another_user_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_link_to_a_good_directory_is_checked_where_it_leads,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_open_parent_makes_directories_and_never_follows_links,
	        setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
