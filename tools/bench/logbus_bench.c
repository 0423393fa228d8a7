/*
 * logbus_bench.c: logbus-bench, the benchmarks of logbus against a real
 * logbusd: the command line, the table of modes and main.
 *
 * Built only on liblogbus's public API (logbus/logbus.h), like any program
 * that logs: a figure measured here is one a user can get.  A file per
 * measurement (see bench.h); --mode picks one, the default "all" runs every
 * one in turn against one report (one JSON object with --json).  By default
 * the program starts its own logbusd, the one next to its own executable,
 * in a fresh temporary directory, and removes both at the end, on error
 * paths too; with --run-dir it uses a broker that already runs (then the
 * figures that need the broker's pid or journal are left out).
 *
 * Exit status: 0 done, 1 the benchmark failed (no broker, records lost or
 * delivered twice, interrupted), 2 the command line is wrong.  Every
 * message is one line on stderr starting "logbus-bench: ".
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bench.h"
#include "size.h"

#define MAX_RATE         10000000L /* records/s */
#define MAX_SECONDS      3600
#define MAX_SIZE         65536 /* message bytes */
#define MAX_LINGER_MS    60000
#define MAX_RECORDS      1000000000L
#define MAX_RECORDS_RATE 20000000L /* measured records per rate (memory) */
#define MAX_SERVICES     100000

#define DEFAULT_RATES          "1000,20000,100000"
#define DEFAULT_PRODUCERS      "1,4"
#define DEFAULT_SECONDS        3.0
#define DEFAULT_SIZE           200
#define DEFAULT_RECORDS        1000000L
#define DEFAULT_QUERY_RECORDS  10000000L
#define DEFAULT_QUERY_SERVICES 1000L
#define DEFAULT_RESTART_BYTES  (1LL << 30)

/* Options long only get values above any character. */
enum {
	OPT_MODE = 0x100,
	OPT_RUN_DIR,
	OPT_RATES,
	OPT_SECONDS,
	OPT_SIZE,
	OPT_LINGER_MS,
	OPT_JSON,
	OPT_RECORDS,
	OPT_PRODUCERS,
	OPT_QUERY_RECORDS,
	OPT_QUERY_SERVICES,
	OPT_RESTART_BYTES,
};

struct mode {
	const char *name;
	int (*run)(struct bench_ctx *c);
	bool broker; /* runs against the broker logbus-bench starts */
	const char *summary;
};

static int mode_all(struct bench_ctx *c);

static const struct mode modes[] = {
    {"all", mode_all, true, "every mode below, in this order (the default)"},
    {"ingest", mode_ingest, true,
     "records/s from the first logging call to the last acknowledgement,\n"
     "             with each --producers count; and the footprint"},
    {"footprint", mode_footprint, true,
     "broker CPU per million records, peak RSS, journal bytes per record\n"
     "             (over a 1-producer ingest)"},
    {"call", mode_call, true, "nanoseconds per logging call (p50, p99, p99.9)"},
    {"live", mode_live, true,
     "latency from the logging call to a follower, at fixed rates"},
    {"query", mode_query, false,
     "tail -n 100 of one service and a regex scan, on --query-records"},
    {"restart", mode_restart, false,
     "exec of logbusd to answering a query, on --restart-bytes of journal"},
    {"direct", mode_direct, false,
     "buffered fwrite of the same lines to a file: the in-process ceiling"},
};

#define NMODES (sizeof modes / sizeof modes[0])

static const struct mode *mode_find(const char *name)
{
	for (size_t i = 0; i < NMODES; i++)
		if (strcmp(modes[i].name, name) == 0)
			return &modes[i];
	return NULL;
}

static int mode_all(struct bench_ctx *c)
{
	int status;

	for (size_t i = 1; i < NMODES; i++) {
		if (modes[i].run == mode_footprint)
			continue; /* ingest reports it */
		if ((status = modes[i].run(c)) != 0)
			return status;
	}
	return 0;
}

