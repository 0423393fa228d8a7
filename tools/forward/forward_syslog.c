/*
 * forward_syslog.c: a record as an RFC 5424 message, for RELP and plain
 * TCP, and the small record helpers the destinations share (the journal
 * id from a cursor, field values as JSON or text).
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - [logbus@32473 ...][fields@32473
 * ...] MSG
 *
 * APP-NAME is the service (cut to RFC 5424's 48 characters; the whole id is
 * in the structured data), PROCID the publisher's pid, MSGID "-".  The SD
 * element logbus@32473 carries seq, journal, logger, level, stream, uid,
 * gid and comm; fields@32473 the record's structured fields (a key cut to
 * RFC 5424's 32 characters).  32473 is the enterprise number RFC 5612
 * reserves for examples: logbus has none of its own.  The message is
 * UTF-8 without a BOM (what rsyslog and most senders do); a message's
 * newlines are kept, which octet counting and RELP carry.
 */
#include <inttypes.h>
#include <string.h>

#include "cursor.h"
#include "forward.h"
#include "timefmt.h"

#define SD_NAME_MAX  32
#define APP_NAME_MAX 48

static const char *const facilities[] = {
    "kern",   "user",   "mail",   "daemon", "auth",     "syslog",
    "lpr",    "news",   "uucp",   "cron",   "authpriv", "ftp",
    "ntp",    "audit",  "alert",  "clock",  "local0",   "local1",
    "local2", "local3", "local4", "local5", "local6",   "local7"};

int syslog_facility(const char *name)
{
	for (size_t i = 0; i < sizeof facilities / sizeof *facilities; i++)
		if (strcmp(name, facilities[i]) == 0)
			return (int)i;
	return -1;
}

/* Python's levels to syslog's severities: CRITICAL crit, ERROR err, WARNING
 * warning, INFO info, below debug; a level between two as the lower. */
int syslog_severity(int level)
{
	if (level >= LOGBUS_CRITICAL)
		return 2;
	if (level >= LOGBUS_ERROR)
		return 3;
	if (level >= LOGBUS_WARNING)
		return 4;
	if (level >= LOGBUS_INFO)
		return 6;
	return 7;
}

bool record_journal(const logbus_record *r, char id[33])
{
	unsigned char raw[CURSOR_ID_LEN];
	uint64_t seq;
	if (cursor_parse(r->cursor, raw, &seq) < 0)
		return false;
	for (int i = 0; i < CURSOR_ID_LEN; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	return true;
}

void fields_text_value(struct strbuf *b, const logbus_field *f)
{
	switch (f->type) {
	case LOGBUS_FIELD_STR:
		sb_puts(b, f->v.s);
		break;
	case LOGBUS_FIELD_FLOAT:
		sb_double(b, f->v.f);
		break;
	default:
		sb_json_field_value(b, f);
	}
}

/* An SD-PARAM's value: '"', '\' and ']' escaped with '\' (RFC 5424 6.3.3). */
static void sd_value(struct strbuf *b, const char *s, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\' || s[i] == ']') {
			sb_put(b, s + from, i - from);
			sb_put(b, "\\", 1);
			from = i;
		}
	}
	sb_put(b, s + from, n - from);
}

static void sd_param(struct strbuf *b, const char *name, const char *value)
{
	sb_printf(b, " %.*s=\"", SD_NAME_MAX, name);
	sd_value(b, value, strlen(value));
	sb_put(b, "\"", 1);
}

void syslog_format(struct strbuf *b, const logbus_record *r,
                   const char *hostname, int facility)
{
	char t[TIMEFMT_MAX], journal[33] = "-", num[32];
	struct strbuf v = {0};

	/* RFC 5424 allows six digits of fraction: microseconds, UTC */
	timefmt_rfc3339(t, sizeof t, r->time_ns);
	record_journal(r, journal);
	sb_printf(b, "<%d>1 %s ", facility * 8 + syslog_severity(r->level), t);
	sb_puts(b, hostname);
	sb_printf(b, " %.*s %" PRIu32 " - [logbus@32473", APP_NAME_MAX,
	          r->service, r->pid);
	snprintf(num, sizeof num, "%" PRIu64, r->seq);
	sd_param(b, "seq", num);
	sd_param(b, "journal", journal);
	sd_param(b, "service", r->service);
	sd_param(b, "logger", r->logger);
	snprintf(num, sizeof num, "%d", r->level);
	sd_param(b, "level", num);
	sd_param(b, "stream",
	         r->stream == LOGBUS_STREAM_STDOUT   ? "stdout"
	         : r->stream == LOGBUS_STREAM_STDERR ? "stderr"
	                                             : "log");
	sb_printf(b, " uid=\"%" PRIu32 "\" gid=\"%" PRIu32 "\"", r->uid,
	          r->gid);
	if (r->comm[0] != '\0')
		sd_param(b, "comm", r->comm);
	sb_put(b, "]", 1);
	if (r->nfields > 0) {
		sb_puts(b, "[fields@32473");
		for (size_t i = 0; i < r->nfields; i++) {
			sb_reset(&v);
			fields_text_value(&v, &r->fields[i]);
			sd_param(b, r->fields[i].key, v.failed ? "" : v.p);
		}
		sb_put(b, "]", 1);
	}
	sb_free(&v);
	sb_put(b, " ", 1);
	sb_put(b, r->message, r->message_len);
}
