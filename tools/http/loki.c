/*
 * loki.c: Loki's query endpoints (loki.h).
 *
 * A log query is a logbus_reader over [start, end) whose filter is what
 * logql_push hands logbusd; logql_test and the caller's allow() judge the
 * rest.  forward: the first `limit` records; backward (Loki's default): the
 * last `limit`, asked of logbusd as a tail when it applies the whole query
 * and nobody's scope narrows it, else kept in a ring while the range is
 * read.  The records are grouped into Loki's streams by their label set
 * (service, level, logger, stream; level in lower case), the streams in
 * the order their first line is listed, each stream's values in the
 * direction asked.  The line of a value is the record's message.
 *
 * Errors: a bad query or argument is 400 with the Prometheus API's error
 * shape ({"status":"error","errorType":"bad_data","error":...}, which
 * Loki's /loki/ endpoints follow) and a "message" beside "error", the key
 * Grafana's Loki client reads; a query's error starts "parse error at line
 * L, col C:" as Loki's does.  logbusd away: 503.  Nothing here keeps state
 * between calls: every call opens its own readers.
 */
#include "loki.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <logbus/logbus.h>

#include "logql.h"
#include "strbuf.h"
#include "timefmt.h"

#define NS_PER_S         INT64_C(1000000000)
#define LOKI_LIMIT       100  /* Loki's default limit */
#define LOKI_LIMIT_MAX   5000 /* Loki's default max_entries_limit_per_query */
#define LOKI_VALUES_MAX  1000 /* distinct values of a label listed */
#define QUERY_WINDOW_NS  (3600 * NS_PER_S)     /* query_range's default */
#define LABELS_WINDOW_NS (6 * 3600 * NS_PER_S) /* labels' default */

struct call {
	const char *run_dir;
	const struct http_arg *args;
	size_t nargs;
	http_allow_fn allow;
	void *allow_ctx;
	struct strbuf out;
};

static const char *arg(const struct call *c, const char *key)
{
	for (size_t i = 0; i < c->nargs; i++)
		if (c->args[i].key && strcmp(c->args[i].key, key) == 0)
			return c->args[i].value ? c->args[i].value : "";
	return NULL;
}

/* An error body; returns status. */
__attribute__((format(printf, 4, 5))) static int
error_reply(struct call *c, int status, const char *type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sb_reset(&c->out);
	sb_puts(&c->out, "{\"status\":\"error\",\"errorType\":");
	sb_json_str(&c->out, type, strlen(type));
	sb_puts(&c->out, ",\"error\":");
	sb_json_str(&c->out, msg, strlen(msg));
	sb_puts(&c->out, ",\"message\":");
	sb_json_str(&c->out, msg, strlen(msg));
	sb_puts(&c->out, "}");
	return status;
}

/* A reader's failure: 503 while logbusd cannot be reached, 400 when it
 * refused the request (a regex that gave up), else 500. */
static int read_failed(struct call *c, int rc, const char *detail)
{
	char dir[4096];

	if (detail == NULL || *detail == '\0')
		detail = logbus_strerror(rc);
	if (rc == LOGBUS_EUNREACHABLE || rc == LOGBUS_ETIMEDOUT)
		return error_reply(
		    c, 503, "unavailable", "cannot read logbusd at %s: %s",
		    c->run_dir ? c->run_dir
		               : logbus_default_run_dir(dir, sizeof dir),
		    detail);
	if (rc == LOGBUS_EREJECTED || rc == LOGBUS_EINVAL)
		return error_reply(c, 400, "bad_data", "%s", detail);
	return error_reply(c, 500, "internal", "%s", detail);
}

/* ---- arguments ---------------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

/* "2026-11-22T10:00:00.5Z", "...+02:00": Go's RFC3339Nano. */
static bool parse_rfc3339(const char *s, int64_t *out)
{
	struct tm tm;
	int64_t frac = 0, scale = NS_PER_S;
	int off = 0, n = 0;

	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
	           &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return false;
	s += n;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++)
			if (scale > 1) {
				scale /= 10;
				frac += (*s - '0') * scale;
			}
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') && all_digits(s + 1, 2) &&
	           s[3] == ':' && all_digits(s + 4, 2)) {
		off = ((s[1] - '0') * 10 + (s[2] - '0')) * 3600 +
		      ((s[4] - '0') * 10 + (s[5] - '0')) * 60;
		off = *s == '-' ? -off : off;
		s += 6;
	} else {
		return false;
	}
	if (*s != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	*out = ((int64_t)t - off) * NS_PER_S + frac;
	return true;
}

