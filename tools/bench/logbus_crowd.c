/*
 * logbus_crowd.c: logbus-crowd, many clients at once against a running
 * logbusd, and the broker's memory while they work.
 *
 * Opens --publishers separate logbus_publisher handles (one service each,
 * "crowd-<i>", driven by a few threads) and --subscribers following
 * subscriptions (logger "crowd"), publishes --rate records per second per
 * publisher for --seconds, flushes, then waits until every subscriber has
 * received every record exactly once and in each publisher's order.  While
 * it runs it samples the broker's VmRSS from /proc (the broker's pid comes
 * from the run directory's lock file) and at the end prints its VmHWM, the
 * peak resident memory since the broker started.
 *
 * Fairness and slow readers (issue 15): --flood adds a publisher (service
 * "crowd-flood", logger "flood") that logs as fast as logbus_log lets it
 * for the whole run; --quiet-rate R adds a quiet publisher ("crowd-quiet",
 * logger "quiet") logging R records/s and a follower of that service alone,
 * which measures each record's latency from logbus_log (the record's time)
 * to its callback and prints p50, p99 and the maximum; --stall S adds a
 * follower of the crowd whose callback stops for S seconds at its first
 * record: it must then catch up (every record once) or be told "cursor
 * expired", and the others and the quiet follower go on meanwhile.
 *
 * Built only on liblogbus's public API.  Exit status: 0 every record
 * arrived everywhere (and VmHWM is under --max-rss-mb, if given), 1 not,
 * 2 a bad command line.  Messages are lines on stderr starting
 * "logbus-crowd: ".
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <logbus/logbus.h>

#define MAX_PUBLISHERS  20000
#define MAX_SUBSCRIBERS 2000
#define DRIVERS         8   /* threads that drive the publishers */
#define TICK_MS         100 /* a driver logs a tick's share at a time */
#define QUEUE_BYTES     (64 * 1024)
#define DELIVERY_WAIT_S 120 /* for the subscribers after the last flush */
#define FLUSH_S         60  /* for all the publishers' last flushes */
#define CLOSE_MS        10000

struct opts {
	const char *run_dir;
	int publishers, subscribers;
	double seconds;
	double rate; /* records/s per publisher */
	long max_rss_mb;
	bool flood;
	double quiet_rate; /* 0: no quiet publisher */
	double stall_s;    /* 0: no stalled follower */
	double max_quiet_p99_ms;
};

#define LAT_MAX 1000000 /* quiet latencies kept */

/* The quiet service's follower: latencies in µs, in arrival order. */
struct quiet {
	logbus_publisher *pub;
	logbus_subscription *s;
	uint64_t published;
	atomic_uint_fast64_t received, wrong;
	uint64_t next;
	uint32_t *lat_us;
	atomic_size_t nlat;
};

struct crowd {
	const struct opts *o;
	logbus_publisher **pubs;
	uint64_t *published; /* per publisher, written by its driver */
	atomic_bool stop;
	atomic_int failed_logs;
};

