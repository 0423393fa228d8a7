/*
 * sink_clickhouse.c: records into a ClickHouse table over its HTTP
 * interface, one `INSERT INTO TABLE FORMAT JSONEachRow` per batch; an
 * answer of 200 is the acknowledgement (ClickHouse answers after the
 * insert is written).
 *
 * The table (made with CREATE TABLE IF NOT EXISTS before the first insert
 * unless create-table = no) is a ReplacingMergeTree ordered by (journal,
 * seq): a batch sent twice, after a crash between the insert and the
 * position's write, is stored once once ClickHouse merges the parts; a
 * query sees each record once with FINAL (or after OPTIMIZE TABLE ...
 * FINAL).  Debian 12's ClickHouse is 18.16, which has neither DateTime64
 * nor Map: the time is `time` (DateTime, seconds) plus `time_ns` (Int64,
 * nanoseconds since the epoch, the record's exact time), and the fields
 * are one JSON object in a String (visitParamExtract*, JSONExtract* in
 * later versions).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "forward.h"

struct sink {
	const struct fwd_output_config *cfg;
	void *curl;
	struct strbuf rows;
	char *insert_url;
	bool created;
	size_t n;
};

static char *query_url(void *curl, const char *base, const char *query)
{
	char *q = curl_easy_escape(curl, query, 0);
	struct strbuf u = {0};
	if (q == NULL)
		return NULL;
	sb_puts(&u, base);
	sb_puts(&u, strchr(base, '?') != NULL ? "&query=" : "?query=");
	sb_puts(&u, q);
	curl_free(q);
	if (u.failed) {
		sb_free(&u);
		return NULL;
	}
	return u.p;
}

static struct sink *ch_open(const struct fwd_output_config *oc)
{
	struct sink *s = calloc(1, sizeof *s);
	char q[256];
	if (s == NULL)
		return NULL;
	s->cfg = oc;
	s->curl = http_new();
	snprintf(q, sizeof q, "INSERT INTO %s FORMAT JSONEachRow", oc->table);
	if (s->curl == NULL ||
	    (s->insert_url = query_url(s->curl, oc->url, q)) == NULL) {
		http_free(s->curl);
		free(s);
		return NULL;
	}
	s->created = !oc->create_table;
	return s;
}

static void ch_add(struct sink *s, const logbus_record *r)
{
	struct strbuf *b = &s->rows;
	struct strbuf fields = {0};
	char journal[33] = "";

	record_journal(r, journal);
	sb_printf(b,
	          "{\"time\":%" PRId64 ",\"time_ns\":%" PRId64 ",\"service\":",
	          r->time_ns / 1000000000, r->time_ns);
	sb_json_str(b, r->service, strlen(r->service));
	sb_printf(b, ",\"level\":%d,\"logger\":", r->level);
	sb_json_str(b, r->logger, strlen(r->logger));
	sb_puts(b, ",\"message\":");
	sb_json_str(b, r->message, r->message_len);
	sb_printf(b, ",\"stream\":\"%s\"",
	          r->stream == LOGBUS_STREAM_STDOUT   ? "stdout"
	          : r->stream == LOGBUS_STREAM_STDERR ? "stderr"
	                                              : "log");
	sb_printf(b,
	          ",\"pid\":%" PRIu32 ",\"uid\":%" PRIu32 ",\"gid\":%" PRIu32
	          ",\"comm\":",
	          r->pid, r->uid, r->gid);
	sb_json_str(b, r->comm, strlen(r->comm));
	/* the fields as a JSON object, itself written as a JSON string */
	sb_put(&fields, "{", 1);
	for (size_t i = 0; i < r->nfields; i++) {
		if (i > 0)
			sb_put(&fields, ",", 1);
		sb_json_str(&fields, r->fields[i].key,
		            strlen(r->fields[i].key));
		sb_put(&fields, ":", 1);
		sb_json_field_value(&fields, &r->fields[i]);
	}
	sb_put(&fields, "}", 1);
	sb_puts(b, ",\"fields\":");
	sb_json_str(b, fields.failed ? "{}" : fields.p,
	            fields.failed ? 2 : fields.len);
	sb_free(&fields);
	sb_printf(b, ",\"journal\":\"%s\",\"seq\":%" PRIu64 "}\n", journal,
	          r->seq);
	s->n++;
}

static size_t ch_size(struct sink *s)
{
	return s->rows.len;
}

static enum sink_result post(struct sink *s, const char *url, const char *body,
                             size_t len, char *err, size_t errlen)
{
	char answer[FWD_ERR_MAX];
	struct http_post p = {.url = url,
	                      .user = s->cfg->user,
	                      .password = s->cfg->password,
	                      .body = body,
	                      .body_len = len,
	                      .timeout_ms = s->cfg->timeout_ms};
	int status = http_post(s->curl, &p, NULL, answer, sizeof answer);
	if (status == 200)
		return SINK_OK;
	if (status == 0)
		snprintf(err, errlen, "%s: is clickhouse-server running there?",
		         answer);
	else
		snprintf(err, errlen, "ClickHouse at %s answered %d: %.300s",
		         s->cfg->url, status, answer);
	return SINK_RETRY;
}

static enum sink_result create_table(struct sink *s, char *err, size_t errlen)
{
	char q[1024];
	snprintf(q, sizeof q,
	         "CREATE TABLE IF NOT EXISTS %s (time DateTime, time_ns Int64, "
	         "service String, level UInt8, logger String, message String, "
	         "stream String, pid UInt32, uid UInt32, gid UInt32, "
	         "comm String, fields String, journal String, seq UInt64) "
	         "ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(time) "
	         "ORDER BY (journal, seq)",
	         s->cfg->table);
	return post(s, s->cfg->url, q, strlen(q), err, errlen);
}

static enum sink_result ch_send(struct sink *s, char *err, size_t errlen)
{
	enum sink_result rc;
	if (s->rows.failed) {
		snprintf(err, errlen, "out of memory for a batch of %zu rows",
		         s->n);
		return SINK_RETRY;
	}
	if (!s->created) {
		if ((rc = create_table(s, err, errlen)) != SINK_OK)
			return rc;
		s->created = true;
	}
	return post(s, s->insert_url, s->rows.p, s->rows.len, err, errlen);
}

static void ch_clear(struct sink *s)
{
	sb_reset(&s->rows);
	s->n = 0;
}

static void ch_close(struct sink *s)
{
	sb_free(&s->rows);
	free(s->insert_url);
	http_free(s->curl);
	free(s);
}

const struct sink_ops sink_clickhouse = {
    .open = ch_open,
    .add = ch_add,
    .size = ch_size,
    .send = ch_send,
    .clear = ch_clear,
    .close = ch_close,
};
