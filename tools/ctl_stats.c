/*
 * ctl_stats.c: `logbusctl stats` and `logbusctl services`, logbusd's
 * figures as readable text (a label or header column, human units) or as
 * JSON with stable keys (stats: one object; services: an array of objects,
 * one per line), from logbus_broker_stats() and logbus_services().
 *
 * Both only read: every figure is what logbusd counted since it started.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <logbus/logbus.h>

#include "logbusctl.h"
#include "stats_json.h"
#include "strbuf.h"

struct view_args {
	char *run_dir;
	const char *service; /* services -s */
	bool json;
};

/* [-o text|json] [-s SERVICE] (with_service) and the common options. */
static int view_parse(int argc, char **argv, struct view_args *a,
                      bool with_service)
{
	/* stats takes the table without its first entry */
	static const struct option with_s[] = {
	    {"service", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    COMMON_LONG_OPTIONS,
	    {NULL, 0, NULL, 0},
	};
	const struct option *longopts = with_service ? with_s : with_s + 1;
	int c, rc;

	while ((c = command_getopt(argc, argv, with_service ? ":o:s:h" : ":o:h",
	                           longopts, &a->run_dir, NULL, &rc)) != -1) {
		switch (c) {
		case OPT_STOP:
			return rc;
		case 'o':
			if ((rc = output_text_or_json(argv[0], optarg,
			                              &a->json)) != PARSE_OK)
				return rc;
			break;
		case 's':
			if ((rc = service_arg(argv[0], optarg)) != PARSE_OK)
				return rc;
			a->service = optarg;
			break;
		default:
			return option_error(argv[0], c, argv, longopts);
		}
	}
	if ((rc = no_arguments(argc, argv)) != PARSE_OK)
		return rc;
	return PARSE_OK;
}

/* ---- human units ------------------------------------------------------- */

/* "512 B", "1.5 KiB", "12.0 MiB". */
const char *bytes_text(double n, char *buf, size_t len)
{
	static const char *const units[] = {"B",   "KiB", "MiB",
	                                    "GiB", "TiB", "PiB"};
	size_t u = 0;

	while (n >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		n /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", n);
	else
		snprintf(buf, len, "%.1f %s", n, units[u]);
	return buf;
}

/* "45s", "12min 5s", "3h 04min", "2d 5h". */
static const char *span_text(uint64_t ns, char *buf, size_t len)
{
	uint64_t s = ns / 1000000000u;

	if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "min %" PRIu64 "s", s / 60,
		         s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h %02" PRIu64 "min", s / 3600,
		         s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d %" PRIu64 "h", s / 86400,
		         s / 3600 % 24);
	return buf;
}

/* "850 us", "3.2 ms", "1.25 s". */
static const char *latency_text(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000000)
		snprintf(buf, len, "%.0f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", (double)ns / 1e9);
	return buf;
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* ---- stats ------------------------------------------------------------- */

#define LABEL "%-15s "

static void stats_text(const logbus_stats *st)
{
	char a[64], b[64], c[64];

	local_time_text(st->started_ns, a, sizeof a);
	printf(LABEL "%s, pid %" PRIu64 ", up %s (since %s)\n", "logbusd",
	       st->version, st->pid, span_text(st->uptime_ns, b, sizeof b), a);
	if (st->rss_bytes)
		printf(LABEL "%s resident, peak %s\n", "memory",
		       bytes_text((double)st->rss_bytes, a, sizeof a),
		       bytes_text((double)st->rss_peak_bytes, b, sizeof b));
	printf(LABEL "%" PRIu64 " %s, %s\n", "received", st->received,
	       plural(st->received, "record", "records"),
	       bytes_text((double)st->received_bytes, a, sizeof a));
	printf(LABEL "%" PRIu64 " %s, %s\n", "committed", st->committed,
	       plural(st->committed, "record", "records"),
	       bytes_text((double)st->committed_bytes, a, sizeof a));
	printf(LABEL "%" PRIu64, "rejected", st->rejected);
	for (size_t i = 0, shown = 0; i < st->nrejected_by; i++)
		if (st->rejected_by[i].count)
			printf("%s%s %" PRIu64, shown++ ? ", " : ": ",
			       st->rejected_by[i].code,
			       st->rejected_by[i].count);
	putchar('\n');
	printf(LABEL "%" PRIu64 " records\n", "rate-limited", st->rate_limited);
	printf(LABEL "%" PRIu64 " records (dropped by publishers, queue "
	             "full)\n",
	       "client drops", st->client_dropped);
	printf(LABEL "%" PRIu64 " (%" PRIu64 " resent)\n", "batches",
	       st->batches, st->batches_resent);
	printf(LABEL "%.1f records/s (%s/s) last second, %.1f records/s "
	             "(%s/s) last minute\n",
	       "ingest rate", st->rate_1s,
	       bytes_text(st->bytes_rate_1s, a, sizeof a), st->rate_60s,
	       bytes_text(st->bytes_rate_60s, b, sizeof b));
	printf(LABEL "%" PRIu64 " %s, %" PRIu64 " %s, %" PRIu64 " %s\n",
	       "connections", st->publishers,
	       plural(st->publishers, "publisher", "publishers"), st->readers,
	       plural(st->readers, "reader", "readers"), st->subscribers,
	       plural(st->subscribers, "subscriber", "subscribers"));
	printf(LABEL "%" PRIu64 " %s, %s, ", "journal", st->journal_segments,
	       plural(st->journal_segments, "segment", "segments"),
	       bytes_text((double)st->journal_bytes, a, sizeof a));
	if (st->last_seq >= st->first_seq && st->last_seq > 0)
		printf("seq %" PRIu64 "..%" PRIu64 "\n", st->first_seq,
		       st->last_seq);
	else
		printf("empty\n");
	printf(LABEL "%" PRIu64 " %s, last took %s, %" PRIu64 " %s\n", "fsync",
	       st->fsyncs, plural(st->fsyncs, "call", "calls"),
	       st->fsyncs ? latency_text(st->last_fsync_ns, c, sizeof c) : "-",
	       st->fsync_errors, plural(st->fsync_errors, "error", "errors"));
	printf(LABEL "%" PRIu64 " (%" PRIu64 " open), %" PRIu64
	             " write %s, %" PRIu64 " failing now, %" PRIu64 " %s\n",
	       "routed files", st->route_files, st->route_open,
	       st->route_errors, plural(st->route_errors, "error", "errors"),
	       st->route_failing, st->route_rotations,
	       plural(st->route_rotations, "rotation", "rotations"));
	printf(LABEL "%" PRIu64 " known (at most %" PRIu64 " kept), %" PRIu64
	             " error %s written\n",
	       "services", st->services, st->services_max, st->error_reports,
	       plural(st->error_reports, "report", "reports"));
}

/* stats_json or services_json on stdout. */
static int print_json(const logbus_stats *st, const logbus_service_info *v,
                      size_t n)
{
	struct strbuf b = {0};
	int rc = 0;

	if (st)
		stats_json(&b, st);
	else
		services_json(&b, v, n);
	if (b.failed)
		rc = fail("out of memory");
	else
		fwrite(b.p, 1, b.len, stdout);
	sb_free(&b);
	return rc;
}

int cmd_stats(int argc, char **argv)
{
	struct view_args a = {0};
	logbus_stats st;
	char err[512] = "";
	int rc;

	if ((rc = view_parse(argc, argv, &a, false)) != PARSE_OK)
		return rc;
	rc = logbus_broker_stats(a.run_dir, &st, err, sizeof err);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot get logbusd's statistics",
		                    a.run_dir, rc, err);
	if (a.json)
		return print_json(&st, NULL, 0);
	else
		stats_text(&st);
	return 0;
}

