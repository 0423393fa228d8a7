/*
 * test_ratelimit.c: broker/ratelimit.c, journald's rate limiting per
 * service: a burst per window, the rest dropped and counted, and exactly one
 * "Suppressed N records from service X" record of the broker's own per
 * window that dropped any.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"
#include "unit_broker.h"

#define HOUR 3600.0 /* a window no test outlives */

static void limits(struct unit_broker *u, uint64_t burst, double interval_s)
{
	u->b.cfg.rate_burst = burst;
	u->b.cfg.rate_interval_s = interval_s;
}

/* Add n records of svc, "svc #i" for i from first. */
static void add(struct unit_broker *u, const char *svc, int first, int n)
{
	char msg[64];

	for (int i = first; i < first + n; i++) {
		snprintf(msg, sizeof msg, "%s #%d", svc, i);
		unit_batch_add(u, svc, "app", LOGBUS_INFO, msg);
	}
}

static void assert_kept(struct unit_broker *u, size_t i, const char *msg)
{
	const struct lb_str *m = &u->batch.views[i].message;

	assert_int_equal(m->len, strlen(msg));
	assert_memory_equal(m->p, msg, m->len);
	/* the record moved with its view */
	assert_ptr_equal(u->batch.recs[i].svc, u->batch.views[i].service.p);
}

/* Wait (bounded) until the monotonic clock is past t. */
static void wait_past(int64_t t)
{
	struct timespec ms = {0, 1000000};

	for (int i = 0; i < 10000 && timefmt_mono_ns() <= t; i++)
		nanosleep(&ms, NULL);
	assert_true(timefmt_mono_ns() > t);
}

static void
test_burst_passes_and_the_rest_of_the_window_is_dropped(void **state)
{
	struct unit_broker *u = *state;

	limits(u, 3, HOUR);
	add(u, "svc", 0, 5);
	ratelimit_batch(&u->b, &u->batch);
	assert_int_equal(u->batch.n, 3);
	assert_kept(u, 0, "svc #0");
	assert_kept(u, 2, "svc #2");
	assert_int_equal(u->b.stats.rate_limited, 2);
	unit_batch_clear(u);

	/* the same window: nothing more gets through */
	add(u, "svc", 5, 2);
	ratelimit_batch(&u->b, &u->batch);
	assert_int_equal(u->batch.n, 0);
	assert_int_equal(u->b.stats.rate_limited, 4);
	assert_int_equal(unit_broker_logged(u, "Suppressed"), 0);
}

static void
test_services_have_windows_of_their_own_and_order_is_kept(void **state)
{
	struct unit_broker *u = *state;

	limits(u, 2, HOUR);
	add(u, "a", 0, 3);
	add(u, "b", 0, 3);
	add(u, "logbusd", 0, 3); /* the broker's own: never limited */
	add(u, "a", 3, 1);
	ratelimit_batch(&u->b, &u->batch);
	assert_int_equal(u->batch.n, 7);
	assert_kept(u, 0, "a #0");
	assert_kept(u, 1, "a #1");
	assert_kept(u, 2, "b #0");
	assert_kept(u, 3, "b #1");
	assert_kept(u, 4, "logbusd #0");
	assert_kept(u, 6, "logbusd #2"); /* a #3: over a's window */
	assert_int_equal(u->b.stats.rate_limited, 3);
}

static void test_no_burst_means_no_limit(void **state)
{
	struct unit_broker *u = *state;

	limits(u, 0, HOUR);
	add(u, "svc", 0, 100);
	ratelimit_batch(&u->b, &u->batch);
	assert_int_equal(u->batch.n, 100);
	assert_int_equal(u->b.stats.rate_limited, 0);
}

static void test_next_window_reports_the_suppressed_count_once(void **state)
{
	struct unit_broker *u = *state;

	limits(u, 1, 0.05);
	add(u, "svc", 0, 4);
	ratelimit_batch(&u->b, &u->batch);
	int64_t window_started_by = timefmt_mono_ns();
	assert_int_equal(u->batch.n, 1);
	assert_int_equal(unit_broker_logged(u, "Suppressed"), 0);
	unit_batch_clear(u);

	wait_past(window_started_by + 50000000);
	add(u, "svc", 4, 2);
	ratelimit_batch(&u->b, &u->batch);
	assert_int_equal(u->batch.n, 1); /* a new window's burst */
	assert_kept(u, 0, "svc #4");
	const struct unit_event *ev =
	    unit_broker_event(u, "Suppressed 3 records from service svc");
	assert_non_null(ev);
	assert_int_equal(ev->level, LOGBUS_WARNING);
	assert_string_equal(ev->service, "svc");
	assert_int_equal(ev->suppressed, 3);
	assert_int_equal(unit_broker_logged(u, "Suppressed"), 1);
	assert_int_equal(u->b.stats.rate_limited, 4);
	/* the new window counts from zero (and lasts: limits are read at
	 * each use) */
	limits(u, 1, HOUR);
	unit_batch_clear(u);
	add(u, "svc", 6, 1);
	ratelimit_batch(&u->b, &u->batch);
	assert_int_equal(u->batch.n, 0);
	ratelimit_flush(&u->b); /* #5 and #6 */
	assert_int_equal(
	    unit_broker_logged(u, "Suppressed 2 records from service svc"), 1);
}

static void test_flush_reports_windows_not_yet_ended(void **state)
{
	struct unit_broker *u = *state;

	limits(u, 1, HOUR);
	add(u, "a", 0, 3);
	add(u, "b", 0, 2);
	ratelimit_batch(&u->b, &u->batch);
	assert_int_equal(u->batch.n, 2);
	ratelimit_flush(&u->b);
	assert_int_equal(
	    unit_broker_logged(u, "Suppressed 2 records from service a"), 1);
	assert_int_equal(
	    unit_broker_logged(u, "Suppressed 1 records from service b"), 1);
	ratelimit_flush(&u->b); /* reported: the counts start again */
	assert_int_equal(unit_broker_logged(u, "Suppressed"), 2);
}

static void
test_sweep_reports_an_ended_window_without_a_next_record(void **state)
{
	struct unit_broker *u = *state;

	limits(u, 1, 0.05);
	ratelimit_init(&u->b);
	add(u, "svc", 0, 3);
	ratelimit_batch(&u->b, &u->batch);
	assert_int_equal(unit_broker_logged(u, "Suppressed"), 0);
	/* no more records of svc: the sweep's timer (every second) reports */
	for (int i = 0; i < 30 && unit_broker_logged(u, "Suppressed") == 0; i++)
		ev_run(u->b.loop, EVRUN_ONCE);
	ev_timer_stop(u->b.loop, &u->b.ratelimit.sweep_w);
	assert_int_equal(
	    unit_broker_logged(u, "Suppressed 2 records from service svc"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_burst_passes_and_the_rest_of_the_window_is_dropped,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_services_have_windows_of_their_own_and_order_is_kept,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(test_no_burst_means_no_limit,
	                                    unit_broker_setup,
	                                    unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_next_window_reports_the_suppressed_count_once,
	        unit_broker_setup, unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_flush_reports_windows_not_yet_ended, unit_broker_setup,
	        unit_broker_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sweep_reports_an_ended_window_without_a_next_record,
	        unit_broker_setup, unit_broker_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