/* Loki's timestamps: an integer is nanoseconds (seconds when it has at
 * most 10 digits, as Loki reads it), a number with a '.' seconds, else
 * RFC 3339.  Returns 0, or 400 after saying which argument is wrong. */
static int time_arg(struct call *c, const char *key, int64_t def, int64_t *out)
{
	const char *v = arg(c, key);
	char *end;

	*out = def;
	if (v == NULL || *v == '\0')
		return 0;
	size_t n = strlen(v);
	if (all_digits(v, n) && n <= 19) {
		int64_t x = strtoll(v, NULL, 10);
		*out = n <= 10 ? x * NS_PER_S : x;
		return 0;
	}
	if (strchr(v, '.') != NULL && strchr(v, 'T') == NULL) {
		double d = strtod(v, &end);
		if (*end == '\0' && d >= 0 && d < 9.2e9) {
			*out = (int64_t)(d * 1e9);
			return 0;
		}
	}
	if (parse_rfc3339(v, out))
		return 0;
	return error_reply(c, 400, "bad_data",
	                   "invalid %s '%s': give nanoseconds since the epoch, "
	                   "seconds with a fraction, or RFC 3339 like "
	                   "2026-11-22T10:00:00Z",
	                   key, v);
}

/* A Prometheus duration ("5m", "1h30m", "90s", "1.5") for since=. */
static bool parse_duration(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {{"ms", 1000000},
	             {"s", NS_PER_S},
	             {"m", 60 * NS_PER_S},
	             {"h", 3600 * NS_PER_S},
	             {"d", 86400 * NS_PER_S},
	             {"w", 7 * 86400 * NS_PER_S},
	             {"y", 365 * 86400 * NS_PER_S}};
	char *end;
	int64_t total = 0;

	if (*s == '\0')
		return false;
	while (*s != '\0') {
		double v = strtod(s, &end);
		size_t k;
		if (end == s || v < 0)
			return false;
		s = end;
		if (*s == '\0' && total == 0) {
			*out = (int64_t)(v * 1e9); /* seconds alone */
			return true;
		}
		for (k = 0; k < sizeof units / sizeof units[0]; k++) {
			size_t n = strlen(units[k].unit);
			if (strncmp(s, units[k].unit, n) == 0 &&
			    !(n == 1 && s[0] == 'm' && s[1] == 's'))
				break;
		}
		if (k == sizeof units / sizeof units[0])
			return false;
		total += (int64_t)(v * (double)units[k].ns);
		s += strlen(units[k].unit);
	}
	*out = total;
	return true;
}

/* start and end (start defaults to end - since, or end - window). */
static int range_args(struct call *c, int64_t window, int64_t *start,
                      int64_t *end)
{
	int64_t now = timefmt_now_ns(), span = window;
	const char *since = arg(c, "since");
	int rc;

	if ((rc = time_arg(c, "end", now, end)) != 0)
		return rc;
	if (since != NULL && *since != '\0' && !parse_duration(since, &span))
		return error_reply(c, 400, "bad_data",
		                   "invalid since '%s': a duration like 5m or "
		                   "1h30m",
		                   since);
	if ((rc = time_arg(c, "start", (*end > now ? now : *end) - span,
	                   start)) != 0)
		return rc;
	if (*end < *start)
		return error_reply(c, 400, "bad_data",
		                   "the end timestamp must not be before the "
		                   "start time");
	return 0;
}

static int parse_query(struct call *c, const char *text, struct logql **q)
{
	struct logql_error e;

	if (text == NULL)
		return error_reply(
		    c, 400, "bad_data",
		    "missing query: give query={service=\"api\"}");
	if (logql_parse(text, q, &e) == 0)
		return 0;
	if (e.col == 0)
		return error_reply(c, 500, "internal", "%s", e.msg);
	return error_reply(c, 400, "bad_data",
	                   "parse error at line %d, col %d: %s", e.line, e.col,
	                   e.msg);
}

