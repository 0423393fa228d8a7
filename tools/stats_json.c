/*
 * stats_json.c: logbusd's figures as JSON with stable keys, the same for
 * `logbusctl stats -o json` / `services -o json` and logbus-http's
 * /v1/stats and /v1/services: stats one object, services an array with an
 * object per line.  Times are RFC 3339 (UTC) with their _ns beside them.
 */
#include <inttypes.h>
#include <string.h>

#include "stats_json.h"

static const char *const owner_how[] = {"-", "claimed", "configured",
                                        "logbusd"};

const char *stats_owner_how(const logbus_service_info *s)
{
	int h = s->owner_how;
	return h >= 0 && h <= LOGBUS_OWNER_BROKER ? owner_how[h] : "?";
}

static void json_str(struct strbuf *b, const char *s)
{
	sb_json_str(b, s, strlen(s));
}

static void json_time(struct strbuf *b, int64_t ns)
{
	char buf[64];

	logbus_format_time(ns, LOGBUS_TIME_RFC3339, buf, sizeof buf);
	json_str(b, buf);
}

void stats_json(struct strbuf *b, const logbus_stats *st)
{
	sb_puts(b, "{\"version\":");
	json_str(b, st->version);
	sb_printf(b, ",\"pid\":%" PRIu64 ",\"started\":", st->pid);
	json_time(b, st->started_ns);
	sb_printf(b, ",\"started_ns\":%" PRId64 ",\"uptime_s\":%.3f",
	          st->started_ns, (double)st->uptime_ns / 1e9);
	sb_printf(b,
	          ",\"memory\":{\"rss_bytes\":%" PRIu64
	          ",\"peak_bytes\":%" PRIu64 "}",
	          st->rss_bytes, st->rss_peak_bytes);
	sb_printf(
	    b, ",\"received\":{\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
	    st->received, st->received_bytes);
	sb_printf(
	    b, ",\"committed\":{\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
	    st->committed, st->committed_bytes);
	sb_printf(b, ",\"rejected\":{\"total\":%" PRIu64, st->rejected);
	for (size_t i = 0; i < st->nrejected_by; i++) {
		sb_puts(b, ",");
		json_str(b, st->rejected_by[i].code);
		sb_printf(b, ":%" PRIu64, st->rejected_by[i].count);
	}
	sb_printf(b,
	          "},\"rate_limited\":%" PRIu64 ",\"client_dropped\":%" PRIu64,
	          st->rate_limited, st->client_dropped);
	sb_printf(
	    b, ",\"batches\":{\"received\":%" PRIu64 ",\"resent\":%" PRIu64 "}",
	    st->batches, st->batches_resent);
	sb_printf(b,
	          ",\"rate\":{\"records_1s\":%.3f,\"bytes_1s\":%.3f,"
	          "\"records_60s\":%.3f,\"bytes_60s\":%.3f}",
	          st->rate_1s, st->bytes_rate_1s, st->rate_60s,
	          st->bytes_rate_60s);
	sb_printf(b,
	          ",\"connections\":{\"publishers\":%" PRIu64
	          ",\"readers\":%" PRIu64 ",\"subscribers\":%" PRIu64 "}",
	          st->publishers, st->readers, st->subscribers);
	sb_printf(b,
	          ",\"journal\":{\"segments\":%" PRIu64 ",\"bytes\":%" PRIu64
	          ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 "}",
	          st->journal_segments, st->journal_bytes, st->first_seq,
	          st->last_seq);
	sb_printf(b,
	          ",\"fsync\":{\"count\":%" PRIu64 ",\"errors\":%" PRIu64
	          ",\"last_ms\":%.3f}",
	          st->fsyncs, st->fsync_errors,
	          (double)st->last_fsync_ns / 1e6);
	sb_printf(b,
	          ",\"routes\":{\"files\":%" PRIu64 ",\"open\":%" PRIu64
	          ",\"errors\":%" PRIu64 ",\"failing\":%" PRIu64
	          ",\"rotations\":%" PRIu64 "}",
	          st->route_files, st->route_open, st->route_errors,
	          st->route_failing, st->route_rotations);
	sb_printf(
	    b, ",\"services\":{\"known\":%" PRIu64 ",\"kept_max\":%" PRIu64 "}",
	    st->services, st->services_max);
	sb_printf(b,
	          ",\"error_reports\":%" PRIu64 ",\"queries\":%" PRIu64 "}\n",
	          st->error_reports, st->queries);
}

/* {"name": str|null, "id": N, "group": bool, "how": str}, or null. */
static void services_json_owner(struct strbuf *b, const logbus_service_info *s)
{
	if (s->owner_how == LOGBUS_OWNER_NONE) {
		sb_puts(b, "null");
		return;
	}
	sb_puts(b, "{\"name\":");
	if (s->owner_name[0])
		json_str(b, s->owner_name);
	else
		sb_puts(b, "null");
	sb_printf(b, ",\"id\":%" PRIu32 ",\"group\":%s,\"how\":\"%s\"}",
	          s->owner_id, s->owner_is_group ? "true" : "false",
	          stats_owner_how(s));
}

void services_json(struct strbuf *b, const logbus_service_info *v, size_t n)
{
	sb_puts(b, "[");
	for (size_t i = 0; i < n; i++) {
		const logbus_service_info *s = &v[i];
		sb_puts(b, i ? ",\n{\"service\":" : "\n{\"service\":");
		json_str(b, s->service);
		sb_printf(b,
		          ",\"records\":%" PRIu64 ",\"bytes\":%" PRIu64
		          ",\"levels\":{\"debug\":%" PRIu64 ",\"info\":%" PRIu64
		          ",\"warning\":%" PRIu64 ",\"error\":%" PRIu64
		          ",\"critical\":%" PRIu64 "},\"first\":",
		          s->records, s->bytes, s->debug, s->info, s->warning,
		          s->error, s->critical);
		json_time(b, s->first_ns);
		sb_puts(b, ",\"last\":");
		json_time(b, s->last_ns);
		sb_printf(b,
		          ",\"first_ns\":%" PRId64 ",\"last_ns\":%" PRId64
		          ",\"last_seq\":%" PRIu64 ",\"owner\":",
		          s->first_ns, s->last_ns, s->last_seq);
		services_json_owner(b, s);
		sb_puts(b, ",\"last_error_report\":");
		if (s->report_ns == 0) {
			sb_puts(b, "null}");
			continue;
		}
		sb_puts(b, "{\"time\":");
		json_time(b, s->report_ns);
		sb_printf(b,
		          ",\"time_ns\":%" PRId64 ",\"exit_code\":%" PRId64
		          ",\"summary\":",
		          s->report_ns, s->exit_code);
		json_str(b, s->exit_summary);
		sb_puts(b, ",\"category\":");
		if (s->error_category[0])
			json_str(b, s->error_category);
		else
			sb_puts(b, "null");
		sb_puts(b, "}}");
	}
	sb_puts(b, n ? "\n]\n" : "]\n");
}
