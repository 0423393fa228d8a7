/*
 * bench_live.c: live latency, from the logging call to a follower's on_log.
 *
 * For each rate a publisher thread logs at that rate (each millisecond the
 * records due) to a service of its own while a subscription follows that
 * service (logbus_subscribe, START_NEW, follow); on_log takes
 * CLOCK_REALTIME minus the record's time_ns.  Probe records are logged first
 * until the follower sees one, so no measured record can be missed because
 * it subscribed late.  A record lost or delivered twice fails the run.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "bench.h"

/* ---- live: latency from the logging call to a follower's on_log -------- */

#define LIVE_WARMUP_NS  (NS_PER_S / 2)
#define LIVE_TICK_NS    NS_PER_MS /* log what is due every tick */
#define LIVE_PROBE_MS   20        /* a probe record this often ... */
#define LIVE_READY_MS   10000     /* ... until the follower sees one */
#define LIVE_STRAGGLERS 5000      /* ms to wait for the last records */
#define LIVE_FLUSH_MS   10000
#define LIVE_NFIELDS    3

/* Field "n" of a record: which record of the run it is. */
#define N_PROBE  (-2)
#define N_WARMUP (-1)

/* One rate: what both sides share. */
struct live_run {
	long rate;
	char service[LOGBUS_SERVICE_MAX + 1];
	char *message;
	size_t message_len;

	/* measured records: planned, then logged (publisher thread) */
	size_t planned;
	size_t published;
	int64_t measure_ns; /* how long logging them took, at least planned */
	logbus_publisher *pub;
	int log_error; /* first failed logging call */

	/* written by on_log only; the counts read by the main thread */
	int64_t *latency_ns; /* [planned], in arrival order */
	unsigned char *seen; /* [planned], by n */
	atomic_size_t received;
	atomic_size_t duplicates;
	atomic_size_t probes;
	bool follower_said; /* on_error reported once (its thread only) */
};

struct live_result {
	long rate;
	size_t published, received, duplicates;
	double publish_rate;
	double p50_us, p99_us, p999_us, max_us;
};

static int live_on_log(const logbus_record *rec, void *user)
{
	int64_t now = clock_ns(CLOCK_REALTIME);
	struct live_run *r = user;
	int64_t n = INT64_MIN;

	for (size_t i = 0; i < rec->nfields; i++)
		if (rec->fields[i].type == LOGBUS_FIELD_INT &&
		    strcmp(rec->fields[i].key, "n") == 0)
			n = rec->fields[i].v.i;
	if (n == N_PROBE) {
		atomic_fetch_add(&r->probes, 1);
	} else if (n >= 0 && (size_t)n < r->planned) {
		size_t got =
		    atomic_load_explicit(&r->received, memory_order_relaxed);
		if (r->seen[n]) {
			atomic_fetch_add(&r->duplicates, 1);
			return 0;
		}
		r->seen[n] = 1;
		r->latency_ns[got] = now - rec->time_ns;
		atomic_store_explicit(&r->received, got + 1,
		                      memory_order_release);
	}
	return 0;
}

/* A record of the run: n >= 0 measured, N_WARMUP or N_PROBE. */
static int live_log(struct live_run *r, int64_t n)
{
	logbus_field fields[LIVE_NFIELDS] = {
	    LOGBUS_INT("n", n),
	    LOGBUS_STR("phase", n >= 0          ? "measure"
	                        : n == N_WARMUP ? "warmup"
	                                        : "probe"),
	    LOGBUS_INT("rate", r->rate),
	};
	logbus_entry e = {
	    .level = LOGBUS_INFO,
	    .message = r->message,
	    .message_len = r->message_len,
	    .fields = fields,
	    .nfields = LIVE_NFIELDS,
	};

	return logbus_write(r->pub, &e);
}

/*
 * The publisher thread: record i is due at start + i / rate; every tick it
 * logs what is due, so a late tick catches up and the rate holds on
 * average.  The first half second is warm-up, not measured.
 */
