/*
 * route_flood.c: a test helper for test_routes.sh.  Publishes one record
 * per logger for N distinct top-level logger components (l0000.x,
 * l0001.x, ...), each with the message "flood NNNN", through one
 * publisher, then waits until the broker has acknowledged all of them.
 * A shell loop calling logbusctl once per logger would take minutes.
 *
 * Usage: route_flood RUN_DIR N [SERVICE]   (SERVICE defaults to "flood")
 * Exit status: 0 every record committed, 1 a failure (said on stderr),
 * 2 bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>

#include "logbus/logbus.h"

int main(int argc, char **argv)
{
	logbus_publisher *pub;
	char err[256], logger[32];
	char *end;
	int rc;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: route_flood RUN_DIR N [SERVICE]\n");
		return 2;
	}
	long n = strtol(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || n < 0 || n > 9999) {
		fprintf(stderr, "route_flood: N is 0..9999, not '%s'\n",
		        argv[2]);
		return 2;
	}
	logbus_publisher_options o = {
	    .run_dir = argv[1],
	    .service = argc == 4 ? argv[3] : "flood",
	};
	if ((rc = logbus_publisher_open(&pub, &o)) != LOGBUS_OK) {
		fprintf(stderr,
		        "route_flood: cannot open a publisher on %s: %s\n",
		        argv[1], logbus_strerror(rc));
		return 1;
	}
	for (long i = 0; i < n; i++) {
		snprintf(logger, sizeof logger, "l%04ld.x", i);
		rc = logbus_log_fields(pub, LOGBUS_INFO, logger, NULL, 0,
		                       "flood %04ld", i);
		if (rc != LOGBUS_OK) {
			fprintf(stderr, "route_flood: record %ld: %s (%s)\n", i,
			        logbus_strerror(rc),
			        logbus_publisher_error(pub, err, sizeof err));
			logbus_publisher_close(pub, 0);
			return 1;
		}
	}
	rc = logbus_flush(pub, 30000);
	if (rc != LOGBUS_OK)
		fprintf(stderr, "route_flood: flush: %s (%s)\n",
		        logbus_strerror(rc),
		        logbus_publisher_error(pub, err, sizeof err));
	logbus_publisher_close(pub, 5000);
	return rc == LOGBUS_OK ? 0 : 1;
}
