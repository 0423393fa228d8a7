/*
 * main.c: logbusd's command line.  The daemon runs in the foreground (a
 * supervisor such as systemd keeps it running); everything else is in
 * broker.c.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "broker.h"
#include "config.h"
#include "paths.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: logbusd [options]\n"
	        "\n"
	        "The logbus broker: takes records from liblogbus publishers, "
	        "keeps them in its\njournal and serves them to readers. "
	        "Runs in the foreground.\nSettings come from the configuration "
	        "file, then the options (which win);\nsee the README's "
	        "configuration reference.\n"
	        "\n"
	        "  --config FILE         the configuration file "
	        "(default " LOGBUS_SYSCONFDIR "/logbus/\n"
	        "                        logbusd.conf, when it exists)\n"
	        "  --check-config        check the configuration and exit\n"
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
	        "  --max-age DURATION    drop segments older than this, e.g. "
	        "30d (default 0:\n"
	        "                        no limit)\n"
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
	        "  --socket-user USER    owner of the socket files\n"
	        "  --ingest-group G, --query-group G, --live-group G\n"
	        "                        group of each socket file (live: "
	        "the reader group)\n"
	        "  --ingest-mode M, --query-mode M, --live-mode M\n"
	        "                        octal modes (default 0666, 0666, "
	        "0660)\n"
	        "  --reader-group G      read every record (default adm if "
	        "it exists; none:\n"
	        "                        root only); others read their own\n"
	        "  --rate-interval SEC   a service's rate limit window "
	        "(default 30)\n"
	        "  --rate-burst N        records a service may log per window "
	        "(default\n"
	        "                        1000000; 0: no limit)\n"
	        "  --max-record-size SIZE  refuse records over SIZE, 1K to "
	        "256K (default 256K)\n"
	        "  --max-fields N        refuse records with more than N "
	        "fields, 0 to 64\n"
	        "                        (default 64)\n"
	        "  --max-reports-per-uid N  error report files a uid other "
	        "than root may\n"
	        "                        have (default 256; 0: no limit)\n"
	        "  --quiet               no log lines on stderr\n"
	        "  -h, --help            this text\n"
	        "  -V, --version         the version\n");
}

/* Under systemd, RuntimeDirectory= and LogsDirectory= name logbusd's
 * directories in $RUNTIME_DIRECTORY and $LOGS_DIRECTORY (the first of a
 * ':'-separated list), unless $LOGBUS_... or the configuration says
 * otherwise.  Only logbusd reads them: for a client they would name its own
 * unit's directories. */
static const char *systemd_dir(const char *var, const char *ours, char *buf,
                               size_t len)
{
	const char *v = getenv(var);

	if (v == NULL || *v == '\0' || getenv(ours) != NULL)
		return NULL;
	size_t n = strcspn(v, ":");
	if (n >= len)
		return NULL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	enum { OPT_CONFIG = 1, OPT_CHECK };
	struct option opts[64] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"check-config", no_argument, NULL, OPT_CHECK},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	};
	size_t nopts = 4;
	nopts += config_long_options(opts + nopts, 63 - nopts);
	opts[nopts] = (struct option){NULL, 0, NULL, 0};

	char run_dir[4096], log_dir[4096], err[1024];
	struct config_source src = {.path = config_default_path};
	bool check = false;
	int c;

	struct broker_config cfg = {0};
	int rc = 2;
	/* Batches of up to 1 MiB are allocated on nng's threads and freed on
	 * the loop: with glibc's sliding threshold they end up in per-thread
	 * heaps that keep their pages (peak RSS 61-71 MiB with 4 producers).
	 * A fixed threshold gives each one its own mapping, returned when
	 * freed. */
	mallopt(M_ARENA_MAX, 1);
	src.overrides = calloc((size_t)argc + 1, sizeof *src.overrides);
	if (src.overrides == NULL)
		return 1;
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG:
			src.path = optarg;
			src.path_explicit = true;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case 'V':
			printf("logbusd %s\n", LOGBUS_VERSION);
			rc = 0;
			goto out;
		default:
			if (c < CONFIG_OPTION_BASE) {
				usage(stderr);
				goto out;
			}
			if (config_option(c, optarg,
			                  &src.overrides[src.noverrides], err,
			                  sizeof err) < 0) {
				fprintf(stderr, "logbusd: %s\n", err);
				goto out;
			}
			src.noverrides++;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "logbusd: unexpected argument '%s'\n",
		        argv[optind]);
		usage(stderr);
		goto out;
	}
	if (config_build(&cfg, &src, err, sizeof err) < 0) {
		fprintf(stderr, "logbusd: %s\n", err);
		goto out;
	}
	rc = 1;
	if (check) {
		struct access_config ac;
		if (access_resolve(&cfg, &ac, err, sizeof err) < 0) {
			fprintf(stderr, "logbusd: %s\n", err);
			rc = 2;
			goto out;
		}
		printf("logbusd: configuration OK (%s%s)\n", src.path,
		       src.path_explicit || access(src.path, F_OK) == 0
		           ? ""
		           : ": absent, defaults");
		rc = 0;
		goto out;
	}
	if (cfg.run_dir == NULL)
		cfg.run_dir = systemd_dir("RUNTIME_DIRECTORY", "LOGBUS_RUN_DIR",
		                          run_dir, sizeof run_dir);
	if (cfg.run_dir == NULL &&
	    !(cfg.run_dir = paths_default_run_dir(run_dir, sizeof run_dir))) {
		fprintf(stderr, "logbusd: default run directory too long\n");
		goto out;
	}
	if (cfg.log_dir == NULL)
		cfg.log_dir = systemd_dir("LOGS_DIRECTORY", "LOGBUS_LOG_DIR",
		                          log_dir, sizeof log_dir);
	if (cfg.log_dir == NULL &&
	    !(cfg.log_dir = paths_default_log_dir(log_dir, sizeof log_dir))) {
		fprintf(stderr, "logbusd: default log directory too long\n");
		goto out;
	}
	struct broker b;
	rc = broker_init(&b, &cfg) == 0 ? broker_run(&b) : 1;
	broker_fini(&b);
out:
	config_fini(&cfg);
	free(src.overrides);
	return rc;
}