static void *live_publisher_main(void *arg)
{
	struct live_run *r = arg;
	size_t warmup = (size_t)(r->rate * LIVE_WARMUP_NS / NS_PER_S);
	size_t total = warmup + r->planned, i = 0;
	int64_t start = clock_ns(CLOCK_MONOTONIC);
	int64_t measure_start = start + LIVE_WARMUP_NS;
	int64_t planned_ns =
	    (int64_t)((double)r->planned * NS_PER_S / (double)r->rate);
	int64_t tick = start;
	int rv;

	while (i < total && !bench_interrupted) {
		int64_t now = clock_ns(CLOCK_MONOTONIC);
		/* due: records whose time has come, +1 for record 0 at start */
		size_t due = (size_t)((double)(now - start) * (double)r->rate /
		                      NS_PER_S) +
		             1;
		if (due > total)
			due = total;
		for (; i < due; i++) {
			int64_t n =
			    i < warmup ? N_WARMUP : (int64_t)(i - warmup);
			if ((rv = live_log(r, n)) != LOGBUS_OK) {
				r->log_error = rv;
				goto out;
			}
			if (n >= 0)
				r->published++;
		}
		tick += LIVE_TICK_NS;
		if (tick > now)
			sleep_until(tick);
	}
out:
	r->measure_ns = clock_ns(CLOCK_MONOTONIC) - measure_start;
	if (r->measure_ns < planned_ns)
		r->measure_ns = planned_ns;
	return NULL;
}

/* Log probe records until the follower has seen one: it is then placed
 * in the journal and following live, so no measured record can be missed
 * because it subscribed late. */
static int live_wait_ready(struct live_run *r, const char *run_dir)
{
	char err[256];
	int rv;

	for (int waited = 0; atomic_load(&r->probes) == 0;
	     waited += LIVE_PROBE_MS) {
		if (bench_interrupted)
			return fail("interrupted");
		if (waited >= LIVE_READY_MS) {
			logbus_publisher_error(r->pub, err, sizeof err);
			return fail("no record came back from logbusd at %s "
			            "within %d s: %s",
			            run_dir, LIVE_READY_MS / 1000,
			            *err ? err : "is logbusd running?");
		}
		if ((rv = live_log(r, N_PROBE)) != LOGBUS_OK) {
			logbus_publisher_error(r->pub, err, sizeof err);
			return fail("logging failed: %s",
			            *err ? err : logbus_strerror(rv));
		}
		sleep_ms(LIVE_PROBE_MS);
	}
	return 0;
}

/* A passing error (the broker restarting) is retried; say so once, as the
 * figures of this rate will show it. */
static int live_on_error(int code, const char *message, void *user)
{
	struct live_run *r = user;
	bool passing = code == LOGBUS_EUNREACHABLE || code == LOGBUS_ETIMEDOUT;

	if (!passing || !r->follower_said)
		fprintf(stderr, "logbus-bench: follower at %ld/s: %s%s\n",
		        r->rate, message ? message : logbus_strerror(code),
		        passing ? " (retrying)" : "");
	r->follower_said = true;
	return passing;
}

/* Publish at r->rate and measure; fills res. */
static int live_run_rate(const struct bench_opts *o, const char *run_dir,
                         struct live_run *r, struct live_result *res)
{
	const char *services[1] = {r->service};
	logbus_reader_options ro = {
	    .run_dir = run_dir,
	    .start = LOGBUS_START_NEW,
	    .follow = 1,
	    .filter = {.services = services, .nservices = 1},
	};
	logbus_publisher_options po = {
	    .run_dir = run_dir,
	    .service = r->service,
	    .linger_ms = o->linger_ms,
	};
	logbus_subscription *sub = NULL;
	pthread_t publisher;
	char err[256] = "";
	int rv, status = 0;

	ro.error = err;
	ro.error_len = sizeof err;
	if ((rv = logbus_subscribe(&sub, &ro, live_on_log, live_on_error, r)) !=
	    LOGBUS_OK)
		return fail("cannot follow logbusd at %s: %s", run_dir,
		            *err ? err : logbus_strerror(rv));
	if ((rv = logbus_publisher_open(&r->pub, &po)) != LOGBUS_OK) {
		logbus_subscription_close(sub);
		return fail("cannot open a publisher for %s: %s", run_dir,
		            logbus_strerror(rv));
	}
	if ((status = live_wait_ready(r, run_dir)) != 0)
		goto out;

