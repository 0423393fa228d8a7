/*
 * main.c: logbusd's command line.  The daemon runs in the foreground (a
 * supervisor such as systemd keeps it running); everything else is in
 * broker.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "paths.h"

#define MAX_ROUTES 64

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: logbusd [options]\n"
	       "\n"
	       "The logbus broker: takes records from liblogbus publishers, "
	       "keeps them in its\njournal and serves them to readers. "
	       "Runs in the foreground.\n"
	       "\n"
	       "  --run-dir DIR         sockets and lock (default "
	       "$LOGBUS_RUN_DIR, /run/logbus\n"
	       "                        as root, $XDG_RUNTIME_DIR/logbus, "
	       "/tmp/logbus-$UID)\n"
	       "  --log-dir DIR         journal and files (default "
	       "$LOGBUS_LOG_DIR, /var/log/logbus\n"
	       "                        as root, $XDG_STATE_HOME/logbus, "
	       "~/.local/state/logbus)\n"
	       "  --segment-size SIZE   rotate journal segments at SIZE "
	       "(default 64M)\n"
	       "  --max-total SIZE      keep at most SIZE of journal (default "
	       "10%% of the file\n"
	       "                        system, at most 4G)\n"
	       "  --max-age SECONDS     drop segments older than this (default "
	       "0: no limit)\n"
	       "  --fsync-interval SEC  fsync the journal this often (default "
	       "1; CRITICAL\n"
	       "                        records are synced at once)\n"
	       "  --route SPEC          write the records SPEC selects to a "
	       "file (repeatable):\n"
	       "                        FILE[:key=value,...], keys service, "
	       "level, logger,\n"
	       "                        stream, format (text|json), "
	       "max-size, backups, mode;\n"
	       "                        e.g. sandbox.log:logger=pactown."
	       "sandbox,level=info\n"
	       "  --no-default-routes   no all.log and by-logger/*.log\n"
	       "  --rate-interval SEC   a service's rate limit window "
	       "(default 30)\n"
	       "  --rate-burst N        records a service may log per window; "
	       "the rest are\n"
	       "                        dropped and counted (default 1000000; "
	       "0: no limit)\n"
	       "  --max-record-size SIZE  refuse records over SIZE, 1K to "
	       "256K (default 256K)\n"
	       "  --max-fields N        refuse records with more than N "
	       "fields, 0 to 64\n"
	       "                        (default 64)\n"
	       "  --quiet               no log lines on stderr\n"
	       "  -h, --help            this text\n"
	       "  -V, --version         the version\n");
}

/* "64M", "4G", "1024": bytes, or 0 when malformed. */
static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return 0;
	int shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end != '\0' || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "logbusd: bad value '%s' for %s: %s\n", val, opt, why);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"run-dir", required_argument, NULL, 'r'},
	    {"log-dir", required_argument, NULL, 'l'},
	    {"segment-size", required_argument, NULL, 's'},
	    {"max-total", required_argument, NULL, 't'},
	    {"max-age", required_argument, NULL, 'a'},
	    {"fsync-interval", required_argument, NULL, 'f'},
	    {"probe-interval", required_argument, NULL, 'p'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"route", required_argument, NULL, 'R'},
	    {"no-default-routes", no_argument, NULL, 'N'},
	    {"rate-interval", required_argument, NULL, 'I'},
	    {"rate-burst", required_argument, NULL, 'B'},
	    {"max-record-size", required_argument, NULL, 'M'},
	    {"max-fields", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	char run_dir[4096], log_dir[4096];
	struct broker_config cfg = {
	    .segment_bytes = 64ull << 20,
	    .fsync_interval_s = 1.0,
	    .probe_interval_s = 1.0,
	    .ingest_mode = 0666,
	    .query_mode = 0660,
	    .default_routes = true,
	    .rate_interval_s = 30.0,
	    .rate_burst = 1000000,
	    .max_record_bytes = LOGBUS_RECORD_MAX,
	    .max_fields = LOGBUS_FIELDS_MAX,
	};
	static struct route_spec routes[MAX_ROUTES];
	char err[512];
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			cfg.run_dir = optarg;
			break;
		case 'l':
			cfg.log_dir = optarg;
			break;
		case 's':
			if ((cfg.segment_bytes = parse_size(optarg)) < 4096)
				return bad("--segment-size", optarg,
				           "a size of at least 4K, like 64M");
			break;
		case 't':
			if ((cfg.max_total_bytes = parse_size(optarg)) == 0)
				return bad("--max-total", optarg,
				           "a size like 4G");
			break;
		case 'a':
			errno = 0;
			cfg.max_age_s = strtoull(optarg, &end, 10);
			if (errno || *end || *optarg == '-')
				return bad("--max-age", optarg, "seconds");
			break;
		case 'f':
		case 'p': {
			double v = strtod(optarg, &end);
			if (*end || !(v >= 0.01 && v <= 3600))
				return bad(c == 'f' ? "--fsync-interval"
				                    : "--probe-interval",
				           optarg, "seconds, 0.01 to 3600");
			if (c == 'f')
				cfg.fsync_interval_s = v;
			else
				cfg.probe_interval_s = v;
			break;
		}
		case 'q':
			cfg.quiet = true;
			break;
		case 'R':
			if (cfg.nroutes == MAX_ROUTES)
				return bad("--route", optarg,
				           "at most 64 routes");
			if (route_spec_parse(&routes[cfg.nroutes], optarg, err,
			                     sizeof err) < 0)
				return bad("--route", optarg, err);
			cfg.routes = routes;
			cfg.nroutes++;
			break;
		case 'N':
			cfg.default_routes = false;
			break;
		case 'I': {
			double v = strtod(optarg, &end);
			if (*end || !(v >= 0.001 && v <= 86400))
				return bad("--rate-interval", optarg,
				           "seconds, 0.001 to 86400");
			cfg.rate_interval_s = v;
			break;
		}
		case 'B':
			errno = 0;
			cfg.rate_burst = strtoull(optarg, &end, 10);
			if (errno || *end || *optarg == '-' || *optarg == '\0')
				return bad("--rate-burst", optarg,
				           "a number of records (0: no limit)");
			break;
		case 'M': {
			uint64_t v = parse_size(optarg);
			if (v < 1024 || v > LOGBUS_RECORD_MAX)
				return bad("--max-record-size", optarg,
				           "a size from 1K to 256K");
			cfg.max_record_bytes = (uint32_t)v;
			break;
		}
		case 'F': {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || *optarg == '-' ||
			    *optarg == '\0' || v > LOGBUS_FIELDS_MAX)
				return bad("--max-fields", optarg,
				           "a number from 0 to 64");
			cfg.max_fields = (uint32_t)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("logbusd %s\n", LOGBUS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "logbusd: unexpected argument '%s'\n",
		        argv[optind]);
		usage(stderr);
		return 2;
	}
	struct routes_config routes_cfg = {.specs = cfg.routes,
	                                   .nspecs = cfg.nroutes,
	                                   .defaults = cfg.default_routes};
	if (routes_check(&routes_cfg, err, sizeof err) < 0) {
		fprintf(stderr, "logbusd: bad --route: %s\n", err);
		return 2;
	}
	if (cfg.run_dir == NULL &&
	    !(cfg.run_dir = paths_default_run_dir(run_dir, sizeof run_dir))) {
		fprintf(stderr, "logbusd: default run directory too long\n");
		return 1;
	}
	if (cfg.log_dir == NULL &&
	    !(cfg.log_dir = paths_default_log_dir(log_dir, sizeof log_dir))) {
		fprintf(stderr, "logbusd: default log directory too long\n");
		return 1;
	}
	struct broker b;
	int rc = broker_init(&b, &cfg) == 0 ? broker_run(&b) : 1;
	broker_fini(&b);
	return rc;
}
