/*
 * bench_ingest.c: ingest throughput with P producers, and the broker's
 * footprint while it ingests.
 *
 * Each producer is a thread with a publisher of its own and a service id of
 * its own (bench_ingest.N: a per-service limit in the broker would see P
 * separate services, each at 1/P of the load).  Every publisher logs and
 * flushes one warm-up record first, so connecting is not measured; then the
 * threads start together and log their share of --records as fast as the
 * queue takes them (LOGBUS_ON_FULL_BLOCK: nothing is dropped), then flush.
 * The clock runs from the start to the last flush's return: every record
 * acknowledged, i.e. written into the journal.  The broker runs with its
 * defaults, routed files (all.log, by-logger/) and live fan-out included.
 *
 * Footprint, when logbus-bench started the broker (its pid and journal are
 * known): CPU seconds (utime + stime from /proc/PID/stat) and journal bytes
 * added during the run, per million records and per record, and the
 * broker's peak resident memory (VmHWM) after the runs.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <logbus/logbus.h>

#include "bench.h"

#define INGEST_WARMUP_FLUSH_MS 10000

/* Where the producers wait until every one is ready. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t open;
	bool go;
};

static void gate_wait(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->go)
		pthread_cond_wait(&g->open, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->go = true;
	pthread_cond_broadcast(&g->open);
	pthread_mutex_unlock(&g->mu);
}

struct producer {
	logbus_publisher *pub;
	char service[LOGBUS_SERVICE_MAX + 1];
	long records;
	const char *msg;
	size_t size;
	struct gate *start;
	int rv;         /* first failed call, LOGBUS_OK if none */
	int64_t end_ns; /* CLOCK_MONOTONIC after the flush */
};

struct ingest_result {
	long producers;
	double seconds;
	double records_per_s;
	double mb_per_s;          /* of message bytes */
	double cpu_s_per_million; /* NAN: broker not ours */
	double journal_bytes_per_record;
};

static int ingest_write(struct producer *p, long n)
{
	logbus_field f[BENCH_NFIELDS] = {LOGBUS_INT("n", n),
	                                 LOGBUS_STR("user", "user123"),
	                                 LOGBUS_BOOL("ok", 1)};
	logbus_entry e = {.level = LOGBUS_INFO,
	                  .message = p->msg,
	                  .message_len = p->size,
	                  .fields = f,
	                  .nfields = BENCH_NFIELDS};

	return logbus_write(p->pub, &e);
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	int rv = LOGBUS_OK;

	gate_wait(p->start);
	for (long i = 0; i < p->records && !bench_interrupted; i++)
		if ((rv = ingest_write(p, i)) != LOGBUS_OK)
			break;
	if (rv == LOGBUS_OK && !bench_interrupted)
		rv = logbus_flush(p->pub, -1);
	p->end_ns = clock_ns(CLOCK_MONOTONIC);
	p->rv = rv;
	return NULL;
}

/* Open the publishers and see one record of each acknowledged. */
static int producers_open(struct bench_ctx *c, struct producer *ps, long np,
                          const char *msg, struct gate *start)
{
	char why[512];
	int rv;

	for (long i = 0; i < np; i++) {
		struct producer *p = &ps[i];
		snprintf(p->service, sizeof p->service, "bench_ingest.%ld", i);
		logbus_publisher_options po = {
		    .run_dir = c->run_dir,
		    .service = p->service,
		    .on_full = LOGBUS_ON_FULL_BLOCK,
		    .linger_ms = c->o->linger_ms,
		};
		p->records = c->o->records / np + (i < c->o->records % np);
		p->msg = msg;
		p->size = (size_t)c->o->size;
		p->start = start;
		if ((rv = logbus_publisher_open(&p->pub, &po)) != LOGBUS_OK)
			return fail("cannot open a publisher on %s: %s",
			            c->run_dir, logbus_strerror(rv));
		if ((rv = ingest_write(p, -1)) == LOGBUS_OK)
			rv = bench_flush(p->pub, INGEST_WARMUP_FLUSH_MS);
		if (rv != LOGBUS_OK) {
			logbus_publisher_error(p->pub, why, sizeof why);
			return fail("no acknowledgement from logbusd at %s "
			            "within %d s: %s",
			            c->run_dir, INGEST_WARMUP_FLUSH_MS / 1000,
			            *why ? why : logbus_strerror(rv));
		}
	}
	return 0;
}

/* Every record committed once, none dropped or refused. */
static int producers_check(struct producer *ps, long np)
{
	char why[512];

	for (long i = 0; i < np; i++) {
		logbus_publisher_stats st;
		logbus_publisher_get_stats(ps[i].pub, &st);
		if (ps[i].rv != LOGBUS_OK) {
			logbus_publisher_error(ps[i].pub, why, sizeof why);
			return fail("producer %ld: %s: %s", i,
			            logbus_strerror(ps[i].rv), why);
		}
		if (st.committed != (uint64_t)ps[i].records + 1 ||
		    st.dropped != 0 || st.rejected != 0)
			return fail("producer %ld logged %ld records (+1 "
			            "warm-up): %llu committed, %llu dropped, "
			            "%llu refused",
			            i, ps[i].records,
			            (unsigned long long)st.committed,
			            (unsigned long long)st.dropped,
			            (unsigned long long)st.rejected);
	}
	return 0;
}

