/*
 * test_waiters.c: broker/waiters.c, the long polls: a parked read is served
 * again after a commit of records its reader may see (and only then), keeps
 * waiting when its filter wanted none of them, gets a final answer when its
 * wait ends or the broker stops, and the oldest makes room at the bound.
 *
 * The serve callback here stands in for query.c's read_serve: it records
 * each call and answers or parks as the test tells it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "waiters.h"

#define CALLS_MAX (WAITERS_MAX + 16)

/* A stand-in for the endpoint a read came from: only its address counts. */
static max_align_t endpoints[WAITERS_MAX + 1];
#define EP(i) ((struct endpoint *)&endpoints[i])

static struct {
	struct endpoint *ep[CALLS_MAX];
	bool may_park[CALLS_MAX];
	uint32_t hdr[CALLS_MAX]; /* the routing header each reply would get */
	size_t n;
	bool park; /* park when allowed: "nothing new for this filter" */
} served;

static enum read_result serve(struct endpoint *ep, nng_msg *msg,
                              struct read_req *rq, bool may_park)
{
	(void)rq;
	assert_true(served.n < CALLS_MAX);
	assert_int_equal(nng_msg_header_len(msg), 4);
	memcpy(&served.hdr[served.n], nng_msg_header(msg), 4);
	served.ep[served.n] = ep;
	served.may_park[served.n] = may_park;
	served.n++;
	return may_park && served.park ? READ_PARK : READ_ANSWERED;
}

struct fixture {
	struct ev_loop *loop;
	struct waiters *w;
};

static int setup(void **state)
{
	static struct fixture fx;

	memset(&served, 0, sizeof served);
	fx.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(fx.loop);
	fx.w = waiters_new(fx.loop, serve);
	assert_non_null(fx.w);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	waiters_free(fx->w);
	ev_loop_destroy(fx->loop);
	return 0;
}

/* Park a read of endpoint i by a reader, waiting wait_ms; its request's
 * routing header is i. */
static void park(struct fixture *fx, int i, bool trusted, uint32_t uid,
                 uint64_t wait_ms)
{
	nng_msg *msg;
	uint32_t hdr = (uint32_t)i;
	struct read_req rq = {.wait_ms = wait_ms,
	                      .reader = {.trusted = trusted, .uid = uid}};

	assert_int_equal(nng_msg_alloc(&msg, 0), 0);
	assert_int_equal(nng_msg_header_append(msg, &hdr, sizeof hdr), 0);
	assert_int_equal(waiters_park(fx->w, EP(i), msg, &rq), 0);
	nng_msg_free(msg); /* the waiter keeps a copy of the header */
}

static bool was_served(struct endpoint *ep)
{
	for (size_t i = 0; i < served.n; i++)
		if (served.ep[i] == ep)
			return true;
	return false;
}

static void test_parked_read_is_served_after_a_commit_it_may_see(void **state)
{
	struct fixture *fx = *state;

	park(fx, 1, false, 1000, 60000);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 0); /* nothing committed yet */
	waiters_committed(fx->w, 1000);
	assert_int_equal(served.n, 0); /* once the loop is done, not inside */
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 1);
	assert_ptr_equal(served.ep[0], EP(1));
	assert_int_equal(served.hdr[0], 1);
	assert_true(served.may_park[0]);
	/* answered: a later commit finds nobody */
	waiters_committed(fx->w, 1000);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 1);
}

static void test_commit_wakes_only_readers_who_may_see_it(void **state)
{
	struct fixture *fx = *state;

	park(fx, 1, false, 1000, 60000);
	park(fx, 2, false, 2000, 60000);
	park(fx, 3, true, 3000, 60000); /* the reader group: everything */
	waiters_committed(fx->w, 1000);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 2);
	assert_true(was_served(EP(1)));
	assert_true(was_served(EP(3)));
	assert_false(was_served(EP(2)));
	waiters_committed(fx->w, 2000);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 3);
	assert_ptr_equal(served.ep[2], EP(2));
	assert_int_equal(served.hdr[2], 2);
}

static void test_burst_of_commits_serves_a_waiter_once(void **state)
{
	struct fixture *fx = *state;

	park(fx, 1, false, 1000, 60000);
	for (int i = 0; i < 10; i++)
		waiters_committed(fx->w, 1000);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 1);
}

static void test_read_whose_filter_wanted_none_waits_on(void **state)
{
	struct fixture *fx = *state;

	served.park = true;
	park(fx, 1, false, 1000, 60000);
	waiters_committed(fx->w, 1000);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 1); /* read, nothing for it: parked again */
	served.park = false;
	waiters_committed(fx->w, 1000);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 2);
	assert_ptr_equal(served.ep[1], EP(1));
	waiters_release(fx->w);
	assert_int_equal(served.n, 2); /* it was answered: none left */
}

static void test_wait_that_ends_gets_a_final_answer(void **state)
{
	struct fixture *fx = *state;

	served.park = true; /* nothing ever comes */
	park(fx, 1, false, 1000, 20);
	park(fx, 2, false, 1000, 60000);
	for (int i = 0; i < 1000 && served.n == 0; i++)
		ev_run(fx->loop, EVRUN_ONCE); /* until the 20 ms timer */
	assert_int_equal(served.n, 1);
	assert_ptr_equal(served.ep[0], EP(1));
	assert_false(served.may_park[0]); /* answered, empty, not parked */
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, 1); /* the other one still waits */
}

static void test_stopping_answers_every_waiter(void **state)
{
	struct fixture *fx = *state;

	served.park = true;
	for (int i = 1; i <= 3; i++)
		park(fx, i, false, 1000, 60000);
	waiters_release(fx->w);
	assert_int_equal(served.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_ptr_equal(served.ep[i], EP(i + 1)); /* in order */
		assert_false(served.may_park[i]);
	}
}

static void test_oldest_makes_room_at_the_bound(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < WAITERS_MAX; i++)
		park(fx, i, false, 1000, 60000);
	assert_int_equal(served.n, 0);
	park(fx, WAITERS_MAX, false, 1000, 60000);
	assert_int_equal(served.n, 1);
	assert_ptr_equal(served.ep[0], EP(0));
	assert_false(served.may_park[0]);
	waiters_committed(fx->w, 1000);
	ev_run(fx->loop, EVRUN_NOWAIT);
	assert_int_equal(served.n, WAITERS_MAX + 1);
	assert_ptr_equal(served.ep[WAITERS_MAX], EP(WAITERS_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_parked_read_is_served_after_a_commit_it_may_see, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_commit_wakes_only_readers_who_may_see_it, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_burst_of_commits_serves_a_waiter_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_read_whose_filter_wanted_none_waits_on, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_wait_that_ends_gets_a_final_answer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stopping_answers_every_waiter,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oldest_makes_room_at_the_bound,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
