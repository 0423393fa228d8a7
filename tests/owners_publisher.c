/*
 * owners_publisher.c: one publisher writing records of several services,
 * for the ownership tests, which run it as another user (setpriv).
 *
 *   owners_publisher RUN_DIR SERVICE...        one record per SERVICE, all
 *                                              in one batch, then a flush
 *   owners_publisher RUN_DIR --exit SERVICE... an exit report per SERVICE
 *                                              (exit code 9, stderr FORGED)
 *
 * Prints "flush=RC committed=N rejected=M" (RC: 0 or a LOGBUS_E* code),
 * then "error=" and the publisher's last error.  Exit status 0 when every
 * record was committed, 1 when some were refused, 2 on a usage error.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "logbus/logbus.h"

#define WAIT_MS 15000

int main(int argc, char **argv)
{
	bool exits = argc > 2 && strcmp(argv[2], "--exit") == 0;
	int first = exits ? 3 : 2, rc = LOGBUS_OK;
	logbus_publisher *p;
	char why[512];

	if (argc <= first) {
		fprintf(stderr, "usage: %s RUN_DIR [--exit] SERVICE...\n",
		        argv[0]);
		return 2;
	}
	/* A long linger: the records leave as one batch, at the flush. */
	logbus_publisher_options o = {
	    .run_dir = argv[1], .service = argv[first], .linger_ms = 60000};
	if ((rc = logbus_publisher_open(&p, &o)) != LOGBUS_OK) {
		fprintf(stderr, "open: %s\n", logbus_strerror(rc));
		return 2;
	}
	for (int i = first; i < argc; i++) {
		char msg[256];
		int r;
		snprintf(msg, sizeof msg, "record of %s", argv[i]);
		if (exits) {
			logbus_tail *t = logbus_tail_new(0);
			logbus_tail_add(t, "FORGED\n", 7);
			logbus_exit e = {.exit_code = 9,
			                 .stderr_tail = t,
			                 .files = NULL,
			                 .service = argv[i]};
			const char *files[] = {"forged"};
			e.files = files;
			e.nfiles = 1;
			r = logbus_report_exit(p, &e, WAIT_MS);
			logbus_tail_free(t);
		} else {
			logbus_entry e = {.level = LOGBUS_INFO,
			                  .message = msg,
			                  .message_len = (size_t)-1,
			                  .service = argv[i]};
			r = logbus_write(p, &e);
		}
		if (r != LOGBUS_OK && rc == LOGBUS_OK)
			rc = r;
	}
	if (!exits || rc == LOGBUS_OK) {
		int r = logbus_flush(p, WAIT_MS);
		if (rc == LOGBUS_OK)
			rc = r;
	}
	logbus_publisher_stats st;
	logbus_publisher_get_stats(p, &st);
	printf("flush=%d committed=%llu rejected=%llu\nerror=%s\n", rc,
	       (unsigned long long)st.committed,
	       (unsigned long long)st.rejected,
	       logbus_publisher_error(p, why, sizeof why));
	logbus_publisher_close(p, WAIT_MS);
	return rc == LOGBUS_OK ? 0 : 1;
}