/* ---- reading ------------------------------------------------------------ */

/* A record kept for the answer. */
struct entry {
	int64_t time_ns;
	size_t stream; /* index in the streams */
	char *line;
	size_t line_len;
};

/* A label set, and its entries in the order read (oldest first). */
struct stream {
	char *service, *logger;
	int level, kind;
	size_t *entries, n, cap;
};

struct result {
	struct entry *ring; /* the kept entries, a ring of limit */
	size_t limit, start, count;
	uint64_t lines, bytes; /* read, for the stats */
	struct stream *streams;
	size_t nstreams;
};

static void result_fini(struct result *res)
{
	for (size_t i = 0; i < res->count; i++)
		free(res->ring[(res->start + i) % res->limit].line);
	free(res->ring);
	for (size_t i = 0; i < res->nstreams; i++) {
		free(res->streams[i].service);
		free(res->streams[i].logger);
		free(res->streams[i].entries);
	}
	free(res->streams);
}

static bool stream_same(const struct stream *s, const logbus_record *r)
{
	return s->level == r->level && s->kind == (int)r->stream &&
	       strcmp(s->service, r->service) == 0 &&
	       strcmp(s->logger, r->logger) == 0;
}

/* The stream of r's labels, made when new; SIZE_MAX when out of memory. */
static size_t stream_of(struct result *res, const logbus_record *r)
{
	for (size_t i = res->nstreams; i-- > 0;)
		if (stream_same(&res->streams[i], r))
			return i;
	struct stream *s =
	    realloc(res->streams, (res->nstreams + 1) * sizeof *s);
	if (s == NULL)
		return SIZE_MAX;
	res->streams = s;
	s = &s[res->nstreams];
	memset(s, 0, sizeof *s);
	s->service = strdup(r->service);
	s->logger = strdup(r->logger);
	s->level = r->level;
	s->kind = (int)r->stream;
	if (s->service == NULL || s->logger == NULL) {
		free(s->service);
		free(s->logger);
		return SIZE_MAX;
	}
	return res->nstreams++;
}

/* Keep r, dropping the oldest kept when the ring is full. */
static bool keep(struct result *res, const logbus_record *r)
{
	struct entry *e;
	size_t st = stream_of(res, r);
	char *line = malloc(r->message_len + 1);

	if (st == SIZE_MAX || line == NULL) {
		free(line);
		return false;
	}
	memcpy(line, r->message, r->message_len);
	line[r->message_len] = '\0';
	if (res->count < res->limit) {
		e = &res->ring[(res->start + res->count++) % res->limit];
	} else {
		e = &res->ring[res->start];
		free(e->line);
		res->start = (res->start + 1) % res->limit;
	}
	e->time_ns = r->time_ns;
	e->stream = st;
	e->line = line;
	e->line_len = r->message_len;
	return true;
}

/* A reader of [start, end) with what of q logbusd can apply. */
static void range_reader(const struct call *c, struct logql *q, int64_t start,
                         int64_t end, logbus_reader_options *o, char *err,
                         size_t errlen)
{
	memset(o, 0, sizeof *o);
	o->run_dir = c->run_dir;
	logql_push(q, &o->filter);
	o->filter.since_ns = start;
	o->filter.until_ns = end;
	o->start = LOGBUS_START_SINCE;
	o->since_ns = start;
	o->error = err;
	o->error_len = errlen;
}

/* Read [start, end) with q into res: the first limit records (forward) or
 * the last (backward).  Returns 0 or the error status. */