struct sub {
	logbus_subscription *s;
	uint64_t *next; /* per publisher: the number expected next */
	atomic_uint_fast64_t received;
	atomic_uint_fast64_t wrong; /* out of order, twice, or unparsable */
	int npub;
	double stall_s;      /* stop this long at the first record */
	atomic_bool expired; /* told "cursor expired" */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("logbus-crowd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The broker's pid, from the lock file it keeps in its run directory. */
static long broker_pid(const char *run_dir)
{
	char path[4200];
	long pid = -1;

	snprintf(path, sizeof path, "%s/logbusd.lock", run_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

/* A "VmXXX:  N kB" line of /proc/PID/status, in kB, or -1. */
static long proc_kb(long pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	size_t klen = strlen(key);

	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int on_log(const logbus_record *rec, void *user)
{
	struct sub *s = user;
	unsigned p;
	unsigned long long n;

	if (s->stall_s > 0) {
		sleep_ms((long)(s->stall_s * 1000));
		s->stall_s = 0;
	}
	if (sscanf(rec->message, "p%u n%llu", &p, &n) != 2 ||
	    p >= (unsigned)s->npub || n != s->next[p]) {
		atomic_fetch_add(&s->wrong, 1);
	} else {
		s->next[p]++;
	}
	atomic_fetch_add(&s->received, 1);
	return 0;
}

static int on_error(int code, const char *message, void *user)
{
	struct sub *s = user;

	say("subscriber: %s: %s", logbus_strerror(code), message);
	if (code == LOGBUS_EEXPIRED && s != NULL) {
		atomic_store(&s->expired, true);
		return 0; /* an answer: it fell behind retention */
	}
	return 1; /* retry: the broker's errors here are passing */
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int on_quiet(const logbus_record *rec, void *user)
{
	struct quiet *q = user;
	unsigned long long n;
	int64_t lat = (wall_ns() - rec->time_ns) / 1000;
	size_t i = atomic_fetch_add(&q->nlat, 1);

	if (i < LAT_MAX)
		q->lat_us[i] = lat < 0 ? 0 : (uint32_t)lat;
	if (sscanf(rec->message, "q%llu", &n) != 1 || n != q->next)
		atomic_fetch_add(&q->wrong, 1);
	else
		q->next++;
	atomic_fetch_add(&q->received, 1);
	return 0;
}

static int on_quiet_error(int code, const char *message, void *user)
{
	(void)user;
	say("quiet follower: %s: %s", logbus_strerror(code), message);
	return 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct flood {
	struct crowd *c;
	logbus_publisher *pub;
	uint64_t published;
};

/* As fast as the publisher takes records, until the run ends. */
static void *drive_flood(void *arg)
{
	struct flood *f = arg;
	double end = now_s() + f->c->o->seconds;

	while (!atomic_load(&f->c->stop) && now_s() < end)
		for (int k = 0; k < 1000; k++)
			if (logbus_log(f->pub, LOGBUS_INFO, "f%llu",
			               (unsigned long long)f->published) ==
			    LOGBUS_OK)
				f->published++;
	return NULL;
}

struct quiet_driver {
	struct crowd *c;
	struct quiet *q;
};

static void *drive_quiet(void *arg)
{
	struct quiet_driver *d = arg;
	long gap_ms = (long)(1000 / d->c->o->quiet_rate);
	double end = now_s() + d->c->o->seconds;

	while (!atomic_load(&d->c->stop) && now_s() < end) {
		if (logbus_log(d->q->pub, LOGBUS_INFO, "q%llu",
		               (unsigned long long)d->q->published) ==
		    LOGBUS_OK)
			d->q->published++;
		sleep_ms(gap_ms > 0 ? gap_ms : 1);
	}
	return NULL;
}

struct driver {
	struct crowd *c;
	int from, to; /* publishers [from, to) */
};

static void *drive(void *arg)
{
	struct driver *d = arg;
	struct crowd *c = d->c;
	double per_tick = c->o->rate * (TICK_MS / 1000.0), owed = 0;
	double end = now_s() + c->o->seconds;

	while (!atomic_load(&c->stop) && now_s() < end) {
		double t = now_s();
		owed += per_tick;
		int n = (int)owed;
		owed -= n;
		for (int p = d->from; p < d->to; p++)
			for (int k = 0; k < n; k++) {
				int rv = logbus_log(
				    c->pubs[p], LOGBUS_INFO, "p%d n%llu", p,
				    (unsigned long long)c->published[p]);
				if (rv != LOGBUS_OK) {
					atomic_fetch_add(&c->failed_logs, 1);
					continue;
				}
				c->published[p]++;
			}
		long left = TICK_MS - (long)((now_s() - t) * 1000);
		if (left > 0)
			sleep_ms(left);
	}
	return NULL;
}

static int usage(FILE *f, int rc)
{
	fprintf(f,
	        "usage: logbus-crowd --run-dir DIR [options]\n"
	        "\n"
	        "Many publishers and following subscribers against a running "
	        "logbusd; reports\nthe broker's resident memory and checks "
	        "that every record reached every\nsubscriber.\n"
	        "\n"
	        "  --run-dir DIR       the broker's run directory (required)\n"
	        "  --publishers N      publisher handles (default 1000)\n"
	        "  --subscribers N     following subscriptions (default 100)\n"
	        "  --seconds S         how long to publish (default 10)\n"
	        "  --rate R            records/s per publisher, 0.01 to 100000 "
	        "(default 1)\n"
	        "  --max-rss-mb MB     fail when the broker's VmHWM is over "
	        "MB\n"
	        "  --flood             one more publisher logging at full "
	        "speed\n"
	        "  --quiet-rate R      a quiet publisher of R records/s and "
	        "its follower's\n"
	        "                      latency (p50, p99, max)\n"
	        "  --max-quiet-p99-ms MS  fail when the quiet p99 is over "
	        "MS\n"
	        "  --stall S           one more follower that stops reading "
	        "for S seconds\n");
	return rc;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"run-dir", required_argument, NULL, 'r'},
	    {"publishers", required_argument, NULL, 'p'},
	    {"subscribers", required_argument, NULL, 's'},
	    {"seconds", required_argument, NULL, 't'},
	    {"rate", required_argument, NULL, 'R'},
	    {"max-rss-mb", required_argument, NULL, 'm'},
	    {"flood", no_argument, NULL, 'F'},
	    {"quiet-rate", required_argument, NULL, 'Q'},
	    {"max-quiet-p99-ms", required_argument, NULL, 'P'},
	    {"stall", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long v;
	char *end;
	int ch, li = 0;

	*o = (struct opts){
	    .publishers = 1000, .subscribers = 100, .seconds = 10, .rate = 1};
	while ((ch = getopt_long(argc, argv, "h", lo, &li)) != -1) {
		switch (ch) {
		case 'r':
			o->run_dir = optarg;
			break;
		case 'p':
			if (!parse_int(optarg, 1, MAX_PUBLISHERS, &v))
				goto bad;
			o->publishers = (int)v;
			break;
		case 's':
			if (!parse_int(optarg, 0, MAX_SUBSCRIBERS, &v))
				goto bad;
			o->subscribers = (int)v;
			break;
		case 't':
			o->seconds = strtod(optarg, &end);
			if (*end || !(o->seconds > 0 && o->seconds <= 3600))
				goto bad;
			break;
		case 'R':
			o->rate = strtod(optarg, &end);
			if (*end || !(o->rate >= 0.01 && o->rate <= 100000))
				goto bad;
			break;
		case 'm':
			if (!parse_int(optarg, 1, 1L << 30, &v))
				goto bad;
			o->max_rss_mb = v;
			break;
		case 'F':
			o->flood = true;
			break;
		case 'Q':
			o->quiet_rate = strtod(optarg, &end);
			if (*end ||
			    !(o->quiet_rate >= 0.1 && o->quiet_rate <= 1000))
				goto bad;
			break;
		case 'P':
			o->max_quiet_p99_ms = strtod(optarg, &end);
			if (*end || !(o->max_quiet_p99_ms > 0))
				goto bad;
			break;
		case 'S':
			o->stall_s = strtod(optarg, &end);
			if (*end || !(o->stall_s > 0 && o->stall_s <= 3600))
				goto bad;
			break;
		case 'h':
			exit(usage(stdout, 0));
		default:
			exit(usage(stderr, 2));
		}
	}
	if (o->run_dir == NULL || optind < argc) {
		say("--run-dir is required and there are no arguments");
		return usage(stderr, 2);
	}
	return 0;
bad:
	say("bad value '%s' for --%s", optarg, lo[li].name);
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct crowd c = {.o = &o};
	struct sub *subs = NULL;
	struct quiet q = {0};
	struct flood fl = {.c = &c};
	int rc = 1, rv, nsubs;
	int close_ms = CLOSE_MS; /* 0 once the broker failed us */
	char err[256];

	if ((rv = parse(argc, argv, &o)) != 0)
		return rv;
	/* A descriptor or more per client: past the usual 1,024. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	long pid = broker_pid(o.run_dir);
	if (pid <= 0 || proc_kb(pid, "VmRSS") < 0) {
		say("no logbusd found through %s/logbusd.lock: is it running?",
		    o.run_dir);
		return 1;
	}
	long rss_start = proc_kb(pid, "VmRSS");
	c.pubs = calloc((size_t)o.publishers, sizeof *c.pubs);
	c.published = calloc((size_t)o.publishers, sizeof *c.published);
	subs = calloc((size_t)o.subscribers + 1, sizeof *subs);
	if (!c.pubs || !c.published || !subs) {
		say("out of memory");
		return 1;
	}
	nsubs = o.subscribers + (o.stall_s > 0);
	atomic_init(&c.stop, false);
	atomic_init(&c.failed_logs, 0);

	/* Subscribers first, following from now, so that they see all. */
	for (int i = 0; i < nsubs; i++) {
		const char *logger = "crowd";
		logbus_reader_options ro = {
		    .run_dir = o.run_dir,
		    .start = LOGBUS_START_NEW,
		    .follow = 1,
		    .timeout_ms = 30000,
		    .filter = {.logger_prefix = logger},
		    .error = err,
		    .error_len = sizeof err,
		};
		subs[i].npub = o.publishers;
		subs[i].next = calloc((size_t)o.publishers, sizeof(uint64_t));
		atomic_init(&subs[i].received, 0);
		atomic_init(&subs[i].wrong, 0);
		atomic_init(&subs[i].expired, false);
		subs[i].stall_s = i == o.subscribers ? o.stall_s : 0;
		if (subs[i].next == NULL ||
		    (rv = logbus_subscribe(&subs[i].s, &ro, on_log, on_error,
		                           &subs[i])) != LOGBUS_OK) {
			say("subscriber %d: %s: %s", i,
			    subs[i].next ? logbus_strerror(rv) : "no memory",
			    err);
			goto out;
		}
	}
	for (int i = 0; i < o.publishers; i++) {
		char svc[32];
		snprintf(svc, sizeof svc, "crowd-%d", i);
		logbus_publisher_options po = {.run_dir = o.run_dir,
		                               .service = svc,
		                               .logger = "crowd",
		                               .queue_bytes = QUEUE_BYTES};
		if ((rv = logbus_publisher_open(&c.pubs[i], &po)) !=
		    LOGBUS_OK) {
			say("publisher %d: %s", i, logbus_strerror(rv));
			goto out;
		}
	}
	if (o.quiet_rate > 0) {
		static const char *const quiet_svc[] = {"crowd-quiet"};
		logbus_reader_options ro = {
		    .run_dir = o.run_dir,
		    .start = LOGBUS_START_NEW,
		    .follow = 1,
		    .timeout_ms = 30000,
		    .filter = {.services = quiet_svc, .nservices = 1},
		    .error = err,
		    .error_len = sizeof err,
		};
		logbus_publisher_options po = {.run_dir = o.run_dir,
		                               .service = "crowd-quiet",
		                               .logger = "quiet"};
		atomic_init(&q.received, 0);
		atomic_init(&q.wrong, 0);
		atomic_init(&q.nlat, 0);
		if ((q.lat_us = calloc(LAT_MAX, sizeof *q.lat_us)) == NULL ||
		    (rv = logbus_subscribe(&q.s, &ro, on_quiet, on_quiet_error,
		                           &q)) != LOGBUS_OK ||
		    (rv = logbus_publisher_open(&q.pub, &po)) != LOGBUS_OK) {
			say("quiet service: cannot start it: %s", err);
			goto out;
		}
	}
	if (o.flood) {
		logbus_publisher_options po = {.run_dir = o.run_dir,
		                               .service = "crowd-flood",
		                               .logger = "flood"};
		if ((rv = logbus_publisher_open(&fl.pub, &po)) != LOGBUS_OK) {
			say("flood publisher: %s", logbus_strerror(rv));
			goto out;
		}
	}
	long rss_connected = proc_kb(pid, "VmRSS");

	pthread_t th[DRIVERS];
	struct driver d[DRIVERS];
	int per = (o.publishers + DRIVERS - 1) / DRIVERS, nth = 0;
	double t0 = now_s();
	for (int i = 0; i < DRIVERS && i * per < o.publishers; i++) {
		d[i] = (struct driver){&c, i * per,
		                       (i + 1) * per < o.publishers
		                           ? (i + 1) * per
		                           : o.publishers};
		if (pthread_create(&th[i], NULL, drive, &d[i]) != 0) {
			say("cannot start a thread");
			atomic_store(&c.stop, true);
			break;
		}
		nth++;
	}
	pthread_t flood_th, quiet_th;
	struct quiet_driver qd = {&c, &q};
	bool flooding =
	    o.flood && pthread_create(&flood_th, NULL, drive_flood, &fl) == 0;
	bool quieting = o.quiet_rate > 0 &&
	                pthread_create(&quiet_th, NULL, drive_quiet, &qd) == 0;
	long rss_max = 0;
	while (now_s() - t0 < o.seconds) {
		long r = proc_kb(pid, "VmRSS");
		if (r < 0) { /* the broker is gone: no wait is any use */
			say("logbusd (pid %ld) is gone", pid);
			close_ms = 0;
			break;
		}
		rss_max = r > rss_max ? r : rss_max;
		sleep_ms(200);
	}
	atomic_store(&c.stop, true);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (flooding)
		pthread_join(flood_th, NULL);
	if (quieting)
		pthread_join(quiet_th, NULL);
	if (close_ms == 0)
		goto out;
	/* One deadline for every flush, not FLUSH_S each. */
	uint64_t total = 0;
	double flush_end = now_s() + FLUSH_S;
	for (int i = 0; i < o.publishers; i++) {
		double left = flush_end - now_s();
		rv = logbus_flush(c.pubs[i], left > 0 ? (int)(left * 1000) : 0);
		if (rv != LOGBUS_OK) {
			say("publisher %d: flush: %s: %s", i,
			    logbus_strerror(rv),
			    logbus_publisher_error(c.pubs[i], err, sizeof err));
			close_ms = 0;
			goto out;
		}
		total += c.published[i];
	}
	double pub_s = now_s() - t0;
	for (int k = 0; k < 2; k++) {
		logbus_publisher *p = k ? q.pub : fl.pub;
		/* the flood may meet its service's rate limit: policy */
		if (p && (rv = logbus_flush(p, 60000)) != LOGBUS_OK &&
		    !(k == 0 && rv == LOGBUS_ELIMITED)) {
			say("%s publisher: flush: %s", k ? "quiet" : "flood",
			    logbus_strerror(rv));
			goto out;
		}
	}

	/* Every subscriber gets every record; the stalled one may instead
	 * be told that it fell behind what the journal keeps. */
	double deadline = now_s() + DELIVERY_WAIT_S + o.stall_s;
	int behind = 1; /* nsubs may be 0 with only the quiet follower */
	while (behind > 0 && now_s() < deadline) {
		behind = q.pub && atomic_load(&q.received) < q.published;
		for (int i = 0; i < nsubs; i++)
			behind += atomic_load(&subs[i].received) < total &&
			          !atomic_load(&subs[i].expired);
		long r = proc_kb(pid, "VmRSS");
		rss_max = r > rss_max ? r : rss_max;
		if (behind > 0)
			sleep_ms(100);
	}
	uint64_t wrong = 0, missing = 0;
	for (int i = 0; i < nsubs; i++) {
		if (atomic_load(&subs[i].expired))
			continue;
		wrong += atomic_load(&subs[i].wrong);
		for (int p = 0; p < o.publishers; p++)
			missing +=
			    c.published[p] - (subs[i].next[p] < c.published[p]
			                          ? subs[i].next[p]
			                          : c.published[p]);
	}
	long hwm = proc_kb(pid, "VmHWM"), rss = proc_kb(pid, "VmRSS");
	printf("publishers %d, subscribers %d, %.1f s: %llu records "
	       "published (%.0f/s), %llu deliveries expected, %llu missing, "
	       "%llu out of order or twice, %d logging errors\n",
	       o.publishers, o.subscribers, pub_s, (unsigned long long)total,
	       total / pub_s,
	       (unsigned long long)(total * (uint64_t)o.subscribers),
	       (unsigned long long)missing, (unsigned long long)wrong,
	       atomic_load(&c.failed_logs));
	printf("broker pid %ld: VmRSS %ld kB at start, %ld kB with every "
	       "client connected, %ld kB at most sampled, %ld kB now; "
	       "VmHWM %ld kB\n",
	       pid, rss_start, rss_connected, rss_max, rss, hwm);
	if (o.flood)
		printf("flood: %llu records at full speed (%.0f/s)\n",
		       (unsigned long long)fl.published, fl.published / pub_s);
	if (o.stall_s > 0)
		printf("stalled follower: stopped %.0f s, then %s\n", o.stall_s,
		       atomic_load(&subs[o.subscribers].expired)
		           ? "told cursor expired"
		       : atomic_load(&subs[o.subscribers].received) >= total
		           ? "caught up"
		           : "behind");
	double p99_ms = 0;
	if (q.pub) {
		size_t n = atomic_load(&q.nlat);
		n = n < LAT_MAX ? n : LAT_MAX;
		qsort(q.lat_us, n, sizeof *q.lat_us, cmp_u32);
		double p50 = n ? q.lat_us[n / 2] / 1000.0 : 0;
		p99_ms = n ? q.lat_us[n * 99 / 100] / 1000.0 : 0;
		printf("quiet service: %llu records, %llu received, %llu out "
		       "of order or twice; publish-to-follower latency p50 "
		       "%.1f ms, p99 %.1f ms, max %.1f ms\n",
		       (unsigned long long)q.published,
		       (unsigned long long)atomic_load(&q.received),
		       (unsigned long long)atomic_load(&q.wrong), p50, p99_ms,
		       n ? q.lat_us[n - 1] / 1000.0 : 0);
		if (atomic_load(&q.received) != q.published ||
		    atomic_load(&q.wrong) != 0)
			missing++;
	}
	rc = missing == 0 && wrong == 0 && atomic_load(&c.failed_logs) == 0 ? 0
	                                                                    : 1;
	if (o.max_quiet_p99_ms > 0 && p99_ms > o.max_quiet_p99_ms) {
		say("the quiet service's p99 %.1f ms is over "
		    "--max-quiet-p99-ms %.1f",
		    p99_ms, o.max_quiet_p99_ms);
		rc = 1;
	}
	if (rc != 0)
		say("not every record reached every subscriber exactly once");
	if (o.max_rss_mb > 0 && hwm > o.max_rss_mb * 1024) {
		say("the broker's VmHWM %ld kB is over --max-rss-mb %ld", hwm,
		    o.max_rss_mb);
		rc = 1;
	}
out:
	for (int i = 0; i < o.publishers; i++)
		if (c.pubs[i])
			logbus_publisher_close(c.pubs[i], close_ms);
	if (q.s)
		logbus_subscription_close(q.s);
	if (q.pub)
		logbus_publisher_close(q.pub, close_ms);
	if (fl.pub)
		logbus_publisher_close(fl.pub, close_ms);
	free(q.lat_us);
	for (int i = 0; i < nsubs && subs; i++) {
		if (subs[i].s)
			logbus_subscription_close(subs[i].s);
		free(subs[i].next);
	}
	free(subs);
	free(c.pubs);
	free(c.published);
	return rc;
}
