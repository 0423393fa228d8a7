/*
 * test_sessions.c: the dedup table that makes a resent batch harmless.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sessions.h"

static void test_resent_batch_is_found_with_its_sequence(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(16);
	struct session_batch b = {.batch = 7, .first_seq = 100, .count = 3};
	assert_null(sessions_find(s, 42));
	assert_int_equal(sessions_commit(s, 42, &b), 0);
	const struct session_batch *got = sessions_find(s, 42);
	assert_non_null(got);
	assert_true(got->batch == 7 && got->first_seq == 100 &&
	            got->count == 3);
	sessions_free(s);
}

static void test_older_batch_never_replaces_newer(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(16);
	struct session_batch b8 = {.batch = 8, .first_seq = 10, .count = 1};
	struct session_batch b7 = {.batch = 7, .first_seq = 5, .count = 1};
	sessions_commit(s, 1, &b8);
	sessions_commit(s, 1, &b7);
	assert_true(sessions_find(s, 1)->batch == 8);
	sessions_free(s);
}

static void
test_least_recently_used_session_is_evicted_at_the_bound(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(4);
	struct session_batch b = {.batch = 1, .first_seq = 1, .count = 1};
	for (uint64_t id = 1; id <= 4; id++)
		sessions_commit(s, id, &b);
	assert_non_null(sessions_find(s, 1)); /* 1 is now most recent */
	sessions_commit(s, 5, &b);            /* evicts 2 */
	assert_int_equal(sessions_count(s), 4);
	assert_null(sessions_find(s, 2));
	assert_non_null(sessions_find(s, 1));
	assert_non_null(sessions_find(s, 5));
	for (uint64_t id = 100; id < 10000; id++)
		sessions_commit(s, id, &b);
	assert_int_equal(sessions_count(s), 4);
	assert_non_null(sessions_find(s, 9999));
	sessions_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resent_batch_is_found_with_its_sequence),
	    cmocka_unit_test(test_older_batch_never_replaces_newer),
	    cmocka_unit_test(
	        test_least_recently_used_session_is_evicted_at_the_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
