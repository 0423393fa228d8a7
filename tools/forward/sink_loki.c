/*
 * sink_loki.c: records pushed to Grafana Loki, `POST /loki/api/v1/push`
 * with the JSON body Loki documents:
 *
 *   {"streams":[{"stream":{"service":"s","level":"info","logger":"l",
 *                          "host":"h"},
 *                "values":[["1700000000123456789","line"],...]}]}
 *
 * A stream per (service, level, logger) in a batch, in the order records
 * came; timestamps are nanoseconds since the epoch written as strings.
 * The structured fields go in the line as logfmt (" key=value", fields =
 * line, the default) or as structured metadata, the entry's third element
 * (fields = metadata, Loki 2.9 and later with it enabled).  Loki's answers:
 * 204 (or 200) acknowledges; 400 refuses the batch for good (too old, too
 * long, a bad label), so it is counted as rejected and the position moves
 * on, loudly; 429 and 5xx are tried again with backoff.  Loki drops an
 * entry it already has (same stream, timestamp and line), so a batch sent
 * twice is stored once there too.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"

struct stream {
	char *service, *logger;
	int level;
	struct strbuf values; /* "[...],[...]" */
};

struct sink {
	const struct fwd_output_config *cfg;
	void *curl;
	struct stream *streams;
	size_t nstreams, cap;
	size_t bytes;
	struct strbuf body, scratch;
	char tenant_header[FWD_NAME_MAX + 32];
};

static struct sink *loki_open(const struct fwd_output_config *oc)
{
	struct sink *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->cfg = oc;
	if ((s->curl = http_new()) == NULL) {
		free(s);
		return NULL;
	}
	if (oc->tenant[0] != '\0')
		snprintf(s->tenant_header, sizeof s->tenant_header,
		         "X-Scope-OrgID: %s", oc->tenant);
	return s;
}

static struct stream *stream_for(struct sink *s, const logbus_record *r)
{
	for (size_t i = s->nstreams; i-- > 0;) {
		struct stream *st = &s->streams[i];
		if (st->level == r->level &&
		    strcmp(st->service, r->service) == 0 &&
		    strcmp(st->logger, r->logger) == 0)
			return st;
	}
	if (s->nstreams == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct stream *v = realloc(s->streams, cap * sizeof *v);
		if (v == NULL)
			return NULL;
		s->streams = v;
		s->cap = cap;
	}
	struct stream *st = memset(&s->streams[s->nstreams], 0, sizeof *st);
	st->service = strdup(r->service);
	st->logger = strdup(r->logger);
	st->level = r->level;
	if (st->service == NULL || st->logger == NULL) {
		free(st->service);
		free(st->logger);
		return NULL;
	}
	s->nstreams++;
	return st;
}

/* logfmt's value: bare when it needs no quotes, else a JSON-like string. */
static void logfmt_value(struct strbuf *b, const char *v, size_t n)
{
	bool bare = n > 0;
	for (size_t i = 0; i < n && bare; i++)
		bare = v[i] > ' ' && v[i] != '"' && v[i] != '=' && v[i] != '\\';
	if (bare)
		sb_put(b, v, n);
	else
		sb_json_str(b, v, n);
}

