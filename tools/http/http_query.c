/*
 * http_query.c: the parameters of GET /v1/logs and /v1/logs.json, read into
 * a reader's options.  The names are Docker's and Kubernetes' (tail,
 * follow, timestamps, since, until, stdout, stderr, sinceSeconds,
 * limitBytes) plus logbus's own (service, level, logger, q, stream, cursor,
 * format).  A value that does not read is a 400 naming the parameter; a
 * parameter nobody knows is ignored, so that a Docker or Kubernetes client
 * that sends more (details, container, pretty) still works.
 *
 * Times (since, until) are what logbusctl takes (RFC 3339, local date and
 * time, "-10min", "@SECONDS"; tools/ctl_time.c, linked in) and what Docker
 * sends: a bare number is Unix seconds, a bare span ("10m", "1h30m") is
 * that long before now.
 *
 * The start: after Last-Event-ID or cursor; else the last `tail` records
 * (of those since `since` when both are given); else everything since
 * `since`; else the whole journal (/v1/logs, as `docker logs`) or the last
 * 100 records (/v1/logs.json).  An event stream always follows: a browser's
 * EventSource asks again whenever a response ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "logbusctl.h" /* parse_time, parse_span_arg (tools/ctl_time.c) */
#include "timefmt.h"

#define JSON_DEFAULT_TAIL 100

struct parse_ctx {
	struct http_request *rq;
	struct logs_query *q;
	int64_t now;
	bool follow, stdout_only, stderr_only;
	int64_t since_ns;
	char *err;
	size_t errlen;
	unsigned status;
};

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A non-negative decimal integer that fits, nothing else. */
static bool parse_count(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!all_digits(s) || strlen(s) > 19)
		return false;
	for (; *s; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	*out = v;
	return true;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"", "1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true;
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (strcasecmp(s, no[i]) == 0)
			return !(*out = false);
	return false;
}

/* Docker's and logbusctl's times: Unix seconds ("1700000000.5"), a span
 * before now ("10m"), or whatever logbusctl tail --since takes. */
static bool http_time(const char *s, int64_t now, int64_t *out)
{
	char at[64];
	int64_t span;
	size_t n = strspn(s, "0123456789.");

	if (n > 0 && s[n] == '\0' &&
	    snprintf(at, sizeof at, "@%s", s) < (int)sizeof at)
		return parse_time(at, now, out);
	if (s[0] >= '0' && s[0] <= '9' && parse_span_arg(s, &span)) {
		*out = now - span;
		return true;
	}
	return parse_time(s, now, out);
}

static enum MHD_Result bad(struct parse_ctx *c, unsigned status,
                           const char *fmt, const char *key, const char *value)
{
	snprintf(c->err, c->errlen, fmt, key, value);
	c->status = status;
	return MHD_NO;
}

static enum MHD_Result add_service(struct parse_ctx *c, const char *v)
{
	struct logs_query *q = c->q;

	if (logbus_service_valid(v) != 0)
		return bad(c, 400, "%s: '%.128s' is not a service id",
		           "service", v);
	if (!token_allows(c->rq->token, v))
		return bad(c, 403, "%s: this token may not read '%.128s'",
		           "service", v);
	if (q->nservices == LOGS_SERVICES_MAX)
		return bad(c, 400, "%s: more than 64 (%.0s)", "service", "");
	q->services[q->nservices++] = v;
	return MHD_YES;
}

static enum MHD_Result add_streams(struct parse_ctx *c, const char *v)
{
	static const char *const names[] = {"log", "stdout", "stderr"};
	const char *p = v;

