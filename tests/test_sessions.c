/*
 * test_sessions.c: the dedup table that makes a resent batch harmless.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sessions.h"

#define UID 1000u

static void test_resent_batch_is_found_with_its_sequence(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(16, 16);
	struct session_batch b = {.batch = 7, .first_seq = 100, .count = 3};
	assert_null(sessions_find(s, UID, 42));
	assert_int_equal(sessions_commit(s, UID, 42, &b), 0);
	const struct session_batch *got = sessions_find(s, UID, 42);
	assert_non_null(got);
	assert_true(got->batch == 7 && got->first_seq == 100 &&
	            got->count == 3);
	sessions_free(s);
}

static void test_older_batch_never_replaces_newer(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(16, 16);
	struct session_batch b8 = {.batch = 8, .first_seq = 10, .count = 1};
	struct session_batch b7 = {.batch = 7, .first_seq = 5, .count = 1};
	sessions_commit(s, UID, 1, &b8);
	sessions_commit(s, UID, 1, &b7);
	assert_true(sessions_find(s, UID, 1)->batch == 8);
	sessions_free(s);
}

static void
test_least_recently_used_session_is_evicted_at_the_bound(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(4, 4);
	struct session_batch b = {.batch = 1, .first_seq = 1, .count = 1};
	for (uint64_t id = 1; id <= 4; id++)
		sessions_commit(s, UID, id, &b);
	assert_non_null(sessions_find(s, UID, 1)); /* 1 is now most recent */
	sessions_commit(s, UID, 5, &b);            /* evicts 2 */
	assert_int_equal(sessions_count(s), 4);
	assert_null(sessions_find(s, UID, 2));
	assert_non_null(sessions_find(s, UID, 1));
	assert_non_null(sessions_find(s, UID, 5));
	for (uint64_t id = 100; id < 10000; id++)
		sessions_commit(s, UID, id, &b);
	assert_int_equal(sessions_count(s), 4);
	assert_non_null(sessions_find(s, UID, 9999));
	sessions_free(s);
}

/* 70,000 batches with fresh session ids from one user pushed a real
 * publisher's session out of the table, and its resend was stored twice. */
static void test_one_uid_cannot_push_out_another_uids_sessions(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(16, 4);
	struct session_batch b = {.batch = 7, .first_seq = 100, .count = 3};
	assert_int_equal(sessions_commit(s, 0, 42, &b), 0);
	for (uint64_t id = 1000; id < 71000; id++)
		assert_int_equal(sessions_commit(s, UID, id, &b), 0);
	assert_int_equal(sessions_count(s), 5); /* root's one, UID's four */
	const struct session_batch *got = sessions_find(s, 0, 42);
	assert_non_null(got);
	assert_true(got->batch == 7 && got->first_seq == 100);
	assert_non_null(sessions_find(s, UID, 70999));
	assert_null(sessions_find(s, UID, 1000));
	sessions_free(s);
}

/* A session belongs to its uid: another user who sends the same session id
 * with a higher batch number does not make the owner's batches "resent". */
static void test_a_session_id_from_another_uid_is_another_session(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(16, 16);
	struct session_batch mine = {.batch = 1, .first_seq = 1, .count = 1};
	struct session_batch forged = {
	    .batch = 999, .first_seq = 5, .count = 1};
	sessions_commit(s, 0, 42, &mine);
	sessions_commit(s, UID, 42, &forged);
	assert_true(sessions_find(s, 0, 42)->batch == 1);
	assert_true(sessions_find(s, UID, 42)->batch == 999);
	sessions_free(s);
}

/* A journal written before markers carried the uid refills the table with
 * SESSIONS_UID_UNKNOWN; a resend after the upgrade still finds its batch. */
static void test_a_session_of_unknown_uid_is_found_by_any_uid(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(16, 16);
	struct session_batch b = {.batch = 3, .first_seq = 9, .count = 2};
	sessions_commit(s, SESSIONS_UID_UNKNOWN, 42, &b);
	assert_true(sessions_find(s, UID, 42)->batch == 3);
	assert_null(sessions_find(s, UID, 43));
	sessions_free(s);
}

struct listed {
	uint64_t ids[8];
	uint32_t uids[8];
	size_t n;
};

static void list_one(void *arg, uint32_t uid, uint64_t session,
                     const struct session_batch *b)
{
	struct listed *l = arg;
	(void)b;
	assert_true(l->n < 8);
	l->uids[l->n] = uid;
	l->ids[l->n++] = session;
}

/* The journal's sessions file is this list: committed again in its order
 * into an empty table, it gives the same order, so the same evictions. */
static void test_each_lists_least_recently_used_first(void **state)
{
	(void)state;
	struct sessions *s = sessions_new(16, 16),
	                *again = sessions_new(16, 16);
	struct session_batch b = {.batch = 1, .first_seq = 1, .count = 1};
	struct listed l = {0}, l2 = {0};
	for (uint64_t id = 1; id <= 3; id++)
		sessions_commit(s, UID, id, &b);
	sessions_commit(s, UID + 1, 4, &b);
	assert_non_null(sessions_find(s, UID, 1)); /* 1 is now most recent */
	sessions_each(s, list_one, &l);
	assert_int_equal(l.n, 4);
	const uint64_t want[4] = {2, 3, 4, 1};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(l.ids[i], want[i]);
	assert_int_equal(l.uids[2], UID + 1);
	for (size_t i = 0; i < l.n; i++)
		sessions_commit(again, l.uids[i], l.ids[i], &b);
	sessions_each(again, list_one, &l2);
	assert_memory_equal(l.ids, l2.ids, sizeof l.ids);
	sessions_free(s);
	sessions_free(again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resent_batch_is_found_with_its_sequence),
	    cmocka_unit_test(test_older_batch_never_replaces_newer),
	    cmocka_unit_test(
	        test_least_recently_used_session_is_evicted_at_the_bound),
	    cmocka_unit_test(
	        test_one_uid_cannot_push_out_another_uids_sessions),
	    cmocka_unit_test(
	        test_a_session_id_from_another_uid_is_another_session),
	    cmocka_unit_test(test_a_session_of_unknown_uid_is_found_by_any_uid),
	    cmocka_unit_test(test_each_lists_least_recently_used_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