/* ---- services ---------------------------------------------------------- */

static int service_cmp(const void *x, const void *y)
{
	const logbus_service_info *a = x, *b = y;
	return strcmp(a->service, b->service);
}

static int num_width(uint64_t v)
{
	char buf[32];
	return snprintf(buf, sizeof buf, "%" PRIu64, v);
}

/* "alice(1000)", "@security(27)", "uid 4242", or "-" when nobody owns it. */
static const char *owner_text(const logbus_service_info *s, char *buf,
                              size_t len)
{
	if (s->owner_how == LOGBUS_OWNER_NONE)
		snprintf(buf, len, "-");
	else if (s->owner_name[0])
		snprintf(buf, len, "%s(%" PRIu32 ")", s->owner_name,
		         s->owner_id);
	else
		snprintf(buf, len, "%s%" PRIu32,
		         s->owner_is_group ? "gid " : "uid ", s->owner_id);
	return buf;
}

static void services_text(const logbus_service_info *v, size_t n)
{
	int w[8] = {7, 7, 5, 4, 7, 5, 8, 5}; /* the headers' widths */
	int ow = 5, hw = 5;                  /* OWNER, OWNED */
	char a[64], b[64], o[128];

	for (size_t i = 0; i < n; i++) {
		int l = (int)strlen(owner_text(&v[i], o, sizeof o));
		if (l > ow)
			ow = l;
		l = (int)strlen(stats_owner_how(&v[i]));
		if (l > hw)
			hw = l;
	}
	for (size_t i = 0; i < n; i++) {
		const uint64_t col[] = {v[i].records, v[i].debug,
		                        v[i].info,    v[i].warning,
		                        v[i].error,   v[i].critical};
		int l = (int)strlen(v[i].service);
		if (l > w[0])
			w[0] = l;
		for (int k = 0; k < 6; k++)
			if (num_width(col[k]) > w[k + 1])
				w[k + 1] = num_width(col[k]);
		l = (int)strlen(bytes_text((double)v[i].bytes, a, sizeof a));
		if (l > w[7])
			w[7] = l;
	}
	printf("%-*s  %-*s  %-*s  %*s  %*s  %*s  %*s  %*s  %*s  %*s  %-19s  "
	       "%s\n",
	       w[0], "SERVICE", ow, "OWNER", hw, "OWNED", w[1], "RECORDS", w[2],
	       "DEBUG", w[3], "INFO", w[4], "WARNING", w[5], "ERROR", w[6],
	       "CRITICAL", w[7], "BYTES", "LAST RECORD", "LAST ERROR REPORT");
	for (size_t i = 0; i < n; i++) {
		const logbus_service_info *s = &v[i];
		local_time_text(s->last_ns, a, sizeof a);
		printf("%-*s  %-*s  %-*s  %*" PRIu64 "  %*" PRIu64 "  %*" PRIu64
		       "  %*" PRIu64 "  %*" PRIu64 "  %*" PRIu64
		       "  %*s  %-19s  ",
		       w[0], s->service, ow, owner_text(s, o, sizeof o), hw,
		       stats_owner_how(s), w[1], s->records, w[2], s->debug,
		       w[3], s->info, w[4], s->warning, w[5], s->error, w[6],
		       s->critical, w[7],
		       bytes_text((double)s->bytes, b, sizeof b), a);
		if (s->report_ns == 0) {
			puts("-");
			continue;
		}
		local_time_text(s->report_ns, a, sizeof a);
		if (s->error_category[0])
			printf("%s [%s] %s\n", a, s->error_category,
			       s->exit_summary);
		else
			printf("%s %s\n", a, s->exit_summary);
	}
}

