/*
 * bench_query.c: how fast the broker answers readers on a big journal.
 *
 * A fresh broker (when logbus-bench starts its own) is filled through the
 * library with --query-records records spread over --query-services
 * services (service_0 ...), in QUERY_ROUNDS rounds of one chunk per service,
 * so each service's records lie in several stretches across the journal
 * rather than in one block.  Then, through the library's reader, as
 * `logbusctl tail` does:
 *   - tail: the last 100 records of one service in the middle of the list
 *     (START_TAIL, a snapshot), from open to the reader's end; the first
 *     answer and the median of QUERY_REPEAT;
 *   - regex scan: the whole journal from its head through a message regex
 *     that no bench record matches, so the broker examines every record and
 *     returns almost nothing; journal bytes on disk divided by the time.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <logbus/logbus.h>

#include "bench.h"

#define QUERY_ROUNDS     10
#define QUERY_TAIL_N     100
#define QUERY_REPEAT     5
#define QUERY_GENERATORS 2 /* threads filling the journal */
#define QUERY_TIMEOUT_MS 600000
#define QUERY_REGEX      "(?i)(error|exception|failed)"

struct generator {
	struct bench_ctx *c;
	int index;
	const char *msg;
	int status;
};

/* Records of service s in round r: the total split evenly. */
static long chunk_size(const struct bench_opts *o, long r, long s)
{
	long slots = o->query_services * QUERY_ROUNDS;
	long idx = r * o->query_services + s;

	return o->query_records / slots + (idx < o->query_records % slots);
}

static int generate_chunk(struct generator *g, long round, long s)
{
	char service[32], why[512] = "";
	logbus_publisher_options po = {.run_dir = g->c->run_dir,
	                               .service = service,
	                               .on_full = LOGBUS_ON_FULL_BLOCK};
	logbus_publisher *pub;
	long n = chunk_size(g->c->o, round, s);
	int rv;

	if (n == 0)
		return 0;
	snprintf(service, sizeof service, "service_%ld", s);
	if ((rv = logbus_publisher_open(&pub, &po)) != LOGBUS_OK)
		return fail("cannot open a publisher on %s: %s", g->c->run_dir,
		            logbus_strerror(rv));
	for (long i = 0; i < n && rv == LOGBUS_OK && !bench_interrupted; i++) {
		logbus_field f[BENCH_NFIELDS] = {LOGBUS_INT("round", round),
		                                 LOGBUS_INT("n", i),
		                                 LOGBUS_STR("user", "user123")};
		logbus_entry e = {.level = LOGBUS_INFO,
		                  .message = g->msg,
		                  .message_len = (size_t)g->c->o->size,
		                  .fields = f,
		                  .nfields = BENCH_NFIELDS};
		rv = logbus_write(pub, &e);
	}
	if (rv == LOGBUS_OK && !bench_interrupted)
		rv = logbus_flush(pub, -1);
	if (rv != LOGBUS_OK)
		logbus_publisher_error(pub, why, sizeof why);
	logbus_publisher_close(pub, 0);
	if (rv != LOGBUS_OK)
		return fail("filling the journal for service_%ld failed: %s: "
		            "%s",
		            s, logbus_strerror(rv), why);
	return 0;
}

static void *generator_main(void *arg)
{
	struct generator *g = arg;

	for (long r = 0; r < QUERY_ROUNDS && g->status == 0; r++)
		for (long s = g->index; s < g->c->o->query_services &&
		                        g->status == 0 && !bench_interrupted;
		     s += QUERY_GENERATORS)
			g->status = generate_chunk(g, r, s);
	return NULL;
}

static int query_fill(struct bench_ctx *c, double *seconds)
{
	struct generator gs[QUERY_GENERATORS];
	pthread_t th[QUERY_GENERATORS];
	char *msg = bench_message((size_t)c->o->size);
	int started = 0, status = 0, rv;
	int64_t t0 = clock_ns(CLOCK_MONOTONIC);

	if (msg == NULL)
		return fail("out of memory");
	for (; started < QUERY_GENERATORS; started++) {
		gs[started] = (struct generator){c, started, msg, 0};
		rv = pthread_create(&th[started], NULL, generator_main,
		                    &gs[started]);
		if (rv != 0) {
			status =
			    fail("cannot start a thread (%s)", strerror(rv));
			break;
		}
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		if (status == 0)
			status = gs[i].status;
	}
	free(msg);
	*seconds = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	if (status == 0 && bench_interrupted)
		status = fail("interrupted");
	return status;
}

/* Read everything a snapshot reader with these options returns; the time
 * from open to the end, and how many records. */
