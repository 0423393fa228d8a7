/*
 * ctl_output.c: what logbusctl writes on standard output: the writes
 * themselves (a reader that went away, as in `logbusctl tail | head`, ends
 * the output quietly), a record in each of tail's formats (json is the
 * library's logbus_record_format, text the layout of logbusd's text files,
 * shared/textline.h; cat and verbose are ours, after journalctl's), and
 * times as people read them.
 *
 * Text and verbose escape control characters and mark a message's further
 * lines wherever they go, as journalctl escapes unprintable text unless
 * --all; cat escapes only on a terminal, so that a pipe gets the bytes.
 * A record is formatted into a strbuf the caller keeps, so that a
 * reader's loop reuses one buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <logbus/logbus.h>

#include "logbusctl.h"
#include "record.h"
#include "strbuf.h"
#include "textline.h"

/* Levels from WARNING up stand out on a terminal (journalctl's habit). */
#define COLOR_WARNING "\033[1;33m"
#define COLOR_ERROR   "\033[1;31m"
#define COLOR_OFF     "\033[0m"

/*
 * Write to stdout.  A reader that went away (EPIPE: SIGPIPE is ignored) is
 * OUT_CLOSED, the normal end of `logbusctl tail | head`; any other failure
 * is reported here.
 */
enum out_result out_write(const char *p, size_t len)
{
	if (fwrite(p, 1, len, stdout) == len)
		return OUT_OK;
	if (errno == EPIPE)
		return OUT_CLOSED;
	fail("cannot write to standard output (%s)", strerror(errno));
	return OUT_ERROR;
}

enum out_result out_flush(void)
{
	if (fflush(stdout) == 0)
		return OUT_OK;
	if (errno == EPIPE)
		return OUT_CLOSED;
	fail("cannot write to standard output (%s)", strerror(errno));
	return OUT_ERROR;
}

/* Put the colour around the n bytes before b's final '\n'. */
static void color_tail(struct strbuf *b, size_t n, const char *color)
{
	size_t on = strlen(color), off = strlen(COLOR_OFF), start;

	if (b->len < n + 1)
		return;
	start = b->len - 1 - n;
	/* room for both codes; the bytes put here are overwritten */
	sb_puts(b, color);
	sb_puts(b, COLOR_OFF);
	if (b->failed)
		return;
	memmove(b->p + start + on, b->p + start, n);
	memcpy(b->p + start, color, on);
	memcpy(b->p + start + on + n, COLOR_OFF "\n", off + 1);
}

static const char *level_color(int level)
{
	if (level >= LOGBUS_ERROR)
		return COLOR_ERROR;
	if (level >= LOGBUS_WARNING)
		return COLOR_WARNING;
	return NULL;
}

/* "    KEY=VALUE\n"; further lines of a value are indented deeper, so that
 * only a record's first line starts at the margin; controls escaped unless
 * raw. */
static void verbose_value(struct strbuf *b, const char *key, const char *v,
                          size_t n, bool raw)
{
	sb_puts(b, "    ");
	sb_puts(b, key);
	sb_put(b, "=", 1);
	textline_escape(b, v, n, "        ", raw);
	sb_put(b, "\n", 1);
}

/* A field named like one of the record's own keys is written field.KEY,
 * so that a publisher cannot pass off pid=1 as the trusted pid. */
static const char *verbose_key(const char *key, char *buf, size_t len)
{
	static const char *const own[] = {
	    "seq", "service", "logger", "level",   "stream", "pid",
	    "uid", "gid",     "comm",   "message", NULL};
	for (int i = 0; own[i]; i++)
		if (strcmp(own[i], key) == 0) {
			snprintf(buf, len, "field.%s", key);
			return buf;
		}
	return key;
}

/*
 * journalctl -o verbose's layout: "TIME [CURSOR]", then one indented
 * KEY=VALUE line per part of the record: the broker's (seq, service, ...,
 * gid, comm), the structured fields in their order, the message last.
 */