int cmd_services(int argc, char **argv)
{
	struct view_args a = {0};
	logbus_service_info *v;
	size_t n, total;
	char err[512] = "";
	int rc;

	if ((rc = view_parse(argc, argv, &a, true)) != PARSE_OK)
		return rc;
	rc = logbus_services(a.run_dir, a.service, &v, &n, &total, err,
	                     sizeof err);
	if (rc == LOGBUS_ENOTFOUND)
		return fail("%s", err);
	if (rc != LOGBUS_OK)
		return admin_failed("cannot list services", a.run_dir, rc, err);
	qsort(v, n, sizeof *v, service_cmp);
	if (a.json)
		rc = print_json(NULL, v, n);
	else if (n == 0)
		puts("no services yet");
	else
		services_text(v, n);
	if (!a.service && n < total)
		warn("%zu of %zu services shown (the most recently active)", n,
		     total);
	logbus_services_free(v);
	return rc;
}

/* ---- help -------------------------------------------------------------- */

const char ctl_stats_help[] =
    "usage: logbusctl stats [options]\n"
    "\n"
    "logbusd's figures since it started: records and bytes received "
    "(publish\n"
    "batches seen for the first time, accepted or not) and committed "
    "(logbusd's\n"
    "own records included), refusals by reason, records dropped by rate "
    "limits\n"
    "and by publishers whose queue was full, batches and resends, the "
    "ingest\n"
    "rate over the last second and the last minute, connected publishers,\n"
    "readers and subscribers, the journal (segments, size, oldest and "
    "newest\n"
    "sequence number), fdatasync calls and the last one's duration, "
    "routed\n"
    "files, services known, uptime, pid, version and memory.\n"
    "\n"
    "  -o, --output FORMAT    text (default: a line per subject) or json "
    "(one\n"
    "                         object: version, pid, started, started_ns,\n"
    "                         uptime_s, memory, received, committed, "
    "rejected,\n"
    "                         rate_limited, client_dropped, batches, "
    "rate,\n"
    "                         connections, journal, fsync, routes, "
    "services,\n"
    "                         error_reports, queries)\n" RUN_DIR_HELP
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 done; 1 logbusd not reachable; 2 bad arguments.\n";

const char ctl_services_help[] =
    "usage: logbusctl services [options]\n"
    "\n"
    "Each service logbusd has seen since it started, by name: its owner "
    "(the\n"
    "user that published it first, \"claimed\", or the user or @group "
    "logbusd's\n"
    "[owners] assigns it to, \"configured\"), records in all and\n"
    "by level (DEBUG counts the levels below INFO, and so on; CRITICAL "
    "the\n"
    "levels from 50 up), bytes, the last record's time and the last error "
    "report\n"
    "(its time, [its error category] unless the exit status was 0, and "
    "the\n"
    "first line of the exit record), or \"-\".  logbusd keeps\n"
    "the 100,000 most recently active services; a reply holds at most "
    "5,000,\n"
    "the most recently active (a line on stderr says when some were left "
    "out).\n"
    "Error report files kept from before a restart: logbusctl errors.\n"
    "\n"
    "  -s, --service ID       only this service (exit 1 when logbusd has "
    "no\n"
    "                         record and no owner of it)\n"
    "  -o, --output FORMAT    text (default: a table) or json (an array "
    "of\n"
    "                         objects, one per line: service, records, "
    "bytes,\n"
    "                         levels {debug, info, warning, error, "
    "critical},\n"
    "                         first, last (RFC 3339), first_ns, last_ns,\n"
    "                         last_seq, owner: null or {name, id, group,\n"
    "                         how: claimed|configured|logbusd},\n"
    "                         last_error_report: null or {time,\n"
    "                         time_ns, exit_code, summary, category:\n"
    "                         null or a name})\n" RUN_DIR_HELP
    "  -h, --help             this text\n"
    "\n"
    "Exit status: 0 done; 1 logbusd not reachable, or no record of the "
    "service;\n"
    "2 bad arguments.\n";