static int read_range(struct call *c, struct logql *q, int64_t start,
                      int64_t end, bool forward, struct result *res)
{
	logbus_reader_options o;
	logbus_reader *r;
	const logbus_record *rec;
	char err[512] = "";
	int rc;

	range_reader(c, q, start, end, &o, err, sizeof err);
	if (!forward && c->allow == NULL && logql_pushed_all(q)) {
		o.start = LOGBUS_START_TAIL; /* logbusd counts them */
		o.tail_n = res->limit;
	}
	if (logql_empty(q))
		return 0;
	if ((rc = logbus_reader_open(&r, &o)) != LOGBUS_OK)
		return read_failed(c, rc, err);
	while ((rc = logbus_reader_next(r, &rec, -1)) == 1) {
		res->lines++;
		res->bytes += rec->message_len;
		enum filter_result m = logql_test(q, rec);
		if (m == FILTER_LIMIT) {
			logbus_reader_close(r);
			return error_reply(
			    c, 400, "bad_data",
			    "the query's regular expression gave up on record "
			    "%" PRIu64 " (over %d steps of backtracking): "
			    "simplify it",
			    rec->seq, REGEXP_MATCH_LIMIT);
		}
		if (m == FILTER_NO ||
		    (c->allow && !c->allow(c->allow_ctx, rec->service)))
			continue;
		if (!keep(res, rec)) {
			logbus_reader_close(r);
			return error_reply(c, 500, "internal", "out of memory");
		}
		if (forward && res->count == res->limit)
			break;
	}
	if (rc < 0) {
		rc = read_failed(c, rc, logbus_reader_error(r));
		logbus_reader_close(r);
		return rc;
	}
	logbus_reader_close(r);
	return 0;
}

/* ---- answers ------------------------------------------------------------ */

static void put_labels(struct strbuf *b, const struct stream *s)
{
	char lvl[24];

	sb_puts(b, "{\"level\":");
	logql_level_label(s->level, lvl, sizeof lvl);
	sb_json_str(b, lvl, strlen(lvl));
	sb_puts(b, ",\"logger\":");
	sb_json_str(b, s->logger, strlen(s->logger));
	sb_puts(b, ",\"service\":");
	sb_json_str(b, s->service, strlen(s->service));
	sb_puts(b, ",\"stream\":");
	const char *k = logql_stream_label(s->kind);
	sb_json_str(b, k, strlen(k));
	sb_puts(b, "}");
}

/* The entries of each stream, in the direction asked. */
static bool index_streams(struct result *res, bool forward)
{
	for (size_t k = 0; k < res->count; k++) {
		size_t i = forward ? k : res->count - 1 - k;
		const struct entry *e =
		    &res->ring[(res->start + i) % res->limit];
		struct stream *s = &res->streams[e->stream];
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			size_t *p = realloc(s->entries, cap * sizeof *p);
			if (p == NULL)
				return false;
			s->entries = p;
			s->cap = cap;
		}
		s->entries[s->n++] = (res->start + i) % res->limit;
	}
	return true;
}

static void put_stats(struct strbuf *b, const struct result *res,
                      int64_t took_ns)
{
	double secs = (double)took_ns / 1e9;
	double per = secs > 0 ? 1 / secs : 0;

	sb_printf(b,
	          "\"stats\":{\"summary\":{\"bytesProcessedPerSecond\":%.0f,"
	          "\"linesProcessedPerSecond\":%.0f,"
	          "\"totalBytesProcessed\":%" PRIu64
	          ",\"totalLinesProcessed\":%" PRIu64 ",\"execTime\":",
	          (double)res->bytes * per, (double)res->lines * per,
	          res->bytes, res->lines);
	sb_double(b, secs);
	sb_printf(b, ",\"queueTime\":0,\"totalEntriesReturned\":%zu}}",
	          res->count);
}

static int streams_reply(struct call *c, struct result *res, bool forward,
                         int64_t took_ns)
{
	struct strbuf *b = &c->out;
	bool first = true;

	if (!index_streams(res, forward))
		return error_reply(c, 500, "internal", "out of memory");
	sb_reset(b);
	sb_puts(b, "{\"status\":\"success\",\"data\":{\"resultType\":"
	           "\"streams\",\"result\":[");
	/* streams in the order their first value is listed */
	for (size_t k = 0; k < res->count; k++) {
		size_t i = forward ? k : res->count - 1 - k;
		const struct entry *e =
		    &res->ring[(res->start + i) % res->limit];
		struct stream *s = &res->streams[e->stream];
		if (s->n == 0)
			continue; /* listed already */
		sb_puts(b, first ? "{\"stream\":" : ",{\"stream\":");
		first = false;
		put_labels(b, s);
		sb_puts(b, ",\"values\":[");
		for (size_t j = 0; j < s->n; j++) {
			const struct entry *v = &res->ring[s->entries[j]];
			sb_printf(b, "%s[\"%" PRId64 "\",", j ? "," : "",
			          v->time_ns);
			sb_json_str(b, v->line, v->line_len);
			sb_puts(b, "]");
		}
		sb_puts(b, "]}");
		s->n = 0;
	}
	sb_puts(b, "],");
	put_stats(b, res, took_ns);
	sb_puts(b, "}}");
	return 200;
}