	if ((rv = pthread_create(&publisher, NULL, live_publisher_main, r)) !=
	    0) {
		status = fail("cannot start the publisher thread (%s)",
		              strerror(rv));
		goto out;
	}
	pthread_join(publisher, NULL);
	if (r->log_error != 0) {
		logbus_publisher_error(r->pub, err, sizeof err);
		status = fail("logging at %ld/s failed: %s", r->rate,
		              *err ? err : logbus_strerror(r->log_error));
		goto out;
	}
	if (bench_interrupted) {
		status = fail("interrupted");
		goto out;
	}

	/* Stragglers: up to LIVE_STRAGGLERS from the end of publishing. */
	int64_t until = clock_ns(CLOCK_MONOTONIC) + LIVE_STRAGGLERS * NS_PER_MS;
	if ((rv = bench_flush(r->pub, LIVE_FLUSH_MS)) != LOGBUS_OK) {
		logbus_publisher_error(r->pub, err, sizeof err);
		fprintf(stderr, "logbus-bench: flush at %ld/s: %s\n", r->rate,
		        *err ? err : logbus_strerror(rv));
	}
	while (atomic_load(&r->received) < r->published && !bench_interrupted &&
	       clock_ns(CLOCK_MONOTONIC) < until)
		sleep_ms(1);
	if (bench_interrupted)
		status = fail("interrupted");
out:
	logbus_subscription_close(sub); /* on_log has returned for good */
	/* Flushed already, unless this is an error path: then do not wait. */
	logbus_publisher_close(r->pub, status == 0 ? LIVE_FLUSH_MS : 0);
	r->pub = NULL;
	if (status != 0)
		return status;

	size_t got = atomic_load(&r->received);
	samples_sort(r->latency_ns, got);
	res->rate = r->rate;
	res->published = r->published;
	res->received = got;
	res->duplicates = atomic_load(&r->duplicates);
	res->publish_rate =
	    (double)r->published * NS_PER_S / (double)r->measure_ns;
	res->p50_us = percentile(r->latency_ns, got, 0.50) / 1e3;
	res->p99_us = percentile(r->latency_ns, got, 0.99) / 1e3;
	res->p999_us = percentile(r->latency_ns, got, 0.999) / 1e3;
	res->max_us = percentile(r->latency_ns, got, 1.0) / 1e3;
	return 0;
}

static void live_run_free(struct live_run *r)
{
	free(r->message);
	free(r->latency_ns);
	free(r->seen);
}

/* Set up one rate: the message, and the arrays touched now so that on_log
 * takes no page faults while it measures. */
static int live_run_init(struct live_run *r, const struct bench_opts *o,
                         size_t idx)
{
	static const char text[] = "logbus-bench live record, payload "
	                           "0123456789abcdefghijklmnopqrstuvwxyz ";
	long rate = o->rates[idx];

	memset(r, 0, sizeof *r);
	r->rate = rate;
	/* A service of its own per rate: nothing else matches the filter. */
	snprintf(r->service, sizeof r->service, "logbus-bench.%ld.%zu.%ld",
	         (long)getpid(), idx, rate);
	r->planned = (size_t)llround((double)rate * o->seconds);
	if (r->planned == 0)
		r->planned = 1;
	r->message_len = (size_t)o->size;
	r->message = malloc(r->message_len + 1);
	r->latency_ns = malloc(r->planned * sizeof *r->latency_ns);
	r->seen = malloc(r->planned);
	if (r->message == NULL || r->latency_ns == NULL || r->seen == NULL) {
		live_run_free(r);
		return fail("out of memory for %zu records at %ld/s",
		            r->planned, rate);
	}
	for (size_t i = 0; i < r->message_len; i++)
		r->message[i] = text[i % (sizeof text - 1)];
	r->message[r->message_len] = '\0';
	memset(r->latency_ns, 0, r->planned * sizeof *r->latency_ns);
	memset(r->seen, 0, r->planned);
	atomic_init(&r->received, 0);
	atomic_init(&r->duplicates, 0);
	atomic_init(&r->probes, 0);
	return 0;
}

