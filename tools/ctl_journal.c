/*
 * ctl_journal.c: tail's --disk-usage and --vacuum-size/--vacuum-time,
 * journalctl's words for the journal's size and for retention on request.
 *
 * --disk-usage reads logbusd's stats (open to every reader: they name no
 * service); a vacuum is an administrator's op (logbus_vacuum), refused
 * with "denied" to anybody else, and never removes the segment being
 * written.  Both print a sentence or two on stdout, like journalctl.
 */
#include <inttypes.h>
#include <stdio.h>

#include <logbus/logbus.h>

#include "logbusctl.h"

int journal_disk_usage(const char *run_dir)
{
	logbus_stats st;
	char err[512] = "", size[32];
	int rc = logbus_broker_stats(run_dir, &st, err, sizeof err);

	if (rc != LOGBUS_OK)
		return admin_failed("cannot read the journal's size", run_dir,
		                    rc, err);
	printf("Archived and active journal segments take up %s in the file "
	       "system (%" PRIu64 " segment%s",
	       bytes_text((double)st.journal_bytes, size, sizeof size),
	       st.journal_segments, st.journal_segments == 1 ? "" : "s");
	if (st.last_seq >= st.first_seq && st.last_seq > 0)
		printf(", records %" PRIu64 "..%" PRIu64, st.first_seq,
		       st.last_seq);
	printf(").\n");
	return 0;
}

int journal_vacuum_now(const char *run_dir, int64_t max_bytes,
                       int64_t max_age_s)
{
	logbus_vacuum_result res;
	char err[512] = "", a[32], b[32];
	int rc =
	    logbus_vacuum(run_dir, max_bytes, max_age_s, &res, err, sizeof err);

	if (rc != LOGBUS_OK)
		return admin_failed("cannot vacuum the journal", run_dir, rc,
		                    err);
	for (size_t i = 0; i < res.nremoved; i++) {
		const logbus_vacuumed *v = &res.removed[i];
		printf("Deleted segment %s (records %" PRIu64 "..%" PRIu64
		       ", %s).\n",
		       v->file, v->first_seq, v->last_seq,
		       bytes_text((double)v->bytes, a, sizeof a));
	}
	if (res.count > res.nremoved)
		printf("... and %" PRIu64 " segments more.\n",
		       res.count - res.nremoved);
	printf("Vacuuming done, freed %s; the journal keeps %s in %" PRIu64
	       " segment%s",
	       bytes_text((double)res.freed_bytes, a, sizeof a),
	       bytes_text((double)res.bytes, b, sizeof b), res.segments,
	       res.segments == 1 ? "" : "s");
	if (res.last_seq >= res.first_seq && res.last_seq > 0)
		printf(", records %" PRIu64 "..%" PRIu64, res.first_seq,
		       res.last_seq);
	printf(" (the segment being written is never removed).\n");
	logbus_vacuum_free(&res);
	return 0;
}