static int query_read(struct bench_ctx *c, logbus_reader_options *ro,
                      double *ms, long *count)
{
	logbus_reader *r;
	const logbus_record *rec;
	char err[512] = "";
	int64_t t0 = clock_ns(CLOCK_MONOTONIC);
	int rv;

	ro->run_dir = c->run_dir;
	ro->timeout_ms = QUERY_TIMEOUT_MS;
	ro->error = err;
	ro->error_len = sizeof err;
	if ((rv = logbus_reader_open(&r, ro)) != LOGBUS_OK)
		return fail("cannot read from logbusd at %s: %s", c->run_dir,
		            *err ? err : logbus_strerror(rv));
	*count = 0;
	while ((rv = logbus_reader_next(r, &rec, QUERY_TIMEOUT_MS)) == 1)
		(*count)++;
	*ms = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e6;
	if (rv < 0) {
		int status = fail("reading from logbusd at %s failed: %s",
		                  c->run_dir, logbus_reader_error(r));
		logbus_reader_close(r);
		return status;
	}
	logbus_reader_close(r);
	return 0;
}

static int query_measure(struct bench_ctx *c, int64_t journal_bytes)
{
	const struct bench_opts *o = c->o;
	long target = o->query_services / 2, want = 0, count;
	char service[32];
	const char *services[1] = {service};
	double tail_ms[QUERY_REPEAT], first_ms, scan_ms;
	int status;

	for (long r = 0; r < QUERY_ROUNDS; r++)
		want += chunk_size(o, r, target);
	if (want > QUERY_TAIL_N)
		want = QUERY_TAIL_N;
	snprintf(service, sizeof service, "service_%ld", target);
	for (int i = 0; i < QUERY_REPEAT; i++) {
		logbus_reader_options ro = {
		    .start = LOGBUS_START_TAIL,
		    .tail_n = QUERY_TAIL_N,
		    .filter = {.services = services, .nservices = 1},
		};
		if ((status = query_read(c, &ro, &tail_ms[i], &count)) != 0)
			return status;
		if (count != want)
			return fail("tail -n %d -s %s returned %ld records, "
			            "not %ld",
			            QUERY_TAIL_N, service, count, want);
	}
	first_ms = tail_ms[0];
	report_note(c->rep,
	            "tail -n %d -s %s (%ld records returned):", QUERY_TAIL_N,
	            service, want);
	report_num(c->rep, "query_tail_ms", "  median of 5",
	           median_double(tail_ms, QUERY_REPEAT), 2, "ms");
	report_num(c->rep, "query_tail_first_ms", "  first", first_ms, 2, "ms");

	logbus_reader_options ro = {.start = LOGBUS_START_HEAD,
	                            .filter = {.message_regex = QUERY_REGEX}};
	if ((status = query_read(c, &ro, &scan_ms, &count)) != 0)
		return status;
	report_note(c->rep,
	            "regex scan of the whole journal, -g '%s':", QUERY_REGEX);
	report_num(c->rep, "regex_scan_mb_per_s", "  journal MB/s",
	           journal_bytes >= 0
	               ? (double)journal_bytes / 1e6 / (scan_ms / 1e3)
	               : NAN,
	           1, "MB/s");
	report_num(c->rep, "regex_scan_records_per_s", "  records/s",
	           (double)o->query_records / (scan_ms / 1e3), 0, "records/s");
	report_num(c->rep, "regex_scan_ms", "  time", scan_ms, 1, "ms");
	report_int(c->rep, "regex_scan_matches", "  records matched", count,
	           "");
	return 0;
}

int mode_query(struct bench_ctx *c)
{
	struct broker_proc own = {.pid = -1};
	struct bench_ctx qc = *c;
	double fill_s = 0;
	int64_t jb = -1;
	int status;

	if (c->own) {
		/* A journal of its own: only the records described. */
		if ((status = broker_start(&own)) != 0)
			return status;
		qc.broker = &own;
		qc.run_dir = own.run_dir;
	}
	report_section(c->rep, "query: the broker answering readers");
	if ((status = query_fill(&qc, &fill_s)) != 0)
		goto out;
	if (qc.broker != NULL)
		jb = dir_bytes(qc.broker->journal_dir);
	report_note(c->rep,
	            "journal: %ld records of %d bytes over %ld services, "
	            "filled in %.1f s",
	            c->o->query_records, c->o->size, c->o->query_services,
	            fill_s);
	report_int(c->rep, "query_records", NULL, c->o->query_records, "");
	report_int(c->rep, "query_services", NULL, c->o->query_services, "");
	report_num(c->rep, "query_journal_mib", "  journal on disk",
	           jb >= 0 ? (double)jb / (1024.0 * 1024.0) : NAN, 1, "MiB");
	status = query_measure(&qc, jb);
out:
	broker_cleanup(&own);
	return status;
}