	while (*p) {
		size_t n = strcspn(p, ","), i;
		for (i = 0; i < 3; i++)
			if (strlen(names[i]) == n &&
			    strncmp(p, names[i], n) == 0)
				break;
		if (i == 3)
			return bad(c, 400,
			           "%s: '%.64s' is not log, stdout or stderr",
			           "stream", v);
		c->q->ro.filter.streams |= 1u << i;
		p += n + (p[n] == ',');
	}
	return MHD_YES;
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind,
                              const char *key, const char *value)
{
	struct parse_ctx *c = cls;
	struct logs_query *q = c->q;
	const char *v = value ? value : "";
	uint64_t n;
	int64_t t;
	bool b;

	(void)kind;
	if (strcmp(key, "service") == 0)
		return add_service(c, v);
	if (strcmp(key, "tail") == 0) {
		q->tail_given = true;
		if (strcmp(v, "all") == 0 || strcmp(v, "-1") == 0) {
			q->ro.tail_n = UINT64_MAX;
			return MHD_YES;
		}
		if (!parse_count(v, &q->ro.tail_n))
			return bad(c, 400, "%s: '%.64s' is not a number or all",
			           key, v);
		return MHD_YES;
	}
	if (strcmp(key, "follow") == 0 || strcmp(key, "timestamps") == 0 ||
	    strcmp(key, "stdout") == 0 || strcmp(key, "stderr") == 0) {
		if (!parse_bool(v, &b))
			return bad(c, 400, "%s: '%.64s' is not true or false",
			           key, v);
		if (key[0] == 'f')
			c->follow = b;
		else if (key[0] == 't')
			q->timestamps = b;
		else if (strcmp(key, "stdout") == 0)
			c->stdout_only = b;
		else
			c->stderr_only = b;
		return MHD_YES;
	}
	if (strcmp(key, "since") == 0 || strcmp(key, "until") == 0) {
		if (!http_time(v, c->now, &t) || t <= 0)
			return bad(c, 400,
			           "%s: '%.64s' is not a time (RFC 3339, Unix "
			           "seconds or a span before now like 10m)",
			           key, v);
		if (key[0] == 's')
			c->since_ns = t;
		else
			q->ro.filter.until_ns = t;
		return MHD_YES;
	}
	if (strcmp(key, "sinceSeconds") == 0) {
		if (!parse_count(v, &n) || n == 0 || n > 100L * 365 * 86400)
			return bad(c, 400,
			           "%s: '%.64s' is not a positive number "
			           "of seconds",
			           key, v);
		c->since_ns = c->now - (int64_t)n * 1000000000;
		return MHD_YES;
	}
	if (strcmp(key, "level") == 0) {
		int level = logbus_level_parse(v);
		if (level < 0)
			return bad(c, 400,
			           "%s: '%.64s' is not a level (debug, info, "
			           "warning, error, critical or 0..255)",
			           key, v);
		q->ro.filter.min_level = level;
		return MHD_YES;
	}
	if (strcmp(key, "logger") == 0) {
		q->ro.filter.logger_prefix = v;
		return MHD_YES;
	}
	if (strcmp(key, "q") == 0) {
		q->ro.filter.message_regex = *v ? v : NULL;
		return MHD_YES;
	}
	if (strcmp(key, "stream") == 0)
		return add_streams(c, v);
	if (strcmp(key, "limitBytes") == 0) {
		if (!parse_count(v, &q->limit_bytes) || q->limit_bytes == 0)
			return bad(c, 400,
			           "%s: '%.64s' is not a positive number", key,
			           v);
		return MHD_YES;
	}
	if (strcmp(key, "cursor") == 0) {
		if (strlen(v) >= sizeof q->cursor)
			return bad(c, 400, "%s: too long (%.0s)", key, v);
		strcpy(q->cursor, v);
		return MHD_YES;
	}
	if (strcmp(key, "format") == 0) {
		if (strcmp(v, "text") == 0)
			q->format = LOGS_TEXT;
		else if (strcmp(v, "json") == 0)
			q->format = LOGS_JSON;
		else if (strcmp(v, "sse") == 0)
			q->sse = true;
		else
			return bad(c, 400,
			           "%s: '%.64s' is not text, json or sse", key,
			           v);
		return MHD_YES;
	}
	return MHD_YES; /* token, and what other clients send */
}

/* The token's scope as a filter at the broker where it is a list of ids;
 * every record is checked again before it leaves (logs_emit). */
static void apply_scope(struct logs_query *q, const struct token *tok)
{
	long n;

	q->scope_check = tok != NULL;
	if (tok == NULL || q->nservices > 0)
		return;
	n = token_exact_services(tok, q->services, LOGS_SERVICES_MAX);
	if (n > 0)
		q->nservices = (size_t)n;
}

unsigned logs_query_parse(struct http_request *rq, bool json,
                          struct logs_query *q, char *err, size_t errlen)
{
	struct parse_ctx c = {.rq = rq, .q = q, .err = err, .errlen = errlen};
	const char *h;

	memset(q, 0, sizeof *q);
	c.now = timefmt_now_ns();
	q->ro.run_dir = rq->srv->run_dir;
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, on_arg, &c);
	if (c.status)
		return c.status;

	h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Accept");
	if (!json && h && strstr(h, "text/event-stream"))
		q->sse = true;
	h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	                                "Last-Event-ID");
	if (!json && h && *h) {
		if (strlen(h) >= sizeof q->cursor) {
			snprintf(err, errlen, "Last-Event-ID: too long");
			return 400;
		}
		strcpy(q->cursor, h);
	}
	if (json && (c.follow || q->sse)) {
		snprintf(err, errlen,
		         "follow: /v1/logs.json is a snapshot; "
		         "follow with /v1/logs");
		return 400;
	}
	if (c.stdout_only || c.stderr_only)
		q->ro.filter.streams |= (c.stdout_only ? 1u << 1 : 0) |
		                        (c.stderr_only ? 1u << 2 : 0);
	apply_scope(q, rq->token);
	q->ro.filter.services = q->nservices ? q->services : NULL;
	q->ro.filter.nservices = q->nservices;
	q->ro.filter.since_ns = c.since_ns;
	q->ro.follow = c.follow || q->sse;

	if (q->cursor[0]) {
		q->ro.start = LOGBUS_START_CURSOR;
		q->ro.cursor = q->cursor;
	} else if (q->tail_given && q->ro.tail_n != UINT64_MAX) {
		q->ro.start = LOGBUS_START_TAIL;
	} else if (c.since_ns) {
		q->ro.start = LOGBUS_START_SINCE;
		q->ro.since_ns = c.since_ns;
	} else if (json && !q->tail_given) {
		q->ro.start = LOGBUS_START_TAIL;
		q->ro.tail_n = JSON_DEFAULT_TAIL;
	} else {
		q->ro.start = LOGBUS_START_HEAD;
	}
	return 0;
}