static int ingest_once(struct bench_ctx *c, long np, struct ingest_result *res)
{
	struct producer ps[MAX_PRODUCERS];
	pthread_t threads[MAX_PRODUCERS];
	struct gate start = {PTHREAD_MUTEX_INITIALIZER,
	                     PTHREAD_COND_INITIALIZER, false};
	long started = 0;
	char *msg = bench_message((size_t)c->o->size);
	pid_t pid = c->broker ? c->broker->pid : -1;
	double cpu0 = NAN, cpu1 = NAN;
	int64_t jb0 = -1, jb1 = -1, t0 = 0, end = 0;
	int status, rv;

	memset(ps, 0, sizeof ps);
	if (msg == NULL)
		return fail("out of memory");
	if ((status = producers_open(c, ps, np, msg, &start)) != 0)
		goto out;
	if (pid > 0) {
		cpu0 = proc_cpu_seconds(pid);
		jb0 = dir_bytes(c->broker->journal_dir);
	}
	for (; started < np; started++) {
		rv = pthread_create(&threads[started], NULL, producer_main,
		                    &ps[started]);
		if (rv != 0) {
			status = fail("cannot start a producer thread (%s)",
			              strerror(rv));
			break;
		}
	}
	if (status != 0) /* the started ones wait: let them log none */
		for (long i = 0; i < started; i++)
			ps[i].records = 0;
	t0 = clock_ns(CLOCK_MONOTONIC);
	gate_open(&start);
	for (long i = 0; i < started; i++) {
		pthread_join(threads[i], NULL);
		if (ps[i].end_ns > end)
			end = ps[i].end_ns;
	}
	if (status != 0)
		goto out;
	if (bench_interrupted) {
		status = fail("interrupted");
		goto out;
	}
	if ((status = producers_check(ps, np)) != 0)
		goto out;
	if (pid > 0) {
		cpu1 = proc_cpu_seconds(pid);
		jb1 = dir_bytes(c->broker->journal_dir);
	}
	res->producers = np;
	res->seconds = (double)(end - t0) / 1e9;
	res->records_per_s = (double)c->o->records / res->seconds;
	res->mb_per_s = res->records_per_s * c->o->size / 1e6;
	res->cpu_s_per_million = (cpu1 - cpu0) * 1e6 / (double)c->o->records;
	res->journal_bytes_per_record =
	    jb0 >= 0 && jb1 >= 0 ? (double)(jb1 - jb0) / (double)c->o->records
	                         : NAN;
out:
	for (long i = 0; i < np; i++)
		if (ps[i].pub != NULL)
			logbus_publisher_close(ps[i].pub,
			                       status == 0 ? 5000 : 0);
	free(msg);
	return status;
}

static void ingest_report(struct bench_ctx *c, const struct ingest_result *r)
{
	char prefix[32], key[64], label[64];

	if (r->producers == 1)
		snprintf(prefix, sizeof prefix, "ingest");
	else
		snprintf(prefix, sizeof prefix, "ingest%ld", r->producers);
	report_note(c->rep, "%ld producer%s, %ld records:", r->producers,
	            r->producers == 1 ? "" : "s", c->o->records);
	snprintf(key, sizeof key, "%s_records_per_s", prefix);
	report_num(c->rep, key, "  records/s", r->records_per_s, 0,
	           "records/s");
	snprintf(key, sizeof key, "%s_mb_per_s", prefix);
	report_num(c->rep, key, "  message MB/s", r->mb_per_s, 1, "MB/s");
	snprintf(key, sizeof key, "%s_seconds", prefix);
	report_num(c->rep, key, "  first call to last ack", r->seconds, 6, "s");
	snprintf(key, sizeof key, "%s_broker_cpu_s_per_million", prefix);
	snprintf(label, sizeof label, "  broker CPU per million records");
	report_num(c->rep, key, label, r->cpu_s_per_million, 3, "s");
}

static void footprint_report(struct bench_ctx *c, const struct ingest_result *r)
{
	int64_t hwm = c->broker ? proc_peak_rss(c->broker->pid) : -1;

	report_section(c->rep, "footprint: the broker during ingest");
	if (c->broker == NULL)
		report_note(c->rep, "(not measured: logbus-bench did not start "
		                    "the broker, --run-dir)");
	else
		report_note(c->rep,
		            "over the %ld-producer run; peak after all "
		            "runs",
		            r->producers);
	report_num(c->rep, "broker_cpu_s_per_million",
	           "broker CPU per million records", r->cpu_s_per_million, 3,
	           "s");
	report_num(c->rep, "broker_peak_rss_mib", "broker peak RSS (VmHWM)",
	           hwm >= 0 ? (double)hwm / (1024.0 * 1024.0) : NAN, 1, "MiB");
	report_num(c->rep, "journal_bytes_per_record",
	           "journal bytes per record", r->journal_bytes_per_record, 1,
	           "bytes");
}

static int ingest_runs(struct bench_ctx *c, const long *producers, size_t n)
{
	struct ingest_result res[MAX_RATES], *foot = NULL;
	int status;

	report_section(c->rep, "ingest: first logging call to last "
	                       "acknowledgement");
	report_note(c->rep,
	            "%d-byte messages + %d fields, each producer a thread and "
	            "a service of its own;",
	            c->o->size, BENCH_NFIELDS);
	report_note(c->rep, "broker defaults: journal, all.log, by-logger/, "
	                    "live fan-out; no rate limit (--rate-burst 0)");
	report_int(c->rep, "records", NULL, c->o->records, "");
	report_int(c->rep, "size", NULL, c->o->size, "");
	for (size_t i = 0; i < n; i++) {
		if ((status = ingest_once(c, producers[i], &res[i])) != 0)
			return status;
		ingest_report(c, &res[i]);
		if (foot == NULL ||
		    (foot->producers != 1 && res[i].producers == 1))
			foot = &res[i];
	}
	footprint_report(c, foot);
	return 0;
}

int mode_ingest(struct bench_ctx *c)
{
	return ingest_runs(c, c->o->producers, c->o->nproducers);
}

int mode_footprint(struct bench_ctx *c)
{
	static const long one[] = {1};

	return ingest_runs(c, one, 1);
}