static void live_report(struct bench_ctx *c, const struct live_result *res,
                        size_t n)
{
	const struct bench_opts *o = c->o;
	struct report *rep = c->rep;
	char key[64], label[64], linger[32];

	if (o->linger_ms > 0)
		snprintf(linger, sizeof linger, "%d ms", o->linger_ms);
	else
		snprintf(linger, sizeof linger, "library default");
	report_section(rep, "live latency: logging call -> follower's on_log");
	report_note(rep,
	            "%d-byte messages, %d fields, %g s per rate after %g s of "
	            "warm-up, linger %s",
	            o->size, LIVE_NFIELDS, o->seconds,
	            (double)LIVE_WARMUP_NS / NS_PER_S, linger);
	report_num(rep, "live_seconds", NULL, o->seconds, 3, "s");
	report_open(rep, "live_results", '[');
	for (size_t i = 0; i < n; i++) {
		report_open(rep, NULL, '{');
		report_int(rep, "rate", NULL, res[i].rate, "");
		report_num(rep, "publish_rate_per_s", NULL, res[i].publish_rate,
		           1, "");
		report_int(rep, "published", NULL, (int64_t)res[i].published,
		           "");
		report_int(rep, "received", NULL, (int64_t)res[i].received, "");
		report_int(rep, "lost", NULL,
		           (int64_t)res[i].published - (int64_t)res[i].received,
		           "");
		report_int(rep, "duplicates", NULL, (int64_t)res[i].duplicates,
		           "");
		report_num(rep, "live_latency_us_p50", NULL, res[i].p50_us, 1,
		           "");
		report_num(rep, "live_latency_us_p99", NULL, res[i].p99_us, 1,
		           "");
		report_num(rep, "live_latency_us_p999", NULL, res[i].p999_us, 1,
		           "");
		report_num(rep, "live_latency_us_max", NULL, res[i].max_us, 1,
		           "");
		report_close(rep, '}');
	}
	report_close(rep, ']');
	for (size_t i = 0; i < n; i++) {
		static const struct {
			const char *name, *label;
			size_t off;
		} pct[] = {
		    {"p50", "p50", offsetof(struct live_result, p50_us)},
		    {"p99", "p99", offsetof(struct live_result, p99_us)},
		    {"p999", "p99.9", offsetof(struct live_result, p999_us)},
		    {"max", "max", offsetof(struct live_result, max_us)},
		};
		bool again = false;
		for (size_t k = 0; k < i; k++)
			again = again || res[k].rate == res[i].rate;
		if (again)
			continue; /* a key once: the first run at this rate */
		report_note(rep,
		            "at %ld/s: achieved %.0f/s, %zu published, %zu "
		            "received",
		            res[i].rate, res[i].publish_rate, res[i].published,
		            res[i].received);
		for (size_t k = 0; k < sizeof pct / sizeof pct[0]; k++) {
			double v = *(const double *)((const char *)&res[i] +
			                             pct[k].off);
			snprintf(key, sizeof key, "live_latency_us_%s_at_%ld",
			         pct[k].name, res[i].rate);
			snprintf(label, sizeof label, "  latency %s at %ld/s",
			         pct[k].label, res[i].rate);
			report_num(rep, key, label, v, 1, "us");
		}
	}
}

int mode_live(struct bench_ctx *c)
{
	const struct bench_opts *o = c->o;
	struct live_result res[MAX_RATES];
	int status = 0;

	for (size_t i = 0; i < o->nrates; i++) {
		struct live_run r;
		if ((status = live_run_init(&r, o, i)) != 0)
			return status;
		status = live_run_rate(o, c->run_dir, &r, &res[i]);
		live_run_free(&r);
		if (status != 0)
			return status;
	}
	live_report(c, res, o->nrates);
	for (size_t i = 0; i < o->nrates; i++) {
		if (res[i].received < res[i].published)
			status = fail("%zu of %zu records published at %ld/s "
			              "never reached the follower",
			              res[i].published - res[i].received,
			              res[i].published, res[i].rate);
		if (res[i].duplicates > 0)
			status = fail("%zu records published at %ld/s reached "
			              "the follower twice",
			              res[i].duplicates, res[i].rate);
	}
	return status;
}
