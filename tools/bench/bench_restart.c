/*
 * bench_restart.c: time from exec of logbusd to answering a query, on a
 * journal of --restart-bytes.
 *
 * A broker of its own (never the one of --run-dir: it is stopped and
 * started) is filled through the library until its journal directory holds
 * --restart-bytes, then stopped with SIGTERM.  Each of RESTART_REPEAT times
 * it is started again and the clock runs from just before posix_spawn until
 * a reader's `tail -n 1` of the filled service returns the last record,
 * tried every millisecond once the query socket exists (so the reader does
 * not wait on nng's reconnect back-off for a socket not there yet).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <logbus/logbus.h>

#include "bench.h"

#define RESTART_REPEAT  3
#define RESTART_BATCH   10000 /* records between journal size checks */
#define RESTART_WAIT_MS 60000
#define RESTART_SERVICE "bench_restart"

static int restart_fill(struct broker_proc *b, int64_t bytes, long *records)
{
	logbus_publisher_options po = {.run_dir = b->run_dir,
	                               .service = RESTART_SERVICE,
	                               .on_full = LOGBUS_ON_FULL_BLOCK};
	logbus_publisher *pub;
	char *msg = bench_message(200);
	char why[512] = "";
	int64_t have = 0;
	int rv;

	if (msg == NULL)
		return fail("out of memory");
	if ((rv = logbus_publisher_open(&pub, &po)) != LOGBUS_OK) {
		free(msg);
		return fail("cannot open a publisher on %s: %s", b->run_dir,
		            logbus_strerror(rv));
	}
	*records = 0;
	while (rv == LOGBUS_OK && have < bytes && !bench_interrupted) {
		for (int i = 0; i < RESTART_BATCH && rv == LOGBUS_OK; i++) {
			logbus_field f[BENCH_NFIELDS] = {
			    LOGBUS_INT("n", *records),
			    LOGBUS_STR("user", "user123"),
			    LOGBUS_BOOL("ok", 1)};
			logbus_entry e = {.level = LOGBUS_INFO,
			                  .message = msg,
			                  .message_len = 200,
			                  .fields = f,
			                  .nfields = BENCH_NFIELDS};
			if ((rv = logbus_write(pub, &e)) == LOGBUS_OK)
				(*records)++;
		}
		if (rv == LOGBUS_OK)
			rv = logbus_flush(pub, -1);
		have = dir_bytes(b->journal_dir);
	}
	if (rv != LOGBUS_OK)
		logbus_publisher_error(pub, why, sizeof why);
	logbus_publisher_close(pub, 0);
	free(msg);
	if (bench_interrupted)
		return fail("interrupted");
	if (rv != LOGBUS_OK)
		return fail("filling the journal failed: %s: %s",
		            logbus_strerror(rv), why);
	return 0;
}

/* The query socket exists.  Not connect(2): a bare connection that closes
 * without nng's handshake makes nng 1.5.2's listener stop accepting (the
 * broker's "nng bug #1518" warning), which would be measured. */
static bool query_socket_up(const struct broker_proc *b)
{
	char path[400];

	snprintf(path, sizeof path, "%s/query.sock", b->run_dir);
	return access(path, F_OK) == 0;
}

/* The last record of the filled service comes back. */
static bool tail_answers(const struct broker_proc *b, long records)
{
	const char *services[1] = {RESTART_SERVICE};
	logbus_reader_options ro = {
	    .run_dir = b->run_dir,
	    .start = LOGBUS_START_TAIL,
	    .tail_n = 1,
	    .filter = {.services = services, .nservices = 1},
	    .timeout_ms = 1000,
	};
	const logbus_record *rec;
	logbus_reader *r;
	bool ok = false;

	if (logbus_reader_open(&r, &ro) != LOGBUS_OK)
		return false;
	if (logbus_reader_next(r, &rec, 1000) == 1)
		for (size_t i = 0; i < rec->nfields; i++)
			if (strcmp(rec->fields[i].key, "n") == 0 &&
			    rec->fields[i].v.i == records - 1)
				ok = true;
	logbus_reader_close(r);
	return ok;
}

static int restart_once(struct broker_proc *b, long records, double *ms)
{
	int status, st;

	if ((status = broker_spawn(b)) != 0)
		return status;
	for (;;) {
		if (query_socket_up(b) && tail_answers(b, records))
			break;
		if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
			b->pid = -1;
			return fail("logbusd exited while starting on a %s "
			            "journal: see %s",
			            b->journal_dir, b->stderr_path);
		}
		if (bench_interrupted)
			return fail("interrupted");
		if (clock_ns(CLOCK_MONOTONIC) - b->spawn_ns >
		    RESTART_WAIT_MS * NS_PER_MS)
			return fail("logbusd did not answer a query within %d "
			            "s of its start",
			            RESTART_WAIT_MS / 1000);
		sleep_ms(1);
	}
	*ms = (double)(clock_ns(CLOCK_MONOTONIC) - b->spawn_ns) / 1e6;
	return broker_stop(b);
}

int mode_restart(struct bench_ctx *c)
{
	struct broker_proc b = {.pid = -1};
	double ms[RESTART_REPEAT], first;
	int64_t jb;
	long records = 0;
	int status;

	report_section(c->rep, "restart: exec of logbusd to answering a tail");
	if (!c->own) {
		report_note(c->rep,
		            "(not measured: it restarts a broker of its "
		            "own; without --run-dir)");
		report_num(c->rep, "restart_ms", "median", NAN, 1, "ms");
		return 0;
	}
	if ((status = broker_start(&b)) != 0)
		return status;
	if ((status = restart_fill(&b, c->o->restart_bytes, &records)) != 0 ||
	    (status = broker_stop(&b)) != 0)
		goto out;
	jb = dir_bytes(b.journal_dir);
	for (int i = 0; i < RESTART_REPEAT; i++)
		if ((status = restart_once(&b, records, &ms[i])) != 0)
			goto out;
	first = ms[0];
	report_note(c->rep, "journal %.1f MiB, %ld records; %d restarts",
	            (double)jb / (1024.0 * 1024.0), records, RESTART_REPEAT);
	report_num(c->rep, "restart_journal_mib", NULL,
	           (double)jb / (1024.0 * 1024.0), 1, "MiB");
	report_num(c->rep, "restart_ms", "median",
	           median_double(ms, RESTART_REPEAT), 1, "ms");
	report_num(c->rep, "restart_first_ms", "first", first, 1, "ms");
out:
	broker_cleanup(&b);
	return status;
}
