/*
 * forward_status.c: the status file, where a running logbus-forward shows
 * each output's figures and lag, and `logbus-forward --stats` reads them.
 *
 * It is text, one "key value" per line, a block per output, replaced
 * atomically (temporary file, rename) every second by the main thread:
 * a reader never sees half of it.  It is not synced: it is a view of the
 * moment, and the positions file is the truth.  --stats adds whether the
 * process that wrote it still runs, so a stale file is never read as a
 * live one.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "forward.h"
#include "timefmt.h"

static void put_time(FILE *f, const char *key, int64_t ns)
{
	char t[TIMEFMT_MAX];
	if (ns == 0) {
		fprintf(f, "%-14s -\n", key);
		return;
	}
	timefmt_rfc3339(t, sizeof t, ns);
	fprintf(f, "%-14s %s\n", key, t);
}

int status_write(const struct fwd_config *cfg, struct fwd_output *outs,
                 size_t n, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8], why[256] = "";
	logbus_stats bs;
	int64_t now = timefmt_now_ns();
	bool have_broker =
	    logbus_broker_stats(cfg->run_dir[0] ? cfg->run_dir : NULL, &bs, why,
	                        sizeof why) == LOGBUS_OK;
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", cfg->status_file);
	if ((f = fopen(tmp, "w")) == NULL) {
		snprintf(err, errlen, "cannot write the status file %s (%s)",
		         tmp, strerror(errno));
		return -1;
	}
	fprintf(f, "%-14s %ld\n", "pid", (long)getpid());
	put_time(f, "updated", now);
	if (have_broker)
		fprintf(f, "%-14s %" PRIu64 "\n", "logbusd_seq", bs.last_seq);
	else
		fprintf(f, "%-14s unreachable (%s)\n", "logbusd_seq", why);
	for (size_t i = 0; i < n; i++) {
		struct fwd_figures g;
		const struct fwd_output_config *c = outs[i].cfg;
		output_figures(&outs[i], &g);
		fprintf(f, "\n%-14s %s\n", "output", c->name);
		fprintf(f, "%-14s %s\n", "type", config_type_name(c->type));
		if (c->type == FWD_CLICKHOUSE || c->type == FWD_LOKI)
			fprintf(f, "%-14s %s\n", "destination", c->url);
		else
			fprintf(f, "%-14s %s:%s\n", "destination", c->host,
			        c->port);
		fprintf(f, "%-14s %s\n", "state", g.state);
		fprintf(f, "%-14s %" PRIu64 "\n", "forwarded", g.forwarded);
		fprintf(f, "%-14s %" PRIu64 "\n", "batches", g.batches);
		fprintf(f, "%-14s %" PRIu64 "\n", "retries", g.retries);
		fprintf(f, "%-14s %" PRIu64 "\n", "sent_again", g.sent_again);
		fprintf(f, "%-14s %" PRIu64 "\n", "rejected", g.rejected);
		fprintf(f, "%-14s %" PRIu64 "\n", "skipped", g.skipped);
		fprintf(f, "%-14s %" PRIu64 "\n", "position_seq",
		        g.position_seq);
		/* records of the journal after the position, selected by
		 * this output's filter or not */
		if (have_broker)
			fprintf(f, "%-14s %" PRIu64 "\n", "behind",
			        bs.last_seq > g.position_seq
			            ? bs.last_seq - g.position_seq
			            : 0);
		else
			fprintf(f, "%-14s -\n", "behind");
		/* how long the oldest record read but not yet acknowledged
		 * has been in the journal */
		fprintf(f, "%-14s %.3f\n", "lag_seconds",
		        g.oldest_pending_recv_ns != 0 &&
		                now > g.oldest_pending_recv_ns
		            ? (double)(now - g.oldest_pending_recv_ns) / 1e9
		            : 0.0);
		put_time(f, "last_ack", g.last_ack_ns);
		put_time(f, "last_error_at", g.last_error_ns);
		fprintf(f, "%-14s %s\n", "last_error",
		        g.last_error[0] ? g.last_error : "-");
	}
	if (fclose(f) != 0 || rename(tmp, cfg->status_file) < 0) {
		snprintf(err, errlen, "cannot write the status file %s (%s)",
		         cfg->status_file, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int status_print(const struct fwd_config *cfg)
{
	size_t len;
	char *text = files_slurp(cfg->status_file, &len);
	long pid = 0;

	if (text == NULL) {
		fwd_log("no status in %s (%s): is logbus-forward running with "
		        "this configuration?",
		        cfg->status_file, strerror(errno));
		return 1;
	}
	sscanf(text, "pid %ld", &pid);
	bool alive = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
	printf("%-14s %s\n", "running",
	       alive ? "yes" : "no (the figures below are its last)");
	fwrite(text, 1, len, stdout);
	free(text);
	return alive ? 0 : 3;
}