static int limit_arg(struct call *c, size_t *limit)
{
	const char *v = arg(c, "limit");

	*limit = LOKI_LIMIT;
	if (v == NULL || *v == '\0')
		return 0;
	if (!all_digits(v, strlen(v)) || strlen(v) > 9 || atol(v) == 0)
		return error_reply(c, 400, "bad_data",
		                   "invalid limit '%s': a number of entries, 1 "
		                   "or more",
		                   v);
	*limit = (size_t)atol(v);
	if (*limit > LOKI_LIMIT_MAX)
		return error_reply(
		    c, 400, "bad_data",
		    "max entries limit per query exceeded, limit "
		    "> max_entries_limit (%zu > %d)",
		    *limit, LOKI_LIMIT_MAX);
	return 0;
}

static int direction_arg(struct call *c, bool *forward)
{
	const char *v = arg(c, "direction");

	*forward = false;
	if (v == NULL || *v == '\0' || strcasecmp(v, "backward") == 0)
		return 0;
	if (strcasecmp(v, "forward") == 0) {
		*forward = true;
		return 0;
	}
	return error_reply(c, 400, "bad_data",
	                   "invalid direction '%s': forward or backward", v);
}

/* query_range, or query (instant: the hour up to time, inclusive). */
static int serve_query(struct call *c, bool range)
{
	struct result res;
	struct logql *q = NULL;
	int64_t start, end, t0 = timefmt_mono_ns();
	bool forward;
	int rc;

	memset(&res, 0, sizeof res);
	if ((rc = limit_arg(c, &res.limit)) != 0 ||
	    (rc = direction_arg(c, &forward)) != 0)
		return rc;
	if (range) {
		rc = range_args(c, QUERY_WINDOW_NS, &start, &end);
	} else {
		rc = time_arg(c, "time", timefmt_now_ns(), &end);
		start = end - QUERY_WINDOW_NS;
		end++;
	}
	if (rc != 0 || (rc = parse_query(c, arg(c, "query"), &q)) != 0)
		return rc;
	if ((res.ring = calloc(res.limit, sizeof *res.ring)) == NULL) {
		logql_free(q);
		return error_reply(c, 500, "internal", "out of memory");
	}
	rc = read_range(c, q, start, end, forward, &res);
	if (rc == 0)
		rc = streams_reply(c, &res, forward, timefmt_mono_ns() - t0);
	result_fini(&res);
	logql_free(q);
	return rc;
}