static void loki_add(struct sink *s, const logbus_record *r)
{
	struct stream *st = stream_for(s, r);
	struct strbuf *line = &s->scratch;
	size_t before;

	if (st == NULL) {
		s->body.failed = true; /* reported at send */
		return;
	}
	before = st->values.len;
	if (st->values.len > 0)
		sb_put(&st->values, ",", 1);
	sb_printf(&st->values, "[\"%" PRId64 "\",", r->time_ns);
	sb_reset(line);
	sb_put(line, r->message, r->message_len);
	if (!s->cfg->fields_as_metadata) {
		for (size_t i = 0; i < r->nfields; i++) {
			sb_printf(line, " %s=", r->fields[i].key);
			struct strbuf v = {0};
			fields_text_value(&v, &r->fields[i]);
			logfmt_value(line, v.p != NULL ? v.p : "", v.len);
			sb_free(&v);
		}
	}
	sb_json_str(&st->values, line->p != NULL ? line->p : "", line->len);
	if (s->cfg->fields_as_metadata && r->nfields > 0) {
		/* structured metadata: string values only */
		sb_put(&st->values, ",{", 2);
		for (size_t i = 0; i < r->nfields; i++) {
			if (i > 0)
				sb_put(&st->values, ",", 1);
			sb_json_str(&st->values, r->fields[i].key,
			            strlen(r->fields[i].key));
			sb_put(&st->values, ":", 1);
			sb_reset(line);
			fields_text_value(line, &r->fields[i]);
			sb_json_str(&st->values, line->p != NULL ? line->p : "",
			            line->len);
		}
		sb_put(&st->values, "}", 1);
	}
	sb_put(&st->values, "]", 1);
	s->bytes += st->values.len - before;
}

static size_t loki_size(struct sink *s)
{
	return s->bytes;
}

static void label(struct strbuf *b, const char *name, const char *value)
{
	sb_printf(b, "\"%s\":", name);
	sb_json_str(b, value, strlen(value));
}

static void build_body(struct sink *s)
{
	struct strbuf *b = &s->body;
	char lv[32];
	sb_reset(b);
	sb_puts(b, "{\"streams\":[");
	for (size_t i = 0; i < s->nstreams; i++) {
		struct stream *st = &s->streams[i];
		if (i > 0)
			sb_put(b, ",", 1);
		char tmp[32];
		snprintf(lv, sizeof lv, "%s",
		         logbus_level_name(st->level, tmp, sizeof tmp));
		for (char *c = lv; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		sb_puts(b, "{\"stream\":{");
		label(b, "service", st->service);
		sb_put(b, ",", 1);
		label(b, "level", lv);
		sb_put(b, ",", 1);
		label(b, "logger", st->logger);
		sb_put(b, ",", 1);
		label(b, "host", s->cfg->hostname);
		sb_puts(b, "},\"values\":[");
		sb_put(b, st->values.p, st->values.len);
		sb_puts(b, "]}");
		if (st->values.failed)
			b->failed = true;
	}
	sb_puts(b, "]}");
}

static enum sink_result loki_send(struct sink *s, char *err, size_t errlen)
{
	char answer[FWD_ERR_MAX];
	const char *headers[2] = {"Content-Type: application/json",
	                          s->tenant_header};
	build_body(s);
	if (s->body.failed || s->scratch.failed) {
		snprintf(err, errlen, "out of memory for a batch");
		return SINK_RETRY;
	}
	struct http_post p = {.url = s->cfg->url,
	                      .headers = headers,
	                      .nheaders = s->tenant_header[0] ? 2 : 1,
	                      .body = s->body.p,
	                      .body_len = s->body.len,
	                      .timeout_ms = s->cfg->timeout_ms};
	int status = http_post(s->curl, &p, NULL, answer, sizeof answer);
	if (status == 204 || status == 200)
		return SINK_OK;
	if (status == 0)
		snprintf(err, errlen, "%s: is Loki running there?", answer);
	else
		snprintf(err, errlen, "Loki at %s answered %d: %.300s",
		         s->cfg->url, status, answer);
	return status == 400 ? SINK_REJECTED : SINK_RETRY;
}

static void loki_clear(struct sink *s)
{
	for (size_t i = 0; i < s->nstreams; i++) {
		free(s->streams[i].service);
		free(s->streams[i].logger);
		sb_free(&s->streams[i].values);
	}
	s->nstreams = 0;
	s->bytes = 0;
	sb_reset(&s->body);
}

static void loki_close(struct sink *s)
{
	loki_clear(s);
	free(s->streams);
	sb_free(&s->body);
	sb_free(&s->scratch);
	http_free(s->curl);
	free(s);
}

const struct sink_ops sink_loki = {
    .open = loki_open,
    .add = loki_add,
    .size = loki_size,
    .send = loki_send,
    .clear = loki_clear,
    .close = loki_close,
};