/* ---- command line ------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: logbus-bench [--mode MODE] [options]\n"
	      "\n"
	      "Benchmarks of logbus through liblogbus's public API, against a "
	      "logbusd it\n"
	      "starts in a temporary directory (the logbusd next to this "
	      "program) or one\n"
	      "that runs already (--run-dir).\n"
	      "\n"
	      "Modes:\n",
	      f);
	for (size_t i = 0; i < NMODES; i++)
		fprintf(f, "  %-10s %s\n", modes[i].name, modes[i].summary);
	fputs(
	    "\n"
	    "Options:\n"
	    "      --mode MODE        what to measure (default all)\n"
	    "      --run-dir DIR      use the logbusd serving DIR instead "
	    "of starting one\n"
	    "                         (footprint and restart are then not "
	    "measured)\n"
	    "      --producers LIST   ingest: producer threads, "
	    "comma-separated (default " DEFAULT_PRODUCERS ")\n"
	    "      --records N        ingest, call, direct: records "
	    "(default 1000000)\n"
	    "      --size BYTES       message bytes per record (default 200; "
	    "1..65536);\n"
	    "                         every record has 3 fields too\n"
	    "      --rates LIST       live: records/s, comma-separated "
	    "(default " DEFAULT_RATES ")\n"
	    "      --seconds S        live: measured seconds per rate, after "
	    "0.5 s of\n"
	    "                         warm-up (default 3; fractions allowed)\n"
	    "      --linger-ms MS     the publisher's linger_ms (default 0: "
	    "the library's\n"
	    "                         default)\n"
	    "      --query-records N  query: records in the journal (default "
	    "10000000)\n"
	    "      --query-services N query: services they are spread over "
	    "(default 1000)\n"
	    "      --restart-bytes SIZE  restart: journal size, like 1G or "
	    "64M (default 1G)\n"
	    "      --json             one JSON object on stdout instead of a "
	    "table; each\n"
	    "                         figure's key names its unit, e.g.\n"
	    "                         ingest_records_per_s, call_ns_p99\n"
	    "  -h, --help             this text\n"
	    "\n"
	    "Exit status: 0 done; 1 the benchmark failed (no broker, records "
	    "lost or\n"
	    "delivered twice, interrupted); 2 bad arguments.\n",
	    f);
}

/* A whole decimal integer in [min, max], nothing else. */
static bool parse_long(const char *s, long min, long max, long *out)
{
	int64_t v;

	if (!args_int64(s, min, max, &v))
		return false;
	*out = (long)v;
	return true;
}

/* getopt_long's '?' and ':' as one line; opterr is 0. */
static int option_error(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (strncmp(arg, "--", 2) == 0) {
		int n = (int)strcspn(arg + 2, "=");
		if (c == ':')
			return usage_error("option --%.*s needs a value", n,
			                   arg + 2);
		if (optopt != 0)
			return usage_error("option --%.*s takes no value", n,
			                   arg + 2);
		return usage_error("unknown option --%.*s", n, arg + 2);
	}
	if (c == ':')
		return usage_error("option -%c needs a value", optopt);
	return usage_error("unknown option -%c", optopt);
}