static void format_verbose(struct strbuf *b, const logbus_record *r, bool raw)
{
	char t[64], lv[16], kb[LOGBUS_KEY_MAX + 8];

	logbus_format_time(r->time_ns, LOGBUS_TIME_RFC3339, t, sizeof t);
	sb_printf(b, "%s [%s]\n", t, r->cursor);
	sb_printf(b, "    seq=%" PRIu64 "\n", r->seq);
	verbose_value(b, "service", r->service, strlen(r->service), raw);
	verbose_value(b, "logger", r->logger, strlen(r->logger), raw);
	sb_printf(b, "    level=%s\n",
	          logbus_level_name(r->level, lv, sizeof lv));
	sb_printf(b, "    stream=%s\n", stream_name(r->stream));
	sb_printf(b, "    pid=%" PRIu32 "\n    uid=%" PRIu32 "\n", r->pid,
	          r->uid);
	sb_printf(b, "    gid=%" PRIu32 "\n", r->gid);
	verbose_value(b, "comm", r->comm, strlen(r->comm), raw);
	for (size_t i = 0; i < r->nfields; i++) {
		const logbus_field *f = &r->fields[i];
		const char *key = verbose_key(f->key, kb, sizeof kb);
		switch (f->type) {
		case LOGBUS_FIELD_STR:
			verbose_value(b, key, f->v.s, strlen(f->v.s), raw);
			break;
		case LOGBUS_FIELD_INT:
			sb_printf(b, "    %s=%" PRId64 "\n", key, f->v.i);
			break;
		case LOGBUS_FIELD_FLOAT:
			sb_printf(b, "    %s=", key);
			sb_double(b, f->v.f);
			sb_put(b, "\n", 1);
			break;
		case LOGBUS_FIELD_BOOL:
			sb_printf(b, "    %s=%s\n", key,
			          f->v.b ? "true" : "false");
			break;
		}
	}
	verbose_value(b, "message", r->message, r->message_len, raw);
}

/* A record as format's lines in *b, which it replaces (logbusctl.h). */
int out_format_record(const logbus_record *rec, enum out_format format,
                      const struct textline_time *time, bool color, bool raw,
                      struct strbuf *b)
{
	const char *code = color ? level_color(rec->level) : NULL;
	size_t at = 0;
	long len;

	sb_reset(b);
	switch (format) {
	case OUT_JSON:
		len = logbus_record_format(rec, LOGBUS_FORMAT_JSON, &b->p,
		                           &b->cap);
		if (len < 0)
			return (int)len;
		b->len = (size_t)len;
		return LOGBUS_OK;
	case OUT_TEXT:
		at = textline_format_record(b, rec, time, raw);
		break;
	case OUT_CAT:
		textline_escape(b, rec->message, rec->message_len, "", raw);
		sb_put(b, "\n", 1);
		break;
	case OUT_VERBOSE:
		format_verbose(b, rec, raw);
		code = NULL;
		break;
	}
	/* Text ends with the message, like cat: colour just the message. */
	if (code != NULL && !b->failed)
		color_tail(b, b->len - 1 - at, code);
	return b->failed ? LOGBUS_ENOMEM : LOGBUS_OK;
}

static void pretty_newline(struct strbuf *o, int depth)
{
	sb_put(o, "\n", 1);
	for (int i = 0; i < depth; i++)
		sb_put(o, "        ", 8);
}

/*
 * A one-line JSON object in *b as journalctl -o json-pretty lays one out:
 * a key per line, indented by 8, "key" : value, nested objects the same.
 * Strings are copied as they are (escapes included).  LOGBUS_OK or
 * LOGBUS_ENOMEM.
 */
int out_json_pretty(struct strbuf *b)
{
	struct strbuf o = {0};
	bool in_str = false, esc = false;
	int depth = 0;
	size_t len = b->len;

	while (len > 0 && b->p[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len; i++) {
		char c = b->p[i];
		if (in_str) {
			sb_put(&o, &c, 1);
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			sb_put(&o, &c, 1);
			break;
		case '{':
		case '[':
			sb_put(&o, &c, 1);
			if (i + 1 < len &&
			    (b->p[i + 1] == '}' || b->p[i + 1] == ']'))
				break; /* {} and [] stay on one line */
			pretty_newline(&o, ++depth);
			break;
		case '}':
		case ']':
			if (i > 0 && b->p[i - 1] != '{' && b->p[i - 1] != '[')
				pretty_newline(&o, --depth);
			sb_put(&o, &c, 1);
			break;
		case ',':
			sb_put(&o, ",", 1);
			pretty_newline(&o, depth);
			break;
		case ':':
			sb_put(&o, " : ", 3);
			break;
		default:
			sb_put(&o, &c, 1);
		}
	}
	sb_put(&o, "\n", 1);
	if (o.failed) {
		sb_free(&o);
		return LOGBUS_ENOMEM;
	}
	sb_free(b);
	*b = o;
	return LOGBUS_OK;
}

/* "2026-11-22 10:00:00", local time. */
void local_time_text(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NS_PER_S);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}
