/*
 * bench_call.c: what one logging call costs the caller.
 *
 * The call measured is logbus_log_fields(pub, LOGBUS_INFO, NULL, 3 fields,
 * "%s", message): the logbus_log family a service uses, with the
 * formatting.  Each call is timed on its own with CLOCK_MONOTONIC (vDSO,
 * no system call); the cost of reading the clock twice is measured and
 * reported beside it, not subtracted.  Calls come in bursts of CALL_BURST
 * while the sender thread drains the queue in the background; after each
 * burst a flush (not timed) waits for the broker's acknowledgement, so the
 * queue never fills and no call blocks for room: this is the cost of a call
 * when the service logs no faster than the broker ingests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <logbus/logbus.h>

#include "bench.h"

#define CALL_BURST    1000
#define CALL_CLOCK_N  100000 /* back-to-back clock readings */
#define CALL_FLUSH_MS 30000
#define CALL_TOUCH_N  (1L << 20) /* samples touched between two looks */

/* Median of two back-to-back clock readings. */
static double clock_overhead_ns(void)
{
	int64_t *v = malloc(CALL_CLOCK_N * sizeof *v);
	double med;

	if (v == NULL)
		return 0;
	for (size_t i = 0; i < CALL_CLOCK_N; i++) {
		int64_t a = clock_ns(CLOCK_MONOTONIC);
		v[i] = clock_ns(CLOCK_MONOTONIC) - a;
	}
	samples_sort(v, CALL_CLOCK_N);
	med = percentile(v, CALL_CLOCK_N, 0.5);
	free(v);
	return med;
}

static int call_log(logbus_publisher *pub, const char *msg, long n)
{
	logbus_field f[BENCH_NFIELDS] = {LOGBUS_INT("n", n),
	                                 LOGBUS_STR("user", "user123"),
	                                 LOGBUS_BOOL("ok", 1)};

	return logbus_log_fields(pub, LOGBUS_INFO, NULL, f, BENCH_NFIELDS, "%s",
	                         msg);
}

static int call_measure(struct bench_ctx *c, logbus_publisher *pub,
                        const char *msg, int64_t *ns)
{
	long n = c->o->records;
	int rv;

	if ((rv = call_log(pub, msg, -1)) != LOGBUS_OK ||
	    (rv = bench_flush(pub, CALL_FLUSH_MS)) != LOGBUS_OK)
		return rv;
	for (long i = 0; i < n && !bench_interrupted;) {
		long burst_end = i + CALL_BURST < n ? i + CALL_BURST : n;
		for (; i < burst_end; i++) {
			int64_t t0 = clock_ns(CLOCK_MONOTONIC);
			rv = call_log(pub, msg, i);
			ns[i] = clock_ns(CLOCK_MONOTONIC) - t0;
			if (rv != LOGBUS_OK)
				return rv;
		}
		if ((rv = bench_flush(pub, CALL_FLUSH_MS)) != LOGBUS_OK)
			return rv;
	}
	return LOGBUS_OK;
}

int mode_call(struct bench_ctx *c)
{
	long n = c->o->records;
	logbus_publisher_options po = {.run_dir = c->run_dir,
	                               .service = "bench_call",
	                               .on_full = LOGBUS_ON_FULL_BLOCK,
	                               .linger_ms = c->o->linger_ms};
	logbus_publisher *pub;
	int64_t *ns = malloc((size_t)n * sizeof *ns);
	char *msg = bench_message((size_t)c->o->size);
	char why[512];
	int rv;

	if (ns == NULL || msg == NULL) {
		free(ns);
		free(msg);
		return fail("out of memory for %ld samples", n);
	}
	/* Touched now: no page fault inside a measured call.  In steps, so
	 * that a SIGTERM meanwhile ends it at once (--records 200000000
	 * is 1.6 GB to touch). */
	for (long i = 0; i < n && !bench_interrupted; i += CALL_TOUCH_N)
		memset(ns + i, 0,
		       (size_t)(n - i < CALL_TOUCH_N ? n - i : CALL_TOUCH_N) *
		           sizeof *ns);
	if (bench_interrupted) {
		free(ns);
		free(msg);
		return fail("interrupted");
	}
	if ((rv = logbus_publisher_open(&pub, &po)) != LOGBUS_OK) {
		free(ns);
		free(msg);
		return fail("cannot open a publisher on %s: %s", c->run_dir,
		            logbus_strerror(rv));
	}
	rv = call_measure(c, pub, msg, ns);
	logbus_publisher_error(pub, why, sizeof why);
	logbus_publisher_close(pub, rv == LOGBUS_OK ? 5000 : 0);
	free(msg);
	if (bench_interrupted || rv != LOGBUS_OK) {
		free(ns);
		if (bench_interrupted)
			return fail("interrupted");
		return fail("logging failed: %s: %s", logbus_strerror(rv),
		            *why ? why : "no detail");
	}

	samples_sort(ns, (size_t)n);
	report_section(c->rep, "call cost: one logbus_log_fields call, as the "
	                       "caller sees it");
	report_note(c->rep,
	            "%d-byte message via \"%%s\" + %d fields; bursts of %d "
	            "calls while the sender drains,",
	            c->o->size, BENCH_NFIELDS, CALL_BURST);
	report_note(c->rep, "a flush (not timed) after each burst; clock "
	                    "overhead included, shown below");
	report_int(c->rep, "call_records", "calls measured", n, "");
	report_num(c->rep, "call_ns_p50", "p50", percentile(ns, (size_t)n, 0.5),
	           0, "ns");
	report_num(c->rep, "call_ns_p99", "p99",
	           percentile(ns, (size_t)n, 0.99), 0, "ns");
	report_num(c->rep, "call_ns_p999", "p99.9",
	           percentile(ns, (size_t)n, 0.999), 0, "ns");
	report_num(c->rep, "call_ns_max", "max", percentile(ns, (size_t)n, 1),
	           0, "ns");
	report_num(c->rep, "call_clock_overhead_ns",
	           "two clock readings (median)", clock_overhead_ns(), 0, "ns");
	free(ns);
	return 0;
}