/* "1000,20000": 1 to MAX_RATES numbers in [min, max]; 0 or exit 2. */
static int parse_list(const char *opt, const char *s, long min, long max,
                      long *out, size_t *n)
{
	char item[32];
	const char *p = s;

	*n = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		long v;
		if (len == 0 || len >= sizeof item)
			return usage_error("bad %s '%s': numbers, "
			                   "comma-separated, like 1,4",
			                   opt, s);
		memcpy(item, p, len);
		item[len] = '\0';
		if (!parse_long(item, min, max, &v))
			return usage_error("bad value '%s' in %s: %ld to %ld",
			                   item, opt, min, max);
		if (*n == MAX_RATES)
			return usage_error("more than %d values in %s",
			                   MAX_RATES, opt);
		out[(*n)++] = v;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* "1G", "64M", "4096" (size.h): bytes, at least 1 and at most 1T; false
 * if not. */
static bool parse_bytes(const char *s, int64_t *out)
{
	uint64_t v;

	if (!size_parse(s, &v) || v < 1 || v > (UINT64_C(1) << 40))
		return false;
	*out = (int64_t)v;
	return true;
}

/* Returns -1 when the benchmark is to run, else the exit status. */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
	    {"mode", required_argument, NULL, OPT_MODE},
	    {"run-dir", required_argument, NULL, OPT_RUN_DIR},
	    {"rates", required_argument, NULL, OPT_RATES},
	    {"seconds", required_argument, NULL, OPT_SECONDS},
	    {"size", required_argument, NULL, OPT_SIZE},
	    {"linger-ms", required_argument, NULL, OPT_LINGER_MS},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"records", required_argument, NULL, OPT_RECORDS},
	    {"producers", required_argument, NULL, OPT_PRODUCERS},
	    {"query-records", required_argument, NULL, OPT_QUERY_RECORDS},
	    {"query-services", required_argument, NULL, OPT_QUERY_SERVICES},
	    {"restart-bytes", required_argument, NULL, OPT_RESTART_BYTES},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long v;
	int c, rv;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_MODE:
			o->mode = optarg;
			break;
		case OPT_RUN_DIR:
			if (*optarg == '\0')
				return usage_error("--run-dir is empty");
			o->run_dir = optarg;
			break;
		case OPT_RATES:
			if ((rv = parse_list("--rates", optarg, 1, MAX_RATE,
			                     o->rates, &o->nrates)) != 0)
				return rv;
			break;
		case OPT_PRODUCERS:
			if ((rv = parse_list("--producers", optarg, 1,
			                     MAX_PRODUCERS, o->producers,
			                     &o->nproducers)) != 0)
				return rv;
			break;
		case OPT_SECONDS:
			if (!args_seconds(optarg, MAX_SECONDS, &o->seconds))
				return usage_error(
				    "bad --seconds '%s': "
				    "seconds, more than 0 and at "
				    "most %d",
				    optarg, MAX_SECONDS);
			break;
		case OPT_SIZE:
			if (!parse_long(optarg, 1, MAX_SIZE, &v))
				return usage_error("bad --size '%s': message "
				                   "bytes, 1 to %d",
				                   optarg, MAX_SIZE);
			o->size = (int)v;
			break;
		case OPT_LINGER_MS:
			if (!parse_long(optarg, 0, MAX_LINGER_MS, &v))
				return usage_error("bad --linger-ms '%s': "
				                   "milliseconds, 0 (the "
				                   "library's default) to %d",
				                   optarg, MAX_LINGER_MS);
			o->linger_ms = (int)v;
			break;
		case OPT_RECORDS:
			if (!parse_long(optarg, 1, MAX_RECORDS, &o->records))
				return usage_error("bad --records '%s': 1 to "
				                   "%ld",
				                   optarg, MAX_RECORDS);
			break;
		case OPT_QUERY_RECORDS:
			if (!parse_long(optarg, 1, MAX_RECORDS,
			                &o->query_records))
				return usage_error("bad --query-records '%s': "
				                   "1 to %ld",
				                   optarg, MAX_RECORDS);
			break;
		case OPT_QUERY_SERVICES:
			if (!parse_long(optarg, 1, MAX_SERVICES,
			                &o->query_services))
				return usage_error("bad --query-services '%s': "
				                   "1 to %d",
				                   optarg, MAX_SERVICES);
			break;
		case OPT_RESTART_BYTES:
			if (!parse_bytes(optarg, &o->restart_bytes))
				return usage_error("bad --restart-bytes '%s': "
				                   "a size like 1G, 64M or "
				                   "4096",
				                   optarg);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
		default:
			return option_error(c, argv);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (mode_find(o->mode) == NULL)
		return usage_error("unknown mode '%s'", o->mode);
	if (o->nrates == 0 && parse_list("--rates", DEFAULT_RATES, 1, MAX_RATE,
	                                 o->rates, &o->nrates) != 0)
		return EXIT_FAIL;
	if (o->nproducers == 0 &&
	    parse_list("--producers", DEFAULT_PRODUCERS, 1, MAX_PRODUCERS,
	               o->producers, &o->nproducers) != 0)
		return EXIT_FAIL;
	for (size_t i = 0; i < o->nrates; i++)
		if ((double)o->rates[i] * o->seconds > MAX_RECORDS_RATE)
			return usage_error("%ld records/s for %g s is more "
			                   "than %ld records per rate",
			                   o->rates[i], o->seconds,
			                   MAX_RECORDS_RATE);
	if (o->query_records < o->query_services)
		return usage_error("--query-records %ld is fewer than "
		                   "--query-services %ld: every service needs "
		                   "a record",
		                   o->query_records, o->query_services);
	return -1;
}

static void on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
	    .mode = "all",
	    .seconds = DEFAULT_SECONDS,
	    .size = DEFAULT_SIZE,
	    .records = DEFAULT_RECORDS,
	    .query_records = DEFAULT_QUERY_RECORDS,
	    .query_services = DEFAULT_QUERY_SERVICES,
	    .restart_bytes = DEFAULT_RESTART_BYTES,
	};
	struct broker_proc broker = {.pid = -1};
	struct sigaction sa = {.sa_handler = on_signal};
	struct report rep;
	struct bench_ctx c = {.o = &o, .rep = &rep};
	const struct mode *mode;
	int rv;

	if ((rv = parse_args(argc, argv, &o)) >= 0)
		return rv;
	mode = mode_find(o.mode);

	/* No SA_RESTART: a wait in progress sees the flag soon. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	c.own = o.run_dir == NULL;
	c.run_dir = o.run_dir;
	if (c.own && mode->broker) {
		if ((rv = broker_start(&broker)) != 0)
			return rv;
		c.broker = &broker;
		c.run_dir = broker.run_dir;
	}
	report_begin(&rep, o.json, stdout);
	report_str(&rep, "mode", o.mode);
	report_int(&rep, "cpus", NULL, sysconf(_SC_NPROCESSORS_ONLN), "");
	if (!o.json)
		printf("logbus-bench --mode %s: %ld CPUs online\n", o.mode,
		       sysconf(_SC_NPROCESSORS_ONLN));
	rv = mode->run(&c);
	report_str(&rep, "status", rv == 0 ? "ok" : "failed");
	report_end(&rep);
	broker_cleanup(&broker);
	if (ferror(stdout))
		return fail("cannot write to standard output (%s)",
		            strerror(errno));
	return rv;
}