static int serve_labels(struct call *c)
{
	int64_t start, end;
	int rc;

	if ((rc = range_args(c, LABELS_WINDOW_NS, &start, &end)) != 0)
		return rc;
	sb_reset(&c->out);
	sb_puts(&c->out, "{\"status\":\"success\",\"data\":[\"level\","
	                 "\"logger\",\"service\",\"stream\"]}");
	return 200;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The values of one label among the records of [start, end) the query
 * (default: every record) selects, sorted, at most LOKI_VALUES_MAX. */
static int serve_values(struct call *c, const char *name, size_t len)
{
	static const char every[] = "{service=~\".+\"}";
	struct logql *q = NULL;
	logbus_reader_options o;
	logbus_reader *r = NULL;
	const logbus_record *rec;
	char err[512] = "", buf[24], **vals = NULL;
	size_t n = 0, label;
	int64_t start, end;
	int rc;

	for (label = 0; label < LOGQL_NLABELS; label++)
		if (strlen(logql_labels[label]) == len &&
		    memcmp(logql_labels[label], name, len) == 0)
			break;
	if ((rc = range_args(c, LABELS_WINDOW_NS, &start, &end)) != 0)
		return rc;
	const char *text = arg(c, "query");
	if ((rc = parse_query(c, text && *text ? text : every, &q)) != 0)
		return rc;
	range_reader(c, q, start, end, &o, err, sizeof err);
	if ((vals = calloc(LOKI_VALUES_MAX, sizeof *vals)) == NULL) {
		logql_free(q);
		return error_reply(c, 500, "internal", "out of memory");
	}
	rc = label == LOGQL_NLABELS ? LOGBUS_OK : logbus_reader_open(&r, &o);
	if (rc != LOGBUS_OK) {
		rc = read_failed(c, rc, err);
		goto out;
	}
	while (label < LOGQL_NLABELS &&
	       (rc = logbus_reader_next(r, &rec, -1)) == 1) {
		if (logql_test(q, rec) != FILTER_YES ||
		    (c->allow && !c->allow(c->allow_ctx, rec->service)))
			continue;
		const char *v =
		    label == 0 ? rec->service
		    : label == 1
		        ? logql_level_label(rec->level, buf, sizeof buf)
		    : label == 2 ? rec->logger
		                 : logql_stream_label(rec->stream);
		size_t i;
		for (i = 0; i < n && strcmp(vals[i], v) != 0; i++)
			;
		if (i == n && n < LOKI_VALUES_MAX &&
		    (vals[n] = strdup(v)) != NULL)
			n++;
	}
	if (label < LOGQL_NLABELS) {
		if (rc < 0) {
			rc = read_failed(c, rc, logbus_reader_error(r));
			logbus_reader_close(r);
			goto out;
		}
		logbus_reader_close(r);
	}
	qsort(vals, n, sizeof *vals, cmp_str);
	sb_reset(&c->out);
	sb_puts(&c->out, "{\"status\":\"success\",\"data\":[");
	for (size_t i = 0; i < n; i++) {
		sb_puts(&c->out, i ? "," : "");
		sb_json_str(&c->out, vals[i], strlen(vals[i]));
	}
	sb_puts(&c->out, "]}");
	rc = 200;
out:
	for (size_t i = 0; i < n; i++)
		free(vals[i]);
	free(vals);
	logql_free(q);
	return rc;
}

int loki_serve(const char *run_dir, const char *path,
               const struct http_arg *args, size_t nargs, http_allow_fn allow,
               void *allow_ctx, char **body, size_t *body_len)
{
	static const char prefix[] = "/loki/api/v1/";
	struct call c = {.run_dir = run_dir,
	                 .args = args,
	                 .nargs = nargs,
	                 .allow = allow,
	                 .allow_ctx = allow_ctx};
	const char *p = path, *name;
	int status;

	if (strncmp(p, prefix, sizeof prefix - 1) != 0)
		p = "";
	else
		p += sizeof prefix - 1;
	if (strcmp(p, "query_range") == 0)
		status = serve_query(&c, true);
	else if (strcmp(p, "query") == 0)
		status = serve_query(&c, false);
	else if (strcmp(p, "labels") == 0 || strcmp(p, "label") == 0)
		status = serve_labels(&c);
	else if (strncmp(p, "label/", 6) == 0 && (name = p + 6) &&
	         strchr(name, '/') != NULL &&
	         strcmp(strchr(name, '/'), "/values") == 0)
		status =
		    serve_values(&c, name, (size_t)(strchr(name, '/') - name));
	else
		status =
		    error_reply(&c, 404, "not_found",
		                "no such Loki endpoint: %s (logbus serves "
		                "/loki/api/v1/query_range, query, labels and "
		                "label/NAME/values)",
		                path);
	if (c.out.failed || c.out.p == NULL) {
		sb_free(&c.out);
		static const char oom[] = "{\"status\":\"error\",\"errorType\":"
		                          "\"internal\",\"error\":\"out of "
		                          "memory\"}";
		*body = strdup(oom);
		*body_len = *body ? sizeof oom - 1 : 0;
		return 500;
	}
	*body = c.out.p;
	*body_len = c.out.len;
	return status;
}
